// @ts-check
/**
 * The form's browser half: one dialog with a row per field (label, control, what fits, and
 * the field's own error line), built from the same typed fields as the value prompt
 * (fields.js). Keyboard first: the focus starts in the first field, Tab moves between
 * fields, Enter sends (Shift+Enter is a new line in multi-line text), Ctrl/Cmd+Enter sends
 * from anywhere and Esc cancels the run (both the overlay's). The answer is one object,
 * field name → value; the server checks every field and a refusal names the field, so its
 * message shows under that field and the run keeps waiting. Long forms scroll inside the
 * card. What was typed survives a reload of the tab (one draft per request, every field's
 * text by name). Everything from the workflow is shown as text.
 */
import { RequestDraft, answerField, focusField, touchScreen } from "./fields.js";
import { element, ensureStyle } from "./dom.js";
import { KINDS, VALUE_TYPES } from "./protocol.js";
import { openQuestion, questionLayout, sendOnEnter } from "./question.js";

/**
 * One field of a form request (`FieldSpec.describe` in questions/values.py).
 * @typedef {import("./fields.js").FieldSpec & { name: string, label: string, default_text: string }} FormFieldSpec
 * The payload of a form request (`Form.fill_in` in nodes/form.py).
 * @typedef {{
 *   title: string,
 *   message: string,
 *   fields: FormFieldSpec[],
 *   timeout_uses_default: boolean,
 *   image_count: number,
 *   images: { index: number, width: number, height: number }[],
 *   workflow_id: string | null,
 * }} FormPayload
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {{
 *   name: string,
 *   label: string,
 *   root: HTMLElement,
 *   field: import("./fields.js").AnswerField,
 *   setError(message: string | null): void,
 * }} FormRow
 */

const STYLE_ID = "comfyui-hitl-form-style";

const CSS = `
.hitl-form-field { margin: 4px 0 10px; }
.hitl-form-label { font-weight: 600; font-size: 13px; overflow-wrap: anywhere; }
.hitl-form-field .hitl-vp-options { flex-direction: row; flex-wrap: wrap; max-height: 30vh; }
.hitl-form-field .hitl-vp-option { flex: 1 1 auto; }
.hitl-card .hitl-form-field textarea.hitl-answer-input { min-height: 4.5em; }
.hitl-form-error { color: #ff8a80; font-size: 12px; overflow-wrap: anywhere; }
.hitl-form-error:empty { display: none; }
.hitl-form-field[data-invalid="true"] .hitl-answer-input { border-color: #ff8a80; }
.hitl-form-field[data-invalid="true"] .hitl-vp-options { outline: 1px solid #ff8a80; border-radius: 6px; }
.hitl-form-keys { margin-top: 4px; }
`;

/**
 * The keys that help in this form, and what happens when time runs out, said once below
 * the fields (not under each one).
 * @param {RequestView} view
 * @param {FormPayload} payload
 * @param {boolean} touch worked by touch (see fields.js's touchScreen)
 */
function footnote(view, payload, touch) {
  const types = new Set(payload.fields.map((field) => field.type));
  let text;
  if (touch) {
    // A touch screen has no Tab, Esc or Shift+Enter: say what its return key does.
    text = types.has(VALUE_TYPES.MULTILINE)
      ? "Return moves to the next field, or starts a new line in multi-line text; Send sends."
      : "Return moves to the next field; Send sends.";
  } else {
    const keys = ["Enter sends", "Tab moves to the next field"];
    if (types.has(VALUE_TYPES.MULTILINE)) keys.push("Shift+Enter starts a new line");
    if (types.has(VALUE_TYPES.BOOLEAN)) keys.push("Y / N answer yes or no");
    if (types.has(VALUE_TYPES.CHOICE)) keys.push("the arrow keys (or 1–9) pick a choice");
    keys.push("Esc cancels the run");
    text = `${keys.join(" · ")}.`;
  }
  if (view.timeout_s > 0) {
    text += payload.timeout_uses_default
      ? " When the time runs out, the defaults are used."
      : " When the time runs out, the run is cancelled.";
  }
  return text;
}

/**
 * A row of the form: the label, the control, what fits, and the field's error line.
 * @param {Document} doc
 * @param {FormFieldSpec} spec
 * @param {string} fieldId
 * @returns {FormRow}
 */
function formRow(doc, spec, fieldId) {
  const field = answerField(doc, spec, fieldId);
  // Several fields share the card: multi-line text starts smaller (it can be resized).
  if (field.focusTarget instanceof HTMLTextAreaElement) field.focusTarget.rows = 3;
  const root = element(doc, "div", "hitl-form-field hitl-field");
  root.dataset.field = spec.name;
  root.dataset.type = spec.type;
  const label = element(doc, "label", "hitl-form-label", spec.label || spec.name);
  label.id = `${fieldId}-label`;
  const radios = field.root.getAttribute("role") === "radiogroup";
  // A radio group is labelled as a whole; a control by its own <label for>.
  if (radios) field.root.setAttribute("aria-labelledby", label.id);
  else label.htmlFor = fieldId;
  root.append(label, field.root);
  const described = [];
  if (field.hint) {
    const hint = element(doc, "div", "hitl-vp-hint", field.hint);
    hint.id = `${fieldId}-hint`;
    described.push(hint.id);
    root.append(hint);
  }
  const error = element(doc, "div", "hitl-form-error");
  error.id = `${fieldId}-error`;
  error.dataset.role = "field-error";
  error.setAttribute("aria-live", "polite");
  described.push(error.id);
  root.append(error);
  (radios ? field.root : field.focusTarget).setAttribute("aria-describedby", described.join(" "));
  return {
    name: spec.name,
    label: spec.label || spec.name,
    root,
    field,
    setError(message) {
      error.textContent = message ?? "";
      root.dataset.invalid = String(!!message);
      field.focusTarget.setAttribute("aria-invalid", String(!!message));
    },
  };
}

