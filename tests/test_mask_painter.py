"""The mask painter node, run by the stand-in host as ComfyUI runs it: outputs at full
resolution, the input mask, batches (per image and the same for all), every mode and timeout
action, the renditions its images are served in, and answers refused without a change."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from dev.harness.host import HarnessHost, NodeCall
from dev.harness.pack import submodule

painter = submodule("nodes.mask_painter")
memory = submodule("nodes.memory")
P = submodule("server.protocol")
server_routes = submodule("server_routes")
strokes_module = submodule("images.mask_strokes")
NODE = "HitlMaskPainter"


def inputs(images: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "images": images,
        "title": "Paint",
        "mode": "always ask",
        "timeout_seconds": 0,
        "on_timeout": "cancel run",
        **overrides,
    }


def frames(count: int = 1, height: int = 48, width: int = 64) -> np.ndarray:
    return np.random.default_rng(count * 7 + height).random((count, height, width, 3), dtype=np.float32)


def dot(x: float, y: float, size: float = 9, op: str = "brush") -> dict[str, Any]:
    """A hard dot centred on pixel (x, y)."""
    return {"op": op, "size": size, "hardness": 1, "points": [round((x + 0.5) * 4), round((y + 0.5) * 4)]}


def ask_and(
    host: HarnessHost,
    node_inputs: dict[str, Any],
    act: Callable[[dict], Any],
    *,
    node_id: str = "7",
    workflow: dict[str, Any] | None = None,
) -> Any:
    """Queue a painter, do ``act(view)`` once it waits, and return the ended run."""
    run = host.submit(NODE, node_inputs, node_id=node_id, workflow=workflow)
    [view] = host.wait_waiting(run)
    act(view)
    return run.wait()


def answer(host: HarnessHost, masks: list[list[dict]], same_for_all: bool = False) -> Callable[[dict], Any]:
    return lambda view: host.registry.answer(view["id"], {"masks": masks, "same_for_all": same_for_all})


def painter_requests(host: HarnessHost) -> int:
    return sum(1 for _, _, data in host._events if data.get("kind") == "mask-painter" and data["state"] == "waiting")


# -------------------------------------------------------------------- outputs
def test_registered_with_defaults_for_every_widget(host: HarnessHost) -> None:
    node = host.node_classes[NODE]
    spec = node.INPUT_TYPES()
    assert list(spec["required"]) == ["images", "title", "mode", "timeout_seconds", "on_timeout"]
    assert set(spec["optional"]) == {"mask"} and spec["hidden"]["api_prompt"] == "PROMPT"
    assert spec["hidden"][memory.IDENTITY_INPUT] == memory.IDENTITY_TYPE  # the workflow stamp
    assert spec["required"]["mode"][0] == ["always ask", "repeat last mask", "pass input mask through"]
    assert spec["required"]["on_timeout"][0] == ["send input mask", "send empty mask", "cancel run"]
    for name, (_, options) in ((k, v) for k, v in spec["required"].items() if k != "images"):
        assert "default" in options, name  # a saved workflow without the widget still loads
    assert node.RETURN_NAMES == ("mask", "images", "masked_images")
    assert node.RETURN_TYPES == ("MASK", "IMAGE", "IMAGE")
    assert host.display_names[NODE] == "Mask Painter (browser)" and node.CATEGORY == "human-in-the-loop"


@pytest.mark.parametrize("backend", [np.asarray, torch.from_numpy], ids=["numpy", "torch"])
def test_strokes_come_out_at_full_resolution(host: HarnessHost, backend: Callable[[np.ndarray], Any]) -> None:
    images = backend(frames(1, 300, 500))
    run = ask_and(host, inputs(images), answer(host, [[dot(400, 20), dot(10, 290, size=3)]]))
    assert run.status == "success", run.error
    mask, passed, masked = run.outputs[0]["result"]
    assert type(mask) is type(images) and tuple(mask.shape) == (1, 300, 500)
    mask = np.asarray(mask)
    assert mask.dtype == np.float32 and mask[0, 20, 400] == 1.0 and mask[0, 290, 10] == 1.0
    assert mask[0, 20, 406] == 0.0 and mask[0, 150, 250] == 0.0
    assert passed is images
    # masked_images: the images with alpha = 1 − mask (Load Image's and Join Image with Alpha's sense).
    masked = np.asarray(masked)
    assert masked.shape == (1, 300, 500, 4)
    assert np.array_equal(masked[..., :3], np.asarray(images)) and np.array_equal(masked[..., 3], 1 - mask)
    ui = run.outputs[0]["ui"]
    [record] = ui.pop("hitl_audit")  # who painted it, and when: the request's record
    assert ui == {"source": ["person"], "operations": [2], "drawn_ahead": [0]}  # (no drafts were sent)
    # The record keeps the answer's shape, never its points.
    assert record["answer"] == {"same_for_all": False, "operations": [2], "strokes": 2}
    assert record["summary"].endswith("(paint a mask on 1 image of 500×300)")


def test_masked_images_are_made_only_when_something_takes_them(host: HarnessHost) -> None:
    used = {"9": {"class_type": "PreviewImage", "inputs": {"images": ["7", 2]}}}
    unused = {"9": {"class_type": "MaskToImage", "inputs": {"mask": ["7", 0]}}}
    for prompt, expected in ((used, True), (unused, False), (None, True)):
        run = ask_and(host, inputs(frames(), api_prompt=prompt), answer(host, [[dot(5, 5)]]))
        assert (run.outputs[0]["result"][2] is not None) is expected
    assert painter.output_used(used, "7", 2) and not painter.output_used(unused, "7", 2)
    assert painter.output_used({"1": {"inputs": {"x": ["12:5", 2]}}}, "12:5", 2)


def test_grayscale_and_rgba_images_make_rgba_masked_images() -> None:
    gray = np.full((1, 4, 4, 1), 0.5, np.float32)
    rgba = np.full((1, 4, 4, 4), 0.25, np.float32)
    mask = np.zeros((1, 4, 4), np.float32)
    mask[0, 0, 0] = 1
    out = painter.masked_images(gray, mask)
    assert out.shape == (1, 4, 4, 4) and (out[..., :3] == 0.5).all() and out[0, 0, 0, 3] == 0 and out[0, 1, 1, 3] == 1
    assert (painter.masked_images(rgba, mask)[..., :3] == 0.25).all()


# -------------------------------------------------------------- the input mask
def test_strokes_are_drawn_on_the_input_mask(host: HarnessHost) -> None:
    start = np.zeros((1, 48, 64), np.float32)
    start[0, :, :32] = 0.6  # the left half
    ops = [dot(50, 10), dot(10, 10, op="erase")]
    run = ask_and(host, inputs(frames(), mask=torch.from_numpy(start)), answer(host, [ops]))
    mask = np.asarray(run.outputs[0]["result"][0])[0]
    assert mask[10, 50] == 1.0 and mask[10, 10] == 0.0  # painted, erased
    assert mask[40, 10] == pytest.approx(0.6) and mask[40, 50] == 0.0  # untouched: the input mask


def test_one_input_mask_for_a_batch_and_one_of_another_size(host: HarnessHost) -> None:
    small = np.zeros((24, 32), np.float32)  # [H, W], half size: one mask for every image, scaled
    small[:, :16] = 1.0
    run = ask_and(host, inputs(frames(3), mask=small), answer(host, [[], [{"op": "invert"}], []]))
    mask = np.asarray(run.outputs[0]["result"][0])
    assert mask.shape == (3, 48, 64)
    assert mask[0, 20, 5] == 1.0 and mask[0, 20, 60] == 0.0 and np.array_equal(mask[0], mask[2])
    assert np.allclose(mask[1], 1 - mask[0])


def test_a_mask_batch_that_does_not_match_is_refused_before_asking(host: HarnessHost) -> None:
    run = host.submit(NODE, inputs(frames(3), mask=np.zeros((2, 48, 64), np.float32))).wait()
    assert run.status == "error" and "the mask batch has 2 entries but the image batch has 3" in run.error
    assert painter_requests(host) == 0


def test_bad_settings_are_refused_before_asking(host: HarnessHost) -> None:
    for bad, message in (
        (inputs(frames(), mode="sometimes"), "mode must be one of"),
        (inputs(frames(), on_timeout="shrug"), "on_timeout must be one of"),
        (inputs(np.zeros((2, 3), np.float32)), "IMAGE batch"),
        (inputs(frames(65, 2, 2)), "1 to 64 images"),
    ):
        run = host.submit(NODE, bad).wait()
        assert run.status == "error" and message in run.error, run.error
    assert painter_requests(host) == 0


# -------------------------------------------------------------------- batches
def test_a_mask_per_image_and_the_same_mask_for_all(host: HarnessHost) -> None:
    run = ask_and(host, inputs(frames(3)), answer(host, [[dot(5, 5)], [], [{"op": "fill"}]]))
    mask = np.asarray(run.outputs[0]["result"][0])
    assert mask[0, 5, 5] == 1.0 and mask[0].sum() < 100 and not mask[1].any() and (mask[2] == 1).all()
    run = ask_and(host, inputs(frames(3)), answer(host, [[dot(5, 5)]], same_for_all=True))
    mask = np.asarray(run.outputs[0]["result"][0])
    assert mask[1, 5, 5] == 1.0 and np.array_equal(mask[0], mask[1]) and np.array_equal(mask[1], mask[2])


def test_a_bad_answer_is_refused_and_changes_nothing(host: HarnessHost) -> None:
    run = host.submit(NODE, inputs(frames(2)), node_id="7")
    [view] = host.wait_waiting(run)
    seq = host.registry.get(view["id"]).seq
    for value, message in (
        ({"masks": [[dot(5, 5)]]}, "2 lists"),
        ({"masks": [[dot(5, 5)], [{**dot(5, 5), "size": 0}]]}, "operation 1 of image 2: size"),
        ([[dot(5, 5)], []], "must be an object"),
    ):
        with pytest.raises(submodule("state").InvalidAnswer, match=message):
            host.registry.answer(view["id"], value)
    request = host.registry.get(view["id"])
    assert request.state == "waiting" and request.seq == seq
    host.registry.answer(view["id"], {"masks": [[], [dot(1, 1)]]})
    assert np.asarray(run.wait().outputs[0]["result"][0])[1, 1, 1] == 1.0


# ---------------------------------------------------------------------- modes
def test_pass_input_mask_through_never_asks_and_stays_cached(host: HarnessHost) -> None:
    start = np.random.default_rng(0).random((1, 48, 64)).astype(np.float32)
    run = host.submit(NODE, inputs(frames(2), mask=start, mode="pass input mask through")).wait()
    mask = np.asarray(run.outputs[0]["result"][0])
    assert mask.shape == (2, 48, 64) and np.allclose(mask[0], start[0]) and np.allclose(mask[1], start[0])
    empty = host.submit(NODE, inputs(frames(2), mode="pass input mask through")).wait()
    assert not np.asarray(empty.outputs[0]["result"][0]).any()
    assert painter_requests(host) == 0
    node = host.node_classes[NODE]
    assert node.IS_CHANGED(mode="pass input mask through", unique_id="7") == "pass input mask through"


def test_repeat_last_mask_asks_once_then_repeats_while_the_size_fits(host: HarnessHost) -> None:
    node = host.node_classes[NODE]
    repeat = inputs(frames(2), mode="repeat last mask")
    assert math_isnan(node.IS_CHANGED(mode="repeat last mask", unique_id="7"))
    first = ask_and(host, repeat, answer(host, [[dot(5, 5)], [dot(20, 20)]]))
    # ComfyUI calls IS_CHANGED with the node's inputs, our on-prompt stamp among them.
    stamped = {
        "mode": "repeat last mask",
        "unique_id": "7",
        memory.IDENTITY_INPUT: first.calls[0].inputs[memory.IDENTITY_INPUT],
    }
    key = node.IS_CHANGED(**stamped)
    assert isinstance(key, str) and key == node.IS_CHANGED(**stamped)  # cached
    # Without the stamp (which workflow?) the node must run and decide.
    assert math_isnan(node.IS_CHANGED(mode="repeat last mask", unique_id="7"))
    assert painter_requests(host) == 1
    again = host.submit(NODE, repeat, node_id="7").wait()
    assert painter_requests(host) == 1 and again.outputs[0]["ui"]["source"] == ["last mask"]
    assert np.array_equal(np.asarray(again.outputs[0]["result"][0]), np.asarray(first.outputs[0]["result"][0]))
    # Another node has no memory of its own yet; a new size or batch size asks again.
    ask_and(host, repeat, answer(host, [[], []]), node_id="8")
    ask_and(host, inputs(frames(2, 50, 64), mode="repeat last mask"), answer(host, [[], []]))
    ask_and(host, inputs(frames(3), mode="repeat last mask"), answer(host, [[], [], []]))
    assert painter_requests(host) == 4
    # A new answer changes ComfyUI's cache key, so the stages after the node run again.
    assert node.IS_CHANGED(**stamped) != key
    # The same mask for all fits any batch size.
    ask_and(host, inputs(frames(2), mode="repeat last mask"), answer(host, [[dot(9, 9)]], same_for_all=True))
    five = host.submit(NODE, inputs(frames(5), mode="repeat last mask"), node_id="7").wait()
    assert painter_requests(host) == 5 and np.asarray(five.outputs[0]["result"][0])[:, 9, 9].tolist() == [1.0] * 5


def math_isnan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def test_repeat_last_mask_is_per_workflow_even_with_nil_ids(host: HarnessHost) -> None:
    """Issue 14: painter #7 in two workflows that both carry the nil id does not repeat the
    other's mask; the same workflow (with other values) does."""
    nil = {"workflow": {"id": memory.NIL_WORKFLOW_ID, "nodes": []}}
    repeat = inputs(frames(), mode="repeat last mask", extra_pnginfo=nil)
    inpaint = {"9": {"class_type": "InpaintModelConditioning", "inputs": {"mask": ["7", 0]}}}
    preview = {"9": {"class_type": "MaskToImage", "inputs": {"mask": ["7", 0]}}}
    ask_and(host, repeat, answer(host, [[dot(5, 5)]]), workflow=inpaint)
    other = ask_and(host, repeat, answer(host, [[dot(30, 30)]]), workflow=preview)
    mask = np.asarray(other.outputs[0]["result"][0])[0]
    assert painter_requests(host) == 2 and mask[30, 30] == 1.0 and mask[5, 5] == 0.0
    tweaked = {"9": {"class_type": "InpaintModelConditioning", "inputs": {"mask": ["7", 0], "noise_mask": False}}}
    again = host.submit(NODE, {**repeat, "title": "another title"}, node_id="7", workflow=tweaked).wait()
    mask = np.asarray(again.outputs[0]["result"][0])[0]
    assert painter_requests(host) == 2 and again.outputs[0]["ui"]["source"] == ["last mask"]
    assert mask[5, 5] == 1.0 and mask[30, 30] == 0.0


