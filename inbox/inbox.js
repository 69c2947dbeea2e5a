// @ts-check
/**
 * The inbox: every request waiting on this server, live, answerable from any device (a
 * phone on the same network, a second machine) with no ComfyUI frontend loaded.
 *
 * The dialogs are the very ones a ComfyUI tab shows (web/), driven by the same controller
 * and client; only the `api` differs (./standalone_api.js instead of ComfyUI's). The
 * controller runs in list mode: waiting requests become rows, and a tap opens the dialog.
 * `?request=<id>` opens that request at once, or says how and when it ended.
 */
import { HitlController } from "../web/controller.js";
import { DIALOG_MODULES, lazyHandlers } from "../web/dialogs.js";
import { element } from "../web/dom.js";
import { HISTORY_LIMIT_DEFAULT, INBOX_REQUEST_PARAM, STATES, SURFACES, routePath } from "../web/protocol.js";
import { ago, asks, describeRequest, duration, kindName, nodeName, oneLine } from "../web/describe.js";
import { byWords, outcomeWhy, outcomeWords, shortAnswer, shortPrompt } from "./format.js";
import { connectSession } from "./pairing.js";

/**
 * @typedef {import("../web/protocol.js").RequestView} RequestView
 * @typedef {RequestView & {
 *   answer: unknown,
 *   answer_summary?: string | null,
 *   by?: { surface?: string, source?: string } | null,
 * }} HistoryEntry
 */

/** How many ended requests the "Recent" list shows. */
const RECENT_COUNT = HISTORY_LIMIT_DEFAULT;

class Inbox {
  /**
   * @param {Document} doc
   * @param {Location} location
   * @param {import("./standalone_api.js").StandaloneApi} api ComfyUI's websocket, or the listener's stream (./pairing.js)
   */
  constructor(doc, location, api) {
    this.doc = doc;
    this.api = api;
    this.deepLinkId = new URLSearchParams(location.search).get(INBOX_REQUEST_PARAM);
    /** @type {Map<string, number>} request id -> performance.now() when its view arrived */
    this.anchors = new Map();
    /** @type {Map<string, HTMLLIElement>} */
    this.rows = new Map();
    /** @type {{ entries: HistoryEntry[], serverNow: number, receivedAt: number }} */
    this.recent = { entries: [], serverNow: 0, receivedAt: 0 };
    /** @type {number | undefined} */
    this.recentTimer = undefined;
    this.ready = false;

    /** @param {string} role */
    const part = (role) => /** @type {HTMLElement} */ (doc.querySelector(`[data-role="${role}"]`));
    this.list = part("waiting");
    this.empty = part("empty");
    this.count = part("count");
    this.connection = part("connection");
    this.notice = part("deep-link");
    this.recentList = part("recent");
    this.recentEmpty = part("recent-empty");

    /** @type {HitlController} */
    this.controller = new HitlController({
      api: this.api,
      doc,
      handlers: [],
      // A dialog here is the one thing on screen, centred over the dimmed list: the page
      // lays it out (no ComfyUI controls to keep clear, nothing to drag it away from).
      movable: false,
      autoOpen: false,
      onUpdate: (view) => this.onUpdate(view),
      // Recorded in the audit trail as this page's claim: answered in the inbox, by this tab.
      identity: { surface: SURFACES.INBOX, clientId: () => this.api.clientId },
    });
    /** @type {import("../web/notify.js").WaitNotifier | null} set once its module is in */
    this.notifier = null;
    // The dialogs' modules are loaded when the list is on screen, not before (see start).
    for (const handler of lazyHandlers(this.controller)) this.controller.handlers.set(handler.kind, handler);

    this.api.addEventListener("hitl-connection", (event) => {
      const { connected } = /** @type {CustomEvent<{ connected: boolean }>} */ (event).detail;
      this.connection.dataset.connected = String(connected);
      this.connection.textContent = connected ? "live" : "reconnecting…";
    });
    this.list.addEventListener("click", (event) => {
      const row = /** @type {HTMLElement} */ (event.target).closest("[data-request-id]");
      const id = row instanceof HTMLElement ? row.dataset.requestId : undefined;
      if (id && !this.controller.show(id)) this.scheduleRender();
    });
  }

  async start() {
    this.api.start();
    await this.controller.start();
    this.render();
    this.ready = true;
    // The moment the list shows: the benchmark counts the bytes loaded until here.
    performance.mark("hitl-inbox-list");
    this.doc.documentElement.dataset.inbox = "ready";
    window.setInterval(() => this.tick(), 1000);
    // Now that the list is on screen: what ended lately, and the dialogs (so a tap opens one at once).
    const recent = this.refreshRecent();
    for (const load of Object.values(DIALOG_MODULES)) load().catch(() => {});
    // Notifications (sound, the count in the title, system notifications) follow the list too.
    const notifications = import("./notifications.js").then(
      (module) => {
        this.notifier = module.startNotifications({
          win: window,
          doc: this.doc,
          controller: this.controller,
          header: /** @type {HTMLElement} */ (this.doc.querySelector("[data-role='head']")),
        });
        this.doc.documentElement.dataset.notifications = "ready";
      },
      (error) => console.warn("[comfyui-hitl] notifications are off: their module did not load", error),
    );
    if (this.deepLinkId) await this.openDeepLink(this.deepLinkId);
    await Promise.all([recent, notifications]);
  }

