"""Issue 26, "nothing kept, leaked or erased by a hostile caller": each finding of the hostile
run against a real ComfyUI, as a regression test over HTTP on the harness (or, where the
finding is about a module's own bound, on that module)."""

from __future__ import annotations

import functools
import gc
import json
import logging
import shutil
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from receivers import Receiver

from dev.harness.batches import materialize
from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.hostile import http_request
from dev.harness.pack import submodule

server_routes = submodule("server_routes")
batches = submodule("images.batches")
P = submodule("server.protocol")


@pytest.fixture
def harness() -> Iterator[tuple[HarnessHost, HarnessServer]]:
    host = HarnessHost()
    server = HarnessServer(host)
    server.start()
    try:
        yield host, server
    finally:
        server.stop()
        host.close()


def picker_inputs(batch: int = 4, size: int = 64) -> dict[str, Any]:
    return materialize(
        {
            "images": {"generate": "colors", "batch": batch, "size": size},
            "mode": "always ask",
            "min_picks": 1,
            "max_picks": 1,
            "title": "Keep one",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
        }
    )


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    """The status and body of the response on ``connection`` (read until the server closes)."""
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def stalled_thumbnails(server: HarnessServer, request_id: str, *, declared: int = 55) -> socket.socket:
    """A thumbnails request that declares ``declared`` body bytes and sends one: the socket
    stays open, as the hostile client's did."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    head = (
        f"POST /hitl/requests/{request_id}/thumbnails HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    ).encode()
    connection.sendall(head + b"{")
    return connection


class Records(logging.Handler):
    """Log records as they arrive, with an event per awaited message."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> logging.LogRecord:
        with self.changed:
            found: list[logging.LogRecord] = []

            def match() -> bool:
                found[:] = [record for record in self.records if predicate(record)]
                return bool(found)

            if not self.changed.wait_for(match, timeout):
                raise TimeoutError("no such log record")
            return found[0]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# ------------------------------------------------- 1. a stalled body holds nothing
def batch_of(host: HarnessHost, request_id: str) -> weakref.ref[Any]:
    """A weak reference to a waiting picker's batch (so this test holds nothing of it)."""
    batch = host.registry.get(request_id).resources
    assert isinstance(batch, batches.BatchImages) and batch.frames is not None
    return weakref.ref(batch)


def test_a_stalled_thumbnails_body_holds_no_image_of_a_request_that_ended(
    harness: tuple[HarnessHost, HarnessServer],
) -> None:
    host, server = harness
    run = host.submit("HitlImagePicker", picker_inputs())
    [view] = host.wait_waiting(run)
    batch = batch_of(host, view["id"])
    connection = stalled_thumbnails(server, view["id"])
    try:
        host.registry.answer(view["id"], [0])
        assert run.wait().status == "success"
        # The batch let go of its frames and renditions at the end, and nothing holds it
        # (once its threads, which end when they find the batch closed, have ended).
        held = batch()
        assert held is None or (held.frames is None and held.masks is None and not held._made)
        del held
        for thread in threading.enumerate():
            if thread.name == "hitl-images":
                thread.join(10)
        gc.collect()
        assert batch() is None, [type(holder) for holder in gc.get_referrers(batch())]
        # Finishing the body now: the request ended, so nothing of its images is served.
        connection.sendall(b'"order": [0, 1, 2, 3]}'.ljust(54))
        status, body = read_response(connection)
    finally:
        connection.close()
    assert status == 409, body
    assert json.loads(body)["error"]["code"] == "not_waiting"


