// @ts-check
/**
 * A mask painter's input: what pointers and keys do on the painting.
 *
 *   mouse / pen   paint (pen pressure changes the width); Space-drag or middle-drag pans
 *   touch         one finger paints; two fingers pinch to zoom and move to pan
 *   wheel         zoom around the pointer
 *
 * A stroke is kept live while it is drawn (its points in image pixels) and painted into the
 * mask once per display frame ({@link PointerInput#paintLive}, called by the view); when it
 * ends it is simplified and encoded, and drawn again from that form, which is what the
 * server will draw. Keys ({@link painterKey}) come from the overlay (`dialog.onKey`), never
 * ComfyUI's shortcuts: Ctrl+Z here undoes a stroke, never a change to the graph.
 */
import { MASK_OPS } from "./protocol.js";
import { encodeStroke, paintSegment, unionRect } from "./mask_strokes.js";
import { clampZoom } from "./mask_view.js";

/**
 * @typedef {import("./mask_strokes.js").Rect} Rect
 * @typedef {import("./mask_view.js").MaskView} MaskView
 * @typedef {import("./mask_painter.js").PainterDialog} PainterDialog
 * @typedef {{ tool: string, size: number, hardness: number, xs: number[], ys: number[],
 *   pressure: number[] | null, pointerId: number, painted: Rect | null, done: number }} LiveStroke
 * @typedef {{ ids: number[], distance: number, midX: number, midY: number, scale: number, tx: number, ty: number }} Pinch
 */

/** Pen pressure mapped to 0.15..1 of the brush size (a light touch still paints). @param {PointerEvent} event */
function pressureOf(event) {
  return 0.15 + 0.85 * Math.min(1, Math.max(0, event.pressure || 0));
}

/** Pointers on the stage: strokes, pans and pinches. */
export class PointerInput {
  /**
   * @param {MaskView} view
   * @param {PainterDialog} painter whose brush paints, into its active mask
   */
  constructor(view, painter) {
    this.view = view;
    this.painter = painter;
    /** @type {LiveStroke | null} */
    this.stroke = null;
    /** @type {Map<number, {x: number, y: number, type: string}>} pointers down on the stage */
    this.pointers = new Map();
    /** @type {Pinch | null} */
    this.pinch = null;
    /** @type {{ id: number, x: number, y: number, tx: number, ty: number } | null} */
    this.pan = null;
    this.spaceHeld = false;
  }

  listen() {
    const stage = this.view.stage;
    stage.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    stage.addEventListener("pointermove", (event) => this.onPointerMove(event));
    stage.addEventListener("pointerup", (event) => this.onPointerUp(event));
    stage.addEventListener("pointercancel", (event) => this.onPointerUp(event));
    stage.addEventListener("pointerleave", () => {
      if (!this.stroke && !this.pan) this.view.cursor.hidden = true;
    });
    stage.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    stage.addEventListener("contextmenu", (event) => event.preventDefault());
  }

  /** Space held: a drag pans instead of painting. @param {boolean} held */
  holdSpace(held) {
    this.spaceHeld = held;
    this.view.stage.dataset.panning = String(held || Boolean(this.pan));
  }

  /** @param {PointerEvent} event */
  onPointerDown(event) {
    const view = this.view;
    const stage = view.stage;
    stage.focus({ preventScroll: true });
    const [x, y] = view.stagePoint(event);
    this.pointers.set(event.pointerId, { x, y, type: event.pointerType });
    if (event.pointerType !== "touch") stage.setPointerCapture(event.pointerId);
    event.preventDefault();
    const touches = [...this.pointers.entries()].filter(([, p]) => p.type === "touch");
    if (event.pointerType === "touch" && touches.length >= 2) {
      // A second finger: the first one's stroke was the start of a pinch, not a stroke.
      this.finishStroke(true);
      const [[idA, a], [idB, b]] = touches;
      this.pinch = {
        ids: [idA, idB],
        distance: Math.max(1, Math.hypot(a.x - b.x, a.y - b.y)),
        midX: (a.x + b.x) / 2,
        midY: (a.y + b.y) / 2,
        scale: view.scale,
        tx: view.tx,
        ty: view.ty,
      };
      return;
    }
    if (this.pinch) return;
    if (event.button === 1 || (this.spaceHeld && event.button === 0)) {
      this.pan = { id: event.pointerId, x, y, tx: view.tx, ty: view.ty };
      stage.dataset.panning = "true";
      return;
    }
    if (event.button !== 0 || !this.painter.ready) return;
    this.startStroke(event, x, y);
  }

  /** @param {PointerEvent} event @param {number} x @param {number} y */
  startStroke(event, x, y) {
    const painter = this.painter;
    const doc = painter.activeDoc;
    if (!doc) return;
    this.finishStroke(false);
    const [ix, iy] = this.view.toImage(x, y);
    const pen = event.pointerType === "pen";
    doc.beginStroke();
    this.stroke = {
      tool: painter.tool,
      size: painter.size,
      hardness: painter.hardness,
      xs: [ix],
      ys: [iy],
      pressure: pen ? [pressureOf(event)] : null,
      pointerId: event.pointerId,
      painted: null,
      done: 0,
    };
    this.view.cursor.hidden = event.pointerType === "touch";
    this.view.placeCursor(x, y);
    this.view.requestFrame();
  }

