"""The mask painter's answers: checking (bounded, linear, clear messages) and drawing (the
brush model at full resolution, the same as the browser's twin in web/mask_strokes.js)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from typing import Any

import numpy as np
import pytest

from dev.harness.pack import ROOT, submodule

strokes = submodule("images.mask_strokes")
P = submodule("server.protocol")
LIMITS = P.MASK_LIMITS


def brush(points: list[float], *, size: float = 10, hardness: float = 1.0, op: str = "brush", **extra: Any) -> dict:
    """A stroke through pixel coordinates (converted to the answer's quarter pixels)."""
    return {"op": op, "size": size, "hardness": hardness, "points": [round(v * 4) for v in points], **extra}


def parse(ops: list[dict], width: int = 64, height: int = 48, **answer: Any) -> Any:
    return strokes.parse_answer({"masks": [ops], **answer}, count=1, width=width, height=height)


def draw(ops: list[dict], width: int = 64, height: int = 48, start: np.ndarray | None = None) -> np.ndarray:
    return strokes.draw(parse(ops, width, height).masks[0], height, width, start)


def reference(height: int, width: int, stroke: Any) -> np.ndarray:
    """The brush model evaluated in float64 at every pixel, segment by segment: the spec."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    points, radii = stroke.points, stroke.radii
    pairs = [(0, 0)] if len(points) == 1 else [(k, k + 1) for k in range(len(points) - 1)]
    coverage = np.zeros((height, width))
    for a, b in pairs:
        (x0, y0), (x1, y1) = points[a], points[b]
        dx, dy = x1 - x0, y1 - y0
        length_sq = dx * dx + dy * dy
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / length_sq, 0, 1) if length_sq else np.zeros_like(xs)
        distance = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
        radius = radii[a] + t * (radii[b] - radii[a])
        edge = np.maximum(radius * (1 - stroke.hardness), 1)
        u = np.clip((radius - distance) / edge, 0, 1)
        coverage = np.maximum(coverage, u * u * (3 - 2 * u))
    return coverage


# ------------------------------------------------------------------------ the model
def test_a_hard_dot_covers_its_radius_with_a_one_pixel_soft_edge() -> None:
    mask = draw([brush([10.5, 10.5], size=9, hardness=1)])
    assert mask[10, 10] == 1.0  # the centre
    assert mask[10, 14] == pytest.approx(0.5)  # 4 px away: half way across the 1 px edge below r = 4.5
    assert mask[10, 15] == 0.0 and mask[10, 6] == pytest.approx(0.5) and mask[10, 5] == 0.0
    assert mask[10, 7] == 1.0 and mask[13, 10] == 1.0 and mask[15, 10] == 0.0
    assert mask.dtype == np.float32 and mask.shape == (48, 64)


def test_a_soft_brush_fades_from_the_inner_radius() -> None:
    # hardness 0.5, radius 20: coverage 1 within 10 px, smoothstep down to 0 at 20 px.
    mask = draw([brush([32.5, 24.5], size=40, hardness=0.5)])
    assert mask[24, 32 + 9] == 1.0
    assert mask[24, 32 + 15] == pytest.approx(0.5)
    assert 0 < mask[24, 32 + 19] < 0.05 and mask[24, 32 + 20] == 0.0


def test_a_segment_is_a_capsule_and_the_eraser_takes_the_minimum() -> None:
    mask = draw(
        [
            brush([8.5, 20.5, 50.5, 20.5], size=7),
            brush([30.5, 20.5], size=4, op="erase"),
        ]
    )
    assert mask[20, 8:51].min() < 1.0  # the erased hole
    assert mask[20, 30] == 0.0 and mask[20, 8] == 1.0 and mask[20, 50] == 1.0
    assert mask[20, 4:13].tolist() == pytest.approx(mask[20, 54:45:-1].tolist())  # round caps, symmetric
    assert mask[18, 20] == 1.0 and mask[23, 20] == pytest.approx(0.5) and mask[24, 20] == 0.0


def test_whole_mask_operations_and_the_start_mask() -> None:
    start = np.full((48, 64), 0.25, np.float32)
    assert draw([{"op": "invert"}], start=start) == pytest.approx(np.full((48, 64), 0.75))
    assert draw([{"op": "fill"}, brush([5.5, 5.5], size=6, op="erase")], start=start)[20, 20] == 1.0
    cleared = draw([brush([5.5, 5.5], size=6), {"op": "clear"}], start=start)
    assert not cleared.any()
    kept = draw([brush([5.5, 5.5], size=6)], start=start)
    assert kept[5, 5] == 1.0 and kept[30, 30] == 0.25  # max with the start mask, elsewhere unchanged
    assert start[5, 5] == 0.25  # the start mask is not modified
    order = draw([{"op": "invert"}, brush([5.5, 5.5], size=6, op="erase"), {"op": "invert"}], start=start)
    assert order[5, 5] == 1.0 and order[30, 30] == pytest.approx(0.25)  # operations apply in order


@pytest.mark.parametrize(("width", "height"), [(64, 64), (300, 17), (17, 300), (1, 1), (1, 40), (257, 129)])
def test_drawing_matches_the_model_at_every_pixel(width: int, height: int) -> None:
    rng = np.random.default_rng(width * 1000 + height)
    for trial in range(12):
        count = int(rng.integers(1, 7))
        xs = rng.uniform(-0.3 * width, 1.3 * width, count)
        ys = rng.uniform(-0.3 * height, 1.3 * height, count)
        points = [float(v) for pair in zip(xs, ys, strict=True) for v in pair]
        extra = {"pressure": [int(v) for v in rng.integers(0, 256, count)]} if trial % 2 else {}
        op = brush(points, size=float(rng.uniform(1, 1.5 * max(width, height))), hardness=float(rng.random()), **extra)
        answer = parse([op], width, height)
        stroke = answer.masks[0][0]
        got = strokes.draw(answer.masks[0], height, width)
        assert np.abs(got - reference(height, width, stroke)).max() < 2e-4, (trial, op)


def test_long_diagonal_segments_are_drawn_whole() -> None:
    # One segment across a large image is drawn in windows along it: nothing may be missed.
    op = brush([-100, -90, 1100, 1010], size=6, hardness=0.3)
    answer = parse([op], 1024, 1000)
    mask = strokes.draw(answer.masks[0], 1000, 1024)
    expected = reference(1000, 1024, answer.masks[0][0])
    assert np.abs(mask - expected).max() < 2e-4
    assert mask.sum() == pytest.approx(expected.sum(), rel=1e-5)


def test_same_for_all_draws_once_on_the_first_start_mask() -> None:
    answer = strokes.parse_answer(
        {"same_for_all": True, "masks": [[brush([2.5, 2.5], size=3)]]}, count=3, width=8, height=8
    )
    starts = [np.full((8, 8), v, np.float32) for v in (0.1, 0.2, 0.3)]
    masks = strokes.draw_answer(answer, 3, 8, 8, starts)
    assert masks.shape == (3, 8, 8) and (masks == masks[0]).all()
    assert masks[0, 7, 7] == pytest.approx(0.1) and masks[0, 2, 2] == 1.0
    per_image = strokes.parse_answer(
        {"masks": [[], [{"op": "fill"}], [brush([2.5, 2.5], size=3)]]}, count=3, width=8, height=8
    )
    masks = strokes.draw_answer(per_image, 3, 8, 8, starts)
    assert masks[0] == pytest.approx(starts[0]) and (masks[1] == 1).all() and masks[2, 7, 7] == pytest.approx(0.3)


# -------------------------------------------------------------- the browser's twin
def node_paint(width: int, height: int, ops: list[dict], start: np.ndarray | None) -> np.ndarray:
    """What web/mask_strokes.js draws for the same answer (8-bit), run by Node."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run web/mask_strokes.js (the README's test command installs it)")
    script = (
        "import { MaskDoc } from './web/mask_strokes.js';"
        "let text = ''; for await (const chunk of process.stdin) text += chunk;"
        "const { width, height, start, ops } = JSON.parse(text);"
        "const doc = new MaskDoc(width, height, start ? Uint8Array.from(Buffer.from(start, 'base64')) : null);"
        "doc.replay(ops); process.stdout.write(Buffer.from(doc.mask).toString('base64'));"
    )
    payload = {
        "width": width,
        "height": height,
        "start": None if start is None else base64.b64encode(start.tobytes()).decode(),
        "ops": ops,
    }
    output = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=ROOT,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return np.frombuffer(base64.b64decode(output), np.uint8).reshape(height, width)


