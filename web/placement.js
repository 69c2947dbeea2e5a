// @ts-check
/**
 * Where our dialogs go in the host's page. They sit in the free part of the window,
 * measured at run time: below the top bar, the workflow tabs and the Run/Cancel bar, beside
 * the side toolbar, above the canvas toolbar (the overlay takes a `chrome()` function that
 * finds them; main.js has ComfyUI's). A person can drag the dialogs by a header (mouse or
 * touch); where they were put is remembered per browser and kept on-screen when the window
 * changes; a double click on the header puts them back. The tray of minimised dialogs sits
 * at the bottom left, clear of the same controls.
 */
import { SafeStorage } from "./storage.js";

/**
 * @typedef {{ left: number, top: number, right: number, bottom: number }} Box
 * @typedef {{ keep: Box[], avoid: Box[] }} Chrome  the host's controls: `keep` must never be
 *   covered where we place a dialog (Run, Cancel, the tabs, the top bar); `avoid` rather not
 *   (side and canvas toolbars)
 * @typedef {{ x: number, y: number }} Point
 */

/** Where a dialog the person dragged was put (localStorage, per browser). */
const POSITION_KEY = "comfyui-hitl.dialog-position";
/** Room kept between our dialogs and ComfyUI's controls or the window's edge. */
const MARGIN = 8;
/** Below this width a dialog may cover the side toolbar (a phone has no room to spare). */
const ROOMY_WIDTH = 600;
/** How much of a dragged dialog must stay on-screen: its header at least. */
const KEEP_VISIBLE = 56;

/** @param {Box} a @param {Box} b */
function overlapArea(a, b) {
  const width = Math.min(a.right, b.right) - Math.max(a.left, b.left);
  const height = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
  return width > 0 && height > 0 ? width * height : 0;
}

/** @param {number} value @param {number} low @param {number} high */
function clamp(value, low, high) {
  return Math.min(Math.max(value, low), Math.max(low, high));
}

/**
 * The free part of the window: below the chrome along the top, right of a tall toolbar on
 * the left (when there is room), above the chrome along the bottom.
 * @param {Chrome} chrome @param {number} width @param {number} height
 */
export function freeArea(chrome, width, height) {
  const boxes = [...chrome.keep, ...chrome.avoid].filter((box) => box.right > box.left && box.bottom > box.top);
  let top = MARGIN;
  let side = MARGIN;
  let bottom = height - MARGIN;
  for (const box of boxes) {
    const tall = box.bottom - box.top > height * 0.5;
    if (!tall && box.top < height * 0.3 && box.bottom < height * 0.45) top = Math.max(top, box.bottom + MARGIN);
    else if (!tall && box.top > height * 0.55) bottom = Math.min(bottom, box.top - MARGIN);
    else if (tall && box.left < width * 0.25 && box.right < width * 0.3) side = Math.max(side, box.right + MARGIN);
  }
  return {
    // A dialog clears a toolbar on the left when there is room; on a phone it may cover it.
    left: width >= ROOMY_WIDTH ? side : MARGIN,
    top,
    right: width - MARGIN,
    bottom: Math.max(bottom, top + Math.min(240, height - top - MARGIN)),
    /** Right of the toolbar on the left, whatever the width: where the (narrow) tray goes. */
    side,
  };
}

/**
 * Where a stack of `size` goes by default: centred in the free area at its top, unless that
 * covers a control we keep (a Run bar dragged into the middle): then the first of left,
 * right and below it that covers none, else the one covering least.
 * @param {Chrome} chrome @param {{ width: number, height: number }} viewport @param {{ width: number, height: number }} size
 * @returns {Point}
 */
