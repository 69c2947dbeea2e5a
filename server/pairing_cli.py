"""``cli.py pair``, ``devices`` and ``revoke``: pair phones and unpair them from a terminal on
the machine that runs ComfyUI (the management routes answer only callers on this machine).

Standard library only, like ``cli.py``, which loads this file beside it. The QR code comes
from the server as a matrix of modules and is printed with half-block characters, two rows
of modules per line, light modules as blocks: right on a dark terminal, as ``qrencode -t
UTF8`` prints them. The pairing link is always the last line printed.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Protocol, TextIO

from . import protocol as P

#: Light modules around the code, as the QR standard asks.
QUIET = 4


class Reply(Protocol):
    """One exchange with a server (``cli.Reply``)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool: ...

    def error(self) -> tuple[str, str]: ...


class Server(Protocol):
    """A server the CLI talks to (``cli.Server``)."""

    url: str

    def call(self, method: str, url: str, body: Any = None) -> Any: ...


def route(server: Server, name: str, **params: str) -> str:
    """The URL of one of our routes on ``server``."""
    return server.url + P.ROUTES[name].format(**{k: urllib.parse.quote(v, safe="") for k, v in params.items()})


def qr_lines(qr: dict[str, Any]) -> list[str]:
    """The QR code as text: light modules as blocks, with the quiet zone around it."""
    size = int(qr["size"])
    side = size + 2 * QUIET
    light = [[True] * side for _ in range(side)]
    for y, row in enumerate(qr["rows"]):
        for x, module in enumerate(row):
            light[y + QUIET][x + QUIET] = module != "1"
    if side % 2:
        light.append([True] * side)
    glyphs = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    return [
        "".join(glyphs[(top, bottom)] for top, bottom in zip(light[y], light[y + 1], strict=True))
        for y in range(0, len(light), 2)
    ]


def refused(reply: Reply, server: Server, err: TextIO) -> int:
    code, message = reply.error()
    if code == "not_found" and reply.status == 404 and not message.startswith("no paired device"):
        message = "this server does not know paired devices (update the pack)"
    print(f"error: {message} ({reply.status} {code}, {server.url})", file=err, flush=True)
    return 1


def pair(server: Server, name: str | None, out: TextIO, err: TextIO, *, show_qr: bool = True) -> int:
    """Make a one-time pairing link; print its QR code and, last, the link."""
    reply = server.call("POST", route(server, "pairing_secrets"), {"name": name} if name else {})
    if not reply.ok:
        return refused(reply, server, err)
    body = reply.body
    if show_qr and isinstance(body.get("qr"), dict):
        for line in qr_lines(body["qr"]):
            print(line, file=out)
        print(file=out)
    minutes = round(float(body.get("expires_in_s", P.PAIRING_SECRET_TTL_S)) / 60)
    print(
        f"Scan the code, or open this link on the phone. It pairs one device, once, within {minutes} minutes.", file=out
    )
    if body.get("warning"):
        print(f"Note: {body['warning']}", file=out)
    print(body["url"], file=out, flush=True)
    return 0


def devices(server: Server, as_json: bool, out: TextIO, err: TextIO) -> int:
    """List the paired devices."""
    reply = server.call("GET", route(server, "devices"))
    if not reply.ok:
        return refused(reply, server, err)
    found = list(reply.body.get("devices", []))
    if as_json:
        print(json.dumps(found, ensure_ascii=False), file=out, flush=True)
        return 0
    if not found:
        print("No device is paired.", file=out)
        return 0
    rows = [["ID", "NAME", "PAIRED", "LAST SEEN", "FROM"]]
    for device in found:
        rows.append(
            [
                str(device["id"]),
                str(device["name"]),
                str(device["paired_at"])[:19].replace("T", " "),
                str(device.get("last_seen") or "never")[:19].replace("T", " "),
                str(device.get("last_address") or "–"),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip(), file=out)
    return 0


def revoke(server: Server, device_id: str | None, every: bool, out: TextIO, err: TextIO) -> int:
    """Unpair one device, or all of them."""
    if every:
        reply = server.call("POST", route(server, "devices_revoke_all"), {})
        if not reply.ok:
            return refused(reply, server, err)
        print(f"Unpaired {reply.body['revoked']} device(s).", file=out)
        return 0
    if not device_id:
        print("error: name a device (its ID, from `devices`), or give --all", file=err)
        return 2
    reply = server.call("POST", route(server, "device_revoke", device_id=device_id), {})
    if not reply.ok:
        return refused(reply, server, err)
    print(f"Unpaired {reply.body['device']['name']} ({device_id}).", file=out)
    return 0
