// @ts-check
/**
 * The mask painter's brush model in the browser: the twin of `images/mask_strokes.py`, which
 * draws the same answer on the server at full resolution (a test paints the same strokes
 * on both sides and compares the rasters).
 *
 * Pixel (i, j) has its centre at (i + 0.5, j + 0.5). A stroke is the polyline through its
 * points (one point: a dot); point k has radius size / 2 * pressure_k. For each segment and
 * pixel centre c: t = the projection of c on the segment clamped to 0..1, d = the distance
 * to p0 + t (p1 − p0), r = r0 + t (r1 − r0), w = max(r (1 − hardness), 1), coverage =
 * smoothstep(clamp((r − d) / w, 0, 1)) with smoothstep(u) = u² (3 − 2u). Brush: max(mask,
 * coverage); eraser: min(mask, 1 − coverage); clear 0, fill 1, invert 1 − mask.
 *
 * Here the mask is 8-bit (0..255, coverage rounded to the nearest level), which keeps a
 * 2048² mask at 4 MB; the server's float mask agrees within half a level per pixel.
 * Nothing here touches the DOM.
 */
import { MASK_LIMITS, MASK_OPS } from "./protocol.js";

/**
 * @typedef {{ op: string, size: number, hardness: number, points: number[], pressure?: number[] }} StrokeOp
 * @typedef {{ op: string }} WholeOp
 * @typedef {StrokeOp | WholeOp} MaskOp
 * @typedef {{ x0: number, y0: number, x1: number, y1: number }} Rect  pixel rows/columns, end exclusive
 */

const SCALE = MASK_LIMITS.POINT_SCALE;
const PRESSURE = MASK_LIMITS.PRESSURE_SCALE;
/** Windows of the server's drawing (for the work estimate): see `images/mask_strokes.py`. */
const WINDOW_RADII = 4;
const MIN_WINDOW = 64;

/** @param {MaskOp} op @returns {op is StrokeOp} */
export function isStroke(op) {
  return op.op === MASK_OPS.BRUSH || op.op === MASK_OPS.ERASE;
}

/** @param {Rect | null} a @param {Rect | null} b @returns {Rect | null} */
export function unionRect(a, b) {
  if (!a) return b;
  if (!b) return a;
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
}

/**
 * Combine one segment's coverage into `mask` (8-bit, width × height, row-major). Only the
 * rows and columns within max(r0, r1) + 1 of the segment are visited (a band around it,
 * not its bounding box): a pixel further away has coverage 0.
 * @param {Uint8Array} mask @param {number} width @param {number} height
 * @param {number} x0 @param {number} y0 @param {number} r0
 * @param {number} x1 @param {number} y1 @param {number} r1
 * @param {number} hardness @param {boolean} erase
 * @returns {Rect | null} the pixels visited
 */
