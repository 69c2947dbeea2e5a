// @ts-check
/**
 * The dialogs there are, one per kind of request: the one list both pages use, a ComfyUI
 * tab (main.js) and the inbox (inbox/inbox.js). A new kind of dialog is added here only.
 *
 * The doubler's handler is there at once: without "ask first" it answers by itself, with no
 * dialog, even in a page that only lists requests. Every other dialog's module is loaded
 * when it is asked for (`import()`, by the same URL ComfyUI imports it by, so it is the same
 * module): the inbox shows its list with as few bytes as possible and loads them after,
 * while a ComfyUI tab loads them all before it starts (ComfyUI imports every module under
 * web/ anyway).
 */
import { doublerHandler } from "./doubler.js";
import { KINDS } from "./protocol.js";

/**
 * @typedef {import("./controller.js").KindHandler} KindHandler
 * @typedef {import("./controller.js").HitlController} HitlController
 */

/** The handlers a page has from the start. */
export const EAGER_HANDLERS = Object.freeze([doublerHandler]);

/**
 * Each dialog's module, loaded on first use, by the kind of request it answers.
 * @type {Readonly<Record<string, () => Promise<KindHandler>>>}
 */
export const DIALOG_MODULES = Object.freeze({
  [KINDS.VALUE_PROMPT]: () => import("./value_prompt.js").then((module) => module.valuePromptHandler),
  [KINDS.IMAGE_PICKER]: () => import("./image_picker.js").then((module) => module.imagePickerHandler),
  [KINDS.FORM]: () => import("./form.js").then((module) => module.formHandler),
  [KINDS.MASK_PAINTER]: () => import("./mask_painter.js").then((module) => module.maskPainterHandler),
});

/**
 * Every kind's handler, its module loaded: for a page that opens dialogs as soon as it starts.
 * @returns {Promise<KindHandler[]>}
 */
export async function loadAllHandlers() {
  return [...EAGER_HANDLERS, ...(await Promise.all(Object.values(DIALOG_MODULES).map((load) => load())))];
}

/**
 * Every kind's handler, the dialogs' modules loaded on first use: for a page that shows
 * itself before any dialog (the inbox).
 * @param {HitlController} controller
 * @returns {KindHandler[]}
 */
export function lazyHandlers(controller) {
  return [
    ...EAGER_HANDLERS,
    ...Object.entries(DIALOG_MODULES).map(([kind, load]) => lazyHandler(kind, load, controller)),
  ];
}

/**
 * A handler that loads its dialog module on first use.
 * @param {string} kind
 * @param {() => Promise<KindHandler>} load
 * @param {HitlController} controller
 * @returns {KindHandler}
 */
function lazyHandler(kind, load, controller) {
  return {
    kind,
    open(view, tools) {
      load().then(
        (handler) => {
          // The request may have ended, or its dialog opened, while the module was on its way.
          if (controller.waiting.has(view.id) && !tools.overlay.get(view.id)) handler.open(view, tools);
        },
        (error) => tools.overlay.notice(`Could not load the dialog: ${error}`),
      );
    },
  };
}