  /** @param {PointerEvent} event */
  onPointerMove(event) {
    const view = this.view;
    const [x, y] = view.stagePoint(event);
    const pointer = this.pointers.get(event.pointerId);
    if (pointer) {
      pointer.x = x;
      pointer.y = y;
    }
    if (this.pinch) {
      const [a, b] = this.pinch.ids.map((id) => this.pointers.get(id));
      if (!a || !b) return;
      const pinch = this.pinch;
      const distance = Math.max(1, Math.hypot(a.x - b.x, a.y - b.y));
      const midX = (a.x + b.x) / 2;
      const midY = (a.y + b.y) / 2;
      const scale = clampZoom(pinch.scale * (distance / pinch.distance));
      // The image point under the first midpoint follows the fingers' midpoint.
      view.moveTo(
        scale,
        midX - ((pinch.midX - pinch.tx) / pinch.scale) * scale,
        midY - ((pinch.midY - pinch.ty) / pinch.scale) * scale,
      );
      return;
    }
    if (this.pan && this.pan.id === event.pointerId) {
      view.moveTo(view.scale, this.pan.tx + (x - this.pan.x), this.pan.ty + (y - this.pan.y));
      return;
    }
    if (event.pointerType !== "touch") {
      view.cursor.hidden = false;
      view.placeCursor(x, y);
    }
    const stroke = this.stroke;
    if (!stroke || stroke.pointerId !== event.pointerId) return;
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const sample of events.length ? events : [event]) {
      const [sx, sy] = view.toImage(...view.stagePoint(sample));
      this.#addPoint(stroke, sx, sy, stroke.pressure ? pressureOf(sample) : null);
    }
    view.requestFrame();
  }

  /**
   * Add a pointer sample to the live stroke when it moved far enough to matter.
   * @param {LiveStroke} stroke @param {number} x @param {number} y @param {number | null} pressure
   */
  #addPoint(stroke, x, y, pressure) {
    const last = stroke.xs.length - 1;
    const spacing = Math.max(0.5, 0.08 * (stroke.size / 2), 0.75 / this.view.scale);
    const moved = Math.hypot(x - stroke.xs[last], y - stroke.ys[last]);
    const pressed = stroke.pressure && pressure !== null ? Math.abs(pressure - stroke.pressure[last]) : 0;
    if (moved < spacing && pressed < 0.05) return;
    stroke.xs.push(x);
    stroke.ys.push(y);
    if (stroke.pressure && pressure !== null) stroke.pressure.push(pressure);
  }

  /** @param {PointerEvent} event */
  onPointerUp(event) {
    this.pointers.delete(event.pointerId);
    const view = this.view;
    const stage = view.stage;
    if (stage.hasPointerCapture?.(event.pointerId)) stage.releasePointerCapture(event.pointerId);
    if (this.pinch) {
      if (this.pinch.ids.includes(event.pointerId)) this.pinch = null;
      return;
    }
    if (this.pan && this.pan.id === event.pointerId) {
      this.pan = null;
      stage.dataset.panning = String(this.spaceHeld);
      return;
    }
    if (this.stroke && this.stroke.pointerId === event.pointerId) {
      if (event.type === "pointerup") {
        const [x, y] = view.toImage(...view.stagePoint(event));
        this.#addPoint(this.stroke, x, y, this.stroke.pressure ? pressureOf(event) : null);
      }
      this.finishStroke(false);
    }
    if (event.pointerType === "touch") view.cursor.hidden = true;
  }

  /** @param {WheelEvent} event */
  onWheel(event) {
    event.preventDefault();
    const [x, y] = this.view.stagePoint(event);
    const lines = event.deltaMode === 1 ? 33 : event.deltaMode === 2 ? 400 : 1;
    this.view.zoomAt(Math.exp(-event.deltaY * lines * 0.0015), x, y);
  }

  /**
   * Paint the live stroke's segments added since the last frame into the active mask.
   * @returns {Rect | null} the pixels painted
   */
  paintLive() {
    const stroke = this.stroke;
    const doc = this.painter.activeDoc;
    if (!stroke || !doc) return null;
    const { width, height } = this.view;
    const radius = stroke.size / 2;
    const erase = stroke.tool === MASK_OPS.ERASE;
    /** @type {Rect | null} */
    let painted = null;
    // One segment per new point; a stroke of one point so far is a dot (a segment to itself).
    const first = stroke.done === 0 && stroke.xs.length === 1 ? 0 : Math.max(1, stroke.done);
    for (let k = first; k < stroke.xs.length; k += 1) {
      const from = Math.max(0, k - 1);
      const r0 = stroke.pressure ? radius * stroke.pressure[from] : radius;
      const r1 = stroke.pressure ? radius * stroke.pressure[k] : radius;
      const rect = paintSegment(
        doc.mask, width, height, stroke.xs[from], stroke.ys[from], r0, stroke.xs[k], stroke.ys[k], r1,
        stroke.hardness, erase,
      ); // prettier-ignore
      stroke.painted = unionRect(stroke.painted, rect);
      painted = unionRect(painted, rect);
    }
    stroke.done = stroke.xs.length;
    return painted;
  }

  /**
   * End the live stroke: simplify and encode it, and draw it from that form (what the
   * server will draw), or drop it.
   * @param {boolean} drop
   */
  finishStroke(drop) {
    const stroke = this.stroke;
    const doc = this.painter.activeDoc;
    if (!stroke) return;
    this.stroke = null;
    if (!doc) return;
    const view = this.view;
    view.frame(); // update the overlay with whatever the last frame has not yet
    const started = performance.now();
    const op = drop
      ? null
      : encodeStroke({
          tool: stroke.tool,
          size: stroke.size,
          hardness: stroke.hardness,
          xs: stroke.xs,
          ys: stroke.ys,
          pressure: stroke.pressure,
          width: view.width,
          height: view.height,
        });
    const changed = doc.endStroke(op, stroke.painted);
    view.flush(changed);
    view.stats.commits.push(performance.now() - started);
    if (op) this.painter.changed();
  }
}

