"""A painted mask: the mask painter's question (:class:`MaskQuestion`).

The answer is what the person did, not pixels: per image an ordered list of strokes and
whole-mask operations (``images/mask_strokes.py`` checks it with ``parse_answer`` and draws
it). "Repeat last mask" keeps the answer with the size it was painted on
(:class:`RememberedMask`) and draws it again while that size fits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from ..images.mask_strokes import MaskAnswer, MaskAnswerError, parse_answer
from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import Question


@dataclass(frozen=True)
class RememberedMask:
    """A painted answer, for "repeat last mask": what was drawn, on what size, and which
    request gave it (so ComfyUI's cache key changes when, and only when, it does)."""

    answer: MaskAnswer
    count: int
    height: int
    width: int
    token: str = field(default_factory=lambda: secrets.token_hex(8))

    def fits(self, count: int, height: int, width: int) -> bool:
        return (height, width) == (self.height, self.width) and (self.answer.same_for_all or count == self.count)


class MaskQuestion(Question):
    """A mask to paint on ``count`` images of ``width`` × ``height``; the answer is a
    :class:`MaskAnswer` (strokes and operations per image, or one list for all)."""

    kind = P.KIND_MASK_PAINTER
    memory_tag = "mask"

    def __init__(self, count: int, height: int, width: int) -> None:
        self.count = count
        self.height = height
        self.width = width

    def __repr__(self) -> str:
        return f"<MaskQuestion {self.count}×{self.width}×{self.height}>"

    def validate(self, value: Any) -> MaskAnswer:
        try:
            return parse_answer(value, count=self.count, width=self.width, height=self.height)
        except MaskAnswerError as exc:
            raise InvalidAnswer(str(exc)) from None

    def describe(self) -> dict[str, Any]:
        return {"count": self.count, "width": self.width, "height": self.height}

    def summary(self) -> str:
        return f"paint a mask on {self.count} image{'s' if self.count != 1 else ''} of {self.width}×{self.height}"

    def default(self) -> MaskAnswer:
        """Nothing painted: drawn on the input mask, it gives the input mask."""
        return MaskAnswer(True, ((),), (0,))

    def record(self, value: MaskAnswer) -> dict[str, Any]:
        """The answer's shape (operations per image, strokes), never the strokes' points."""
        return value.as_record()

    def summarize_answer(self, value: MaskAnswer) -> str:
        """What was painted: "3 strokes on 2 images", "2 strokes, the same on all 4 images"."""
        strokes = value.stroke_count
        what = f"{strokes} stroke{'s' if strokes != 1 else ''}"
        others = sum(len(ops) for ops in value.masks) - strokes
        if others:
            what += f" and {others} other operation{'s' if others != 1 else ''}"
        images = f"{self.count} image{'s' if self.count != 1 else ''}"
        if value.same_for_all:
            return f"{what}, the same on all {images}" if self.count > 1 else f"{what} on 1 image"
        painted = sum(1 for ops in value.masks if ops)
        return f"{what} on {painted} of {images}" if painted != self.count else f"{what} on {images}"

    def remembered(self, value: MaskAnswer) -> RememberedMask:
        return RememberedMask(value, self.count, self.height, self.width)

    def recall(self, kept: Any) -> RememberedMask | None:
        return kept if isinstance(kept, RememberedMask) and kept.fits(self.count, self.height, self.width) else None

    def fingerprint(self, kept: Any) -> str:
        return str(kept.token)
