"""The detection curve: a sweep's rows (tools/rehearsal/sweep.py) as a picture.

One column per swept quantity (the 5XX rate, the added latency), three panels each, top to
bottom: the peak share of users on the failing release, the time to detect it, and the reaction
(users back on a good release after detection), against the rate on a log axis. One line per
design and scope (the one failing service, every service at once); a point that was never
detected, or whose users were never brought back, is a cross on the panel's top edge. The
dotted lines are issue 25's figures; the dashed one the first rate they judge.

`curve_of(rows)` is the data the drawing shows (tests read it; each line carries an SVG id,
`chart.gid(kind, panel, scope, design)`); `python -m tools.rehearsal.detection_curve` redraws
the README's image from a full sweep (`make charts`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from tools.rehearsal import chart, sweep
from tools.rehearsal.scenario import load

README_IMAGE = Path("docs/images/detection-curve.svg")
PANELS = ("peak", "detect", "reaction")
PANEL_TITLES = {
    "peak": "peak share of users on it (%)",
    "detect": "detect (s)",
    "reaction": "reaction: users back (s after detect)",
}
KIND_TITLES = {"error_rate": "release failing this share of requests", "latency": "added latency"}
DESIGN_COLOURS = {"current": "#4e79a7", "original": "#e15759"}
DESIGN_TITLES = chart.DESIGN_TITLES
ONE_SERVICE, EVERY_SERVICE = "one service", "every service"
SCOPE_STYLES: dict[str, tuple[Literal["-", "--"], str]] = {
    ONE_SERVICE: ("-", "o"),
    EVERY_SERVICE: ("--", "s"),
}


@dataclass(frozen=True)
class Series:
    """One line of each panel: a design and a scope, over the swept values in order."""

    kind: str
    scope: str  # ONE_SERVICE or EVERY_SERVICE
    design: str
    values: tuple[float, ...]  # percent of requests, or milliseconds added
    peak: tuple[float, ...]  # share of users, 0..1
    detect: tuple[float | None, ...]
    reaction: tuple[float | None, ...]
    judged_from: float | None  # the first value the figures judge


def curve_of(rows: Sequence[sweep.Row]) -> list[Series]:
    lines: dict[tuple[str, str, str], list[sweep.Row]] = {}
    for row in rows:
        scope = EVERY_SERVICE if row.point.scope == sweep.ALL_SERVICES else ONE_SERVICE
        lines.setdefault((row.point.kind, scope, row.design), []).append(row)
    series = []
    for (kind, scope, design), found in lines.items():
        found.sort(key=lambda r: r.point.value)
        scale = 100.0 if kind == "error_rate" else 1.0
        series.append(
            Series(
                kind=kind,
                scope=scope,
                design=design,
                values=tuple(scale * r.point.value for r in found),
                peak=tuple(r.peak_bad_share for r in found),
                detect=tuple(r.detect_seconds for r in found),
                reaction=tuple(r.reaction_seconds for r in found),
                judged_from=next((scale * r.point.value for r in found if r.judged), None),
            )
        )
    return series


# ---------------------------------------------------------------- drawing
def draw(series: Sequence[Series]) -> Figure:
    if not series:
        raise ValueError("nothing to draw: no sweep rows")
    kinds = [k for k in sweep.KINDS if any(s.kind == k for s in series)]
    with chart.style():
        figure = Figure(figsize=(chart.WIDTH_INCHES, 5.6), layout="constrained")
        grid = figure.subplots(len(PANELS), len(kinds), squeeze=False, sharex="col")
        for column, kind in enumerate(kinds):
            ours = [s for s in series if s.kind == kind]
            for row, panel in enumerate(PANELS):
                _panel(grid[row][column], ours, kind, panel, bottom=row == len(PANELS) - 1)
        figure.suptitle(
            "Detection curve: a failing release played at each rate, this design and the original",
            fontsize=chart.FONT_SIZE + 1.5,
        )
        figure.legend(handles=_legend(series), loc="outside lower center", ncols=7, frameon=False)
    return figure


def _panel(ax: Axes, series: Sequence[Series], kind: str, panel: str, *, bottom: bool) -> None:
    for line in series:
        colour = DESIGN_COLOURS.get(line.design, "black")
        ys = [_plotted(panel, y) for y in getattr(line, panel)]
        ax.plot(
            line.values,
            ys,
            **_line_style(line),
            gid=chart.gid(kind, panel, line.scope, line.design),
        )
        never = [x for x, y in zip(line.values, ys, strict=True) if math.isnan(y)]
        if never:  # on the top edge: the axis scale says nothing about "never"
            ax.plot(
                never,
                [1.0] * len(never),
                linestyle="none",
                marker="x",
                clip_on=False,
                color=colour,
                zorder=4,
                transform=ax.get_xaxis_transform(),
                gid=chart.gid(kind, panel, line.scope, line.design, "never"),
            )
    ax.set_xscale("log")
    values = sorted({v for line in series for v in line.values})
    # A margin of its own: one swept value alone would make a zero-width view.
    ax.set_xlim(values[0] / 1.25, values[-1] * 1.25)
    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_minor_locator(NullLocator())
    unit = "%" if kind == "error_rate" else " ms"
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}{unit}"))
    ax.set_ylim(bottom=0)
    ax.set_ylabel(PANEL_TITLES[panel])
    ax.grid(True, linewidth=0.3, color="#d9d9d9")
    judged = [s.judged_from for s in series if s.judged_from is not None]
    if judged:
        ax.axvline(min(judged), color="#6b6b6b", linestyle="--", linewidth=0.6)
    if panel == "peak":
        ax.axhline(100 * sweep.MAX_PEAK_BAD_SHARE, color="#6b6b6b", linestyle=":", linewidth=0.8)
        ax.set_ylim(0, 105)
        ax.set_title(KIND_TITLES[kind])
    if panel == "reaction":
        ax.axhline(sweep.MAX_REACTION_SECONDS, color="#6b6b6b", linestyle=":", linewidth=0.8)
        ax.set_ylim(0, max(ax.get_ylim()[1], 1.25 * sweep.MAX_REACTION_SECONDS))
    if bottom:
        ax.set_xlabel(KIND_TITLES[kind])


def _line_style(line: Series) -> dict[str, Any]:
    """This design thin on top of the original's broad pale band: where they agree, the thin
    line runs inside the band. Every service at once: dashed, hollow squares."""
    style, marker = SCOPE_STYLES[line.scope]
    current = line.design == "current"
    return {
        "linestyle": style,
        "marker": marker,
        "markersize": 3 if current else 6,
        "markerfacecolor": "none" if line.scope == EVERY_SERVICE else None,
        "linewidth": 1.0 if current else 3.5,
        "alpha": 1.0 if current else 0.45,
        "zorder": 3 if current else 2,
        "color": DESIGN_COLOURS.get(line.design, "black"),
    }


def _plotted(panel: str, value: float | None) -> float:
    if value is None:
        return math.nan
    return 100 * value if panel == "peak" else value


def _legend(series: Sequence[Series]) -> list[Line2D]:
    designs = list(dict.fromkeys(s.design for s in series))
    handles = [
        Line2D([], [], color=DESIGN_COLOURS.get(d, "black"), label=DESIGN_TITLES.get(d, d))
        for d in designs
    ]
    handles += [
        Line2D(
            [],
            [],
            color="#6b6b6b",
            linestyle=style,
            marker=marker,
            markersize=3,
            markerfacecolor="none" if scope == EVERY_SERVICE else None,
            label=scope,
        )
        for scope, (style, marker) in SCOPE_STYLES.items()
    ]
    handles += [
        Line2D([], [], color="#6b6b6b", linestyle=":", label="issue 25: 10 % of users, 60 s"),
        Line2D([], [], color="#6b6b6b", linestyle="--", label="judged from here"),
    ]
    handles.append(Line2D([], [], color="#6b6b6b", linestyle="none", marker="x", label="never"))
    return handles


# ---------------------------------------------------------------- files
def render(series: Sequence[Series], fmt: str = "svg") -> bytes:
    return chart.save(lambda: draw(series), fmt)


def write(rows: Sequence[sweep.Row], path: Path) -> None:
    path.write_bytes(render(curve_of(rows), chart.image_format(path)))


def main() -> int:
    base = sweep.Base.of(load(sweep.DEFAULT_BASE))
    rows = sweep.sweep(base, sweep.points(sweep.KINDS, base))
    image = chart.REPO_ROOT / README_IMAGE
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(render(curve_of(rows)))
    print(f"wrote {README_IMAGE} from a sweep of {sweep.DEFAULT_BASE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
