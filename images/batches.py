"""Make a ComfyUI IMAGE batch showable: small JPEG thumbnails up front, a screen-sized
JPEG preview and the exact full-size PNG on demand, and an input mask as grayscale PNG.

ComfyUI's IMAGE is float32 [B, H, W, C] in 0..1, a torch tensor (numpy arrays are accepted
too). Peers convert the whole batch to uint8 at once and write full PNGs to disk before
anything is shown; here each frame is converted on its own, a band of rows at a time (so the
float temporaries stay in the CPU cache) into a uint8 buffer reused from frame to frame,
reduced by Pillow, and JPEG-encoded in memory, two frames at a time (numpy and Pillow let go
of the GIL). Nothing is written to disk, and the batch itself is kept by reference, not copied.

Each rendition is made once per request and served from memory by the pack's image routes
(``server_routes``): ``thumb`` (256 px JPEG), ``preview`` (about 1280 px JPEG, what the mask
painter paints on), ``full`` (PNG) and ``mask`` (the node's input mask, 8-bit PNG). All are
made by one small set of background threads, in one queue:

- the renditions the node lists in ``warm`` (by default every thumbnail, in index order),
  from the moment the node starts the batch (``start``: once its request is published, so
  the threads do not hold up the message that opens the dialog);
- ahead of those, anything someone asks for (:meth:`BatchImages.image_futures`), the most recent
  ask first: the frames a browser shows after scrolling a grid of 256, a zoom's full PNG.

So a browser can have thumbnail 0, or 200, while others are still being made, and a route
waits for an image on its future without holding a thread.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from typing import Any

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

#: Longest edge of a thumbnail, in pixels.
THUMB_EDGE = 256
THUMB_QUALITY = 75
#: Longest edge a preview is reduced to (an integer factor, so at most this), and its quality.
PREVIEW_EDGE = 1280
PREVIEW_QUALITY = 85
#: Renditions kept after they are made: every thumbnail, and this many of the large ones.
LARGE_CACHE = 6
#: How many frames are converted at once (the CI machine has 2 cores).
WORKERS = 2
#: Bytes of float temporaries per conversion step: small enough to stay in a core's L2 cache
#: (converting a 1024x1024 frame in bands measured about 2x faster than in one piece).
BAND_BYTES = 512 * 1024
#: Thumbnails a question's dialog (value prompt, form) shows of an IMAGE batch; the rest
#: are counted, not sent.
MAX_IMAGES_SHOWN = 16
#: The media type of each rendition.
MEDIA_TYPES = {"thumb": "image/jpeg", "preview": "image/jpeg", "full": "image/png", "mask": "image/png"}

#: A rendition of one image: (size, index), e.g. ("thumb", 3).
Key = tuple[str, int]


def as_frames(images: Any) -> np.ndarray:
    """A [B, H, W, C] float array view of a torch tensor or numpy array, without a copy
    when the tensor is already float32 on the CPU."""
    if hasattr(images, "detach"):  # torch.Tensor, without importing torch
        images = images.detach()
        if images.device.type != "cpu":
            images = images.cpu()
        if str(images.dtype) == "torch.bfloat16":  # numpy has no bfloat16: a float32 copy it is
            images = images.float()
        images = images.numpy()
    array = np.asarray(images)
    if array.ndim == 3:  # a single image [H, W, C]
        array = array[None]
    if array.ndim != 4 or array.shape[0] < 1 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"expected an IMAGE batch [B, H, W, C] with C in 1, 3, 4; got shape {array.shape}")
    if array.shape[1] < 1 or array.shape[2] < 1:
        raise ValueError(f"images must not be empty; got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"expected float images in 0..1; got {array.dtype}")
    return array


def _thumb_scale(height: int, width: int, edge: int) -> int:
    """The integer reduction factor that brings the longest edge to about ``edge``."""
    return max(1, -(-max(height, width) // edge))  # ceil division


class _FrameConverter:
    """Per-thread float->uint8 conversion into buffers reused from frame to frame."""

    def __init__(self) -> None:
        self._local = threading.local()

    def to_uint8(self, frame: np.ndarray) -> np.ndarray:
        height, width, channels = frame.shape
        rows = max(1, min(height, BAND_BYTES // (width * channels * 4)))
        buffers = getattr(self._local, "buffers", None)
        if buffers is None or buffers[1].shape != frame.shape or buffers[0].shape[0] != rows:
            buffers = (np.empty((rows, width, channels), np.float32), np.empty(frame.shape, np.uint8))
            self._local.buffers = buffers
        band, out = buffers
        for top in range(0, height, rows):
            scaled = band[: min(rows, height - top)]
            np.multiply(frame[top : top + rows], 255.0, out=scaled, casting="unsafe")
            # Clip and cast in one pass, truncating as SaveImage does.
            np.clip(scaled, 0, 255, out=out[top : top + rows], casting="unsafe")
        return out

    def pair_rows_uint8(self, frame: np.ndarray, scale: int) -> np.ndarray:
        """Row k of the result is the mean of two rows of the frame's k-th block of ``scale``
        rows (rows scale//4 and scale//4 + scale//2 of it: a 2×2 box for scale 2), as uint8.

        A float frame costs far more to read and convert than Pillow's uint8 box filter costs
        to reduce, so the vertical half of the reduction is done here, in float, on two rows
        per block, a band at a time (the band stays in the CPU cache); Pillow then reduces
        each row by ``scale``. A 4×4 box becomes 4×2 samples of it: no visible difference at
        thumbnail size, and a third of the work of converting every other row first."""
        height, width, channels = frame.shape
        out_rows = height // scale
        first_row = scale // 4
        second_row = first_row + scale // 2
        rows = max(1, min(out_rows, BAND_BYTES // (width * channels * 4)))
        buffers = getattr(self._local, "pair_buffers", None)
        if buffers is None or buffers[1].shape != (out_rows, width, channels) or buffers[0].shape[0] != rows:
            buffers = (np.empty((rows, width, channels), np.float32), np.empty((out_rows, width, channels), np.uint8))
            self._local.pair_buffers = buffers
        band, out = buffers
        first = frame[first_row : out_rows * scale : scale]
        second = frame[second_row : out_rows * scale : scale]
        for top in range(0, out_rows, rows):
            pair = band[: min(rows, out_rows - top)]
            np.add(first[top : top + rows], second[top : top + rows], out=pair)
            np.multiply(pair, 127.5, out=pair)  # the mean of the two, times 255
            # Clip and cast in one pass, truncating as SaveImage does.
            np.clip(pair, 0, 255, out=out[top : top + rows], casting="unsafe")
        return out


def _full_uint8(frame: np.ndarray) -> np.ndarray:
    # A zoom is rare and runs off the event loop: a plain allocation per call is fine here.
    pixels: np.ndarray = (np.clip(frame, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return pixels


def _to_pil(pixels: np.ndarray) -> Image.Image:
    if pixels.shape[-1] == 1:
        return Image.fromarray(pixels[..., 0], "L")
    if pixels.shape[-1] == 4:
        return Image.fromarray(pixels, "RGBA")
    return Image.fromarray(pixels, "RGB")


class ImagesReleased(LookupError):
    """The images were released (their request ended) while one was being asked for."""


def as_masks(masks: Any, count: int, height: int, width: int) -> np.ndarray:
    """A MASK input as float [1 or count, height, width] in 0..1: a single [H, W] mask is a
    batch of one (it applies to every image), and a mask of another size is scaled to the
    image (bilinear, as ComfyUI's compositing nodes do)."""
    if hasattr(masks, "detach"):
        masks = masks.detach().cpu().float().numpy()
    array = np.asarray(masks, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise ValueError(f"expected a MASK [B, H, W] or [H, W]; got shape {list(array.shape)}")
    if array.shape[0] not in (1, count):
        raise ValueError(
            f"the mask batch has {array.shape[0]} entries but the image batch has {count}: "
            "connect one mask for all images or one per image"
        )
    if array.shape[1:] != (height, width):
        array = np.stack(
            [
                np.asarray(Image.fromarray(frame, "F").resize((width, height), Image.Resampling.BILINEAR))
                for frame in array
            ]
        )
    clipped: np.ndarray = np.clip(array, 0.0, 1.0)
    return clipped


class BatchImages:
    """An IMAGE batch ready to show, by index and rendition (see the module's docstring).

    ``warm`` lists the (rendition, index) pairs to make in the background, in that order;
    by default every thumbnail (the picker's grid). Anything else is made when first asked
    for. ``masks`` (float [1 or count, H, W]) adds the ``mask`` rendition. With ``start``
    False nothing is made until :meth:`start` (``HitlNode.ask`` calls it once the request
    is out); asks made meanwhile wait in the queue.

    Implements ``server_routes.ImageSource``.
    """

    def __init__(
        self,
        images: Any,
        *,
        thumb_edge: int = THUMB_EDGE,
        quality: int = THUMB_QUALITY,
        masks: np.ndarray | None = None,
        warm: Sequence[Key] | None = None,
        workers: int = WORKERS,
        start: bool = True,
    ) -> None:
        #: The batch as float frames [B, H, W, C]; None once closed.
        frames = as_frames(images)
        self.frames: np.ndarray | None = frames
        self.count, self.height, self.width = (int(n) for n in frames.shape[:3])
        self.masks = masks
        self.sizes: tuple[str, ...] = ("thumb", "preview", "full") + (("mask",) if masks is not None else ())
        self._quality = quality
        self._scale = _thumb_scale(self.height, self.width, thumb_edge)
        self._preview_scale = _thumb_scale(self.height, self.width, PREVIEW_EDGE)
        self._converter = _FrameConverter()
        self._workers = max(1, workers)
        # Everything below is guarded by the lock.
        self._lock = threading.Lock()
        self._closed = False
        self._started = False
        self._running = 0
        #: Every rendition queued, being made, or made (the large ones made: the last few).
        self._made: dict[Key, Future[bytes]] = {}
        #: Renditions not yet taken by a thread; the two queues below may hold stale keys
        #: (taken since, or asked twice), which are skipped.
        self._pending: set[Key] = set()
        self._warm: deque[Key] = deque()
        self._asked: deque[Key] = deque()
        warm = [("thumb", i) for i in range(self.count)] if warm is None else warm
        for key in warm:
            size, index = key
            if size in self.sizes and 0 <= index < self.count and key not in self._made:
                self._made[key] = Future()
                self._pending.add(key)
                self._warm.append(key)
        if start:
            self.start()

    def __repr__(self) -> str:
        with self._lock:
            done = sum(future.done() for future in self._made.values())
            total = len(self._made)
            threads = self._running
            state = "closed" if self._closed else "started" if self._started else "not started"
        return f"<BatchImages {self.count}×{self.width}×{self.height} made={done}/{total} threads={threads} {state}>"

    def start(self) -> None:
        """Start making renditions (once; later calls do nothing)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            threads = self._threads_wanted()
        self._spawn(threads)

    def image_futures(self, size: str, indices: Sequence[int]) -> list[Future[bytes]]:
        """The futures of rendition ``size`` of these images (bytes, see :data:`MEDIA_TYPES`).
        Those not made yet are made next, in this order (a browser's nearest-first order),
        ahead of any asked for before. A future is cancelled once the batch is closed (its
        request ended) before it was made; indices must be below :attr:`count`."""
        if size not in self.sizes:
            raise ValueError(f"this batch has no {size!r} rendition")
        futures: list[Future[bytes]] = []
        fresh: list[Key] = []
        with self._lock:
            for index in indices:
                key = (size, index)
                future = self._made.get(key)
                if future is None:
                    future = Future()
                    if self._closed:
                        future.cancel()
                    else:
                        if size != "thumb":
                            self._forget_old_large()
                        self._made[key] = future
                        self._pending.add(key)
                if key in self._pending:
                    fresh.append(key)
                futures.append(future)
            self._asked.extendleft(reversed(fresh))
            if len(self._asked) > 4 * len(self._pending) + 64:
                self._compact_asked()
            threads = self._threads_wanted()
        self._spawn(threads)
        return futures

    def close(self) -> None:
        """The request has ended: stop making renditions, and let go at once of the frames,
        the masks and every rendition made (a batch may be gigabytes, and something may
        still hold this object: a route stalled on a client). A rendition being made when
        this is called is dropped when it is done; whoever waits for it is told it is
        gone (``CancelledError``)."""
        with self._lock:
            self._closed = True
            futures = list(self._made.values())
            self._made.clear()
            self._pending.clear()
            self._warm.clear()
            self._asked.clear()
            self.frames = None
            self.masks = None
        for future in futures:
            future.cancel()  # a running one cannot be cancelled: _work drops what it makes

    @property
    def thumbs(self) -> list[bytes]:
        """Every thumbnail (JPEG bytes), waiting for the ones still being made."""
        return [self.thumb(index) for index in range(self.count)]

    def thumb(self, index: int, timeout: float | None = None) -> bytes:
        """Thumbnail ``index``, waiting up to ``timeout`` s if it is still being made.

        :class:`ImagesReleased` if the batch was closed before it was made."""
        return self._result("thumb", index, timeout)

    def _result(self, size: str, index: int, timeout: float | None = None) -> bytes:
        try:
            return self.image_futures(size, (index,))[0].result(timeout)
        except CancelledError:
            raise ImagesReleased("the request has ended; its images are gone") from None

    # -- the queue and its threads (callers of the underscored helpers hold the lock)
    def _threads_wanted(self) -> int:
        if not self._started or self._closed:
            return 0
        wanted = min(self._workers, len(self._pending)) - self._running
        if wanted <= 0:
            return 0
        self._running += wanted
        return wanted

    def _spawn(self, threads: int) -> None:
        # Plain daemon threads, each ending when the queue is empty; an ask later starts
        # them again. Nothing is made on the caller's thread (a route's event loop).
        for _ in range(threads):
            threading.Thread(target=self._work, name="hitl-images", daemon=True).start()

    def _take(self) -> Key | None:
        if self._closed:
            return None
        for queue in (self._asked, self._warm):
            while queue:
                key = queue.popleft()
                if key in self._pending:
                    self._pending.discard(key)
                    return key
        return None

    def _compact_asked(self) -> None:
        # Repeated asks (a grid scrolled back and forth) leave stale keys behind: keep each
        # pending key once, where it was asked most recently. Linear, and rare enough that
        # asking stays O(1) per key on average.
        seen: set[Key] = set()
        kept: deque[Key] = deque()
        for key in self._asked:
            if key in self._pending and key not in seen:
                seen.add(key)
                kept.append(key)
        self._asked = kept

    def _forget_old_large(self) -> None:
        # Zooming back and forth should not re-encode, but memory stays bounded.
        large = [key for key, future in self._made.items() if key[0] != "thumb" and future.done()]
        for key in large[: max(0, len(large) - LARGE_CACHE + 1)]:
            del self._made[key]

    def _work(self) -> None:
        while True:
            with self._lock:
                key = self._take()
                if key is None:
                    self._running -= 1
                    return
                future = self._made[key]
            if not future.set_running_or_notify_cancel():
                continue  # closed meanwhile: nobody will fetch it
            try:
                data = self._render(*key)
            except ImagesReleased:
                future.set_exception(CancelledError())  # closed while it was being made
                continue
            except BaseException as exc:  # handed to whoever waits for it, and made again if asked again
                log.exception("could not make the %s image %d", *key)
                with self._lock:
                    if self._made.get(key) is future:
                        del self._made[key]
                future.set_exception(exc)
                continue
            with self._lock:
                closed = self._closed
            if closed:  # made after the request ended: dropped, so nothing of it outlives it
                future.set_exception(CancelledError())
            else:
                future.set_result(data)

    # -- the renditions
    def _frame(self, index: int) -> np.ndarray:
        frames = self.frames  # (one read: close() may drop it meanwhile)
        if frames is None:
            raise ImagesReleased("the request has ended; its images are gone")
        frame: np.ndarray = frames[index]
        return frame

    def _render(self, size: str, index: int) -> bytes:
        if size == "thumb":
            return self._thumbnail(index)
        if size == "preview":
            return self._preview(index)
        if size == "mask":
            return self._mask_png(index)
        buffer = io.BytesIO()
        _to_pil(_full_uint8(self._frame(index))).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    def _thumbnail(self, index: int) -> bytes:
        # The vertical half of the box filter in numpy floats on two rows per block (see
        # pair_rows_uint8), the horizontal half by Pillow's C box filter on uint8. Frames too
        # short for a block of rows (a 3000×2 strip) take the plain path: all rows, then Pillow.
        frame = self._frame(index)
        scale = self._scale
        if scale == 1:
            image = _to_pil(self._converter.to_uint8(frame))
        elif frame.shape[0] >= scale:
            image = _to_pil(self._converter.pair_rows_uint8(frame, scale)).reduce((scale, 1))
        else:
            image = _to_pil(self._converter.to_uint8(frame)).reduce(scale)
        return _jpeg(image, self._quality)

    def _preview(self, index: int) -> bytes:
        image = _to_pil(self._converter.to_uint8(self._frame(index)))
        if self._preview_scale > 1:
            image = image.reduce(self._preview_scale)
        return _jpeg(image, PREVIEW_QUALITY)

    def _mask_png(self, index: int) -> bytes:
        masks = self.masks
        if masks is None:
            if self._closed:
                raise ImagesReleased("the request has ended; its images are gone")
            raise ValueError("this batch has no mask")
        mask = masks[index if len(masks) > 1 else 0]
        pixels = (np.clip(mask, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels, "L").save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    def thumb_bytes(self) -> int:
        """Bytes a browser downloads to show every thumbnail."""
        return sum(len(thumb) for thumb in self.thumbs)

    def describe(self) -> list[dict[str, int]]:
        """What the browser needs to lay out the grid before any image arrives."""
        return [{"index": i, "width": self.width, "height": self.height} for i in range(self.count)]

    # -- server_routes.ImageSource
    def image_count(self) -> int:
        return self.count

    def media_type(self, size: str) -> str:
        return MEDIA_TYPES[size]

    def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
        """Rendition ``size`` of image ``index`` and its media type, waiting for it (for
        callers with a thread to spare: benchmarks, tests; the routes use :meth:`image_futures`)."""
        return self._result(size, index), MEDIA_TYPES[size]


def question_images(images: Any) -> BatchImages:
    """The images shown beside a question (a value prompt's, a form's): the thumbnails of the
    first :data:`MAX_IMAGES_SHOWN` made in the background once the request is out (the node's
    ``ask`` starts them), anything else only if asked for."""
    return BatchImages(images, warm=[("thumb", index) for index in range(MAX_IMAGES_SHOWN)], start=False)


def question_image_fields(images: BatchImages | None) -> dict[str, Any]:
    """The payload fields that tell a question's dialog about its images (none: no images)."""
    return {
        "image_count": images.image_count() if images else 0,
        "images": images.describe()[:MAX_IMAGES_SHOWN] if images else [],
    }


def _jpeg(image: Image.Image, quality: int) -> bytes:
    if image.mode == "RGBA":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def image_batch_size(images: Any) -> int:
    """How many images an IMAGE batch [B, H, W, C] holds; a clear error for anything else
    (checked on the shape alone, before anything is converted or copied)."""
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 4 or shape[-1] not in (1, 3, 4) or min(shape[1:3]) < 1:
        raise ValueError(f"images must be an IMAGE batch [B, H, W, C] with C in 1, 3, 4; got shape {list(shape)}")
    return int(shape[0])
