"""The routes, on a fresh aiohttp application per test, with the real handlers and state."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from dev.harness.images import FixedImages, PendingImages
from dev.harness.pack import submodule

server_routes = submodule("server_routes")
state = submodule("state")
P = submodule("server.protocol")

ANSWER = "/hitl/requests/{}/answer"
CANCEL = "/hitl/requests/{}/cancel"
JSON = {"Content-Type": "application/json"}


def only_ints(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise state.InvalidAnswer("the answer must be an integer")
    return value


@pytest.fixture
def registry() -> Any:
    return state.RequestRegistry()


@pytest.fixture
async def client(route_client: Any, registry: Any) -> Any:
    return await route_client(registry, allowed_origins=["https://proxy.example"])


def open_request(registry: Any) -> Any:
    return registry.open("integer-doubler", prompt_id="p", node_id="3", payload={"value": 5}, validate=only_ints)


def snapshot(registry: Any) -> Any:
    return [
        (r.id, r.state, r.reason, r.value, r.seq)
        for r in list(registry._waiting.values()) + list(registry._ended.values())
    ]


async def test_list_shows_waiting_requests_only(client: Any, registry: Any) -> None:
    waiting = open_request(registry)
    ended = open_request(registry)
    registry.cancel(ended.id)
    response = await client.get("/hitl/requests")
    assert response.status == 200
    body = await response.json()
    assert [view["id"] for view in body["requests"]] == [waiting.id]
    assert body["requests"][0]["payload"] == {
        "value": 5,
    }


async def test_answer_resolves_the_request(client: Any, registry: Any) -> None:
    request = open_request(registry)
    response = await client.post(ANSWER.format(request.id), json={"value": 10})
    assert response.status == 200
    body = await response.json()
    assert body["request"]["state"] == "answered"
    assert request.future.result(timeout=0).value == 10


async def test_cancel_ends_the_request_as_user_cancel(client: Any, registry: Any) -> None:
    request = open_request(registry)
    response = await client.post(CANCEL.format(request.id), json={})
    assert response.status == 200
    assert (await response.json())["request"]["reason"] == "user_cancel"
    assert request.state == "cancelled"


async def expect_refusal(client: Any, registry: Any, response_coro: Any, status: int, code: str) -> None:
    before = snapshot(registry)
    response = await response_coro
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert code in P.ERROR_CODES
    assert snapshot(registry) == before


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        (
            {"data": "value=10", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
            "unsupported_media_type",
        ),
        (
            {"data": b"--x\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
            415,
            "unsupported_media_type",
        ),
        ({"data": '{"value": 10}', "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"data": '{"value": 10}'}, 415, "unsupported_media_type"),
        ({"data": "{not json", "headers": JSON}, 400, "malformed_json"),
        ({"data": b"\xff\xfe", "headers": JSON}, 400, "malformed_json"),
        ({"data": '{"value": NaN}', "headers": JSON}, 400, "malformed_json"),
        ({"data": '{"value": Infinity}', "headers": JSON}, 400, "malformed_json"),
        ({"data": '{"value": 1e999}', "headers": JSON}, 400, "malformed_json"),
        ({"data": '{"value": -1E400}', "headers": JSON}, 400, "malformed_json"),
        ({"data": "[" * 100_000 + "]" * 100_000, "headers": JSON}, 400, "malformed_json"),
        ({"data": "", "headers": JSON}, 400, "malformed_json"),
        ({"data": "[10]", "headers": JSON}, 422, "invalid_body"),
        ({"data": "10", "headers": JSON}, 422, "invalid_body"),
        ({"json": {}}, 422, "invalid_body"),
        ({"json": {"value": 10, "extra": 1}}, 422, "invalid_body"),
        ({"json": {"value": "10"}}, 422, "invalid_answer"),
        ({"json": {"value": True}}, 422, "invalid_answer"),
        ({"json": {"value": None}}, 422, "invalid_answer"),
        ({"data": json.dumps({"value": "x" * (P.MAX_BODY_BYTES + 1)}), "headers": JSON}, 413, "body_too_large"),
        ({"json": {"value": 10}, "headers": {"Origin": "https://evil.example"}}, 403, "forbidden_origin"),
        ({"json": {"value": 10}, "headers": {"Origin": "null"}}, 403, "forbidden_origin"),
        ({"json": {"value": 10}, "headers": {"Sec-Fetch-Site": "cross-site"}}, 403, "forbidden_origin"),
    ],
)
async def test_bad_answers_are_refused_and_change_nothing(
    client: Any, registry: Any, kwargs: dict, status: int, code: str
) -> None:
    request = open_request(registry)
    await expect_refusal(client, registry, client.post(ANSWER.format(request.id), **kwargs), status, code)
    assert request.state == "waiting"


async def test_body_too_large_by_streaming_without_content_length(client: Any, registry: Any) -> None:
    request = open_request(registry)

    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * (P.MAX_BODY_BYTES // 4)

    await expect_refusal(
        client, registry, client.post(ANSWER.format(request.id), data=chunks(), headers=JSON), 413, "body_too_large"
    )


async def test_unknown_id_is_404(client: Any, registry: Any) -> None:
    open_request(registry)
    for path in (ANSWER.format("nope"), CANCEL.format("nope")):
        body = {"value": 1} if path.endswith("answer") else {}
        await expect_refusal(client, registry, client.post(path, json=body), 404, "unknown_request")


async def test_request_no_longer_waiting_is_409(client: Any, registry: Any) -> None:
    request = open_request(registry)
    registry.answer(request.id, 4)
    await expect_refusal(
        client, registry, client.post(ANSWER.format(request.id), json={"value": 1}), 409, "not_waiting"
    )
    await expect_refusal(client, registry, client.post(CANCEL.format(request.id), json={}), 409, "not_waiting")
    assert request.value == 4


async def test_cancel_needs_an_empty_json_object(client: Any, registry: Any) -> None:
    request = open_request(registry)
    await expect_refusal(client, registry, client.post(CANCEL.format(request.id), json={"why": 1}), 422, "invalid_body")
    await expect_refusal(
        client,
        registry,
        client.post(
            CANCEL.format(request.id), data="x=1", headers={"Content-Type": "application/x-www-form-urlencoded"}
        ),
        415,
        "unsupported_media_type",
    )
    assert request.state == "waiting"


async def test_same_origin_and_listed_origins_are_accepted(client: Any, registry: Any) -> None:
    own = f"http://{client.server.host}:{client.server.port}"
    first = open_request(registry)
    response = await client.post(ANSWER.format(first.id), json={"value": 2}, headers={"Origin": own})
    assert response.status == 200
    second = open_request(registry)
    response = await client.post(CANCEL.format(second.id), json={}, headers={"Origin": "https://proxy.example"})
    assert response.status == 200


async def test_list_refuses_foreign_origin(client: Any, registry: Any) -> None:
    open_request(registry)
    response = await client.get("/hitl/requests", headers={"Origin": "https://evil.example"})
    assert response.status == 403


async def test_get_on_post_route_is_405_not_500(client: Any, registry: Any) -> None:
    request = open_request(registry)
    response = await client.get(ANSWER.format(request.id))
    assert response.status == 405
    assert request.state == "waiting"


async def test_routes_are_under_our_prefix_and_have_docstrings(registry: Any) -> None:
    routes = web.RouteTableDef()
    server_routes.add_routes(routes, registry)
    paths = {(route.method, route.path) for route in routes}  # type: ignore[union-attr]
    assert all(path.startswith(P.ROUTE_PREFIX + "/") for _, path in paths)
    assert ("GET", P.ROUTES["list"]) in paths
    assert ("POST", P.ROUTES["answer"]) in paths and ("POST", P.ROUTES["cancel"]) in paths
    assert ("GET", P.ROUTES["image"]) in paths
    for route in routes:
        assert route.handler.__doc__, route  # type: ignore[union-attr]


async def test_image_route_serves_by_id_and_index(client: Any, registry: Any) -> None:
    source = FixedImages(2)
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=source)
    response = await client.get(f"/hitl/requests/{request.id}/images/1?size=full")
    assert response.status == 200 and response.content_type == "image/png"
    assert await response.read() == b"full-1"
    response = await client.get(f"/hitl/requests/{request.id}/images/0")
    assert response.content_type == "image/jpeg" and await response.read() == b"thumb-0"
    # An image of a request never changes while it waits: a tab may keep it.
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert source.asked == [("full", [1]), ("thumb", [0])]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/images/2", 404, "not_found"),
        ("/images/-1", 404, "not_found"),
        ("/images/1e3", 404, "not_found"),
        ("/images/%2E%2E%2Fetc%2Fpasswd", 404, "not_found"),
        ("/images/99999999999999999999", 404, "not_found"),
        ("/images/0?size=huge", 422, "invalid_body"),
    ],
)
async def test_image_route_refusals(client: Any, registry: Any, path: str, status: int, code: str) -> None:
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=FixedImages(2))
    await expect_refusal(client, registry, client.get(f"/hitl/requests/{request.id}{path}"), status, code)


async def test_image_route_needs_a_waiting_request_with_images(client: Any, registry: Any) -> None:
    plain = open_request(registry)
    await expect_refusal(client, registry, client.get(f"/hitl/requests/{plain.id}/images/0"), 404, "not_found")
    ended = registry.open("image-picker", prompt_id="p", node_id="3", resources=FixedImages(2))
    registry.cancel(ended.id)
    await expect_refusal(client, registry, client.get(f"/hitl/requests/{ended.id}/images/0"), 409, "not_waiting")
    await expect_refusal(client, registry, client.get("/hitl/requests/nope/images/0"), 404, "unknown_request")
    foreign = registry.open("image-picker", prompt_id="p", node_id="3", resources=FixedImages(2))
    response = await client.get(f"/hitl/requests/{foreign.id}/images/0", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status == 403


async def test_foreign_origin_is_refused_on_a_network_address_too(client: Any, registry: Any) -> None:
    # ComfyUI's own origin check is skipped when the Host is not loopback; ours is not.
    request = open_request(registry)
    lan = {"Host": "192.168.1.20:8188"}
    await expect_refusal(
        client,
        registry,
        client.post(ANSWER.format(request.id), json={"value": 2}, headers={**lan, "Origin": "http://evil.example"}),
        403,
        "forbidden_origin",
    )
    await expect_refusal(
        client,
        registry,
        client.post(
            ANSWER.format(request.id), json={"value": 2}, headers={**lan, "Origin": "http://192.168.1.20:9999"}
        ),
        403,
        "forbidden_origin",
    )
    response = await client.post(
        ANSWER.format(request.id), json={"value": 2}, headers={**lan, "Origin": "http://192.168.1.20:8188"}
    )
    assert response.status == 200


def test_request_ids_are_144_random_bits() -> None:
    import base64

    registry = state.RequestRegistry()
    ids = [registry.open("integer-doubler", prompt_id="p", node_id="1").id for _ in range(1000)]
    raw = [base64.urlsafe_b64decode(request_id + "=" * (-len(request_id) % 4)) for request_id in ids]
    assert all(len(value) == 18 for value in raw) and len(set(ids)) == 1000
    # Every bit position takes both values across the sample (no constant or counter bits).
    ones = [sum((value[i // 8] >> (i % 8)) & 1 for value in raw) for i in range(144)]
    assert all(350 < count < 650 for count in ones), ones


async def test_image_released_while_being_served_is_409_not_500(client: Any, registry: Any) -> None:
    class EndsWhileServing(FixedImages):
        """The request ends, and its images are released, during the fetch."""

        def image_futures(self, size: str, indices: Any) -> list[Any]:
            registry.cancel(request.id)
            futures = PendingImages(2).image_futures(size, indices)
            for future in futures:
                future.cancel()
            return futures

    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=EndsWhileServing(2))
    response = await client.get(f"/hitl/requests/{request.id}/images/0")
    assert response.status == 409 and (await response.json())["error"]["code"] == "not_waiting"


def test_closed_batch_raises_lookup_error_not_cancelled() -> None:
    import numpy as np

    images = submodule("images.batches")
    batch = images.BatchImages(np.zeros((64, 8, 8, 3), np.float32))
    batch.close()
    outcomes = set()
    for index in range(64):
        try:
            batch.image_bytes(index, "thumb")
            outcomes.add("made")
        except LookupError:
            outcomes.add("released")
    assert outcomes <= {"made", "released"}


# ------------------------------------------------- one request, history, the inbox
async def test_get_request_shows_a_waiting_request_with_its_payload(client: Any, registry: Any) -> None:
    request = open_request(registry)
    response = await client.get(f"/hitl/requests/{request.id}")
    assert response.status == 200
    body = await response.json()
    assert body["request"]["state"] == "waiting" and body["request"]["payload"] == {"value": 5}
    assert body["request"]["opened_at"].endswith("Z") and body["now"] >= body["request"]["opened_at"]


async def test_get_request_says_how_and_when_an_ended_request_ended(client: Any, registry: Any) -> None:
    request = open_request(registry)
    registry.expire(request.id)
    body = await (await client.get(f"/hitl/requests/{request.id}")).json()
    view = body["request"]
    assert (view["state"], view["reason"], view["outcome"]) == ("cancelled", "timeout", "timed_out")
    assert view["opened_at"] <= view["ended_at"] <= body["now"] and view["payload"] is None


async def test_get_request_finds_what_the_registry_forgot_in_the_history_log(route_client: Any) -> None:
    # The registry remembers 2 ended ids; the log keeps more (an audit log: all of them).
    registry = state.RequestRegistry(history=2)
    client = await route_client(registry)
    first = open_request(registry)
    registry.answer(first.id, 10)
    for _ in range(3):
        registry.cancel(open_request(registry).id)
    with pytest.raises(state.UnknownRequest):
        registry.get(first.id)
    body = await (await client.get(f"/hitl/requests/{first.id}")).json()
    assert body["request"]["id"] == first.id and body["request"]["outcome"] == "answered"
    # An ended request is its record: the answer and who ended it come with it.
    assert body["request"]["answer"] == 10 and body["request"]["by"]["surface"] == "api"
    assert body["request"] == registry.history_log.find(first.id).as_json()
    response = await client.get("/hitl/requests/never-was")
    assert response.status == 404 and (await response.json())["error"]["code"] == "unknown_request"


async def test_history_lists_the_last_ended_requests_newest_first(client: Any, registry: Any) -> None:
    answered = open_request(registry)
    registry.answer(answered.id, 10)
    cancelled = open_request(registry)
    registry.cancel(cancelled.id)
    open_request(registry)  # still waiting: not history
    body = await (await client.get("/hitl/history")).json()
    assert [(e["id"], e["outcome"], e["answer"]) for e in body["history"]] == [
        (cancelled.id, "cancelled", None),
        (answered.id, "answered", 10),
    ]
    assert body["now"].endswith("Z")
    body = await (await client.get("/hitl/history?limit=1")).json()
    assert [e["id"] for e in body["history"]] == [cancelled.id]


@pytest.mark.parametrize("limit", ["0", "201", "-1", "1.5", "abc", "", "１", "9" * 30])
async def test_history_refuses_a_bad_limit(client: Any, registry: Any, limit: str) -> None:
    await expect_refusal(client, registry, client.get(f"/hitl/history?limit={limit}"), 422, "invalid_body")


async def test_inbox_page_is_served_with_a_strict_policy(client: Any) -> None:
    response = await client.get("/hitl/inbox?request=abc")
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    assert 'data-hitl-surface="inbox"' in html and "ui/inbox/inbox.js" in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    host = client.server.host
    assert f"ws://{host}:{client.server.port}" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_inbox_page_answers_no_host_it_cannot_trust(client: Any) -> None:
    # Refused by the Host check (DNS rebinding), on a navigation as on any other request, so
    # a hostile Host never reaches the page's Content-Security-Policy either.
    for headers in ({}, {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}):
        response = await client.get("/hitl/inbox", headers={"Host": "evil.example; script-src *", **headers})
        assert response.status == 403
        assert "Content-Security-Policy" not in response.headers


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        # A link in a notification, a chat, another site: a top-level navigation is served.
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200),
        ({"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 200),
        ({}, 200),
        # Framed by another site, fetched by another site's script: refused.
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 403),
        ({"Origin": "https://evil.example", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 403),
    ],
)
async def test_inbox_page_accepts_navigations_only_from_elsewhere(client: Any, headers: dict, status: int) -> None:
    response = await client.get("/hitl/inbox", headers=headers)
    assert response.status == status


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/hitl/ui/inbox/inbox.js", "text/javascript"),
        ("/hitl/ui/inbox/standalone_api.js", "text/javascript"),
        ("/hitl/ui/inbox/inbox.css", "text/css"),
        ("/hitl/ui/web/controller.js", "text/javascript"),
        ("/hitl/ui/web/image_picker.js", "text/javascript"),
    ],
)
async def test_ui_route_serves_the_inbox_modules(client: Any, path: str, media_type: str) -> None:
    response = await client.get(path)
    assert response.status == 200 and response.content_type == media_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    folder, name = path.split("/")[-2:]
    assert await response.read() == (server_routes.UI_FOLDERS[folder] / name).read_bytes()
    # Revalidated, not refetched: a phone reloading the inbox gets 304s.
    again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


@pytest.mark.parametrize("path", ["/hitl/inbox", "/hitl/ui/web/overlay.js", "/hitl/ui/inbox/inbox.css"])
async def test_inbox_files_travel_compressed_when_the_browser_accepts_it(client: Any, path: str) -> None:
    """A phone downloads the inbox's text files gzipped; a client that takes none gets them plain."""
    zipped = await client.get(path, headers={"Accept-Encoding": "gzip, deflate"}, auto_decompress=False)
    raw = await zipped.read()
    assert zipped.status == 200 and zipped.headers["Content-Encoding"] == "gzip"
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    body = await plain.read()
    assert plain.status == 200 and "Content-Encoding" not in plain.headers
    assert gzip.decompress(raw) == body and len(raw) < len(body) / 2


