"""Benchmark: a phone on the pack's own listener (docs/pairing.md), where the person looks.

``python -m dev.bench.pairing`` runs the harness (the stand-in ComfyUI on 127.0.0.1) with the
pack's listener on 127.0.0.2, and headless Chromium as a 390×844 touch phone:

- **scan → paired list**: a fresh phone (a new browser context: no cookie) opens a pairing
  link (what scanning the QR code does) → the inbox's list is on screen (the page's
  ``hitl-inbox-list`` mark), the pairing call and the device check included. One new link
  and one new phone per sample.
- **resume**: Send tapped in the inbox served by the listener (the click event's time) → the
  node returned its output on the worker thread; against the same in the inbox on ComfyUI's
  own port (the stand-in's), alternately, in two phones opened side by side.
- **appear** (besides): a request opens → its row in the listener's inbox (server-sent
  events) and in the inbox on ComfyUI's port (its websocket).

Times are read on this machine's clock in the page and here, as in bench/inbox.py. Prints
median / p90 / max and writes bench/results/pairing.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from dev.harness.browser import CHROMIUM_ARGS, chromium_executable
from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.pack import submodule

from .inbox import NOTE_ARRIVALS, NOTE_SEND, PHONE, ROW, line, perf_to_epoch_ms
from .picker import summarize

log = logging.getLogger("bench.pairing")
RESULTS = Path(__file__).resolve().parent / "results"


class PairingBench:
    """The harness with the listener, and a browser for phones."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self.host = HarnessHost()
        remote = submodule("server.remote")
        self.remote = remote.RemoteAccess(
            self.host.registry, self.host.settings, user_directory=str(self.host.user_dir), pusher=self.host.pusher
        )
        # Every phone here pairs from 127.0.0.1: lift the 10-a-minute limit on pairing attempts.
        self.remote.pairing.limiter.limit = 1_000_000
        self.server = HarnessServer(self.host, remote=self.remote, remote_address=("127.0.0.2", 0))
        self.server.start()
        assert self.remote.url, "the listener did not start"
        self.opened: dict[str, float] = {}
        self.host.add_listener(self._on_change)
        executable = chromium_executable()
        if executable is None:
            raise SystemExit("Debian's chromium is needed (the README's test command installs it)")
        self._playwright = sync_playwright().start()
        self.browser = self._playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        self.contexts: list[Any] = []

    def _on_change(self, event: str, data: dict[str, Any]) -> None:
        if data.get("state") == "waiting":
            self.opened.setdefault(str(data["id"]), time.time() * 1000)

    def pairing_link(self) -> str:
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 (the harness's own URL)
            f"{self.server.url}/hitl/pairing/secrets",
            data=b"{}",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return str(json.loads(response.read())["url"])

    def phone(self) -> Any:
        context = self.browser.new_context(**PHONE)
        self.contexts.append(context)
        return context

    def scan(self, samples: int) -> list[float]:
        """Pairing link opened → the paired inbox's list on screen, each in a fresh phone."""
        delays = []
        for _ in range(samples):
            link = self.pairing_link()
            context = self.phone()
            page = context.new_page()
            started = time.time() * 1000
            page.goto(link)
            page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")
            shown = page.evaluate(
                "performance.timeOrigin + performance.getEntriesByName('hitl-inbox-list')[0].startTime"
            )
            delays.append(shown - started)
            context.close()
            self.contexts.remove(context)
        return delays

    def ask(self, value: int) -> tuple[Any, str]:
        run = self.host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": 0})
        return run, str(self.host.wait_waiting(run)[0]["id"])

    def two_inboxes(self) -> dict[str, Any]:
        listener = self.phone().new_page()
        listener.goto(self.pairing_link())
        comfy = self.phone().new_page()
        comfy.goto(f"{self.server.url}/hitl/inbox")
        for page in (listener, comfy):
            page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")
            page.wait_for_function("() => window.hitlInbox.api.connected === true")
        return {"listener": listener, "comfyui": comfy}

    def resume_and_appear(self, samples: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
        pages = self.two_inboxes()
        for page in pages.values():
            page.evaluate(NOTE_SEND)
            page.evaluate(NOTE_ARRIVALS, "ul[data-role='waiting'] li[data-request-id]")
        resume: dict[str, list[float]] = {name: [] for name in pages}
        appear: dict[str, list[float]] = {name: [] for name in pages}
        for sample in range(samples):
            where = "listener" if sample % 2 == 0 else "comfyui"
            run, request_id = self.ask(sample)
            for name, page in pages.items():
                seen = page.wait_for_function("(id) => window.__seen[id] ?? null", arg=request_id).json_value()
                appear[name].append(seen - self.opened[request_id])
            page = pages[where]
            page.locator(f"{ROW}[data-request-id='{request_id}']").tap()
            page.locator(f"section.hitl-card[data-request-id='{request_id}'] [data-action='primary']").tap()
            run.wait()
            assert run.status == "success" and run.node_ended_at is not None, run.summary()
            resume[where].append(perf_to_epoch_ms(run.node_ended_at) - page.evaluate("window.__sentAt"))
            for other in pages.values():
                other.locator(f"{ROW}[data-request-id='{request_id}']").wait_for(state="detached")
        return resume, appear

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.browser.close()
        self._playwright.stop()
        self.host.remove_listener(self._on_change)
        self.server.stop()
        self.host.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=30, help="fresh phones paired (default 30)")
    parser.add_argument("--runs", type=int, default=100, help="Sends, half on each port (default 100)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")

    bench = PairingBench()
    try:
        scan = bench.scan(args.scans)
        resume, appear = bench.resume_and_appear(args.runs)
    finally:
        bench.close()

    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    figures = {
        "scan_to_list_ms": summarize(scan).__dict__,
        "resume_ms": {name: summarize(values).__dict__ for name, values in resume.items()},
        "appear_ms": {name: summarize(values).__dict__ for name, values in appear.items()},
        "samples": {"scans": args.scans, "resume": {name: len(values) for name, values in resume.items()}},
        "load_average": load,
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(
        f"pairing benchmark, harness, headless Chromium phone; load average {' '.join(load)} on {os.cpu_count()} CPUs"
    )
    print(f"{'':<62} {'median':>9} {'p90':>9} {'max':>9}")
    print(line(f"scan: pairing link opened → paired list shown ({len(scan)})", summarize(scan)))
    print(
        line(f"resume: Send tapped, inbox on the listener ({len(resume['listener'])})", summarize(resume["listener"]))
    )
    print(line(f"  the same, inbox on ComfyUI's port ({len(resume['comfyui'])})", summarize(resume["comfyui"])))
    print(line("appear: request opened → row, listener (events)", summarize(appear["listener"])))
    print(line("  the same, ComfyUI's port (websocket)", summarize(appear["comfyui"])))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pairing.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
