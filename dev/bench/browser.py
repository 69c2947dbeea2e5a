"""``python -m dev.bench --browser``: the image picker where the person looks, in a real browser.

Headless Chromium opens the page (a real ComfyUI's frontend with ``--comfyui DIR``, else the
harness page), the page queues a picker on a noisy batch, and the page itself records, with
``performance.now()``:

- **start**: the frontend's ``executing`` event for the picker node, as the page sees it
  (ComfyUI sends it just before the node runs; the harness does the same);
- **dialog**: the picker's dialog is in the page;
- **screenful**: every tile visible in the grid when the first image loaded has loaded;
- **all**: every tile's preview has loaded as an image in the page (its ``load`` event);
- the bytes the page fetched for the request (Resource Timing ``transferSize``: bodies and
  headers) and how many HTTP requests that took, and the long tasks (over 50 ms) the page's
  main thread ran meanwhile (``PerformanceObserver('longtask')``).

With ``--batch 256`` it also scrolls the grid to the end and back, a step per animation frame,
and reports the long tasks and the slowest frames during the scroll.

**Baseline in the same run**: the pack at ``--baseline-ref`` (default: the commit before the
picker's speed work) is unpacked with ``git archive`` into a temporary folder and served
beside this checkout (a second ComfyUI, or a second harness server), and the runs alternate
between the two, so both see the same machine load. ``--no-baseline`` skips it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from dev.harness.browser import CHROMIUM_ARGS, chromium_executable
from dev.harness.comfyui import RealComfyUI
from dev.harness.pack import ROOT

from .picker import Summary, summarize

log = logging.getLogger("bench.browser")

#: The commit whose picker is the "before" of the speed work (issue 12).
DEFAULT_BASELINE_REF = "f525584"
PICKER_ID = "3"
VIEWPORT = {"width": 1400, "height": 900}


# ------------------------------------------------------------------------- systems
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unpack_commit(ref: str, into: Path) -> Path:
    """The pack as it was at ``ref`` (``git archive``), unpacked into ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


class HarnessProcess:
    """The harness page and host in a process of its own, serving the pack at ``pack_root``."""

    kind = "harness"

    def __init__(self, pack_root: Path) -> None:
        self.pack_root = pack_root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dev.harness.demo", "--port", str(self.port)],
            # Each pack is served by its own harness (an older pack by the harness of its
            # time: today's stand-in host imports modules an older pack does not have).
            cwd=self.pack_root if (self.pack_root / "harness" / "demo.py").is_file() else ROOT,
            env={**os.environ, "HITL_PACK_ROOT": str(self.pack_root)},
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        for line in self.process.stderr:  # the demo logs one line when it serves
            if "demo on" in line:
                break
        else:
            raise RuntimeError(f"the harness for {self.pack_root} did not start")
        # Keep draining its log so it never blocks on a full pipe.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)

    def queue_script(self, inputs: dict[str, Any], batch: int, size: int) -> str:
        images = {"generate": "noise", "batch": batch, "size": size}
        body = {
            "calls": [{"node_id": PICKER_ID, "node_type": "HitlImagePicker", "inputs": {**inputs, "images": images}}]
        }
        return f"window.queueRun({json.dumps(body)})"


class ComfyProcess:
    """A real ComfyUI with the pack at ``pack_root`` installed."""

    kind = "comfyui"

    def __init__(self, comfy_dir: str, python: str | None, front_end_root: str | None, pack_root: Path) -> None:
        self.comfy = RealComfyUI(comfy_dir, python=python, front_end_root=front_end_root, pack_root=pack_root)
        self.url = self.comfy.url

    def start(self) -> None:
        self.comfy.start()

    def stop(self) -> None:
        self.comfy.stop()

    def version(self) -> str:
        return next((line.strip() for line in self.comfy.log if "ComfyUI version" in line), "ComfyUI version unknown")

    def queue_script(self, inputs: dict[str, Any], batch: int, size: int) -> str:
        prompt = {
            "1": {
                "class_type": "EmptyImage",
                "inputs": {"width": size, "height": size, "batch_size": batch, "color": 0x808080},
            },
            "2": {"class_type": "ImageAddNoise", "inputs": {"image": ["1", 0], "seed": 0, "strength": 0.5}},
            PICKER_ID: {"class_type": "HitlImagePicker", "inputs": {**inputs, "images": ["2", 0]}},
            "4": {"class_type": "PreviewImage", "inputs": {"images": [PICKER_ID, 0]}},
        }
        # Queued as the page's own client, so ComfyUI sends its `executing` events to this tab.
        return f"""(async () => {{
            const {{ api }} = await import('/scripts/api.js');
            const prompt = {json.dumps(prompt)};
            prompt["2"].inputs.seed = Math.floor(Math.random() * 1e9);
            const response = await api.fetchApi('/prompt', {{ method: 'POST', headers: {{ 'Content-Type': 'application/json' }},
                body: JSON.stringify({{ prompt, client_id: api.clientId }}) }});
            return (await response.json()).prompt_id;
        }})()"""


