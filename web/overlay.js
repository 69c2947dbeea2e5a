// @ts-check
/**
 * Our own body-level overlay: stacked dialog cards, a tray for minimised ones, and short
 * notices. It touches no ComfyUI DOM (frontend updates broke packs that drew on the node
 * canvas), and it shows every workflow-provided string with textContent, never as HTML.
 *
 * Being a good guest in ComfyUI's page is this module's job, for every dialog at once:
 *
 * **Keys.** While the focus is inside our layer, no keydown, keyup or keypress reaches
 * ComfyUI. What ComfyUI listens with (read in the frontend's source, 1.27.10 and 1.58.1):
 *   - its keybinding service: `keydown` on `window`, bubble phase, registered when the graph
 *     view mounts (before extensions load). It skips *plain* keys typed in INPUT/TEXTAREA but
 *     runs every combo with a modifier from anywhere: Ctrl+Enter queues the prompt,
 *     Ctrl+Shift+Enter queues it first, Ctrl+Alt+Enter interrupts, Ctrl+S saves, Ctrl+O
 *     opens, Ctrl+, opens the settings, Ctrl+G groups... Single letters ("r" refresh, "q",
 *     "w", "n", "m", "a" sidebar tabs, "f" focus mode, "v"/"h" lock) act when the focus is
 *     not in a text field. In 1.27.10 it also forwards Delete/Backspace to LiteGraph's
 *     `processKey`, which deletes the selected nodes (1.58.1 binds them to the canvas
 *     container, so they only act there);
 *   - LiteGraph's canvas: `keydown` on the canvas element (not an ancestor of ours) and
 *     `keyup` on `document`, capture phase (both versions);
 *   - the change tracker: `keydown` on `window`, **capture** phase, registered before any
 *     extension loads, so it always runs before us. It reads the event later, in a
 *     requestAnimationFrame callback, and Ctrl+Z / Ctrl+Y there undo or redo the graph
 *     (unless the focus is in an INPUT/TEXTAREA). Its `keyup` is on `window`, bubble phase;
 *   - Vue nodes mode (1.58.1) adds nothing at window or document level that sees our keys;
 *     panels, menus and the mask editor listen only while they are open.
 * So our listener goes on `window` in the capture phase, registered when this module's
 * overlay is made (ComfyUI imports extensions before it makes the canvas), and for an event
 * whose target is inside our layer it calls `stopImmediatePropagation()`: no later listener
 * on window, document or any element sees it (the keybinding service, LiteGraph, every bubble
 * listener). The browser's own default action still happens (typing, Tab, a button's Enter).
 * Our dialogs then get the key from us ({@link Dialog#onKey}): DOM key listeners inside the
 * layer are never reached, which is the price of stopping the event before anyone else.
 * The change tracker saw the event first and cannot be stopped; after our handlers ran, the
 * event is *neutralised* (its key reads "Unidentified", no modifier), so its deferred read
 * undoes nothing. A keyup whose keydown went to ComfyUI (Shift held on the canvas, released
 * in a dialog) is let through, so ComfyUI never believes a key is still held; a keyup, or a
 * held key's repeats, whose keydown was ours stay ours even if the focus has moved.
 * Ctrl/Cmd+Enter sends (the primary button), Esc cancels the run; combos we do not use do
 * nothing (no browser "save page" for Ctrl+S either), except editing keys in a text field
 * (Ctrl+A/C/V/X/Z/Y, word moves) and the browser's own (reload, find, zoom).
 *
 * **Focus.** A new dialog takes the focus from the canvas, the body or a ComfyUI button, but
 * never from a text field, a ComfyUI modal window, or another of our dialogs. When a dialog
 * with the focus closes or is minimised, the focus goes to the next open dialog, else back
 * to the canvas if it came from there, so ComfyUI's keys work again at once.
 *
 * **Place.** Dialogs sit in the free part of the window, measured at run time: below the top
 * bar, the workflow tabs and the Run/Cancel bar, beside the side toolbar, above the canvas
 * toolbar ({@link Overlay} takes a `chrome()` function that finds them). A person can drag a
 * dialog by its header (mouse or touch); where it was put is remembered per browser and kept
 * on-screen when the window changes; a double click on the header puts it back.
 *
 * **Stacking.** The layer's z-index (1000) is above the canvas, ComfyUI's side panels (999)
 * and the minimap, and below ComfyUI's menus and popovers (PrimeVue overlays, 1001 up), its
 * canvas toolbar (1200), its modal windows (Settings, templates, node search: PrimeVue masks
 * from 1101 in 1.27.10, Reka dialogs at 1700 in 1.58.1), LiteGraph's context menu (9999) and
 * ComfyUI-Manager's dialog (10000): those always open above our dialogs.
 */

