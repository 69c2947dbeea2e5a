"""The mask painter: pause mid-run and let a person paint a mask on the image, in a painter
of the pack's own (not ComfyUI's mask editor, whose DOM other packs click and frontend
updates keep breaking).

The browser sends what the person did, not pixels: strokes and whole-mask operations per
image (``_mask_strokes``). The server checks the answer, then draws it at the image's full
resolution on top of the optional input mask, exactly as the browser showed it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

from ..images.batches import BatchImages, as_frames, as_masks, image_batch_size
from ..images.mask_drafts import MaskDrafts
from ..images.mask_strokes import MaskAnswer, draw_answer
from ..questions.masks import MaskQuestion, RememberedMask
from ..server import protocol as P
from .base import ALWAYS_ASK, ASK, CANCEL_RUN, MEMORY_HIDDEN_INPUTS, PASS, RECALL, Hidden, HitlNode, Mode, TimeoutAction

__all__ = ["MaskPainter", "RememberedMask"]

log = logging.getLogger(__name__)

#: What the painter gives without a painted answer: the input mask (empty when there is
#: none), or an empty mask.
GIVES_INPUT_MASK = "input mask"
GIVES_EMPTY_MASK = "empty mask"

#: How the output mask came about (the node's ``ui.source``, shown in the history).
SOURCE_PERSON = "person"
SOURCE_LAST = "last mask"
SOURCE_INPUT = "input mask"
SOURCE_TIMEOUT_INPUT = "timeout: input mask"
SOURCE_TIMEOUT_EMPTY = "timeout: empty mask"

MAX_BATCH = P.MASK_LIMITS["MAX_IMAGES"]
#: The output index of ``masked_images`` (made only when something uses it).
MASKED_IMAGES_OUTPUT = 2


#: How many painted answers a mask painter class remembers: an answer holds up to 65,536
#: points (about 1 MB), so fewer than the memory's default of small answers.
MEMORY_CAPACITY = 256


class PainterResources:
    """What the routes reach while the painter waits: its images (an ``ImageSource``, served
    by index) and its drafts (the strokes so far, drawn ahead; see ``_mask_drafts``)."""

    def __init__(self, images: BatchImages, drafts: MaskDrafts) -> None:
        self.images = images
        self.drafts = drafts
        self.sizes = images.sizes

    def __repr__(self) -> str:
        return f"<PainterResources {self.images!r} {self.drafts!r}>"

    def image_count(self) -> int:
        return self.images.image_count()

    def image_futures(self, size: str, indices: Sequence[int]) -> list[concurrent.futures.Future[bytes]]:
        return self.images.image_futures(size, indices)

    def media_type(self, size: str) -> str:
        return self.images.media_type(size)

    def start(self) -> None:
        self.images.start()

    def offer(self, value: Any) -> None:
        self.drafts.offer(value)

    def close(self) -> None:
        """The request ended: its images are no longer served (the drafts stay for Send)."""
        self.images.close()

    def abandon(self) -> None:
        """The request ended without a mask: nothing more is drawn."""
        self.drafts.close()


def output_used(prompt: Any, node_id: str | None, output: int) -> bool:
    """Whether any node of the prompt takes ``output`` of ``node_id`` (True when unknown)."""
    if not isinstance(prompt, dict) or node_id is None:
        return True
    link = [str(node_id), output]
    for node in prompt.values():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        if isinstance(inputs, dict) and any(isinstance(value, list) and value == link for value in inputs.values()):
            return True
    return False


def masked_images(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """The images with the mask as alpha, the way ComfyUI's "Join Image with Alpha" and
    "Load Image" see it: alpha = 1 − mask, so painted pixels are transparent. RGB is kept
    (a grayscale image becomes RGB), so nodes that read three channels still work."""
    rgb = frames[..., :3] if frames.shape[-1] >= 3 else np.repeat(frames[..., :1], 3, axis=-1)
    out = np.empty((*rgb.shape[:3], 4), np.float32)
    out[..., :3] = rgb
    np.subtract(np.float32(1.0), masks, out=out[..., 3])
    return out


class MaskPainter(HitlNode):
    """Shows the image in a painter in the browser, waits for the person to paint a mask,
    and outputs it at the image's full resolution (with the images, and the images with the
    mask as alpha).

    Modes: ``always ask``; ``repeat last mask`` (asks the first time, then draws this node's
    last painted strokes again without asking while the image size fits); ``pass input
    mask through`` (no dialog). ``timeout_seconds`` (0 = never) ends the wait with
    ``on_timeout``: send the input mask (empty if none), send an empty mask, or cancel.
    """

    DISPLAY_NAME = "Mask Painter (browser)"
    RETURN_TYPES = ("MASK", "IMAGE", "IMAGE")
    RETURN_NAMES = ("mask", "images", "masked_images")
    OUTPUT_TOOLTIPS = (
        "The painted mask, [B, H, W] at the images' full resolution, 0..1 (1 = painted)",
        "The images, passed through",
        "The images with the mask as alpha (alpha = 1 − mask, as Load Image and Join Image with Alpha make it)",
    )
    FUNCTION = "paint"
    MEMORY_CAPACITY = MEMORY_CAPACITY
    MODES = (
        ALWAYS_ASK,
        Mode(P.MODE_REPEAT_LAST_MASK, RECALL, SOURCE_LAST),
        Mode(P.MODE_PASS_INPUT_MASK, PASS, SOURCE_INPUT, gives=GIVES_INPUT_MASK),
    )
    ON_TIMEOUT = (
        TimeoutAction(P.ON_TIMEOUT_SEND_INPUT_MASK, GIVES_INPUT_MASK, SOURCE_TIMEOUT_INPUT),
        TimeoutAction(P.ON_TIMEOUT_SEND_EMPTY_MASK, GIVES_EMPTY_MASK, SOURCE_TIMEOUT_EMPTY),
        CANCEL_RUN,
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The image (or batch) to paint a mask on"}),
                "title": ("STRING", {"default": "Paint the mask", "tooltip": "The dialog's title"}),
                "mode": cls.mode_input(
                    "Ask every run, reuse this node's last painted mask, or pass the input mask through"
                ),
                **cls.timeout_inputs(P.ON_TIMEOUT_CANCEL_RUN, "What happens when nobody sends a mask in time"),
            },
            "optional": {
                "mask": ("MASK", {"tooltip": "A mask to start from (one for all images, or one per image)"}),
            },
            # The API prompt (``api_prompt``) also says whether anything takes masked_images.
            "hidden": dict(MEMORY_HIDDEN_INPUTS),
        }

    async def paint(
        self,
        images: Any,
        title: str = "Paint the mask",
        mode: str = P.MODE_ALWAYS_ASK,
        timeout_seconds: int = 0,
        on_timeout: str = P.ON_TIMEOUT_CANCEL_RUN,
        mask: Any = None,
        **hidden_inputs: Any,
    ) -> dict[str, Any]:
        hidden = Hidden.of(hidden_inputs)  # before any await: it reads which list item this is
        count = image_batch_size(images)
        if not 1 <= count <= MAX_BATCH:
            raise ValueError(f"the image batch must have 1 to {MAX_BATCH} images; it has {count}")
        height, width = (int(n) for n in images.shape[1:3])
        # A wrong mask is refused here, before anyone is asked.
        starts = None if mask is None else await asyncio.to_thread(as_masks, mask, count, height, width)
        outputs = partial(
            self._outputs, images, composite=output_used(hidden.api_prompt, hidden.node_id, MASKED_IMAGES_OUTPUT)
        )

        async def prepare() -> tuple[dict[str, Any], Any]:
            batch = BatchImages(
                images,
                masks=starts,
                # The first image's preview (and input mask) first: the painter needs them to
                # start. They start once the request is out (ask), not before the message that
                # opens it.
                warm=[("preview", 0), ("mask", 0), *(("thumb", i) for i in range(count) if count > 1)],
                start=False,
            )
            # The strokes so far, drawn while the person paints: Send leaves only the rest to draw.
            drafts = MaskDrafts(count, height, width, self._start_list(starts, count))
            # 0: no input mask; 1: one mask for every image; count: one per image.
            payload = {
                "title": title or self.DISPLAY_NAME,
                "mask_count": 0 if starts is None else len(starts),
                "on_timeout": on_timeout,
            }
            return payload, PainterResources(batch, drafts)

        answer = await self.answer(
            MaskQuestion(count, height, width),
            mode=mode,
            on_timeout=on_timeout,
            title=title or self.DISPLAY_NAME,
            timeout_s=timeout_seconds,
            hidden=hidden,
            fallbacks={
                GIVES_INPUT_MASK: lambda: self._start_masks(starts, count, height, width),
                GIVES_EMPTY_MASK: lambda: np.zeros((count, height, width), np.float32),
            },
            prepare=prepare,
        )
        if answer.how == ASK:
            painted: MaskAnswer = answer.value
            masks, ahead = await asyncio.to_thread(answer.resources.drafts.finish, painted)
            return await outputs(masks, SOURCE_PERSON, painted, audit=answer.audit(hidden), drawn_ahead=ahead)
        if answer.how == RECALL:
            remembered: RememberedMask = answer.value
            masks = await asyncio.to_thread(
                draw_answer, remembered.answer, count, height, width, self._start_list(starts, count)
            )
            return await outputs(masks, answer.source, remembered.answer)
        # Passed through, or given on timeout: the masks themselves.
        return await outputs(answer.value, answer.source, audit=answer.audit(hidden))

    @staticmethod
    def _start_list(starts: np.ndarray | None, count: int) -> list[np.ndarray | None]:
        if starts is None:
            return [None] * count
        return [starts[index if len(starts) > 1 else 0] for index in range(count)]

    @staticmethod
    def _start_masks(starts: np.ndarray | None, count: int, height: int, width: int) -> np.ndarray:
        if starts is None:
            return np.zeros((count, height, width), np.float32)
        return np.ascontiguousarray(np.broadcast_to(starts, (count, height, width)), dtype=np.float32)

    @staticmethod
    async def _outputs(
        images: Any,
        masks: np.ndarray,
        source: str,
        answer: MaskAnswer | None = None,
        *,
        composite: bool,
        audit: dict[str, list[Any]] | None = None,
        drawn_ahead: int | None = None,
    ) -> dict[str, Any]:
        masked = None
        if composite:
            # A batch of large RGBA images is a big copy: made only when a node takes it.
            masked = await asyncio.to_thread(masked_images, as_frames(images), masks)
        operations = 0 if answer is None else sum(len(ops) for ops in answer.masks)
        # In ComfyUI's history: how the masks came, how many operations were drawn while the
        # person painted, and (when someone was asked) who and when.
        ui: dict[str, list[Any]] = {"source": [source], "operations": [operations], **(audit or {})}
        if drawn_ahead is not None:
            ui["drawn_ahead"] = [drawn_ahead]
        return {
            "ui": ui,
            "result": (_like(images, masks), images, None if masked is None else _like(images, masked)),
        }


def _like(images: Any, array: np.ndarray) -> Any:
    """``array`` as the same kind of tensor as ``images`` (torch in ComfyUI, numpy in tests)."""
    if hasattr(images, "detach"):
        torch = importlib.import_module("torch")  # ComfyUI's; imported by name so mypy need not read it
        return torch.from_numpy(np.ascontiguousarray(array)).to(images.device)
    return array
