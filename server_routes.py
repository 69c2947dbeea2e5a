"""HTTP routes of the pack, added to a route table with :func:`add_routes`.

Every route lives under ``_protocol.ROUTE_PREFIX``. Bodies are JSON objects only (a form
post gets 415, so a foreign page cannot answer with a plain ``<form>``), capped in size,
and a request whose ``Origin`` is not this server is refused (403) even where ComfyUI's
own origin check is off, as is one whose ``Host`` could be a DNS-rebinding page's (403).
A refused call answers ``{"error": {"code", "message"}}`` with a 4xx status and changes
nothing. Every route is wrapped by :func:`guarded`, which applies both checks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import heapq
import ipaddress
import json
import logging
import math
import re
import socket
import struct
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from aiohttp import web

from .questions.checks import shown
from .server import protocol as P
from .server.errors import ERROR_STATUS, HitlError, InvalidAnswer, Refused, UnknownRequest
from .server.history import Provenance
from .server.page_files import PageFiles
from .server.push import Pusher
from .server.settings import RETENTION_SETTINGS, SettingsStore
from .state import WAITING, RequestRegistry

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

IMAGE_SIZES = P.IMAGE_SIZES
#: What an image source serves when it does not say (``ImageSource.sizes`` is optional).
DEFAULT_IMAGE_SIZES = ("thumb", "full")
#: An image index as openapi.json spells it: ASCII digits only (``str.isdigit`` also takes
#: "²" and "٣", and ``int`` takes the second as 3).
IMAGE_INDEX = re.compile(r"[0-9]{1,6}")
#: An image of a request never changes: a tab may keep it while the request waits.
IMAGE_CACHE_HEADERS = {"Cache-Control": "private, max-age=3600"}
#: The header before each JPEG of the thumbnails stream: its index and its length
#: (``_protocol.THUMBNAIL_HEADER_BYTES`` long; a test checks they agree).
THUMBNAIL_HEADER = struct.Struct(">II")

#: The most digits a number in a body may have: Python's own default limit, applied here
#: whatever the host process set (converting a longer number costs quadratic time).
MAX_NUMBER_DIGITS = 4300

#: A client id as a tab sends it (ComfyUI's are 32 hex digits or a UUID).
CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
#: Optional fields of an answer or cancel body that say who sends it (claims, recorded as such).
CLAIM_FIELDS = ("surface", "client_id")
#: How long the test route waits for the targets' answers beyond the send timeout.
TEST_PUSH_GRACE_S = 1.0
#: The most bytes the history route answers: the newest records that fit (``truncated``
#: says some were left out; a record is at most ``history.MAX_RECORD_BYTES``).
HISTORY_MAX_BYTES = 1 << 20
#: The longest a body may take to arrive, whole (256 KiB takes milliseconds on any link a
#: person uses): a client that stalls mid-body is refused (408) after this, and holds nothing
#: of any request meanwhile, since every route reads its body before it takes anything.
BODY_READ_TIMEOUT_S = 10.0

#: The OpenAPI document of these routes, kept beside this module.
OPENAPI_PATH = Path(__file__).resolve().parent / "server" / "openapi.json"

#: The inbox page's folder, and the folders whose modules the ``ui`` route may serve.
#: ``web/main.js`` is ComfyUI's entry (it imports the host's scripts), never the inbox's.
INBOX_DIR = Path(__file__).resolve().parent / "inbox"
UI_FOLDERS = {"inbox": INBOX_DIR, "web": Path(__file__).resolve().parent / "web"}
UI_EXCLUDED = {("web", "main.js")}
UI_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}


def ui_files() -> dict[tuple[str, str], Path]:
    """Every file the ``ui`` route serves, by (folder, name): the allow-list, made once.

    Only plain names of files that exist when the routes are added, with a known suffix:
    no path from a request ever reaches the file system.
    """
    files: dict[tuple[str, str], Path] = {}
    for folder, directory in UI_FOLDERS.items():
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.suffix in UI_MEDIA_TYPES and (folder, path.name) not in UI_EXCLUDED:
                files[(folder, path.name)] = path
    return files


def inbox_security_headers(host: str) -> dict[str, str]:
    """Headers of the inbox page: it runs only its own scripts, talks only to this server,
    and no other site may frame it (a framed page could be tricked into taps)."""
    sockets = f" ws://{host} wss://{host}" if _PLAIN_HOST.fullmatch(host) else ""
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; "
        f"connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # A deep link's request id is a capability: never send it to anyone in a Referer.
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


_PLAIN_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


@runtime_checkable
class ImageSource(Protocol):
    """What a request's ``resources`` provide when it has images to show (``_images.BatchImages``
    is the one the nodes use): renditions by index, made off the event loop, which a route
    waits for on their futures, holding no thread. Which renditions it has is its optional
    ``sizes`` attribute (``DEFAULT_IMAGE_SIZES`` when absent)."""

    def image_count(self) -> int:
        """How many images there are."""

    def image_futures(self, size: str, indices: Sequence[int]) -> list[concurrent.futures.Future[bytes]]:
        """Futures of rendition ``size`` of these images (encoded bytes), made next in this
        order if not made yet. A future is cancelled when the images are released (the
        request ended)."""

    def media_type(self, size: str) -> str:
        """The media type of rendition ``size``."""


@runtime_checkable
class DraftTaker(Protocol):
    """What a request's ``resources`` provide when it takes drafts (the mask painter's, through
    ``_mask_drafts.MaskDrafts``): what the person has done so far, used to prepare the answer
    ahead. A draft decides nothing: only an answer ends the request."""

    def offer(self, value: Any) -> None:
        """Check a draft as an answer is checked (a ValueError says what is wrong, and
        nothing changes) and take it; never waits for what it starts."""


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


def error_response(code: str, message: str, field: str | None = None) -> web.Response:
    """The one JSON shape of every refusal; ``field`` (only when set) names the form field
    an ``invalid_answer`` is about, so a dialog can show the message under it."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return web.json_response({"error": error}, status=ERROR_STATUS[code])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # json.loads turns 1e999 into inf without asking parse_constant: refuse it here too.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is out of range for a number")
    return value


