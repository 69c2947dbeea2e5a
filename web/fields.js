// @ts-check
/**
 * Typed answer fields, the one implementation every question dialog uses (the value prompt
 * asks for one, the form for several): a number, one or several lines of text, yes/no, or
 * one of a list of choices. Each field says what fits (`hint`), which keys help (`keys`),
 * and `read()`s its answer in the form the server checks. Checks here are a convenience
 * only: the server decides, and its refusal is shown by the dialog. Everything from the
 * workflow is shown as text.
 *
 * A field starts from `spec.default`. What the person typed or picked reads as text
 * (`draft()`) and is put back with `setDraft()`: a dialog keeps it in a {@link RequestDraft},
 * so a reload of the tab loses nothing typed. Keys reach a field through its dialog
 * (`dialog.onKey(field.onKey)`): key events never travel through our layer (keys.js).
 *
 * Class names keep the `hitl-vp-` prefix the value prompt's dialog first gave them (its
 * tests and users' own CSS rely on them).
 */
import { element, ensureStyle } from "./dom.js";
import { VALUE_TYPES } from "./protocol.js";
import { tabStorage } from "./storage.js";

/**
 * What one typed field accepts and starts with: the value prompt's payload, or one entry of
 * a form's `fields` (`ValueSpec.describe` in questions/values.py, plus the default).
 * @typedef {{
 *   type: string,
 *   default: unknown,
 *   min: number | null,
 *   max: number | null,
 *   step: number | null,
 *   max_length: number | null,
 *   choices: string[],
 * }} FieldSpec
 * @typedef {{ ok: true, value: unknown } | { ok: false, message: string }} ReadResult
 * @typedef {{
 *   root: HTMLElement,
 *   focusTarget: HTMLElement,
 *   read(): ReadResult,
 *   hint: string,
 *   keys: string,
 *   draft(): string,
 *   setDraft(text: string): void,
 *   onKey?: (event: KeyboardEvent) => void,
 * }} AnswerField  `onKey` acts only on keys typed inside the field (a form has several)
 */

/** What was typed into a waiting request's dialog, per request id, in this tab only. */
const DRAFT_KEY_PREFIX = "comfyui-hitl.draft.";

/**
 * What the person typed into one request's dialog so far, kept in the tab's sessionStorage so
 * a reload restores it (a value prompt keeps its field's text, a form an object of its
 * fields' texts). It goes when the answer is taken. Storage may be disabled or full: then
 * only the convenience is lost.
 */
export class RequestDraft {
  /** @param {string} requestId */
  constructor(requestId) {
    this.key = `${DRAFT_KEY_PREFIX}${requestId}`;
  }

  /** @returns {unknown} what was saved, or null */
  load() {
    return tabStorage.readJson(this.key);
  }

  /** @param {unknown} value anything JSON can hold */
  save(value) {
    tabStorage.writeJson(this.key, value);
  }

  clear() {
    tabStorage.write(this.key, null);
  }
}

/**
 * Whether a key event is for the control `root` holds, typed with no Ctrl, Cmd or Alt.
 * @param {KeyboardEvent} event @param {HTMLElement} root
 */
function plainKeyIn(event, root) {
  return !event.ctrlKey && !event.metaKey && !event.altKey && root.contains(/** @type {Node} */ (event.target));
}

const STYLE_ID = "comfyui-hitl-fields-style";

const CSS = `
.hitl-card .hitl-answer-input { width: 100%; box-sizing: border-box; font-size: 16px; }
.hitl-card textarea.hitl-answer-input { min-height: 8em; resize: vertical; }
.hitl-vp-options { display: flex; flex-direction: column; gap: 4px; max-height: 45vh; overflow-y: auto; border: 0;
  margin: 0; padding: 2px; }
.hitl-vp-options[data-layout="row"] { flex-direction: row; }
.hitl-vp-option { display: flex; align-items: center; gap: 8px; padding: 8px 10px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color, #555); overflow-wrap: anywhere; flex: 1; min-height: 22px; }
.hitl-vp-option:has(input:checked) { border-color: var(--p-primary-color, #4c8bf5); background: rgba(76,139,245,.12); }
.hitl-vp-key { font-size: 11px; opacity: .6; font-variant-numeric: tabular-nums; margin-left: auto; }
.hitl-vp-hint { font-size: 12px; opacity: .7; margin-top: 2px; overflow-wrap: anywhere; }
.hitl-vp-count[data-over="true"] { color: #ff8a80; opacity: 1; }
`;