def random_ops(rng: np.random.Generator, width: int, height: int, count: int) -> list[dict]:
    ops: list[dict] = []
    for _ in range(count):
        if rng.random() < 0.06:
            ops.append({"op": str(rng.choice(["clear", "invert", "fill"]))})
            continue
        length = int(rng.integers(1, 14))
        x, y = rng.uniform(-20, width + 20), rng.uniform(-20, height + 20)
        points: list[float] = []
        for _ in range(length):
            points += [min(max(x, -width), 2 * width), min(max(y, -height), 2 * height)]
            x, y = x + rng.normal(0, 25), y + rng.normal(0, 25)
        extra = {"pressure": [int(v) for v in rng.integers(0, 256, length)]} if rng.random() < 0.4 else {}
        tool = "erase" if rng.random() < 0.3 else "brush"
        size = round(float(rng.uniform(1, 90)), 2)
        ops.append(brush(points, size=size, hardness=round(float(rng.random()), 3), op=tool, **extra))
    return ops


@pytest.mark.parametrize(("width", "height"), [(256, 256), (300, 170), (97, 411), (640, 360)])
def test_the_browser_draws_what_the_server_draws(width: int, height: int) -> None:
    rng = np.random.default_rng(width + height)
    for trial in range(3):
        ops = random_ops(rng, width, height, 50)
        start = (rng.random((height, width)) * 255).round().astype(np.uint8) if trial == 1 else None
        browser = node_paint(width, height, ops, start).astype(np.float64)
        server_start = None if start is None else start.astype(np.float32) / 255
        server = draw(ops, width, height, server_start).astype(np.float64) * 255
        difference = np.abs(browser - server)
        # 8-bit against float: half a level apart at most, every pixel.
        assert (difference <= 1).mean() >= 0.99 and difference.max() <= 1.0, difference.max()


