"""The routes, on a fresh aiohttp application per test, with the real handlers and state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from harness.pack import submodule

server_routes = submodule("server_routes")
state = submodule("state")
P = submodule("_protocol")

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


class TwoImages:
    """An image source as the picker provides one."""

    def image_count(self) -> int:
        return 2

    def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
        return f"{size}-{index}".encode(), "image/jpeg"


async def test_image_route_serves_by_id_and_index(client: Any, registry: Any) -> None:
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=TwoImages())
    response = await client.get(f"/hitl/requests/{request.id}/images/1?size=full")
    assert response.status == 200 and response.content_type == "image/jpeg"
    assert await response.read() == b"full-1"
    response = await client.get(f"/hitl/requests/{request.id}/images/0")
    assert await response.read() == b"thumb-0"


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
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=TwoImages())
    await expect_refusal(client, registry, client.get(f"/hitl/requests/{request.id}{path}"), status, code)


async def test_image_route_needs_a_waiting_request_with_images(client: Any, registry: Any) -> None:
    plain = open_request(registry)
    await expect_refusal(client, registry, client.get(f"/hitl/requests/{plain.id}/images/0"), 404, "not_found")
    ended = registry.open("image-picker", prompt_id="p", node_id="3", resources=TwoImages())
    registry.cancel(ended.id)
    await expect_refusal(client, registry, client.get(f"/hitl/requests/{ended.id}/images/0"), 409, "not_waiting")
    await expect_refusal(client, registry, client.get("/hitl/requests/nope/images/0"), 404, "unknown_request")
    foreign = registry.open("image-picker", prompt_id="p", node_id="3", resources=TwoImages())
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
    class EndsWhileServing(TwoImages):
        """The request ends, and its images are released, during the fetch."""

        def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
            registry.cancel(request.id)
            raise LookupError("images released")

    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=EndsWhileServing())
    response = await client.get(f"/hitl/requests/{request.id}/images/0")
    assert response.status == 409 and (await response.json())["error"]["code"] == "not_waiting"


def test_closed_batch_raises_lookup_error_not_cancelled() -> None:
    import numpy as np

    images = submodule("_images")
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

    batch = submodule("_images").BatchImages(np.random.default_rng(1).random((12, 64, 48, 3), dtype=np.float32))
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
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=TwoImagesStreamed(4))
    before = snapshot(registry)
    response = await client.post(THUMBNAILS.format(request.id), json={"order": order})
    assert response.status == 422 and message in (await response.json())["error"]["message"]
    assert snapshot(registry) == before


class TwoImagesStreamed:
    """A thumbnail source whose futures the test completes (or never does)."""

    def __init__(self, count: int = 2) -> None:
        import concurrent.futures

        self.futures = [concurrent.futures.Future() for _ in range(count)]
        self.asked: list[list[int]] = []

    def image_count(self) -> int:
        return len(self.futures)

    def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
        return self.futures[index].result(), "image/jpeg"

    def thumb_futures(self, indices: Any) -> list[Any]:
        self.asked.append(list(indices))
        return [self.futures[index] for index in indices]


async def test_the_stream_sends_each_image_as_soon_as_it_is_made_and_ends_when_the_request_does(
    client: Any, registry: Any
) -> None:
    source = TwoImagesStreamed(3)
    request = registry.open("image-picker", prompt_id="p", node_id="3", resources=source)
    response = await client.post(THUMBNAILS.format(request.id), json={"order": [2, 0, 1]})
    assert response.status == 200 and source.asked == [[2, 0, 1]]
    source.futures[0].set_result(b"\xff\xd8zero")  # made first: sent first, whatever the order
    header = await response.content.readexactly(P.THUMBNAIL_HEADER_BYTES)
    assert server_routes.THUMBNAIL_HEADER.unpack(header) == (0, 6)
    assert await response.content.readexactly(6) == b"\xff\xd8zero"
    # The request ends: its images are released (their futures cancelled) and the stream ends.
    registry.cancel(request.id)
    for future in source.futures[1:]:
        future.cancel()
    assert await response.content.read() == b""