def test_repeat_mode_draws_on_this_runs_input_mask(host: HarnessHost) -> None:
    ask_and(host, inputs(frames(), mode="repeat last mask"), answer(host, [[dot(5, 5)]]))
    start = np.full((1, 48, 64), 0.5, np.float32)
    run = host.submit(NODE, inputs(frames(), mode="repeat last mask", mask=start), node_id="7").wait()
    mask = np.asarray(run.outputs[0]["result"][0])[0]
    assert mask[5, 5] == 1.0 and mask[30, 30] == 0.5


# ---------------------------------------------------------- timeouts and ends
@pytest.mark.parametrize(
    ("action", "status", "expected", "source"),
    [
        ("send input mask", "success", 0.25, "timeout: input mask"),
        ("send empty mask", "success", 0.0, "timeout: empty mask"),
        ("cancel run", "interrupted", None, None),
    ],
)
def test_timeout_actions(
    host: HarnessHost, action: str, status: str, expected: float | None, source: str | None
) -> None:
    start = np.full((48, 64), 0.25, np.float32)
    node_inputs = inputs(frames(2), mask=start, timeout_seconds=600, on_timeout=action, mode="repeat last mask")
    run = ask_and(host, node_inputs, lambda view: host.registry.expire(view["id"]))
    assert run.status == status, run.error
    if expected is not None:
        mask = np.asarray(run.outputs[0]["result"][0])
        assert mask.shape == (2, 48, 64) and np.allclose(mask, expected)
        assert run.outputs[0]["ui"]["source"] == [source]
    assert len(host.node_classes[NODE].memory) == 0  # a timeout is not a painted mask