@pytest.mark.parametrize(
    "path",
    [
        "/hitl/ui/web/main.js",  # ComfyUI's entry: imports the host's scripts, never the inbox's
        "/hitl/ui/web/missing.js",
        "/hitl/ui/inbox/index.html",
        "/hitl/ui/harness/host.py",
        "/hitl/ui/web/..%2F__init__.py",
        "/hitl/ui/web/%2E%2E%2Fstate.py",
        "/hitl/ui/inbox/..%2F..%2F..%2Fetc%2Fpasswd",
        "/hitl/ui/web/.ts",
    ],
)
async def test_ui_route_serves_nothing_off_its_allow_list(client: Any, registry: Any, path: str) -> None:
    response = await client.get(path)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


def test_ui_allow_list_is_exactly_the_inbox_and_the_shared_web_modules() -> None:
    files = server_routes.ui_files()
    assert ("web", "main.js") not in files
    assert {name for folder, name in files if folder == "inbox"} == {
        p.name for p in server_routes.INBOX_DIR.iterdir() if p.suffix in (".js", ".css")
    }
    assert all(path.suffix in (".js", ".css") and path.is_file() for path in files.values())


async def test_new_read_routes_refuse_foreign_origins(client: Any, registry: Any) -> None:
    request = open_request(registry)
    for path in (f"/hitl/requests/{request.id}", "/hitl/history", "/hitl/ui/inbox/inbox.js"):
        await expect_refusal(
            client, registry, client.get(path, headers={"Origin": "https://evil.example"}), 403, "forbidden_origin"
        )
        await expect_refusal(
            client, registry, client.get(path, headers={"Sec-Fetch-Site": "cross-site"}), 403, "forbidden_origin"
        )


