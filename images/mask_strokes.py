"""A mask painter's answer: strokes and whole-mask operations, checked, then drawn.

The browser does not send pixels. For each image it sends the ordered list of what the
person did, in image pixel coordinates, and the server draws it at the image's full
resolution::

    {"same_for_all": false,
     "masks": [[{"op": "brush", "size": 40, "hardness": 0.5, "points": [x0, y0, x1, y1, ...],
                 "pressure": [p0, p1, ...]},          # optional, one per point
                {"op": "erase", ...}, {"op": "invert"}, {"op": "clear"}, {"op": "fill"}],
               ...]}                                   # one list per image, or one for all

Points are integers in 1/POINT_SCALE pixel (a quarter pixel), pressure 0..PRESSURE_SCALE.

**The brush model** (``web/mask_strokes.js`` draws exactly the same, and a test compares
the two): pixel (i, j) has its centre at (i + 0.5, j + 0.5). A stroke is the polyline
through its points (one point: a dot). Point k has radius ``r_k = size / 2 * pressure_k``
(pressure 1 when absent). For each segment p0 → p1 and each pixel centre c, t is the
projection of c on the segment, clamped to 0..1; the distance d is |c − (p0 + t (p1 − p0))|
and the radius there r = r0 + t (r1 − r0). The soft edge is w = max(r (1 − hardness), 1)
pixel wide, and the pixel's coverage is smoothstep(clamp((r − d) / w, 0, 1)), where
smoothstep(u) = u² (3 − 2u): 1 deep inside, 0 at distance r and beyond. A brush stroke
makes each pixel max(mask, coverage); an eraser stroke min(mask, 1 − coverage); a stroke's
segments combine the same way. ``clear`` sets 0, ``fill`` 1, ``invert`` 1 − mask.

**Bounds first.** :func:`parse_answer` checks counts and lengths before it looks at any
value, then makes one linear pass (the points of every stroke are converted to numbers in
one go), and refuses an answer whose drawing would cost more than ``WORK_PER_PIXEL``
pixel evaluations per image pixel (a whole-mask operation costs one per pixel). A hostile
body at the 256 KiB cap is refused in a few milliseconds. Drawing touches only the pixels
near each segment, never the whole image per point.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeGuard, Union

import numpy as np

from ..server import protocol as P

LIMITS = P.MASK_LIMITS
POINT_SCALE = LIMITS["POINT_SCALE"]
PRESSURE_SCALE = LIMITS["PRESSURE_SCALE"]
MAX_IMAGES = LIMITS["MAX_IMAGES"]
MAX_OPS = LIMITS["MAX_OPS"]
MAX_POINTS = LIMITS["MAX_POINTS"]
MIN_SIZE = LIMITS["MIN_SIZE"]
MAX_SIZE = LIMITS["MAX_SIZE"]
COORD_MARGIN = LIMITS["COORD_MARGIN"]
WORK_PER_PIXEL = LIMITS["WORK_PER_PIXEL"]

STROKE_KEYS = frozenset({"op", "size", "hardness", "points", "pressure"})
ANSWER_KEYS = frozenset({"masks", "same_for_all"})

#: A segment is drawn in windows along it, each about this many radii long (and at least
#: MIN_WINDOW pixels), so a long diagonal segment never costs its whole bounding box.
WINDOW_RADII = 4
MIN_WINDOW = 64


#: What the checking pass notes of a stroke: image, index, op, size, hardness, first point,
#: point count, whether it has pressure.
_StrokeRecord = tuple[int, int, str, float, float, int, int, bool]


class MaskAnswerError(ValueError):
    """An answer that does not fit the request; the message says why (a 422 on the route)."""


@dataclass(frozen=True, eq=False)
class Stroke:
    """A brush or eraser stroke: ``points`` (n, 2) in image pixels, ``radii`` (n,) in pixels
    (half the size, times the pen pressure where there is one)."""

    tool: str
    size: float
    hardness: float
    points: np.ndarray
    radii: np.ndarray

    def __repr__(self) -> str:
        return f"<Stroke {self.tool} size={self.size:g} hardness={self.hardness:g} points={len(self.points)}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Stroke):
            return NotImplemented
        return (self.tool, self.size, self.hardness) == (other.tool, other.size, other.hardness) and bool(
            np.array_equal(self.points, other.points) and np.array_equal(self.radii, other.radii)
        )

    __hash__ = None  # type: ignore[assignment]  # arrays inside: compared by value, not hashable

    @property
    def one_radius(self) -> bool:
        """Whether every point has the same radius (no pen pressure, or the same everywhere)."""
        return bool((self.radii == self.radii[0]).all())

    @classmethod
    def of(cls, tool: str, size: float, hardness: float, points: Any, pressure: Any = None) -> Stroke:
        """A stroke from pixel points and an optional pressure (0..1) per point."""
        xy = np.asarray(points, np.float64).reshape(-1, 2)
        factor = np.ones(len(xy)) if pressure is None else np.asarray(pressure, np.float64)
        return cls(tool, float(size), float(hardness), xy, size / 2.0 * factor)


@dataclass(frozen=True)
class WholeMaskOp:
    """``clear``, ``invert`` or ``fill``: an operation on every pixel of the mask."""

    op: str


MaskOp = Union[Stroke, WholeMaskOp]  # noqa: UP007 (a runtime alias; X | Y needs Python 3.10 types)


@dataclass(frozen=True)
class MaskAnswer:
    """A checked answer: one list of operations per image, or one for every image."""

    same_for_all: bool
    masks: tuple[tuple[MaskOp, ...], ...]
    #: Estimated pixel evaluations to draw each list (what the work bound was checked on).
    work: tuple[int, ...]

    def __repr__(self) -> str:
        ops = sum(len(ops) for ops in self.masks)
        return f"<MaskAnswer same_for_all={self.same_for_all} masks={len(self.masks)} ops={ops}>"

    def as_record(self) -> dict[str, Any]:
        """What an audit record keeps of this answer: its shape, never the strokes' points."""
        return {
            "same_for_all": self.same_for_all,
            "operations": [len(ops) for ops in self.masks],
            "strokes": self.stroke_count,
        }

    def ops_for(self, index: int) -> tuple[MaskOp, ...]:
        """The operations drawn on image ``index``."""
        return self.masks[0] if self.same_for_all else self.masks[index]

    @property
    def stroke_count(self) -> int:
        return sum(isinstance(op, Stroke) for ops in self.masks for op in ops)


