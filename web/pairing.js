// @ts-check
/**
 * Paired phones, in ComfyUI's settings dialog (docs/pairing.md): "Pair a phone" makes a
 * one-time pairing link and shows it as a QR code (drawn as SVG from the server's matrix of
 * modules), with the link beneath it and how long it stays valid; the devices row lists the
 * paired devices, each with a button to unpair it, and one to unpair them all. Both call
 * management routes that only answer a caller on this machine. No side effect on import.
 */
import { routePath } from "./protocol.js";
import { callJson } from "./client.js";
import { element } from "./dom.js";
import { CATEGORY } from "./notify.js";

/** The section of ComfyUI's settings dialog these rows go in (with the listener's settings). */
export const PHONES = "Phones: pair and answer away from the computer";
const SVG = "http://www.w3.org/2000/svg";
/** Light modules around a QR code (its quiet zone), as the standard asks. */
const QUIET = 4;

/**
 * @typedef {{ fetchApi(route: string, init?: RequestInit): Promise<Response> }} FetchApi
 * @typedef {{ id: string, name: string, paired_at: string, last_seen: string | null, last_address: string | null }} Device
 * @typedef {{ size: number, rows: string[] }} QrMatrix
 * @typedef {{ url: string, expires_in_s: number, expires_at: string, qr: QrMatrix | null, listener: string | null, warning: string | null }} PairingLink
 */

/** Calls the management routes; "changed" is dispatched after a device is paired or unpaired. */
export class PairingClient extends EventTarget {
  /** @param {FetchApi} api */
  constructor(api) {
    super();
    this.api = api;
  }

  /** @param {string} name @returns {Promise<PairingLink>} */
  createLink(name) {
    return this.#call("POST", routePath("pairing_secrets"), name ? { name } : {});
  }

  /** @returns {Promise<{ devices: Device[] }>} */
  devices() {
    return this.#call("GET", routePath("devices"));
  }

  /** @param {string} id */
  async revoke(id) {
    await this.#call("POST", routePath("device_revoke", { device_id: id }), {});
    this.dispatchEvent(new Event("changed"));
  }

  async revokeAll() {
    await this.#call("POST", routePath("devices_revoke_all"), {});
    this.dispatchEvent(new Event("changed"));
  }

  /**
   * @param {string} method
   * @param {string} route
   * @param {unknown} [body]
   */
  #call(method, route, body) {
    return callJson(this.api, method, route, body);
  }
}

/**
 * A QR code as an SVG element: one path of its dark modules, on a light square with the quiet zone.
 * @param {Document} doc
 * @param {QrMatrix} qr
 * @param {number} pixels its width and height on screen
 */
