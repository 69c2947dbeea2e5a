// @ts-check
/**
 * One dialog card of our overlay: a header (title, which node asks, the countdown, minimise;
 * the handle to drag it by), a body the kind's module fills, an error line, and Cancel run
 * plus the primary button; minimised, it becomes a pill in the tray. Keys typed in it come
 * from the overlay's key guard (keys.js) through {@link Dialog#onKey}: Esc cancels the run,
 * Ctrl/Cmd+Enter presses the primary button, after the kind's own handlers had their turn.
 */
import { duration } from "./describe.js";
import { element } from "./dom.js";

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
 * @typedef {(event: KeyboardEvent) => void} KeyHandler
 * @typedef {"keydown" | "keyup" | "keypress"} KeyType
 * @typedef {import("./overlay.js").Overlay} Overlay
 */

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
    if (overlay.movable) overlay.placement.makeDraggable(this.head);

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
   * our layer (see keys.js): this is how a dialog hears them. Handlers run in the
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
      this.remaining = duration(Math.ceil(left / 1000) * 1000); // whole seconds left, rounded up
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
