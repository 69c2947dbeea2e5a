// The part of ComfyUI's scripts/app.js the pack uses (for type-checking web/ only).
export interface ComfyExtension {
  name: string;
  init?(app: ComfyApp): void | Promise<void>;
  setup?(app: ComfyApp): void | Promise<void>;
  /** Called after a workflow is loaded into the graph (both 1.27.10 and 1.58.1). */
  afterConfigureGraph?(missingNodeTypes?: unknown): void | Promise<void>;
  /** Settings shown in ComfyUI's settings panel (SettingParams in the frontend). */
  settings?: unknown[];
}
export interface ComfyApp {
  registerExtension(extension: ComfyExtension): void;
  graph?: { id?: unknown };
}
export declare const app: ComfyApp;
