"""The one template loader the tests and the rehearsal share parses each file version once: what
it returns must still be what the file says now, and a copy nobody else sees."""

from __future__ import annotations

import os
from pathlib import Path

from tools.cfn_render import load_template

TEMPLATE = """\
Parameters:
  Suffix:
    Type: String
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "alerts-${Suffix}"
"""


def test_a_changed_file_is_read_again_even_with_the_same_size_and_time(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    before = path.stat()
    first = load_template(path)

    # WHEN the file is rewritten to the same length within one tick of a coarse file clock
    path.write_text(TEMPLATE.replace("alerts", "errors"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    # THEN the new content is what the loader returns
    second = load_template(path)
    assert first["Resources"]["Topic"]["Properties"]["TopicName"] == {"Fn::Sub": "alerts-${Suffix}"}
    assert second["Resources"]["Topic"]["Properties"]["TopicName"] == {
        "Fn::Sub": "errors-${Suffix}"
    }


def test_each_caller_gets_a_copy_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)

    # WHEN one caller edits what it got (as the add-a-service tests do)
    edited = load_template(path)
    edited["Resources"]["Topic"]["Properties"]["TopicName"] = "changed"
    del edited["Parameters"]

    # THEN the next caller still gets the file as written, short-form intrinsics in long form
    fresh = load_template(path)
    assert "Suffix" in fresh["Parameters"]
    assert fresh["Resources"]["Topic"]["Properties"]["TopicName"] == {"Fn::Sub": "alerts-${Suffix}"}