async def test_a_client_that_sends_no_origin_is_accepted(client: Any, registry: Any) -> None:
    # The CLI and curl are not browsers: no Origin, no Sec-Fetch-Site. A browser always
    # sends Origin on a POST, so a foreign page cannot pass for one of them.
    request = open_request(registry)
    response = await client.post(
        ANSWER.format(request.id), data=json.dumps({"value": 10}), headers=JSON, skip_auto_headers=["Origin"]
    )
    assert response.status == 200


# ------------------------------------------------------------------ Host header
@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost", "localhost"),
        ("LOCALHOST.:8188", "localhost"),
        ("localhost:", "localhost"),
        ("127.0.0.1:8188", "127.0.0.1"),
        ("[::1]", "::1"),
        ("[::1]:8188", "::1"),
        ("[::FFFF:127.0.0.1]:80", "::ffff:127.0.0.1"),
        ("  Comfy.Example.COM  ", "comfy.example.com"),
        ("::1", None),  # IPv6 without brackets is no valid Host
        ("[::1", None),
        ("[::1]8188", None),
        ("[evil.example]", None),
        ("localhost:abc", None),
        ("localhost:123456", None),
        ("a:1:2", None),
        ("", None),
        (":8188", None),
    ],
)
def test_host_of_parses_the_host_header(header: str, host: str | None) -> None:
    assert server_routes.host_of(header) == host


