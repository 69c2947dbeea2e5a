"""Lists and subgraphs in a real ComfyUI (opt-in: set HITL_COMFYUI_DIR, see test_real_comfyui):
a value prompt fed a list (RebatchImages' OUTPUT_IS_LIST) asks once per item, all at once,
each dialog saying which item of how many; Cancel in one item's dialog ends the run;
"use last answer" remembers each item; a node inside a subgraph is called by its own title."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dev.harness.comfyui import ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui

NODE = "HitlValuePrompt"


def list_prompt(node_id: str = "3", items: int = 3, mode: str = "always ask") -> dict[str, Any]:
    """EmptyImage (a batch of ``items``) -> RebatchImages (a list of single images) -> value
    prompt (INT, the image beside it) -> EmptyImage.width -> PreviewImage, in API format."""
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 16, "height": 16, "batch_size": items, "color": 0}},
        "2": {"class_type": "RebatchImages", "inputs": {"images": ["1", 0], "batch_size": 1}},
        node_id: {
            "class_type": NODE,
            "inputs": {
                "value_type": "INT",
                "title": "Width",
                "message": "",
                "default": "16",
                "minimum": "8",
                "maximum": "64",
                "step": "",
                "max_length": 10000,
                "choices": "",
                "timeout_seconds": 0,
                "on_timeout": "use default",
                "mode": mode,
                "image": ["2", 0],
            },
        },
        "4": {"class_type": "EmptyImage", "inputs": {"width": [node_id, 0], "height": 8, "batch_size": 1, "color": 0}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    }


async def test_a_list_asks_per_item_and_cancel_in_one_ends_the_run(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        start = len(client.messages)
        prompt_id = await client.queue(list_prompt())
        views = []
        after = start
        for _ in range(3):
            view = await client.waiting_request(prompt_id, after=after)
            after = next(i for i, (_, m) in enumerate(client.messages) if m.get("data") is view) + 1
            views.append(view)
        assert sorted(view["node_label"] for view in views) == [
            f"Value Prompt (ask a person) #3 (item {n} of 3)" for n in (1, 2, 3)
        ]
        second = next(view for view in views if "item 2 of 3" in view["node_label"])
        cancelled_at = time.perf_counter()
        code, _ = await client.post(f"/api/hitl/requests/{second['id']}/cancel", {"surface": "comfyui-tab"})
        assert code == 200
        ended_at, end = await client.run_end(prompt_id, timeout=10)
        assert end["type"] == "execution_interrupted" and ended_at - cancelled_at < 2
        assert (await client.get("/api/hitl/requests"))["requests"] == []


async def test_use_last_answer_remembers_each_item(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        after = len(client.messages)
        prompt_id = await client.queue(list_prompt(node_id="13", mode="use last answer"))
        answers = {"item 1 of 3": 24, "item 2 of 3": 32, "item 3 of 3": 40}
        for _ in range(3):
            view = await client.waiting_request(prompt_id, after=after)
            after = next(i for i, (_, m) in enumerate(client.messages) if m.get("data") is view) + 1
            item = view["node_label"].rsplit("(", 1)[1].rstrip(")")
            code, _ = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": answers[item]})
            assert code == 200
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success"
        assert (await client.history(prompt_id))["outputs"]["13"]["answer"] == [24, 32, 40]
        again = await client.queue(list_prompt(node_id="13", mode="use last answer"))
        _, end = await client.run_end(again)  # nobody is asked: each item recalls its own
        assert end["type"] == "execution_success"
        outputs = (await client.history(again)).get("outputs", {})
        assert outputs.get("13", {}).get("answer", [24, 32, 40]) == [24, 32, 40]


#: A workflow with a subgraph instance "Copy B" (node 6) whose inner value prompt (2) has a title.
SUBGRAPH_WORKFLOW = {
    "id": "6d3c1f0e-0000-4000-8000-000000000022",
    "nodes": [{"id": 6, "type": "9a1b2c3d-0000-4000-8000-00000000000a", "title": "Copy B"}],
    "definitions": {
        "subgraphs": [
            {
                "id": "9a1b2c3d-0000-4000-8000-00000000000a",
                "name": "Refine",
                "nodes": [{"id": 2, "type": NODE, "title": "Refiner steps"}],
            }
        ]
    },
}


async def test_a_node_inside_a_subgraph_is_called_by_its_title(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt = list_prompt(node_id="6:2", items=1)
        prompt["6:2"]["inputs"]["mode"] = "always ask"
        after = len(client.messages)
        prompt_id = await client.queue(prompt, extra_data={"extra_pnginfo": {"workflow": SUBGRAPH_WORKFLOW}})
        view = await client.waiting_request(prompt_id, after=after)
        assert view["node_id"] == "6:2" and view["node_label"] == "Copy B › Refiner steps"  # one item: no "item"
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 16})
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success"
