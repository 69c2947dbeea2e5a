// @ts-check
/**
 * What the person sees of a mask painter: the stage with the image, the mask's tint on a
 * canvas over it (at the image's full resolution), the brush ring, and the view's pan and
 * zoom. It draws, it does not decide: the painter says which mask to show, and the pointer
 * input (mask_input.js) moves the view and paints the live stroke on each frame.
 *
 * Image pixel (x, y) is at stage pixel (tx + x · scale, ty + y · scale).
 */
import { element } from "./dom.js";
import { unionRect } from "./mask_strokes.js";

/**
 * @typedef {import("./mask_strokes.js").MaskDoc} MaskDoc
 * @typedef {import("./mask_strokes.js").Rect} Rect
 */

/** Zoom limits relative to the image's pixels. */
export const MIN_ZOOM = 0.02;
export const MAX_ZOOM = 32;
/** Frames of paint timing kept for the statistics the benchmark reads. */
const STATS_FRAMES = 2000;

/** @param {string} hex @returns {[number, number, number]} */
function parseColour(hex) {
  const match = /^#([0-9a-f]{6})$/i.exec(hex);
  const value = match ? parseInt(match[1], 16) : 0xff3030;
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** @param {number} scale */
export function clampZoom(scale) {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, scale));
}

export class MaskView {
  /**
   * @param {Document} doc
   * @param {{
   *   width: number,
   *   height: number,
   *   colour: string,
   *   opacity: number,
   *   count: number,
   *   imageUrl: (index: number, size: "preview" | "full") => string,
   *   maskOf: () => MaskDoc | null,
   *   paintLive: () => Rect | null,
   *   onViewChange: () => void,
   * }} options `imageUrl`: where an image of the batch is, in a size the image route serves;
   *   `maskOf`: the mask shown; `paintLive`: paints what the live stroke drew since the last
   *   frame and returns where; `onViewChange`: the zoom or pan changed
   */
  constructor(doc, { width, height, colour, opacity, count, imageUrl, maskOf, paintLive, onViewChange }) {
    this.width = width;
    this.height = height;
    this.colour = colour;
    this.imageUrl = imageUrl;
    /** The image of the batch shown. */
    this.index = 0;
    /** @type {boolean[]} which images already show their full-size image */
    this.fullLoaded = Array.from({ length: count }, () => false);
    this.maskOf = maskOf;
    this.paintLive = paintLive;
    this.onViewChange = onViewChange;
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.fitted = true;
    /** The brush's size in image pixels: the ring's diameter at scale 1. */
    this.brushSize = 1;
    /** @type {number | undefined} */
    this.cursorX = undefined;
    /** @type {number | undefined} */
    this.cursorY = undefined;
    /** @type {Rect | null} the part of the overlay canvas that is stale */
    this.dirty = null;
    this.frameRequested = false;
    /** Per-frame paint cost (ms): rasterizing new segments plus updating the overlay. */
    this.stats = { frames: /** @type {number[]} */ ([]), commits: /** @type {number[]} */ ([]) };

    this.stage = element(doc, "div", "hitl-mp-stage");
    this.viewLayer = element(doc, "div", "hitl-mp-view");
    this.image = element(doc, "img");
    this.canvas = element(doc, "canvas");
    this.canvas.width = width;
    this.canvas.height = height;
    const context = this.canvas.getContext("2d");
    if (!context) throw new Error("no 2D canvas in this browser");
    this.context = context;
    this.cursor = element(doc, "div", "hitl-mp-cursor");
    this.loading = element(doc, "div", "hitl-mp-loading", "Loading the image…");

    this.stage.tabIndex = 0;
    this.stage.dataset.role = "stage";
    this.stage.setAttribute("aria-label", "Image to paint the mask on");
    this.image.alt = "";
    this.image.draggable = false;
    this.image.decoding = "async";
    this.image.style.width = `${width}px`;
    this.image.style.height = `${height}px`;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.canvas.style.opacity = String(opacity);
    this.canvas.dataset.role = "mask-canvas";
    this.viewLayer.append(this.image, this.canvas);
    this.cursor.hidden = true;
    this.stage.append(this.viewLayer, this.cursor, this.loading);
  }

  /** @param {number} opacity of the mask's tint, 0..1 */
  setOpacity(opacity) {
    this.canvas.style.opacity = String(opacity);
  }

  // -------------------------------------------------------------------- images
  /**
   * Show image `index`, its preview first.
   * @param {number} index
   * @returns {Promise<boolean>} whether the preview loaded
   */
  showImage(index) {
    this.index = index;
    this.loading.hidden = false;
    const image = this.image;
    const shown = new Promise((resolve) => {
      image.onload = () => resolve(true);
      image.onerror = () => resolve(false);
    });
    image.dataset.size = "preview";
    image.src = this.imageUrl(index, "preview");
    return shown;
  }

  /**
   * The preview of the image shown arrived (`loaded`) or failed: fit it if the view is
   * fitted, say if it failed, and fetch the full size if the view already needs it.
   * @param {boolean} loaded
   */
  imageArrived(loaded) {
    if (this.fitted) this.fit();
    this.loading.hidden = loaded;
    if (!loaded) this.loading.textContent = "The image could not be loaded.";
    this.fullLoaded[this.index] = false;
    this.loadFullWhenNeeded();
  }