# ------------------------------------------------------------------------ checking
ok_stroke = brush([4, 4, 10, 10])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "must be an object"),
        ({"masks": [[]], "extra": 1}, "unknown field"),
        ({"masks": [[]], "same_for_all": 1}, "same_for_all must be true or false"),
        ({"masks": {}}, "masks must be a list"),
        ({"masks": [[], []]}, "masks must hold 1 lists"),
        ({"masks": [], "same_for_all": True}, "one list"),
        ({"masks": [{}]}, "must be a list of operations"),
        ({"masks": [["brush"]]}, "must be an object"),
        ({"masks": [[{"op": "paint"}]]}, "op must be one of"),
        ({"masks": [[{"op": "invert", "size": 3}]]}, "takes no other fields"),
        ({"masks": [[{**ok_stroke, "colour": "red"}]]}, "unknown field"),
        ({"masks": [[{**ok_stroke, "size": 0}]]}, "size must be"),
        ({"masks": [[{**ok_stroke, "size": 5000}]]}, "size must be"),
        ({"masks": [[{**ok_stroke, "size": True}]]}, "size must be"),
        ({"masks": [[{**ok_stroke, "size": "10"}]]}, "size must be"),
        ({"masks": [[{**ok_stroke, "hardness": 1.5}]]}, "hardness must be"),
        ({"masks": [[{**ok_stroke, "hardness": None}]]}, "hardness must be"),
        ({"masks": [[{**ok_stroke, "points": []}]]}, "points must be a list of x, y pairs"),
        ({"masks": [[{**ok_stroke, "points": [1, 2, 3]}]]}, "points must be a list of x, y pairs"),
        ({"masks": [[{**ok_stroke, "points": "1,2"}]]}, "points must be a list of x, y pairs"),
        ({"masks": [[{**ok_stroke, "points": [1.5, 2]}]]}, "whole numbers"),
        ({"masks": [[{**ok_stroke, "points": [True, 2]}]]}, "whole numbers"),
        ({"masks": [[{**ok_stroke, "points": [2**70, 2]}]]}, "far out of range"),
        ({"masks": [[{**ok_stroke, "points": [4 * 200, 0]}]]}, "too far outside the image"),
        ({"masks": [[{**ok_stroke, "points": [0, -4 * 49]}]]}, "too far outside the image"),
        ({"masks": [[{**ok_stroke, "pressure": [255]}]]}, "one value per point"),
        ({"masks": [[{**ok_stroke, "pressure": [255, 256]}]]}, "from 0 to 255"),
        ({"masks": [[{**ok_stroke, "pressure": [255, 0.5]}]]}, "whole numbers"),
        ({"masks": [[{"op": "invert"}] * (LIMITS["MAX_OPS"] + 1)]}, "operations; at most"),
    ],
)
def test_bad_answers_are_refused_with_a_reason(value: Any, message: str) -> None:
    with pytest.raises(strokes.MaskAnswerError, match=message):
        strokes.parse_answer(value, count=1, width=64, height=48)


