"""openapi.json describes the real routes: every route, every status code, every body shape."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.parse
from typing import Any

import pytest
from aiohttp import web
from openapi_check import check_response, document, documented_statuses, operation_for
from openapi_spec_validator import validate

from dev.harness.images import FixedImages
from dev.harness.pack import submodule

server_routes = submodule("server_routes")
state = submodule("state")
doubler = submodule("nodes.integer_doubler")
form = submodule("nodes.form")
forms = submodule("questions.forms")
P = submodule("server.protocol")
settings_module = submodule("server.settings")
push_module = submodule("server.push")
mask_drafts = submodule("images.mask_drafts")
remote_module = submodule("server.remote")


def one_image() -> FixedImages:
    """A picker's single image: a JPEG thumbnail and a PNG full size (their first bytes)."""
    return FixedImages(1, lambda size, index: b"\xff\xd8jpeg" if size == "thumb" else b"\x89PNG")


def test_document_is_valid_openapi() -> None:
    validate(document())


def test_document_and_route_table_list_the_same_routes() -> None:
    registry = state.RequestRegistry()
    settings = settings_module.SettingsStore(None, environ={})
    remote = remote_module.RemoteAccess(registry, settings, user_directory=None, environ={})
    routes = web.RouteTableDef()
    server_routes.add_routes(routes, registry)
    remote.add_comfy_routes(routes)
    listener = {(route.method, route.path) for route in remote.listener_routes()}  # type: ignore[union-attr]
    registered = {(route.method, route.path) for route in routes} | listener  # type: ignore[union-attr]
    documented = {(method.upper(), path) for path, item in document()["paths"].items() for method in item}
    assert registered == documented
    assert {path for _, path in registered} == set(P.ROUTES.values())
    # The listener serves exactly the operations marked x-listener, and the local-only ones are not among them.
    marked = {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if operation.get("x-listener")
    }
    assert listener == marked
    assert {P.ROUTES[name] for name in P.LISTENER_ROUTES} == {path for _, path in listener}


def test_document_error_codes_match_the_protocol() -> None:
    error_schema = document()["components"]["schemas"]["Error"]
    assert error_schema["properties"]["error"]["properties"]["code"]["enum"] == list(P.ERROR_CODES)
    assert set(server_routes.ERROR_STATUS) == set(P.ERROR_CODES)
    kinds = document()["components"]["schemas"]["RequestView"]["properties"]["kind"]["enum"]
    assert kinds == list(P.KINDS)


@pytest.fixture
async def setup(route_client: Any) -> Any:
    registry = state.RequestRegistry()
    # An ntfy URL set by the environment: the config route must refuse to change it (409).
    # (A closed port of this machine, which pushes may target here.)
    store = settings_module.SettingsStore(
        None, environ={"COMFYUI_HITL_NTFY_URL": "http://127.0.0.1:9/topic", "COMFYUI_HITL_ALLOW_LOOPBACK_PUSH": "1"}
    )
    pusher = push_module.Pusher(store)
    client = await route_client(registry, settings=store, pusher=pusher)
    waiting = registry.open(
        "integer-doubler", prompt_id="p", node_id="1", payload={"value": 1}, validate=doubler.validate_doubled
    )
    picker = registry.open("image-picker", prompt_id="p", node_id="2", resources=one_image())
    ended = registry.open("integer-doubler", prompt_id="p", node_id="3")
    registry.cancel(ended.id)
    filled = registry.open("form", prompt_id="p", node_id="4", validate=forms.parse_fields("n: INT 1..9").validate)
    drafts = mask_drafts.MaskDrafts(1, 48, 64, [None])
    painter = registry.open("mask-painter", prompt_id="p", node_id="5", resources=drafts)
    ids = {"waiting": waiting.id, "picker": picker.id, "ended": ended.id, "form": filled.id, "painter": painter.id}
    yield client, ids
    drafts.close()
    pusher.close()
    assert not pusher.threads()


JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EVIL = {"Origin": "https://evil.example"}
#: A DNS-rebinding page: same-origin with itself, under a name that is not this server's.
REBINDING = {"Host": "evil.example:8188", "Origin": "http://evil.example:8188"}
BIG = json.dumps({"value": "x" * (P.MAX_BODY_BYTES + 10)})

# (method, path template, ids key, request kwargs, expected status): one row per documented status.
CASES = [
    ("GET", "/hitl/requests", None, {}, 200),
    ("GET", "/hitl/requests", None, {"headers": EVIL}, 403),
    ("GET", "/hitl/requests", None, {"headers": REBINDING}, 403),
    ("GET", "/hitl/openapi.json", None, {}, 200),
    ("GET", "/hitl/openapi.json", None, {"headers": EVIL}, 403),
    ("GET", "/hitl/openapi.json", None, {"headers": REBINDING}, 403),
    *[
        row
        for action, good in (("answer", {"value": 2}), ("cancel", {}))
        for row in (
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"json": good}, 200),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"data": "{", "headers": JSON}, 400),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"json": good, "headers": EVIL}, 403),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"json": good, "headers": REBINDING}, 403),
            ("POST", f"/hitl/requests/{{}}/{action}", "unknown", {"json": good}, 404),
            ("POST", f"/hitl/requests/{{}}/{action}", "ended", {"json": good}, 409),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"data": BIG, "headers": JSON}, 413),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"data": "value=2", "headers": FORM}, 415),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"json": {"nope": 1}}, 422),
        )
    ],
    *[
        ("POST", "/hitl/requests/{}/draft", which, kwargs, status)
        for which, kwargs, status in (
            ("painter", {"json": {"value": {"masks": [[{"op": "fill"}]]}}}, 202),
            ("painter", {"data": "{", "headers": JSON}, 400),
            ("painter", {"json": {"value": {"masks": [[]]}}, "headers": EVIL}, 403),
            ("painter", {"json": {"value": {"masks": [[]]}}, "headers": REBINDING}, 403),
            ("unknown", {"json": {"value": {"masks": [[]]}}}, 404),
            ("waiting", {"json": {"value": 2}}, 404),  # a request that takes no drafts
            ("ended", {"json": {"value": {"masks": [[]]}}}, 409),
            ("painter", {"data": BIG, "headers": JSON}, 413),
            ("painter", {"data": "value=1", "headers": FORM}, 415),
            ("painter", {"json": {"value": {"masks": [[{"op": "paint"}]]}}}, 422),
            ("painter", {"json": {"value": {"masks": [[]]}, "surface": "inbox"}}, 422),
        )
    ],
    ("POST", "/hitl/requests/{}/answer", "waiting", {"json": {"value": "two"}}, 422),
    ("POST", "/hitl/requests/{}/answer", "form", {"json": {"value": {"n": 10}}}, 422),
    ("POST", "/hitl/requests/{}/answer", "form", {"json": {"value": {"n": 9}}}, 200),
    ("GET", "/hitl/requests/{}/images/0", "picker", {}, 200),
    ("GET", "/hitl/requests/{}/images/0?size=full", "picker", {}, 200),
    ("GET", "/hitl/requests/{}/images/0", "picker", {"headers": EVIL}, 403),
    ("GET", "/hitl/requests/{}/images/0", "picker", {"headers": REBINDING}, 403),
    ("GET", "/hitl/requests/{}/images/%D9%A3", "picker", {}, 404),
    ("GET", "/hitl/requests/{}/images/5", "picker", {}, 404),
    ("GET", "/hitl/requests/{}/images/0", "unknown", {}, 404),
    ("GET", "/hitl/requests/{}/images/0", "ended", {}, 409),
    ("GET", "/hitl/requests/{}/images/0?size=huge", "picker", {}, 422),
    ("GET", "/hitl/requests/{}", "waiting", {}, 200),
    ("GET", "/hitl/requests/{}", "ended", {}, 200),
    ("GET", "/hitl/requests/{}", "waiting", {"headers": EVIL}, 403),
    ("GET", "/hitl/requests/{}", "unknown", {}, 404),
    ("GET", "/hitl/history", None, {}, 200),
    ("GET", "/hitl/history?limit=200", None, {}, 200),
    ("GET", "/hitl/history", None, {"headers": EVIL}, 403),
    ("GET", "/hitl/history?limit=0", None, {}, 422),
    ("GET", "/hitl/history?limit=201", None, {}, 422),
    ("GET", "/hitl/inbox", None, {}, 200),
    (
        "GET",
        "/hitl/inbox?request=x",
        None,
        {"headers": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}},
        200,
    ),
    ("GET", "/hitl/inbox", None, {"headers": EVIL}, 403),
    ("GET", "/hitl/inbox", None, {"headers": {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "iframe"}}, 403),
    ("GET", "/hitl/ui/inbox/inbox.js", None, {}, 200),
    ("GET", "/hitl/ui/inbox/inbox.css", None, {}, 200),
    ("GET", "/hitl/ui/web/controller.js", None, {}, 200),
    ("GET", "/hitl/ui/inbox/inbox.js", None, {"headers": EVIL}, 403),
    ("GET", "/hitl/ui/web/main.js", None, {}, 404),
    ("GET", "/hitl/ui/web/nope.js", None, {}, 404),
    ("GET", "/hitl/ui/harness/host.py", None, {}, 404),
    ("GET", "/hitl/requests/{}/images/0?size=mask", "picker", {}, 404),  # a source with no input mask
    # Who sends an answer: a surface outside the fixed set, or a malformed client id, is refused.
    ("POST", "/hitl/requests/{}/answer", "waiting", {"json": {"value": 2, "surface": "timeout"}}, 422),
    ("POST", "/hitl/requests/{}/cancel", "waiting", {"json": {"client_id": "a b"}}, 422),
    ("GET", "/hitl/notify/config", None, {}, 200),
    ("GET", "/hitl/notify/config", None, {"headers": EVIL}, 403),
    ("POST", "/hitl/notify/config", None, {"json": {"push_on_end": True}}, 200),
    ("POST", "/hitl/notify/config", None, {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/notify/config", None, {"json": {"push_on_end": True}, "headers": EVIL}, 403),
    ("POST", "/hitl/notify/config", "env", {"json": {"ntfy_url": "https://ntfy.example/other"}}, 409),
    (
        "POST",
        "/hitl/notify/config",
        None,
        {"data": json.dumps({"public_url": "x" * P.MAX_BODY_BYTES}), "headers": JSON},
        413,
    ),
    ("POST", "/hitl/notify/config", None, {"data": "push_on_end=1", "headers": FORM}, 415),
    ("POST", "/hitl/notify/config", None, {"json": {"webhook_url": "file:///etc/passwd"}}, 422),
    ("GET", "/hitl/notify/status", None, {}, 200),
    ("GET", "/hitl/notify/status", None, {"headers": EVIL}, 403),
    ("POST", "/hitl/notify/test", None, {"json": {}}, 200),
    ("POST", "/hitl/notify/test", None, {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/notify/test", None, {"json": {}, "headers": EVIL}, 403),
    ("POST", "/hitl/notify/test", None, {"data": json.dumps({"x": "x" * P.MAX_BODY_BYTES}), "headers": JSON}, 413),
    ("POST", "/hitl/notify/test", None, {"data": "x=1", "headers": FORM}, 415),
    ("POST", "/hitl/notify/test", None, {"json": {"target": "ntfy"}}, 422),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"json": {"order": [0]}}, 200),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"json": {"order": [0]}, "headers": EVIL}, 403),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"json": {"order": [0]}, "headers": REBINDING}, 403),
    ("POST", "/hitl/requests/{}/thumbnails", "unknown", {"json": {"order": [0]}}, 404),
    ("POST", "/hitl/requests/{}/thumbnails", "waiting", {"json": {"order": [0]}}, 404),  # no images
    ("POST", "/hitl/requests/{}/thumbnails", "ended", {"json": {"order": [0]}}, 409),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"data": BIG, "headers": JSON}, 413),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"data": "order=0", "headers": FORM}, 415),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"json": {"order": [0, 0]}}, 422),
    # A body that stalls after its first byte: refused after the read timeout (shortened here).
    *[
        ("POST", path, which, {"stall": True}, 408)
        for path, which in (
            ("/hitl/requests/{}/answer", "waiting"),
            ("/hitl/requests/{}/cancel", "waiting"),
            ("/hitl/requests/{}/draft", "painter"),
            ("/hitl/requests/{}/thumbnails", "picker"),
            ("/hitl/notify/config", None),
            ("/hitl/notify/test", None),
        )
    ],
]