export function defaultPlace(chrome, viewport, size) {
  const area = freeArea(chrome, viewport.width, viewport.height);
  const centred = area.left + Math.max(0, (area.right - area.left - size.width) / 2);
  /** @type {Point[]} */
  const candidates = [
    { x: centred, y: area.top },
    { x: area.left, y: area.top },
    { x: area.right - size.width, y: area.top },
  ];
  for (const box of chrome.keep) {
    if (box.bottom + MARGIN + Math.min(size.height, 200) <= area.bottom) candidates.push({ x: centred, y: box.bottom + MARGIN });
  }
  /** @param {Point} point */
  const cost = (point) => {
    const rect = { left: point.x, top: point.y, right: point.x + size.width, bottom: point.y + size.height };
    const keep = chrome.keep.reduce((sum, box) => sum + overlapArea(rect, box), 0);
    const avoid = chrome.avoid.reduce((sum, box) => sum + overlapArea(rect, box), 0);
    return keep * 1000 + avoid;
  };
  let best = candidates[0];
  let bestCost = cost(best);
  for (const candidate of candidates.slice(1)) {
    if (bestCost === 0) break;
    const candidateCost = cost(candidate);
    if (candidateCost < bestCost) {
      best = candidate;
      bestCost = candidateCost;
    }
  }
  return { x: Math.max(0, Math.round(best.x)), y: Math.max(0, Math.round(best.y)) };
}

/**
 * Places the overlay's stack of dialogs and its tray, and lets a person drag the stack.
 * Nothing is placed until {@link Placement#attach} gives it the layer's parts.
 */
export class Placement {
  /**
   * @param {Document} doc
   * @param {{ chrome?: () => Chrome, movable?: boolean }} [options] see the Overlay's
   */
  constructor(doc, options = {}) {
    this.chrome = options.chrome ?? (() => ({ keep: [], avoid: [] }));
    this.movable = options.movable ?? true;
    /** This page's localStorage, where a dragged dialog's place is kept. */
    this.storage = new SafeStorage(() => doc.defaultView?.localStorage);
    /** @type {Point | null} where the person dragged the dialogs, if they did */
    this.placed = this.#loadPosition();
    this.placing = false;
    /** @type {HTMLElement | null} */
    this.layer = null;
    /** @type {HTMLElement | null} */
    this.stack = null;
    /** @type {HTMLElement | null} */
    this.tray = null;
  }

  /**
   * The overlay's layer was made: from now on, place its stack and tray.
   * @param {HTMLElement} layer @param {HTMLElement} stack @param {HTMLElement} tray
   */
  attach(layer, stack, tray) {
    this.layer = layer;
    this.stack = stack;
    this.tray = tray;
  }