def test_a_stalled_body_is_refused_after_the_read_timeout(
    harness: tuple[HarnessHost, HarnessServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    host, server = harness
    monkeypatch.setattr(server_routes, "BODY_READ_TIMEOUT_S", 0.3)
    request = host.registry.open("integer-doubler", prompt_id="p", node_id="1", payload={"value": 2})
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        head = (
            f"POST /hitl/requests/{request.id}/answer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 40\r\nConnection: close\r\n\r\n"
        ).encode()
        connection.sendall(head + b'{"value"')
        status, body = read_response(connection)  # the socket's own 10 s timeout fails a hang
    finally:
        connection.close()
    assert status == 408, body
    assert json.loads(body)["error"]["code"] == "body_timeout"
    assert request.state == "waiting"
    host.registry.cancel(request.id)


def test_closing_a_batch_frees_its_frames_and_drops_a_rendition_made_later(monkeypatch: pytest.MonkeyPatch) -> None:
    release, started = threading.Event(), threading.Event()
    render = batches.BatchImages._render

    def slow_render(self: Any, size: str, index: int) -> bytes:
        started.set()
        release.wait(10)
        return render(self, size, index)

    monkeypatch.setattr(batches.BatchImages, "_render", slow_render)
    batch = batches.BatchImages(np.zeros((2, 32, 32, 3), np.float32), workers=1)
    [future] = batch.image_futures("full", [1])
    assert started.wait(10)
    batch.close()
    assert batch.frames is None and not batch._made
    release.set()
    # The rendition in flight finishes, and is dropped: nobody gets it, nothing keeps it.
    with pytest.raises(batches.CancelledError):
        future.result(10)
    assert not batch._made and batch.frames is None


# ------------------------------------------- 9. a client that drops mid-body is quiet
def test_a_client_dropping_mid_body_leaves_no_traceback(
    harness: tuple[HarnessHost, HarnessServer], records: Records
) -> None:
    host, server = harness
    request = host.registry.open("integer-doubler", prompt_id="p", node_id="1", payload={"value": 2})
    for path in (P.ROUTES["answer"].format(request_id=request.id), P.ROUTES["notify_config"]):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        connection.sendall(http_request("POST", path, "127.0.0.1", b'{"value": 4}' + b" " * 100)[:-90])
        connection.close()

        def about_it(record: logging.LogRecord, path: str = path) -> bool:
            return ("went away" in record.getMessage() and path in record.getMessage()) or (
                record.name.startswith("aiohttp") and record.exc_info is not None
            )

        record = records.wait_for(about_it)
        assert record.levelno == logging.DEBUG and record.exc_info is None, record.getMessage()
    assert not [r for r in records.records if r.exc_info is not None or r.levelno >= logging.WARNING]
    assert request.state == "waiting"
    host.registry.cancel(request.id)


# --------------------------------------------------------------- over HTTP, settings
LOOPBACK_OK = {"COMFYUI_HITL_ALLOW_LOOPBACK_PUSH": "1"}


def call(server: HarnessServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One JSON request to the harness; the status and the parsed body."""
    data = None if body is None else json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(http_request(method, path, f"127.0.0.1:{server.port}", data))
        status, raw = read_response(connection)
    return status, json.loads(raw)


@pytest.fixture
def served_with() -> Iterator[Any]:
    """Start a harness host and server with this environment (and user directory)."""
    started: list[tuple[HarnessHost, HarnessServer]] = []

    def start(environ: dict[str, str], **options: Any) -> tuple[HarnessHost, HarnessServer]:
        host = HarnessHost(environ=environ, **options)
        server = HarnessServer(host)
        server.start()
        started.append((host, server))
        return host, server

    yield start
    for host, server in started:
        server.stop()
        host.close()


# ----------------------------------------------------- 2. a token stays with its URL
def test_a_token_from_the_environment_never_goes_to_a_url_set_through_the_api(served_with: Any, tmp_path: Path) -> None:
    with Receiver("ok") as first, Receiver("ok") as other:
        environ = {**LOOPBACK_OK, "COMFYUI_HITL_NTFY_TOKEN": "tk_from_the_environment_1234"}
        (tmp_path / "comfyui-hitl").mkdir()
        (tmp_path / "comfyui-hitl" / "config.json").write_text(json.dumps({"ntfy_url": first.url + "/topic"}))
        # The token belongs to the URL in effect when the server started (the admin's file).
        _, server = served_with(environ, user_dir=tmp_path)
        status, body = call(server, "POST", "/hitl/notify/test", {})
        assert status == 200 and body["results"][0]["ok"] is True
        assert first.wait_for(1)[0].headers["Authorization"] == "Bearer tk_from_the_environment_1234"
        status, body = call(server, "POST", "/hitl/notify/config", {"ntfy_url": other.url + "/x"})
        assert status == 200 and any("token" in note for note in body["notes"]), body
        status, body = call(server, "POST", "/hitl/notify/test", {})
        assert status == 200 and body["results"][0]["ok"] is True
        [got] = other.wait_for(1)
        assert "Authorization" not in got.headers
        assert any("token" in note for note in call(server, "GET", "/hitl/notify/config")[1]["notes"])


def test_changing_the_url_through_the_api_drops_its_token_unless_a_new_one_comes(served_with: Any) -> None:
    with Receiver("ok") as first, Receiver("ok") as other:
        host, server = served_with(LOOPBACK_OK)
        status, _ = call(
            server, "POST", "/hitl/notify/config", {"ntfy_url": first.url + "/a", "ntfy_token": "tk_one_1234"}
        )
        assert status == 200
        status, body = call(server, "POST", "/hitl/notify/config", {"ntfy_url": other.url + "/b"})
        assert status == 200 and body["settings"]["ntfy_token"]["value"] is None
        assert any("dropped" in note for note in body["notes"]), body
        assert host.settings.current().ntfy_token is None
        assert "ntfy_token" not in json.loads(host.settings.path.read_text())
        call(server, "POST", "/hitl/notify/test", {})
        assert "Authorization" not in other.wait_for(1)[0].headers
        status, body = call(
            server, "POST", "/hitl/notify/config", {"ntfy_url": first.url + "/c", "ntfy_token": "tk_two_5678"}
        )
        assert status == 200 and body["notes"] == []
        call(server, "POST", "/hitl/notify/test", {})
        assert first.wait_for(1)[0].headers["Authorization"] == "Bearer tk_two_5678"
        assert first.count() == 1 and other.count() == 1


# --------------------------------------------------- 3. the audit trail has a floor
def test_the_audit_retention_cannot_be_lowered_through_the_api(served_with: Any) -> None:
    host, server = served_with({})
    before = host.settings.describe()
    for change in ({"audit_backups": 0, "audit_max_bytes": 4096}, {"audit_backups": 1}, {"audit_max_bytes": 1 << 19}):
        status, body = call(server, "POST", "/hitl/notify/config", change)
        assert (status, body["error"]["code"]) == (422, "invalid_body"), change
        assert "environment" in body["error"]["message"]
        assert host.settings.describe() == before
    status, body = call(server, "POST", "/hitl/notify/config", {"audit_backups": 2, "audit_max_bytes": 1 << 20})
    assert status == 200
    # The change of retention is itself in the audit log, with who made it; not in the history.
    host.audit.flush()
    lines = [json.loads(line) for line in host.audit.path.read_text().splitlines()]
    [event] = [line for line in lines if line.get("event") == "retention_changed"]
    assert event["changes"] == {"audit_backups": 2, "audit_max_bytes": 1 << 20}
    assert event["by"]["remote"] == "127.0.0.1" and event["at"].endswith("Z")
    assert call(server, "GET", "/hitl/history")[1]["history"] == []


def test_lower_retention_still_comes_from_the_environment(served_with: Any) -> None:
    host, _ = served_with({"COMFYUI_HITL_AUDIT_BACKUPS": "0", "COMFYUI_HITL_AUDIT_MAX_BYTES": "4096"})
    assert (host.settings.current().audit_backups, host.settings.current().audit_max_bytes) == (0, 4096)


# ----------------------------------------------------- 7. the lock fails closed
@pytest.mark.parametrize(
    ("value", "locked"), [("enabled", True), ("2", True), ("1", True), ("off", False), ("", False)]
)
def test_an_unrecognized_lock_value_locks_and_says_why(
    served_with: Any, records: Records, value: str, locked: bool
) -> None:
    _, server = served_with({"COMFYUI_HITL_CONFIG_LOCKED": value})
    status, body = call(server, "POST", "/hitl/notify/config", {"push_on_end": True})
    assert status == (409 if locked else 200), body
    warned = [r for r in records.records if "COMFYUI_HITL_CONFIG_LOCKED" in r.getMessage()]
    assert bool(warned) == (value == "enabled" or value == "2")
    assert all(r.levelno == logging.WARNING for r in warned)


# ------------------------------------------- 4. a push never targets this server
def machine_address() -> str | None:
    """This machine's address on its default route (not loopback), if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


SELF_SPELLINGS = [
    "127.0.0.1:{port}",
    "127.1:{port}",
    "2130706433:{port}",
    "0x7f000001:{port}",
    "0177.0.0.1:{port}",
    "0x7f.1:{port}",
    "127.0.0.1.:{port}",
    "127.8.9.10:{port}",
    "[::ffff:127.0.0.1]:{port}",
    "[::ffff:7f00:1]:{port}",
    "[::127.0.0.1]:{port}",
    "[::1]:{port}",
    "0.0.0.0:{port}",
    "0:{port}",
    "[::]:{port}",
    "localhost:{port}",
    "LOCALHOST.:{port}",
    "comfy.localhost:{port}",
    "{machine}:{port}",
    "{address}:{port}",
]


def self_urls(port: int) -> list[str]:
    address = machine_address()
    urls = []
    for spelling in SELF_SPELLINGS:
        if "{address}" in spelling and address is None:
            continue
        host = spelling.format(port=port, machine=socket.gethostname(), address=address)
        urls.append(f"http://{host}/interrupt")
    return urls


@pytest.mark.parametrize("name", ["webhook_url", "ntfy_url"])
def test_a_push_target_on_this_machine_is_refused_in_every_spelling(served_with: Any, name: str) -> None:
    host, server = served_with({})
    for url in self_urls(server.port) + [u.replace(f":{server.port}/", ":9/") for u in self_urls(server.port)]:
        before = (host.settings.describe(), host.settings.path.exists())
        status, body = call(server, "POST", "/hitl/notify/config", {name: url})
        assert (status, body.get("error", {}).get("code")) == (422, "invalid_body"), url
        assert (
            "this machine" in body["error"]["message"]
            and "COMFYUI_HITL_ALLOW_LOOPBACK_PUSH" in body["error"]["message"]
        )
        assert (host.settings.describe(), host.settings.path.exists()) == before


def test_with_loopback_allowed_this_servers_own_port_is_still_refused(served_with: Any) -> None:
    _, server = served_with(LOOPBACK_OK)
    for url in self_urls(server.port):
        status, body = call(server, "POST", "/hitl/notify/config", {"webhook_url": url})
        assert status == 422 and "this server itself" in body["error"]["message"], (url, body)
    # Another port on this machine is a local push server: allowed.
    status, _ = call(server, "POST", "/hitl/notify/config", {"webhook_url": "http://127.0.0.1:9/hook"})
    assert status == 200


def test_a_self_target_from_the_file_or_environment_is_ignored_after_a_restart(
    served_with: Any, tmp_path: Path, records: Records
) -> None:
    (tmp_path / "comfyui-hitl").mkdir()
    (tmp_path / "comfyui-hitl" / "config.json").write_text(
        json.dumps({"webhook_url": "http://127.0.0.1:8188/interrupt"})
    )
    host, _ = served_with({"COMFYUI_HITL_NTFY_URL": "http://[::1]:8188/t"}, user_dir=tmp_path)
    assert host.settings.current().webhook_url is None and host.settings.current().ntfy_url is None
    assert host.pusher.status() == []
    warned = [r.getMessage() for r in records.records if r.levelno == logging.WARNING]
    assert any("webhook_url" in m and "this machine" in m for m in warned), warned
    assert any("COMFYUI_HITL_NTFY_URL" in m for m in warned), warned


def test_a_name_that_resolves_to_this_machine_is_refused_when_it_connects(
    served_with: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    destinations = submodule("server.destinations")
    with Receiver("ok") as receiver:
        port = int(receiver.url.rsplit(":", 1)[1])
        real = socket.getaddrinfo

        def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
            return real("127.0.0.1" if host == "hooks.example" else host, *args, **kwargs)

        monkeypatch.setattr(destinations.socket, "getaddrinfo", rebinding)
        host, server = served_with({"COMFYUI_HITL_WEBHOOK_URL": f"http://hooks.example:{port}/h"})
        status, body = call(server, "POST", "/hitl/notify/test", {})
        assert status == 200 and body["results"][0] | {"latency_ms": None} == {
            "target": "webhook", "format": "json", "url": f"http://hooks.example:{port}/…", "ok": False,
            "status": None, "error": "not delivered", "latency_ms": None,
        }  # fmt: skip
        assert receiver.count() == 0
        assert host.pusher.status()[0]["last_error"] == "not delivered"


def test_the_test_route_tells_only_delivered_or_the_http_status(served_with: Any) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free_port = closed.getsockname()[1]
    _, server = served_with(LOOPBACK_OK)
    with Receiver("fail") as failing, Receiver("hang") as hanging:
        outcomes = {}
        for url in (f"http://127.0.0.1:{free_port}/x", hanging.url + "/x", failing.url + "/x", "http://192.0.2.1:9/"):
            call(server, "POST", "/hitl/notify/config", {"webhook_url": url, "push_timeout_s": 0.5})
            status, body = call(server, "POST", "/hitl/notify/test", {})
            assert status == 200
            [result] = body["results"]
            outcomes[url] = (result["status"], result["error"])
            status_view = call(server, "GET", "/hitl/notify/status")[1]["targets"][0]
            assert status_view["last_error"] == result["error"]
        assert list(outcomes.values()) == [
            (None, "not delivered"),
            (None, "not delivered"),
            (500, "HTTP 500"),
            (None, "not delivered"),
        ]


# ------------------------------------------- 5. whole-mask operations are drawing work
mask_strokes = submodule("images.mask_strokes")
mask_drafts = submodule("images.mask_drafts")


def invert_flood(count: int = 4096) -> dict[str, Any]:
    return {"same_for_all": True, "masks": [[{"op": "invert"}] * count]}


def test_an_invert_flood_counts_as_drawing_and_is_refused() -> None:
    width = height = 64
    budget_ops = mask_strokes.WORK_PER_PIXEL
    # What the flood costs to draw is one pass over the mask per operation (timed on a small image) ...
    flood = mask_strokes.parse_answer(invert_flood(budget_ops), count=1, width=width, height=height)
    assert flood.work == (budget_ops * width * height,)
    started = time.perf_counter()
    mask_strokes.draw_answer(flood, 1, height, width, [None])
    per_op = (time.perf_counter() - started) / budget_ops
    # ... so 4,096 of them at 2048² would be seconds of a core: the work bound refuses them.
    with pytest.raises(ValueError, match="too complex to draw"):
        mask_strokes.parse_answer(invert_flood(), count=1, width=2048, height=2048)
    with pytest.raises(ValueError, match="too complex to draw"):
        mask_strokes.parse_answer(invert_flood(budget_ops + 1), count=1, width=width, height=height)
    assert per_op < 0.01


def test_an_invert_flood_is_refused_over_http_as_an_answer_and_as_a_draft(
    harness: tuple[HarnessHost, HarnessServer],
) -> None:
    host, server = harness
    drafts = mask_drafts.MaskDrafts(1, 2048, 2048, [None])
    request = host.registry.open(
        "mask-painter",
        prompt_id="p",
        node_id="1",
        validate=functools.partial(mask_strokes.parse_answer, count=1, width=2048, height=2048),
        resources=drafts,
    )
    for route in ("draft", "answer"):
        started = time.perf_counter()
        status, body = call(server, "POST", P.ROUTES[route].format(request_id=request.id), {"value": invert_flood()})
        assert (status, body["error"]["code"]) == (422, "invalid_answer"), body
        assert "too complex to draw" in body["error"]["message"]
        assert time.perf_counter() - started < 1.0
    assert drafts.drafts == 0 and request.state == "waiting"
    host.registry.cancel(request.id)
    drafts.close()


def test_the_browser_counts_the_same_work_as_the_server() -> None:
    rng = np.random.default_rng(26)
    for width, height in ((256, 256), (97, 411)):
        ops = random_mask_ops(rng, width, height, 30)
        server_work = mask_strokes.parse_answer({"masks": [ops]}, count=1, width=width, height=height).work[0]
        browser_work = node_work(width, height, ops)
        assert abs(server_work - browser_work) <= 1 + 1e-9 * server_work, (server_work, browser_work)
    assert node_work(64, 64, [{"op": "invert"}] * 3) == 3 * 64 * 64


def random_mask_ops(rng: np.random.Generator, width: int, height: int, count: int) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    for _ in range(count):
        if rng.random() < 0.1:
            ops.append({"op": str(rng.choice(["clear", "invert", "fill"]))})
            continue
        points = [int(v) for v in rng.integers(0, 4 * min(width, height), 2 * int(rng.integers(1, 8)))]
        ops.append({"op": "brush", "size": int(rng.integers(1, 90)), "hardness": 0.5, "points": points})
    return ops


def node_work(width: int, height: int, ops: list[dict[str, Any]]) -> float:
    """The work web/mask_strokes.js counts for ``ops`` (its MaskDoc, run by Node)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run web/mask_strokes.js")
    script = (
        "import { MaskDoc } from './web/mask_strokes.js';"
        "let text = ''; for await (const chunk of process.stdin) text += chunk;"
        "const { width, height, ops } = JSON.parse(text);"
        "const doc = new MaskDoc(width, height, null); doc.replay(ops); process.stdout.write(String(doc.work));"
    )
    output = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=Path(__file__).resolve().parent.parent,
        input=json.dumps({"width": width, "height": height, "ops": ops}),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return float(output)


def test_drafts_that_come_while_one_is_drawn_are_dropped_not_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    release, drawing = threading.Event(), threading.Event()
    calls: list[int] = []
    real_draw = mask_drafts.draw

    def slow_draw(ops: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(len(ops))
        drawing.set()
        release.wait(10)
        return real_draw(ops, *args, **kwargs)

    monkeypatch.setattr(mask_drafts, "draw", slow_draw)
    drafts = mask_drafts.MaskDrafts(1, 32, 32, [None])
    fill = {"masks": [[{"op": "fill"}]]}
    drafts.offer(fill)
    assert drawing.wait(10)
    for _ in range(5):
        drafts.offer({"masks": [[{"op": "invert"}, {"op": "clear"}]]})
    release.set()
    assert drafts.wait_idle(10)
    assert drafts.drafts == 1 and drafts.dropped == 5
    assert len(calls) == 2  # the first draft only: its start, then its one operation
    drafts.close()


# ------------------------------------------------ 6 and 10. the audit file itself
audit_module = submodule("server.audit")
history_module = submodule("server.history")
state = submodule("state")


def end_doublers(host: HarnessHost, count: int, label: str) -> list[str]:
    ids = []
    for n in range(count):
        request = host.registry.open("integer-doubler", prompt_id="p", node_id=str(n), node_label=f"{label} {n}")
        host.registry.answer(request.id, 2 * n)
        ids.append(request.id)
    assert host.audit.flush()
    return ids


def test_a_torn_last_line_costs_no_record_written_after_it(tmp_path: Path) -> None:
    host = HarnessHost(user_dir=tmp_path)
    before = end_doublers(host, 2, "before")
    host.close()
    path = tmp_path / "comfyui-hitl" / "audit.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # a crash mid-write: the last record is cut short
    host = HarnessHost(user_dir=tmp_path)
    after = end_doublers(host, 3, "after")
    host.close()
    lines = path.read_bytes().split(b"\n")
    readable = [json.loads(line)["id"] for line in lines if line.startswith(b"{") and line.endswith(b"}")]
    assert readable == [before[0], *after]  # the fragment stays alone on its line, unreadable
    host = HarnessHost(user_dir=tmp_path)
    try:
        assert [entry.request_id for entry in host.audit.recent(10)] == [*reversed(after), before[0]]
    finally:
        host.close()


def test_the_audit_log_is_for_its_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "comfyui-hitl"
    folder.mkdir()
    (folder / "audit.jsonl").write_text("")
    (folder / "audit.jsonl").chmod(0o644)  # as an older version left it
    settings = submodule("server.settings").SettingsStore(tmp_path, environ={"COMFYUI_HITL_AUDIT_MAX_BYTES": "4096"})
    log = audit_module.AuditLog(tmp_path, settings.current)
    registry = state.RequestRegistry(history_log=log)
    for n in range(30):  # enough to rotate
        request = registry.open("integer-doubler", prompt_id="p", node_id=str(n), node_label="x" * 200)
        registry.cancel(request.id)
    assert log.flush()
    log.close()
    files = sorted(folder.glob("audit*.jsonl"))
    assert len(files) >= 2
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: "0o600" for f in files}


# ---------------------------------------------------- 8. every recorded text is bounded
BIG = 2 * 1024 * 1024


def test_a_two_mib_title_and_message_make_bounded_events_records_and_history(
    harness: tuple[HarnessHost, HarnessServer],
) -> None:
    host, server = harness
    workflow = {"workflow": {"nodes": [{"id": 7, "title": "T" * BIG}]}}
    for _ in range(4):
        after = host.event_count()
        run = host.submit(
            "HitlValuePrompt",
            {
                "value_type": "STRING",
                "title": "t" * BIG,
                "message": "m" * BIG,
                "max_length": 60_000,
                "unique_id": "7",
                "extra_pnginfo": workflow,
            },
        )
        view = host.wait_for(lambda v: v.get("state") == "waiting", after=after)
        assert len(json.dumps(view)) < 16_000, len(json.dumps(view))  # the websocket event
        assert len(view["node_label"]) <= state.MAX_NODE_LABEL_LENGTH
        assert len(view["payload"]["title"]) <= state.MAX_TITLE_LENGTH
        assert len(view["payload"]["message"]) <= state.MAX_MESSAGE_LENGTH
        status, body = call(server, "GET", "/hitl/requests")
        assert status == 200 and len(json.dumps(body)) < 16_000
        status, _ = call(server, "POST", P.ROUTES["answer"].format(request_id=view["id"]), {"value": "a" * 50_000})
        assert status == 200 and run.wait().status == "success"
    assert host.audit.flush()
    sizes = [len(line) for line in host.audit.path.read_bytes().splitlines()]
    assert max(sizes) <= history_module.MAX_RECORD_BYTES, sizes
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(http_request("GET", "/hitl/history?limit=200", f"127.0.0.1:{server.port}"))
        status, raw = read_response(connection)
    assert status == 200 and len(raw) <= server_routes.HISTORY_MAX_BYTES
    assert len(json.loads(raw)["history"]) == 4


def test_the_history_route_stops_at_its_byte_cap(
    harness: tuple[HarnessHost, HarnessServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    host, server = harness
    end_doublers(host, 30, "L" * 150)
    one = len(json.dumps(host.audit.recent(1)[0].as_json()))
    monkeypatch.setattr(server_routes, "HISTORY_MAX_BYTES", 10 * one)
    status, body = call(server, "GET", "/hitl/history?limit=30")
    assert status == 200 and body["truncated"] is True and 5 <= len(body["history"]) < 10
    assert [e["id"] for e in body["history"]] == [e.request_id for e in host.audit.recent(len(body["history"]))]
    monkeypatch.setattr(server_routes, "HISTORY_MAX_BYTES", 1 << 20)
    status, body = call(server, "GET", "/hitl/history?limit=30")
    assert len(body["history"]) == 30 and body["truncated"] is False


# ----------------------------------------------------------- 10. the small ones
def test_a_null_client_id_is_refused_as_the_schema_says(harness: tuple[HarnessHost, HarnessServer]) -> None:
    host, server = harness
    request = host.registry.open("integer-doubler", prompt_id="p", node_id="1", payload={"value": 2})
    for route, body in (("answer", {"value": 4, "client_id": None}), ("cancel", {"client_id": None})):
        status, refusal = call(server, "POST", P.ROUTES[route].format(request_id=request.id), body)
        assert (status, refusal["error"]["code"]) == (422, "invalid_body"), refusal
    assert request.state == "waiting"
    host.registry.cancel(request.id)


@pytest.mark.parametrize("name", [".localhost", "..localhost", "a..localhost", ".localhost:8188"])
def test_an_empty_label_before_localhost_is_not_a_host_of_ours(
    harness: tuple[HarnessHost, HarnessServer], name: str
) -> None:
    _, server = harness
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(http_request("GET", "/hitl/requests", name))
        status, body = read_response(connection)
    assert status == 403 and json.loads(body)["error"]["code"] == "forbidden_host"
