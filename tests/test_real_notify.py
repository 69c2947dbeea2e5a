"""Pushes and the audit trail in a real ComfyUI, driven through its API with no browser tab
open (opt-in: set HITL_COMFYUI_DIR, see test_real_comfyui)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from PIL import Image
from receivers import Receiver
from test_real_image_picker import picker_prompt

from dev.harness.comfyui import ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui

PICKER = "21"
PUBLIC = "http://phone.example:8188"


async def configure(client: ComfyClient, changes: dict[str, Any]) -> dict[str, Any]:
    status, body = await client.post("/api/hitl/notify/config", changes)
    assert status == 200, body
    return body


async def written(client: ComfyClient, at_least: int, timeout: float = 10) -> dict[str, Any]:
    """The audit status once the log holds ``at_least`` records (ComfyUI is another process:
    its writer is watched through the status route)."""
    deadline = time.monotonic() + timeout
    while True:
        status = await client.get("/api/hitl/notify/status")
        if status["audit"]["written"] >= at_least or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


async def test_a_webhook_fires_for_a_run_queued_through_the_api_and_history_has_the_record(
    comfyui: RealComfyUI,
) -> None:
    with Receiver("ok") as receiver:
        async with ComfyClient(comfyui.url) as client:
            before = (await client.get("/api/hitl/notify/status"))["audit"]["written"]
            config = await configure(
                client,
                {"webhook_url": receiver.url + "/hook", "public_url": PUBLIC, "push_on_end": True},
            )
            assert config["file"] == str(comfyui.base / "user" / "comfyui-hitl" / "config.json")
            try:
                prompt_id = await client.queue(picker_prompt(picker_id=PICKER))
                started, _ = await client.wait_message(
                    lambda m: m.get("type") == "executing" and m["data"].get("node") == PICKER
                )
                view = await client.waiting_request(prompt_id)
                [opened] = await asyncio.to_thread(receiver.wait_for, 1)
                assert opened.at - started < 1.0
                body = json.loads(opened.body)
                assert body["event"] == "request_opened" and body["url"] == f"{PUBLIC}/hitl/inbox?request={view['id']}"
                assert body["title"] == "Image Picker (browser) #21: Pick colours (pick any of 4)"
                status, _ = await client.post(
                    f"/api/hitl/requests/{view['id']}/answer",
                    {"value": [2, 0], "surface": "cli", "client_id": "term-1"},
                )
                assert status == 200
                _, end = await client.run_end(prompt_id)
                assert end["type"] == "execution_success"
                # ComfyUI's history keeps the node's UI output: the audit record is in it.
                history = await client.history(prompt_id)
                [record] = history["outputs"][PICKER]["hitl_audit"]
                assert record["id"] == view["id"] and record["answer"] == [2, 0] and record["prompt_id"] == prompt_id
                assert record["by"]["surface"] == "cli" and record["by"]["client_id"] == "term-1"
                assert record["by"]["remote"] == "127.0.0.1" and record["by"]["user_agent"].startswith("Python")
                # The end push carries the same record.
                [_, ended] = await asyncio.to_thread(receiver.wait_for, 2)
                assert json.loads(ended.body)["record"] == record
                # And the log in ComfyUI's user directory.
                status = await written(client, before + 1)
                log = comfyui.base / "user" / "comfyui-hitl" / "audit.jsonl"
                assert status["audit"]["file"] == str(log)
                assert json.loads(log.read_text().splitlines()[-1]) == record
                # And the routes the inbox and the CLI read: the same record.
                history_route = await client.get("/api/hitl/history?limit=5")
                assert [e for e in history_route["history"] if e["id"] == view["id"]] == [record]
                assert (await client.get(f"/api/hitl/requests/{view['id']}"))["request"] == record
            finally:
                await configure(client, {"webhook_url": None, "public_url": None, "push_on_end": None})


async def test_a_saved_image_carries_the_record_without_the_clients_details(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt = picker_prompt(picker_id=PICKER)
        prompt["30"] = {"class_type": "SaveImage", "inputs": {"images": [PICKER, 0], "filename_prefix": "hitl_audit"}}
        # Queued as the frontend queues it: with the workflow as extra PNG info, which
        # SaveImage writes into the image (and where the picker adds its record).
        status, body = await client.post(
            "/prompt",
            {
                "prompt": prompt,
                "client_id": client.client_id,
                "extra_data": {"extra_pnginfo": {"workflow": {"nodes": []}}},
            },
        )
        assert status == 200, body
        prompt_id = body["prompt_id"]
        view = await client.waiting_request(prompt_id)
        status, _ = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [1], "surface": "inbox"})
        assert status == 200
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success"
        history = await client.history(prompt_id)
        [image] = history["outputs"]["30"]["images"]
        path = comfyui.base / "output" / image["subfolder"] / image["filename"]
        with Image.open(path) as saved:
            [in_image] = json.loads(saved.text["hitl_audit"])
        assert in_image["id"] == view["id"] and in_image["answer"] == [1]
        assert in_image["by"] == {"surface": "inbox", "source": "client"}  # no address, agent, client id or user


async def test_config_route_of_the_real_server_refuses_bad_input(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        before = await client.get("/api/hitl/notify/config")
        status, body = await client.post("/api/hitl/notify/config", {"webhook_url": "file:///etc/passwd"})
        assert status == 422 and body["error"]["code"] == "invalid_body"
        assert await client.get("/api/hitl/notify/config") == before