  /** @returns {Point | null} */
  #loadPosition() {
    const point = this.storage.readJson(POSITION_KEY);
    return Number.isFinite(point?.x) && Number.isFinite(point?.y) ? { x: point.x, y: point.y } : null;
  }

  /** @param {Point | null} point */
  #savePosition(point) {
    this.placed = point;
    this.storage.writeJson(POSITION_KEY, point);
  }

  /** Measure the host's controls; a failing finder must not break our dialogs. @returns {Chrome} */
  #measureChrome() {
    try {
      const chrome = this.chrome();
      return { keep: chrome.keep ?? [], avoid: chrome.avoid ?? [] };
    } catch (error) {
      console.warn("[comfyui-hitl] could not measure the page's controls", error);
      return { keep: [], avoid: [] };
    }
  }

  /** Put the stack and the tray where they belong now (after any change of size or content). */
  place() {
    const layer = this.layer;
    const stack = this.stack;
    const tray = this.tray;
    if (!layer || !stack || !tray || this.placing) return;
    this.placing = true;
    try {
      const viewport = { width: layer.clientWidth, height: layer.clientHeight };
      const chrome = this.#measureChrome();
      const area = freeArea(chrome, viewport.width, viewport.height);
      let availWidth = area.right - area.left;
      let availHeight = area.bottom - area.top;
      const placed = this.movable ? this.placed : null;
      // A dragged stack keeps at least this much height on-screen (its content scrolls).
      const minHeight = Math.min(240, Math.floor(viewport.height / 2));
      const placedY = placed ? clamp(placed.y, 0, viewport.height - minHeight) : 0;
      if (placed) {
        availWidth = viewport.width - 2 * MARGIN;
        availHeight = viewport.height - placedY - MARGIN;
      }
      layer.style.setProperty("--hitl-avail-w", `${Math.max(200, Math.floor(availWidth))}px`);
      layer.style.setProperty("--hitl-avail-h", `${Math.max(KEEP_VISIBLE, Math.floor(availHeight))}px`);
      if (!this.movable) {
        // The page's own layout (the overlay's `movable` false): the stack fills the window.
        this.#placeTray(chrome, viewport, area);
        return;
      }
      const size = { width: stack.offsetWidth, height: stack.offsetHeight };
      const point = placed
        ? { x: clamp(placed.x, 0, viewport.width - size.width), y: placedY }
        : defaultPlace(chrome, viewport, size);
      stack.style.left = `${Math.round(point.x)}px`;
      stack.style.top = `${Math.round(point.y)}px`;
      this.#placeTray(chrome, viewport, area);
    } finally {
      this.placing = false;
    }
  }

  /**
   * The tray sits at the bottom left, right of the side toolbar, lifted above any control it
   * would cover.
   * @param {Chrome} chrome @param {{ width: number, height: number }} viewport @param {Box & { side: number }} area
   */
  #placeTray(chrome, viewport, area) {
    const tray = /** @type {HTMLElement} */ (this.tray);
    const left = area.side;
    tray.style.left = `${left}px`;
    tray.style.maxWidth = `${Math.max(160, Math.min(420, viewport.width - left - MARGIN))}px`;
    let bottom = MARGIN;
    const boxes = [...chrome.keep, ...chrome.avoid];
    for (let round = 0; round < 4; round += 1) {
      const rect = {
        left,
        right: left + tray.offsetWidth,
        bottom: viewport.height - bottom,
        top: viewport.height - bottom - Math.max(tray.offsetHeight, 34),
      };
      const hit = boxes.find((box) => overlapArea(rect, box) > 0 && box.bottom - box.top < viewport.height * 0.5);
      if (!hit) break;
      bottom = viewport.height - hit.top + MARGIN;
    }
    tray.style.bottom = `${bottom}px`;
  }

  /**
   * Let a person move the dialogs by dragging `handle` (a card's header), with a mouse, a pen
   * or a finger; a double click puts them back where they go by default.
   * @param {HTMLElement} handle
   */
  makeDraggable(handle) {
    /** @type {{ pointer: number, start: Point, origin: Point } | null} */
    let drag = null;
    handle.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || !this.stack || (event.target instanceof Element && event.target.closest("button, a, input"))) {
        return;
      }
      const origin = { x: this.stack.offsetLeft, y: this.stack.offsetTop };
      drag = { pointer: event.pointerId, start: { x: event.clientX, y: event.clientY }, origin };
      handle.setPointerCapture?.(event.pointerId);
      handle.dataset.dragging = "true";
      event.preventDefault();
    });
    handle.addEventListener("pointermove", (event) => {
      if (!drag || event.pointerId !== drag.pointer) return;
      const x = drag.origin.x + event.clientX - drag.start.x;
      const y = drag.origin.y + event.clientY - drag.start.y;
      this.placed = { x, y };
      this.place();
    });
    const end = (/** @type {PointerEvent} */ event) => {
      if (!drag || event.pointerId !== drag.pointer) return;
      drag = null;
      handle.dataset.dragging = "false";
      if (this.placed && this.stack) this.#savePosition({ x: this.stack.offsetLeft, y: this.stack.offsetTop });
    };
    handle.addEventListener("pointerup", end);
    handle.addEventListener("pointercancel", end);
    handle.addEventListener("dblclick", (event) => {
      if (event.target instanceof Element && event.target.closest("button")) return;
      this.#savePosition(null);
      this.place();
    });
  }
}