def test_send_input_mask_without_one_sends_an_empty_mask(host: HarnessHost) -> None:
    node_inputs = inputs(frames(), timeout_seconds=1, on_timeout="send input mask")
    run = host.submit(NODE, node_inputs)
    [view] = host.wait_waiting(run)
    assert view["timeout_s"] == 1 and view["payload"]["on_timeout"] == "send input mask"
    assert run.wait(5).status == "success" and not np.asarray(run.outputs[0]["result"][0]).any()


@pytest.mark.parametrize("end", ["cancel", "interrupt", "new prompt"])
def test_cancel_interrupt_and_a_new_prompt_end_the_run_as_interrupted(host: HarnessHost, end: str) -> None:
    run = host.submit(NODE, inputs(frames()))
    [view] = host.wait_waiting(run)
    if end == "cancel":
        host.registry.cancel(view["id"])
    elif end == "interrupt":
        host.interrupt.raise_flag()
    else:
        host.registry.open("integer-doubler", prompt_id="another prompt", node_id="1")
    assert run.wait().status == "interrupted"
    assert host.registry.get(view["id"]).resources is None  # the images are let go


def test_two_painters_in_parallel_branches(host: HarnessHost) -> None:
    run = host.submit_many([NodeCall("1", NODE, inputs(frames())), NodeCall("2", NODE, inputs(frames(2)))])
    by_node = {view["node_id"]: view for view in host.wait_waiting(run, count=2)}
    host.registry.answer(by_node["2"]["id"], {"masks": [[{"op": "fill"}], []]})
    host.registry.answer(by_node["1"]["id"], {"masks": [[dot(3, 3)]]})
    first, second = (np.asarray(out["result"][0]) for out in run.wait().outputs)
    assert first[0, 3, 3] == 1.0 and (second[0] == 1).all() and not second[1].any()