  /** @param {RequestView | null} view */
  onUpdate(view) {
    if (view && view.state !== STATES.WAITING) {
      if (view.id === this.deepLinkId) this.explainEnded(view, Date.parse(view.ended_at ?? "") || 0, performance.now());
      this.scheduleRecent();
    } else if (!view) {
      this.scheduleRecent();
    }
    if (this.ready) this.render();
  }

  scheduleRender() {
    if (this.ready) this.render();
  }

  /** Bring the rows in line with the controller's waiting requests (oldest first). */
  render() {
    const views = [...this.controller.waiting.values()].sort((a, b) => a.seq - b.seq);
    const now = performance.now();
    const ids = new Set(views.map((view) => view.id));
    for (const [id, row] of this.rows) {
      if (!ids.has(id)) {
        row.remove();
        this.rows.delete(id);
        this.anchors.delete(id);
      }
    }
    let previous = /** @type {Element | null} */ (null);
    for (const view of views) {
      if (!this.anchors.has(view.id)) this.anchors.set(view.id, now);
      let row = this.rows.get(view.id);
      if (!row) {
        row = this.buildRow(view);
        this.rows.set(view.id, row);
      }
      const expected = previous ? previous.nextElementSibling : this.list.firstElementChild;
      if (expected !== row) {
        if (previous) previous.after(row);
        else this.list.prepend(row);
      }
      previous = row;
    }
    this.empty.hidden = views.length > 0;
    // Nothing waits: no badge (a "0" looked like something to see).
    this.count.textContent = views.length > 0 ? String(views.length) : "";
    this.tick();
  }

  /** @param {RequestView} view */
  buildRow(view) {
    const doc = this.doc;
    const item = element(doc, "li");
    item.dataset.requestId = view.id;
    const button = element(doc, "button", "inbox-row");
    button.type = "button";
    button.dataset.kind = view.kind;
    if (view.id === this.deepLinkId) button.dataset.linked = "true";
    const main = element(doc, "span", "inbox-row-main");
    main.append(
      element(doc, "span", "inbox-row-title", nodeName(view)),
      element(doc, "span", "inbox-row-summary", asks(view)),
      element(doc, "span", "inbox-row-meta", [kindName(view.kind), shortPrompt(view.prompt_id) && `prompt ${shortPrompt(view.prompt_id)}`].filter(Boolean).join(" · ")),
    );
    const times = element(doc, "span", "inbox-row-times");
    const waited = element(doc, "span", "inbox-waited");
    waited.dataset.role = "waited";
    times.append(waited);
    if (typeof view.expires_in_ms === "number") {
      const countdown = element(doc, "span", "inbox-countdown");
      countdown.dataset.role = "countdown";
      times.append(countdown);
    }
    button.append(main, times);
    item.append(button);
    return item;
  }

  /** Once a second: how long each request has waited, its countdown, and "3 min ago". */
  tick() {
    const now = performance.now();
    for (const [id, row] of this.rows) {
      const view = this.controller.waiting.get(id);
      if (!view) continue;
      const since = now - (this.anchors.get(id) ?? now);
      const waited = /** @type {HTMLElement} */ (row.querySelector("[data-role='waited']"));
      waited.textContent = `waiting ${duration(view.waited_ms + since)}`;
      const countdown = /** @type {HTMLElement | null} */ (row.querySelector("[data-role='countdown']"));
      if (countdown && typeof view.expires_in_ms === "number") {
        const left = view.expires_in_ms - since;
        countdown.textContent = `${duration(left + 999)} left`;
        countdown.dataset.urgent = String(left < 10_000);
      }
    }
    const { serverNow, receivedAt } = this.recent;
    for (const item of this.recentList.children) {
      const ended = Number(/** @type {HTMLElement} */ (item).dataset.endedAt);
      const when = item.querySelector("[data-role='ago']");
      if (when && ended) when.textContent = ago(serverNow - ended + (now - receivedAt));
    }
  }

  // ------------------------------------------------------------------ recent
  scheduleRecent() {
    // Several requests often end together (an interrupt, a new prompt): one fetch for all.
    window.clearTimeout(this.recentTimer);
    this.recentTimer = window.setTimeout(() => void this.refreshRecent(), 150);
  }

