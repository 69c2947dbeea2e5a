"""The image picker node: selection and validation, latent and mask companions, modes,
timeout actions and cancellation, run by the stand-in host as ComfyUI runs it, with torch
tensors and numpy arrays alike."""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from dev.harness.host import HarnessHost, HarnessServer, NodeCall
from dev.harness.pack import ROOT, submodule

picker = submodule("nodes.image_picker")
picks = submodule("questions.picks")
memory = submodule("nodes.memory")
state = submodule("state")
NODE = "HitlImagePicker"


def as_numpy(array: np.ndarray) -> np.ndarray:
    return array


def as_torch(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array)


BACKENDS = pytest.mark.parametrize("backend", [as_numpy, as_torch], ids=["numpy", "torch"])


def labelled_images(count: int, size: int = 16) -> np.ndarray:
    """A batch whose image i is filled with the value i / 100, so every output is traceable."""
    return np.broadcast_to(
        (np.arange(count, dtype=np.float32) / 100)[:, None, None, None], (count, size, size, 3)
    ).copy()


def labels(images: Any) -> list[int]:
    """Which input images a batch holds, by the value each is filled with."""
    array = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    return [round(float(frame[0, 0, 0]) * 100) for frame in array]


def inputs(images: Any, **overrides: Any) -> dict[str, Any]:
    return {
        "images": images,
        "mode": "always ask",
        "min_picks": 1,
        "max_picks": 0,
        "title": "Keep the good ones",
        "timeout_seconds": 0,
        "on_timeout": "cancel run",
        **overrides,
    }


def ask_and(
    host: HarnessHost,
    node_inputs: dict[str, Any],
    act: Callable[[dict[str, Any]], Any],
    *,
    node_id: str = "7",
    workflow: dict[str, Any] | None = None,
) -> Any:
    """Queue a picker, do ``act(view)`` once it waits, and return the ended run."""
    run = host.submit(NODE, node_inputs, node_id=node_id, workflow=workflow)
    [view] = host.wait_waiting(run)
    act(view)
    return run.wait()


def picker_requests(host: HarnessHost) -> int:
    """How many picker requests the host ever broadcast as waiting."""
    return sum(1 for _, _, data in host._events if data.get("kind") == "image-picker" and data["state"] == "waiting")


# ------------------------------------------------------------------ validation
BOUNDS_CASES = [
    # count, min_picks, max_picks -> (minimum, maximum)
    (8, 1, 0, (1, 8)),
    (8, 2, 3, (2, 3)),
    (8, 3, 3, (3, 3)),
    (2, 3, 0, (2, 2)),  # a minimum over the batch size is lowered to it
    (4, 1, 9, (1, 4)),
]


@pytest.mark.parametrize(("count", "min_picks", "max_picks", "expected"), BOUNDS_CASES)
def test_pick_bounds(count: int, min_picks: int, max_picks: int, expected: tuple[int, int]) -> None:
    bounds = picker.PickBounds.for_batch(count, min_picks, max_picks)
    assert (bounds.minimum, bounds.maximum) == expected


