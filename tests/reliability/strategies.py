"""Hypothesis strategies for hostile input shared by the event suites: any JSON, huge strings,
deep nesting and truncated documents."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
# Built from a repeat count rather than drawn character by character: cheap to generate at any
# size, so the suites can afford 1,000 examples with strings of hundreds of kilobytes.
HUGE_TEXT = st.builds(
    lambda character, count: character * count,
    st.characters(exclude_categories=["Cs"]),
    st.integers(min_value=10_000, max_value=300_000),
)


def nested(depth: int) -> Any:
    """A list inside a list ... `depth` deep."""
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


# A decoded event can nest only as deep as the Lambda runtime's JSON decoder goes (below
# Python's recursion limit); text inside the event can nest as deep as it likes.
DEEP_VALUES = st.builds(nested, st.integers(min_value=50, max_value=900))
DEEP_JSON_TEXT = st.builds(
    lambda depth: "[" * depth + "]" * depth, st.integers(min_value=50, max_value=50_000)
)


def truncations(text: str) -> st.SearchStrategy[str]:
    """`text` cut anywhere, from nothing to one character short."""
    return st.integers(min_value=0, max_value=max(0, len(text) - 1)).map(lambda n: text[:n])


# What a JSON-encoded field (UserParameters, a token) can hold, and what a decoded event can.
HOSTILE_TEXT_VALUES = JSON_VALUES | HUGE_TEXT | DEEP_JSON_TEXT
HOSTILE_VALUES = HOSTILE_TEXT_VALUES | DEEP_VALUES
