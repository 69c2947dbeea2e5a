"""Helpers of the paired-listener tests: a fake clock, a harness with the listener on
127.0.0.2 (ComfyUI's stand-in on 127.0.0.1), plain HTTP calls, and an event-stream reader."""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.pack import submodule

remote_module = submodule("server.remote")

#: The stand-in ComfyUI listens on 127.0.0.1; the pack's listener on another loopback address.
LISTENER_ADDRESS = ("127.0.0.2", 0)


class FakeClock:
    """A monotonic clock the test moves (secrets expire, attempt windows pass: no sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    """One HTTP exchange: status, headers, raw body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        try:
            return str(self.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None


def connection(base: str, timeout: float = 10.0) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(parts.netloc, timeout=timeout, context=context)
    return http.client.HTTPConnection(parts.netloc, timeout=timeout)


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    cookie: str | None = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Reply:
    """One request; ``body`` is sent as JSON, ``cookie`` as the device cookie."""
    sent = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    if cookie is not None:
        sent["Cookie"] = f"hitl_device={cookie}"
    link = connection(base)
    try:
        link.request(method, path, body=data, headers=sent)
        response = link.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        link.close()


def device_cookie(reply: Reply) -> str:
    """The token a pairing reply set (and that it set it as it must)."""
    header = reply.headers["Set-Cookie"]
    assert header, reply.body
    name_value, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = name_value.partition("=")
    assert name == "hitl_device" and len(value) >= 43  # 256 bits, base64
    flags = {attribute.split("=")[0].lower() for attribute in attributes}
    assert {"httponly", "path", "samesite", "max-age"} <= flags, header
    assert "SameSite=Strict" in header and "Path=/" in header
    return value


class Paired:
    """A harness with the listener: ``comfy`` is ComfyUI's stand-in's URL, ``listener`` the pack's."""

    def __init__(self, host: HarnessHost, remote: Any, server: HarnessServer) -> None:
        self.host = host
        self.remote = remote
        self.server = server
        self.comfy = server.url
        assert remote.url, "the listener did not start"
        self.listener: str = remote.url

    def pairing_link(self, name: str | None = None) -> str:
        reply = call(self.comfy, "POST", "/hitl/pairing/secrets", {} if name is None else {"name": name})
        assert reply.status == 200, reply.body
        return str(reply.json()["url"])

    def pair(self, name: str | None = None) -> str:
        """A new paired device's token."""
        secret = self.pairing_link(name).split("#pair=")[1]
        reply = call(self.listener, "POST", "/hitl/pair", {"secret": secret})
        assert reply.status == 200, reply.body
        return device_cookie(reply)


def start_paired(
    host: HarnessHost,
    clock: FakeClock | None = None,
    *,
    environ: dict[str, str] | None = None,
    is_local: Any = None,
    address: tuple[str, int] = LISTENER_ADDRESS,
    keepalive_s: float = 15.0,
) -> Paired:
    options: dict[str, Any] = {}
    if is_local is not None:
        options["is_local"] = is_local
    remote = remote_module.RemoteAccess(
        host.registry,
        host.settings,
        user_directory=str(host.user_dir),
        pusher=host.pusher,
        clock=clock or FakeClock(),
        environ=environ or {},
        keepalive_s=keepalive_s,
        **options,
    )
    server = HarnessServer(host, remote=remote, remote_address=address)
    server.start()
    return Paired(host, remote, server)


class EventReader:
    """Reads the listener's event stream: ``next()`` gives ``(event, data)``; comments as ``(":", text)``."""

    def __init__(self, base: str, cookie: str | None) -> None:
        self.link = connection(base, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if cookie is not None:
            headers["Cookie"] = f"hitl_device={cookie}"
        self.link.request("GET", "/hitl/events", headers=headers)
        self.response = self.link.getresponse()

    def lines(self) -> Iterator[str]:
        while True:
            line = self.response.readline()
            if not line:
                return
            yield line.decode().rstrip("\n")

    def next(self) -> tuple[str, Any] | None:
        """The next event or comment; None when the stream ended."""
        event, data = "message", ""
        for line in self.lines():
            if line.startswith(":"):
                return (":", line[1:].strip())
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
            elif line == "" and data:
                return (event, json.loads(data))
        return None

    def close(self) -> None:
        self.link.close()
