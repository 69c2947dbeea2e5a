// @ts-check
/** The integer doubler's browser half: double the value and post it back. */
import { element } from "./dom.js";
import { KINDS } from "./protocol.js";

/** @type {import("./controller.js").KindHandler} */
export const doublerHandler = {
  kind: KINDS.INTEGER_DOUBLER,
  needsPerson: (view) => Boolean(view.payload?.ask_first),
  open(view, tools) {
    const value = Number(view.payload?.value);
    const doubled = value * 2;
    if (!doublerHandler.needsPerson?.(view)) {
      // The classic example: no dialog, no click; the run goes on at once.
      void tools.submit(view, null, doubled);
      return;
    }
    /** @type {import("./dialog.js").Dialog} */
    const dialog = tools.openDialog(view, {
      title: "Integer doubler",
      primaryLabel: "Send",
      onPrimary: () => void tools.submit(view, dialog, doubled),
    });
    dialog.body.append(
      element(tools.doc, "div", "hitl-message", `The node sent ${value}; the browser doubled it.`),
      element(tools.doc, "div", "hitl-big-number", `${value} × 2 = ${doubled}`),
    );
    dialog.onKey((event) => {
      // Enter sends, as Ctrl+Enter does (the overlay's); a focused button keeps its own Enter.
      if (event.key !== "Enter" || event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.target instanceof HTMLButtonElement && event.target !== dialog.primaryButton) return;
      event.preventDefault();
      void tools.submit(view, dialog, doubled);
    });
  },
};
