// @ts-check
/**
 * The server-side settings (phone pushes, the audit log) as rows of ComfyUI's own settings
 * panel. They are not ComfyUI settings: each row is a small form of ours that reads and
 * writes the pack's config route, so values live on the server (where a run queued with no
 * browser open still finds them), secrets are never sent back in full, and nothing of them
 * is stored in the browser or in ComfyUI's per-user settings file.
 */
import { routePath } from "./protocol.js";
import { callJson } from "./client.js";
import { element } from "./dom.js";
import { CATEGORY } from "./notify.js";
import { PHONES } from "./pairing.js";

/**
 * @typedef {{ fetchApi(route: string, init?: RequestInit): Promise<Response> }} FetchApi
 * @typedef {{
 *   kind: string, env: string, secret: boolean, default: unknown, choices: string[] | null,
 *   minimum: number | null, maximum: number | null, value: unknown, source: string,
 * }} SettingView
 * @typedef {{ settings: Record<string, SettingView>, locked: boolean, file: string | null, save_error: string | null }} ConfigView
 * @typedef {{ key: string, section: string, name: string, tooltip?: string, placeholder?: string }} Row
 */

// The panel sorts sections by name: these come after "Notifications in the browser".
const PUSHES = "Pushes to a phone (server)";
const AUDIT = "Record of answers: audit log (server)";

/** One row per server setting, in order (tests/test_push_settings.py checks they match server/settings.SPECS). */
export const ROWS = Object.freeze(
  /** @type {Row[]} */ ([
    {
      key: "public_url",
      section: PUSHES,
      name: "Public URL: how your phone reaches this ComfyUI (links in pushes)",
      placeholder: "http://192.168.1.20:8188",
    },
    {
      key: "ntfy_url",
      section: PUSHES,
      name: "ntfy topic URL",
      tooltip: "e.g. https://ntfy.sh/a-long-secret-topic. Anyone who knows the topic can read it: keep it secret.",
      placeholder: "https://ntfy.sh/your-secret-topic",
    },
    { key: "ntfy_token", section: PUSHES, name: "ntfy access token (optional)", placeholder: "tk_…" },
    { key: "ntfy_priority", section: PUSHES, name: "ntfy priority of a waiting request" },
    {
      key: "webhook_url",
      section: PUSHES,
      name: "Webhook URL",
      tooltip: "A Discord or Slack incoming webhook, or any URL that takes a JSON POST.",
      placeholder: "https://discord.com/api/webhooks/…",
    },
    { key: "webhook_format", section: PUSHES, name: "Webhook format" },
    { key: "push_on_end", section: PUSHES, name: "Also push when a request ends" },
    { key: "push_timeout_s", section: PUSHES, name: "Give up on a send after (seconds)" },
    { key: "audit_max_bytes", section: AUDIT, name: "Rotate the log at (bytes)" },
    { key: "audit_backups", section: AUDIT, name: "Rotated log files kept" },
    // --- paired phones (web/pairing.js, docs/pairing.md) ---
    {
      key: "remote_listen",
      section: PHONES,
      name: "Listen for paired phones at (takes effect when ComfyUI restarts)",
      tooltip:
        "HOST:PORT, e.g. 0.0.0.0:8190: a server of the pack's own that serves only the inbox, and only to paired phones. ComfyUI itself can then stay on 127.0.0.1.",
      placeholder: "0.0.0.0:8190",
    },
    {
      key: "require_pairing",
      section: PHONES,
      name: "On ComfyUI's own port too, answer only paired devices (for ComfyUI open to the network)",
      tooltip: "The pack's routes then refuse callers from other machines that are not paired. ComfyUI's own routes stay as they are.",
    },
  ]),
);

/** Reads and writes the config route; one read serves every row of an open settings panel.
 * Dispatches "saved" after each change (the status row then reads the status again). */
export class PushConfigClient extends EventTarget {
  /** @param {FetchApi} api */
  constructor(api) {
    super();
    this.api = api;
    /** @type {Promise<ConfigView> | null} */
    this.pending = null;
    this.loadedAt = 0;
  }

  /** @returns {Promise<ConfigView>} */
  load() {
    if (!this.pending || performance.now() - this.loadedAt > 1000) {
      this.loadedAt = performance.now();
      this.pending = this.#call("GET", routePath("notify_config"));
    }
    return this.pending;
  }

  /**
   * @param {Record<string, unknown>} changes
   * @returns {Promise<ConfigView>} the settings after the change (a refusal rejects with its message)
   */
  async save(changes) {
    const view = await this.#call("POST", routePath("notify_config"), changes);
    this.pending = Promise.resolve(view);
    this.loadedAt = performance.now();
    this.dispatchEvent(new Event("saved"));
    return view;
  }