import { element, ensureStyle } from "./dom.js";
import { SafeStorage } from "./storage.js";

const STYLE_ID = "comfyui-hitl-style";
/** Where a dialog the person dragged was put (localStorage, per browser). */
const POSITION_KEY = "comfyui-hitl.dialog-position";
/** Room kept between our dialogs and ComfyUI's controls or the window's edge. */
const MARGIN = 8;
/** Below this width a dialog may cover the side toolbar (a phone has no room to spare). */
const ROOMY_WIDTH = 600;
/** How much of a dragged dialog must stay on-screen: its header at least. */
const KEEP_VISIBLE = 56;
/** The layer's z-index: see the module comment. */
export const LAYER_Z_INDEX = 1000;

const CSS = `
.hitl-layer { position: fixed; inset: 0; z-index: ${LAYER_Z_INDEX}; pointer-events: none;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg-color, #e6e6e6);
  --hitl-avail-w: calc(100vw - 16px); --hitl-avail-h: calc(100vh - 16px); }
.hitl-stack { position: absolute; left: 8px; top: 8px; display: flex; flex-direction: column; align-items: center;
  gap: 12px; overflow-y: auto; overscroll-behavior: contain; pointer-events: none;
  max-width: var(--hitl-avail-w); max-height: var(--hitl-avail-h); box-sizing: border-box; }
.hitl-stack:empty { display: none; }
.hitl-card { pointer-events: auto; width: min(560px, var(--hitl-avail-w)); box-sizing: border-box; flex: none;
  background: var(--comfy-menu-bg, #232323); border: 1px solid var(--border-color, #4a4a4a);
  border-radius: 10px; box-shadow: 0 12px 40px rgba(0,0,0,.5); display: flex; flex-direction: column;
  max-height: var(--hitl-avail-h); }
.hitl-card[data-wide="true"] { width: min(1100px, var(--hitl-avail-w)); }
.hitl-card[data-minimised="true"] { display: none; }
.hitl-card:focus-within { border-color: var(--p-primary-color, #4c8bf5); }
.hitl-card:focus { outline: none; }
.hitl-head { display: flex; align-items: flex-start; gap: 8px; padding: 12px 14px 8px; }
.hitl-layer[data-movable="true"] .hitl-head { cursor: move; touch-action: none; user-select: none; }
.hitl-layer[data-movable="true"] .hitl-head[data-dragging="true"] { cursor: grabbing; }
/* A page that lays the dialogs out itself (the inbox): the stack fills the window. */
:where(.hitl-layer[data-movable="false"]) .hitl-stack { inset: 0; max-width: none; max-height: none; padding: 8px; }
.hitl-head button { cursor: pointer; }
.hitl-grip { opacity: .45; font-size: 14px; line-height: 20px; letter-spacing: -2px; }
.hitl-titles { flex: 1; min-width: 0; }
.hitl-title { font-weight: 600; font-size: 15px; overflow-wrap: anywhere; }
.hitl-subtitle { opacity: .7; font-size: 12px; overflow-wrap: anywhere; }
.hitl-countdown { font-variant-numeric: tabular-nums; font-size: 12px; padding: 2px 8px; border-radius: 99px;
  background: rgba(255,255,255,.08); white-space: nowrap; }
.hitl-countdown[data-urgent="true"] { background: #7a2a22; }
.hitl-icon-button { background: none; border: 0; color: inherit; cursor: pointer; font-size: 16px;
  padding: 0 4px; opacity: .7; min-width: 28px; min-height: 28px; }
.hitl-icon-button:hover, .hitl-icon-button:focus-visible { opacity: 1; }
.hitl-body { padding: 4px 14px 8px; overflow: auto; min-height: 0; }
.hitl-error { color: #ff8a80; font-size: 13px; padding: 0 14px; min-height: 1.4em; overflow-wrap: anywhere; }
.hitl-foot { display: flex; justify-content: flex-end; gap: 8px; padding: 8px 14px 12px; flex-wrap: wrap; }
.hitl-button { font: inherit; border-radius: 6px; padding: 6px 16px; cursor: pointer; min-height: 34px;
  border: 1px solid var(--border-color, #555); background: var(--comfy-input-bg, #333); color: inherit; }
.hitl-button[data-variant="primary"] { background: var(--p-primary-color, #2f6fdf); border-color: transparent; color: #fff; }
.hitl-button[data-variant="danger"] { border-color: #a5443a; }
.hitl-button:disabled { opacity: .45; cursor: not-allowed; }
.hitl-tray { position: absolute; left: 8px; bottom: 8px; display: flex; flex-direction: column;
  align-items: flex-start; gap: 6px; pointer-events: none; max-width: min(420px, calc(100vw - 16px)); }
.hitl-tray-count { pointer-events: auto; font-size: 12px; opacity: .85; padding: 0 4px;
  text-shadow: 0 1px 3px rgba(0,0,0,.8); }
.hitl-tray-count:empty { display: none; }
.hitl-pill, .hitl-notice { pointer-events: auto; background: var(--comfy-menu-bg, #232323);
  border: 1px solid var(--border-color, #4a4a4a); border-radius: 99px; padding: 6px 12px; font-size: 13px;
  box-shadow: 0 4px 16px rgba(0,0,0,.4); color: inherit; font-family: inherit; max-width: 100%;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; box-sizing: border-box; }
.hitl-pill { cursor: pointer; border-color: var(--p-primary-color, #4c8bf5); min-height: 34px; text-align: left; }
.hitl-pill::before { content: ""; display: inline-block; box-sizing: content-box; width: 3px; height: 10px; margin-right: 8px;
  border-left: 3px solid currentColor; border-right: 3px solid currentColor; vertical-align: -1px; }
.hitl-pill[data-urgent="true"] { border-color: #e57368; }
.hitl-notice { opacity: .9; }
.hitl-field { display: flex; flex-direction: column; gap: 4px; margin: 6px 0; }
.hitl-field input, .hitl-field textarea, .hitl-field select { font: inherit; color: inherit;
  background: var(--comfy-input-bg, #1b1b1b); border: 1px solid var(--border-color, #555);
  border-radius: 6px; padding: 6px 8px; }
.hitl-message { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 8px; }
.hitl-big-number { font-size: 28px; font-variant-numeric: tabular-nums; margin: 8px 0; }
`;