def test_the_message_names_the_image_and_operation() -> None:
    value = {"masks": [[], [ok_stroke, {**ok_stroke, "size": -1}]]}
    with pytest.raises(strokes.MaskAnswerError, match="operation 2 of image 2"):
        strokes.parse_answer(value, count=2, width=64, height=48)


def test_points_may_lie_up_to_one_image_size_outside() -> None:
    corner = brush([-64, -48, 128, 96])
    assert parse([corner]).masks[0][0].points.tolist() == [[-64, -48], [128, 96]]
    with pytest.raises(strokes.MaskAnswerError, match="too far outside"):
        parse([brush([-64.25, 0])])


def test_too_many_points_is_refused() -> None:
    half = LIMITS["MAX_POINTS"] // 2
    ops = [{"op": "brush", "size": 2, "hardness": 1, "points": [8, 8] * half}] * 2
    assert len(parse(ops, 2048, 2048).masks[0]) == 2
    with pytest.raises(strokes.MaskAnswerError, match="more than 65536 stroke points"):
        parse([*ops, brush([1, 1])], 2048, 2048)


def test_work_is_bounded_and_estimated_from_above() -> None:
    # The estimate never undercounts what drawing evaluates.
    answer = parse([brush([-50, 10, 100, 40, 30, 5], size=24), brush([20, 20], size=200)], 64, 48)
    windows = strokes._windows(answer.masks[0], 48, 64)
    assert answer.work[0] >= int((windows.rows * windows.cols).sum())
    # Huge brushes swept back and forth over a small image: refused before any drawing.
    sweep = [brush([x, 0, 64 - x, 48], size=4096, hardness=0) for x in range(0, 64, 2)] * 6
    with pytest.raises(strokes.MaskAnswerError, match="too complex to draw"):
        parse(sweep)


def hostile_bodies() -> dict[str, Any]:
    """Answers as large as a 256 KiB body allows, each aimed at a different part of the check."""
    cap = P.MAX_BODY_BYTES
    bodies = {
        "ops at the limit, last one bad": {"masks": [[{"op": "invert"}] * (LIMITS["MAX_OPS"] - 1) + [{"op": "x"}]]},
        "too many ops": {"masks": [[{"op": "fill"}] * 15000]},
        "points at the limit, out of range at the end": {
            "masks": [[{"op": "brush", "size": 2, "hardness": 1, "points": [1] * 126000 + [10**6, 0]}]]
        },
        "many tiny strokes, last one bad": {
            "masks": [[{"op": "brush", "size": 1, "hardness": 0, "points": [9, 9]}] * 4095 + [{"op": "brush"}]]
        },
        "floats": {"masks": [[{"op": "brush", "size": 2, "hardness": 1, "points": [0.5] * 40000}]]},
        "booleans": {"masks": [[{"op": "brush", "size": 2, "hardness": 1, "points": [True] * 50000}]]},
        "strings": {"masks": [[{"op": "brush", "size": 2, "hardness": 1, "points": ["1"] * 50000}]]},
        "wide object": {"masks": [[]], **{f"k{i}": 0 for i in range(20000)}},
        "many images": {"masks": [[] for _ in range(60000)]},
        "deep lists": {"masks": [[[[[[[[[[[[[[]]]]]]]]]]]]]]},
    }
    for name, body in bodies.items():
        size = len(json.dumps({"value": body}, separators=(",", ":")))  # as a browser sends it
        assert size <= cap, (name, size)
    return bodies


