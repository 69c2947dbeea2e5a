"""Benchmark: the inbox, measured where the person looks (headless Chromium, the harness).

``python -m dev.bench.inbox`` runs the real nodes, routes and pages on the stand-in host, opens
the inbox in a phone's touch context (390×844) and, beside it, the two things a person could
use instead: a ComfyUI tab (the harness page, the same dialogs over the same websocket) and a
page that asks the list route every second (what a page without a websocket would do). Then:

- **appear**: a request opens (the registry broadcasts it) → its row is in the already-open
  inbox's DOM (a MutationObserver notes it); the same request → the tab's dialog, and → the
  polling page's first list that has it. One request per sample, at a random moment.
- **resume**: the person taps Send in the inbox (the click event's time) → the node returned
  its output on the worker thread; the same with a click in the ComfyUI tab, alternately.
- **bytes**: what a cold inbox loads before it shows its list (the page, its modules, the
  list), read from the browser's resource timing: bodies as sent (the pack gzips its page
  files when the browser accepts it, as every browser does) and, beside them, unpacked; the
  time from navigation to the list; and what it fetches afterwards (the dialogs, in the
  background).

Page and Python times are both read on this machine's clock (``performance.timeOrigin +
performance.now()`` in the page, ``time.time()`` here), so no clock has to be trusted
against another machine's. Prints median / p90 / max and writes bench/results/inbox.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dev.harness.browser import CHROMIUM_ARGS, chromium_executable
from dev.harness.host import HarnessHost, HarnessServer

from .picker import Summary, summarize

log = logging.getLogger("bench.inbox")
RESULTS = Path(__file__).resolve().parent / "results"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
POLL_MS = 1000
ROW = "ul[data-role='waiting'] li"

#: In each page: note when an element with a request id first shows (``__seen``).
NOTE_ARRIVALS = """(selector) => {
    window.__seen = {};
    const note = () => {
        for (const el of document.querySelectorAll(selector)) {
            const id = el.dataset.requestId;
            if (id && !(id in window.__seen)) window.__seen[id] = performance.timeOrigin + performance.now();
        }
    };
    new MutationObserver(note).observe(document.body, { childList: true, subtree: true });
    note();
}"""
#: The polling page: asks the list every second and notes when an id is first in it.
POLL_LIST = """([route, every]) => {
    window.__seen = {};
    const ask = async () => {
        const body = await (await fetch(route, { cache: "no-store" })).json();
        const at = performance.timeOrigin + performance.now();
        for (const view of body.requests) if (!(view.id in window.__seen)) window.__seen[view.id] = at;
    };
    window.setInterval(() => void ask(), every);
}"""
#: Note the time of each click on a Send button (``__sentAt``).
NOTE_SEND = """() => {
    window.__sentAt = null;
    document.addEventListener("click", (event) => {
        if (event.target.closest("[data-action='primary']")) window.__sentAt = performance.timeOrigin + performance.now();
    }, { capture: true });
}"""
#: Bytes and times of a cold load, up to the list and after it.
PAGE_COST = """() => {
    const shown = performance.getEntriesByName("hitl-inbox-list")[0].startTime;
    const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
    const before = entries.filter((e) => e.responseEnd <= shown);
    const sum = (list) => list.reduce((total, e) => total + e.encodedBodySize, 0);
    const plain = (list) => list.reduce((total, e) => total + e.decodedBodySize, 0);
    return { before: sum(before), after: sum(entries) - sum(before), plainBefore: plain(before),
             plainAfter: plain(entries) - plain(before), shownMs: shown, files: before.length,
             names: before.map((e) => new URL(e.name).pathname) };
}"""


def perf_to_epoch_ms(perf_seconds: float) -> float:
    """A ``time.perf_counter()`` reading as milliseconds since 1970 on this machine's clock."""
    return (time.time() - (time.perf_counter() - perf_seconds)) * 1000


