// @ts-check
/**
 * Stand-in for ComfyUI's scripts/app.js: registerExtension runs init and setup, and
 * registers the extension's settings the way the frontend does (each setting's onChange
 * is called at registration with an undefined old value, and on every change).
 */
class StandInSettings {
  constructor() {
    /** @type {Map<string, any>} */
    this.params = new Map();
    /** @type {Record<string, unknown>} */
    this.values = JSON.parse(localStorage.getItem("harness-settings") ?? "{}");
  }

  /** @param {any} setting */
  add(setting) {
    if (this.params.has(setting.id)) throw new Error(`Setting ${setting.id} must have a unique ID.`);
    this.params.set(setting.id, setting);
    setting.onChange?.(this.get(setting.id), undefined);
  }

  /** @param {string} id */
  get(id) {
    return id in this.values ? this.values[id] : this.params.get(id)?.defaultValue;
  }

  /** @param {string} id @param {unknown} value */
  async set(id, value) {
    const old = this.get(id);
    if (old === value) return;
    this.params.get(id)?.onChange?.(value, old);
    this.values[id] = value;
    localStorage.setItem("harness-settings", JSON.stringify(this.values));
  }
}

class StandInApp {
  constructor() {
    /** @type {Promise<void>[]} */
    this.setups = [];
    this.graph = { id: "harness-workflow" };
    const setting = new StandInSettings();
    /** @type {string[]} */
    this.toasts = [];
    this.extensionManager = {
      setting,
      toast: { add: (/** @type {any} */ message) => this.toasts.push(message.detail ?? message.summary) },
    };
  }

  /** @param {{name: string, init?: Function, setup?: Function, settings?: any[]}} extension */
  registerExtension(extension) {
    for (const setting of extension.settings ?? []) this.extensionManager.setting.add(setting);
    this.setups.push(
      (async () => {
        await extension.init?.(this);
        await extension.setup?.(this);
      })(),
    );
  }
}

export const app = new StandInApp();
// @ts-ignore
window.app = app;