# ------------------------------------------------------------ images served
def test_payload_and_renditions_while_waiting(host: HarnessHost) -> None:
    images = torch.rand(2, 1500, 900, 3)
    start = torch.zeros(2, 1500, 900)
    start[1, :100] = 1.0
    run = host.submit(NODE, inputs(images, mask=start, title="Fix the face"))
    [view] = host.wait_waiting(run)
    payload = view["payload"]
    assert {k: payload[k] for k in ("title", "count", "width", "height", "mask_count", "on_timeout")} == {
        "title": "Fix the face",
        "count": 2,
        "width": 900,
        "height": 1500,
        "mask_count": 2,
        "on_timeout": "cancel run",
    }
    resources = host.registry.get(view["id"]).resources
    assert isinstance(resources, server_routes.ImageSource) and isinstance(resources, server_routes.DraftTaker)
    assert set(resources.sizes) == set(P.IMAGE_SIZES)
    source = resources.images
    preview, media_type = source.image_bytes(0, "preview")
    assert media_type == "image/jpeg" and Image.open(io.BytesIO(preview)).size == (450, 750)  # reduced by 2
    thumb, _ = source.image_bytes(1, "thumb")
    assert max(Image.open(io.BytesIO(thumb)).size) <= 256
    data, media_type = source.image_bytes(1, "mask")
    mask = np.asarray(Image.open(io.BytesIO(data)))
    assert media_type == "image/png" and mask.shape == (1500, 900) and mask.dtype == np.uint8
    assert (mask[:100] == 255).all() and not mask[100:].any()
    host.registry.cancel(view["id"])
    run.wait()


