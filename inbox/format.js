// @ts-check
/**
 * How the inbox says things: outcomes and who ended a request in words, short answers.
 * Pure functions (no DOM), so they read the same in every row and are easy to check. Which
 * node asks what, durations and "3 min ago" are web/describe.js's, shared with
 * notifications, the dialogs and (in Python) the CLI.
 */
import { OUTCOMES, SURFACES } from "../web/protocol.js";
import { outcomeWords as wordsOf } from "../web/describe.js";

/**
 * Each outcome in a word, and why it came, for an ended request's deep link ("" when the
 * word says it all).
 * @type {Record<string, { words: string, why: string }>}
 */
const OUTCOME_TEXT = {
  [OUTCOMES.ANSWERED]: { words: "answered", why: "" },
  [OUTCOMES.CANCELLED]: { words: "cancelled", why: "The run was cancelled." },
  [OUTCOMES.TIMED_OUT]: {
    words: "timed out",
    why: "Nobody answered in time; the node did what it does on a timeout.",
  },
  [OUTCOMES.INTERRUPTED]: {
    words: "interrupted",
    why: "The run was interrupted (ComfyUI's Cancel, or a timeout that cancels).",
  },
  [OUTCOMES.RESET]: { words: "reset", why: "A newer prompt started, so this one's question was withdrawn." },
};

/** @type {Record<string, string>} who ended a request (a record's `by.surface`), after "answered" */
const SURFACE_WORDS = {
  [SURFACES.COMFYUI_TAB]: "in a ComfyUI tab",
  [SURFACES.INBOX]: "in the inbox",
  [SURFACES.CLI]: "from the CLI",
  [SURFACES.API]: "through the API",
  [SURFACES.TIMEOUT]: "by its timeout",
  [SURFACES.INTERRUPT]: "by ComfyUI's interrupt",
  [SURFACES.SERVER]: "by the server",
};

/**
 * Where a request was ended, from its record's `by`: "in the inbox", "from the CLI"; "" when
 * the record does not say (the server's own ends are said by the outcome already).
 * @param {{ surface?: string, source?: string } | null | undefined} by
 */
export function byWords(by) {
  if (!by || by.source !== "client" || typeof by.surface !== "string") return "";
  return SURFACE_WORDS[by.surface] ?? "";
}

/** @param {string | null} outcome */
export function outcomeWords(outcome) {
  return wordsOf(outcome);
}

/** @param {string | null} outcome */
export function outcomeWhy(outcome) {
  return (outcome && OUTCOME_TEXT[outcome]?.why) || "";
}

/**
 * An answer, short: `42`, `"a cat"`, `[0, 3]`; cut with an ellipsis past `limit` characters.
 * @param {unknown} answer
 * @param {number} [limit]
 */
export function shortAnswer(answer, limit = 48) {
  if (answer === null || answer === undefined) return "";
  let text;
  try {
    text = JSON.stringify(answer);
  } catch {
    text = String(answer);
  }
  text = text.replace(/,(?=\S)/g, ", ");
  const characters = [...text];
  return characters.length > limit ? `${characters.slice(0, limit - 1).join("")}…` : text;
}

/** The first characters of a prompt id, enough to tell runs apart. @param {string | null} promptId */
export function shortPrompt(promptId) {
  return promptId ? promptId.slice(0, 8) : "";
}
