"""Answer comfyui-hitl's waiting requests from a terminal.

    python path/to/comfyui-hitl/cli.py list                    # what waits, as a table
    python path/to/comfyui-hitl/cli.py show ID                 # one request (waiting or ended)
    python path/to/comfyui-hitl/cli.py answer ID VALUE         # VALUE is JSON: 42, '"text"', '[0,3]'
    python path/to/comfyui-hitl/cli.py cancel ID
    python path/to/comfyui-hitl/cli.py watch                   # requests as they open and end
    python path/to/comfyui-hitl/cli.py history                 # the last ended ones
    python path/to/comfyui-hitl/cli.py pair [--name NAME]      # pair a phone (docs/pairing.md)
    python path/to/comfyui-hitl/cli.py devices                 # the paired devices
    python path/to/comfyui-hitl/cli.py revoke DEVICE | --all   # unpair one, or all

``--url`` (default http://127.0.0.1:8188, or ``$COMFYUI_HITL_URL``) may be given several
times: ``list``, ``watch`` and ``history`` then cover every server (a small farm), and
``show``/``answer``/``cancel`` find the server that has the id.

Only Python's standard library is used, so it runs with any Python 3.10+, no ComfyUI, no
install; ComfyUI never imports this file. It talks only to the pack's documented routes
(openapi.json) and follows ComfyUI's websocket for ``watch``. It sends no ``Origin`` header
(it is not a web page), which the pack's origin policy accepts; foreign web pages stay refused.

Exit status: 0 done; 1 the server refused (its message is printed) or no server knows the
id; 2 bad usage (e.g. VALUE is not JSON); 3 a server could not be reached.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import importlib
import json
import math
import os
import queue
import re
import shutil
import signal
import socket
import ssl
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

#: The name the pack's modules get when this file runs as a script (it has no package then).
SCRIPT_PACKAGE = "comfyui_hitl_cli"


def _sibling_module(name: str) -> ModuleType:
    """A module of the pack loaded from the file beside this one, when this file runs as a
    script. The folder is made a package of its own name (without running the pack's
    ``__init__``, which needs ComfyUI), so the module's relative imports of its siblings
    work; by path, not through sys.path: it works under ``python -I`` or ``PYTHONSAFEPATH``
    too. Only ``server.protocol`` and ``server.describe`` are loaded, both standard library only."""
    if SCRIPT_PACKAGE not in sys.modules:
        package = ModuleType(SCRIPT_PACKAGE)
        package.__path__ = [str(Path(__file__).resolve().parent)]
        sys.modules[SCRIPT_PACKAGE] = package
    return importlib.import_module(f"{SCRIPT_PACKAGE}.{name}")


try:  # inside the pack (a test, a tool importing it)
    from .server import describe as D
    from .server import pairing_cli as PAIRING
    from .server import protocol as P
except ImportError:  # run as a script
    P = _sibling_module("server.protocol")
    D = _sibling_module("server.describe")
    PAIRING = _sibling_module("server.pairing_cli")

VERSION = "0.1.0"
DEFAULT_URL = "http://127.0.0.1:8188"
URL_ENV = "COMFYUI_HITL_URL"
USER_AGENT = f"comfyui-hitl-cli/{VERSION}"

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

#: The websocket's magic, RFC 6455 section 1.3.
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
#: A text message larger than this is not ours (ComfyUI's previews come as binary frames,
#: which are read and dropped whatever their size).
MAX_TEXT_BYTES = 16 * 1024 * 1024
#: With no frame for this long, ping the server; with none after the ping either, the
#: connection is dead (a laptop that slept, a network that changed): reconnect.
KEEPALIVE_S = 30.0
RECONNECT_S = (0.5, 10.0)


class Unreachable(Exception):
    """The server did not answer at all (refused, unknown host, timed out, not HTTP)."""


@dataclass
class Reply:
    """One HTTP exchange with a server: its status and JSON body."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> tuple[str, str]:
        """The refusal's ``(code, message)``, as the pack spells every refusal."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        if isinstance(error, dict):
            return str(error.get("code", "http")), str(error.get("message", ""))
        return "http", f"HTTP {self.status}"


class Server:
    """One ComfyUI with the pack, reached at ``url`` (its base: scheme, host, port, maybe a path)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<Server {self.url}>"

    def route(self, name: str, **params: str) -> str:
        path = P.ROUTES[name].format(**{key: urllib.parse.quote(value, safe="") for key, value in params.items()})
        return self.url + path

    def call(self, method: str, url: str, body: Any = None) -> Reply:
        data = None if body is None else json.dumps(body).encode("utf-8")
        # The URL is the user's --url (checked to be http or https) plus a route of ours.
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", USER_AGENT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return Reply(response.status, _json_or_none(response.read()))
        except urllib.error.HTTPError as refusal:
            with refusal:
                return Reply(refusal.code, _json_or_none(refusal.read()))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach {self.url}: {reason}") from exc

    def waiting(self) -> list[dict[str, Any]]:
        reply = self.call("GET", self.route("list"))
        if not reply.ok:
            raise Unreachable(f"{self.url} answered {reply.status} to the list of requests: {reply.error()[1]}")
        return list(reply.body.get("requests", []))

    def request(self, request_id: str) -> Reply:
        return self.call("GET", self.route("request", request_id=request_id))

    def history(self, limit: int) -> Reply:
        return self.call("GET", f"{self.route('history')}?limit={limit}")

    # The audit record notes the surface each answer and cancel claims to come from.
    def answer(self, request_id: str, value: Any) -> Reply:
        body = {"value": value, "surface": P.SURFACE_CLI}
        return self.call("POST", self.route("answer", request_id=request_id), body)

    def cancel(self, request_id: str) -> Reply:
        return self.call("POST", self.route("cancel", request_id=request_id), {"surface": P.SURFACE_CLI})

    def websocket_url(self) -> str:
        parts = urllib.parse.urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urllib.parse.urlunsplit((scheme, parts.netloc, f"{parts.path}/ws", "", ""))


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


