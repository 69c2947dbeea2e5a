"""Fuzz every route over real HTTP (hypothesis): malformed JSON, wrong types, huge values,
unicode, other and finished ids, repeated answers, foreign origins, long repeated lists and
the largest bodies the cap allows for every kind, Host headers (foreign, rebinding, IPv6,
with and without port), bodies that arrive slowly, are cut short, or stall. Never a 5xx, every status and body as openapi.json documents, and
a refused request changes nothing."""

from __future__ import annotations

import functools
import http.client
import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_check import check_response, operation_for

from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.hostile import SHAPES
from dev.harness.images import FixedImages
from dev.harness.pack import submodule

doubler = submodule("nodes.integer_doubler")
value_prompt = submodule("nodes.value_prompt")
image_picker = submodule("nodes.image_picker")
form = submodule("nodes.form")
forms = submodule("questions.forms")
mask_strokes = submodule("images.mask_strokes")
mask_drafts = submodule("images.mask_drafts")
server_routes = submodule("server_routes")
P = submodule("server.protocol")

#: A form with a field of every type (the kind "form" answers one object of them all).
FUZZ_FORM = "n: INT -5..300\nf: FLOAT 0..1\nt: TEXT max 20\nb: BOOLEAN\nc: CHOICE photo | ink | watercolour"
FORM_FIELD_NAMES = {"n", "f", "t", "b", "c"}

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
    "form": ("form", forms.parse_fields(FUZZ_FORM).validate),
    "mask": ("mask-painter", functools.partial(mask_strokes.parse_answer, count=2, width=64, height=48)),
}

#: Examples each test runs; each example sends PER_EXAMPLE requests (hypothesis' own cost
#: per example is larger than a request's), together well over 10,000 requests per CI run.
PER_EXAMPLE = 5
BUDGET = {
    "answer": 600, "typed": 260, "cancel": 340, "image": 340, "thumbnails": 200, "get": 170, "repeat": 170,
    "lookup": 170, "ui": 170, "host": 180, "big": 40, "config": 260, "test": 50, "draft": 160, "listener": 200, "slow": 60,
}  # fmt: skip
SETTINGS = {"deadline": None, "derandomize": True, "database": None, "suppress_health_check": list(HealthCheck)}
sent: dict[str, int] = {}
answered: set[str] = set()
draft_statuses: set[int] = set()
host_outcomes: set[tuple[bool | None, int]] = set()


#: What the fuzzed server lets through besides itself: an origin (its host too) and a bare host.
LISTED_ORIGINS = ["https://proxy.example", "lan-name"]


def three_images() -> FixedImages:
    """The picker's images: JPEG thumbnails that say their index, PNG full sizes."""
    return FixedImages(3, lambda size, index: b"\xff\xd8thumb%d" % index if size == "thumb" else b"\x89PNGfull")


