// @ts-check
/**
 * The mask painter's dialog: the image with a painting canvas over it, in our own overlay
 * card (nothing of ComfyUI's mask editor). What the person paints is kept as operations
 * (strokes in image pixels, clear, invert, fill) and drawn into an 8-bit mask at the
 * image's full resolution with the same brush model the server uses (`mask_strokes.js`),
 * so the overlay shows exactly the mask the node will output. Send posts the operations,
 * not pixels; while the person paints, drafts let the server draw ahead.
 *
 * This module holds the painter's state (the brush, the image shown) and ties its parts
 * together: the view (mask_view.js: the stage, drawing, pan and zoom), the input
 * (mask_input.js: pointers and keys), the masks and the answer (mask_set.js: per image or
 * one for all, undo, what a reload keeps) and the controls around the painting
 * (mask_controls.js). Keys reach it through the overlay (`dialog.onKey`), never ComfyUI's
 * shortcuts.
 */
import { wholeNumber } from "./payload.js";
import { KINDS, MASK_LIMITS, MASK_OPS, ON_TIMEOUT } from "./protocol.js";
import { PainterControls, SizeScale, ensurePainterStyle } from "./mask_controls.js";
import { PointerInput, painterKey } from "./mask_input.js";
import { MaskSet } from "./mask_set.js";
import { MaskView } from "./mask_view.js";
import { browserStorage } from "./storage.js";

/**
 * The payload of a mask-painter request (`MaskPainter.paint` in nodes/mask_painter.py).
 * @typedef {{ title: string, count: number, width: number, height: number, mask_count: number,
 *   on_timeout: string, workflow_id: string | null }} PainterPayload
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./controller.js").DialogTools} DialogTools
 * @typedef {import("./dialog.js").Dialog} Dialog
 * @typedef {import("./mask_strokes.js").MaskDoc} MaskDoc
 * @typedef {import("./mask_strokes.js").Rect} Rect
 */

/** The brush, the tint and its opacity, remembered per browser. */
const SETTINGS_KEY = "comfyui-hitl.mask-painter.settings";

/** @type {Record<string, string>} what the node does when time runs out, after "When time runs out, " */
const TIMEOUT_TEXT = {
  [ON_TIMEOUT.SEND_INPUT_MASK]: "the input mask is sent",
  [ON_TIMEOUT.SEND_EMPTY_MASK]: "an empty mask is sent",
  [ON_TIMEOUT.CANCEL_RUN]: "the run is cancelled",
};

/** The state of one open mask painter, and what ties its parts together. */
export class PainterDialog {
  /**
   * @param {RequestView} view
   * @param {DialogTools} tools
   */
  constructor(view, tools) {
    const payload = /** @type {PainterPayload} */ (view.payload ?? {});
    this.view = view;
    this.tools = tools;
    this.doc = tools.doc;
    this.count = wholeNumber(payload.count, 1);
    this.width = wholeNumber(payload.width, 1);
    this.height = wholeNumber(payload.height, 1);
    this.onTimeout = String(payload.on_timeout ?? "");
    this.openedAt = performance.timeOrigin + performance.now();
    /** @type {number | null} when the first image was shown and the canvas took strokes */
    this.readyAt = null;
    /** @type {number | null} */
    this.sentAt = null;
    /** A draft on its way to the server, and whether something changed since it left. */
    this.draftInFlight = false;
    this.draftStale = false;
    /** No more drafts: the answer is on its way (Send), or the request has ended. */
    this.sending = false;

    const settings = browserStorage.readJson(SETTINGS_KEY) ?? {};
    this.sizeScale = new SizeScale(Math.min(MASK_LIMITS.MAX_SIZE, Math.max(this.width, this.height)));
    /** @type {string} */
    this.tool = MASK_OPS.BRUSH;
    this.size = Number.isFinite(settings.size)
      ? Math.min(this.sizeScale.largest, Math.max(1, settings.size))
      : Math.max(4, Math.round(Math.max(this.width, this.height) / 24));
    this.hardness = Number.isFinite(settings.hardness) ? Math.min(1, Math.max(0, settings.hardness)) : 0.7;
    this.colour = typeof settings.colour === "string" ? settings.colour : "#ff3030";
    this.opacity = Number.isFinite(settings.opacity) ? Math.min(1, Math.max(0.05, settings.opacity)) : 0.55;

    this.masks = new MaskSet({
      requestId: view.id,
      count: this.count,
      width: this.width,
      height: this.height,
      maskCount: wholeNumber(payload.mask_count, 0),
      maskUrl: (index) => tools.client.imageUrl(view.id, index, "mask"),
      doc: this.doc,
    });
    /** The image shown: the one shown before a reload, else the first. */
    this.current = this.masks.restore() ?? 0;

    ensurePainterStyle(this.doc);
    this.maskView = new MaskView(this.doc, {
      width: this.width,
      height: this.height,
      colour: this.colour,
      opacity: this.opacity,
      count: this.count,
      imageUrl: (index, size) => tools.client.imageUrl(view.id, index, size),
      maskOf: () => this.activeDoc,
      paintLive: () => this.input.paintLive(),
      onViewChange: () => this.controls.showZoom(this.maskView.scale),
    });
    this.input = new PointerInput(this.maskView, this);
    this.controls = new PainterControls(this);
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
    const controls = this.controls;
    const parts = [controls.tools(), this.stage];
    if (this.count > 1) parts.push(controls.strip((index) => this.tools.client.imageUrl(this.view.id, index, "thumb")));
    /** @type {string | null} */
    let whenOut = null;
    if (this.onTimeout && typeof this.view.expires_in_ms === "number") {
      whenOut = `When time runs out, ${TIMEOUT_TEXT[this.onTimeout] ?? this.onTimeout}.`;
      this.dialog.countdown.title = whenOut;
    }
    parts.push(...controls.footer(whenOut));
    this.dialog.body.append(...parts);

    this.#listen();
    this.setTool(this.tool);
    this.setSize(this.size);
    this.setHardness(this.hardness);
  }

