// @ts-check
/**
 * Before the inbox shows anything: is this device paired, and which live stream does this
 * server offer? (`GET /hitl/device`; docs/pairing.md.)
 *
 * - On ComfyUI's port the answer is "websocket" (ComfyUI's /ws), paired or not, unless
 *   ComfyUI asks callers from the network to pair (COMFYUI_HITL_REQUIRE_PAIRING).
 * - On the pack's own listener a paired device gets "events" (its server-sent events); an
 *   unpaired one gets 401, and this module shows a "pair this phone" screen that says
 *   nothing about any request, not even how many wait.
 *
 * A pairing link is `/hitl/inbox#pair=<secret>`: the secret stays in the fragment (no server
 * log, no Referer), is posted once to `POST /hitl/pair`, and is taken out of the address bar
 * at once. The server answers with an HttpOnly cookie this page never sees.
 */
import { element } from "../web/dom.js";
import { INBOX_REQUEST_PARAM, PAIR_FRAGMENT, ROUTES, STREAMS } from "../web/protocol.js";
import { ListenerApi } from "./listener_api.js";
import { StandaloneApi, routeBase } from "./standalone_api.js";

/** Where a deep link waits while its phone pairs (the QR code opens another tab). */
const PENDING_KEY = "hitl-pair-then-open";
const PENDING_MAX_AGE_MS = 15 * 60 * 1000;
const RETRY_MS = 2000;

/**
 * @typedef {{ id: string, name: string, paired_at: string, last_seen: string | null, last_address: string | null }} DeviceView
 * @typedef {{ api: StandaloneApi, device: DeviceView | null }} Session
 */

/**
 * The secret of a pairing link: from the fragment (`#pair=…`), or a whole link or bare
 * secret a person pasted.
 * @param {string} text
 */
export function secretOf(text) {
  const trimmed = text.trim();
  const at = trimmed.indexOf("#");
  const fragment = at >= 0 ? trimmed.slice(at + 1) : trimmed;
  const value = new URLSearchParams(fragment).get(PAIR_FRAGMENT);
  if (value) return value;
  return /^[A-Za-z0-9_-]{16,128}$/.test(trimmed) ? trimmed : "";
}

/**
 * Find out how this page may go on; pair first when the server asks for it.
 * @param {{ doc: Document, location: Location, history: History, storage?: Storage | null }} options
 * @returns {Promise<Session>}
 */
export async function connectSession({ doc, location, history, storage = safeStorage() }) {
  const base = routeBase(location.pathname);
  /** @type {string} */
  let problem = "";
  const secret = secretOf(location.hash);
  if (location.hash) {
    // The secret leaves the address bar (and the history) before anything else happens.
    history.replaceState(history.state, "", `${location.pathname}${location.search}`);
  }
  if (secret) problem = await pair(base, secret);
  /** @type {PairingScreen | null} */
  let screen = null;
  for (;;) {
    /** @type {Response} */
    let response;
    try {
      response = await fetch(`${base}${ROUTES.device}`, { cache: "no-store", credentials: "same-origin" });
    } catch {
      await new Promise((resolve) => window.setTimeout(resolve, RETRY_MS));
      continue;
    }
    if (response.status !== 401) {
      /** @type {any} */
      let body = null;
      if (response.ok) body = await response.json().catch(() => null);
      screen?.close();
      openPendingDeepLink(location, history, storage, Boolean(body?.device));
      const events = body?.stream === STREAMS.EVENTS;
      const api = events ? new ListenerApi({ location, doc }) : new StandaloneApi({ location, doc });
      return { api, device: body?.device ?? null };
    }
    // Not paired. A deep link waits here for the pairing, even if it happens in another tab.
    const linked = new URLSearchParams(location.search).get(INBOX_REQUEST_PARAM);
    if (linked) storage?.setItem(PENDING_KEY, JSON.stringify({ id: linked, at: Date.now() }));
    screen ??= new PairingScreen(doc);
    screen.say(problem);
    const typed = await screen.nextLink();
    problem = await pair(base, typed);
  }
}