/**
 * @typedef {{
 *   id: string,
 *   kind: string,
 *   title: string,
 *   subtitle?: string,
 *   expiresInMs?: number | null,
 *   primaryLabel?: string,
 *   cancelLabel?: string,
 *   wide?: boolean,
 *   onPrimary?: () => void,
 *   onCancel: () => void,
 *   onClose?: () => void,
 * }} DialogOptions
 * @typedef {{ left: number, top: number, right: number, bottom: number }} Box
 * @typedef {{ keep: Box[], avoid: Box[] }} Chrome  the host's controls: `keep` must never be
 *   covered where we place a dialog (Run, Cancel, the tabs, the top bar); `avoid` rather not
 *   (side and canvas toolbars)
 * @typedef {(event: KeyboardEvent) => void} KeyHandler
 * @typedef {"keydown" | "keyup" | "keypress"} KeyType
 * @typedef {{ x: number, y: number }} Point
 */

/** @param {number} ms */
export function formatRemaining(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return minutes >= 60
    ? `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`
    : `${minutes}:${String(seconds).padStart(2, "0")}`;
}

// ------------------------------------------------------------------------------- keys
/** Editing keys whose browser default is kept with Ctrl/Cmd in a text field. */
const EDITING_LETTERS = new Set(["a", "c", "v", "x", "z", "y"]);
const EDITING_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "Backspace", "Delete", "Insert"]);
const MODIFIER_KEYS = new Set(["Control", "Shift", "Alt", "Meta", "AltGraph", "CapsLock", "OS"]);
/** The browser's own shortcuts we leave alone: reload, find, print, zoom. */
const BROWSER_LETTERS = new Set(["r", "f", "g", "p", "+", "-", "=", "0"]);

