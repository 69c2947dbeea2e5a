"""Against a real ComfyUI (opt-in: set HITL_COMFYUI_DIR to a ComfyUI checkout, and
HITL_COMFYUI_PYTHON to an interpreter with its requirements)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dev.harness.comfyui import PACK_FOLDER, ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui


def doubler(value: int, *, ask_first: bool, timeout: int = 60) -> dict[str, Any]:
    """An API-format prompt of one integer doubler."""
    return {
        "1": {
            "class_type": "HitlIntegerDoubler",
            "inputs": {"value": value, "ask_first": ask_first, "timeout_seconds": timeout},
        }
    }


async def test_pack_loads_without_import_error(comfyui: RealComfyUI) -> None:
    assert comfyui.pack_import_ok(), "".join(comfyui.log[-40:])
    async with ComfyClient(comfyui.url) as client:
        info = await client.get("/object_info/HitlIntegerDoubler")
        assert info["HitlIntegerDoubler"]["category"] == "human-in-the-loop"
        assert info["HitlIntegerDoubler"]["output_node"] is True
        extensions = await client.get("/extensions")
        assert f"/extensions/{PACK_FOLDER}/main.js" in extensions
        # Served under /api as well, as ComfyUI does for every custom route.
        assert (await client.get("/api/hitl/requests")) == {"requests": []}


async def test_doubler_answered_by_api_client_completes_with_2n(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(doubler(21, ask_first=False))
        view = await client.waiting_request(prompt_id)
        assert view["payload"]["value"] == 21 and view["node_id"] == "1"
        status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 42})
        assert status == 200, body
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success"
        history = await client.history(prompt_id)
        assert history["outputs"]["1"]["doubled"] == [42]
        # A late second answer is refused with 409 and changes nothing.
        status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 1})
        assert status == 409 and body["error"]["code"] == "not_waiting"


async def test_interrupt_during_a_wait_ends_the_run_as_interrupted_within_50ms(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        latencies = []
        for value in range(5):
            prompt_id = await client.queue(doubler(value, ask_first=True))
            view = await client.waiting_request(prompt_id)
            sent = time.perf_counter()
            await client.interrupt()
            arrived, end = await client.run_end(prompt_id)
            assert end["type"] == "execution_interrupted", end
            latencies.append(arrived - sent)
            history = await client.history(prompt_id)
            assert history["status"]["status_str"] == "error"
            assert (await client.get("/api/hitl/requests")) == {"requests": []}
            status, _ = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 1})
            assert status == 409
        assert max(latencies) < 0.05, latencies


async def test_cancel_route_ends_the_run_and_a_fresh_run_works(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(doubler(5, ask_first=True))
        view = await client.waiting_request(prompt_id)
        status, body = await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        assert status == 200 and body["request"]["reason"] == "user_cancel"
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_interrupted"
        again = await client.queue(doubler(6, ask_first=True))
        view = await client.waiting_request(again)
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 12})
        _, end = await client.run_end(again)
        assert end["type"] == "execution_success"
        assert (await client.history(again))["outputs"]["1"]["doubled"] == [12]


async def test_doubler_timeout_ends_the_run_with_an_error(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(doubler(5, ask_first=True, timeout=1))
        _, end = await client.run_end(prompt_id, timeout=10)
        assert end["type"] == "execution_error"
        assert "no browser or API client answered within 1 s" in end["data"]["exception_message"]
