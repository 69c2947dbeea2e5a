"""One line per request, for people (_describe.py, and web/describe.js for the browser): a
node's summary of what it asks, which node asks, hostile workflow text made one short line,
and the two sides agreeing on every view (hypothesis-generated ones too)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dev.harness.pack import ROOT, submodule

D = submodule("server.describe")
P = submodule("server.protocol")
value_prompt = submodule("nodes.value_prompt")
image_picker = submodule("nodes.image_picker")


def view(kind: str, summary: Any, label: str | None = "Node #7", node_id: str | None = "7") -> dict:
    return {"kind": kind, "node_label": label, "node_id": node_id, "summary": summary}


EXAMPLES = [
    (view("integer-doubler", "21 × 2"), "Node #7: 21 × 2"),
    (view("image-picker", "Keep the best (pick 2–4 of 32)", "Image Picker #12"), "Image Picker #12: Keep the best (pick 2–4 of 32)"),
    (view("value-prompt", "Refiner steps (INT 1–60)", None, "40"), "Node #40: Refiner steps (INT 1–60)"),
    (view("form", "", "Settings #3"), "Settings #3: Form"),  # no summary: the kind's name
    (view("form", None, None, None), "A node: Form"),
    (view("mask-painter", "", None, "3"), "Node #3: Mask painter"),
    (view("lasso", "", None, "3"), "Node #3: lasso"),  # a kind this side does not know
    (view("integer-doubler", "2 × 2", "Line\r\none\t  two\u2028three"), "Line one two three: 2 × 2"),
    (view("integer-doubler", " \n ", " \t "), "Node #7: Integer doubler"),  # blank text is no text
]  # fmt: skip


@pytest.mark.parametrize(("request_view", "expected"), EXAMPLES)
def test_python_wording(request_view: dict, expected: str) -> None:
    assert D.describe_request(request_view) == expected


def test_long_workflow_text_is_cut_to_one_short_line() -> None:
    text = D.describe_request(view("value-prompt", "🙂" * 300, "L" * 300))
    assert len(text) <= D.MAX_LENGTH and text.endswith("…") and "\n" not in text
    assert text.startswith("L" * (D.MAX_PART_LENGTH - 1) + "…: ")


def test_a_nodes_summary_is_its_title_and_what_fits() -> None:
    spec = value_prompt.build_spec("INT", minimum="1", maximum="60")
    assert D.summarize("Refiner steps", spec.summary()) == "Refiner steps (INT 1–60)"
    assert D.summarize("", spec.summary()) == "INT 1–60"  # no title: only what fits
    bounds = image_picker.PickBounds.for_batch(32, 2, 4)
    assert D.summarize("Keep the best\n(2nd pass)", bounds.summary()) == "Keep the best (2nd pass) (pick 2–4 of 32)"
    long = D.summarize("T" * 500, "pick 1 of 2")
    assert len(long) <= D.MAX_SUMMARY_LENGTH and "\n" not in long


def test_the_registry_keeps_a_summary_on_one_line(state: Any) -> None:
    registry = state.RequestRegistry()
    request = registry.open("form", prompt_id="p", node_id="1", summary="a\nb" + "x" * 500)
    summary = registry.view(request)["summary"]
    assert summary.startswith("a b") and len(summary) == D.MAX_SUMMARY_LENGTH and summary.endswith("…")
    registry.cancel(request.id)


def test_every_kind_has_a_name() -> None:
    assert set(D.KIND_NAMES) == set(P.KINDS)


def run_js(function: str, inputs: list[Any]) -> list[Any]:
    """Call ``function`` of web/describe.js on each input, in node."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run web/describe.js (the README's test command installs it)")
    script = (
        "import * as d from './web/describe.js';"
        "let data = ''; process.stdin.on('data', c => data += c);"
        f"process.stdin.on('end', () => console.log(JSON.stringify(JSON.parse(data).map(x => d.{function}(x)))));"
    )
    output = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=ROOT,
        input=json.dumps(inputs),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(output)


def through_json(value: Any) -> Any:
    """What the browser gets: the same JSON the server sends."""
    return json.loads(json.dumps(value))


def test_javascript_agrees_on_the_examples() -> None:
    views = [through_json(v) for v, _ in EXAMPLES]
    assert run_js("describeRequest", views) == [expected for _, expected in EXAMPLES]


