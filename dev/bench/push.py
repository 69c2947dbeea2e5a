"""``python -m dev.bench.push``: how fast a push reaches a phone's server, and that a dead
webhook costs a resume nothing.

- push latency: from the request opening (the node's first step: it asks at once) to a
  receiver, in a process of its own, having read the push; per format, ntfy and JSON
  (Discord and Slack go the same way as JSON);
- resume latency, answer sent over HTTP → node returned, with no webhook, a webhook that
  never answers, and one that answers 500 (its retries going on), in interleaved blocks in
  one run, a person answering 0–100 ms after the wait starts (as ``python -m dev.bench`` does).

``--comfyui DIR`` also measures push latency against a real ComfyUI: from ComfyUI's
``executing`` message for the node, as an API client sees it, to the receiver.
Figures go to bench/results/push-latest.json, with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import logging
import os
import queue
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dev.harness.host import HarnessHost, HarnessServer

from . import __main__ as bench_main
from .measure import Figure

RESULTS = Path(__file__).resolve().parent / "results"
PUBLIC = "http://phone.example:8188"


class ReceiverProcess:
    """``bench.receiver`` in a subprocess; ``next_for(request_id)`` waits for its push."""

    def __init__(self, mode: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dev.bench.receiver", mode],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.count = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.count += 1
            self.lines.put(json.loads(line))

    def next_for(self, request_id: str, timeout: float = 10) -> dict[str, Any]:
        """The first push (from now on) that mentions ``request_id``."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if request_id in line["body"] or request_id in json.dumps(line):
                return line

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def opened_times(host: HarnessHost) -> dict[str, float]:
    """request id -> time.monotonic() when it opened (the registry's broadcast, in the node's thread)."""
    times: dict[str, float] = {}

    def listener(event: str, data: dict[str, Any]) -> None:
        if data.get("state") == "waiting" and "id" in data:
            times.setdefault(data["id"], time.monotonic())

    host.add_listener(listener)
    return times


def push_latency(fmt: str, runs: int) -> Figure:
    receiver = ReceiverProcess("ok")
    # The receiver listens on loopback: pushes to this machine are allowed for it.
    environ = {"COMFYUI_HITL_PUBLIC_URL": PUBLIC, "COMFYUI_HITL_ALLOW_LOOPBACK_PUSH": "1"}
    if fmt == "ntfy":
        environ["COMFYUI_HITL_NTFY_URL"] = receiver.url + "/topic"
    else:
        environ |= {"COMFYUI_HITL_WEBHOOK_URL": receiver.url + "/hook", "COMFYUI_HITL_WEBHOOK_FORMAT": fmt}
    host = HarnessHost(environ=environ)
    opened = opened_times(host)
    samples = []
    try:
        for number in range(runs):
            run = host.submit("HitlIntegerDoubler", {"value": number, "ask_first": True, "timeout_seconds": 0})
            [view] = host.wait_waiting(run)
            got = receiver.next_for(view["id"])
            samples.append((got["t"] - opened[view["id"]]) * 1000)
            host.registry.answer(view["id"], number * 2)
            run.wait()
    finally:
        host.close()
        receiver.stop()
    return Figure(samples)


