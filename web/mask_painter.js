// @ts-check
/**
 * The mask painter's dialog: the image with a painting canvas over it, in our own overlay
 * card (nothing of ComfyUI's mask editor). What the person paints is kept as operations
 * (strokes in image pixels, clear, invert, fill) and drawn into an 8-bit mask at the
 * image's full resolution with the same brush model the server uses (`mask_strokes.js`),
 * so the overlay shows exactly the mask the node will output. Send posts the operations,
 * not pixels.
 *
 *   mouse / pen   paint (pen pressure changes the width); Space-drag or middle-drag pans
 *   touch         one finger paints; two fingers pinch to zoom and move to pan
 *   wheel         zoom around the pointer          F or 0  fit     1  100 %
 *   B / E / X     brush / eraser / swap            [ ]  size       { }  hardness
 *   Ctrl+Z        undo      Ctrl+Shift+Z, Ctrl+Y  redo
 *   ← → PageUp/PageDown  previous / next image of a batch
 *   Enter         send      Ctrl/Cmd+Enter send, Esc cancel the run (the overlay's)
 *
 * Keys reach it through the overlay (`dialog.onKey`), never ComfyUI's shortcuts: Ctrl+Z here
 * undoes a stroke, never a change to the graph.
 */
import { element } from "./overlay.js";
import { KINDS, MASK_LIMITS, MASK_OPS, MAX_BODY_BYTES } from "./protocol.js";
import { MaskDoc, encodeStroke, paintSegment, unionRect } from "./mask_strokes.js";

/**
 * The payload of a mask-painter request (`MaskPainter.paint` in nodes/mask_painter.py).
 * @typedef {{ title: string, count: number, width: number, height: number, mask_count: number,
 *   on_timeout: string, workflow_id: string | null }} PainterPayload
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./controller.js").DialogTools} DialogTools
 * @typedef {import("./overlay.js").Dialog} Dialog
 * @typedef {import("./mask_strokes.js").MaskOp} MaskOp
 * @typedef {import("./mask_strokes.js").Rect} Rect
 * @typedef {{ tool: string, size: number, hardness: number, xs: number[], ys: number[],
 *   pressure: number[] | null, pointerId: number, painted: Rect | null, done: number }} LiveStroke
 * @typedef {{ ids: number[], distance: number, midX: number, midY: number, scale: number, tx: number, ty: number }} Pinch
 */

const STYLE_ID = "comfyui-hitl-mask-painter-style";
const SETTINGS_KEY = "comfyui-hitl.mask-painter.settings";
const SAVED_KEY_PREFIX = "comfyui-hitl.mask-painter.ops.";
/** Zoom limits relative to the image's pixels. */
const MIN_ZOOM = 0.02;
const MAX_ZOOM = 32;
/** Frames of paint timing kept for the statistics the benchmark reads. */
const STATS_FRAMES = 2000;

const CSS = `
/* As large as the free part of the window allows (the overlay measures it: clear of the host's
   Run bar, tabs and toolbars). */
.hitl-card[data-kind="mask-painter"] { width: min(1280px, var(--hitl-avail-w)); height: var(--hitl-avail-h);
  max-height: var(--hitl-avail-h); }
.hitl-card[data-kind="mask-painter"] .hitl-body { flex: 1 1 auto; display: flex; flex-direction: column; min-height: 0;
  overflow: hidden; padding-bottom: 4px; }
.hitl-mp-tools { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 10px; margin: 0 0 6px; }
.hitl-mp-group { display: flex; align-items: center; gap: 4px; }
.hitl-mp-tools .hitl-button { min-height: 30px; padding: 2px 10px; }
.hitl-mp-tools .hitl-button[aria-pressed="true"] { background: var(--p-primary-color, #2f6fdf); border-color: transparent; color: #fff; }
.hitl-mp-tools label { display: flex; align-items: center; gap: 4px; font-size: 12px; }
.hitl-mp-tools input[type="range"] { width: 92px; }
.hitl-mp-tools input[type="color"] { width: 30px; height: 26px; padding: 0; border: 0; background: none; }
.hitl-mp-value { font-variant-numeric: tabular-nums; min-width: 3.2em; font-size: 12px; opacity: .85; }
.hitl-mp-stage { position: relative; flex: 1 1 auto; min-height: 160px; overflow: hidden; border-radius: 8px;
  background: repeating-conic-gradient(#2a2a2a 0 25%, #222 0 50%) 0 0 / 16px 16px; touch-action: none;
  user-select: none; -webkit-user-select: none; outline: none; }
.hitl-mp-stage[data-tool] { cursor: none; }
.hitl-mp-stage[data-panning="true"] { cursor: grab; }
.hitl-mp-view { position: absolute; left: 0; top: 0; transform-origin: 0 0; will-change: transform; }
.hitl-mp-view img, .hitl-mp-view canvas { position: absolute; left: 0; top: 0; display: block; }
.hitl-mp-view img { image-rendering: auto; }
.hitl-mp-view[data-pixelated="true"] img, .hitl-mp-view[data-pixelated="true"] canvas { image-rendering: pixelated; }
.hitl-mp-cursor { position: absolute; left: 0; top: 0; border-radius: 50%; pointer-events: none; box-sizing: border-box;
  border: 1.5px solid rgba(255,255,255,.95); box-shadow: 0 0 0 1px rgba(0,0,0,.8), inset 0 0 0 1px rgba(0,0,0,.5); }
.hitl-mp-cursor[hidden] { display: none; }
.hitl-mp-loading[hidden] { display: none; }
.hitl-mp-loading { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  font-size: 13px; opacity: .7; pointer-events: none; }
.hitl-mp-strip { display: flex; align-items: center; gap: 6px; margin-top: 6px; overflow-x: auto; padding-bottom: 2px; }
.hitl-mp-strip label { display: flex; align-items: center; gap: 4px; font-size: 12px; white-space: nowrap; margin-right: 4px; }
.hitl-mp-thumb { position: relative; flex: 0 0 auto; width: 64px; height: 48px; padding: 0; border-radius: 6px;
  border: 2px solid transparent; background: #111; cursor: pointer; overflow: hidden; }
.hitl-mp-thumb img { width: 100%; height: 100%; object-fit: contain; display: block; pointer-events: none; }
.hitl-mp-thumb[aria-current="true"] { border-color: var(--p-primary-color, #4c8bf5); }
.hitl-mp-thumb span { position: absolute; left: 3px; top: 2px; font-size: 11px; color: #fff; text-shadow: 0 0 3px #000; }
.hitl-mp-thumb[data-painted="true"]::after { content: ""; position: absolute; right: 4px; top: 4px; width: 8px; height: 8px;
  border-radius: 50%; background: #ff5a5a; box-shadow: 0 0 0 1px #000; }
.hitl-mp-status { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 12px; opacity: .8; margin-top: 6px;
  font-variant-numeric: tabular-nums; }
.hitl-mp-help { font-size: 11px; opacity: .55; margin-top: 2px; }
@media (max-width: 600px), (max-height: 500px) {
  /* A phone (either way up): the tools in one row that scrolls sideways, so the image gets the height. */
  .hitl-card[data-kind="mask-painter"] .hitl-body { padding: 2px 8px 4px; }
  .hitl-mp-tools { flex-wrap: nowrap; overflow-x: auto; gap: 6px; padding: 2px 0 4px; scrollbar-width: thin; }
  .hitl-mp-tools > * { flex: 0 0 auto; }
  .hitl-mp-tools > .hitl-mp-history { order: -1; } /* no keyboard: undo within the thumb's reach */
  /* Thumb-sized targets (44 px, as the inbox's other dialogs). */
  .hitl-mp-tools .hitl-button { min-height: 44px; min-width: 44px; padding: 2px 10px; }
  .hitl-mp-tools input[type="range"] { width: 96px; height: 44px; }
  .hitl-mp-tools input[type="color"] { width: 44px; height: 44px; }
  .hitl-mp-strip input[type="checkbox"] { width: 24px; height: 24px; }
  .hitl-mp-strip label { min-height: 44px; }
  .hitl-mp-help { display: none; }
}
@media (max-height: 500px) {
  /* A phone on its side: little height, so the status line goes and the strip gets smaller. */
  .hitl-mp-stage { min-height: 96px; }
  .hitl-mp-status { display: none; }
  .hitl-mp-strip { margin-top: 4px; }
  .hitl-mp-thumb { width: 48px; height: 44px; }
}
`;