def _bounded_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


# Every digit becomes "0", "E" becomes "e" and "-" becomes "+": two substring searches (in
# C, over the whole body) then tell whether any number in it could be infinite or too long.
_NUMBER_SHAPES = bytes.maketrans(b"123456789E-", b"000000000e+")
_LONG_DIGIT_RUN = b"0" * 100


def _needs_number_checks(raw: bytes) -> bool:
    """Whether a number in ``raw`` may be too long, or too large for a float.

    Without a run of 100 digits or an exponent of 3 digits, every number is below 1e199
    (finite) and has under 100 digits, so the parser's own fast conversions are safe; only
    other bodies pay for a Python call per number. (Digits inside strings count too: a false
    alarm costs time, never correctness.)
    """
    shapes = raw.translate(_NUMBER_SHAPES)
    return _LONG_DIGIT_RUN in shapes or b"e000" in shapes or b"e+000" in shapes


def parse_json(raw: bytes) -> Any:
    """JSON as the routes take it: no NaN or Infinity, finite numbers of at most
    :data:`MAX_NUMBER_DIGITS` digits; ``ValueError`` (or ``RecursionError``) otherwise.

    A body is at most 256 KiB, but that is up to 87,000 small containers, and an automatic
    garbage collection that starts during the parse walks every object of ComfyUI's process
    (millions). Parsed JSON holds no reference cycles, so no collection could free anything
    here: it is paused for the parse, and resumes as it was.
    """
    text = raw.decode("utf-8")
    hooks: dict[str, Any] = {}
    if _needs_number_checks(raw):
        hooks = {"parse_int": _bounded_int, "parse_float": _finite_float}
    collecting = gc.isenabled()
    gc.disable()
    try:
        return json.loads(text, parse_constant=_reject_constant, **hooks)
    finally:
        if collecting:
            gc.enable()


class ClientGone(Exception):
    """The client closed its connection before its body arrived: nobody is left to answer,
    and nothing was taken or changed (:func:`guarded` logs one debug line)."""


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise Refused("body_too_large", f"the body is over {max_bytes} bytes")
        chunks.append(chunk)