export function paintSegment(mask, width, height, x0, y0, r0, x1, y1, r1, hardness, erase) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  const lengthSq = dx * dx + dy * dy;
  const inverse = lengthSq > 0 ? 1 / lengthSq : 0;
  const reach = Math.max(r0, r1) + 1;
  const top = Math.max(0, Math.floor(Math.min(y0, y1) - reach - 0.5));
  const bottom = Math.min(height - 1, Math.ceil(Math.max(y0, y1) + reach - 0.5));
  const left = Math.max(0, Math.floor(Math.min(x0, x1) - reach - 0.5));
  const right = Math.min(width - 1, Math.ceil(Math.max(x0, x1) + reach - 0.5));
  if (top > bottom || left > right) return null;
  const softness = 1 - hardness;
  const dr = r1 - r0;
  const constant = dr === 0;
  const edge0 = Math.max(r0 * softness, 1);
  const outerSq = Math.max(r0, r1) ** 2;
  // A pixel already at the stroke's limit (255 under the brush, 0 under the eraser) cannot change.
  const done = erase ? 0 : 255;
  const steep = Math.abs(dy);
  const slope = steep > 0 ? dx / dy : 0;
  const halfBand = steep > 0 ? (reach * Math.sqrt(lengthSq)) / steep : 0;
  for (let row = top; row <= bottom; row += 1) {
    const cy = row + 0.5 - y0;
    let from = left;
    let to = right;
    if (steep > 0) {
      // Columns within `reach` of the segment's line on this row.
      const centre = x0 + cy * slope;
      from = Math.max(from, Math.ceil(centre - halfBand - 0.5));
      to = Math.min(to, Math.floor(centre + halfBand - 0.5));
    }
    let index = row * width + from;
    for (let col = from; col <= to; col += 1, index += 1) {
      if (mask[index] === done) continue;
      const cx = col + 0.5 - x0;
      let t = (cx * dx + cy * dy) * inverse;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = cx - t * dx;
      const ey = cy - t * dy;
      const distanceSq = ex * ex + ey * ey;
      if (distanceSq >= outerSq) continue; // beyond every radius of the segment: coverage 0
      const distance = Math.sqrt(distanceSq);
      let u;
      if (constant) {
        u = (r0 - distance) / edge0;
      } else {
        const radius = r0 + t * dr;
        u = (radius - distance) / Math.max(radius * softness, 1);
      }
      if (u <= 0) continue;
      if (u > 1) u = 1;
      const level = (u * u * (3 - 2 * u) * 255 + 0.5) | 0;
      if (erase) {
        const keep = 255 - level;
        if (mask[index] > keep) mask[index] = keep;
      } else if (mask[index] < level) {
        mask[index] = level;
      }
    }
  }
  return { x0: left, y0: top, x1: right + 1, y1: bottom + 1 };
}

/**
 * The points (image pixels) and radii of an encoded stroke.
 * @param {StrokeOp} op
 * @returns {{ xs: Float64Array, ys: Float64Array, radii: Float64Array }}
 */
export function decodeStroke(op) {
  const count = op.points.length / 2;
  const xs = new Float64Array(count);
  const ys = new Float64Array(count);
  const radii = new Float64Array(count);
  const radius = op.size / 2;
  for (let k = 0; k < count; k += 1) {
    xs[k] = op.points[2 * k] / SCALE;
    ys[k] = op.points[2 * k + 1] / SCALE;
    radii[k] = op.pressure ? radius * (op.pressure[k] / PRESSURE) : radius;
  }
  return { xs, ys, radii };
}

/**
 * Paint an encoded stroke into `mask`.
 * @param {Uint8Array} mask @param {number} width @param {number} height @param {StrokeOp} op
 * @returns {Rect | null}
 */
export function paintStroke(mask, width, height, op) {
  const { xs, ys, radii } = decodeStroke(op);
  const erase = op.op === MASK_OPS.ERASE;
  if (xs.length === 1) {
    return paintSegment(mask, width, height, xs[0], ys[0], radii[0], xs[0], ys[0], radii[0], op.hardness, erase);
  }
  /** @type {Rect | null} */
  let rect = null;
  for (let k = 0; k + 1 < xs.length; k += 1) {
    const painted = paintSegment(
      mask, width, height, xs[k], ys[k], radii[k], xs[k + 1], ys[k + 1], radii[k + 1], op.hardness, erase,
    ); // prettier-ignore
    rect = unionRect(rect, painted);
  }
  return rect;
}

/**
 * Apply any operation to `mask`.
 * @param {Uint8Array} mask @param {number} width @param {number} height @param {MaskOp} op
 * @returns {Rect | null} the pixels that may have changed
 */
export function applyOp(mask, width, height, op) {
  if (isStroke(op)) return paintStroke(mask, width, height, op);
  if (op.op === MASK_OPS.CLEAR) mask.fill(0);
  else if (op.op === MASK_OPS.FILL) mask.fill(255);
  else if (op.op === MASK_OPS.INVERT) for (let i = 0; i < mask.length; i += 1) mask[i] = 255 - mask[i];
  return { x0: 0, y0: 0, x1: width, y1: height };
}

/**
 * The pixels an encoded stroke may touch.
 * @param {StrokeOp} op @param {number} width @param {number} height
 * @returns {Rect | null}
 */
