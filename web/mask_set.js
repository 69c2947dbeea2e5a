// @ts-check
/**
 * The masks a mask painter's answer is made of: one mask (a `MaskDoc` of mask_strokes.js: its
 * operations, undo and redo) per image of the batch, or one for all ("same mask for all").
 * Each starts from the node's input mask, if it has one, fetched when its image is first
 * shown; what was painted before a reload of the tab comes back from sessionStorage. It
 * also makes the answer (the operations, not pixels) and says when the server would refuse
 * it as too big to draw or to send. Nothing here touches the DOM but a scratch canvas to
 * decode an input mask.
 */
import { MASK_LIMITS, MAX_BODY_BYTES } from "./protocol.js";
import { MaskDoc } from "./mask_strokes.js";
import { tabStorage } from "./storage.js";

/**
 * @typedef {import("./mask_strokes.js").MaskOp} MaskOp
 * @typedef {{ same_for_all: boolean, masks: MaskOp[][] }} PainterAnswer
 */

const SAVED_KEY_PREFIX = "comfyui-hitl.mask-painter.ops.";

export class MaskSet {
  /**
   * @param {{
   *   requestId: string,
   *   count: number,
   *   width: number,
   *   height: number,
   *   maskCount: number,
   *   maskUrl: (index: number) => string,
   *   doc: Document,
   * }} options `maskCount`: how many input masks the node has (0, 1 for all, or one each);
   *   `maskUrl`: where the input mask of an index is; `doc` makes the scratch canvas
   */
  constructor({ requestId, count, width, height, maskCount, maskUrl, doc }) {
    this.count = count;
    this.width = width;
    this.height = height;
    this.maskCount = maskCount;
    this.maskUrl = maskUrl;
    this.doc = doc;
    this.savedKey = `${SAVED_KEY_PREFIX}${requestId}`;
    /** @type {(MaskDoc | null)[]} one per image (made when the image is first shown) */
    this.docs = Array.from({ length: count }, () => null);
    /** @type {MaskDoc | null} the one mask of "same mask for all" */
    this.sharedDoc = null;
    this.sameForAll = false;
    /** @type {(MaskOp[] | null)[]} operations to replay when an image's mask is made */
    this.pendingOps = Array.from({ length: count }, () => null);
    /** @type {MaskOp[] | null} */
    this.pendingShared = null;
    /** @type {Map<number, Promise<Uint8Array | null>>} input masks being fetched, by mask index */
    this.startMasks = new Map();
  }

  /** The mask being painted on image `index`: the shared one, or the image's. @param {number} index */
  active(index) {
    return this.sameForAll ? this.sharedDoc : this.docs[index];
  }

  /**
   * The input mask of an image (8-bit), or null when the node has none.
   * @param {number} index
   * @returns {Promise<Uint8Array | null>}
   */
  startMask(index) {
    if (this.maskCount === 0) return Promise.resolve(null);
    const which = this.maskCount > 1 ? index : 0;
    let pending = this.startMasks.get(which);
    if (!pending) {
      pending = this.#fetchMask(which);
      this.startMasks.set(which, pending);
    }
    return pending;
  }