@pytest.mark.parametrize(
    ("min_picks", "max_picks", "message"), [(0, 0, "at least 1"), (3, 2, "smaller than"), (1, -1, "0 \\(no limit\\)")]
)
def test_impossible_bounds_are_refused(min_picks: int, max_picks: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        picker.PickBounds.for_batch(8, min_picks, max_picks)


VALID_ANSWERS = [([2], (2,)), ([4, 0, 1], (4, 0, 1)), ([0, 1, 2, 3, 4], (0, 1, 2, 3, 4))]
INVALID_ANSWERS = [
    ("0,1", "must be a list"),
    ({"indices": [0]}, "must be a list"),
    (None, "must be a list"),
    ([True], "must be an integer"),
    ([1.0], "must be an integer"),
    (["1"], "must be an integer"),
    ([5], "out of range"),
    ([-1], "out of range"),
    ([1, 3, 1], "picked twice: \\[1\\]"),
    ([], "pick 1 to 5 image\\(s\\); got 0"),
]


@pytest.mark.parametrize(("answer", "expected"), VALID_ANSWERS)
def test_valid_answers_keep_the_click_order(answer: Any, expected: tuple[int, ...]) -> None:
    assert picker.PickBounds.for_batch(5, 1, 0).validate(answer) == expected


@pytest.mark.parametrize(("answer", "message"), INVALID_ANSWERS)
def test_invalid_answers_are_refused_with_a_reason(answer: Any, message: str) -> None:
    with pytest.raises(state.InvalidAnswer, match=message):
        picker.PickBounds.for_batch(5, 1, 0).validate(answer)


def test_count_outside_the_bounds_is_refused() -> None:
    bounds = picker.PickBounds.for_batch(6, 2, 3)
    with pytest.raises(state.InvalidAnswer, match="pick 2 to 3 image"):
        bounds.validate([1])
    with pytest.raises(state.InvalidAnswer, match="got 4"):
        bounds.validate([0, 1, 2, 3])
    exact = picker.PickBounds.for_batch(6, 2, 2)
    with pytest.raises(state.InvalidAnswer, match="pick 2 image"):
        exact.validate([0])


def test_http_answers_are_validated_with_422_and_change_nothing(host: HarnessHost, served: HarnessServer) -> None:
    run = host.submit(NODE, inputs(labelled_images(4), max_picks=2))
    [view] = host.wait_waiting(run)
    url = f"{served.url}/api/hitl/requests/{view['id']}/answer"

    def post(value: Any) -> tuple[int, Any]:
        request = urllib.request.Request(
            url, json.dumps({"value": value}).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    for bad, message in [([4], "out of range"), ([0, 0], "picked twice"), ([0, 1, 2], "got 3"), ([False], "integer")]:
        status, body = post(bad)
        assert status == 422 and body["error"]["code"] == "invalid_answer", body
        assert message in body["error"]["message"]
        assert host.registry.get(view["id"]).state == "waiting"
    status, body = post([3, 1])
    assert status == 200 and body["request"]["state"] == "answered"
    assert labels(run.wait().outputs[0]["result"][0]) == [3, 1]


# ------------------------------------------------------------ images, latents, masks
@BACKENDS
def test_picked_images_latents_and_masks_follow_the_click_order(
    host: HarnessHost, backend: Callable[[np.ndarray], Any]
) -> None:
    images = backend(labelled_images(5))
    samples = backend(np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 16, 2, 2), np.float32))
    mask = backend(np.arange(5, dtype=np.float32)[:, None, None] * np.ones((5, 16, 16), np.float32))
    run = ask_and(
        host,
        inputs(images, latent={"samples": samples, "type": "custom"}, mask=mask),
        lambda view: host.registry.answer(view["id"], [4, 0, 2]),
    )
    assert run.status == "success", run.error
    out_images, out_latent, out_mask, indices, index_list = run.outputs[0]["result"][:5]
    assert type(out_images) is type(images) and tuple(out_images.shape) == (3, 16, 16, 3)
    assert labels(out_images) == [4, 0, 2]
    assert tuple(out_latent["samples"].shape) == (3, 16, 2, 2)  # 16 channels: no 4 assumed
    assert [int(s[0, 0, 0]) for s in out_latent["samples"]] == [4, 0, 2]
    assert out_latent["batch_index"] == [4, 0, 2] and out_latent["type"] == "custom"
    assert tuple(out_mask.shape) == (3, 16, 16) and [int(m[0, 0]) for m in out_mask] == [4, 0, 2]
    assert indices == "4,0,2" and index_list == [4, 0, 2]
    assert run.outputs[0]["ui"]["picked"] == [4, 0, 2]
    assert run.outputs[0]["ui"]["hitl_audit"][0]["answer"] == [4, 0, 2]


@BACKENDS
def test_latent_noise_mask_and_batch_index_follow_comfyui_rules(
    host: HarnessHost, backend: Callable[[np.ndarray], Any]
) -> None:
    def noise_mask(count: int) -> Any:
        return backend(np.arange(count, dtype=np.float32)[:, None, None, None] * np.ones((count, 1, 8, 8), np.float32))

    samples = backend(np.zeros((4, 4, 1, 2, 2), np.float32))  # a 5-D (video-like) latent
    cases = [
        (
            {"noise_mask": noise_mask(1)},
            lambda out: [int(m[0, 0, 0]) for m in out["noise_mask"]] == [0],
        ),  # shared by all: kept
        ({"noise_mask": noise_mask(4)}, lambda out: [int(m[0, 0, 0]) for m in out["noise_mask"]] == [3, 1]),
        (
            {"noise_mask": noise_mask(2)},
            lambda out: [int(m[0, 0, 0]) for m in out["noise_mask"]] == [1, 1],
        ),  # repeated: 3 % 2, 1 % 2
        ({"batch_index": [10, 11, 12, 13]}, lambda out: out["batch_index"] == [13, 11]),
    ]
    for extra, check in cases:
        run = ask_and(
            host,
            inputs(backend(labelled_images(4)), latent={"samples": samples, **extra}),
            lambda view: host.registry.answer(view["id"], [3, 1]),
        )
        out_latent = run.outputs[0]["result"][1]
        assert tuple(out_latent["samples"].shape) == (2, 4, 1, 2, 2)
        assert check(out_latent), (extra, out_latent)


