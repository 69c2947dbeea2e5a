"""Masks drawn ahead: the mask painter's strokes drawn on the server while the person paints.

After each change the painter sends what is painted so far, a *draft*: an answer the person
has not sent. A worker thread draws a draft into the masks the node will return (one at a
time: a draft that comes while another is drawn is dropped, and the answer draws the rest),
going on from what it drew before when the new draft only adds operations (the usual case:
one more stroke) and starting again when it does not (an undo, a switch to "same mask for
all"). When the answer comes, only what it adds to the last draft drawn is left to draw, so
Send resumes the run in milliseconds however long the person painted.

A draft is checked exactly as an answer is (:func:`._mask_strokes.parse_answer`) and decides
nothing: only the answer ends the request, and what the node returns is always the answer
drawn (the drafts only spare work when they are a prefix of it). The route that takes a draft
only checks it and hands it over; it never waits for drawing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .mask_strokes import MaskAnswer, MaskOp, draw, parse_answer

log = logging.getLogger(__name__)

#: The worker draws this many operations at a time, then looks whether the answer has come
#: (so Send never waits long for a draft being drawn).
CHUNK_OPS = 16


def _goes_on(ops: tuple[MaskOp, ...], drawn: tuple[MaskOp, ...] | None) -> bool:
    """Whether ``ops`` go on from ``drawn`` (a slot drawn with them is a start for ``ops``)."""
    return drawn is not None and ops[: len(drawn)] == drawn


class MaskDrafts:
    """The masks of one mask painter request, drawn ahead from its drafts.

    ``starts[i]`` is image i's starting mask (None: empty), as for ``draw_answer``. Slot i of
    the masks holds image i drawn with ``_drawn[i]``, a prefix of the last draft's operations
    for it (the same mask for all is drawn in slot 0, which starts from ``starts[0]`` either
    way). Everything but the drawing itself happens under ``_lock``; the slots are written by
    the worker only, and read by :meth:`finish` only once the worker has stopped."""

    def __init__(self, count: int, height: int, width: int, starts: Sequence[np.ndarray | None]) -> None:
        self.count, self.height, self.width = count, height, width
        self._starts = list(starts)
        self._lock = threading.Condition()
        self._pending: MaskAnswer | None = None
        self._drawn: list[tuple[MaskOp, ...] | None] = [None] * count
        self._masks: np.ndarray | None = None  # allocated by the first draft
        self._busy = False
        self._closed = False
        self._worker: threading.Thread | None = None
        self.drafts = 0  # drafts taken
        self.dropped = 0  # drafts dropped because one was being drawn

    def __repr__(self) -> str:
        with self._lock:
            drawn = sum(len(ops) for ops in self._drawn if ops)
            state = "closed" if self._closed else "busy" if self._busy else "idle"
            return (
                f"<MaskDrafts {self.count}×{self.height}×{self.width} {state} drafts={self.drafts} drawn_ops={drawn}>"
            )

    # ------------------------------------------------------------------ taking
    def offer(self, value: Any) -> None:
        """Take a draft (as the route got it): checked like an answer (``MaskAnswerError``,
        a ValueError, says what is wrong, and nothing changes), then drawn in the background.

        While a draft is being drawn (or waits to be), a new one is dropped, not queued: a
        client that sends drafts as fast as it can gets one drawing at a time, never a
        backlog. Nothing is lost: the answer draws whatever the drafts did not."""
        draft = parse_answer(value, count=self.count, width=self.width, height=self.height)
        with self._lock:
            if self._closed:
                return
            if self._busy or self._pending is not None:
                self.dropped += 1
                return
            self._pending = draft
            self.drafts += 1
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="hitl-mask-drafts", daemon=True)
                self._worker.start()
            self._lock.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every draft taken is drawn (or the drafts are closed); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._closed or (self._pending is None and not self._busy), timeout)

    # ----------------------------------------------------------------- drawing
    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._closed or self._pending is not None)
                draft, self._pending = self._pending, None
                if self._closed or draft is None:
                    self._worker = None
                    self._lock.notify_all()
                    return
                self._busy = True
            try:
                self._draw(draft)
            except Exception:
                # Never the run's problem: the answer is drawn whole when the drafts fail.
                log.exception("drawing a mask painter draft failed; the answer will be drawn whole")
                with self._lock:
                    self._drawn = [None] * self.count
            finally:
                with self._lock:
                    self._busy = False
                    self._lock.notify_all()

    def _draw(self, draft: MaskAnswer) -> None:
        with self._lock:
            if self._masks is None:
                # Not touched (so not in memory) until drawn: an image never painted costs nothing.
                self._masks = np.empty((self.count, self.height, self.width), np.float32)
            masks = self._masks
        for index in range(1 if draft.same_for_all else self.count):
            ops = draft.ops_for(index)
            with self._lock:
                drawn = self._drawn[index]
                if drawn is not None and not _goes_on(ops, drawn):
                    drawn = self._drawn[index] = None  # the slot is about to change
            if drawn is None:
                if not ops:
                    continue
                draw((), self.height, self.width, self._starts[index], out=masks[index])
                drawn = ()
            for first in range(len(drawn), len(ops), CHUNK_OPS):
                with self._lock:
                    if self._closed:
                        return
                    self._drawn[index] = None  # (mid-chunk the slot matches no prefix)
                chunk = ops[first : first + CHUNK_OPS]
                draw(chunk, self.height, self.width, masks[index], out=masks[index])
                with self._lock:
                    self._drawn[index] = ops[: first + len(chunk)]

    # -------------------------------------------------------------- finishing
    def close(self) -> None:
        """Stop drawing and let the masks go (the request ended)."""
        with self._lock:
            self._closed = True
            self._masks = None
            self._drawn = [None] * self.count
            self._lock.notify_all()

    def finish(self, answer: MaskAnswer) -> tuple[np.ndarray, int]:
        """The masks [count, height, width] of ``answer``, going on from the drafts drawn
        where they are a prefix of it; and how many of its operations were drawn ahead.
        Stops the worker (waiting at most for the chunk it is drawing); call once."""
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            self._lock.wait_for(lambda: not self._busy)
            masks, drawn_ahead = self._masks, list(self._drawn)
            self._masks = None
        if masks is None:
            masks = np.empty((self.count, self.height, self.width), np.float32)
        ahead = 0
        for index in range(1 if answer.same_for_all else self.count):
            ops, drawn = answer.ops_for(index), drawn_ahead[index]
            if drawn is not None and _goes_on(ops, drawn):
                ahead += len(drawn)
                if len(ops) > len(drawn):
                    draw(ops[len(drawn) :], self.height, self.width, masks[index], out=masks[index])
            else:
                draw(ops, self.height, self.width, self._starts[index], out=masks[index])
        if answer.same_for_all:
            masks[1:] = masks[0]
        return masks, ahead
