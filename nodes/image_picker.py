"""The image picker: pause between stages, let a person keep the good images of a batch.

The node shows the batch in the browser (thumbnails first, full size on demand, served by
the pack's own image routes), waits for the person's picks, and outputs only those images,
with the matching latents and masks, in the order the person clicked them; and everything
not picked on outputs of its own. Items may be clips of several frames (``frames_per_item``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..images.batches import BatchImages
from ..questions.checks import duplicates, shown
from ..questions.describe import summarize
from ..questions.picks import frames_of, item_count, left_out, parse_preset, resolve_preset
from ..server import comfy as _comfy
from ..server import protocol as P
from ..server.errors import InvalidAnswer
from ..state import Outcome
from .base import MEMORY_HIDDEN_INPUTS, HitlNode, audit_ui, check_option, end_run_interrupted
from .memory import LastAnswerMemory, MemoryKey

log = logging.getLogger(__name__)

MODE_ASK = "always ask"
MODE_REPEAT = "repeat last selection"
MODE_PASS = "pass everything through"  # noqa: S105 (a mode's name, not a password)
MODE_PRESET = "use preset"
#: New modes go at the end: a saved workflow stores the mode by name, and old names stay.
MODES = (MODE_ASK, MODE_REPEAT, MODE_PASS, MODE_PRESET)

ON_TIMEOUT_ALL = "send all"
ON_TIMEOUT_FIRST = "send first"
ON_TIMEOUT_CANCEL = "cancel run"
TIMEOUT_ACTIONS = (ON_TIMEOUT_ALL, ON_TIMEOUT_FIRST, ON_TIMEOUT_CANCEL)

#: The largest batch the node accepts (the image route addresses at most 6-digit indices).
MAX_BATCH = 4096


@dataclass(frozen=True)
class PickBounds:
    """How many items a person may pick from a batch of ``count``: images, or with
    ``clips`` clips of several frames (which the messages and the summary then say)."""

    count: int
    minimum: int
    maximum: int
    clips: bool = False

    @classmethod
    def for_batch(cls, count: int, min_picks: int, max_picks: int, *, clips: bool = False) -> PickBounds:
        """Bounds from the node's widgets: ``max_picks`` 0 means "up to the whole batch";
        a minimum larger than the batch is lowered to the batch size (a batch of 2 cannot
        give 3 picks, and refusing would stop the run for no good reason)."""
        if min_picks < 1:
            raise ValueError(f"min_picks must be at least 1, not {min_picks}")
        if max_picks < 0:
            raise ValueError(f"max_picks must be 0 (no limit) or more, not {max_picks}")
        if max_picks and max_picks < min_picks:
            raise ValueError(f"max_picks ({max_picks}) is smaller than min_picks ({min_picks})")
        maximum = count if max_picks == 0 else min(max_picks, count)
        return cls(count=count, minimum=min(min_picks, count), maximum=maximum, clips=clips)

    def validate(self, value: Any) -> tuple[int, ...]:
        """A person's answer: a JSON list of distinct item indices, in the order clicked.

        Linear and bounded: a list longer than the most that may be picked is refused before
        any item is looked at, so the rest never sees more than ``maximum`` items."""
        noun = self._noun()
        if not isinstance(value, list):
            raise InvalidAnswer(f"the answer must be a list of {noun} indices, e.g. [0, 3]")
        if len(value) > self.maximum:
            raise InvalidAnswer(f"pick {self._wanted()} {noun}(s); got {len(value)}")
        for index in value:
            if isinstance(index, bool) or not isinstance(index, int):
                raise InvalidAnswer(f"every index must be an integer; got {shown(index)}")
            if not 0 <= index < self.count:
                raise InvalidAnswer(
                    f"index {shown(index)} is out of range: the batch has {noun}s 0 to {self.count - 1}"
                )
        repeated = duplicates(value)
        if repeated:
            raise InvalidAnswer(f"each {noun} can be picked once; picked twice: {sorted(repeated)}")
        if len(value) < self.minimum:
            raise InvalidAnswer(f"pick {self._wanted()} {noun}(s); got {len(value)}")
        return tuple(value)

    def summary(self) -> str:
        """What is asked, in a few words: "pick 2–4 of 32", "pick any of 8", "pick 1 of 6";
        clips say so: "pick 2 of 4 clips"."""
        if self.minimum == self.maximum:
            wanted = str(self.minimum)
        elif self.maximum >= self.count:
            wanted = "any" if self.minimum <= 1 else f"at least {self.minimum}"
        else:
            wanted = f"{self.minimum}–{self.maximum}"
        clips = "" if not self.clips else " clip" if self.count == 1 else " clips"
        return f"pick {wanted} of {self.count}{clips}"

    def _noun(self) -> str:
        return "clip" if self.clips else "image"

    def _wanted(self) -> str:
        return str(self.minimum) if self.minimum == self.maximum else f"{self.minimum} to {self.maximum}"

    def fits(self, selection: Sequence[int]) -> bool:
        """Whether a remembered selection is still a valid answer for this batch."""
        try:
            self.validate(list(selection))
        except InvalidAnswer:
            return False
        return True


def batch_size(value: Any, what: str) -> int:
    """The first dimension of a tensor or array, with a clear error for anything else."""
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) < 1:
        raise ValueError(f"{what} must be a tensor or array with a batch dimension; got {type(value).__name__}")
    return int(shape[0])


def image_batch_size(images: Any) -> int:
    """How many images an IMAGE batch [B, H, W, C] holds; a clear error for anything else
    (checked on the shape alone, before anything is converted or copied)."""
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[-1] not in (1, 3, 4) or min(shape[1:3]) < 1:
        raise ValueError(f"images must be an IMAGE batch [B, H, W, C] with C in 1, 3, 4; got shape {list(shape)}")
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


def format_indices(indices: Sequence[int]) -> str:
    """The STRING output: picked indices, 0-based, in pick order, e.g. "0,3"."""
    return ",".join(str(index) for index in indices)


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
    MEMORY_FACTORY = LastAnswerMemory
    memory: ClassVar[LastAnswerMemory[tuple[int, ...]]]  # made by HitlNode.bind, keyed by (workflow, node)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "images": ("IMAGE", {"tooltip": "The batch to pick from"}),
                "mode": (
                    list(MODES),
                    {
                        "default": MODE_ASK,
                        "tooltip": "Ask every run, reuse this node's last picks, or let everything through",
                    },
                ),
                "min_picks": ("INT", {"default": 1, "min": 1, "max": MAX_BATCH}),
                "max_picks": ("INT", {"default": 0, "min": 0, "max": MAX_BATCH, "tooltip": "0: up to the whole batch"}),
                "title": ("STRING", {"default": "Pick the images to keep"}),
                "timeout_seconds": (
                    "INT",
                    {"default": 0, "min": 0, "max": 7 * 24 * 3600, "tooltip": "0 waits forever"},
                ),
                "on_timeout": (
                    list(TIMEOUT_ACTIONS),
                    {"default": ON_TIMEOUT_CANCEL, "tooltip": "What happens when nobody picks in time"},
                ),
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

    @classmethod
    def IS_CHANGED(
        cls, mode: str = MODE_ASK, unique_id: str | None = None, hitl_workflow: Any = None, **_inputs: Any
    ) -> Any:
        # ComfyUI re-runs a node (and everything after it) when this value changes. Asking
        # must always re-run (a fresh NaN never equals the last one); but a node that passes
        # everything through, or repeats picks it remembers, gives the same output for the
        # same upstream batch, so it says "unchanged" and the stages after it stay cached.
        if mode == MODE_PASS:
            return MODE_PASS
        if mode == MODE_PRESET:
            return f"{MODE_PRESET}:{_inputs.get('preset')}"
        if mode == MODE_REPEAT:
            remembered = cls.remembered_for_cache(unique_id, hitl_workflow)
            if remembered is not None:
                return f"{MODE_REPEAT}:{format_indices(remembered)}"
        return float("nan")

    async def pick(
        self,
        images: Any,
        mode: str = MODE_ASK,
        min_picks: int = 1,
        max_picks: int = 0,
        title: str = "",
        timeout_seconds: int = 0,
        on_timeout: str = ON_TIMEOUT_CANCEL,
        latent: Any = None,
        mask: Any = None,
        frames_per_item: int = 1,
        preset: str = "",
        click_sends: bool = False,
        unique_id: str | None = None,
        extra_pnginfo: Any = None,
        api_prompt: Any = None,
        hitl_workflow: str | None = None,
    ) -> dict[str, Any]:
        check_option("mode", mode, MODES)
        check_option("on_timeout", on_timeout, TIMEOUT_ACTIONS)
        frames = image_batch_size(images)
        if not 1 <= frames <= MAX_BATCH:
            raise ValueError(f"the image batch must have 1 to {MAX_BATCH} images; it has {frames}")
        per_item = int(frames_per_item)
        count = item_count(frames, per_item)
        check_companions(frames, latent, mask)
        bounds = PickBounds.for_batch(count, int(min_picks), int(max_picks), clips=per_item > 1)
        presets = resolve_preset(parse_preset(preset if preset is not None else ""), count)
        node_key = self.memory_key(unique_id, stamped=hitl_workflow, api_prompt=api_prompt, extra_pnginfo=extra_pnginfo)

        selection: tuple[int, ...] | None = None
        audit: dict[str, list[Any]] = {}
        if mode == MODE_PASS:
            selection = tuple(range(count))
        elif mode == MODE_PRESET:
            if not presets:
                raise ValueError("mode 'use preset' sends the preset, but the preset is empty: write e.g. 0,3,-1")
            try:
                selection = bounds.validate(list(presets))
            except InvalidAnswer as exc:
                raise ValueError(f"the preset {format_indices(presets)} does not fit the pick limits: {exc}") from None
        elif mode == MODE_REPEAT:
            remembered = self.memory.recall(node_key)
            if remembered is not None and bounds.fits(remembered):
                selection = remembered
            elif remembered is not None:
                log.info("picker %s: the remembered picks %s do not fit this batch; asking", node_key, remembered)
        if selection is None:
            if click_sends and bounds.maximum != 1:
                raise ValueError(
                    f"click_sends sends the one item clicked, but {bounds.maximum} may be picked: set max_picks to 1"
                )
            question = Question(bounds, per_item, presets, bool(click_sends))
            selection, outcome = await self._ask(
                images, question, title, timeout_seconds, on_timeout, unique_id, extra_pnginfo, node_key
            )
            audit = audit_ui(outcome, extra_pnginfo)
        return self._outputs(images, latent, mask, selection, count, per_item, audit)

    async def _ask(
        self,
        images: Any,
        question: Question,
        title: str,
        timeout_seconds: int,
        on_timeout: str,
        unique_id: str | None,
        extra_pnginfo: Any,
        node_key: MemoryKey | None,
    ) -> tuple[tuple[int, ...], Outcome]:
        bounds = question.bounds
        # Thumbnails start in the background as soon as the request is published (ask()).
        batch = BatchImages(images, start=False)
        try:
            payload: dict[str, Any] = {
                "title": title or self.DISPLAY_NAME,
                "count": bounds.count,
                "min_picks": bounds.minimum,
                "max_picks": bounds.maximum,
                "on_timeout": on_timeout,
                # Every image of a batch has one size: enough to lay out the grid at once.
                "width": batch.width,
                "height": batch.height,
                "frames_per_item": question.frames_per_item,
                "preset": list(question.preset),
                "click_sends": question.click_sends,
            }
            outcome = await self.ask(
                P.KIND_IMAGE_PICKER,
                payload,
                unique_id=unique_id,
                extra_pnginfo=extra_pnginfo,
                timeout_s=timeout_seconds,
                validate=bounds.validate,
                resources=batch,
                summary=summarize(title, bounds.summary()),
            )
        finally:
            batch.close()
        if outcome.answered:
            selection: tuple[int, ...] = outcome.value
            self.memory.remember(node_key, selection)
            return selection, outcome
        if outcome.reason == P.REASON_TIMEOUT and on_timeout != ON_TIMEOUT_CANCEL:
            # A timeout is not a person's choice: it is never remembered for repeat mode.
            log.info("picker %s: nobody picked within %s s; %s", unique_id, timeout_seconds, on_timeout)
            return (tuple(range(bounds.count)) if on_timeout == ON_TIMEOUT_ALL else (0,)), outcome
        end_run_interrupted(outcome)

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


@dataclass(frozen=True)
class Question:
    """What the dialog asks: how many items may be picked, how many frames an item has,
    the items picked in advance (the preset), and whether one click sends."""

    bounds: PickBounds
    frames_per_item: int
    preset: tuple[int, ...]
    click_sends: bool


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
