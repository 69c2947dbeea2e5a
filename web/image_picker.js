// @ts-check
/**
 * The image picker's dialog: a responsive grid of thumbnails (served by the pack's image
 * route, by request id and index), click or tap to pick, the pick order shown on each
 * picked image, full size on demand, and the keyboard:
 *
 *   1-9, 10…  pick or unpick image n (numbers as shown on the tiles)
 *   arrows    move between images          x  pick or unpick the focused image
 *   Space     zoom the focused image (full resolution); Space or Esc closes the zoom
 *   Ctrl+A    pick all (up to the maximum)  Ctrl+Shift+A  pick none
 *   Enter, Ctrl+Enter  send                 Esc  cancel the run
 *
 * Keys reach it through the overlay (`dialog.onKey`), never ComfyUI's shortcuts.
 */
import { element } from "./overlay.js";
import { KINDS } from "./protocol.js";

/**
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./controller.js").DialogTools} DialogTools
 * @typedef {import("./overlay.js").Dialog} Dialog
 * @typedef {{ title: string, count: number, min_picks: number, max_picks: number,
 *   on_timeout: string, width: number, height: number }} PickerPayload
 */

const STYLE_ID = "comfyui-hitl-picker-style";
/** How long a typed number waits for its next digit (when one could still follow). */
const DIGIT_WAIT_MS = 700;
const TILE_SIZES = { min: 96, max: 360, initial: 180 };
const TILE_SIZE_KEY = "comfyui-hitl.picker.tile";
const PICKS_KEY_PREFIX = "comfyui-hitl.picker.picks.";
/** How far a finger moves sideways on the full-size image to show the next one. */
const SWIPE_PX = 40;

const CSS = `
.hitl-pick-bar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; margin: 0 0 8px; }
.hitl-pick-status { flex: 1; min-width: 12em; font-variant-numeric: tabular-nums; }
.hitl-pick-status[data-valid="false"] { color: #ffb74d; }
.hitl-pick-bar .hitl-button { min-height: 28px; padding: 2px 10px; }
.hitl-pick-size { display: flex; align-items: center; gap: 4px; font-size: 12px; opacity: .8; }
.hitl-pick-grid { display: grid; gap: 8px; grid-template-columns: repeat(auto-fill, minmax(var(--hitl-tile, 180px), 1fr));
  outline: none; padding: 2px; }
.hitl-pick-tile { position: relative; border-radius: 8px; overflow: hidden; cursor: pointer; user-select: none;
  background: #111; border: 2px solid transparent; box-sizing: border-box; touch-action: manipulation; }
.hitl-pick-tile img { display: block; width: 100%; height: 100%; object-fit: contain; pointer-events: none; }
.hitl-pick-tile[aria-selected="true"] { border-color: var(--p-primary-color, #4c8bf5); }
.hitl-pick-tile[aria-selected="false"] img { opacity: .72; }
.hitl-pick-tile:focus-visible, .hitl-pick-tile[data-focused="true"] { outline: 2px dashed #fff; outline-offset: -5px; }
.hitl-pick-number, .hitl-pick-order, .hitl-pick-zoom-button { position: absolute; font-size: 12px; line-height: 1;
  border-radius: 99px; padding: 4px 7px; background: rgba(0,0,0,.65); color: #fff; }
.hitl-pick-number { left: 6px; top: 6px; }
.hitl-pick-order { right: 6px; top: 6px; background: var(--p-primary-color, #2f6fdf); font-weight: 700;
  min-width: 1.2em; text-align: center; font-size: 14px; }
.hitl-pick-order:empty { display: none; }
.hitl-pick-zoom-button { right: 6px; bottom: 6px; border: 0; cursor: pointer; font: inherit; font-size: 13px; }
.hitl-pick-timeout { font-size: 12px; opacity: .75; }
.hitl-pick-help { font-size: 12px; opacity: .6; margin-top: 8px; }
.hitl-pick-zoom { position: fixed; inset: 0; z-index: 1; background: rgba(0,0,0,.92); display: flex;
  flex-direction: column; align-items: center; justify-content: center; gap: 8px; padding: 12px; box-sizing: border-box; }
.hitl-pick-zoom[hidden] { display: none; }
.hitl-pick-zoom img { width: 100%; height: calc(100% - 56px); object-fit: contain; image-rendering: auto; }
.hitl-pick-zoom img[data-pixelated="true"] { image-rendering: pixelated; }
.hitl-pick-zoom-bar { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; justify-content: center; }
.hitl-pick-zoom-caption { font-variant-numeric: tabular-nums; min-width: 14em; text-align: center; }
.hitl-pick-zoom img { touch-action: pan-y pinch-zoom; }
`;

