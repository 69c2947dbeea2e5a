"""The inbox page's files as they travel (_page_files.py): gzip, ETags, a changed file re-read."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from dev.harness.pack import submodule

page_files = submodule("server.page_files")


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("*", True),
        ("identity", False),
        ("", False),
        ("gzip;q=0", False),
        ("gzip;q=0.0, deflate", False),
        ("gzip;q=nonsense", False),
        ("GZIP", True),
        ("x-gzip", False),
    ],
)
def test_accepts_gzip_reads_the_header_as_browsers_send_it(header: str, accepted: bool) -> None:
    assert page_files.accepts_gzip(header) is accepted


def test_etag_matches_any_listed_tag_weak_or_strong() -> None:
    assert page_files.etag_matches('"a", W/"b"', '"b"')
    assert page_files.etag_matches("*", '"b"')
    assert not page_files.etag_matches('"a"', '"b"')
    assert not page_files.etag_matches("", '"b"')


def test_a_file_is_encoded_once_and_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "module.js"
    path.write_text("export const a = 1;\n" * 100)
    files = page_files.PageFiles()
    first = files.encoded(path)
    assert files.encoded(path) is first  # not read again
    assert first.gzipped is not None and gzip.decompress(first.gzipped) == first.plain
    path.write_text("export const b = 2;\n" * 101)
    os.utime(path, ns=(first.stamp[0] + 1_000_000, first.stamp[0] + 1_000_000))
    second = files.encoded(path)
    assert second.plain.startswith(b"export const b") and second.etag != first.etag
    tiny = tmp_path / "tiny.css"
    tiny.write_text("a{}")
    assert files.encoded(tiny).gzipped is None  # gzip would only add bytes
    assert "cached=2" in repr(files)


async def test_responses_gzip_revalidate_and_send_no_body_with_a_304(aiohttp_client: Any, tmp_path: Path) -> None:
    path = tmp_path / "module.js"
    path.write_text("export const a = 1;\n" * 200)
    files = page_files.PageFiles()

    async def handler(request: web.Request) -> web.Response:
        return files.response(request, path, {"Content-Type": "text/javascript; charset=utf-8"})

    app = web.Application()
    app.router.add_get("/m.js", handler)
    client = await aiohttp_client(app)
    zipped = await client.get("/m.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(await zipped.read()) == path.read_bytes()
    etag = zipped.headers["ETag"]
    # Twice on one keep-alive connection: the 304 carries no body that would spoil the next answer.
    for _ in range(2):
        again = await client.get("/m.js", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert again.status == 304 and await again.read() == b""
    plain = await client.get("/m.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and await plain.read() == path.read_bytes()
    assert plain.headers["ETag"] == etag and plain.content_type == "text/javascript"
