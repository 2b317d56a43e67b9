"""Time as the hooks see it: a clock, a point in time the hook must be done by, and the signal that
tells a check to stop because its hook has already reported.

Every read of time and every wait in the runner and the checks goes through a `Clock`, so that the
same code runs on the system clock in Lambda and on a virtual clock in a release rehearsal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from codedeploy_hooks.errors import CheckCancelledError


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float:
        """Seconds since the epoch (for the time ranges of metric queries)."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until `event` is set or `seconds` have passed; True if it was set."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


@dataclass(frozen=True)
class Deadline:
    at: float
    clock: Clock = field(compare=False)
    # Set once the hook has reported without the check's answer. Lambda freezes a check still
    # running then and thaws it inside the next invocation of the container; cancelled, it makes
    # no further call there. Shared by every deadline derived from this one.
    cancellation: threading.Event = field(
        default_factory=threading.Event, compare=False, repr=False
    )

    @classmethod
    def after(cls, seconds: float, clock: Clock) -> Deadline:
        return cls(at=clock.monotonic() + seconds, clock=clock)

    def remaining(self) -> float:
        if self.cancelled:
            return 0.0
        return max(0.0, self.at - self.clock.monotonic())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    @property
    def cancelled(self) -> bool:
        return self.cancellation.is_set()

    def cancel(self) -> None:
        self.cancellation.set()

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise CheckCancelledError("check cancelled: its hook already reported Failed")

    def wait(self, seconds: float) -> None:
        """Sleep `seconds` (less if the deadline comes first); a cancellation ends the wait at
        once, with CheckCancelledError."""
        self.raise_if_cancelled()
        left = self.cap(seconds)
        if left > 0:
            self.clock.wait(self.cancellation, left)
        self.raise_if_cancelled()

    def cap(self, seconds: float) -> float:
        """`seconds`, or less if the deadline comes first."""
        return min(seconds, self.remaining())

    def earlier(self, seconds: float) -> Deadline:
        return Deadline(at=self.at - seconds, clock=self.clock, cancellation=self.cancellation)

    def within(self, seconds: float) -> Deadline:
        """The earlier of this deadline and `seconds` from now."""
        return Deadline(
            at=min(self.at, self.clock.monotonic() + seconds),
            clock=self.clock,
            cancellation=self.cancellation,
        )


# The deadline of the check running on this thread, for refuse_calls_past_deadline: the AWS
# clients are shared by every invocation of the container, the deadline is per check.
_running = threading.local()


@contextmanager
def governing(deadline: Deadline) -> Iterator[None]:
    """AWS calls made on this thread inside the block obey `deadline`."""
    _running.deadline = deadline
    try:
        yield
    finally:
        _running.deadline = None


def refuse_calls_past_deadline(**_: object) -> None:
    """botocore `before-send` handler: no attempt (first or retry) of a call starts once the
    calling check's deadline has passed or it was cancelled. An attempt already sent ends within
    the client's own connect and read timeouts (clients.READS)."""
    deadline: Deadline | None = getattr(_running, "deadline", None)
    if deadline is None:
        return
    deadline.raise_if_cancelled()
    if deadline.expired:
        raise CheckCancelledError("check out of time: AWS call not sent")