@pytest.mark.parametrize(
    ("header", "over_network", "allowed"),
    [
        ("localhost:8188", False, True),
        ("app.localhost:8188", False, True),
        ("127.0.0.1:8188", False, True),
        ("127.200.1.1", False, True),
        ("[::1]:8188", False, True),
        ("[::ffff:127.0.0.1]", False, True),
        ("0.0.0.0:8188", False, True),
        ("[::]:8188", False, True),
        ("192.168.1.20:8188", True, True),
        ("[fd00::2]:8188", True, True),
        ("comfybox:8188", True, True),  # this machine's name, over the network
        ("ComfyBox.local.:8188", True, True),
        ("comfybox:8188", False, False),  # ... but not over loopback
        ("proxy.example", False, True),  # the host of a listed origin
        ("lan-name:8188", False, True),  # a listed bare host
        ("evil.example:8188", False, False),
        ("evil.example:8188", True, False),
        ("localhost.evil.example", False, False),
        ("comfybox.evil.example", True, False),
        ("127.0.0.1.nip.io", False, False),
        ("localhost..", False, False),
        ("::1", False, False),
    ],
)
def test_host_policy(header: str, over_network: bool, allowed: bool) -> None:
    policy = server_routes.HostPolicy(
        ["https://Proxy.Example/", "lan-name", ""], machine_name="ComfyBox", resolve=lambda name: ["192.168.1.5"]
    )
    assert policy.allows(header, over_network=over_network) is allowed


