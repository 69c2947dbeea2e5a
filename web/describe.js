// @ts-check
/**
 * A request described for people, in one line: "Image Picker #12: Keep the best (pick 2–4 of 32)".
 * The node says what it asks (the view's `summary`); this puts the node's name in front.
 * System notifications, the inbox's rows and the dialogs' subtitles use it; `server/describe.py`
 * is its twin (pushes, the CLI), and `tests/test_describe.py` checks that both give the
 * same text. Workflow text is made single-line and capped (it ends up in a notification title).
 * `duration` and `ago` say how long, in the same words as their Python twins (the CLI's).
 */
import { KINDS, OUTCOMES, OUTCOME_OF_REASON } from "./protocol.js";

/** The longest description, in characters (code points), "…" included. */
export const MAX_LENGTH = 160;
/** The longest node name inside a description. */
export const MAX_PART_LENGTH = 80;
/** The longest summary a request keeps. */
export const MAX_SUMMARY_LENGTH = 120;

/** What people call each kind of request (when a request has no summary of its own). */
export const KIND_NAMES = Object.freeze({
  [KINDS.INTEGER_DOUBLER]: "Integer doubler",
  [KINDS.VALUE_PROMPT]: "Value prompt",
  [KINDS.IMAGE_PICKER]: "Image picker",
  [KINDS.FORM]: "Form",
  [KINDS.MASK_PAINTER]: "Mask painter",
});

/** Each outcome of an ended request in a word a person reads (never the wire's code). */
export const OUTCOME_WORDS = Object.freeze({
  [OUTCOMES.ANSWERED]: "answered",
  [OUTCOMES.CANCELLED]: "cancelled",
  [OUTCOMES.TIMED_OUT]: "timed out",
  [OUTCOMES.INTERRUPTED]: "interrupted",
  [OUTCOMES.RESET]: "reset",
});

/**
 * How a request ended, in a word: from its `outcome`, else its `reason`; "ended" if neither is known.
 * @param {string | null | undefined} outcome
 * @param {string | null | undefined} [reason]
 */
export function outcomeWords(outcome, reason) {
  const known = /** @type {Record<string, string>} */ (OUTCOME_WORDS);
  const of = /** @type {Record<string, string>} */ (OUTCOME_OF_REASON);
  return (outcome && known[outcome]) || (reason && known[of[reason]]) || "ended";
}

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
 * A kind as people call it: "Image picker".
 * @param {unknown} kind
 */
export function kindName(kind) {
  return /** @type {Record<string, string>} */ (KIND_NAMES)[String(kind)] ?? String(kind || "Request");
}

/**
 * Which node asks: its title as the workflow shows it, else "Node #12", else "A node".
 * @param {{ node_label?: string | null, node_id?: string | null }} view
 */
export function nodeName(view) {
  const name = typeof view.node_label === "string" ? oneLine(view.node_label, MAX_PART_LENGTH) : "";
  if (name) return name;
  return view.node_id ? `Node #${oneLine(view.node_id, MAX_PART_LENGTH)}` : "A node";
}

/**
 * What it asks: the request's summary, else its kind's name.
 * @param {{ summary?: string | null, kind?: string }} view
 */
export function asks(view) {
  const what = typeof view.summary === "string" ? oneLine(view.summary, MAX_SUMMARY_LENGTH) : "";
  return what || kindName(view.kind);
}

/**
 * Which node asks and what: `"<node>: <what it asks>"`, for a request's view or record.
 * @param {{ node_label?: string | null, node_id?: string | null, summary?: string | null, kind?: string }} view
 * @returns {string}
 */
export function describeRequest(view) {
  return oneLine(`${nodeName(view)}: ${asks(view)}`, MAX_LENGTH);
}

/**
 * A duration as a person reads it: "0:07", "2:13", "1h 05m" (whole seconds, rounded down;
 * a countdown adds 999 ms first, so "0:01" is shown until the time is up).
 * @param {number} ms
 */
export function duration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(total / 60);
  if (minutes >= 60) return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${minutes}:${String(total % 60).padStart(2, "0")}`;
}

/**
 * How long ago, from `ms` milliseconds: "just now", "40 s ago", "3 min ago", "5 h ago",
 * "3 days ago" (from two days on). Measure `ms` on one clock (the server's), never the
 * device's against the server's.
 * @param {number} ms
 */
export function ago(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}
