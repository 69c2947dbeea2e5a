// @ts-check
/** HTTP calls to the pack's routes, through ComfyUI's `api.fetchApi` (which adds `/api`). */
import { routePath } from "./protocol.js";

/**
 * @typedef {{ fetchApi(route: string, init?: RequestInit): Promise<Response> }} FetchApi
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {{ ok: boolean, status: number, request?: RequestView, error?: { code: string, message: string } }} CallResult
 */

export class HitlClient {
  /** @param {FetchApi} api */
  constructor(api) {
    this.api = api;
  }

  /** @returns {Promise<RequestView[]>} every waiting request */
  async list() {
    const response = await this.api.fetchApi(routePath("list"), { cache: "no-store" });
    if (!response.ok) throw new Error(`listing requests failed: HTTP ${response.status}`);
    const body = await response.json();
    return Array.isArray(body.requests) ? body.requests : [];
  }

  /**
   * @param {string} requestId
   * @param {unknown} value
   * @returns {Promise<CallResult>}
   */
  answer(requestId, value) {
    return this.#post(routePath("answer", { request_id: requestId }), { value });
  }

  /**
   * @param {string} requestId
   * @returns {Promise<CallResult>}
   */
  cancel(requestId) {
    return this.#post(routePath("cancel", { request_id: requestId }), {});
  }

  /**
   * POST a JSON body to a route that streams its answer; resolves to the body's reader once
   * the headers are in (an error status rejects).
   * @param {string} route
   * @param {object} body
   * @param {AbortSignal} signal aborts the request and the stream
   * @returns {Promise<ReadableStreamDefaultReader<Uint8Array>>}
   */
  async stream(route, body, signal) {
    const response = await this.api.fetchApi(route, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok || !response.body) throw new Error(`${route}: HTTP ${response.status}`);
    return response.body.getReader();
  }

  /**
   * URL of one image of a request (the picker's thumbnails and full images).
   * @param {string} requestId
   * @param {number} index
   * @param {"thumb" | "full"} size
   */
  imageUrl(requestId, index, size) {
    return `/api${routePath("image", { request_id: requestId, index })}?size=${size}`;
  }

  /**
   * @param {string} route
   * @param {object} body
   * @returns {Promise<CallResult>}
   */
  async #post(route, body) {
    /** @type {Response} */
    let response;
    try {
      response = await this.api.fetchApi(route, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, error: { code: "network", message: String(error) } };
    }
    /** @type {any} */
    let parsed = {};
    try {
      parsed = await response.json();
    } catch {
      parsed = {};
    }
    if (response.ok) return { ok: true, status: response.status, request: parsed.request };
    const error = parsed && parsed.error ? parsed.error : { code: "http", message: `HTTP ${response.status}` };
    return { ok: false, status: response.status, error };
  }
}
