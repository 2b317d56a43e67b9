"""AWS Lambda running the project's real function code: asynchronous invocation with its retries,
throttling, timeouts and event age, as the templates configure each function.

The code is imported from src/ as the Lambda runtime would, and called through its
`handle(event, context, runtime)` seam with
the runtime its own `Runtime.from_aws()` builds; only the clock is the rehearsal's (and, for the
smoke test, the HTTP probe, which the model answers instead of opening sockets). AWS itself is
faked below botocore (fake_aws.py), so the clients, their configuration and every call are real.

Sources (docs/rehearsal.md has the quotes):
- Asynchronous invocation: two retries, one and two minutes apart; throttles retried for up to six
  hours; MaximumRetryAttempts and MaximumEventAgeInSeconds:
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
- Invoked directly (synchronously), an error goes back to the caller; Lambda does not retry it:
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-retries.html
- On-failure destinations (an invocation record with the request payload, once the retries failed
  or the event grew too old): https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
- CodePipeline invokes the function asynchronously:
  https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.rehearsal.clock import Invocation, LambdaKilled

if TYPE_CHECKING:
    import simpy

    from tools.rehearsal.system import FunctionSpec
    from tools.rehearsal.world import World

REPO_ROOT = Path(__file__).resolve().parents[2]
_BASE_ENVIRONMENT = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "rehearsal",
    "AWS_SECRET_ACCESS_KEY": "rehearsal",  # pragma: allowlist secret
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Rehearsal",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
}


@dataclass
class LambdaContext:
    """The fields of Lambda's context object the code reads, on virtual time."""

    function_name: str
    invocation: Invocation
    memory_limit_in_mb: int = 256
    aws_request_id: str = ""

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "rehearsal"

    def get_remaining_time_in_millis(self) -> int:
        return self.invocation.remaining_millis()


@dataclass
class Outcome:
    function: str
    ok: bool
    detail: str
    response: Any = None


class LambdaService:
    def __init__(self, world: World, probe: Callable[..., Any]) -> None:
        self.world = world
        self.probe = probe
        self.invocations: list[tuple[float, str]] = []  # (scenario time, function) of each run

    # ------------------------------------------------------------ invocation
    def invoke_async(self, function_name: str, event: dict[str, Any], *, caller: str) -> None:
        """Lambda's event queue: accepted at once, run (and retried) in the background."""
        function = self.world.system.function_by_arn_or_name(function_name)
        self.world.env.process(self._async(function, event, caller))

    def invoke_sync(self, function_name: str, event: dict[str, Any], *, caller: str) -> None:
        """A RequestResponse invocation: run once; an error or a throttle goes back to the
        caller and nothing in Lambda retries it (asynchronous retries and EventInvokeConfig
        apply to the event queue only)."""
        function = self.world.system.function_by_arn_or_name(function_name)
        self.world.env.process(self._sync(function, event, caller))

    def _sync(
        self, function: FunctionSpec, event: dict[str, Any], caller: str
    ) -> Generator[simpy.Event, Any, None]:
        world = self.world
        if world.scenario.faults.throttled(function.name, world.t):
            world.log("Lambda", f"{function.name}: throttled, {caller} gets the error, no retry")
            return
        outcome = yield world.env.process(self.run(function, event))
        if not outcome.ok:
            world.log("Lambda", f"{function.name}: {outcome.detail}; {caller} gets the error")

    def _async(
        self, function: FunctionSpec, event: dict[str, Any], caller: str
    ) -> Generator[simpy.Event, Any, None]:
        world = self.world
        queued_at = world.now
        errors = 0
        delays = world.assumptions["lambda_async_retry_delays_seconds"]
        while True:
            if world.now - queued_at > function.max_event_age:
                world.log(
                    "Lambda",
                    f"{function.name}: event from {caller} older than "
                    f"{function.max_event_age:g} s, discarded",
                )
                self._on_failure(function, event, "EventAgeExceeded", errors)
                return
            if world.scenario.faults.throttled(function.name, world.t):
                world.log("Lambda", f"{function.name}: throttled, the event queue retries later")
                yield world.env.timeout(float(world.assumptions["lambda_throttle_retry_seconds"]))
                continue
            outcome = yield world.env.process(self.run(function, event))
            if outcome.ok:
                return
            errors += 1
            if errors > function.max_retry_attempts:
                world.log("Lambda", f"{function.name}: {outcome.detail}; no retries left")
                self._on_failure(function, event, "RetriesExhausted", errors)
                return
            delay = float(delays[min(errors, len(delays)) - 1])
            world.log("Lambda", f"{function.name}: {outcome.detail}; retry {errors} in {delay:g} s")
            yield world.env.timeout(delay)

    def _on_failure(
        self, function: FunctionSpec, event: dict[str, Any], condition: str, attempts: int
    ) -> None:
        """The on-failure destination gets an invocation record with the original event."""
        if function.on_failure is None:
            return
        record = {
            "version": "1.0",
            "timestamp": f"{self.world.t:.0f}",
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{function.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        }
        self.world.log("Lambda", f"{function.name}: event sent to its on-failure destination")
        self.invoke_async(function.on_failure, record, caller=f"{function.name} on-failure")

    def run(
        self, function: FunctionSpec, event: dict[str, Any]
    ) -> Generator[simpy.Event, Any, Outcome]:
        """One invocation: the function's code until it returns, raises or times out."""
        world = self.world
        self.invocations.append((world.t, function.name))
        crash = world.scenario.faults.take_crash(function.name, world.t)
        environment = {**_BASE_ENVIRONMENT, **function.environment}
        invocation = Invocation(world.clock, function.name, function.timeout)
        context = LambdaContext(function.name, invocation, aws_request_id=str(uuid.uuid4()))

        def call() -> Any:
            if crash:
                raise RuntimeError(f"injected fault: {crash}")
            module = self._module(function)
            return module.handle(event, context, self._runtime(module))

        invocation.on_resume = lambda: os.environ.update(environment)
        done = yield world.env.process(invocation.process(call))
        if invocation.killed or isinstance(done.error, LambdaKilled):
            return Outcome(
                function.name, ok=False, detail=f"timed out after {function.timeout:g} s"
            )
        if done.error is not None:
            return Outcome(
                function.name, ok=False, detail=f"{type(done.error).__name__}: {done.error}"
            )
        return Outcome(function.name, ok=True, detail="returned", response=done.result)

    # ------------------------------------------------------------ the code
    def _module(self, function: FunctionSpec) -> Any:
        """The function's handler module, imported once per process: its clients and caches
        carry no state of a rehearsal (every call goes to the rehearsal's own fake AWS)."""
        module_name = function.handler.rsplit(".", 1)[0]
        code_root = str(REPO_ROOT / function.code_uri)
        if code_root not in sys.path:
            sys.path.insert(0, code_root)
        return importlib.import_module(module_name)

    def _runtime(self, module: Any) -> Any:
        """The function's own runtime (real clients), on the rehearsal's clock."""
        runtime = module.Runtime.from_aws()
        changes: dict[str, Any] = {"clock": self.world.clock}
        names = {f.name for f in dataclasses.fields(runtime)}
        if "dependencies" in names:
            real = runtime.dependencies
            changes["dependencies"] = lambda: dataclasses.replace(real(), probe=self.probe)
        return dataclasses.replace(runtime, **changes)