/**
 * The server names a refused field by its name, the answer's key ("nick: too long"): the
 * person knows it by its label ("Short name: too long").
 * @param {string} message @param {FormRow | null} row
 */
function labelled(message, row) {
  if (!row) return message;
  const prefix = `${row.name}: `;
  return message.startsWith(prefix) ? `${row.label}: ${message.slice(prefix.length)}` : message;
}

/** Bring a row into view and put the person in its control to fix it. @param {FormRow} row */
function revisit(row) {
  row.root.scrollIntoView({ block: "nearest" });
  row.field.focusTarget.focus();
}

/** @type {import("./controller.js").KindHandler} */
export const formHandler = {
  kind: KINDS.FORM,
  open(view, tools) {
    const doc = tools.doc;
    ensureStyle(doc, STYLE_ID, CSS);
    const payload = /** @type {FormPayload} */ (view.payload ?? {});
    const specs = Array.isArray(payload.fields) ? payload.fields : [];

    const { dialog, mayFocus } = openQuestion(tools, view, payload.title || "Fill in the form", send);
    dialog.card.dataset.fieldCount = String(specs.length);

    const { layout, question } = questionLayout(tools, view, dialog, payload, "hitl-vp-question hitl-form");
    if (payload.message) question.append(element(doc, "div", "hitl-message", payload.message));
    // Ids by position: a name is any identifier, an index is always a safe id.
    const rows = specs.map((spec, index) => formRow(doc, spec, `hitl-form-${view.id}-${index}`));
    /** @type {Map<string, FormRow>} */
    const byName = new Map(rows.map((row) => [row.name, row]));

    // What was typed survives a reload: one draft per request, each field's text by name.
    const draft = new RequestDraft(view.id);
    const saved = draft.load();
    if (saved && typeof saved === "object") {
      for (const [name, text] of Object.entries(saved)) {
        if (typeof text === "string") byName.get(name)?.field.setDraft(text);
      }
    }
    const keepDraft = () => draft.save(Object.fromEntries(rows.map((row) => [row.name, row.field.draft()])));

    for (const row of rows) {
      question.append(row.root);
      // A new edit makes the field's last refusal, and the dialog's, stale. (Not "change":
      // it also fires when the focus leaves an edited field, e.g. to go to the one refused.)
      row.root.addEventListener("input", () => {
        row.setError(null);
        dialog.setError(null);
        keepDraft();
      });
      row.root.addEventListener("change", keepDraft);
      if (row.field.onKey) dialog.onKey(row.field.onKey);
    }
    const touch = touchScreen(doc);
    question.append(element(doc, "div", "hitl-vp-hint hitl-form-keys", footnote(view, payload, touch)));
    // One-line fields: the keyboard's return key says "next", the last one's "send".
    const lines = rows.filter((row) => row.field.focusTarget instanceof HTMLInputElement && row.field.focusTarget.type !== "radio");
    lines.forEach((row, index) => {
      row.field.focusTarget.enterKeyHint = index === lines.length - 1 ? "send" : "next";
    });
    if (touch) {
      // On a touch screen return in a one-line field moves to the next field (it says "next");
      // only the last one's sends. (With a keyboard, Enter sends from any field.)
      dialog.onKey((event) => {
        if (event.key !== "Enter" || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
        const at = lines.findIndex((row) => row.field.focusTarget === event.target);
        if (at < 0 || at === lines.length - 1) return;
        event.preventDefault();
        const next = rows[rows.indexOf(lines[at]) + 1];
        revisit(next);
        focusField(next.field.focusTarget);
      });
    }
    dialog.body.append(layout);

    async function send() {
      /** @type {[string, unknown][]} */
      const entries = [];
      /** @type {FormRow | null} */
      let firstBad = null;
      for (const row of rows) {
        const read = row.field.read();
        if (read.ok) {
          row.setError(null);
          entries.push([row.name, read.value]);
        } else {
          row.setError(read.message);
          firstBad ??= row;
        }
      }
      if (firstBad) {
        revisit(firstBad);
        return;
      }
      /** @type {FormRow | null} */
      let refused = null;
      // fromEntries makes each name an own property, whatever it is.
      const accepted = await tools.submit(view, dialog, Object.fromEntries(entries), {
        showRefusal(error) {
          refused = (error.field !== undefined && byName.get(error.field)) || null;
          refused?.setError(labelled(error.message, refused));
          return refused !== null;
        },
      });
      if (accepted) draft.clear();
      // Refused: the server's reason is shown under its field; put the person there to fix it.
      else if (!dialog.closed && refused) revisit(refused);
    }

    sendOnEnter(dialog, () => void send());
    if (rows.length > 0) {
      dialog.setFocusTarget(rows[0].field.focusTarget);
      if (mayFocus) focusField(rows[0].field.focusTarget);
    }
  },
};