  /** Swap in the full-size image once the view shows more detail than the preview has. */
  loadFullWhenNeeded() {
    const index = this.index;
    const image = this.image;
    if (this.fullLoaded[index] || !image.naturalWidth || image.dataset.size === "full") return;
    const previewScale = image.naturalWidth / this.width;
    if (previewScale >= 1 || this.scale * (window.devicePixelRatio || 1) <= previewScale * 1.05) return;
    this.fullLoaded[index] = true;
    const full = new Image();
    full.decoding = "async";
    full.addEventListener("load", () => {
      if (this.index !== index) return;
      image.src = full.src;
      image.dataset.size = "full";
    });
    full.src = this.imageUrl(index, "full");
  }

  // ------------------------------------------------------------------- drawing
  /**
   * Write the mask's pixels in `rect` into the overlay canvas (tint colour, alpha = mask).
   * putImageData replaces the rectangle's pixels, transparent ones too: nothing to clear first.
   * @param {Rect | null} rect
   */
  flush(rect) {
    const doc = this.maskOf();
    if (!rect || !doc) return;
    const x0 = Math.max(0, rect.x0);
    const y0 = Math.max(0, rect.y0);
    const x1 = Math.min(this.width, rect.x1);
    const y1 = Math.min(this.height, rect.y1);
    if (x0 >= x1 || y0 >= y1) return;
    const cols = x1 - x0;
    const data = this.context.createImageData(cols, y1 - y0);
    const pixels = new Uint32Array(data.data.buffer);
    const [r, g, b] = parseColour(this.colour);
    const rgb = (b << 16) | (g << 8) | r; // RGBA bytes, read as a little-endian word
    const mask = doc.mask;
    for (let row = y0, k = 0; row < y1; row += 1) {
      let i = row * this.width + x0;
      for (let col = 0; col < cols; col += 1, i += 1, k += 1) {
        const level = mask[i];
        if (level) pixels[k] = ((level << 24) | rgb) >>> 0;
      }
    }
    this.context.putImageData(data, x0, y0);
  }

  /** Draw the whole mask again (another image, another colour, a whole-mask operation). */
  redraw() {
    this.dirty = null;
    const doc = this.maskOf();
    if (doc && !doc.start && doc.entries.length === 0) {
      // An empty mask: nothing to write, pixel by pixel.
      this.context.clearRect(0, 0, this.width, this.height);
      return;
    }
    this.flush({ x0: 0, y0: 0, x1: this.width, y1: this.height });
  }

  requestFrame() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.frame());
  }

  /** Once per display frame: paint the live stroke's new segments, then update the overlay. */
  frame() {
    this.frameRequested = false;
    const started = performance.now();
    this.dirty = unionRect(this.dirty, this.paintLive());
    const dirty = this.dirty;
    this.dirty = null;
    if (dirty) {
      this.flush(dirty);
      this.stats.frames.push(performance.now() - started);
      if (this.stats.frames.length > STATS_FRAMES) this.stats.frames.shift();
    }
  }

  // ---------------------------------------------------------------------- view
  applyView() {
    this.viewLayer.style.transform = `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
    this.viewLayer.dataset.pixelated = String(this.scale >= 3);
    this.placeCursor();
    this.onViewChange();
    this.loadFullWhenNeeded();
  }

  fit() {
    const stage = this.stage;
    const width = stage.clientWidth || 1;
    const height = stage.clientHeight || 1;
    this.scale = clampZoom(Math.min(width / this.width, height / this.height) * 0.98);
    this.tx = (width - this.width * this.scale) / 2;
    this.ty = (height - this.height * this.scale) / 2;
    this.fitted = true;
    this.applyView();
  }

  /**
   * Zoom by `factor` keeping the image point under stage point (x, y) where it is.
   * @param {number} factor @param {number} x @param {number} y
   */
  zoomAt(factor, x, y) {
    const scale = clampZoom(this.scale * factor);
    this.tx = x - (x - this.tx) * (scale / this.scale);
    this.ty = y - (y - this.ty) * (scale / this.scale);
    this.scale = scale;
    this.fitted = false;
    this.applyView();
  }

  /** @param {number} zoom the scale to show, around the stage's centre */
  zoomTo(zoom) {
    const stage = this.stage;
    this.zoomAt(zoom / this.scale, stage.clientWidth / 2, stage.clientHeight / 2);
  }

  /**
   * Show the image at `scale`, moved to (tx, ty): a pan or a pinch.
   * @param {number} scale @param {number} tx @param {number} ty
   */
  moveTo(scale, tx, ty) {
    this.scale = scale;
    this.tx = tx;
    this.ty = ty;
    this.fitted = false;
    this.applyView();
  }

  /** @param {PointerEvent | WheelEvent} event @returns {[number, number]} the stage point */
  stagePoint(event) {
    const box = this.stage.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  /** @param {number} x @param {number} y @returns {[number, number]} the image point */
  toImage(x, y) {
    return [(x - this.tx) / this.scale, (y - this.ty) / this.scale];
  }

  /** @param {number | undefined} [x] @param {number | undefined} [y] */
  placeCursor(x, y) {
    x ??= this.cursorX;
    y ??= this.cursorY;
    if (x === undefined || y === undefined) return;
    this.cursorX = x;
    this.cursorY = y;
    const diameter = Math.max(2, this.brushSize * this.scale);
    this.cursor.style.width = `${diameter}px`;
    this.cursor.style.height = `${diameter}px`;
    this.cursor.style.transform = `translate(${x - diameter / 2}px, ${y - diameter / 2}px)`;
  }
}