@pytest.mark.parametrize("name", list(hostile_bodies()))
def test_hostile_answers_at_the_body_cap_are_refused_in_milliseconds(name: str) -> None:
    body = json.loads(json.dumps(hostile_bodies()[name]))  # as the route gets it, parsed
    started = time.perf_counter()
    with pytest.raises(strokes.MaskAnswerError):
        strokes.parse_answer(body, count=1, width=2048, height=2048)
    elapsed = time.perf_counter() - started
    # A few ms on an idle machine; generous for a busy one. The linear pass is what counts.
    assert elapsed < 0.25, f"{name}: {elapsed * 1000:.1f} ms"


def test_a_large_valid_answer_is_checked_quickly() -> None:
    rng = np.random.default_rng(1)
    ops = []
    for _ in range(200):
        start = rng.uniform(0, 2048, 2)
        walk = start + np.cumsum(rng.normal(0, 12, (60, 2)), axis=0)
        ops.append(brush(np.clip(walk, -2048, 4096).ravel().tolist(), size=48, hardness=0.5))
    body = {"masks": [ops]}
    assert len(json.dumps({"value": body}, separators=(",", ":"))) < P.MAX_BODY_BYTES
    started = time.perf_counter()
    answer = strokes.parse_answer(json.loads(json.dumps(body)), count=1, width=2048, height=2048)
    assert time.perf_counter() - started < 0.25
    assert answer.stroke_count == 200


def test_the_distance_path_draws_what_the_coverage_path_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    # Strokes of one radius and hardness take the nearest segment's distance; the same strokes
    # forced through the per-segment coverage (as strokes under pen pressure are) agree.
    rng = np.random.default_rng(5)
    ops = [op for op in random_ops(rng, 1024, 768, 160) if op["op"] in ("brush", "erase")]
    for op in ops:
        op.pop("pressure", None)
        op["size"], op["hardness"] = float(rng.choice([12, 40])), float(rng.choice([0.2, 0.9]))
    answer = parse(ops, 1024, 768)
    paths: list[str] = []
    distance, coverage = strokes._draw_by_distance, strokes._draw_by_coverage
    monkeypatch.setattr(strokes, "_draw_by_distance", lambda *a: paths.append("distance") or distance(*a))
    monkeypatch.setattr(strokes, "_draw_by_coverage", lambda *a: paths.append("coverage") or coverage(*a))
    by_distance = strokes.draw(answer.masks[0], 768, 1024)
    assert paths.count("distance") >= 4  # (a group of a few strokes far apart takes coverage)
    paths.clear()
    monkeypatch.setattr(strokes, "_draw_by_distance", lambda mask, windows, _bands, *_: coverage(mask, windows, _[-1]))
    by_coverage = strokes.draw(answer.masks[0], 768, 1024)
    assert set(paths) == {"coverage"}
    assert by_distance.any() and np.abs(by_distance - by_coverage).max() < 1e-5


@pytest.mark.parametrize("hardness", [0.0, 0.5, 1.0])
def test_polylines_of_one_radius_match_the_model_at_every_pixel(hardness: float) -> None:
    # Sharp turns, doubling back, repeated and very close points: each segment's window leaves
    # out the disk around its start (the segment before covers it), which must lose nothing.
    zigzag = [10, 10, 60, 12, 12, 20, 62, 26, 62, 26, 62.25, 26, 20, 40, 21, 41, 90, 5]
    loop = [70, 30, 90, 30, 90, 45, 70, 45, 70, 31]
    answer = parse([brush(zigzag, size=9, hardness=hardness), brush(loop, size=17, hardness=hardness)], 100, 50)
    got = strokes.draw(answer.masks[0], 50, 100)
    expected = np.maximum(*(reference(50, 100, stroke) for stroke in answer.masks[0]))
    assert np.abs(got - expected).max() < 2e-4


def test_far_apart_strokes_take_the_coverage_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two dots in opposite corners: their bands span the whole width, so the distance path
    # would evaluate far more pixels than the windows hold.
    answer = parse([brush([3, 3], size=4), brush([2040, 6], size=4)], 2048, 64)
    paths: list[str] = []
    coverage = strokes._draw_by_coverage
    monkeypatch.setattr(strokes, "_draw_by_coverage", lambda *a: paths.append("coverage") or coverage(*a))
    mask = strokes.draw(answer.masks[0], 64, 2048)
    assert paths == ["coverage"] and mask[3, 3] == 1.0 and mask[6, 2040] == 1.0
