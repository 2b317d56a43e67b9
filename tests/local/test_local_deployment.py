"""End to end: `sam build`, then the local deployment on an in-process emulator, then the drill.

Two templates: a small fixture (tests/local/fixtures/: both transforms, nested stacks, the five
types moto's CloudFormation does not model, one type nobody models) that keeps the mechanism
tested whatever state the real template is in, and the real template.yaml (marked slow: its
`sam build` installs the functions' dependencies).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT, load_template
from tools.local_deploy.__main__ import EXIT_USAGE, main
from tools.local_deploy.clients import NotLocalEndpointError, local_client, require_local_endpoint
from tools.local_deploy.deploy import CREATED, UNMODELLED, Deployment, deploy
from tools.local_deploy.drill import Drill, drill
from tools.local_deploy.emulator import in_process
from tools.local_deploy.registry import modelled_types

FIXTURES = Path(__file__).parent / "fixtures"
SUFFIX = "local"
DASHBOARD = "AWS::CloudWatch::Dashboard"  # modelled by moto itself
BACKED_BY_LOCAL_MODELS = (
    "AWS::CloudWatch::Alarm",
    "AWS::CodeBuild::Project",
    "AWS::CodePipeline::Pipeline",
    "AWS::CodeDeploy::Application",
    "AWS::CodeDeploy::DeploymentGroup",
)


# `sam build` output kept between runs (git-ignored), one folder per template; reused only while
# everything the build reads is unchanged (see `_build_inputs`).
BUILD_CACHE = REPO_ROOT / ".aws-sam" / "test-builds"
BUILD_ARGUMENTS = ("--cached", "--parallel", "--language-extensions")


def _local_paths(template: Path) -> Iterator[Path]:
    """The template, and every local path it builds from: function and layer code, and nested
    templates with theirs in turn (looked for everywhere, Globals and Fn::ForEach bodies too)."""
    yield template

    def values(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("CodeUri", "ContentUri", "TemplateURL", "Location"):
                    if isinstance(value, str):
                        yield value
                else:
                    yield from values(value)
        elif isinstance(node, list):
            for item in node:
                yield from values(item)

    for value in values(load_template(template)):
        path = (template.parent / value).resolve()
        if "://" in value or not path.exists():
            continue
        if path.is_dir():
            yield path
        elif path.suffix in (".yaml", ".yml", ".json"):
            yield from _local_paths(path)


def _build_inputs(template: Path, sam: str, python_dir: str) -> str:
    """A digest of what `sam build` reads: the templates, each function's code and requirements,
    the SAM CLI and the interpreter it builds with, and the arguments."""
    digest = hashlib.sha256()
    for name in ("aws-sam-cli", "aws-lambda-builders"):
        digest.update(f"{name}=={importlib.metadata.version(name)}\n".encode())
    digest.update(f"{sam}\n{python_dir}\n{' '.join(BUILD_ARGUMENTS)}\n".encode())
    # sam build also reads [default.build.parameters] from the samconfig.toml where it runs.
    samconfig = template.parent / "samconfig.toml"
    files: set[Path] = {samconfig} if samconfig.exists() else set()
    for path in _local_paths(template):
        found = path.rglob("*") if path.is_dir() else [path]
        files |= {f for f in found if f.is_file() and "__pycache__" not in f.parts}
    for file in sorted(files):
        digest.update(f"{file}\n".encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def sam_build(template: Path) -> Path:
    """`sam build` as `make build` runs it; returns the built template.

    The output is kept under .aws-sam/test-builds/ and reused while the digest of the build's
    inputs is unchanged; otherwise `sam build --cached` rebuilds it there (its build.toml beside
    the build folder, so SAM reinstalls a function's dependencies only when its requirements
    changed). A lock keeps two test runs in this checkout from building into one folder at once.
    """
    finder = subprocess.run(
        [str(REPO_ROOT / "scripts" / "find-python313.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if finder.returncode != 0:
        pytest.skip("no python3.13 interpreter for `sam build`")
    # The SAM CLI beside the interpreter running the tests (the virtualenv's, however pytest was
    # started), else one on PATH.
    tools_dir = Path(sys.executable).parent
    sam = shutil.which("sam", path=str(tools_dir)) or shutil.which("sam")
    if sam is None:
        pytest.skip("no SAM CLI (`make venv` installs it)")
    python_dir = finder.stdout.strip()
    place = BUILD_CACHE / "-".join(template.resolve().relative_to(REPO_ROOT).with_suffix("").parts)
    build_dir = place / "build"
    stamp = place / "inputs.sha256"
    place.mkdir(parents=True, exist_ok=True)
    with (place / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        inputs = _build_inputs(template, sam, python_dir)
        built = build_dir / "template.yaml"
        if built.is_file() and stamp.is_file() and stamp.read_text() == inputs:
            return built
        stamp.unlink(missing_ok=True)
        completed = subprocess.run(
            [
                sam,
                "build",
                "--template",
                str(template),
                "--build-dir",
                str(build_dir),
                "--cache-dir",
                str(REPO_ROOT / ".aws-sam" / "cache"),
                *BUILD_ARGUMENTS,
            ],
            cwd=template.parent,
            env={
                "PATH": f"{python_dir}:{tools_dir}:/usr/bin:/bin",
                "SAM_CLI_TELEMETRY": "0",
                "HOME": str(Path.home()),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        stamp.write_text(inputs)
        return built


@dataclass
class LocalRun:
    endpoint_url: str
    deployment: Deployment
    drill: Drill
    output: str


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(FIXTURES / "template.yaml", id="fixture"),
        pytest.param(REPO_ROOT / "template.yaml", id="real", marks=pytest.mark.slow),
    ],
)
def local_run(request: pytest.FixtureRequest) -> Iterator[LocalRun]:
    built = sam_build(request.param)
    out = io.StringIO()
    with in_process() as endpoint_url:
        deployment = deploy(endpoint_url, built, {"EnvironmentSuffix": SUFFIX}, out)
        yield LocalRun(endpoint_url, deployment, drill(endpoint_url, SUFFIX), out.getvalue())


def _stack_trees(cloudformation: Any, stack_id: str) -> Iterator[tuple[dict[str, Any], set[str]]]:
    """(template resources, logical ids present) for the stack and each nested stack."""
    body = cloudformation.get_template(StackName=stack_id)["TemplateBody"]
    summaries = cloudformation.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    yield body["Resources"], {summary["LogicalResourceId"] for summary in summaries}
    for summary in summaries:
        if summary["ResourceType"] == "AWS::CloudFormation::Stack":
            yield from _stack_trees(cloudformation, summary["PhysicalResourceId"])


def test_stack_reaches_create_complete(local_run: LocalRun) -> None:
    # GIVEN a deployment to the emulator  WHEN it finished  THEN the root stack is complete
    cloudformation = local_client("cloudformation", local_run.endpoint_url)
    stack = cloudformation.describe_stacks(StackName="microservices-pipeline-local")["Stacks"][0]

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert local_run.deployment.status == "CREATE_COMPLETE"


def test_every_expanded_resource_exists_or_is_listed_unmodelled(local_run: LocalRun) -> None:
    # GIVEN the expanded template of every stack the deployment created
    cloudformation = local_client("cloudformation", local_run.endpoint_url)
    stack = cloudformation.describe_stacks(StackName="microservices-pipeline-local")["Stacks"][0]
    unmodelled = set(local_run.deployment.types_in(UNMODELLED))

    # WHEN each declared resource is looked up in its stack
    unaccounted = [
        f"{logical_id} ({resource['Type']})"
        for resources, present in _stack_trees(cloudformation, stack["StackId"])
        for logical_id, resource in resources.items()
        if logical_id not in present
        and resource["Type"] not in unmodelled
        and "Condition" not in resource
    ]

    # THEN none is missing without being reported as unmodelled
    assert unaccounted == []


def test_types_backed_by_local_models_are_created_not_unmodelled(local_run: LocalRun) -> None:
    # GIVEN a template declaring the five types moto's CloudFormation does not model itself
    declared = {row.resource_type for row in local_run.deployment.rows}
    assert set(BACKED_BY_LOCAL_MODELS) <= declared

    # WHEN the deployment is reported  THEN every one of them was created
    assert set(BACKED_BY_LOCAL_MODELS) <= set(local_run.deployment.types_in(CREATED))
    assert not set(BACKED_BY_LOCAL_MODELS) & set(local_run.deployment.types_in(UNMODELLED))


def test_alarms_exist_in_the_cloudwatch_backend(local_run: LocalRun) -> None:
    # GIVEN the stack's alarms  WHEN CloudWatch is asked  THEN they are there, not just in CFN
    cloudwatch = local_client("cloudwatch", local_run.endpoint_url)
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{SUFFIX}-production-")["MetricAlarms"]

    assert alarms


def test_dashboards_are_created_and_show_every_alarm_of_their_environment(
    local_run: LocalRun,
) -> None:
    # GIVEN the deployment's dashboards (the real template has one per environment)
    rows = [row for row in local_run.deployment.rows if row.resource_type == DASHBOARD]
    if not rows:
        pytest.skip("this template declares no dashboard")
    cloudwatch = local_client("cloudwatch", local_run.endpoint_url)

    # THEN moto created each (its own model) and each body lists the alarms moto holds for the
    # environment, by the ARNs CloudWatch gave them
    assert {row.state for row in rows} == {CREATED}
    for environment in ("staging", "production"):
        name = local_run.deployment.outputs[f"{environment.capitalize()}DashboardName"]
        body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
        shown = [
            arn
            for widget in body["widgets"]
            if widget["type"] == "alarm"
            for arn in widget["properties"]["alarms"]
        ]
        alarms = cloudwatch.describe_alarms(AlarmNamePrefix=f"{SUFFIX}-{environment}-")
        assert shown
        assert sorted(shown) == sorted(alarm["AlarmArn"] for alarm in alarms["MetricAlarms"])


def test_types_moto_cannot_model_are_listed_as_unmodelled(local_run: LocalRun) -> None:
    # GIVEN the types the templates declare that moto's CloudFormation does not model
    declared = {row.resource_type for row in local_run.deployment.rows}
    unmodellable = declared - modelled_types()

    # WHEN the deployment is reported  THEN exactly those are listed as unmodelled
    assert unmodellable, "both templates declare at least one type nobody models"
    assert set(local_run.deployment.types_in(UNMODELLED)) == unmodellable


def test_drill_verdict_fails_for_the_breached_alarm(local_run: LocalRun) -> None:
    # GIVEN one production alarm put into ALARM  WHEN the verdict runs  THEN it fails on it
    failing = local_run.drill.failing

    assert failing.exit_code == 1, failing.output
    assert local_run.drill.breached_alarm in failing.output


def test_drill_job_reports_failure_and_notifies(local_run: LocalRun) -> None:
    # GIVEN the breached alarm  WHEN the pipeline's job logic runs  THEN it fails and notifies
    drilled = local_run.drill

    assert drilled.job_outcome == "failed_alarm"
    assert [operation for operation, _ in drilled.reports] == ["PutJobFailureResult"]
    assert len(drilled.notifications) == 1
    assert drilled.breached_alarm in drilled.notifications[0]["message"]


def test_drill_verdict_passes_without_the_breached_alarm(local_run: LocalRun) -> None:
    # GIVEN the alarm restored to OK  WHEN the verdict runs again  THEN it passes
    recovered = local_run.drill.recovered

    assert recovered is not None
    assert recovered.exit_code == 0, recovered.output


def test_every_alarm_dimension_is_resolved(local_run: LocalRun) -> None:
    # GIVEN every alarm the stack created, metric math included
    cloudwatch = local_client("cloudwatch", local_run.endpoint_url)
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    dimensions = [d for alarm in alarms for d in alarm.get("Dimensions", [])]
    dimensions += [
        d
        for alarm in alarms
        for query in alarm.get("Metrics", [])
        for d in query.get("MetricStat", {}).get("Metric", {}).get("Dimensions", [])
    ]
    # WHEN their values are read  THEN none holds an unresolved intrinsic
    assert alarms
    assert [d for d in dimensions if "Fn::" in d["Value"] or "{" in d["Value"]] == []
    # AND a load balancer dimension is CloudWatch's form of its name (app/<name>/<id>)
    balancers = {d["Value"] for d in dimensions if d["Name"] == "LoadBalancer"}
    assert all(value.startswith("app/") for value in balancers), balancers


@pytest.mark.parametrize(
    "endpoint",
    ["", "https://cloudformation.us-east-1.amazonaws.com", "http://10.0.0.5:5000", "file:///x"],
)
def test_refuses_an_endpoint_that_is_not_local(endpoint: str) -> None:
    # GIVEN an endpoint off this machine (or none)  WHEN checked  THEN it is refused
    with pytest.raises(NotLocalEndpointError):
        require_local_endpoint(endpoint)


def test_command_line_refuses_a_remote_endpoint_before_any_call() -> None:
    # GIVEN a deploy aimed at AWS  WHEN the CLI runs  THEN it stops with the usage status
    out = io.StringIO()

    status = main(["deploy", "--endpoint-url", "https://cloudformation.amazonaws.com"], out)

    assert status == EXIT_USAGE


def test_make_invoke_runs_a_functions_handler_against_the_local_stack(
    local_run: LocalRun, capfd: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the real template's stack (the fixture template has no health-check function)
    functions = local_client("lambda", local_run.endpoint_url).list_functions()["Functions"]
    if f"health-check-{SUFFIX}" not in {function["FunctionName"] for function in functions}:
        pytest.skip("this template declares no health-check function")
    # WHEN the validator's handler is invoked with the local stack's sample job (`make invoke`)
    arguments = ["invoke", "HealthCheckFunction", "events/health_check_local.json"]
    code = main([*arguments, "--endpoint-url", local_run.endpoint_url])
    # THEN its whole path ran here: the verdict, and the job result it would send CodePipeline
    printed = capfd.readouterr().out
    assert code == 0, printed
    assert "==> PutJobSuccessResult (recorded, not sent" in printed
    assert '"outcome": "succeeded"' in printed
