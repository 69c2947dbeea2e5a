"""Make a ComfyUI IMAGE batch showable: small JPEG thumbnails up front, full size on demand.

ComfyUI's IMAGE is float32 [B, H, W, C] in 0..1, a torch tensor (numpy arrays are accepted
too). Peers convert the whole batch to uint8 at once and write full PNGs to disk before
anything is shown; here each frame is converted on its own, a band of rows at a time (so the
float temporaries stay in the CPU cache) into a uint8 buffer reused from frame to frame,
reduced by Pillow, and JPEG-encoded in memory, two frames at a time (numpy and Pillow let go
of the GIL). Encoding runs in the background from the moment the batch is wrapped, in index
order except that any frame someone asks for (a browser showing a scrolled grid) is made
next; so a browser can have thumbnail 0, or 200, while others are still being made. Nothing
is written to disk, and the batch itself is kept by reference, not copied.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from PIL import Image

#: Longest edge of a thumbnail, in pixels.
THUMB_EDGE = 256
THUMB_QUALITY = 75
#: How many frames are converted at once (the CI machine has 2 cores).
WORKERS = 2
#: Bytes of float temporaries per conversion step: small enough to stay in a core's L2 cache
#: (converting a 1024x1024 frame in bands measured about 2x faster than in one piece).
BAND_BYTES = 512 * 1024


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


class _ThumbnailOrder:
    """Which frame's thumbnail to make next: index order, except that frames someone asked
    for go first, the most recent ask first. Thread-safe; O(1) per frame taken or asked for."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._count = count
        self._next = 0
        self._asked: deque[int] = deque()
        self._taken = bytearray(count)
        self._closed = False

    def __repr__(self) -> str:
        with self._lock:
            return f"<_ThumbnailOrder taken={sum(self._taken)}/{self._count} asked={len(self._asked)}>"

    def take(self) -> int | None:
        """The next frame to make, or None when every frame is taken or the batch is closed."""
        with self._lock:
            while self._asked and not self._closed:
                index = self._asked.popleft()
                if not self._taken[index]:
                    self._taken[index] = 1
                    return index
            while self._next < self._count and not self._closed:
                index = self._next
                self._next += 1
                if not self._taken[index]:
                    self._taken[index] = 1
                    return index
            return None

    def ask(self, indices: Iterable[int]) -> None:
        """Make these frames next, in this order (ahead of any asked for before)."""
        with self._lock:
            fresh = [index for index in indices if not self._taken[index]]
            self._asked.extendleft(reversed(fresh))
            if len(self._asked) > 4 * self._count:
                # Repeated asks leave stale entries behind (skipped when taken): drop them.
                seen = bytearray(self._count)
                kept: deque[int] = deque()
                for index in self._asked:
                    if not self._taken[index] and not seen[index]:
                        seen[index] = 1
                        kept.append(index)
                self._asked = kept

    def close(self) -> None:
        with self._lock:
            self._closed = True


class BatchImages:
    """An IMAGE batch ready to show: ``thumb(i)`` is a JPEG made in the background;
    ``image_bytes(i, "full")`` encodes a full-size PNG when (and only when) asked.

    Implements ``server_routes.ImageSource`` and ``server_routes.ThumbnailSource``.
    """

    def __init__(
        self,
        images: Any,
        *,
        thumb_edge: int = THUMB_EDGE,
        quality: int = THUMB_QUALITY,
        workers: int = WORKERS,
        start: bool = True,
    ) -> None:
        self.frames = as_frames(images)
        self.count, self.height, self.width = (int(n) for n in self.frames.shape[:3])
        self._quality = quality
        self._scale = _thumb_scale(self.height, self.width, thumb_edge)
        self._converter = _FrameConverter()
        self._full_lock = threading.Lock()
        self._full_cache: dict[int, bytes] = {}
        # Thumbnails are made in the background; whoever needs one waits on its future (and
        # asking for it moves it to the front). The threads end once every frame is done.
        self._order = _ThumbnailOrder(self.count)
        self._thumb_futures: list[Future[bytes]] = [Future() for _ in range(self.count)]
        self._workers = min(workers, self.count)
        self._started = False
        if start:
            self.start()

    def start(self) -> None:
        """Start making the thumbnails (once; later calls do nothing). A node may wrap the
        batch first and start it once its request is published, so the threads' work does
        not delay the message that opens the dialog."""
        with self._full_lock:
            if self._started:
                return
            self._started = True
        pool = ThreadPoolExecutor(self._workers, thread_name_prefix="hitl-thumbs")
        for _ in range(self._workers):
            pool.submit(self._make_thumbnails)
        pool.shutdown(wait=False)

    def __repr__(self) -> str:
        done = sum(future.done() for future in self._thumb_futures)
        return f"<BatchImages {self.count}×{self.width}×{self.height} thumbs={done}/{self.count}>"

    def _make_thumbnails(self) -> None:
        while (index := self._order.take()) is not None:
            future = self._thumb_futures[index]
            if not future.set_running_or_notify_cancel():
                continue  # closed: nobody will fetch it
            try:
                future.set_result(self._thumbnail(index))
            except BaseException as exc:  # handed to whoever waits for this thumbnail
                future.set_exception(exc)

    @property
    def thumbs(self) -> list[bytes]:
        """Every thumbnail (JPEG bytes), waiting for the ones still being made."""
        return [self.thumb(index) for index in range(self.count)]

    def thumb_futures(self, indices: Sequence[int]) -> list[Future[bytes]]:
        """The futures of these thumbnails; those not made yet are made next, in this order
        (a browser's nearest-first order), ahead of any asked for before."""
        self._order.ask(index for index in indices if not self._thumb_futures[index].done())
        return [self._thumb_futures[index] for index in indices]

    def thumb(self, index: int, timeout: float | None = None) -> bytes:
        """Thumbnail ``index``, waiting up to ``timeout`` s if it is still being made.

        :class:`ImagesReleased` if the batch was closed before it was made."""
        try:
            return self.thumb_futures((index,))[0].result(timeout)
        except CancelledError:
            raise ImagesReleased("the request has ended; its images are gone") from None

    def close(self) -> None:
        """Stop making thumbnails nobody will fetch (the request has ended)."""
        self._order.close()
        for future in self._thumb_futures:
            future.cancel()

    def _thumbnail(self, index: int) -> bytes:
        # The vertical half of the box filter in numpy floats on two rows per block (see
        # pair_rows_uint8), the horizontal half by Pillow's C box filter on uint8. Frames too
        # short for a block of rows (a 3000×2 strip) take the plain path: all rows, then Pillow.
        frame = self.frames[index]
        scale = self._scale
        if scale == 1:
            image = _to_pil(self._converter.to_uint8(frame))
        elif frame.shape[0] >= scale:
            image = _to_pil(self._converter.pair_rows_uint8(frame, scale)).reduce((scale, 1))
        else:
            image = _to_pil(self._converter.to_uint8(frame)).reduce(scale)
        if image.mode == "RGBA":
            image = image.convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self._quality)
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
        if size == "thumb":
            return self.thumb(index), "image/jpeg"
        with self._full_lock:
            cached = self._full_cache.get(index)
        if cached is None:
            buffer = io.BytesIO()
            _to_pil(_full_uint8(self.frames[index])).save(buffer, format="PNG", compress_level=1)
            cached = buffer.getvalue()
            with self._full_lock:
                # Keep a few: zooming back and forth should not re-encode, but memory stays bounded.
                if len(self._full_cache) >= 4:
                    self._full_cache.pop(next(iter(self._full_cache)))
                self._full_cache[index] = cached
        return cached, "image/png"