/** @type {Record<string, string>} */
const TIMEOUT_TEXT = {
  "send input mask": "the input mask is sent",
  "send empty mask": "an empty mask is sent",
  "cancel run": "the run is cancelled",
};

/** @param {Document} doc */
function ensureStyle(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = element(doc, "style", undefined, CSS);
  style.id = STYLE_ID;
  doc.head.append(style);
}

/** @param {Storage} storage @param {string} key @returns {any} */
function readJson(storage, key) {
  try {
    const text = storage.getItem(key);
    return text ? JSON.parse(text) : null;
  } catch {
    return null; // storage disabled or corrupt: the dialog works without it
  }
}

/** @param {Storage} storage @param {string} key @param {unknown} value */
function writeJson(storage, key, value) {
  try {
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: only the convenience of surviving a reload is lost.
  }
}

/** @param {string} hex @returns {[number, number, number]} */
function parseColour(hex) {
  const match = /^#([0-9a-f]{6})$/i.exec(hex);
  const value = match ? parseInt(match[1], 16) : 0xff3030;
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** Brush sizes on a logarithmic slider (0..1000), so 1 px and 800 px are both easy to set. */
class SizeScale {
  /** @param {number} largest */
  constructor(largest) {
    this.largest = Math.max(2, largest);
  }

  /** @param {number} position */
  toSize(position) {
    return Math.max(1, Math.round(Math.exp((position / 1000) * Math.log(this.largest))));
  }

  /** @param {number} size */
  toPosition(size) {
    return Math.round((Math.log(Math.max(1, size)) / Math.log(this.largest)) * 1000);
  }
}

/** The state and DOM of one open mask painter. */
class PainterDialog {
  /**
   * @param {RequestView} view
   * @param {DialogTools} tools
   */
  constructor(view, tools) {
    const payload = /** @type {PainterPayload} */ (view.payload ?? {});
    this.view = view;
    this.tools = tools;
    this.doc = tools.doc;
    this.count = Math.max(1, Math.floor(Number(payload.count) || 1));
    this.width = Math.max(1, Math.floor(Number(payload.width) || 1));
    this.height = Math.max(1, Math.floor(Number(payload.height) || 1));
    this.maskCount = Math.max(0, Math.floor(Number(payload.mask_count) || 0));
    this.onTimeout = String(payload.on_timeout ?? "");
    this.savedKey = `${SAVED_KEY_PREFIX}${view.id}`;
    this.openedAt = performance.timeOrigin + performance.now();
    /** @type {number | null} when the first image was shown and the canvas took strokes */
    this.readyAt = null;
    /** A draft on its way to the server, and whether something changed since it left. */
    this.draftInFlight = false;
    this.draftStale = false;
    /** No more drafts: the answer is on its way (Send), or the request has ended. */
    this.sending = false;

    const settings = readJson(localStorage, SETTINGS_KEY) ?? {};
    this.sizeScale = new SizeScale(Math.min(MASK_LIMITS.MAX_SIZE, Math.max(this.width, this.height)));
    /** @type {string} */
    this.tool = MASK_OPS.BRUSH;
    this.size = Number.isFinite(settings.size)
      ? Math.min(this.sizeScale.largest, Math.max(1, settings.size))
      : Math.max(4, Math.round(Math.max(this.width, this.height) / 24));
    this.hardness = Number.isFinite(settings.hardness) ? Math.min(1, Math.max(0, settings.hardness)) : 0.7;
    this.colour = typeof settings.colour === "string" ? settings.colour : "#ff3030";
    this.opacity = Number.isFinite(settings.opacity) ? Math.min(1, Math.max(0.05, settings.opacity)) : 0.55;

    /** @type {(MaskDoc | null)[]} one per image (made when the image is first shown) */
    this.docs = Array.from({ length: this.count }, () => null);
    /** @type {MaskDoc | null} the one mask of "same mask for all" */
    this.sharedDoc = null;
    this.sameForAll = false;
    /** @type {(MaskOp[] | null)[]} operations to replay when an image's mask is made */
    this.pendingOps = Array.from({ length: this.count }, () => null);
    /** @type {MaskOp[] | null} */
    this.pendingShared = null;
    /** @type {Map<number, Promise<Uint8Array | null>>} input masks being fetched, by mask index */
    this.startMasks = new Map();
    this.current = 0;
    /** @type {boolean[]} which images already show their full-size image */
    this.fullLoaded = Array.from({ length: this.count }, () => false);
    this.restoreSaved();

    // View: image pixel (x, y) is at stage pixel (tx + x * scale, ty + y * scale).
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.fitted = true;
    /** @type {LiveStroke | null} */
    this.stroke = null;
    /** @type {Map<number, {x: number, y: number, type: string}>} pointers down on the stage */
    this.pointers = new Map();
    /** @type {Pinch | null} */
    this.pinch = null;
    /** @type {{ id: number, x: number, y: number, tx: number, ty: number } | null} */
    this.pan = null;
    this.spaceHeld = false;
    /** @type {Rect | null} the part of the overlay canvas that is stale */
    this.dirty = null;
    this.frameRequested = false;
    /** Per-frame paint cost (ms): rasterizing new segments plus updating the overlay. */
    this.stats = { frames: /** @type {number[]} */ ([]), commits: /** @type {number[]} */ ([]) };

    ensureStyle(this.doc);
    const doc = this.doc;
    // Every element the dialog updates, made here so each one always exists.
    this.brushButton = this.#button("Brush", "tool-brush", "Brush (B)", () => this.setTool(MASK_OPS.BRUSH));
    this.eraserButton = this.#button("Eraser", "tool-erase", "Eraser (E)", () => this.setTool(MASK_OPS.ERASE));
    this.sizeInput = this.#range("size", "Brush size ([ and ])", 0, 1000, this.sizeScale.toPosition(this.size));
    this.sizeValue = element(doc, "span", "hitl-mp-value");
    this.hardnessInput = this.#range("hardness", "Hardness ({ and })", 0, 100, Math.round(this.hardness * 100));
    this.hardnessValue = element(doc, "span", "hitl-mp-value");
    this.colourInput = element(doc, "input");
    this.opacityInput = this.#range("opacity", "Overlay opacity", 5, 100, Math.round(this.opacity * 100));
    this.undoButton = this.#button("Undo", "undo", "Undo the last stroke (Ctrl+Z)", () => this.undo());
    this.redoButton = this.#button("Redo", "redo", "Redo (Ctrl+Shift+Z or Ctrl+Y)", () => this.redo());
    this.zoomValue = element(doc, "span", "hitl-mp-value");
    this.stage = element(doc, "div", "hitl-mp-stage");
    this.viewLayer = element(doc, "div", "hitl-mp-view");
    this.image = element(doc, "img");
    this.canvas = element(doc, "canvas");
    this.canvas.width = this.width;
    this.canvas.height = this.height;
    const context = this.canvas.getContext("2d");
    if (!context) throw new Error("no 2D canvas in this browser");
    this.context = context;
    this.cursor = element(doc, "div", "hitl-mp-cursor");
    this.loading = element(doc, "div", "hitl-mp-loading", "Loading the image…");
    this.status = element(doc, "div", "hitl-mp-status");
    this.statusText = element(doc, "span");
    this.sameInput = element(doc, "input");
    /** @type {HTMLButtonElement[]} */
    this.thumbs = [];
    /** @type {number | undefined} */
    this.cursorX = undefined;
    /** @type {number | undefined} */
    this.cursorY = undefined;
    /** @type {number | null} */
    this.sentAt = null;
    /** @type {ResizeObserver | null} */
    this.resizeObserver = null;

    /** @type {Dialog} */
    this.dialog = tools.openDialog(view, {
      title: String(payload.title || "Paint the mask"),
      wide: true,
      primaryLabel: "Send",
      onPrimary: () => void this.send(),
    });
    /** @type {any} */ (this.dialog.card).hitlMaskPainter = this; // for tests and the benchmark
    this.dialog.card.dataset.ready = "false";
    this.build();
    // Keys go to the painting, if the overlay gave this dialog the focus (it does not when the
    // person is busy elsewhere: typing in another dialog, or in ComfyUI).
    this.dialog.setFocusTarget(this.stage);
    if (this.dialog.card.contains(this.doc.activeElement)) this.stage.focus({ preventScroll: true });
    this.show(this.current);
  }

  // ------------------------------------------------------------------ building
  build() {
    const doc = this.doc;
    const body = this.dialog.body;
    const tools = element(doc, "div", "hitl-mp-tools");

    const toolGroup = element(doc, "div", "hitl-mp-group");
    toolGroup.append(this.brushButton, this.eraserButton);

    this.sizeInput.addEventListener("input", () => this.setSize(this.sizeScale.toSize(Number(this.sizeInput.value))));
    const sizeLabel = element(doc, "label", undefined, "Size");
    sizeLabel.append(this.sizeInput, this.sizeValue);

    this.hardnessInput.addEventListener("input", () => this.setHardness(Number(this.hardnessInput.value) / 100));
    const hardnessLabel = element(doc, "label", undefined, "Hardness");
    hardnessLabel.append(this.hardnessInput, this.hardnessValue);

    this.colourInput.type = "color";
    this.colourInput.value = this.colour;
    this.colourInput.title = "Overlay colour";
    this.colourInput.setAttribute("aria-label", "Overlay colour");
    this.colourInput.dataset.role = "colour";
    this.colourInput.addEventListener("input", () => {
      this.colour = this.colourInput.value;
      this.saveSettings();
      this.redrawOverlay();
    });
    this.opacityInput.addEventListener("input", () => {
      this.opacity = Number(this.opacityInput.value) / 100;
      this.canvas.style.opacity = String(this.opacity);
      this.saveSettings();
    });
    const overlayLabel = element(doc, "label", undefined, "Overlay");
    overlayLabel.append(this.colourInput, this.opacityInput);

    const historyGroup = element(doc, "div", "hitl-mp-group hitl-mp-history");
    historyGroup.append(this.undoButton, this.redoButton);

    const wholeGroup = element(doc, "div", "hitl-mp-group");
    wholeGroup.append(
      this.#button("Clear", "clear", "Clear the mask (undoable)", () => this.whole(MASK_OPS.CLEAR)),
      this.#button("Invert", "invert", "Invert the mask (undoable)", () => this.whole(MASK_OPS.INVERT)),
      this.#button("Fill", "fill", "Mask everything (undoable)", () => this.whole(MASK_OPS.FILL)),
    );
    const viewGroup = element(doc, "div", "hitl-mp-group");
    viewGroup.append(this.#button("Fit", "fit", "Fit the image in the window (F or 0)", () => this.fit()), this.zoomValue);
    tools.append(toolGroup, sizeLabel, hardnessLabel, overlayLabel, historyGroup, wholeGroup, viewGroup);

    this.stage.tabIndex = 0;
    this.stage.dataset.role = "stage";
    this.stage.setAttribute("aria-label", "Image to paint the mask on");
    this.image.alt = "";
    this.image.draggable = false;
    this.image.decoding = "async";
    this.image.style.width = `${this.width}px`;
    this.image.style.height = `${this.height}px`;
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.canvas.style.opacity = String(this.opacity);
    this.canvas.dataset.role = "mask-canvas";
    this.viewLayer.append(this.image, this.canvas);
    this.cursor.hidden = true;
    this.stage.append(this.viewLayer, this.cursor, this.loading);

    const parts = [tools, this.stage];
    if (this.count > 1) parts.push(this.#buildStrip());
    this.status.dataset.role = "status";
    this.status.append(this.statusText);
    if (this.onTimeout && typeof this.view.expires_in_ms === "number") {
      const whenOut = `When time runs out, ${TIMEOUT_TEXT[this.onTimeout] ?? this.onTimeout}.`;
      this.dialog.countdown.title = whenOut;
      const timeout = element(doc, "span", undefined, whenOut);
      timeout.dataset.role = "on-timeout";
      this.status.append(timeout);
    }
    const help = element(
      doc,
      "div",
      "hitl-mp-help",
      "Paint with the mouse, pen or one finger · wheel or pinch zooms · Space-drag or two fingers pan · " +
        "B brush, E eraser, [ ] size, { } hardness · Ctrl+Z undo, Ctrl+Shift+Z redo · F fit · Enter sends · Esc cancels the run",
    );
    parts.push(this.status, help);
    body.append(...parts);

    this.#listen();
    this.setTool(this.tool);
    this.setSize(this.size);
    this.setHardness(this.hardness);
  }

  #buildStrip() {
    const doc = this.doc;
    const strip = element(doc, "div", "hitl-mp-strip");
    strip.dataset.role = "strip";
    const label = element(doc, "label", undefined, "Same mask for all");
    this.sameInput.type = "checkbox";
    this.sameInput.dataset.role = "same-for-all";
    this.sameInput.checked = this.sameForAll;
    this.sameInput.addEventListener("change", () => void this.setSameForAll(this.sameInput.checked));
    label.prepend(this.sameInput);
    strip.append(label);
    for (let index = 0; index < this.count; index += 1) {
      const thumb = element(doc, "button", "hitl-mp-thumb");
      thumb.type = "button";
      thumb.dataset.index = String(index);
      thumb.title = `Image ${index + 1} (← →)`;
      thumb.setAttribute("aria-label", `Image ${index + 1}`);
      const image = element(doc, "img");
      image.alt = "";
      image.loading = "lazy";
      image.src = this.tools.client.imageUrl(this.view.id, index, "thumb");
      thumb.append(image, element(doc, "span", undefined, String(index + 1)));
      thumb.addEventListener("click", () => this.show(index));
      thumb.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus on the painting
      this.thumbs.push(thumb);
      strip.append(thumb);
    }
    return strip;
  }

  /** @param {string} label @param {string} action @param {string} title @param {() => void} onClick */
  #button(label, action, title, onClick) {
    const button = element(this.doc, "button", "hitl-button", label);
    button.type = "button";
    button.dataset.action = action;
    button.title = title;
    button.addEventListener("click", onClick);
    // A click keeps the focus where it was (the painting), so Enter still sends after one;
    // a button reached with Tab takes Enter and Space itself.
    button.addEventListener("mousedown", (event) => event.preventDefault());
    return button;
  }

  /** @param {string} role @param {string} title @param {number} min @param {number} max @param {number} value */
  #range(role, title, min, max, value) {
    const input = element(this.doc, "input");
    input.type = "range";
    input.min = String(min);
    input.max = String(max);
    input.value = String(value);
    input.title = title;
    input.setAttribute("aria-label", title);
    input.dataset.role = role;
    return input;
  }

  #listen() {
    const stage = this.stage;
    stage.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    stage.addEventListener("pointermove", (event) => this.onPointerMove(event));
    stage.addEventListener("pointerup", (event) => this.onPointerUp(event));
    stage.addEventListener("pointercancel", (event) => this.onPointerUp(event));
    stage.addEventListener("pointerleave", () => {
      if (!this.stroke && !this.pan) this.cursor.hidden = true;
    });
    stage.addEventListener("wheel", (event) => this.onWheel(event), { passive: false });
    stage.addEventListener("contextmenu", (event) => event.preventDefault());
    // Keys come from the overlay (no key event travels through our layer); ours first: a key
    // used here is not also the overlay's.
    this.dialog.onKey((event) => this.onKey(event));
    // Space is "held" only while the focus stays here (its keyup may happen elsewhere).
    this.dialog.card.addEventListener("focusout", (event) => {
      if (!this.dialog.card.contains(/** @type {Node | null} */ (event.relatedTarget))) this.spaceHeld = false;
    });
    this.dialog.onKey((event) => {
      if (event.key === " ") {
        this.spaceHeld = false;
        stage.dataset.panning = String(Boolean(this.pan));
      }
    }, "keyup");
    this.resizeObserver = new ResizeObserver(() => {
      if (this.fitted) this.fit();
      else this.applyView();
    });
    this.resizeObserver.observe(stage);
    // The observer and storage are let go when the card leaves the page.
    const removal = new MutationObserver(() => {
      if (!this.dialog.card.isConnected) {
        this.resizeObserver?.disconnect();
        removal.disconnect();
      }
    });
    if (this.dialog.card.parentElement) removal.observe(this.dialog.card.parentElement, { childList: true });
  }

  // ------------------------------------------------------------------ settings
  /** @param {string} tool */
  setTool(tool) {
    this.tool = tool;
    this.brushButton.setAttribute("aria-pressed", String(tool === MASK_OPS.BRUSH));
    this.eraserButton.setAttribute("aria-pressed", String(tool === MASK_OPS.ERASE));
    this.stage.dataset.tool = tool;
  }

  /** @param {number} size */
  setSize(size) {
    this.size = Math.min(this.sizeScale.largest, Math.max(1, Math.round(size)));
    this.sizeInput.value = String(this.sizeScale.toPosition(this.size));
    this.sizeValue.textContent = `${this.size}px`;
    this.saveSettings();
    this.placeCursor();
  }

  /** @param {number} hardness */
  setHardness(hardness) {
    this.hardness = Math.min(1, Math.max(0, Math.round(hardness * 100) / 100));
    this.hardnessInput.value = String(Math.round(this.hardness * 100));
    this.hardnessValue.textContent = `${Math.round(this.hardness * 100)}%`;
    this.saveSettings();
  }

  saveSettings() {
    writeJson(localStorage, SETTINGS_KEY, {
      size: this.size,
      hardness: this.hardness,
      colour: this.colour,
      opacity: this.opacity,
    });
  }

  // ----------------------------------------------------------- images and docs
  /** The mask being painted: the shared one, or the shown image's. */
  get activeDoc() {
    return this.sameForAll ? this.sharedDoc : this.docs[this.current];
  }

  /**
   * The input mask of an image (8-bit), or null when the node has none.
   * @param {number} index
   * @returns {Promise<Uint8Array | null>}
   */
  startMask(index) {
    if (this.maskCount === 0) return Promise.resolve(null);
    const which = this.maskCount > 1 ? index : 0;
    let pending = this.startMasks.get(which);
    if (!pending) {
      pending = this.#fetchMask(which);
      this.startMasks.set(which, pending);
    }
    return pending;
  }

  /** @param {number} index */
  async #fetchMask(index) {
    const response = await fetch(this.tools.client.imageUrl(this.view.id, index, "mask"));
    if (!response.ok) throw new Error(`the input mask could not be loaded (HTTP ${response.status})`);
    const bitmap = await createImageBitmap(await response.blob(), {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
    const canvas = this.doc.createElement("canvas");
    canvas.width = this.width;
    canvas.height = this.height;
    const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", { willReadFrequently: true }));
    context.drawImage(bitmap, 0, 0);
    bitmap.close();
    const rgba = context.getImageData(0, 0, this.width, this.height).data;
    const mask = new Uint8Array(this.width * this.height);
    for (let i = 0, j = 0; i < mask.length; i += 1, j += 4) mask[i] = rgba[j];
    return mask;
  }

  /**
   * The mask doc of an image (made from its input mask and any saved operations).
   * @param {number} index
   */
  async docFor(index) {
    if (this.sameForAll) {
      if (!this.sharedDoc) {
        const doc = new MaskDoc(this.width, this.height, await this.startMask(0));
        if (!this.sharedDoc) {
          if (this.pendingShared) doc.replay(this.pendingShared);
          this.pendingShared = null;
          this.sharedDoc = doc;
        }
      }
      return this.sharedDoc;
    }
    const existing = this.docs[index];
    if (existing) return existing;
    const doc = new MaskDoc(this.width, this.height, await this.startMask(index));
    const made = this.docs[index];
    if (made) return made; // made meanwhile by another call
    const pending = this.pendingOps[index];
    if (pending) doc.replay(pending);
    this.pendingOps[index] = null;
    this.docs[index] = doc;
    return doc;
  }

  /**
   * Show image `index` with its mask.
   * @param {number} index
   */
  async show(index) {
    if (index < 0 || index >= this.count) return;
    this.finishStroke(false);
    this.current = index;
    this.thumbs.forEach((thumb, i) => thumb.setAttribute("aria-current", String(i === index)));
    this.thumbs[index]?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
    this.dialog.card.dataset.ready = "false";
    this.loading.hidden = false;
    const image = this.image;
    const shown = new Promise((resolve) => {
      image.onload = () => resolve(true);
      image.onerror = () => resolve(false);
    });
    image.dataset.size = "preview";
    image.src = this.tools.client.imageUrl(this.view.id, index, "preview");
    /** @type {MaskDoc} */
    let doc;
    try {
      doc = /** @type {MaskDoc} */ (await this.docFor(index));
    } catch (error) {
      this.dialog.setError(String(error instanceof Error ? error.message : error));
      return;
    }
    if (this.current !== index) return; // another image was picked meanwhile
    this.redrawOverlay();
    const loaded = await shown;
    if (this.current !== index) return;
    if (this.fitted) this.fit();
    this.loading.hidden = loaded;
    if (!loaded) this.loading.textContent = "The image could not be loaded.";
    this.fullLoaded[index] = false;
    this.maybeLoadFull();
    this.updateStatus();
    void doc;
    this.dialog.card.dataset.ready = "true";
    if (this.readyAt === null) this.readyAt = performance.timeOrigin + performance.now();
    this.dialog.card.dataset.shown = String(index);
  }

  /** Swap in the full-size image once the view shows more detail than the preview has. */
  maybeLoadFull() {
    const index = this.current;
    const image = this.image;
    if (this.fullLoaded[index] || !image.naturalWidth || image.dataset.size === "full") return;
    const previewScale = image.naturalWidth / this.width;
    if (previewScale >= 1 || this.scale * (window.devicePixelRatio || 1) <= previewScale * 1.05) return;
    this.fullLoaded[index] = true;
    const full = new Image();
    full.decoding = "async";
    full.addEventListener("load", () => {
      if (this.current !== index) return;
      image.src = full.src;
      image.dataset.size = "full";
    });
    full.src = this.tools.client.imageUrl(this.view.id, index, "full");
  }

  /**
   * @param {boolean} same
   */
  async setSameForAll(same) {
    if (same === this.sameForAll) return;
    this.finishStroke(false);
    const ops = this.activeDoc?.ops() ?? [];
    if (same) {
      this.sameForAll = true;
      this.sharedDoc = null;
      this.pendingShared = ops;
    } else {
      // Each image starts from the shared painting, on its own input mask.
      this.sameForAll = false;
      this.docs = this.docs.map(() => null);
      this.pendingOps = this.pendingOps.map(() => ops);
      this.sharedDoc = null;
    }
    this.sameInput.checked = same;
    await this.docFor(this.current);
    this.redrawOverlay();
    this.changed();
  }

  // ------------------------------------------------------------------- drawing
  /**
   * Write the mask's pixels in `rect` into the overlay canvas (tint colour, alpha = mask).
   * putImageData replaces the rectangle's pixels, transparent ones too: nothing to clear first.
   * @param {Rect | null} rect
   */
  flush(rect) {
    const doc = this.activeDoc;
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

  redrawOverlay() {
    this.dirty = null;
    const doc = this.activeDoc;
    if (doc && !doc.start && doc.entries.length === 0) {
      // An empty mask: nothing to write, pixel by pixel.
      this.context.clearRect(0, 0, this.width, this.height);
      return;
    }
    this.flush({ x0: 0, y0: 0, x1: this.width, y1: this.height });
  }

  /** @param {Rect | null} rect */
  invalidate(rect) {
    if (!rect) return;
    this.dirty = unionRect(this.dirty, rect);
    this.requestFrame();
  }

  requestFrame() {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.frame());
  }

  /** Once per display frame: paint the stroke's new segments, then update the overlay. */
  frame() {
    this.frameRequested = false;
    const started = performance.now();
    const stroke = this.stroke;
    const doc = this.activeDoc;
    if (stroke && doc) {
      const radius = stroke.size / 2;
      const erase = stroke.tool === MASK_OPS.ERASE;
      for (let k = Math.max(1, stroke.done); k < stroke.xs.length; k += 1) {
        const r0 = stroke.pressure ? radius * stroke.pressure[k - 1] : radius;
        const r1 = stroke.pressure ? radius * stroke.pressure[k] : radius;
        const rect = paintSegment(
          doc.mask, this.width, this.height, stroke.xs[k - 1], stroke.ys[k - 1], r0, stroke.xs[k], stroke.ys[k], r1,
          stroke.hardness, erase,
        ); // prettier-ignore
        stroke.painted = unionRect(stroke.painted, rect);
        this.dirty = unionRect(this.dirty, rect);
      }
      if (stroke.done === 0 && stroke.xs.length === 1) {
        const r = stroke.pressure ? radius * stroke.pressure[0] : radius;
        const rect = paintSegment(
          doc.mask, this.width, this.height, stroke.xs[0], stroke.ys[0], r, stroke.xs[0], stroke.ys[0], r,
          stroke.hardness, erase,
        ); // prettier-ignore
        stroke.painted = unionRect(stroke.painted, rect);
        this.dirty = unionRect(this.dirty, rect);
      }
      stroke.done = stroke.xs.length;
    }
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
    this.zoomValue.textContent = `${Math.round(this.scale * 100)}%`;
    this.placeCursor();
    this.maybeLoadFull();
  }

  fit() {
    const stage = this.stage;
    const width = stage.clientWidth || 1;
    const height = stage.clientHeight || 1;
    this.scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min(width / this.width, height / this.height) * 0.98));
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
    const scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.scale * factor));
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
    const diameter = Math.max(2, this.size * this.scale);
    this.cursor.style.width = `${diameter}px`;
    this.cursor.style.height = `${diameter}px`;
    this.cursor.style.transform = `translate(${x - diameter / 2}px, ${y - diameter / 2}px)`;
  }

  // ------------------------------------------------------------------ pointers
  /** @param {PointerEvent} event */
  onPointerDown(event) {
    const stage = this.stage;
    stage.focus({ preventScroll: true });
    const [x, y] = this.stagePoint(event);
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
        scale: this.scale,
        tx: this.tx,
        ty: this.ty,
      };
      return;
    }
    if (this.pinch) return;
    if (event.button === 1 || (this.spaceHeld && event.button === 0)) {
      this.pan = { id: event.pointerId, x, y, tx: this.tx, ty: this.ty };
      stage.dataset.panning = "true";
      return;
    }
    if (event.button !== 0 || this.dialog.card.dataset.ready !== "true") return;
    this.startStroke(event, x, y);
  }

  /** @param {PointerEvent} event @param {number} x @param {number} y */
  startStroke(event, x, y) {
    const doc = this.activeDoc;
    if (!doc) return;
    this.finishStroke(false);
    const [ix, iy] = this.toImage(x, y);
    const pen = event.pointerType === "pen";
    doc.beginStroke();
    this.stroke = {
      tool: this.tool,
      size: this.size,
      hardness: this.hardness,
      xs: [ix],
      ys: [iy],
      pressure: pen ? [this.#pressure(event)] : null,
      pointerId: event.pointerId,
      painted: null,
      done: 0,
    };
    this.cursor.hidden = event.pointerType === "touch";
    this.placeCursor(x, y);
    this.requestFrame();
  }

  /** Pen pressure mapped to 0.15..1 of the brush size (a light touch still paints). @param {PointerEvent} event */
  #pressure(event) {
    return 0.15 + 0.85 * Math.min(1, Math.max(0, event.pressure || 0));
  }

  /** @param {PointerEvent} event */
  onPointerMove(event) {
    const [x, y] = this.stagePoint(event);
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
      const scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, pinch.scale * (distance / pinch.distance)));
      // The image point under the first midpoint follows the fingers' midpoint.
      this.tx = midX - ((pinch.midX - pinch.tx) / pinch.scale) * scale;
      this.ty = midY - ((pinch.midY - pinch.ty) / pinch.scale) * scale;
      this.scale = scale;
      this.fitted = false;
      this.applyView();
      return;
    }
    if (this.pan && this.pan.id === event.pointerId) {
      this.tx = this.pan.tx + (x - this.pan.x);
      this.ty = this.pan.ty + (y - this.pan.y);
      this.fitted = false;
      this.applyView();
      return;
    }
    if (event.pointerType !== "touch") {
      this.cursor.hidden = false;
      this.placeCursor(x, y);
    }
    const stroke = this.stroke;
    if (!stroke || stroke.pointerId !== event.pointerId) return;
    const events = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const sample of events.length ? events : [event]) {
      const [sx, sy] = this.toImage(...this.stagePoint(sample));
      this.#addPoint(stroke, sx, sy, stroke.pressure ? this.#pressure(sample) : null);
    }
    this.requestFrame();
  }

  /**
   * Add a pointer sample to the live stroke when it moved far enough to matter.
   * @param {LiveStroke} stroke @param {number} x @param {number} y @param {number | null} pressure
   */
  #addPoint(stroke, x, y, pressure) {
    const last = stroke.xs.length - 1;
    const spacing = Math.max(0.5, 0.08 * (stroke.size / 2), 0.75 / this.scale);
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
    const stage = this.stage;
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
        const [x, y] = this.toImage(...this.stagePoint(event));
        this.#addPoint(this.stroke, x, y, this.stroke.pressure ? this.#pressure(event) : null);
      }
      this.finishStroke(false);
    }
    if (event.pointerType === "touch") this.cursor.hidden = true;
  }

  /**
   * End the live stroke: simplify and encode it, and draw it from that form (what the
   * server will draw), or drop it.
   * @param {boolean} drop
   */
  finishStroke(drop) {
    const stroke = this.stroke;
    const doc = this.activeDoc;
    if (!stroke) return;
    this.stroke = null;
    if (!doc) return;
    this.frame(); // paint whatever the last frame has not yet
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
          width: this.width,
          height: this.height,
        });
    const changed = doc.endStroke(op, stroke.painted);
    this.flush(changed);
    this.stats.commits.push(performance.now() - started);
    if (op) this.changed();
  }

  /** @param {WheelEvent} event */
  onWheel(event) {
    event.preventDefault();
    const [x, y] = this.stagePoint(event);
    const lines = event.deltaMode === 1 ? 33 : event.deltaMode === 2 ? 400 : 1;
    this.zoomAt(Math.exp(-event.deltaY * lines * 0.0015), x, y);
  }

  // ------------------------------------------------------------------- editing
  undo() {
    this.finishStroke(false);
    const rect = this.activeDoc?.undo();
    if (!rect) return;
    this.flush(rect);
    this.changed();
  }

  redo() {
    this.finishStroke(false);
    const rect = this.activeDoc?.redo();
    if (!rect) return;
    this.flush(rect);
    this.changed();
  }

  /** @param {string} op clear, invert or fill */
  whole(op) {
    this.finishStroke(false);
    const doc = this.activeDoc;
    if (!doc) return;
    doc.apply({ op });
    this.redrawOverlay();
    this.changed();
  }

  /** After every change: the status, the buttons, the strip, the copy kept for a reload, and
   * the draft the server draws ahead. */
  changed() {
    this.dialog.setError(null);
    this.updateStatus();
    this.saveOps();
    this.sendDraft();
  }

  /**
   * Send what is painted so far, so the server draws it while the person goes on and Send
   * only waits for what changed since. One draft at a time; when it is back, the newest
   * state follows if something changed meanwhile. A refused or lost draft costs nothing:
   * the answer always carries everything.
   */
  sendDraft() {
    if (this.sending) return;
    if (this.draftInFlight) {
      this.draftStale = true;
      return;
    }
    if (this.tooBig()) return;
    this.draftInFlight = true;
    this.draftStale = false;
    void this.tools.client.draft(this.view.id, this.answer()).then((result) => {
      this.draftInFlight = false;
      // 404 or 409: the request has ended (Send, another tab, a timeout): no more drafts.
      if (result.status === 404 || result.status === 409) this.sending = true;
      if (this.draftStale) this.sendDraft();
    });
  }

  updateStatus() {
    const doc = this.activeDoc;
    this.undoButton.disabled = !doc?.canUndo;
    this.redoButton.disabled = !doc?.canRedo;
    this.thumbs.forEach((thumb, index) => {
      const ops = this.sameForAll ? (this.sharedDoc?.ops() ?? this.pendingShared ?? []) : this.opsOf(index);
      thumb.dataset.painted = String(ops.length > 0);
    });
    const operations = doc ? doc.entries.length : 0;
    const where = this.count > 1 ? `Image ${this.current + 1} of ${this.count} · ` : "";
    const shared = this.sameForAll ? " · same mask for all" : "";
    const start = this.maskCount ? " · starts from the input mask" : "";
    const text = `${where}${this.width}×${this.height} · ${operations} operation${operations === 1 ? "" : "s"}${shared}${start}`;
    this.statusText.textContent = text;
  }

  /** @param {number} index */
  opsOf(index) {
    return this.docs[index]?.ops() ?? this.pendingOps[index] ?? [];
  }

  /** The answer: one list of operations per image, or one for all. */
  answer() {
    if (this.sameForAll) {
      return { same_for_all: true, masks: [this.sharedDoc?.ops() ?? this.pendingShared ?? []] };
    }
    return { same_for_all: false, masks: Array.from({ length: this.count }, (_, index) => this.opsOf(index)) };
  }

  saveOps() {
    const answer = this.answer();
    const empty = answer.masks.every((ops) => ops.length === 0);
    writeJson(sessionStorage, this.savedKey, empty && !answer.same_for_all ? null : { ...answer, current: this.current });
  }

  /** A reload mid-wait keeps what was painted (per request id, in this tab only). */
  restoreSaved() {
    const saved = readJson(sessionStorage, this.savedKey);
    if (!saved || !Array.isArray(saved.masks)) return;
    if (saved.same_for_all === true && saved.masks.length === 1) {
      this.sameForAll = true;
      this.pendingShared = saved.masks[0];
    } else if (saved.masks.length === this.count) {
      this.pendingOps = saved.masks.map((/** @type {unknown} */ ops) => (Array.isArray(ops) ? ops : null));
    }
    if (Number.isInteger(saved.current) && saved.current >= 0 && saved.current < this.count) this.current = saved.current;
  }

  /** Why the answer cannot be sent as it is, or null when it can. */
  tooBig() {
    const answer = this.answer();
    const budget = MASK_LIMITS.WORK_PER_PIXEL * this.width * this.height;
    const docs = this.sameForAll ? [this.sharedDoc] : this.docs;
    if (docs.some((doc) => doc && doc.work > budget)) {
      return "This mask has too many large strokes or whole-mask operations (Clear, Fill, Invert) for the server to draw: undo some, or use Fill and the eraser.";
    }
    let operations = 0;
    let points = 0;
    for (const ops of answer.masks) {
      operations += ops.length;
      for (const op of ops) points += "points" in op ? op.points.length / 2 : 0;
    }
    if (operations > MASK_LIMITS.MAX_OPS || points > MASK_LIMITS.MAX_POINTS) {
      return `Too many strokes to send (${operations} operations, ${points} points): undo some.`;
    }
    const bytes = new TextEncoder().encode(JSON.stringify({ value: answer })).length;
    if (bytes > MAX_BODY_BYTES - 256) {
      return `The strokes are too detailed to send (${Math.round(bytes / 1024)} KB of ${MAX_BODY_BYTES / 1024}): undo some.`;
    }
    return null;
  }

  async send() {
    this.finishStroke(false);
    const problem = this.tooBig();
    if (problem) {
      this.dialog.setError(problem);
      return;
    }
    this.sentAt = performance.timeOrigin + performance.now();
    this.sending = true;
    const taken = await this.tools.submit(this.view, this.dialog, this.answer());
    if (taken) writeJson(sessionStorage, this.savedKey, null);
    else this.sending = false;
  }

  // ---------------------------------------------------------------------- keys
  /** @param {KeyboardEvent} event */
  onKey(event) {
    if (event.isComposing || this.dialog.card.dataset.busy === "true") return;
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
      if (key === "z" || key === "Z") return handle(() => (event.shiftKey ? this.redo() : this.undo()));
      if (key === "y" || key === "Y") return handle(() => this.redo());
      return;
    }
    if (event.altKey) return;
    // A focused button (Cancel run, Undo…) does what it says on Enter and Space.
    if (target instanceof HTMLButtonElement && (key === "Enter" || key === " ")) return;
    if (key === "Enter") return handle(() => void this.send());
    // A focused slider keeps its arrows; a checkbox and a button their Space.
    const slider = inInput && target.type === "range";
    if (slider && ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"].includes(key)) {
      return;
    }
    if (inInput && target.type === "checkbox" && key === " ") return;
    if (key === " ") {
      return handle(() => {
        this.spaceHeld = true;
        this.stage.dataset.panning = "true";
      });
    }
    if (key === "b" || key === "B") return handle(() => this.setTool(MASK_OPS.BRUSH));
    if (key === "e" || key === "E") return handle(() => this.setTool(MASK_OPS.ERASE));
    if (key === "x" || key === "X") {
      return handle(() => this.setTool(this.tool === MASK_OPS.BRUSH ? MASK_OPS.ERASE : MASK_OPS.BRUSH));
    }
    if (key === "[") return handle(() => this.setSize(Math.min(this.size - 1, this.size / 1.15)));
    if (key === "]") return handle(() => this.setSize(Math.max(this.size + 1, this.size * 1.15)));
    if (key === "{") return handle(() => this.setHardness(this.hardness - 0.1));
    if (key === "}") return handle(() => this.setHardness(this.hardness + 0.1));
    if (key === "f" || key === "F" || key === "0") return handle(() => this.fit());
    if (key === "1") return handle(() => this.zoomTo(1));
    if (key === "+" || key === "=") return handle(() => this.zoomTo(this.scale * 1.25));
    if (key === "-" || key === "_") return handle(() => this.zoomTo(this.scale / 1.25));
    if (this.count > 1 && (key === "ArrowRight" || key === "PageDown")) {
      return handle(() => void this.show((this.current + 1) % this.count));
    }
    if (this.count > 1 && (key === "ArrowLeft" || key === "PageUp")) {
      return handle(() => void this.show((this.current - 1 + this.count) % this.count));
    }
  }
}

/** @type {import("./controller.js").KindHandler} */
export const maskPainterHandler = {
  kind: KINDS.MASK_PAINTER,
  open(view, tools) {
    new PainterDialog(view, tools);
  },
};
