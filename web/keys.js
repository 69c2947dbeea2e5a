// @ts-check
/**
 * The key policy of our layer: no key typed in one of our dialogs reaches ComfyUI's
 * shortcuts or its canvas, and the dialog gets it instead.
 *
 * While the focus is inside our layer, no keydown, keyup or keypress reaches ComfyUI. What
 * ComfyUI listens with (read in the frontend's source, 1.27.10 and 1.58.1):
 *   - its keybinding service: `keydown` on `window`, bubble phase, registered when the graph
 *     view mounts (before extensions load). It skips *plain* keys typed in INPUT/TEXTAREA but
 *     runs every combo with a modifier from anywhere: Ctrl+Enter queues the prompt,
 *     Ctrl+Shift+Enter queues it first, Ctrl+Alt+Enter interrupts, Ctrl+S saves, Ctrl+O
 *     opens, Ctrl+, opens the settings, Ctrl+G groups... Single letters ("r" refresh, "q",
 *     "w", "n", "m", "a" sidebar tabs, "f" focus mode, "v"/"h" lock) act when the focus is
 *     not in a text field. In 1.27.10 it also forwards Delete/Backspace to LiteGraph's
 *     `processKey`, which deletes the selected nodes (1.58.1 binds them to the canvas
 *     container, so they only act there);
 *   - LiteGraph's canvas: `keydown` on the canvas element (not an ancestor of ours) and
 *     `keyup` on `document`, capture phase (both versions);
 *   - the change tracker: `keydown` on `window`, **capture** phase, registered before any
 *     extension loads, so it always runs before us. It reads the event later, in a
 *     requestAnimationFrame callback, and Ctrl+Z / Ctrl+Y there undo or redo the graph
 *     (unless the focus is in an INPUT/TEXTAREA). Its `keyup` is on `window`, bubble phase;
 *   - Vue nodes mode (1.58.1) adds nothing at window or document level that sees our keys;
 *     panels, menus and the mask editor listen only while they are open.
 * So our listener ({@link KeyGuard}) goes on `window` in the capture phase, registered when
 * the overlay is made (ComfyUI imports extensions before it makes the canvas), and for an
 * event whose target is inside our layer it calls `stopImmediatePropagation()`: no later
 * listener on window, document or any element sees it (the keybinding service, LiteGraph,
 * every bubble listener). The browser's own default action still happens (typing, Tab, a
 * button's Enter). Our dialogs then get the key from us (`Dialog#onKey`, dialog.js): DOM key
 * listeners inside the layer are never reached, which is the price of stopping the event
 * before anyone else. The change tracker saw the event first and cannot be stopped; after
 * our handlers ran, the event is *neutralised* (its key reads "Unidentified", no modifier),
 * so its deferred read undoes nothing. A keyup whose keydown went to ComfyUI (Shift held on
 * the canvas, released in a dialog) is let through, so ComfyUI never believes a key is still
 * held; a keyup, or a held key's repeats, whose keydown was ours stay ours even if the focus
 * has moved. Ctrl/Cmd+Enter sends (the primary button), Esc cancels the run (both the
 * dialog's); combos we do not use do nothing (no browser "save page" for Ctrl+S either),
 * except editing keys in a text field (Ctrl+A/C/V/X/Z/Y, word moves) and the browser's own
 * (reload, find, zoom).
 */

/**
 * @typedef {{
 *   contains(target: EventTarget | null): boolean,
 *   deliver(event: KeyboardEvent, target: Node): void,
 * }} KeyedLayer  what the guard protects: whether a target is inside it, and how a key typed
 *   there reaches the dialog it was typed in
 */

/** Editing keys whose browser default is kept with Ctrl/Cmd in a text field. */
const EDITING_LETTERS = new Set(["a", "c", "v", "x", "z", "y"]);
const EDITING_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "Backspace", "Delete", "Insert"]);
const MODIFIER_KEYS = new Set(["Control", "Shift", "Alt", "Meta", "AltGraph", "CapsLock", "OS"]);
/** The browser's own shortcuts we leave alone: reload, find, print, zoom. */
const BROWSER_LETTERS = new Set(["r", "f", "g", "p", "+", "-", "=", "0"]);