async def test_image_route_serves_previews_and_masks(route_client: Any) -> None:
    from dev.harness.host import HarnessHost as Host

    host = Host()
    try:
        client = await route_client(host.registry)
        run = host.submit_many(
            [
                NodeCall("7", NODE, inputs(frames(1, 40, 60), mask=np.ones((40, 60), np.float32))),
                NodeCall("8", NODE, inputs(frames(1, 40, 60))),
            ]
        )
        views = {view["node_id"]: view for view in await asyncio.to_thread(host.wait_waiting, run, count=2)}
        first, second = views["7"], views["8"]
        response = await client.get(f"/hitl/requests/{first['id']}/images/0?size=mask")
        assert response.status == 200 and response.content_type == "image/png"
        assert np.asarray(Image.open(io.BytesIO(await response.read()))).min() == 255
        response = await client.get(f"/hitl/requests/{second['id']}/images/0?size=mask")
        assert response.status == 404 and "no input mask" in (await response.json())["error"]["message"]
        response = await client.get(f"/hitl/requests/{second['id']}/images/0?size=preview")
        assert response.status == 200 and response.content_type == "image/jpeg"
        response = await client.get(f"/hitl/requests/{second['id']}/images/0?size=huge")
        assert response.status == 422 and "thumb, preview, full, mask" in (await response.json())["error"]["message"]
    finally:
        host.close()


