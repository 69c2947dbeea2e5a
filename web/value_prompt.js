// @ts-check
/**
 * The value prompt's browser half: a dialog that asks for an INT, FLOAT, text, yes/no or a
 * choice. Keyboard first: focus starts in the field, Enter sends, Shift+Enter is a new line
 * in multi-line text, Ctrl/Cmd+Enter sends from anywhere and Esc cancels the run (both the
 * overlay's). The server checks every answer; its refusal (422) shows under the field and
 * the run keeps waiting. The field itself is the shared one of fields.js (the form uses the
 * same); checks here are a convenience only. What was typed survives a reload of the tab.
 * Everything from the workflow is shown as text.
 */
import { RequestDraft, answerField, focusField } from "./fields.js";
import { element } from "./dom.js";
import { KINDS } from "./protocol.js";
import { openQuestion, questionLayout, sendOnEnter } from "./question.js";

/**
 * The payload of a value-prompt request (`ValuePrompt.prompt` in nodes/value_prompt.py).
 * @typedef {import("./fields.js").FieldSpec & {
 *   title: string,
 *   message: string,
 *   default_text: string,
 *   timeout_uses_default: boolean,
 *   image_count: number,
 *   images: { index: number, width: number, height: number }[],
 *   workflow_id: string | null,
 * }} ValuePromptPayload
 * @typedef {import("./protocol.js").RequestView} RequestView
 */

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

/** @type {import("./controller.js").KindHandler} */
export const valuePromptHandler = {
  kind: KINDS.VALUE_PROMPT,
  open(view, tools) {
    const doc = tools.doc;
    const payload = /** @type {ValuePromptPayload} */ (view.payload ?? {});

    const { dialog, mayFocus } = openQuestion(tools, view, payload.title || "Enter a value", send);
    dialog.card.dataset.valueType = String(payload.type);

    const fieldId = `hitl-vp-field-${view.id}`;
    const field = answerField(doc, payload, fieldId);
    const { layout, question } = questionLayout(tools, view, dialog, payload, "hitl-vp-question hitl-field");
    if (payload.message) {
      const message = element(doc, "div", "hitl-message", payload.message);
      message.id = `${fieldId}-message`;
      question.append(message);
      field.focusTarget.setAttribute("aria-describedby", message.id);
    }
    question.append(field.root);
    const hints = [field.hint, field.keys, timeoutText(view, payload)].filter(Boolean).join(" ");
    if (hints) question.append(element(doc, "div", "hitl-vp-hint", hints));
    dialog.body.append(layout);

    // What was typed survives a reload (per request id, in this tab only).
    const draft = new RequestDraft(view.id);
    const saved = draft.load();
    if (typeof saved === "string") field.setDraft(saved);

    // A new edit makes the last refusal stale.
    for (const type of ["input", "change"]) {
      question.addEventListener(type, () => {
        dialog.setError(null);
        draft.save(field.draft());
      });
    }

    async function send() {
      const read = field.read();
      if (!read.ok) {
        dialog.setError(read.message);
        field.focusTarget.focus();
        return;
      }
      const accepted = await tools.submit(view, dialog, read.value);
      if (accepted) draft.clear();
      // Refused: the server's reason is shown; put the person back in the field to fix it.
      else if (!dialog.closed) field.focusTarget.focus();
    }

    if (field.onKey) dialog.onKey(field.onKey);
    sendOnEnter(dialog, () => void send());
    dialog.setFocusTarget(field.focusTarget);
    if (mayFocus) focusField(field.focusTarget);
  },
};