/** @param {Document} doc */
function ensureStyle(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = element(doc, "style", undefined, CSS);
  style.id = STYLE_ID;
  doc.head.append(style);
}

/** @param {Storage} storage @param {string} key @returns {string | null} */
function readStorage(storage, key) {
  try {
    return storage.getItem(key);
  } catch {
    return null; // storage can be disabled; the dialog works without it
  }
}

/** @param {Storage} storage @param {string} key @param {string | null} value */
function writeStorage(storage, key, value) {
  try {
    if (value === null) storage.removeItem(key);
    else storage.setItem(key, value);
  } catch {
    // Storage full or disabled: only the convenience of surviving a reload is lost.
  }
}

/** @param {number} count @param {number} min @param {number} max */
function describeBounds(count, min, max) {
  if (min === max) return `pick ${min}`;
  if (max >= count) return `pick at least ${min}`;
  return `pick ${min} to ${max}`;
}

/**
 * The grid's tile size: the person's choice (the slider, remembered per browser), else the
 * starting size, but never more than half the grid: a phone starts with two images a row,
 * whatever size the window had when the dialog opened.
 * @param {string | null} chosen
 */
function tileSize(chosen) {
  return chosen ? `${chosen}px` : `min(${TILE_SIZES.initial}px, calc(50% - 4px))`;
}

/** @type {Record<string, string>} */
const TIMEOUT_TEXT = {
  "send all": "all images are sent",
  "send first": "the first image is sent",
  "cancel run": "the run is cancelled",
};

/** The state and DOM of one open picker dialog. */
class PickerDialog {
  /**
   * @param {RequestView} view
   * @param {DialogTools} tools
   */
  constructor(view, tools) {
    const payload = /** @type {PickerPayload} */ (view.payload ?? {});
    this.view = view;
    this.tools = tools;
    this.doc = tools.doc;
    this.count = Math.max(0, Math.floor(Number(payload.count) || 0));
    this.min = Math.max(1, Math.floor(Number(payload.min_picks) || 1));
    this.max = Math.max(this.min, Math.floor(Number(payload.max_picks) || this.count));
    this.width = Number(payload.width) || 1;
    this.height = Number(payload.height) || 1;
    /** @type {number[]} picked indices, in the order picked */
    this.order = [];
    this.focused = 0;
    /** @type {number | null} the image shown full size, if any */
    this.zoomed = null;
    this.digits = "";
    /** @type {number | undefined} */
    this.digitTimer = undefined;
    this.picksKey = `${PICKS_KEY_PREFIX}${view.id}`;
    /** @type {HTMLElement[]} */
    this.tiles = [];
    /** @type {HTMLElement[]} */
    this.orderBadges = [];
    this.status = element(this.doc, "div", "hitl-pick-status");
    this.sizeInput = element(this.doc, "input");
    this.grid = element(this.doc, "div", "hitl-pick-grid");
    /** @type {HTMLElement | undefined} */
    this.zoom = undefined;
    /** @type {HTMLImageElement | undefined} */
    this.zoomImage = undefined;
    /** @type {HTMLElement | undefined} */
    this.zoomCaption = undefined;
    /** @type {HTMLButtonElement | undefined} */
    this.zoomToggle = undefined;

    ensureStyle(this.doc);
    /** @type {Dialog} */
    this.dialog = tools.openDialog(view, {
      title: String(payload.title || "Pick images"),
      wide: true,
      primaryLabel: "Send",
      onPrimary: () => void this.send(),
    });
    this.build(payload);
    this.restorePicks();
    this.render();
    // Start on the first image if the overlay gave this dialog the focus (it does not when
    // the person is typing elsewhere, in another dialog or in ComfyUI).
    this.focusTile(0, this.dialog.card.contains(this.doc.activeElement));
  }