/** @typedef {(painter: PainterDialog) => void} KeyAction */

/** What the plain keys (no Ctrl, Cmd or Alt) do in the painter; letters either case. */
const PLAIN_KEYS = new Map(
  /** @type {[string, KeyAction][]} */ ([
    ["b", (painter) => painter.setTool(MASK_OPS.BRUSH)],
    ["e", (painter) => painter.setTool(MASK_OPS.ERASE)],
    ["x", (painter) => painter.setTool(painter.tool === MASK_OPS.BRUSH ? MASK_OPS.ERASE : MASK_OPS.BRUSH)],
    ["[", (painter) => painter.setSize(Math.min(painter.size - 1, painter.size / 1.15))],
    ["]", (painter) => painter.setSize(Math.max(painter.size + 1, painter.size * 1.15))],
    ["{", (painter) => painter.setHardness(painter.hardness - 0.1)],
    ["}", (painter) => painter.setHardness(painter.hardness + 0.1)],
    ["f", (painter) => painter.maskView.fit()],
    ["0", (painter) => painter.maskView.fit()],
    ["1", (painter) => painter.maskView.zoomTo(1)],
    ["+", (painter) => painter.maskView.zoomTo(painter.maskView.scale * 1.25)],
    ["=", (painter) => painter.maskView.zoomTo(painter.maskView.scale * 1.25)],
    ["-", (painter) => painter.maskView.zoomTo(painter.maskView.scale / 1.25)],
    ["_", (painter) => painter.maskView.zoomTo(painter.maskView.scale / 1.25)],
  ]),
);

/** The keys a focused slider keeps. */
const SLIDER_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);

/**
 * A key typed in the painter's dialog:
 *
 *   B / E / X     brush / eraser / swap            [ ]  size       { }  hardness
 *   F or 0  fit     1  100 %     + -  zoom         Space-drag  pan
 *   Ctrl+Z        undo      Ctrl+Shift+Z, Ctrl+Y  redo
 *   ← → PageUp/PageDown  previous / next image of a batch
 *   Enter         send      (Ctrl/Cmd+Enter send, Esc cancel the run: the overlay's)
 *
 * @param {PainterDialog} painter
 * @param {KeyboardEvent} event
 */
export function painterKey(painter, event) {
  if (event.isComposing || painter.dialog.card.dataset.busy === "true") return;
  const target = /** @type {HTMLElement} */ (event.target);
  const inInput = target instanceof HTMLInputElement;
  const ctrl = event.ctrlKey || event.metaKey;
  const key = event.key;
  /** @param {() => void} action */
  const handle = (action) => {
    event.preventDefault();
    action();
  };
  if (ctrl && !event.altKey) {
    if (key === "z" || key === "Z") return handle(() => (event.shiftKey ? painter.redo() : painter.undo()));
    if (key === "y" || key === "Y") return handle(() => painter.redo());
    return;
  }
  if (event.altKey) return;
  // A focused button (Cancel run, Undo…) does what it says on Enter and Space.
  if (target instanceof HTMLButtonElement && (key === "Enter" || key === " ")) return;
  if (key === "Enter") return handle(() => void painter.send());
  // A focused slider keeps its arrows; a checkbox and a button their Space.
  if (inInput && target.type === "range" && SLIDER_KEYS.has(key)) return;
  if (inInput && target.type === "checkbox" && key === " ") return;
  if (key === " ") return handle(() => painter.input.holdSpace(true));
  const action = PLAIN_KEYS.get(key.length === 1 ? key.toLowerCase() : key);
  if (action) return handle(() => action(painter));
  const count = painter.count;
  if (count > 1 && (key === "ArrowRight" || key === "PageDown")) {
    return handle(() => void painter.show((painter.current + 1) % count));
  }
  if (count > 1 && (key === "ArrowLeft" || key === "PageUp")) {
    return handle(() => void painter.show((painter.current - 1 + count) % count));
  }
}