async def test_every_route_refuses_a_rebinding_host(registry: Any, route_client: Any) -> None:
    # Every route add_routes registers, including any added later: each goes through guarded().
    client = await route_client(registry)
    picker = registry.open("image-picker", prompt_id="p", node_id="3", resources=FixedImages(2))
    routes = web.RouteTableDef()
    server_routes.add_routes(routes, registry)
    for route in routes:
        path = route.path.format(request_id=picker.id, index=0, folder="inbox", name="inbox.js")  # type: ignore[union-attr]
        method = route.method  # type: ignore[union-attr]
        for host in ("evil.example", f"evil.example:{client.server.port}", "127.0.0.1.nip.io"):
            headers = {"Host": host, "Origin": f"http://{host}"}
            await expect_refusal(
                client, registry, client.request(method, path, json={}, headers=headers), 403, "forbidden_host"
            )
    assert picker.state == "waiting"


def mocked_request(host: str, sockname: Any) -> Any:
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    transport = mock.Mock()
    transport.get_extra_info = lambda name, default=None: sockname if name == "sockname" else default
    return make_mocked_request("GET", "/hitl/requests", headers={"Host": host}, transport=transport)


@pytest.mark.parametrize(
    ("sockname", "over_network"),
    [
        (("127.0.0.1", 8188), False),
        (("::1", 8188, 0, 0), False),
        (("::ffff:127.0.0.1", 8188, 0, 0), False),
        (("192.168.1.5", 8188), True),
        (("::ffff:192.168.1.5", 8188, 0, 0), True),
        (("fe80::1%eth0", 8188, 0, 2), True),
        ("/run/comfy.sock", False),
        (None, False),
    ],
)
def test_the_connections_local_address_says_whether_it_came_over_the_network(sockname: Any, over_network: bool) -> None:
    policy = server_routes.HostPolicy(machine_name="comfybox", resolve=lambda name: [])
    request = mocked_request("comfybox:8188", sockname)
    if over_network:
        policy.check(request)
    else:
        with pytest.raises(server_routes.Refused) as refused:
            policy.check(request)
        assert refused.value.code == "forbidden_host" and "COMFYUI_HITL_ALLOWED_ORIGINS" in refused.value.message