/** @param {EventTarget | null} target */
function isTextEntry(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (!(target instanceof HTMLInputElement)) return false;
  return !["button", "checkbox", "radio", "range", "color", "file", "submit", "reset", "image"].includes(target.type);
}

/**
 * Whether a key with a modifier that none of our handlers used keeps its browser default:
 * text editing in a field, characters typed with AltGr or Option, and the browser's own
 * reload/find/zoom. Everything else (Ctrl+S "save page", Ctrl+O...) does nothing.
 * @param {KeyboardEvent} event
 */
function keepsBrowserDefault(event) {
  if (!event.ctrlKey && !event.metaKey && !event.altKey) return true;
  if (MODIFIER_KEYS.has(event.key)) return true; // the modifier's own keydown
  if (event.key.startsWith("F") && event.key.length > 1) return true; // F1-F12
  if (event.getModifierState?.("AltGraph")) return true;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (event.altKey && !event.ctrlKey && !event.metaKey) return key.length === 1 && isTextEntry(event.target); // Option+letter types
  if (EDITING_KEYS.has(key)) return true;
  if (BROWSER_LETTERS.has(key) && !event.altKey) return true;
  return EDITING_LETTERS.has(key) && !event.altKey;
}

/**
 * Make a key event read as nothing to anyone who looks at it later: the change tracker of
 * ComfyUI's frontend, which ran before us (window, capture) and reads the event in a
 * requestAnimationFrame callback to undo or redo the graph. The browser's default action
 * does not read these properties.
 * @param {KeyboardEvent} event
 */
function neutralise(event) {
  /** @type {PropertyDescriptorMap} */
  const blank = {};
  for (const [name, value] of /** @type {[string, unknown][]} */ ([
    ["key", "Unidentified"],
    ["code", ""],
    ["keyCode", 0],
    ["which", 0],
    ["charCode", 0],
    ["ctrlKey", false],
    ["metaKey", false],
    ["altKey", false],
    ["shiftKey", false],
  ])) {
    blank[name] = { value, configurable: true };
  }
  blank.getModifierState = { value: () => false, configurable: true };
  try {
    Object.defineProperties(event, blank);
  } catch {
    // Not a plain event object: nothing reads it later then.
  }
}

// ------------------------------------------------------------------------------ place
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

