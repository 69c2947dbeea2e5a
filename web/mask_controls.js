// @ts-check
/**
 * A mask painter's controls, around the painting: the tools (brush and eraser, size,
 * hardness, the tint's colour and opacity, undo and redo, clear/invert/fill, fit and the
 * zoom), the strip of a batch's images with "same mask for all", the status line and the
 * keys' help; and the painter's style sheet. The controls show the painter's state and call
 * its methods; they keep none of their own.
 */
import { actionButton, element, ensureStyle } from "./dom.js";
import { KINDS, MASK_OPS } from "./protocol.js";

/** @typedef {import("./mask_painter.js").PainterDialog} PainterDialog */

const STYLE_ID = "comfyui-hitl-mask-painter-style";

const CSS = `
/* As large as the free part of the window allows (the overlay measures it: clear of the host's
   Run bar, tabs and toolbars). */
.hitl-card[data-kind="${KINDS.MASK_PAINTER}"] { width: min(1280px, var(--hitl-avail-w)); height: var(--hitl-card-h);
  max-height: var(--hitl-card-h); }
.hitl-card[data-kind="${KINDS.MASK_PAINTER}"] .hitl-body { flex: 1 1 auto; display: flex; flex-direction: column; min-height: 0;
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
  .hitl-card[data-kind="${KINDS.MASK_PAINTER}"] .hitl-body { padding: 2px 8px 4px; }
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

/** Brush sizes on a logarithmic slider (0..1000), so 1 px and 800 px are both easy to set. */
export class SizeScale {
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


/** @param {Document} doc */
export function ensurePainterStyle(doc) {
  ensureStyle(doc, STYLE_ID, CSS);
}

export class PainterControls {
  /** @param {PainterDialog} painter */
  constructor(painter) {
    const doc = painter.doc;
    this.painter = painter;
    this.doc = doc;
    // Every element the painter updates, made here so each one always exists.
    this.brushButton = this.#button("Brush", "tool-brush", "Brush (B)", () => painter.setTool(MASK_OPS.BRUSH));
    this.eraserButton = this.#button("Eraser", "tool-erase", "Eraser (E)", () => painter.setTool(MASK_OPS.ERASE));
    this.sizeInput = this.#range("size", "Brush size ([ and ])", 0, 1000, painter.sizeScale.toPosition(painter.size));
    this.sizeValue = element(doc, "span", "hitl-mp-value");
    this.hardnessInput = this.#range("hardness", "Hardness ({ and })", 0, 100, Math.round(painter.hardness * 100));
    this.hardnessValue = element(doc, "span", "hitl-mp-value");
    this.colourInput = element(doc, "input");
    this.opacityInput = this.#range("opacity", "Overlay opacity", 5, 100, Math.round(painter.opacity * 100));
    this.undoButton = this.#button("Undo", "undo", "Undo the last stroke (Ctrl+Z)", () => painter.undo());
    this.redoButton = this.#button("Redo", "redo", "Redo (Ctrl+Shift+Z or Ctrl+Y)", () => painter.redo());
    this.zoomValue = element(doc, "span", "hitl-mp-value");
    this.status = element(doc, "div", "hitl-mp-status");
    this.statusText = element(doc, "span");
    this.sameInput = element(doc, "input");
    /** @type {HTMLButtonElement[]} */
    this.thumbs = [];
  }

  /** The row of tools above the painting. */
  tools() {
    const doc = this.doc;
    const painter = this.painter;
    const tools = element(doc, "div", "hitl-mp-tools");

    const toolGroup = element(doc, "div", "hitl-mp-group");
    toolGroup.append(this.brushButton, this.eraserButton);

    this.sizeInput.addEventListener("input", () => painter.setSize(painter.sizeScale.toSize(Number(this.sizeInput.value))));
    const sizeLabel = element(doc, "label", undefined, "Size");
    sizeLabel.append(this.sizeInput, this.sizeValue);

    this.hardnessInput.addEventListener("input", () => painter.setHardness(Number(this.hardnessInput.value) / 100));
    const hardnessLabel = element(doc, "label", undefined, "Hardness");
    hardnessLabel.append(this.hardnessInput, this.hardnessValue);

    this.colourInput.type = "color";
    this.colourInput.value = painter.colour;
    this.colourInput.title = "Overlay colour";
    this.colourInput.setAttribute("aria-label", "Overlay colour");
    this.colourInput.dataset.role = "colour";
    this.colourInput.addEventListener("input", () => painter.setColour(this.colourInput.value));
    this.opacityInput.addEventListener("input", () => painter.setOpacity(Number(this.opacityInput.value) / 100));
    const overlayLabel = element(doc, "label", undefined, "Overlay");
    overlayLabel.append(this.colourInput, this.opacityInput);

    const historyGroup = element(doc, "div", "hitl-mp-group hitl-mp-history");
    historyGroup.append(this.undoButton, this.redoButton);

    const wholeGroup = element(doc, "div", "hitl-mp-group");
    wholeGroup.append(
      this.#button("Clear", "clear", "Clear the mask (undoable)", () => painter.whole(MASK_OPS.CLEAR)),
      this.#button("Invert", "invert", "Invert the mask (undoable)", () => painter.whole(MASK_OPS.INVERT)),
      this.#button("Fill", "fill", "Mask everything (undoable)", () => painter.whole(MASK_OPS.FILL)),
    );
    const viewGroup = element(doc, "div", "hitl-mp-group");
    viewGroup.append(this.#button("Fit", "fit", "Fit the image in the window (F or 0)", () => painter.maskView.fit()), this.zoomValue);
    tools.append(toolGroup, sizeLabel, hardnessLabel, overlayLabel, historyGroup, wholeGroup, viewGroup);
    return tools;
  }

  /**
   * The strip of a batch's images under the painting, with "same mask for all".
   * @param {(index: number) => string} thumbUrl
   */
  strip(thumbUrl) {
    const doc = this.doc;
    const painter = this.painter;
    const strip = element(doc, "div", "hitl-mp-strip");
    strip.dataset.role = "strip";
    const label = element(doc, "label", undefined, "Same mask for all");
    this.sameInput.type = "checkbox";
    this.sameInput.dataset.role = "same-for-all";
    this.sameInput.checked = painter.masks.sameForAll;
    this.sameInput.addEventListener("change", () => void painter.setSameForAll(this.sameInput.checked));
    label.prepend(this.sameInput);
    strip.append(label);
    for (let index = 0; index < painter.count; index += 1) {
      const thumb = element(doc, "button", "hitl-mp-thumb");
      thumb.type = "button";
      thumb.dataset.index = String(index);
      thumb.title = `Image ${index + 1} (← →)`;
      thumb.setAttribute("aria-label", `Image ${index + 1}`);
      const image = element(doc, "img");
      image.alt = "";
      image.loading = "lazy";
      image.src = thumbUrl(index);
      thumb.append(image, element(doc, "span", undefined, String(index + 1)));
      thumb.addEventListener("click", () => painter.show(index));
      thumb.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus on the painting
      this.thumbs.push(thumb);
      strip.append(thumb);
    }
    return strip;
  }

  /**
   * The status line (with what happens when time runs out, if it does) and the keys' help.
   * @param {string | null} whenOut
   */
  footer(whenOut) {
    const doc = this.doc;
    this.status.dataset.role = "status";
    this.status.append(this.statusText);
    if (whenOut) {
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
    return [this.status, help];
  }

  /** @param {string} tool */
  showTool(tool) {
    this.brushButton.setAttribute("aria-pressed", String(tool === MASK_OPS.BRUSH));
    this.eraserButton.setAttribute("aria-pressed", String(tool === MASK_OPS.ERASE));
  }

  /** @param {number} size */
  showSize(size) {
    this.sizeInput.value = String(this.painter.sizeScale.toPosition(size));
    this.sizeValue.textContent = `${size}px`;
  }

  /** @param {number} hardness */
  showHardness(hardness) {
    this.hardnessInput.value = String(Math.round(hardness * 100));
    this.hardnessValue.textContent = `${Math.round(hardness * 100)}%`;
  }

  /** @param {number} scale */
  showZoom(scale) {
    this.zoomValue.textContent = `${Math.round(scale * 100)}%`;
  }

  /** The image shown, in the strip. @param {number} index */
  showCurrent(index) {
    this.thumbs.forEach((thumb, i) => thumb.setAttribute("aria-current", String(i === index)));
    this.thumbs[index]?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
  }

  /**
   * @param {{ canUndo: boolean, canRedo: boolean, painted: (index: number) => boolean, text: string }} state
   *   `painted`: whether an image has operations (a dot on its thumbnail)
   */
  showStatus({ canUndo, canRedo, painted, text }) {
    this.undoButton.disabled = !canUndo;
    this.redoButton.disabled = !canRedo;
    this.thumbs.forEach((thumb, index) => {
      thumb.dataset.painted = String(painted(index));
    });
    this.statusText.textContent = text;
  }

  /** @param {string} label @param {string} action @param {string} title @param {() => void} onClick */
  #button(label, action, title, onClick) {
    const button = actionButton(this.doc, label, action, title, onClick);
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
}