# ------------------------------------------------------------------ JSON parsing
def test_huge_integers_are_refused_whatever_the_hosts_digit_limit() -> None:
    import sys
    import time

    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # a host (or another pack) may lift Python's own limit
    try:
        started = time.perf_counter()
        with pytest.raises(ValueError, match="more than 4300 digits"):
            server_routes.parse_json(b'{"value": ' + b"7" * 250_000 + b"}")
        with pytest.raises(ValueError, match="more than 4300 digits"):
            server_routes.parse_json(b'{"value": [1, -' + b"7" * 4301 + b"]}")
        elapsed = time.perf_counter() - started
    finally:
        sys.set_int_max_str_digits(limit)
    assert elapsed < 1.0  # converting 250,000 digits would take about 2 s, quadratically more for more
    assert server_routes.parse_json(b'{"value": -' + b"7" * 4300 + b"}") == {"value": -int("7" * 4300)}


@pytest.mark.parametrize(
    "raw",
    [b"1e400", b"-1E+0400", b"1" * 400 + b".5", b"[1, 2e308]", b'{"a": 1.7976931348623159e308}'],
)
def test_numbers_too_large_for_a_float_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="out of range"):
        server_routes.parse_json(raw)


@given(
    st.recursive(
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**120), 10**120) | st.text(max_size=5),
        lambda children: st.lists(children, max_size=4),
        max_leaves=8,
    ),
    st.sampled_from(["{:e}", "{:.150f}", "{!r}", "{:.0f}"]),
)
@settings(max_examples=300, deadline=None)
def test_fast_parse_is_taken_only_when_every_number_is_safe(value: Any, float_format: str) -> None:
    # Written out in several styles, a document either needs the checked parse, or the
    # parser's own fast one gives the same finite numbers the checked one would.
    import math

    def write(item: Any) -> str:
        if isinstance(item, float):
            return float_format.format(item) if math.isfinite(item) else "0"
        if isinstance(item, list):
            return "[" + ",".join(write(child) for child in item) + "]"
        return json.dumps(item)

    raw = write(value).encode()
    if not server_routes._needs_number_checks(raw):
        fast = json.loads(raw)
        assert fast == server_routes.parse_json(raw)
        assert all(math.isfinite(number) for number in _numbers(fast))