/** One card in the overlay: header with countdown and minimise, a body, an error line, buttons. */
export class Dialog {
  /**
   * @param {Overlay} overlay
   * @param {DialogOptions} options
   */
  constructor(overlay, options) {
    const doc = overlay.doc;
    this.overlay = overlay;
    this.options = options;
    this.id = options.id;
    /** @type {number | undefined} */
    this.timer = undefined;
    this.closed = false;
    /** @type {string} the countdown as shown, "" without a timeout */
    this.remaining = "";
    /** @type {Record<KeyType, KeyHandler[]>} */
    this.keyHandlers = { keydown: [], keyup: [], keypress: [] };
    /** @type {HTMLElement | null} see {@link Dialog#setFocusTarget} */
    this.preferredFocus = null;

    this.card = element(doc, "section", "hitl-card");
    this.card.setAttribute("role", "dialog");
    // A click on the card's text or margins keeps the focus in the dialog (on the card itself),
    // not on the page's body, where the host's shortcuts would take the next key.
    this.card.tabIndex = -1;
    this.card.dataset.requestId = options.id;
    this.card.dataset.kind = options.kind;
    if (options.wide) this.card.dataset.wide = "true";
    const titleId = `hitl-title-${options.id}`;
    this.card.setAttribute("aria-labelledby", titleId);

    this.head = element(doc, "header", "hitl-head");
    const grip = element(doc, "span", "hitl-grip", "⠿");
    grip.setAttribute("aria-hidden", "true");
    grip.hidden = !overlay.movable;
    if (overlay.movable) this.head.title = "Drag to move · double-click to put back";
    const titles = element(doc, "div", "hitl-titles");
    const title = element(doc, "div", "hitl-title", options.title);
    title.id = titleId;
    titles.append(title);
    this.subtitle = element(doc, "div", "hitl-subtitle", options.subtitle ?? "");
    titles.append(this.subtitle);
    this.countdown = element(doc, "span", "hitl-countdown");
    this.countdown.dataset.role = "countdown";
    this.countdown.hidden = true;
    const minimise = element(doc, "button", "hitl-icon-button", "–");
    minimise.type = "button";
    minimise.title = "Minimise (the run keeps waiting)";
    minimise.setAttribute("aria-label", "Minimise");
    minimise.dataset.action = "minimise";
    minimise.addEventListener("click", () => this.minimise());
    this.minimiseButton = minimise;
    this.head.append(grip, titles, this.countdown, minimise);
    if (overlay.movable) overlay.makeDraggable(this.head);

    this.body = element(doc, "div", "hitl-body");
    this.error = element(doc, "div", "hitl-error");
    this.error.setAttribute("role", "alert");
    this.error.dataset.role = "error";

    const foot = element(doc, "footer", "hitl-foot");
    this.cancelButton = element(doc, "button", "hitl-button", options.cancelLabel ?? "Cancel run");
    this.cancelButton.type = "button";
    this.cancelButton.dataset.action = "cancel";
    this.cancelButton.dataset.variant = "danger";
    this.cancelButton.title = "End this run (Esc)";
    this.cancelButton.addEventListener("click", () => options.onCancel());
    foot.append(this.cancelButton);
    /** @type {HTMLButtonElement | null} */
    this.primaryButton = null;
    if (options.primaryLabel && options.onPrimary) {
      const onPrimary = options.onPrimary;
      this.primaryButton = element(doc, "button", "hitl-button", options.primaryLabel);
      this.primaryButton.type = "button";
      this.primaryButton.dataset.action = "primary";
      this.primaryButton.dataset.variant = "primary";
      this.primaryButton.title = `${options.primaryLabel} (Ctrl+Enter)`;
      this.primaryButton.addEventListener("click", () => onPrimary());
      foot.append(this.primaryButton);
    }
    this.card.append(this.head, this.body, this.error, foot);

    this.pill = element(doc, "button", "hitl-pill");
    this.pill.type = "button";
    this.pill.dataset.requestId = options.id;
    this.pill.hidden = true;
    this.pill.addEventListener("click", () => this.restore());
    this.#renderPill();

    if (typeof options.expiresInMs === "number") this.#startCountdown(options.expiresInMs);
  }

  /**
   * Handle keys typed while the focus is in this dialog. Key events never propagate through
   * our layer (see the module comment): this is how a dialog hears them. Handlers run in the
   * order added; one that uses a key calls `event.preventDefault()`, which also skips the
   * overlay's own keys (Esc cancels, Ctrl/Cmd+Enter sends) for that event.
   * @param {KeyHandler} handler
   * @param {KeyType} [type]
   */
  onKey(handler, type = "keydown") {
    this.keyHandlers[type].push(handler);
  }

  /** @param {KeyboardEvent} event */
  handleKey(event) {
    const type = /** @type {KeyType} */ (event.type);
    for (const handler of this.keyHandlers[type] ?? []) {
      try {
        handler(event);
      } catch (error) {
        console.error("[comfyui-hitl] key handler failed", error);
      }
    }
    if (type !== "keydown" || event.defaultPrevented || event.isComposing) return;
    const command = event.ctrlKey || event.metaKey;
    if (event.key === "Escape" && !command && !event.altKey && !event.shiftKey) {
      event.preventDefault();
      this.options.onCancel();
    } else if (event.key === "Enter" && command) {
      // Ctrl/Cmd+Enter sends, in every dialog, from any field; with Shift or Alt it does nothing.
      event.preventDefault();
      if (!event.shiftKey && !event.altKey && this.card.dataset.busy !== "true") this.options.onPrimary?.();
    }
  }