export function qrSvg(doc, qr, pixels) {
  const side = qr.size + 2 * QUIET;
  const svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${side} ${side}`);
  svg.setAttribute("width", String(pixels));
  svg.setAttribute("height", String(pixels));
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code of the pairing link");
  const background = doc.createElementNS(SVG, "rect");
  background.setAttribute("width", String(side));
  background.setAttribute("height", String(side));
  background.setAttribute("fill", "#fff");
  const parts = [];
  for (let y = 0; y < qr.rows.length; y++) {
    const row = qr.rows[y];
    for (let x = 0; x < row.length; x++) {
      if (row[x] !== "1") continue;
      let run = 1; // one path command per run of dark modules on a row
      while (row[x + run] === "1") run++;
      parts.push(`M${x + QUIET} ${y + QUIET}h${run}v1h-${run}z`);
      x += run - 1;
    }
  }
  const modules = doc.createElementNS(SVG, "path");
  modules.setAttribute("d", parts.join(""));
  modules.setAttribute("fill", "#000");
  svg.append(background, modules);
  return svg;
}

/** @param {number} seconds */
function mmss(seconds) {
  const left = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}

/** @param {string | null} iso */
function when(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

const BOX = "display:flex;flex-direction:column;align-items:flex-end;gap:6px;max-width:26rem";
const BUTTON =
  "font:inherit;padding:4px 12px;min-height:32px;border-radius:6px;cursor:pointer;color:inherit;" +
  "background:var(--comfy-input-bg,#2a2a2a);border:1px solid var(--border-color,#555)";
const INPUT =
  "font:inherit;width:12rem;padding:4px 6px;border-radius:6px;border:1px solid var(--border-color,#555);" +
  "background:var(--comfy-input-bg,#1b1b1b);color:inherit";
const NOTE = "font-size:12px;opacity:.8;text-align:right;overflow-wrap:anywhere";

/**
 * The "Pair a phone" row: a name, a button, then the QR code, the link and its countdown.
 * @param {Document} doc
 * @param {PairingClient} client
 */
export function renderPairRow(doc, client) {
  const box = element(doc, "div");
  box.style.cssText = BOX;
  box.dataset.hitlSetting = "pair";
  const line = element(doc, "div");
  line.style.cssText = "display:flex;gap:6px;align-items:center";
  const name = element(doc, "input");
  name.type = "text";
  name.placeholder = "Name (e.g. My phone)";
  name.maxLength = 64;
  name.autocomplete = "off";
  name.setAttribute("aria-label", "Name of the phone to pair");
  name.style.cssText = INPUT;
  const button = element(doc, "button", undefined, "Pair a phone");
  button.type = "button";
  button.dataset.action = "hitl-pair";
  button.style.cssText = BUTTON;
  line.append(name, button);
  const shown = element(doc, "div");
  shown.dataset.role = "pairing-link";
  shown.style.cssText = "display:flex;flex-direction:column;align-items:center;gap:6px";
  const note = element(doc, "div");
  note.style.cssText = NOTE;
  note.dataset.role = "note";
  box.append(line, shown, note);
  /** @type {number | undefined} */
  let timer;

  button.addEventListener("click", async () => {
    button.disabled = true;
    note.textContent = "Making a pairing link…";
    try {
      const link = await client.createLink(name.value.trim());
      show(link);
      note.textContent = "";
    } catch (error) {
      note.textContent = `Could not make a pairing link: ${/** @type {Error} */ (error).message}`;
    } finally {
      button.disabled = false;
    }
  });

  /** @param {PairingLink} link */
  const show = (link) => {
    const win = doc.defaultView;
    if (timer !== undefined) win?.clearInterval(timer);
    const code = link.qr ? qrSvg(doc, link.qr, 220) : element(doc, "div", undefined, "(No QR code: the segno package is missing on the server.)");
    const steps = element(doc, "div", undefined, "Scan this with the phone’s camera and open the link. It pairs one phone, once.");
    steps.style.cssText = "font-size:13px;text-align:center;max-width:18rem";
    const url = element(doc, "a", undefined, link.url);
    url.href = link.url;
    url.target = "_blank";
    url.rel = "noreferrer";
    url.dataset.role = "pairing-url";
    url.style.cssText = "font-size:12px;overflow-wrap:anywhere;text-align:center;max-width:22rem;color:inherit";
    const countdown = element(doc, "div");
    countdown.dataset.role = "countdown";
    countdown.style.cssText = "font-size:13px;font-variant-numeric:tabular-nums";
    const parts = [code, steps, url, countdown];
    if (link.warning) {
      const warning = element(doc, "div", undefined, link.warning);
      warning.style.cssText = "font-size:12px;color:#ffb74d;text-align:center;max-width:22rem";
      parts.push(warning);
    }
    shown.replaceChildren(...parts);
    const ends = performance.now() + link.expires_in_s * 1000;
    const tick = () => {
      const left = (ends - performance.now()) / 1000;
      if (!shown.isConnected || left <= 0) {
        win?.clearInterval(timer);
        timer = undefined;
        if (shown.isConnected) shown.replaceChildren(element(doc, "div", undefined, "That link has expired. Make a new one."));
        return;
      }
      countdown.textContent = `Valid for ${mmss(left)} more`;
    };
    tick();
    timer = win?.setInterval(tick, 1000);
    // The phone pairs while this is open: the devices row shows it then.
    client.dispatchEvent(new Event("link"));
  };
  return box;
}

/**
 * The "Paired devices" row: each device (name, paired when, last seen, from where) with an
 * Unpair button; Unpair all; refreshed every few seconds while a pairing link is out.
 * @param {Document} doc
 * @param {PairingClient} client
 */
export function renderDevicesRow(doc, client) {
  const box = element(doc, "div");
  box.style.cssText = BOX;
  box.dataset.hitlSetting = "devices";
  const list = element(doc, "ul");
  list.dataset.role = "devices";
  list.style.cssText = "list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:6px;width:100%";
  const all = element(doc, "button", undefined, "Unpair all");
  all.type = "button";
  all.dataset.action = "hitl-revoke-all";
  all.style.cssText = BUTTON;
  const note = element(doc, "div");
  note.style.cssText = NOTE;
  box.append(list, all, note);
  /** @type {number | undefined} */
  let polling;

  const load = async () => {
    if (!box.isConnected && polling !== undefined) {
      doc.defaultView?.clearInterval(polling);
      polling = undefined;
      return;
    }
    try {
      const { devices } = await client.devices();
      list.replaceChildren(...devices.map((device) => deviceItem(doc, client, device, note)));
      all.hidden = devices.length === 0;
      if (!devices.length) list.append(element(doc, "li", undefined, "No device is paired."));
    } catch (error) {
      note.textContent = `Could not read the paired devices: ${/** @type {Error} */ (error).message}`;
    }
  };
  all.addEventListener("click", async () => {
    all.disabled = true;
    try {
      await client.revokeAll();
    } catch (error) {
      note.textContent = /** @type {Error} */ (error).message;
    } finally {
      all.disabled = false;
    }
  });
  client.addEventListener("changed", () => void load());
  client.addEventListener("link", () => {
    // A pairing link is out: look for the new device for as long as the link lives.
    if (polling !== undefined) return;
    const started = performance.now();
    polling = doc.defaultView?.setInterval(() => {
      if (performance.now() - started > 10 * 60 * 1000 && polling !== undefined) {
        doc.defaultView?.clearInterval(polling);
        polling = undefined;
      }
      void load();
    }, 2000);
  });
  void load();
  return box;
}

/**
 * @param {Document} doc
 * @param {PairingClient} client
 * @param {Device} device
 * @param {HTMLElement} note
 */
function deviceItem(doc, client, device, note) {
  const item = element(doc, "li");
  item.dataset.deviceId = device.id;
  item.style.cssText = "display:flex;gap:8px;align-items:center;justify-content:flex-end";
  const text = element(doc, "div");
  text.style.cssText = "text-align:right;font-size:13px";
  const title = element(doc, "div", undefined, device.name);
  title.style.fontWeight = "600";
  const detail = element(
    doc,
    "div",
    undefined,
    `paired ${when(device.paired_at)} · last seen ${when(device.last_seen)}${device.last_address ? ` from ${device.last_address}` : ""}`,
  );
  detail.style.cssText = "opacity:.75";
  text.append(title, detail);
  const revoke = element(doc, "button", undefined, "Unpair");
  revoke.type = "button";
  revoke.dataset.action = "hitl-revoke";
  revoke.style.cssText = BUTTON;
  revoke.addEventListener("click", async () => {
    revoke.disabled = true;
    try {
      await client.revoke(device.id);
    } catch (error) {
      note.textContent = /** @type {Error} */ (error).message;
      revoke.disabled = false;
    }
  });
  item.append(text, revoke);
  return item;
}

/**
 * The rows for the extension's `settings` (custom rows whose values live on the server).
 * @param {Document} doc
 * @param {PairingClient} client
 * @returns {any[]}
 */
export function pairingSettings(doc, client) {
  return [
    {
      id: "Hitl.Server.pair",
      category: [CATEGORY, PHONES, "pair"],
      name: "Pair a phone (it then opens the inbox without ComfyUI being open to the network)",
      type: () => renderPairRow(doc, client),
      defaultValue: "",
      sortOrder: 50,
    },
    {
      id: "Hitl.Server.devices",
      category: [CATEGORY, PHONES, "devices"],
      name: "Paired devices",
      type: () => renderDevicesRow(doc, client),
      defaultValue: "",
      sortOrder: 49,
    },
  ];
}
