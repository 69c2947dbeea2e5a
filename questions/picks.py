"""Picking from a batch: the picker's question (:class:`PickQuestion`: how many of how many
items, :class:`PickBounds`), items of several frames (clips), preset pick lists such as
"0,3,-1", and the items left out (the rejects).

An *item* is what the person picks: one image, or with ``frames_per_item`` n > 1 a clip of
n consecutive frames of the batch (item k is frames k·n to k·n + n − 1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import Question
from .checks import duplicates, shown

#: The longest preset accepted, in characters (a few per entry, up to the largest batch).
MAX_PRESET_CHARS = 32_768
#: One preset entry: an index, negative counting from the end (ASCII digits only: int()
#: alone would also take "١٢", "1_0" or " +3").
_ENTRY = re.compile(r"-?[0-9]+")
#: More digits than any index of a batch can have (the node takes at most 4096 images).
_MAX_DIGITS = 7
PRESET_EXAMPLE = "write item indices separated by commas, e.g. 0,3,-1 (-1 is the last)"


def _shown(text: str, limit: int = 24) -> str:
    """A piece of user text safe to quote in an error message: escaped, and cut short."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def parse_preset(text: str) -> tuple[int, ...]:
    """The entries of a preset pick list, in order: "0, 3, -1" is (0, 3, -1); empty or blank
    text is no preset. ``ValueError`` with a clear message for anything else.

    Checked when the prompt is queued (the batch size is not known then: entries are
    resolved against it by :func:`resolve_preset` when the node runs)."""
    if not isinstance(text, str):
        raise ValueError(f"the preset must be text; got {type(text).__name__}")
    if len(text) > MAX_PRESET_CHARS:
        raise ValueError(f"the preset is too long ({len(text)} characters; at most {MAX_PRESET_CHARS})")
    if not text.strip():
        return ()
    entries = []
    for position, raw in enumerate(text.split(","), start=1):
        entry = raw.strip()
        if not entry:
            raise ValueError(f"preset entry {position} is empty: {PRESET_EXAMPLE}")
        if not _ENTRY.fullmatch(entry):
            raise ValueError(f"preset entry {position} ({_shown(entry)}) is not a whole number: {PRESET_EXAMPLE}")
        if len(entry.lstrip("-")) > _MAX_DIGITS:
            raise ValueError(f"preset entry {position} ({_shown(entry)}) is far beyond any batch")
        entries.append(int(entry))
    return tuple(entries)


def resolve_preset(entries: Sequence[int], count: int) -> tuple[int, ...]:
    """Preset entries as item indices of a batch of ``count`` items: -1 is the last item.
    ``ValueError`` for an entry outside the batch or an item named twice."""
    resolved = []
    seen: dict[int, int] = {}
    for entry in entries:
        if not -count <= entry < count:
            raise ValueError(
                f"the preset names item {entry}, but the batch has {count} item(s): 0 to {count - 1}, or -1 to -{count}"
            )
        index = entry % count
        if index in seen:
            raise ValueError(f"the preset names item {index} twice (as {seen[index]} and {entry})")
        seen[index] = entry
        resolved.append(index)
    return tuple(resolved)


def item_count(frames: int, frames_per_item: int) -> int:
    """How many items a batch of ``frames`` holds; ``ValueError`` unless they divide evenly."""
    if frames_per_item < 1:
        raise ValueError(f"frames_per_item must be at least 1, not {frames_per_item}")
    items, left_over = divmod(frames, frames_per_item)
    if left_over or not items:
        raise ValueError(
            f"the batch has {frames} frame(s), which do not make whole clips of {frames_per_item} "
            f"(frames_per_item): {left_over or frames} left over. Give a batch of a multiple of "
            f"{frames_per_item} frames, or set frames_per_item to a number that divides {frames}"
        )
    return items


def frames_of(items: Sequence[int], frames_per_item: int) -> list[int]:
    """Every frame of these items, item after item, each item's frames in order."""
    return [item * frames_per_item + frame for item in items for frame in range(frames_per_item)]


def left_out(picked: Sequence[int], count: int) -> list[int]:
    """The items of a batch of ``count`` that were not picked, in batch order."""
    taken = set(picked)
    return [item for item in range(count) if item not in taken]


def format_indices(indices: Sequence[int]) -> str:
    """The STRING output: picked indices, 0-based, in pick order, e.g. "0,3"."""
    return ",".join(str(index) for index in indices)


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


class PickQuestion(Question):
    """What the picker asks: pick within ``bounds`` from a batch of items of
    ``frames_per_item`` frames, with the items picked in advance (``preset``), and whether
    one click sends. The answer is the picked item indices, in the order picked."""

    kind = P.KIND_IMAGE_PICKER
    memory_tag = "picks"

    def __init__(
        self, bounds: PickBounds, frames_per_item: int = 1, preset: Sequence[int] = (), click_sends: bool = False
    ) -> None:
        self.bounds = bounds
        self.frames_per_item = frames_per_item
        self.preset = tuple(preset)
        self.click_sends = click_sends

    def __repr__(self) -> str:
        return f"<PickQuestion {self.bounds.summary()}>"

    def validate(self, value: Any) -> tuple[int, ...]:
        return self.bounds.validate(value)

    def describe(self) -> dict[str, Any]:
        return {
            "count": self.bounds.count,
            "min_picks": self.bounds.minimum,
            "max_picks": self.bounds.maximum,
            "frames_per_item": self.frames_per_item,
            "preset": list(self.preset),
            "click_sends": self.click_sends,
        }

    def summary(self) -> str:
        return self.bounds.summary()

    def default(self) -> tuple[int, ...]:
        """Everything: what "pass everything through" and "send all" give."""
        return tuple(range(self.bounds.count))

    def summarize_answer(self, value: Sequence[int]) -> str:
        """The picks as the dialog numbers them (from 1), in the order picked: "3, 1 of 4"."""
        noun = "clips" if self.bounds.clips else "images"
        picked = ", ".join(str(index + 1) for index in value)
        return f"{picked} of {self.bounds.count} {noun}" if value else f"none of {self.bounds.count} {noun}"

    def recall(self, kept: Any) -> tuple[int, ...] | None:
        return tuple(kept) if self.bounds.fits(kept) else None

    def fingerprint(self, kept: Any) -> str:
        return format_indices(kept)