  /** @returns {Promise<any>} */
  status() {
    return this.#call("GET", routePath("notify_status"));
  }

  /** @returns {Promise<{ results: any[] }>} */
  test() {
    return this.#call("POST", routePath("notify_test"), {});
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

const STYLE = "display:flex;flex-direction:column;align-items:flex-end;gap:2px;max-width:26rem";
const INPUT_STYLE =
  "font:inherit;width:18rem;padding:4px 6px;border-radius:6px;border:1px solid var(--border-color,#555);" +
  "background:var(--comfy-input-bg,#1b1b1b);color:inherit";
const BUTTON_STYLE =
  "font:inherit;padding:3px 10px;border-radius:6px;cursor:pointer;color:inherit;" +
  "background:var(--comfy-input-bg,#2a2a2a);border:1px solid var(--border-color,#555)";
const NOTE_STYLE = "font-size:12px;opacity:.75;text-align:right;overflow-wrap:anywhere";

/**
 * The form control of one server setting, kept in step with the server.
 * @param {Document} doc
 * @param {PushConfigClient} client
 * @param {Row} row
 */
export function renderRow(doc, client, row) {
  const box = element(doc, "div");
  box.dataset.hitlSetting = row.key;
  box.style.cssText = STYLE;
  const note = element(doc, "div");
  note.style.cssText = NOTE_STYLE;
  note.dataset.role = "note";
  box.append(note);
  void client
    .load()
    .then((config) => fill(doc, client, row, box, note, config))
    .catch((error) => {
      note.textContent = `Could not read the settings: ${error.message}`;
    });
  return box;
}

/**
 * @param {Document} doc
 * @param {PushConfigClient} client
 * @param {Row} row
 * @param {HTMLElement} box
 * @param {HTMLElement} note
 * @param {ConfigView} config
 */
function fill(doc, client, row, box, note, config) {
  const setting = config.settings[row.key];
  if (!setting) {
    note.textContent = "This server does not know this setting (update the pack?).";
    return;
  }
  const fixed = setting.source === "env" || config.locked;
  /** @type {HTMLInputElement | HTMLSelectElement} */
  let control;
  /** @returns {unknown} */
  let read;
  if (setting.kind === "bool") {
    const checkbox = element(doc, "input");
    checkbox.type = "checkbox";
    checkbox.checked = Boolean(setting.value);
    control = checkbox;
    read = () => checkbox.checked;
  } else if (setting.kind === "choice") {
    const select = element(doc, "select");
    for (const choice of setting.choices ?? []) {
      const option = element(doc, "option", undefined, choice);
      option.value = choice;
      select.append(option);
    }
    select.value = String(setting.value);
    control = select;
    read = () => select.value;
  } else if (setting.kind === "int" || setting.kind === "float") {
    const input = element(doc, "input");
    input.type = "number";
    if (setting.minimum !== null) input.min = String(setting.minimum);
    if (setting.maximum !== null) input.max = String(setting.maximum);
    input.step = setting.kind === "int" ? "1" : "0.1";
    input.value = String(setting.value);
    control = input;
    read = () => (input.value === "" ? null : Number(input.value));
  } else {
    const input = element(doc, "input");
    input.type = setting.kind === "token" ? "password" : "text";
    input.autocomplete = "off";
    input.spellcheck = false;
    if (setting.secret) {
      // A secret is never shown: the field starts empty, the placeholder says what is set.
      input.placeholder = setting.value ? `set: ${setting.value}` : (row.placeholder ?? "");
    } else {
      input.value = setting.value === null ? "" : String(setting.value);
      input.placeholder = row.placeholder ?? "";
    }
    control = input;
    read = () => input.value.trim();
  }
  control.style.cssText = setting.kind === "bool" ? "" : INPUT_STYLE;
  control.dataset.role = "control";
  control.disabled = fixed;
  control.setAttribute("aria-label", row.name);
  const line = element(doc, "div");
  line.style.cssText = "display:flex;gap:6px;align-items:center";
  line.append(control);

  /** @param {unknown} value */
  const save = async (value) => {
    note.textContent = "Saving…";
    note.style.color = "";
    try {
      const saved = await client.save({ [row.key]: value });
      const now = saved.settings[row.key];
      if (setting.secret && control instanceof HTMLInputElement) {
        control.value = "";
        control.placeholder = now.value ? `set: ${now.value}` : (row.placeholder ?? "");
      }
      note.textContent = saved.save_error ? `Saved until restart only: ${saved.save_error}` : "Saved.";
    } catch (error) {
      note.textContent = /** @type {Error} */ (error).message;
      note.style.color = "#ff8a80";
    }
  };
  control.addEventListener("change", () => {
    const value = read();
    // An empty secret field means "unchanged"; the Clear button removes a secret.
    if (setting.secret && value === "") return;
    void save(value);
  });
  if (setting.secret && !fixed) {
    const clear = element(doc, "button", undefined, "Clear");
    clear.type = "button";
    clear.style.cssText = BUTTON_STYLE;
    clear.addEventListener("click", () => void save(null));
    line.append(clear);
  }
  if (row.key === "public_url" && !fixed) {
    const here = element(doc, "button", undefined, "This page");
    here.type = "button";
    here.title = "Use this page's address (works for a phone only if this is not localhost)";
    here.style.cssText = BUTTON_STYLE;
    here.addEventListener("click", () => {
      control.value = doc.defaultView?.location.origin ?? "";
      void save(control.value);
    });
    line.append(here);
  }
  box.insertBefore(line, note);
  // (The row's tooltip is the ⓘ beside its name.)
  if (setting.source === "env") note.textContent = `Set on the server by ${setting.env}.`;
  else if (config.locked) note.textContent = "Locked on the server (COMFYUI_HITL_CONFIG_LOCKED).";
}

/**
 * The "status and test" row: each target's last success and failure, and a test button.
 * @param {Document} doc
 * @param {PushConfigClient} client
 */
export function renderStatus(doc, client) {
  const box = element(doc, "div");
  box.style.cssText = STYLE;
  box.dataset.hitlSetting = "status";
  const lines = element(doc, "div");
  lines.style.cssText = NOTE_STYLE;
  lines.dataset.role = "status";
  const button = element(doc, "button", undefined, "Send a test push");
  button.type = "button";
  button.dataset.action = "hitl-test-push";
  button.style.cssText = BUTTON_STYLE;
  const show = async () => {
    try {
      const status = await client.status();
      const text = status.targets.map(
        /** @param {any} t */ (t) =>
          `${t.target} (${t.format}, ${t.url}): ${t.sent} sent, ${t.failed} failed` +
          (t.last_error ? ` — last error: ${t.last_error}` : ""),
      );
      if (!text.length) text.push("No push target is set.");
      if (!status.public_url) text.push("No public URL: pushes carry no link.");
      if (status.audit.file) text.push(`Audit log: ${status.audit.file} (${status.audit.written} written)`);
      lines.textContent = text.join("\n");
      lines.style.whiteSpace = "pre-line";
    } catch (error) {
      lines.textContent = `Could not read the status: ${/** @type {Error} */ (error).message}`;
    }
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    lines.textContent = "Sending…";
    try {
      const { results } = await client.test();
      lines.textContent = results.length
        ? results
            .map(
              /** @param {any} r */ (r) =>
                `${r.target}: ${r.ok ? `delivered (HTTP ${r.status}, ${r.latency_ms} ms)` : `failed: ${r.error}`}`,
            )
            .join("\n")
        : "No push target is set: add an ntfy topic or a webhook URL above.";
      lines.style.whiteSpace = "pre-line";
    } catch (error) {
      lines.textContent = /** @type {Error} */ (error).message;
    } finally {
      button.disabled = false;
    }
  });
  box.append(button, lines);
  void show();
  const refresh = () => {
    if (box.isConnected) void show();
    else client.removeEventListener("saved", refresh); // the panel was closed
  };
  client.addEventListener("saved", refresh);
  return box;
}

/**
 * The rows for the extension's `settings`: custom rows (a render function) whose values
 * live on the server, never in ComfyUI's settings.
 * @param {Document} doc
 * @param {PushConfigClient} client
 * @returns {any[]}
 */
export function serverSettings(doc, client) {
  return [
    ...ROWS.map((row, index) => ({
      id: `Hitl.Server.${row.key}`,
      category: [CATEGORY, row.section, row.key],
      name: row.name,
      tooltip: row.tooltip,
      type: () => renderRow(doc, client, row),
      defaultValue: "",
      sortOrder: 100 - index, // the panel shows higher first
    })),
    {
      id: "Hitl.Server.status",
      category: [CATEGORY, PUSHES, "status"],
      name: "Status, and a test push to every target",
      type: () => renderStatus(doc, client),
      defaultValue: "",
      sortOrder: 0,
    },
  ];
}
