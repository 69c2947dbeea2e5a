// @ts-check
/**
 * Telling the person a run waits for them, from the browser: a short sound (Web Audio, no
 * file, no network), the number of waiting requests in the tab's title, and a system
 * notification when the tab is hidden. With several tabs open, the tabs agree (over a
 * BroadcastChannel) on one of them to announce each request, so there is one sound and
 * one notification per request, not one per tab; a request that ends anywhere closes its
 * notification. Permission for notifications is asked only from a click (the settings or
 * the dialog's bell), never on load.
 */
import { describeRequest } from "./describe.js";
import { element } from "./dom.js";

/** ComfyUI setting ids (stored per user by ComfyUI); the defaults are the issue's. */
export const SETTING_IDS = Object.freeze({
  SOUND: "Hitl.Notifications.Sound",
  VOLUME: "Hitl.Notifications.Volume",
  BADGE: "Hitl.Notifications.TitleBadge",
  SYSTEM: "Hitl.Notifications.System",
  TEST: "Hitl.Notifications.Test",
});

/** @type {Readonly<Record<string, unknown>>} */
export const SETTING_DEFAULTS = Object.freeze({
  [SETTING_IDS.SOUND]: true,
  [SETTING_IDS.VOLUME]: 60,
  [SETTING_IDS.BADGE]: true,
  [SETTING_IDS.SYSTEM]: false,
});

/** The settings panel's section for these. */
export const CATEGORY = "Human in the loop";
const SECTION = "Notifications in the browser";

/** The channel the tabs of this origin coordinate on. */
export const CHANNEL_NAME = "comfyui-hitl-notify";
/** How long a tab waits for the other tabs' claims before it announces a request. */
export const SETTLE_MS = 150;
const BADGE_MARK = "⏸";
/** Dispatched on the window after a tab decided whether it announces a request. */
export const ANNOUNCE_EVENT = "comfyui-hitl:announce";
const NOTIFICATION_BODY = "A ComfyUI run is waiting for your answer.";

/**
 * @typedef {import("./protocol.js").RequestView} RequestView
 * @typedef {import("./dialog.js").Dialog} Dialog
 * @typedef {(id: string) => unknown} SettingGetter
 * @typedef {(id: string, value: unknown) => unknown} SettingSetter
 */

const SVG = "http://www.w3.org/2000/svg";

/**
 * A bell drawn in SVG (an emoji needs a font the device may lack), in the text's colour.
 * @param {Document} doc
 * @returns {SVGSVGElement}
 */
export function bellIcon(doc) {
  const svg = /** @type {SVGSVGElement} */ (doc.createElementNS(SVG, "svg"));
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "1.1em");
  svg.setAttribute("height", "1.1em");
  svg.setAttribute("aria-hidden", "true");
  const path = doc.createElementNS(SVG, "path");
  path.setAttribute(
    "d",
    "M12 2a1.5 1.5 0 0 0-1.5 1.5v.6A6.5 6.5 0 0 0 5.5 10.5v4.3L3.6 17.4A1 1 0 0 0 4.4 19h15.2a1 1 0 0 0 .8-1.6" +
      "l-1.9-2.6v-4.3a6.5 6.5 0 0 0-5-6.4v-.6A1.5 1.5 0 0 0 12 2zm-2.5 18a2.5 2.5 0 0 0 5 0z",
  );
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

/** The events that count as a gesture for the browser's autoplay rule. */
const GESTURES = ["pointerdown", "pointerup", "keydown", "touchend", "click"];

/**
 * A short two-note chime made with Web Audio: one master gain per play, two notes. The
 * context is suspended between chimes, so an idle tab keeps no audio running. Browsers let
 * audio start only after a gesture (a tap, a click, a key) and warn in the console for each
 * context made or resumed before one: no context is made before the page's first gesture,
 * and a chime before it is skipped (the title badge and the list still say a run waits).
 */
export class Chime {
  /** @param {Window} win */
  constructor(win) {
    this.win = win;
    /** @type {AudioContext | null} */
    this.context = null;
    this.playing = 0;
    /** Whether the person has made a gesture on this page (audio may start). */
    this.unlocked = false;
    // Make (or wake) the context on the first gesture, inside it, where the browser allows it.
    const unlock = () => {
      // A finger's pointerdown is not yet a gesture to the browser (its touchend is).
      const activation = /** @type {any} */ (win.navigator)?.userActivation;
      if (activation && !activation.isActive) return;
      this.unlocked = true;
      const context = this.#context();
      if (context && this.playing === 0) void context.suspend?.().catch(() => undefined);
      for (const type of GESTURES) win.removeEventListener(type, unlock, true);
    };
    for (const type of GESTURES) win.addEventListener(type, unlock, true);
  }

