// @ts-check
/** Stand-in for ComfyUI's scripts/app.js: registerExtension runs init and setup. */
class StandInApp {
  constructor() {
    /** @type {Promise<void>[]} */
    this.setups = [];
    this.graph = { id: "harness-workflow" };
  }

  /** @param {{name: string, init?: Function, setup?: Function}} extension */
  registerExtension(extension) {
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
