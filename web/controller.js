// @ts-check
/**
 * Keeps this tab's dialogs in step with the server: opens a dialog for each waiting
 * request (from the websocket event, or from the list on load and on reconnect) and
 * closes it as soon as the request ends anywhere (this tab, another tab, an API client,
 * a timeout or an interrupt).
 */
import { HitlClient } from "./client.js";
import { nodeName, oneLine, outcomeWords } from "./describe.js";
import { Overlay } from "./overlay.js";
import { EVENT_REQUEST, STATES } from "./protocol.js";

/**
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./dialog.js").Dialog} Dialog
 * @typedef {import("./dialog.js").DialogOptions} DialogOptions
 * @typedef {{
 *   kind: string,
 *   open(view: RequestView, tools: DialogTools): void,
 *   needsPerson?: (view: RequestView) => boolean,
 * }} KindHandler
 *   `needsPerson` false: the handler answers by itself, with no dialog (the doubler without
 *   "ask first"); a page that lists requests instead of opening them still runs it at once.
 * @typedef {EventTarget & import("./client.js").FetchApi} HostApi
 * @typedef {{
 *   opened(view: RequestView, live: boolean): void,
 *   ended(id: string): void,
 *   synced(views: RequestView[]): void,
 *   decorate?(dialog: Dialog, view: RequestView): void,
 * }} RequestListener
 *   told of every request this tab learns of (`live`: as it happened, not found on load),
 *   of every end, and of the full list after each resync (notifications, the title badge)
 */

/** How many ended request ids a tab remembers, so a late event cannot reopen one. */
const ENDED_MEMORY = 500;

/** What a kind's handler gets to build and drive its dialog. */
export class DialogTools {
  /** @param {HitlController} controller */
  constructor(controller) {
    this.controller = controller;
    this.client = controller.client;
    this.overlay = controller.overlay;
    this.doc = controller.doc;
  }

  /**
   * Open the card for a request, with Cancel wired to the cancel route.
   * @param {RequestView} view
   * @param {Omit<DialogOptions, "id" | "kind" | "onCancel" | "expiresInMs">} options
   * @returns {Dialog}
   */
  openDialog(view, options) {
    /** @type {Dialog} */
    const dialog = this.overlay.open({
      subtitle: this.controller.describe(view),
      ...options,
      id: view.id,
      kind: view.kind,
      expiresInMs: view.expires_in_ms,
      onCancel: () => void this.cancel(view, dialog),
    });
    this.controller.listener?.decorate?.(dialog, view);
    return dialog;
  }

  /**
   * Post an answer. The server decides: 422 shows its message and the dialog stays open.
   * @param {RequestView} view
   * @param {Dialog | null} dialog
   * @param {unknown} value
   * @param {{ showRefusal?: (error: import("./client.js").CallError) => boolean }} [options]
   *   `showRefusal` shows a refusal where it belongs (a form: under the field it names) and
   *   returns true; false leaves it to the dialog's error line.
   * @returns {Promise<boolean>} whether the server took the answer
   */
  async submit(view, dialog, value, options = {}) {
    if (dialog?.card.dataset.busy === "true") return false;
    dialog?.setBusy(true);
    this.controller.endedHere.add(view.id);
    const result = await this.client.answer(view.id, value);
    return this.#settle(view, dialog, result, options.showRefusal);
  }

  /**
   * @param {RequestView} view
   * @param {Dialog | null} dialog
   */
  async cancel(view, dialog) {
    if (dialog?.card.dataset.busy === "true") return false;
    dialog?.setBusy(true);
    this.controller.endedHere.add(view.id);
    const result = await this.client.cancel(view.id);
    return this.#settle(view, dialog, result);
  }

  /**
   * @param {RequestView} view
   * @param {Dialog | null} dialog
   * @param {import("./client.js").CallResult} result
   * @param {(error: import("./client.js").CallError) => boolean} [showRefusal]
   */
  #settle(view, dialog, result, showRefusal) {
    if (result.ok) {
      this.controller.forget(view.id);
      return true;
    }
    if (result.status === 404 || result.status === 409) {
      // Someone else (another tab, a timeout, an interrupt) ended it first.
      this.controller.forget(view.id);
      if (dialog) this.overlay.notice("That request had already ended.");
      return false;
    }
    this.controller.endedHere.delete(view.id);
    dialog?.setBusy(false);
    if (dialog) {
      const error = result.error ?? { code: "http", message: "The server refused that answer." };
      if (!showRefusal?.(error)) dialog.setError(error.message);
    } else console.warn("[comfyui-hitl] answer refused", result);
    return false;
  }
}

