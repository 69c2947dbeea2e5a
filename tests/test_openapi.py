"""openapi.json describes the real routes: every route, every status code, every body shape."""

from __future__ import annotations

import asyncio
import json
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


def one_image() -> FixedImages:
    """A picker's single image: a JPEG thumbnail and a PNG full size (their first bytes)."""
    return FixedImages(1, lambda size, index: b"\xff\xd8jpeg" if size == "thumb" else b"\x89PNG")


def test_document_is_valid_openapi() -> None:
    validate(document())


def test_document_and_route_table_list_the_same_routes() -> None:
    routes = web.RouteTableDef()
    server_routes.add_routes(routes, state.RequestRegistry())
    registered = {(route.method, route.path) for route in routes}  # type: ignore[union-attr]
    documented = {(method.upper(), path) for path, item in document()["paths"].items() for method in item}
    assert registered == documented
    assert {path for _, path in registered} == set(P.ROUTES.values())


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


def test_every_documented_status_has_a_case() -> None:
    covered = set()
    for method, template, _, _, status in CASES:
        found = operation_for(method, template.replace("{}", "an-id"))
        assert found is not None, template
        covered.add((method, found[0], status))
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
