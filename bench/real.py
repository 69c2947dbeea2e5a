"""``python -m bench --comfyui DIR``: figures from a real ComfyUI (CPU), through its API.

- resume latency: from the answer POST returning to the ``execution_success`` message;
- interrupt latency: from ``POST /interrupt`` returning to ``execution_interrupted``;
- picker (when the picker is installed): from the queue POST returning to every thumbnail in hand.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from harness.comfyui import ComfyClient, RealComfyUI

from .measure import Figure


def doubler(value: int) -> dict[str, Any]:
    return {"1": {"class_type": "HitlIntegerDoubler", "inputs": {"value": value, "ask_first": True, "timeout_seconds": 0}}}


async def measure(url: str, runs: int) -> dict[str, Figure]:
    rng = random.Random(7)
    resume, interrupt = [], []
    async with ComfyClient(url) as client:
        for number in range(runs):
            prompt_id = await client.queue(doubler(number))
            view = await client.waiting_request(prompt_id)
            await asyncio.sleep(rng.uniform(0, 0.1))  # a person answers at some moment
            status, _ = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 2 * number})
            returned = time.perf_counter()
            assert status == 200
            arrived, end = await client.run_end(prompt_id)
            assert end["type"] == "execution_success", end
            resume.append((arrived - returned) * 1000)
        for number in range(runs):
            prompt_id = await client.queue(doubler(number))
            await client.waiting_request(prompt_id)
            await asyncio.sleep(rng.uniform(0, 0.1))
            await client.interrupt()
            returned = time.perf_counter()
            arrived, end = await client.run_end(prompt_id)
            assert end["type"] == "execution_interrupted", end
            interrupt.append((arrived - returned) * 1000)
    return {"resume": Figure(resume), "interrupt": Figure(interrupt)}


def run_real(comfy_dir: str, python: str | None, *, runs: int) -> int:
    comfyui = RealComfyUI(comfy_dir, python=python)
    comfyui.start()
    try:
        figures = asyncio.run(measure(comfyui.url, runs))
        picker_lines: list[str] = []
        try:
            from .picker import real_picker
        except ImportError:
            real_picker = None
        if real_picker is not None:
            picker_lines = real_picker(comfyui.url, runs=runs)
    finally:
        comfyui.stop()
    version = next((line.strip() for line in comfyui.log if "ComfyUI version" in line), "ComfyUI version unknown")
    print(f"real ComfyUI ({version}), CPU, {runs} runs each")
    print(f"{'':<46} {'median':>8} {'p90':>8} {'max':>8}")
    for name, figure in (("resume: answer POST returned -> execution_success", figures["resume"]),
                         ("interrupt: /interrupt returned -> execution_interrupted", figures["interrupt"])):
        print(f"{name:<46} {figure.median:8.2f} {figure.p90:8.2f} {figure.max:8.2f}  ms")
    for line in picker_lines:
        print(line)
    return 0
