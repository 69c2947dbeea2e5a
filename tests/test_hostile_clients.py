"""Hostile clients over real HTTP on the harness (issue 16): the largest answers the body
cap allows are refused at once, for every kind (and the largest orders for the picker's
thumbnails stream), while another request is served; a DNS-rebinding Host is refused on
every route; image indices are ASCII digits only.

Every kind is in ``dev/harness/hostile.py``'s table: a new kind added there is timed here too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.hostile import TARGETS, http_request, open_target, timed_exchange
from dev.harness.images import FixedImages
from dev.harness.pack import submodule

P = submodule("server.protocol")

#: Generous upper bounds, so a loaded machine does not fail the test: refusals measure 1-40 ms
#: (README, "Hostile answers"); the quadratic check this guards against took 170 s.
REFUSAL_BOUND_S = 1.0
PROBE_BOUND_S = 1.0


@pytest.fixture(scope="module")
def harness() -> Iterator[tuple[HarnessHost, HarnessServer]]:
    host = HarnessHost()
    server = HarnessServer(host, allowed_origins=["https://comfy.example.com", "mypc.lan"])
    server.start()
    yield host, server
    server.stop()
    host.close()


def snapshot(registry: Any) -> Any:
    with registry._lock:
        return registry._seq, sorted((r.id, r.state) for r in registry._waiting.values()), len(registry._ended)


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, Any] | bytes]:
    """One raw HTTP request (any Host, or none); the status and the parsed JSON body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(raw)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


# ------------------------------------------------------------ bounded answer checks
CASES = [(name, shape) for name, target in TARGETS.items() for shape in target.all_shapes()]


@pytest.mark.parametrize(("name", "shape"), CASES)
async def test_largest_capped_answer_is_refused_quickly_while_another_request_is_served(
    harness: tuple[HarnessHost, HarnessServer], name: str, shape: str
) -> None:
    host, server = harness
    request = open_target(host.registry, name)
    body = TARGETS[name].all_shapes()[shape](P.MAX_BODY_BYTES)
    assert len(body) <= P.MAX_BODY_BYTES
    before = snapshot(host.registry)
    address = f"127.0.0.1:{server.port}"
    result = await timed_exchange(
        server.port,
        http_request("POST", "/api" + TARGETS[name].path(request.id), address, body),
        http_request("GET", "/extensions", address),
        timeout=60,
    )
    refusal = json.loads(result.body)["error"]
    assert result.status in (400, 422), refusal
    assert refusal["code"] in ("malformed_json", "invalid_body", "invalid_answer") and len(refusal["message"]) < 3000
    assert snapshot(host.registry) == before
    assert request.state == "waiting"
    assert result.seconds < REFUSAL_BOUND_S, f"{name}, {shape}: refused in {result.seconds * 1000:.0f} ms"
    assert result.probe_status == 200
    assert result.probe_seconds < PROBE_BOUND_S, f"{name}, {shape}: probe took {result.probe_seconds * 1000:.0f} ms"
    host.registry.cancel(request.id)


@pytest.mark.parametrize(
    ("shape", "reason"),
    [
        ("many points", "a point lies too far outside the image"),
        ("many strokes", "operations; at most"),
        ("most drawing", "the mask is too complex to draw"),
    ],
)
def test_the_mask_painters_hostile_answers_reach_the_limit_they_are_made_for(shape: str, reason: str) -> None:
    """Each is refused by the check it tests, not by an earlier one (a wrong count of masks)."""
    target = TARGETS["mask painter"]
    body = json.loads(target.all_shapes()[shape](P.MAX_BODY_BYTES))
    with pytest.raises(ValueError, match=reason):
        target.validator()(body["value"])


async def test_the_issues_picker_answer_is_refused_by_its_length(harness: tuple[HarnessHost, HarnessServer]) -> None:
    host, server = harness
    request = open_target(host.registry, "image picker")
    body = TARGETS["image picker"].all_shapes()["repeated indices"](P.MAX_BODY_BYTES)
    assert len(body) > 0.99 * P.MAX_BODY_BYTES
    address = f"127.0.0.1:{server.port}"
    result = await timed_exchange(
        server.port,
        http_request("POST", f"/hitl/requests/{request.id}/answer", address, body),
        http_request("GET", "/extensions", address),
        timeout=60,
    )
    assert result.status == 422
    assert (
        json.loads(result.body)["error"]["message"] == f"pick 1 to 4096 image(s); got {len(json.loads(body)['value'])}"
    )
    host.registry.cancel(request.id)


