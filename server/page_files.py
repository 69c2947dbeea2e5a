"""The inbox page's files as they travel: gzipped when the browser accepts it, revalidated by ETag.

A phone on a weak Wi-Fi waits for every byte of the page before it shows the list, and the
dialogs' modules are mostly text (JSDoc and CSS) that gzip shrinks to about a quarter. Each
file is read and compressed once, and again only when it changes on disk (its size or
modification time), so an updated pack is served at once without a restart.

Why not aiohttp's ``FileResponse`` with ``enable_compression()``: its 304 answer to a
revalidation then carries a compressed empty body, which breaks the keep-alive connection
(the browser reads those bytes as the next response's status line).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

#: The smallest file worth compressing: below this, gzip's header outweighs what it saves.
MIN_COMPRESSED_BYTES = 256


@dataclass(frozen=True)
class EncodedFile:
    """One file's bytes, plain and gzipped, with the ETag both share (the content's hash)."""

    stamp: tuple[int, int]
    etag: str
    plain: bytes
    gzipped: bytes | None

    def __repr__(self) -> str:
        zipped = len(self.gzipped) if self.gzipped is not None else None
        return f"<EncodedFile {self.etag} plain={len(self.plain)} gzipped={zipped}>"


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``q=0`` refuses it)."""
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() not in {"gzip", "*"}:
            continue
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                return float(quality[2:]) > 0
            except ValueError:
                return False
        return True
    return False


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weakly, as RFC 9110 says for GET)."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


@dataclass
class PageFiles:
    """The files served so far, encoded; a file is re-read when its stamp changes."""

    _files: dict[Path, EncodedFile] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<PageFiles cached={len(self._files)}>"

    def encoded(self, path: Path) -> EncodedFile:
        """``path``'s bytes as sent (read and compressed now if new or changed)."""
        status = path.stat()
        stamp = (status.st_mtime_ns, status.st_size)
        cached = self._files.get(path)
        if cached is None or cached.stamp != stamp:
            plain = path.read_bytes()
            digest = hashlib.sha256(plain).hexdigest()[:24]
            gzipped = gzip.compress(plain, compresslevel=9, mtime=0) if len(plain) >= MIN_COMPRESSED_BYTES else None
            cached = EncodedFile(stamp, f'"{digest}"', plain, gzipped)
            self._files[path] = cached
        return cached

    def response(self, request: web.Request, path: Path, headers: Mapping[str, str]) -> web.Response:
        """The response for ``path``: 304 when the browser has it, gzipped when it may be."""
        encoded = self.encoded(path)
        sent = {**headers, "ETag": encoded.etag, "Vary": "Accept-Encoding"}
        if etag_matches(request.headers.get("If-None-Match", ""), encoded.etag):
            sent.pop("Content-Type", None)
            return web.Response(status=304, headers=sent)
        if encoded.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding", "")):
            sent["Content-Encoding"] = "gzip"
            return web.Response(body=encoded.gzipped, headers=sent)
        return web.Response(body=encoded.plain, headers=sent)
