// @ts-check
/**
 * What the question dialogs (value prompt, form) share around their fields: the images of
 * the node's IMAGE input beside the question (below it on a narrow screen), Enter sends,
 * and whether the dialog may take the focus. (The subtitle, which node asks, is the
 * controller's, for every dialog.)
 */
import { element, ensureStyle } from "./dom.js";
import { touchScreen } from "./fields.js";

/**
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./controller.js").DialogTools} DialogTools
 * @typedef {{ image_count: number, images: { index: number, width: number, height: number }[] }} QuestionImages
 */

const STYLE_ID = "comfyui-hitl-question-style";

const CSS = `
.hitl-card[data-has-images="true"] { width: min(780px, var(--hitl-avail-w)); }
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
 * @param {import("./dialog.js").Dialog} dialog
 * @param {QuestionImages} payload
 * @param {string} className the question's own class(es)
 */
export function questionLayout(tools, view, dialog, payload, className) {
  ensureStyle(tools.doc, STYLE_ID, CSS);
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
 * Open a question's dialog, Send its primary button, and say whether the overlay gave it
 * the focus (see {@link overlayGaveFocus}).
 * @param {DialogTools} tools
 * @param {RequestView} view
 * @param {string} title
 * @param {() => Promise<void>} send
 */
export function openQuestion(tools, view, title, send) {
  const dialog = tools.openDialog(view, { title, primaryLabel: "Send", onPrimary: () => void send() });
  return { dialog, mayFocus: overlayGaveFocus(dialog) };
}

/**
 * Whether the overlay gave a dialog just opened the focus: it does not when the person is
 * busy elsewhere (typing in another dialog, or in one of ComfyUI's fields or windows), and
 * then the dialog must not take it either.
 * @param {import("./dialog.js").Dialog} dialog
 */
export function overlayGaveFocus(dialog) {
  return dialog.card.contains(dialog.card.ownerDocument.activeElement);
}

/**
 * Enter sends, from any field of the dialog; Shift+Enter stays a new line in multi-line
 * text, and buttons and links keep their own Enter. On a touch screen (no Shift+Enter)
 * return in multi-line text is a new line, and Send sends. (Ctrl/Cmd+Enter sends too: the
 * overlay's, in every dialog.) A handler added before this one that used the key (called
 * `preventDefault()`) keeps it.
 * @param {import("./dialog.js").Dialog} dialog
 * @param {() => void} send
 */
export function sendOnEnter(dialog, send) {
  const touch = touchScreen(dialog.card.ownerDocument);
  dialog.onKey((event) => {
    if (event.key !== "Enter" || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.defaultPrevented) return;
    const target = /** @type {HTMLElement} */ (event.target);
    if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement) return; // their own Enter
    if (target instanceof HTMLTextAreaElement && (event.shiftKey || touch)) return; // a new line
    event.preventDefault();
    send();
  });
}
