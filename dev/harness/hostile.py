"""Hostile answers: for every kind of request, the bodies just under the body cap that cost
the server the most to refuse, and a timed exchange that sends one while another request
is served. ``tests/test_hostile_answers.py``, the fuzz (``tests/test_fuzz_routes.py``) and
``python -m dev.bench.hostile`` all read the table here.

**A new kind plugs in with one entry in** :data:`TARGETS`: its kind, a factory of the
validator its node gives its requests (built with the largest settings the node allows, so
the check has the most to do), and any shapes of its own (a form's object of many fields, a
mask's thousands of strokes). Every target is tried with every shape of :data:`SHAPES` and
with its own; the test asserts each is refused quickly while a probe request is answered.

**A route that takes other client input** plugs in the same way, with its ``route`` and the
body ``field`` the shapes fill (every shape is ``{"value": …}``; the target's field takes the
place of ``value``, as long, so the body stays under the cap), and the ``resources`` its
requests carry: the picker's thumbnails stream and its ``order`` list.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .images import FixedImages
from .pack import submodule

P = submodule("server.protocol")
_doubler = submodule("questions.doubler")
_values = submodule("questions.values")
_picks = submodule("questions.picks")
_image_picker = submodule("nodes.image_picker")
_form = submodule("questions.forms")
_answer_types = submodule("questions.values")
_mask_strokes = submodule("images.mask_strokes")

#: A body builder: the largest cap (bytes) -> a body at most that long.
BodyBuilder = Callable[[int], bytes]


def _list_body(item: str, cap: int) -> bytes:
    """``{"value": [item,item,...]}``, as many items as fit under ``cap`` bytes."""
    head, tail = '{"value":[', "]}"
    count = (cap - len(head) - len(tail) + 1) // (len(item) + 1)
    return (head + ",".join([item] * count) + tail).encode()


def repeated_indices(cap: int) -> bytes:
    """The issue's picker answer: ``[0,1,2,3,0,1,2,3,...]``, every index in range, all repeated."""
    head, tail = '{"value":[', "]}"
    count = (cap - len(head) - len(tail) + 1) // 2
    return (head + ",".join(str(n % 4) for n in range(count)) + tail).encode()


def long_text(cap: int) -> bytes:
    return b'{"value":"' + b"x" * (cap - 12) + b'"}'


