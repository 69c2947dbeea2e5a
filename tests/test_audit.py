"""The audit trail (_audit.py: the registry's history log, and the records the registry makes
at each end): every surface and outcome lands, as one and the same record, in the node's UI
output (so ComfyUI's history) where the node returns, the JSON-lines log, the memory behind
``GET /hitl/history`` and that route and the request's lookup route; a copy without the
client's details goes into the image metadata; the log survives a restart of the host and
rotation keeps it under its cap; memory is bounded, newest first."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dev.harness.batches import materialize
from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.pack import submodule

audit_module = submodule("server.audit")
history = submodule("server.history")
settings_module = submodule("server.settings")
state = submodule("state")

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = {
    "id", "kind", "state", "reason", "prompt_id", "node_id", "node_label", "timeout_s", "expires_in_ms", "seq",
    "payload", "summary", "opened_at", "ended_at", "waited_ms", "outcome", "answer", "answer_truncated", "by",
    "answer_summary",
}  # fmt: skip


def post(url: str, path: str, body: dict, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=10) as response:
        return json.loads(response.read())


def everywhere(served: HarnessServer, request_id: str) -> dict[str, Any]:
    """The record of ``request_id`` as the memory, the log file, the history route and the
    lookup route have it: one and the same record, checked here; returned once."""
    host = served.host
    record = host.audit.find(request_id).as_json()
    assert [line for line in log_lines(host) if line["id"] == request_id] == [record]
    assert [e for e in get(served.url, "/api/hitl/history?limit=200")["history"] if e["id"] == request_id] == [record]
    assert get(served.url, f"/api/hitl/requests/{request_id}")["request"] == record
    return record


def log_lines(host: HarnessHost) -> list[dict[str, Any]]:
    assert host.audit.flush()
    path = host.audit.path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def check_common(record: dict[str, Any], view: dict[str, Any]) -> None:
    assert set(record) == FIELDS
    assert record["id"] == view["id"] and record["kind"] == view["kind"]
    assert record["prompt_id"] == view["prompt_id"] and record["node_id"] == view["node_id"]
    assert ISO.match(record["opened_at"]) and ISO.match(record["ended_at"])
    assert record["payload"] is None and record["expires_in_ms"] is None  # never image data, no clock
    asked = datetime.fromisoformat(record["opened_at"].replace("Z", "+00:00"))
    ended = datetime.fromisoformat(record["ended_at"].replace("Z", "+00:00"))
    assert asked <= ended and record["waited_ms"] >= 0
    assert abs((ended - asked).total_seconds() * 1000 - record["waited_ms"]) < 50


def doubler(host: HarnessHost, **inputs: Any) -> Any:
    return host.submit("HitlIntegerDoubler", {"value": 21, "ask_first": True, "timeout_seconds": 60, **inputs})


# ------------------------------------------------------- each surface and outcome
@pytest.mark.parametrize(
    ("action", "body", "outcome", "reason", "surface"),
    [
        ("answer", {"value": 42, "surface": "comfyui-tab", "client_id": "0a1b2c3d4e5f"}, "answered", "answer", "comfyui-tab"),
        ("answer", {"value": 42, "surface": "inbox", "client_id": "9f8e7d"}, "answered", "answer", "inbox"),
        ("answer", {"value": 42, "surface": "cli"}, "answered", "answer", "cli"),
        ("answer", {"value": 42}, "answered", "answer", "api"),
        ("cancel", {"surface": "comfyui-tab", "client_id": "tab-2"}, "cancelled", "user_cancel", "comfyui-tab"),
        ("cancel", {"surface": "inbox"}, "cancelled", "user_cancel", "inbox"),
        ("cancel", {"surface": "cli"}, "cancelled", "user_cancel", "cli"),
    ],
)  # fmt: skip
def test_a_client_surface_lands_in_the_ui_output_log_and_routes(
    served: HarnessServer, action: str, body: dict, outcome: str, reason: str, surface: str
) -> None:
    host = served.host
    run = doubler(host)
    [view] = host.wait_waiting(run)
    headers = {"User-Agent": "Mozilla/5.0 (test) " + "x" * 400, "comfy-user": "alice_1234"}
    status, _ = post(served.url, f"/api/hitl/requests/{view['id']}/{action}", body, headers)
    assert status == 200
    run.wait()
    record = everywhere(served, view["id"])
    check_common(record, view)
    assert (record["outcome"], record["reason"]) == (outcome, reason)
    assert record["summary"] == "21 × 2" and record["node_label"] == "Integer Doubler (browser) #1"
    assert record["by"] == {
        "surface": surface,
        "source": "client",
        "client_id": body.get("client_id"),
        "user": "alice_1234",
        "user_agent": ("Mozilla/5.0 (test) " + "x" * 400)[:255] + "…",
        "remote": "127.0.0.1",
    }
    if action == "answer":
        assert record["answer"] == 42 and run.status == "success"
        assert run.outputs[0]["ui"]["hitl_audit"] == [record]  # what ComfyUI's history keeps
    else:
        assert record["answer"] is None and run.status == "interrupted"  # no output: log and route only


def test_server_surfaces_timeout_interrupt_and_a_new_prompt(served: HarnessServer) -> None:
    host = served.host
    # Timeout, with the value prompt's "use default": the node still returns, so its history has it.
    run = host.submit(
        "HitlValuePrompt",
        {"value_type": "INT", "title": "Steps", "default": "20", "timeout_seconds": 0.05, "on_timeout": "use default"},
    )
    [view] = host.wait_waiting(run)
    assert run.wait().status == "success"
    [record] = run.outputs[0]["ui"]["hitl_audit"]
    assert record == everywhere(served, view["id"])
    check_common(record, view)
    assert (record["outcome"], record["reason"], record["answer"]) == ("timed_out", "timeout", None)
    assert record["by"] == {"surface": "timeout", "source": "server", "client_id": None, "user": None,
                            "user_agent": None, "remote": None}  # fmt: skip
    assert record["summary"] == "Steps (INT)"
    # ComfyUI's interrupt: the run ends as interrupted; the log and the recent list have it.
    run = doubler(host)
    [view] = host.wait_waiting(run)
    host.interrupt.raise_flag()
    assert run.wait().status == "interrupted"
    record = everywhere(served, view["id"])
    assert (record["outcome"], record["reason"], record["by"]["surface"], record["by"]["source"]) == (
        "interrupted", "interrupt", "interrupt", "server",
    )  # fmt: skip
    # A request of an older prompt is reset when a new prompt opens one.
    stale = host.registry.open("integer-doubler", prompt_id="old", node_id="5", payload={"value": 1})
    fresh = host.registry.open("integer-doubler", prompt_id="new", node_id="6", payload={"value": 1})
    record = everywhere(served, stale.id)
    assert (record["outcome"], record["reason"], record["by"]["surface"]) == ("reset", "prompt_over", "server")
    host.registry.cancel(fresh.id)
    assert [r["by"]["surface"] for r in log_lines(host)] == ["timeout", "interrupt", "server", "api"]


def test_picker_records_indices_never_image_data_and_images_carry_a_reduced_copy(host: HarnessHost) -> None:
    inputs = materialize({"images": {"generate": "noise", "batch": 4, "size": 64}})
    extra = {"workflow": {"id": "wf-1", "nodes": [{"id": 3, "title": "Keep the good ones"}]}}
    run = host.submit(
        "HitlImagePicker",
        {**inputs, "mode": "always ask", "min_picks": 1, "max_picks": 0, "title": "t", "timeout_seconds": 0,
         "on_timeout": "cancel run", "unique_id": "3", "extra_pnginfo": extra},
        node_id="3",
    )  # fmt: skip
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], [3, 1], by=state.Provenance("inbox", client_id="c1", remote="10.0.0.7"))
    assert run.wait().status == "success"
    [record] = run.outputs[0]["ui"]["hitl_audit"]
    assert record["answer"] == [3, 1] and record["summary"] == "t (pick any of 4)"
    assert record["node_label"] == "Keep the good ones" and record == host.audit.find(view["id"]).as_json()
    assert len(json.dumps(record)) < 1000  # indices, not pixels
    # The workflow's extra PNG info (what SaveImage writes into the image) got a copy without
    # the client's address, user-agent, client id and user.
    [in_image] = extra["hitl_audit"]
    assert in_image["by"] == {"surface": "inbox", "source": "client"}
    assert {k: v for k, v in in_image.items() if k != "by"} == {k: v for k, v in record.items() if k != "by"}


def test_passing_through_without_asking_records_nothing(host: HarnessHost) -> None:
    run = host.submit("HitlValuePrompt", {"value_type": "INT", "default": "3", "mode": "pass default"})
    assert run.wait().status == "success"
    assert "hitl_audit" not in run.outputs[0]["ui"] and host.audit.recent() == []


def test_long_text_answers_are_cut_in_the_record_only(host: HarnessHost) -> None:
    run = host.submit("HitlValuePrompt", {"value_type": "STRING (multi-line)", "max_length": 20000})
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], "é" * 10_000)
    assert run.wait().status == "success" and run.outputs[0]["result"][2] == "é" * 10_000
    [record] = run.outputs[0]["ui"]["hitl_audit"]
    assert record["answer"] == "é" * history.MAX_RECORDED_TEXT and record["answer_truncated"] is True


# --------------------------------------------------------- the log on disk
def test_the_log_survives_a_restart_of_the_host(tmp_path: Path) -> None:
    first = HarnessHost(user_dir=tmp_path)
    ids = []
    try:
        for value in range(3):
            run = doubler(first, value=value)
            [view] = first.wait_waiting(run)
            first.registry.answer(view["id"], value * 2, by=state.Provenance("cli"))
            run.wait()
            ids.append(view["id"])
    finally:
        first.close()  # writes what is queued
    assert (tmp_path / "comfyui-hitl" / "audit.jsonl").exists()
    second = HarnessHost(user_dir=tmp_path)
    try:
        assert [r.request_id for r in second.audit.recent(10)] == ids[::-1]  # newest first
        assert second.audit.recent(10)[0].by["surface"] == "cli"
        # The routes read it back too: the history, and a deep link to a request of before.
        served = HarnessServer(second)
        served.start()
        try:
            assert [e["id"] for e in get(served.url, "/hitl/history")["history"]] == ids[::-1]
            old = get(served.url, f"/hitl/requests/{ids[0]}")["request"]
            assert (old["outcome"], old["answer"], old["by"]["surface"]) == ("answered", 0, "cli")
        finally:
            served.stop()
        run = doubler(second)
        [view] = second.wait_waiting(run)
        second.registry.cancel(view["id"])
        run.wait()
        assert [r["id"] for r in log_lines(second)] == [*ids, view["id"]]  # appended, in order
        assert [r.request_id for r in second.audit.recent(2)] == [view["id"], ids[-1]]
    finally:
        second.close()


def fake_record(n: int, padding: int = 300) -> Any:
    view = {"id": f"r{n:05d}", "kind": "integer-doubler", "state": "answered"}
    return history.HistoryEntry(view, "x" * padding, False, {"surface": "api"})


def test_rotation_keeps_the_log_under_its_cap_and_reads_back_across_files(tmp_path: Path) -> None:
    settings = settings_module.Settings(audit_max_bytes=4096, audit_backups=2)
    log = audit_module.AuditLog(tmp_path, lambda: settings)
    for n in range(200):
        log.record(fake_record(n))
    assert log.flush()
    log.close()
    folder = tmp_path / "comfyui-hitl"
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["audit.1.jsonl", "audit.2.jsonl", "audit.jsonl"]
    sizes = [(folder / name).stat().st_size for name in files]
    assert max(sizes) <= 4096 and sum(sizes) <= 3 * 4096
    assert log.written == 200 and log.rotations > 10 and log.failed == 0
    # The newest records are kept, in order, across the files.
    kept = [
        json.loads(line)["id"]
        for name in ("audit.2.jsonl", "audit.1.jsonl", "audit.jsonl")
        for line in (folder / name).read_text().splitlines()
    ]
    assert kept == [f"r{n:05d}" for n in range(200 - len(kept), 200)]
    again = audit_module.AuditLog(tmp_path, lambda: settings)
    assert [r.request_id for r in again.recent(1000)] == kept[::-1]
    # Fewer backups later: the extra old files go at the next rotation.
    fewer = settings_module.Settings(audit_max_bytes=4096, audit_backups=0)
    again._settings = lambda: fewer
    for n in range(200, 220):
        again.record(fake_record(n))
    assert again.flush()
    again.close()
    assert sorted(p.name for p in folder.iterdir()) == ["audit.jsonl"]


def test_a_log_that_cannot_be_written_is_counted_and_blocks_nothing(tmp_path: Path) -> None:
    (tmp_path / "comfyui-hitl").write_text("a file where the folder should be")
    log = audit_module.AuditLog(tmp_path)
    registry = state.RequestRegistry(history_log=log)
    request = registry.open("integer-doubler", prompt_id="p", node_id="1")
    registry.cancel(request.id)
    assert log.flush()
    assert log.failed == 1 and log.last_error and log.recent(1)[0].request_id == request.id
    log.close()


def test_unreadable_lines_are_skipped_on_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "comfyui-hitl"
    folder.mkdir()
    (folder / "audit.jsonl").write_text('{"id": "a"}\nnot json\n[1]\n{"id": 7}\n{"id": "b"}\n')
    assert [r.request_id for r in audit_module.AuditLog(tmp_path).recent()] == ["b", "a"]


def test_memory_only_without_a_user_directory() -> None:
    log = audit_module.AuditLog(None)
    log.record(fake_record(1))
    assert log.recent() == [fake_record(1)] and log.path is None and log.status()["file"] is None
    assert log.find("r00001") == fake_record(1) and log.find("nope") is None
    log.close()


def test_a_writer_that_falls_behind_drops_to_disk_never_waits_and_keeps_memory(tmp_path: Path) -> None:
    import threading
    import time

    log = audit_module.AuditLog(tmp_path, queue_size=2)
    release, writing = threading.Event(), threading.Event()
    append = log._append

    def slow_append(record: dict[str, Any]) -> None:  # a disk that hangs on the first write
        writing.set()
        release.wait(10)
        append(record)

    log._append = slow_append
    log.record(fake_record(0, padding=10))
    assert writing.wait(5)
    started = time.perf_counter()
    for n in range(1, 50):
        log.record(fake_record(n, padding=10))
    assert time.perf_counter() - started < 0.5  # never waited for the disk
    assert log.dropped == 47 and len(log.recent(100)) == 50
    release.set()
    assert log.flush()
    log.close()
    assert log.written == 3 and log.status()["dropped"] == 47


# ------------------------------------------------------------ memory, bounded
def test_memory_is_newest_first_bounded_and_keeps_one_record_per_request() -> None:
    log = audit_module.AuditLog(None, memory=3)
    for n in range(5):
        log.record(fake_record(n))
    assert [e.request_id for e in log.recent(10)] == ["r00004", "r00003", "r00002"]
    assert [e.request_id for e in log.recent(2)] == ["r00004", "r00003"]
    assert log.recent(0) == [] and log.recent(-1) == []
    assert log.find("r00000") is None and log.find("r00004") == fake_record(4)
    log.record(fake_record(3, padding=1))  # the same request again: one record, the newest
    assert [(e.request_id, e.answer) for e in log.recent(10)] == [
        ("r00003", "x"),
        ("r00004", "x" * 300),
        ("r00002", "x" * 300),
    ]


def test_concurrent_records_lose_nothing() -> None:
    import threading

    log = audit_module.AuditLog(None, memory=10_000)

    def work(prefix: str) -> None:
        for n in range(1000):
            log.record(history.HistoryEntry({"id": f"{prefix}{n}"}))

    threads = [threading.Thread(target=work, args=(p,)) for p in "wxyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.recent(10_000)) == 4000
