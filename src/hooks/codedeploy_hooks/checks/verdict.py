"""What every check returns: passed or not, and the reason CodeDeploy's operators will read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str

    @classmethod
    def ok(cls, reason: str) -> Verdict:
        return cls(passed=True, reason=reason)

    @classmethod
    def fail(cls, reason: str) -> Verdict:
        return cls(passed=False, reason=reason)