# --------------------------------------------------------------------- the page part
#: Installed once per page: records the moments of each run in window.__hitlBench.run.
INSTRUMENT = """async (pickerId) => {
    const { api } = await import('/scripts/api.js');
    performance.setResourceTimingBufferSize(100000);
    const bench = (window.__hitlBench = { run: null });
    const now = () => performance.now();
    api.addEventListener('executing', (event) => {
        const run = bench.run;
        if (run && run.executing === null && String(event.detail) === pickerId) run.executing = now();
    });
    for (const type of ['execution_success', 'execution_error', 'execution_interrupted', 'harness-run']) {
        api.addEventListener(type, (event) => {
            const run = bench.run;
            if (run && event.detail && event.detail.prompt_id === run.promptId) run.ended = now();
        });
    }
    new MutationObserver(() => {
        const run = bench.run;
        if (!run || run.dialog !== null) return;
        const card = document.querySelector("section.hitl-card[data-kind='image-picker']");
        if (card) { run.dialog = now(); run.requestId = card.dataset.requestId; }
    }).observe(document.body, { childList: true, subtree: true });
    const tileIndex = (img) => {
        const tile = img.closest('.hitl-pick-tile');
        return tile && tile.closest("section.hitl-card[data-kind='image-picker']") ? tile.dataset.index : null;
    };
    const visibleTiles = () => {
        const tiles = [...document.querySelectorAll("section.hitl-card[data-kind='image-picker'] .hitl-pick-tile")];
        const box = document.querySelector("section.hitl-card[data-kind='image-picker'] .hitl-body").getBoundingClientRect();
        const top = Math.max(0, box.top), bottom = Math.min(innerHeight, box.bottom);
        return tiles.filter((tile) => {
            const rect = tile.getBoundingClientRect();
            return rect.height > 0 && rect.bottom > top && rect.top < bottom;
        }).map((tile) => tile.dataset.index);
    };
    document.addEventListener('load', (event) => {
        const run = bench.run;
        const img = event.target;
        if (!run || !(img instanceof HTMLImageElement)) return;
        const index = tileIndex(img);
        if (index === null || index in run.loaded) return;
        const at = now();
        run.loaded[index] = at;
        if (run.first === null) { run.first = at; run.screen = visibleTiles(); }
        const count = Object.keys(run.loaded).length;
        if (run.screenful === null && run.screen.every((i) => i in run.loaded)) run.screenful = at;
        if (count === run.expected) run.all = at;
    }, true);
    try {
        new PerformanceObserver((list) => {
            for (const entry of list.getEntries()) bench.run?.longTasks.push([entry.startTime, entry.duration]);
        }).observe({ type: 'longtask' });
    } catch (error) {
        console.warn('no longtask observer', error);
    }
    bench.arm = (expected) => {
        performance.clearResourceTimings();
        bench.run = { expected, executing: null, dialog: null, first: null, screen: [], screenful: null, all: null,
            loaded: {}, longTasks: [], promptId: null, requestId: null, ended: null };
    };
    bench.report = () => {
        const run = bench.run;
        const mine = performance.getEntriesByType('resource').filter((e) => run.requestId && e.name.includes(run.requestId));
        const from = (t) => (t === null || run.executing === null ? null : t - run.executing);
        const during = run.longTasks.filter(([start]) => run.executing !== null && start >= run.executing - 1 && start <= (run.all ?? run.screenful ?? now()));
        return {
            dialog: from(run.dialog), first: from(run.first), screenful: from(run.screenful), all: from(run.all),
            screen: run.screen.length, loaded: Object.keys(run.loaded).length,
            bytes: mine.reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0),
            requests: mine.length,
            longTasks: during.length, longTaskMs: during.reduce((sum, [, d]) => sum + d, 0),
        };
    };
    bench.cancel = async () => {
        const run = bench.run;
        if (!run.requestId) return false;
        const response = await fetch(`/api/hitl/requests/${run.requestId}/cancel`, { method: 'POST',
            headers: { 'Content-Type': 'application/json' }, body: '{}' });
        return response.ok;
    };
    bench.scroll = async () => {
        // Down to the end and back, one step per animation frame; frame gaps and long tasks.
        const body = document.querySelector("section.hitl-card[data-kind='image-picker'] .hitl-body");
        const tasksBefore = bench.run.longTasks.length;
        const gaps = [];
        let last = now();
        const frame = () => new Promise((resolve) => requestAnimationFrame(() => { const t = now(); gaps.push(t - last); last = t; resolve(); }));
        const step = 60;
        while (body.scrollTop + body.clientHeight < body.scrollHeight - 1) { body.scrollTop += step; await frame(); }
        while (body.scrollTop > 0) { body.scrollTop -= step; await frame(); }
        await frame();
        const tasks = bench.run.longTasks.slice(tasksBefore);
        gaps.sort((a, b) => a - b);
        return { frames: gaps.length, p90: gaps[Math.floor(gaps.length * 0.9)], max: gaps[gaps.length - 1],
            longTasks: tasks.length, longTaskMs: tasks.reduce((sum, [, d]) => sum + d, 0) };
    };
}"""