/**
 * Whether this screen is worked by touch (a coarse pointer: a phone, a tablet): no Shift+Enter,
 * no Tab, no Esc, and the keyboard's return key is the way to a new line.
 * @param {Document} doc
 */
export function touchScreen(doc) {
  try {
    return Boolean(doc.defaultView?.matchMedia?.("(pointer: coarse)").matches);
  } catch {
    return false;
  }
}

/** Characters as the server counts them: code points, not UTF-16 units. @param {string} text */
export function characterCount(text) {
  return [...text].length;
}

/** @param {number | null} min @param {number | null} max */
function rangeText(min, max) {
  if (min !== null && max !== null) return `from ${min} to ${max}`;
  if (min !== null) return `at least ${min}`;
  if (max !== null) return `at most ${max}`;
  return "";
}

/** How many decimals a number is written with. @param {number} value */
function decimals(value) {
  const text = String(value);
  const exponent = /e-(\d+)$/.exec(text);
  if (exponent) return Number(exponent[1]);
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

/**
 * `value` moved by `steps` times `step`, from the value itself (not from a grid anchored at
 * the minimum), kept within the bounds, and written with no float noise (0.55 + 0.05 is 0.6).
 * @param {number} value @param {number} step @param {number} steps @param {number | null} min @param {number | null} max
 */
export function stepValue(value, step, steps, min, max) {
  const places = Math.min(12, Math.max(decimals(step), decimals(value)));
  let next = Number((value + steps * step).toFixed(places));
  if (max !== null && next > max) next = max;
  if (min !== null && next < min) next = min;
  return next;
}

/**
 * A number field. Only "is there a number at all" is checked here; whole-ness and bounds
 * are the server's to judge, and its message is shown.
 *
 * It is a text input (with a numeric keyboard on phones), not the browser's number input:
 * that one changes its value under the mouse wheel (a person scrolling the dialog turned
 * 512 into 320), steps its arrow keys on a grid anchored at the minimum, and marks a
 * default off that grid invalid. Here the wheel scrolls, and the arrow keys move the value
 * by `step` (1 without one) from the value itself, within the bounds: `step` is how far the
 * arrows move, not a rule.
 * @param {Document} doc
 * @param {FieldSpec} spec
 * @param {string} fieldId
 * @returns {AnswerField}
 */
export function numberField(doc, spec, fieldId) {
  const whole = spec.type === VALUE_TYPES.INT;
  const input = element(doc, "input", "hitl-answer-input");
  input.type = "text";
  input.id = fieldId;
  input.dataset.valueType = whole ? "int" : "float";
  // A phone's digits-only keyboard may lack a minus sign: the full one when a bound says
  // negative numbers are expected.
  const negative = (spec.min !== null && spec.min < 0) || (spec.max !== null && spec.max < 0);
  input.inputMode = negative ? "text" : whole ? "numeric" : "decimal";
  input.setAttribute("role", "spinbutton");
  if (spec.min !== null) input.setAttribute("aria-valuemin", String(spec.min));
  if (spec.max !== null) input.setAttribute("aria-valuemax", String(spec.max));
  input.value = typeof spec.default === "number" ? String(spec.default) : "";
  input.autocomplete = "off";
  input.spellcheck = false;
  input.enterKeyHint = "send";
  const step = typeof spec.step === "number" && spec.step > 0 ? spec.step : 1;
  const showValue = () => {
    const value = Number(input.value.trim());
    if (input.value.trim() !== "" && Number.isFinite(value)) input.setAttribute("aria-valuenow", String(value));
    else input.removeAttribute("aria-valuenow");
  };
  input.addEventListener("input", showValue);
  showValue();
  const range = rangeText(spec.min, spec.max);
  return {
    root: input,
    focusTarget: input,
    hint: `${whole ? "A whole number" : "A number"}${range ? ` ${range}` : ""}.`,
    keys: "",
    draft: () => input.value,
    setDraft(text) {
      input.value = text;
      showValue();
    },
    onKey(event) {
      if (event.type !== "keydown" || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
      if (event.target !== input || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
      event.preventDefault();
      const text = input.value.trim();
      const current = Number(text);
      const direction = event.key === "ArrowUp" ? 1 : -1;
      let next;
      if (text === "" || !Number.isFinite(current)) {
        // Nothing to step from: start at the default, else the bound nearest to 0.
        next = typeof spec.default === "number" ? spec.default : stepValue(0, step, 0, spec.min, spec.max);
      } else {
        next = stepValue(current, step, event.shiftKey ? 10 * direction : direction, spec.min, spec.max);
      }
      input.value = String(next);
      // As typing would: the dialog hears the edit (its error line, its draft).
      input.dispatchEvent(new Event("input", { bubbles: true }));
    },
    read() {
      const text = input.value.trim();
      if (text === "") return { ok: false, message: whole ? "Enter a whole number." : "Enter a number." };
      const value = Number(text);
      if (Number.isNaN(value)) return { ok: false, message: whole ? "Enter a whole number." : "Enter a number." };
      if (!Number.isFinite(value)) return { ok: false, message: "Enter a finite number." };
      return { ok: true, value };
    },
  };
}

/**
 * A one-line or multi-line text field with a live character count.
 * @param {Document} doc
 * @param {FieldSpec} spec
 * @param {string} fieldId
 * @returns {AnswerField}
 */
export function textField(doc, spec, fieldId) {
  const multiline = spec.type === VALUE_TYPES.MULTILINE;
  const input = multiline ? element(doc, "textarea", "hitl-answer-input") : element(doc, "input", "hitl-answer-input");
  if (input instanceof HTMLInputElement) input.type = "text";
  else input.rows = 6;
  input.id = fieldId;
  input.value = typeof spec.default === "string" ? spec.default : "";
  input.spellcheck = true;
  input.autocomplete = "off";
  // Return starts a new line in multi-line text (on a phone it is the only way to one).
  input.enterKeyHint = multiline ? "enter" : "send";
  const touch = touchScreen(doc);
  const limit = spec.max_length ?? Infinity;
  const root = element(doc, "div");
  const count = element(doc, "div", "hitl-vp-hint hitl-vp-count");
  count.dataset.role = "count";
  const update = () => {
    const used = characterCount(input.value);
    count.textContent = Number.isFinite(limit) ? `${used} / ${limit} characters` : `${used} characters`;
    count.dataset.over = String(used > limit);
  };
  input.addEventListener("input", update);
  update();
  root.append(input, count);
  return {
    root,
    focusTarget: input,
    hint: "",
    keys: !multiline ? "" : touch ? "Return starts a new line; Send sends." : "Enter sends · Shift+Enter starts a new line.",
    draft: () => input.value,
    setDraft(text) {
      input.value = text;
      update();
    },
    read: () => ({ ok: true, value: input.value }),
  };
}

/**
 * Radio options (yes/no, or the choices), picked with the arrow keys, or 1–9.
 * @param {Document} doc
 * @param {string[]} labels
 * @param {number} checkedIndex
 * @param {string} groupName
 * @param {string} legend
 */
function radioGroup(doc, labels, checkedIndex, groupName, legend) {
  const group = element(doc, "fieldset", "hitl-vp-options");
  group.setAttribute("role", "radiogroup");
  group.setAttribute("aria-label", legend);
  /** @type {HTMLInputElement[]} */
  const radios = labels.map((label, index) => {
    const option = element(doc, "label", "hitl-vp-option");
    const radio = element(doc, "input");
    radio.type = "radio";
    radio.name = groupName;
    radio.value = String(index);
    radio.checked = index === checkedIndex;
    option.append(radio, element(doc, "span", undefined, label));
    if (labels.length <= 9) option.append(element(doc, "span", "hitl-vp-key", String(index + 1)));
    group.append(option);
    return radio;
  });
  /**
   * Digit keys pick the n-th option (shown at the right of each option).
   * @param {KeyboardEvent} event
   */
  const onKey = (event) => {
    if (!plainKeyIn(event, group)) return;
    const digit = Number(event.key);
    if (Number.isInteger(digit) && digit >= 1 && digit <= Math.min(9, radios.length)) {
      event.preventDefault();
      pick(radios[digit - 1]);
    }
  };
  /** @param {HTMLInputElement} radio */
  const pick = (radio) => {
    radio.checked = true;
    radio.focus();
    // As a click would: the dialog hears the edit (its error line, its draft).
    radio.dispatchEvent(new Event("input", { bubbles: true }));
    radio.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const checkedRadio = () => radios.find((radio) => radio.checked) ?? null;
  const draft = () => checkedRadio()?.value ?? "";
  /** @param {string} text */
  const setDraft = (text) => {
    const radio = radios.find((each) => each.value === text);
    if (radio) radio.checked = true;
  };
  return { group, radios, checkedRadio, onKey, pick, draft, setDraft };
}

/**
 * @param {Document} doc
 * @param {FieldSpec} spec
 * @param {string} fieldId
 * @returns {AnswerField}
 */
export function booleanField(doc, spec, fieldId) {
  const choice = radioGroup(doc, ["Yes", "No"], spec.default === true ? 0 : 1, fieldId, "Yes or no");
  const { group, radios, checkedRadio } = choice;
  group.dataset.layout = "row";
  radios[0].dataset.value = "true";
  radios[1].dataset.value = "false";
  return {
    root: group,
    focusTarget: checkedRadio() ?? radios[0],
    hint: "",
    keys: touchScreen(doc) ? "" : "Y / N or the arrow keys pick, Enter sends.",
    draft: choice.draft,
    setDraft: choice.setDraft,
    onKey(event) {
      const key = event.key.toLowerCase();
      if ((key === "y" || key === "n") && plainKeyIn(event, group)) {
        event.preventDefault();
        choice.pick(radios[key === "y" ? 0 : 1]);
        return;
      }
      choice.onKey(event);
    },
    read: () => ({ ok: true, value: checkedRadio() === radios[0] }),
  };
}

/**
 * @param {Document} doc
 * @param {FieldSpec} spec
 * @param {string} fieldId
 * @returns {AnswerField}
 */
export function choiceField(doc, spec, fieldId) {
  const choices = Array.isArray(spec.choices) ? spec.choices.map(String) : [];
  const start = typeof spec.default === "number" ? spec.default : 0;
  const choice = radioGroup(doc, choices, start, fieldId, "Choices");
  const { group, radios, checkedRadio } = choice;
  return {
    root: group,
    focusTarget: checkedRadio() ?? radios[0] ?? group,
    onKey: choice.onKey,
    draft: choice.draft,
    setDraft: choice.setDraft,
    hint: "",
    keys: touchScreen(doc)
      ? ""
      : choices.length <= 9
        ? "1–9 or the arrow keys pick, Enter sends."
        : "The arrow keys pick, Enter sends.",
    read() {
      const radio = checkedRadio();
      return radio ? { ok: true, value: Number(radio.value) } : { ok: false, message: "Pick one of the choices." };
    },
  };
}

/**
 * The field for a spec's type (text for STRING and STRING (multi-line)).
 * @param {Document} doc
 * @param {FieldSpec} spec
 * @param {string} fieldId a page-unique id (the control's id, and a radio group's name)
 * @returns {AnswerField}
 */
export function answerField(doc, spec, fieldId) {
  ensureStyle(doc, STYLE_ID, CSS);
  switch (spec.type) {
    case VALUE_TYPES.INT:
    case VALUE_TYPES.FLOAT:
      return numberField(doc, spec, fieldId);
    case VALUE_TYPES.BOOLEAN:
      return booleanField(doc, spec, fieldId);
    case VALUE_TYPES.CHOICE:
      return choiceField(doc, spec, fieldId);
    default:
      return textField(doc, spec, fieldId);
  }
}

/**
 * Put the focus in a field as a person starts answering: a number or a line is usually
 * replaced (selected), longer text usually edited (caret at the end).
 * @param {HTMLElement} target
 */
export function focusField(target) {
  target.focus();
  if (target instanceof HTMLInputElement && target.type !== "radio") target.select();
  if (target instanceof HTMLTextAreaElement) target.setSelectionRange(target.value.length, target.value.length);
}
