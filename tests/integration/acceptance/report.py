"""What `make acceptance` observed: one outcome per assumption, written as JSON and Markdown."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from tests.integration.acceptance.assumptions import ASSUMPTIONS


class Outcome(StrEnum):
    HELD = "held"  # AWS behaved as the design assumes
    BROKEN = "broken"  # AWS behaved otherwise: change the rehearsal setting, revisit the design
    UNSETTLED = "unsettled"  # the check could not observe it (precondition missing, timed out)


@dataclass(frozen=True)
class Observation:
    assumption: str
    outcome: Outcome
    observed: dict[str, Any]
    detail: str

    def __post_init__(self) -> None:
        if self.assumption not in ASSUMPTIONS:
            raise ValueError(f"unknown assumption {self.assumption!r}")


@dataclass
class Report:
    env: str
    stack_name: str
    started_at: datetime
    observations: list[Observation] = field(default_factory=list)

    def record(self, observation: Observation) -> None:
        self.observations.append(observation)

    def latest(self) -> dict[str, Observation]:
        """The last observation of each assumption (a re-run check supersedes its first try)."""
        return {o.assumption: o for o in self.observations}

    def as_json(self, finished_at: datetime) -> dict[str, Any]:
        latest = self.latest()
        return {
            "env": self.env,
            "stack": self.stack_name,
            "started_at": self.started_at.isoformat(),
            "finished_at": finished_at.isoformat(),
            "assumptions": [
                {
                    "id": key,
                    "title": assumption.title,
                    "rehearsal_setting": assumption.rehearsal_setting,
                    "assumed": assumption.assumed,
                    "when_broken": assumption.when_broken,
                    "outcome": latest[key].outcome.value if key in latest else "not run",
                    "observed": latest[key].observed if key in latest else {},
                    "detail": latest[key].detail if key in latest else "",
                }
                for key, assumption in ASSUMPTIONS.items()
            ],
        }

    def as_markdown(self, finished_at: datetime) -> str:
        data = self.as_json(finished_at)
        lines = [
            f"# Acceptance report: {self.stack_name} (ENV={self.env})",
            "",
            f"{data['started_at']} to {data['finished_at']}",
            "",
            "| assumption | outcome | observed | rehearsal setting (assumed) |",
            "|---|---|---|---|",
        ]
        for item in data["assumptions"]:
            observed = ", ".join(f"{k}={v}" for k, v in item["observed"].items()) or "-"
            lines.append(
                f"| {item['id']} {item['title']} | {item['outcome']} | {observed} | "
                f"`{item['rehearsal_setting']}` ({item['assumed']}) |"
            )
        broken = [item for item in data["assumptions"] if item["outcome"] == Outcome.BROKEN]
        lines += ["", "## Rehearsal settings to change", ""]
        if not broken:
            lines.append("None: every settled assumption held.")
        for item in broken:
            if item["when_broken"]:
                lines.append(
                    f"- {item['id']}: AWS showed {item['observed']} ({item['detail']}); "
                    f"{item['when_broken']}"
                )
                continue
            lines.append(
                f"- `{item['rehearsal_setting']}`: assumed {item['assumed']}, AWS showed "
                f"{item['observed']} ({item['id']}: {item['detail']})"
            )
        unsettled = [
            item for item in data["assumptions"] if item["outcome"] in ("unsettled", "not run")
        ]
        if unsettled:
            lines += ["", "## Not settled by this run", ""]
            lines += [
                f"- {item['id']} {item['title']}: {item['detail'] or 'not run'}"
                for item in unsettled
            ]
        return "\n".join(lines) + "\n"

    def write(self, directory: Path, finished_at: datetime) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"acceptance-{self.env}-{self.started_at.strftime('%Y%m%dT%H%M%SZ')}"
        json_path = directory / f"{stem}.json"
        markdown_path = directory / f"{stem}.md"
        json_path.write_text(json.dumps(self.as_json(finished_at), indent=2, default=str) + "\n")
        markdown_path.write_text(self.as_markdown(finished_at))
        return json_path, markdown_path