# ----------------------------------------------------------------- a websocket, by hand
class WebSocketClosed(Exception):
    """The connection ended (a close frame, or the socket dropped)."""


class WebSocket:
    """A minimal RFC 6455 client: text messages in; pings answered; close handled.

    Enough to follow ComfyUI's event stream with the standard library alone. Frames we send
    are masked, as a client's must be; binary messages (ComfyUI's previews) are read and
    dropped; a silent connection is pinged, and declared dead when the ping goes unanswered.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, keepalive: float = KEEPALIVE_S) -> None:
        parts = urllib.parse.urlsplit(url)
        secure = parts.scheme == "wss"
        host = parts.hostname or "localhost"
        port = parts.port or (443 if secure else 80)
        try:
            raw = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise Unreachable(f"cannot reach {url}: {exc}") from exc
        self.sock: socket.socket = (
            ssl.create_default_context().wrap_socket(raw, server_hostname=host) if secure else raw
        )
        self.keepalive = keepalive
        self._buffer = b""
        self._closed = False
        try:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            self._handshake(parts.netloc, target, timeout)
        except BaseException:
            self.sock.close()
            raise

    def __repr__(self) -> str:
        return f"<WebSocket closed={self._closed}>"

    def _handshake(self, netloc: str, path: str, timeout: float) -> None:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"User-Agent: {USER_AGENT}",
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        self.sock.settimeout(timeout)
        while b"\r\n\r\n" not in self._buffer:
            self._fill(64 * 1024)
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        if status_line.split(" ")[1:2] != ["101"]:
            raise Unreachable(f"the server refused the websocket: {status_line}")
        headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
        expected = base64.b64encode(
            hashlib.sha1((key + WS_GUID).encode("ascii"), usedforsecurity=False).digest()
        ).decode("ascii")
        if headers.get("sec-websocket-accept") != expected:
            raise Unreachable("the server's websocket handshake does not match (a proxy in the way?)")
        self.sock.settimeout(self.keepalive)

    def _fill(self, limit: int) -> None:
        chunk = self.sock.recv(limit)
        if not chunk:
            raise WebSocketClosed("the connection was closed")
        self._buffer += chunk

    def _read(self, size: int) -> bytes:
        pinged = False
        while len(self._buffer) < size:
            try:
                self._fill(max(65536, size - len(self._buffer)))
            except TimeoutError:
                if pinged:
                    raise WebSocketClosed("the server stopped answering") from None
                self.send(OP_PING, b"hitl")
                pinged = True
            except OSError as exc:
                raise WebSocketClosed(str(exc)) from exc
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _frame(self) -> tuple[bool, int, bytes | None]:
        """One frame: (final, opcode, payload); the payload of a binary frame is skipped (None)."""
        first, second = self._read(2)
        final, opcode = bool(first & 0x80), first & 0x0F
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._read(2), "big")
        elif length == 127:
            length = int.from_bytes(self._read(8), "big")
        mask = self._read(4) if second & 0x80 else b""  # a server must not mask; cope if it does
        if opcode in (OP_BINARY, OP_CONTINUATION) and length > MAX_TEXT_BYTES:
            self._skip(length)
            return final, opcode, None
        payload = self._read(length)
        if mask:
            payload = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        return final, opcode, payload

    def _skip(self, length: int) -> None:
        while length > 0:
            step = min(length, 1 << 20)
            self._read(step)
            length -= step

    def send(self, opcode: int, payload: bytes = b"") -> None:
        """Send one masked frame (a client's frames must be masked)."""
        mask = os.urandom(4)
        header = bytearray([0x80 | opcode])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(payload).to_bytes(8, "big")
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        try:
            self.sock.sendall(bytes(header) + mask + masked)
        except OSError as exc:
            raise WebSocketClosed(str(exc)) from exc

    def receive(self) -> str:
        """The next text message; pings are answered and binary messages dropped on the way."""
        parts: list[bytes] = []
        message_opcode: int | None = None
        while True:
            final, opcode, payload = self._frame()
            if opcode == OP_PING:
                self.send(OP_PONG, payload or b"")
                continue
            if opcode == OP_PONG:
                continue
            if opcode == OP_CLOSE:
                code = payload[:2] if payload and len(payload) >= 2 else b""
                if not self._closed:
                    self._closed = True
                    with contextlib.suppress(WebSocketClosed):
                        self.send(OP_CLOSE, code)
                raise WebSocketClosed("the server closed the websocket")
            if opcode in (OP_TEXT, OP_BINARY):
                message_opcode, parts = opcode, []
            elif message_opcode is None:
                continue  # a continuation of a message we never saw start: drop it
            if message_opcode == OP_TEXT and payload is not None:
                parts.append(payload)
                if sum(map(len, parts)) > MAX_TEXT_BYTES:
                    raise WebSocketClosed("a text message over 16 MiB: not ComfyUI's")
            if final:
                if message_opcode == OP_TEXT:
                    return b"".join(parts).decode("utf-8", errors="replace")
                message_opcode, parts = None, []

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(WebSocketClosed):
                self.send(OP_CLOSE, (1000).to_bytes(2, "big"))
        with contextlib.suppress(OSError):
            self.sock.close()


# -------------------------------------------------------------------- what we print
def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def outcome_words(view: dict[str, Any]) -> str:
    return D.outcome_words(view)


def node_of(view: dict[str, Any]) -> str:
    return D.node_name(view)


def asks(view: dict[str, Any]) -> str:
    return D.asks(view)


def ended_by(record: dict[str, Any]) -> str:
    """Who ended a request, from its record: "inbox", "cli", "timeout"…; "" if unknown."""
    by = record.get("by")
    return str(by.get("surface") or "") if isinstance(by, dict) else ""


def who_ended(record: dict[str, Any]) -> list[tuple[str, str]]:
    """``show``'s lines about an ended request's record: the answer and who ended it."""
    lines: list[tuple[str, str]] = []
    if record.get("answer") is not None:
        lines.append(("answer", json.dumps(record["answer"], ensure_ascii=False)))
    by = record.get("by")
    if isinstance(by, dict) and by.get("surface"):
        if by.get("source") == "client":
            details = [f"client {by['client_id']}" if by.get("client_id") else "", by.get("remote") or ""]
            extra = ", ".join(part for part in details if part)
            lines.append(("by", f"{by['surface']} (claimed{', ' + extra if extra else ''})"))
        else:
            lines.append(("by", f"{by['surface']} (the server)"))
    return lines


def short_json(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(rows: list[list[str]], out: TextIO, *, flexible: tuple[int, ...]) -> None:
    """Columns padded to their widest cell; the ``flexible`` ones (text) shrink, the widest
    first, until the table fits the terminal (ids and times never shrink)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    room = shutil.get_terminal_size((160, 24)).columns - sum(widths) - 2 * (len(widths) - 1)
    while room < 0:
        widest = max(flexible, key=lambda i: widths[i])
        if widths[widest] <= 12:
            break
        widths[widest] -= 1
        room += 1
    for row in rows:
        cells = [cell if len(cell) <= widths[i] else cell[: widths[i] - 1] + "…" for i, cell in enumerate(row)]
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip(), file=out)


# ------------------------------------------------------- answers, read by the request's kind
class UsageError(Exception):
    """A VALUE that does not read as an answer to the request; the message says what would."""


#: The words a BOOLEAN takes (any case); JSON's true and false are among them.
YES_WORDS = frozenset({"yes", "y", "true", "on", "1"})
NO_WORDS = frozenset({"no", "n", "false", "off", "0"})


def _json(text: str) -> Any:
    """``text`` as JSON, or a ValueError (NaN and Infinity are not JSON)."""
    return json.loads(text, parse_constant=_not_json)


def _example_text(value: Any) -> str:
    """A value as a shell argument of ours: plain when it is one safe word, quoted when not."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    safe = text and all(ch.isalnum() or ch in "-_.,=:/+" for ch in text)
    return text if safe else "'" + text.replace("'", "'\\''") + "'"


def _choices(spec: dict[str, Any]) -> list[str]:
    return [str(choice) for choice in spec.get("choices") or []]


def _numbered(choices: list[str]) -> str:
    return ", ".join(f"{number} {label}" for number, label in enumerate(choices, 1))


def _range_words(spec: dict[str, Any]) -> str:
    low, high = spec.get("min"), spec.get("max")
    if low is not None and high is not None:
        return f" from {low} to {high}"
    if low is not None:
        return f" of at least {low}"
    if high is not None:
        return f" of at most {high}"
    return ""


def _typed_howto(spec: dict[str, Any]) -> str:
    """What a typed value (a value prompt's, a form field's) takes, in words."""
    kind = spec.get("type")
    if kind == P.VALUE_TYPE_INT:
        return "a whole number" + _range_words(spec)
    if kind == P.VALUE_TYPE_FLOAT:
        return "a number" + _range_words(spec)
    if kind == P.VALUE_TYPE_BOOLEAN:
        return "yes or no"
    if kind == P.VALUE_TYPE_CHOICE:
        return f"a choice's label or number ({_numbered(_choices(spec))})"
    return "the text as it is (no quotes needed)"


def _typed_example(spec: dict[str, Any]) -> Any:
    """A value that reads, for the examples: the starting value, as a person writes it."""
    kind, default = spec.get("type"), spec.get("default")
    if kind == P.VALUE_TYPE_BOOLEAN:
        return "yes" if default else "no"
    if kind == P.VALUE_TYPE_CHOICE:
        choices = _choices(spec)
        if isinstance(default, int) and 0 <= default < len(choices):
            return choices[default]
        return default if isinstance(default, str) else (choices[0] if choices else "")
    if kind in (P.VALUE_TYPE_INT, P.VALUE_TYPE_FLOAT) and isinstance(default, (int, float)):
        return default
    return default if isinstance(default, str) and default else "some text"


def read_typed(text: str, spec: dict[str, Any]) -> Any:
    """One typed value (``spec``: a value prompt's payload or a form field) from its words;
    JSON works as well. UsageError says what the type takes."""
    kind = spec.get("type")
    if kind in (P.VALUE_TYPE_STRING, P.VALUE_TYPE_MULTILINE):
        if len(text) >= 2 and text[0] == text[-1] == '"':
            with contextlib.suppress(ValueError):
                quoted = _json(text)
                if isinstance(quoted, str):
                    return quoted
        return text
    word = text.strip()
    if kind == P.VALUE_TYPE_BOOLEAN:
        if word.lower() in YES_WORDS:
            return True
        if word.lower() in NO_WORDS:
            return False
    elif kind == P.VALUE_TYPE_CHOICE:
        choices = _choices(spec)
        with contextlib.suppress(ValueError):
            quoted = _json(word)
            if isinstance(quoted, str):
                word = quoted
        if word in choices:
            return choices.index(word)
        if word.isdigit() and 1 <= int(word) <= len(choices):
            return int(word) - 1
    elif kind == P.VALUE_TYPE_INT:
        with contextlib.suppress(ValueError):
            return int(word)
    elif kind == P.VALUE_TYPE_FLOAT:
        with contextlib.suppress(ValueError):
            number = float(word)
            if math.isfinite(number):
                return number
    else:  # a type this CLI does not know: JSON
        with contextlib.suppress(ValueError):
            return _json(word)
    raise UsageError(f"expected {_typed_howto(spec)}; got {text!r}")


def _read_value_prompt(words: list[str], payload: dict[str, Any]) -> Any:
    return read_typed(" ".join(words), payload)


def _howto_value_prompt(payload: dict[str, Any]) -> tuple[str, list[str]]:
    return _typed_howto(payload), [_example_text(_typed_example(payload))]


def _form_fields(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [field for field in payload.get("fields") or [] if isinstance(field, dict)]


def _read_form(words: list[str], payload: dict[str, Any]) -> Any:
    fields = {str(field.get("name")): field for field in _form_fields(payload)}
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        try:
            return _json(words[0])
        except ValueError:
            raise UsageError("that is not a JSON object") from None
    # Pairs come as several arguments, or comma-separated in one: a comma splits only where
    # a field's name and "=" follow, so a text value may hold commas.
    names = "|".join(re.escape(name) for name in sorted(fields, key=len, reverse=True))
    splitter = re.compile(rf",\s*(?=(?:{names})=)") if names else None
    pairs = [part for word in words for part in (splitter.split(word) if splitter else [word])]
    value = {name: field.get("default") for name, field in fields.items()}
    for pair in pairs:
        name, equals, text = pair.partition("=")
        name = name.strip()
        if not equals:
            raise UsageError(f"a form takes name=value pairs; got {pair!r}")
        if name not in fields:
            raise UsageError(f"the form has no field {name!r}; its fields are {', '.join(fields)}")
        try:
            value[name] = read_typed(text, fields[name])
        except UsageError as exc:
            raise UsageError(f"{name}: {exc}") from None
    return value


def _howto_form(payload: dict[str, Any]) -> tuple[str, list[str]]:
    fields = _form_fields(payload)
    listed = "; ".join(f"{field.get('name')}: {_typed_howto(field)}" for field in fields)
    return (
        f"name=value for each field to set (the others keep their starting values), or a JSON object. {listed}",
        [f"{field.get('name')}={_example_text(_typed_example(field))}" for field in fields[:3]],
    )


def _read_picks(words: list[str], payload: dict[str, Any]) -> Any:
    count = payload.get("count")
    text = " ".join(words).strip()
    if text.startswith("["):
        try:
            return _json(text)
        except ValueError:
            raise UsageError("that is not a JSON list") from None
    parts = [part for part in re.split(r"[\s,]+", text) if part]
    if all(part.isdigit() and (not isinstance(count, int) or 1 <= int(part) <= count) for part in parts):
        return [int(part) - 1 for part in parts]
    raise UsageError(f"expected the numbers of the items to keep, from 1 to {count}, e.g. 1,3; got {text!r}")


def _howto_picks(payload: dict[str, Any]) -> tuple[str, list[str]]:
    count, low, high = payload.get("count"), payload.get("min_picks"), payload.get("max_picks")
    how_many = f"{low} to {high}" if low != high else f"{low}"
    example = ",".join(str(n) for n in range(1, max(1, min(int(low or 1), int(count or 1))) + 1))
    return (
        f"the numbers of the {how_many} items to keep, from 1 to {count} as the dialog numbers them, "
        "in order (or a JSON list of the API's indices, from 0)",
        [example],
    )


def _read_json(words: list[str], payload: dict[str, Any]) -> Any:
    text = " ".join(words)
    try:
        return _json(text)
    except ValueError:
        raise UsageError(f"expected JSON, e.g. {MASK_EXAMPLE}; got {text!r}") from None


MASK_EXAMPLE = '{"masks": [[{"op": "brush", "size": 40, "hardness": 0.5, "points": [400, 400, 2000, 420]}]]}'


def _howto_mask(payload: dict[str, Any]) -> tuple[str, list[str]]:
    return (
        "JSON: the strokes per image in image pixels times 4 (docs/nodes/mask-painter.md, "
        "MaskPainterAnswer in server/openapi.json)",
        [_example_text(MASK_EXAMPLE)],
    )


def _read_doubled(words: list[str], payload: dict[str, Any]) -> Any:
    text = " ".join(words).strip()
    with contextlib.suppress(ValueError):
        return int(text)
    raise UsageError(f"expected a whole number (the value doubled); got {text!r}")


def _howto_doubled(payload: dict[str, Any]) -> tuple[str, list[str]]:
    value = payload.get("value")
    return "the value doubled", [str(2 * value) if isinstance(value, int) else "42"]


#: Per kind of request: how its VALUE is read from the words after the id, and what it takes
#: (in words, and an example's words). JSON works for every kind.
Reader = Callable[[list[str], dict[str, Any]], Any]
HowTo = Callable[[dict[str, Any]], tuple[str, list[str]]]
READERS: dict[str, tuple[Reader, HowTo]] = {
    P.KIND_VALUE_PROMPT: (_read_value_prompt, _howto_value_prompt),
    P.KIND_FORM: (_read_form, _howto_form),
    P.KIND_IMAGE_PICKER: (_read_picks, _howto_picks),
    P.KIND_MASK_PAINTER: (_read_json, _howto_mask),
    P.KIND_INTEGER_DOUBLER: (_read_doubled, _howto_doubled),
}


def read_answer(words: list[str], view: dict[str, Any]) -> Any:
    """The answer to the request ``view`` that ``words`` (the arguments after its id) say, read
    by its kind and payload; UsageError (saying what it takes) when they do not read. A
    request with no payload (it ended) or of a kind unknown here takes JSON, else the text."""
    payload = view.get("payload")
    reader = READERS.get(str(view.get("kind")))
    if reader is None or not isinstance(payload, dict):
        text = " ".join(words)
        try:
            return _json(text)
        except ValueError:
            return text
    try:
        return reader[0](words, payload)
    except UsageError as exc:
        raise UsageError(f"{exc}. It takes {how_to_answer(view)}") from None


def how_to_answer(view: dict[str, Any]) -> str:
    """What the request ``view`` takes as its answer, with an example command."""
    payload = view.get("payload")
    reader = READERS.get(str(view.get("kind")))
    if reader is None or not isinstance(payload, dict):
        return "JSON"
    words, example = reader[1](payload)
    return f"{words}: cli.py answer {view.get('id', 'ID')} {' '.join(example)}"


# ----------------------------------------------------------------------- commands
class Cli:
    """The sub-commands, over one or several servers; output to ``out``, problems to ``err``."""

    def __init__(self, servers: list[Server], out: TextIO, err: TextIO) -> None:
        self.servers = servers
        self.out = out
        self.err = err
        self.several = len(servers) > 1

    def problem(self, text: str) -> None:
        print(f"error: {text}", file=self.err, flush=True)

    def emit_json(self, value: Any) -> None:
        print(json.dumps(value, ensure_ascii=False), file=self.out, flush=True)

    # list ----------------------------------------------------------------------------
    def list(self, as_json: bool) -> int:
        found: list[tuple[Server, dict[str, Any]]] = []
        status = EXIT_OK
        for server in self.servers:
            try:
                found += [(server, view) for view in server.waiting()]
            except Unreachable as exc:
                self.problem(str(exc))
                status = EXIT_UNREACHABLE
        if as_json:
            self.emit_json([{"server": server.url, **view} for server, view in found])
            return status
        if not found:
            if status == EXIT_OK or self.several:
                print("Nothing is waiting.", file=self.out)
            return status
        header = ["ID", "NODE", "ASKS", "WAITING", "LEFT", "PROMPT"] + (["SERVER"] if self.several else [])
        rows = [header]
        for server, view in found:
            left = view.get("expires_in_ms")
            row = [
                str(view["id"]),
                node_of(view),
                asks(view),
                D.duration(view.get("waited_ms") or 0),
                D.duration(left + 999) if isinstance(left, int) else "–",
                str(view.get("prompt_id") or "")[:8],
            ]
            rows.append(row + ([server.url] if self.several else []))
        table(rows, self.out, flexible=(1, 2))
        return status

    # one request ---------------------------------------------------------------------
    def _find(self, request_id: str, action: Callable[[Server], Reply]) -> tuple[Server | None, Reply | None, int]:
        """Try each server until one knows the id (404 elsewhere): (server, reply, status)."""
        unreachable = False
        last: Reply | None = None
        for server in self.servers:
            try:
                reply = action(server)
            except Unreachable as exc:
                self.problem(str(exc))
                unreachable = True
                continue
            if reply.status == 404 and reply.error()[0] == "unknown_request":
                last = reply
                continue
            return server, reply, EXIT_OK
        if last is not None and not unreachable:
            where = "any of these servers" if self.several else self.servers[0].url
            self.problem(f"{last.error()[1]}: no request {request_id} on {where}")
            return None, last, EXIT_REFUSED
        return None, last, EXIT_UNREACHABLE if unreachable else EXIT_REFUSED

    def _refused(self, server: Server, reply: Reply) -> int:
        code, message = reply.error()
        self.problem(f"{message} ({reply.status} {code}, {server.url})")
        return EXIT_REFUSED

    def show(self, request_id: str, as_json: bool) -> int:
        server, reply, status = self._find(request_id, lambda s: s.request(request_id))
        if server is None or reply is None:
            return status
        if not reply.ok:
            return self._refused(server, reply)
        view = reply.body["request"]
        if as_json:
            self.emit_json({"server": server.url, **reply.body})
            return EXIT_OK
        if view["state"] == P.STATE_WAITING:
            left = view.get("expires_in_ms")
            state = f"waiting for {D.duration(view['waited_ms'])}"
            state += f", {D.duration(left + 999)} left" if isinstance(left, int) else ", no timeout"
        else:
            ended, now = parse_time(view.get("ended_at")), parse_time(reply.body.get("now"))
            when = f" {D.ago((now - ended).total_seconds() * 1000)} ({view['ended_at']})" if ended and now else ""
            state = f"{outcome_words(view)}{when}, after waiting {D.duration(view['waited_ms'])}"
        fields = [
            ("id", view["id"]),
            ("server", server.url),
            ("node", node_of(view)),
            ("kind", view["kind"]),
            ("asks", asks(view)),
            ("prompt", view.get("prompt_id") or "–"),
            ("opened", view.get("opened_at") or "–"),
            ("state", state),
        ]
        if view["state"] != P.STATE_WAITING:
            fields += who_ended(view)
        if view["state"] == P.STATE_WAITING:
            fields.append(("answer", how_to_answer(view)))
        for name, value in fields:
            print(f"{name:<8}{value}", file=self.out)
        if view.get("payload") is not None:
            payload = json.dumps(view["payload"], indent=2, ensure_ascii=False).replace("\n", "\n        ")
            print(f"{'payload':<8}{payload}", file=self.out)
        return EXIT_OK

    def answer(self, request_id: str, words: Sequence[str]) -> int:
        """Answer with the VALUE ``words`` say, read by the request's kind (so the request is
        looked up first); a VALUE that does not read is a usage error and nothing is sent."""
        server, reply, status = self._find(request_id, lambda s: s.request(request_id))
        if server is None or reply is None:
            return status
        if not reply.ok:
            return self._refused(server, reply)
        try:
            value = read_answer([*words], reply.body["request"])
        except UsageError as exc:
            self.problem(str(exc))
            return EXIT_USAGE
        try:
            reply = server.answer(request_id, value)
        except Unreachable as exc:
            self.problem(str(exc))
            return EXIT_UNREACHABLE
        if not reply.ok:
            return self._refused(server, reply)
        view = reply.body["request"]
        print(f"answered {view['id']} ({node_of(view)}) on {server.url}", file=self.out, flush=True)
        return EXIT_OK

    def cancel(self, request_id: str) -> int:
        return self._move(request_id, "cancelled", lambda server: server.cancel(request_id))

    def _move(self, request_id: str, verb: str, action: Callable[[Server], Reply]) -> int:
        server, reply, status = self._find(request_id, action)
        if server is None or reply is None:
            return status
        if not reply.ok:
            return self._refused(server, reply)
        view = reply.body["request"]
        print(f"{verb} {view['id']} ({node_of(view)}) on {server.url}", file=self.out, flush=True)
        return EXIT_OK

    # history ---------------------------------------------------------------------------
    def history(self, limit: int, as_json: bool) -> int:
        found: list[tuple[Server, dict[str, Any], datetime | None]] = []
        status = EXIT_OK
        for server in self.servers:
            try:
                reply = server.history(limit)
            except Unreachable as exc:
                self.problem(str(exc))
                status = EXIT_UNREACHABLE
                continue
            if not reply.ok:
                status = self._refused(server, reply)
                continue
            now = parse_time(reply.body.get("now"))
            found += [(server, entry, now) for entry in reply.body.get("history", [])]
        found.sort(key=lambda item: str(item[1].get("ended_at") or ""), reverse=True)
        if as_json:
            self.emit_json([{"server": server.url, **entry} for server, entry, _ in found[:limit]])
            return status
        if not found:
            if status == EXIT_OK or self.several:
                print("No request has ended yet.", file=self.out)
            return status
        header = ["ENDED", "OUTCOME", "BY", "NODE", "ASKS", "ANSWER", "WAITED", "ID"]
        rows = [header + (["SERVER"] if self.several else [])]
        for server, entry, now in found[:limit]:
            ended = parse_time(entry.get("ended_at"))
            row = [
                D.ago((now - ended).total_seconds() * 1000) if ended and now else "?",
                outcome_words(entry),
                ended_by(entry),
                node_of(entry),
                asks(entry),
                short_json(entry["answer"]) if entry.get("answer") is not None else "",
                D.duration(entry.get("waited_ms") or 0),
                str(entry["id"]),
            ]
            rows.append(row + ([server.url] if self.several else []))
        table(rows, self.out, flexible=(3, 4, 5))
        return status

    # watch -------------------------------------------------------------------------------
    def watch(self, as_json: bool) -> int:
        """Print requests as they open and end, from every server, until Ctrl-C."""
        events: queue.Queue[tuple[Server, str, dict[str, Any]]] = queue.Queue()
        # Ctrl-C ends the watch, even when started from a shell that ignores SIGINT for its
        # background jobs (Python then leaves it ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for server in self.servers:
            watcher = Watcher(server, events.put, lambda text: print(text, file=self.err, flush=True))
            threading.Thread(target=watcher.run, name=f"watch {server.url}", daemon=True).start()
        try:
            for server, event, view in _drain(events):
                if as_json:
                    # The machine's word: "waiting", or the view's outcome ("timed_out").
                    word = event if event == "waiting" else str(view.get("outcome") or view.get("state"))
                    self.emit_json({"server": server.url, "event": word, "request": view})
                    continue
                clock = datetime.now().strftime("%H:%M:%S")
                if event == "waiting":
                    left = view.get("expires_in_ms")
                    line = D.describe_request(view) + (
                        f" ({D.duration(left + 999)} left)" if isinstance(left, int) else ""
                    )
                else:
                    line = f"{node_of(view)}: after {D.duration(view.get('waited_ms') or 0)}"
                where = f"  [{server.url}]" if self.several else ""
                print(f"{clock}  {event:<11} {view['id']}  {line}{where}", file=self.out, flush=True)
        except KeyboardInterrupt:
            return EXIT_OK
        return EXIT_OK


def _drain(events: queue.Queue[tuple[Server, str, dict[str, Any]]]) -> Iterator[tuple[Server, str, dict[str, Any]]]:
    while True:
        # Windows does not let Ctrl-C through a get() that blocks for good; a timeout there
        # keeps it working (it only wakes this loop; nothing is asked of any server).
        try:
            yield events.get(timeout=1.0 if os.name == "nt" else None)
        except queue.Empty:
            continue


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Watcher:
    """Follows one server's websocket and reports each request that starts or stops waiting.

    On every (re)connection it lists what waits, so nothing that happened while it was
    away is missed: a request it knew that no longer waits is looked up, and reported
    with its outcome. Each request is reported once as waiting and once as ended, however
    it was heard of (the list, an event, or both).
    """

    def __init__(
        self,
        server: Server,
        report: Callable[[tuple[Server, str, dict[str, Any]]], None],
        say: Callable[[str], None],
    ) -> None:
        self.server = server
        self.report = report
        self.say = say
        self.waiting: set[str] = set()
        self.ended: set[str] = set()
        self.stop = threading.Event()

    def __repr__(self) -> str:
        return f"<Watcher {self.server.url} waiting={len(self.waiting)}>"

    def run(self) -> None:
        delay = RECONNECT_S[0]
        connected_once = False
        while not self.stop.is_set():
            try:
                socket_ = WebSocket(self.server.websocket_url(), timeout=self.server.timeout)
            except (Unreachable, WebSocketClosed, OSError) as exc:
                self.say(f"watch: {exc}; trying again in {delay:.1f} s")
                self.stop.wait(delay)
                delay = min(RECONNECT_S[1], delay * 2)
                continue
            if connected_once:
                self.say(f"watch: reconnected to {self.server.url}")
            connected_once = True
            delay = RECONNECT_S[0]
            try:
                self.resync()
                while not self.stop.is_set():
                    self.on_message(socket_.receive())
            except (WebSocketClosed, Unreachable, OSError) as exc:
                self.say(f"watch: lost {self.server.url} ({exc}); reconnecting")
            finally:
                socket_.close()

    def resync(self) -> None:
        """After (re)connecting: report what waits now and what ended while we were away."""
        views = self.server.waiting()
        listed = {view["id"] for view in views}
        for request_id in [known for known in self.waiting if known not in listed]:
            reply = self.server.request(request_id)
            if reply.ok:
                self.on_view(reply.body["request"])
            else:
                self.waiting.discard(request_id)
        for view in views:
            self.on_view(view)

    def on_message(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if (
            isinstance(message, dict)
            and message.get("type") == P.EVENT_REQUEST
            and isinstance(message.get("data"), dict)
        ):
            self.on_view(message["data"])

    def on_view(self, view: dict[str, Any]) -> None:
        request_id = str(view.get("id"))
        if view.get("state") == P.STATE_WAITING:
            if request_id in self.ended or request_id in self.waiting:
                return
            self.waiting.add(request_id)
            self.report((self.server, "waiting", view))
            return
        if request_id in self.ended:
            return
        self.waiting.discard(request_id)
        self.ended.add(request_id)
        self.report((self.server, outcome_words(view), view))


# --------------------------------------------------------------------------- main
#: How VALUE is written, per kind (``answer --help``; ``show ID`` says it for that request).
VALUE_HELP = (
    "the answer, read by the request's kind (`show ID` says what it takes, with an example): "
    "yes/no for a BOOLEAN, a number for INT and FLOAT, the text as it is for STRING, a choice's label "
    "or number (from 1) for CHOICE, name=value pairs for a form (several, or comma-separated), the "
    "items' numbers (from 1, as the dialog shows them) for the picker, e.g. 1,3; JSON works for every kind"
)


def build_parser() -> argparse.ArgumentParser:
    # --url and --timeout may come before the command or after it; each command lists them.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        action="append",
        dest="url_after",
        metavar="URL",
        help=f"a ComfyUI's address (repeat for several); default ${URL_ENV} or {DEFAULT_URL}",
    )
    common.add_argument(
        "--timeout",
        type=float,
        dest="timeout_after",
        metavar="S",
        help="seconds to wait for a server (default 10)",
    )
    parser = argparse.ArgumentParser(
        prog="cli.py",
        description="Answer comfyui-hitl's waiting requests from a terminal.",
        epilog="Exit status: 0 done, 1 refused (the server's message is printed), 2 bad usage, 3 unreachable.",
    )
    parser.add_argument(
        "--url",
        action="append",
        help=f"a ComfyUI's address (repeat for several); default ${URL_ENV} or {DEFAULT_URL}",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a server (default 10)")
    parser.add_argument("--version", action="version", version=VERSION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, **options: Any) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, parents=[common], **options)

    listing = command("list", "the waiting requests, as a table")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    show = command("show", "one request, waiting or ended, and how to answer it")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    answer = command(
        "answer",
        "answer a waiting request",
        epilog="e.g. answer ID yes; answer ID 30; answer ID a red bicycle; answer ID steps=30 style=photo; "
        "answer ID 1,3; answer ID '{\"masks\": [[]]}'",
    )
    answer.add_argument("id")
    answer.add_argument("value", nargs="+", metavar="VALUE", help=VALUE_HELP)
    cancel = command("cancel", "cancel a waiting request (its run ends as interrupted)")
    cancel.add_argument("id")
    watch = command("watch", "print requests as they open and end, until Ctrl-C")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    history = command("history", "the last ended requests and how they ended")
    history.add_argument("--limit", type=int, default=P.HISTORY_LIMIT_DEFAULT, help="how many (default %(default)s)")
    history.add_argument("--json", action="store_true", help="JSON instead of a table")
    # --- paired devices (server/pairing_cli.py): on the machine that runs ComfyUI ---
    pair = command("pair", "pair a phone: a one-time link (and its QR code), valid 10 minutes")
    pair.add_argument("--name", help="the name the paired device gets (default: Phone N)")
    pair.add_argument("--no-qr", action="store_true", help="print only the link")
    devices = command("devices", "the paired devices")
    devices.add_argument("--json", action="store_true", help="JSON instead of a table")
    revoke = command("revoke", "unpair a device (its ID, from `devices`), or --all")
    revoke.add_argument("device", nargs="?")
    revoke.add_argument("--all", action="store_true", help="unpair every device")
    return parser


#: The commands that take a request id, and the flags each of them knows.
ID_COMMANDS = {"show": {"--json", "-h", "--help"}, "answer": {"-h", "--help"}, "cancel": {"-h", "--help"}}
#: The options every command takes that have a value of their own (the next word).
VALUE_OPTIONS = ("--url", "--timeout")


def protect_ids(argv: list[str]) -> list[str]:
    """Request ids are URL-safe base64, so one in 32 starts with "-", which argparse would
    take for an option. After a command that takes an id, its own flags (and ``--url U``,
    ``--timeout S``) go first, then "--", then the id (and VALUE, which may be a negative
    number)."""
    for at, word in enumerate(argv):
        flags = ID_COMMANDS.get(word)
        if flags is None:
            continue
        rest = argv[at + 1 :]
        if "--" in rest:
            return argv
        options: list[str] = []
        positional: list[str] = []
        words = iter(rest)
        for item in words:
            if item in VALUE_OPTIONS:
                options += [item, next(words, "")]
            elif item in flags or item.startswith(tuple(f"{name}=" for name in VALUE_OPTIONS)):
                options.append(item)
            else:
                positional.append(item)
        return [*argv[: at + 1], *options, "--", *positional]
    return argv


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        status = run(list(sys.argv[1:] if argv is None else argv), out, err)
        out.flush()  # here, where a reader that has gone can be told apart
        return status
    except BrokenPipeError:
        # Our output went to a reader that has gone (`cli.py show ID | head -3`): nothing
        # more can be said there. Point stdout at nothing, so the interpreter's own flush at
        # exit does not fail again, and end quietly.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
        return EXIT_OK


def run(argv: list[str], out: TextIO, err: TextIO) -> int:
    """One command: ``argv`` as after ``cli.py``."""
    args = build_parser().parse_args(protect_ids(argv))
    urls = (
        [*(args.url or []), *(args.url_after or [])]
        or [url for url in os.environ.get(URL_ENV, "").split(",") if url.strip()]
        or [DEFAULT_URL]
    )
    timeout = args.timeout_after if args.timeout_after is not None else args.timeout
    try:
        servers = [Server(url, timeout=timeout) for url in urls]
    except ValueError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_USAGE
    cli = Cli(servers, out, err)
    if args.command in ("pair", "devices", "revoke"):
        return pairing_command(args, servers[0], out, err)
    if args.command == "list":
        return cli.list(args.json)
    if args.command == "show":
        return cli.show(args.id, args.json)
    if args.command == "answer":
        return cli.answer(args.id, args.value)
    if args.command == "cancel":
        return cli.cancel(args.id)
    if args.command == "history":
        if not 1 <= args.limit <= P.HISTORY_LIMIT_MAX:
            print(f"error: --limit must be from 1 to {P.HISTORY_LIMIT_MAX}", file=err)
            return EXIT_USAGE
        return cli.history(args.limit, args.json)
    return cli.watch(args.json)


def pairing_command(args: argparse.Namespace, server: Server, out: TextIO, err: TextIO) -> int:
    """``pair``, ``devices`` and ``revoke`` (against the first ``--url``: this machine's ComfyUI)."""
    try:
        if args.command == "pair":
            return int(PAIRING.pair(server, args.name, out, err, show_qr=not args.no_qr))
        if args.command == "devices":
            return int(PAIRING.devices(server, args.json, out, err))
        return int(PAIRING.revoke(server, args.device, args.all, out, err))
    except Unreachable as exc:
        print(f"error: {exc}", file=err)
        return EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
