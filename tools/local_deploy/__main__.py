"""`python -m tools.local_deploy deploy|rehearse|destroy|serve`: the local deployment's CLI.

`make deploy`, `make rehearse` and `make destroy` without ENV call this. It only ever talks to
the emulator it starts (or finds recorded in .local-emulator/) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from tools.local_deploy.clients import NotLocalEndpointError, local_client, require_local_endpoint
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
from tools.local_deploy.emulator import (
    REPO_ROOT,
    STATE_DIR,
    EmulatorError,
    running,
    serve,
    start_background,
    stop_background,
)
from tools.local_deploy.rehearse import RehearsalError, VerdictRun, rehearse, run_verdict

DEFAULT_TEMPLATE = REPO_ROOT / ".aws-sam" / "build" / "template.yaml"
DEFAULT_SUFFIX = "local"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.local_deploy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("deploy", "start (or reuse) the emulator, deploy the built template, print the verdict"),
        ("rehearse", "breach a production alarm and show the failed verdict and notification"),
        ("destroy", "delete the local stack and stop the emulator"),
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
    serve_command = commands.add_parser("serve", help="run the emulator in the foreground")
    serve_command.add_argument("--state-dir", type=Path, default=STATE_DIR)
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
    state = start_background(args.state_dir)
    print(f"    listening on {state.endpoint_url} (pid {state.pid})", file=out)
    return state.endpoint_url


def _print_verdict(title: str, run: VerdictRun, out: TextIO) -> None:
    print(f"==> {title}\n    $ python {' '.join(run.command[1:])}", file=out)
    print("\n".join(f"    {line}" for line in run.output.rstrip().splitlines()), file=out)
    print(f"    exit status {run.exit_code}", file=out)


def _deploy(args: argparse.Namespace, out: TextIO) -> int:
    endpoint = _fresh_emulator(args, out)
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
    print(
        f"\nDeployed {deployment.stack_name} in {total:.1f} s. The emulator keeps running at "
        f"{endpoint}: `make rehearse` to rehearse a failed release, `make destroy` to stop.",
        file=out,
    )
    return EXIT_OK


def _rehearse(args: argparse.Namespace, out: TextIO) -> int:
    endpoint = _endpoint(args, out)
    if endpoint is None or not stack_exists(local_client("cloudformation", endpoint), STACK_NAME):
        print("No local stack: run `make deploy` first.", file=sys.stderr)
        return EXIT_FAILED
    rehearsal = rehearse(endpoint, args.suffix)
    print(f"==> Put {rehearsal.breached_alarm} into ALARM", file=out)
    _print_verdict("Health verdict with the breached alarm", rehearsal.failing, out)
    print(f"==> The pipeline's health-check job: {rehearsal.job_outcome}", file=out)
    for operation, message in rehearsal.reports:
        print(f"    reported to CodePipeline ({operation}): {message}", file=out)
    for note in rehearsal.notifications:
        print(f"==> SNS notification sent: {note['subject']}", file=out)
        print("\n".join(f"    {line}" for line in note["message"].splitlines()), file=out)
    if not rehearsal.notifications:
        print("==> No SNS notification arrived", file=out)
    print(f"==> Restored {rehearsal.breached_alarm} to OK", file=out)
    if rehearsal.recovered:
        _print_verdict("Health verdict without the breached alarm", rehearsal.recovered, out)
    failed_as_expected = not rehearsal.failing.healthy and bool(rehearsal.notifications)
    return EXIT_OK if failed_as_expected else EXIT_FAILED


def _destroy(args: argparse.Namespace, out: TextIO) -> int:
    endpoint = _endpoint(args, out)
    if endpoint is None:
        print("No local emulator running: nothing to destroy.", file=out)
        return EXIT_OK
    cloudformation = local_client("cloudformation", endpoint)
    try:
        if stack_exists(cloudformation, STACK_NAME):
            print(f"==> Deleting {STACK_NAME}", file=out)
            delete_stack(cloudformation, STACK_NAME)
    finally:
        # The emulator goes even if the delete failed: its state dies with it.
        _stop_recorded(args, out)
    return EXIT_OK


def _stop_recorded(args: argparse.Namespace, out: TextIO) -> None:
    if not args.endpoint_url:
        stopped = stop_background(args.state_dir)
        if stopped:
            print(f"==> Stopped the emulator (pid {stopped.pid})", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _arguments(argv)
    if args.command == "serve":
        serve(args.state_dir)
        return EXIT_OK
    handlers = {"deploy": _deploy, "rehearse": _rehearse, "destroy": _destroy}
    try:
        return handlers[args.command](args, out)
    except NotLocalEndpointError as error:
        print(f"refused: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (DeploymentError, EmulatorError, RehearsalError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (BotoCoreError, ClientError) as error:
        # An emulator error answers 500 with the traceback in its log, not in the reply.
        print(
            f"error: {error}\n(the emulator's log: {args.state_dir / 'emulator.log'})",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
