"""The image picker: pause between stages, let a person keep the good images of a batch.

The node shows the batch in the browser (thumbnails first, full size on demand, served by
the pack's own image routes), waits for the person's picks, and outputs only those images,
with the matching latents and masks, in the order the person clicked them; and everything
not picked on outputs of its own. Items may be clips of several frames (``frames_per_item``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..images.batches import BatchImages, image_batch_size
from ..questions.picks import (
    PickBounds,
    PickQuestion,
    format_indices,
    frames_of,
    item_count,
    left_out,
    parse_preset,
    resolve_preset,
)
from ..server import comfy as _comfy
from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import ALWAYS_ASK, CANCEL_RUN, MEMORY_HIDDEN_INPUTS, PASS, RECALL, Hidden, HitlNode, Mode, TimeoutAction

__all__ = ["MAX_BATCH", "ImagePicker", "PickBounds", "format_indices"]

log = logging.getLogger(__name__)

#: What "use preset" and "send first" give (the others give everything: the question's default).
GIVES_PRESET = "preset"
GIVES_FIRST = "first"

#: The largest batch the node accepts (the image route addresses at most 6-digit indices).
MAX_BATCH = 4096


def batch_size(value: Any, what: str) -> int:
    """The first dimension of a tensor or array, with a clear error for anything else."""
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) < 1:
        raise ValueError(f"{what} must be a tensor or array with a batch dimension; got {type(value).__name__}")
    return int(shape[0])


def take(batch: Any, indices: Sequence[int]) -> Any:
    """Entries ``indices`` of a torch tensor or numpy array along its first dimension, in
    that order. The whole batch in its own order is returned as is, without a copy."""
    if list(indices) == list(range(batch_size(batch, "a batch"))):
        return batch
    return batch[list(indices)]


def as_mask_batch(mask: Any) -> Any:
    """A MASK as [B, H, W]: a single [H, W] mask becomes a batch of one."""
    shape = getattr(mask, "shape", None)
    if shape is not None and len(shape) == 2:
        return mask[None]
    return mask


def check_companions(count: int, latent: Any, mask: Any) -> None:
    """Refuse, before asking anyone, a latent or mask whose batch is not the image batch."""
    if latent is not None:
        if not isinstance(latent, dict) or "samples" not in latent:
            raise ValueError("latent must be a ComfyUI LATENT (a dict with 'samples')")
        latent_count = batch_size(latent["samples"], "latent['samples']")
        if latent_count != count:
            raise ValueError(
                f"the latent batch has {latent_count} entries but the image batch has {count}: "
                "connect the latent that these images were decoded from"
            )
        batch_index = latent.get("batch_index")
        if batch_index is not None and len(batch_index) != count:
            raise ValueError(f"latent['batch_index'] has {len(batch_index)} entries, the batch has {count}")
    if mask is not None:
        mask_count = batch_size(as_mask_batch(mask), "mask")
        if mask_count != count:
            raise ValueError(
                f"the mask batch has {mask_count} entries but the image batch has {count}: connect one mask per image"
            )


def select_latent(latent: dict[str, Any], indices: Sequence[int]) -> dict[str, Any]:
    """The picked entries of a LATENT, like ComfyUI's "Latent From Batch" does for a range.

    ``samples`` follow the picks (any number of channels or dimensions after the batch).
    A ``noise_mask`` of batch 1 applies to every entry and is kept; any other is repeated
    to the batch size, as ComfyUI does, then picked. ``batch_index`` (which seeds
    each entry's noise) is picked too, or set to the picked positions when absent, so a
    picked latent gets the same noise in the next sampler as it would have in the batch.
    Other keys are kept as they are.
    """
    samples = latent["samples"]
    picked = dict(latent)
    picked["samples"] = take(samples, indices)
    noise_mask = latent.get("noise_mask")
    if noise_mask is not None:
        mask_count = batch_size(noise_mask, "latent['noise_mask']")
        if mask_count != 1:
            # Entry i of the repeated mask is entry i % mask_count: pick those directly.
            picked["noise_mask"] = take(noise_mask, [index % mask_count for index in indices])
    base = latent.get("batch_index")
    picked["batch_index"] = [int(base[i]) for i in indices] if base is not None else [int(i) for i in indices]
    return picked


class ImagePicker(HitlNode):
    """Shows an IMAGE batch in the browser and outputs only the images the person picks,
    in the order picked, with the matching LATENT and MASK entries, and the rest (the
    rejects) on outputs of their own.

    Modes: ``always ask``; ``repeat last selection`` (asks the first time, then reuses that
    node's last picks without asking while they still fit the batch); ``pass everything
    through`` (no dialog); ``use preset`` (the ``preset`` picks, no dialog).
    ``timeout_seconds`` (0 = never) ends the wait with ``on_timeout``: send all (the whole
    batch, whatever ``max_picks`` says), send the first item, or cancel the run. With
    ``frames_per_item`` n > 1 the person picks clips of n frames, and every frame of a
    picked clip is output.
    """

    DISPLAY_NAME = "Image Picker (browser)"
    # Outputs are only ever added at the end: a saved workflow links outputs by position.
    RETURN_TYPES = ("IMAGE", "LATENT", "MASK", "STRING", "INT", "IMAGE", "LATENT", "MASK", "STRING")
    RETURN_NAMES = (
        "images",
        "latent",
        "mask",
        "indices",
        "index_list",
        "rejected_images",
        "rejected_latent",
        "rejected_mask",
        "rejected_indices",
    )
    OUTPUT_IS_LIST = (False, False, False, False, True, False, False, False, False)
    OUTPUT_TOOLTIPS = (
        "The picked images, in the order picked (every frame of each picked clip)",
        "The matching latents (empty when no latent is connected)",
        "The matching masks (empty when no mask is connected)",
        'The picked indices (items: images, or clips), 0-based, in pick order, e.g. "0,3"',
        "The picked indices as a list of INT (a node connected here runs once per index)",
        "Everything not picked, in batch order; when everything is picked there is nothing here,"
        " and the nodes fed from it are skipped",
        "The latents of what was not picked (like rejected_images)",
        "The masks of what was not picked (like rejected_images)",
        'The indices not picked, in batch order, e.g. "1,2" (empty text when everything is picked)',
    )
    FUNCTION = "pick"
    #: New modes go at the end: a saved workflow stores the mode by name, and old names stay.
    MODES = (
        ALWAYS_ASK,
        Mode(P.MODE_REPEAT_LAST_SELECTION, RECALL),
        Mode(P.MODE_PASS_EVERYTHING, PASS),
        Mode(P.MODE_USE_PRESET, PASS, gives=GIVES_PRESET, depends_on=("preset",)),
    )
    ON_TIMEOUT = (
        TimeoutAction(P.ON_TIMEOUT_SEND_ALL, "default"),
        TimeoutAction(P.ON_TIMEOUT_SEND_FIRST, GIVES_FIRST),
        CANCEL_RUN,
    )

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The batch to pick from"}),
                "mode": cls.mode_input("Ask every run, reuse this node's last picks, or let everything through"),
                "min_picks": ("INT", {"default": 1, "min": 1, "max": MAX_BATCH}),
                "max_picks": ("INT", {"default": 0, "min": 0, "max": MAX_BATCH, "tooltip": "0: up to the whole batch"}),
                "title": ("STRING", {"default": "Pick the images to keep"}),
                **cls.timeout_inputs(P.ON_TIMEOUT_CANCEL_RUN, "What happens when nobody picks in time"),
            },
            # New inputs are optional, with defaults, after the existing ones: a saved workflow
            # (widget values by position) and an API prompt without them keep working.
            "optional": {
                "latent": ("LATENT", {"tooltip": "Latents of the same batch; the picked ones are output"}),
                "mask": ("MASK", {"tooltip": "Masks of the same batch; the picked ones are output"}),
                "frames_per_item": (
                    "INT",
                    {
                        "default": 1,
                        "min": 1,
                        "max": MAX_BATCH,
                        "tooltip": "1: pick images. n > 1: every n frames of the batch are one clip, picked as one",
                    },
                ),
                "preset": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": "Items picked in advance, e.g. 0,3,-1 (-1 is the last); "
                        "'use preset' sends them without asking",
                    },
                ),
                "click_sends": (
                    "BOOLEAN",
                    {
                        "default": False,
                        "tooltip": "With max_picks 1: a click, tap or number picks and sends at once",
                    },
                ),
            },
            "hidden": dict(MEMORY_HIDDEN_INPUTS),
        }

    @classmethod
    def VALIDATE_INPUTS(cls, preset: Any = None) -> bool | str:
        # Queue-time check of the preset's spelling, so a typo shows on the node before
        # anything runs (a linked preset arrives as None: checked when the node runs).
        if preset is None:
            return True
        try:
            parse_preset(preset)
        except ValueError as exc:
            return str(exc)
        return True

    async def pick(
        self,
        images: Any,
        mode: str = P.MODE_ALWAYS_ASK,
        min_picks: int = 1,
        max_picks: int = 0,
        title: str = "",
        timeout_seconds: int = 0,
        on_timeout: str = P.ON_TIMEOUT_CANCEL_RUN,
        latent: Any = None,
        mask: Any = None,
        frames_per_item: int = 1,
        preset: str = "",
        click_sends: bool = False,
        **hidden_inputs: Any,
    ) -> dict[str, Any]:
        hidden = Hidden.of(hidden_inputs)  # before any await: it reads which list item this is
        frames = image_batch_size(images)
        if not 1 <= frames <= MAX_BATCH:
            raise ValueError(f"the image batch must have 1 to {MAX_BATCH} images; it has {frames}")
        per_item = int(frames_per_item)
        count = item_count(frames, per_item)
        check_companions(frames, latent, mask)
        bounds = PickBounds.for_batch(count, int(min_picks), int(max_picks), clips=per_item > 1)
        presets = resolve_preset(parse_preset(preset if preset is not None else ""), count)
        question = PickQuestion(bounds, per_item, presets, bool(click_sends))

        def preset_picks() -> tuple[int, ...]:
            if not presets:
                raise ValueError("mode 'use preset' sends the preset, but the preset is empty: write e.g. 0,3,-1")
            try:
                return bounds.validate(list(presets))
            except InvalidAnswer as exc:
                raise ValueError(f"the preset {format_indices(presets)} does not fit the pick limits: {exc}") from None

        async def prepare() -> tuple[dict[str, Any], Any]:
            if click_sends and bounds.maximum != 1:
                raise ValueError(
                    f"click_sends sends the one item clicked, but {bounds.maximum} may be picked: set max_picks to 1"
                )
            # Thumbnails start in the background as soon as the request is published (ask()).
            batch = BatchImages(images, start=False)
            # Every image of a batch has one size: enough to lay out the grid at once.
            payload = {
                "title": title or self.DISPLAY_NAME,
                "on_timeout": on_timeout,
                "width": batch.width,
                "height": batch.height,
            }
            return payload, batch

        answer = await self.answer(
            question,
            mode=mode,
            on_timeout=on_timeout,
            title=title,
            timeout_s=timeout_seconds,
            hidden=hidden,
            fallbacks={GIVES_PRESET: preset_picks, GIVES_FIRST: lambda: (0,)},
            prepare=prepare,
        )
        return self._outputs(images, latent, mask, answer.value, count, per_item, answer.audit(hidden))

    def _outputs(
        self,
        images: Any,
        latent: Any,
        mask: Any,
        selection: tuple[int, ...],
        count: int,
        per_item: int,
        audit: dict[str, list[Any]],
    ) -> dict[str, Any]:
        picked = list(selection)
        rejected = left_out(picked, count)
        return {
            "ui": {"picked": picked, **audit},
            "result": (
                *_frames_of_batch(images, latent, mask, frames_of(picked, per_item)),
                format_indices(picked),
                picked,
                *_frames_of_batch(images, latent, mask, frames_of(rejected, per_item)),
                format_indices(rejected),
            ),
        }


def _frames_of_batch(images: Any, latent: Any, mask: Any, frames: list[int]) -> tuple[Any, Any, Any]:
    """These frames of the images, and of the latent and mask when connected (frame by frame).

    No frames at all (everything was picked, so nothing is rejected) is not an empty batch,
    which most nodes cannot take, but ComfyUI's "nothing here" (see ``server/comfy.nothing``): the
    nodes fed from it are skipped."""
    if not frames:
        nothing = _comfy.nothing()
        return nothing, (nothing if latent is not None else None), (nothing if mask is not None else None)
    picked_latent = select_latent(latent, frames) if latent is not None else None
    picked_mask = take(as_mask_batch(mask), frames) if mask is not None else None
    return take(images, frames), picked_latent, picked_mask