async def read_json_object(
    request: web.Request, max_bytes: int = P.MAX_BODY_BYTES, timeout_s: float | None = None
) -> dict[str, Any]:
    """The whole body as a JSON object, or :class:`Refused` (415, 413, 408 after
    ``timeout_s``, by default :data:`BODY_READ_TIMEOUT_S`, then 400, 422); :class:`ClientGone`
    when the client leaves mid-body. Routes call it before they take anything of a request."""
    if request.content_type != "application/json":
        raise Refused("unsupported_media_type", "send the body as application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise Refused("body_too_large", f"the body is over {max_bytes} bytes")
    limit = BODY_READ_TIMEOUT_S if timeout_s is None else timeout_s
    try:
        raw = await asyncio.wait_for(_read_body(request, max_bytes), limit)
    except asyncio.TimeoutError:  # (TimeoutError itself only from Python 3.11)
        raise Refused("body_timeout", f"the body did not arrive within {limit:g} s") from None
    except ConnectionError as exc:  # aiohttp's "Connection lost" (a ConnectionResetError)
        raise ClientGone(str(exc)) from None
    try:
        body = parse_json(raw)
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
    known = set(required) | set(optional)
    if len(body) > len(known) or not known.issuperset(body):
        # The five first in order, without sorting what may be tens of thousands of keys.
        extra = heapq.nsmallest(5, (key for key in body if key not in known))
        raise Refused("invalid_body", f"unknown field(s): {', '.join(shown(key) for key in extra)}")


def provenance(request: web.Request, body: dict[str, Any]) -> Provenance:
    """Who sends this answer or cancel: the surface and client id the body claims (checked
    against a fixed set and a short pattern), the headers' user-agent and ComfyUI user
    (claims too), and the peer address the server saw."""
    surface = body.get("surface", P.SURFACE_API)
    if not isinstance(surface, str) or surface not in P.CLAIMABLE_SURFACES:
        raise Refused("invalid_body", f"surface must be one of {', '.join(P.CLAIMABLE_SURFACES)}")
    client_id = body.get("client_id")
    # Absent is "not said"; present, it is a string (null too is refused, as openapi.json says).
    if "client_id" in body and (not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id)):
        raise Refused("invalid_body", "client_id must be 1 to 64 letters, digits or . _ : -")
    return Provenance(
        surface=surface,
        source="client",
        client_id=client_id,
        remote=request.remote,
        user_agent=request.headers.get("User-Agent"),
        user=request.headers.get("comfy-user"),
        device=request.get(DEVICE_NAME_KEY),
    )


def request_key(name: str, kind: type) -> Any:
    """A key of a request's own storage: aiohttp's typed ``RequestKey`` where it has one
    (3.12+; a plain string key warns there), the name itself before."""
    maker = getattr(web, "RequestKey", None)
    return maker(name, kind) if maker is not None else name


#: Where the paired-device check (``server/remote.py``) leaves the device's name on a request.
DEVICE_NAME_KEY: Any = request_key("hitl_device_name", str)


class OriginPolicy:
    """Who may call our routes: this server's own origin and any listed explicitly, under a
    Host this server answers to (:class:`HostPolicy`, checked first).

    ComfyUI checks the Origin only when it listens on loopback; we check it always, and
    also refuse what the browser itself marks as a cross-site request (``Sec-Fetch-Site``),
    which covers ``<img>`` and other requests that send no Origin.
    """

    def __init__(self, allowed_origins: Iterable[str] = (), *, hosts: HostPolicy | None = None) -> None:
        allowed_origins = [origin.strip() for origin in allowed_origins if origin.strip()]
        self.allowed = {origin.rstrip("/").lower() for origin in allowed_origins}
        self.hosts = hosts if hosts is not None else HostPolicy(allowed_origins)

    def __repr__(self) -> str:
        return f"<OriginPolicy allowed={sorted(self.allowed)} {self.hosts!r}>"

    def check(self, request: web.Request) -> None:
        self.hosts.check(request)
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

    def check_page(self, request: web.Request) -> None:
        """For a page a person opens: a top-level navigation may come from anywhere (a link
        in a notification, a chat, a bookmark); the page carries no data of its own, and
        every call it makes is checked by :meth:`check`. Anything else (a fetch, a frame,
        a script tag of another site) is checked as usual."""
        headers = request.headers
        navigation = headers.get("Sec-Fetch-Mode") == "navigate" and headers.get("Sec-Fetch-Dest") == "document"
        if navigation and "Origin" not in headers:
            self.hosts.check(request)  # the page too answers only to a Host that is ours
            return
        self.check(request)