export class HitlController {
  /**
   * `autoOpen` false (the inbox): waiting requests are listed in `waiting`, not opened; a
   * dialog opens when `show(id)` asks. `onUpdate` is told after every change it acted on
   * (the view that changed, or null after a resync). `listener` (notifications, the title
   * badge) is told of the requests that need a person; `identity` is what this page claims
   * to be in the answers it sends (the audit record's surface and client id).
   * @param {{
   *   api: HostApi,
   *   doc: Document,
   *   handlers: KindHandler[],
   *   activeWorkflowId?: () => string | null,
   *   chrome?: () => import("./placement.js").Chrome,
   *   movable?: boolean,
   *   identity?: import("./client.js").ClientIdentity,
   *   listener?: RequestListener,
   *   autoOpen?: boolean,
   *   onUpdate?: (view: RequestView | null) => void,
   * }} options `activeWorkflowId`: the workflow id of this tab; `chrome`: the host's controls
   *   our dialogs must leave reachable, `movable` false: the page lays the dialogs out (both
   *   see overlay.js and placement.js)
   */
  constructor({ api, doc, handlers, activeWorkflowId, chrome, movable, identity, listener, autoOpen = true, onUpdate }) {
    this.api = api;
    this.doc = doc;
    this.client = new HitlClient(api, identity);
    /** @type {RequestListener | null} */
    this.listener = listener ?? null;
    /** Whether the first list was read: requests found after that arrived live. */
    this.synced = false;
    this.overlay = new Overlay(doc, { chrome, movable });
    /** @type {Map<string, KindHandler>} */
    this.handlers = new Map(handlers.map((handler) => [handler.kind, handler]));
    this.activeWorkflowId = activeWorkflowId ?? (() => null);
    /** @type {Map<string, number>} request id -> newest seq seen */
    this.seen = new Map();
    /** @type {Set<string>} ids this tab answered or cancelled itself */
    this.endedHere = new Set();
    /** @type {Set<string>} */
    this.ended = new Set();
    /** @type {Map<string, RequestView>} the request each open dialog shows */
    this.views = new Map();
    /** @type {string | null} the tab's workflow when the subtitles were last written */
    this.shownWorkflow = null;
    this.tools = new DialogTools(this);
    this.autoOpen = autoOpen;
    this.onUpdate = onUpdate ?? (() => {});
    /** @type {Map<string, RequestView>} every request waiting now, in the order seen */
    this.waiting = new Map();
    /** @type {Set<Set<string>>} ids heard of during each resync under way */
    this.heard = new Set();
  }

  /** Listen for changes and pick up whatever is already waiting. */
  async start() {
    this.api.addEventListener(EVENT_REQUEST, (event) => {
      this.onChange(/** @type {CustomEvent<RequestView>} */ (event).detail);
    });
    // After a lost websocket, events may have been missed: ask again.
    this.api.addEventListener("reconnected", () => void this.resync());
    await this.resync();
  }

