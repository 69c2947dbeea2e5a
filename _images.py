"""Make a ComfyUI IMAGE batch showable: small JPEG thumbnails up front, a screen-sized
JPEG preview and the exact full-size PNG on demand, and an input mask as grayscale PNG.

ComfyUI's IMAGE is float32 [B, H, W, C] in 0..1, a torch tensor (numpy arrays are accepted
too). Peers convert the whole batch to uint8 at once and write full PNGs to disk before
anything is shown; here each frame is converted on its own, a band of rows at a time (so the
float temporaries stay in the CPU cache) into a uint8 buffer reused from frame to frame,
reduced by Pillow, and JPEG-encoded in memory, two frames at a time (numpy and Pillow let go
of the GIL). Encoding runs in the background in index order, so a browser can fetch
thumbnail 0 while thumbnail 31 is still being made. Nothing is written to disk, and the
batch itself is kept by reference, not copied.

Each rendition is made once per request and served from memory by the pack's one image
route (``server_routes``): ``thumb`` (256 px JPEG), ``preview`` (about 1280 px JPEG, what the
mask painter paints on), ``full`` (PNG) and ``mask`` (the node's input mask, 8-bit PNG).
Which ones start at once, in the background and in order, is the node's choice (``warm``).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

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

    ``warm`` lists the (rendition, index) pairs to make at once, in the background, in that
    order; anything else is made when first asked for. By default every thumbnail is warmed
    (the picker's grid). ``masks`` (float [1 or count, H, W]) adds the ``mask`` rendition.

    Implements ``server_routes.ImageSource``.
    """

    def __init__(
        self,
        images: Any,
        *,
        thumb_edge: int = THUMB_EDGE,
        quality: int = THUMB_QUALITY,
        masks: np.ndarray | None = None,
        warm: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        self.frames = as_frames(images)
        self.count, self.height, self.width = (int(n) for n in self.frames.shape[:3])
        self.masks = masks
        self.sizes: tuple[str, ...] = ("thumb", "preview", "full") + (("mask",) if masks is not None else ())
        self._quality = quality
        self._scale = _thumb_scale(self.height, self.width, thumb_edge)
        self._preview_scale = _thumb_scale(self.height, self.width, PREVIEW_EDGE)
        self._converter = _FrameConverter()
        self._lock = threading.Lock()
        self._closed = False
        self._made: dict[tuple[str, int], Future[bytes]] = {}
        warm = [("thumb", i) for i in range(self.count)] if warm is None else list(warm)
        warm = [(size, index) for size, index in warm if size in self.sizes and 0 <= index < self.count]
        if warm:
            # Made in the background, in order; whoever needs one waits on its future. The
            # pool's threads end by themselves once the last one is done.
            pool = ThreadPoolExecutor(min(WORKERS, len(warm)), thread_name_prefix="hitl-thumbs")
            for size, index in warm:
                self._made[(size, index)] = pool.submit(self._render, size, index)
            pool.shutdown(wait=False)

    def __repr__(self) -> str:
        with self._lock:
            done = sum(future.done() for future in self._made.values())
            total = len(self._made)
        return f"<BatchImages {self.count}×{self.width}×{self.height} made={done}/{total} closed={self._closed}>"

    @property
    def thumbs(self) -> list[bytes]:
        """Every thumbnail (JPEG bytes), waiting for the ones still being made."""
        return [self.thumb(index) for index in range(self.count)]

    def thumb(self, index: int, timeout: float | None = None) -> bytes:
        """Thumbnail ``index``, waiting up to ``timeout`` s if it is still being made.

        :class:`ImagesReleased` if the batch was closed before it was made."""
        return self._get("thumb", index, timeout)

    def close(self) -> None:
        """Stop making renditions nobody will fetch (the request has ended)."""
        with self._lock:
            self._closed = True
            futures = list(self._made.values())
        for future in futures:
            future.cancel()

    def _get(self, size: str, index: int, timeout: float | None = None) -> bytes:
        with self._lock:
            future = self._made.get((size, index))
            mine = future is None
            if future is None:
                if self._closed:
                    raise ImagesReleased("the request has ended; its images are gone")
                future = Future()
                self._made[(size, index)] = future
                self._forget_old_large(size)
        if mine:
            # Made here, in the caller's thread (the route runs it off the event loop). A
            # running future cannot be cancelled, so close() meanwhile leaves it alone.
            if not future.set_running_or_notify_cancel():
                raise ImagesReleased("the request has ended; its images are gone")
            try:
                result = self._render(size, index)
            except BaseException as exc:
                future.set_exception(exc)
                with self._lock:
                    self._made.pop((size, index), None)
                raise
            future.set_result(result)
        try:
            return future.result(timeout)
        except CancelledError:
            raise ImagesReleased("the request has ended; its images are gone") from None

    def _forget_old_large(self, size: str) -> None:
        # Caller holds the lock. Zooming back and forth should not re-encode, but memory stays bounded.
        if size == "thumb":
            return
        large = [key for key, future in self._made.items() if key[0] != "thumb" and future.done()]
        for key in large[: max(0, len(large) - LARGE_CACHE + 1)]:
            del self._made[key]

    def _render(self, size: str, index: int) -> bytes:
        if size == "thumb":
            return self._thumbnail(index)
        if size == "preview":
            return self._preview(index)
        if size == "mask":
            return self._mask_png(index)
        buffer = io.BytesIO()
        _to_pil(_full_uint8(self.frames[index])).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()

    def _thumbnail(self, index: int) -> bytes:
        # Convert into this thread's reused uint8 buffer, then let Pillow's C box filter
        # reduce it (averaging in numpy floats first measured 7x slower). Reading the float
        # frame is most of the cost, so for an even reduction of 4 or more only every other
        # row is read and averaged (a 4x4 box becomes 4x2 samples of it): 25-35% faster for a
        # 1024² batch, and no visible difference at thumbnail size.
        frame = self.frames[index]
        rows_step = 2 if self._scale >= 4 and self._scale % 2 == 0 and frame.shape[0] % 2 == 0 else 1
        image = _to_pil(self._converter.to_uint8(frame[::rows_step]))
        if self._scale > 1:
            image = image.reduce((self._scale, self._scale // rows_step))
        return _jpeg(image, self._quality)

    def _preview(self, index: int) -> bytes:
        image = _to_pil(self._converter.to_uint8(self.frames[index]))
        if self._preview_scale > 1:
            image = image.reduce(self._preview_scale)
        return _jpeg(image, PREVIEW_QUALITY)

    def _mask_png(self, index: int) -> bytes:
        if self.masks is None:
            raise ValueError("this batch has no mask")
        mask = self.masks[index if len(self.masks) > 1 else 0]
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

    def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
        data = self._get(size, index)
        return data, "image/jpeg" if size in ("thumb", "preview") else "image/png"


def _jpeg(image: Image.Image, quality: int) -> bytes:
    if image.mode == "RGBA":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