export function strokeRect(op, width, height) {
  const { xs, ys, radii } = decodeStroke(op);
  let reach = 0;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let k = 0; k < xs.length; k += 1) {
    reach = Math.max(reach, radii[k]);
    x0 = Math.min(x0, xs[k]);
    x1 = Math.max(x1, xs[k]);
    y0 = Math.min(y0, ys[k]);
    y1 = Math.max(y1, ys[k]);
  }
  reach += 1;
  const rect = {
    x0: Math.max(0, Math.floor(x0 - reach - 0.5)),
    y0: Math.max(0, Math.floor(y0 - reach - 0.5)),
    x1: Math.min(width, Math.ceil(x1 + reach - 0.5) + 1),
    y1: Math.min(height, Math.ceil(y1 + reach - 0.5) + 1),
  };
  return rect.x0 < rect.x1 && rect.y0 < rect.y1 ? rect : null;
}

/**
 * The drawing work the server counts for an operation (`segment_work` in `images/mask_strokes.py`,
 * and one pass over the mask for a whole-mask operation): the answer is refused when one
 * image's total passes WORK_PER_PIXEL × its pixels.
 * @param {MaskOp} op @param {number} width @param {number} height
 */
export function estimateWork(op, width, height) {
  if (!isStroke(op)) return width * height; // clear, fill, invert: one pass over every pixel
  const { xs, ys, radii } = decodeStroke(op);
  /** @param {number} dx @param {number} dy @param {number} rmax */
  const segment = (dx, dy, rmax) => {
    const reach = rmax + 1;
    const pieces = Math.max(1, Math.ceil(Math.hypot(dx, dy) / Math.max(WINDOW_RADII * reach, MIN_WINDOW)));
    const across = Math.min(Math.abs(dx) / pieces + 2 * reach + 2, width);
    const down = Math.min(Math.abs(dy) / pieces + 2 * reach + 2, height);
    return pieces * across * down;
  };
  if (xs.length === 1) return segment(0, 0, radii[0]);
  let total = 0;
  for (let k = 0; k + 1 < xs.length; k += 1) {
    total += segment(xs[k + 1] - xs[k], ys[k + 1] - ys[k], Math.max(radii[k], radii[k + 1]));
  }
  return total;
}

/**
 * Indices of the points kept by Ramer–Douglas–Peucker: a point stays when it lies more
 * than `tolerance` pixels off the chord of the points kept around it, or its pressure is
 * more than `pressureTolerance` off the chord's (0..1). First and last always stay.
 * @param {number[]} xs @param {number[]} ys @param {number[] | null} pressure
 * @param {number} tolerance @param {number} pressureTolerance
 * @returns {number[]}
 */
export function simplify(xs, ys, pressure, tolerance, pressureTolerance) {
  const count = xs.length;
  if (count <= 2) return [...Array(count).keys()];
  const keep = new Uint8Array(count);
  keep[0] = 1;
  keep[count - 1] = 1;
  /** @type {[number, number][]} */
  const stack = [[0, count - 1]];
  while (stack.length) {
    const [first, last] = /** @type {[number, number]} */ (stack.pop());
    const dx = xs[last] - xs[first];
    const dy = ys[last] - ys[first];
    const lengthSq = dx * dx + dy * dy;
    let worst = -1;
    let worstScore = 1;
    for (let k = first + 1; k < last; k += 1) {
      const px = xs[k] - xs[first];
      const py = ys[k] - ys[first];
      let t = lengthSq > 0 ? (px * dx + py * dy) / lengthSq : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const off = Math.hypot(px - t * dx, py - t * dy);
      let score = off / tolerance;
      if (pressure) {
        const along = pressure[first] + t * (pressure[last] - pressure[first]);
        score = Math.max(score, Math.abs(pressure[k] - along) / pressureTolerance);
      }
      if (score > worstScore) {
        worstScore = score;
        worst = k;
      }
    }
    if (worst > 0) {
      keep[worst] = 1;
      stack.push([first, worst], [worst, last]);
    }
  }
  return [...keep.keys()].filter((k) => keep[k]);
}

/**
 * The answer form of a stroke painted through `xs`, `ys` (image pixels, as the pointer went):
 * simplified (a fraction of a pixel off the path at most), in 1/POINT_SCALE pixel integers
 * clamped to the area the server accepts, with pressure only when it varies.
 * @param {{ tool: string, size: number, hardness: number, xs: number[], ys: number[],
 *   pressure: number[] | null, width: number, height: number }} stroke
 * @returns {StrokeOp}
 */
