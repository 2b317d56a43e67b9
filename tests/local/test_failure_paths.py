"""What the local deployment says and leaves behind when something goes wrong.

Every expected failure ends in a line or two naming the cause (with the emulator's log when
there is more to read), never a traceback, and a failed deploy leaves no emulator running.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from tools.local_deploy.__main__ import EXIT_FAILED, EXIT_OK, _cause, main
from tools.local_deploy.clients import export_line, local_client
from tools.local_deploy.emulator import in_process, last_error, running
from tools.local_deploy.registry import (
    UnresolvedAttributeError,
    _clean_json_resolving_every_attribute,
)

# A template the emulator refuses: an attribute no model of it can answer.
BROKEN_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !GetAtt Queue.NoSuchAttribute
  Queue:
    Type: AWS::SQS::Queue
"""

EMULATOR_LOG = """\
127.0.0.1 - - [30/Nov/2026 21:52:54] "POST / HTTP/1.1" 500 -
Error on request:
Traceback (most recent call last):
  File "/x/moto/cloudformation/parsing.py", line 154, in clean_json
    return self.parameters[name]
KeyError: 'EnvironmentSufix'
127.0.0.1 - - [30/Nov/2026 21:52:55] "POST / HTTP/1.1" 200 -
"""


def _error(status: int, operation: str = "CreateStack") -> ClientError:
    reply: Any = {
        "Error": {"Code": "InternalFailure", "Message": "exception"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(reply, operation)


def test_the_cause_of_an_emulator_500_is_read_from_its_log(tmp_path: Path) -> None:
    # GIVEN an emulator log ending in a failed request's traceback
    (tmp_path / "emulator.log").write_text(EMULATOR_LOG)
    # WHEN the 500 reply is explained  THEN the line names the exception and the operation
    assert last_error(tmp_path) == "KeyError: 'EnvironmentSufix'"
    assert _cause(_error(500), tmp_path) == (
        "the emulator failed on CreateStack: KeyError: 'EnvironmentSufix'"
    )
    # AND its bare HTML 500 page, which botocore cannot parse, is explained the same way
    assert "KeyError: 'EnvironmentSufix'" in _cause(ResponseParserError("html"), tmp_path)


def test_a_refusal_is_its_own_message_with_the_operation(tmp_path: Path) -> None:
    refused = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "Template error: bad"}},
        "CreateStack",
    )
    assert _cause(refused, tmp_path) == "CreateStack failed: Template error: bad"


def test_an_attribute_moto_cannot_resolve_fails_instead_of_staying_a_dict() -> None:
    # GIVEN a resource whose moto model lacks the attribute asked for (moto warns and moves on)
    class Balancer:
        def get_cfn_attribute(self, name: str) -> str:
            raise NotImplementedError(name)

    # WHEN the intrinsic is resolved  THEN the stack fails, naming resource and attribute
    with pytest.raises(UnresolvedAttributeError, match=r"Fn::GetAtt LB\.LoadBalancerFullName"):
        _clean_json_resolving_every_attribute(
            {"Fn::GetAtt": ["LB", "LoadBalancerFullName"]}, {"LB": Balancer()}
        )


def test_a_failed_deploy_says_why_in_two_lines_and_leaves_nothing_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a template the emulator cannot create
    template = tmp_path / "template.yaml"
    template.write_text(BROKEN_TEMPLATE)
    state_dir = tmp_path / "state"

    # WHEN it is deployed the way `make deploy` does (a background emulator)
    status = main(["deploy", "--template", str(template), "--state-dir", str(state_dir)])

    # THEN it fails with the cause and where to read more, and no traceback
    err = capsys.readouterr().err
    assert status == EXIT_FAILED
    assert err.splitlines() == [
        err.splitlines()[0],
        f"(the emulator's log: {state_dir / 'emulator.log'})",
    ]
    assert err.startswith("error: CreateStack failed:")
    assert "resource Queue does not support attribute type NoSuchAttribute" in err
    # AND the emulator it started is stopped
    assert running(state_dir) is None
    # AND a destroy afterwards has nothing to do, and says so without failing
    assert main(["destroy", "--state-dir", str(state_dir)], io.StringIO()) == EXIT_OK


def test_drill_without_a_stack_says_to_deploy_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drill", "--state-dir", str(tmp_path)], io.StringIO()) == EXIT_FAILED
    assert capsys.readouterr().err == "error: no local stack: run `make deploy` first.\n"


def test_the_printed_export_line_makes_an_sdk_work_against_the_emulator(tmp_path: Path) -> None:
    # GIVEN an emulator holding a topic, and a shell with no AWS set-up at all
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ["AWS_CONFIG_FILE"] = str(tmp_path / "absent")
    environ["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "absent")
    with in_process() as endpoint_url:
        local_client("sns", endpoint_url).create_topic(Name="exported")
        # WHEN the line `make deploy` prints is pasted before an SDK call
        script = (
            f"{export_line(endpoint_url)}\n"
            f'"{sys.executable}" -c "import boto3; '
            "print(boto3.client('sns').list_topics()['Topics'][0]['TopicArn'])\""
        )
        completed = subprocess.run(
            ["bash", "-c", script],
            env=environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    # THEN the call reaches the emulator with a region and credentials
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().endswith(":exported")