@dataclass
class SystemResult:
    """Every run of one system (ours or the baseline)."""

    name: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    scrolls: list[dict[str, Any]] = field(default_factory=list)

    def figure(self, key: str) -> Summary | None:
        values = [run[key] for run in self.runs if run.get(key) is not None]
        return summarize(values) if values else None


def picker_inputs() -> dict[str, Any]:
    return {
        "mode": "always ask",
        "min_picks": 1,
        "max_picks": 0,
        "title": "bench",
        "timeout_seconds": 0,
        "on_timeout": "cancel run",
    }


class PageDriver:
    """One browser page on one system."""

    def __init__(self, browser: Any, system: HarnessProcess | ComfyProcess) -> None:
        self.system = system
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.goto(system.url)
        if system.kind == "harness":
            self.page.wait_for_function("window.__harnessReady === true", timeout=60_000)
        else:
            self.page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=120_000)
        self.page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'", timeout=60_000)
        self.page.evaluate(INSTRUMENT, PICKER_ID)

    def run_once(self, batch: int, size: int, *, scroll: bool, timeout_ms: float) -> tuple[dict[str, Any], Any]:
        page = self.page
        page.evaluate("(expected) => window.__hitlBench.arm(expected)", batch)
        prompt_id = page.evaluate(self.system.queue_script(picker_inputs(), batch, size))
        page.evaluate("(id) => { window.__hitlBench.run.promptId = id; }", prompt_id)
        # Done when every tile has loaded, or (a lazy grid) the first screenful has and the
        # page has been quiet for a second.
        page.wait_for_function(
            """() => { const r = window.__hitlBench.run;
                return r.all !== null || (r.screenful !== null && performance.now() - r.screenful > 1000); }""",
            timeout=timeout_ms,
            polling=50,
        )
        report = page.evaluate("() => window.__hitlBench.report()")
        scrolled = page.evaluate("() => window.__hitlBench.scroll()") if scroll else None
        assert page.evaluate("() => window.__hitlBench.cancel()"), "could not cancel the picker"
        page.wait_for_function("() => window.__hitlBench.run.ended !== null", timeout=60_000, polling=50)
        return report, scrolled

    def close(self) -> None:
        self.context.close()


@contextlib.contextmanager
def started(systems: list[HarnessProcess | ComfyProcess]) -> Iterator[None]:
    try:
        for system in systems:
            system.start()
        yield
    finally:
        for system in systems:
            system.stop()


def measure(
    systems: dict[str, HarnessProcess | ComfyProcess], *, batch: int, size: int, runs: int, warmup: int = 1
) -> dict[str, SystemResult]:
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        raise SystemExit("Debian's chromium is not installed (bash dev/test.sh installs it)")
    results = {name: SystemResult(name) for name in systems}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        drivers = {name: PageDriver(browser, system) for name, system in systems.items()}
        try:
            for number in range(warmup + runs):
                # Alternate which system goes first, so neither always runs right after the other.
                order = list(drivers) if number % 2 == 0 else list(reversed(drivers))
                for name in order:
                    report, scrolled = drivers[name].run_once(
                        batch, size, scroll=batch > 64 and number >= warmup, timeout_ms=180_000
                    )
                    if number >= warmup:
                        results[name].runs.append(report)
                        if scrolled:
                            results[name].scrolls.append(scrolled)
                    log.info("%s run %d: %s", name, number, json.dumps(report))
        finally:
            for driver in drivers.values():
                driver.close()
            browser.close()
    return results


# ------------------------------------------------------------------------- report
def _ms(summary: Summary | None) -> str:
    return f"{'–':>23}" if summary is None else f"{summary.median:7.0f} {summary.p90:7.0f} {summary.max:7.0f}"