export function encodeStroke({ tool, size, hardness, xs, ys, pressure, width, height }) {
  const radius = size / 2;
  const varies = pressure !== null && pressure.some((value) => Math.abs(value - pressure[0]) > 0.01);
  const kept = simplify(xs, ys, varies ? pressure : null, Math.max(0.3, 0.03 * radius), 0.06);
  const margin = MASK_LIMITS.COORD_MARGIN;
  /** @param {number} value @param {number} extent */
  const fixed = (value, extent) => Math.round(Math.min(Math.max(value, -margin * extent), (1 + margin) * extent) * SCALE);
  /** @type {number[]} */
  const points = [];
  /** @type {number[]} */
  const levels = [];
  for (const k of kept) {
    const x = fixed(xs[k], width);
    const y = fixed(ys[k], height);
    const level = varies && pressure ? Math.round(Math.min(1, Math.max(0, pressure[k])) * PRESSURE) : PRESSURE;
    const n = points.length;
    if (n && points[n - 2] === x && points[n - 1] === y) continue; // the same quarter pixel
    points.push(x, y);
    levels.push(level);
  }
  // A pressure that did not vary is the same as a smaller brush: fold it into the size.
  const flat = !varies && pressure !== null ? Math.min(1, Math.max(0.05, pressure[0])) : 1;
  const sizeOut = Math.min(MASK_LIMITS.MAX_SIZE, Math.max(MASK_LIMITS.MIN_SIZE, Math.round(size * flat * 100) / 100));
  /** @type {StrokeOp} */
  const op = { op: tool, size: sizeOut, hardness: Math.round(hardness * 1000) / 1000, points };
  if (varies) op.pressure = levels;
  return op;
}

/**
 * One image's mask as the person edits it: the starting mask, the operations so far, and
 * undo/redo of whole operations. Undo restores the pixels an operation changed (kept as a
 * patch of its rectangle; invert needs none); patches are dropped oldest first beyond a
 * memory budget, which ends how far back undo reaches, never what is sent.
 */
export class MaskDoc {
  /**
   * @param {number} width @param {number} height
   * @param {Uint8Array | null} start the input mask (8-bit), or null for an empty one
   * @param {{ patchBudget?: number }} [options]
   */
  constructor(width, height, start, { patchBudget = 96 * 1024 * 1024 } = {}) {
    this.width = width;
    this.height = height;
    this.start = start;
    this.mask = start ? start.slice() : new Uint8Array(width * height);
    /** @type {{ op: MaskOp, rect: Rect | null, patch: Uint8Array | null, undoable: boolean }[]} */
    this.entries = [];
    /** @type {MaskOp[]} */
    this.redoStack = [];
    this.patchBytes = 0;
    this.patchBudget = patchBudget;
    /** @type {Uint8Array | null} the mask before the stroke being painted */
    this.before = null;
    this.work = 0;
  }

  /** The operations to send, in order. */
  ops() {
    return this.entries.map((entry) => entry.op);
  }

  get canUndo() {
    const last = this.entries[this.entries.length - 1];
    return Boolean(last && last.undoable);
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }

