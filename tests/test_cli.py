"""cli.py against the harness server, run as a user runs it (``python cli.py ...``, with no
site-packages at all: the standard library only), plus its hand-made websocket client."""

from __future__ import annotations

import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dev.harness.host import HarnessHost, HarnessServer, NodeCall, Run
from dev.harness.pack import ROOT, submodule

CLI = ROOT / "cli.py"
cli_module = submodule("cli")


def run_cli(*args: str, urls: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``python -S -E cli.py --url ... args``: -S leaves site-packages out, so a third-party
    import would fail; the interpreter is this one, but nothing of the venv is visible."""
    command = [sys.executable, "-S", "-E", str(CLI)]
    for url in urls:
        command += ["--url", url]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, cwd="/", env={"COLUMNS": "200"}
    )


def two_requests(host: HarnessHost) -> tuple[Run, dict[str, Any], dict[str, Any]]:
    run = host.submit_many(
        [
            NodeCall(
                "7",
                "HitlValuePrompt",
                {
                    "value_type": "INT",
                    "title": "Steps",
                    "default": "20",
                    "minimum": "1",
                    "maximum": "60",
                    "timeout_seconds": 600,
                },
            ),
            NodeCall("8", "HitlIntegerDoubler", {"value": 21, "ask_first": True, "timeout_seconds": 0}),
        ]
    )
    views = host.wait_waiting(run, count=2)
    prompt = next(v for v in views if v["kind"] == "value-prompt")
    doubler = next(v for v in views if v["kind"] == "integer-doubler")
    return run, prompt, doubler


def test_list_as_a_table_and_as_json(host: HarnessHost, served: HarnessServer) -> None:
    empty = run_cli("list", urls=[served.url])
    assert empty.returncode == 0 and empty.stdout.strip() == "Nothing is waiting."
    run, prompt, doubler = two_requests(host)
    result = run_cli("list", urls=[served.url])
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["ID", "NODE", "ASKS", "WAITING", "LEFT", "PROMPT"]
    by_id = {line.split()[0]: line for line in rows}
    assert set(by_id) == {prompt["id"], doubler["id"]}
    assert "Value Prompt (ask a person) #7" in by_id[prompt["id"]] and "Steps (INT 1–60)" in by_id[prompt["id"]]
    assert "10:00" in by_id[prompt["id"]] or "9:5" in by_id[prompt["id"]]  # its countdown
    assert "21 × 2" in by_id[doubler["id"]] and run.prompt_id[:8] in by_id[doubler["id"]]
    listed = json.loads(run_cli("list", "--json", urls=[served.url]).stdout)
    assert {item["id"] for item in listed} == {prompt["id"], doubler["id"]}
    assert all(item["server"] == served.url and item["state"] == "waiting" for item in listed)
    host.registry.reset_all()


def test_show_a_waiting_then_an_ended_request(host: HarnessHost, served: HarnessServer) -> None:
    _, prompt, _ = two_requests(host)
    shown = run_cli("show", prompt["id"], urls=[served.url])
    assert shown.returncode == 0, shown.stderr
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines() if line[:1].isalpha())
    assert fields["node"] == "Value Prompt (ask a person) #7" and fields["kind"] == "value-prompt"
    assert fields["state"].startswith("waiting for 0:0") and fields["state"].endswith("left")
    assert '"max": 60' in shown.stdout  # the payload, as JSON
    host.registry.answer(prompt["id"], 33)
    shown = run_cli("show", prompt["id"], urls=[served.url])
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines() if line[:1].isalpha())
    assert fields["state"].startswith("answered just now (") and "after waiting 0:0" in fields["state"]
    assert fields["answer"] == "33" and fields["by"] == "api (claimed)"  # a direct call: no client said more
    as_json = json.loads(run_cli("show", prompt["id"], "--json", urls=[served.url]).stdout)
    assert as_json["request"]["outcome"] == "answered" and as_json["server"] == served.url and as_json["now"]
    host.registry.reset_all()


def test_answer_resumes_the_run_and_a_refusal_prints_the_servers_message(
    host: HarnessHost, served: HarnessServer
) -> None:
    run, prompt, doubler = two_requests(host)
    refused = run_cli("answer", prompt["id"], "500", urls=[served.url])
    assert refused.returncode == 1
    assert "500 is above the maximum 60" in refused.stderr and "422 invalid_answer" in refused.stderr
    assert host.registry.get(prompt["id"]).state == "waiting"  # a refusal changes nothing
    wrong_type = run_cli("answer", prompt["id"], '"42"', urls=[served.url])  # JSON text is no INT
    assert wrong_type.returncode == 2 and "expected a whole number" in wrong_type.stderr
    answered = run_cli("answer", prompt["id"], "42", urls=[served.url])
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.startswith(f"answered {prompt['id']} (Value Prompt (ask a person) #7)")
    again = run_cli("answer", prompt["id"], "43", urls=[served.url])
    assert again.returncode == 1 and "request is answered" in again.stderr and "409 not_waiting" in again.stderr
    unknown = run_cli("answer", "no-such-id", "1", urls=[served.url])
    assert unknown.returncode == 1 and "no such request" in unknown.stderr
    assert run_cli("answer", doubler["id"], "42", urls=[served.url]).returncode == 0
    outputs = run.wait().outputs
    assert [out["result"][0] for out in outputs] == [42, 42]
    # The audit record says the CLI answered (a claim; the address is the server's own view).
    for out in outputs:
        [record] = out["ui"]["hitl_audit"]
        assert (record["by"]["surface"], record["by"]["source"], record["by"]["remote"]) == (
            "cli",
            "client",
            "127.0.0.1",
        )
        assert record["by"]["user_agent"].startswith("comfyui-hitl-cli/")


@pytest.mark.parametrize("value", ["hello", "NaN", "{broken", ""])
def test_an_answer_that_does_not_read_is_a_usage_error(host: HarnessHost, served: HarnessServer, value: str) -> None:
    _, prompt, _ = two_requests(host)
    result = run_cli("answer", prompt["id"], value, urls=[served.url])
    assert result.returncode == 2 and "a whole number from 1 to 60" in result.stderr
    assert f"cli.py answer {prompt['id']} 20" in result.stderr  # the hint's example reads
    assert host.registry.get(prompt["id"]).state == "waiting"  # nothing was sent
    assert run_cli("answer", "some-id", "1", urls=[served.url]).returncode == 1
    host.registry.reset_all()


def test_cancel_ends_the_run_as_interrupted(host: HarnessHost, served: HarnessServer) -> None:
    run, prompt, _ = two_requests(host)
    result = run_cli("cancel", prompt["id"], urls=[served.url])
    assert result.returncode == 0 and result.stdout.startswith(f"cancelled {prompt['id']}")
    assert run.wait().status == "interrupted"
    assert host.audit.find(prompt["id"]).by["surface"] == "cli"
    again = run_cli("cancel", prompt["id"], urls=[served.url])
    assert again.returncode == 1 and "not_waiting" in again.stderr


def test_history_lists_what_ended_and_how(host: HarnessHost, served: HarnessServer) -> None:
    assert run_cli("history", urls=[served.url]).stdout.strip() == "No request has ended yet."
    run, prompt, doubler = two_requests(host)
    host.registry.answer(doubler["id"], 42)
    assert run_cli("cancel", prompt["id"], urls=[served.url]).returncode == 0
    run.wait()
    result = run_cli("history", urls=[served.url])
    header, newest, oldest = result.stdout.splitlines()
    assert header.split()[:3] == ["ENDED", "OUTCOME", "BY"]
    assert newest.split()[2:4] == ["cancelled", "cli"] and prompt["id"] in newest  # who: from the record
    assert "answered" in oldest and " api " in oldest and " 42 " in oldest and doubler["id"] in oldest
    entries = json.loads(run_cli("history", "--json", "--limit", "1", urls=[served.url]).stdout)
    assert [entry["id"] for entry in entries] == [prompt["id"]]
    assert run_cli("history", "--limit", "0", urls=[served.url]).returncode == 2


@pytest.fixture
def second_server() -> Iterator[tuple[HarnessHost, HarnessServer]]:
    host = HarnessHost()
    server = HarnessServer(host)
    server.start()
    try:
        yield host, server
    finally:
        server.stop()
        host.close()


def test_several_servers_in_one_table(
    host: HarnessHost, served: HarnessServer, second_server: tuple[HarnessHost, HarnessServer]
) -> None:
    other_host, other = second_server
    here = host.submit("HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0})
    there = other_host.submit("HitlIntegerDoubler", {"value": 2, "ask_first": True, "timeout_seconds": 0})
    here_id = host.wait_waiting(here)[0]["id"]
    there_id = other_host.wait_waiting(there)[0]["id"]
    urls = [served.url, other.url]
    result = run_cli("list", urls=urls)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[-1] == "SERVER"
    servers = {line.split()[0]: line.split()[-1] for line in rows}
    assert servers == {here_id: served.url, there_id: other.url}
    # answer/show find the server that has the id (ids are unique across servers).
    assert run_cli("answer", there_id, "4", urls=urls).stdout.endswith(f"on {other.url}\n")
    assert there.wait().outputs[0]["result"] == (4,)
    assert f"server  {served.url}" in run_cli("show", here_id, urls=urls).stdout
    assert run_cli("answer", here_id, "2", urls=urls).returncode == 0
    assert here.wait().outputs[0]["result"] == (2,)
    unknown = run_cli("show", "nowhere", urls=urls)
    assert unknown.returncode == 1 and "no request nowhere on any of these servers" in unknown.stderr


def test_an_unreachable_server_is_said_and_the_others_still_listed(host: HarnessHost, served: HarnessServer) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    run = host.submit("HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0})
    request_id = host.wait_waiting(run)[0]["id"]
    result = run_cli("list", urls=[served.url, dead])
    assert result.returncode == 3 and f"cannot reach {dead}" in result.stderr
    assert request_id in result.stdout
    alone = run_cli("list", urls=[dead])
    assert alone.returncode == 3 and alone.stdout == ""
    assert run_cli("list", urls=["ftp://example.com"]).returncode == 2
    host.registry.cancel(request_id)


class LineReader:
    """The lines a process prints, as they come (a thread reads; tests wait on a queue)."""

    def __init__(self, stream: Any) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def next_matching(self, text: str, timeout: float = 15) -> str:
        while True:
            line = self.lines.get(timeout=timeout)
            if text in line:
                return line


@pytest.fixture
def watch(served: HarnessServer) -> Iterator[Any]:
    processes: list[subprocess.Popen[str]] = []

    def start(*extra: str, urls: list[str] | None = None) -> tuple[subprocess.Popen[str], LineReader, LineReader]:
        command = [sys.executable, "-S", "-E", str(CLI)]
        for url in urls or [served.url]:
            command += ["--url", url]
        process = subprocess.Popen(
            [*command, "watch", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/"
        )
        processes.append(process)
        return process, LineReader(process.stdout), LineReader(process.stderr)

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def test_watch_prints_requests_as_they_open_and_end_until_ctrl_c(host: HarnessHost, watch: Any) -> None:
    before = host.submit("HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0})
    before_id = host.wait_waiting(before)[0]["id"]
    process, out, _ = watch()
    assert "waiting" in out.next_matching(before_id)  # what already waits is said first
    host.registry.answer(before_id, 2)
    line = out.next_matching(before_id)
    assert line.split()[1] == "answered" and "Integer Doubler (browser) #1: after 0:0" in line
    run = host.submit("HitlValuePrompt", {"value_type": "INT", "title": "Steps", "default": "20", "timeout_seconds": 1})
    request_id = host.wait_waiting(run)[0]["id"]
    line = out.next_matching(request_id)
    assert line.split()[1] == "waiting" and "Steps (INT)" in line and "left)" in line
    assert out.next_matching(request_id).split()[1:3] == ["timed", "out"]  # as list and history say it
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0


def test_watch_as_json_lines(host: HarnessHost, watch: Any) -> None:
    _, out, _ = watch("--json")
    run = host.submit("HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0})
    request_id = host.wait_waiting(run)[0]["id"]
    event = json.loads(out.next_matching(request_id))
    assert event["event"] == "waiting" and event["request"]["id"] == request_id and event["server"]
    host.registry.cancel(request_id)
    event = json.loads(out.next_matching(request_id))
    assert event["event"] == "cancelled" and event["request"]["outcome"] == "cancelled"


def test_watch_reconnects_and_reports_what_happened_meanwhile(
    host: HarnessHost, served: HarnessServer, watch: Any
) -> None:
    run = host.submit_many(
        [
            NodeCall("1", "HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0}),
            NodeCall("2", "HitlIntegerDoubler", {"value": 2, "ask_first": True, "timeout_seconds": 0}),
        ]
    )
    first, second = (view["id"] for view in host.wait_waiting(run, count=2))
    _, out, err = watch()
    out.next_matching(first)
    out.next_matching(second)
    served.stop()  # the server goes away (a restart, a network drop)
    err.next_matching("lost")
    host.registry.answer(first, 2)  # ...and something happens while nobody hears
    restarted = HarnessServer(host, port=served.port)
    restarted.start()
    try:
        err.next_matching("reconnected")
        assert out.next_matching(first).split()[1] == "answered"  # found by the resync
        host.registry.cancel(second)
        assert out.next_matching(second).split()[1] == "cancelled"  # and live again
    finally:
        restarted.stop()
    run.wait()


def test_watch_follows_several_servers(
    host: HarnessHost, served: HarnessServer, second_server: tuple[HarnessHost, HarnessServer], watch: Any
) -> None:
    other_host, other = second_server
    _, out, _ = watch(urls=[served.url, other.url])
    run = other_host.submit("HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0})
    request_id = other_host.wait_waiting(run)[0]["id"]
    assert out.next_matching(request_id).endswith(f"[{other.url}]")
    other_host.registry.cancel(request_id)


# ------------------------------------------------------------------ how it talks
class Recorder(http.server.BaseHTTPRequestHandler):
    """A stand-in server that notes the headers it gets."""

    seen: list[dict[str, str]] = []  # noqa: RUF012

    def do_GET(self) -> None:
        Recorder.seen.append(dict(self.headers))
        body = b'{"requests": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_the_cli_sends_no_origin_and_says_who_it_is() -> None:
    # A browser always sends Origin on a POST, and the pack refuses a foreign one; the CLI is
    # not a browser and sends none, which the pack's policy accepts (tests/test_server_routes).
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_cli("list", urls=[f"http://127.0.0.1:{server.server_address[1]}"])
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    [headers] = Recorder.seen
    assert "Origin" not in headers and "Sec-Fetch-Site" not in headers
    assert headers["User-Agent"].startswith("comfyui-hitl-cli/")


def test_comfyui_never_imports_the_cli() -> None:
    # Importing the pack as ComfyUI does loads no CLI module (it lives beside, for people).
    script = (
        "import sys; from dev.harness.pack import load_pack; load_pack();"
        "print(sorted(name for name in sys.modules if name.split('.')[-1] == 'cli' or name.startswith('comfyui_hitl_cli')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
    assert "cli" not in (ROOT / "__init__.py").read_text(encoding="utf-8")


def test_the_cli_runs_without_the_pack_on_sys_path(host: HarnessHost, served: HarnessServer) -> None:
    # python -I leaves the script's folder off sys.path: the protocol module is loaded by path.
    result = subprocess.run(
        [sys.executable, "-I", str(CLI), "--url", served.url, "list"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "Nothing is waiting." in result.stdout, result.stderr


# ---------------------------------------------------------- the websocket client
def client_and_server(keepalive: float = 5.0) -> tuple[Any, socket.socket]:
    """Our client on one end of a socket pair, a test playing the server on the other."""
    ours, theirs = socket.socketpair()
    client = cli_module.WebSocket.__new__(cli_module.WebSocket)
    client.sock = ours
    client.keepalive = keepalive
    client._buffer = b""
    client._closed = False
    ours.settimeout(keepalive)
    theirs.settimeout(5)
    return client, theirs


def frame(opcode: int, payload: bytes, *, final: bool = True) -> bytes:
    """A server frame (unmasked, as servers send them)."""
    head = bytes([(0x80 if final else 0) | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    if len(payload) < 1 << 16:
        return head + bytes([126]) + len(payload).to_bytes(2, "big") + payload
    return head + bytes([127]) + len(payload).to_bytes(8, "big") + payload


def read_client_frame(server: socket.socket) -> tuple[int, bytes]:
    """A frame the client sent: it must be masked; returns (opcode, unmasked payload)."""

    def exactly(size: int) -> bytes:
        data = b""
        while len(data) < size:
            data += server.recv(size - len(data))
        return data

    first, second = exactly(2)
    assert second & 0x80, "a client's frames must be masked"
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(exactly(2), "big")
    mask = exactly(4)
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(exactly(length)))
    return first & 0x0F, payload


def test_websocket_reads_text_answers_pings_and_drops_binary() -> None:
    client, server = client_and_server()
    message = json.dumps({"type": "hitl-request", "data": {"id": "x" * 300}}).encode()
    server.sendall(
        frame(0x9, b"are you there")  # a ping first
        + frame(0x2, os.urandom(70_000))  # a binary preview (64-bit length), dropped
        + frame(0x1, message[:100], final=False)  # a text message in three fragments
        + frame(0x9, b"")  # a ping between fragments, as RFC 6455 allows
        + frame(0x0, message[100:200], final=False)
        + frame(0x0, message[200:])
    )
    assert client.receive() == message.decode()
    assert read_client_frame(server) == (0xA, b"are you there")
    assert read_client_frame(server) == (0xA, b"")
    server.sendall(frame(0x8, (1001).to_bytes(2, "big") + b"going away"))
    with pytest.raises(cli_module.WebSocketClosed):
        client.receive()
    assert read_client_frame(server) == (0x8, (1001).to_bytes(2, "big"))  # the close is answered
    client.close()
    server.close()


def test_websocket_pings_a_silent_server_and_gives_up_when_no_pong_comes() -> None:
    client, server = client_and_server(keepalive=0.2)
    with pytest.raises(cli_module.WebSocketClosed, match="stopped answering"):
        client.receive()
    assert read_client_frame(server)[0] == 0x9  # it asked before giving up
    client.close()
    server.close()


def test_websocket_keeps_a_quiet_connection_that_answers_its_ping() -> None:
    client, server = client_and_server(keepalive=0.2)

    def serve() -> None:
        opcode, payload = read_client_frame(server)
        assert opcode == 0x9
        server.sendall(frame(0xA, payload) + frame(0x1, b'{"type": "status"}'))

    helper = threading.Thread(target=serve)
    helper.start()
    assert client.receive() == '{"type": "status"}'
    helper.join()
    client.close()
    server.close()


def test_websocket_dropped_connection_is_closed_not_a_crash() -> None:
    client, server = client_and_server()
    server.sendall(frame(0x1, b"partial")[:4])
    server.close()
    with pytest.raises(cli_module.WebSocketClosed):
        client.receive()
    client.close()


def test_websocket_handshake_against_the_harness(host: HarnessHost, served: HarnessServer) -> None:
    socket_ = cli_module.WebSocket(served.url.replace("http", "ws") + "/ws")
    try:
        assert json.loads(socket_.receive())["type"] == "status"
        run = host.submit("HitlIntegerDoubler", {"value": 3, "ask_first": True, "timeout_seconds": 0})
        # The harness, as ComfyUI, says which node starts first ("executing"): the CLI skips it.
        message = json.loads(socket_.receive())
        while message["type"] == "executing":
            message = json.loads(socket_.receive())
        assert message["type"] == "hitl-request" and message["data"]["prompt_id"] == run.prompt_id
        host.registry.reset_all()
    finally:
        socket_.close()


def test_websocket_refuses_a_server_that_does_not_upgrade(served: HarnessServer) -> None:
    with pytest.raises(cli_module.Unreachable, match="refused the websocket"):
        cli_module.WebSocket(served.url.replace("http", "ws") + "/hitl/requests")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["answer", "-Xb3", "-5"], ["answer", "--", "-Xb3", "-5"]),
        (["--url", "http://a", "show", "-Xb3", "--json"], ["--url", "http://a", "show", "--json", "--", "-Xb3"]),
        (["cancel", "--", "-Xb3"], ["cancel", "--", "-Xb3"]),
        (["list", "--json"], ["list", "--json"]),
        (["show", "-Xb3", "--url", "http://a", "--json"], ["show", "--url", "http://a", "--json", "--", "-Xb3"]),
        (["answer", "--url=http://a", "-Xb3", "-5"], ["answer", "--url=http://a", "--", "-Xb3", "-5"]),
    ],
)
def test_ids_that_start_with_a_dash_are_not_taken_for_options(argv: list[str], expected: list[str]) -> None:
    assert cli_module.protect_ids(argv) == expected


def test_websocket_sends_the_query_of_its_url(host: HarnessHost, served: HarnessServer) -> None:
    # ComfyUI reads ?clientId= from the websocket's URL to address a client's own events.
    seen: list[str] = []
    server = socket.create_server(("127.0.0.1", 0))

    def answer_once() -> None:
        connection, _ = server.accept()
        with connection:
            seen.append(connection.recv(4096).decode("latin-1").split("\r\n")[0])

    helper = threading.Thread(target=answer_once)
    helper.start()
    with pytest.raises((cli_module.Unreachable, cli_module.WebSocketClosed)):
        cli_module.WebSocket(f"ws://127.0.0.1:{server.getsockname()[1]}/ws?clientId=abc", timeout=5)
    helper.join()
    server.close()
    assert seen == ["GET /ws?clientId=abc HTTP/1.1"]


# ------------------------------------------------- answers read by the request's kind
def value_view(value_type: str, **payload: Any) -> dict[str, Any]:
    return {"kind": "value-prompt", "state": "waiting", "payload": {"type": value_type, "choices": [], **payload}}


FORM_VIEW = {
    "kind": "form",
    "state": "waiting",
    "payload": {
        "fields": [
            {"name": "steps", "type": "INT", "choices": [], "default": 20},
            {"name": "style", "type": "CHOICE", "choices": ["photo", "oil, thick"], "default": 0},
            {"name": "prompt", "type": "STRING", "choices": [], "default": "a cat"},
            {"name": "upscale", "type": "BOOLEAN", "choices": [], "default": False},
        ]
    },
}
PICKER_VIEW = {"kind": "image-picker", "state": "waiting", "payload": {"count": 6, "min_picks": 1, "max_picks": 3}}
CHOICES = ["photo", "painting", "2"]


@pytest.mark.parametrize(
    ("view", "words", "expected"),
    [
        (value_view("BOOLEAN"), ["yes"], True),
        (value_view("BOOLEAN"), ["No"], False),
        (value_view("BOOLEAN"), ["on"], True),
        (value_view("BOOLEAN"), ["n"], False),
        (value_view("BOOLEAN"), ["true"], True),
        (value_view("BOOLEAN"), ["false"], False),
        (value_view("INT"), ["-5"], -5),
        (value_view("INT"), ["30"], 30),
        (value_view("FLOAT"), ["0.55"], 0.55),
        (value_view("FLOAT"), ["7"], 7.0),
        (value_view("STRING"), ["a", "red", "bicycle"], "a red bicycle"),  # raw text, no quoting
        (value_view("STRING"), ["42"], "42"),
        (value_view("STRING"), ['"quoted"'], "quoted"),  # JSON still works
        (value_view("STRING (multi-line)"), ["it's {fine}"], "it's {fine}"),
        (value_view("CHOICE", choices=CHOICES), ["painting"], 1),  # a label
        (value_view("CHOICE", choices=CHOICES), ["1"], 0),  # its number, from 1 as listed
        (value_view("CHOICE", choices=CHOICES), ["2"], 2),  # a label that is a number wins
        (value_view("CHOICE", choices=CHOICES), ['"photo"'], 0),
        (PICKER_VIEW, ["1,3"], [0, 2]),  # from 1, as the dialog numbers them
        (PICKER_VIEW, ["1", "3"], [0, 2]),
        (PICKER_VIEW, ["4"], [3]),
        (PICKER_VIEW, ["[0, 3]"], [0, 3]),  # JSON: the API's indices
        (FORM_VIEW, ["steps=30", "style=photo"], {"steps": 30, "style": 0, "prompt": "a cat", "upscale": False}),
        (FORM_VIEW, ["steps=30,style=oil, thick,upscale=yes"], {"steps": 30, "style": 1, "prompt": "a cat", "upscale": True}),
        (FORM_VIEW, ["prompt=a=b, c", "style=2"], {"steps": 20, "style": 1, "prompt": "a=b, c", "upscale": False}),
        (FORM_VIEW, ['{"steps": 3, "style": "photo", "prompt": "x", "upscale": true}'], {"steps": 3, "style": "photo", "prompt": "x", "upscale": True}),
        ({"kind": "integer-doubler", "state": "waiting", "payload": {"value": 21}}, ["42"], 42),
        ({"kind": "mask-painter", "state": "waiting", "payload": {"count": 1}}, ['{"masks": [[]]}'], {"masks": [[]]}),
    ],
)  # fmt: skip
def test_an_answer_is_read_by_the_requests_kind(view: dict[str, Any], words: list[str], expected: Any) -> None:
    value = cli_module.read_answer(words, view)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("view", "words", "said"),
    [
        (value_view("BOOLEAN"), ["maybe"], "yes or no"),
        (value_view("INT"), ["1.5"], "a whole number"),
        (value_view("FLOAT"), ["nan"], "a number"),
        (value_view("CHOICE", choices=CHOICES), ["sketch"], "1 photo, 2 painting, 3 2"),
        (value_view("CHOICE", choices=CHOICES), ["4"], "1 photo, 2 painting, 3 2"),
        (PICKER_VIEW, ["0"], "from 1 to 6"),
        (PICKER_VIEW, ["a,b"], "from 1 to 6"),
        (FORM_VIEW, ["colour=red"], "steps, style, prompt, upscale"),
        (FORM_VIEW, ["steps=many"], "steps: a whole number"),
        (FORM_VIEW, ["steps"], "name=value"),
        ({"kind": "mask-painter", "state": "waiting", "payload": {"count": 1}}, ["brush"], '{"masks"'),
    ],
)  # fmt: skip
def test_an_answer_that_does_not_read_says_what_would(view: dict[str, Any], words: list[str], said: str) -> None:
    with pytest.raises(cli_module.UsageError) as refused:
        cli_module.read_answer(words, view)
    assert said in str(refused.value)


def test_the_yes_the_summary_suggests_answers_a_boolean(host: HarnessHost, served: HarnessServer) -> None:
    run = host.submit("HitlValuePrompt", {"value_type": "BOOLEAN", "title": "Upscale?", "timeout_seconds": 0})
    [view] = host.wait_waiting(run)
    assert "(yes or no)" in view["summary"]
    answered = run_cli("answer", view["id"], "yes", urls=[served.url])
    assert answered.returncode == 0, answered.stderr
    assert run.wait().outputs[0]["result"][3] is True


def test_show_says_how_to_answer_each_kind(host: HarnessHost, served: HarnessServer) -> None:
    run = host.submit_many(
        [
            NodeCall("3", "HitlForm", {"fields": "steps: INT 1..60 = 20\nstyle: CHOICE photo | painting", "timeout_seconds": 0}),
            NodeCall("4", "HitlValuePrompt", {"value_type": "BOOLEAN", "title": "Upscale?", "timeout_seconds": 0}),
        ]
    )  # fmt: skip
    views = {view["kind"]: view for view in host.wait_waiting(run, count=2)}
    form = run_cli("show", views["form"]["id"], urls=[served.url])
    lines = [line for line in form.stdout.splitlines() if line.startswith("answer")]
    assert lines and f"cli.py answer {views['form']['id']} steps=20 style=photo" in form.stdout
    boolean = run_cli("show", views["value-prompt"]["id"], urls=[served.url]).stdout
    assert f"cli.py answer {views['value-prompt']['id']} no" in boolean and "yes or no" in boolean  # its default
    host.registry.reset_all()


def test_url_is_taken_after_the_command_too(host: HarnessHost, served: HarnessServer) -> None:
    run = host.submit("HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0})
    request_id = host.wait_waiting(run)[0]["id"]
    command = [sys.executable, "-S", "-E", str(CLI)]
    for args in (
        ["list", "--url", served.url],
        ["show", request_id, "--url", served.url],
        ["history", f"--url={served.url}"],
    ):
        result = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=30, cwd="/", env={"COLUMNS": "200"}
        )
        assert result.returncode == 0, (args, result.stderr)
    answered = subprocess.run(
        [*command, "answer", request_id, "2", "--url", served.url], capture_output=True, text=True, timeout=30, cwd="/"
    )
    assert answered.returncode == 0, answered.stderr
    assert run.wait().outputs[0]["result"] == (2,)
    for name in ("list", "show", "answer", "cancel", "watch", "history"):
        helped = subprocess.run([*command, name, "--help"], capture_output=True, text=True, timeout=30, cwd="/")
        assert "--url" in helped.stdout, name


def test_a_closed_pipe_ends_the_cli_quietly(host: HarnessHost, served: HarnessServer) -> None:
    run = host.submit("HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0})
    request_id = host.wait_waiting(run)[0]["id"]
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -3` that has gone: nobody reads
    try:
        process = subprocess.run(
            [sys.executable, "-S", "-E", str(CLI), "--url", served.url, "show", request_id],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=30, cwd="/",
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert "Traceback" not in process.stderr and "BrokenPipe" not in process.stderr, process.stderr
    assert process.returncode == 0
    host.registry.reset_all()
