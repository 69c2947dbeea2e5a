// @ts-check
/**
 * What the question dialogs (value prompt, form) share around their fields: the images of
 * the node's IMAGE input beside the question (below it on a narrow screen), the subtitle
 * that says which node asks, Enter sends, and whether the person is already typing in
 * another of our dialogs (then a new one must not take the focus).
 */
import { element } from "./overlay.js";

/**
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./controller.js").DialogTools} DialogTools
 * @typedef {{ image_count: number, images: { index: number, width: number, height: number }[] }} QuestionImages
 */

const STYLE_ID = "comfyui-hitl-question-style";

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
`;

/** Add the question layout's style sheet to the page once. @param {Document} doc */
export function ensureQuestionStyle(doc) {
  if (doc.getElementById(STYLE_ID)) return;
  const style = element(doc, "style", undefined, CSS);
  style.id = STYLE_ID;
  doc.head.append(style);
}

/**
 * Thumbnails of the request's IMAGE input; each links to the full-size image.
 * @param {DialogTools} tools
 * @param {RequestView} view
 * @param {QuestionImages} payload
 */
export function imageStrip(tools, view, payload) {
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
 * The layout of a question: the images (if any) and the question beside them. The caller
 * fills `question` and appends `layout` to the dialog's body.
 * @param {DialogTools} tools
 * @param {RequestView} view
 * @param {import("./overlay.js").Dialog} dialog
 * @param {QuestionImages} payload
 * @param {string} className the question's own class(es)
 */
export function questionLayout(tools, view, dialog, payload, className) {
  ensureQuestionStyle(tools.doc);
  const hasImages = Array.isArray(payload.images) && payload.images.length > 0;
  if (hasImages) dialog.card.dataset.hasImages = "true";
  const layout = element(tools.doc, "div", "hitl-vp");
  layout.dataset.hasImages = String(hasImages);
  if (hasImages) layout.append(imageStrip(tools, view, payload));
  const question = element(tools.doc, "div", className);
  layout.append(question);
  return { layout, question };
}

/**
 * Which node asks, and whether it belongs to this tab's workflow.
 * @param {DialogTools} tools
 * @param {RequestView} view
 */
export function questionSubtitle(tools, view) {
  let subtitle = tools.controller.describe(view);
  const workflow = view.payload?.workflow_id;
  if (workflow && workflow === tools.controller.activeWorkflowId()) subtitle += " · this tab's workflow";
  return subtitle;
}

/**
 * Is the person already typing in another of our dialogs? Then a new one must not take the focus.
 * @param {DialogTools} tools
 */
export function typingElsewhere(tools) {
  const active = tools.doc.activeElement;
  return !!(active && active !== tools.doc.body && tools.overlay.layer?.contains(active));
}

/**
 * Enter sends, from any field of the card; Shift+Enter stays a new line in multi-line text,
 * and buttons and links keep their own Enter.
 * @param {HTMLElement} card
 * @param {() => void} send
 */
export function sendOnEnter(card, send) {
  card.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement) return; // their own Enter
    if (target instanceof HTMLTextAreaElement && event.shiftKey) return; // a new line
    event.preventDefault();
    send();
  });
}