# ------------------------------------------------------------------ Host header
def route_requests(ids: dict[str, str]) -> list[tuple[str, str, bytes | None]]:
    """(method, path, body) of every route of ours, aimed at a waiting request."""
    return [
        ("GET", P.ROUTES["list"], None),
        ("GET", P.ROUTES["openapi"], None),
        ("GET", P.ROUTES["image"].format(request_id=ids["picker"], index=0), None),
        ("POST", P.ROUTES["thumbnails"].format(request_id=ids["picker"]), b'{"order": [0]}'),
        ("POST", P.ROUTES["answer"].format(request_id=ids["doubler"]), b'{"value": 4}'),
        ("POST", P.ROUTES["cancel"].format(request_id=ids["doubler"]), b"{}"),
    ]


@pytest.fixture
def waiting(harness: tuple[HarnessHost, HarnessServer]) -> Iterator[dict[str, str]]:
    host, _ = harness
    doubler = host.registry.open("integer-doubler", prompt_id="hostile", node_id="1", payload={"value": 2})
    picker = host.registry.open("image-picker", prompt_id="hostile", node_id="2", resources=FixedImages(4))
    yield {"doubler": doubler.id, "picker": picker.id}
    for request in (doubler, picker):
        if request.state == "waiting":
            host.registry.cancel(request.id)


REBINDING_HOSTS = [
    "evil.example:{port}",
    "evil.example",
    "EVIL.example.:{port}",
    "127.0.0.1.nip.io:{port}",  # a public name that resolves to 127.0.0.1
    "localhost.evil.example:{port}",
    "evil.example:{port}:{port}",
    "[::1",
    "::1",
    "[evil.example]:{port}",
    "localhost:abc",
]
#: This machine's name over loopback is this machine only when it resolves to loopback here
#: (Debian's 127.0.1.1 line); otherwise it is refused.
MACHINE_NAME_IS_LOOPBACK = submodule("server_routes").HostPolicy()._names_loopback(socket.gethostname().lower())
if not MACHINE_NAME_IS_LOOPBACK:
    REBINDING_HOSTS.append("{machine}:{port}")


@pytest.mark.parametrize("host_header", REBINDING_HOSTS)
@pytest.mark.parametrize("prefix", ["", "/api"])
def test_a_rebinding_host_is_refused_on_every_route(
    harness: tuple[HarnessHost, HarnessServer], waiting: dict[str, str], host_header: str, prefix: str
) -> None:
    host, server = harness
    name = host_header.format(port=server.port, machine=socket.gethostname())
    for method, path, body in route_requests(waiting):
        before = snapshot(host.registry)
        # A DNS-rebinding page is same-origin with itself: its Origin matches its Host.
        origin = {"Origin": f"http://{name}"} if method == "POST" else {}
        status, refusal = exchange(server.port, http_request(method, prefix + path, name, body, origin))
        assert status == 403, (method, path, name, refusal)
        assert isinstance(refusal, dict) and refusal["error"]["code"] == "forbidden_host"
        assert snapshot(host.registry) == before


ACCEPTED_HOSTS = [
    "127.0.0.1:{port}",
    "localhost:{port}",
    "LOCALHOST.:{port}",
    "localhost",
    "comfy.localhost:{port}",
    "127.8.9.10:{port}",
    "[::1]:{port}",
    "[::1]",
    "[::ffff:127.0.0.1]:{port}",
    "0.0.0.0:{port}",  # what ComfyUI prints when it listens on every interface
    "192.168.1.20:8188",  # a LAN address (through a port mapping the socket is another)
    "[fe80::1%25eth0]:{port}",
    "comfy.example.com",  # the host of a listed origin
    "MYPC.lan:{port}",  # a listed bare host
    *(["{machine}:{port}"] if MACHINE_NAME_IS_LOOPBACK else []),
]


@pytest.mark.parametrize("host_header", ACCEPTED_HOSTS)
def test_loopback_addresses_and_listed_hosts_are_served(
    harness: tuple[HarnessHost, HarnessServer], waiting: dict[str, str], host_header: str
) -> None:
    _, server = harness
    name = host_header.format(port=server.port, machine=socket.gethostname())
    for method, path, body in route_requests(waiting):
        status, answer = exchange(server.port, http_request(method, path, name, body))
        if path.endswith("/cancel"):  # answered just before
            assert status == 409, (path, name, answer)
        else:
            assert status == 200, (method, path, name, answer)