async def stalled_body() -> Any:
    """A body that sends its first byte, then nothing (until the client is closed)."""
    yield b"{"
    await asyncio.Event().wait()


@pytest.mark.parametrize(("method", "template", "which", "kwargs", "status"), CASES)
async def test_every_documented_status_is_real_and_well_formed(
    setup: Any, method: str, template: str, which: str | None, kwargs: dict, status: int, monkeypatch: Any
) -> None:
    client, ids = setup
    path = template.format(ids.get(which, "no-such-request")) if which and "{}" in template else template
    if kwargs.get("stall"):
        monkeypatch.setattr(server_routes, "BODY_READ_TIMEOUT_S", 0.1)
        kwargs = {"data": stalled_body(), "headers": JSON}
    assert status in documented_statuses(method, path)
    response = await client.request(method, path, **kwargs)
    body = await response.read()
    assert response.status == status, body
    check_response(method, path, response.status, response.content_type, body)


# --- paired devices: run against the harness with the pack's listener (tests/remote_helpers.py) ---
# (method, path template, which server, ids key, kwargs, expected status); "{}" is the ids key's value.
PAIRING_CASES = [
    ("POST", "/hitl/pair", "listener", None, {"json": {"secret": "pairing"}}, 200),
    ("POST", "/hitl/pair", "listener", None, {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/pair", "listener", None, {"json": {"secret": "wrong-secret-wrong-secret"}}, 403),
    ("POST", "/hitl/pair", "listener", None, {"data": json.dumps({"secret": "x" * 5000}), "headers": JSON}, 413),
    ("POST", "/hitl/pair", "listener", None, {"data": "secret=x", "headers": FORM}, 415),
    ("POST", "/hitl/pair", "listener", None, {"json": {"secret": "x", "token": "y"}}, 422),
    ("POST", "/hitl/pair", "listener", None, {"json": {"secret": "limited"}}, 429),
    ("GET", "/hitl/device", "listener", None, {"cookie": True}, 200),
    ("GET", "/hitl/device", "comfy", None, {}, 200),
    ("GET", "/hitl/device", "listener", None, {}, 401),
    ("GET", "/hitl/device", "listener", None, {"cookie": True, "headers": EVIL}, 403),
    ("GET", "/hitl/events", "listener", None, {"cookie": True}, 200),
    ("GET", "/hitl/events", "listener", None, {}, 401),
    ("GET", "/hitl/events", "listener", None, {"cookie": True, "headers": EVIL}, 403),
    ("POST", "/hitl/pairing/secrets", "comfy", None, {"json": {"name": "Phone"}}, 200),
    ("POST", "/hitl/pairing/secrets", "comfy", None, {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/pairing/secrets", "comfy-remote", None, {"json": {}}, 403),
    ("POST", "/hitl/pairing/secrets", "comfy", None, {"json": {"name": "x" * 5000}}, 413),
    ("POST", "/hitl/pairing/secrets", "comfy", None, {"data": "name=x", "headers": FORM}, 415),
    ("POST", "/hitl/pairing/secrets", "comfy", None, {"json": {"name": 3}}, 422),
    ("GET", "/hitl/devices", "comfy", None, {}, 200),
    ("GET", "/hitl/devices", "comfy", None, {"headers": EVIL}, 403),
    ("POST", "/hitl/devices/{}/revoke", "comfy", "device", {"json": {}}, 200),
    ("POST", "/hitl/devices/{}/revoke", "comfy", None, {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/devices/{}/revoke", "comfy-remote", "device", {"json": {}}, 403),
    ("POST", "/hitl/devices/{}/revoke", "comfy", None, {"json": {}}, 404),
    ("POST", "/hitl/devices/{}/revoke", "comfy", None, {"data": json.dumps({"x": "x" * 5000}), "headers": JSON}, 413),
    ("POST", "/hitl/devices/{}/revoke", "comfy", None, {"data": "x=1", "headers": FORM}, 415),
    ("POST", "/hitl/devices/{}/revoke", "comfy", None, {"json": {"all": True}}, 422),
    ("POST", "/hitl/devices/revoke-all", "comfy", None, {"json": {}}, 200),
    ("POST", "/hitl/devices/revoke-all", "comfy", None, {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/devices/revoke-all", "comfy", None, {"json": {}, "headers": EVIL}, 403),
    ("POST", "/hitl/devices/revoke-all", "comfy", None, {"data": json.dumps({"x": "x" * 5000}), "headers": JSON}, 413),
    ("POST", "/hitl/devices/revoke-all", "comfy", None, {"data": "x=1", "headers": FORM}, 415),
    ("POST", "/hitl/devices/revoke-all", "comfy", None, {"json": {"x": 1}}, 422),
    # Without a paired device: every route but the page, its modules and pairing answers 401 on the
    # listener, and on ComfyUI's port with COMFYUI_HITL_REQUIRE_PAIRING (callers not on this machine).
    ("GET", "/hitl/requests", "listener", None, {}, 401),
    ("GET", "/hitl/requests/{}", "listener", "waiting", {}, 401),
    ("POST", "/hitl/requests/{}/answer", "listener", "waiting", {"json": {"value": 2}}, 401),
    ("POST", "/hitl/requests/{}/cancel", "listener", "waiting", {"json": {}}, 401),
    ("POST", "/hitl/requests/{}/draft", "listener", "waiting", {"json": {"value": 2}}, 401),
    ("GET", "/hitl/requests/{}/images/0", "listener", "waiting", {}, 401),
    ("POST", "/hitl/requests/{}/thumbnails", "listener", "waiting", {"json": {"order": [0]}}, 401),
    ("GET", "/hitl/history", "listener", None, {}, 401),
    ("GET", "/hitl/openapi.json", "required", None, {}, 401),
    ("GET", "/hitl/notify/config", "required", None, {}, 401),
    ("POST", "/hitl/notify/config", "required", None, {"json": {}}, 401),
    ("GET", "/hitl/notify/status", "required", None, {}, 401),
    ("POST", "/hitl/notify/test", "required", None, {"json": {}}, 401),
]


@pytest.fixture(scope="module")
def paired_servers() -> Any:
    """ComfyUI's stand-in with the listener; a second one with COMFYUI_HITL_REQUIRE_PAIRING,
    where no caller counts as on this machine (so our routes need a device, and management refuses)."""
    from remote_helpers import start_paired

    from dev.harness.host import HarnessHost

    host = HarnessHost()
    paired = start_paired(host)
    strict_host = HarnessHost(environ={"COMFYUI_HITL_REQUIRE_PAIRING": "1"})
    strict = start_paired(strict_host, is_local=lambda request: False)
    yield paired, strict
    for setup in (paired, strict):
        setup.server.stop()
        setup.host.close()


@pytest.mark.parametrize(("method", "template", "where", "which", "kwargs", "status"), PAIRING_CASES)
def test_every_documented_pairing_status_is_real(
    paired_servers: Any, method: str, template: str, where: str, which: str | None, kwargs: dict, status: int
) -> None:
    from remote_helpers import call

    paired, strict = paired_servers
    options = dict(kwargs)
    headers = dict(options.pop("headers", {}))
    token = paired.pair() if options.pop("cookie", False) else None
    ids = {"waiting": paired.host.registry.open("integer-doubler", prompt_id="p", node_id="1").id}
    if which == "device":
        paired.pair("To revoke")
        ids["device"] = call(paired.comfy, "GET", "/hitl/devices").json()["devices"][-1]["id"]
    path = template.format(ids.get(which or "", "no-such-id"))
    body = options.pop("json", None)
    if body == {"secret": "pairing"}:
        body = {"secret": paired.pairing_link().split("#pair=")[1]}
    if body == {"secret": "limited"}:
        limiter = paired.remote.pairing.limiter
        for _ in range(limiter.limit):
            limiter.take("127.0.0.1")
    base = {"listener": paired.listener, "comfy": paired.comfy}.get(where, strict.comfy)
    if where == "comfy-remote":
        base = strict.comfy  # a caller not on this machine: management refuses it
    raw = options.pop("data", None)
    assert status in documented_statuses(method, path)
    if template == "/hitl/events" and status == 200:
        from remote_helpers import EventReader

        reader = EventReader(base, token)
        try:
            assert reader.response.status == 200
            assert reader.next()[0] == "hitl-hello"  # type: ignore[index]
        finally:
            reader.close()
        paired.host.registry.reset_all()
        return
    reply = call(base, method, path, body, cookie=token, headers=headers, raw=raw.encode() if raw else None)
    paired.host.registry.reset_all()
    paired.remote.pairing.limiter._attempts.clear()
    assert reply.status == status, reply.body
    check_response(method, path, reply.status, (reply.headers["Content-Type"] or "").split(";")[0], reply.body)


def test_every_documented_status_has_a_case() -> None:
    covered = set()
    for method, template, _, _, _, status in PAIRING_CASES:
        found = operation_for(method, template.replace("{}", "an-id"))
        assert found is not None, template
        covered.add((method, found[0], status))
    for method, template, _, _, status in CASES:
        found = operation_for(method, template.replace("{}", "an-id"))
        assert found is not None, template
        covered.add((method, found[0], status))
    for path, _ in STALLED_PAIRING_BODIES:
        found = operation_for("POST", path)
        assert found is not None, path
        covered.add(("POST", found[0], 408))
    documented = {
        (method.upper(), path, int(code))
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        for code in operation["responses"]
    }
    assert documented == covered


async def test_served_document_is_the_file(setup: Any) -> None:
    client, _ = setup
    response = await client.get("/hitl/openapi.json")
    assert await response.json() == document()


async def test_a_form_refusal_names_its_field_as_documented(setup: Any) -> None:
    client, ids = setup
    path = f"/hitl/requests/{ids['form']}/answer"
    response = await client.post(path, json={"value": {"n": 10}})
    body = await response.read()
    check_response("POST", path, response.status, response.content_type, body)
    assert json.loads(body) == {
        "error": {"code": "invalid_answer", "message": "n: 10 is above the maximum 9", "field": "n"}
    }
    # Other refusals keep the shape they had: no field.
    response = await client.post(path, json={"value": [10]})
    assert "field" not in (await response.json())["error"]
    schema = document()["components"]["schemas"]["Error"]["properties"]["error"]
    assert "field" in schema["properties"] and "field" not in schema["required"]


#: The pairing calls that read a body: (path, which server). A stalled body gets 408 there too.
STALLED_PAIRING_BODIES = [
    ("/hitl/pair", "listener"),
    ("/hitl/pairing/secrets", "comfy"),
    ("/hitl/devices/no-such-id/revoke", "comfy"),
    ("/hitl/devices/revoke-all", "comfy"),
]


@pytest.mark.parametrize(("path", "where"), STALLED_PAIRING_BODIES)
def test_a_stalled_pairing_body_gets_the_documented_408(
    paired_servers: Any, path: str, where: str, monkeypatch: Any
) -> None:
    # Every route that reads a body refuses one that stalls, the pairing calls too.
    paired, _strict = paired_servers
    monkeypatch.setattr(server_routes, "BODY_READ_TIMEOUT_S", 0.2)
    base = urllib.parse.urlsplit(paired.listener if where == "listener" else paired.comfy)
    with socket.create_connection((base.hostname, base.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {base.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 40\r\n\r\n{{".encode()
        )
        reply = sock.recv(65536).decode("latin-1")
    status = int(reply.split(" ", 2)[1])
    assert status == 408, reply[:300]
    assert 408 in documented_statuses("POST", path)
