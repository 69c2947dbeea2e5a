// @ts-check
/**
 * The image picker's previews: how thumbnails get from the server into the grid, and how
 * clips play.
 *
 * All thumbnails come through one streamed request (the thumbnails route) rather than one
 * request per image: the server sends each JPEG the moment it is made, in the order asked
 * for, so there is no per-request cost, no queue behind a browser's six connections per
 * host, and no image waits for a slower one. The order asked for is nearest-first: the
 * tiles on screen, then outward (below first, then above). When the person scrolls to
 * tiles not yet loaded, the stream is replaced by one in the new order.
 *
 * Each JPEG becomes a data: URL kept here. A data: URL image is loaded by the page itself,
 * at once (a blob: URL is fetched through the browser process, which measured 40-60 ms more
 * per screenful in ComfyUI's busy page). Memory stays bounded: at most `cap` frames are kept
 * (those farthest from the screen are dropped first, and fetched again if they come back
 * into view), and the grid shows an image only on tiles near the screen.
 */
import { routePath, THUMBNAIL_HEADER_BYTES } from "./protocol.js";

/** @typedef {import("./client.js").HitlClient} HitlClient */

/** How many frames' JPEGs a dialog keeps at most (about 20 KB each). */
export const KEPT_FRAMES = 1024;
/** The least time between two restarts of the stream while the person scrolls. */
const RESTART_EVERY_MS = 120;

/**
 * Items in nearest-first order: those on screen (in index order), then outward from them,
 * alternating below and above, below first (people scroll down).
 * @param {number[]} visible item indices on screen, in any order
 * @param {number} count how many items there are
 * @param {(item: number) => boolean} [shown] items that can be on screen at all
 * @returns {number[]}
 */
export function nearestFirst(visible, count, shown = () => true) {
  const onScreen = [...new Set(visible)].filter((item) => item >= 0 && item < count).sort((a, b) => a - b);
  const low = onScreen.length ? onScreen[0] : 0;
  const high = onScreen.length ? onScreen[onScreen.length - 1] : -1;
  const order = onScreen.filter(shown);
  const onScreenSet = new Set(onScreen);
  for (let step = 1; high + step < count || low - step >= 0; step += 1) {
    for (const item of [high + step, low - step]) {
      if (item >= 0 && item < count && shown(item)) order.push(item);
    }
  }
  // Items between the first and last on screen that were not on screen themselves.
  for (let item = low; item <= high; item += 1) {
    if (!onScreenSet.has(item) && shown(item)) order.push(item);
  }
  return order;
}

/**
 * Frames to fetch for items in an order: every item's first frame first (a still is shown
 * until a clip's frames arrive), then the other frames of each item, in the same order.
 * @param {number[]} items
 * @param {number} framesPerItem
 */
export function framesFor(items, framesPerItem) {
  const frames = items.map((item) => item * framesPerItem);
  for (const item of items) {
    for (let frame = 1; frame < framesPerItem; frame += 1) frames.push(item * framesPerItem + frame);
  }
  return frames;
}

/**
 * Read a thumbnails stream: header (index, length), JPEG, header, JPEG…
 * @param {ReadableStreamDefaultReader<Uint8Array>} reader
 * @param {(index: number, jpeg: Uint8Array) => void} onImage
 */
export async function readThumbnailStream(reader, onImage) {
  /** @type {Uint8Array} */
  let buffer = new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (buffer.length === 0) buffer = value;
    else {
      const merged = new Uint8Array(buffer.length + value.length);
      merged.set(buffer);
      merged.set(value, buffer.length);
      buffer = merged;
    }
    let offset = 0;
    while (buffer.length - offset >= THUMBNAIL_HEADER_BYTES) {
      const header = new DataView(buffer.buffer, buffer.byteOffset + offset, THUMBNAIL_HEADER_BYTES);
      const index = header.getUint32(0);
      const length = header.getUint32(4);
      const end = offset + THUMBNAIL_HEADER_BYTES + length;
      if (end > buffer.length) break;
      onImage(index, buffer.subarray(offset + THUMBNAIL_HEADER_BYTES, end));
      offset = end;
    }
    buffer = buffer.subarray(offset);
  }
}

