"""Pushes (_push.py) against local receivers: every format arrives within a second of the
node starting with the right deep link; a receiver that hangs or fails changes no resume
latency, blocks nothing and leaves no thread behind; retries, the bounded queue, the test
and status routes, and workflow text that tries to inject headers or mentions."""

from __future__ import annotations

import base64
import email.header
import http.client
import itertools
import json
import logging
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from receivers import Receiver

from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.pack import submodule

push = submodule("server.push")
settings_module = submodule("server.settings")
state = submodule("state")
describe = submodule("server.describe")

PUBLIC = "http://192.168.1.20:8188"
#: The receivers listen on loopback: a push to this machine must be allowed (never the server's port).
LOCAL = {"COMFYUI_HITL_ALLOW_LOOPBACK_PUSH": "1"}


def decode_header(value: str) -> str:
    """A header as ntfy reads it (RFC 2047 encoded words decoded)."""
    return str(email.header.make_header(email.header.decode_header(value)))


def call(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver("ok") as ok:
        yield ok


def picker_inputs() -> dict[str, Any]:
    from dev.harness.batches import materialize

    return materialize(
        {
            "images": {"generate": "colors", "batch": 8, "size": 16},
            "mode": "always ask",
            "min_picks": 2,
            "max_picks": 4,
            "title": "Keep the best",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
        }
    )


@pytest.mark.parametrize("fmt", ["ntfy", "json", "discord", "slack"])
def test_each_format_arrives_within_a_second_with_the_deep_link(receiver: Receiver, fmt: str) -> None:
    environ = {**LOCAL, "COMFYUI_HITL_PUBLIC_URL": PUBLIC + "/"}
    if fmt == "ntfy":
        environ |= {"COMFYUI_HITL_NTFY_URL": receiver.url + "/my-topic", "COMFYUI_HITL_NTFY_TOKEN": "tk_secret123456"}
    else:
        environ |= {"COMFYUI_HITL_WEBHOOK_URL": receiver.url + "/hook?token=t", "COMFYUI_HITL_WEBHOOK_FORMAT": fmt}
    host = HarnessHost(environ=environ)
    try:
        started = time.perf_counter()
        run = host.submit("HitlImagePicker", picker_inputs(), node_id="12")
        [view] = host.wait_waiting(run)
        [got] = receiver.wait_for(1, timeout=5)
        assert got.at - started < 1.0, f"{(got.at - started) * 1000:.0f} ms"
        link = f"{PUBLIC}/hitl/inbox?request={view['id']}"
        title = "Image Picker (browser) #12: Keep the best (pick 2–4 of 8)"
        assert describe.describe_request(view) == title
        if fmt == "ntfy":
            assert got.path == "/my-topic"
            assert decode_header(got.headers["Title"]) == title
            assert got.headers["Title"].startswith("=?UTF-8?B?")  # the en dash is not ASCII
            assert got.headers["Click"] == link and got.headers["Priority"] == "4"
            assert got.headers["Authorization"] == "Bearer tk_secret123456"
            assert got.headers["Content-Type"].startswith("text/plain")
            assert "waiting for you" in got.body.decode()
        else:
            assert got.path == "/hook?token=t" and got.headers["Content-Type"] == "application/json"
            body = json.loads(got.body)
            if fmt == "json":
                assert body["event"] == "request_opened" and body["url"] == link and body["title"] == title
                assert body["request"]["id"] == view["id"] and body["request"]["payload"]["count"] == 8
            elif fmt == "discord":
                assert link in body["content"] and "Image Picker \\(browser\\) \\#12" in body["content"]
                assert body["allowed_mentions"] == {"parse": []}
            else:
                assert f"<{link}|Open the request>" in body["text"] and title in body["text"]
        host.registry.answer(view["id"], [3, 1])
        assert run.wait().status == "success"
        host.pusher.wait_settled()
        assert host.pusher.status()[0]["sent"] == 1 and receiver.count() == 1  # no end push unless asked
    finally:
        host.close()
    assert not host.pusher.threads()


def test_no_public_url_means_no_link_and_says_so(receiver: Receiver) -> None:
    host = HarnessHost(environ={**LOCAL, "COMFYUI_HITL_NTFY_URL": receiver.url + "/t"})
    try:
        request = host.registry.open("integer-doubler", prompt_id="p", node_id="1", payload={"value": 3})
        [got] = receiver.wait_for(1)
        assert "Click" not in got.headers and "public URL" in got.body.decode()
        host.registry.cancel(request.id)
    finally:
        host.close()


def test_push_on_end_says_how_and_from_where_it_ended(receiver: Receiver) -> None:
    host = HarnessHost(
        environ={
            **LOCAL,
            "COMFYUI_HITL_WEBHOOK_URL": receiver.url,
            "COMFYUI_HITL_PUSH_ON_END": "yes",
            "COMFYUI_HITL_PUBLIC_URL": PUBLIC,
        }
    )
    try:
        question = submodule("questions.doubler").DoublerQuestion(3)
        request = host.registry.open(
            "integer-doubler", prompt_id="p", node_id="4", payload={"value": 3}, summary="3 × 2", question=question
        )
        by = state.Provenance(surface="comfyui-tab", client_id="abc123")
        host.registry.answer(request.id, 6, by=by)
        opened, ended = (json.loads(r.body) for r in receiver.wait_for(2))
        assert opened["event"] == "request_opened"
        assert ended["event"] == "request_ended" and ended["title"] == "Answered: Node #4: 3 × 2"
        # People's words for where it was answered, and what was answered.
        assert ended["message"].startswith("Answered in the ComfyUI tab after ") and ended["message"].endswith(" s: 6.")
        assert "comfyui-tab" not in ended["message"] and ended["url"].endswith(request.id)
        assert ended["record"]["answer"] == 6 and ended["record"]["by"]["client_id"] == "abc123"
    finally:
        host.close()


def test_workflow_text_cannot_inject_headers_or_mentions(receiver: Receiver) -> None:
    with Receiver("ok") as discord:
        host = HarnessHost(
            environ={
                **LOCAL,
                "COMFYUI_HITL_NTFY_URL": receiver.url + "/t",
                "COMFYUI_HITL_WEBHOOK_URL": discord.url,
                "COMFYUI_HITL_WEBHOOK_FORMAT": "discord",
            }
        )
        try:
            evil = "Steps\r\nX-Injected: 1\n@everyone <@&123> https://evil.example/"
            host.registry.open(
                "value-prompt",
                prompt_id="p",
                node_id="9",
                node_label="Evil\r\nX-Other: 2",
                payload={"type": "INT", "title": evil, "message": evil, "min": 1, "max": 60},
                summary=evil,
            )
            [got] = receiver.wait_for(1)
            [hook] = discord.wait_for(1)
        finally:
            host.close()
    assert "X-Injected" not in got.headers and "X-Other" not in got.headers
    title = decode_header(got.headers["Title"])
    assert "\n" not in title and "\r" not in title
    assert title.startswith("Evil X-Other: 2: Steps X-Injected: 1 @everyone")
    body = json.loads(hook.body)
    assert body["allowed_mentions"] == {"parse": []}
    # Only the configured URLs were contacted: a URL in workflow text is just text.
    assert receiver.count() == 1 and discord.count() == 1


def test_retries_with_backoff_then_gives_up_and_the_status_says_why() -> None:
    with Receiver("fail") as failing:
        store = settings_module.SettingsStore(None, environ={**LOCAL, "COMFYUI_HITL_WEBHOOK_URL": failing.url + "/h"})
        pusher = push.Pusher(store, backoff=(0.05, 0.1))
        try:
            pusher.request_opened({"id": "r1", "kind": "integer-doubler", "payload": {"value": 1}, "timeout_s": 0})
            attempts = failing.wait_for(3)
            assert pusher.wait_settled(5)
            gaps = [b.at - a.at for a, b in itertools.pairwise(attempts)]
            assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # backed off, growing
            [status] = pusher.status()
            assert status["failed"] == 1 and status["sent"] == 0 and status["last_error"] == "HTTP 500"
            assert status["last_failure_at"].endswith("Z") and status["last_success_at"] is None
            assert status["url"] == failing.url + "/…"  # masked (too short for a tail)
            assert failing.count() == 3
        finally:
            pusher.close()
        assert not pusher.threads()


@pytest.mark.parametrize("status", [400, 404, 410])
def test_client_errors_are_not_retried(status: int) -> None:
    with Receiver("fail", status=status) as refusing:
        store = settings_module.SettingsStore(None, environ={**LOCAL, "COMFYUI_HITL_WEBHOOK_URL": refusing.url})
        pusher = push.Pusher(store, backoff=(0.01, 0.01))
        try:
            pusher.request_opened({"id": "r1", "kind": "x", "payload": {}, "timeout_s": 0})
            assert pusher.wait_settled(5)
            assert refusing.count() == 1 and pusher.status()[0]["last_error"] == f"HTTP {status}"
        finally:
            pusher.close()


def test_redirects_are_not_followed() -> None:
    with Receiver("ok") as elsewhere, Receiver("redirect", redirect_to="") as redirecting:
        redirecting.redirect_to = elsewhere.url + "/stolen"
        store = settings_module.SettingsStore(None, environ={**LOCAL, "COMFYUI_HITL_NTFY_URL": redirecting.url + "/t"})
        pusher = push.Pusher(store, backoff=())
        try:
            pusher.request_opened({"id": "r1", "kind": "x", "payload": {}, "timeout_s": 0})
            assert pusher.wait_settled(5)
            assert redirecting.count() == 1 and elsewhere.count() == 0
            assert pusher.status()[0]["last_error"] == "HTTP 302 (redirects are not followed)"
        finally:
            pusher.close()


def test_queue_is_bounded_and_queueing_never_waits() -> None:
    with Receiver("hang") as hanging:
        store = settings_module.SettingsStore(
            None, environ={**LOCAL, "COMFYUI_HITL_WEBHOOK_URL": hanging.url, "COMFYUI_HITL_PUSH_TIMEOUT_S": "1"}
        )
        pusher = push.Pusher(store)
        registry = state.RequestRegistry(observers=[pusher])
        try:
            durations = []
            for n in range(200):
                started = time.perf_counter()
                request = registry.open("integer-doubler", prompt_id="p", node_id=str(n), payload={"value": n})
                durations.append(time.perf_counter() - started)
                registry.cancel(request.id)
            hanging.wait_for(1)
            status = pusher.status()[0]
            # One push in flight (hanging), the queue full, the rest dropped and counted.
            assert status["queued"] <= push.QUEUE_SIZE and status["queued"] + status["dropped"] == 199
            assert statistics.median(durations) < 0.001 and max(durations) < 0.05, max(durations)
        finally:
            closing = time.perf_counter()
            pusher.close()
            # The worker ends after its current attempt: within the 1 s send timeout.
            assert time.perf_counter() - closing < 2.5
        assert not pusher.threads()


def test_settings_change_retargets_at_once_and_stops_old_workers() -> None:
    with Receiver("ok") as first, Receiver("ok") as second:
        store = settings_module.SettingsStore(None, environ=LOCAL)
        pusher = push.Pusher(store)
        try:
            assert pusher.status() == [] and not pusher.threads()
            store.update({"webhook_url": first.url})
            pusher.request_opened({"id": "a", "kind": "x", "payload": {}, "timeout_s": 0})
            first.wait_for(1)
            store.update({"webhook_url": second.url, "webhook_format": "slack"})
            pusher.request_opened({"id": "b", "kind": "x", "payload": {}, "timeout_s": 0})
            [got] = second.wait_for(1)
            assert "text" in json.loads(got.body) and first.count() == 1
            assert len(pusher.threads()) == 1  # the first target's worker has ended
            store.update({"webhook_url": None})
            assert pusher.status() == []
        finally:
            pusher.close()
        assert not pusher.threads()


# ------------------------------------------------------------------ resume latency
def answer_latency(server: HarnessServer, connection: http.client.HTTPConnection, value: int) -> float:
    """Queue a doubler, wait until it waits, answer over HTTP: ms from sending the answer to
    the node returning (the harness stamps that inside the worker)."""
    host = server.host
    run = host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": 60})
    [view] = host.wait_waiting(run)
    body = json.dumps({"value": value * 2, "surface": "api"})
    sent = time.perf_counter()
    connection.request("POST", f"/hitl/requests/{view['id']}/answer", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    run.wait()
    assert run.status == "success" and run.node_ended_at is not None
    return (run.node_ended_at - sent) * 1000


def test_hanging_or_failing_webhook_changes_no_resume_latency() -> None:
    """The same runs answered over HTTP with no webhook, one that never answers and one that
    answers 500 (its retries going on in the background), in interleaved blocks of one run:
    the medians must agree within 1 ms, and closing leaves no thread behind."""
    host = HarnessHost(push_backoff=(0.02, 0.05), environ=LOCAL)
    server = HarnessServer(host)
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    hanging, failing = Receiver("hang"), Receiver("fail")
    latencies: dict[str, list[float]] = {"none": [], "hang": [], "fail": []}
    urls = {"none": None, "hang": hanging.url, "fail": failing.url}
    try:
        host.settings.update({"push_on_end": True, "push_timeout_s": 1.0})
        for value in range(4):  # warm-up: connections, imports, first threads
            answer_latency(server, connection, value)
        rounds, block = 8, 5
        receivers = {"hang": hanging, "fail": failing}
        for n in range(rounds):
            for name in ["none", "hang", "fail"] if n % 2 == 0 else ["fail", "hang", "none"]:
                # A new target (its worker starts); one unmeasured run whose push must reach the
                # receiver, so the measured runs meet a live target: hung, or failing and retrying.
                got = receivers[name].count() if name in receivers else 0
                host.settings.update({"webhook_url": urls[name]})
                answer_latency(server, connection, -1)
                if name in receivers:
                    receivers[name].wait_for(got + 1)
                latencies[name].extend(answer_latency(server, connection, n * block + k) for k in range(block))
        medians = {name: statistics.median(values) for name, values in latencies.items()}
        logging.getLogger(__name__).info("resume latency medians (ms): %s", medians)
        assert medians["hang"] - medians["none"] < 1.0, medians
        assert medians["fail"] - medians["none"] < 1.0, medians
    finally:
        connection.close()
        server.stop()
        host.close()  # joins the push workers: each ends within its 1 s send timeout
        hanging.stop()
        failing.stop()
    assert not host.pusher.threads()
    assert not [t.name for t in threading.enumerate() if t.name.startswith("comfyui-hitl")]


# ---------------------------------------------------------------------- the routes
@pytest.fixture
def served() -> Iterator[HarnessServer]:
    """The harness, allowed to push to this machine (the receivers), never to itself."""
    host = HarnessHost(environ=LOCAL)
    server = HarnessServer(host)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        host.close()


def test_test_push_route_reports_each_target_and_status_keeps_the_last(served: HarnessServer) -> None:
    host = served.host
    status, body = call(served.url, "POST", "/hitl/notify/test", {})
    assert (status, body) == (200, {"results": []})
    with Receiver("ok") as ok, Receiver("fail") as failing:
        status, _ = call(
            served.url, "POST", "/hitl/notify/config", {"ntfy_url": ok.url + "/t", "webhook_url": failing.url + "/w"}
        )
        assert status == 200
        status, body = call(served.url, "POST", "/hitl/notify/test", {})
        assert status == 200
        ntfy, webhook = body["results"]
        assert ntfy["target"] == "ntfy" and ntfy["ok"] is True and ntfy["status"] == 200
        assert webhook["ok"] is False and webhook["status"] == 500 and webhook["error"] == "HTTP 500"
        assert failing.count() == 1  # a test push is tried once: the answer comes at once
        [got] = ok.wait_for(1)
        assert decode_header(got.headers["Title"]) == "ComfyUI human-in-the-loop: test push"
        status, body = call(served.url, "GET", "/hitl/notify/status")
        targets = {t["target"]: t for t in body["targets"]}
        assert targets["ntfy"]["last_success_at"] and targets["ntfy"]["last_error"] is None
        assert targets["webhook"]["last_error"] == "HTTP 500" and targets["webhook"]["failed"] == 1
        assert body["audit"]["file"] == str(host.audit.path)
        # Secrets never come back in full, anywhere.
        for path in ("/hitl/notify/status", "/hitl/notify/config"):
            text = json.dumps(call(served.url, "GET", path)[1])
            assert ok.url + "/t" not in text and failing.url + "/w" not in text


def test_test_push_route_does_not_wait_longer_than_the_timeout(served: HarnessServer) -> None:
    with Receiver("hang") as hanging:
        call(served.url, "POST", "/hitl/notify/config", {"webhook_url": hanging.url, "push_timeout_s": 0.5})
        started = time.perf_counter()
        status, body = call(served.url, "POST", "/hitl/notify/test", {})
        elapsed = time.perf_counter() - started
        assert status == 200 and body["results"][0]["ok"] is False
        assert body["results"][0]["error"] == "not delivered"  # never why: no port scanner
        assert elapsed < 0.5 + 1.0 + 0.5


def test_header_text_is_ascii_or_rfc2047() -> None:
    assert push._header_text("plain title") == "plain title"
    encoded = push._header_text("pick 2–4 🙂")
    assert encoded == "=?UTF-8?B?" + base64.b64encode("pick 2–4 🙂".encode()).decode() + "?="
    assert decode_header(encoded) == "pick 2–4 🙂"
