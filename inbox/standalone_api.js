// @ts-check
/**
 * The inbox's stand-in for ComfyUI's `scripts/api.js`: the small part of it the shared
 * controller, client and dialogs use (`fetchApi`, `apiURL`, websocket events as DOM events),
 * with no ComfyUI frontend loaded. It follows ComfyUI's own websocket (`/ws`), as a ComfyUI
 * tab does, reconnects when it drops, and says "reconnected" each time it (re)connects so
 * the controller asks the server again for what it may have missed. Phones freeze a page in the background and
 * its socket may die unseen: coming back into view, the page reconnects at once and resyncs.
 */
import { ROUTES } from "../web/protocol.js";

/** Reconnect delays: quick at first (a server restart), then at most every few seconds. */
const RETRY_MS = { first: 250, max: 4000 };

/**
 * Where our routes live, from where this page was served: the page is `<base>/hitl/inbox`
 * (`<base>` is "" or "/api", or a reverse proxy's prefix), and every route sits beside it.
 * @param {string} pathname
 */
export function routeBase(pathname) {
  const at = pathname.lastIndexOf(ROUTES.inbox);
  return at >= 0 ? pathname.slice(0, at) : "";
}

export class StandaloneApi extends EventTarget {
  /**
   * @param {{ location: Location, doc: Document, WebSocketClass?: typeof WebSocket }} options
   */
  constructor({ location, doc, WebSocketClass = WebSocket }) {
    super();
    this.base = routeBase(location.pathname);
    // ComfyUI's websocket is at its root (`/ws`); "/api/ws" exists only in newer servers.
    const root = this.base.endsWith("/api") ? this.base.slice(0, -"/api".length) : this.base;
    this.socketUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${root}/ws`;
    this.doc = doc;
    this.WebSocketClass = WebSocketClass;
    /** @type {WebSocket | null} */
    this.socket = null;
    this.connected = false;
    this.everConnected = false;
    this.retryMs = RETRY_MS.first;
    /** @type {number | undefined} */
    this.retryTimer = undefined;
    /**
     * The client id ComfyUI gave this page's websocket (its first `status` message says it),
     * as a ComfyUI tab's `api.clientId`; null until connected.
     * @type {string | null}
     */
    this.clientId = null;
  }

  /** @param {string} route a path of ours, e.g. `/hitl/requests` */
  apiURL(route) {
    return `${this.base}${route}`;
  }

  /** @param {string} route @param {RequestInit} [init] */
  fetchApi(route, init) {
    return fetch(this.apiURL(route), { credentials: "same-origin", ...init });
  }

  /** Open the websocket, and keep it open: on a drop, and when the page comes back into view. */
  start() {
    this.#connect();
    this.doc.addEventListener("visibilitychange", () => {
      if (this.doc.visibilityState !== "visible") return;
      if (!this.connected) this.#reconnectNow();
      // Events may have been missed while the page was frozen, even on a socket that lived.
      else this.dispatchEvent(new CustomEvent("reconnected"));
    });
    this.doc.defaultView?.addEventListener("online", () => this.#reconnectNow());
  }

  #reconnectNow() {
    window.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryMs = RETRY_MS.first;
    if (this.socket && this.socket.readyState <= 1) return; // connecting or open already
    this.#connect();
  }

  #connect() {
    /** @type {WebSocket} */
    let socket;
    try {
      socket = new this.WebSocketClass(this.socketUrl);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket !== socket) return;
      this.connected = true;
      this.everConnected = true;
      this.retryMs = RETRY_MS.first;
      this.#status();
      // Also on the first open: the page's first list may have been made before this socket
      // was there to hear of a request that opened meanwhile. One more list closes that gap.
      this.dispatchEvent(new CustomEvent("reconnected"));
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return; // ComfyUI's binary previews: not ours
      /** @type {any} */
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message?.type === "status" && typeof message.data?.sid === "string") this.clientId = message.data.sid;
      if (message && typeof message.type === "string") {
        this.dispatchEvent(new CustomEvent(message.type, { detail: message.data }));
      }
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.connected = false;
      this.#status();
      this.#scheduleRetry();
    });
  }

  #scheduleRetry() {
    if (this.retryTimer !== undefined) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(RETRY_MS.max, this.retryMs * 2);
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = undefined;
      this.#connect();
    }, delay);
  }

  #status() {
    this.dispatchEvent(new CustomEvent("hitl-connection", { detail: { connected: this.connected } }));
  }
}
