"""_history: the one record shape of an ended request (view + answer + who), its JSON both ways,
the answer made fit for a log, who ended it, and the copy that travels in images."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from dev.harness.pack import submodule

history = submodule("server.history")


def entry(request_id: str, answer: Any = None) -> Any:
    by = history.Provenance("inbox", client_id="c1", remote="10.0.0.7", user_agent="UA", user="alice").as_dict()
    return history.HistoryEntry({"id": request_id, "state": "answered", "summary": "21 × 2"}, answer, False, by)


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
        ({1: "one"}, {"1": "one"}),
        (math.inf, "inf"),
        (math.nan, "nan"),
        (object, repr(object)),
    ],
)
def test_recordable_keeps_json_and_turns_the_rest_into_text(value: Any, expected: Any) -> None:
    result, cut = history.recordable(value)
    assert result == expected and cut is False
    json.dumps(result, allow_nan=False)


def test_recordable_cuts_long_text_anywhere_and_says_so() -> None:
    long = "é" * (history.MAX_RECORDED_TEXT + 5)
    assert history.recordable(long) == (long[: history.MAX_RECORDED_TEXT], True)
    value, cut = history.recordable({"caption": long, "steps": 20})
    assert cut is True and value == {"caption": long[: history.MAX_RECORDED_TEXT], "steps": 20}


def test_recordable_stops_at_a_deep_nesting() -> None:
    deep: Any = 1
    for _ in range(50):
        deep = [deep]
    json.dumps(history.recordable(deep)[0])


def test_a_record_is_the_view_then_answer_and_who_and_reads_back_the_same() -> None:
    record = entry("x", [1, 2]).as_json()
    assert list(record) == ["id", "state", "summary", "answer", "answer_truncated", "by", "answer_summary"]
    assert record["answer"] == [1, 2] and record["by"]["surface"] == "inbox"
    again = history.HistoryEntry.from_json(json.loads(json.dumps(record)))
    assert again == entry("x", [1, 2]) and again.request_id == "x"
    said = history.HistoryEntry({"id": "y", "state": "answered"}, [0], answer_summary="1 of 4 images")
    assert history.HistoryEntry.from_json(json.loads(json.dumps(said.as_json()))) == said


@pytest.mark.parametrize("line", [None, [], "x", {}, {"id": 5}, {"state": "answered"}])
def test_what_is_not_a_record_reads_back_as_none(line: Any) -> None:
    assert history.HistoryEntry.from_json(line) is None


def test_claims_are_cut_and_the_server_says_when_it_ended_a_request() -> None:
    by = history.Provenance("comfyui-tab", user_agent="U" * 1000, user="u" * 300).as_dict()
    assert len(by["user_agent"]) == history.MAX_CLAIM_LENGTH and by["user_agent"].endswith("…")
    assert len(by["user"]) == history.MAX_CLAIM_LENGTH
    assert history.Provenance.server("timeout").as_dict() == {
        "surface": "timeout", "source": "server", "client_id": None, "user": None, "user_agent": None, "remote": None,
    }  # fmt: skip
    assert history.UNSPECIFIED.surface == "api"


def test_images_get_a_copy_without_the_clients_details() -> None:
    record = entry("x", 42).as_json()
    copy = history.for_image_metadata(record)
    assert copy["by"] == {"surface": "inbox", "source": "client"}
    assert {k: v for k, v in copy.items() if k != "by"} == {k: v for k, v in record.items() if k != "by"}
    assert record["by"]["remote"] == "10.0.0.7"  # the original is untouched