  /** Whether the browser lets audio start: a gesture was seen, or it says there was one. */
  #mayStart() {
    return this.unlocked || Boolean(/** @type {any} */ (this.win.navigator)?.userActivation?.hasBeenActive);
  }

  /** @returns {AudioContext | null} */
  #context() {
    if (!this.#mayStart()) return null;
    if (!this.context) {
      /** @type {typeof AudioContext | undefined} */
      const Context = /** @type {any} */ (this.win).AudioContext ?? /** @type {any} */ (this.win).webkitAudioContext;
      if (!Context) return null;
      this.context = new Context();
    }
    if (this.context.state === "suspended") void this.context.resume().catch(() => undefined);
    return this.context;
  }

  /**
   * Play the chime at `volume` (0 to 1). False when this browser has no Web Audio, or
   * before the page's first gesture (the browser would refuse, and warn).
   * @param {number} volume
   */
  play(volume) {
    const context = this.#context();
    if (!context) return false;
    const master = context.createGain();
    master.gain.value = Math.max(0, Math.min(1, volume)) * 0.4;
    master.connect(context.destination);
    const start = context.currentTime + 0.01;
    this.playing += 1;
    this.win.setTimeout(() => {
      this.playing -= 1;
      if (this.playing === 0) void context.suspend?.().catch(() => undefined);
    }, 800);
    for (const [frequency, offset, length] of [
      [880, 0, 0.18],
      [1318.5, 0.12, 0.3],
    ]) {
      const oscillator = context.createOscillator();
      const envelope = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      envelope.gain.setValueAtTime(0.0001, start + offset);
      envelope.gain.exponentialRampToValueAtTime(1, start + offset + 0.015);
      envelope.gain.exponentialRampToValueAtTime(0.0001, start + offset + length);
      oscillator.connect(envelope);
      envelope.connect(master);
      oscillator.start(start + offset);
      oscillator.stop(start + offset + length + 0.02);
    }
    return true;
  }
}

/**
 * The count of waiting requests in front of the tab's title: "(2) ⏸ ComfyUI". The host
 * may change the title meanwhile (ComfyUI shows progress there): the badge then goes in
 * front of the new title, and with nothing waiting the host's latest title is back exactly.
 */
export class TitleBadge {
  /** @param {Document} doc */
  constructor(doc) {
    this.doc = doc;
    this.count = 0;
    this.enabled = true;
    /** The host's title, without our badge. */
    this.base = doc.title;
    /** @type {string | null} the title we wrote last, while the badge shows */
    this.written = null;
    this.observer = new MutationObserver(() => this.#titleChanged());
    this.observer.observe(doc.head ?? doc.documentElement, { childList: true, subtree: true, characterData: true });
  }

  #titleChanged() {
    const title = this.doc.title;
    if (this.written !== null && title === this.written) return; // our own write
    this.base = title;
    this.written = null;
    this.#apply();
  }

  /**
   * @param {number} count
   * @param {boolean} enabled
   */
  set(count, enabled) {
    this.count = count;
    this.enabled = enabled;
    this.#apply();
  }

  #apply() {
    if (this.enabled && this.count > 0) {
      const text = `(${this.count}) ${BADGE_MARK} ${this.base}`;
      if (this.doc.title !== text) {
        this.written = text;
        this.doc.title = text;
      }
    } else if (this.written !== null) {
      if (this.doc.title === this.written) this.doc.title = this.base;
      this.written = null;
    }
  }
}

/**
 * @typedef {{ tab: string, visible: boolean, active: boolean }} Claim
 *   a tab's bid to announce a request: visible tabs first (the person is looking at one),
 *   then tabs that may play sound (the person has clicked in them), then the lowest id
 */

/** @param {Claim} a @param {Claim} b */
function better(a, b) {
  if (a.visible !== b.visible) return a.visible;
  if (a.active !== b.active) return a.active;
  return a.tab < b.tab;
}

