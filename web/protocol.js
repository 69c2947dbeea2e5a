// @ts-check
/**
 * The wire protocol shared with the Python side: the one place the browser spells route
 * paths, event names and state names. `_protocol.py` is its twin, and
 * `tests/test_protocol.py` checks that the two agree.
 */

export const ROUTE_PREFIX = "/hitl";

/** Route paths; `{request_id}` and `{index}` are filled in by {@link routePath}. */
export const ROUTES = Object.freeze({
  list: "/hitl/requests",
  answer: "/hitl/requests/{request_id}/answer",
  cancel: "/hitl/requests/{request_id}/cancel",
  image: "/hitl/requests/{request_id}/images/{index}",
  openapi: "/hitl/openapi.json",
});

/** The websocket event that carries every change of a request. */
export const EVENT_REQUEST = "hitl-request";

export const STATES = Object.freeze({
  WAITING: "waiting",
  ANSWERED: "answered",
  CANCELLED: "cancelled",
  RESET: "reset",
});

export const REASONS = Object.freeze({
  ANSWER: "answer",
  USER_CANCEL: "user_cancel",
  INTERRUPT: "interrupt",
  TIMEOUT: "timeout",
  PROMPT_OVER: "prompt_over",
});

export const KINDS = Object.freeze({
  INTEGER_DOUBLER: "integer-doubler",
  VALUE_PROMPT: "value-prompt",
  IMAGE_PICKER: "image-picker",
});

/** What a value prompt asks for (`payload.type` of a value-prompt request). */
export const VALUE_TYPES = Object.freeze({
  INT: "INT",
  FLOAT: "FLOAT",
  STRING: "STRING",
  MULTILINE: "STRING (multi-line)",
  BOOLEAN: "BOOLEAN",
  CHOICE: "CHOICE",
});

export const ERROR_CODES = Object.freeze([
  "unsupported_media_type",
  "body_too_large",
  "malformed_json",
  "invalid_body",
  "invalid_answer",
  "unknown_request",
  "not_waiting",
  "forbidden_origin",
  "not_found",
]);

export const MAX_BODY_BYTES = 256 * 1024;

/** The workflow id a frontend leaves on a workflow that has none of its own: it identifies nothing. */
export const NIL_WORKFLOW_ID = "00000000-0000-0000-0000-000000000000";

/**
 * A request as the server shows it (`RequestRegistry.view` in state.py).
 * @typedef {{
 *   id: string,
 *   kind: string,
 *   state: string,
 *   reason: string | null,
 *   prompt_id: string | null,
 *   node_id: string | null,
 *   node_label: string | null,
 *   timeout_s: number,
 *   expires_in_ms: number | null,
 *   seq: number,
 *   payload: Record<string, any> | null,
 * }} RequestView
 */

/**
 * Fill a route pattern's `{name}` holes, each value URL-encoded.
 * @param {keyof typeof ROUTES} name
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function routePath(name, params = {}) {
  return ROUTES[name].replace(/\{(\w+)\}/g, (_, key) => {
    if (!(key in params)) throw new Error(`routePath(${name}): missing ${key}`);
    return encodeURIComponent(String(params[key]));
  });
}