texts = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(["\n", "\r", "\u2028", " ", "\x85", "\t"]), max_size=200
)
views = st.fixed_dictionaries(
    {},
    optional={
        "kind": st.sampled_from([*P.KINDS, "unknown", ""]),
        "node_label": st.none() | texts,
        "node_id": st.none() | st.sampled_from(["1", "12:5", ""]) | texts,
        "summary": st.none() | texts,
    },
)


@settings(max_examples=1, deadline=None, database=None, derandomize=True)
@given(batch=st.lists(views, min_size=400, max_size=400))
def test_javascript_agrees_on_generated_views(batch: list[dict]) -> None:
    batch = [through_json(v) for v in batch]
    python = [D.describe_request(v) for v in batch]
    assert run_js("describeRequest", batch) == python


def test_javascript_names_the_kinds_alike() -> None:
    assert run_js("kindName", list(P.KINDS)) == [D.kind_name(kind) for kind in P.KINDS]


# ------------------------------------------------------------- how long, in words
#: Milliseconds around every change of words: seconds, minutes, hours, days; below zero,
#: fractions, halves (JavaScript rounds a half up, Python's round() to even: the words must
#: not differ there).
DURATION_MS = [
    -5000, -1, 0, 0.4, 999, 999.9, 1000, 1000.5, 7_000, 59_999, 60_000, 133_000, 599_999,
    3_599_999, 3_600_000, 3_659_999, 3_660_000, 3_900_000, 86_399_999, 90_000_000, 7 * 86_400_000 + 0.5,
]  # fmt: skip
AGO_MS = [
    -3000, 0, 4_499, 4_500, 9_499, 9_500, 10_000, 29_500, 40_000, 59_499, 59_500, 89_999, 90_000,
    150_000, 180_000, 3_569_999, 3_570_000, 5_400_000, 18_000_000, 47 * 3_600_000, 47.5 * 3_600_000,
    48 * 3_600_000, 60 * 3_600_000, 3 * 86_400_000, 30 * 86_400_000,
]  # fmt: skip


@pytest.mark.parametrize(
    ("ms", "expected"),
    [(0, "0:00"), (7_000, "0:07"), (133_000, "2:13"), (3_599_999, "59:59"), (3_900_000, "1h 05m"), (-5000, "0:00")],
)
def test_duration_words(ms: float, expected: str) -> None:
    assert D.duration(ms) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (5_000, "just now"),
        (40_000, "40 s ago"),
        (150_000, "3 min ago"),  # 2.5 min: a half goes up, on both sides
        (180_000, "3 min ago"),
        (18_000_000, "5 h ago"),
        (47 * 3_600_000, "47 h ago"),
        (3 * 86_400_000, "3 days ago"),
    ],
)
def test_ago_words(ms: float, expected: str) -> None:
    assert D.ago(ms) == expected


def test_javascript_says_how_long_in_the_same_words() -> None:
    assert run_js("duration", DURATION_MS) == [D.duration(ms) for ms in DURATION_MS]
    assert run_js("ago", AGO_MS) == [D.ago(ms) for ms in AGO_MS]


@settings(max_examples=1, deadline=None, database=None, derandomize=True)
@given(
    batch=st.lists(
        st.integers(min_value=-10_000, max_value=40 * 86_400_000)
        | st.floats(min_value=-10_000, max_value=40 * 86_400_000, allow_nan=False),
        min_size=400,
        max_size=400,
    )
)
def test_javascript_says_how_long_alike_on_generated_times(batch: list[float]) -> None:
    assert run_js("duration", batch) == [D.duration(ms) for ms in batch]
    assert run_js("ago", batch) == [D.ago(ms) for ms in batch]


def test_one_word_table_for_outcomes_and_surfaces() -> None:
    assert set(D.OUTCOME_WORDS) == set(P.OUTCOMES) and D.OUTCOME_WORDS[P.OUTCOME_TIMED_OUT] == "timed out"
    assert D.outcome_words({"outcome": "timed_out"}) == "timed out"
    assert D.outcome_words({"state": "waiting"}) == "waiting"
    assert set(D.SURFACE_WORDS) == set(P.CLAIMABLE_SURFACES)
    assert (
        D.SURFACE_WORDS[P.SURFACE_CLI] == "from the CLI"
        and D.SURFACE_WORDS[P.SURFACE_COMFYUI_TAB] == "in the ComfyUI tab"
    )