  /** @param {Rect | null} rect */
  #copy(rect) {
    if (!rect) return null;
    const { width } = this;
    const rows = rect.y1 - rect.y0;
    const cols = rect.x1 - rect.x0;
    const patch = new Uint8Array(rows * cols);
    for (let row = 0; row < rows; row += 1) {
      const from = (rect.y0 + row) * width + rect.x0;
      patch.set(this.mask.subarray(from, from + cols), row * cols);
    }
    return patch;
  }

  /** @param {Rect | null} rect @param {Uint8Array} source a full mask or a patch of rect */
  #restore(rect, source) {
    if (!rect) return;
    const { width } = this;
    const cols = rect.x1 - rect.x0;
    const full = source.length === this.mask.length;
    for (let row = rect.y0; row < rect.y1; row += 1) {
      const to = row * width + rect.x0;
      const from = full ? to : (row - rect.y0) * cols;
      this.mask.set(source.subarray(from, from + cols), to);
    }
  }

  /** @param {MaskOp} op */
  #rectOf(op) {
    return isStroke(op) ? strokeRect(op, this.width, this.height) : { x0: 0, y0: 0, x1: this.width, y1: this.height };
  }

  /** @param {MaskOp} op @param {Uint8Array | null} patch */
  #record(op, patch) {
    const rect = this.#rectOf(op);
    const undoable = op.op === MASK_OPS.INVERT || patch !== null;
    this.entries.push({ op, rect, patch, undoable });
    this.patchBytes += patch ? patch.length : 0;
    this.work += estimateWork(op, this.width, this.height);
    // Beyond the budget the oldest patches go: undo then stops there.
    for (const entry of this.entries) {
      if (this.patchBytes <= this.patchBudget) break;
      if (entry.patch) {
        this.patchBytes -= entry.patch.length;
        entry.patch = null;
      }
      entry.undoable = false;
    }
  }

  /**
   * Apply and record an operation (clears redo).
   * @param {MaskOp} op
   * @returns {Rect | null}
   */
  apply(op) {
    this.redoStack = [];
    return this.#applyRecorded(op);
  }

  /** @param {MaskOp} op */
  #applyRecorded(op) {
    const rect = this.#rectOf(op);
    const patch = op.op === MASK_OPS.INVERT ? null : this.#copy(rect);
    applyOp(this.mask, this.width, this.height, op);
    this.#record(op, patch);
    return rect;
  }

  /** Start painting a stroke live: remember the mask as it is. */
  beginStroke() {
    this.before = this.mask.slice();
  }

  /**
   * End the live stroke: put back what live painting touched (`painted`) and draw the
   * stroke from its encoded form, so the mask is exactly what the server will draw.
   * `op` null drops the stroke (e.g. a second finger turned it into a pinch).
   * @param {StrokeOp | null} op @param {Rect | null} painted
   * @returns {Rect | null} what changed on screen
   */
  endStroke(op, painted) {
    const before = this.before;
    this.before = null;
    if (!before) return null;
    this.#restore(painted, before);
    if (!op) return painted;
    const rect = strokeRect(op, this.width, this.height);
    /** @type {Uint8Array | null} */
    let patch = null;
    if (rect) {
      // Undo's patch: the stroke's rectangle as it was before the stroke.
      const cols = rect.x1 - rect.x0;
      patch = new Uint8Array((rect.y1 - rect.y0) * cols);
      for (let row = rect.y0; row < rect.y1; row += 1) {
        const from = row * this.width + rect.x0;
        patch.set(before.subarray(from, from + cols), (row - rect.y0) * cols);
      }
    }
    paintStroke(this.mask, this.width, this.height, op);
    this.redoStack = [];
    this.#record(op, patch);
    return unionRect(painted, rect);
  }

  /** @returns {Rect | null} what changed, or null if there is nothing to undo */
  undo() {
    const entry = this.entries[this.entries.length - 1];
    if (!entry || !entry.undoable) return null;
    this.entries.pop();
    this.work -= estimateWork(entry.op, this.width, this.height);
    if (entry.op.op === MASK_OPS.INVERT) applyOp(this.mask, this.width, this.height, entry.op);
    else if (entry.patch) {
      this.#restore(entry.rect, entry.patch);
      this.patchBytes -= entry.patch.length;
    }
    this.redoStack.push(entry.op);
    return entry.rect ?? { x0: 0, y0: 0, x1: 0, y1: 0 };
  }

  /** @returns {Rect | null} what changed, or null if there is nothing to redo */
  redo() {
    const op = this.redoStack.pop();
    if (!op) return null;
    return this.#applyRecorded(op) ?? { x0: 0, y0: 0, x1: 0, y1: 0 };
  }

  /**
   * Start over from the starting mask and apply `ops` (e.g. after a reload, or when the
   * same mask for all is switched on or off).
   * @param {MaskOp[]} ops
   */
  replay(ops) {
    this.mask = this.start ? this.start.slice() : new Uint8Array(this.width * this.height);
    this.entries = [];
    this.redoStack = [];
    this.patchBytes = 0;
    this.work = 0;
    for (const op of ops) this.#applyRecorded(op);
  }
}