  /** @param {number} expiresInMs */
  #startCountdown(expiresInMs) {
    const deadline = performance.now() + expiresInMs;
    const tick = () => {
      const left = deadline - performance.now();
      this.remaining = formatRemaining(left);
      this.countdown.textContent = this.remaining;
      this.countdown.dataset.urgent = String(left < 10_000);
      this.pill.dataset.urgent = String(left < 10_000);
      this.#renderPill();
    };
    this.countdown.hidden = false;
    tick();
    this.timer = window.setInterval(tick, 250);
  }

  /** The pill says that a run waits, for what, and how long is left. */
  #renderPill() {
    const text = `Run waits for you: ${this.options.title}${this.remaining ? ` · ${this.remaining}` : ""}`;
    if (this.pill.textContent !== text) {
      this.pill.textContent = text;
      this.pill.title = `${text} (click to open)`;
    }
  }

  /**
   * Put a small button of someone else's (e.g. "notify me") in the header, before minimise.
   * @param {HTMLButtonElement} button
   */
  addHeadButton(button) {
    button.classList.add("hitl-icon-button");
    this.head.insertBefore(button, this.minimiseButton);
  }

  /** @param {string | null} message shown as text under the body; null clears it */
  setError(message) {
    this.error.textContent = message ?? "";
  }

  /** @param {string} text which node asks, and from which workflow */
  setSubtitle(text) {
    if (this.subtitle.textContent !== text) this.subtitle.textContent = text;
  }

  /** @param {boolean} busy while a call is under way, buttons do nothing twice */
  setBusy(busy) {
    this.card.dataset.busy = String(busy);
    this.cancelButton.disabled = busy;
    if (this.primaryButton) this.primaryButton.disabled = busy || this.card.dataset.primaryBlocked === "true";
  }

  /** @param {boolean} enabled */
  setPrimaryEnabled(enabled) {
    this.card.dataset.primaryBlocked = String(!enabled);
    if (this.primaryButton) this.primaryButton.disabled = !enabled || this.card.dataset.busy === "true";
  }

  /**
   * The element the focus goes to when this dialog gets it back (restored from the tray, or
   * the next one after another closed): the one the dialog named, else its first field, else
   * the primary button.
   * @param {HTMLElement} target
   */
  setFocusTarget(target) {
    this.preferredFocus = target;
  }

  /** The element a dialog starts on (see {@link Dialog#setFocusTarget}). */
  focusTarget() {
    if (this.preferredFocus?.isConnected && this.card.contains(this.preferredFocus)) return this.preferredFocus;
    const field = /** @type {HTMLElement | null} */ (
      this.body.querySelector("input, textarea, select, [tabindex='0']")
    );
    return field ?? (this.primaryButton && !this.primaryButton.disabled ? this.primaryButton : this.cancelButton);
  }

  /**
   * Put the focus in this dialog, unless the person is busy elsewhere (see
   * {@link Overlay#mayTakeFocus}); `force`: they asked for this dialog (a notification was
   * clicked), so it takes the focus wherever it is.
   * @param {boolean} [force]
   */
  focus(force = false) {
    if (!force && !this.overlay.mayTakeFocus()) return;
    this.overlay.rememberFocus();
    this.focusTarget().focus({ preventScroll: true });
  }

  get minimised() {
    return this.card.dataset.minimised === "true";
  }

  minimise() {
    const hadFocus = this.card.contains(this.overlay.doc.activeElement);
    this.card.dataset.minimised = "true";
    this.pill.hidden = false;
    this.overlay.refresh();
    if (hadFocus) this.overlay.handFocusOn(this);
  }

  restore() {
    this.card.dataset.minimised = "false";
    this.pill.hidden = true;
    this.overlay.refresh();
    this.focusTarget().focus({ preventScroll: true });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    const hadFocus = this.card.contains(this.overlay.doc.activeElement) || this.pill === this.overlay.doc.activeElement;
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.card.remove();
    this.pill.remove();
    this.options.onClose?.(); // the dialog's own clean-up (e.g. the picker's image stream)
    if (hadFocus) this.overlay.handFocusOn(this);
  }
}

