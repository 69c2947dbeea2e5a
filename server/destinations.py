"""Where a push may go: never this machine unless its admin says so, and never this server.

A push URL is a setting anyone who can reach the settings route may change, and the server
POSTs to it. Aimed at this machine it is a tool against the server itself (a webhook at
ComfyUI's own ``/interrupt`` ends every run moments after it waits) and against the
machine's other services (the test route was a port scanner). So a push target is refused
when its host is this machine: a loopback address in any spelling the OS accepts
(``127.1``, ``2130706433``, ``0x7f000001``, ``[::ffff:127.0.0.1]``, ``[::1]``), an
unspecified address (``0.0.0.0``, ``[::]``, which reach the machine itself), one of this
machine's own addresses, or a name for it (``localhost``, ``*.localhost``, its host name).

The URL is checked when it is set (from the route, the file, the environment: by its text,
no DNS lookup on the server's event loop), and every connection is checked again when it is
made, on the addresses the name resolves to, so a name that resolves to this machine (or is
re-pointed at it later) is refused too. A local ntfy server is a real use:
:data:`ENV_ALLOW_LOOPBACK` lets this machine be a target, but never this server's own port.

A leaf module (standard library only).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

#: Set to 1 to let pushes go to this machine (a local ntfy server); never to this server's port.
ENV_ALLOW_LOOPBACK = "COMFYUI_HITL_ALLOW_LOOPBACK_PUSH"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Names that always mean this machine (besides ``*.localhost``, RFC 6761).
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class RefusedDestination(ValueError):
    """A push target this server may not contact (the message says why)."""


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells as the OS would read it (``127.1``, ``2130706433``,
    ``0x7f000001`` and ``0177.0.0.1`` are all 127.0.0.1; an IPv6 address may be in brackets
    and have a zone), or None when it is a name."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.split("%")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not host or not all(ch.isalnum() or ch == "." for ch in host) or not host.isascii():
        return None
    try:
        # inet_aton is the OS's own reading of an IPv4 literal, short and integer forms included.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def plain(address: Address) -> Address:
    """``address`` with IPv4 inside IPv6 (``::ffff:a.b.c.d``, ``::a.b.c.d``) as the IPv4 it is."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.packed[:12] == bytes(12) and int(address) > 1:  # IPv4-compatible (deprecated)
            return ipaddress.IPv4Address(address.packed[12:])
    return address


def machine_addresses() -> set[Address]:
    """This machine's own addresses as far as the standard library can tell: those of its
    host name, and the ones its default routes leave from (no packet is sent)."""
    found: set[Address] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            address = literal_address(str(info[4][0]))
            if address is not None:
                found.add(plain(address))
    except OSError:
        pass
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as udp:
                udp.connect((probe, 9))  # UDP: only picks the route, sends nothing
                address = literal_address(str(udp.getsockname()[0]))
        except OSError:
            continue
        if address is not None:
            found.add(plain(address))
    return found


def machine_names() -> set[str]:
    """This machine's own names (its host name, and ``<name>.local``), lowercased."""
    name = socket.gethostname().rstrip(".").lower()
    return {name, name.split(".")[0] + ".local"} if name else set()


class DestinationPolicy:
    """Which push targets this server may contact. ``allow_loopback`` (from
    :data:`ENV_ALLOW_LOOPBACK`) lets this machine be one, except this server's own ports,
    which :meth:`note_own_port` adds (ComfyUI's port at start, each port a route is served on)."""

    def __init__(self, *, allow_loopback: bool = False, own_ports: Iterable[int] = ()) -> None:
        self.allow_loopback = allow_loopback
        self._lock = threading.Lock()
        self._own_ports: set[int] = set(own_ports)
        self._machine: tuple[set[Address], set[str]] | None = None

    def __repr__(self) -> str:
        return f"<DestinationPolicy allow_loopback={self.allow_loopback} own_ports={sorted(self._own_ports)}>"

    def note_own_port(self, port: int | None) -> None:
        """A port this server listens on: never a push target, whatever is allowed."""
        if port is not None:
            with self._lock:
                self._own_ports.add(int(port))

    def _machine_identity(self) -> tuple[set[Address], set[str]]:
        with self._lock:
            if self._machine is None:
                self._machine = (machine_addresses(), machine_names())
            return self._machine

    def _refuse_self(self, what: str, port: int) -> None:
        with self._lock:
            own_port = port in self._own_ports
        if not self.allow_loopback:
            raise RefusedDestination(
                f"a push target may not be this machine ({what}); for a push server on this machine"
                f" (a local ntfy) set {ENV_ALLOW_LOOPBACK}=1 in ComfyUI's environment"
            )
        if own_port:
            raise RefusedDestination(f"a push target may not be this server itself ({what}, port {port})")

    def is_machine(self, address: Address) -> bool:
        """Whether ``address`` reaches this machine: loopback, unspecified, or its own."""
        address = plain(address)
        return address.is_loopback or address.is_unspecified or address in self._machine_identity()[0]

    def check_url(self, url: str) -> None:
        """Refuse a URL whose host is this machine, by its text alone (:class:`RefusedDestination`)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = literal_address(host)
        if address is not None:
            if self.is_machine(address):
                self._refuse_self(str(address), port)
            return
        if host in LOCAL_NAMES or host.endswith(".localhost") or host in self._machine_identity()[1]:
            self._refuse_self(host, port)

    def check_address(self, address: Address, port: int) -> None:
        """Refuse a resolved address of this machine (:class:`RefusedDestination`)."""
        if self.is_machine(address):
            self._refuse_self(str(plain(address)), port)

    def resolve(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """``getaddrinfo`` results for a TCP connection to ``host``, each address checked: a
        name that resolves to this machine, even in part, is refused as a whole."""
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for info in infos:
            address = literal_address(str(info[4][0]))
            if address is not None:
                self.check_address(address, port)
        return infos

    def connect(
        self, address: tuple[str, int], timeout: float | None = None, source_address: Any = None
    ) -> socket.socket:
        """``socket.create_connection`` to an address checked as it is connected to (what
        ``http.client`` calls): the addresses resolved are the ones checked and used."""
        host, port = address
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in self.resolve(host, port):
            sock = socket.socket(family, kind, proto)
            try:
                if isinstance(timeout, (int, float)):  # (http.client's default is a sentinel)
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        raise error if error is not None else OSError(f"no address for {host}")