/** Which of this origin's tabs announces each request: exactly one, whichever sees it. */
export class TabCoordinator {
  /**
   * @param {{ win: Window, doc: Document, channelName?: string, settleMs?: number }} options
   */
  constructor({ win, doc, channelName = CHANNEL_NAME, settleMs = SETTLE_MS }) {
    this.win = win;
    this.doc = doc;
    this.settleMs = settleMs;
    this.tab = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    /** @type {Map<string, Claim>} request id -> best claim seen */
    this.best = new Map();
    /** @type {Set<string>} requests some tab has announced */
    this.announced = new Set();
    const Channel = /** @type {typeof BroadcastChannel | undefined} */ (/** @type {any} */ (win).BroadcastChannel);
    /** @type {BroadcastChannel | null} */
    this.channel = typeof Channel === "function" ? new Channel(channelName) : null;
    this.channel?.addEventListener("message", (event) => this.#receive(event.data));
  }

  /** @returns {Claim} */
  #mine() {
    const activation = /** @type {any} */ (this.win.navigator).userActivation;
    return {
      tab: this.tab,
      visible: this.doc.visibilityState === "visible",
      active: activation ? Boolean(activation.hasBeenActive) : true,
    };
  }

  /** @param {string} id @param {Claim} claim */
  #consider(id, claim) {
    const best = this.best.get(id);
    if (!best || better(claim, best)) this.best.set(id, claim);
  }

  /** @param {any} message */
  #receive(message) {
    if (!message || typeof message.id !== "string") return;
    if (message.type === "claim" && typeof message.tab === "string") {
      this.#consider(message.id, { tab: message.tab, visible: Boolean(message.visible), active: Boolean(message.active) });
    } else if (message.type === "announced") {
      this.announced.add(message.id);
    }
  }

  /**
   * Whether this tab announces request `id`: it says it would, waits a moment for the
   * others' bids, and takes it only if its bid is the best and no tab announced it yet.
   * @param {string} id
   * @returns {Promise<boolean>}
   */
  async claim(id) {
    if (this.announced.has(id)) return false;
    const mine = this.#mine();
    this.#consider(id, mine);
    this.channel?.postMessage({ type: "claim", id, ...mine });
    if (this.channel) await new Promise((resolve) => this.win.setTimeout(resolve, this.settleMs));
    if (this.announced.has(id) || this.best.get(id)?.tab !== this.tab) return false;
    this.announced.add(id);
    this.channel?.postMessage({ type: "announced", id, tab: this.tab });
    return true;
  }

  /** @param {string} id the request ended: forget its bids */
  forget(id) {
    this.best.delete(id);
    if (this.announced.size > 500) this.announced.clear();
  }
}

/**
 * Everything a tab does to tell the person: a `RequestListener` of the controller.
 */
export class WaitNotifier {
  /**
   * @param {{
   *   win: Window,
   *   doc: Document,
   *   getSetting: SettingGetter,
   *   setSetting?: SettingSetter,
   *   focusRequest?: (id: string) => unknown,
   *   say?: (text: string) => void,
   *   coordinator?: TabCoordinator,
   *   chime?: Chime,
   *   badge?: TitleBadge,
   * }} options
   */
  constructor({ win, doc, getSetting, setSetting, focusRequest, say, coordinator, chime, badge }) {
    this.win = win;
    this.doc = doc;
    this.getSetting = getSetting;
    this.setSetting = setSetting ?? (() => undefined);
    this.focusRequest = focusRequest ?? (() => undefined);
    this.say = say ?? (() => undefined);
    this.coordinator = coordinator ?? new TabCoordinator({ win, doc });
    this.chime = chime ?? new Chime(win);
    this.badge = badge ?? new TitleBadge(doc);
    /** @type {Map<string, RequestView>} waiting requests this tab knows of */
    this.waiting = new Map();
    /** @type {Map<string, Notification>} notifications this tab shows */
    this.notifications = new Map();
    /** @type {Set<HTMLButtonElement>} the dialogs' "notify me" bells */
    this.bells = new Set();
    /** @type {Map<string, unknown>} each setting's value as its onChange last said */
    this.known = new Map();
    this.enabling = false;
  }

  /**
   * A setting's value. Each setting's onChange keeps `known` current (ComfyUI calls it at
   * registration and on every change; 1.27.10 calls it before the store has the new value).
   * @param {string} id
   */
  setting(id) {
    const value = this.known.has(id) ? this.known.get(id) : this.getSetting(id);
    return value === undefined || value === null ? SETTING_DEFAULTS[id] : value;
  }

