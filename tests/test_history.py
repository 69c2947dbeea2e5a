"""_history: the in-memory log of ended requests behind GET /hitl/history, and its helpers."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import pytest

from harness.pack import submodule

history = submodule("_history")


def entry(request_id: str, answer: Any = None) -> Any:
    return history.HistoryEntry({"id": request_id, "state": "answered"}, answer)


def test_recent_is_newest_first_and_bounded() -> None:
    log = history.RecentHistory(capacity=3)
    for name in "abcde":
        log.record(entry(name))
    assert [e.request_id for e in log.recent(10)] == ["e", "d", "c"]
    assert [e.request_id for e in log.recent(2)] == ["e", "d"]
    assert log.recent(0) == [] and log.recent(-1) == []
    assert len(log) == 3 and "3/3" in repr(log)
    assert log.find("a") is None and log.find("e").request_id == "e"


def test_recording_an_id_again_keeps_one_entry_the_newest() -> None:
    log = history.RecentHistory(capacity=5)
    log.record(entry("a", 1))
    log.record(entry("b"))
    log.record(entry("a", 2))
    assert [(e.request_id, e.answer) for e in log.recent(5)] == [("a", 2), ("b", None)]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        history.RecentHistory(capacity=0)


def test_concurrent_records_lose_nothing() -> None:
    log = history.RecentHistory(capacity=10_000)

    def work(prefix: str) -> None:
        for n in range(1000):
            log.record(entry(f"{prefix}{n}"))

    threads = [threading.Thread(target=work, args=(p,)) for p in "wxyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log) == 4000


def test_iso_time_is_utc_to_the_millisecond() -> None:
    assert history.iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert history.iso_time(1_764_165_792.1234) == "2025-11-26T14:03:12.123Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, 42),
        ("text", "text"),
        (True, True),
        (None, None),
        (0.5, 0.5),
        ((3, 0), [3, 0]),
        ({"a": (1,)}, {"a": [1]}),
        (math.inf, "inf"),
        (math.nan, "nan"),
        (object, repr(object)),
    ],
)
def test_json_safe_keeps_json_and_turns_the_rest_into_text(value: Any, expected: Any) -> None:
    result = history.json_safe(value)
    assert result == expected
    json.dumps(result, allow_nan=False)


def test_json_safe_stops_at_a_deep_nesting() -> None:
    deep: Any = 1
    for _ in range(50):
        deep = [deep]
    json.dumps(history.json_safe(deep))


def test_entry_as_json_adds_the_answer_to_the_view() -> None:
    assert entry("x", [1, 2]).as_json() == {"id": "x", "state": "answered", "answer": [1, 2]}