def test_a_request_without_host_is_served_and_two_hosts_are_refused(
    harness: tuple[HarnessHost, HarnessServer], waiting: dict[str, str]
) -> None:
    _, server = harness
    status, body = exchange(server.port, b"GET /hitl/requests HTTP/1.0\r\n\r\n")
    assert status == 200 and isinstance(body, dict) and "requests" in body
    raw = b"GET /hitl/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    status, body = exchange(server.port, raw)
    assert status in (400, 403), body  # aiohttp's parser may refuse it first; never served


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (the one its default route uses)."""
    for family, target in ((socket.AF_INET, "203.0.113.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))  # UDP: nothing is sent
                address = probe.getsockname()[0]
        except OSError:
            continue
        if not ipaddress.ip_address(address).is_loopback:
            return address
    return None


def test_over_the_network_an_address_and_the_machine_name_are_served() -> None:
    """What a phone on the LAN does: open http://<LAN address>:<port>/ (or the machine's name)."""
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to serve on")
    host = HarnessHost()
    server = HarnessServer(host, address=address)
    server.start()
    try:
        shown = f"[{address}]" if ":" in address else address
        machine = socket.gethostname()
        cases = {
            f"{shown}:{server.port}": 200,
            f"{machine}:{server.port}": 200,
            f"{machine.upper()}.local.:{server.port}": 200,
            f"evil.example:{server.port}": 403,
            f"{machine}.evil.example:{server.port}": 403,
        }
        for name, expected in cases.items():
            with socket.create_connection((address, server.port), timeout=30) as connection:
                origin = f"http://{name}"
                connection.sendall(http_request("GET", "/hitl/requests", name, None, {"Origin": origin}))
                data = b""
                while chunk := connection.recv(65536):
                    data += chunk
            assert int(data.split(b" ", 2)[1]) == expected, (name, data[-300:])
    finally:
        server.stop()
        host.close()


# ------------------------------------------------------------------ image indices
@pytest.mark.parametrize(
    ("index", "status"),
    [
        ("3", 200),
        ("0003", 200),
        ("%C2%B2", 404),  # superscript two: str.isdigit() says yes, int() fails
        ("%D9%A3", 404),  # Arabic-Indic three: int() says 3
        ("%EF%BC%93", 404),  # full-width three
        ("%E0%A5%A9", 404),  # Devanagari three
        ("4", 404),
        ("-1", 404),
        ("+1", 404),
        ("%201", 404),
        ("1%0A", 404),
        ("1.0", 404),
        ("1234567", 404),
        ("1e0", 404),
    ],
)
def test_image_index_is_ascii_digits_only(
    harness: tuple[HarnessHost, HarnessServer], waiting: dict[str, str], index: str, status: int
) -> None:
    _, server = harness
    path = f"/hitl/requests/{waiting['picker']}/images/{index}"
    got, body = exchange(server.port, http_request("GET", path, f"127.0.0.1:{server.port}"))
    assert got == status, (index, body)
    if status == 200:
        assert body == b"thumb-3"
    else:
        assert isinstance(body, dict) and body["error"]["code"] == "not_found"


def test_timed_exchange_sees_a_held_loop() -> None:
    """The timing itself can fail: a handler that holds the loop shows in both figures."""
    import time

    from aiohttp import web

    async def hold(request: web.Request) -> web.Response:
        time.sleep(0.3)  # noqa: ASYNC251 (holding the loop is the point)
        return web.Response(text="held")

    async def probe(request: web.Request) -> web.Response:
        return web.Response(text="probe")

    routes = web.RouteTableDef()
    routes.get("/hold")(hold)
    routes.get("/probe")(probe)
    host = HarnessHost()
    server = HarnessServer(host, extra_routes=routes)
    server.start()
    try:
        address = f"127.0.0.1:{server.port}"
        result = asyncio.run(
            timed_exchange(server.port, http_request("GET", "/hold", address), http_request("GET", "/probe", address))
        )
    finally:
        server.stop()
        host.close()
    assert result.status == 200 and result.probe_status == 200
    assert result.seconds >= 0.3 and result.probe_seconds >= 0.25
