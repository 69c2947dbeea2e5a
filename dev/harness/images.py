"""Image sources for route tests: stand-ins for ``_images.BatchImages`` whose renditions are
whatever bytes a test chooses, ready at once (or when the test says), so a route test needs
no real batch and no thread."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence

#: The media type each rendition is served with (as ``_images.MEDIA_TYPES``).
MEDIA_TYPES = {"thumb": "image/jpeg", "preview": "image/jpeg", "full": "image/png", "mask": "image/png"}


def made(data: bytes) -> concurrent.futures.Future[bytes]:
    """A future that already holds ``data``."""
    future: concurrent.futures.Future[bytes] = concurrent.futures.Future()
    future.set_result(data)
    return future


class FixedImages:
    """``count`` images; rendition ``size`` of image ``index`` is ``make(size, index)``
    (by default ``b"<size>-<index>"``). ``asked`` records every ask, in order."""

    def __init__(
        self,
        count: int,
        make: Callable[[str, int], bytes] | None = None,
        *,
        sizes: Sequence[str] = ("thumb", "full"),
    ) -> None:
        self.count = count
        self.make = make or (lambda size, index: f"{size}-{index}".encode())
        self.sizes = tuple(sizes)
        self.asked: list[tuple[str, list[int]]] = []

    def __repr__(self) -> str:
        return f"<FixedImages count={self.count} sizes={self.sizes} asked={len(self.asked)}>"

    def image_count(self) -> int:
        return self.count

    def media_type(self, size: str) -> str:
        return MEDIA_TYPES[size]

    def image_futures(self, size: str, indices: Sequence[int]) -> list[concurrent.futures.Future[bytes]]:
        self.asked.append((size, list(indices)))
        return [made(self.make(size, index)) for index in indices]


class PendingImages(FixedImages):
    """Images whose futures the test completes (or cancels, as a closed batch does)."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.futures: dict[tuple[str, int], concurrent.futures.Future[bytes]] = {}

    def image_futures(self, size: str, indices: Sequence[int]) -> list[concurrent.futures.Future[bytes]]:
        self.asked.append((size, list(indices)))
        return [self.futures.setdefault((size, index), concurrent.futures.Future()) for index in indices]