/** @param {EventTarget | null} target */
export function isTextEntry(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (!(target instanceof HTMLInputElement)) return false;
  return !["button", "checkbox", "radio", "range", "color", "file", "submit", "reset", "image"].includes(target.type);
}

/**
 * Whether a key with a modifier that none of our handlers used keeps its browser default:
 * text editing in a field, characters typed with AltGr or Option, and the browser's own
 * reload/find/zoom. Everything else (Ctrl+S "save page", Ctrl+O...) does nothing.
 * @param {KeyboardEvent} event
 */
function keepsBrowserDefault(event) {
  if (!event.ctrlKey && !event.metaKey && !event.altKey) return true;
  if (MODIFIER_KEYS.has(event.key)) return true; // the modifier's own keydown
  if (event.key.startsWith("F") && event.key.length > 1) return true; // F1-F12
  if (event.getModifierState?.("AltGraph")) return true;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (event.altKey && !event.ctrlKey && !event.metaKey) return key.length === 1 && isTextEntry(event.target); // Option+letter types
  if (EDITING_KEYS.has(key)) return true;
  if (BROWSER_LETTERS.has(key) && !event.altKey) return true;
  return EDITING_LETTERS.has(key) && !event.altKey;
}

/**
 * Make a key event read as nothing to anyone who looks at it later: the change tracker of
 * ComfyUI's frontend, which ran before us (window, capture) and reads the event in a
 * requestAnimationFrame callback to undo or redo the graph. The browser's default action
 * does not read these properties.
 * @param {KeyboardEvent} event
 */
function neutralise(event) {
  /** @type {PropertyDescriptorMap} */
  const blank = {};
  for (const [name, value] of /** @type {[string, unknown][]} */ ([
    ["key", "Unidentified"],
    ["code", ""],
    ["keyCode", 0],
    ["which", 0],
    ["charCode", 0],
    ["ctrlKey", false],
    ["metaKey", false],
    ["altKey", false],
    ["shiftKey", false],
  ])) {
    blank[name] = { value, configurable: true };
  }
  blank.getModifierState = { value: () => false, configurable: true };
  try {
    Object.defineProperties(event, blank);
  } catch {
    // Not a plain event object: nothing reads it later then.
  }
}

/**
 * The window's capture-phase key listener that keeps the keys typed in our layer from
 * everyone else (see the module comment) and hands them to the layer.
 */
export class KeyGuard {
  /**
   * @param {Window} view
   * @param {KeyedLayer} layer
   */
  constructor(view, layer) {
    this.layer = layer;
    /** @type {Set<string>} key codes whose keydown we kept (their keyup and repeats stay ours) */
    this.keysDown = new Set();
    // Capture phase on window: before every listener ComfyUI adds later, and before any
    // of its listeners on document or elements, whatever their phase.
    for (const type of ["keydown", "keyup", "keypress"]) {
      view.addEventListener(type, (event) => this.#onKey(/** @type {KeyboardEvent} */ (event)), { capture: true });
    }
    view.addEventListener("blur", () => this.keysDown.clear());
  }

  /** @param {KeyboardEvent} event */
  #onKey(event) {
    const target = /** @type {EventTarget | null} */ (event.composedPath?.()[0] ?? event.target);
    const inside = this.layer.contains(target);
    const code = event.code || event.key;
    if (event.type === "keydown") {
      if (!inside) {
        // A key held down in a dialog keeps repeating after its dialog closed: still ours.
        if (event.repeat && this.keysDown.has(code)) {
          event.stopImmediatePropagation();
          event.preventDefault();
          neutralise(event);
        } else {
          this.keysDown.delete(code);
        }
        return;
      }
      this.keysDown.add(code);
    } else if (event.type === "keyup") {
      const ours = this.keysDown.delete(code);
      // Released in a dialog after being pressed on the canvas: ComfyUI must see it go up.
      if (!ours) return;
    } else if (!inside) {
      return;
    }
    event.stopImmediatePropagation();
    if (inside) {
      this.layer.deliver(event, /** @type {Node} */ (target));
      if (event.type === "keydown" && !event.defaultPrevented && !keepsBrowserDefault(event)) event.preventDefault();
    }
    neutralise(event);
  }
}
