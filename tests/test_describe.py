"""One line per request, for people (_describe.py, and web/describe.js for the browser):
the wording of every kind, hostile workflow text made one short line, and the two sides
agreeing on every view (hypothesis-generated ones too) and every number."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.pack import ROOT, submodule

D = submodule("_describe")
value_prompt = submodule("nodes.value_prompt")


def view(kind: str, payload: dict[str, Any], label: str | None = "Node #7", node_id: str | None = "7") -> dict:
    return {"kind": kind, "node_label": label, "node_id": node_id, "payload": payload}


EXAMPLES = [
    (view("integer-doubler", {"value": 21}), "Node #7: double 21"),
    (
        view("image-picker", {"count": 32, "min_picks": 2, "max_picks": 4}, "Image Picker #12"),
        "Image Picker #12: pick 2–4 of 32",
    ),
    (view("image-picker", {"count": 8, "min_picks": 3, "max_picks": 3}), "Node #7: pick 3 of 8"),
    (view("image-picker", {"count": 8, "min_picks": 1, "max_picks": 8}), "Node #7: pick at least 1 of 8"),
    (view("image-picker", {"count": "x"}), "Node #7: pick images"),
    (
        view(
            "value-prompt", {**value_prompt.build_spec("INT", minimum="1", maximum="60").describe(), "title": "Steps"}
        ),
        "Node #7: Steps (a whole number 1–60)",
    ),
    (
        view("value-prompt", {**value_prompt.build_spec("FLOAT", minimum="0", maximum="1").describe(), "title": ""}),
        "Node #7: a number 0–1",
    ),
    (
        view("value-prompt", {"type": "FLOAT", "min": 0.05, "max": None, "title": "Denoise"}),
        "Node #7: Denoise (a number ≥ 0.05)",
    ),
    (
        view("value-prompt", {"type": "INT", "min": None, "max": 2048, "title": "W"}),
        "Node #7: W (a whole number ≤ 2048)",
    ),
    (view("value-prompt", {"type": "STRING (multi-line)", "title": "Caption"}), "Node #7: Caption (text)"),
    (view("value-prompt", {"type": "BOOLEAN", "title": "Upscale?"}), "Node #7: Upscale? (yes or no)"),
    (
        view("value-prompt", {"type": "CHOICE", "choices": ["a", "b", "c"], "title": "Style"}),
        "Node #7: Style (one of 3 choices)",
    ),
    (view("mask-painter", {}, None, "3"), "Node #3: waiting for an answer"),
    (view("integer-doubler", {"value": 2}, None, None), "A node: double 2"),
    (view("integer-doubler", {"value": 2}, "Line\r\none\t  two\u2028three"), "Line one two three: double 2"),
]


@pytest.mark.parametrize(("request_view", "expected"), EXAMPLES)
def test_python_wording(request_view: dict, expected: str) -> None:
    assert D.describe_request(request_view) == expected


def test_long_workflow_text_is_cut_to_one_short_line() -> None:
    title = "🙂" * 300
    text = D.describe_request(view("value-prompt", {"type": "STRING", "title": title}, "L" * 300))
    assert len(text) <= D.MAX_LENGTH and text.endswith("…") and "\n" not in text
    assert text.startswith("L" * (D.MAX_PART_LENGTH - 1) + "…: ")


@pytest.mark.parametrize(
    ("number", "text"),
    [(0, "0"), (-0.0, "0"), (5.0, "5"), (0.5, "0.5"), (1e-05, "1e-5"), (1.5e20, "1.5e20"), (2**60, "1.152921504606847e18"),
     (123456.789, "123456.789"), (float("inf"), "?"), (None, "?"), (True, "?"), (9007199254740991, "9007199254740991")],
)  # fmt: skip
def test_numbers(number: Any, text: str) -> None:
    assert D.format_number(number) == text


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
    alphabet=st.characters(codec="utf-8") | st.sampled_from(["\n", "\r", "\u2028", " ", "\x85", "\t"]), max_size=120
)
numbers = st.none() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans()
payloads = st.fixed_dictionaries(
    {},
    optional={
        "value": numbers,
        "type": st.sampled_from(["INT", "FLOAT", "STRING", "STRING (multi-line)", "BOOLEAN", "CHOICE", "OTHER"]),
        "min": numbers,
        "max": numbers,
        "title": texts | numbers,
        "choices": st.lists(st.text(max_size=3), max_size=5) | st.none(),
        "count": st.integers(0, 40) | numbers,
        "min_picks": st.integers(0, 40),
        "max_picks": st.integers(0, 40),
    },
)
views = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["integer-doubler", "value-prompt", "image-picker", "unknown"]),
        "node_label": st.none() | texts,
        "node_id": st.none() | st.sampled_from(["1", "12:5", ""]),
        "payload": payloads | st.none(),
    }
)


@settings(max_examples=1, deadline=None, database=None, derandomize=True)
@given(batch=st.lists(views, min_size=400, max_size=400))
def test_javascript_agrees_on_generated_views(batch: list[dict]) -> None:
    batch = [through_json(v) for v in batch]
    python = [D.describe_request(v) for v in batch]
    assert run_js("describeRequest", batch) == python


@settings(max_examples=1, deadline=None, database=None, derandomize=True)
@given(
    batch=st.lists(
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**70), 2**70), min_size=500, max_size=500
    )
)
def test_javascript_agrees_on_numbers(batch: list[float]) -> None:
    extra = [1e-4, 9.999e-5, 1e16, 1e16 - 2, 1e15 + 0.5, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, -1e-7, 100.0]
    values = [v for v in batch + extra if isinstance(v, int) or math.isfinite(v)]
    assert run_js("formatNumber", [through_json(v) for v in values]) == [
        D.format_number(through_json(v)) for v in values
    ]
