"""The helpers every answer validator builds on: duplicates found in one pass, refusal
messages of bounded size."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dev.harness.pack import submodule

checks = submodule("questions.checks")
state = submodule("state")


class Untouchable:
    """An item that fails the test if anything looks at it (hash, equality, repr)."""

    def __hash__(self) -> int:
        raise AssertionError("an item was looked at")

    def __eq__(self, other: object) -> bool:
        raise AssertionError("an item was looked at")

    def __repr__(self) -> str:
        raise AssertionError("an item was rendered")


class Counted:
    """A hashable item that counts how often it is hashed or compared."""

    calls = 0

    def __init__(self, key: int) -> None:
        self.key = key

    def __hash__(self) -> int:
        Counted.calls += 1
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        Counted.calls += 1
        return isinstance(other, Counted) and other.key == self.key


def test_duplicates_are_found_in_one_pass() -> None:
    Counted.calls = 0
    items = [Counted(n % 50_000) for n in range(100_000)]
    found = checks.duplicates(items, limit=10**6)
    assert [item.key for item in found] == list(range(50_000))
    # A quadratic search would make billions of comparisons; a set makes O(n) hash calls.
    assert Counted.calls <= 6 * len(items), Counted.calls


def test_duplicates_in_order_and_limited() -> None:
    assert checks.duplicates([3, 1, 3, 2, 1, 3]) == [3, 1]
    assert checks.duplicates([0, 1, 2]) == []
    assert checks.duplicates([n % 3 for n in range(100)], limit=2) == [0, 1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (20, "20"),
        (-(10**29), str(-(10**29))),
        (10**4000, "a number of about 4001 digits"),
        (1.5, "1.5"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        ("20", '"20"'),
        ("a\nb", '"a\\nb"'),
        ("x" * 300_000, '"' + "x" * 36 + "…"),
        ([Untouchable()], "a list"),
        ({"a": Untouchable()}, "an object"),
    ],
)
def test_shown_is_short_whatever_the_value(value: Any, expected: str) -> None:
    assert checks.shown(value) == expected
    assert len(checks.shown(value)) <= checks.EXCERPT_CHARS


def test_shown_text_is_the_json_of_what_fits() -> None:
    # Escapes never make the excerpt longer than the bound, and never split an escape wrongly.
    for text in ["\n" * 100, '"' * 100, "\u2028" * 100, "🙂" * 100, "a" * 38, "a" * 39]:
        rendered = checks.shown(text)
        assert len(rendered) <= checks.EXCERPT_CHARS
        full = json.dumps(text)
        assert rendered == full if len(full) <= checks.EXCERPT_CHARS else rendered == full[:37] + "…"


def test_deeply_nested_values_are_named_not_rendered() -> None:
    nested: Any = 0
    for _ in range(100_000):
        nested = [nested]
    assert checks.shown(nested) == "a list"