@BACKENDS
def test_unconnected_companions_output_none_and_a_single_mask_is_a_batch_of_one(
    host: HarnessHost, backend: Callable[[np.ndarray], Any]
) -> None:
    run = ask_and(host, inputs(backend(labelled_images(3))), lambda view: host.registry.answer(view["id"], [1]))
    _, out_latent, out_mask, _, _ = run.outputs[0]["result"][:5]
    assert out_latent is None and out_mask is None
    single = backend(np.ones((16, 16), np.float32))
    run = ask_and(
        host, inputs(backend(labelled_images(1)), mask=single), lambda view: host.registry.answer(view["id"], [0])
    )
    assert tuple(run.outputs[0]["result"][2].shape) == (1, 16, 16)


MISMATCHES = [
    (
        {"latent": {"samples": np.zeros((3, 4, 2, 2), np.float32)}},
        "the latent batch has 3 entries but the image batch has 4",
    ),
    (
        {"latent": {"samples": np.zeros((4, 4, 2, 2), np.float32), "batch_index": [0, 1]}},
        "batch_index'\\] has 2 entries",
    ),
    ({"latent": {"no_samples": 1}}, "a dict with 'samples'"),
    ({"mask": np.zeros((5, 16, 16), np.float32)}, "the mask batch has 5 entries but the image batch has 4"),
    ({"mask": np.zeros((16, 16), np.float32)}, "the mask batch has 1 entries"),
    ({"images": np.zeros((4, 16, 16), np.float32)}, "IMAGE batch \\[B, H, W, C\\]"),
    ({"min_picks": 3, "max_picks": 2}, "smaller than min_picks"),
    ({"mode": "sometimes"}, "mode must be one of"),
]


@pytest.mark.parametrize(("overrides", "message"), MISMATCHES, ids=[m for _, m in MISMATCHES])
def test_bad_inputs_are_refused_clearly_before_asking(
    host: HarnessHost, overrides: dict[str, Any], message: str
) -> None:
    run = host.submit(NODE, {**inputs(labelled_images(4)), **overrides}).wait()
    assert run.status == "error"
    assert picker_requests(host) == 0
    assert re.search(message, run.error), run.error


# ----------------------------------------------------------------------- modes
@BACKENDS
def test_pass_through_asks_nothing_and_copies_nothing(host: HarnessHost, backend: Callable[[np.ndarray], Any]) -> None:
    images = backend(labelled_images(3))
    latent = {"samples": backend(np.zeros((3, 4, 2, 2), np.float32))}
    run = host.submit(NODE, inputs(images, mode="pass everything through", max_picks=1, latent=latent)).wait()
    assert run.status == "success", run.error
    out_images, out_latent, _, indices, index_list = run.outputs[0]["result"][:5]
    assert out_images is images and out_latent["samples"] is latent["samples"]
    assert indices == "0,1,2" and index_list == [0, 1, 2]
    assert picker_requests(host) == 0


def test_repeat_asks_once_then_reuses_that_nodes_picks(host: HarnessHost) -> None:
    repeat = inputs(labelled_images(5), mode="repeat last selection")
    first = ask_and(host, repeat, lambda view: host.registry.answer(view["id"], [3, 1]), node_id="12:5")
    assert labels(first.outputs[0]["result"][0]) == [3, 1]
    second = host.submit(NODE, repeat, node_id="12:5").wait()
    assert second.status == "success" and labels(second.outputs[0]["result"][0]) == [3, 1]
    assert picker_requests(host) == 1
    # Another node has no memory yet: it asks.
    other = ask_and(host, repeat, lambda view: host.registry.answer(view["id"], [0]), node_id="13")
    assert labels(other.outputs[0]["result"][0]) == [0] and picker_requests(host) == 2
    # "always ask" asks even with a memory, and its answer becomes the new memory.
    ask_and(host, inputs(labelled_images(5)), lambda view: host.registry.answer(view["id"], [2]), node_id="12:5")
    assert labels(host.submit(NODE, repeat, node_id="12:5").wait().outputs[0]["result"][0]) == [2]
    assert picker_requests(host) == 3


