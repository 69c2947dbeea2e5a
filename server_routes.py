"""HTTP routes of the pack, added to a route table with :func:`add_routes`.

Every route lives under ``_protocol.ROUTE_PREFIX``. Bodies are JSON objects only (a form
post gets 415, so a foreign page cannot answer with a plain ``<form>``), capped in size,
and a request whose ``Origin`` is not this server is refused (403) even where ComfyUI's
own origin check is off. A refused call answers ``{"error": {"code", "message"}}`` with a
4xx status and changes nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import math
import struct
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from aiohttp import web

from . import _protocol as P
from .state import HitlError, RequestRegistry

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: HTTP status of each refusal code.
ERROR_STATUS: dict[str, int] = {
    "malformed_json": 400,
    "forbidden_origin": 403,
    "unknown_request": 404,
    "not_found": 404,
    "not_waiting": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "invalid_body": 422,
    "invalid_answer": 422,
}


IMAGE_SIZES = ("thumb", "full")
#: An image of a request never changes: a tab may keep it while the request waits.
IMAGE_CACHE_HEADERS = {"Cache-Control": "private, max-age=3600"}
#: The header before each JPEG of the thumbnails stream: its index and its length
#: (``_protocol.THUMBNAIL_HEADER_BYTES`` long; a test checks they agree).
THUMBNAIL_HEADER = struct.Struct(">II")

#: The OpenAPI document of these routes, kept beside this module.
OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"


@runtime_checkable
class ImageSource(Protocol):
    """What a request's ``resources`` provide when it has images to show (the picker)."""

    def image_count(self) -> int:
        """How many images there are."""

    def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
        """The encoded image ``index`` at ``size`` ("thumb" or "full") and its media type."""


@runtime_checkable
class ThumbnailSource(Protocol):
    """An :class:`ImageSource` that makes its thumbnails in the background (the picker's)."""

    def image_count(self) -> int:
        """How many images there are."""

    def thumb_futures(self, indices: Sequence[int]) -> list[concurrent.futures.Future[bytes]]:
        """Futures of these thumbnails (JPEG bytes), made next in this order if not made yet.
        A future is cancelled when the images are released (the request ended)."""


async def as_made(
    indices: Sequence[int], futures: Sequence[concurrent.futures.Future[bytes]]
) -> AsyncGenerator[tuple[int, bytes], None]:
    """Yield ``(index, bytes)`` as each thread-made future completes, in completion order;
    stop at the first one released (cancelled or failed).

    Futures are watched through callbacks, never wrapped: a client that goes away must not
    cancel a thumbnail another tab still needs (``asyncio.wrap_future`` would)."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[tuple[int, concurrent.futures.Future[bytes]]] = asyncio.Queue()

    def on_done(index: int, future: concurrent.futures.Future[bytes]) -> None:
        with contextlib.suppress(RuntimeError):  # the server's loop has closed: nobody listens
            loop.call_soon_threadsafe(arrived.put_nowait, (index, future))

    for index, future in zip(indices, futures, strict=True):
        future.add_done_callback(functools.partial(on_done, index))
    for _ in range(len(indices)):
        index, future = await arrived.get()
        if future.cancelled() or future.exception() is not None:
            return
        yield index, future.result()


def image_order(value: Any, count: int) -> list[int]:
    """A client's list of distinct image indices (at most ``count``, each below it), checked
    in one pass; :class:`Refused` (422) says what is wrong."""
    if not isinstance(value, list) or not 1 <= len(value) <= count:
        raise Refused("invalid_body", f"order must be a list of 1 to {count} image indices")
    seen = bytearray(count)
    for index in value:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
            raise Refused("invalid_body", f"order entries must be image indices from 0 to {count - 1}")
        if seen[index]:
            raise Refused("invalid_body", f"order names image {index} twice")
        seen[index] = 1
    return value


class Refused(HitlError):
    """A call refused before it reached the registry; ``code`` picks the status."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def error_response(code: str, message: str) -> web.Response:
    """The one JSON shape of every refusal."""
    return web.json_response({"error": {"code": code, "message": message}}, status=ERROR_STATUS[code])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # json.loads turns 1e999 into inf without asking parse_constant: refuse it here too.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number")
    return value


