// @ts-check
/**
 * Our own body-level overlay: stacked dialog cards, a tray for minimised ones, and short
 * notices. It touches no ComfyUI DOM (frontend updates broke packs that drew on the node
 * canvas), and it shows every workflow-provided string with textContent, never as HTML.
 */

const STYLE_ID = "comfyui-hitl-style";

const CSS = `
.hitl-layer { position: fixed; inset: 0; z-index: 10000; pointer-events: none;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg-color, #e6e6e6); }
.hitl-stack { position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center;
  gap: 12px; padding: 24px 8px; overflow-y: auto; pointer-events: none; }
.hitl-card { pointer-events: auto; width: min(560px, calc(100vw - 16px)); box-sizing: border-box;
  background: var(--comfy-menu-bg, #232323); border: 1px solid var(--border-color, #4a4a4a);
  border-radius: 10px; box-shadow: 0 12px 40px rgba(0,0,0,.5); display: flex; flex-direction: column;
  max-height: calc(100vh - 48px); }
.hitl-card[data-wide="true"] { width: min(1100px, calc(100vw - 16px)); }
.hitl-card[data-minimised="true"] { display: none; }
.hitl-card:focus-within { border-color: var(--p-primary-color, #4c8bf5); }
.hitl-head { display: flex; align-items: flex-start; gap: 8px; padding: 12px 14px 8px; }
.hitl-titles { flex: 1; min-width: 0; }
.hitl-title { font-weight: 600; font-size: 15px; overflow-wrap: anywhere; }
.hitl-subtitle { opacity: .7; font-size: 12px; overflow-wrap: anywhere; }
.hitl-countdown { font-variant-numeric: tabular-nums; font-size: 12px; padding: 2px 8px; border-radius: 99px;
  background: rgba(255,255,255,.08); white-space: nowrap; }
.hitl-countdown[data-urgent="true"] { background: #7a2a22; }
.hitl-icon-button { background: none; border: 0; color: inherit; cursor: pointer; font-size: 16px;
  padding: 0 4px; opacity: .7; }
.hitl-icon-button:hover, .hitl-icon-button:focus-visible { opacity: 1; }
.hitl-body { padding: 4px 14px 8px; overflow: auto; min-height: 0; }
.hitl-error { color: #ff8a80; font-size: 13px; padding: 0 14px; min-height: 1.4em; overflow-wrap: anywhere; }
.hitl-foot { display: flex; justify-content: flex-end; gap: 8px; padding: 8px 14px 12px; flex-wrap: wrap; }
.hitl-button { font: inherit; border-radius: 6px; padding: 6px 16px; cursor: pointer; min-height: 34px;
  border: 1px solid var(--border-color, #555); background: var(--comfy-input-bg, #333); color: inherit; }
.hitl-button[data-variant="primary"] { background: var(--p-primary-color, #2f6fdf); border-color: transparent; color: #fff; }
.hitl-button[data-variant="danger"] { border-color: #a5443a; }
.hitl-button:disabled { opacity: .45; cursor: not-allowed; }
.hitl-tray { position: absolute; right: 12px; bottom: 12px; display: flex; flex-direction: column;
  align-items: flex-end; gap: 6px; pointer-events: none; }
.hitl-pill, .hitl-notice { pointer-events: auto; background: var(--comfy-menu-bg, #232323);
  border: 1px solid var(--border-color, #4a4a4a); border-radius: 99px; padding: 6px 12px; font-size: 13px;
  box-shadow: 0 4px 16px rgba(0,0,0,.4); color: inherit; font-family: inherit; }
.hitl-pill { cursor: pointer; }
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
 */

/**
 * Create an element with a class and, optionally, text (always as text, never HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {Document} doc
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function element(doc, tag, className, text) {
  const el = doc.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** @param {number} ms */
function formatRemaining(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return minutes >= 60
    ? `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`
    : `${minutes}:${String(seconds).padStart(2, "0")}`;
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

    this.card = element(doc, "section", "hitl-card");
    this.card.setAttribute("role", "dialog");
    this.card.dataset.requestId = options.id;
    this.card.dataset.kind = options.kind;
    if (options.wide) this.card.dataset.wide = "true";
    const titleId = `hitl-title-${options.id}`;
    this.card.setAttribute("aria-labelledby", titleId);

    const head = element(doc, "header", "hitl-head");
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
    this.head = head;
    this.minimiseButton = minimise;
    head.append(titles, this.countdown, minimise);

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
      this.primaryButton.addEventListener("click", () => onPrimary());
      foot.append(this.primaryButton);
    }
    this.card.append(head, this.body, this.error, foot);

    this.card.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        options.onCancel();
      }
    });

    this.pill = element(doc, "button", "hitl-pill");
    this.pill.type = "button";
    this.pill.dataset.requestId = options.id;
    this.pill.hidden = true;
    this.pill.addEventListener("click", () => this.restore());

    if (typeof options.expiresInMs === "number") this.#startCountdown(options.expiresInMs);
  }

  /** @param {number} expiresInMs */
  #startCountdown(expiresInMs) {
    const deadline = performance.now() + expiresInMs;
    const tick = () => {
      const left = deadline - performance.now();
      const text = formatRemaining(left);
      this.countdown.textContent = text;
      this.countdown.dataset.urgent = String(left < 10_000);
      this.pill.textContent = `${this.options.title} · ${text}`;
    };
    this.countdown.hidden = false;
    tick();
    this.timer = window.setInterval(tick, 250);
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
   * Put focus on the first field, else the primary button, unless the person is busy
   * elsewhere in the overlay (`force`: they asked for this dialog, e.g. from a notification).
   * @param {boolean} [force]
   */
  focus(force = false) {
    const active = this.overlay.doc.activeElement;
    if (!force && active && active !== this.overlay.doc.body && this.overlay.layer?.contains(active)) return;
    const field = /** @type {HTMLElement | null} */ (
      this.body.querySelector("input, textarea, select, [tabindex='0']")
    );
    (field ?? this.primaryButton ?? this.cancelButton).focus();
  }

  get minimised() {
    return this.card.dataset.minimised === "true";
  }

  minimise() {
    this.card.dataset.minimised = "true";
    this.pill.hidden = false;
    if (!this.pill.textContent) this.pill.textContent = this.options.title;
    this.overlay.refresh();
  }

  restore() {
    this.card.dataset.minimised = "false";
    this.pill.hidden = true;
    this.overlay.refresh();
    this.focus();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.card.remove();
    this.pill.remove();
    this.options.onClose?.(); // the dialog's own clean-up (e.g. the picker's image stream)
  }
}

/** The layer that holds every dialog of this tab. */
export class Overlay {
  /** @param {Document} doc */
  constructor(doc) {
    this.doc = doc;
    /** @type {Map<string, Dialog>} */
    this.dialogs = new Map();
    /** @type {HTMLElement | null} */
    this.layer = null;
  }

  #ensureLayer() {
    if (this.layer) return this.layer;
    if (!this.doc.getElementById(STYLE_ID)) {
      const style = element(this.doc, "style", undefined, CSS);
      style.id = STYLE_ID;
      this.doc.head.append(style);
    }
    const layer = element(this.doc, "div", "hitl-layer");
    layer.dataset.expanded = "false";
    this.stack = element(this.doc, "div", "hitl-stack");
    this.tray = element(this.doc, "div", "hitl-tray");
    // No backdrop: the canvas stays usable while a run waits (minimise a card to get it out of the way).
    layer.append(this.stack, this.tray);
    this.doc.body.append(layer);
    this.layer = layer;
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
    dialog.close();
    this.dialogs.delete(id);
    this.refresh();
    return true;
  }

  /** Show a short message in the tray that goes away by itself. @param {string} text */
  notice(text) {
    this.#ensureLayer();
    const note = element(this.doc, "div", "hitl-notice", text);
    note.setAttribute("role", "status");
    this.tray?.append(note);
    window.setTimeout(() => note.remove(), 3000);
  }

  refresh() {
    if (!this.layer) return;
    const expanded = [...this.dialogs.values()].some((dialog) => !dialog.minimised);
    this.layer.dataset.expanded = String(expanded);
  }
}
