// @ts-check
/**
 * The inbox's api on the pack's own listener (docs/pairing.md): the same routes as on
 * ComfyUI's port, but live updates come from the listener's server-sent events
 * (`GET /hitl/events`) instead of ComfyUI's websocket, which is not there. It dispatches what
 * {@link StandaloneApi} dispatches ("hitl-request", "reconnected", "hitl-connection"), and
 * says "hitl-unpaired" when the server no longer knows this device (it was unpaired).
 */
import { EVENT_HELLO, EVENT_REQUEST, ROUTES } from "../web/protocol.js";
import { StandaloneApi } from "./standalone_api.js";

export class ListenerApi extends StandaloneApi {
  /**
   * @param {{ location: Location, doc: Document, EventSourceClass?: typeof EventSource }} options
   */
  constructor({ location, doc, EventSourceClass = EventSource }) {
    super({ location, doc });
    this.EventSourceClass = EventSourceClass;
    /** @type {EventSource | null} */
    this.source = null;
    /** @type {Promise<void> | null} a look at whether this device is still paired, under way */
    this.checking = null;
  }

  /** Open the stream, and keep it open: the browser reconnects it; coming back into view resyncs. */
  start() {
    this.#connect();
    this.doc.addEventListener("visibilitychange", () => {
      if (this.doc.visibilityState !== "visible") return;
      if (!this.source || this.source.readyState === this.EventSourceClass.CLOSED) this.#connect();
      else this.dispatchEvent(new CustomEvent("reconnected"));
    });
    this.doc.defaultView?.addEventListener("online", () => {
      if (!this.source || this.source.readyState === this.EventSourceClass.CLOSED) this.#connect();
    });
  }

  #connect() {
    this.source?.close();
    const source = new this.EventSourceClass(this.apiURL(ROUTES.events));
    this.source = source;
    source.addEventListener("open", () => {
      if (this.source !== source) return;
      this.connected = true;
      this.everConnected = true;
      this.#status();
      // As after a websocket (re)connects: one more list closes any gap.
      this.dispatchEvent(new CustomEvent("reconnected"));
    });
    source.addEventListener(EVENT_HELLO, (event) => {
      const data = parse(/** @type {MessageEvent} */ (event).data);
      if (typeof data?.client_id === "string") this.clientId = data.client_id;
    });
    source.addEventListener(EVENT_REQUEST, (event) => {
      const data = parse(/** @type {MessageEvent} */ (event).data);
      if (data) this.dispatchEvent(new CustomEvent(EVENT_REQUEST, { detail: data }));
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      if (this.connected) {
        this.connected = false;
        this.#status();
      }
      // The stream closed: a restart, a drop for reading too slowly, or this device was unpaired.
      void this.#checkPaired(source);
    });
  }

  /** @param {EventSource} source */
  #checkPaired(source) {
    if (this.checking) return;
    this.checking = (async () => {
      try {
        const response = await this.fetchApi(ROUTES.device, { cache: "no-store" });
        if (response.status === 401) {
          source.close();
          this.dispatchEvent(new CustomEvent("hitl-unpaired"));
          return;
        }
      } catch {
        // Offline: the browser keeps trying the stream by itself.
      }
      // Still paired: a closed stream (the server said no for another reason) is opened again.
      if (source.readyState === this.EventSourceClass.CLOSED && this.source === source) {
        window.setTimeout(() => this.source === source && this.#connect(), 1000);
      }
    })().finally(() => {
      this.checking = null;
    });
  }

  #status() {
    this.dispatchEvent(new CustomEvent("hitl-connection", { detail: { connected: this.connected } }));
  }
}

/** @param {unknown} text @returns {any} */
function parse(text) {
  try {
    return typeof text === "string" ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}
