"""The mask painter in a real ComfyUI, driven through its API (opt-in: set HITL_COMFYUI_DIR,
see test_real_comfyui): strokes reach MaskToImage → PreviewImage at the right pixels, the
input mask, caching in the modes that do not ask, the renditions, and a hostile answer."""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dev.harness.comfyui import ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui

PAINTER_ID = "10"
PREVIEW_ID = "21"
WIDTH, HEIGHT = 96, 64


def painter_prompt(
    *, mode: str = "always ask", mask_value: float | None = None, timeout: int = 300, width: int = WIDTH
) -> dict[str, Any]:
    """EmptyImage → Mask Painter (optionally from a SolidMask) → MaskToImage → PreviewImage."""
    painter: dict[str, Any] = {
        "images": ["1", 0],
        "title": "Paint",
        "mode": mode,
        "timeout_seconds": timeout,
        "on_timeout": "cancel run",
    }
    prompt: dict[str, Any] = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": width, "height": HEIGHT, "batch_size": 1, "color": 0x336699},
        },
        PAINTER_ID: {"class_type": "HitlMaskPainter", "inputs": painter},
        "20": {"class_type": "MaskToImage", "inputs": {"mask": [PAINTER_ID, 0]}},
        PREVIEW_ID: {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}},
    }
    if mask_value is not None:
        prompt["2"] = {"class_type": "SolidMask", "inputs": {"value": mask_value, "width": width, "height": HEIGHT}}
        painter["mask"] = ["2", 0]
    return prompt


def dot(x: float, y: float, size: float = 9) -> dict[str, Any]:
    return {"op": "brush", "size": size, "hardness": 1, "points": [round((x + 0.5) * 4), round((y + 0.5) * 4)]}


async def preview(client: ComfyClient, history: dict[str, Any], node: str = PREVIEW_ID) -> np.ndarray:
    """The first image PreviewImage saved, as an array."""
    assert client.session is not None
    entry = history["outputs"][node]["images"][0]
    params = {"filename": entry["filename"], "subfolder": entry["subfolder"], "type": entry["type"]}
    async with client.session.get("/view", params=params) as response:
        assert response.status == 200
        return np.asarray(Image.open(io.BytesIO(await response.read())).convert("L"))