  /** @param {PickerPayload} payload */
  build(payload) {
    const doc = this.doc;
    const body = this.dialog.body;

    const bar = element(doc, "div", "hitl-pick-bar");
    this.status.dataset.role = "pick-status";
    this.status.setAttribute("aria-live", "polite");
    const allButton = this.#barButton("All", "pick-all", "Pick all, up to the maximum (Ctrl+A)", () => this.pickAll());
    const noneButton = this.#barButton("None", "pick-none", "Pick none (Ctrl+Shift+A)", () => this.pickNone());
    const size = element(doc, "label", "hitl-pick-size", "Size");
    this.sizeInput.type = "range";
    this.sizeInput.min = String(TILE_SIZES.min);
    this.sizeInput.max = String(TILE_SIZES.max);
    const chosenSize = readStorage(localStorage, TILE_SIZE_KEY);
    this.sizeInput.value = chosenSize ?? String(TILE_SIZES.initial);
    this.sizeInput.setAttribute("aria-label", "Thumbnail size");
    this.sizeInput.addEventListener("input", () => {
      this.grid.style.setProperty("--hitl-tile", `${this.sizeInput.value}px`);
      writeStorage(localStorage, TILE_SIZE_KEY, this.sizeInput.value);
    });
    size.append(this.sizeInput);
    bar.append(this.status, allButton, noneButton, size);

    if (payload.on_timeout && typeof this.view.expires_in_ms === "number") {
      const whenOut = `When time runs out, ${TIMEOUT_TEXT[payload.on_timeout] ?? payload.on_timeout}.`;
      this.dialog.countdown.title = whenOut;
      const timeout = element(doc, "span", "hitl-pick-timeout", whenOut);
      timeout.dataset.role = "on-timeout";
      bar.append(timeout);
    }

    this.grid.setAttribute("role", "listbox");
    this.grid.setAttribute("aria-multiselectable", "true");
    this.grid.setAttribute("aria-label", "Images of the batch");
    this.grid.style.setProperty("--hitl-tile", tileSize(chosenSize));

    const ratio = `${this.width} / ${this.height}`;
    for (let index = 0; index < this.count; index += 1) {
      const tile = element(doc, "div", "hitl-pick-tile");
      tile.setAttribute("role", "option");
      tile.tabIndex = -1;
      tile.dataset.index = String(index);
      tile.style.aspectRatio = ratio; // the grid is laid out before any thumbnail arrives
      tile.setAttribute("aria-label", `Image ${index + 1}`);
      const image = element(doc, "img");
      image.alt = `Image ${index + 1}`;
      image.decoding = "async";
      image.draggable = false;
      image.addEventListener("load", () => (image.dataset.loaded = "true"), { once: true });
      image.src = this.tools.client.imageUrl(this.view.id, index, "thumb");
      const number = element(doc, "span", "hitl-pick-number", String(index + 1));
      const order = element(doc, "span", "hitl-pick-order");
      order.dataset.role = "pick-order";
      const zoom = element(doc, "button", "hitl-pick-zoom-button", "⤢");
      zoom.type = "button";
      zoom.tabIndex = -1;
      zoom.title = "Full size (Space)";
      zoom.setAttribute("aria-label", `Show image ${index + 1} full size`);
      zoom.dataset.action = "zoom";
      zoom.addEventListener("click", (event) => {
        event.stopPropagation();
        this.openZoom(index);
      });
      tile.append(image, number, order, zoom);
      tile.addEventListener("click", () => {
        this.focusTile(index, false);
        this.toggle(index);
      });
      this.tiles.push(tile);
      this.orderBadges.push(order);
      this.grid.append(tile);
    }

    const help = element(
      doc,
      "div",
      "hitl-pick-help",
      "Click or type a number to pick · arrows move, x picks · Space: full size · Ctrl+A all, Ctrl+Shift+A none · Enter sends · Esc cancels the run",
    );
    body.append(bar, this.grid, help);
    // Our keys come first; a key used here (Esc closing a zoomed image) is not also the
    // overlay's (Esc cancelling the run).
    this.dialog.onKey((event) => this.onKey(event));
  }