def format_report(results: dict[str, SystemResult], *, batch: int, size: int, where: str) -> str:
    lines = [f"image picker in a real browser ({where}), {batch} noisy {size}² images, ms from the page's `executing`"]
    lines.append(f"{'':<40} " + "   ".join(f"{name:^23}" for name in results))
    lines.append(f"{'':<40} " + "   ".join(f"{'median':>7} {'p90':>7} {'max':>7}" for _ in results))
    for key, label in (
        ("dialog", "dialog in the page"),
        ("first", "first preview loaded"),
        ("screenful", "first screenful loaded"),
        ("all", f"all {batch} previews loaded"),
        ("longTaskMs", "long tasks meanwhile, ms in all"),
    ):
        lines.append(f"{label:<40} " + "   ".join(_ms(result.figure(key)) for result in results.values()))
    for key, label in (
        ("bytes", "bytes fetched (median)"),
        ("requests", "HTTP requests (median)"),
        ("screen", "tiles on the first screen"),
    ):
        cells = []
        for result in results.values():
            figure = result.figure(key)
            cells.append(f"{figure.median:>23,.0f}" if figure else f"{'–':>23}")
        lines.append(f"{label:<40} " + "   ".join(cells))
    if any(result.scrolls for result in results.values()):
        for key, label in (
            ("p90", "scroll: frame gap p90, ms"),
            ("max", "scroll: longest frame gap, ms"),
            ("longTaskMs", "scroll: long tasks, ms in all"),
        ):
            cells = []
            for result in results.values():
                values = [scroll[key] for scroll in result.scrolls]
                cells.append(_ms(summarize(values)) if values else f"{'–':>23}")
            lines.append(f"{label:<40} " + "   ".join(cells))
    return "\n".join(lines)


def run_browser_bench(
    *,
    comfyui: str | None,
    comfyui_python: str | None,
    front_end_root: str | None,
    baseline_ref: str | None,
    batch: int,
    size: int,
    runs: int,
    sequential: bool = False,
) -> dict[str, Any]:
    """Measure this checkout (and the baseline commit) and print the table; returns the figures."""
    with open("/proc/loadavg", encoding="ascii") as loadavg:
        load_start = loadavg.read().split()[:3]
    with tempfile.TemporaryDirectory(prefix="hitl-baseline-") as folder:
        packs = {"ours": ROOT}
        if baseline_ref:
            packs[f"baseline {baseline_ref}"] = unpack_commit(baseline_ref, Path(folder))
        systems: dict[str, HarnessProcess | ComfyProcess] = {
            name: (ComfyProcess(comfyui, comfyui_python, front_end_root, root) if comfyui else HarnessProcess(root))
            for name, root in packs.items()
        }
        # Side by side (alternating runs) unless one at a time was asked for: a 256×1024²
        # batch is several GB per ComfyUI, too much for two at once on a small machine.
        groups = [{name: system} for name, system in systems.items()] if sequential else [systems]
        results: dict[str, SystemResult] = {}
        where = "harness page"
        for group in groups:
            with started(list(group.values())):
                first = next(iter(group.values()))
                if isinstance(first, ComfyProcess):
                    where = f"{first.version()}, {front_end_root or 'the pinned frontend'}"
                results.update(measure(group, batch=batch, size=size, runs=runs))
    with open("/proc/loadavg", encoding="ascii") as loadavg:
        load = loadavg.read().split()[:3]
    print(format_report(results, batch=batch, size=size, where=where))
    how = "one system after the other" if sequential else "alternating"
    print(
        f"load average at the start {' '.join(load_start)}, at the end {' '.join(load)}; "
        f"{runs} runs each, {how}, after 1 warm-up each"
    )
    return {
        "where": where,
        "batch": batch,
        "size": size,
        "load": {"start": load_start, "end": load},
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "systems": {name: {"runs": result.runs, "scrolls": result.scrolls} for name, result in results.items()},
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=32, help="images in the batch (default 32)")
    parser.add_argument("--size", type=int, default=1024, help="image edge in pixels (default 1024)")
    parser.add_argument("--baseline-ref", default=DEFAULT_BASELINE_REF, help="git commit of the baseline pack")
    parser.add_argument("--no-baseline", action="store_true", help="measure this checkout only")
    parser.add_argument("--frontend-root", help="another ComfyUI frontend's static folder (--front-end-root)")
    parser.add_argument("--sequential", action="store_true", help="run one system after the other (saves memory)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--comfyui", metavar="DIR")
    parser.add_argument("--comfyui-python", metavar="PYTHON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    figures = run_browser_bench(
        comfyui=args.comfyui,
        comfyui_python=args.comfyui_python,
        front_end_root=args.frontend_root,
        baseline_ref=None if args.no_baseline else args.baseline_ref,
        batch=args.batch,
        size=args.size,
        runs=args.runs,
        sequential=args.sequential,
    )
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / f"browser-{args.batch}.json").write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
