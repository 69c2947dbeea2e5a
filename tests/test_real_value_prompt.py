"""The value prompt in a real ComfyUI, through its API (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui). The answer feeds a core node, EmptyImage's width, and the image that
PreviewImage saved shows it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from dev.harness.comfyui import ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui

NODE = "HitlValuePrompt"
HEIGHT = 24


def width_prompt(node_id: str = "1", **settings: Any) -> dict[str, Any]:
    """value prompt (INT) -> EmptyImage.width -> PreviewImage, in API format."""
    inputs = {
        "value_type": "INT",
        "title": "Image width",
        "message": "How wide?",
        "default": "64",
        "minimum": "8",
        "maximum": "256",
        "step": "8",
        "max_length": 10000,
        "choices": "",
        "timeout_seconds": 0,
        "on_timeout": "use default",
        "mode": "always ask",
    }
    inputs.update(settings)
    return {
        node_id: {"class_type": NODE, "inputs": inputs},
        "2": {
            "class_type": "EmptyImage",
            "inputs": {"width": [node_id, 0], "height": HEIGHT, "batch_size": 1, "color": 0},
        },
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


async def preview_size(client: ComfyClient, prompt_id: str) -> tuple[int, int]:
    """The size of the image PreviewImage wrote for ``prompt_id``."""
    history = await client.history(prompt_id)
    [image] = history["outputs"]["3"]["images"]
    assert client.session is not None
    async with client.session.get(
        "/view", params={"filename": image["filename"], "subfolder": image["subfolder"], "type": image["type"]}
    ) as response:
        assert response.status == 200
        return Image.open(io.BytesIO(await response.read())).size


async def test_node_is_offered_with_its_widgets(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        info = (await client.get(f"/object_info/{NODE}"))[NODE]
        assert info["output"] == ["INT", "FLOAT", "STRING", "BOOLEAN", "INT"]
        assert info["output_name"] == ["int", "float", "string", "boolean", "choice_index"]
        assert info["input"]["required"]["value_type"][0] == [
            "INT",
            "FLOAT",
            "STRING",
            "STRING (multi-line)",
            "BOOLEAN",
            "CHOICE",
        ]
        assert set(info["input"]["optional"]) == {"text", "image"}
        assert info["output_node"] is False


async def test_answer_feeds_empty_image_width(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(width_prompt())
        view = await client.waiting_request(prompt_id)
        assert view["kind"] == "value-prompt" and view["payload"]["default"] == 64
        assert (view["payload"]["min"], view["payload"]["max"]) == (8, 256)
        # The server is the authority: out of range, wrong type, NaN are refused; it keeps waiting.
        for bad, status, words in [
            ({"value": 500}, 422, "500 is above the maximum 256"),
            ({"value": True}, 422, "expected a whole number, got true"),
            ({"value": "96"}, 422, 'expected a whole number, got "96"'),
        ]:
            code, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", bad)
            assert (code, body["error"]["message"]) == (status, words)
        assert [r["id"] for r in (await client.get("/api/hitl/requests"))["requests"]] == [view["id"]]
        code, _ = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 96})
        assert code == 200
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success", end
        assert await preview_size(client, prompt_id) == (96, HEIGHT)
        outputs = (await client.history(prompt_id))["outputs"]["1"]
        assert (outputs["answer"], outputs["source"]) == ([96], ["person"])
        [record] = outputs["hitl_audit"]  # who answered, and when (tests/test_real_notify.py)
        assert record["id"] == view["id"] and record["answer"] == 96 and record["by"]["surface"] == "api"


async def test_cancel_ends_the_run_as_interrupted_and_a_fresh_run_works(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(width_prompt())
        view = await client.waiting_request(prompt_id)
        code, _ = await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        assert code == 200
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_interrupted" and end["data"]["node_type"] == NODE
        assert (await client.history(prompt_id))["status"]["status_str"] == "error"

        again = await client.queue(width_prompt())
        view = await client.waiting_request(again)
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 128})
        _, end = await client.run_end(again)
        assert end["type"] == "execution_success"
        assert await preview_size(client, again) == (128, HEIGHT)


async def test_bad_settings_are_refused_when_queued(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        assert client.session is not None
        body = {"prompt": width_prompt(default="500"), "client_id": client.client_id}
        async with client.session.post("/prompt", json=body) as response:
            refusal = await response.json()
        assert response.status == 400
        errors = refusal["node_errors"]["1"]["errors"]
        assert any("the default: 500 is above the maximum 256" in error["details"] for error in errors)


async def test_timeout_passes_the_default_on(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(width_prompt(default="40", timeout_seconds=1, on_timeout="use default"))
        await client.waiting_request(prompt_id)
        _, end = await client.run_end(prompt_id, timeout=10)
        assert end["type"] == "execution_success"
        assert await preview_size(client, prompt_id) == (40, HEIGHT)
        assert (await client.history(prompt_id))["outputs"]["1"]["source"] == ["timeout default"]


async def test_timeout_can_cancel_the_run(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(width_prompt(timeout_seconds=1, on_timeout="cancel run"))
        _, end = await client.run_end(prompt_id, timeout=10)
        assert end["type"] == "execution_interrupted"


async def test_pass_default_runs_unattended(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(width_prompt(default="48", mode="pass default", title="unattended"))
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success"
        assert await preview_size(client, prompt_id) == (48, HEIGHT)
        assert not any(
            m.get("type") == "hitl-request" and m["data"].get("prompt_id") == prompt_id for _, m in client.messages
        )


async def test_use_last_answer_asks_once_and_then_stays_cached(comfyui: RealComfyUI) -> None:
    # A node id no other test answers (answers are remembered per node id, whatever the
    # mode), and a title of its own, so no earlier test's cached outputs match this graph.
    prompt = width_prompt("41", mode="use last answer", title="remembered width")
    async with ComfyClient(comfyui.url) as client:
        first = await client.queue(prompt)
        view = await client.waiting_request(first)
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 72})
        _, end = await client.run_end(first)
        assert end["type"] == "execution_success"

        # Second run: the remembered answer flows on without a question.
        second = await client.queue(prompt)
        _, end = await client.run_end(second)
        assert end["type"] == "execution_success"
        assert await preview_size(client, second) == (72, HEIGHT)
        assert (await client.history(second))["outputs"]["41"]["source"] == ["last answer"]

        # Third run: nothing changed, so ComfyUI reuses every output (IS_CHANGED is stable).
        mark = len(client.messages)
        third = await client.queue(prompt)
        _, cached = await client.wait_message(
            lambda m: m.get("type") == "execution_cached" and m["data"].get("prompt_id") == third, after=mark
        )
        _, end = await client.run_end(third)
        assert end["type"] == "execution_success"
        assert set(cached["data"]["nodes"]) >= {"41", "2"}
        asked = [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"]
        assert asked == []


async def test_use_last_answer_never_crosses_workflows_without_ids(comfyui: RealComfyUI) -> None:
    """Issue 14: workflow A (nil id) answers 40 in "use last answer"; workflow B, another graph
    whose value prompt is also node #1 with the same settings (so ComfyUI's cache key of node
    #1 is the same too), must ask, not reuse 40; A again reuses 40 without asking."""
    nil = {"extra_pnginfo": {"workflow": {"id": "00000000-0000-0000-0000-000000000000", "nodes": []}}}
    settings = {"mode": "use last answer", "title": "per workflow"}
    first = width_prompt("1", **settings)
    # Graphs of their own: an earlier test's answer to the plain width graph is (rightly) its memory.
    first["6"] = {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}
    second = width_prompt("1", **settings)
    second["2"]["inputs"].update({"width": 32, "height": ["1", 0]})  # B: the answer sets the height
    second["4"] = {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}
    async with ComfyClient(comfyui.url) as client:
        prompt_a = await client.queue(first, extra_data=nil)
        view = await client.waiting_request(prompt_a)
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 40})
        _, end = await client.run_end(prompt_a)
        assert end["type"] == "execution_success" and await preview_size(client, prompt_a) == (40, HEIGHT)

        prompt_b = await client.queue(second, extra_data=nil)
        view = await client.waiting_request(prompt_b)  # B asks
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 16})
        _, end = await client.run_end(prompt_b)
        assert end["type"] == "execution_success" and await preview_size(client, prompt_b) == (32, 16)

        mark = len(client.messages)
        again = await client.queue(first, extra_data=nil)
        _, end = await client.run_end(again)
        assert end["type"] == "execution_success" and await preview_size(client, again) == (40, HEIGHT)
        assert [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"] == []
