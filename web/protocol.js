// @ts-check
/**
 * The wire protocol shared with the Python side: the one place the browser spells route
 * paths, event names and state names. `server/protocol.py` is its twin, and
 * `tests/test_protocol.py` checks that the two agree.
 */

export const ROUTE_PREFIX = "/hitl";

/** Route paths; `{request_id}` and `{index}` are filled in by {@link routePath}. */
export const ROUTES = Object.freeze({
  list: "/hitl/requests",
  answer: "/hitl/requests/{request_id}/answer",
  cancel: "/hitl/requests/{request_id}/cancel",
  draft: "/hitl/requests/{request_id}/draft",
  image: "/hitl/requests/{request_id}/images/{index}",
  thumbnails: "/hitl/requests/{request_id}/thumbnails",
  openapi: "/hitl/openapi.json",
  request: "/hitl/requests/{request_id}",
  history: "/hitl/history",
  inbox: "/hitl/inbox",
  ui: "/hitl/ui/{folder}/{name}",
  notify_config: "/hitl/notify/config",
  notify_status: "/hitl/notify/status",
  notify_test: "/hitl/notify/test",
  // --- paired devices (docs/pairing.md) ---
  pair: "/hitl/pair",
  device: "/hitl/device",
  events: "/hitl/events",
  pairing_secrets: "/hitl/pairing/secrets",
  devices: "/hitl/devices",
  device_revoke: "/hitl/devices/{device_id}/revoke",
  devices_revoke_all: "/hitl/devices/revoke-all",
});

/** The inbox URL's fragment key that carries a pairing secret: `/hitl/inbox#pair=<secret>`. */
export const PAIR_FRAGMENT = "pair";
/** How long a pairing secret is valid, in seconds. */
export const PAIRING_SECRET_TTL_S = 600;
/** How the inbox follows request changes (`GET /hitl/device`'s `stream`). */
export const STREAMS = Object.freeze({ WEBSOCKET: "websocket", EVENTS: "events" });
/** The first event of the listener's stream: its client id. */
export const EVENT_HELLO = "hitl-hello";

/** The inbox's query parameter that opens one request's dialog: `/hitl/inbox?request=<id>`. */
export const INBOX_REQUEST_PARAM = "request";

/** `GET /hitl/history?limit=N`: how many ended requests by default, and at most. */
export const HISTORY_LIMIT_DEFAULT = 20;
export const HISTORY_LIMIT_MAX = 200;

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

/** How an ended request ended, in one word a person reads (`outcome` of its view). */
export const OUTCOMES = Object.freeze({
  ANSWERED: "answered",
  CANCELLED: "cancelled",
  TIMED_OUT: "timed_out",
  INTERRUPTED: "interrupted",
  RESET: "reset",
});

/** Each reason's outcome. */
export const OUTCOME_OF_REASON = Object.freeze({
  answer: "answered",
  user_cancel: "cancelled",
  timeout: "timed_out",
  interrupt: "interrupted",
  prompt_over: "reset",
});

export const KINDS = Object.freeze({
  INTEGER_DOUBLER: "integer-doubler",
  VALUE_PROMPT: "value-prompt",
  IMAGE_PICKER: "image-picker",
  FORM: "form",
  MASK_PAINTER: "mask-painter",
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

/** Renditions the image route serves (`?size=`). */
export const IMAGE_SIZES = Object.freeze(["thumb", "preview", "full", "mask"]);

/** Operations of a mask painter's answer (see `images/mask_strokes.py` and `mask_strokes.js`). */
export const MASK_OPS = Object.freeze({
  BRUSH: "brush",
  ERASE: "erase",
  CLEAR: "clear",
  INVERT: "invert",
  FILL: "fill",
});

/** A node's `mode` widget values (kept by their text in saved workflows). */
export const MODES = Object.freeze({
  ALWAYS_ASK: "always ask",
  USE_LAST_ANSWER: "use last answer",
  USE_LAST_ANSWERS: "use last answers",
  REPEAT_LAST_SELECTION: "repeat last selection",
  REPEAT_LAST_MASK: "repeat last mask",
  PASS_DEFAULT: "pass default",
  PASS_DEFAULTS: "pass defaults",
  PASS_EVERYTHING: "pass everything through",
  PASS_INPUT_MASK: "pass input mask through",
  USE_PRESET: "use preset",
});

/** A node's `on_timeout` widget values: what its run does when nobody answers in time. */
export const ON_TIMEOUT = Object.freeze({
  USE_DEFAULT: "use default",
  USE_DEFAULTS: "use defaults",
  CANCEL_RUN: "cancel run",
  SEND_ALL: "send all",
  SEND_FIRST: "send first",
  SEND_INPUT_MASK: "send input mask",
  SEND_EMPTY_MASK: "send empty mask",
});

/** The bounds the server puts on a mask painter's answer (`MASK_LIMITS` in `server/protocol.py`). */
export const MASK_LIMITS = Object.freeze({
  POINT_SCALE: 4,
  PRESSURE_SCALE: 255,
  MAX_IMAGES: 64,
  MAX_OPS: 4096,
  MAX_POINTS: 65536,
  MIN_SIZE: 1,
  MAX_SIZE: 4096,
  COORD_MARGIN: 1,
  WORK_PER_PIXEL: 48,
});
/** Who ended a request (an audit record's `by.surface`); a client may claim the first four. */
export const SURFACES = Object.freeze({
  COMFYUI_TAB: "comfyui-tab",
  INBOX: "inbox",
  CLI: "cli",
  API: "api",
  TIMEOUT: "timeout",
  INTERRUPT: "interrupt",
  SERVER: "server",
});

export const CLAIMABLE_SURFACES = Object.freeze(["comfyui-tab", "inbox", "cli", "api"]);

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
  "forbidden_host",
  "config_locked",
  // --- paired devices ---
  "not_paired",
  "pairing_refused",
  "too_many_attempts",
  "local_only",
  "body_timeout",
]);

export const MAX_BODY_BYTES = 256 * 1024;

/** The workflow id a frontend leaves on a workflow that has none of its own: it identifies nothing. */
export const NIL_WORKFLOW_ID = "00000000-0000-0000-0000-000000000000";

/**
 * The thumbnails route streams each image as a header of this many bytes (index, then
 * length, each an unsigned 32-bit big-endian integer) followed by its JPEG.
 */
export const THUMBNAIL_HEADER_BYTES = 8;

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
 *   summary: string,
 *   opened_at: string,
 *   ended_at: string | null,
 *   waited_ms: number,
 *   outcome: string | null,
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
