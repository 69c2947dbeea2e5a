// @ts-check
/** Stand-in for ComfyUI's scripts/api.js: fetchApi under /api and websocket events. */
class StandInApi extends EventTarget {
  constructor() {
    super();
    this.connected = false;
    /** Like ComfyUI's: this tab's id (ComfyUI's server assigns it on the websocket). */
    this.clientId = crypto.randomUUID().replaceAll("-", "");
    this.connect(false);
  }

  /** @param {string} route @param {RequestInit} [init] */
  fetchApi(route, init) {
    return fetch(this.apiURL(route), init);
  }

  /** @param {string} route */
  apiURL(route) {
    return `/api${route}`;
  }

  /** @param {boolean} isReconnect */
  connect(isReconnect) {
    const socket = new WebSocket(`ws://${location.host}/ws`);
    socket.addEventListener("open", () => {
      this.connected = true;
      if (isReconnect) this.dispatchEvent(new CustomEvent("reconnected"));
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      // As ComfyUI's frontend does: an `executing` event carries the node id alone.
      const detail = message.type === "executing" ? message.data.display_node || message.data.node : message.data;
      this.dispatchEvent(new CustomEvent(message.type, { detail }));
    });
    socket.addEventListener("close", () => {
      this.connected = false;
      setTimeout(() => this.connect(true), 300);
    });
    this.socket = socket;
  }
}

export const api = new StandInApi();
