"""What a rehearsal prints: one scenario's timeline, the library's table, the figures as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from tools.rehearsal import restores
from tools.rehearsal.run import Result


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{rest:02d}"


def timeline(result: Result) -> str:
    lines = [f"== {result.scenario.name} ({result.design} design): {result.scenario.description}"]
    lines += [f"{_clock(e.at):>8}  {e.actor:<26} {e.text}" for e in result.events]
    lines += restores.describe(result.events, result.world.system, _clock)
    lines.append(figures_line(result))
    if result.unmodelled_calls:
        lines.append(f"unmodelled AWS calls: {', '.join(result.unmodelled_calls)}")
    if result.design == "current":
        lines.append(
            "expectations (the scenario's `expect`): "
            + ("met" if result.met else "MISSED: " + "; ".join(result.misses))
        )
    return "\n".join(lines)


def _figure(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def figures_line(result: Result) -> str:
    f = result.figures
    return (
        f"exposure {f.exposure_request_seconds:g} request-s, "
        f"{f.failed_requests:g} failed requests, "
        f"peak bad share {100 * f.peak_bad_share:.0f}%, "
        f"detect {_figure(f.detect_seconds)}, restore {_figure(f.restore_seconds)}, "
        f"lead time {_figure(f.lead_time_seconds)}, acted: {', '.join(f.actors) or '-'}, "
        f"human needed: {'yes' if f.human_needed else 'no'}, ended by the {result.ended_by}"
    )


def table(pairs: list[tuple[Result, Result]]) -> str:
    """One row per scenario: this design's figures beside the original design's."""
    header = (
        f"{'scenario':<34} {'met':<5} {'exposure (req-s)':>17} {'failed requests':>17} "
        f"{'peak bad':>10} "
        f"{'detect':>12} {'restore':>14} {'lead time':>12}  acted (this design)"
    )
    rows = [header, "-" * len(header)]
    for current, original in pairs:
        c, o = current.figures, original.figures
        met = (
            "xfail"
            if current.scenario.expected_to_fail and not current.met
            else ("yes" if current.met else "NO")
        )
        rows.append(
            f"{current.scenario.name:<34} {met:<5} "
            f"{_pair(c.exposure_request_seconds, o.exposure_request_seconds, ''):>17} "
            f"{_pair(c.failed_requests, o.failed_requests, ''):>17} "
            f"{_pair(100 * c.peak_bad_share, 100 * o.peak_bad_share, '%'):>10} "
            f"{_pair(c.detect_seconds, o.detect_seconds):>12} "
            f"{_pair(c.restore_seconds, o.restore_seconds):>14} "
            f"{_pair(c.lead_time_seconds, o.lead_time_seconds):>12}  {', '.join(c.actors) or '-'}"
        )
    rows.append("each cell: this design / the original design (-: does not apply)")
    rows.append(
        "met: this design did what the scenario's `expect` asks (yes / NO; xfail: "
        "a known gap, marked expected_to_fail)"
    )
    return "\n".join(rows)


def _pair(current: float | None, original: float | None, unit: str = "s") -> str:
    def one(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}{unit}"

    return f"{one(current)} / {one(original)}"


def as_json(results: list[Result]) -> list[dict[str, Any]]:
    return [
        {
            "scenario": r.scenario.name,
            "design": r.design,
            "met": r.met if r.design == "current" else None,
            "expected_to_fail": r.scenario.expected_to_fail,
            **{k: v for k, v in asdict(r.figures).items() if k != "human_needed"},
            "human_needed": r.figures.human_needed,
            "ended_by": r.ended_by,
            "misses": r.misses,
        }
        for r in results
    ]


def dumps(results: list[Result]) -> str:
    return json.dumps(as_json(results), indent=2)
