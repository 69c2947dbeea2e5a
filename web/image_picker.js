// @ts-check
/**
 * The image picker's dialog: a responsive grid of previews (streamed nearest-first by
 * picker_previews.js), click or tap to pick, the pick order shown on each picked item, full
 * size on demand, clips that loop, a "picked only" view, and the keyboard:
 *
 *   1-9, 10…  pick or unpick item n (numbers as shown on the tiles)
 *   arrows    move between items           x  pick or unpick the focused item
 *   Space     zoom the focused item (full resolution); Space or Esc closes the zoom
 *   p         show only the picked items, or all again
 *   Ctrl+A    pick all (up to the maximum)  Ctrl+Shift+A  pick none
 *   Enter, Ctrl+Enter  send                 Esc  cancel the run
 *
 * An item is one image, or with frames_per_item n > 1 a clip of n frames. With "click
 * sends" (one pick allowed), a click, tap, x or number sends at once.
 *
 * Keys reach it through the overlay (`dialog.onKey`), never ComfyUI's shortcuts.
 */
import { actionButton, element, ensureStyle } from "./dom.js";
import { ClipPlayer, FRAME_RATES, PLAY_MODES, PreviewStore, framesFor, nearestFirst } from "./picker_previews.js";
import { wholeNumber } from "./payload.js";
import { KINDS, ON_TIMEOUT } from "./protocol.js";
import { browserStorage, tabStorage } from "./storage.js";

/**
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./controller.js").DialogTools} DialogTools
 * @typedef {import("./dialog.js").Dialog} Dialog
 * @typedef {{ title: string, count: number, min_picks: number, max_picks: number,
 *   on_timeout: string, width: number, height: number, frames_per_item?: number,
 *   preset?: number[], click_sends?: boolean }} PickerPayload
 */

const STYLE_ID = "comfyui-hitl-picker-style";
/** How long a typed number waits for its next digit (when one could still follow). */
const DIGIT_WAIT_MS = 700;
const TILE_SIZES = { min: 96, max: 360, initial: 180 };
const TILE_SIZE_KEY = "comfyui-hitl.picker.tile";
const PICKS_KEY_PREFIX = "comfyui-hitl.picker.picks.";
/** How far a finger moves sideways on the full-size image to show the next one. */
const SWIPE_PX = 40;
const FRAME_RATE_KEY = "comfyui-hitl.picker.fps";
const PLAY_MODE_KEY = "comfyui-hitl.picker.play";
const DEFAULT_FRAME_RATE = 8;
/**
 * Tiles within SHOW_ITEMS items (or SHOW_SCREENS screens, if more) of the ones on screen get
 * their image as soon as it arrives: a batch of up to 256 shows every image once, so a scroll
 * decodes nothing (images set during a scroll measured as long paint tasks in ComfyUI's page).
 * An image is let go only KEEP_MORE_ITEMS items beyond that, so scrolling back and forth does
 * not decode the same ones again, and however long the batch, at most about 600 previews are
 * decoded at a time (about 150 MB). Previews are fetched further ahead still (as many as
 * PreviewStore keeps), nearest first, so a scroll finds them already here.
 */
const SHOW_SCREENS = 6;
const SHOW_ITEMS = 256;
const KEEP_MORE_ITEMS = 64;
/** The least time between two looks at what is on screen while the person scrolls. */
const MEASURE_EVERY_MS = 100;
/** Items asked for as the dialog opens, before the layout says which are on screen. */
const FIRST_ITEMS = 64;

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
/* On a row of its own: with the clip settings in the bar it would squeeze the status onto two lines. */
.hitl-pick-timeout { font-size: 12px; opacity: .75; flex-basis: 100%; }
.hitl-pick-help { font-size: 12px; opacity: .6; margin-top: 8px; }
.hitl-pick-zoom { position: fixed; inset: 0; z-index: 1; background: rgba(0,0,0,.92); display: flex;
  flex-direction: column; align-items: center; justify-content: center; gap: 8px; padding: 12px; box-sizing: border-box; }
