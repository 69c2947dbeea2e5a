"""``python -m dev.bench --comfyui DIR``: figures from a real ComfyUI (CPU), through its API.

- resume latency: from the answer POST returning to the ``execution_success`` message;
- interrupt latency: from ``POST /interrupt`` returning to ``execution_interrupted``;
- picker: a noisy 32×1024² batch (EmptyImage + ImageAddNoise): from the queue POST returning,
  and from ComfyUI's ``executing`` message for the picker, to every thumbnail in hand.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from dev.harness.comfyui import ComfyClient, RealComfyUI

from .measure import Figure


def doubler(value: int) -> dict[str, Any]:
    return {
        "1": {"class_type": "HitlIntegerDoubler", "inputs": {"value": value, "ask_first": True, "timeout_seconds": 0}}
    }


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
        print("resume samples, in run order (ms):", " ".join(f"{value:.1f}" for value in resume))
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


def picker_prompt(batch: int, seed: int) -> dict[str, Any]:
    """A noisy batch from model-free core nodes, the picker, and a preview of the picks."""
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 1024, "height": 1024, "batch_size": batch, "color": 0x808080},
        },
        "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": seed, "strength": 0.5}},
        "3": {
            "class_type": "HitlImagePicker",
            "inputs": {
                "images": ["2", 0],
                "mode": "always ask",
                "min_picks": 1,
                "max_picks": 0,
                "title": "bench",
                "timeout_seconds": 0,
                "on_timeout": "cancel run",
            },
        },
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }


async def measure_picker(url: str, runs: int, batch: int = 32) -> dict[str, Figure]:
    """Queue-to-thumbnails and picker-start-to-thumbnails for a noisy 1024² batch."""
    from_queue, from_node = [], []
    async with ComfyClient(url) as client:
        for number in range(runs + 1):  # the first run warms ComfyUI up and is not counted
            after = len(client.messages)
            prompt_id = await client.queue(picker_prompt(batch, seed=number))
            queued = time.perf_counter()
            view = await client.waiting_request(prompt_id, after=after, timeout=120)
            node_started, _ = await client.wait_message(
                lambda m, prompt_id=prompt_id: (
                    m.get("type") == "executing"
                    and m["data"].get("node") == "3"
                    and m["data"].get("prompt_id") == prompt_id
                ),
                after=after,
            )
            assert client.session is not None

            async def fetch(index: int, request_id: str = view["id"]) -> int:
                assert client.session is not None
                async with client.session.get(f"/api/hitl/requests/{request_id}/images/{index}?size=thumb") as response:
                    assert response.status == 200
                    return len(await response.read())

            await asyncio.gather(*(fetch(index) for index in range(int(view["payload"]["count"]))))
            in_hand = time.perf_counter()
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
            await client.run_end(prompt_id)
            if number:
                from_queue.append((in_hand - queued) * 1000)
                from_node.append((in_hand - node_started) * 1000)
    return {"queue": Figure(from_queue), "node": Figure(from_node)}


def run_real(comfy_dir: str, python: str | None, *, runs: int) -> int:
    comfyui = RealComfyUI(comfy_dir, python=python)
    comfyui.start()
    try:
        figures = asyncio.run(measure(comfyui.url, runs))
        figures.update({f"picker {k}": v for k, v in asyncio.run(measure_picker(comfyui.url, runs)).items()})
    finally:
        comfyui.stop()
    version = next((line.strip() for line in comfyui.log if "ComfyUI version" in line), "ComfyUI version unknown")
    print(f"real ComfyUI ({version}), CPU, {runs} runs each")
    print(f"{'':<58} {'median':>8} {'p90':>8} {'max':>8}")
    for name, figure in (
        ("resume: answer POST returned -> execution_success", figures["resume"]),
        ("interrupt: /interrupt returned -> execution_interrupted", figures["interrupt"]),
        ("picker 32×1024² noisy: queued -> thumbnails in hand", figures["picker queue"]),
        ("picker 32×1024² noisy: node start -> thumbnails in hand", figures["picker node"]),
    ):
        print(f"{name:<58} {figure.median:8.2f} {figure.p90:8.2f} {figure.max:8.2f}  ms")
    return 0
