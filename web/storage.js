// @ts-check
/**
 * Web storage that never throws. What our dialogs keep there is a convenience (where a
 * dialog was dragged, a brush size, what was typed before a reload): a browser may disable
 * storage (a private mode, a policy, a sandboxed frame, where even reading
 * `window.localStorage` throws), or it may be full, and then everything works without it.
 * No side effect on import: the storage is only looked up when it is read or written.
 */

export class SafeStorage {
  /** @param {() => Storage | null | undefined} open finds the storage (it may throw) */
  constructor(open) {
    this.open = open;
  }

  /** @param {string} key @returns {string | null} the stored text, or null */
  read(key) {
    try {
      return this.open()?.getItem(key) ?? null;
    } catch {
      return null;
    }
  }

  /**
   * @param {string} key
   * @param {string | null} value null removes the key
   * @returns {boolean} whether the storage took it
   */
  write(key, value) {
    try {
      const storage = this.open();
      if (!storage) return false;
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, value);
      return true;
    } catch {
      return false;
    }
  }

  /** @param {string} key @returns {any} the stored value, or null (none, or not JSON) */
  readJson(key) {
    const text = this.read(key);
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  /**
   * @param {string} key
   * @param {unknown} value anything JSON can hold; null removes the key
   * @returns {boolean} whether the storage took it
   */
  writeJson(key, value) {
    return this.write(key, value === null ? null : JSON.stringify(value));
  }
}

/** This browser's `localStorage`: kept across tabs and restarts. */
export const browserStorage = new SafeStorage(() => globalThis.localStorage);

/** This tab's `sessionStorage`: survives a reload of the tab, gone with the tab. */
export const tabStorage = new SafeStorage(() => globalThis.sessionStorage);