  #listen() {
    const card = this.dialog.card;
    this.input.listen();
    // Keys come from the overlay (no key event travels through our layer); ours first: a key
    // used here is not also the overlay's.
    this.dialog.onKey((event) => painterKey(this, event));
    // Space is "held" only while the focus stays here (its keyup may happen elsewhere).
    card.addEventListener("focusout", (event) => {
      if (!card.contains(/** @type {Node | null} */ (event.relatedTarget))) this.input.spaceHeld = false;
    });
    this.dialog.onKey((event) => {
      if (event.key === " ") this.input.holdSpace(false);
    }, "keyup");
    this.resizeObserver = new ResizeObserver(() => {
      if (this.maskView.fitted) this.maskView.fit();
      else this.maskView.applyView();
    });
    this.resizeObserver.observe(this.stage);
    // The observer and storage are let go when the card leaves the page.
    const removal = new MutationObserver(() => {
      if (!card.isConnected) {
        this.resizeObserver?.disconnect();
        removal.disconnect();
      }
    });
    if (card.parentElement) removal.observe(card.parentElement, { childList: true });
  }

  // ------------------------------------------------------------------ settings
  /** @param {string} tool */
  setTool(tool) {
    this.tool = tool;
    this.controls.showTool(tool);
    this.stage.dataset.tool = tool;
  }

  /** @param {number} size */
  setSize(size) {
    this.size = Math.min(this.sizeScale.largest, Math.max(1, Math.round(size)));
    this.controls.showSize(this.size);
    this.saveSettings();
    this.maskView.brushSize = this.size;
    this.maskView.placeCursor();
  }

  /** @param {number} hardness */
  setHardness(hardness) {
    this.hardness = Math.min(1, Math.max(0, Math.round(hardness * 100) / 100));
    this.controls.showHardness(this.hardness);
    this.saveSettings();
  }

  /** @param {string} colour the tint of the mask, "#rrggbb" */
  setColour(colour) {
    this.colour = colour;
    this.maskView.colour = colour;
    this.saveSettings();
    this.maskView.redraw();
  }

  /** @param {number} opacity of the tint, 0..1 */
  setOpacity(opacity) {
    this.opacity = opacity;
    this.maskView.setOpacity(opacity);
    this.saveSettings();
  }

  saveSettings() {
    browserStorage.writeJson(SETTINGS_KEY, {
      size: this.size,
      hardness: this.hardness,
      colour: this.colour,
      opacity: this.opacity,
    });
  }

  // -------------------------------------------------------------------- images
  /** The mask being painted: the shared one, or the shown image's. */
  get activeDoc() {
    return this.masks.active(this.current);
  }

  /** Whether the image is shown and the canvas takes strokes. */
  get ready() {
    return this.dialog.card.dataset.ready === "true";
  }

  /**
   * Show image `index` with its mask.
   * @param {number} index
   */
  async show(index) {
    if (index < 0 || index >= this.count) return;
    this.input.finishStroke(false);
    this.current = index;
    this.controls.showCurrent(index);
    this.dialog.card.dataset.ready = "false";
    const shown = this.maskView.showImage(index);
    try {
      await this.masks.docFor(index);
    } catch (error) {
      this.dialog.setError(String(error instanceof Error ? error.message : error));
      return;
    }
    if (this.current !== index) return; // another image was picked meanwhile
    this.maskView.redraw();
    const loaded = await shown;
    if (this.current !== index) return;
    this.maskView.imageArrived(loaded);
    this.updateStatus();
    this.dialog.card.dataset.ready = "true";
    if (this.readyAt === null) this.readyAt = performance.timeOrigin + performance.now();
    this.dialog.card.dataset.shown = String(index);
  }

  /** @param {boolean} same */
  async setSameForAll(same) {
    if (same === this.masks.sameForAll) return;
    this.input.finishStroke(false);
    this.masks.setSameForAll(same, this.current);
    this.controls.sameInput.checked = same;
    await this.masks.docFor(this.current);
    this.maskView.redraw();
    this.changed();
  }

  // ------------------------------------------------------------------- editing
  undo() {
    this.#step((doc) => doc.undo());
  }

  redo() {
    this.#step((doc) => doc.redo());
  }

  /** Undo or redo on the active mask, and show what changed. @param {(doc: MaskDoc) => Rect | null} move */
  #step(move) {
    this.input.finishStroke(false);
    const doc = this.activeDoc;
    const rect = doc ? move(doc) : null;
    if (!rect) return;
    this.maskView.flush(rect);
    this.changed();
  }

  /** @param {string} op clear, invert or fill */
  whole(op) {
    this.input.finishStroke(false);
    const doc = this.activeDoc;
    if (!doc) return;
    doc.apply({ op });
    this.maskView.redraw();
    this.changed();
  }

  /** After every change: the status, the buttons, the strip, the copy kept for a reload, and
   * the draft the server draws ahead. */
  changed() {
    this.dialog.setError(null);
    this.updateStatus();
    this.masks.save(this.current);
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
    if (this.masks.tooBig()) return;
    this.draftInFlight = true;
    this.draftStale = false;
    void this.tools.client.draft(this.view.id, this.masks.answer()).then((result) => {
      this.draftInFlight = false;
      // 404 or 409: the request has ended (Send, another tab, a timeout): no more drafts.
      if (result.status === 404 || result.status === 409) this.sending = true;
      if (this.draftStale) this.sendDraft();
    });
  }

  updateStatus() {
    const doc = this.activeDoc;
    const operations = doc ? doc.entries.length : 0;
    const where = this.count > 1 ? `Image ${this.current + 1} of ${this.count} · ` : "";
    const shared = this.masks.sameForAll ? " · same mask for all" : "";
    const start = this.masks.maskCount ? " · starts from the input mask" : "";
    this.controls.showStatus({
      canUndo: Boolean(doc?.canUndo),
      canRedo: Boolean(doc?.canRedo),
      painted: (index) => this.masks.opsOf(index).length > 0,
      text: `${where}${this.width}×${this.height} · ${operations} operation${operations === 1 ? "" : "s"}${shared}${start}`,
    });
  }

  async send() {
    this.input.finishStroke(false);
    const problem = this.masks.tooBig();
    if (problem) {
      this.dialog.setError(problem);
      return;
    }
    this.sentAt = performance.timeOrigin + performance.now();
    this.sending = true;
    const taken = await this.tools.submit(this.view, this.dialog, this.masks.answer());
    if (taken) this.masks.forget();
    else this.sending = false;
  }

  // ------------------------------------------- what tests and the benchmark read
  get stage() {
    return this.maskView.stage;
  }

  get scale() {
    return this.maskView.scale;
  }

  get tx() {
    return this.maskView.tx;
  }

  get ty() {
    return this.maskView.ty;
  }

  get stats() {
    return this.maskView.stats;
  }

  get spaceHeld() {
    return this.input.spaceHeld;
  }

  redrawOverlay() {
    this.maskView.redraw();
  }

  answer() {
    return this.masks.answer();
  }
}

/** @type {import("./controller.js").KindHandler} */
export const maskPainterHandler = {
  kind: KINDS.MASK_PAINTER,
  open(view, tools) {
    new PainterDialog(view, tools);
  },
};