def _numbers(value: Any) -> list[float]:
    if isinstance(value, list):
        return [number for child in value for number in _numbers(child)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def test_parse_restores_the_garbage_collectors_state() -> None:
    import gc

    assert gc.isenabled()
    server_routes.parse_json(b"[" + b"[0]," * 1000 + b"0]")
    assert gc.isenabled()
    with pytest.raises(ValueError, match="NaN is not valid JSON"):
        server_routes.parse_json(b"[NaN]")
    assert gc.isenabled()
    gc.disable()
    try:
        server_routes.parse_json(b"[[0], [1]]")
        assert not gc.isenabled()  # a host that turned it off keeps it off
    finally:
        gc.enable()


@given(st.from_regex(r"-?(0|[1-9][0-9]{0,119})(\.[0-9]{1,120})?([eE][+-]?[0-9]{1,4})?", fullmatch=True))
@settings(max_examples=500, deadline=None)
def test_a_number_without_a_long_digit_run_or_exponent_is_finite(number: str) -> None:
    import math

    raw = f"[{number}]".encode()
    if server_routes._needs_number_checks(raw):
        return
    [value] = json.loads(raw)
    assert math.isfinite(value) and len(number) < 400


# ------------------------------------------------------------------- thumbnail stream
THUMBNAILS = "/hitl/requests/{}/thumbnails"


def read_stream(data: bytes) -> list[tuple[int, bytes]]:
    """The (index, JPEG) frames of a thumbnails stream, checking the framing as it goes."""
    frames = []
    offset = 0
    while offset < len(data):
        index, length = server_routes.THUMBNAIL_HEADER.unpack_from(data, offset)
        offset += P.THUMBNAIL_HEADER_BYTES
        frames.append((index, data[offset : offset + length]))
        assert len(frames[-1][1]) == length, "a frame was cut short"
        offset += length
    return frames


def test_the_stream_header_is_the_protocols() -> None:
    assert server_routes.THUMBNAIL_HEADER.size == P.THUMBNAIL_HEADER_BYTES


async def test_thumbnails_stream_every_requested_image_once(client: Any, registry: Any) -> None:
    import numpy as np

    batch = submodule("images.batches").BatchImages(np.random.default_rng(1).random((12, 64, 48, 3), dtype=np.float32))
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=batch)
    order = [7, 2, 11, 0]
    response = await client.post(THUMBNAILS.format(request.id), json={"order": order})
    assert response.status == 200 and response.content_type == "application/octet-stream"
    assert response.headers["Cache-Control"] == "no-store"
    frames = read_stream(await response.read())
    assert sorted(index for index, _ in frames) == sorted(order)
    for index, jpeg in frames:
        assert jpeg == batch.thumb(index) and jpeg[:2] == b"\xff\xd8"
    # The single-image route serves the same bytes, awaited without an executor thread.
    response = await client.get(f"/hitl/requests/{request.id}/images/11")
    assert await response.read() == batch.thumb(11)
    batch.close()


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ([], "a list of 1 to 4"),
        ([0, 1, 2, 3, 0], "a list of 1 to 4"),
        ([1, 1], "names image 1 twice"),
        ([4], "from 0 to 3"),
        ([-1], "from 0 to 3"),
        ([True], "from 0 to 3"),
        (["0"], "from 0 to 3"),
        ([0.0], "from 0 to 3"),
        ("0,1", "a list of 1 to 4"),
        (None, "a list of 1 to 4"),
    ],
)
async def test_bad_orders_are_refused_and_change_nothing(client: Any, registry: Any, order: Any, message: str) -> None:
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=PendingImages(4))
    before = snapshot(registry)
    response = await client.post(THUMBNAILS.format(request.id), json={"order": order})
    assert response.status == 422 and message in (await response.json())["error"]["message"]
    assert snapshot(registry) == before


