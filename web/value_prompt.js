// @ts-check
/**
 * The value prompt's browser half: a dialog that asks for an INT, FLOAT, text, yes/no or a
 * choice. Keyboard first: focus starts in the field, Enter sends, Shift+Enter is a new line
 * in multi-line text, Esc cancels the run (the overlay maps it). The server checks every
 * answer; its refusal (422) shows under the field and the run keeps waiting. Checks here
 * are a convenience only. Everything from the workflow is shown as text.
 */
import { element } from "./overlay.js";
import { KINDS, VALUE_TYPES } from "./protocol.js";

/**
 * The payload of a value-prompt request (`ValuePrompt.prompt` in nodes/value_prompt.py).
 * @typedef {{
 *   type: string,
 *   title: string,
 *   message: string,
 *   default: unknown,
 *   default_text: string,
 *   min: number | null,
 *   max: number | null,
 *   step: number | null,
 *   max_length: number | null,
 *   choices: string[],
 *   timeout_uses_default: boolean,
 *   image_count: number,
 *   images: { index: number, width: number, height: number }[],
 *   workflow_id: string | null,
 * }} ValuePromptPayload
 * @typedef {{ ok: true, value: unknown } | { ok: false, message: string }} ReadResult
 * @typedef {{
 *   root: HTMLElement,
 *   focusTarget: HTMLElement,
 *   read(): ReadResult,
 *   hint: string,
 *   onKey?: (event: KeyboardEvent) => void,
 *   draft(): string,
 *   setDraft(text: string): void,
 * }} AnswerField  `draft`/`setDraft`: what is typed or picked, as text, kept across a reload
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./controller.js").DialogTools} DialogTools
 */

const STYLE_ID = "comfyui-hitl-value-prompt-style";
/** What was typed into a waiting prompt, per request id, in this tab (sessionStorage). */
const DRAFT_KEY_PREFIX = "comfyui-hitl.value-prompt.draft.";