/**
 * Trade a secret for this device's cookie; "" when it worked, else what went wrong, in words.
 * @param {string} base
 * @param {string} secret
 */
async function pair(base, secret) {
  if (!secret) return "That is not a pairing link. Scan the code again, or make a new one on the computer.";
  try {
    const response = await fetch(`${base}${ROUTES.pair}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ secret }),
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.ok) return "";
    const body = await response.json().catch(() => null);
    return body?.error?.message
      ? `Not paired: ${body.error.message}.`
      : `Not paired: the server answered HTTP ${response.status}.`;
  } catch {
    return "Could not reach ComfyUI. Check that this phone is on the same network, then try again.";
  }
}

/**
 * After pairing, open the request a link named before this device was paired (in this tab or another).
 * @param {Location} location
 * @param {History} history
 * @param {Storage | null} storage
 * @param {boolean} paired
 */
function openPendingDeepLink(location, history, storage, paired) {
  if (!storage || !paired) return;
  const raw = storage.getItem(PENDING_KEY);
  if (!raw) return;
  storage.removeItem(PENDING_KEY);
  const params = new URLSearchParams(location.search);
  if (params.get(INBOX_REQUEST_PARAM)) return;
  /** @type {any} */
  let pending = null;
  try {
    pending = JSON.parse(raw);
  } catch {
    return;
  }
  if (typeof pending?.id !== "string" || !(Date.now() - Number(pending.at) < PENDING_MAX_AGE_MS)) return;
  params.set(INBOX_REQUEST_PARAM, pending.id);
  history.replaceState(history.state, "", `${location.pathname}?${params}`);
}

/** @returns {Storage | null} */
function safeStorage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: a deep link then opens only when paired from its own tab
  }
}

/** The "pair this phone" screen: what to do, and a field for a pasted link. */
class PairingScreen {
  /** @param {Document} doc */
  constructor(doc) {
    this.doc = doc;
    doc.documentElement.dataset.pairing = "needed";
    const section = element(doc, "section", "inbox-pairing");
    section.dataset.role = "pairing";
    section.setAttribute("aria-labelledby", "pairing-title");
    const title = element(doc, "h1", undefined, "Pair this phone");
    title.id = "pairing-title";
    const steps = element(doc, "ol", "inbox-pairing-steps");
    steps.append(
      element(doc, "li", undefined, "On the computer that runs ComfyUI, open Settings, then Human in the loop, then Phones."),
      element(doc, "li", undefined, "Choose “Pair a phone” and scan the code with this phone’s camera."),
    );
    const form = element(doc, "form", "inbox-pairing-form");
    const label = element(doc, "label", undefined, "Or paste the pairing link here:");
    label.htmlFor = "pairing-link";
    const input = element(doc, "input");
    input.id = "pairing-link";
    input.type = "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = "http://…/hitl/inbox#pair=…";
    const button = element(doc, "button", undefined, "Pair");
    button.type = "submit";
    form.append(label, input, button);
    this.message = element(doc, "p", "inbox-pairing-problem");
    this.message.setAttribute("role", "alert");
    this.message.dataset.role = "pairing-problem";
    section.append(
      title,
      element(doc, "p", undefined, "This phone is not paired with this ComfyUI yet, so nothing is shown here."),
      steps,
      form,
      this.message,
      element(
        doc,
        "p",
        "inbox-pairing-note",
        "A pairing code works once and for 10 minutes. Without a screen at hand, run “python cli.py pair” on that computer and open the link it prints.",
      ),
    );
    doc.body.append(section);
    this.section = section;
    this.input = input;
    this.button = button;
    /** @type {((link: string) => void) | null} */
    this.waiting = null;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const resolve = this.waiting;
      if (!resolve) return;
      this.waiting = null;
      this.button.disabled = true;
      this.message.textContent = "Pairing…";
      resolve(secretOf(this.input.value));
    });
  }

  /** @param {string} text */
  say(text) {
    this.message.textContent = text;
    this.button.disabled = false;
  }

  /** @returns {Promise<string>} the secret of the next link typed or pasted */
  nextLink() {
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  close() {
    this.section.remove();
    delete this.doc.documentElement.dataset.pairing;
  }
}