async def test_the_stream_sends_each_image_as_soon_as_it_is_made_and_ends_when_the_request_does(
    client: Any, registry: Any
) -> None:
    source = PendingImages(3)
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=source)
    response = await client.post(THUMBNAILS.format(request.id), json={"order": [2, 0, 1]})
    assert response.status == 200 and source.asked == [("thumb", [2, 0, 1])]
    source.futures[("thumb", 0)].set_result(b"\xff\xd8zero")  # made first: sent first, whatever the order
    header = await response.content.readexactly(P.THUMBNAIL_HEADER_BYTES)
    assert server_routes.THUMBNAIL_HEADER.unpack(header) == (0, 6)
    assert await response.content.readexactly(6) == b"\xff\xd8zero"
    # The request ends: its images are released (their futures cancelled) and the stream ends.
    registry.cancel(request.id)
    for index in (1, 2):
        source.futures[("thumb", index)].cancel()
    assert await response.content.read() == b""


@pytest.mark.parametrize(
    ("addresses", "allowed"),
    [
        (["127.0.1.1"], True),  # Debian's /etc/hosts line for the machine's own name
        (["::1", "192.168.1.5"], True),
        (["192.168.1.5"], False),  # the name is the LAN address: over loopback, not this name
        (OSError("no such name"), False),
        ([], False),
    ],
)
def test_this_machines_name_over_loopback_when_it_resolves_to_loopback(addresses: Any, allowed: bool) -> None:
    # http://<hostname>:8188/hitl/inbox opened on the machine itself, where the name maps to
    # 127.0.x.x: ComfyUI serves it, and so do we.
    asked: list[str] = []

    def resolve(name: str) -> list[str]:
        asked.append(name)
        if isinstance(addresses, Exception):
            raise addresses
        return addresses

    policy = server_routes.HostPolicy(machine_name="ComfyBox", resolve=resolve)
    assert policy.allows("comfybox:8188", over_network=False) is allowed
    assert policy.allows("ComfyBox", over_network=False) is allowed
    assert asked == ["comfybox"]  # resolved once, then remembered
    assert policy.allows("comfybox.evil.example", over_network=False) is False
    assert asked == ["comfybox"]  # only this machine's own names are ever resolved