async def test_a_hostile_answer_at_the_cap_is_refused_fast_while_another_request_is_served(route_client: Any) -> None:
    from dev.harness.host import HarnessHost as Host

    host = Host()
    try:
        client = await route_client(host.registry)
        run = host.submit(NODE, inputs(frames(1, 2048, 2048)))
        [view] = await asyncio.to_thread(host.wait_waiting, run)
        body = json.dumps(
            {"value": {"masks": [[{"op": "brush", "size": 2, "hardness": 1, "points": [1] * 126000 + [10**6, 0]}]]}},
            separators=(",", ":"),
        )
        assert len(body) <= P.MAX_BODY_BYTES
        started = time.perf_counter()
        refused, listed = await asyncio.gather(
            client.post(f"/hitl/requests/{view['id']}/answer", data=body, headers={"Content-Type": "application/json"}),
            client.get("/hitl/requests"),
        )
        elapsed = time.perf_counter() - started
        assert refused.status == 422 and "too far outside" in (await refused.json())["error"]["message"]
        assert listed.status == 200 and len((await listed.json())["requests"]) == 1
        assert elapsed < 0.5, f"{elapsed * 1000:.0f} ms"  # a few ms when idle; generous for a busy machine
        assert host.registry.get(view["id"]).state == "waiting"
        host.registry.cancel(view["id"])
    finally:
        host.close()


async def test_drafts_sent_while_painting_are_drawn_ahead_of_the_answer(route_client: Any) -> None:
    from dev.harness.host import HarnessHost as Host

    host = Host()
    try:
        client = await route_client(host.registry)
        start = np.zeros((1, 300, 400), np.float32)
        start[0, :, :50] = 1.0
        run = host.submit(NODE, inputs(frames(1, 300, 400), mask=start))
        [view] = await asyncio.to_thread(host.wait_waiting, run)
        draft_path = f"/hitl/requests/{view['id']}/draft"
        ops = [dot(20 + 30 * k, 150, size=15, op="erase" if k == 3 else "brush") for k in range(10)]
        for count in range(1, len(ops) + 1):  # one draft per stroke, as the painter sends them
            response = await client.post(draft_path, json={"value": {"masks": [ops[:count]]}})
            assert response.status == 202 and await response.json() == {"taken": True}
        # A bad draft is refused like an answer and changes nothing; the request still waits.
        response = await client.post(draft_path, json={"value": {"masks": [[{"op": "paint"}]]}})
        assert response.status == 422 and "draft refused" in (await response.json())["error"]["message"]
        drafts = host.registry.get(view["id"]).resources.drafts
        # A draft that comes while one is drawn is dropped, not queued: each was taken or dropped.
        assert drafts.drafts + drafts.dropped == len(ops) and await asyncio.to_thread(drafts.wait_idle, 30)
        # Idle, the painter's last draft is taken (were it dropped, the answer would draw the rest).
        response = await client.post(draft_path, json={"value": {"masks": [ops]}})
        assert response.status == 202 and await asyncio.to_thread(drafts.wait_idle, 30)
        final = [*ops, dot(380, 290, size=5)]
        response = await client.post(f"/hitl/requests/{view['id']}/answer", json={"value": {"masks": [final]}})
        assert response.status == 200
        await asyncio.to_thread(run.wait)
        assert run.status == "success", run.error
        mask, _, _ = run.outputs[0]["result"]
        assert run.outputs[0]["ui"]["drawn_ahead"] == [len(ops)]  # only the last dot was left to draw
        expected = strokes_module.draw_answer(
            strokes_module.parse_answer({"masks": [final]}, count=1, width=400, height=300), 1, 300, 400, [start[0]]
        )
        assert np.abs(np.asarray(mask) - expected).max() < 1e-5
        assert mask[0, 150, 20] == 1.0 and mask[0, 150, 110] == 0.0 and mask[0, 290, 380] == 1.0
        # Ended: its drafts are refused (409), and the worker that drew them is gone.
        response = await client.post(draft_path, json={"value": {"masks": [ops]}})
        assert response.status == 409
        for thread in [t for t in threading.enumerate() if t.name == "hitl-mask-drafts"]:
            thread.join(10)
        assert not [t for t in threading.enumerate() if t.name == "hitl-mask-drafts"]
    finally:
        host.close()


def test_a_cancelled_painter_stops_drawing_its_drafts(host: HarnessHost) -> None:
    run = host.submit(NODE, inputs(frames(1, 64, 64)))
    [view] = host.wait_waiting(run)
    drafts = host.registry.get(view["id"]).resources.drafts
    drafts.offer({"masks": [[dot(10, 10)]]})
    assert drafts.wait_idle(30)
    host.registry.cancel(view["id"])
    run.wait()
    assert run.status == "interrupted" and "closed" in repr(drafts)
    for thread in [t for t in threading.enumerate() if t.name == "hitl-mask-drafts"]:
        thread.join(10)
    assert not [t for t in threading.enumerate() if t.name == "hitl-mask-drafts"]