# ---------------------------------------------------------------------------- checking
def _is_number(value: Any) -> TypeGuard[float]:
    # bool is an int in Python; JSON's true is not a number to anyone else.
    return type(value) in (int, float)


def _where(image: int, index: int, same_for_all: bool) -> str:
    return f"operation {index + 1}" if same_for_all else f"operation {index + 1} of image {image + 1}"


def segment_work(dx: np.ndarray, dy: np.ndarray, rmax: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel evaluations :func:`draw` spends on segments of these extents and radii (an upper
    bound: windows are counted unclipped but never larger than the image)."""
    reach = rmax + 1.0
    length = np.hypot(dx, dy)
    window = np.maximum(WINDOW_RADII * reach, MIN_WINDOW)
    pieces = np.maximum(1.0, np.ceil(length / window))
    across = np.minimum(np.abs(dx) / pieces + 2 * reach + 2, width)
    down = np.minimum(np.abs(dy) / pieces + 2 * reach + 2, height)
    work: np.ndarray = pieces * across * down
    return work


def parse_answer(value: Any, *, count: int, width: int, height: int) -> MaskAnswer:
    """Check a mask painter's answer for a batch of ``count`` images of ``width`` × ``height``
    and return it ready to draw; :class:`MaskAnswerError` (a ValueError) says what is wrong.

    Every count and length is checked before any value is read, and the values are read in
    one linear pass, so a hostile answer at the body cap is refused in milliseconds."""
    if not isinstance(value, dict):
        raise MaskAnswerError('the answer must be an object: {"masks": [[...operations], ...], "same_for_all": false}')
    unknown = set(value) - ANSWER_KEYS
    if unknown:
        raise MaskAnswerError(f"unknown field(s) in the answer: {', '.join(heapq.nsmallest(5, map(str, unknown)))}")
    same_for_all = value.get("same_for_all", False)
    if not isinstance(same_for_all, bool):
        raise MaskAnswerError("same_for_all must be true or false")
    masks = value.get("masks")
    if not isinstance(masks, list):
        raise MaskAnswerError("masks must be a list with one list of operations per image")
    expected = 1 if same_for_all else count
    if len(masks) != expected:
        wanted = "one list (the same mask for all)" if same_for_all else f"{count} lists (one per image)"
        raise MaskAnswerError(f"masks must hold {wanted}; it holds {len(masks)}")
    total_ops = 0
    for ops in masks:
        if not isinstance(ops, list):
            raise MaskAnswerError("each entry of masks must be a list of operations")
        total_ops += len(ops)
    if total_ops > MAX_OPS:
        raise MaskAnswerError(f"the answer has {total_ops} operations; at most {MAX_OPS} are allowed")

    # One pass over the operations: shapes and scalars, the points gathered for one conversion.
    coords: list[Any] = []
    pressures: list[Any] = []
    strokes: list[_StrokeRecord] = []
    plan: list[list[tuple[str, int]]] = []  # per image: ("whole", op) or ("stroke", index into strokes)
    total_points = 0
    for image, ops in enumerate(masks):
        steps: list[tuple[str, int]] = []
        for index, op in enumerate(ops):
            if not isinstance(op, dict):
                raise MaskAnswerError(f"{_where(image, index, same_for_all)} must be an object")
            name = op.get("op")
            if name in P.MASK_WHOLE_OPS:
                if len(op) != 1:
                    raise MaskAnswerError(f"{_where(image, index, same_for_all)} ({name}) takes no other fields")
                steps.append(("whole", P.MASK_WHOLE_OPS.index(name)))
                continue
            if name not in P.MASK_STROKE_OPS:
                names = ", ".join((*P.MASK_STROKE_OPS, *P.MASK_WHOLE_OPS))
                raise MaskAnswerError(f"{_where(image, index, same_for_all)}: op must be one of {names}")
            where = _where(image, index, same_for_all)
            extra = set(op) - STROKE_KEYS
            if extra:
                raise MaskAnswerError(f"{where}: unknown field(s) {', '.join(heapq.nsmallest(5, map(str, extra)))}")
            size, hardness, points = op.get("size"), op.get("hardness"), op.get("points")
            if not _is_number(size) or not MIN_SIZE <= size <= MAX_SIZE:
                raise MaskAnswerError(f"{where}: size must be a number of pixels from {MIN_SIZE} to {MAX_SIZE}")
            if not _is_number(hardness) or not 0 <= hardness <= 1:
                raise MaskAnswerError(f"{where}: hardness must be a number from 0 to 1")
            if not isinstance(points, list) or len(points) < 2 or len(points) % 2:
                raise MaskAnswerError(f"{where}: points must be a list of x, y pairs (at least one point)")
            n_points = len(points) // 2
            total_points += n_points
            if total_points > MAX_POINTS:
                raise MaskAnswerError(f"the answer has more than {MAX_POINTS} stroke points; simplify the strokes")
            pressure = op.get("pressure")
            if pressure is not None:
                if not isinstance(pressure, list) or len(pressure) != n_points:
                    raise MaskAnswerError(f"{where}: pressure must be a list with one value per point")
                pressures.extend(pressure)
            steps.append(("stroke", len(strokes)))
            strokes.append(
                (image, index, name, float(size), float(hardness), len(coords) // 2, n_points, pressure is not None)
            )
            coords.extend(points)
        plan.append(steps)

    if not set(map(type, coords)) <= {int}:
        raise MaskAnswerError(f"stroke points must be whole numbers (1/{POINT_SCALE} pixel units)")
    if not set(map(type, pressures)) <= {int}:
        raise MaskAnswerError(f"pressure values must be whole numbers from 0 to {PRESSURE_SCALE}")
    try:
        raw = np.array(coords, dtype=np.int64).reshape(-1, 2)
        raw_pressure = np.array(pressures, dtype=np.int64)
    except OverflowError:
        raise MaskAnswerError("a stroke point or pressure is far out of range") from None
    low = np.array([-COORD_MARGIN * width, -COORD_MARGIN * height]) * POINT_SCALE
    high = np.array([(1 + COORD_MARGIN) * width, (1 + COORD_MARGIN) * height]) * POINT_SCALE
    outside = np.flatnonzero(((raw < low) | (raw > high)).any(axis=1))
    if outside.size:
        first = int(outside[0])
        stroke = next(s for s in strokes if s[5] <= first < s[5] + s[6])
        raise MaskAnswerError(
            f"{_where(stroke[0], stroke[1], same_for_all)}: a point lies too far outside the image "
            f"(points are in 1/{POINT_SCALE} pixel; allowed x {int(low[0])}..{int(high[0])}, "
            f"y {int(low[1])}..{int(high[1])})"
        )
    if raw_pressure.size and (raw_pressure.min() < 0 or raw_pressure.max() > PRESSURE_SCALE):
        raise MaskAnswerError(f"pressure values must be from 0 to {PRESSURE_SCALE}")

    points_px = raw / float(POINT_SCALE)
    radii = _radii(strokes, len(points_px), raw_pressure / float(PRESSURE_SCALE))
    built = [
        Stroke(name, size, hardness, points_px[first : first + count], radii[first : first + count])
        for _image, _index, name, size, hardness, first, count, _pressure in strokes
    ]
    work = _work_per_mask(strokes, points_px, radii, len(masks), width, height)
    # A whole-mask operation (clear, fill, invert) is one pass over every pixel: drawing work
    # like a stroke's (4,096 inverts of a 4096² mask were 18 s of a core before they counted).
    for image, steps in enumerate(plan):
        work[image] += sum(kind == "whole" for kind, _ in steps) * width * height
    budget = WORK_PER_PIXEL * width * height
    for image, cost in enumerate(work):
        if cost > budget:
            what = "the mask" if same_for_all else f"the mask of image {image + 1}"
            raise MaskAnswerError(
                f"{what} is too complex to draw ({cost / (width * height):.0f} pixel passes, at most "
                f"{WORK_PER_PIXEL}): use fewer or smaller strokes, fewer clear, fill or invert operations,"
                " or fill and erase"
            )
    ops_per_mask = tuple(
        tuple(WholeMaskOp(P.MASK_WHOLE_OPS[ref]) if kind == "whole" else built[ref] for kind, ref in steps)
        for steps in plan
    )
    return MaskAnswer(same_for_all, ops_per_mask, tuple(work))


def _radii(strokes: Sequence[_StrokeRecord], total: int, pressure: np.ndarray) -> np.ndarray:
    """The radius at every point of every stroke, in one vectorized pass."""
    if not strokes:
        return np.zeros(total)
    counts = np.array([record[6] for record in strokes])
    halves = np.array([record[3] / 2.0 for record in strokes])
    pressured = np.repeat(np.array([record[7] for record in strokes]), counts)
    factor = np.ones(total)
    factor[pressured] = pressure  # pressures were gathered in the same order as the points
    radii: np.ndarray = np.repeat(halves, counts) * factor
    return radii


def _work_per_mask(
    strokes: Sequence[_StrokeRecord],
    points: np.ndarray,
    radii: np.ndarray,
    masks: int,
    width: int,
    height: int,
) -> list[int]:
    """Estimated drawing work of each image's list, vectorized over every segment at once."""
    if not strokes:
        return [0] * masks
    firsts = np.array([record[5] for record in strokes])
    counts = np.array([record[6] for record in strokes])
    owners = np.repeat(np.array([record[0] for record in strokes]), counts)
    last = np.zeros(len(points), bool)
    last[firsts + counts - 1] = True
    dots = firsts[counts == 1]  # a one-point stroke is one segment of length 0
    begin = np.concatenate([np.flatnonzero(~last), dots])
    end = np.concatenate([np.flatnonzero(~last) + 1, dots])
    delta = points[end] - points[begin]
    costs = segment_work(delta[:, 0], delta[:, 1], np.maximum(radii[begin], radii[end]), width, height)
    totals = np.bincount(owners[begin], weights=costs, minlength=masks)
    return [math.ceil(total) for total in totals]


# ----------------------------------------------------------------------------- drawing
def draw(
    ops: Sequence[MaskOp], height: int, width: int, start: np.ndarray | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """The mask (float32 [height, width] in 0..1) that ``ops`` make, starting from ``start``
    (an [height, width] array in 0..1, not modified) or from an empty mask; drawn into
    ``out`` when given (a float32 [height, width] array)."""
    mask = np.empty((height, width), np.float32) if out is None else out
    if start is None:
        mask.fill(0.0)
    elif start is not mask:  # (``start`` may be ``out`` itself: drawing goes on from it)
        if np.shape(start) != (height, width):
            raise ValueError(f"the start mask is {np.shape(start)}, the image {(height, width)}")
        np.clip(start, 0.0, 1.0, out=mask)
    run: list[Stroke] = []
    for op in ops:
        # Consecutive strokes of one tool commute (max with max, min with min): draw them together.
        if isinstance(op, Stroke) and (not run or run[0].tool == op.tool):
            run.append(op)
            continue
        _draw_strokes(mask, run)
        run = []
        if isinstance(op, Stroke):
            run.append(op)
        elif op.op == P.MASK_OP_CLEAR:
            mask.fill(0.0)
        elif op.op == P.MASK_OP_FILL:
            mask.fill(1.0)
        else:
            np.subtract(np.float32(1.0), mask, out=mask)
    _draw_strokes(mask, run)
    return mask


@dataclass(frozen=True)
class _Windows:
    """Rectangles of the mask to evaluate, each with the segment whose coverage it takes
    (all arrays have one entry per window)."""

    top: np.ndarray
    left: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    inverse: np.ndarray
    r0: np.ndarray
    dr: np.ndarray
    softness: np.ndarray

    @property
    def area(self) -> int:
        """Pixels evaluated."""
        return int((self.rows * self.cols).sum())

    def shifted(self, top: int, left: int) -> _Windows:
        """The same windows in an array whose first row and column are ``top``, ``left``."""
        return replace(self, top=self.top - top, left=self.left - left)


#: Elements of one batch of windows evaluated together (a few arrays of this many float32
#: stay in the CPU cache), and how much padding a batch may add to its windows' own area.
BATCH_ELEMENTS = 1 << 16
BATCH_SLACK = 1.4


def _segments(strokes: Sequence[Stroke]) -> tuple[np.ndarray, ...]:
    """Every segment of ``strokes``: x0, y0, x1, y1, r0, r1, the stroke's softness, and
    whether the segment's window must hold the disk around its start and around its end."""
    parts: list[tuple[np.ndarray, ...]] = []
    for stroke in strokes:
        points, radii = stroke.points, stroke.radii
        count = max(1, len(points) - 1)
        if len(points) == 1:
            begin, end, r_begin, r_end = points, points, radii, radii
        else:
            begin, end, r_begin, r_end = points[:-1], points[1:], radii[:-1], radii[1:]
        # A stroke of one radius: a pixel on the start side of segment k is no nearer to it
        # than to its start point, which ends segment k - 1, so only the first segment needs
        # its start disk. Under pen pressure the radii differ and every segment needs both.
        start_disk = np.ones(count, bool)
        if stroke.one_radius:
            start_disk[1:] = False
        parts.append(
            (
                begin[:, 0],
                begin[:, 1],
                end[:, 0],
                end[:, 1],
                r_begin,
                r_end,
                np.full(count, 1.0 - stroke.hardness),
                start_disk,
            )
        )
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def _windows(strokes: Sequence[Stroke], height: int, width: int) -> _Windows:
    """Cover every pixel within max(r0, r1) + 1 of each segment with windows along it, each
    about WINDOW_RADII radii long, clipped to the mask and cut into row bands that fit a
    batch. A pixel further from its segment has coverage 0, so nothing is missed."""
    x0, y0, x1, y1, r0, r1, softness, start_disk = _segments(strokes)
    dx, dy = x1 - x0, y1 - y0
    length_sq = dx * dx + dy * dy
    inverse = np.divide(1.0, length_sq, out=np.zeros_like(length_sq), where=length_sq > 0)
    reach = np.maximum(r0, r1) + 1.0
    length = np.sqrt(length_sq)
    pieces = np.maximum(1, np.ceil(length / np.maximum(WINDOW_RADII * reach, MIN_WINDOW))).astype(np.int64)
    segment = np.repeat(np.arange(len(x0)), pieces)
    piece = np.arange(len(segment)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    n = pieces[segment]
    a = piece / n
    b = (piece + 1) / n
    ax, bx = x0[segment] + dx[segment] * a, x0[segment] + dx[segment] * b
    ay, by = y0[segment] + dy[segment] * a, y0[segment] + dy[segment] * b
    # A piece covers the pixels whose projection falls on it: a rectangle reach wide on each
    # side (its box reaches out by reach times the normal's components), plus the disk around
    # the segment's end on the last piece and around its start on the first where needed.
    # A segment of length 0 is a disk.
    r = reach[segment]
    safe = np.where(length > 0, length, 1.0)[segment]
    zero = (length == 0)[segment]
    reach_x = np.where(zero, r, r * np.abs(dy[segment]) / safe)
    reach_y = np.where(zero, r, r * np.abs(dx[segment]) / safe)
    low_x, high_x = np.minimum(ax, bx) - reach_x, np.maximum(ax, bx) + reach_x
    low_y, high_y = np.minimum(ay, by) - reach_y, np.maximum(ay, by) + reach_y
    ends = piece == n - 1
    low_x[ends], high_x[ends] = np.minimum(low_x, bx - r)[ends], np.maximum(high_x, bx + r)[ends]
    low_y[ends], high_y[ends] = np.minimum(low_y, by - r)[ends], np.maximum(high_y, by + r)[ends]
    starts = (piece == 0) & start_disk[segment]
    low_x[starts], high_x[starts] = np.minimum(low_x, ax - r)[starts], np.maximum(high_x, ax + r)[starts]
    low_y[starts], high_y[starts] = np.minimum(low_y, ay - r)[starts], np.maximum(high_y, ay + r)[starts]
    # Pixel i's centre is i + 0.5: the first and last pixel whose centre lies in the box.
    left = np.maximum(0, np.floor(low_x - 0.5)).astype(np.int64)
    right = np.minimum(width - 1, np.ceil(high_x - 0.5)).astype(np.int64)
    top = np.maximum(0, np.floor(low_y - 0.5)).astype(np.int64)
    bottom = np.minimum(height - 1, np.ceil(high_y - 0.5)).astype(np.int64)
    keep = (left <= right) & (top <= bottom)
    segment, left, top = segment[keep], left[keep], top[keep]
    cols = right[keep] - left + 1
    rows = bottom[keep] - top + 1
    # A window too big for one batch becomes bands of rows (same pixels, same values).
    band_rows = np.maximum(1, BATCH_ELEMENTS // cols)
    bands = -(-rows // band_rows)
    owner = np.repeat(np.arange(len(rows)), bands)
    band = np.arange(len(owner)) - np.repeat(np.cumsum(bands) - bands, bands)
    band_top = top[owner] + band * band_rows[owner]
    band_height = np.minimum(band_rows[owner], top[owner] + rows[owner] - band_top)
    segment = segment[owner]
    return _Windows(
        top=band_top,
        left=left[owner],
        rows=band_height,
        cols=cols[owner],
        x0=x0[segment],
        y0=y0[segment],
        dx=dx[segment],
        dy=dy[segment],
        inverse=inverse[segment],
        r0=r0[segment],
        dr=(r1 - r0)[segment],
        softness=softness[segment],
    )


def _batches(windows: _Windows) -> list[np.ndarray]:
    """Groups of window indices evaluated together in one padded [n, rows, cols] block:
    windows of similar shapes, with little padding and within BATCH_ELEMENTS."""
    order = np.lexsort((-windows.cols, -windows.rows))
    rows, cols = windows.rows[order].tolist(), windows.cols[order].tolist()
    groups: list[np.ndarray] = []
    start = 0
    while start < len(order):
        max_rows, max_cols, area = rows[start], cols[start], rows[start] * cols[start]
        end = start + 1
        while end < len(order):
            wider = max(max_cols, cols[end])
            padded = (end + 1 - start) * max_rows * wider
            if padded > BATCH_ELEMENTS or padded > BATCH_SLACK * (area + rows[end] * cols[end]):
                break
            max_cols, area = wider, area + rows[end] * cols[end]
            end += 1
        groups.append(order[start:end])
        start = end
    return groups


#: Rows of the bands in which the distance path turns distances into coverage.
BAND_ROWS = 32


def _draw_strokes(mask: np.ndarray, strokes: Sequence[Stroke]) -> None:
    """Combine the coverage of strokes of one tool into ``mask`` (max for the brush,
    min with 1 − coverage for the eraser).

    Strokes of one radius (no pen pressure, or the same everywhere) and one hardness have a
    coverage that falls with the distance alone, so the largest coverage of their segments
    is the coverage of the nearest one: such a group takes the minimum squared distance over
    its segments (a few operations per pixel) and turns it into coverage once per pixel.
    Other strokes take each segment's coverage and its maximum."""
    if not strokes:
        return
    height, width = mask.shape
    erase = strokes[0].tool == P.MASK_OP_ERASE
    groups: dict[tuple[float, float], list[Stroke]] = {}
    varying: list[Stroke] = []
    for stroke in strokes:
        if stroke.one_radius:
            groups.setdefault((float(stroke.radii[0]), stroke.hardness), []).append(stroke)
        else:
            varying.append(stroke)
    for (radius, hardness), group in groups.items():
        windows = _windows(group, height, width)
        bands = _Bands.of(windows, height, width)
        # The distance path also evaluates every pixel of its bands once: worth it unless the
        # group is a few strokes far apart (then its bands are mostly empty).
        if bands.area <= windows.area:
            _draw_by_distance(mask, windows, bands, radius, 1.0 - hardness, erase)
        else:
            _draw_by_coverage(mask, windows, erase)
    if varying:
        _draw_by_coverage(mask, _windows(varying, height, width), erase)


def _run_batches(
    windows: _Windows,
    evaluate: Callable[[np.ndarray, np.ndarray], np.ndarray],
    combine: Callable[[np.ndarray, np.ndarray], None],
) -> None:
    """Evaluate ``windows`` in padded batches, combining each batch as it is done.

    One thread: numpy lets go of the GIL only inside an operation, and the many small steps
    between them made two threads slower than one on a 2-core machine (measured)."""
    scratch = np.empty((4, BATCH_ELEMENTS), np.float32)  # reused: no allocation per batch
    for group in _batches(windows):
        combine(group, evaluate(group, scratch))


def _draw_by_coverage(mask: np.ndarray, windows: _Windows, erase: bool) -> None:
    """Each window's coverage, combined into the mask."""
    _run_batches(
        windows,
        lambda group, scratch: _coverage(windows, group, scratch, erase),
        lambda group, values: _place(mask, windows, group, values, np.minimum if erase else np.maximum),
    )


@dataclass(frozen=True)
class _Bands:
    """Bands of BAND_ROWS mask rows, each with the columns the windows reach in it: where
    the distance path keeps its distances and turns them into coverage."""

    top: int
    left: int
    bottom: int
    right: int
    #: Per band (band b holds rows b * BAND_ROWS onwards): first column and one past the last
    #: (equal when no window reaches the band).
    starts: np.ndarray
    stops: np.ndarray
    height: int

    @classmethod
    def of(cls, windows: _Windows, height: int, width: int) -> _Bands:
        count = -(-height // BAND_ROWS)
        first = windows.top // BAND_ROWS
        spans = (windows.top + windows.rows - 1) // BAND_ROWS - first + 1
        owner = np.repeat(np.arange(len(first)), spans)
        band = np.repeat(first, spans) + np.arange(len(owner)) - np.repeat(np.cumsum(spans) - spans, spans)
        starts = np.full(count, width, np.int64)
        stops = np.zeros(count, np.int64)
        np.minimum.at(starts, band, windows.left[owner])
        np.maximum.at(stops, band, (windows.left + windows.cols)[owner])
        stops = np.maximum(stops, starts)
        used = np.flatnonzero(stops > starts)
        if not used.size:
            return cls(0, 0, 0, 0, starts, stops, height)
        return cls(
            top=int(used[0]) * BAND_ROWS,
            left=int(starts[used].min()),
            bottom=min(height, (int(used[-1]) + 1) * BAND_ROWS),
            right=int(stops[used].max()),
            starts=starts,
            stops=stops,
            height=height,
        )

    @property
    def area(self) -> int:
        rows = np.minimum(BAND_ROWS, self.height - np.arange(len(self.starts)) * BAND_ROWS)
        return int(((self.stops - self.starts) * rows).sum())

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        """Each band that windows reach: first row, one past its last row, first column, one
        past its last column."""
        for band in np.flatnonzero(self.stops > self.starts).tolist():
            top = band * BAND_ROWS
            yield top, min(self.height, top + BAND_ROWS), int(self.starts[band]), int(self.stops[band])


def _draw_by_distance(
    mask: np.ndarray, windows: _Windows, bands: _Bands, radius: float, softness: float, erase: bool
) -> None:
    """Strokes of one radius and softness: the squared distance to the nearest segment,
    then coverage from it once per pixel of the bands."""
    if bands.bottom <= bands.top:
        return
    nearest = np.empty((bands.bottom - bands.top, bands.right - bands.left), np.float32)
    for top, bottom, left, right in bands:  # only the bands' columns are read later
        nearest[top - bands.top : bottom - bands.top, left - bands.left : right - bands.left] = np.inf
    origin = windows.shifted(bands.top, bands.left)
    _run_batches(
        windows,
        lambda group, scratch: _distance_sq(windows, group, scratch),
        lambda group, values: _place(nearest, origin, group, values, np.minimum),
    )
    f32 = np.float32
    r, edge = f32(radius), f32(max(radius * softness, 1.0))
    scratch = np.empty((2, BAND_ROWS * mask.shape[1]), np.float32)
    for top, bottom, left, right in bands:
        shape = (bottom - top, right - left)
        value, coverage = (buffer[: shape[0] * shape[1]].reshape(shape) for buffer in scratch)
        distance = np.sqrt(
            nearest[top - bands.top : bottom - bands.top, left - bands.left : right - bands.left], out=value
        )
        np.subtract(r, distance, out=value)
        value /= edge
        _smoothstep(value, coverage, erase)
        target = mask[top:bottom, left:right]
        (np.minimum if erase else np.maximum)(target, coverage, out=target)


def _smoothstep(inside: np.ndarray, coverage: np.ndarray, erase: bool) -> None:
    """``coverage`` = smoothstep(clamp(``inside``, 0, 1)) (1 − that for the eraser);
    ``inside`` is used as scratch."""
    f32 = np.float32
    np.clip(inside, 0.0, 1.0, out=inside)
    np.multiply(inside, inside, out=coverage)
    inside *= f32(-2.0)
    inside += f32(3.0)
    coverage *= inside  # u² (3 − 2u)
    if erase:
        np.subtract(f32(1.0), coverage, out=coverage)


def _pixel_offsets(windows: _Windows, group: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """The offsets of the pixel centres of a batch of windows from each segment's start,
    across ([n, 1, cols]) and down ([n, rows, 1]), in float32 (float64 before the cast:
    coordinates up to a few thousand pixels keep their quarter-pixel precision)."""
    f32 = np.float32
    across = ((windows.left[group][:, None] + np.arange(cols)[None, :]) + (0.5 - windows.x0[group][:, None])).astype(
        f32
    )[:, None, :]
    down = ((windows.top[group][:, None] + np.arange(rows)[None, :]) + (0.5 - windows.y0[group][:, None])).astype(f32)[
        :, :, None
    ]
    return across, down


def _distance_sq(windows: _Windows, group: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """The squared distance of each pixel to its window's segment, [n, rows, cols] padded
    to the largest window of the batch, computed in ``scratch``. Along the segment's
    direction u, the offset s = c · u is clamped to 0..L and what is left over adds to the
    offset across it: d² = (s − clamp(s, 0, L))² + (c · u⊥)²."""
    f32 = np.float32
    rows, cols = int(windows.rows[group].max()), int(windows.cols[group].max())
    shape = (len(group), rows, cols)
    along, across_sq, clamped = (buffer[: len(group) * rows * cols].reshape(shape) for buffer in scratch[:3])
    across, down = _pixel_offsets(windows, group, rows, cols)
    dx, dy = windows.dx[group], windows.dy[group]
    length = np.hypot(dx, dy)
    moving = length > 0
    # A segment of length 0 is a point: any direction gives d² = x² + y².
    ux = np.divide(dx, length, out=np.ones_like(length), where=moving).astype(f32)[:, None, None]
    uy = np.divide(dy, length, out=np.zeros_like(length), where=moving).astype(f32)[:, None, None]
    np.add(across * ux, down * uy, out=along)
    np.subtract(down * ux, across * uy, out=across_sq)
    np.multiply(across_sq, across_sq, out=across_sq)
    np.clip(along, f32(0.0), length.astype(f32)[:, None, None], out=clamped)
    along -= clamped
    np.multiply(along, along, out=along)
    along += across_sq
    result: np.ndarray = along
    return result


def _coverage(windows: _Windows, group: np.ndarray, scratch: np.ndarray, erase: bool) -> np.ndarray:
    """The coverage (or 1 − coverage for the eraser) of a batch of windows, [n, rows, cols]
    padded to the largest window of the batch, computed in ``scratch``."""
    f32 = np.float32
    rows, cols = int(windows.rows[group].max()), int(windows.cols[group].max())
    shape = (len(group), rows, cols)
    along, off_x, off_y, coverage = (buffer[: len(group) * rows * cols].reshape(shape) for buffer in scratch)
    result: np.ndarray = coverage

    def column(values: np.ndarray) -> np.ndarray:
        picked: np.ndarray = values[group].astype(f32)[:, None, None]
        return picked

    across, down = _pixel_offsets(windows, group, rows, cols)
    dx, dy = column(windows.dx), column(windows.dy)
    inverse = column(windows.inverse)
    # t: the projection on the segment, clamped to it (the two products are small: one
    # full-size operation adds them).
    np.add(across * (dx * inverse), down * (dy * inverse), out=along)
    np.clip(along, 0.0, 1.0, out=along)
    # d: the distance to the closest point of the segment.
    np.multiply(along, dx, out=off_x)
    np.subtract(across, off_x, out=off_x)
    np.multiply(along, dy, out=off_y)
    np.subtract(down, off_y, out=off_y)
    np.multiply(off_x, off_x, out=off_x)
    np.multiply(off_y, off_y, out=off_y)
    off_x += off_y
    distance = np.sqrt(off_x, out=off_x)
    r0, softness = column(windows.r0), column(windows.softness)
    if not windows.dr[group].any():
        np.subtract(r0, distance, out=distance)
        distance /= np.maximum(r0 * softness, f32(1.0))
    else:
        radius = np.multiply(along, column(windows.dr), out=along)
        radius += r0
        np.subtract(radius, distance, out=distance)
        np.multiply(radius, softness, out=radius)
        np.maximum(radius, f32(1.0), out=radius)
        distance /= radius
    _smoothstep(distance, coverage, erase)  # u = (r − d) / w
    return result


def _place(
    target: np.ndarray,
    windows: _Windows,
    group: np.ndarray,
    values: np.ndarray,
    combine: Callable[..., Any],
) -> None:
    """Combine a batch's values into ``target`` (max or min), each window at its place."""
    tops, lefts = windows.top[group].tolist(), windows.left[group].tolist()
    heights, widths = windows.rows[group].tolist(), windows.cols[group].tolist()
    for k in range(len(group)):
        top, left, h, w = tops[k], lefts[k], heights[k], widths[k]
        window = target[top : top + h, left : left + w]
        combine(window, values[k, :h, :w], out=window)


def draw_answer(
    answer: MaskAnswer, count: int, height: int, width: int, starts: Sequence[np.ndarray | None]
) -> np.ndarray:
    """The masks [count, height, width] (float32) of a checked answer. ``starts[i]`` is
    image i's starting mask (None: empty); the same mask for all starts from ``starts[0]``."""
    out = np.empty((count, height, width), np.float32)
    if answer.same_for_all:
        draw(answer.masks[0], height, width, starts[0] if starts else None, out=out[0])
        out[1:] = out[0]
        return out
    for index in range(count):
        draw(answer.masks[index], height, width, starts[index] if index < len(starts) else None, out=out[index])
    return out
