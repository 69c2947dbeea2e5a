"""Chaos soak against a real ComfyUI (opt-in, see test_real_comfyui): a random mix of
answer, Cancel, interrupt, timeout and a new prompt queued mid-wait; every run ends as its
event implies, nothing is left waiting, and ComfyUI's queue is empty at the end."""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest
from test_real_comfyui import doubler

from dev.harness.comfyui import ComfyClient, RealComfyUI

pytestmark = pytest.mark.real_comfyui

RUNS = int(os.environ.get("HITL_REAL_SOAK_RUNS", "40"))
EVENTS = ["answer", "cancel", "interrupt", "timeout", "new_prompt"]


async def test_real_chaos_soak(comfyui: RealComfyUI) -> None:
    rng = random.Random(11)
    counts: Counter[str] = Counter()
    async with ComfyClient(comfyui.url) as client:
        for number in range(RUNS):
            event = EVENTS[number % len(EVENTS)] if number < len(EVENTS) else rng.choice(EVENTS)
            counts[event] += 1
            prompt_id = await client.queue(doubler(number, ask_first=True, timeout=1 if event == "timeout" else 0))
            view = await client.waiting_request(prompt_id)
            answer = f"/api/hitl/requests/{view['id']}/answer"
            if event == "answer":
                assert (await client.post(answer, {"value": 2 * number}))[0] == 200
                expected = "execution_success"
            elif event == "cancel":
                assert (await client.post(f"/api/hitl/requests/{view['id']}/cancel", {}))[0] == 200
                expected = "execution_interrupted"
            elif event == "interrupt":
                await client.interrupt()
                expected = "execution_interrupted"
            elif event == "timeout":
                expected = "execution_error"
            else:
                follower = await client.queue(doubler(number + 1, ask_first=True))
                # The waiting run is not disturbed by the queued one; answer it, then the follower.
                assert (await client.get("/api/hitl/requests"))["requests"][0]["id"] == view["id"]
                assert (await client.post(answer, {"value": 2 * number}))[0] == 200
                follower_view = await client.waiting_request(follower)
                await client.post(f"/api/hitl/requests/{follower_view['id']}/answer", {"value": 2 * number + 2})
                _, end = await client.run_end(follower)
                assert end["type"] == "execution_success"
                assert (await client.history(follower))["outputs"]["1"]["doubled"] == [2 * number + 2]
                expected = "execution_success"
            _, end = await client.run_end(prompt_id, timeout=30)
            assert end["type"] == expected, (number, event, end)
            if expected == "execution_success":
                assert (await client.history(prompt_id))["outputs"]["1"]["doubled"] == [2 * number]
        assert (await client.get("/api/hitl/requests")) == {"requests": []}
        queue = await client.get("/queue")
        assert queue["queue_running"] == [] and queue["queue_pending"] == []
    assert all(counts[event] for event in EVENTS), counts
