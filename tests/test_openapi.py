"""openapi.json describes the real routes: every route, every status code, every body shape."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Sequence
from typing import Any

import pytest
from aiohttp import web
from openapi_check import check_response, document, documented_statuses
from openapi_spec_validator import validate

from harness.pack import submodule

server_routes = submodule("server_routes")
state = submodule("state")
doubler = submodule("nodes.integer_doubler")
P = submodule("_protocol")


class OneImage:
    def image_count(self) -> int:
        return 1

    def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
        return (b"\xff\xd8jpeg", "image/jpeg") if size == "thumb" else (b"\x89PNG", "image/png")

    def thumb_futures(self, indices: Sequence[int]) -> list[concurrent.futures.Future[bytes]]:
        futures: list[concurrent.futures.Future[bytes]] = []
        for _ in indices:
            futures.append(concurrent.futures.Future())
            futures[-1].set_result(b"\xff\xd8jpeg")
        return futures


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
    client = await route_client(registry)
    waiting = registry.open(
        "integer-doubler", prompt_id="p", node_id="1", payload={"value": 1}, validate=doubler.validate_doubled
    )
    picker = registry.open("image-picker", prompt_id="p", node_id="2", resources=OneImage())
    ended = registry.open("integer-doubler", prompt_id="p", node_id="3")
    registry.cancel(ended.id)
    return client, {"waiting": waiting.id, "picker": picker.id, "ended": ended.id}


JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
EVIL = {"Origin": "https://evil.example"}
BIG = json.dumps({"value": "x" * (P.MAX_BODY_BYTES + 10)})

# (method, path template, ids key, request kwargs, expected status): one row per documented status.
CASES = [
    ("GET", "/hitl/requests", None, {}, 200),
    ("GET", "/hitl/requests", None, {"headers": EVIL}, 403),
    ("GET", "/hitl/openapi.json", None, {}, 200),
    ("GET", "/hitl/openapi.json", None, {"headers": EVIL}, 403),
    *[
        row
        for action, good in (("answer", {"value": 2}), ("cancel", {}))
        for row in (
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"json": good}, 200),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"data": "{", "headers": JSON}, 400),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"json": good, "headers": EVIL}, 403),
            ("POST", f"/hitl/requests/{{}}/{action}", "unknown", {"json": good}, 404),
            ("POST", f"/hitl/requests/{{}}/{action}", "ended", {"json": good}, 409),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"data": BIG, "headers": JSON}, 413),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"data": "value=2", "headers": FORM}, 415),
            ("POST", f"/hitl/requests/{{}}/{action}", "waiting", {"json": {"nope": 1}}, 422),
        )
    ],
    ("POST", "/hitl/requests/{}/answer", "waiting", {"json": {"value": "two"}}, 422),
    ("GET", "/hitl/requests/{}/images/0", "picker", {}, 200),
    ("GET", "/hitl/requests/{}/images/0?size=full", "picker", {}, 200),
    ("GET", "/hitl/requests/{}/images/0", "picker", {"headers": EVIL}, 403),
    ("GET", "/hitl/requests/{}/images/5", "picker", {}, 404),
    ("GET", "/hitl/requests/{}/images/0", "unknown", {}, 404),
    ("GET", "/hitl/requests/{}/images/0", "ended", {}, 409),
    ("GET", "/hitl/requests/{}/images/0?size=huge", "picker", {}, 422),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"json": {"order": [0]}}, 200),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"data": "{", "headers": JSON}, 400),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"json": {"order": [0]}, "headers": EVIL}, 403),
    ("POST", "/hitl/requests/{}/thumbnails", "unknown", {"json": {"order": [0]}}, 404),
    ("POST", "/hitl/requests/{}/thumbnails", "waiting", {"json": {"order": [0]}}, 404),  # no images
    ("POST", "/hitl/requests/{}/thumbnails", "ended", {"json": {"order": [0]}}, 409),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"data": BIG, "headers": JSON}, 413),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"data": "order=0", "headers": FORM}, 415),
    ("POST", "/hitl/requests/{}/thumbnails", "picker", {"json": {"order": [0, 0]}}, 422),
]


@pytest.mark.parametrize(("method", "template", "which", "kwargs", "status"), CASES)
async def test_every_documented_status_is_real_and_well_formed(
    setup: Any, method: str, template: str, which: str | None, kwargs: dict, status: int
) -> None:
    client, ids = setup
    path = template.format(ids.get(which, "no-such-request")) if which else template
    assert status in documented_statuses(method, path)
    response = await client.request(method, path, **kwargs)
    body = await response.read()
    assert response.status == status, body
    check_response(method, path, response.status, response.content_type, body)


def test_every_documented_status_has_a_case() -> None:
    covered = {
        (
            method,
            template.replace("{}", "{request_id}").split("?")[0].replace("/0", "/{index}").replace("/5", "/{index}"),
            status,
        )
        for method, template, _, _, status in CASES
    }
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
