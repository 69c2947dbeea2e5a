"""The pack's own listener for paired phones, and the pairing routes on ComfyUI's port.

With ``COMFYUI_HITL_REMOTE_LISTEN=HOST:PORT`` (or the setting of that name; read at
start-up) the pack opens a second HTTP server on ComfyUI's event loop, so ComfyUI itself can
stay on 127.0.0.1. It serves only the inbox: its page and modules, the request routes the
inbox uses (the very handlers of ``server_routes.route_handlers``, at the same paths), the
pairing call and a live stream of its own (``GET /hitl/events``). Every route there but the
page, its modules and the pairing call needs a paired device (``server/pairing.py``); every
other path, ComfyUI's among them, is a 404.

On ComfyUI's own port this adds the pairing call, ``GET /hitl/device`` and the management
routes (make a pairing secret, list, revoke), the latter only for callers on this machine.
``COMFYUI_HITL_REQUIRE_PAIRING=1`` makes the pack's routes there need a paired device too,
from any caller not on this machine (ComfyUI's own routes stay as ComfyUI makes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from .. import server_routes as R
from ..state import RequestRegistry
from . import protocol as P
from .errors import InvalidSetting, Refused
from .events import KEEPALIVE_S, EventHub
from .history import iso_time
from .pairing import Device, DeviceStore, NotPaired, Pairing, clean_name
from .push import Pusher
from .settings import SettingsStore, parse_listen

log = logging.getLogger(__name__)

ENV_TLS_CERT = "COMFYUI_HITL_TLS_CERT"
ENV_TLS_KEY = "COMFYUI_HITL_TLS_KEY"
#: How long the device cookie lives: 400 days, the most browsers keep one.
COOKIE_MAX_AGE_S = 400 * 24 * 3600
#: Where the device check leaves the device on a request.
DEVICE_KEY: Any = R.request_key("hitl_device", Device)
#: How often the devices' last-seen times are written while the listener runs.
FLUSH_EVERY_S = 60.0


def is_loopback(request: web.Request) -> bool:
    """Whether the peer is on this machine (a loopback address)."""
    remote = (request.remote or "").split("%")[0]
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext | None:
    """The listener's TLS context from ``COMFYUI_HITL_TLS_CERT``/``_KEY`` (PEM files), or
    None (plain HTTP). A missing or unreadable file raises ``OSError``/``ssl.SSLError``."""
    cert = environ.get(ENV_TLS_CERT, "").strip()
    key = environ.get(ENV_TLS_KEY, "").strip()
    if not cert and not key:
        return None
    if not cert or not key:
        raise ValueError(f"set both {ENV_TLS_CERT} and {ENV_TLS_KEY}, or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile=cert, keyfile=key)
    return context


def lan_address() -> str | None:
    """This machine's address on its network, as a phone would reach it: the source address
    of a route outwards (a UDP "connection" sends nothing). None when there is no route."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never answered, only routed
        address = probe.getsockname()[0]
        return str(address) if address and not address.startswith("0.") else None
    return None


def qr_matrix(text: str) -> dict[str, Any] | None:
    """``text`` as a QR code: ``{"size": n, "rows": ["0110…", …]}`` (1 = a dark module),
    without the quiet zone (draw 4 light modules around it). None without ``segno``."""
    try:
        import segno
    except ImportError:
        log.warning("segno is not installed: pairing links come without a QR code (pip install segno)")
        return None
    code = segno.make(text, error="m", micro=False)
    rows = ["".join("1" if module else "0" for module in row) for row in code.matrix]
    return {"size": len(rows), "rows": rows}