/**
 * A JPEG as a data: URL. Base64 by the browser's Uint8Array.toBase64 where there is one
 * (a few microseconds), else by btoa over 8 KB pieces (String.fromCharCode.apply: a spread
 * of the whole array measured eight times slower).
 * @param {Uint8Array} jpeg
 */
export function jpegDataUrl(jpeg) {
  const native = /** @type {any} */ (jpeg).toBase64;
  if (typeof native === "function") return `data:image/jpeg;base64,${native.call(jpeg)}`;
  const parts = [];
  for (let start = 0; start < jpeg.length; start += 0x2000) {
    parts.push(String.fromCharCode.apply(null, /** @type {any} */ (jpeg.subarray(start, start + 0x2000))));
  }
  return `data:image/jpeg;base64,${btoa(parts.join(""))}`;
}

/** The thumbnails of one request, fetched nearest-first and kept as data: URLs. */
export class PreviewStore {
  /**
   * @param {{ client: HitlClient, requestId: string, frames: number,
   *   onFrame: (frame: number, url: string) => void, onDrop?: (frame: number) => void, cap?: number }} options
   */
  constructor({ client, requestId, frames, onFrame, onDrop, cap = KEPT_FRAMES }) {
    this.client = client;
    this.requestId = requestId;
    this.frames = frames;
    this.onFrame = onFrame;
    this.onDrop = onDrop ?? (() => {});
    this.cap = Math.max(1, cap);
    /** @type {Map<number, string>} frame -> data: URL, oldest first */
    this.urls = new Map();
    /** @type {number[]} what the current stream was asked for, in order */
    this.streaming = [];
    /** @type {AbortController | null} */
    this.controller = null;
    /** @type {number[] | null} the newest order asked for, not yet acted on */
    this.wanted = null;
    /** @type {number[]} the newest order asked for: what follows a stream that ends */
    this.lastWanted = [];
    this.lastStart = -Infinity;
    /** @type {number | undefined} */
    this.timer = undefined;
    this.closed = false;
  }

  /** @param {number} frame */
  url(frame) {
    return this.urls.get(frame);
  }

  /**
   * Fetch these frames (nearest-first), those not kept yet. A running stream that already
   * brings the first of them next is left alone; otherwise it is replaced, at most every
   * RESTART_EVERY_MS while the person scrolls.
   * @param {number[]} order
   */
  want(order) {
    if (this.closed) return;
    this.wanted = order;
    this.lastWanted = order;
    const wait = this.lastStart + RESTART_EVERY_MS - performance.now();
    if (wait > 0) {
      if (this.timer === undefined) this.timer = window.setTimeout(() => this.#act(), wait);
      return;
    }
    this.#act();
  }

  #act() {
    this.timer = undefined;
    const order = this.wanted;
    this.wanted = null;
    if (!order || this.closed) return;
    const missing = order.filter((frame) => frame >= 0 && frame < this.frames && !this.urls.has(frame));
    if (missing.length === 0) return;
    const coming = this.streaming.filter((frame) => !this.urls.has(frame));
    const head = Math.min(missing.length, 8);
    if (this.controller && missing.slice(0, head).every((frame, at) => coming[at] === frame)) return;
    this.#start(missing);
  }

  /** @param {number[]} order */
  #start(order) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.streaming = order;
    this.lastStart = performance.now();
    const route = routePath("thumbnails", { request_id: this.requestId });
    void this.client
      .stream(route, { order }, controller.signal)
      .then((reader) => readThumbnailStream(reader, (frame, jpeg) => this.#keep(frame, jpeg)))
      .then(() => {
        if (this.controller !== controller) return;
        this.controller = null;
        // Done: fetch whatever the newest order still misses (it was left to this stream
        // while the stream brought its head). A stream cut short (the request ended, its
        // images released) is not followed by another.
        if (order.every((frame) => this.urls.has(frame))) {
          this.wanted ??= this.lastWanted;
          this.#act();
        }
      })
      .catch((error) => {
        if (this.controller === controller) this.controller = null;
        // Aborted for a newer order, or the request ended (the dialog closes): nothing to do.
        if (!controller.signal.aborted && !this.closed) console.debug("[comfyui-hitl] thumbnail stream ended", error);
      });
  }

  /** @param {number} frame @param {Uint8Array} jpeg */
  #keep(frame, jpeg) {
    if (this.closed || this.urls.has(frame) || frame >= this.frames) return;
    const url = jpegDataUrl(jpeg);
    this.urls.set(frame, url);
    this.onFrame(frame, url);
  }