  async refreshRecent() {
    try {
      const response = await this.api.fetchApi(`${routePath("history")}?limit=${RECENT_COUNT}`, { cache: "no-store" });
      if (!response.ok) return;
      const body = await response.json();
      this.recent = {
        entries: Array.isArray(body.history) ? body.history : [],
        serverNow: Date.parse(body.now) || 0,
        receivedAt: performance.now(),
      };
    } catch {
      return; // offline: the list stays as it was, and the next change or reconnect tries again
    }
    this.renderRecent();
  }

  renderRecent() {
    const doc = this.doc;
    const items = this.recent.entries.map((entry) => {
      const item = element(doc, "li", "inbox-recent-row");
      item.dataset.requestId = entry.id;
      item.dataset.outcome = entry.outcome ?? "";
      item.dataset.endedAt = String(Date.parse(entry.ended_at ?? "") || 0);
      const main = element(doc, "span", "inbox-row-main");
      // The server's words for the answer ("sketch", "steps 30, denoise 0.4"), else the raw one, short.
      const said = typeof entry.answer_summary === "string" ? oneLine(entry.answer_summary, 120) : "";
      const answer = said || shortAnswer(entry.answer);
      main.append(
        element(doc, "span", "inbox-row-title", nodeName(entry)),
        element(doc, "span", "inbox-row-summary", asks(entry)),
      );
      if (answer) main.append(element(doc, "span", "inbox-row-meta inbox-answer", `answer ${answer}`));
      const by = byWords(entry.by);
      if (by) main.append(element(doc, "span", "inbox-row-meta inbox-by", by));
      const times = element(doc, "span", "inbox-row-times");
      const when = element(doc, "span", undefined, "");
      when.dataset.role = "ago";
      times.append(element(doc, "span", "inbox-badge", outcomeWords(entry.outcome)), when);
      times.append(element(doc, "span", "inbox-waited", `after ${duration(entry.waited_ms)}`));
      item.append(main, times);
      return item;
    });
    this.recentList.replaceChildren(...items);
    this.recentEmpty.hidden = items.length > 0;
    this.tick();
  }

  // --------------------------------------------------------------- deep link
  /** @param {string} id */
  async openDeepLink(id) {
    if (this.controller.show(id)) return;
    const started = performance.now();
    /** @type {Response} */
    let response;
    try {
      response = await this.api.fetchApi(routePath("request", { request_id: id }), { cache: "no-store" });
    } catch {
      this.say("link", "Could not reach the server to look this request up. The list updates when it is back.");
      return;
    }
    if (response.status === 404) {
      this.say(
        "unknown",
        "No request with this id is known to this server. It may have ended before ComfyUI restarted, or it belongs to another server.",
      );
      return;
    }
    if (!response.ok) {
      this.say("link", `The server could not look this request up (HTTP ${response.status}).`);
      return;
    }
    const body = await response.json();
    /** @type {RequestView} */
    const view = body.request;
    if (view.state === STATES.WAITING) {
      // It opened after our list was made: the controller hears of it too, but show it now.
      this.controller.onChange(view);
      this.controller.show(id);
      return;
    }
    this.explainEnded(view, Date.parse(body.now) || 0, started);
  }

  /**
   * Say how and when a deep-linked request ended.
   * @param {RequestView} view
   * @param {number} serverNow the server's clock when it sent `view` (ms since 1970)
   * @param {number} receivedAt performance.now() then
   */
  explainEnded(view, serverNow, receivedAt) {
    const endedAt = Date.parse(view.ended_at ?? "");
    // "Steps? #3: Deep style (one of 3 choices) was answered…": the summary has brackets of its own.
    const who = describeRequest(view);
    const when = Number.isFinite(endedAt)
      ? ` ${ago(serverNow - endedAt + (performance.now() - receivedAt))}, at ${new Date(endedAt).toLocaleTimeString()}`
      : "";
    const by = byWords(/** @type {HistoryEntry} */ (view).by);
    const text = `${who} was ${outcomeWords(view.outcome)}${by ? ` ${by}` : ""}${when}, after waiting ${duration(view.waited_ms)}.`;
    this.say("ended", [text, outcomeWhy(view.outcome)].filter(Boolean).join(" "), view.outcome ?? "");
  }

  /**
   * @param {string} kind
   * @param {string} text
   * @param {string} [outcome]
   */
  say(kind, text, outcome = "") {
    this.notice.hidden = false;
    this.notice.dataset.kind = kind;
    this.notice.dataset.outcome = outcome;
    this.notice.textContent = text;
  }
}

// Paired first where the server asks for it (the pack's own listener): nothing of any request
// is fetched before then.
const session = await connectSession({ doc: document, location: window.location, history: window.history });
// Unpaired meanwhile (from the computer): the page starts over, on the pairing screen.
session.api.addEventListener("hitl-unpaired", () => window.location.reload());
const inbox = new Inbox(document, window.location, session.api);
// For tests and for anyone debugging the page from the console.
/** @type {any} */ (window).hitlInbox = inbox;
void inbox.start();
