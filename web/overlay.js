// @ts-check
/**
 * Our own body-level overlay: stacked dialog cards, a tray for minimised ones, and short
 * notices. It touches no ComfyUI DOM (frontend updates broke packs that drew on the node
 * canvas), and it shows every workflow-provided string with textContent, never as HTML.
 *
 * Being a good guest in ComfyUI's page is the overlay's job, for every dialog at once:
 *
 * **Keys.** While the focus is inside our layer, no key reaches ComfyUI: the key guard
 * (keys.js, which says what ComfyUI listens with and how we get there first) stops them and
 * hands them to the dialog they were typed in (`Dialog#onKey`, dialog.js).
 *
 * **Focus.** A new dialog takes the focus from the canvas, the body or a ComfyUI button, but
 * never from a text field, a ComfyUI modal window, or another of our dialogs. When a dialog
 * with the focus closes or is minimised, the focus goes to the next open dialog, else back
 * to the canvas if it came from there, so ComfyUI's keys work again at once.
 *
 * **Place.** Dialogs sit in the free part of the window, clear of ComfyUI's controls, and a
 * person can drag them (placement.js).
 *
 * **Stacking.** The layer's z-index (1000) is above the canvas, ComfyUI's side panels (999)
 * and the minimap, and below ComfyUI's menus and popovers (PrimeVue overlays, 1001 up), its
 * canvas toolbar (1200), its modal windows (Settings, templates, node search: PrimeVue masks
 * from 1101 in 1.27.10, Reka dialogs at 1700 in 1.58.1), LiteGraph's context menu (9999) and
 * ComfyUI-Manager's dialog (10000): those always open above our dialogs.
 */
import { Dialog } from "./dialog.js";
import { element, ensureStyle } from "./dom.js";
import { KeyGuard, isTextEntry } from "./keys.js";
import { Placement } from "./placement.js";

/**
 * @typedef {import("./dialog.js").DialogOptions} DialogOptions
 * @typedef {import("./placement.js").Chrome} Chrome
 */

const STYLE_ID = "comfyui-hitl-style";
/** The layer's z-index: see the module comment. */
export const LAYER_Z_INDEX = 1000;

