"""CloudWatch as the alarms see it: per-period datapoints that arrive late, metric math, and the
alarm state machine (M of N datapoints, TreatMissingData).

Sources (docs/rehearsal.md has the quotes):
- Evaluating an alarm, DatapointsToAlarm and TreatMissingData:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html
- Metric math functions (FILL, IF):
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html
"""

from __future__ import annotations

import ast
import functools
import operator
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.rehearsal.system import AlarmSpec, MetricQuery

MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]


def metric_key(
    namespace: str, name: str, dimensions: dict[str, str] | tuple[tuple[str, str], ...]
) -> MetricKey:
    items = dimensions.items() if isinstance(dimensions, dict) else dimensions
    return (namespace, name, tuple(sorted(items)))


@dataclass
class Aggregate:
    total: float = 0.0
    count: int = 0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, value: float, weight: int = 1) -> None:
        self.total += value
        self.count += weight
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def stat(self, name: str) -> float:
        if name == "Sum":
            return self.total
        if name == "Minimum":
            return self.minimum
        if name == "Maximum":
            return self.maximum
        if name in {"Average", "p50", "p90", "p95", "p99"}:
            # Percentiles of a latency sampled once per tick: the mean is what the model knows.
            return self.total / max(1, self.count)
        if name == "SampleCount":
            return float(self.count)
        raise ValueError(f"statistic {name} is not modelled")


@dataclass
class MetricStore:
    """Datapoints by metric and period start. A period's datapoint becomes visible to alarms
    `delay` seconds after the period ends (ALB metrics arrive late)."""

    delay: float
    series: dict[MetricKey, dict[int, Aggregate]] = field(default_factory=lambda: defaultdict(dict))
    unavailable: Callable[[float], bool] = lambda _now: False

    def put(self, key: MetricKey, at: float, value: float, period: int = 60) -> None:
        start = int(at // period) * period
        self.series[key].setdefault(start, Aggregate()).add(value)

    def value(self, query: MetricQuery, start: int) -> float | None:
        key = metric_key(query.namespace, query.metric_name, query.dimensions)
        points = self.series.get(key, {})
        aggregate = _merge(points, start, query.period)
        return None if aggregate is None else aggregate.stat(query.stat)


def _merge(points: dict[int, Aggregate], start: int, period: int) -> Aggregate | None:
    """The datapoints stored per 60 s merged into one `period`."""
    merged: Aggregate | None = None
    for minute in range(start, start + period, 60):
        point = points.get(minute)
        if point is None:
            continue
        merged = merged or Aggregate()
        merged.total += point.total
        merged.count += point.count
        merged.minimum = min(merged.minimum, point.minimum)
        merged.maximum = max(merged.maximum, point.maximum)
    return merged


# ---------------------------------------------------------------- metric math
_BINARY: dict[type, Callable[[float, float], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE: dict[type, Callable[[float, float], bool]] = {
    ast.GtE: operator.ge,
    ast.Gt: operator.gt,
    ast.LtE: operator.le,
    ast.Lt: operator.lt,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


FILL_ARGUMENTS = 2  # FILL(series, value)
IF_ARGUMENTS = 3  # IF(condition, then, else)


class MathError(ValueError):
    """An expression uses something the model does not evaluate: say so, never guess."""


@functools.cache
def _parsed(expression: str) -> ast.expr:
    return ast.parse(expression, mode="eval").body


def evaluate(expression: str, values: dict[str, float | None], present: bool) -> float | None:
    """One period of a metric-math expression. `values` maps query ids to that period's value
    (None when missing); `present` says whether any raw metric of the alarm has a datapoint in the
    period: FILL fills gaps inside a series, it does not invent a series with no data at all."""
    tree = _parsed(expression)

    def walk(node: ast.expr) -> float | None:  # noqa: PLR0911, PLR0912 - one case per form
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise MathError(f"unknown id {node.id} in {expression!r}")
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            if isinstance(node.op, ast.Div) and right == 0:
                return None
            return float(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            left, right = walk(node.left), walk(node.comparators[0])
            if left is None or right is None:
                return None
            return 1.0 if _COMPARE[type(node.ops[0])](left, right) else 0.0
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name, args = node.func.id, node.args
            if name == "FILL" and len(args) == FILL_ARGUMENTS:
                value = walk(args[0])
                return (walk(args[1]) if present else None) if value is None else value
            if name in {"MAX", "MIN"} and len(args) == 1 and isinstance(args[0], ast.List):
                # An array of series reduced to one, per period (what the latency alarms use).
                known = [v for v in (walk(item) for item in args[0].elts) if v is not None]
                return (max if name == "MAX" else min)(known) if known else None
            if name == "IF" and len(args) == IF_ARGUMENTS:
                condition = walk(args[0])
                if condition is None:
                    return None
                return walk(args[1]) if condition else walk(args[2])
        raise MathError(f"metric math not modelled: {ast.unparse(node)} in {expression!r}")

    return walk(tree)


def alarm_value(alarm: AlarmSpec, store: MetricStore, start: int) -> float | None:
    """The alarm's one returned series at the period starting `start`."""
    raw: dict[str, float | None] = {}
    for query in alarm.queries:
        if query.expression is None:
            raw[query.id] = store.value(query, start)
    present = any(value is not None for value in raw.values())
    values = dict(raw)
    pending = [q for q in alarm.queries if q.expression is not None]
    # Expressions may refer to each other in any order: evaluate until all are known.
    for _ in range(len(pending) + 1):
        for query in list(pending):
            try:
                values[query.id] = evaluate(query.expression or "", values, present)
                pending.remove(query)
            except MathError as error:
                if "unknown id" not in str(error):
                    raise
    if pending:
        raise MathError(f"{alarm.name}: cannot resolve {[q.id for q in pending]}")
    returned = [q for q in alarm.queries if q.return_data]
    return values[returned[0].id]


_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass
class AlarmState:
    spec: AlarmSpec
    state: str = "INSUFFICIENT_DATA"
    reason: str = "Unchecked: initial alarm creation"
    updated_at: float = 0.0
    history: list[tuple[float, str]] = field(default_factory=list)


def next_state(alarm: AlarmState, store: MetricStore, now: float) -> tuple[str, str]:
    """The state after evaluating at `now` (AWS evaluates 60-s-period alarms every minute)."""
    spec = alarm.spec
    period = spec.period
    # The newest period whose datapoint has arrived.
    newest_end = int((now - store.delay) // period) * period
    breaching = 0
    missing = 0
    values = []
    for index in range(spec.evaluation_periods):
        start = newest_end - period * (index + 1)
        value = alarm_value(spec, store, start) if start >= 0 else None
        values.append(value)
        if value is None:
            missing += 1
            if spec.treat_missing_data == "breaching":
                breaching += 1
        elif _OPERATORS[spec.comparison](value, spec.threshold):
            breaching += 1
    shown = ", ".join("missing" if v is None else f"{v:g}" for v in reversed(values))
    if missing == spec.evaluation_periods and spec.treat_missing_data in {"missing", "ignore"}:
        if spec.treat_missing_data == "ignore" and alarm.state != "INSUFFICIENT_DATA":
            return alarm.state, alarm.reason
        return "INSUFFICIENT_DATA", f"no datapoints in {spec.evaluation_periods} period(s)"
    if breaching >= spec.datapoints_to_alarm:
        return "ALARM", f"{breaching} of {spec.evaluation_periods} datapoint(s) breaching [{shown}]"
    return "OK", f"datapoints [{shown}] within the threshold {spec.threshold:g}"
