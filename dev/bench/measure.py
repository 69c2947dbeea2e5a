"""Latency and idle-cost measurements, each run for our pack and the baseline through the
same harness (same worker thread, fresh asyncio loop per run, same HTTP server)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from dev.harness.host import HarnessHost, HarnessServer, Run

from .baseline import MessageHolder, baseline_routes, make_baseline_doubler
from .picker import summarize

#: A person answers at a random moment, not right as the wait starts; the baseline's
#: latency depends on where in its 0.1 s sleep the answer lands.
ANSWER_DELAY_S = (0.0, 0.1)


@dataclass
class Figure:
    """Median, p90 and max of a list of samples (milliseconds), as ``picker.summarize`` computes them."""

    samples: list[float]

    @property
    def median(self) -> float:
        return summarize(self.samples).median

    @property
    def p90(self) -> float:
        return summarize(self.samples).p90

    @property
    def max(self) -> float:
        return summarize(self.samples).max

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "p90": self.p90, "max": self.max, "n": len(self.samples)}


class Bench:
    """One harness host and server carrying our nodes and the baseline's."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = random.Random(seed)
        self.host = HarnessHost()
        self.holder = MessageHolder()
        self.host.node_classes["BaselineDoubler"] = make_baseline_doubler(self.holder, self.host.interrupt.is_set)
        self.server = HarnessServer(self.host, extra_routes=baseline_routes(self.holder))
        self.server.start()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self._runs = 0

    def close(self) -> None:
        self.connection.close()
        self.server.stop()
        self.host.close()

    def post(self, path: str, body: dict[str, Any]) -> int:
        """POST JSON and read the whole response: returns once the request has returned."""
        self.connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        response.read()
        return response.status

    def person_pause(self) -> None:
        time.sleep(self.rng.uniform(*ANSWER_DELAY_S))

    # ------------------------------------------------------------- starting waits
    def start_ours(self) -> tuple[Run, str]:
        run = self.host.submit("HitlIntegerDoubler", {"value": 21, "ask_first": True, "timeout_seconds": 0})
        [view] = self.host.wait_waiting(run)
        return run, view["id"]

    def start_baseline(self) -> tuple[Run, str]:
        self._runs += 1
        node_id = f"baseline-{self._runs}"
        self.holder.waiting.clear()
        run = self.host.submit("BaselineDoubler", {"value": 21}, node_id=node_id)
        self.holder.waiting.wait(10)
        return run, node_id

    # ------------------------------------------------------------------- measures
    def resume(self, system: str) -> tuple[float, float]:
        """ms from the answer request returning (negative: the node had already returned
        before the HTTP response reached the client) and from it being sent, to the node
        returning its output."""
        if system == "ours":
            run, request_id = self.start_ours()
            self.person_pause()
            sent = time.perf_counter()
            assert self.post(f"/hitl/requests/{request_id}/answer", {"value": 42}) == 200
        else:
            run, node_id = self.start_baseline()
            self.person_pause()
            sent = time.perf_counter()
            assert self.post("/baseline/answer", {"node_id": node_id, "value": 42}) == 200
        returned = time.perf_counter()
        run.wait()
        assert run.status == "success", run.error
        return (run.node_ended_at - returned) * 1000, (run.node_ended_at - sent) * 1000

    def cancel(self, system: str) -> tuple[float, float]:
        """ms from the abort request returning (negative: the wait had already ended) and
        from it being sent, to the wait ending as interrupted."""
        if system == "ours":
            run, request_id = self.start_ours()
            self.person_pause()
            sent = time.perf_counter()
            assert self.post(f"/hitl/requests/{request_id}/cancel", {}) == 200
        else:
            run, node_id = self.start_baseline()
            self.person_pause()
            sent = time.perf_counter()
            assert self.post("/baseline/cancel", {"node_id": node_id}) == 200
        returned = time.perf_counter()
        run.wait()
        assert run.status == "interrupted", run.status
        return (run.node_ended_at - returned) * 1000, (run.node_ended_at - sent) * 1000

    def interrupt(self, system: str) -> float:
        """ms from ComfyUI's interrupt flag being set to the wait ending."""
        run, _ = self.start_ours() if system == "ours" else self.start_baseline()
        self.person_pause()
        self.host.interrupt.raise_flag()
        run.wait()
        assert run.status == "interrupted", run.status
        return (run.node_ended_at - self.host.interrupt.raised_at) * 1000

    def idle(self, system: str, seconds: float) -> dict[str, float]:
        """Wake-ups per second and CPU time of the waiting thread, and websocket messages, over ``seconds``."""
        run, handle = self.start_ours() if system == "ours" else self.start_baseline()
        worker = self.host._worker
        assert worker is not None and worker.native_id is not None
        messages = asyncio.run(self._count_ws_messages(seconds, lambda: _thread_counters(worker.native_id)))
        before, after = messages.pop("before"), messages.pop("after")
        if system == "ours":
            self.post(f"/hitl/requests/{handle}/cancel", {})
        else:
            self.post("/baseline/cancel", {"node_id": handle})
        run.wait()
        return {
            "wakeups_per_s": (after["switches"] - before["switches"]) / seconds,
            "cpu_ms": (after["cpu_ticks"] - before["cpu_ticks"]) * 1000 / os.sysconf("SC_CLK_TCK"),
            "ws_messages": messages["count"],
        }

    async def _count_ws_messages(self, seconds: float, counters: Callable[[], dict[str, int]]) -> dict[str, Any]:
        async with aiohttp.ClientSession(self.server.url) as session, session.ws_connect("/ws") as socket:
            await socket.receive(timeout=5)  # the greeting status every client gets on connect
            before = counters()
            count = 0
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                try:
                    await socket.receive(timeout=remaining)
                    count += 1
                except TimeoutError:
                    break
            after = counters()
        return {"before": before, "after": after, "count": count}


def _thread_counters(native_id: int) -> dict[str, int]:
    """Context switches (each one a wake-up of a sleeping thread) and CPU ticks of a thread."""
    base = f"/proc/self/task/{native_id}"
    switches = 0
    with open(f"{base}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    with open(f"{base}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return {"switches": switches, "cpu_ticks": int(fields[11]) + int(fields[12])}
