// The part of ComfyUI's scripts/api.js the pack uses (for type-checking web/ only).
export interface ComfyApi extends EventTarget {
  fetchApi(route: string, init?: RequestInit): Promise<Response>;
  apiURL(route: string): string;
}
export declare const api: ComfyApi;