  /** @param {number} index */
  async #fetchMask(index) {
    const response = await fetch(this.maskUrl(index));
    if (!response.ok) throw new Error(`the input mask could not be loaded (HTTP ${response.status})`);
    const bitmap = await createImageBitmap(await response.blob(), {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
    const canvas = this.doc.createElement("canvas");
    canvas.width = this.width;
    canvas.height = this.height;
    const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d", { willReadFrequently: true }));
    context.drawImage(bitmap, 0, 0);
    bitmap.close();
    const rgba = context.getImageData(0, 0, this.width, this.height).data;
    const mask = new Uint8Array(this.width * this.height);
    for (let i = 0, j = 0; i < mask.length; i += 1, j += 4) mask[i] = rgba[j];
    return mask;
  }

  /**
   * The mask of an image (made from its input mask and any saved operations).
   * @param {number} index
   */
  async docFor(index) {
    if (this.sameForAll) {
      if (!this.sharedDoc) {
        const doc = new MaskDoc(this.width, this.height, await this.startMask(0));
        if (!this.sharedDoc) {
          if (this.pendingShared) doc.replay(this.pendingShared);
          this.pendingShared = null;
          this.sharedDoc = doc;
        }
      }
      return this.sharedDoc;
    }
    const existing = this.docs[index];
    if (existing) return existing;
    const doc = new MaskDoc(this.width, this.height, await this.startMask(index));
    const made = this.docs[index];
    if (made) return made; // made meanwhile by another call
    const pending = this.pendingOps[index];
    if (pending) doc.replay(pending);
    this.pendingOps[index] = null;
    this.docs[index] = doc;
    return doc;
  }

  /**
   * One mask for all, or one each again, starting from what image `current` shows.
   * @param {boolean} same
   * @param {number} current
   */
  setSameForAll(same, current) {
    const ops = this.active(current)?.ops() ?? [];
    if (same) {
      this.sameForAll = true;
      this.sharedDoc = null;
      this.pendingShared = ops;
    } else {
      // Each image starts from the shared painting, on its own input mask.
      this.sameForAll = false;
      this.docs = this.docs.map(() => null);
      this.pendingOps = this.pendingOps.map(() => ops);
      this.sharedDoc = null;
    }
  }

  /** The operations painted on image `index` (with "same mask for all", the shared ones). @param {number} index */
  opsOf(index) {
    if (this.sameForAll) return this.sharedDoc?.ops() ?? this.pendingShared ?? [];
    return this.docs[index]?.ops() ?? this.pendingOps[index] ?? [];
  }

  /** The answer: one list of operations per image, or one for all. @returns {PainterAnswer} */
  answer() {
    if (this.sameForAll) return { same_for_all: true, masks: [this.opsOf(0)] };
    return { same_for_all: false, masks: Array.from({ length: this.count }, (_, index) => this.opsOf(index)) };
  }

  /** Keep what is painted for a reload of the tab, with the image shown. @param {number} current */
  save(current) {
    const answer = this.answer();
    const empty = answer.masks.every((ops) => ops.length === 0);
    tabStorage.writeJson(this.savedKey, empty && !answer.same_for_all ? null : { ...answer, current });
  }

  /** The answer was taken: nothing to keep for a reload. */
  forget() {
    tabStorage.writeJson(this.savedKey, null);
  }

  /**
   * A reload mid-wait keeps what was painted (per request id, in this tab only).
   * @returns {number | null} the image that was shown, if it was kept
   */
  restore() {
    const saved = tabStorage.readJson(this.savedKey);
    if (!saved || !Array.isArray(saved.masks)) return null;
    if (saved.same_for_all === true && saved.masks.length === 1) {
      this.sameForAll = true;
      this.pendingShared = saved.masks[0];
    } else if (saved.masks.length === this.count) {
      this.pendingOps = saved.masks.map((/** @type {unknown} */ ops) => (Array.isArray(ops) ? ops : null));
    }
    return Number.isInteger(saved.current) && saved.current >= 0 && saved.current < this.count ? saved.current : null;
  }

  /** Why the answer cannot be sent as it is, or null when it can. */
  tooBig() {
    const answer = this.answer();
    const budget = MASK_LIMITS.WORK_PER_PIXEL * this.width * this.height;
    const docs = this.sameForAll ? [this.sharedDoc] : this.docs;
    if (docs.some((doc) => doc && doc.work > budget)) {
      return "This mask has too many large strokes or whole-mask operations (Clear, Fill, Invert) for the server to draw: undo some, or use Fill and the eraser.";
    }
    let operations = 0;
    let points = 0;
    for (const ops of answer.masks) {
      operations += ops.length;
      for (const op of ops) points += "points" in op ? op.points.length / 2 : 0;
    }
    if (operations > MASK_LIMITS.MAX_OPS || points > MASK_LIMITS.MAX_POINTS) {
      return `Too many strokes to send (${operations} operations, ${points} points): undo some.`;
    }
    const bytes = new TextEncoder().encode(JSON.stringify({ value: answer })).length;
    if (bytes > MAX_BODY_BYTES - 256) {
      return `The strokes are too detailed to send (${Math.round(bytes / 1024)} KB of ${MAX_BODY_BYTES / 1024}): undo some.`;
    }
    return null;
  }
}
