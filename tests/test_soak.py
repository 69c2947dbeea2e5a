"""Chaos soak: consecutive runs through the harness with a real browser tab and a random
mix of answer (browser or API), Cancel, interrupt, timeout, page reload and a new prompt
queued mid-wait. Every run must end as its event implies; nothing may be left waiting;
threads and memory must stay flat.

CI runs 300; for a longer soak: HITL_SOAK_RUNS=3000 bash dev/test.sh tests/test_soak.py
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from typing import Any

import pytest

from dev.harness.host import HarnessHost, Run

pytestmark = pytest.mark.browser

RUNS = int(os.environ.get("HITL_SOAK_RUNS", "300"))
EVENTS = ["answer_browser", "answer_api", "cancel_button", "interrupt", "timeout", "reload", "new_prompt"]
DIALOG = "section.hitl-card[data-kind='integer-doubler']"


def thread_census() -> tuple[list[str], int]:
    """Threads that are not asyncio default-executor workers, and how many of those there are.

    aiohttp sends static files (a page reload) through its loop's default executor: a pool
    bounded to min(32, cores + 4) threads that grows on demand. Growth within that bound is
    not a leak; any other new thread is."""
    names = [thread.name for thread in threading.enumerate()]
    pooled = sum(name.startswith("asyncio_") for name in names)
    return sorted(name for name in names if not name.startswith("asyncio_")), pooled


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def dialog_for(page: Any, view: dict[str, Any]) -> Any:
    return page.locator(f"{DIALOG}[data-request-id='{view['id']}']")


def queue(host: HarnessHost, value: int, timeout: float = 0) -> tuple[Run, dict[str, Any]]:
    run = host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": timeout})
    [view] = host.wait_waiting(run)
    return run, view


def click_send(page: Any, view: dict[str, Any]) -> None:
    dialog = dialog_for(page, view)
    dialog.wait_for()
    dialog.locator("[data-action='primary']").click()


def test_chaos_soak(host: HarnessHost, open_page: Any) -> None:
    rng = random.Random(20261123)
    page = open_page()
    counts: Counter[str] = Counter()
    memory_baseline = 0
    threads_baseline: list[str] = []
    for number in range(RUNS):
        if number == 25:  # after warm-up (imports, caches, one-time pools, first allocations)
            memory_baseline = rss_bytes()
            threads_baseline, _ = thread_census()
        # The first runs take every event once, so the warm-up has seen each of them.
        event = EVENTS[number] if number < len(EVENTS) else rng.choice(EVENTS)
        counts[event] += 1
        value = rng.randrange(-1000, 1000)
        if event == "timeout":
            run, view = queue(host, value, timeout=0.05)
            run.wait()
            assert run.status == "error" and "no browser or API client answered" in run.error
            dialog_for(page, view).wait_for(state="detached")
            continue
        run, view = queue(host, value)
        if event == "answer_browser":
            click_send(page, view)
            expected = ("success", 2 * value)
        elif event == "answer_api":
            dialog_for(page, view).wait_for()
            host.registry.answer(view["id"], 2 * value)
            expected = ("success", 2 * value)
        elif event == "cancel_button":
            dialog_for(page, view).locator("[data-action='cancel']").click()
            expected = ("interrupted", None)
        elif event == "interrupt":
            host.interrupt.raise_flag()
            expected = ("interrupted", None)
        elif event == "reload":
            dialog_for(page, view).wait_for()
            page.reload()
            page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
            click_send(page, view)  # the reloaded tab shows the same request again
            expected = ("success", 2 * value)
        else:  # new_prompt: queued behind the waiting one, which keeps waiting
            follower = host.submit("HitlIntegerDoubler", {"value": value + 1, "ask_first": True, "timeout_seconds": 0})
            click_send(page, view)
            [follower_view] = host.wait_waiting(follower)
            click_send(page, follower_view)
            follower.wait()
            # The run can end before this tab has read the answer's reply and closed the card.
            dialog_for(page, follower_view).wait_for(state="detached")
            assert follower.status == "success" and follower.outputs[0]["result"] == (2 * (value + 1),)
            expected = ("success", 2 * value)
        run.wait()
        assert run.status == expected[0], (number, event, run.status, run.error)
        if expected[1] is not None:
            assert run.outputs[0]["result"] == (expected[1],)
        dialog_for(page, view).wait_for(state="detached")
    assert host.registry.waiting_count() == 0
    assert page.locator("section.hitl-card").count() == 0
    assert all(counts[event] > 0 for event in EVENTS), counts
    threads, pooled = thread_census()
    assert threads == threads_baseline, (threads_baseline, threads)
    assert pooled <= min(32, (os.cpu_count() or 1) + 4) * 2, pooled  # two loops' bounded pools at most
    growth = rss_bytes() - memory_baseline
    assert growth < 16 * 1024 * 1024, f"memory grew {growth / 1e6:.1f} MB over {RUNS - 25} runs"