def resume_with_webhooks(runs: int, block: int = 10, seed: int = 11) -> dict[str, Figure]:
    rng = random.Random(seed)
    hanging, failing = ReceiverProcess("hang"), ReceiverProcess("fail")
    host = HarnessHost(push_backoff=(0.2, 0.5), environ={"COMFYUI_HITL_ALLOW_LOOPBACK_PUSH": "1"})
    server = HarnessServer(host)
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    urls = {"no webhook": None, "webhook never answers": hanging.url, "webhook answers 500": failing.url}
    samples: dict[str, list[float]] = {name: [] for name in urls}

    def one(value: int) -> float:
        run = host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": 0})
        [view] = host.wait_waiting(run)
        time.sleep(rng.uniform(0.0, 0.1))  # a person answers at some moment
        body = json.dumps({"value": value * 2, "surface": "api"})
        sent = time.perf_counter()
        connection.request("POST", f"/hitl/requests/{view['id']}/answer", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        run.wait()
        assert run.status == "success" and run.node_ended_at is not None
        return (run.node_ended_at - sent) * 1000

    try:
        host.settings.update({"push_on_end": True, "push_timeout_s": 5.0})
        for value in range(5):
            one(value)  # warm-up
        rounds = max(1, runs // block)
        names = list(urls)
        for number in range(rounds):
            for name in names if number % 2 == 0 else names[::-1]:
                host.settings.update({"webhook_url": urls[name]})
                one(-1)  # the target's worker starts; not measured
                samples[name].extend(one(number * block + k) for k in range(block))
        assert hanging.count >= rounds and failing.count >= rounds, (hanging.count, failing.count)
    finally:
        connection.close()
        server.stop()
        host.close()
        hanging.stop()
        failing.stop()
    return {name: Figure(values) for name, values in samples.items()}


async def real_push_latency(comfy_dir: str, python: str | None, runs: int) -> Figure:
    from dev.harness.comfyui import ComfyClient, RealComfyUI

    receiver = ReceiverProcess("ok")
    real = RealComfyUI(comfy_dir, python=python)
    real.start()
    samples = []
    try:
        async with ComfyClient(real.url) as client:
            status, _ = await client.post(
                "/api/hitl/notify/config", {"ntfy_url": receiver.url + "/topic", "public_url": PUBLIC}
            )
            assert status == 200
            for number in range(runs):
                prompt = {
                    "1": {
                        "class_type": "HitlIntegerDoubler",
                        "inputs": {"value": number, "ask_first": True, "timeout_seconds": 0},
                    }
                }
                after = len(client.messages)
                prompt_id = await client.queue(prompt)
                # ComfyClient stamps messages with perf_counter, CLOCK_MONOTONIC on Linux like the
                # receiver's time.monotonic().
                started, _ = await client.wait_message(
                    lambda m, p=prompt_id: (
                        m.get("type") == "executing"
                        and m["data"].get("prompt_id") == p
                        and m["data"].get("node") == "1"
                    ),
                    after=after,
                )
                view = await client.waiting_request(prompt_id, after=after)
                got = await asyncio.to_thread(receiver.next_for, view["id"])
                samples.append((got["t"] - started) * 1000)
                await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": number * 2})
                await client.run_end(prompt_id)
    finally:
        real.stop()
        receiver.stop()
    return Figure(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100, help="runs per figure (default 100; at least 50)")
    parser.add_argument("--comfyui", metavar="DIR", help="also measure push latency against a real ComfyUI in DIR")
    parser.add_argument("--comfyui-python", metavar="PYTHON")
    args = parser.parse_args(argv)
    runs = max(args.runs, 50)
    # The failing and hanging webhooks are the point here: their warnings would drown the table.
    logging.getLogger("comfyui_hitl").setLevel(logging.ERROR)
    if sys.platform != "linux":
        print("note: push latency compares two processes' monotonic clocks, which agree on Linux")
    results: dict[str, Any] = {
        "machine": bench_main.machine(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg_before": os.getloadavg(),
    }
    lines = []
    for fmt in ("ntfy", "json"):
        figure = push_latency(fmt, runs)
        results[f"push latency ({fmt})"] = figure.as_dict()
        lines.append((f"push: request opens → {fmt} receiver has it", figure))
    if args.comfyui:
        figure = asyncio.run(real_push_latency(args.comfyui, args.comfyui_python, runs))
        results["push latency (real ComfyUI, ntfy)"] = figure.as_dict()
        lines.append(("push, real ComfyUI: executing → ntfy receiver", figure))
    for name, figure in resume_with_webhooks(runs).items():
        results[f"resume latency ({name})"] = figure.as_dict()
        lines.append((f"resume, {name}", figure))
    results["loadavg_after"] = os.getloadavg()
    print(f"machine: {results['machine']}")
    print(f"load average before / after: {results['loadavg_before']} / {results['loadavg_after']}")
    print(f"{'ms':<52} {'median':>8} {'p90':>8} {'max':>8} {'n':>5}")
    for name, figure in lines:
        print(f"{name:<52} {figure.median:8.2f} {figure.p90:8.2f} {figure.max:8.2f} {len(figure.samples):5d}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "push-latest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