const CSS = `
.hitl-card[data-has-images="true"] { width: min(780px, calc(100vw - 16px)); }
.hitl-vp { display: grid; grid-template-columns: minmax(0, 1fr); gap: 12px; }
.hitl-vp[data-has-images="true"] { grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); }
@media (max-width: 600px) { .hitl-vp[data-has-images="true"] { grid-template-columns: minmax(0, 1fr); } }
.hitl-vp-images { display: flex; flex-wrap: wrap; gap: 6px; align-content: flex-start; }
.hitl-vp-images a { flex: 1 1 120px; max-width: 100%; }
.hitl-vp-images img { display: block; width: 100%; height: auto; max-height: 50vh; object-fit: contain;
  border-radius: 6px; background: rgba(255,255,255,.04); }
.hitl-vp-more { font-size: 12px; opacity: .7; align-self: center; }
.hitl-vp-question { display: flex; flex-direction: column; min-width: 0; }
.hitl-vp-question input[type="text"], .hitl-vp-question input[type="number"], .hitl-vp-question textarea {
  width: 100%; box-sizing: border-box; font-size: 16px; }
.hitl-vp-question textarea { min-height: 8em; resize: vertical; }
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

/** @param {Document} doc */
function ensureStyle(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = element(doc, "style", undefined, CSS);
  style.id = STYLE_ID;
  doc.head.append(style);
}

/** Characters as the server counts them: code points, not UTF-16 units. @param {string} text */
function characterCount(text) {
  return [...text].length;
}

/** @param {number | null} min @param {number | null} max */
function rangeText(min, max) {
  if (min !== null && max !== null) return `from ${min} to ${max}`;
  if (min !== null) return `at least ${min}`;
  if (max !== null) return `at most ${max}`;
  return "";
}

/**
 * A number field. Only "is there a number at all" is checked here; whole-ness and bounds
 * are the server's to judge, and its message is shown.
 * @param {Document} doc
 * @param {ValuePromptPayload} payload
 * @param {string} fieldId
 * @returns {AnswerField}
 */
function numberField(doc, payload, fieldId) {
  const whole = payload.type === VALUE_TYPES.INT;
  const input = element(doc, "input");
  input.type = "number";
  input.id = fieldId;
  input.inputMode = whole ? "numeric" : "decimal";
  if (payload.min !== null) input.min = String(payload.min);
  if (payload.max !== null) input.max = String(payload.max);
  input.step = payload.step !== null ? String(payload.step) : whole ? "1" : "any";
  input.value = typeof payload.default === "number" ? String(payload.default) : "";
  input.autocomplete = "off";
  const range = rangeText(payload.min, payload.max);
  return {
    root: input,
    focusTarget: input,
    draft: () => input.value,
    setDraft(text) {
      input.value = text;
    },
    hint: `${whole ? "A whole number" : "A number"}${range ? ` ${range}` : ""}.`,
    read() {
      const text = input.value.trim();
      // An unparsable entry leaves value empty (the browser flags it as bad input).
      if (text === "") return { ok: false, message: whole ? "Enter a whole number." : "Enter a number." };
      const value = Number(text);
      if (!Number.isFinite(value)) return { ok: false, message: "Enter a finite number." };
      return { ok: true, value };
    },
  };
}

/**
 * A one-line or multi-line text field with a live character count.
 * @param {Document} doc
 * @param {ValuePromptPayload} payload
 * @param {string} fieldId
 * @returns {AnswerField}
 */
function textField(doc, payload, fieldId) {
  const multiline = payload.type === VALUE_TYPES.MULTILINE;
  const input = multiline ? element(doc, "textarea") : element(doc, "input");
  if (input instanceof HTMLInputElement) input.type = "text";
  else input.rows = 6;
  input.id = fieldId;
  input.value = typeof payload.default === "string" ? payload.default : "";
  input.spellcheck = true;
  input.autocomplete = "off";
  const limit = payload.max_length ?? Infinity;
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
    draft: () => input.value,
    setDraft(text) {
      input.value = text;
      update();
    },
    hint: multiline ? "Enter sends · Shift+Enter starts a new line." : "",
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
  /** @param {KeyboardEvent} event */
  const onKey = (event) => {
    // Digit keys pick the n-th option (shown at the right of each option).
    const digit = Number(event.key);
    if (!group.contains(/** @type {Node} */ (event.target)) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (Number.isInteger(digit) && digit >= 1 && digit <= Math.min(9, radios.length)) {
      event.preventDefault();
      radios[digit - 1].checked = true;
      radios[digit - 1].focus();
    }
  };
  const checkedRadio = () => radios.find((radio) => radio.checked) ?? null;
  const draft = () => checkedRadio()?.value ?? "";
  /** @param {string} text */
  const setDraft = (text) => {
    const radio = radios.find((each) => each.value === text);
    if (radio) radio.checked = true;
  };
  return { group, radios, checkedRadio, onKey, draft, setDraft };
}

/**
 * @param {Document} doc
 * @param {ValuePromptPayload} payload
 * @param {string} fieldId
 * @returns {AnswerField}
 */
function booleanField(doc, payload, fieldId) {
  const choice = radioGroup(doc, ["Yes", "No"], payload.default === true ? 0 : 1, fieldId, "Yes or no");
  const { group, radios, checkedRadio } = choice;
  group.dataset.layout = "row";
  radios[0].dataset.value = "true";
  radios[1].dataset.value = "false";
  return {
    root: group,
    focusTarget: checkedRadio() ?? radios[0],
    draft: choice.draft,
    setDraft: choice.setDraft,
    onKey(event) {
      const key = event.key.toLowerCase();
      if ((key === "y" || key === "n") && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        const radio = radios[key === "y" ? 0 : 1];
        radio.checked = true;
        radio.focus();
        return;
      }
      choice.onKey(event);
    },
    hint: "Y / N or the arrow keys pick, Enter sends.",
    read: () => ({ ok: true, value: checkedRadio() === radios[0] }),
  };
}

/**
 * @param {Document} doc
 * @param {ValuePromptPayload} payload
 * @param {string} fieldId
 * @returns {AnswerField}
 */
function choiceField(doc, payload, fieldId) {
  const choices = Array.isArray(payload.choices) ? payload.choices.map(String) : [];
  const start = typeof payload.default === "number" ? payload.default : 0;
  const choice = radioGroup(doc, choices, start, fieldId, "Choices");
  const { group, radios, checkedRadio } = choice;
  return {
    root: group,
    focusTarget: checkedRadio() ?? radios[0] ?? group,
    onKey: choice.onKey,
    draft: choice.draft,
    setDraft: choice.setDraft,
    hint: choices.length <= 9 ? "1–9 or the arrow keys pick, Enter sends." : "The arrow keys pick, Enter sends.",
    read() {
      const radio = checkedRadio();
      return radio ? { ok: true, value: Number(radio.value) } : { ok: false, message: "Pick one of the choices." };
    },
  };
}

/**
 * @param {Document} doc
 * @param {ValuePromptPayload} payload
 * @param {string} fieldId
 * @returns {AnswerField}
 */
function answerField(doc, payload, fieldId) {
  switch (payload.type) {
    case VALUE_TYPES.INT:
    case VALUE_TYPES.FLOAT:
      return numberField(doc, payload, fieldId);
    case VALUE_TYPES.BOOLEAN:
      return booleanField(doc, payload, fieldId);
    case VALUE_TYPES.CHOICE:
      return choiceField(doc, payload, fieldId);
    default:
      return textField(doc, payload, fieldId);
  }
}

/**
 * Thumbnails of the request's IMAGE input; each links to the full-size image.
 * @param {DialogTools} tools
 * @param {RequestView} view
 * @param {ValuePromptPayload} payload
 */
function imageStrip(tools, view, payload) {
  const strip = element(tools.doc, "div", "hitl-vp-images");
  for (const image of payload.images) {
    const link = element(tools.doc, "a");
    link.href = tools.client.imageUrl(view.id, image.index, "full");
    link.target = "_blank";
    link.rel = "noopener";
    link.title = "Open at full size";
    const img = element(tools.doc, "img");
    img.src = tools.client.imageUrl(view.id, image.index, "thumb");
    img.alt = `Image ${image.index + 1} of ${payload.image_count}`;
    // Known size up front, so the dialog does not jump when the thumbnail arrives.
    img.width = image.width;
    img.height = image.height;
    img.decoding = "async";
    link.append(img);
    strip.append(link);
  }
  const hidden = payload.image_count - payload.images.length;
  if (hidden > 0) strip.append(element(tools.doc, "span", "hitl-vp-more", `and ${hidden} more`));
  return strip;
}

/**
 * What happens when time runs out, said plainly.
 * @param {RequestView} view
 * @param {ValuePromptPayload} payload
 */
function timeoutText(view, payload) {
  if (!(view.timeout_s > 0)) return "";
  if (!payload.timeout_uses_default) return "When the time runs out, the run is cancelled.";
  const shown = payload.default_text === "" ? "empty text" : payload.default_text;
  return `When the time runs out, the default (${shown}) is used.`;
}

/** @param {string} key @returns {string | null} */
function readDraft(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null; // storage can be disabled; the dialog works without it
  }
}

/** @param {string} key @param {string | null} value */
function writeDraft(key, value) {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // Storage full or disabled: only the convenience of surviving a reload is lost.
  }
}

/** @type {import("./controller.js").KindHandler} */
export const valuePromptHandler = {
  kind: KINDS.VALUE_PROMPT,
  open(view, tools) {
    const doc = tools.doc;
    ensureStyle(doc);
    const payload = /** @type {ValuePromptPayload} */ (view.payload ?? {});

    /** @type {import("./overlay.js").Dialog} */
    const dialog = tools.openDialog(view, {
      title: payload.title || "Enter a value",
      primaryLabel: "Send",
      onPrimary: () => void send(),
    });
    // The overlay gave this dialog the focus unless the person is busy elsewhere (typing in
    // another dialog or in ComfyUI): then it must not be taken.
    const mayFocus = dialog.card.contains(doc.activeElement);
    const hasImages = Array.isArray(payload.images) && payload.images.length > 0;
    dialog.card.dataset.valueType = String(payload.type);
    if (hasImages) dialog.card.dataset.hasImages = "true";

    const fieldId = `hitl-vp-field-${view.id}`;
    const field = answerField(doc, payload, fieldId);
    const layout = element(doc, "div", "hitl-vp");
    layout.dataset.hasImages = String(hasImages);
    if (hasImages) layout.append(imageStrip(tools, view, payload));

    const question = element(doc, "div", "hitl-vp-question hitl-field");
    if (payload.message) {
      const message = element(doc, "div", "hitl-message", payload.message);
      message.id = `${fieldId}-message`;
      question.append(message);
      field.focusTarget.setAttribute("aria-describedby", message.id);
    }
    question.append(field.root);
    const hints = [field.hint, timeoutText(view, payload)].filter(Boolean).join(" ");
    if (hints) question.append(element(doc, "div", "hitl-vp-hint", hints));
    layout.append(question);
    dialog.body.append(layout);

    // What was typed survives a reload (per request id, in this tab only).
    const draftKey = `${DRAFT_KEY_PREFIX}${view.id}`;
    const saved = readDraft(draftKey);
    if (saved !== null) field.setDraft(saved);
    const keepDraft = () => writeDraft(draftKey, field.draft());

    // A new edit makes the last refusal stale.
    question.addEventListener("input", () => {
      dialog.setError(null);
      keepDraft();
    });
    question.addEventListener("change", () => {
      dialog.setError(null);
      keepDraft();
    });

    async function send() {
      const read = field.read();
      if (!read.ok) {
        dialog.setError(read.message);
        field.focusTarget.focus();
        return;
      }
      const accepted = await tools.submit(view, dialog, read.value);
      if (accepted) writeDraft(draftKey, null);
      // Refused: the server's reason is shown; put the person back in the field to fix it.
      else if (!dialog.closed) field.focusTarget.focus();
    }

    if (field.onKey) dialog.onKey(field.onKey);
    dialog.onKey((event) => {
      // Enter sends (Ctrl/Cmd+Enter too: the overlay's); Shift+Enter is a new line in text.
      if (event.key !== "Enter" || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = /** @type {HTMLElement} */ (event.target);
      if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement) return; // their own Enter
      if (target instanceof HTMLTextAreaElement && event.shiftKey) return; // a new line
      event.preventDefault();
      void send();
    });

    if (mayFocus) {
      const target = field.focusTarget;
      target.focus();
      // A number or a line is usually replaced: select it. Longer text is usually edited: caret at the end.
      if (target instanceof HTMLInputElement && target.type !== "radio") target.select();
      if (target instanceof HTMLTextAreaElement) target.setSelectionRange(target.value.length, target.value.length);
    }
  },
};