/** The layer that holds every dialog of this tab. */
export class Overlay {
  /**
   * @param {Document} doc
   * @param {{ chrome?: () => Chrome, movable?: boolean }} [options] `chrome` finds the host's
   *   controls (see {@link Chrome}); `movable` false: the page lays the dialogs out (the
   *   inbox, where a dialog is the one thing on screen, centred over the dimmed list, with no
   *   host controls to keep clear), so they are neither placed nor dragged
   */
  constructor(doc, options = {}) {
    this.doc = doc;
    this.chrome = options.chrome ?? (() => ({ keep: [], avoid: [] }));
    this.movable = options.movable ?? true;
    /** @type {Map<string, Dialog>} */
    this.dialogs = new Map();
    /** @type {HTMLElement | null} */
    this.layer = null;
    /** @type {HTMLElement | null} */
    this.stack = null;
    /** @type {HTMLElement | null} */
    this.tray = null;
    /** @type {HTMLElement | null} */
    this.trayCount = null;
    /** @type {Set<string>} key codes whose keydown we kept (their keyup and repeats stay ours) */
    this.keysDown = new Set();
    /** @type {HTMLElement | null} where the focus was before a dialog took it (the canvas) */
    this.focusBefore = null;
    /** This page's localStorage, where a dragged dialog's place is kept. */
    this.storage = new SafeStorage(() => doc.defaultView?.localStorage);
    /** @type {Point | null} where the person dragged the dialogs, if they did */
    this.placed = this.#loadPosition();
    this.placing = false;
    const view = doc.defaultView;
    if (view) {
      // Capture phase on window: before every listener ComfyUI adds later, and before any
      // of its listeners on document or elements, whatever their phase.
      for (const type of ["keydown", "keyup", "keypress"]) {
        view.addEventListener(type, (event) => this.#onKey(/** @type {KeyboardEvent} */ (event)), { capture: true });
      }
      view.addEventListener("blur", () => this.keysDown.clear());
      view.addEventListener("resize", () => this.place());
    }
  }

  /** @param {EventTarget | null} target */
  contains(target) {
    return !!this.layer && target instanceof Node && this.layer.contains(target);
  }

  /** @param {KeyboardEvent} event */
  #onKey(event) {
    const target = /** @type {EventTarget | null} */ (event.composedPath?.()[0] ?? event.target);
    const inside = this.contains(target);
    const code = event.code || event.key;
    if (event.type === "keydown") {
      if (!inside) {
        // A key held down in a dialog keeps repeating after its dialog closed: still ours.
        if (event.repeat && this.keysDown.has(code)) {
          event.stopImmediatePropagation();
          event.preventDefault();
          neutralise(event);
        } else {
          this.keysDown.delete(code);
        }
        return;
      }
      this.keysDown.add(code);
    } else if (event.type === "keyup") {
      const ours = this.keysDown.delete(code);
      // Released in a dialog after being pressed on the canvas: ComfyUI must see it go up.
      if (!ours) return;
    } else if (!inside) {
      return;
    }
    event.stopImmediatePropagation();
    if (inside) {
      const dialog = [...this.dialogs.values()].find((each) => each.card.contains(/** @type {Node} */ (target)));
      dialog?.handleKey(event);
      if (event.type === "keydown" && !event.defaultPrevented && !keepsBrowserDefault(event)) event.preventDefault();
    }
    neutralise(event);
  }