class Target:
    """The harness server, a keep-alive HTTP connection, and a pool of requests to aim at."""

    def __init__(self) -> None:
        # Pushes may go to this machine (the fuzz's dead port), never to this server itself.
        self.host = HarnessHost(environ={"COMFYUI_HITL_ALLOW_LOOPBACK_PUSH": "1"})
        self.server = HarnessServer(self.host, allowed_origins=LISTED_ORIGINS)
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
        if self.ids.get("drafts") is None or self.registry.get(self.ids["drafts"]).state != "waiting":
            # A mask painter that takes drafts (2 images of 64×48), as the node opens it.
            self.drafts = mask_drafts.MaskDrafts(2, 48, 64, [None, None])
            self.ids["drafts"] = self.registry.open(
                "mask-painter",
                prompt_id="fuzz",
                node_id="drafts",
                validate=KIND_TARGETS["mask"][1],
                resources=self.drafts,
            ).id
        if self.ids.get("picker") is None or self.registry.get(self.ids["picker"]).state != "waiting":
            self.ids["picker"] = self.registry.open(
                "image-picker", prompt_id="fuzz", node_id="2", resources=three_images()
            ).id

    def snapshot(self) -> Any:
        # Every move bumps the registry's seq; with the waiting requests and the newest
        # ended one, this is the whole observable state.
        # The settings (and their file) and the audit trail are part of it too.
        registry = self.registry
        config_file = self.host.settings.path
        with registry._lock:
            newest = next(reversed(registry._ended.values()), None)
            return (
                registry._seq,
                sorted((r.id, r.state, r.reason, repr(r.value)) for r in registry._waiting.values()),
                len(registry._ended),
                (newest.id, newest.state, newest.reason, repr(newest.value)) if newest else None,
                json.dumps(self.host.settings.describe(), sort_keys=True),
                config_file.read_bytes() if config_file and config_file.exists() else None,
                [entry.request_id for entry in self.host.audit.recent(3)],
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
        self.drafts.close()
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
    if status == 422 and content_type == "application/json":
        # Only a form's refusal names a field, and only one the form has.
        field = json.loads(data)["error"].get("field")
        assert field is None or (path.split("/")[-2] == target.ids["form"] and field in FORM_FIELD_NAMES), data
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
#: Who an answer or cancel claims to come from (recorded as claims): the fixed set, near misses, junk.
claimed_surfaces = st.sampled_from([*P.CLAIMABLE_SURFACES, "timeout", "server", "", "INBOX"]) | json_values
claimed_ids = st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True) | st.text(max_size=80) | json_values
claims = st.fixed_dictionaries({}, optional={"surface": claimed_surfaces, "client_id": claimed_ids})
bodies = st.one_of(
    json_values.map(lambda v: json.dumps({"value": v}).encode()),
    st.tuples(st.integers(-2, 60), claims).map(lambda vc: json.dumps({"value": vc[0], **vc[1]}).encode()),
    claims.map(lambda c: json.dumps(c).encode()),  # a cancel's body, or an answer without a value
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
        sent_body = json.loads(body)
        assert waiting_before.value == waiting_before.validate(sent_body["value"])
        answered.add(choice)
        check_claims(target, request_id, sent_body)


def check_claims(target: Target, request_id: str, body: dict[str, Any]) -> None:
    """An accepted answer or cancel is recorded with what it claimed, and the address seen."""
    entry = target.host.audit.find(request_id)
    assert entry is not None and entry.by is not None
    assert entry.by["surface"] == body.get("surface", "api") and entry.by["client_id"] == body.get("client_id")
    assert (entry.by["source"], entry.by["remote"]) == ("client", "127.0.0.1")


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
#: The form: every field's values around what its type accepts, then the object bent out
#: of shape (a field left out, an extra or foreign entry, many entries, not an object).
_form_fields = {"n": TYPED_VALUES["vp_int"], "f": TYPED_VALUES["vp_float"], "t": TYPED_VALUES["vp_text"]}
_form_fitting = st.fixed_dictionaries(
    {
        "n": st.integers(-5, 300),
        "f": st.floats(0, 1),
        "t": st.text(max_size=20),
        "b": st.booleans(),
        "c": st.integers(0, 2) | st.sampled_from(["photo", "ink", "watercolour"]),
    }
)
_form_near = st.fixed_dictionaries({**_form_fields, "b": TYPED_VALUES["vp_bool"], "c": TYPED_VALUES["vp_choice"]})
TYPED_VALUES["form"] = st.one_of(
    _form_fitting,
    _form_near,
    _form_fitting.flatmap(lambda d: st.sampled_from(sorted(d)).map(lambda k: {n: v for n, v in d.items() if n != k})),
    st.tuples(_form_fitting, st.text(max_size=8), json_values).map(lambda t: {**t[0], t[1]: t[2]}),
    st.integers(6, 3000).map(lambda count: {f"k{i}": i for i in range(count)}),
    json_values,
)


def mask_ops() -> Any:
    """Operations around what a 64×48 mask painter accepts: valid strokes and whole-mask
    operations, and each field just out of bounds or of the wrong type."""
    coordinate = st.integers(-4 * 64 - 2, 4 * 128 + 2) | st.sampled_from([0.5, True, "1", None, 2**64])
    stroke = st.fixed_dictionaries(
        {
            "op": st.sampled_from(["brush", "erase", "paint"]),
            "size": st.integers(0, 4097) | st.floats(0.5, 100) | st.sampled_from([True, "9", None]),
            "hardness": st.floats(-0.1, 1.1) | st.sampled_from([0, 1, False, None]),
            "points": st.lists(coordinate, min_size=0, max_size=9),
        },
        optional={
            "pressure": st.lists(st.integers(-1, 256) | st.just(0.5), max_size=5),
            "colour": st.just("red"),
        },
    )
    whole = st.sampled_from([{"op": "clear"}, {"op": "invert"}, {"op": "fill"}, {"op": "fill", "size": 3}, {}])
    return stroke | whole


mask_answers = st.fixed_dictionaries(
    {"masks": st.lists(st.lists(mask_ops(), max_size=4), min_size=0, max_size=3)},
    optional={"same_for_all": st.booleans() | st.just(1), "extra": st.just(0)},
) | st.lists(st.lists(mask_ops(), max_size=2), max_size=2)
#: Answers that fit the 2-image 64×48 target: one list of strokes per image, points in
#: quarter pixels inside the image (so the fuzz reaches the accepting side too).
_mask_stroke_fitting = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["brush", "erase"]),
        "size": st.integers(1, 40),
        "hardness": st.floats(0, 1),
        "points": st.lists(st.tuples(st.integers(0, 4 * 63), st.integers(0, 4 * 47)), min_size=1, max_size=6).map(
            lambda pairs: [coordinate for pair in pairs for coordinate in pair]
        ),
    }
)
_mask_fitting = st.fixed_dictionaries(
    {"masks": st.lists(st.lists(_mask_stroke_fitting | st.just({"op": "invert"}), max_size=3), min_size=2, max_size=2)}
)
TYPED_VALUES["mask"] = st.one_of(_mask_fitting, mask_answers)

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
        check_claims(target, request_id, json.loads(body))