  /**
   * @param {string} id
   * @returns {(value: unknown, old: unknown) => void}
   */
  #track(id) {
    return (value) => this.settingChanged(id, value);
  }

  /**
   * A setting changed (ComfyUI's onChange, the inbox's panel, another tab): `value` from now
   * on (undefined: the default).
   * @param {string} id
   * @param {unknown} value
   */
  settingChanged(id, value) {
    this.known.set(id, value);
    this.refresh();
  }

  refresh() {
    this.badge.set(this.waiting.size, Boolean(this.setting(SETTING_IDS.BADGE)));
    const offer = this.#offerBell();
    for (const bell of this.bells) {
      if (!offer) bell.remove();
      if (!bell.isConnected) this.bells.delete(bell); // its dialog closed
    }
  }

  // --------------------------------------------------------------- RequestListener
  /** @param {RequestView} view @param {boolean} live */
  opened(view, live) {
    this.waiting.set(view.id, view);
    this.refresh();
    if (live) void this.#announce(view);
  }

  /** @param {string} id */
  ended(id) {
    if (this.waiting.delete(id)) this.refresh();
    this.notifications.get(id)?.close();
    this.notifications.delete(id);
    this.coordinator.forget(id);
  }

  /** @param {RequestView[]} views */
  synced(views) {
    const ids = new Set(views.map((view) => view.id));
    for (const id of [...this.waiting.keys(), ...this.notifications.keys()]) {
      if (!ids.has(id)) this.ended(id);
    }
    for (const view of views) this.waiting.set(view.id, view);
    this.refresh();
  }

  /** A bell in the dialog's header offers system notifications until they are decided on.
   * @param {Dialog} dialog */
  decorate(dialog) {
    if (!this.#offerBell()) return;
    const bell = element(this.doc, "button");
    bell.append(bellIcon(this.doc));
    bell.type = "button";
    bell.dataset.action = "notify-me";
    bell.title = "Notify me when a run waits and this tab is hidden (asks your browser's permission)";
    bell.setAttribute("aria-label", bell.title);
    bell.addEventListener("click", () => void this.enableSystemNotifications());
    dialog.addHeadButton(bell);
    this.bells.add(bell);
  }

  #offerBell() {
    const Notice = /** @type {any} */ (this.win).Notification;
    return Boolean(Notice) && Notice.permission === "default" && !this.setting(SETTING_IDS.SYSTEM);
  }

  // ---------------------------------------------------------------- announcing
  /** @param {RequestView} view */
  async #announce(view) {
    const announced = (await this.coordinator.claim(view.id)) && this.waiting.has(view.id); // may have ended meanwhile
    if (announced) {
      if (this.setting(SETTING_IDS.SOUND)) this.chime.play(Number(this.setting(SETTING_IDS.VOLUME)) / 100);
      if (this.setting(SETTING_IDS.SYSTEM) && this.doc.visibilityState !== "visible") this.#notify(view);
    }
    // Whether this tab announced it (for tests, and for anyone debugging several tabs).
    this.win.dispatchEvent(new CustomEvent(ANNOUNCE_EVENT, { detail: { id: view.id, announced } }));
  }

  /** @param {RequestView} view */
  #notify(view) {
    const Notice = /** @type {typeof Notification | undefined} */ (/** @type {any} */ (this.win).Notification);
    if (!Notice || Notice.permission !== "granted") return;
    let notification;
    try {
      notification = new Notice(describeRequest(view), {
        body: NOTIFICATION_BODY,
        tag: `comfyui-hitl-${view.id}`,
        requireInteraction: true,
        silent: Boolean(this.setting(SETTING_IDS.SOUND)), // our chime already played
      });
    } catch (error) {
      // Some browsers (Android Chrome) only notify through a service worker.
      console.warn("[comfyui-hitl] could not show a notification", error);
      return;
    }
    notification.addEventListener("click", () => {
      this.win.focus();
      this.focusRequest(view.id);
      notification.close();
    });
    notification.addEventListener("close", () => {
      if (this.notifications.get(view.id) === notification) this.notifications.delete(view.id);
    });
    this.notifications.set(view.id, notification);
  }

  // ------------------------------------------------------------- from gestures
  /**
   * Ask the browser's permission (call from a click) and turn system notifications on if
   * given. Returns the permission.
   * @returns {Promise<NotificationPermission | "unsupported">}
   */
  async enableSystemNotifications() {
    const Notice = /** @type {typeof Notification | undefined} */ (/** @type {any} */ (this.win).Notification);
    if (!Notice) {
      this.say("This browser has no system notifications.");
      return "unsupported";
    }
    const permission = Notice.permission === "default" ? await Notice.requestPermission() : Notice.permission;
    if (permission === "granted") {
      if (!this.setting(SETTING_IDS.SYSTEM)) {
        this.known.set(SETTING_IDS.SYSTEM, true);
        this.enabling = true; // the setting's onChange must not ask again
        try {
          await this.setSetting(SETTING_IDS.SYSTEM, true);
        } finally {
          this.enabling = false;
        }
      }
      this.say("System notifications are on: you'll get one when a run waits and this tab is hidden.");
    } else {
      this.say("The browser blocks notifications for this site: allow them in its site settings.");
    }
    this.refresh();
    return permission;
  }

  /** The settings' "Test" button: the chime, and a sample notification if allowed. */
  async test() {
    this.chime.play(Number(this.setting(SETTING_IDS.VOLUME)) / 100);
    const Notice = /** @type {typeof Notification | undefined} */ (/** @type {any} */ (this.win).Notification);
    if (!this.setting(SETTING_IDS.SYSTEM) || !Notice) return;
    const permission = Notice.permission === "default" ? await Notice.requestPermission() : Notice.permission;
    if (permission !== "granted") {
      this.say("The browser blocks notifications for this site: allow them in its site settings.");
      return;
    }
    const sample = new Notice("Image Picker #12: Keep the best (pick 2–4 of 32)", {
      body: `${NOTIFICATION_BODY} (This is a test.)`,
      tag: "comfyui-hitl-test",
    });
    sample.addEventListener("click", () => sample.close());
  }

  // ------------------------------------------------------------- the settings
  /**
   * The browser-side settings, for the extension's `settings`.
   * @returns {any[]}
   */
  settings() {
    // Sections: 1.27.10 sorts them by name, 1.58.1 by their highest sortOrder; both put
    // this one first, then pushes (100…), then the audit log (< 100).
    return [
      this.#setting(SETTING_IDS.SOUND, 200, "Sound", "Play a sound when a run waits for you", {
        tooltip: "A short chime, once per request (one tab plays it when several are open).",
        type: "boolean",
      }),
      this.#setting(SETTING_IDS.VOLUME, 199, "Volume", "Sound volume", {
        type: "slider",
        attrs: { min: 0, max: 100, step: 5 },
      }),
      this.#setting(SETTING_IDS.BADGE, 198, "Title badge", "Show how many requests wait in the tab's title", {
        tooltip: "e.g. (2) ⏸ ComfyUI; the title comes back as it was when none wait.",
        type: "boolean",
      }),
      this.#setting(
        SETTING_IDS.SYSTEM,
        197,
        "System notifications",
        "System notification when a run waits and this tab is hidden",
        {
          tooltip: "Turning this on asks your browser's permission. Click the notification to come back to the dialog.",
          type: "boolean",
          /** @param {unknown} value @param {unknown} old */
          onChange: (value, old) => {
            this.#track(SETTING_IDS.SYSTEM)(value, old);
            // `old` is undefined when the setting is registered at load: never ask then.
            if (value === true && old !== undefined && !this.enabling) void this.enableSystemNotifications();
          },
        },
      ),
      {
        id: SETTING_IDS.TEST,
        sortOrder: 196,
        category: [CATEGORY, SECTION, "Test"],
        name: "Try the sound (and a notification, if on)",
        type: () => {
          const button = element(this.doc, "button", undefined, "Test");
          button.type = "button";
          button.dataset.action = "hitl-test-notify";
          button.style.cssText =
            "padding:4px 14px;border-radius:6px;cursor:pointer;font:inherit;color:inherit;" +
            "background:var(--comfy-input-bg,#2a2a2a);border:1px solid var(--border-color,#555)";
          button.addEventListener("click", () => void this.test());
          return button;
        },
        defaultValue: "",
      },
    ];
  }

  /**
   * One of this section's settings, its value tracked (see {@link WaitNotifier#setting}).
   * @param {string} id @param {number} sortOrder @param {string} label its line in the panel
   * @param {string} name @param {Record<string, unknown>} details its type and the rest
   */
  #setting(id, sortOrder, label, name, details) {
    return {
      id,
      sortOrder,
      category: [CATEGORY, SECTION, label],
      name,
      defaultValue: SETTING_DEFAULTS[id],
      onChange: this.#track(id),
      ...details,
    };
  }
}