_PORT = re.compile(r"[0-9]{0,5}")
#: One or more non-empty DNS labels, dot-separated (what may come before ``.localhost``).
_LABELS = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*")


def host_of(header: str) -> str | None:
    """The host a ``Host`` header names: lowercased, without port, brackets or one trailing
    dot (``LOCALHOST.:8188`` -> ``localhost``, ``[::1]:8188`` -> ``::1``). None when the
    header is not a valid host (an IPv6 address must be in brackets)."""
    header = header.strip().lower()
    if header.startswith("["):
        name, bracket, port = header[1:].partition("]")
        if not bracket or not (port == "" or (port.startswith(":") and _PORT.fullmatch(port[1:]))):
            return None
        return name if _ip(name) is not None else None
    name, _, port = header.partition(":")
    if ":" in port or not _PORT.fullmatch(port):
        return None
    name = name[:-1] if name.endswith(".") else name
    return name or None


def _ip(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``name`` spells (an IPv4-mapped IPv6 address as its IPv4 one), or None."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def local_port(request: web.Request) -> int | None:
    """The port of this server the request came in on (a push may never target it)."""
    transport = request.transport
    local = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(local, tuple) and len(local) >= 2 and isinstance(local[1], int):
        return local[1]
    return None


def _arrived_over_network(request: web.Request) -> bool:
    """Whether the client reached this server on a non-loopback address of this machine
    (so ComfyUI listens beyond loopback). The connection's own local address tells: no
    guess about interfaces, and nothing the client can choose."""
    transport = request.transport
    local = transport.get_extra_info("sockname") if transport is not None else None
    if not isinstance(local, tuple) or not local or not isinstance(local[0], str):
        return False
    address = _ip(local[0].split("%")[0])
    return address is not None and not address.is_loopback


def _addresses_of(name: str) -> list[str]:
    """The addresses ``name`` resolves to on this machine (its hosts file, its resolver)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)]


class HostPolicy:
    """Which ``Host`` a request may name: protection against DNS rebinding.

    A page on a domain its owner points at 127.0.0.1 (or at this machine's LAN address) is,
    to the browser, same-origin with itself: it passes every Origin check, and its requests
    name its own domain in ``Host``. So the Host must be one only this server can be:

    - ``localhost`` (and ``*.localhost``, which browsers resolve to loopback themselves);
    - an IP address: 127.0.0.0/8 and ``[::1]``, 0.0.0.0 and ``[::]`` (ComfyUI prints that as
      its address when it listens on every interface), the LAN address a phone opens. No
      address can come from rebinding, which needs a name: a browser sends ``Host: <ip>``
      only for a page whose origin is that address, which is this server (reached directly,
      or through a port mapping: Docker, WSL, a router), so no list of this machine's
      interfaces is needed, and none could be complete behind such a mapping;
    - when the request came over the network (ComfyUI listens beyond loopback), this
      machine's own name (``socket.gethostname()``, and ``<name>.local`` as mDNS publishes it);
      over loopback too when that name resolves (here, once) to a loopback address: then it
      is this machine (Debian's /etc/hosts maps it to 127.0.1.1), and no page elsewhere can
      be named so;
    - a host the user listed in ``COMFYUI_HITL_ALLOWED_ORIGINS`` (the host of each listed
      origin, or a bare host name): a reverse proxy's public name, a LAN DNS name.

    A request without ``Host`` is let through: browsers always send one, so it cannot come
    from a rebinding page (HTTP/1.0 clients may omit it).
    """

    def __init__(
        self,
        allowed: Iterable[str] = (),
        *,
        machine_name: str | None = None,
        resolve: Callable[[str], Iterable[str]] | None = None,
    ) -> None:
        self.listed: set[str] = set()
        for entry in allowed:
            entry = entry.strip()
            host = urlsplit(entry).hostname if "://" in entry else host_of(entry)
            if host:
                self.listed.add(host.rstrip(".").lower())
        name = (machine_name if machine_name is not None else socket.gethostname()).rstrip(".").lower()
        self.machine_names = {name, name if name.endswith(".local") else f"{name}.local"} if name else set()
        #: Hosts already logged as refused (a few, so a flood of requests cannot grow it).
        self._logged: set[str] = set()
        self._resolve = resolve or _addresses_of
        #: This machine's names, and whether each resolves to loopback (looked up once).
        self._loopback_names: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"<HostPolicy listed={sorted(self.listed)} machine={sorted(self.machine_names)}>"

    def allows(self, header: str, *, over_network: bool) -> bool:
        """Whether a request whose ``Host`` header is ``header`` may use our routes."""
        host = host_of(header)
        if host is None:
            return False
        if host in self.listed:
            return True
        if _ip(host.split("%")[0]) is not None:
            return True
        if host == "localhost" or (host.endswith(".localhost") and _LABELS.fullmatch(host[: -len(".localhost")])):
            return True
        if host not in self.machine_names:
            return False
        return over_network or self._names_loopback(host)

    def _names_loopback(self, name: str) -> bool:
        """Whether this machine's name ``name`` resolves to a loopback address (once: the
        answer is kept; only this machine's own names are ever looked up)."""
        known = self._loopback_names.get(name)
        if known is None:
            try:
                addresses = [_ip(str(address).split("%")[0]) for address in self._resolve(name)]
            except (OSError, UnicodeError, ValueError):
                addresses = []
            known = any(address is not None and address.is_loopback for address in addresses)
            self._loopback_names[name] = known
        return known

    def check(self, request: web.Request) -> None:
        hosts = request.headers.getall("Host", [])
        if len(hosts) > 1:
            raise Refused("forbidden_host", "a request names one Host")
        if not hosts or not hosts[0].strip():
            return
        if not self.allows(hosts[0], over_network=_arrived_over_network(request)):
            shown = repr(hosts[0][:100])
            if len(self._logged) < 16 and shown not in self._logged:
                # Once per name: someone who opened ComfyUI by a name of their own sees why
                # our dialogs stay empty.
                self._logged.add(shown)
                log.warning(
                    "refused requests for the Host %s; list it in COMFYUI_HITL_ALLOWED_ORIGINS if it is yours", shown
                )
            raise Refused(
                "forbidden_host",
                f"this server does not answer to the Host {shown}: open it by localhost or its address,"
                " or list that name in COMFYUI_HITL_ALLOWED_ORIGINS",
            )


def guarded(policy: OriginPolicy, handler: Handler, check: Callable[[web.Request], None] | None = None) -> Handler:
    """Wrap a handler: Host and Origin checks first (``policy.check`` unless told otherwise),
    then every :class:`HitlError` becomes its 4xx. Every route of ours goes through this (a
    test sends a rebinding Host to each)."""
    check = check or policy.check

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            check(request)
            return await handler(request)
        except HitlError as exc:
            response = error_response(exc.code, exc.message, exc.field)
            if exc.code == "body_timeout":
                # Send the 408, then close: aiohttp would otherwise go on reading ("lingering")
                # for 10 s more from a client that has shown it stalls.
                with contextlib.suppress(ConnectionError):
                    await response.prepare(request)
                    await response.write_eof()
                request.protocol.force_close()
            return response
        except ClientGone:
            # A client that leaves mid-body is ordinary (a closed tab, a lost network): one
            # quiet line, never a traceback. The response goes nowhere.
            log.debug("a client went away mid-body: %s %s", request.method, request.path)
            return web.Response(status=400)

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


#: Routes anyone who may reach the server may open: the inbox page and its modules carry no
#: request data (with ``COMFYUI_HITL_REQUIRE_PAIRING``, every other route of ours needs a
#: paired device from a caller not on this machine).
OPEN_ROUTES = ("inbox", "ui")


def add_routes(
    routes: web.RouteTableDef,
    registry: RequestRegistry,
    *,
    allowed_origins: Iterable[str] = (),
    settings: SettingsStore | None = None,
    pusher: Pusher | None = None,
    access: Callable[[web.Request], None] | None = None,
) -> None:
    """Add the pack's routes to ``routes`` (ComfyUI's ``PromptServer.instance.routes``),
    all of them working on ``registry`` (and its ``history_log``, the audit trail).
    ``settings`` and ``pusher`` are the ones observing ``registry``; without them the
    notification routes work on memory-only stand-ins (route tests). ``access``, when
    given, runs after the Host and Origin checks on every route but :data:`OPEN_ROUTES`
    (``server/remote.py``'s paired-device check)."""
    policy = OriginPolicy(allowed_origins)
    for name, method, handler in route_handlers(registry, settings=settings, pusher=pusher):
        check: Callable[[web.Request], None] = policy.check_page if name == "inbox" else policy.check
        if access is not None and name not in OPEN_ROUTES:
            check = _both(check, access)
        routes.route(method, P.ROUTES[name])(guarded(policy, handler, check))


def _both(first: Callable[[web.Request], None], then: Callable[[web.Request], None]) -> Callable[[web.Request], None]:
    def check(request: web.Request) -> None:
        first(request)
        then(request)

    return check


def route_handlers(
    registry: RequestRegistry,
    *,
    settings: SettingsStore | None = None,
    pusher: Pusher | None = None,
) -> list[tuple[str, str, Handler]]:
    """Each route as (its name in ``_protocol.ROUTES``, method, handler), the handler not
    yet guarded, so that :func:`add_routes` and the pack's own listener (``server/remote.py``)
    mount the same functions, each behind its own checks."""
    openapi_document = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    settings = settings if settings is not None else SettingsStore(None, environ={})
    pusher = pusher if pusher is not None else Pusher(settings)

    async def list_requests(request: web.Request) -> web.Response:
        """GET: every waiting request, oldest first, for reloaded tabs and API clients."""
        return web.json_response({"requests": registry.pending()})

    async def answer_request(request: web.Request) -> web.Response:
        """POST ``{"value": ..., "surface"?, "client_id"?}``: answer the waiting request; the
        node resumes at once. ``surface`` and ``client_id`` go into the audit record."""
        body = await read_json_object(request)
        _only_keys(body, required=("value",), optional=CLAIM_FIELDS)
        by = provenance(request, body)
        view = registry.answer(request.match_info["request_id"], body["value"], by=by)
        return web.json_response({"request": view})

    async def draft_request(request: web.Request) -> web.Response:
        """POST ``{"value": ...}``: what the person has done so far on a waiting request that
        takes drafts (the mask painter: its strokes, drawn on the server while the person
        paints, so that Send resumes the run at once). Checked like an answer (422), it
        changes nothing about the request; 202 once taken."""
        body = await read_json_object(request)
        _only_keys(body, required=("value",))
        waiting = registry.get_waiting(request.match_info["request_id"])
        taker = waiting.resources
        if not isinstance(taker, DraftTaker):
            raise Refused("not_found", "this request takes no drafts")
        try:
            taker.offer(body["value"])
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidAnswer(f"draft refused: {exc}") from exc
        except RecursionError:
            raise InvalidAnswer("draft refused: it is nested too deeply") from None
        return web.json_response({"taken": True}, status=202)

    async def cancel_request(request: web.Request) -> web.Response:
        """POST ``{"surface"?, "client_id"?}``: cancel the waiting request; its run ends as
        interrupted."""
        body = await read_json_object(request)
        _only_keys(body, optional=CLAIM_FIELDS)
        by = provenance(request, body)
        view = registry.cancel(request.match_info["request_id"], by=by)
        return web.json_response({"request": view})

    async def request_image(request: web.Request) -> web.Response:
        """GET ``?size=thumb|preview|full|mask``: image ``index`` of a waiting request,
        addressed by request id and index only (never a path). Large renditions are encoded
        on demand; ``mask`` is the request's input mask, when it has one."""
        waiting = registry.get_waiting(request.match_info["request_id"])
        source = waiting.resources
        if not isinstance(source, ImageSource):
            raise Refused("not_found", "this request has no images")
        size = request.query.get("size", "thumb")
        if size not in IMAGE_SIZES:
            raise Refused("invalid_body", f"size must be one of {', '.join(IMAGE_SIZES)}")
        if size not in getattr(source, "sizes", DEFAULT_IMAGE_SIZES):
            raise Refused("not_found", "this request has no input mask" if size == "mask" else f"no {size} image here")
        raw_index = request.match_info["index"]
        if not IMAGE_INDEX.fullmatch(raw_index) or int(raw_index) >= source.image_count():
            raise Refused("not_found", "no image with that index")
        # Made in the background (asking moves it to the front): wait for it without holding
        # a thread, and without cancelling it if this client goes away.
        index = int(raw_index)
        async with contextlib.aclosing(as_made([index], source.image_futures(size, [index]))) as made:
            async for _, data in made:
                if waiting.state != WAITING:  # made before it ended: still not served after
                    break
                return web.Response(body=data, content_type=source.media_type(size), headers=IMAGE_CACHE_HEADERS)
        # The request ended (and released its images) while this one was under way.
        registry.get_waiting(waiting.id)  # 409 when it has ended, as it almost always has
        raise Refused("not_found", "that image is no longer available")

    async def stream_thumbnails(request: web.Request) -> web.StreamResponse:
        """POST ``{"order": [i, …]}``: these thumbnails of a waiting request in one streamed
        response, each as soon as it is made (those not made yet are made next, in this
        order). Each is a header (``_protocol.THUMBNAIL_HEADER_BYTES``: index and length as
        big-endian uint32) and its JPEG. One request instead of one per image: no per-request
        cost, no browser limit of six connections, nothing waits for a slower image.

        The body is read whole first: a client that stalls mid-body holds nothing of the
        request (its images are let go when it ends, whatever this route is waiting for)."""
        body = await read_json_object(request)
        _only_keys(body, required=("order",))
        waiting = registry.get_waiting(request.match_info["request_id"])
        source = waiting.resources
        if not isinstance(source, ImageSource):
            raise Refused("not_found", "this request has no images")
        order = image_order(body["order"], source.image_count())
        futures = source.image_futures("thumb", order)
        del source  # the futures are all this stream needs
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        try:
            async with contextlib.aclosing(as_made(order, futures)) as made:
                async for index, data in made:
                    if waiting.state != WAITING:  # ended: not one more image, made or not
                        break
                    await response.write(THUMBNAIL_HEADER.pack(index, len(data)) + data)
            await response.write_eof()
        except ConnectionError:
            log.debug("a thumbnail stream's client went away")
        return response

    async def openapi(request: web.Request) -> web.Response:
        """GET: the OpenAPI document of these routes."""
        return web.json_response(openapi_document)

    async def get_request(request: web.Request) -> web.Response:
        """GET: one request, waiting (its view, with the payload) or ended (its record: its
        outcome, when it ended, the answer, who ended it): what a deep link and ``cli.py
        show`` need. ``now`` is the server's clock."""
        request_id = request.match_info["request_id"]
        try:
            found = registry.get(request_id)
        except UnknownRequest:
            found = None
        if found is not None and found.state == WAITING:
            return web.json_response({"request": registry.view(found), "now": registry.wall_time()})
        # Ended: its record from the audit trail (also after a restart).
        entry = registry.history_log.find(request_id)
        if entry is not None:
            return web.json_response({"request": entry.as_json(), "now": registry.wall_time()})
        if found is None:
            raise UnknownRequest("no such request")
        # Ended, but its record was lost (the log refused it): the view says how and when.
        return web.json_response({"request": registry.view(found), "now": registry.wall_time()})

    async def history(request: web.Request) -> web.Response:
        """GET ``?limit=N``: the last ended requests, newest first, with their outcome and
        answer. ``now`` is the server's clock (so a device shows "3 min ago" without
        trusting its own)."""
        raw = request.query.get("limit")
        limit = P.HISTORY_LIMIT_DEFAULT
        if raw is not None:
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= P.HISTORY_LIMIT_MAX):
                raise Refused("invalid_body", f"limit must be a whole number from 1 to {P.HISTORY_LIMIT_MAX}")
            limit = int(raw)
        entries: list[dict[str, Any]] = []
        size = 0
        truncated = False
        for entry in registry.history_log.recent(limit):
            record = entry.as_json()
            size += len(json.dumps(record).encode("utf-8")) + 2
            if size > HISTORY_MAX_BYTES - 200:  # (room for the rest of the response)
                truncated = True
                break
            entries.append(record)
        return web.json_response({"history": entries, "now": registry.wall_time(), "truncated": truncated})

    async def inbox_page(request: web.Request) -> web.Response:
        """GET: the inbox, a page of its own that answers every waiting request from any
        device (no ComfyUI frontend needed). ``?request=<id>`` opens that request."""
        headers = inbox_security_headers(request.host or "")
        headers["Content-Type"] = "text/html; charset=utf-8"
        return page_files.response(request, INBOX_DIR / "index.html", headers)

    async def ui_file(request: web.Request) -> web.Response:
        """GET: a module or stylesheet of the inbox page (its own, or a shared dialog from
        web/), from an allow-list made when the routes were added; never by path."""
        path = served_files.get((request.match_info["folder"], request.match_info["name"]))
        if path is None:
            raise Refused("not_found", "no such file")
        headers = {
            "Content-Type": f"{UI_MEDIA_TYPES[path.suffix]}; charset=utf-8",
            "Cache-Control": "no-cache",  # revalidated (ETag), so an updated pack is seen at once
            "X-Content-Type-Options": "nosniff",
        }
        return page_files.response(request, path, headers)

    served_files = ui_files()
    page_files = PageFiles()

    async def get_notify_config(request: web.Request) -> web.Response:
        """GET: the notification and audit settings, where each comes from; secrets masked."""
        return web.json_response(settings.describe())

    async def set_notify_config(request: web.Request) -> web.Response:
        """POST ``{name: value, ...}``: change settings (null resets one to its default).
        All are checked first; one bad value refuses them all and changes nothing. ``notes``
        says what else changed (a token dropped with its URL). A change of the audit
        retention is itself an audit record, with who made it."""
        body = await read_json_object(request)
        settings.destinations.note_own_port(local_port(request))  # never a push target
        before = settings.current()
        notes: list[str] = []
        after = settings.update(body, notes=notes)
        retention = {name: getattr(after, name) for name in RETENTION_SETTINGS if name in body}
        record_event = getattr(registry.history_log, "record_event", None)
        if retention and callable(record_event):
            record_event(
                {
                    "event": "retention_changed",
                    "at": registry.wall_time(),
                    "changes": retention,
                    "was": {name: getattr(before, name) for name in retention},
                    "by": provenance(request, {}).as_dict(),
                }
            )
        described = settings.describe()
        return web.json_response({**described, "notes": notes + described["notes"]})

    async def notify_status(request: web.Request) -> web.Response:
        """GET: each push target's counts and last success and failure; the audit log's."""
        return web.json_response(
            {
                "public_url": settings.current().public_url,
                "push_on_end": settings.current().push_on_end,
                "targets": pusher.status(),
                "audit": registry.history_log.status(),
            }
        )

    async def notify_test(request: web.Request) -> web.Response:
        """POST ``{}``: send a test push to every configured target and say how each went.
        The pushes go through the targets' own queues and workers; this only waits for them."""
        body = await read_json_object(request)
        _only_keys(body)
        settings.destinations.note_own_port(local_port(request))
        sent = pusher.send_test()
        waits = [asyncio.wrap_future(future) for _, future in sent]
        if waits:
            await asyncio.wait(waits, timeout=settings.current().push_timeout_s + TEST_PUSH_GRACE_S)
        results = [
            wait.result() if wait.done() else {**pending, "error": "still sending (see the status route)"}
            for (pending, _), wait in zip(sent, waits, strict=True)
        ]
        return web.json_response({"results": results})

    return [
        ("list", "GET", list_requests),
        ("openapi", "GET", openapi),
        ("image", "GET", request_image),
        ("thumbnails", "POST", stream_thumbnails),
        ("answer", "POST", answer_request),
        ("cancel", "POST", cancel_request),
        ("draft", "POST", draft_request),
        ("request", "GET", get_request),
        ("history", "GET", history),
        ("inbox", "GET", inbox_page),
        ("ui", "GET", ui_file),
        ("notify_config", "GET", get_notify_config),
        ("notify_config", "POST", set_notify_config),
        ("notify_status", "GET", notify_status),
        ("notify_test", "POST", notify_test),
    ]
