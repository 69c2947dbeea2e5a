// @ts-check
/**
 * A request described for a person in one line: "Image Picker #12: pick 2–4 of 32".
 * The browser's system notifications use it; `_describe.py` is its twin for pushes, and
 * `tests/test_describe.py` checks that both give the same text for every kind.
 * Workflow text is made single-line and capped (it ends up in a notification title).
 */
import { KINDS, VALUE_TYPES } from "./protocol.js";

/** The longest description, in characters (code points), "…" included. */
export const MAX_LENGTH = 160;
/** The longest piece of workflow text (a node title, a prompt's title) inside it. */
export const MAX_PART_LENGTH = 80;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;
const SPACES = / {2,}/g;

/**
 * `text` as one line: control characters and line breaks become a space, runs of spaces
 * one space, cut to `limit` characters (code points, as Python counts) with "…".
 * @param {unknown} text
 * @param {number} limit
 */
export function oneLine(text, limit) {
  const line = String(text).replace(CONTROL, " ").replace(SPACES, " ").replace(/^ +| +$/g, "");
  const chars = Array.from(line);
  if (chars.length <= limit) return line;
  return chars.slice(0, limit - 1).join("").replace(/ +$/, "") + "…";
}

/**
 * A JSON number written the same way as Python's `format_number` does.
 * @param {unknown} value
 */
export function formatNumber(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "?";
  if (value === 0) return "0";
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return String(value);
  if (Math.abs(value) >= 1e-4 && Math.abs(value) < 1e16) return String(value);
  const [mantissa, exponent] = value.toExponential().split("e");
  return `${mantissa}e${Number(exponent)}`;
}

/** @param {unknown} value */
function isWhole(value) {
  return typeof value === "number" && Number.isInteger(value);
}

/** @param {Record<string, any>} payload */
function valuePrompt(payload) {
  const type = payload.type;
  const low = payload.min ?? null;
  const high = payload.max ?? null;
  let what;
  if (type === VALUE_TYPES.INT || type === VALUE_TYPES.FLOAT) {
    what = type === VALUE_TYPES.INT ? "a whole number" : "a number";
    if (low !== null && high !== null) what += ` ${formatNumber(low)}–${formatNumber(high)}`;
    else if (low !== null) what += ` ≥ ${formatNumber(low)}`;
    else if (high !== null) what += ` ≤ ${formatNumber(high)}`;
  } else if (type === VALUE_TYPES.STRING || type === VALUE_TYPES.MULTILINE) {
    what = "text";
  } else if (type === VALUE_TYPES.BOOLEAN) {
    what = "yes or no";
  } else if (type === VALUE_TYPES.CHOICE) {
    const count = Array.isArray(payload.choices) ? payload.choices.length : 0;
    what = `one of ${count} choices`;
  } else {
    what = "a value";
  }
  const title = typeof payload.title === "string" ? oneLine(payload.title, MAX_PART_LENGTH) : "";
  return title ? `${title} (${what})` : what;
}

/** @param {Record<string, any>} payload */
function imagePicker(payload) {
  const { count, min_picks: low, max_picks: high } = payload;
  if (!(isWhole(count) && isWhole(low) && isWhole(high))) return "pick images";
  if (low === high) return `pick ${formatNumber(low)} of ${formatNumber(count)}`;
  if (high === count) return `pick at least ${formatNumber(low)} of ${formatNumber(count)}`;
  return `pick ${formatNumber(low)}–${formatNumber(high)} of ${formatNumber(count)}`;
}

/**
 * Which node asks and what: `"<node label>: <what it asks>"`, for a request view that still
 * has its payload.
 * @param {Partial<import("./protocol.js").RequestView>} view
 * @returns {string}
 */
export function describeRequest(view) {
  let label = view.node_label;
  if (!label) label = view.node_id ? `Node #${view.node_id}` : "A node";
  const payload = view.payload && typeof view.payload === "object" && !Array.isArray(view.payload) ? view.payload : {};
  let what;
  if (view.kind === KINDS.INTEGER_DOUBLER) what = `double ${formatNumber(payload.value)}`;
  else if (view.kind === KINDS.VALUE_PROMPT) what = valuePrompt(payload);
  else if (view.kind === KINDS.IMAGE_PICKER) what = imagePicker(payload);
  else what = "waiting for an answer";
  return oneLine(`${oneLine(label, MAX_PART_LENGTH)}: ${what}`, MAX_LENGTH);
}
