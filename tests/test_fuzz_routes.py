"""Fuzz every route over real HTTP (hypothesis): malformed JSON, wrong types, huge values,
unicode, other and finished ids, repeated answers, foreign origins. Never a 5xx, every
status and body as openapi.json documents, and a refused request changes nothing."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_check import check_response

from harness.host import HarnessHost, HarnessServer
from harness.pack import submodule

doubler = submodule("nodes.integer_doubler")
value_prompt = submodule("nodes.value_prompt")
image_picker = submodule("nodes.image_picker")
P = submodule("_protocol")

#: Requests of every kind, each with the validator its node gives it: name -> (kind, validator).
KIND_TARGETS = {
    "waiting": ("integer-doubler", doubler.validate_doubled),
    "vp_int": ("value-prompt", value_prompt.build_spec(P.VALUE_TYPE_INT, minimum="-5", maximum="300").validate),
    "vp_float": ("value-prompt", value_prompt.build_spec("FLOAT", minimum="0", maximum="1").validate),
    "vp_text": ("value-prompt", value_prompt.build_spec("STRING", max_length=20).validate),
    "vp_lines": ("value-prompt", value_prompt.build_spec("STRING (multi-line)", max_length=50).validate),
    "vp_bool": ("value-prompt", value_prompt.build_spec("BOOLEAN").validate),
    "vp_choice": ("value-prompt", value_prompt.build_spec("CHOICE", choices="photo\nink\nwatercolour").validate),
    "pick": ("image-picker", image_picker.PickBounds.for_batch(5, 1, 3).validate),
}

#: Examples each test runs; each example sends PER_EXAMPLE requests (hypothesis' own cost
#: per example is larger than a request's), together well over 10,000 requests per CI run.
PER_EXAMPLE = 5
BUDGET = {"answer": 700, "typed": 300, "cancel": 400, "image": 400, "thumbnails": 300, "get": 200, "repeat": 200}
SETTINGS = {"deadline": None, "derandomize": True, "database": None, "suppress_health_check": list(HealthCheck)}
sent: dict[str, int] = {}
answered: set[str] = set()


class OneImage:
    def image_count(self) -> int:
        return 3

    def image_bytes(self, index: int, size: str) -> tuple[bytes, str]:
        return (b"\xff\xd8thumb", "image/jpeg") if size == "thumb" else (b"\x89PNGfull", "image/png")

    def thumb_futures(self, indices: Any) -> list[concurrent.futures.Future[bytes]]:
        futures: list[concurrent.futures.Future[bytes]] = []
        for index in indices:
            futures.append(concurrent.futures.Future())
            futures[-1].set_result(b"\xff\xd8thumb%d" % index)
        return futures


class Target:
    """The harness server, a keep-alive HTTP connection, and a pool of requests to aim at."""

    def __init__(self) -> None:
        self.host = HarnessHost()
        self.server = HarnessServer(self.host)
        self.server.start()
        self.registry = self.host.registry
        self.origin = self.server.url
        self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.ids: dict[str, str] = {}
        self.last_body = b""
        for name in ("ended", "ended2"):
            request = self.registry.open("integer-doubler", prompt_id="fuzz", node_id=name)
            self.registry.cancel(request.id)
            self.ids[name] = request.id
        self.refill()

    def refill(self) -> None:
        for name, (kind, validate) in KIND_TARGETS.items():
            if self.ids.get(name) is None or self.registry.get(self.ids[name]).state != "waiting":
                self.ids[name] = self.registry.open(
                    kind, prompt_id="fuzz", node_id=name, payload={"value": 1}, validate=validate
                ).id
        if self.ids.get("picker") is None or self.registry.get(self.ids["picker"]).state != "waiting":
            self.ids["picker"] = self.registry.open(
                "image-picker", prompt_id="fuzz", node_id="2", resources=OneImage()
            ).id

    def snapshot(self) -> Any:
        # Every move bumps the registry's seq; with the waiting requests and the newest
        # ended one, this is the whole observable state.
        registry = self.registry
        with registry._lock:
            newest = next(reversed(registry._ended.values()), None)
            return (
                registry._seq,
                sorted((r.id, r.state, r.reason, repr(r.value)) for r in registry._waiting.values()),
                len(registry._ended),
                (newest.id, newest.state, newest.reason, repr(newest.value)) if newest else None,
            )

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, str, bytes]:
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                content_type = (response.getheader("Content-Type") or "").split(";")[0]
                if response.getheader("Connection", "").lower() == "close":
                    self.connection.close()
                return response.status, content_type, data
            except (ConnectionError, http.client.HTTPException):
                # The server may close a connection after refusing an unread body: reconnect.
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()
        self.server.stop()
        self.host.close()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    target = Target()
    yield target
    target.close()


def exchange(
    target: Target,
    kind: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None,
    *,
    junk_id: bool = False,
) -> int:
    """Send one request and check every invariant; returns the status."""
    sent[kind] = sent.get(kind, 0) + 1
    before = target.snapshot()
    status, content_type, data = target.send(method, path, headers, body)
    assert status < 500, (method, path, headers, body, data)
    target.last_body = data
    if junk_id and status == 404 and content_type == "text/plain":
        pass  # aiohttp's router: an id with "{", "}" or "/" never reaches our handlers
    else:
        check_response(method, path, status, content_type, data)
    if status >= 400:
        assert target.snapshot() == before, (method, path, status, data)
    target.refill()
    return status


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**300), max_value=2**300)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
raw_bodies = st.sampled_from(
    [
        b'{"value": NaN}',
        b'{"value": Infinity}',
        b'{"value": -Infinity}',
        b'{"value": 1e999}',
        b"[" * 3000,
        b'{"value": 2',
        b"\xff\xfe\x00",
        b"",
        b"null",
        b'"value"',
        b'{"value": 42}',
        b'{"value": 42, "value": "x"}',
        json.dumps({"value": "\U0001f600" * 70_000}).encode(),
        b"value=42",
        b'{"value": 9007199254740994}',
    ]
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps({"value": v}).encode()),
    st.lists(st.integers(-2, 7), max_size=6).map(lambda picks: json.dumps({"value": picks}).encode()),
    st.sampled_from([0, 1, 0.5, -5, 300, 301, True, False, "photo", "ink", "x" * 21, "a\nb", 2, 1e308, -0.0]).map(
        lambda v: json.dumps({"value": v}).encode()
    ),
    st.dictionaries(st.text(max_size=10), json_values, max_size=3).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=-(2**53), max_value=2**53).map(lambda n: json.dumps({"value": n}).encode()),
    st.binary(max_size=64),
    raw_bodies,
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/json-patch+json",
        None,
    ]
)
origins = st.sampled_from([None, "own", "https://evil.example", "null", "http://127.0.0.1", "garbage", "own-upper"])
fetch_sites = st.sampled_from([None, "same-origin", "cross-site", "none"])
id_choices = st.one_of(
    st.sampled_from(["waiting", "ended", "ended2", "picker", "unknown", *KIND_TARGETS]),
    st.text(min_size=1, max_size=30).map(lambda text: "junk:" + text),
)


def resolve_id(target: Target, choice: str) -> str:
    if choice.startswith("junk:"):
        return quote(choice[5:], safe="") or "x"
    return target.ids.get(choice, "no-such-request-id")


def make_headers(
    target: Target, content_type: str | None, origin: str | None, fetch_site: str | None
) -> dict[str, str]:
    headers: dict[str, str] = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if origin == "own":
        headers["Origin"] = target.origin
    elif origin == "own-upper":
        headers["Origin"] = target.origin.upper()
    elif origin is not None:
        headers["Origin"] = origin
    if fetch_site is not None:
        headers["Sec-Fetch-Site"] = fetch_site
    return headers


answer_calls = st.tuples(id_choices, bodies, content_types, origins, fetch_sites, st.sampled_from(["", "/api"]))


@settings(max_examples=BUDGET["answer"], **SETTINGS)
@given(calls=st.lists(answer_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_answer(target: Target, calls: list[tuple]) -> None:
    for call in calls:
        fuzz_answer(target, *call)


def fuzz_answer(
    target: Target,
    choice: str,
    body: bytes,
    content_type: str | None,
    origin: str | None,
    fetch_site: str | None,
    prefix: str,
) -> None:
    request_id = resolve_id(target, choice)
    waiting_before = target.registry._waiting.get(request_id)
    status = exchange(
        target,
        "answer",
        "POST",
        f"{prefix}/hitl/requests/{request_id}/answer",
        make_headers(target, content_type, origin, fetch_site),
        body,
        junk_id=choice.startswith("junk:"),
    )
    if status == 200:
        assert waiting_before is not None and waiting_before.state == "answered"
        # What the node gets is exactly what its own validator makes of the answer.
        assert waiting_before.value == waiting_before.validate(json.loads(body)["value"])
        answered.add(choice)


cancel_calls = st.tuples(id_choices, st.one_of(st.just(b"{}"), bodies), content_types, origins, fetch_sites)


#: Per kind, values around what its validator accepts: valid ones and just-invalid ones.
TYPED_VALUES = {
    "waiting": st.integers(-(2**53) - 2, 2**53 + 2) | st.floats(allow_nan=False, allow_infinity=False),
    "vp_int": st.integers(-10, 310) | st.floats(-10, 310) | st.booleans() | st.integers(2**62, 2**70),
    "vp_float": st.floats(-0.5, 1.5) | st.integers(-1, 2) | st.integers(2**53, 2**60) | st.booleans(),
    "vp_text": st.text(max_size=25),
    "vp_lines": st.text(alphabet=st.characters(codec="utf-8") | st.just("\n"), max_size=60),
    "vp_bool": st.booleans() | st.integers(0, 1) | st.sampled_from(["true", "yes", None]),
    "vp_choice": st.integers(-1, 4) | st.sampled_from(["photo", "ink", "watercolour", "Photo", "nope", ""]),
    "pick": st.lists(st.integers(-1, 6), max_size=5) | st.lists(st.booleans(), max_size=3),
}
typed_calls = st.sampled_from(sorted(TYPED_VALUES)).flatmap(lambda name: st.tuples(st.just(name), TYPED_VALUES[name]))


@settings(max_examples=BUDGET["typed"], **SETTINGS)
@given(calls=st.lists(typed_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_typed_answers(target: Target, calls: list[tuple[str, Any]]) -> None:
    for name, value in calls:
        fuzz_answer(target, name, json.dumps({"value": value}).encode(), "application/json", None, None, "/api")


@settings(max_examples=BUDGET["cancel"], **SETTINGS)
@given(calls=st.lists(cancel_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_cancel(target: Target, calls: list[tuple]) -> None:
    for call in calls:
        fuzz_cancel(target, *call)


def fuzz_cancel(
    target: Target, choice: str, body: bytes, content_type: str | None, origin: str | None, fetch_site: str | None
) -> None:
    request_id = resolve_id(target, choice)
    waiting_before = target.registry._waiting.get(request_id)
    status = exchange(
        target,
        "cancel",
        "POST",
        f"/hitl/requests/{request_id}/cancel",
        make_headers(target, content_type, origin, fetch_site),
        body,
        junk_id=choice.startswith("junk:"),
    )
    if status == 200:
        assert waiting_before is not None and waiting_before.reason == "user_cancel"


image_calls = st.tuples(
    id_choices,
    st.one_of(st.integers(-5, 10).map(str), st.text(min_size=1, max_size=12).map(lambda t: quote(t, safe=""))),
    st.one_of(st.none(), st.sampled_from(["thumb", "full", "huge", "", "THUMB"]), st.text(max_size=10)),
    origins,
    fetch_sites,
)


@settings(max_examples=BUDGET["image"], **SETTINGS)
@given(calls=st.lists(image_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_image(target: Target, calls: list[tuple]) -> None:
    for call in calls:
        fuzz_image(target, *call)


def fuzz_image(
    target: Target, choice: str, index: str, size: str | None, origin: str | None, fetch_site: str | None
) -> None:
    query = "" if size is None else "?size=" + quote(size, safe="")
    status = exchange(
        target,
        "image",
        "GET",
        f"/hitl/requests/{resolve_id(target, choice)}/images/{index}{query}",
        make_headers(target, None, origin, fetch_site),
        None,
        junk_id=True,
    )
    if status == 200:
        assert choice == "picker"


thumbnail_bodies = st.one_of(
    st.lists(st.integers(-2, 4), max_size=5).map(lambda order: json.dumps({"order": order}).encode()),
    st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True).map(lambda o: json.dumps({"order": o}).encode()),
    st.dictionaries(st.sampled_from(["order", "value", "size"]), json_values, max_size=2).map(
        lambda body: json.dumps(body).encode()
    ),
    bodies,
)
thumbnail_calls = st.tuples(id_choices, thumbnail_bodies, content_types, origins, fetch_sites)


@settings(max_examples=BUDGET["thumbnails"], **SETTINGS)
@given(calls=st.lists(thumbnail_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_thumbnails(target: Target, calls: list[tuple]) -> None:
    for call in calls:
        fuzz_thumbnails(target, *call)


def fuzz_thumbnails(
    target: Target, choice: str, body: bytes, content_type: str | None, origin: str | None, fetch_site: str | None
) -> None:
    status = exchange(
        target,
        "thumbnails",
        "POST",
        f"/hitl/requests/{resolve_id(target, choice)}/thumbnails",
        make_headers(target, content_type, origin, fetch_site),
        body,
        junk_id=choice.startswith("junk:"),
    )
    if status == 200:
        # Exactly the images asked for, each framed as the protocol says.
        assert choice == "picker"
        order, data, streamed = json.loads(body)["order"], target.last_body, []
        while data:
            index, length = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
            streamed.append(index)
            assert data[P.THUMBNAIL_HEADER_BYTES : P.THUMBNAIL_HEADER_BYTES + length] == b"\xff\xd8thumb%d" % index
            data = data[P.THUMBNAIL_HEADER_BYTES + length :]
        assert streamed == order


read_calls = st.tuples(
    st.sampled_from(["/hitl/requests", "/api/hitl/requests", "/hitl/openapi.json"]),
    origins,
    fetch_sites,
    st.text(max_size=20),
)


@settings(max_examples=BUDGET["get"], **SETTINGS)
@given(calls=st.lists(read_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_reads(target: Target, calls: list[tuple]) -> None:
    for path, origin, fetch_site, query in calls:
        exchange(
            target,
            "get",
            "GET",
            f"{path}?q={quote(query, safe='')}",
            make_headers(target, None, origin, fetch_site),
            None,
        )


@settings(max_examples=BUDGET["repeat"], **SETTINGS)
@given(value=st.integers(min_value=-(2**53), max_value=2**53))
def test_repeated_answers_only_first_counts(target: Target, value: int) -> None:
    request_id = target.ids["waiting"]
    request = target.registry.get(request_id)
    statuses = [
        exchange(
            target,
            "repeat",
            "POST",
            f"/hitl/requests/{request_id}/answer",
            {"Content-Type": "application/json"},
            json.dumps({"value": value + n}).encode(),
        )
        for n in range(3)
    ]
    assert statuses == [200, 409, 409]
    assert request.value == value


def test_fuzzing_sent_at_least_ten_thousand_requests() -> None:
    assert sum(sent.values()) >= 10_000, sent
    # The fuzz reached the accepting side of every kind's validator, not only refusals.
    assert set(KIND_TARGETS) <= answered, answered
