// @ts-check
/**
 * Entry point ComfyUI imports: registers the extension and starts the controller.
 * The only host modules imported are scripts/app.js and scripts/api.js, by relative path,
 * so the pack works under any install folder name.
 */
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { HitlController } from "./controller.js";
import { doublerHandler } from "./doubler.js";
import { valuePromptHandler } from "./value_prompt.js";
import { imagePickerHandler } from "./image_picker.js";
import { formHandler } from "./form.js";
import { maskPainterHandler } from "./mask_painter.js";

/** The workflow id the frontend gives the graph in this tab, when it has one. */
function activeWorkflowId() {
  const graph = /** @type {any} */ (app)?.graph;
  return typeof graph?.id === "string" ? graph.id : null;
}

const controller = new HitlController({
  api: /** @type {any} */ (api),
  doc: document,
  handlers: [doublerHandler, valuePromptHandler, imagePickerHandler, formHandler, maskPainterHandler],
  activeWorkflowId,
});

app.registerExtension({
  name: "comfyui-hitl",
  async setup() {
    await controller.start();
    // Says "the dialogs are live in this tab" (for tests and for anyone debugging a tab).
    document.documentElement.dataset.comfyuiHitl = "ready";
  },
});