class InboxBench:
    """The harness, a browser, and the three pages a person could look at."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self.host = HarnessHost()
        self.server = HarnessServer(self.host)
        self.server.start()
        self.opened: dict[str, float] = {}
        self._lock = threading.Lock()
        self.host.add_listener(self._on_change)
        executable = chromium_executable()
        if executable is None:
            raise SystemExit("Debian's chromium is needed (the README's test command installs it)")
        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        self.contexts: list[Any] = []

    def _on_change(self, event: str, data: dict[str, Any]) -> None:
        # Called where the registry broadcasts the change (under its lock): just note the time.
        if data.get("state") == "waiting":
            with self._lock:
                self.opened.setdefault(str(data["id"]), time.time() * 1000)

    def page(self, device: dict[str, Any], path: str) -> Any:
        context = self.browser.new_context(**device)
        self.contexts.append(context)
        page = context.new_page()
        page.goto(self.server.url + path)
        return page

    def inbox(self) -> Any:
        page = self.page(PHONE, "/hitl/inbox")
        page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")
        return page

    def tab(self) -> Any:
        page = self.page(DESKTOP, "/")
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        return page

    def ask(self, value: int) -> tuple[Any, str]:
        run = self.host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": 0})
        return run, str(self.host.wait_waiting(run)[0]["id"])

    # ------------------------------------------------------------------ measures
    def appear(self, samples: int) -> dict[str, list[float]]:
        inbox, tab = self.inbox(), self.tab()
        poller = self.page(DESKTOP, "/hitl/openapi.json")
        inbox.evaluate(NOTE_ARRIVALS, "ul[data-role='waiting'] li[data-request-id]")
        tab.evaluate(NOTE_ARRIVALS, "section.hitl-card[data-request-id]")
        poller.evaluate(POLL_LIST, ["/api/hitl/requests", POLL_MS])
        pages = {"inbox": inbox, "tab": tab, "poll": poller}
        delays: dict[str, list[float]] = {name: [] for name in pages}
        for sample in range(samples):
            # A request opens at any moment, not in step with the polling page's clock.
            time.sleep(random.uniform(0, POLL_MS / 1000))
            run, request_id = self.ask(sample)
            for name, page in pages.items():
                seen = page.wait_for_function("(id) => window.__seen[id] ?? null", arg=request_id).json_value()
                delays[name].append(seen - self.opened[request_id])
            self.host.registry.cancel(request_id)
            run.wait()
            inbox.locator(f"{ROW}[data-request-id='{request_id}']").wait_for(state="detached")
        return delays

    def resume(self, samples: int) -> dict[str, list[float]]:
        inbox, tab = self.inbox(), self.tab()
        for page in (inbox, tab):
            page.evaluate(NOTE_SEND)
        delays: dict[str, list[float]] = {"inbox": [], "tab": []}
        for sample in range(samples):
            where = "inbox" if sample % 2 == 0 else "tab"
            run, request_id = self.ask(sample)
            if where == "inbox":
                inbox.locator(f"{ROW}[data-request-id='{request_id}']").tap()
                inbox.locator(f"section.hitl-card[data-request-id='{request_id}'] [data-action='primary']").tap()
                page = inbox
            else:
                tab.locator(f"section.hitl-card[data-request-id='{request_id}'] [data-action='primary']").click()
                page = tab
            run.wait()
            assert run.status == "success" and run.node_ended_at is not None, run.summary()
            delays[where].append(perf_to_epoch_ms(run.node_ended_at) - page.evaluate("window.__sentAt"))
            inbox.locator(f"{ROW}[data-request-id='{request_id}']").wait_for(state="detached")
        return delays

    def page_cost(self, loads: int) -> list[dict[str, Any]]:
        run, request_id = self.ask(1)
        costs = []
        for _ in range(loads):
            page = self.inbox()
            page.locator(f"{ROW}[data-request-id='{request_id}']").wait_for()
            page.wait_for_function(
                "() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('image_picker.js'))"
            )
            page.wait_for_load_state("networkidle")
            costs.append(page.evaluate(PAGE_COST))
            page.context.close()
            self.contexts.remove(page.context)
        self.host.registry.cancel(request_id)
        run.wait()
        return costs

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.browser.close()
        self._playwright.stop()
        self.host.remove_listener(self._on_change)
        self.host.close()
        self.server.stop()


def line(name: str, figure: Summary, unit: str = "ms") -> str:
    return f"{name:<62} {figure.median:9.1f} {figure.p90:9.1f} {figure.max:9.1f}  {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="requests for the appear figure (default 60)")
    parser.add_argument("--resume-runs", type=int, default=40, help="Sends for the resume figure (default 40)")
    parser.add_argument("--loads", type=int, default=5, help="cold loads for the bytes figure (default 5)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    bench = InboxBench()
    try:
        appear = bench.appear(args.runs)
        resume = bench.resume(args.resume_runs)
        costs = bench.page_cost(args.loads)
    finally:
        bench.close()

    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    figures = {
        "appear_ms": {name: summarize(values).__dict__ for name, values in appear.items()},
        "resume_ms": {name: summarize(values).__dict__ for name, values in resume.items()},
        "bytes_before_list": summarize(cost["before"] for cost in costs).__dict__,
        "bytes_after_list": summarize(cost["after"] for cost in costs).__dict__,
        "unpacked_bytes_before_list": summarize(cost["plainBefore"] for cost in costs).__dict__,
        "unpacked_bytes_after_list": summarize(cost["plainAfter"] for cost in costs).__dict__,
        "ms_to_list": summarize(cost["shownMs"] for cost in costs).__dict__,
        "files_before_list": costs[0]["names"],
        "samples": {"appear": args.runs, "resume": args.resume_runs, "loads": args.loads},
        "load_average": load,
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(f"inbox benchmark, harness, headless Chromium; load average {' '.join(load)} on {os.cpu_count()} CPUs")
    print(f"{'':<62} {'median':>9} {'p90':>9} {'max':>9}")
    print(line(f"appear: request opened → row in the open inbox ({args.runs})", summarize(appear["inbox"])))
    print(line("  the same → dialog in a ComfyUI tab", summarize(appear["tab"])))
    print(line(f"  the same → a page polling the list every {POLL_MS} ms", summarize(appear["poll"])))
    print(
        line(f"resume: Send tapped in the inbox → node returned ({len(resume['inbox'])})", summarize(resume["inbox"]))
    )
    print(line(f"  Send clicked in a ComfyUI tab → node returned ({len(resume['tab'])})", summarize(resume["tab"])))
    print(
        line(
            f"bytes loaded before the list shows ({args.loads} cold loads)", summarize(c["before"] for c in costs), "B"
        )
    )
    print(line("  the same, unpacked", summarize(c["plainBefore"] for c in costs), "B"))
    print(line("  navigation → list shown", summarize(c["shownMs"] for c in costs)))
    print(
        line(
            "  bytes fetched after the list (the dialogs, in the background)", summarize(c["after"] for c in costs), "B"
        )
    )
    print(line("  the same, unpacked", summarize(c["plainAfter"] for c in costs), "B"))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "inbox.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
