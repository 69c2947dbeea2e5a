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
import { WaitNotifier } from "./notify.js";
import { PushConfigClient, serverSettings } from "./push_settings.js";
import { SURFACES } from "./protocol.js";

/** The workflow id the frontend gives the graph in this tab, when it has one. */
function activeWorkflowId() {
  const graph = /** @type {any} */ (app)?.graph;
  return typeof graph?.id === "string" ? graph.id : null;
}

/** ComfyUI's settings (from `setup` on; defaults before that). */
function settingStore() {
  return /** @type {any} */ (app).extensionManager?.setting;
}

/** @type {HitlController | null} */
let controller = null;

const notifier = new WaitNotifier({
  win: window,
  doc: document,
  getSetting: (id) => settingStore()?.get(id),
  setSetting: (id, value) => settingStore()?.set(id, value),
  focusRequest: (id) => controller?.focusRequest(id),
  say: (text) => controller?.overlay.notice(text),
});

controller = new HitlController({
  api: /** @type {any} */ (api),
  doc: document,
  handlers: [doublerHandler, valuePromptHandler, imagePickerHandler, formHandler, maskPainterHandler],
  activeWorkflowId,
  // Recorded in the audit trail as this tab's claim: which surface answered, and which tab.
  identity: { surface: SURFACES.COMFYUI_TAB, clientId: () => /** @type {any} */ (api).clientId ?? null },
  listener: notifier,
});

app.registerExtension({
  name: "comfyui-hitl",
  settings: [...notifier.settings(), ...serverSettings(document, new PushConfigClient(/** @type {any} */ (api)))],
  async setup() {
    await /** @type {HitlController} */ (controller).start();
    notifier.refresh();
    // Says "the dialogs are live in this tab" (for tests and for anyone debugging a tab).
    document.documentElement.dataset.comfyuiHitl = "ready";
  },
});