def test_repeat_asks_again_when_the_memory_no_longer_fits(host: HarnessHost) -> None:
    ask_and(
        host,
        inputs(labelled_images(5), mode="repeat last selection"),
        lambda view: host.registry.answer(view["id"], [4]),
    )
    smaller = inputs(labelled_images(3), mode="repeat last selection")
    run = ask_and(host, smaller, lambda view: host.registry.answer(view["id"], [2]))
    assert labels(run.outputs[0]["result"][0]) == [2] and picker_requests(host) == 2
    tighter = inputs(labelled_images(3), mode="repeat last selection", min_picks=2)
    run = ask_and(host, tighter, lambda view: host.registry.answer(view["id"], [0, 1]))
    assert picker_requests(host) == 3


def test_repeat_memory_is_per_workflow_even_with_nil_ids(host: HarnessHost) -> None:
    """Issue 14: a picker #20 in two different workflows (both with the nil id) does not
    reuse the other's picks; the same workflow does."""
    nil = {"workflow": {"id": memory.NIL_WORKFLOW_ID, "nodes": []}}
    repeat = inputs(labelled_images(5), mode="repeat last selection", extra_pnginfo=nil)
    first_workflow = {"30": {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}}
    second_workflow = {"31": {"class_type": "SaveImage", "inputs": {"images": ["20", 0]}}}

    def answer(picks: list[int]) -> Any:
        return lambda view: host.registry.answer(view["id"], picks)

    ask_and(host, repeat, answer([3, 1]), node_id="20", workflow=first_workflow)
    other = ask_and(host, repeat, answer([0]), node_id="20", workflow=second_workflow)
    assert labels(other.outputs[0]["result"][0]) == [0] and picker_requests(host) == 2
    again = host.submit(NODE, repeat, node_id="20", workflow=first_workflow).wait()
    assert labels(again.outputs[0]["result"][0]) == [3, 1] and picker_requests(host) == 2


def test_memory_belongs_to_each_bound_node_class() -> None:
    first, second = HarnessHost(), HarnessHost()
    try:
        first_class, second_class = first.node_classes[NODE], second.node_classes[NODE]
        assert first_class.memory is not second_class.memory
        key = memory.MemoryKey("id:wf", "4")
        first_class.memory.remember(key, memory.Remembered("picks", (1, 2), "1,2"))
        assert second_class.memory.recall(key) is None
        assert not hasattr(picker.ImagePicker, "memory")  # the unbound class holds none
    finally:
        first.close()
        second.close()


def test_is_changed_lets_repeat_and_pass_through_stay_cached(host: HarnessHost) -> None:
    node = host.node_classes[NODE]
    asks = node.IS_CHANGED(mode="always ask", unique_id="9", images=None)
    assert math.isnan(asks) and asks != node.IS_CHANGED(mode="always ask", unique_id="9")
    repeat = {"mode": "repeat last selection", "unique_id": "9", memory.IDENTITY_INPUT: "graph:abc"}
    assert math.isnan(node.IS_CHANGED(**repeat))  # nothing remembered yet
    question = picks.PickQuestion(picks.PickBounds.for_batch(3, 1, 0))
    node.remember_answer(memory.MemoryKey("graph:abc", "9"), question, (2, 0))
    remembered = node.IS_CHANGED(**repeat, images=None)
    assert remembered == node.IS_CHANGED(**repeat) and "2,0" in remembered
    # Without the stamp (which workflow?) or in another workflow, the node must run and decide.
    assert math.isnan(node.IS_CHANGED(mode="repeat last selection", unique_id="9"))
    assert math.isnan(node.IS_CHANGED(**{**repeat, memory.IDENTITY_INPUT: "graph:def"}))
    node.remember_answer(memory.MemoryKey("graph:abc", "9"), question, (1,))
    assert node.IS_CHANGED(**repeat) != remembered
    assert node.IS_CHANGED(mode="pass everything through", unique_id="9") == node.IS_CHANGED(
        mode="pass everything through"
    )