async def read_json_object(request: web.Request, max_bytes: int = P.MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object, or :class:`Refused` (415, 413, 400, 422)."""
    if request.content_type != "application/json":
        raise Refused("unsupported_media_type", "send the body as application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise Refused("body_too_large", f"the body is over {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise Refused("body_too_large", f"the body is over {max_bytes} bytes")
        chunks.append(chunk)
    try:
        # NaN and Infinity are not JSON; Python's parser would take them if we let it.
        body = json.loads(b"".join(chunks).decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Refused("malformed_json", f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise Refused("invalid_body", "the body must be a JSON object")
    return body


def _only_keys(body: dict[str, Any], required: Iterable[str] = (), optional: Iterable[str] = ()) -> None:
    required = tuple(required)
    missing = [key for key in required if key not in body]
    if missing:
        raise Refused("invalid_body", f"missing field(s): {', '.join(missing)}")
    extra = sorted(set(body) - set(required) - set(optional))
    if extra:
        raise Refused("invalid_body", f"unknown field(s): {', '.join(extra[:5])}")


class OriginPolicy:
    """Who may call our routes: this server's own origin and any listed explicitly.

    ComfyUI checks the Origin only when it listens on loopback; we check it always, and
    also refuse what the browser itself marks as a cross-site request (``Sec-Fetch-Site``),
    which covers ``<img>`` and other requests that send no Origin.
    """

    def __init__(self, allowed_origins: Iterable[str] = ()) -> None:
        self.allowed = {origin.rstrip("/").lower() for origin in allowed_origins if origin}

    def check(self, request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is not None:
            if origin.rstrip("/").lower() in self.allowed:
                return
            netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
            if not netloc or netloc != (request.host or "").lower():
                raise Refused("forbidden_origin", "requests from another origin are refused")
            return
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise Refused("forbidden_origin", "cross-site requests are refused")


def guarded(policy: OriginPolicy, handler: Handler) -> Handler:
    """Wrap a handler: origin check first, then every :class:`HitlError` becomes its 4xx."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            policy.check(request)
            return await handler(request)
        except HitlError as exc:
            return error_response(exc.code, exc.message)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def add_routes(
    routes: web.RouteTableDef,
    registry: RequestRegistry,
    *,
    allowed_origins: Iterable[str] = (),
) -> None:
    """Add the pack's routes to ``routes`` (ComfyUI's ``PromptServer.instance.routes``),
    all of them working on ``registry``."""
    policy = OriginPolicy(allowed_origins)
    openapi_document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))

    async def list_requests(request: web.Request) -> web.Response:
        """GET: every waiting request, oldest first, for reloaded tabs and API clients."""
        return web.json_response({"requests": registry.pending()})

    async def answer_request(request: web.Request) -> web.Response:
        """POST ``{"value": ...}``: answer the waiting request; the node resumes at once."""
        body = await read_json_object(request)
        _only_keys(body, required=("value",))
        view = registry.answer(request.match_info["request_id"], body["value"])
        return web.json_response({"request": view})

    async def cancel_request(request: web.Request) -> web.Response:
        """POST ``{}``: cancel the waiting request; its run ends as interrupted."""
        body = await read_json_object(request)
        _only_keys(body)
        view = registry.cancel(request.match_info["request_id"])
        return web.json_response({"request": view})

    async def request_image(request: web.Request) -> web.Response:
        """GET ``?size=thumb|full``: image ``index`` of a waiting request, addressed by
        request id and index only (never a path). Full size is encoded on demand."""
        waiting = registry.get_waiting(request.match_info["request_id"])
        source = waiting.resources
        if not isinstance(source, ImageSource):
            raise Refused("not_found", "this request has no images")
        size = request.query.get("size", "thumb")
        if size not in IMAGE_SIZES:
            raise Refused("invalid_body", "size must be thumb or full")
        raw_index = request.match_info["index"]
        if not raw_index.isdigit() or len(raw_index) > 6 or int(raw_index) >= source.image_count():
            raise Refused("not_found", "no image with that index")
        if size == "thumb" and isinstance(source, ThumbnailSource):
            # Made in the background: wait for it without holding an executor thread.
            index = int(raw_index)
            async with contextlib.aclosing(as_made([index], source.thumb_futures([index]))) as made:
                async for _, data in made:
                    return web.Response(body=data, content_type="image/jpeg", headers=IMAGE_CACHE_HEADERS)
            registry.get_waiting(waiting.id)  # 409 when it has ended, as it almost always has
            raise Refused("not_found", "that image is no longer available")
        # Encoding a full-size image takes a while: keep it off the server's event loop.
        try:
            data, media_type = await asyncio.get_running_loop().run_in_executor(
                None, source.image_bytes, int(raw_index), size
            )
        except LookupError:
            # The request ended (and released its images) while this one was under way.
            registry.get_waiting(waiting.id)  # 409 when it has ended, as it almost always has
            raise Refused("not_found", "that image is no longer available") from None
        return web.Response(body=data, content_type=media_type, headers=IMAGE_CACHE_HEADERS)

    async def stream_thumbnails(request: web.Request) -> web.StreamResponse:
        """POST ``{"order": [i, …]}``: these thumbnails of a waiting request in one streamed
        response, each as soon as it is made (those not made yet are made next, in this
        order). Each is a header (``_protocol.THUMBNAIL_HEADER_BYTES``: index and length as
        big-endian uint32) and its JPEG. One request instead of one per image: no per-request
        cost, no browser limit of six connections, nothing waits for a slower image."""
        waiting = registry.get_waiting(request.match_info["request_id"])
        source = waiting.resources
        if not isinstance(source, ThumbnailSource):
            raise Refused("not_found", "this request has no images")
        body = await read_json_object(request)
        _only_keys(body, required=("order",))
        order = image_order(body["order"], source.image_count())
        futures = source.thumb_futures(order)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        try:
            async with contextlib.aclosing(as_made(order, futures)) as made:
                async for index, data in made:
                    await response.write(THUMBNAIL_HEADER.pack(index, len(data)) + data)
            await response.write_eof()
        except ConnectionError:
            log.debug("a thumbnail stream's client went away")
        return response

    async def openapi(request: web.Request) -> web.Response:
        """GET: the OpenAPI document of these routes."""
        return web.json_response(openapi_document)

    routes.get(P.ROUTES["list"])(guarded(policy, list_requests))
    routes.get(P.ROUTES["openapi"])(guarded(policy, openapi))
    routes.get(P.ROUTES["image"])(guarded(policy, request_image))
    routes.post(P.ROUTES["thumbnails"])(guarded(policy, stream_thumbnails))
    routes.post(P.ROUTES["answer"])(guarded(policy, answer_request))
    routes.post(P.ROUTES["cancel"])(guarded(policy, cancel_request))
