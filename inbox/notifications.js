// @ts-check
/**
 * Notifications on the inbox page: the very `WaitNotifier` of a ComfyUI tab (web/notify.js:
 * the chime, the count in the title, a system notification while the page is hidden, and one
 * of each per request across every tab of this origin, inbox tabs and ComfyUI tabs alike, over
 * the same BroadcastChannel). What differs is where the settings live: the inbox has no
 * ComfyUI settings panel (and no ComfyUI user), so it keeps the same four settings, with the
 * same ids and defaults, in this browser's localStorage, and changes them from a small panel
 * in its header. A phone and a desktop keep their own; the inbox tabs of one browser share
 * them (and follow each other's changes at once).
 */
import { SETTING_DEFAULTS, SETTING_IDS, WaitNotifier, bellIcon } from "../web/notify.js";
import { element } from "../web/dom.js";
import { SafeStorage } from "../web/storage.js";

/** localStorage keys are the setting ids under this prefix. */
export const STORAGE_PREFIX = "comfyui-hitl.inbox:";

/** The inbox's settings, in localStorage (values as JSON); a storage that fails is memory. */
export class LocalSettings {
  /**
   * @param {Window} win
   * @param {() => void} onChange told when another tab of this browser changed one
   */
  constructor(win, onChange) {
    // Storage blocked (a private mode, a policy) or full: settings last for this page.
    this.storage = new SafeStorage(() => win.localStorage);
    /** @type {Map<string, unknown>} */
    this.memory = new Map();
    win.addEventListener("storage", (event) => {
      if (event.key === null || event.key.startsWith(STORAGE_PREFIX)) onChange();
    });
  }

  /** @param {string} id @returns {unknown} the stored value, or undefined (the default applies) */
  get(id) {
    if (this.memory.has(id)) return this.memory.get(id);
    return this.storage.readJson(STORAGE_PREFIX + id) ?? undefined;
  }

  /** @param {string} id @param {unknown} value */
  set(id, value) {
    if (this.storage.writeJson(STORAGE_PREFIX + id, value)) this.memory.delete(id);
    else this.memory.set(id, value);
  }
}

/**
 * Start the notifier for the inbox and put its settings panel in the header.
 * @param {{ win: Window, doc: Document, controller: import("../web/controller.js").HitlController, header: HTMLElement }} options
 * @returns {WaitNotifier}
 */
export function startNotifications({ win, doc, controller, header }) {
  /** @type {NotificationPanel | null} */
  let panel = null;
  const settings = new LocalSettings(win, () => {
    for (const id of Object.values(SETTING_IDS)) notifier.settingChanged(id, settings.get(id));
    panel?.sync();
  });
  const notifier = new WaitNotifier({
    win,
    doc,
    getSetting: (id) => settings.get(id),
    setSetting: (id, value) => {
      settings.set(id, value);
      panel?.sync();
    },
    focusRequest: (id) => controller.focusRequest(id),
    say: (text) => controller.overlay.notice(text),
  });
  panel = new NotificationPanel(doc, notifier, settings);
  header.append(panel.button, panel.panel);
  controller.listener = notifier;
  // What waits already is not news: counted in the title, not chimed.
  notifier.synced([...controller.waiting.values()]);
  return notifier;
}

/** The header's bell button and the small panel it opens. */
class NotificationPanel {
  /**
   * @param {Document} doc
   * @param {WaitNotifier} notifier
   * @param {LocalSettings} settings
   */
  constructor(doc, notifier, settings) {
    this.doc = doc;
    this.notifier = notifier;
    this.settings = settings;
    const Notice = /** @type {any} */ (doc.defaultView)?.Notification;
    this.button = element(doc, "button", "inbox-bell");
    this.button.append(bellIcon(doc));
    this.button.type = "button";
    this.button.dataset.action = "notification-settings";
    this.button.title = "Notifications";
    this.button.setAttribute("aria-label", "Notification settings");
    this.button.setAttribute("aria-expanded", "false");
    this.panel = element(doc, "div", "inbox-settings");
    this.panel.dataset.role = "notification-settings";
    this.panel.hidden = true;
    this.button.setAttribute("aria-controls", (this.panel.id = "inbox-notification-settings"));
    this.button.addEventListener("click", () => this.toggle());

    this.sound = this.#checkbox(SETTING_IDS.SOUND, "Sound when a request arrives");
    this.volume = /** @type {HTMLInputElement} */ (element(doc, "input"));
    this.volume.type = "range";
    this.volume.min = "0";
    this.volume.max = "100";
    this.volume.step = "5";
    this.volume.dataset.setting = SETTING_IDS.VOLUME;
    this.volume.setAttribute("aria-label", "Volume");
    this.volume.addEventListener("change", () => this.#set(SETTING_IDS.VOLUME, Number(this.volume.value)));
    const test = element(doc, "button", "inbox-settings-test", "Test");
    test.type = "button";
    test.dataset.action = "test-notification";
    test.addEventListener("click", () => void notifier.test());
    const volumeRow = element(doc, "div", "inbox-settings-row");
    volumeRow.append(element(doc, "span", undefined, "Volume"), this.volume, test);
    this.badge = this.#checkbox(SETTING_IDS.BADGE, "Count in the tab's title");
    this.system = this.#checkbox(SETTING_IDS.SYSTEM, "System notification while this page is hidden");
    this.systemNote = element(doc, "p", "inbox-settings-note");
    if (!Notice) {
      // Browsers offer notifications only to https pages and localhost.
      this.system.input.disabled = true;
      this.systemNote.textContent =
        "This browser offers no notifications to this page (they need https, or localhost). Sound and title work.";
    }
    this.panel.append(this.sound.row, volumeRow, this.badge.row, this.system.row, this.systemNote);
    this.sync();
  }

  /**
   * @param {string} id
   * @param {string} text
   */
  #checkbox(id, text) {
    const row = /** @type {HTMLLabelElement} */ (element(this.doc, "label", "inbox-settings-row"));
    const input = /** @type {HTMLInputElement} */ (element(this.doc, "input"));
    input.type = "checkbox";
    input.dataset.setting = id;
    row.append(input, element(this.doc, "span", undefined, text));
    input.addEventListener("change", () => {
      if (id === SETTING_IDS.SYSTEM && input.checked) {
        // A click: the one moment a browser lets a page ask for permission.
        input.checked = false;
        void this.notifier.enableSystemNotifications().then(() => this.sync());
        return;
      }
      this.#set(id, input.checked);
    });
    return { row, input };
  }

  /** @param {string} id @param {unknown} value */
  #set(id, value) {
    this.settings.set(id, value);
    this.notifier.settingChanged(id, value);
    this.sync();
  }

  /** Show the stored values (after a change here, in another tab, or a permission answer). */
  sync() {
    const value = (/** @type {string} */ id) => {
      const stored = this.settings.get(id);
      return stored === undefined || stored === null ? SETTING_DEFAULTS[id] : stored;
    };
    this.sound.input.checked = Boolean(value(SETTING_IDS.SOUND));
    this.volume.value = String(value(SETTING_IDS.VOLUME));
    this.badge.input.checked = Boolean(value(SETTING_IDS.BADGE));
    this.system.input.checked = Boolean(value(SETTING_IDS.SYSTEM));
  }

  toggle() {
    this.panel.hidden = !this.panel.hidden;
    this.button.setAttribute("aria-expanded", String(!this.panel.hidden));
  }
}