# ------------------------------------------------------------ timeouts and ends
TIMEOUT_CASES = [
    ("send all", "success", [0, 1, 2, 3]),
    ("send first", "success", [0]),
    ("cancel run", "interrupted", None),
]


@pytest.mark.parametrize(("action", "status", "picked"), TIMEOUT_CASES)
def test_timeout_actions(host: HarnessHost, action: str, status: str, picked: list[int] | None) -> None:
    # expire() is exactly what the deadline does; the real clock is covered below.
    node_inputs = inputs(
        labelled_images(4), max_picks=2, timeout_seconds=600, on_timeout=action, mode="repeat last selection"
    )
    run = ask_and(host, node_inputs, lambda view: host.registry.expire(view["id"]))
    assert run.status == status, run.error
    if picked is not None:
        assert labels(run.outputs[0]["result"][0]) == picked and run.outputs[0]["result"][4] == picked
    # A timeout is not a person's choice: repeat mode still has nothing to repeat.
    assert host.node_classes[NODE].memory.recall("7") is None


def test_timeout_on_the_real_clock_and_the_countdown(host: HarnessHost) -> None:
    run = host.submit(NODE, inputs(labelled_images(2), timeout_seconds=1, on_timeout="send first"))
    [view] = host.wait_waiting(run)
    assert view["timeout_s"] == 1 and 0 < view["expires_in_ms"] <= 1000
    assert view["payload"]["on_timeout"] == "send first"
    run.wait(5)
    assert run.status == "success" and labels(run.outputs[0]["result"][0]) == [0]


@pytest.mark.parametrize("end", ["cancel", "interrupt", "new prompt"])
def test_cancel_interrupt_and_a_new_prompt_end_the_run_as_interrupted(host: HarnessHost, end: str) -> None:
    run = host.submit(NODE, inputs(labelled_images(3)))
    [view] = host.wait_waiting(run)
    if end == "cancel":
        host.registry.cancel(view["id"])
    elif end == "interrupt":
        host.interrupt.raise_flag()
    else:
        host.registry.open("integer-doubler", prompt_id="another prompt", node_id="1")
    assert run.wait().status == "interrupted"
    assert host.registry.get(view["id"]).resources is None  # the batch is let go


def test_payload_and_served_thumbnails_while_waiting(host: HarnessHost) -> None:
    images = torch.rand(3, 48, 64, 3)
    run = host.submit(NODE, inputs(images, min_picks=2, max_picks=3, title="Which ones?"))
    [view] = host.wait_waiting(run)
    payload = view["payload"]
    assert {k: payload[k] for k in ("title", "count", "min_picks", "max_picks", "width", "height")} == {
        "title": "Which ones?",
        "count": 3,
        "min_picks": 2,
        "max_picks": 3,
        "width": 64,
        "height": 48,
    }
    source = host.registry.get(view["id"]).resources
    data, media_type = source.image_bytes(2, "thumb")
    assert media_type == "image/jpeg" and data[:2] == b"\xff\xd8"
    host.registry.cancel(view["id"])
    run.wait()


def test_two_pickers_in_parallel_branches(host: HarnessHost) -> None:
    run = host.submit_many(
        [NodeCall("1", NODE, inputs(labelled_images(3))), NodeCall("2", NODE, inputs(labelled_images(4)))]
    )
    views = host.wait_waiting(run, count=2)
    by_node = {view["node_id"]: view for view in views}
    host.registry.answer(by_node["2"]["id"], [3])
    host.registry.answer(by_node["1"]["id"], [1, 2])
    run.wait()
    assert [labels(out["result"][0]) for out in run.outputs] == [[1, 2], [3]]


def test_an_untitled_node_is_labelled_with_the_display_name() -> None:
    # ComfyUI saves no title for a node that keeps its default one.
    base = submodule("nodes.base")
    workflow = {"workflow": {"nodes": [{"id": 20, "type": NODE}]}}
    assert base.node_label(workflow, "20", picker.ImagePicker.DISPLAY_NAME) == "Image Picker (browser) #20"


