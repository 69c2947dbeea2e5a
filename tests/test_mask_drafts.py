"""Masks drawn ahead from the painter's drafts: the answer comes out exactly as if drawn whole,
whatever drafts came before it (more strokes, undos, a switch to the same mask for all, none)."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from dev.harness.pack import submodule

strokes = submodule("images.mask_strokes")
mask_drafts = submodule("images.mask_drafts")

WIDTH, HEIGHT = 160, 120


def stroke(rng: np.random.Generator, op: str = "brush", size: float | None = None) -> dict[str, Any]:
    points = rng.uniform(-10, [WIDTH + 10, HEIGHT + 10], (int(rng.integers(1, 6)), 2))
    return {
        "op": op,
        "size": float(rng.choice([6, 20])) if size is None else size,
        "hardness": 0.5,
        "points": [round(v * 4) for v in points.ravel()],
    }


def answer(masks: list[list[dict]], same_for_all: bool = False) -> dict[str, Any]:
    return {"same_for_all": same_for_all, "masks": masks}


def parsed(value: dict[str, Any], count: int) -> Any:
    return strokes.parse_answer(value, count=count, width=WIDTH, height=HEIGHT)


def whole(value: dict[str, Any], starts: list[np.ndarray | None]) -> np.ndarray:
    return strokes.draw_answer(parsed(value, len(starts)), len(starts), HEIGHT, WIDTH, starts)


def worker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "hitl-mask-drafts"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_each_draft_adds_a_stroke_and_the_answer_only_adds_the_last(rng: np.random.Generator) -> None:
    starts = [np.linspace(0, 1, WIDTH * HEIGHT, dtype=np.float32).reshape(HEIGHT, WIDTH)]
    drafts = mask_drafts.MaskDrafts(1, HEIGHT, WIDTH, starts)
    ops: list[dict] = []
    for index in range(40):
        ops.append(stroke(rng, "erase" if index % 7 == 3 else "brush"))
        if index == 20:
            ops.append({"op": "invert"})
        drafts.offer(answer([list(ops)]))
        assert drafts.wait_idle(30)
    assert drafts.drafts == 40
    final = answer([[*ops, stroke(rng)]])
    masks, ahead = drafts.finish(parsed(final, 1))
    assert ahead == len(ops)  # everything but the last stroke was drawn ahead
    assert np.abs(masks - whole(final, starts)).max() < 1e-5
    assert masks[0].std() > 0.1


def test_an_undo_draws_again_from_the_start(rng: np.random.Generator) -> None:
    drafts = mask_drafts.MaskDrafts(1, HEIGHT, WIDTH, [None])
    ops = [stroke(rng) for _ in range(12)]
    drafts.offer(answer([ops]))
    assert drafts.wait_idle(30)
    undone = [*ops[:5], stroke(rng)]  # five kept, the rest undone, one new stroke
    drafts.offer(answer([undone]))
    assert drafts.wait_idle(30)
    final = answer([[*undone, {"op": "fill"}, stroke(rng, "erase")]])
    masks, ahead = drafts.finish(parsed(final, 1))
    assert ahead == len(undone)
    assert np.abs(masks - whole(final, [None])).max() < 1e-5


def test_an_answer_that_parts_from_the_drafts_is_drawn_whole(rng: np.random.Generator) -> None:
    drafts = mask_drafts.MaskDrafts(1, HEIGHT, WIDTH, [None])
    drafts.offer(answer([[stroke(rng) for _ in range(6)]]))
    assert drafts.wait_idle(30)
    final = answer([[stroke(rng) for _ in range(3)]])
    masks, ahead = drafts.finish(parsed(final, 1))
    assert ahead == 0 and np.abs(masks - whole(final, [None])).max() < 1e-5


def test_a_batch_per_image_and_the_same_mask_for_all(rng: np.random.Generator) -> None:
    starts: list[np.ndarray | None] = [np.full((HEIGHT, WIDTH), value, np.float32) for value in (0.1, 0.2, 0.3)]
    drafts = mask_drafts.MaskDrafts(3, HEIGHT, WIDTH, starts)
    shared = [stroke(rng) for _ in range(4)]
    drafts.offer(answer([shared], same_for_all=True))
    assert drafts.wait_idle(30)
    # Then per image: image 0 goes on from the shared strokes (same start), image 2 is painted.
    per_image = [[*shared, stroke(rng)], [], [stroke(rng), stroke(rng)]]
    drafts.offer(answer(per_image))
    assert drafts.wait_idle(30)
    masks, ahead = drafts.finish(parsed(answer(per_image), 3))
    assert ahead == 5 + 2
    assert np.abs(masks - whole(answer(per_image), starts)).max() < 1e-5
    assert (masks[1] == np.float32(0.2)).all()  # never painted: its input mask

    again = mask_drafts.MaskDrafts(3, HEIGHT, WIDTH, starts)
    again.offer(answer(per_image))
    assert again.wait_idle(30)
    final = answer([shared], same_for_all=True)
    masks, ahead = again.finish(parsed(final, 3))
    assert ahead == 0  # image 0's own strokes are not a prefix of the shared list
    expected = whole(final, starts)
    assert np.abs(masks - expected).max() < 1e-5 and np.array_equal(masks[1], masks[0])


def test_a_bad_draft_is_refused_and_changes_nothing(rng: np.random.Generator) -> None:
    drafts = mask_drafts.MaskDrafts(1, HEIGHT, WIDTH, [None])
    ops = [stroke(rng) for _ in range(3)]
    drafts.offer(answer([ops]))
    assert drafts.wait_idle(30)
    for bad in ({"masks": "x"}, answer([[{"op": "paint"}]]), answer([[], []]), [1, 2]):
        with pytest.raises(strokes.MaskAnswerError):
            drafts.offer(bad)
    assert drafts.drafts == 1
    final = answer([[*ops, stroke(rng)]])
    masks, ahead = drafts.finish(parsed(final, 1))
    assert ahead == 3 and np.abs(masks - whole(final, [None])).max() < 1e-5


def test_the_answer_stops_a_long_draft_and_is_drawn_right(rng: np.random.Generator) -> None:
    drafts = mask_drafts.MaskDrafts(1, HEIGHT, WIDTH, [None])
    ops = [stroke(rng, size=2) for _ in range(mask_drafts.CHUNK_OPS * 12)]
    drafts.offer(answer([ops]))  # many chunks: the answer comes while they are drawn
    final = answer([[*ops, stroke(rng)]])
    masks, ahead = drafts.finish(parsed(final, 1))
    assert ahead % mask_drafts.CHUNK_OPS == 0 and ahead <= len(ops)
    assert np.abs(masks - whole(final, [None])).max() < 1e-5
    # Finished: the worker is gone, and a late draft is taken by nobody.
    for thread in worker_threads():
        thread.join(10)
    assert not worker_threads()
    drafts.offer(answer([ops]))
    assert not worker_threads() and drafts.drafts == 1


def test_closing_stops_the_worker_and_lets_the_masks_go(rng: np.random.Generator) -> None:
    drafts = mask_drafts.MaskDrafts(2, HEIGHT, WIDTH, [None, None])
    drafts.offer(answer([[stroke(rng)], [stroke(rng)]]))
    assert drafts.wait_idle(30)
    assert worker_threads()
    drafts.close()
    for thread in worker_threads():
        thread.join(10)
    assert not worker_threads()
    assert "closed" in repr(drafts) and drafts._masks is None


def test_no_draft_draws_the_answer_whole(rng: np.random.Generator) -> None:
    drafts = mask_drafts.MaskDrafts(2, HEIGHT, WIDTH, [None, None])
    final = answer([[stroke(rng)], []])
    masks, ahead = drafts.finish(parsed(final, 2))
    assert ahead == 0 and np.abs(masks - whole(final, [None, None])).max() < 1e-5
    assert not worker_threads()
