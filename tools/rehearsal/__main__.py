"""`make rehearse`: play the scenario library (or one scenario) through the templates and the real
Lambda code, this design beside the original, and print what users went through.

Exit status: 0 when every scenario not marked expected_to_fail meets its `expect`, 1 otherwise,
2 when a scenario cannot be run (a bad file). With --sweep (tools/rehearsal/sweep.py): 0 when this
design meets issue 25's figures at every judged point, 1 otherwise, 2 for a bad base scenario.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tools.rehearsal import report
from tools.rehearsal.run import Result, run
from tools.rehearsal.scenario import ScenarioError, library, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, help="one scenario file: print its timeline")
    parser.add_argument("--design", choices=["current", "original", "both"], default="both")
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="write the figures as JSON (to PATH, or standard output)",
    )
    parser.add_argument(
        "--chart",
        type=Path,
        metavar="PATH",
        help="with --scenario: draw it to PATH (.svg or .png), one column per design",
    )
    parser.add_argument(
        "--sweep",
        nargs="?",
        const="both",
        choices=["error_rate", "latency", "both"],
        help="replay --scenario (default scenarios/canary-5xx.yaml) at every failure rate "
        "and/or added latency, one service and all; --chart draws the detection curve",
    )
    args = parser.parse_args(argv)
    if args.sweep:
        return _sweep(args)
    _check_chart(parser, args)
    paths = [args.scenario] if args.scenario else library()
    designs = ["current", "original"] if args.design == "both" else [args.design]
    try:
        scenarios = [load(_existing(path)) for path in paths]
    except ScenarioError as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    results: list[Result] = []
    for number, scenario in enumerate(scenarios, start=1):
        # Progress on stderr (a run of the library takes a while; stdout stays the report).
        print(f"rehearse: [{number}/{len(scenarios)}] {scenario.name}", file=sys.stderr, flush=True)
        for design in designs:
            result = run(scenario, design)
            results.append(result)
            if args.scenario:
                print(report.timeline(result), end="\n\n")
    _draw(args.chart, results)
    _write_json(args.json, report.dumps(results))
    if not args.scenario and args.design == "both":
        print(report.table(list(zip(results[::2], results[1::2], strict=True))))
    elif not args.scenario:
        for result in results:
            print(f"{result.scenario.name}: {report.figures_line(result)}")
    missed = [
        r
        for r in results
        if r.design == "current" and not r.met and not r.scenario.expected_to_fail
    ]
    for result in missed:
        print(f"MISSED {result.scenario.name}: {'; '.join(result.misses)}", file=sys.stderr)
    unexpected_pass = [
        r for r in results if r.design == "current" and r.met and r.scenario.expected_to_fail
    ]
    for result in unexpected_pass:
        print(
            f"note: {result.scenario.name} is marked expected_to_fail but met its expectations",
            file=sys.stderr,
        )
    return 1 if missed else 0


def _sweep(args: argparse.Namespace) -> int:
    from tools.rehearsal import sweep  # noqa: PLC0415 - only a sweep needs it

    try:
        base = sweep.Base.of(load(_existing(args.scenario or sweep.DEFAULT_BASE)))
    except ScenarioError as error:
        print(f"rehearse: {error}", file=sys.stderr)
        return 2
    kinds = sweep.KINDS if args.sweep == "both" else (args.sweep,)
    designs = sweep.DESIGNS if args.design == "both" else (args.design,)
    rows = sweep.sweep(
        base,
        sweep.points(kinds, base),
        designs,
        progress=lambda text: print(f"rehearse: sweep {text}", file=sys.stderr, flush=True),
    )
    if args.chart:
        from tools.rehearsal import detection_curve  # noqa: PLC0415 - matplotlib only when drawing

        detection_curve.write(rows, args.chart)
        print(f"rehearse: chart written to {args.chart.resolve()}", file=sys.stderr)
    _write_json(args.json, json.dumps(sweep.as_json(rows), indent=2))
    print(sweep.table(rows, base))
    missed = sweep.missed(rows)
    for row in missed:
        print(
            f"MISSED {row.point.label}, {row.point.scope}: {'; '.join(row.misses)}", file=sys.stderr
        )
    return 1 if missed else 0


def _write_json(destination: str | None, text: str) -> None:
    """--json: to standard output ("-") or to a file."""
    if destination == "-":
        print(text)
    elif destination:
        Path(destination).write_text(text + "\n")


def _check_chart(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.chart and not args.scenario:
        parser.error("--chart draws one scenario: give --scenario")


def _existing(path: Path) -> Path:
    """The scenario file, or a ScenarioError listing the library when there is none."""
    if path.is_file():
        return path
    names = ", ".join(p.name for p in library())
    raise ScenarioError(f"{path}: no such scenario file; scenarios/ has {names}")


def _draw(path: Path | None, results: list[Result]) -> None:
    if path is not None:
        from tools.rehearsal import chart  # noqa: PLC0415 - matplotlib only when drawing

        chart.write(results, path)
        print(f"rehearse: chart written to {path.resolve()}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