async def test_pack_registers_the_mask_painter(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        info = (await client.get("/object_info/HitlMaskPainter"))["HitlMaskPainter"]
        assert info["output"] == ["MASK", "IMAGE", "IMAGE"]
        assert info["output_name"] == ["mask", "images", "masked_images"]
        assert set(info["input"]["optional"]) == {"mask"}
        assert info["input"]["required"]["mode"][0] == ["always ask", "repeat last mask", "pass input mask through"]
        assert info["category"] == "human-in-the-loop"


async def test_strokes_reach_the_preview_where_they_were_painted(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(painter_prompt(mask_value=0.5))
        view = await client.waiting_request(prompt_id)
        try:
            assert view["payload"]["mask_count"] == 1 and (view["payload"]["width"], view["payload"]["height"]) == (
                96,
                64,
            )
            assert client.session is not None
            for size, media in (("preview", "image/jpeg"), ("mask", "image/png"), ("thumb", "image/jpeg")):
                async with client.session.get(f"/api/hitl/requests/{view['id']}/images/0?size={size}") as response:
                    assert response.status == 200 and response.content_type == media
            bad = {"masks": [[{**dot(10, 10), "size": 0}]]}
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": bad})
            assert status == 422 and "size must be" in body["error"]["message"]
            erase = {"op": "erase", "size": 9, "hardness": 1, "points": [round(60.5 * 4), round(40.5 * 4)]}
            value = {"masks": [[dot(20, 30), erase]]}
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": value})
            assert status == 200, body
        finally:
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success", end
        history = await client.history(prompt_id)
        pixels = await preview(client, history)
        assert pixels.shape == (HEIGHT, WIDTH)
        assert pixels[30, 20] == 255 and pixels[40, 60] == 0  # painted; erased
        assert abs(int(pixels[5, 80]) - 128) <= 1  # the input mask elsewhere
        assert history["outputs"][PAINTER_ID]["source"] == ["person"]


async def test_pass_through_and_repeat_stay_cached(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        # pass input mask through: no request, and the second run is cached.
        prompt = painter_prompt(mode="pass input mask through", mask_value=1.0)
        for run in range(2):
            after = len(client.messages)
            prompt_id = await client.queue(prompt)
            _, end = await client.run_end(prompt_id)
            assert end["type"] == "execution_success"
            requests = [m for _, m in client.messages[after:] if m.get("type") == "hitl-request"]
            assert requests == []
            if run == 1:
                _, cached = await client.wait_message(
                    lambda m, p=prompt_id: m.get("type") == "execution_cached" and m["data"]["prompt_id"] == p,
                    after=after,
                )
                assert PAINTER_ID in cached["data"]["nodes"]
        # repeat last mask: asks once (no mask of this node fits 80 px), then repeats, cached.
        prompt = painter_prompt(mode="repeat last mask", width=80)
        prompt_id = await client.queue(prompt)
        view = await client.waiting_request(prompt_id)
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": {"masks": [[dot(50, 20)]]}})
        await client.run_end(prompt_id)
        # The next run repeats the mask without asking (the node's cache key changed from
        # "ask" to this mask, so it runs once more); the one after is cached.
        for run in range(2):
            after = len(client.messages)
            prompt_id = await client.queue(prompt)
            _, end = await client.run_end(prompt_id)
            assert end["type"] == "execution_success"
            assert [m for _, m in client.messages[after:] if m.get("type") == "hitl-request"] == []
            _, cached = await client.wait_message(
                lambda m, p=prompt_id: m.get("type") == "execution_cached" and m["data"]["prompt_id"] == p, after=after
            )
            assert (PAINTER_ID in cached["data"]["nodes"]) is (run == 1)
        history = await client.history(prompt_id)
        assert (await preview(client, history))[20, 50] == 255


async def test_repeat_last_mask_never_crosses_workflows_without_ids(comfyui: RealComfyUI) -> None:
    """Issue 14, for the mask painter: workflow A (nil id) paints; workflow B, another graph
    whose painter is the same node id with the same settings, must ask; A again repeats A's
    mask without asking."""
    nil = {"extra_pnginfo": {"workflow": {"id": "00000000-0000-0000-0000-000000000000", "nodes": []}}}
    first = painter_prompt(mode="repeat last mask", width=72)
    second = painter_prompt(mode="repeat last mask", width=72)
    second["22"] = {"class_type": "PreviewImage", "inputs": {"images": [PAINTER_ID, 1]}}  # B: one more preview
    async with ComfyClient(comfyui.url) as client:
        prompt_a = await client.queue(first, extra_data=nil)
        view = await client.waiting_request(prompt_a)
        assert (await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": {"masks": [[dot(10, 10)]]}}))[
            0
        ] == 200
        _, end = await client.run_end(prompt_a)
        assert end["type"] == "execution_success"

        prompt_b = await client.queue(second, extra_data=nil)
        view = await client.waiting_request(prompt_b)  # B asks
        assert (await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": {"masks": [[dot(60, 50)]]}}))[
            0
        ] == 200
        _, end = await client.run_end(prompt_b)
        assert end["type"] == "execution_success"
        mask = await preview(client, await client.history(prompt_b))
        assert mask[50, 60] == 255 and mask[10, 10] == 0

        mark = len(client.messages)
        again = await client.queue(first, extra_data=nil)
        _, end = await client.run_end(again)
        assert end["type"] == "execution_success"
        assert [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"] == []
        mask = await preview(client, await client.history(again))
        assert mask[10, 10] == 255 and mask[50, 60] == 0


async def test_a_hostile_answer_is_refused_fast_while_comfyui_keeps_answering(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(painter_prompt())
        view = await client.waiting_request(prompt_id)
        assert client.session is not None
        try:
            body = json.dumps(
                {
                    "value": {
                        "masks": [[{"op": "brush", "size": 2, "hardness": 1, "points": [1] * 126000 + [10**6, 0]}]]
                    }
                },
                separators=(",", ":"),
            )

            async def answer() -> tuple[int, float]:
                started = time.perf_counter()
                async with client.session.post(  # type: ignore[union-attr]
                    f"/api/hitl/requests/{view['id']}/answer", data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    return response.status, time.perf_counter() - started

            async def stats() -> int:
                async with client.session.get("/system_stats") as response:  # type: ignore[union-attr]
                    return response.status

            (status, elapsed), stats_status = await asyncio.gather(answer(), stats())
            assert status == 422 and stats_status == 200
            assert elapsed < 0.5, f"{elapsed * 1000:.0f} ms"  # well under 100 ms when the machine is quiet
        finally:
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        await client.run_end(prompt_id)