  /** Bring the dialogs in line with the server's list of waiting requests. */
  async resync() {
    /** @type {RequestView[]} */
    let waiting;
    // Requests that opened while the list was on its way are missing from it, yet wait.
    const heardMeanwhile = new Set();
    this.heard.add(heardMeanwhile);
    try {
      waiting = await this.client.list();
    } catch (error) {
      console.warn("[comfyui-hitl] could not list waiting requests", error);
      return;
    } finally {
      this.heard.delete(heardMeanwhile);
    }
    const ids = new Set([...waiting.map((view) => view.id), ...heardMeanwhile]);
    for (const id of [...this.overlay.dialogs.keys()]) {
      if (!ids.has(id)) this.overlay.close(id);
    }
    for (const id of [...this.waiting.keys()]) {
      if (!ids.has(id)) this.forget(id); // it ended while we were not listening
    }
    // On load, what already waits is not news; after a lost connection, what is new arrived live.
    const live = this.synced;
    for (const view of waiting) this.onChange(view, live);
    this.synced = true;
    this.listener?.synced([...this.waiting.values()].filter((view) => this.#needsPerson(view)));
    this.onUpdate(null);
  }

  /**
   * @param {RequestView} view
   * @param {boolean} [live] whether it happened just now (an event), not found in a list on load
   */
  onChange(view, live = true) {
    if (!view || typeof view.id !== "string") return;
    for (const ids of this.heard) ids.add(view.id);
    const newest = this.seen.get(view.id);
    if (newest !== undefined && view.seq < newest) return; // an older event than one we acted on
    if (view.state === STATES.WAITING) {
      if (this.ended.has(view.id) || this.overlay.get(view.id) || newest === view.seq) return;
      this.seen.set(view.id, view.seq);
      this.waiting.set(view.id, view);
      const needsPerson = this.#needsPerson(view);
      if (needsPerson) this.listener?.opened(view, live); // first: a dialog that fails to build still notifies
      if (this.autoOpen || !needsPerson) this.#open(view);
      this.onUpdate(view);
      return;
    }
    this.seen.set(view.id, view.seq);
    this.views.delete(view.id);
    const shownTitle = this.overlay.get(view.id)?.options.title;
    const hadDialog = this.overlay.close(view.id);
    if (hadDialog && !this.endedHere.has(view.id)) {
      // Words, never the wire's codes: "Width was cancelled." (the dialog's title, or the node).
      const who = oneLine(shownTitle || nodeName(view), 60);
      this.overlay.notice(
        view.state === STATES.ANSWERED ? `Answered elsewhere: ${who}.` : `${who} was ${outcomeWords(view.outcome, view.reason)}.`,
      );
    }
    this.forget(view.id);
    this.onUpdate(view);
  }

  /**
   * Open the dialog of a waiting request (or bring back a minimised one).
   * @param {string} id
   * @returns {boolean} false when it no longer waits
   */
  show(id) {
    const open = this.overlay.get(id);
    if (open) {
      if (open.minimised) open.restore();
      else open.focus();
      return true;
    }
    const view = this.waiting.get(id);
    if (!view) return false;
    this.#open(view);
    return true;
  }

  /** @param {string} id */
  forget(id) {
    this.views.delete(id);
    this.overlay.close(id);
    this.waiting.delete(id);
    this.listener?.ended(id);
    this.ended.add(id);
    this.endedHere.delete(id);
    if (this.ended.size > ENDED_MEMORY) {
      const oldest = this.ended.values().next().value;
      if (oldest !== undefined) {
        this.ended.delete(oldest);
        this.seen.delete(oldest);
      }
    }
    this.onUpdate(null);
  }

  /**
   * Bring a request's dialog to the person (a notification was clicked): restore it if it
   * was minimised and put the focus in it.
   * @param {string} id
   * @returns {boolean} whether this tab has that dialog
   */
  focusRequest(id) {
    const dialog = this.overlay.get(id);
    if (!dialog) return this.show(id); // a list page (the inbox) opens it now
    if (dialog.minimised) dialog.restore();
    dialog.card.scrollIntoView({ block: "nearest" });
    dialog.focus(true);
    return true;
  }

  /**
   * The subtitle of a dialog: which node asks, and whether it is this tab's workflow. The
   * server sends no workflow id it cannot trust (a nil id): then nothing is said.
   * @param {RequestView} view
   */
  describe(view) {
    const label = nodeName(view);
    const workflow = view.payload?.workflow_id;
    const active = this.#activeWorkflow();
    if (!workflow || !active) return label;
    return `${label} · ${workflow === active ? "this tab's workflow" : "from another workflow"}`;
  }

  /** @returns {string | null} */
  #activeWorkflow() {
    try {
      return this.activeWorkflowId();
    } catch {
      return null;
    }
  }

  /**
   * The tab's workflow may have changed (a reload restores it after our dialogs opened; the
   * person switches tabs or loads another file): rewrite the subtitles if it did. Cheap: the
   * host calls this on its own signals, never on a timer.
   */
  workflowChanged() {
    const active = this.#activeWorkflow();
    if (active === this.shownWorkflow) return;
    this.shownWorkflow = active;
    for (const [id, view] of this.views) this.overlay.get(id)?.setSubtitle(this.describe(view));
  }

  /**
   * Whether a person is asked (the doubler without "ask first" answers by itself).
   * @param {RequestView} view
   */
  #needsPerson(view) {
    return this.handlers.get(view.kind)?.needsPerson?.(view) !== false;
  }

  /** @param {RequestView} view */
  #open(view) {
    this.views.set(view.id, view);
    this.shownWorkflow = this.#activeWorkflow();
    const handler = this.handlers.get(view.kind);
    if (handler) {
      handler.open(view, this.tools);
      return;
    }
    // A kind this page does not know (an old cached script?): still let the person end it.
    const dialog = this.tools.openDialog(view, { title: "A node is waiting" });
    dialog.body.textContent = `This page cannot show a "${view.kind}" request. Reload the page, or cancel the run.`;
  }
}