def long_lines(cap: int) -> bytes:
    return b'{"value":"' + b"x\\n" * ((cap - 12) // 3) + b'"}'


def longest_number(cap: int) -> bytes:
    """The longest integer the parser takes (4,300 digits, Python's own default limit)."""
    return b'{"value":' + b"9" * 4300 + b"}"


def over_long_number(cap: int) -> bytes:
    """An integer of about 262,000 digits: quadratic to convert if nothing bounded it."""
    return b'{"value":' + b"9" * (cap - 10) + b"}"


def many_floats(cap: int) -> bytes:
    return _list_body("0.5", cap)


def many_keys(cap: int) -> bytes:
    head, tail = '{"value":{', "}}"
    items, size, n = [], len(head) + len(tail), 0
    while True:
        item = f'"k{n}":0'
        if size + len(item) + 1 > cap:
            break
        items.append(item)
        size += len(item) + 1
        n += 1
    return (head + ",".join(items) + tail).encode()


def many_fields(cap: int) -> bytes:
    """A valid answer among tens of thousands of unknown top-level fields."""
    head, tail = '{"value":0', "}"
    count = (cap - len(head) - len(tail)) // len(',"f00000":0')
    return (head + "".join(f',"f{n:05d}":0' for n in range(count)) + tail).encode()


def deep_nesting(cap: int) -> bytes:
    """Nested lists as deep as the parser takes them from a route handler (then refused)."""
    depth = 900
    return b'{"value":' + b"[" * depth + b"0" + b"]" * depth + b"}"


def list_of_lists(cap: int) -> bytes:
    return _list_body("[0]", cap)


def list_of_texts(cap: int) -> bytes:
    return _list_body('"photo"', cap)


#: Shapes every target gets: the most expensive bodies of each JSON type under the cap.
SHAPES: dict[str, BodyBuilder] = {
    "repeated indices": repeated_indices,
    "long text": long_text,
    "long text, line breaks": long_lines,
    "longest number": longest_number,
    "over-long number": over_long_number,
    "many floats": many_floats,
    "many keys": many_keys,
    "many unknown fields": many_fields,
    "deep nesting": deep_nesting,
    "list of lists": list_of_lists,
    "list of texts": list_of_texts,
}


def _all_indices_with_a_duplicate(cap: int) -> bytes:
    """As many indices as the largest batch allows, all in range, the last one repeated."""
    indices = [*range(_image_picker.MAX_BATCH - 1), 0]
    return json.dumps({"value": indices}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class HostileTarget:
    """One kind of request, as its node makes it, with the shapes of its own; by default
    aimed at its answer route (``route``), the shapes' value in ``field``."""

    kind: str
    validator: Callable[[], Callable[[Any], Any]]
    shapes: dict[str, BodyBuilder] = field(default_factory=dict)
    route: str = "answer"
    field: str = "value"
    resources: Callable[[], Any] | None = None

    def all_shapes(self) -> dict[str, BodyBuilder]:
        shapes = {**SHAPES, **self.shapes}
        if self.field == "value":
            return shapes
        return {name: functools.partial(_in_field, builder, self.field) for name, builder in shapes.items()}

    def path(self, request_id: str) -> str:
        """The route a hostile body goes to, for a request of this target."""
        return P.ROUTES[self.route].format(request_id=request_id)


def _in_field(builder: BodyBuilder, name: str, cap: int) -> bytes:
    """The body ``builder`` makes, with its value under ``name`` (as long as "value")."""
    assert len(name) == len("value"), name
    return builder(cap).replace(b'{"value":', b'{"%s":' % name.encode(), 1)


def _value_prompt_target(value_type: str, **settings: Any) -> HostileTarget:
    return HostileTarget(P.KIND_VALUE_PROMPT, lambda: _values.build_spec(value_type, **settings).validate)


#: The largest choice list the node allows: 500 choices of 500 characters.
_LONGEST_CHOICES = "\n".join(
    f"{n:03d}" + "c" * (_answer_types.MAX_CHOICE_LENGTH - 3) for n in range(_answer_types.MAX_CHOICES)
)

#: The largest form the node allows: 50 fields, each type, long texts and the most options.
LARGEST_FORM = "\n".join(
    [f"n{i}: INT 0..100 = 1" for i in range(10)]
    + [f"f{i}: FLOAT 0..1 = 0.5" for i in range(10)]
    + [f"t{i}: TEXT multiline max 5000 = x" for i in range(10)]
    + [f"b{i}: BOOLEAN = yes" for i in range(10)]
    + [f"c{i}: CHOICE " + " | ".join(f"o{i}_{k}" for k in range(_form.MAX_FORM_OPTIONS // 10)) for i in range(10)]
)


def _many_fields(cap: int) -> bytes:
    """An object with as many short keys as fit under the cap (the form's own worst case)."""
    head, tail = '{"value":{', "}}"
    count = (cap - len(head) - len(tail)) // 12
    return (head + ",".join(f'"k{n:06d}":1' for n in range(count)) + tail).encode()


def _every_field_too_long(cap: int) -> bytes:
    """Every field present, each text field as long as the cap allows, so all are read."""
    values: dict[str, Any] = {f"n{i}": 1 for i in range(10)} | {f"f{i}": 0.5 for i in range(10)}
    values |= {f"b{i}": True for i in range(10)} | {f"c{i}": 0 for i in range(10)}
    room = (cap - len(json.dumps({"value": values})) - 200) // 10
    values |= {f"t{i}": "x" * room for i in range(10)}
    return json.dumps({"value": values}, separators=(",", ":")).encode()


def _mask_many_points(cap: int) -> bytes:
    """One stroke (the same mask for every image) with as many points as fit, the last one
    far off the image: every point must be read before the answer can be refused."""
    head, tail = (
        '{"value":{"same_for_all":true,"masks":[[{"op":"brush","size":40,"hardness":0.5,"points":[',
        ",99999999]}]]}}",
    )
    count = (cap - len(head) - len(tail)) // 5  # four digits and a comma each
    count -= count % 2 + 1  # an odd count: with the far one, whole (x, y) pairs
    return (head + ",".join(str(1000 + n % 8000) for n in range(count)) + tail).encode()


def _mask_many_ops(cap: int) -> bytes:
    """As many small strokes as fit (the same mask for every image): the op limit is what must refuse it."""
    stroke = '{"op":"brush","size":9,"hardness":1,"points":[4,4]}'
    head, tail = '{"value":{"same_for_all":true,"masks":[[', "]]}}"
    count = (cap - len(head) - len(tail)) // (len(stroke) + 1)
    return (head + ",".join([stroke] * count) + tail).encode()


def _mask_most_work(cap: int) -> bytes:
    """Within every count limit, the largest brushes swept across the whole image: the
    drawing work cap is what must refuse it, before any pixel is drawn."""
    stroke = '{"op":"brush","size":4096,"hardness":0,"points":[0,0,16380,16380,0,16380,16380,0]}'
    count = min(_mask_strokes.MAX_OPS, (cap - 60) // (len(stroke) + 1))
    return ('{"value":{"same_for_all":true,"masks":[[' + ",".join([stroke] * count) + "]]}}").encode()


#: Every kind there is, each with the validator its node gives it. Add a new kind here.
TARGETS: dict[str, HostileTarget] = {
    "integer doubler": HostileTarget(P.KIND_INTEGER_DOUBLER, lambda: _doubler.validate_doubled),
    "value prompt INT": _value_prompt_target(P.VALUE_TYPE_INT, minimum="0", maximum="100"),
    "value prompt FLOAT": _value_prompt_target(P.VALUE_TYPE_FLOAT, minimum="0", maximum="1"),
    "value prompt STRING": _value_prompt_target(P.VALUE_TYPE_STRING, max_length=_answer_types.MAX_LENGTH_LIMIT),
    "value prompt STRING (multi-line)": _value_prompt_target(
        P.VALUE_TYPE_MULTILINE, max_length=_answer_types.MAX_LENGTH_LIMIT
    ),
    "value prompt BOOLEAN": _value_prompt_target(P.VALUE_TYPE_BOOLEAN),
    "value prompt CHOICE": _value_prompt_target(P.VALUE_TYPE_CHOICE, choices=_LONGEST_CHOICES),
    "image picker": HostileTarget(
        P.KIND_IMAGE_PICKER,
        lambda: _picks.PickBounds.for_batch(_image_picker.MAX_BATCH, 1, 0).validate,
        shapes={"every index, one repeated": _all_indices_with_a_duplicate},
    ),
    # The picker's thumbnails stream: the order in which the browser wants the largest batch.
    "image picker thumbnails": HostileTarget(
        P.KIND_IMAGE_PICKER,
        lambda: _picks.PickBounds.for_batch(_image_picker.MAX_BATCH, 1, 0).validate,
        shapes={"every index, one repeated": _all_indices_with_a_duplicate},
        route="thumbnails",
        field="order",
        resources=lambda: FixedImages(_image_picker.MAX_BATCH),
    ),
    "form": HostileTarget(
        P.KIND_FORM,
        lambda: _form.parse_fields(LARGEST_FORM).validate,
        shapes={"many fields": _many_fields, "every field, texts too long": _every_field_too_long},
    ),
    "mask painter": HostileTarget(
        P.KIND_MASK_PAINTER,
        # The largest batch a painter takes, of 4096² images: the most the check may accept.
        lambda: functools.partial(_mask_strokes.parse_answer, count=_mask_strokes.MAX_IMAGES, width=4096, height=4096),
        shapes={"many points": _mask_many_points, "many strokes": _mask_many_ops, "most drawing": _mask_most_work},
    ),
}


def open_target(registry: Any, name: str) -> Any:
    """A waiting request of target ``name`` in ``registry``."""
    target = TARGETS[name]
    resources = target.resources() if target.resources is not None else None
    return registry.open(
        target.kind, prompt_id="hostile", node_id=name, validate=target.validator(), resources=resources
    )


# ------------------------------------------------------------------ timed exchange
@dataclass(frozen=True)
class Exchange:
    """A hostile request and a probe sent right after it, each timed from its own send."""

    status: int
    body: bytes
    seconds: float
    probe_status: int
    probe_seconds: float


def http_request(
    method: str, path: str, host: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> bytes:
    """The bytes of one HTTP/1.1 request that asks the server to close afterwards."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, float]:
    data = await reader.read()  # until the server closes: we asked it to
    arrived = time.perf_counter()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body, arrived


async def timed_exchange(
    port: int, hostile: bytes, probe: bytes, *, address: str = "127.0.0.1", timeout: float = 900
) -> Exchange:
    """Send ``hostile`` whole, then ``probe`` on a second connection at once; time each to
    its response. A server whose loop the hostile request holds answers the probe late."""
    hostile_reader, hostile_writer = await asyncio.open_connection(address, port)
    probe_reader, probe_writer = await asyncio.open_connection(address, port)
    try:
        sent = time.perf_counter()
        hostile_writer.write(hostile)
        await hostile_writer.drain()
        probe_sent = time.perf_counter()
        probe_writer.write(probe)
        await probe_writer.drain()
        (status, body, arrived), (probe_status, _, probe_arrived) = await asyncio.wait_for(
            asyncio.gather(_read_response(hostile_reader), _read_response(probe_reader)), timeout
        )
    finally:
        hostile_writer.close()
        probe_writer.close()
    return Exchange(status, body, arrived - sent, probe_status, probe_arrived - probe_sent)
