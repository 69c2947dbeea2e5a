// @ts-check
/**
 * HTTP calls to the pack's routes through an injected `api`: ComfyUI's (`fetchApi` and
 * `apiURL` add `/api`, and the page's base path) in a ComfyUI tab, the inbox's own elsewhere.
 */
import { routePath } from "./protocol.js";

/**
 * @typedef {{ fetchApi(route: string, init?: RequestInit): Promise<Response>, apiURL?: (route: string) => string }} FetchApi
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {{ code: string, message: string, field?: string }} CallError `field`: the form field a refusal is about
 * @typedef {{ ok: boolean, status: number, request?: RequestView, error?: CallError }} CallResult
 * @typedef {{ surface?: string, clientId?: () => string | null | undefined }} ClientIdentity
 *   who this client says it is, sent with every answer and cancel for the audit record
 */

/**
 * One JSON call to a route of ours (the settings, pairing and push sections use it): the
 * parsed body, or an Error carrying the server's refusal message.
 * @param {FetchApi} api
 * @param {string} method
 * @param {string} route
 * @param {unknown} [body] sent as JSON when given
 * @returns {Promise<any>}
 */
export async function callJson(api, method, route, body) {
  /** @type {RequestInit} */
  const init = { method, cache: "no-store" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await api.fetchApi(route, init);
  /** @type {any} */
  const parsed = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(parsed?.error?.message ?? `HTTP ${response.status}`);
  return parsed;
}

/** What the server takes as a client id (longer or odd ones are not sent). */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export class HitlClient {
  /**
   * @param {FetchApi} api
   * @param {ClientIdentity} [identity] the surface (e.g. SURFACES.COMFYUI_TAB) and this tab's client id
   */
  constructor(api, identity = {}) {
    this.api = api;
    this.identity = identity;
  }

  /** The claims that go with an answer or a cancel: `{surface?, client_id?}`. */
  claims() {
    /** @type {{ surface?: string, client_id?: string }} */
    const claims = {};
    if (this.identity.surface) claims.surface = this.identity.surface;
    const clientId = this.identity.clientId?.();
    if (typeof clientId === "string" && CLIENT_ID.test(clientId)) claims.client_id = clientId;
    return claims;
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
    return this.#post(routePath("answer", { request_id: requestId }), { value, ...this.claims() });
  }

  /**
   * What the person has done so far (not an answer: it ends nothing), for a request that
   * prepares its answer ahead (the mask painter's strokes, drawn while the person paints).
   * @param {string} requestId
   * @param {unknown} value
   * @returns {Promise<CallResult>}
   */
  draft(requestId, value) {
    return this.#post(routePath("draft", { request_id: requestId }), { value });
  }

  /**
   * @param {string} requestId
   * @returns {Promise<CallResult>}
   */
  cancel(requestId) {
    return this.#post(routePath("cancel", { request_id: requestId }), this.claims());
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
   * URL of one image of a request (thumbnails, previews, full images, input masks).
   * @param {string} requestId
   * @param {number} index
   * @param {"thumb" | "preview" | "full" | "mask"} size
   */
  imageUrl(requestId, index, size) {
    return this.url(`${routePath("image", { request_id: requestId, index })}?size=${size}`);
  }

  /**
   * The URL a page loads a route of ours from (images, links), as the injected api says;
   * `/api` + route for a host api that cannot say (the one place that prefix is spelled).
   * @param {string} route
   */
  url(route) {
    return typeof this.api.apiURL === "function" ? this.api.apiURL(route) : `/api${route}`;
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