  /**
   * Keep at most `cap` frames: drop those farthest from `center` (a frame index) first.
   * @param {number} center
   */
  trim(center) {
    if (this.urls.size <= this.cap) return;
    const byDistance = [...this.urls.keys()].sort((a, b) => Math.abs(b - center) - Math.abs(a - center));
    for (const frame of byDistance.slice(0, this.urls.size - this.cap)) {
      this.urls.delete(frame);
      this.onDrop(frame);
    }
  }

  close() {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.controller?.abort();
    this.urls.clear();
  }
}

/** How clips play: at what rate, and whether always or only on hover and focus. */
export const PLAY_MODES = Object.freeze({ HOVER: "hover", ALWAYS: "always" });
export const FRAME_RATES = Object.freeze([4, 8, 12, 16, 24, 30]);

/**
 * Plays clips on their tiles' images: one animation-frame loop for the whole dialog, running
 * only while some clip plays. A clip plays once all its frames have arrived; until then its
 * tile shows the first frame.
 */
export class ClipPlayer {
  /**
   * @param {{ framesPerItem: number, frameUrl: (frame: number) => string | undefined,
   *   image: (item: number) => HTMLImageElement | undefined, fps: number }} options
   */
  constructor({ framesPerItem, frameUrl, image, fps }) {
    this.framesPerItem = framesPerItem;
    this.frameUrl = frameUrl;
    this.image = image;
    this.fps = fps;
    /** @type {Set<number>} items that play */
    this.playing = new Set();
    /** @type {number | undefined} */
    this.raf = undefined;
    this.startedAt = performance.now();
    this.shownFrame = -1;
  }

  /** @param {number} item */
  ready(item) {
    for (let frame = 0; frame < this.framesPerItem; frame += 1) {
      if (!this.frameUrl(item * this.framesPerItem + frame)) return false;
    }
    return true;
  }

  /** @param {Iterable<number>} items the items that should play now */
  play(items) {
    const next = new Set(items);
    for (const item of this.playing) if (!next.has(item)) this.#still(item);
    this.playing = next;
    if (this.playing.size && this.raf === undefined) this.raf = requestAnimationFrame((time) => this.#tick(time));
    if (!this.playing.size) this.#stop();
  }

  /** @param {number} fps */
  setRate(fps) {
    this.fps = fps;
    this.startedAt = performance.now();
  }

  /** The frame (0-based, within a clip) every playing clip shows at `time`. @param {number} time */
  frameAt(time) {
    return Math.floor(((time - this.startedAt) * this.fps) / 1000) % this.framesPerItem;
  }

  /** @param {number} time */
  #tick(time) {
    this.raf = undefined;
    if (!this.playing.size) return;
    const frame = this.frameAt(time);
    if (frame !== this.shownFrame) {
      this.shownFrame = frame;
      for (const item of this.playing) {
        if (!this.ready(item)) continue;
        const image = this.image(item);
        const url = this.frameUrl(item * this.framesPerItem + frame);
        if (image && url && image.getAttribute("src") !== url) image.src = url;
      }
    }
    this.raf = requestAnimationFrame((next) => this.#tick(next));
  }

  /** Back to the first frame. @param {number} item */
  #still(item) {
    const image = this.image(item);
    const url = this.frameUrl(item * this.framesPerItem);
    if (image && url && image.getAttribute("src") !== url) image.src = url;
  }

  #stop() {
    if (this.raf !== undefined) cancelAnimationFrame(this.raf);
    this.raf = undefined;
    this.shownFrame = -1;
  }

  close() {
    this.#stop();
    this.playing.clear();
  }
}