@web.middleware
async def listener_middleware(request: web.Request, handler: R.Handler) -> web.StreamResponse:
    """The listener's every answer: an unknown path is a JSON 404 (ComfyUI's routes are not
    here), and nothing it sends may be framed, sniffed or sent on in a Referer."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status not in (404, 405):
            raise
        response = R.error_response("not_found", "nothing here: this server only serves the inbox")
        if exc.status == 405:
            response.set_status(404)
    if not response.prepared:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


class RemoteAccess:
    """Paired devices, the pack's own listener and the pairing routes (see the module's docstring).

    Built once in ``__init__.py`` (the harness builds its own): ``registry`` and ``settings``
    are the pack's; ``user_directory`` keeps ``devices.json``; ``environ`` gives the TLS files;
    ``clock`` times secrets and pairing attempts; ``is_local`` says whether a caller is on
    this machine (its peer address is loopback, unless a test says otherwise).
    """

    def __init__(
        self,
        registry: RequestRegistry,
        settings: SettingsStore,
        *,
        user_directory: str | None,
        pusher: Pusher | None = None,
        allowed_origins: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        is_local: Callable[[web.Request], bool] = is_loopback,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.pusher = pusher
        self.environ = os.environ if environ is None else environ
        self.allowed_origins = [origin for origin in allowed_origins if origin.strip()]
        self.devices = DeviceStore(user_directory, wall_clock=wall_clock)
        self.pairing = Pairing(self.devices, clock=clock)
        self.hub = EventHub(keepalive_s=keepalive_s)
        self.is_local = is_local
        self.wall_clock = wall_clock
        registry.listen(self.hub.publish)
        self.devices.on_revoke(self.hub.close_device)
        #: What the listener is bound to, once it runs: its URL (scheme, host, port).
        self.url: str | None = None
        self.tls: ssl.SSLContext | None = None
        self._runner: web.AppRunner | None = None
        self._flusher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<RemoteAccess url={self.url} {self.devices!r}>"

    # ------------------------------------------------------------------ checks
    def device_check(self, request: web.Request) -> Device:
        """The paired device making ``request`` (its cookie), kept on the request; 401 otherwise."""
        device = self.devices.authenticate(request.cookies.get(P.DEVICE_COOKIE), request.remote)
        request[DEVICE_KEY] = device
        request[R.DEVICE_NAME_KEY] = device.name
        return device

    def comfy_access(self, request: web.Request) -> None:
        """``COMFYUI_HITL_REQUIRE_PAIRING`` on ComfyUI's port: a caller not on this machine
        needs a paired device (checked after the Host and Origin checks)."""
        if self.settings.current().require_pairing and not self.is_local(request):
            self.device_check(request)

    def local_check(self, request: web.Request) -> None:
        """Management routes: only for callers on this machine."""
        if not self.is_local(request):
            raise Refused("local_only", "only the computer that runs ComfyUI may pair and unpair devices")

    # ---------------------------------------------------------------- handlers
    async def pair(self, request: web.Request) -> web.Response:
        """POST ``{"secret": "..."}``: trade a one-time pairing secret for this device's
        cookie (HttpOnly, SameSite=Strict). 403 for a wrong, expired or used secret, 429 past
        10 attempts a minute from one address; the secret and token are never sent back."""
        body = await R.read_json_object(request, max_bytes=4096)
        R._only_keys(body, required=("secret",))
        device, token = self.pairing.redeem(body["secret"], request.remote or "unknown")
        await asyncio.to_thread(self.devices.flush)
        response = web.json_response({"device": device.public()})
        public_url = self.settings.current().public_url or ""
        response.set_cookie(
            P.DEVICE_COOKIE,
            token,
            max_age=COOKIE_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=request.secure or public_url.startswith("https://"),
        )
        return response

    async def device_on_listener(self, request: web.Request) -> web.Response:
        """GET: this paired device, and which live stream the inbox follows here."""
        device: Device = request[DEVICE_KEY]
        return web.json_response({"device": device.public(), "stream": P.STREAM_EVENTS, "pairing_required": True})

    async def device_on_comfy(self, request: web.Request) -> web.Response:
        """GET on ComfyUI's port: this device if it is paired (401 when pairing is required
        and it is not), and which live stream the inbox follows here (ComfyUI's websocket)."""
        required = self.settings.current().require_pairing and not self.is_local(request)
        device: Device | None = request.get(DEVICE_KEY)
        if device is None and required:
            device = self.device_check(request)  # 401: the inbox then shows its pairing screen
        elif device is None:
            with contextlib.suppress(NotPaired):
                device = self.device_check(request)
        return web.json_response(
            {
                "device": device.public() if device is not None else None,
                "stream": P.STREAM_WEBSOCKET,
                "pairing_required": required,
            }
        )

    async def events(self, request: web.Request) -> web.StreamResponse:
        """GET: the live stream of request changes (``text/event-stream``): a ``hitl-hello``
        event with this stream's client id, then one request event per change (a RequestView), and a
        keep-alive comment every 15 s. Closed when the device is revoked."""
        device: Device = request[DEVICE_KEY]
        return await self.hub.stream(request, device.id)

    async def create_secret(self, request: web.Request) -> web.Response:
        """POST ``{"name"?: "..."}`` (this machine only): a one-time pairing link, valid 10
        minutes, with its QR code as a matrix of modules; the device it pairs gets ``name``."""
        body = await R.read_json_object(request, max_bytes=4096)
        R._only_keys(body, optional=("name",))
        name = body.get("name")
        if name is not None and not isinstance(name, str):
            raise Refused("invalid_body", "name must be a string")
        base, warning = self.pairing_base(request)
        secret, ttl_s = self.pairing.create_secret(clean_name(name, "") or None)
        url = f"{base}{P.ROUTES['inbox']}#{P.PAIR_FRAGMENT}={secret}"
        qr = await asyncio.to_thread(qr_matrix, url)
        return web.json_response(
            {
                "url": url,
                "expires_in_s": ttl_s,
                "expires_at": iso_time(self.wall_clock() + ttl_s),
                "qr": qr,
                "listener": self.url,
                "warning": warning,
            }
        )

    async def list_devices(self, request: web.Request) -> web.Response:
        """GET (this machine only): every paired device: name, when paired, last seen, from where."""
        return web.json_response({"devices": [device.public() for device in self.devices.devices()]})

    async def revoke_device(self, request: web.Request) -> web.Response:
        """POST ``{}`` (this machine only): unpair one device; its next request gets 401 and
        its open live stream closes."""
        body = await R.read_json_object(request, max_bytes=4096)
        R._only_keys(body)
        device = self.devices.revoke(request.match_info["device_id"])
        if device is None:
            raise Refused("not_found", "no paired device has that id")
        await asyncio.to_thread(self.devices.flush)
        return web.json_response({"device": device.public()})

    async def revoke_all(self, request: web.Request) -> web.Response:
        """POST ``{}`` (this machine only): unpair every device."""
        body = await R.read_json_object(request, max_bytes=4096)
        R._only_keys(body)
        count = self.devices.revoke_all()
        await asyncio.to_thread(self.devices.flush)
        return web.json_response({"revoked": count})

    def pairing_base(self, request: web.Request) -> tuple[str, str | None]:
        """Where a phone opens the pairing link: the public URL if set, else the listener's
        address (this machine's network address when it listens on every interface), else
        the address this page was opened by; and a warning when that cannot work from a phone."""
        public_url = self.settings.current().public_url
        if public_url:
            return public_url, None
        if self.url is not None:
            return self.url, None
        base = f"{request.scheme}://{request.host}"
        host = R.host_of(request.host or "") or ""
        if host == "localhost" or host.startswith("127.") or host == "::1":
            return base, (
                "This link works only on this computer: turn on the phone listener"
                " (COMFYUI_HITL_REMOTE_LISTEN) or set the public URL."
            )
        return base, None

    # ------------------------------------------------------------------ mounting
    def add_comfy_routes(self, routes: web.RouteTableDef) -> None:
        """Add the pairing call, ``GET /hitl/device`` and the management routes (this
        machine only) to ComfyUI's route table."""
        policy = R.OriginPolicy(self.allowed_origins)

        def local(request: web.Request) -> None:
            policy.check(request)
            self.local_check(request)

        routes.post(P.ROUTES["pair"])(R.guarded(policy, self.pair))
        routes.get(P.ROUTES["device"])(R.guarded(policy, self.device_on_comfy))
        routes.post(P.ROUTES["pairing_secrets"])(R.guarded(policy, self.create_secret, local))
        routes.get(P.ROUTES["devices"])(R.guarded(policy, self.list_devices, local))
        routes.post(P.ROUTES["device_revoke"])(R.guarded(policy, self.revoke_device, local))
        routes.post(P.ROUTES["devices_revoke_all"])(R.guarded(policy, self.revoke_all, local))

    def listener_routes(self, listen_origin: str | None = None) -> web.RouteTableDef:
        """The listener's routes: :data:`~.protocol.LISTENER_ROUTES`, each behind the Host and
        Origin checks and, but for the public ones, a paired device."""
        origins = [*self.allowed_origins, *([listen_origin] if listen_origin else [])]
        policy = R.OriginPolicy(origins)

        def paired(request: web.Request) -> None:
            policy.check(request)
            self.device_check(request)

        def paired_page(request: web.Request) -> None:
            policy.check_page(request)

        own = {"pair": ("POST", self.pair), "device": ("GET", self.device_on_listener), "events": ("GET", self.events)}
        shared = R.route_handlers(self.registry, settings=self.settings, pusher=self.pusher)
        handlers = [*shared, *((name, method, handler) for name, (method, handler) in own.items())]
        routes = web.RouteTableDef()
        for name, method, handler in handlers:
            if name not in P.LISTENER_ROUTES:
                continue
            if name == "inbox":
                check = paired_page
            elif name in P.PUBLIC_LISTENER_ROUTES:
                check = policy.check
            else:
                check = paired
            routes.route(method, P.ROUTES[name])(R.guarded(policy, handler, check))
        return routes

    def build_app(self, listen_origin: str | None = None) -> web.Application:
        """The listener's application (its routes and :func:`listener_middleware`)."""
        app = web.Application(middlewares=[listener_middleware], client_max_size=P.MAX_BODY_BYTES + 4096)
        app.add_routes(self.listener_routes(listen_origin))
        return app

    # ------------------------------------------------------------------ running
    def listen_address(self) -> tuple[str, int] | None:
        """Where the listener should listen (the setting or its environment variable), or None."""
        text = self.settings.current().remote_listen
        if not text:
            return None
        try:
            return parse_listen(text)
        except InvalidSetting as exc:
            log.error("the phone listener is off: %s", exc.message)
            return None

    async def start(self, address: tuple[str, int] | None = None) -> str | None:
        """Start the listener on the running loop (``address`` or :meth:`listen_address`);
        its URL, or None when it is off or could not start (said in one log line: ComfyUI
        starts normally either way)."""
        address = address or self.listen_address()
        if address is None:
            return None
        host, port = address
        try:
            self.tls = tls_context(self.environ)
        except (OSError, ValueError, ssl.SSLError) as exc:
            log.error("the phone listener is off: its TLS certificate or key could not be read: %s", exc)
            return None
        scheme = "https" if self.tls is not None else "http"
        shown_host = f"[{host}]" if ":" in host else host
        runner = web.AppRunner(self.build_app(f"{scheme}://{shown_host}:{port}"), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=self.tls)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            log.error("the phone listener could not listen on %s:%s (%s); ComfyUI goes on without it", host, port, exc)
            return None
        bound = int(runner.addresses[0][1]) if runner.addresses else port
        self._runner = runner
        self.hub.bind(asyncio.get_running_loop())
        # A wildcard address is no address a phone can open: name this machine's instead.
        public_host = shown_host
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 (what the user asked to listen on)
            public_host = lan_address() or socket.gethostname()
        self.url = f"{scheme}://{public_host}:{bound}"
        self._flusher = asyncio.get_running_loop().create_task(self._flush_now_and_then())
        log.info(
            "paired phones reach the inbox at %s%s (pair one from ComfyUI's settings)", self.url, P.ROUTES["inbox"]
        )
        return self.url

    async def _flush_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            if self.devices.dirty:
                await asyncio.to_thread(self.devices.flush)

    async def stop(self) -> None:
        """Close every stream and the listener; write what changed."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.url = None
        await asyncio.to_thread(self.devices.flush)

    def attach(self, app: web.Application, address: tuple[str, int] | None = None) -> None:
        """Start the listener when ``app`` (ComfyUI's) starts, on its loop (at ``address``, or
        where the settings say); stop it with the app."""

        async def on_startup(app: web.Application) -> None:
            try:
                await self.start(address)
            except Exception:  # never let the listener keep ComfyUI from starting
                log.exception("the phone listener could not start; ComfyUI goes on without it")

        async def on_cleanup(app: web.Application) -> None:
            await self.stop()

        app.on_startup.append(on_startup)
        app.on_cleanup.append(on_cleanup)
