"""The image picker in a real ComfyUI, driven through its API (opt-in: set HITL_COMFYUI_DIR,
see test_real_comfyui). Model-free core nodes make a batch of distinctly coloured images."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dev.harness.comfyui import ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui

#: The colours of the batch, in batch order (EmptyImage takes 0xRRGGBB).
COLOURS = [0xFF0000, 0x00FF00, 0x0000FF, 0xFFFF00]
PICKER_ID = "20"
PREVIEW_ID = "30"


def rgb(colour: int) -> tuple[int, int, int]:
    return (colour >> 16) & 0xFF, (colour >> 8) & 0xFF, colour & 0xFF


def picker_prompt(
    *,
    mode: str = "always ask",
    timeout: int = 300,
    on_timeout: str = "cancel run",
    latent_batch: int | None = None,
    picker_id: str = PICKER_ID,
) -> dict[str, Any]:
    """EmptyImage per colour → ImageBatch chain → picker → PreviewImage, in API format."""
    prompt: dict[str, Any] = {}
    for index, colour in enumerate(COLOURS):
        prompt[str(index + 1)] = {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": colour},
        }
    previous = ["1", 0]
    for index in range(1, len(COLOURS)):
        node_id = str(10 + index)
        prompt[node_id] = {"class_type": "ImageBatch", "inputs": {"image1": previous, "image2": [str(index + 1), 0]}}
        previous = [node_id, 0]
    picker_inputs: dict[str, Any] = {
        "images": previous,
        "mode": mode,
        "min_picks": 1,
        "max_picks": 0,
        "title": "Pick colours",
        "timeout_seconds": timeout,
        "on_timeout": on_timeout,
    }
    if latent_batch is not None:
        prompt["40"] = {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 64, "height": 48, "batch_size": latent_batch},
        }
        picker_inputs["latent"] = ["40", 0]
    prompt[picker_id] = {"class_type": "HitlImagePicker", "inputs": picker_inputs}
    prompt[PREVIEW_ID] = {"class_type": "PreviewImage", "inputs": {"images": [picker_id, 0]}}
    return prompt


async def preview_colours(client: ComfyClient, history: dict[str, Any]) -> list[tuple[int, int, int]]:
    """The colour of each image PreviewImage saved, fetched through /view, in order."""
    assert client.session is not None
    colours = []
    for entry in history["outputs"][PREVIEW_ID]["images"]:
        params = {"filename": entry["filename"], "subfolder": entry["subfolder"], "type": entry["type"]}
        async with client.session.get("/view", params=params) as response:
            assert response.status == 200
            image = Image.open(io.BytesIO(await response.read())).convert("RGB")
        assert image.size == (64, 48)
        pixels = np.asarray(image)
        assert (pixels == pixels[0, 0]).all(), "each preview is one solid colour"
        colours.append(tuple(int(v) for v in pixels[0, 0]))
    return colours


async def test_pack_registers_the_picker(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        info = (await client.get("/object_info/HitlImagePicker"))["HitlImagePicker"]
        # Outputs only ever added at the end, so saved links keep their slots.
        assert info["output"] == ["IMAGE", "LATENT", "MASK", "STRING", "INT", "IMAGE", "LATENT", "MASK", "STRING"]
        assert info["output_name"][5:] == ["rejected_images", "rejected_latent", "rejected_mask", "rejected_indices"]
        assert info["output_is_list"] == [False, False, False, False, True, False, False, False, False]
        assert list(info["input"]["optional"]) == ["latent", "mask", "frames_per_item", "preset", "click_sends"]
        assert info["input"]["required"]["mode"][0] == [
            "always ask",
            "repeat last selection",
            "pass everything through",
            "use preset",
        ]


async def test_picked_images_reach_preview_in_pick_order(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(picker_prompt())
        view = await client.waiting_request(prompt_id)
        try:
            assert view["payload"]["count"] == 4 and (view["payload"]["width"], view["payload"]["height"]) == (64, 48)
            assert client.session is not None
            async with client.session.get(f"/api/hitl/requests/{view['id']}/images/3?size=thumb") as response:
                assert response.status == 200 and response.content_type == "image/jpeg"
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [2, 2]})
            assert status == 422 and "picked twice" in body["error"]["message"]
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [2, 0]})
            assert status == 200, body
        finally:
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success", end
        history = await client.history(prompt_id)
        assert await preview_colours(client, history) == [rgb(COLOURS[2]), rgb(COLOURS[0])]
        assert history["outputs"][PICKER_ID]["picked"] == [2, 0]


async def test_cancel_ends_the_run_as_interrupted(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(picker_prompt())
        view = await client.waiting_request(prompt_id)
        status, _ = await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        assert status == 200
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_interrupted"
        assert PREVIEW_ID not in (await client.history(prompt_id)).get("outputs", {})


async def test_timeout_sends_the_first_image(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(picker_prompt(timeout=1, on_timeout="send first"))
        _, end = await client.run_end(prompt_id, timeout=20)
        assert end["type"] == "execution_success"
        assert await preview_colours(client, await client.history(prompt_id)) == [rgb(COLOURS[0])]


async def test_latent_of_another_batch_size_is_refused_before_asking(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(picker_prompt(latent_batch=3))
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_error"
        assert "the latent batch has 3 entries but the image batch has 4" in end["data"]["exception_message"]
        assert not [
            m for _, m in client.messages if m.get("type") == "hitl-request" and m["data"].get("prompt_id") == prompt_id
        ]


async def test_repeat_mode_asks_once_then_reuses_and_stays_cached(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        # A picker id of its own: the memory is per node id, and other tests pick with node 20.
        prompt = picker_prompt(mode="repeat last selection", picker_id="25")
        first = await client.queue(prompt)
        view = await client.waiting_request(first)
        await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [3, 1]})
        await client.run_end(first)
        assert await preview_colours(client, await client.history(first)) == [rgb(COLOURS[3]), rgb(COLOURS[1])]

        for _ in range(2):
            mark = len(client.messages)
            again = await client.queue(prompt)
            _, end = await client.run_end(again)
            assert end["type"] == "execution_success"
            asked = [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"]
            assert asked == []
            assert await preview_colours(client, await client.history(again)) == [rgb(COLOURS[3]), rgb(COLOURS[1])]
        # The third run: the picker said "unchanged", so it and the preview were cached.
        cached = [m["data"]["nodes"] for _, m in client.messages[mark:] if m.get("type") == "execution_cached"]
        assert cached and "25" in cached[0] and PREVIEW_ID in cached[0]


#: 16 frames, each its own colour: 4 clips of 4 (frames_per_item 4).
FRAME_COLOURS = [
    0xFF0000, 0xCC0000, 0x990000, 0x660000,  # clip 0: reds
    0x00FF00, 0x00CC00, 0x009900, 0x006600,  # clip 1: greens
    0x0000FF, 0x0000CC, 0x000099, 0x000066,  # clip 2: blues
    0xFFFF00, 0xCCCC00, 0x999900, 0x666600,  # clip 3: yellows
]  # fmt: skip
CLIP_PICKER_ID = "50"
REJECTS_ID = "60"


def clip_prompt(*, mode: str = "always ask", preset: str = "", max_picks: int = 0) -> dict[str, Any]:
    """16 coloured frames (EmptyImage each, batched) → picker of clips of 4 → PreviewImage of
    the picks and a second PreviewImage of the rejects."""
    prompt: dict[str, Any] = {}
    for index, colour in enumerate(FRAME_COLOURS):
        prompt[str(100 + index)] = {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": colour},
        }
    previous = ["100", 0]
    for index in range(1, len(FRAME_COLOURS)):
        node_id = str(200 + index)
        prompt[node_id] = {"class_type": "ImageBatch", "inputs": {"image1": previous, "image2": [str(100 + index), 0]}}
        previous = [node_id, 0]
    prompt[CLIP_PICKER_ID] = {
        "class_type": "HitlImagePicker",
        "inputs": {
            "images": previous,
            "mode": mode,
            "min_picks": 1,
            "max_picks": max_picks,
            "title": "Pick clips",
            "timeout_seconds": 300,
            "on_timeout": "cancel run",
            "frames_per_item": 4,
            "preset": preset,
            "click_sends": False,
        },
    }
    prompt[PREVIEW_ID] = {"class_type": "PreviewImage", "inputs": {"images": [CLIP_PICKER_ID, 0]}}
    prompt[REJECTS_ID] = {"class_type": "PreviewImage", "inputs": {"images": [CLIP_PICKER_ID, 5]}}
    return prompt


async def saved_colours(client: ComfyClient, history: dict[str, Any], node_id: str) -> list[tuple[int, int, int]]:
    """The colour of each image a PreviewImage saved, in order."""
    assert client.session is not None
    colours = []
    for entry in history["outputs"][node_id]["images"]:
        params = {"filename": entry["filename"], "subfolder": entry["subfolder"], "type": entry["type"]}
        async with client.session.get("/view", params=params) as response:
            pixels = np.asarray(Image.open(io.BytesIO(await response.read())).convert("RGB"))
        colours.append(tuple(int(v) for v in pixels[0, 0]))
    return colours


def frames(*indices: int) -> list[tuple[int, int, int]]:
    return [rgb(FRAME_COLOURS[index]) for index in indices]


async def test_clips_output_every_frame_in_pick_order_and_rejects_go_to_a_second_preview(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(clip_prompt())
        view = await client.waiting_request(prompt_id)
        try:
            assert (view["payload"]["count"], view["payload"]["frames_per_item"]) == (4, 4)
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [3, 4]})
            assert status == 422 and "out of range" in body["error"]["message"]  # 4 clips: 0 to 3
            # More than may be picked is refused before any entry is looked at (issue 16).
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [3, 1, 2, 0, 4]})
            assert status == 422 and "pick 1 to 4 clip(s); got 5" in body["error"]["message"]
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [2, 0]})
            assert status == 200, body
        finally:
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success", end
        history = await client.history(prompt_id)
        assert await saved_colours(client, history, PREVIEW_ID) == frames(8, 9, 10, 11, 0, 1, 2, 3)
        assert await saved_colours(client, history, REJECTS_ID) == frames(4, 5, 6, 7, 12, 13, 14, 15)


async def test_when_everything_is_picked_the_rejects_branch_is_skipped_and_the_run_succeeds(
    comfyui: RealComfyUI,
) -> None:
    async with ComfyClient(comfyui.url) as client:
        # "use preset" sends the preset without asking: every clip, last first.
        prompt_id = await client.queue(clip_prompt(mode="use preset", preset="-1,0,1,2"))
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_success", end
        history = await client.history(prompt_id)
        assert await saved_colours(client, history, PREVIEW_ID) == frames(12, 13, 14, 15, *range(12))
        assert REJECTS_ID not in history["outputs"]  # ExecutionBlocker: skipped quietly, no error
        assert not [
            m for _, m in client.messages if m.get("type") == "hitl-request" and m["data"].get("prompt_id") == prompt_id
        ]


async def test_bad_presets_and_batches_are_refused_before_anyone_is_asked(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        # The preset's spelling is checked when the prompt is queued, on the node.
        with pytest.raises(RuntimeError, match="preset entry 2 is empty"):
            await client.queue(clip_prompt(preset="0,,1"))
        # Its fit is checked when the node runs, before asking anyone.
        prompt_id = await client.queue(clip_prompt(mode="use preset", preset="0,1,2", max_picks=2))
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_error"
        assert "the preset 0,1,2 does not fit the pick limits" in end["data"]["exception_message"]
        prompt = clip_prompt()
        prompt[CLIP_PICKER_ID]["inputs"]["frames_per_item"] = 3
        prompt_id = await client.queue(prompt)
        _, end = await client.run_end(prompt_id)
        assert end["type"] == "execution_error"
        assert "16 frame(s), which do not make whole clips of 3" in end["data"]["exception_message"]


async def test_repeat_last_selection_never_crosses_workflows_without_ids(comfyui: RealComfyUI) -> None:
    """Issue 14, for the picker: workflow A (nil id) picks; workflow B, another graph whose
    picker is the same node id with the same settings, must ask; A again repeats A's picks."""
    nil = {"extra_pnginfo": {"workflow": {"id": "00000000-0000-0000-0000-000000000000", "nodes": []}}}
    first = picker_prompt(mode="repeat last selection", picker_id="26")
    second = picker_prompt(mode="repeat last selection", picker_id="26")
    second["31"] = {"class_type": "PreviewImage", "inputs": {"images": ["26", 0]}}  # B: one more preview
    async with ComfyClient(comfyui.url) as client:
        prompt_a = await client.queue(first, extra_data=nil)
        view = await client.waiting_request(prompt_a)
        assert (await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [2]}))[0] == 200
        await client.run_end(prompt_a)

        prompt_b = await client.queue(second, extra_data=nil)
        view = await client.waiting_request(prompt_b)  # B asks
        assert (await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": [0, 3]}))[0] == 200
        await client.run_end(prompt_b)
        assert await preview_colours(client, await client.history(prompt_b)) == [rgb(COLOURS[0]), rgb(COLOURS[3])]

        mark = len(client.messages)
        again = await client.queue(first, extra_data=nil)
        _, end = await client.run_end(again)
        assert end["type"] == "execution_success"
        assert [m for _, m in client.messages[mark:] if m.get("type") == "hitl-request"] == []
        assert await preview_colours(client, await client.history(again)) == [rgb(COLOURS[2])]