image_calls = st.tuples(
    id_choices,
    st.one_of(st.integers(-5, 10).map(str), st.text(min_size=1, max_size=12).map(lambda t: quote(t, safe=""))),
    st.one_of(
        st.none(), st.sampled_from(["thumb", "preview", "full", "mask", "huge", "", "THUMB"]), st.text(max_size=10)
    ),
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


mask_bodies = st.one_of(_mask_fitting, mask_answers).map(lambda value: json.dumps({"value": value}).encode())
draft_calls = st.one_of(
    st.tuples(
        st.one_of(st.just("drafts"), id_choices),
        st.one_of(bodies, mask_bodies),
        content_types,
        origins,
        fetch_sites,
    ),
    # As the painter sends them (so the fuzz reaches the accepting side too).
    st.tuples(
        st.just("drafts"),
        mask_bodies,
        st.just("application/json"),
        st.sampled_from([None, "own"]),
        st.sampled_from([None, "same-origin"]),
    ),
)


@settings(max_examples=BUDGET["draft"], **SETTINGS)
@given(calls=st.lists(draft_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_drafts(target: Target, calls: list[tuple]) -> None:
    for call in calls:
        fuzz_draft(target, *call)


def fuzz_draft(
    target: Target, choice: str, body: bytes, content_type: str | None, origin: str | None, fetch_site: str | None
) -> None:
    drafts, taken = target.drafts, target.drafts.drafts + target.drafts.dropped
    before = target.snapshot()
    status = exchange(
        target,
        "draft",
        "POST",
        f"/hitl/requests/{resolve_id(target, choice)}/draft",
        make_headers(target, content_type, origin, fetch_site),
        body,
        junk_id=choice.startswith("junk:"),
    )
    draft_statuses.add(status)
    # A draft decides nothing: whatever the answer, no request moved and no record was made.
    assert target.snapshot() == before
    if status == 202:
        # Taken, or dropped because another was being drawn (never queued).
        assert choice == "drafts" and drafts.drafts + drafts.dropped == taken + 1
        # What was taken is what an answer would have been.
        mask_strokes.parse_answer(json.loads(body)["value"], count=2, width=64, height=48)
    else:
        assert drafts.drafts + drafts.dropped == taken


read_calls = st.tuples(
    st.sampled_from(
        [
            "/hitl/requests",
            "/api/hitl/requests",
            "/hitl/openapi.json",
            "/hitl/history",
            "/hitl/inbox",
            "/hitl/notify/config",
            "/hitl/notify/status",
        ]
    ),
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


#: Values around what each setting accepts. URLs point at a closed local port: pushes the
#: fuzz turns on fail at once and go nowhere else.
DEAD = "http://127.0.0.1:9"
setting_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            None,
            "",
            f"{DEAD}/topic",
            f"{DEAD}/hook?token=abc",
            f"{DEAD}/",
            "https://user:pw@127.0.0.1:9/x",
            "ftp://127.0.0.1/x",
            "http://",
            "http://127.0.0.1:99999/x",
            f"{DEAD}/a b",
            "http://127.1:9/x",
            "http://[::ffff:127.0.0.1]:9/x",
            "http://localhost:9/x",
            f"{DEAD}/x#frag",
            "javascript:alert(1)",
            "json",
            "discord",
            "slack",
            "DISCORD",
            "high",
            "urgent",
            "tk_abcdefghijkl",
            "tk with space",
            0.1,
            0.2,
            5,
            5.5,
            4096,
            4095,
            2**31,
            100,
            101,
            True,
            False,
        ]
    ),
)
setting_names = st.sampled_from(
    [
        "public_url",
        "ntfy_url",
        "ntfy_token",
        "ntfy_priority",
        "webhook_url",
        "webhook_format",
        "push_on_end",
        "push_timeout_s",
        "audit_max_bytes",
        "audit_backups",
        "nope",
        "",
        "__proto__",
    ]
)
config_bodies = st.one_of(
    st.dictionaries(setting_names, setting_values, max_size=4).map(lambda d: json.dumps(d).encode()),
    bodies,
)
config_calls = st.tuples(config_bodies, content_types, origins, fetch_sites)


@settings(max_examples=BUDGET["config"], **SETTINGS)
@given(calls=st.lists(config_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_config(target: Target, calls: list[tuple]) -> None:
    for body, content_type, origin, fetch_site in calls:
        status = exchange(
            target,
            "config",
            "POST",
            "/hitl/notify/config",
            make_headers(target, content_type, origin, fetch_site),
            body,
        )
        if status == 200:
            # What was taken is in effect, and nothing but the configured (dead) URLs is set.
            current = target.host.settings.current()
            for name, value in json.loads(body).items():
                if value not in (None, ""):
                    assert getattr(current, name) == (value.rstrip("/") if name == "public_url" else value)
            for url in (current.ntfy_url, current.webhook_url, current.public_url):
                assert url is None or url.startswith(DEAD)


@settings(max_examples=BUDGET["test"], **SETTINGS)
@given(calls=st.lists(st.tuples(st.one_of(st.just(b"{}"), bodies), content_types, origins), min_size=1, max_size=2))
def test_fuzz_test_push(target: Target, calls: list[tuple]) -> None:
    for body, content_type, origin in calls:
        status = exchange(
            target, "test", "POST", "/hitl/notify/test", make_headers(target, content_type, origin, None), body
        )
        if status == 200:
            assert body.strip() == b"{}"


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


fetch_modes = st.sampled_from([None, "navigate", "cors", "no-cors", "same-origin"])
fetch_dests = st.sampled_from([None, "document", "iframe", "script", "empty", "image"])
limits = st.one_of(
    st.none(),
    st.integers(-5, 250).map(str),
    st.text(max_size=8),
    st.sampled_from(["１", "1e2", "0x10", " 5", "5 ", "20&limit=500"]),
)


@settings(max_examples=BUDGET["lookup"], **SETTINGS)
@given(
    calls=st.lists(
        st.tuples(id_choices, limits, origins, fetch_sites, fetch_modes, fetch_dests, st.sampled_from(["", "/api"])),
        min_size=PER_EXAMPLE,
        max_size=PER_EXAMPLE,
    )
)
def test_fuzz_lookups_history_and_the_inbox_page(target: Target, calls: list[tuple]) -> None:
    # One request's view, the history (fuzzed limits), and the inbox page (fuzzed fetch
    # metadata): reads that change nothing, whatever they are sent.
    for choice, limit, origin, fetch_site, mode, dest, prefix in calls:
        headers = make_headers(target, None, origin, fetch_site)
        if mode is not None:
            headers["Sec-Fetch-Mode"] = mode
        if dest is not None:
            headers["Sec-Fetch-Dest"] = dest
        request_id = resolve_id(target, choice)
        status = exchange(
            target,
            "lookup",
            "GET",
            f"{prefix}/hitl/requests/{request_id}",
            headers,
            None,
            junk_id=choice.startswith("junk:"),
        )
        if status == 200:
            assert choice in {"waiting", "ended", "ended2", "picker", *KIND_TARGETS}
        query = "" if limit is None else "?limit=" + quote(limit, safe="=&")
        status = exchange(target, "lookup", "GET", f"{prefix}/hitl/history{query}", headers, None)
        if status == 200 and limit is not None:
            first = parse_qs(query[1:], keep_blank_values=True)["limit"][0]  # the first of several wins
            assert first.isascii() and first.isdigit() and 1 <= int(first) <= P.HISTORY_LIMIT_MAX
        status = exchange(target, "lookup", "GET", f"{prefix}/hitl/inbox", headers, None)
        navigation = mode == "navigate" and dest == "document" and origin is None
        if navigation:
            assert status == 200


ui_names = st.one_of(
    st.sampled_from(["inbox.js", "inbox.css", "controller.js", "main.js", "index.html", "..", "%2e%2e", "state.py"]),
    st.text(min_size=1, max_size=20).map(lambda text: quote(text, safe="")),
)


@settings(max_examples=BUDGET["ui"], **SETTINGS)
@given(
    calls=st.lists(
        st.tuples(
            st.sampled_from(["inbox", "web", "harness", "tests", "..", "%2E%2E", "x"]), ui_names, origins, fetch_sites
        ),
        min_size=PER_EXAMPLE,
        max_size=PER_EXAMPLE,
    )
)
def test_fuzz_ui_files(target: Target, calls: list[tuple]) -> None:
    allowed = {f"{folder}/{name}" for folder, name in submodule("server_routes").ui_files()}
    for folder, name, origin, fetch_site in calls:
        status = exchange(
            target,
            "ui",
            "GET",
            f"/hitl/ui/{folder}/{name}",
            make_headers(target, None, origin, fetch_site),
            None,
            junk_id=True,
        )
        if status == 200:
            assert f"{folder}/{name}" in allowed, (folder, name)


# --------------------------------------------------------------- large bodies
#: Refusing the largest body the cap allows takes tens of ms (timed in test_hostile_clients);
#: this bound only catches a check that stopped being linear (the quadratic one took minutes).
BIG_BODY_BOUND_S = 2.0


def repeated_list(pattern: list[int], repeat: int) -> bytes:
    """``{"value": pattern * repeat}``, as many repeats as fit under the body cap."""
    items = ",".join(map(str, pattern))
    repeat = min(repeat, (P.MAX_BODY_BYTES - 12) // (len(items) + 1))
    return ('{"value":[' + ",".join([items] * repeat) + "]}").encode()


big_bodies = st.one_of(
    st.sampled_from(sorted(SHAPES)).map(lambda shape: SHAPES[shape](P.MAX_BODY_BYTES)),
    st.tuples(st.lists(st.integers(-1, 6), min_size=1, max_size=8), st.integers(1, 60_000)).map(
        lambda drawn: repeated_list(*drawn)
    ),
)
#: Every kind's answer route, and the thumbnails route (whose ``order`` list takes the bodies' value).
big_calls = st.tuples(st.sampled_from([*sorted(KIND_TARGETS), "thumbnails"]), big_bodies)


@settings(max_examples=BUDGET["big"], **SETTINGS)
@given(calls=st.lists(big_calls, min_size=2, max_size=2))
def test_fuzz_large_capped_bodies(target: Target, calls: list[tuple[str, bytes]]) -> None:
    for name, body in calls:
        assert len(body) <= P.MAX_BODY_BYTES
        started = time.perf_counter()
        if name == "thumbnails":
            order = body.replace(b'{"value":', b'{"order":', 1)  # as long: still under the cap
            fuzz_thumbnails(target, "picker", order, "application/json", None, None)
        else:
            fuzz_answer(target, name, body, "application/json", None, None, "")
        assert time.perf_counter() - started < BIG_BODY_BOUND_S, (name, body[:60])


# ---------------------------------------------------------------------- Host
#: Host names and whether the server must serve them over loopback: loopback names and
#: addresses, any address, listed hosts; never a name a rebinding page could use.
HOST_NAMES = {
    "localhost": True,
    "LocalHost": True,
    "app.localhost": True,
    "127.0.0.1": True,
    "127.1.2.3": True,
    "[::1]": True,
    "[::FFFF:127.0.0.1]": True,
    "0.0.0.0": True,  # noqa: S104 (a Host header, not a bind)
    "[::]": True,
    "192.168.1.20": True,
    "[fd00::2]": True,
    "[fe80::1%25eth0]": True,
    "proxy.example": True,
    "LAN-name": True,
    "evil.example": False,
    "EVIL.EXAMPLE": False,
    "127.0.0.1.nip.io": False,
    "localhost.evil.example": False,
    "evil.localhost.example": False,
    "xn--80ak6aa92e.com": False,
    "[evil.example]": False,
    "::1": False,
    "[::1": False,
    # This machine's name: over the network, or over loopback when it resolves to loopback here.
    socket.gethostname(): submodule("server_routes").HostPolicy()._names_loopback(socket.gethostname().lower()),
}
HOST_PORTS = {"": True, ":{port}": True, ":8188": True, ":": True, ":x": False, ":123456": False, ":1:2": False}


def host_header(name: str, port: str, trailing_dot: bool) -> tuple[str, bool]:
    dotted = trailing_dot and not name.startswith("[")
    return name + ("." if dotted else "") + port, HOST_NAMES[name] and HOST_PORTS[port]


host_headers = st.one_of(
    st.builds(host_header, st.sampled_from(sorted(HOST_NAMES)), st.sampled_from(sorted(HOST_PORTS)), st.booleans()),
    # Anything else a client may send: only the invariants are checked.
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(lambda text: (text, None)),
)
host_routes = st.sampled_from(["list", "openapi", "image", "thumbnails", "answer", "cancel"])
host_origins = st.sampled_from(["none", "same as host", "own"])


@settings(max_examples=BUDGET["host"], **SETTINGS)
@given(calls=st.lists(st.tuples(host_routes, host_headers, host_origins), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_hosts(target: Target, calls: list[tuple[str, tuple[str, bool | None], str]]) -> None:
    for route, (host, served), origin in calls:
        host = host.replace("{port}", str(target.server.port))
        headers = {"Host": host}
        if origin == "same as host":  # what a DNS-rebinding page sends
            headers["Origin"] = f"http://{host}"
        elif origin == "own":
            headers["Origin"] = target.origin
        bodies = {"answer": b'{"value": 1}', "cancel": b"{}", "thumbnails": b'{"order": [0]}'}
        method, body = ("POST", bodies[route]) if route in bodies else ("GET", None)
        if body is not None:
            headers["Content-Type"] = "application/json"
        request_id = target.ids["picker" if route in ("image", "thumbnails") else "waiting"]
        path = P.ROUTES[route].format(request_id=request_id, index=0)
        before = target.snapshot()
        sent["host"] = sent.get("host", 0) + 1
        status, content_type, data = target.send(method, path, headers, body)
        assert status < 500, (host, path, data)
        check_response(method, path, status, content_type, data)
        code = json.loads(data)["error"]["code"] if status >= 400 else None
        if served is False:
            assert (status, code) == (403, "forbidden_host"), (host, path, status, data)
        elif served is True:
            assert code != "forbidden_host", (host, path, data)
        if status >= 400:
            assert target.snapshot() == before
        host_outcomes.add((served, status))
        target.refill()


# --- the pack's own listener and the pairing calls (server/remote.py, docs/pairing.md) ---
class ListenerTarget:
    """The harness with the listener on 127.0.0.2, a paired device, a pairing secret to find."""

    def __init__(self) -> None:
        from remote_helpers import start_paired

        self.host = HarnessHost()
        self.setup = start_paired(self.host)
        self.token = self.setup.pair("Fuzz phone")
        self.origin = self.setup.listener  # what make_headers sends as this server's own Origin
        self.secret = ""
        self.request_id = ""
        self.refill()

    def refill(self) -> None:
        if not self.secret:
            self.secret = self.setup.pairing_link().split("#pair=")[1]
        if not self.request_id or self.host.registry.get(self.request_id).state != "waiting":
            self.request_id = self.host.registry.open(
                "integer-doubler",
                prompt_id="fuzz",
                node_id="1",
                payload={"value": 1},
                validate=doubler.validate_doubled,
            ).id

    def snapshot(self) -> Any:
        registry = self.host.registry
        with registry._lock:
            waiting = sorted((r.id, r.state) for r in registry._waiting.values())
        return registry._seq, waiting, [d.id for d in self.setup.remote.devices.devices()]

    def close(self) -> None:
        self.setup.server.stop()
        self.host.close()


@pytest.fixture(scope="module")
def listener_target() -> Iterator[ListenerTarget]:
    target = ListenerTarget()
    yield target
    target.close()


listener_paths = st.sampled_from(
    ["/hitl/requests", "/hitl/requests/{id}", "/hitl/requests/{id}/answer", "/hitl/requests/{id}/cancel",
     "/hitl/requests/{id}/draft", "/hitl/requests/{id}/images/0", "/hitl/requests/{id}/thumbnails", "/hitl/history",
     "/hitl/device", "/hitl/pair", "/hitl/inbox", "/hitl/ui/inbox/pairing.js", "/hitl/notify/config", "/prompt",
     "/hitl/devices", "/hitl/pairing/secrets", "/ws", "/hitl/openapi.json"]
)  # fmt: skip
cookies = st.one_of(
    st.sampled_from(["none", "good", "empty", "revoked-like"]), st.text(max_size=60).map(lambda t: "junk:" + t)
)
secrets_sent = st.one_of(
    st.sampled_from(["good", "wrong", "", None, 42, [], {"a": 1}]), st.text(max_size=200), json_values
)
listener_calls = st.tuples(
    listener_paths, st.sampled_from(["GET", "POST"]), cookies, secrets_sent, bodies, content_types, origins
)


@settings(max_examples=BUDGET["listener"], **SETTINGS)
@given(calls=st.lists(listener_calls, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzz_listener_and_pairing(listener_target: ListenerTarget, calls: list[tuple]) -> None:
    """Random cookies, secrets and bodies at the listener: never a 5xx, every answer as
    openapi.json documents it (or the listener's JSON 404 for what it does not serve), a
    refusal changes nothing, and nothing without the device's cookie gets past 401."""
    target = listener_target
    target.setup.remote.pairing.limiter._attempts.clear()
    for path_template, method, cookie_choice, secret, body, content_type, origin in calls:
        path = path_template.replace("{id}", target.request_id)
        cookie = {"none": None, "good": target.token, "empty": "", "revoked-like": "A" * 43}.get(
            cookie_choice, cookie_choice[5:]
        )
        headers = make_headers(target, content_type, origin, None)  # type: ignore[arg-type]
        if cookie is not None:
            headers["Cookie"] = f"hitl_device={quote(cookie, safe='')}"
        if path == "/hitl/pair":
            sent_secret = target.secret if secret == "good" else secret
            raw = json.dumps({"secret": sent_secret}).encode() if secret != "wrong" else body
        else:
            raw = body if method == "POST" else None
        before = target.snapshot()
        sent["listener"] = sent.get("listener", 0) + 1
        from remote_helpers import connection

        link = connection(target.setup.listener)
        try:
            link.request(method, path, body=raw, headers=headers)
            response = link.getresponse()
            data = response.read()
            status = response.status
            content = (response.getheader("Content-Type") or "").split(";")[0]
            paired_here = response.getheader("Set-Cookie") is not None
        finally:
            link.close()
        assert status < 500, (method, path, status, data)
        documented = operation_for(method, path)
        listened = documented is not None and documented[1].get("x-listener")
        if not listened:
            assert status == 404 and json.loads(data)["error"]["code"] == "not_found", (method, path, status)
        else:
            check_response(method, path, status, content, data)
        public = path in ("/hitl/pair", "/hitl/inbox", "/hitl/ui/inbox/pairing.js")
        if listened and not public and cookie != target.token:
            assert status in (401, 403, 404), (method, path, status)  # 403: a foreign Origin, checked first
        if status >= 400:
            assert target.snapshot() == before, (method, path, status, data)
        if paired_here:
            assert path == "/hitl/pair" and status == 200 and secret == "good"
            target.secret = ""
        target.refill()


# ------------------------------------------------------- slow and truncated bodies
#: The read timeout while this fuzz runs (the server's own is 10 s).
STALL_TIMEOUT_S = 0.15
body_routes = st.sampled_from(
    [
        ("answer", "waiting"),
        ("cancel", "waiting"),
        ("draft", "drafts"),
        ("thumbnails", "picker"),
        ("notify_config", None),
        ("notify_test", None),
    ]
)
#: How a body arrives: whole in pieces of 1 to 7 bytes; cut short, then the client leaves; cut
#: short, then the client stalls (the connection stays open).
deliveries = st.sampled_from(["dribbled", "truncated", "stalled"])
slow_calls = st.tuples(body_routes, st.one_of(bodies, st.just(b'{"order": [0, 2]}')), deliveries, st.integers(1, 7))
slow_outcomes: set[tuple[str, int]] = set()


def raw_exchange(target: Target, path: str, body: bytes, delivery: str, piece: int) -> int | None:
    """Send one request on a connection of its own as ``delivery`` says; its status, or None
    when the client left before the server could answer."""
    declared = len(body) if delivery == "dribbled" else len(body) + 1 + piece
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{target.server.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\nConnection: close\r\n\r\n"
    ).encode()
    sent = body if delivery == "dribbled" else body[: len(body) // 2]
    with socket.create_connection(("127.0.0.1", target.server.port), timeout=10) as connection:
        connection.sendall(head)
        for start in range(0, len(sent), piece):
            connection.sendall(sent[start : start + piece])
        if delivery == "truncated":
            return None  # closed by the with: the server reads the body's end, then a reset
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    header, _, payload = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    content_type = header.split(b"Content-Type: ", 1)[1].split(b";")[0].split(b"\r\n")[0].decode()
    check_response("POST", path, status, content_type, payload)
    target.last_body = payload
    return status


@settings(max_examples=BUDGET["slow"], **SETTINGS)
@given(calls=st.lists(slow_calls, min_size=1, max_size=2))
def test_fuzz_slow_and_truncated_bodies(target: Target, calls: list[tuple]) -> None:
    """However a body arrives, the server answers what it would have answered whole (dribbled),
    408 once the read timeout passes (stalled), or nothing (the client left): never a 5xx, and
    a request whose body did not arrive whole changes nothing and holds nothing."""
    timeout = server_routes.BODY_READ_TIMEOUT_S
    server_routes.BODY_READ_TIMEOUT_S = STALL_TIMEOUT_S
    try:
        for (route, which), body, delivery, piece in calls:
            sent["slow"] = sent.get("slow", 0) + 1
            path = P.ROUTES[route].format(request_id=target.ids.get(which or "", "x"))
            before = target.snapshot()
            status = raw_exchange(target, path, body, delivery, piece)
            if delivery == "stalled":
                assert status == 408 and json.loads(target.last_body)["error"]["code"] == "body_timeout"
            if delivery != "dribbled":
                # The probe on a fresh connection shows the server still serves, and nothing moved.
                assert target.send("GET", "/hitl/requests", {}, None)[0] == 200
                assert target.snapshot() == before
            elif status is not None:
                assert status < 500
                if status >= 400:
                    assert target.snapshot() == before
            slow_outcomes.add((delivery, status or 0))
            target.refill()
    finally:
        server_routes.BODY_READ_TIMEOUT_S = timeout


def test_fuzzing_sent_at_least_ten_thousand_requests() -> None:
    assert sum(sent.values()) >= 10_000, sent
    # The fuzz reached the accepting side of every kind's validator, not only refusals.
    assert set(KIND_TARGETS) <= answered, answered
    # ... and both sides of the draft route's check.
    assert {202, 422} <= draft_statuses, draft_statuses
    # ... and both sides of the Host check.
    assert {(True, 200), (False, 403)} <= host_outcomes, host_outcomes
    # ... and every way a body may arrive.
    assert {"dribbled", "truncated", "stalled"} <= {delivery for delivery, _ in slow_outcomes}, slow_outcomes
