"""What a picker's selection means for a batch: items of several frames (clips), preset pick
lists such as "0,3,-1", and the items left out (the rejects).

An *item* is what the person picks: one image, or with ``frames_per_item`` n > 1 a clip of
n consecutive frames of the batch (item k is frames k·n to k·n + n − 1).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