  /**
   * Whether a new dialog may take the focus: not from another of our dialogs, a text field
   * (the person is typing, in ComfyUI or in ours) or an open ComfyUI window; yes from the
   * canvas, the page or a ComfyUI button (a Run button keeping the focus would take Enter).
   */
  mayTakeFocus() {
    const active = this.doc.activeElement;
    if (!active || active === this.doc.body || active === this.doc.documentElement) return true;
    if (this.contains(active)) return false;
    if (isTextEntry(active)) return false;
    return !active.closest("[role='dialog'], [role='alertdialog'], dialog[open], .p-dialog, .comfy-modal");
  }

  /** Note where the focus is before a dialog takes it, to give it back to the canvas later. */
  rememberFocus() {
    const active = this.doc.activeElement;
    if (active instanceof HTMLElement && active.tagName === "CANVAS" && !this.contains(active)) this.focusBefore = active;
  }

  /**
   * A dialog with the focus closed or went to the tray: the focus goes to the next open
   * dialog, else back to the canvas it came from, else nowhere (the page).
   * @param {Dialog} leaving
   */
  handFocusOn(leaving) {
    const next = [...this.dialogs.values()].find((dialog) => dialog !== leaving && !dialog.closed && !dialog.minimised);
    if (next) {
      next.focusTarget().focus({ preventScroll: true });
      return;
    }
    const back = this.focusBefore;
    this.focusBefore = null;
    if (back && back.isConnected) back.focus({ preventScroll: true });
    else if (this.contains(this.doc.activeElement)) /** @type {HTMLElement} */ (this.doc.activeElement).blur();
  }

  #ensureLayer() {
    if (this.layer) return this.layer;
    ensureStyle(this.doc, STYLE_ID, CSS);
    const layer = element(this.doc, "div", "hitl-layer");
    layer.dataset.expanded = "false";
    layer.dataset.movable = String(this.movable);
    this.stack = element(this.doc, "div", "hitl-stack");
    this.tray = element(this.doc, "div", "hitl-tray");
    this.trayCount = element(this.doc, "div", "hitl-tray-count");
    this.trayCount.setAttribute("role", "status");
    this.tray.append(this.trayCount);
    // No backdrop: the canvas stays usable while a run waits (minimise a card to get it out of the way).
    layer.append(this.stack, this.tray);
    this.doc.body.append(layer);
    this.layer = layer;
    // Cards come, go and grow (images load): keep the stack where it belongs.
    const view = this.doc.defaultView;
    if (view && "ResizeObserver" in view) new view.ResizeObserver(() => this.place()).observe(this.stack);
    return layer;
  }

  /**
   * @param {DialogOptions} options
   * @returns {Dialog}
   */
  open(options) {
    this.#ensureLayer();
    this.close(options.id);
    const dialog = new Dialog(this, options);
    this.dialogs.set(options.id, dialog);
    this.stack?.append(dialog.card);
    this.tray?.append(dialog.pill);
    this.refresh();
    dialog.focus();
    return dialog;
  }

  /** @param {string} id */
  get(id) {
    return this.dialogs.get(id);
  }

  /** @param {string} id */
  close(id) {
    const dialog = this.dialogs.get(id);
    if (!dialog) return false;
    this.dialogs.delete(id);
    dialog.close();
    this.refresh();
    return true;
  }

  /** Show a short message in the tray that goes away by itself. @param {string} text */
  notice(text) {
    this.#ensureLayer();
    const note = element(this.doc, "div", "hitl-notice", text);
    note.setAttribute("role", "status");
    this.tray?.append(note);
    this.place();
    window.setTimeout(() => {
      note.remove();
      this.place();
    }, 3000);
  }

  refresh() {
    if (!this.layer) return;
    const dialogs = [...this.dialogs.values()];
    const expanded = dialogs.some((dialog) => !dialog.minimised);
    this.layer.dataset.expanded = String(expanded);
    const waiting = dialogs.filter((dialog) => dialog.minimised).length;
    if (this.trayCount) this.trayCount.textContent = waiting > 1 ? `${waiting} runs wait for you` : "";
    this.place();
  }

  // ------------------------------------------------------------------------- placement
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
        // The page's own layout (see the constructor): the stack fills the window.
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
