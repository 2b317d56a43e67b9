"""`python -m tools.local_deploy deploy|drill|destroy|serve`: the local deployment's CLI.

`make deploy`, `make drill` and `make destroy` without ENV call this. It only ever talks to
the emulator it starts (or finds recorded in .local-emulator/) on 127.0.0.1. Every expected
failure ends in one or two lines naming the cause (and the emulator's log when there is more),
never a traceback; a failed deploy stops the emulator it started.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from tools.local_deploy.clients import (
    NotLocalEndpointError,
    export_line,
    local_client,
    require_local_endpoint,
)
from tools.local_deploy.deploy import (
    STACK_NAME,
    UNMODELLED,
    DeploymentError,
    delete_stack,
    deploy,
    render_outputs,
    render_resource_table,
    stack_exists,
)
from tools.local_deploy.drill import DrillError, VerdictRun, drill, run_verdict
from tools.local_deploy.emulator import (
    REPO_ROOT,
    STATE_DIR,
    EmulatorError,
    last_error,
    last_port,
    log_path,
    running,
    serve,
    start_background,
    stop_background,
)
from tools.local_deploy.invoke import InvokeError, invoke, pick_function, read_event
from tools.local_deploy.package import PackagingError

DEFAULT_TEMPLATE = REPO_ROOT / ".aws-sam" / "build" / "template.yaml"
DEFAULT_SUFFIX = "local"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# What a shell reports for a command ended by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130
HTTP_SERVER_ERROR = 500


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.local_deploy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("deploy", "start (or reuse) the emulator, deploy the built template, print the verdict"),
        ("drill", "breach a production alarm: the verdict fails and notifies, then recovers"),
        ("destroy", "delete the local stack and stop the emulator"),
        ("invoke", "run one function's handler here against the local stack (no Docker)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--suffix", default=DEFAULT_SUFFIX, help="EnvironmentSuffix")
        command.add_argument(
            "--endpoint-url",
            help="an emulator already running on 127.0.0.1 (default: the recorded one)",
        )
        command.add_argument("--state-dir", type=Path, default=STATE_DIR)
    deploy_command = commands.choices["deploy"]
    deploy_command.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    deploy_command.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a template parameter (repeatable); EnvironmentSuffix comes from --suffix",
    )
    invoke_command = commands.choices["invoke"]
    invoke_command.add_argument("function", help="logical id in template.yaml, or deployed name")
    invoke_command.add_argument("event", type=Path, help="event JSON file, e.g. events/...json")
    serve_command = commands.add_parser("serve", help="run the emulator in the foreground")
    serve_command.add_argument("--state-dir", type=Path, default=STATE_DIR)
    serve_command.add_argument("--port", type=int, default=0, help="if free (default: any)")
    return parser.parse_args(argv)


def _endpoint(args: argparse.Namespace, out: TextIO) -> str | None:
    """The emulator to use: the one given, else the recorded one if it still runs."""
    if args.endpoint_url:
        return require_local_endpoint(args.endpoint_url)
    state = running(args.state_dir)
    if state:
        print(f"==> Using the emulator at {state.endpoint_url} (pid {state.pid})", file=out)
        return state.endpoint_url
    return None


def _fresh_emulator(args: argparse.Namespace, out: TextIO) -> str:
    """A new emulator for each deploy: no state left over from an earlier (failed) run."""
    if args.endpoint_url:
        return require_local_endpoint(args.endpoint_url)
    stopped = stop_background(args.state_dir)
    if stopped:
        print(f"==> Stopped the previous emulator (pid {stopped.pid})", file=out)
    print("==> Starting the emulator (moto server with this project's models)", file=out)
    wanted = last_port(args.state_dir)
    state = start_background(args.state_dir)
    print(f"    listening on {state.endpoint_url} (pid {state.pid})", file=out)
    port = urlsplit(state.endpoint_url).port
    if wanted and port != wanted:
        print(
            f"    port {wanted}, the previous emulator's, was taken: an `export "
            "AWS_ENDPOINT_URL=...` line printed before this deploy is stale; use the one below",
            file=out,
        )
    return state.endpoint_url


def _say(out: TextIO, text: str = "") -> None:
    # Flushed: the verdict runs as a child process, and a pipe must not reorder the report.
    print(text, file=out, flush=True)


def _print_verdict(title: str, run: VerdictRun, out: TextIO) -> None:
    _say(out, f"==> {title}\n    $ python {' '.join(run.command[1:])}")
    _say(out, "\n".join(f"    {line}" for line in run.output.rstrip().splitlines()))
    _say(out, f"    exit status {run.exit_code}")


def _deploy(args: argparse.Namespace, out: TextIO) -> int:
    try:
        return _deploy_to(_fresh_emulator(args, out), args, out)
    except BaseException:
        # A failed deploy leaves nothing running: the stack is half made and useless, and the
        # emulator would only hold its port and memory (its log stays for reading).
        _stop_recorded(args, out)
        raise


def _deploy_to(endpoint: str, args: argparse.Namespace, out: TextIO) -> int:
    parameters = dict(item.split("=", 1) for item in args.parameter)
    parameters["EnvironmentSuffix"] = args.suffix
    deployment = deploy(endpoint, args.template, parameters, out)
    print(f"\n{render_outputs(deployment)}\n", file=out)
    print("Resources by type (nested stacks included):", file=out)
    print(render_resource_table(deployment.rows), file=out)
    unmodelled = deployment.types_in(UNMODELLED)
    print(
        "\nNot modelled by the emulator (declared, not created): "
        + (", ".join(unmodelled) if unmodelled else "none"),
        file=out,
    )
    _print_verdict(
        "Health verdict of the production environment", run_verdict(endpoint, args.suffix), out
    )
    total = sum(seconds for _, seconds in deployment.timings)
    _say(
        out,
        f"\nDeployed {deployment.stack_name} in {total:.1f} s. The emulator keeps running at "
        f"{endpoint}: `make drill` to watch a breached alarm fail the verdict, `make destroy` "
        'to stop it. For the AWS CLI or `make verdict ARGS="... --endpoint-url '
        f'{endpoint}"`:\n  {export_line(endpoint)}',
    )
    return EXIT_OK


def _drill(args: argparse.Namespace, out: TextIO) -> int:
    endpoint = _endpoint(args, out)
    if endpoint is None or not stack_exists(local_client("cloudformation", endpoint), STACK_NAME):
        print("error: no local stack: run `make deploy` first.", file=sys.stderr)
        return EXIT_FAILED
    drilled = drill(endpoint, args.suffix)
    _say(out, f"==> Put {drilled.breached_alarm} into ALARM")
    _print_verdict("Health verdict with the breached alarm", drilled.failing, out)
    _say(out, f"==> The pipeline's health-check job: {drilled.job_outcome}")
    for operation, message in drilled.reports:
        _say(out, f"    reported to CodePipeline ({operation}): {message}")
    for note in drilled.notifications:
        _say(out, f"==> SNS notification sent: {note['subject']}")
        _say(out, "\n".join(f"    {line}" for line in note["message"].splitlines()))
    if not drilled.notifications:
        _say(out, "==> No SNS notification arrived")
    _say(out, f"==> Restored {drilled.breached_alarm} to OK")
    if drilled.recovered:
        _print_verdict("Health verdict without the breached alarm", drilled.recovered, out)
    failed_as_expected = not drilled.failing.healthy and bool(drilled.notifications)
    return EXIT_OK if failed_as_expected else EXIT_FAILED


def _invoke(args: argparse.Namespace, out: TextIO) -> int:
    # Refuse a misspelt function or event before looking for the stack.
    function = pick_function(args.function, args.suffix)
    read_event(args.event)
    endpoint = _endpoint(args, out)
    if endpoint is None:
        print("error: no local stack: run `make deploy` first.", file=sys.stderr)
        return EXIT_FAILED
    out.flush()
    return invoke(endpoint, function, args.event)


def _destroy(args: argparse.Namespace, out: TextIO) -> int:
    endpoint = _endpoint(args, out)
    if endpoint is None:
        print("No local emulator running: nothing to destroy.", file=out)
        return EXIT_OK
    cloudformation = local_client("cloudformation", endpoint)
    try:
        if stack_exists(cloudformation, STACK_NAME):
            _say(out, f"==> Deleting {STACK_NAME}")
            delete_stack(cloudformation, STACK_NAME)
    except (DeploymentError, *_AWS_ERRORS) as error:
        # Not a failure of destroy: the stack lives only in the emulator, stopped just below.
        _say(out, f"    the emulator could not delete it ({_cause(error, args.state_dir)});")
        _say(out, "    stopping the emulator discards it all the same")
    finally:
        # The emulator goes even if the delete failed: its state dies with it.
        _stop_recorded(args, out)
    return EXIT_OK


def _stop_recorded(args: argparse.Namespace, out: TextIO) -> None:
    if not args.endpoint_url:
        stopped = stop_background(args.state_dir)
        if stopped:
            _say(out, f"==> Stopped the emulator (pid {stopped.pid})")


# What a request to the emulator can raise: an error reply, no reply, or its bare 500 page
# (which botocore fails to parse as XML).
_AWS_ERRORS = (BotoCoreError, ClientError, ResponseParserError)


def _cause(error: BaseException, state_dir: Path) -> str:
    """One line saying what went wrong: the emulator's own exception for one of its 500s."""
    if isinstance(error, ResponseParserError):
        return f"the emulator failed: {last_error(state_dir) or 'no cause in its log'}"
    if isinstance(error, ClientError):
        operation = error.operation_name
        if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == HTTP_SERVER_ERROR:
            cause = last_error(state_dir) or "no cause in its log"
            return f"the emulator failed on {operation}: {cause}"
        return f"{operation} failed: {error.response.get('Error', {}).get('Message') or error}"
    return str(error)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _arguments(argv)
    if args.command == "serve":
        serve(args.state_dir, args.port)
        return EXIT_OK
    handlers = {"deploy": _deploy, "drill": _drill, "destroy": _destroy, "invoke": _invoke}
    try:
        return handlers[args.command](args, out)
    except KeyboardInterrupt:
        # Ctrl-C: a deploy stopped its emulator on the way out (see _deploy); say so, once.
        left = (
            "; the emulator was stopped, nothing is left running"
            if args.command == "deploy"
            else ""
        )
        print(f"\ninterrupted: {args.command} stopped (Ctrl-C){left}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except NotLocalEndpointError as error:
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InvokeError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (DeploymentError, EmulatorError, DrillError, PackagingError, *_AWS_ERRORS) as error:
        print(
            f"error: {_cause(error, args.state_dir)}\n"
            f"(the emulator's log: {log_path(args.state_dir)})",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
