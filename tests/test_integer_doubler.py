"""The integer doubler node, run by the stand-in host exactly as ComfyUI runs it."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from dev.harness.host import HarnessHost
from dev.harness.pack import ROOT, load_pack, submodule

doubler = submodule("nodes.integer_doubler")
base = submodule("nodes.base")


def test_pack_registers_nodes_and_web_directory_only() -> None:
    pack = load_pack()
    assert set(pack.__all__) == {"NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"}
    assert "HitlIntegerDoubler" in pack.NODE_CLASS_MAPPINGS
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["HitlIntegerDoubler"]
    assert (ROOT / pack.WEB_DIRECTORY / "main.js").is_file()


def test_node_definition() -> None:
    node = doubler.IntegerDoubler
    spec = node.INPUT_TYPES()
    assert spec["required"]["value"][0] == "INT"
    assert spec["hidden"] == {"unique_id": "UNIQUE_ID", "extra_pnginfo": "EXTRA_PNGINFO"}
    assert node.OUTPUT_NODE is True and node.RETURN_TYPES == ("INT",)
    # Always re-run: a fresh NaN is never equal to last run's value.
    first, second = node.IS_CHANGED(value=1), node.IS_CHANGED(value=1)
    assert math.isnan(first) and first != second and first is not math.nan


@pytest.mark.parametrize("value", [0, -7, 21, 2**52])
def test_round_trip_through_an_api_answer(host: HarnessHost, value: int) -> None:
    run = host.submit("HitlIntegerDoubler", {"value": value, "ask_first": False, "timeout_seconds": 30})
    [view] = host.wait_waiting(run)
    assert view["kind"] == "integer-doubler" and view["payload"]["value"] == value
    assert view["node_id"] == "1" and view["prompt_id"] == run.prompt_id
    host.registry.answer(view["id"], value * 2)
    run.wait()
    assert run.status == "success"
    [output] = run.outputs
    assert output["result"] == (value * 2,) and output["ui"]["doubled"] == [value * 2]
    # The history also carries who answered and when (tests/test_audit.py checks every field).
    [record] = output["ui"]["hitl_audit"]
    assert record["id"] == view["id"] and record["answer"] == value * 2 and record["state"] == "answered"


@pytest.mark.parametrize("bad", [1.5, "4", True, None, 2**54 + 1])
def test_answer_must_be_an_exact_integer(bad: Any) -> None:
    with pytest.raises(submodule("state").InvalidAnswer):
        doubler.validate_doubled(bad)


def test_cancel_ends_run_as_interrupted(host: HarnessHost) -> None:
    run = host.submit("HitlIntegerDoubler", {"value": 3, "ask_first": True, "timeout_seconds": 0})
    [view] = host.wait_waiting(run)
    host.registry.cancel(view["id"])
    assert run.wait().status == "interrupted"


def test_timeout_ends_run_with_a_clear_error(host: HarnessHost) -> None:
    run = host.submit("HitlIntegerDoubler", {"value": 3, "ask_first": True, "timeout_seconds": 1})
    run.wait(5)
    assert run.status == "error"
    assert "no browser or API client answered within 1 s" in run.error


def test_interrupt_ends_run_as_interrupted_within_50ms(host: HarnessHost) -> None:
    run = host.submit("HitlIntegerDoubler", {"value": 3, "ask_first": True, "timeout_seconds": 0})
    host.wait_waiting(run)
    host.interrupt.raise_flag()
    run.wait()
    assert run.status == "interrupted"
    assert run.ended_at - host.interrupt.raised_at < 0.05


def test_next_run_works_after_an_interrupt(host: HarnessHost) -> None:
    first = host.submit("HitlIntegerDoubler", {"value": 3, "ask_first": True, "timeout_seconds": 0})
    host.wait_waiting(first)
    host.interrupt.raise_flag()
    second = host.submit("HitlIntegerDoubler", {"value": 4, "ask_first": True, "timeout_seconds": 0})
    [view] = host.wait_waiting(second)
    host.registry.answer(view["id"], 8)
    assert first.wait().status == "interrupted"
    assert second.wait().status == "success" and second.outputs[0]["result"] == (8,)


def test_parallel_doublers_wait_at_once_and_resume_in_any_order(host: HarnessHost) -> None:
    from dev.harness.host import NodeCall

    run = host.submit_many(
        NodeCall(str(i), "HitlIntegerDoubler", {"value": i, "ask_first": True, "timeout_seconds": 0}) for i in (1, 2, 3)
    )
    views = host.wait_waiting(run, count=3)
    for view in reversed(views):
        host.registry.answer(view["id"], view["payload"]["value"] * 2)
    run.wait()
    assert [out["result"] for out in run.outputs] == [(2,), (4,), (6,)]


def test_cancel_of_one_branch_resets_the_others(host: HarnessHost) -> None:
    from dev.harness.host import NodeCall

    run = host.submit_many(
        NodeCall(str(i), "HitlIntegerDoubler", {"value": i, "ask_first": True, "timeout_seconds": 0}) for i in (1, 2)
    )
    first, second = host.wait_waiting(run, count=2)
    host.registry.cancel(first["id"])
    assert run.wait().status == "interrupted"
    assert host.registry.get(second["id"]).state == "reset"
    assert host.registry.waiting_count() == 0


def test_node_label_comes_from_the_workflow() -> None:
    workflow = {"workflow": {"id": "wf-1", "nodes": [{"id": 12, "type": "HitlIntegerDoubler", "title": "Ask me"}]}}
    assert base.node_label(workflow, "12", "Doubler") == "Ask me"
    assert base.node_label(workflow, "12:5", "Doubler") == "Ask me › Doubler #12:5"  # no definition: the id
    assert base.node_label(None, "4", "Doubler") == "Doubler #4"
    assert base.node_label({"workflow": "junk"}, None, "Doubler") == "Doubler"
    assert base.workflow_id(workflow) == "wf-1" and base.workflow_id(None) is None


def test_resume_latency_is_a_few_milliseconds(host: HarnessHost) -> None:
    latencies = []
    for value in range(20):
        run = host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": 0})
        [view] = host.wait_waiting(run)
        start = time.perf_counter()
        host.registry.answer(view["id"], value * 2)
        run.wait()
        latencies.append(run.ended_at - start)
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.02, latencies


#: A workflow with a subgraph used twice (as the frontend saves it): its instances are nodes
#: of the top level whose type is the subgraph's id; the inner nodes are in its definition.
SUBGRAPHS = {
    "workflow": {
        "id": "wf-2",
        "nodes": [
            {"id": 6, "type": "0b6f…-refine", "title": "Copy B"},
            {"id": 7, "type": "0b6f…-refine"},
            {"id": 9, "type": "HitlValuePrompt"},
        ],
        "definitions": {
            "subgraphs": [
                {
                    "id": "0b6f…-refine",
                    "name": "Refine",
                    "nodes": [
                        {"id": 2, "type": "HitlValuePrompt", "title": "Refiner steps"},
                        {"id": 3, "type": "HitlValuePrompt"},
                        {"id": 4, "type": "1c2d…-inner", "title": "Detail"},
                    ],
                },
                {"id": "1c2d…-inner", "name": "Inner", "nodes": [{"id": 5, "type": "HitlForm", "title": "Knobs"}]},
            ]
        },
    }
}


@pytest.mark.parametrize(
    ("unique_id", "expected"),
    [
        ("6:2", "Copy B › Refiner steps"),  # the inner title, the instance's as context
        ("7:2", "Refine › Refiner steps"),  # an instance without a title: its subgraph's name
        ("6:3", "Copy B › Value Prompt #6:3"),  # an inner node without a title keeps the id
        ("6:4:5", "Copy B › Detail › Knobs"),  # nested
        ("6:8", "Copy B › Value Prompt #6:8"),  # not in the definition
        ("9", "Value Prompt #9"),
    ],
)
def test_a_node_inside_a_subgraph_is_called_by_its_own_title(unique_id: str, expected: str) -> None:
    assert base.node_label(SUBGRAPHS, unique_id, "Value Prompt") == expected


def test_a_list_item_says_which_it_is() -> None:
    comfy = submodule("server.comfy")
    assert base.node_label(SUBGRAPHS, "6:2", "V", comfy.ListItem(1, 3)) == "Copy B › Refiner steps (item 2 of 3)"
    assert base.node_label(None, "4", "V", comfy.ListItem(4, None)) == "V #4 (item 5)"


def test_only_the_double_is_an_answer(host: HarnessHost) -> None:
    question = submodule("questions.doubler").DoublerQuestion(21)
    assert question.validate(42) == 42
    for wrong in (43, 21, -42, 0):
        with pytest.raises(submodule("server.errors").InvalidAnswer, match="21 × 2 is 42"):
            question.validate(wrong)
    with pytest.raises(submodule("server.errors").InvalidAnswer, match="integer"):
        question.validate(42.0)  # the bounds and type checks come first
    run = host.submit("HitlIntegerDoubler", {"value": 21, "ask_first": True, "timeout_seconds": 0})
    [view] = host.wait_waiting(run)
    with pytest.raises(submodule("server.errors").InvalidAnswer):
        host.registry.answer(view["id"], 43)
    host.registry.answer(view["id"], 42)
    assert run.wait().outputs[0]["result"] == (42,)
