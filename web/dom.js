// @ts-check
/**
 * The DOM helpers every dialog, the inbox and the settings rows build with: elements whose
 * text is always set as text (workflow strings are never parsed as HTML), a style sheet
 * added to the page once, and the plain buttons of our toolbars. No side effect on import.
 */

/**
 * Create an element with a class and, optionally, text (always as text, never HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {Document} doc
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function element(doc, tag, className, text) {
  const el = doc.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * Add a style sheet to the page once: a second call with the same `id` does nothing, so
 * every dialog may call it when it opens.
 * @param {Document} doc
 * @param {string} id the `<style>` element's id
 * @param {string} css
 */
export function ensureStyle(doc, id, css) {
  if (doc.getElementById(id)) return;
  const style = element(doc, "style", undefined, css);
  style.id = id;
  doc.head.append(style);
}

/**
 * A toolbar button of ours: `data-action` names it for tests and for users' own CSS, the
 * title says what it does (and its key).
 * @param {Document} doc
 * @param {string} label
 * @param {string} action
 * @param {string} title
 * @param {() => void} onClick
 */
export function actionButton(doc, label, action, title, onClick) {
  const button = element(doc, "button", "hitl-button", label);
  button.type = "button";
  button.dataset.action = action;
  button.title = title;
  button.addEventListener("click", onClick);
  return button;
}
