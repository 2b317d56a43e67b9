"""Virtual time for the model and for the real Lambda code running inside it.

The model's actors are SimPy processes. A Lambda invocation runs the function's real code in a
thread of its own; whenever that code waits (`clock.sleep`), the thread hands control back to the
SimPy loop, which resumes it when virtual time reaches the wake-up. Exactly one thread runs at any
moment (the loop, or one invocation), so a rehearsal is deterministic.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

# Virtual time 0 is this instant (epoch seconds), so timestamps the Lambda code reads look real.
EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class LambdaKilled(BaseException):
    """Raised inside an invocation's thread when its function times out: like Lambda's kill, it
    is not an Exception, so the function's own handlers cannot catch it and report."""


@dataclass
class _Wake:
    seconds: float
    resume: threading.Event = field(default_factory=threading.Event)
    killed: bool = False


@dataclass
class _Done:
    result: Any = None
    error: BaseException | None = None


class Invocation:
    """One run of a function's code in its own thread, stepped by the SimPy loop."""

    def __init__(self, clock: VirtualClock, name: str, timeout: float) -> None:
        self.clock = clock
        self.name = name
        self.started_at = clock.now
        self.deadline = clock.now + timeout
        self.killed = False
        # Called whenever the invocation gets the floor (its environment variables, for one).
        self.on_resume: Callable[[], None] = lambda: None
        self._messages: queue.Queue[_Wake | _Done] = queue.Queue()

    def process(self, call: Callable[[], Any]) -> Generator[simpy.Event, Any, _Done]:
        """SimPy process: run `call` until it finishes, is killed at its timeout, or fails."""
        thread = threading.Thread(
            target=self._run, args=(call,), name=f"lambda-{self.name}", daemon=True
        )
        self.clock.running = self
        self.on_resume()
        thread.start()
        while True:
            message = self._messages.get()
            self.clock.running = None
            if isinstance(message, _Done):
                return message
            wake_at = min(self.clock.now + message.seconds, self.deadline)
            yield self.clock.env.timeout(max(0.0, wake_at - self.clock.now))
            if self.clock.now >= self.deadline and message.seconds > 0:
                self.killed = message.killed = True
            self.clock.running = self
            self.on_resume()
            message.resume.set()

    def _run(self, call: Callable[[], Any]) -> None:
        try:
            self._messages.put(_Done(result=call()))
        except BaseException as error:
            self._messages.put(_Done(error=error))

    def sleep(self, seconds: float) -> None:
        """Called from the invocation's threads: give way to the model for `seconds`."""
        wake = _Wake(seconds=max(0.0, seconds))
        self._messages.put(wake)
        wake.resume.wait()
        if wake.killed:
            raise LambdaKilled(f"{self.name} timed out")

    def remaining_millis(self) -> int:
        return max(0, int((self.deadline - self.clock.now) * 1000))


class VirtualClock:
    """Both Lambda packages' Clock protocols (monotonic/sleep and time) on SimPy's time."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.running: Invocation | None = None

    @property
    def now(self) -> float:
        return float(self.env.now)

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return EPOCH + self.now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """The hooks' Clock.wait: only this invocation could set `event` (one thread runs at a
        time), so a virtual sleep and a look at the event afterwards is the same wait."""
        if not event.is_set():
            self.sleep(seconds)
        return event.is_set()

    def sleep(self, seconds: float) -> None:
        invocation = self.running
        if invocation is None:
            raise RuntimeError("clock.sleep called outside a Lambda invocation")
        if invocation.killed:
            raise LambdaKilled(f"{invocation.name} timed out")
        invocation.sleep(seconds)
        self.running = invocation

    def check_alive(self) -> None:
        """Called on every AWS call: a killed invocation makes no further call."""
        if self.running is not None and self.running.killed:
            raise LambdaKilled(f"{self.running.name} timed out")
