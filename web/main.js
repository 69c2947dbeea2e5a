// @ts-check
/**
 * Entry point ComfyUI imports: registers the extension and starts the controller.
 * The only host modules imported are scripts/app.js and scripts/api.js, by relative path,
 * so the pack works under any install folder name.
 */
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { HitlController } from "./controller.js";
import { loadAllHandlers } from "./dialogs.js";
import { WaitNotifier } from "./notify.js";
import { PushConfigClient, serverSettings } from "./push_settings.js";
import { PairingClient, pairingSettings } from "./pairing.js";
import { NIL_WORKFLOW_ID, SURFACES } from "./protocol.js";

/** The workflow id the frontend gives the graph in this tab, when it has a real one. */
function activeWorkflowId() {
  const host = /** @type {any} */ (app);
  const graph = host?.rootGraph ?? host?.graph; // rootGraph: 1.58 (graph may be a subgraph there)
  const id = graph?.id;
  return typeof id === "string" && id && id !== NIL_WORKFLOW_ID ? id : null;
}

/**
 * ComfyUI's controls our dialogs must leave reachable, found by what both frontends (1.27.10,
 * 1.58.1) render: the Run bar (`.actionbar`: Run, its menu, the batch count and the red
 * "Cancel current run" X), the workflow tabs, the top menu bar (1.27.10); and, better not
 * covered, the side toolbar and the canvas toolbar (zoom, fit view...). Nothing breaks if a
 * later frontend renames them: where no Run bar is found in a ComfyUI page, the top 96 px
 * are kept free, which holds both frontends' bars; the real-frontend tests check the Run
 * and Cancel buttons with elementFromPoint on both versions.
 * @returns {import("./placement.js").Chrome}
 */
function comfyChrome() {
  const height = window.innerHeight;
  const width = window.innerWidth;
  /** @param {string} selector */
  const boxes = (selector) =>
    [...document.querySelectorAll(selector)]
      .filter((el) => !el.closest(".hitl-layer"))
      .map((el) => el.getBoundingClientRect())
      .filter((rect) => rect.width > 0 && rect.height > 0 && rect.bottom > 0 && rect.top < height)
      .map((rect) => ({ left: rect.left, top: rect.top, right: rect.right, bottom: rect.bottom }));
  const keep = [
    ...boxes(".actionbar"),
    ...boxes("[data-testid='queue-button'], [aria-label='Cancel current run']"),
    ...boxes(".workflow-tabs-container"),
    ...boxes(".comfyui-menu, #comfyui-body-top"),
  ];
  if (!keep.some((box) => box.top < height * 0.3) && document.getElementById("graph-canvas")) {
    keep.push({ left: 0, top: 0, right: width, bottom: 96 });
  }
  const toolbar = boxes(
    "[data-testid='zoom-controls-button'], [data-testid='toggle-link-visibility-button'], " +
      "[data-testid='focus-mode-button'], [data-testid='toggle-minimap-button'], [data-testid='fit-view-button']",
  ).filter((box) => box.top > height * 0.5);
  const avoid = boxes(".side-tool-bar-container");
  if (toolbar.length) {
    avoid.push({
      left: Math.min(...toolbar.map((box) => box.left)),
      top: Math.min(...toolbar.map((box) => box.top)),
      right: Math.max(...toolbar.map((box) => box.right)),
      bottom: Math.max(...toolbar.map((box) => box.bottom)),
    });
  }
  return { keep, avoid };
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
  handlers: [], // every kind's, once loaded (setup, below)
  activeWorkflowId,
  chrome: comfyChrome,
  // Recorded in the audit trail as this tab's claim: which surface answered, and which tab.
  identity: { surface: SURFACES.COMFYUI_TAB, clientId: () => /** @type {any} */ (api).clientId ?? null },
  listener: notifier,
});

/**
 * Tell the controller when the tab's workflow may have changed, on the frontend's own
 * signals: a workflow loaded (the `afterConfigureGraph` extension hook below: opening a file,
 * a template, another tab, or the reload restoring the tab's workflow after our dialogs
 * opened), a graph change, the canvas switching graphs, and the tab coming back into view.
 * Each costs one string comparison; nothing runs on a timer.
 */
function followWorkflow() {
  const changed = () => controller?.workflowChanged();
  api.addEventListener("graphChanged", changed);
  const host = /** @type {any} */ (app);
  host?.canvas?.canvas?.addEventListener?.("litegraph:set-graph", changed);
  document.addEventListener("visibilitychange", changed);
  window.addEventListener("focus", changed);
}

app.registerExtension({
  name: "comfyui-hitl",
  settings: [
    ...notifier.settings(),
    ...serverSettings(document, new PushConfigClient(/** @type {any} */ (api))),
    ...pairingSettings(document, new PairingClient(/** @type {any} */ (api))),
  ],
  async setup() {
    followWorkflow();
    // Every dialog before the first request arrives, so each opens at once (ComfyUI has
    // imported their modules already: this only takes them from its module map).
    for (const handler of await loadAllHandlers()) controller?.handlers.set(handler.kind, handler);
    await /** @type {HitlController} */ (controller).start();
    notifier.refresh();
    // Says "the dialogs are live in this tab" (for tests and for anyone debugging a tab).
    document.documentElement.dataset.comfyuiHitl = "ready";
  },
  afterConfigureGraph() {
    controller?.workflowChanged();
  },
});