def test_harness_queue_generates_a_batch_server_side(host: HarnessHost, served: HarnessServer) -> None:
    def queue(node_inputs: dict[str, Any]) -> tuple[int, Any]:
        body = json.dumps({"node_type": NODE, "inputs": node_inputs}).encode()
        request = urllib.request.Request(f"{served.url}/harness/queue", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    spec = {
        "images": {"generate": "colors", "batch": 3, "size": 32},
        "latent": {"generate": "latent", "batch": 3, "size": 4},
        "mask": {"generate": "mask", "batch": 3, "size": 32},
    }
    status, body = queue({**inputs(None), **spec})
    assert status == 200
    [view] = host.wait_waiting(host.runs[body["prompt_id"]])
    assert (view["payload"]["count"], view["payload"]["width"]) == (3, 32)
    host.registry.answer(view["id"], [2])
    result = host.runs[body["prompt_id"]].wait().outputs[0]["result"]
    assert tuple(result[0].shape) == (1, 32, 32, 3) and tuple(result[1]["samples"].shape) == (1, 4, 4, 4)
    status, body = queue(inputs({"generate": "noise", "batch": 0}))
    assert status == 422 and "batch must be an integer" in body["error"]["message"]
    assert len(host.runs) == 1


# --------------------------------------------------------- clips, rejects, presets
def result_of(run: Any) -> dict[str, Any]:
    """The node's outputs by name."""
    return dict(zip(picker.ImagePicker.RETURN_NAMES, run.outputs[0]["result"], strict=True))


@BACKENDS
def test_clips_are_picked_as_one_and_output_every_frame_in_pick_order(
    host: HarnessHost, backend: Callable[[np.ndarray], Any]
) -> None:
    frames = backend(labelled_images(16))  # 4 clips of 4 frames
    samples = backend(np.arange(16, dtype=np.float32)[:, None, None, None] * np.ones((16, 4, 2, 2), np.float32))
    mask = backend(np.arange(16, dtype=np.float32)[:, None, None] * np.ones((16, 16, 16), np.float32))
    seen: list[dict[str, Any]] = []

    def answer(view: dict[str, Any]) -> None:
        seen.append(view)
        host.registry.answer(view["id"], [2, 0])

    run = ask_and(host, inputs(frames, frames_per_item=4, latent={"samples": samples}, mask=mask), answer)
    assert run.status == "success", run.error
    payload = seen[0]["payload"]
    assert (payload["count"], payload["frames_per_item"], payload["max_picks"]) == (4, 4, 4)
    out = result_of(run)
    assert labels(out["images"]) == [8, 9, 10, 11, 0, 1, 2, 3]
    assert [int(s[0, 0, 0]) for s in out["latent"]["samples"]] == [8, 9, 10, 11, 0, 1, 2, 3]
    assert out["latent"]["batch_index"] == [8, 9, 10, 11, 0, 1, 2, 3]
    assert [int(m[0, 0]) for m in out["mask"]] == [8, 9, 10, 11, 0, 1, 2, 3]
    assert out["indices"] == "2,0" and out["index_list"] == [2, 0]
    assert labels(out["rejected_images"]) == [4, 5, 6, 7, 12, 13, 14, 15]
    assert [int(s[0, 0, 0]) for s in out["rejected_latent"]["samples"]] == [4, 5, 6, 7, 12, 13, 14, 15]
    assert [int(m[0, 0]) for m in out["rejected_mask"]] == [4, 5, 6, 7, 12, 13, 14, 15]
    assert out["rejected_indices"] == "1,3"
    # The image route serves every frame (clips play from them), indexed by frame.
    assert host.registry.get(seen[0]["id"]).resources is None  # let go once answered


def test_clip_thumbnails_are_served_by_frame(host: HarnessHost) -> None:
    run = host.submit(NODE, inputs(labelled_images(8, 32), frames_per_item=4))
    [view] = host.wait_waiting(run)
    source = host.registry.get(view["id"]).resources
    assert view["payload"]["count"] == 2 and source.image_count() == 8
    assert source.image_bytes(7, "thumb")[1] == "image/jpeg"
    host.registry.cancel(view["id"])
    assert run.wait().status == "interrupted"


def test_a_batch_that_does_not_divide_into_clips_is_refused_before_asking(host: HarnessHost) -> None:
    run = host.submit(NODE, inputs(labelled_images(10), frames_per_item=4)).wait()
    assert run.status == "error" and picker_requests(host) == 0
    assert "10 frame(s), which do not make whole clips of 4 (frames_per_item): 2 left over" in run.error


def test_a_timeout_sends_the_first_clip_whole(host: HarnessHost) -> None:
    node_inputs = inputs(labelled_images(6), frames_per_item=3, timeout_seconds=600, on_timeout="send first")
    run = ask_and(host, node_inputs, lambda view: host.registry.expire(view["id"]))
    out = result_of(run)
    assert labels(out["images"]) == [0, 1, 2] and labels(out["rejected_images"]) == [3, 4, 5]


@BACKENDS
def test_rejects_without_companions(host: HarnessHost, backend: Callable[[np.ndarray], Any]) -> None:
    run = ask_and(host, inputs(backend(labelled_images(4))), lambda view: host.registry.answer(view["id"], [3, 1]))
    out = result_of(run)
    assert labels(out["rejected_images"]) == [0, 2] and out["rejected_indices"] == "0,2"
    assert out["rejected_latent"] is None and out["rejected_mask"] is None


class FakeBlocker:
    """Stands in for ComfyUI's ExecutionBlocker (comfy_execution.graph_utils)."""

    def __init__(self, message: Any) -> None:
        self.message = message


def test_when_everything_is_picked_the_rejects_carry_nothing_the_comfyui_way(
    host: HarnessHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside ComfyUI an output with nothing is an ExecutionBlocker without a message: the
    # nodes fed from it are skipped (tests/test_real_image_picker.py runs the real one).
    import sys
    import types

    graph_utils = types.ModuleType("comfy_execution.graph_utils")
    graph_utils.ExecutionBlocker = FakeBlocker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "comfy_execution.graph_utils", graph_utils)
    latent = {"samples": np.zeros((3, 4, 2, 2), np.float32)}
    run = ask_and(
        host, inputs(labelled_images(3), latent=latent), lambda view: host.registry.answer(view["id"], [2, 0, 1])
    )
    out = result_of(run)
    assert labels(out["images"]) == [2, 0, 1]
    for name in ("rejected_images", "rejected_latent"):
        assert isinstance(out[name], FakeBlocker) and out[name].message is None, name
    assert out["rejected_mask"] is None  # no mask connected: None, as the mask output
    assert out["rejected_indices"] == ""
    monkeypatch.delitem(sys.modules, "comfy_execution.graph_utils")
    assert submodule("server.comfy").nothing() is None  # outside ComfyUI


def test_preset_is_offered_in_the_dialog(host: HarnessHost) -> None:
    seen: list[dict[str, Any]] = []

    def answer(view: dict[str, Any]) -> None:
        seen.append(view["payload"])
        host.registry.answer(view["id"], [1])

    run = ask_and(host, inputs(labelled_images(5), preset="0, 3, -1"), answer)
    assert seen[0]["preset"] == [0, 3, 4] and labels(result_of(run)["images"]) == [1]


def test_use_preset_sends_without_asking_and_stays_cached(host: HarnessHost) -> None:
    node_inputs = inputs(labelled_images(8), frames_per_item=2, mode="use preset", preset="-1,1", max_picks=2)
    run = host.submit(NODE, node_inputs).wait()
    assert run.status == "success" and picker_requests(host) == 0
    out = result_of(run)
    assert labels(out["images"]) == [6, 7, 2, 3] and out["indices"] == "3,1" and out["rejected_indices"] == "0,2"
    node = host.node_classes[NODE]
    key = node.IS_CHANGED(mode="use preset", preset="-1,1")
    assert key == node.IS_CHANGED(mode="use preset", preset="-1,1") and key != node.IS_CHANGED(
        mode="use preset", preset="0"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "use preset"}, "the preset is empty"),
        (
            {"mode": "use preset", "preset": "0,1,2", "max_picks": 2},
            "the preset 0,1,2 does not fit the pick limits: pick 1 to 2",
        ),
        ({"mode": "use preset", "preset": "0", "min_picks": 2}, "pick 2 to 4 image\\(s\\); got 1"),
        ({"preset": "0,9"}, "names item 9, but the batch has 4 item"),
        ({"preset": "0,-4"}, "names item 0 twice"),
        ({"preset": "1,,2"}, "entry 2 is empty"),
        ({"preset": "١"}, "not a whole number"),
        ({"click_sends": True}, "click_sends sends the one item clicked, but 4 may be picked: set max_picks to 1"),
        ({"click_sends": True, "max_picks": 2}, "but 2 may be picked"),
        ({"frames_per_item": 3}, "4 frame\\(s\\), which do not make whole clips of 3"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_presets_clips_and_click_sends_are_refused_before_asking(
    host: HarnessHost, overrides: dict[str, Any], message: str
) -> None:
    run = host.submit(NODE, inputs(labelled_images(4), **overrides)).wait()
    assert run.status == "error" and picker_requests(host) == 0, run.error
    assert re.search(message, run.error), run.error


def test_preset_spelling_is_checked_when_queued() -> None:
    node = picker.ImagePicker
    assert node.VALIDATE_INPUTS(preset="0,3,-1") is True
    assert node.VALIDATE_INPUTS(preset=None) is True  # a linked preset: checked when it runs
    assert node.VALIDATE_INPUTS() is True  # an older prompt without a preset
    assert "entry 2 is empty" in node.VALIDATE_INPUTS(preset="0,,1")


def test_click_sends_is_still_checked_on_the_server(host: HarnessHost) -> None:
    run = host.submit(NODE, inputs(labelled_images(4), max_picks=1, click_sends=True))
    [view] = host.wait_waiting(run)
    assert view["payload"]["click_sends"] is True and view["payload"]["max_picks"] == 1
    for bad, reason in (([0, 1], "pick 1 image\\(s\\); got 2"), ([7], "out of range"), ([], "got 0")):
        with pytest.raises(state.InvalidAnswer, match=reason):
            host.registry.answer(view["id"], bad)
    host.registry.answer(view["id"], [2])
    assert labels(result_of(run.wait())["images"]) == [2]


def test_click_sends_needs_no_single_pick_when_nothing_is_asked(host: HarnessHost) -> None:
    # Passing everything through asks nobody: click_sends is irrelevant there, not an error.
    run = host.submit(NODE, inputs(labelled_images(3), click_sends=True, mode="pass everything through")).wait()
    assert run.status == "success" and labels(result_of(run)["images"]) == [0, 1, 2]


# ------------------------------------------------------------------ saved workflows
#: The example workflow as the previous version saved it (example_workflows/ at 0.1.0).
SAVED_WORKFLOW = ROOT / "tests" / "data" / "examples-0.1.0" / "image_picker.json"
#: Input types the frontend draws as widgets (IMAGE, LATENT, MASK are sockets only).
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN"}


def widgets_in_frontend_order(node_class: Any) -> list[tuple[str, Any]]:
    """(name, spec) of each widget, in the order the frontend makes them and saves their
    values (``widgets_values``): required inputs, then optional ones."""
    spec = node_class.INPUT_TYPES()
    return [
        (name, options)
        for section in ("required", "optional")
        for name, options in spec.get(section, {}).items()
        if isinstance(options[0], list) or options[0] in WIDGET_TYPES
    ]


def test_a_workflow_saved_by_the_previous_version_still_fits_and_runs(host: HarnessHost) -> None:
    saved = json.loads(SAVED_WORKFLOW.read_text())
    [node] = [n for n in saved["nodes"] if n["type"] == NODE]
    widgets = widgets_in_frontend_order(picker.ImagePicker)
    values = node["widgets_values"]
    # Saved values land on the same widgets by position; every newer widget has a default.
    assert [name for name, _ in widgets[: len(values)]] == [
        "mode",
        "min_picks",
        "max_picks",
        "title",
        "timeout_seconds",
        "on_timeout",
    ]
    for (name, options), value in zip(widgets, values, strict=False):
        kind, config = options[0], (options[1] if len(options) > 1 else {})
        if isinstance(kind, list):
            assert value in kind, name
        elif kind == "INT":
            assert config.get("min", value) <= value <= config.get("max", value), name
    assert all("default" in options[1] for _, options in widgets[len(values) :])
    assert {name for name, _ in widgets[len(values) :]} <= set(picker.ImagePicker.INPUT_TYPES()["optional"])
    # Links from the node's outputs keep their slot, type and name.
    for slot, output in enumerate(node["outputs"]):
        assert picker.ImagePicker.RETURN_TYPES[slot] == output["type"]
        assert picker.ImagePicker.RETURN_NAMES[slot] == output["name"]
    # And it runs with exactly the saved values (the newer inputs left out).
    saved_inputs = {name: value for (name, _), value in zip(widgets, values, strict=False)}
    run = ask_and(
        host, {"images": labelled_images(6), **saved_inputs}, lambda view: host.registry.answer(view["id"], [5, 2])
    )
    assert run.status == "success" and labels(run.outputs[0]["result"][0]) == [5, 2]
