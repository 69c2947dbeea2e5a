// The part of ComfyUI's scripts/app.js the pack uses (for type-checking web/ only).
export interface ComfyExtension {
  name: string;
  init?(app: ComfyApp): void | Promise<void>;
  setup?(app: ComfyApp): void | Promise<void>;
  /** Settings shown in ComfyUI's settings panel (SettingParams in the frontend). */
  settings?: unknown[];
}
export interface ComfyApp {
  registerExtension(extension: ComfyExtension): void;
  graph?: { id?: unknown };
}
export declare const app: ComfyApp;