  /**
   * @param {string} label @param {string} action @param {string} title @param {() => void} onClick
   */
  #barButton(label, action, title, onClick) {
    const button = element(this.doc, "button", "hitl-button", label);
    button.type = "button";
    button.dataset.action = action;
    button.title = title;
    button.addEventListener("click", onClick);
    return button;
  }

  get valid() {
    return this.order.length >= this.min && this.order.length <= this.max;
  }

  /** @param {number} index */
  toggle(index) {
    if (index < 0 || index >= this.count) return;
    const at = this.order.indexOf(index);
    if (at >= 0) this.order.splice(at, 1);
    else if (this.max === 1) this.order = [index]; // a single pick: a click moves it
    else if (this.order.length < this.max) this.order.push(index);
    else {
      this.dialog.setError(`At most ${this.max} can be picked: unpick one first.`);
      return;
    }
    this.changed();
  }

  pickAll() {
    for (let index = 0; index < this.count && this.order.length < this.max; index += 1) {
      if (!this.order.includes(index)) this.order.push(index);
    }
    this.changed();
  }

  pickNone() {
    this.order = [];
    this.changed();
  }

  changed() {
    this.dialog.setError(null);
    writeStorage(sessionStorage, this.picksKey, this.order.length ? JSON.stringify(this.order) : null);
    this.render();
  }

  /** A reload mid-wait keeps what was picked (per request id, in this tab only). */
  restorePicks() {
    const saved = readStorage(sessionStorage, this.picksKey);
    if (!saved) return;
    try {
      const parsed = JSON.parse(saved);
      if (Array.isArray(parsed)) {
        this.order = [...new Set(parsed)].filter((i) => Number.isInteger(i) && i >= 0 && i < this.count).slice(0, this.max);
      }
    } catch {
      this.order = [];
    }
  }

  render() {
    this.tiles.forEach((tile, index) => {
      const at = this.order.indexOf(index);
      tile.setAttribute("aria-selected", String(at >= 0));
      this.orderBadges[index].textContent = at >= 0 ? String(at + 1) : "";
    });
    const picked = this.order.length;
    const bounds = describeBounds(this.count, this.min, this.max);
    let hint = "";
    if (picked > 0 && picked < this.min) hint = ` · ${this.min - picked} more to go`;
    else if (picked > this.max) hint = ` · ${picked - this.max} too many`;
    const status = /** @type {HTMLElement} */ (this.status);
    status.textContent = `${picked} of ${this.count} picked (${bounds})${hint}`;
    status.dataset.valid = String(this.valid);
    this.dialog.setPrimaryEnabled(this.valid);
    if (this.zoomed !== null) this.renderZoom();
  }

  /** @param {number} index @param {boolean} [takeFocus] */
  focusTile(index, takeFocus = true) {
    if (this.count === 0) return;
    const next = Math.min(this.count - 1, Math.max(0, index));
    this.tiles[this.focused]?.setAttribute("tabindex", "-1");
    this.tiles[this.focused]?.removeAttribute("data-focused");
    this.focused = next;
    const tile = this.tiles[next];
    tile.tabIndex = 0;
    tile.dataset.focused = "true";
    if (takeFocus) {
      tile.focus({ preventScroll: true });
      tile.scrollIntoView({ block: "nearest" });
    }
  }

  /** How many tiles one grid row holds (from the layout, so it follows the window size). */
  columns() {
    const top = this.tiles[0]?.offsetTop;
    let columns = 0;
    while (columns < this.tiles.length && this.tiles[columns].offsetTop === top) columns += 1;
    return Math.max(1, columns);
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    if (event.isComposing || this.dialog.card.dataset.busy === "true") return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target instanceof HTMLInputElement && target.type !== "range") return;
    const ctrl = event.ctrlKey || event.metaKey;
    if (!/^[0-9]$/.test(event.key) && !["Shift", "Control", "Meta", "Alt"].includes(event.key)) this.flushDigits();
    /** @param {() => void} action */
    const handle = (action) => {
      event.preventDefault();
      event.stopPropagation();
      action();
    };
    if (this.zoomed !== null) {
      if (event.key === "Escape" || event.key === " ") return handle(() => this.closeZoom());
      if (event.key === "ArrowRight") return handle(() => this.openZoom((this.zoomed ?? 0) + 1));
      if (event.key === "ArrowLeft") return handle(() => this.openZoom((this.zoomed ?? 0) - 1));
      if (event.key === "x" || event.key === "X") return handle(() => this.toggle(this.zoomed ?? 0));
    }
    if (ctrl && !event.altKey && (event.key === "a" || event.key === "A")) {
      return handle(() => (event.shiftKey ? this.pickNone() : this.pickAll()));
    }
    if (ctrl || event.altKey) return;
    if (event.key === "Enter") return handle(() => void this.send());
    if (target instanceof HTMLButtonElement && event.key === " ") return; // Space presses a focused button
    if (/^[0-9]$/.test(event.key)) return handle(() => this.typeDigit(event.key));
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: this.columns(), ArrowUp: -this.columns() };
    if (event.key in moves) {
      return handle(() => this.focusTile(this.focused + moves[/** @type {keyof typeof moves} */ (event.key)]));
    }
    if (event.key === "Home") return handle(() => this.focusTile(0));
    if (event.key === "End") return handle(() => this.focusTile(this.count - 1));
    if (event.key === " ") return handle(() => this.openZoom(this.focused));
    if (event.key === "x" || event.key === "X") return handle(() => this.toggle(this.focused));
  }

  /**
   * Digits pick by the number on the tile. "1" then "2" picks image 12 when there are 12
   * or more; a number that no further digit could extend is picked at once.
   * @param {string} digit
   */
  typeDigit(digit) {
    window.clearTimeout(this.digitTimer);
    this.digits += digit;
    const number = Number(this.digits);
    if (number * 10 > this.count || this.digits.length >= String(this.count).length) this.flushDigits();
    else this.digitTimer = window.setTimeout(() => this.flushDigits(), DIGIT_WAIT_MS);
  }

  /** Pick the number typed so far (any other key does this first, so "1" Enter sends image 1). */
  flushDigits() {
    window.clearTimeout(this.digitTimer);
    const chosen = Number(this.digits);
    if (!this.digits) return;
    this.digits = "";
    if (chosen >= 1 && chosen <= this.count) {
      this.focusTile(chosen - 1, this.zoomed === null);
      this.toggle(chosen - 1);
    }
  }

  /** @param {number} index */
  openZoom(index) {
    if (this.count === 0) return;
    const wrapped = ((index % this.count) + this.count) % this.count;
    if (!this.zoom) {
      const doc = this.doc;
      this.zoom = element(doc, "div", "hitl-pick-zoom");
      this.zoom.dataset.role = "zoom";
      this.zoomImage = element(doc, "img");
      this.zoomImage.alt = "";
      this.zoomCaption = element(doc, "span", "hitl-pick-zoom-caption");
      const bar = element(doc, "div", "hitl-pick-zoom-bar");
      const previous = this.#barButton("‹", "zoom-previous", "Previous image (←)", () => this.openZoom((this.zoomed ?? 0) - 1));
      const next = this.#barButton("›", "zoom-next", "Next image (→)", () => this.openZoom((this.zoomed ?? 0) + 1));
      this.zoomToggle = this.#barButton("Pick", "zoom-toggle", "Pick or unpick this image (x)", () => this.toggle(this.zoomed ?? 0));
      const close = this.#barButton("Close", "zoom-close", "Back to the grid (Space or Esc)", () => this.closeZoom());
      bar.append(previous, this.zoomCaption, next, this.zoomToggle, close);
      this.zoom.append(this.zoomImage, bar);
      this.#swipeToMove(this.zoomImage);
      this.dialog.card.append(this.zoom);
    }
    this.zoomed = wrapped;
    this.focusTile(wrapped, false);
    const image = /** @type {HTMLImageElement} */ (this.zoomImage);
    // Scaled to fit, up or down; a small image blown up a lot (pixel art) stays crisp.
    image.dataset.pixelated = String(this.width * 3 <= window.innerWidth && this.height * 3 <= window.innerHeight);
    // The thumbnail is shown at once; the full-size image replaces it when it has arrived.
    image.dataset.size = "thumb";
    image.src = this.tools.client.imageUrl(this.view.id, wrapped, "thumb");
    const full = new Image();
    full.addEventListener("load", () => {
      if (this.zoomed !== wrapped) return;
      image.src = full.src;
      image.dataset.size = "full";
    });
    full.src = this.tools.client.imageUrl(this.view.id, wrapped, "full");
    this.zoom.hidden = false;
    this.renderZoom();
    /** @type {HTMLElement} */ (this.zoomToggle).focus();
  }

  /**
   * Touch: a sideways swipe on the full-size image shows the next (or previous) one; a tap
   * picks or unpicks it, as a click does.
   * @param {HTMLImageElement} image
   */
  #swipeToMove(image) {
    /** @type {{ x: number, y: number } | null} */
    let start = null;
    let swiped = false;
    image.addEventListener("pointerdown", (event) => {
      start = { x: event.clientX, y: event.clientY };
      swiped = false;
    });
    image.addEventListener("pointerup", (event) => {
      if (!start) return;
      const dx = event.clientX - start.x;
      const dy = event.clientY - start.y;
      start = null;
      if (Math.abs(dx) < SWIPE_PX || Math.abs(dx) < 1.5 * Math.abs(dy)) return;
      swiped = true; // a mouse drag also ends in a click: that click must not pick
      this.openZoom((this.zoomed ?? 0) + (dx < 0 ? 1 : -1));
    });
    image.addEventListener("pointercancel", () => (start = null));
    image.addEventListener("click", () => {
      if (swiped) swiped = false;
      else this.toggle(this.zoomed ?? 0);
    });
  }

  renderZoom() {
    if (this.zoomed === null || !this.zoomCaption || !this.zoomToggle) return;
    const at = this.order.indexOf(this.zoomed);
    const state = at >= 0 ? ` · picked #${at + 1}` : "";
    this.zoomCaption.textContent = `Image ${this.zoomed + 1} of ${this.count} · ${this.width}×${this.height}${state}`;
    this.zoomToggle.textContent = at >= 0 ? "Unpick" : "Pick";
  }

  closeZoom() {
    if (!this.zoom) return;
    this.zoom.hidden = true;
    const index = this.zoomed ?? this.focused;
    this.zoomed = null;
    this.focusTile(index);
  }

  async send() {
    if (!this.valid) {
      this.render();
      this.dialog.setError(`Pick ${describeBounds(this.count, this.min, this.max).replace("pick ", "")} first.`);
      return;
    }
    const taken = await this.tools.submit(this.view, this.dialog, [...this.order]);
    if (taken) writeStorage(sessionStorage, this.picksKey, null);
  }
}

/** @type {import("./controller.js").KindHandler} */
export const imagePickerHandler = {
  kind: KINDS.IMAGE_PICKER,
  open(view, tools) {
    new PickerDialog(view, tools);
  },
};