.hitl-pick-zoom[hidden] { display: none; }
.hitl-pick-zoom img { width: 100%; height: calc(100% - 56px); object-fit: contain; image-rendering: auto; }
.hitl-pick-zoom img[data-pixelated="true"] { image-rendering: pixelated; }
.hitl-pick-zoom-bar { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; justify-content: center; }
.hitl-pick-zoom-caption { font-variant-numeric: tabular-nums; min-width: 14em; text-align: center; }
.hitl-pick-zoom img { touch-action: pan-y pinch-zoom; }
.hitl-pick-tile { contain: layout paint style; }
.hitl-pick-grid[data-filter="picked"] .hitl-pick-tile[aria-selected="false"] { display: none; }
.hitl-pick-empty { padding: 24px 8px; text-align: center; opacity: .7; }
.hitl-pick-empty[hidden] { display: none; }
.hitl-pick-clip { position: absolute; left: 6px; bottom: 6px; font-size: 11px; line-height: 1; border-radius: 99px;
  padding: 4px 7px; background: rgba(0,0,0,.65); color: #fff; font-variant-numeric: tabular-nums; }
.hitl-pick-tile[data-clip="ready"] .hitl-pick-clip::before { content: "▶ "; }
.hitl-pick-bar .hitl-button[aria-pressed="true"] { background: var(--p-primary-color, #2f6fdf); border-color: transparent; color: #fff; }
.hitl-pick-bar select { font: inherit; font-size: 12px; color: inherit; background: var(--comfy-input-bg, #1b1b1b);
  border: 1px solid var(--border-color, #555); border-radius: 6px; padding: 2px 4px; }
`;

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

/** @type {Record<string, string>} what the node does when time runs out, after "When time runs out, " */
const TIMEOUT_TEXT = {
  [ON_TIMEOUT.SEND_ALL]: "all images are sent",
  [ON_TIMEOUT.SEND_FIRST]: "the first image is sent",
  [ON_TIMEOUT.CANCEL_RUN]: "the run is cancelled",
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
    /** How many items (images, or clips of framesPerItem frames) there are to pick from. */
    this.count = wholeNumber(payload.count, 0);
    this.min = wholeNumber(payload.min_picks, 1);
    this.max = wholeNumber(payload.max_picks, this.min, this.count);
    this.framesPerItem = wholeNumber(payload.frames_per_item, 1);
    this.clickSends = payload.click_sends === true && this.max === 1;
    this.preset = Array.isArray(payload.preset) ? payload.preset : [];
    this.width = Number(payload.width) || 1;
    this.height = Number(payload.height) || 1;
    /** @type {number[]} picked items, in the order picked */
    this.order = [];
    this.focused = 0;
    /** @type {number | null} the item shown full size, if any */
    this.zoomed = null;
    this.digits = "";
    /** @type {number | undefined} */
    this.digitTimer = undefined;
    this.picksKey = `${PICKS_KEY_PREFIX}${view.id}`;
    /** @type {HTMLElement[]} */
    this.tiles = [];
    /** @type {HTMLImageElement[]} */
    this.images = [];
    /** @type {HTMLElement[]} */
    this.orderBadges = [];
    /** Only the picked items are shown ("picked only"). */
    this.pickedOnly = false;
    /** @type {number[]} items whose tile is on screen, in grid order */
    this.visible = [];
    /** Items from nearLow to nearHigh hold their image (see SHOW_SCREENS). */
    this.nearLow = 0;
    this.nearHigh = FIRST_ITEMS - 1;
    /** @type {Set<number>} items whose image has its src */
    this.withImage = new Set();
    /** @type {number[] | null} the items the grid shows, in grid order (null: to be worked out) */
    this.shownCache = null;
    this.measureQueued = false;
    this.lastMeasure = -Infinity;
    /** @type {number | null} the item under the pointer */
    this.hovered = null;
    this.status = element(this.doc, "div", "hitl-pick-status");
    this.sizeInput = element(this.doc, "input");
    this.grid = element(this.doc, "div", "hitl-pick-grid");
    this.empty = element(this.doc, "div", "hitl-pick-empty", "Nothing is picked yet. Press P (or Picked only) to show all.");
    this.filterButton = actionButton(this.doc, "Picked only", "picked-only", "Show only the picked items (p)", () =>
      this.setPickedOnly(!this.pickedOnly),
    );
    /** @type {HTMLElement | undefined} */
    this.zoom = undefined;
    /** @type {HTMLImageElement | undefined} */
    this.zoomImage = undefined;
    /** @type {HTMLElement | undefined} */
    this.zoomCaption = undefined;
    /** @type {HTMLButtonElement | undefined} */
    this.zoomToggle = undefined;
    /** @type {number | undefined} */
    this.zoomTimer = undefined;
    this.frameRate = Number(browserStorage.read(FRAME_RATE_KEY)) || DEFAULT_FRAME_RATE;
    this.playMode = browserStorage.read(PLAY_MODE_KEY) === PLAY_MODES.ALWAYS ? PLAY_MODES.ALWAYS : PLAY_MODES.HOVER;

    this.previews = new PreviewStore({
      client: tools.client,
      requestId: view.id,
      frames: this.count * this.framesPerItem,
      onFrame: (frame) => this.onFrame(frame),
      onDrop: (frame) => this.onDrop(frame),
    });
    /** @type {ClipPlayer | null} */
    this.player =
      this.framesPerItem > 1
        ? new ClipPlayer({
            framesPerItem: this.framesPerItem,
            frameUrl: (frame) => this.previews.url(frame),
            image: (item) => this.images[item],
            fps: this.frameRate,
          })
        : null;

    ensureStyle(this.doc, STYLE_ID, CSS);
    /** @type {Dialog} */
    this.dialog = tools.openDialog(view, {
      title: String(payload.title || "Pick images"),
      wide: true,
      primaryLabel: "Send",
      onPrimary: () => void this.send(),
      onClose: () => this.dispose(),
    });
    this.build(payload);
    // Ask for the previews at once, top of the grid first; what is on screen refines it.
    this.previews.want(framesFor(nearestFirst([], this.count).slice(0, FIRST_ITEMS), this.framesPerItem));
    // What is on screen follows the scroll position, the dialog's size and the tile size:
    // worked out from the grid's geometry (see measure), never by watching every tile.
    this.dialog.body.addEventListener("scroll", () => this.scheduleMeasure(), { passive: true });
    this.resizeObserver = new ResizeObserver(() => this.scheduleMeasure());
    this.resizeObserver.observe(this.dialog.body);
    this.resizeObserver.observe(this.grid);
    this.restorePicks();
    this.render();
    // Start on the first item if the overlay gave this dialog the focus (it does not when
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
    const allButton = actionButton(this.doc, "All", "pick-all", "Pick all, up to the maximum (Ctrl+A)", () => this.pickAll());
    const noneButton = actionButton(this.doc, "None", "pick-none", "Pick none (Ctrl+Shift+A)", () => this.pickNone());
    this.filterButton.setAttribute("aria-pressed", "false");
    const size = element(doc, "label", "hitl-pick-size", "Size");
    this.sizeInput.type = "range";
    this.sizeInput.min = String(TILE_SIZES.min);
    this.sizeInput.max = String(TILE_SIZES.max);
    const chosenSize = browserStorage.read(TILE_SIZE_KEY);
    this.sizeInput.value = chosenSize ?? String(TILE_SIZES.initial);
    this.sizeInput.setAttribute("aria-label", "Thumbnail size");
    this.sizeInput.addEventListener("input", () => {
      this.grid.style.setProperty("--hitl-tile", `${this.sizeInput.value}px`);
      browserStorage.write(TILE_SIZE_KEY, this.sizeInput.value);
    });
    size.append(this.sizeInput);
    bar.append(this.status, allButton, noneButton, this.filterButton, size);
    if (this.player) bar.append(...this.#clipSettings());

    if (payload.on_timeout && typeof this.view.expires_in_ms === "number") {
      const whenOut = `When time runs out, ${TIMEOUT_TEXT[payload.on_timeout] ?? payload.on_timeout}.`;
      this.dialog.countdown.title = whenOut;
      const timeout = element(doc, "span", "hitl-pick-timeout", whenOut);
      timeout.dataset.role = "on-timeout";
      bar.append(timeout);
    }

    this.grid.setAttribute("role", "listbox");
    this.grid.setAttribute("aria-multiselectable", String(this.max > 1));
    this.grid.setAttribute("aria-label", this.player ? "Clips of the batch" : "Images of the batch");
    this.grid.style.setProperty("--hitl-tile", tileSize(chosenSize));

    const ratio = `${this.width} / ${this.height}`;
    const noun = this.player ? "Clip" : "Image";
    for (let index = 0; index < this.count; index += 1) {
      const tile = element(doc, "div", "hitl-pick-tile");
      tile.setAttribute("role", "option");
      tile.tabIndex = -1;
      tile.dataset.index = String(index);
      tile.style.aspectRatio = ratio; // the grid is laid out before any preview arrives
      tile.setAttribute("aria-label", `${noun} ${index + 1}`);
      const image = element(doc, "img");
      image.alt = `${noun} ${index + 1}`;
      image.decoding = "async";
      image.draggable = false;
      image.addEventListener("load", () => (image.dataset.loaded = "true"), { once: true });
      const number = element(doc, "span", "hitl-pick-number", String(index + 1));
      const order = element(doc, "span", "hitl-pick-order");
      order.dataset.role = "pick-order";
      const zoom = element(doc, "button", "hitl-pick-zoom-button", "⤢");
      zoom.type = "button";
      zoom.tabIndex = -1;
      zoom.title = "Full size (Space)";
      zoom.setAttribute("aria-label", `Show ${noun.toLowerCase()} ${index + 1} full size`);
      zoom.dataset.action = "zoom";
      zoom.addEventListener("click", (event) => {
        event.stopPropagation();
        this.openZoom(index);
      });
      tile.append(image, number, order, zoom);
      if (this.player) {
        const clip = element(doc, "span", "hitl-pick-clip", `${this.framesPerItem} frames`);
        clip.dataset.role = "clip";
        tile.append(clip);
        tile.addEventListener("pointerenter", () => this.setHovered(index));
        tile.addEventListener("pointerleave", () => this.setHovered(null));
      }
      tile.addEventListener("click", () => {
        // The focus follows a click or tap, so a tapped clip plays (a phone has no hover).
        this.focusTile(index);
        this.toggle(index);
      });
      this.tiles.push(tile);
      this.images.push(image);
      this.orderBadges.push(order);
      this.grid.append(tile);
    }
    this.empty.hidden = true;
    this.empty.dataset.role = "picked-only-empty";

    const what = this.clickSends ? "Click or type a number to pick and send" : "Click or type a number to pick";
    const help = element(
      doc,
      "div",
      "hitl-pick-help",
      `${what} · arrows move, x picks · Space: full size · p: picked only · Ctrl+A all, Ctrl+Shift+A none · Enter sends · Esc cancels the run`,
    );
    body.append(bar, this.grid, this.empty, help);
    // Our keys come first; a key used here (Esc closing a zoomed image) is not also the
    // overlay's (Esc cancelling the run).
    this.dialog.onKey((event) => this.onKey(event));
    this.grid.addEventListener("focusin", () => this.updatePlaying());
    this.grid.addEventListener("focusout", () => this.updatePlaying());
  }

  /** The clip settings, remembered per browser: frame rate, and play on hover/focus or always. */
  #clipSettings() {
    const doc = this.doc;
    const rate = element(doc, "select");
    rate.setAttribute("aria-label", "Frame rate of the clips");
    rate.dataset.role = "frame-rate";
    for (const fps of FRAME_RATES) {
      const option = element(doc, "option", undefined, `${fps} fps`);
      option.value = String(fps);
      rate.append(option);
    }
    if (!FRAME_RATES.includes(this.frameRate)) this.frameRate = DEFAULT_FRAME_RATE;
    rate.value = String(this.frameRate);
    rate.addEventListener("change", () => {
      this.frameRate = Number(rate.value);
      browserStorage.write(FRAME_RATE_KEY, rate.value);
      this.player?.setRate(this.frameRate);
    });
    const play = element(doc, "select");
    play.setAttribute("aria-label", "When clips play");
    play.dataset.role = "play-mode";
    for (const [value, label] of [
      [PLAY_MODES.HOVER, "play on hover"],
      [PLAY_MODES.ALWAYS, "play always"],
    ]) {
      const option = element(doc, "option", undefined, label);
      option.value = value;
      play.append(option);
    }
    play.value = this.playMode;
    play.addEventListener("change", () => {
      this.playMode = play.value === PLAY_MODES.ALWAYS ? PLAY_MODES.ALWAYS : PLAY_MODES.HOVER;
      browserStorage.write(PLAY_MODE_KEY, this.playMode);
      this.updatePlaying();
    });
    return [rate, play];
  }

  // ------------------------------------------------------------------ previews
  /** A frame arrived: a first frame shows on its tile if the tile is near the screen. @param {number} frame */
  onFrame(frame) {
    const item = Math.floor(frame / this.framesPerItem);
    if (frame % this.framesPerItem === 0 && this.isNear(item)) this.#show(item);
    if (this.player && this.player.ready(item)) {
      this.tiles[item].dataset.clip = "ready";
      this.updatePlaying();
    }
    if (this.zoomed === item && this.zoomImage?.dataset.size === "none") this.#zoomStill(item);
  }

  /** A frame was let go (too far from the screen to keep). @param {number} frame */
  onDrop(frame) {
    const item = Math.floor(frame / this.framesPerItem);
    this.tiles[item]?.removeAttribute("data-clip");
    if (frame % this.framesPerItem === 0) this.#hide(item);
  }

  /** @param {number} item */
  #show(item) {
    const url = this.previews.url(item * this.framesPerItem);
    const image = this.images[item];
    if (url && image && !image.getAttribute("src")) {
      image.src = url;
      this.withImage.add(item);
    }
  }

  /** @param {number} item */
  #hide(item) {
    this.images[item]?.removeAttribute("src");
    this.withImage.delete(item);
  }

  /** Whether an item's tile is near enough to the screen to hold its image. @param {number} item */
  isNear(item) {
    return item >= this.nearLow && item <= this.nearHigh;
  }

  /**
   * Work out what is on screen soon: at the next frame, or while the person keeps
   * scrolling, at most every MEASURE_EVERY_MS (the images shown reach two screens beyond
   * what is on screen, so a scroll never outruns them, and the scroll itself stays free of
   * our work).
   */
  scheduleMeasure() {
    if (this.measureQueued) return;
    this.measureQueued = true;
    const wait = Math.max(0, this.lastMeasure + MEASURE_EVERY_MS - performance.now());
    const run = () => {
      this.measureQueued = false;
      this.lastMeasure = performance.now();
      this.measure();
    };
    if (wait === 0) requestAnimationFrame(run);
    else window.setTimeout(() => requestAnimationFrame(run), wait);
  }

  /**
   * The items on screen, from the grid's geometry: every tile has one size, so the rows on
   * screen follow from the scroll position, the first tile and the row pitch (a handful of
   * layout reads, whatever the batch size).
   */
  measure() {
    if (this.dialog.minimised) return; // nothing is on screen; keep what is loaded for its return
    const shown = this.shownItems();
    const body = this.dialog.body;
    /** @type {number[]} */
    let visible = [];
    const first = shown.length ? this.tiles[shown[0]].getBoundingClientRect() : null;
    if (first && first.height > 0) {
      const columns = this.columns();
      const next = shown[columns] === undefined ? null : this.tiles[shown[columns]].getBoundingClientRect();
      const pitch = Math.max(1, next ? next.top - first.top : first.height);
      const box = body.getBoundingClientRect();
      const top = Math.max(0, Math.floor((box.top - first.top) / pitch));
      const bottom = Math.max(top, Math.floor((Math.min(box.bottom, innerHeight) - first.top) / pitch));
      visible = shown.slice(top * columns, (bottom + 1) * columns);
    }
    const same =
      visible.length === this.visible.length && visible[0] === this.visible[0] && visible.at(-1) === this.visible.at(-1);
    if (same) return;
    this.visible = visible;
    this.refreshPreviews();
    this.updatePlaying();
  }

  /** Fetch what is near the screen, nearest first; near tiles show their image, far ones let it go. */
  refreshPreviews() {
    const visible = this.visible;
    const low = visible.length ? Math.min(...visible) : 0;
    const high = visible.length ? Math.max(...visible) : 0;
    const margin = Math.max(SHOW_ITEMS, SHOW_SCREENS * visible.length);
    this.nearLow = low - margin;
    this.nearHigh = high + margin;
    const picked = this.pickedOnly ? new Set(this.order) : null;
    const shown = picked ? (/** @type {number} */ item) => picked.has(item) : undefined;
    const order = nearestFirst(visible, this.count, shown);
    const near = order.filter((item) => this.isNear(item));
    // The near ones first (every frame of a near clip before the far ones' first frames),
    // then the rest as far as the store keeps: scrolling later finds them already here.
    const far = order.filter((item) => !this.isNear(item)).slice(0, Math.floor(this.previews.cap / this.framesPerItem));
    this.previews.want([...framesFor(near, this.framesPerItem), ...framesFor(far, this.framesPerItem)]);
    this.previews.trim(Math.floor((low + high) / 2) * this.framesPerItem);
    for (const item of near) this.#show(item);
    const keep = margin + KEEP_MORE_ITEMS;
    for (const item of [...this.withImage]) {
      if (item < low - keep || item > high + keep) this.#hide(item);
    }
  }

  /** @param {number | null} item */
  setHovered(item) {
    this.hovered = item;
    this.updatePlaying();
  }

  /** Which clips play: those on screen ("always"), or the hovered and the focused one. */
  updatePlaying() {
    if (!this.player) return;
    /** @type {number[]} */
    let items;
    if (this.playMode === PLAY_MODES.ALWAYS) items = this.visible;
    else {
      items = this.hovered === null ? [] : [this.hovered];
      if (this.grid.contains(this.doc.activeElement)) items.push(this.focused);
    }
    this.player.play(items.filter((item) => this.player?.ready(item)));
  }

  dispose() {
    this.resizeObserver?.disconnect();
    this.player?.close();
    window.clearInterval(this.zoomTimer);
    window.clearTimeout(this.digitTimer);
    this.previews.close();
  }

  // --------------------------------------------------------------------- picks
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
    if (this.clickSends && at < 0) void this.send(); // "click sends": picking one is the answer
  }

  pickAll() {
    const picked = new Set(this.order);
    for (let index = 0; index < this.count && this.order.length < this.max; index += 1) {
      if (!picked.has(index)) this.order.push(index);
    }
    this.changed();
  }

  pickNone() {
    this.order = [];
    this.changed();
  }

  changed() {
    this.shownCache = null;
    if (this.pickedOnly) this.scheduleMeasure();
    this.dialog.setError(null);
    // With a preset, "nothing picked" is kept too: a reload must not bring the preset back.
    const keep = this.order.length > 0 || this.preset.length > 0;
    tabStorage.write(this.picksKey, keep ? JSON.stringify(this.order) : null);
    this.render();
  }

  /** A reload mid-wait keeps what was picked (per request id, in this tab only); else the preset. */
  restorePicks() {
    const saved = tabStorage.read(this.picksKey);
    if (!saved) {
      this.order = [...new Set(this.preset)].filter((i) => Number.isInteger(i) && i >= 0 && i < this.count);
      return;
    }
    try {
      const parsed = JSON.parse(saved);
      if (Array.isArray(parsed)) {
        this.order = [...new Set(parsed)].filter((i) => Number.isInteger(i) && i >= 0 && i < this.count).slice(0, this.max);
      }
    } catch {
      this.order = [];
    }
  }

  /** @param {boolean} on show only the picked items */
  setPickedOnly(on) {
    this.pickedOnly = on;
    this.filterButton.setAttribute("aria-pressed", String(on));
    if (on) this.grid.dataset.filter = "picked";
    else delete this.grid.dataset.filter;
    this.shownCache = null;
    this.render();
    this.scheduleMeasure();
  }

  /** In "picked only", a tile that was just hidden must not keep (and so lose) the focus. */
  #keepFocusShown() {
    if (!this.pickedOnly || this.zoomed !== null || this.order.includes(this.focused)) return;
    const hadFocus = this.grid.contains(this.doc.activeElement) || this.doc.activeElement === this.doc.body;
    const shown = this.shownItems();
    if (shown.length === 0) {
      if (hadFocus) this.filterButton.focus();
      return;
    }
    const next = shown.find((item) => item > this.focused) ?? shown[shown.length - 1];
    this.focusTile(next, hadFocus);
  }

  /** The items the grid shows, in grid order. */
  shownItems() {
    this.shownCache ??= this.pickedOnly
      ? [...this.order].sort((a, b) => a - b)
      : Array.from({ length: this.count }, (_, item) => item);
    return this.shownCache;
  }

  render() {
    /** @type {Map<number, number>} item -> position in the pick order */
    const position = new Map(this.order.map((item, at) => [item, at]));
    this.tiles.forEach((tile, index) => {
      const at = position.get(index);
      const selected = String(at !== undefined);
      if (tile.getAttribute("aria-selected") !== selected) tile.setAttribute("aria-selected", selected);
      const badge = at !== undefined ? String(at + 1) : "";
      if (this.orderBadges[index].textContent !== badge) this.orderBadges[index].textContent = badge;
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
    this.empty.hidden = !(this.pickedOnly && picked === 0);
    this.#keepFocusShown();
    if (this.zoomed !== null) this.renderZoom();
  }

  // ---------------------------------------------------------------- keyboard
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
    this.updatePlaying();
  }

  /**
   * Move the focus `step` shown items along (a row is `columns()` items).
   * @param {number} step
   */
  moveFocus(step) {
    const shown = this.shownItems();
    if (shown.length === 0) return;
    const at = shown.indexOf(this.focused);
    const from = at >= 0 ? at : 0;
    this.focusTile(shown[Math.min(shown.length - 1, Math.max(0, from + step))]);
  }

  /** How many tiles one grid row holds (from the layout, so it follows the window size). */
  columns() {
    const shown = this.shownItems();
    const top = shown.length ? this.tiles[shown[0]].offsetTop : 0;
    let columns = 0;
    while (columns < shown.length && this.tiles[shown[columns]].offsetTop === top) columns += 1;
    return Math.max(1, columns);
  }

  /** @param {KeyboardEvent} event */
  onKey(event) {
    if (event.isComposing || this.dialog.card.dataset.busy === "true") return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target instanceof HTMLInputElement && target.type !== "range") return;
    if (target instanceof HTMLSelectElement) return;
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
    if (event.key === "ArrowRight") return handle(() => this.moveFocus(1));
    if (event.key === "ArrowLeft") return handle(() => this.moveFocus(-1));
    if (event.key === "ArrowDown") return handle(() => this.moveFocus(this.columns()));
    if (event.key === "ArrowUp") return handle(() => this.moveFocus(-this.columns()));
    if (event.key === "Home") return handle(() => this.moveFocus(-this.count));
    if (event.key === "End") return handle(() => this.moveFocus(this.count));
    if (event.key === " ") return handle(() => this.openZoom(this.focused));
    if (event.key === "x" || event.key === "X") return handle(() => this.toggle(this.focused));
    if (event.key === "p" || event.key === "P") return handle(() => this.setPickedOnly(!this.pickedOnly));
  }

  /**
   * Digits pick by the number on the tile. "1" then "2" picks item 12 when there are 12
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

  /** Pick the number typed so far (any other key does this first, so "1" Enter sends item 1). */
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

  // -------------------------------------------------------------------- zoom
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
      const previous = actionButton(this.doc, "‹", "zoom-previous", "Previous (←)", () => this.openZoom((this.zoomed ?? 0) - 1));
      const next = actionButton(this.doc, "›", "zoom-next", "Next (→)", () => this.openZoom((this.zoomed ?? 0) + 1));
      this.zoomToggle = actionButton(this.doc, "Pick", "zoom-toggle", "Pick or unpick this one (x)", () => this.toggle(this.zoomed ?? 0));
      const close = actionButton(this.doc, "Close", "zoom-close", "Back to the grid (Space or Esc)", () => this.closeZoom());
      bar.append(previous, this.zoomCaption, next, this.zoomToggle, close);
      this.zoom.append(this.zoomImage, bar);
      this.#swipeToMove(this.zoomImage);
      this.dialog.card.append(this.zoom);
    }
    this.zoomed = wrapped;
    this.focusTile(wrapped, false);
    window.clearInterval(this.zoomTimer);
    const image = /** @type {HTMLImageElement} */ (this.zoomImage);
    // Scaled to fit, up or down; a small image blown up a lot (pixel art) stays crisp.
    image.dataset.pixelated = String(this.width * 3 <= window.innerWidth && this.height * 3 <= window.innerHeight);
    if (this.player) {
      // A clip plays in the zoom from its previews, at the chosen frame rate.
      this.#zoomStill(wrapped);
      this.zoomTimer = window.setInterval(() => {
        const frame = this.player?.frameAt(performance.now()) ?? 0;
        const url = this.player?.ready(wrapped) ? this.previews.url(wrapped * this.framesPerItem + frame) : undefined;
        if (url && image.getAttribute("src") !== url) image.src = url;
      }, 1000 / this.frameRate);
    } else {
      // The preview is shown at once; the full-size image replaces it when it has arrived.
      image.dataset.size = "thumb";
      image.src = this.previews.url(wrapped) ?? this.tools.client.imageUrl(this.view.id, wrapped, "thumb");
      const full = new Image();
      full.addEventListener("load", () => {
        if (this.zoomed !== wrapped) return;
        image.src = full.src;
        image.dataset.size = "full";
      });
      full.src = this.tools.client.imageUrl(this.view.id, wrapped, "full");
    }
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

  /** A clip's first frame in the zoom, until it plays. @param {number} item */
  #zoomStill(item) {
    const image = /** @type {HTMLImageElement} */ (this.zoomImage);
    const url = this.previews.url(item * this.framesPerItem);
    image.dataset.size = url ? "thumb" : "none";
    if (url) image.src = url;
    else image.removeAttribute("src");
  }

  renderZoom() {
    if (this.zoomed === null || !this.zoomCaption || !this.zoomToggle) return;
    const at = this.order.indexOf(this.zoomed);
    const state = at >= 0 ? ` · picked #${at + 1}` : "";
    const what = this.player ? `Clip ${this.zoomed + 1} of ${this.count} · ${this.framesPerItem} frames` : `Image ${this.zoomed + 1} of ${this.count}`;
    this.zoomCaption.textContent = `${what} · ${this.width}×${this.height}${state}`;
    this.zoomToggle.textContent = at >= 0 ? "Unpick" : "Pick";
  }

  closeZoom() {
    if (!this.zoom) return;
    this.zoom.hidden = true;
    window.clearInterval(this.zoomTimer);
    const index = this.zoomed ?? this.focused;
    this.zoomed = null;
    this.focusTile(index);
    this.#keepFocusShown();
  }

  async send() {
    if (!this.valid) {
      this.render();
      this.dialog.setError(`Pick ${describeBounds(this.count, this.min, this.max).replace("pick ", "")} first.`);
      return;
    }
    const taken = await this.tools.submit(this.view, this.dialog, [...this.order]);
    if (taken) tabStorage.write(this.picksKey, null);
  }
}

/** @type {import("./controller.js").KindHandler} */
export const imagePickerHandler = {
  kind: KINDS.IMAGE_PICKER,
  open(view, tools) {
    new PickerDialog(view, tools);
  },
};