const CSS = `
.hitl-layer { position: fixed; inset: 0; z-index: ${LAYER_Z_INDEX}; pointer-events: none;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg-color, #e6e6e6);
  --hitl-avail-w: calc(100vw - 16px); --hitl-avail-h: calc(100vh - 16px); --hitl-card-h: var(--hitl-avail-h); }
/* Several dialogs at once: a switcher on top of the stack, and each card short enough to be
   seen whole below it (its buttons included). */
.hitl-layer[data-several="true"] { --hitl-card-h: calc(var(--hitl-avail-h) - var(--hitl-switcher-h, 44px) - 12px); }
.hitl-layer[data-expanded="false"] .hitl-stack { display: none; }
.hitl-stack { position: absolute; left: 8px; top: 8px; display: flex; flex-direction: column; align-items: center;
  gap: 12px; overflow-y: auto; overscroll-behavior: contain; pointer-events: none;
  max-width: var(--hitl-avail-w); max-height: var(--hitl-avail-h); box-sizing: border-box; }
.hitl-switcher { position: sticky; top: 0; z-index: 1; align-self: stretch; pointer-events: auto; display: flex;
  align-items: center; gap: 6px; padding: 5px 8px; box-sizing: border-box; overflow-x: auto; flex: none;
  background: var(--comfy-menu-bg, #232323); border: 1px solid var(--p-primary-color, #4c8bf5); border-radius: 10px;
  box-shadow: 0 6px 20px rgba(0,0,0,.45); }
.hitl-switcher[hidden] { display: none; }
.hitl-switcher-count { font-size: 12px; font-weight: 600; white-space: nowrap; }
.hitl-switcher-entry { font: inherit; font-size: 12px; color: inherit; cursor: pointer; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; max-width: 220px; min-height: 30px; padding: 4px 10px; border-radius: 99px;
  border: 1px solid var(--border-color, #555); background: var(--comfy-input-bg, #333); flex: none; }
.hitl-switcher-entry[aria-current="true"] { border-color: var(--p-primary-color, #4c8bf5); background: rgba(76,139,245,.2); }
@media (pointer: coarse) { .hitl-switcher-entry { min-height: 44px; min-width: 44px; } }
.hitl-card { pointer-events: auto; width: min(560px, var(--hitl-avail-w)); box-sizing: border-box; flex: none;
  background: var(--comfy-menu-bg, #232323); border: 1px solid var(--border-color, #4a4a4a);
  border-radius: 10px; box-shadow: 0 12px 40px rgba(0,0,0,.5); display: flex; flex-direction: column;
  max-height: var(--hitl-card-h); scroll-margin-top: calc(var(--hitl-switcher-h, 0px) + 12px); }
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
/* A notice is words only: it takes no tap, so a control under it (a Cancel run) still works. */
.hitl-notice { opacity: .9; pointer-events: none; }
.hitl-field { display: flex; flex-direction: column; gap: 4px; margin: 6px 0; }
.hitl-field input, .hitl-field textarea, .hitl-field select { font: inherit; color: inherit;
  background: var(--comfy-input-bg, #1b1b1b); border: 1px solid var(--border-color, #555);
  border-radius: 6px; padding: 6px 8px; }
.hitl-message { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 8px; }
.hitl-big-number { font-size: 28px; font-variant-numeric: tabular-nums; margin: 8px 0; }
`;

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
    this.movable = options.movable ?? true;
    this.placement = new Placement(doc, { chrome: options.chrome, movable: this.movable });
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
    /** @type {HTMLElement | null} "2 wait", and a button per open dialog that brings it into view */
    this.switcher = null;
    /** @type {HTMLElement | null} where the focus was before a dialog took it (the canvas) */
    this.focusBefore = null;
    const view = doc.defaultView;
    if (view) {
      this.keys = new KeyGuard(view, {
        contains: (target) => this.contains(target),
        deliver: (event, target) => [...this.dialogs.values()].find((each) => each.card.contains(target))?.handleKey(event),
      });
      view.addEventListener("resize", () => this.place());
    }
  }

  /** @param {EventTarget | null} target */
  contains(target) {
    return !!this.layer && target instanceof Node && this.layer.contains(target);
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
    this.switcher = element(this.doc, "nav", "hitl-switcher");
    this.switcher.setAttribute("aria-label", "Waiting dialogs");
    this.switcher.hidden = true;
    this.stack.append(this.switcher);
    // The entry of the dialog the person is in is marked.
    layer.addEventListener("focusin", () => this.#markCurrent());
    this.tray = element(this.doc, "div", "hitl-tray");
    this.trayCount = element(this.doc, "div", "hitl-tray-count");
    this.trayCount.setAttribute("role", "status");
    this.tray.append(this.trayCount);
    // No backdrop: the canvas stays usable while a run waits (minimise a card to get it out of the way).
    layer.append(this.stack, this.tray);
    this.doc.body.append(layer);
    this.layer = layer;
    this.placement.attach(layer, this.stack, this.tray);
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
    this.#renderSwitcher(dialogs.filter((dialog) => !dialog.minimised));
    this.place();
  }

  /**
   * Several dialogs open at once do not all fit: a bar on top of the stack says how many
   * wait and has a button per dialog that brings it, buttons included, into view and puts
   * the person in it. (Each card is kept short enough to be seen whole below the bar.)
   * @param {Dialog[]} open
   */
  #renderSwitcher(open) {
    const switcher = this.switcher;
    const layer = this.layer;
    if (!switcher || !layer) return;
    const several = open.length > 1;
    layer.dataset.several = String(several);
    switcher.hidden = !several;
    if (!several) {
      switcher.replaceChildren();
      return;
    }
    const count = element(this.doc, "span", "hitl-switcher-count", `${open.length} wait:`);
    const entries = open.map((dialog) => {
      const entry = element(this.doc, "button", "hitl-switcher-entry", dialog.options.title);
      entry.type = "button";
      entry.dataset.requestId = dialog.id;
      entry.title = `Go to "${dialog.options.title}"`;
      entry.addEventListener("click", () => this.reveal(dialog));
      return entry;
    });
    switcher.replaceChildren(count, ...entries);
    layer.style.setProperty("--hitl-switcher-h", `${switcher.offsetHeight}px`);
    this.#markCurrent();
  }

  /** Mark the switcher's entry of the dialog that has the focus. */
  #markCurrent() {
    if (!this.switcher || this.switcher.hidden) return;
    const active = this.doc.activeElement;
    for (const entry of /** @type {NodeListOf<HTMLElement>} */ (this.switcher.querySelectorAll("[data-request-id]"))) {
      const dialog = this.dialogs.get(entry.dataset.requestId ?? "");
      entry.setAttribute("aria-current", String(!!dialog && dialog.card.contains(active)));
    }
  }

  /**
   * Bring a dialog into view in the stack and put the person in it.
   * @param {Dialog} dialog
   */
  reveal(dialog) {
    if (dialog.minimised) {
      dialog.restore();
    } else {
      dialog.focusTarget().focus({ preventScroll: true });
    }
    dialog.card.scrollIntoView({ block: "nearest" });
    this.#markCurrent();
  }

  /** Put the stack and the tray where they belong now (after any change of size or content). */
  place() {
    this.placement.place();
  }
}
