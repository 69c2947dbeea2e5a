"""Benchmark: the mask painter where the user looks, in a real browser (headless Chromium)
on the stand-in host (the real node, routes and dialog), each figure beside a baseline
measured in the same run.

``python -m dev.bench.mask_painter [--size 2048] [--runs 10] [--strokes 200]`` prints median, p90
and max of:

1. **start → paintable**: from just before the prompt is queued (the node starts a few
   microseconds later) to the dialog showing the image and taking strokes (the painter's
   own ``readyAt``, wall clock). Baseline: the same image as a full-size PNG, fetched from
   the same route and decoded in a plain page the moment the request is announced on the
   websocket: what a painter that loads the full image first (ComfyUI's mask editor) waits for.
2. **paint cost per frame**: the mouse drags across the fitted 2048² image, one pointer
   move per display frame; the painter's own measure per frame (rasterizing the new
   segments into the full-resolution mask and updating the overlay), at several brush sizes.
3. **send → resumed**: a mask of N strokes (random smooth paths sampled like pointer moves,
   a 48 px brush, encoded by the browser's own ``encodeStroke``), each stroke ending as one
   drawn with the pointer does (so the painter sends its draft and the server draws ahead),
   one every ``--stroke-gap-ms``; Send is clicked right after the last stroke, and the time
   runs from that click to the node returning its full-resolution MASK. Beside it, the worst
   case: all N strokes at once and Send at once, so nothing is drawn ahead. Baseline, in a
   prompt of its own: the same mask sent as a full-resolution PNG (the page's canvas encodes
   it, a route decodes it with Pillow): what packs that save ComfyUI's mask editor's canvas do.

Figures are wall-clock milliseconds (the page's ``performance.timeOrigin + now()`` and
Python's ``time.time()`` read the same clock). Report them with the load average printed.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import io
import json
import math
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image

from dev.bench.picker import machine, summarize
from dev.harness.batches import pattern
from dev.harness.browser import CHROMIUM_ARGS, chromium_executable
from dev.harness.host import EXTENSION_FOLDER, HarnessHost, HarnessServer

RESULTS = Path(__file__).resolve().parent / "results"
DIALOG = "section.hitl-card[data-kind='mask-painter']"
PAINTER = f'document.querySelector("{DIALOG}").hitlMaskPainter'


# ----------------------------------------------------------------------- baselines
class UploadedMasks:
    """Where the baseline's PNG uploads land: one future per baseline node, by token."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.futures: dict[str, concurrent.futures.Future[np.ndarray]] = {}
        self.returned_at: dict[str, float] = {}

    def future(self, token: str) -> concurrent.futures.Future[np.ndarray]:
        with self.lock:
            return self.futures.setdefault(token, concurrent.futures.Future())


def make_baseline_node(uploads: UploadedMasks) -> type:
    class BaselinePngMask:
        """Waits for the mask as a PNG upload (decoded by the route, as ComfyUI's upload is)."""

        FUNCTION = "wait"

        async def wait(self, token: str, **_: Any) -> tuple[Any]:
            mask = await asyncio.wait_for(asyncio.wrap_future(uploads.future(token)), 120)
            uploads.returned_at[token] = time.time()
            return (mask,)

    return BaselinePngMask


def baseline_routes(uploads: UploadedMasks) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/baseline/mask/{token}")
    async def upload(request: web.Request) -> web.Response:
        # Read the stream itself: ComfyUI takes uploads up to 100 MB, aiohttp's default cap is 1 MB.
        data = await request.content.read()

        def decode() -> np.ndarray:
            return np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float32) / 255.0

        mask = await asyncio.get_running_loop().run_in_executor(None, decode)
        uploads.future(request.match_info["token"]).set_result(mask)
        return web.json_response({"bytes": len(data)})

    return routes


BASELINE_PAGE = """([size]) => {
    // A plain page's part: follow the websocket, and load the full-size PNG of the first
    // mask-painter request the moment it is announced.
    window.__full = new Promise((resolve) => {
        const socket = new WebSocket(`ws://${location.host}/ws`);
        socket.addEventListener("message", (event) => {
            const message = JSON.parse(event.data);
            if (message.type !== "hitl-request" || message.data.kind !== "mask-painter" || message.data.state !== "waiting") return;
            const image = new Image();
            image.onload = async () => {
                await image.decode();
                resolve({ at: performance.timeOrigin + performance.now(), width: image.naturalWidth });
                socket.close();
            };
            image.src = `/api/hitl/requests/${message.data.id}/images/0?size=${size}`;
        });
        socket.addEventListener("open", () => { window.__listening = true; });
    });
}"""


# -------------------------------------------------------------------------- helpers
def smooth_strokes(count: int, size: int, rng: np.random.Generator) -> list[dict[str, list[float]]]:
    """Paths a hand might draw: smooth random curves 150–600 px long, sampled every 6 px
    (a pointer at 60 Hz moving about 360 px/s at 100 % zoom)."""
    strokes = []
    for _ in range(count):
        x, y = rng.uniform(0.1 * size, 0.9 * size, 2)
        heading = rng.uniform(0, 2 * math.pi)
        turn = rng.normal(0, 0.02)
        xs, ys = [float(x)], [float(y)]
        for _ in range(int(rng.uniform(150, 600) / 6)):
            turn = 0.9 * turn + rng.normal(0, 0.01)
            heading += turn
            x, y = x + 6 * math.cos(heading), y + 6 * math.sin(heading)
            xs.append(float(x))
            ys.append(float(y))
        strokes.append({"xs": xs, "ys": ys})
    return strokes


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def row(name: str, values: list[float], baseline: list[float] | None = None) -> str:
    ours = summarize(values)
    text = f"| {name} | {ours.median:.1f} | {ours.p90:.1f} | {ours.max:.1f} |"
    if baseline:
        base = summarize(baseline)
        text += f" {base.median:.1f} | {base.p90:.1f} | {base.max:.1f} | {base.median / ours.median:.1f}× |"
    else:
        text += " – | – | – | – |"
    return text


# ------------------------------------------------------------------------ measuring
class Bench:
    def __init__(self, page: Any, host: HarnessHost, server: HarnessServer, uploads: UploadedMasks) -> None:
        self.page = page
        self.host = host
        self.server = server
        self.uploads = uploads

    def queue(self, images: Any, **options: Any) -> Any:
        inputs = {
            "images": images,
            "title": "bench",
            "mode": "always ask",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
            **options,
        }
        return self.host.submit("HitlMaskPainter", inputs)

    def wait_ready(self) -> None:
        self.page.wait_for_selector(f"{DIALOG}[data-ready='true']", timeout=60_000)

    def close_dialog(self, run: Any) -> None:
        self.page.locator(f"{DIALOG} [data-action='cancel']").click()
        run.wait(30)
        self.page.wait_for_selector(DIALOG, state="detached")

    def start_to_paintable(self, images: Any, runs: int) -> tuple[list[float], list[float]]:
        ours, baseline = [], []
        other = self.page.context.new_page()
        other.goto(f"{self.server.url}/harness/runs/none")  # same origin, none of our scripts
        for index in range(runs + 1):  # the first of each is a warm-up
            started = time.time()
            run = self.queue(images)
            self.wait_ready()
            ready = self.page.evaluate(f"() => {PAINTER}.readyAt")
            self.close_dialog(run)
            # The baseline: the full-size PNG of the same image, decoded in a plain page.
            other.evaluate("() => { window.__listening = false; }")
            other.evaluate(BASELINE_PAGE, ["full"])
            other.wait_for_function("() => window.__listening")  # the websocket is open
            started_full = time.time()
            run = self.queue(images)
            full = other.evaluate("() => window.__full")
            self.wait_ready()
            self.close_dialog(run)
            if index:
                ours.append(ready - started * 1000)
                baseline.append(full["at"] - started_full * 1000)
        other.close()
        return ours, baseline

    def paint_cost(self, images: Any, sizes: list[int]) -> dict[int, list[float]]:
        run = self.queue(images)
        self.wait_ready()
        costs: dict[int, list[float]] = {}
        box = self.page.locator(f"{DIALOG} [data-role='stage']").bounding_box()
        for size in sizes:
            self.page.evaluate(f"(size) => {{ {PAINTER}.setSize(size); {PAINTER}.stats.frames.length = 0; }}", size)
            for stroke in range(3):
                y = box["y"] + box["height"] * (0.25 + 0.25 * stroke)
                self.page.mouse.move(box["x"] + box["width"] * 0.1, y)
                self.page.mouse.down()
                for step in range(60):
                    x = box["x"] + box["width"] * (0.1 + 0.8 * step / 59)
                    self.page.mouse.move(x, y + 40 * math.sin(step / 6))
                    self.page.evaluate("() => new Promise((resolve) => requestAnimationFrame(() => resolve()))")
                self.page.mouse.up()
            costs[size] = self.page.evaluate(f"() => [...{PAINTER}.stats.frames]")
        self.close_dialog(run)
        return costs

    def send_to_resumed(
        self, images: Any, strokes: int, runs: int, gap_ms: float
    ) -> tuple[list[float], list[float], dict[str, int]]:
        """Paint ``strokes`` strokes, one every ``gap_ms`` (0: all at once), each ending as a
        stroke drawn with the pointer ends (the painter's ``changed``: status, reload copy,
        draft); click Send right after the last one; time Send → the node returned its mask.
        Then the baseline, in a prompt of its own: the same mask as a PNG upload."""
        ours, baseline = [], []
        sizes: dict[str, int] = {}
        size = int(images.shape[2])
        module = f"/extensions/{EXTENSION_FOLDER}/mask_strokes.js"
        clock = time.time() - time.perf_counter()
        for index in range(runs + 1):
            inputs = {
                "images": images,
                "title": "bench",
                "mode": "always ask",
                "timeout_seconds": 0,
                "on_timeout": "cancel run",
                # As in a workflow that takes the mask (e.g. into an inpainting node), not masked_images.
                "api_prompt": {"9": {"class_type": "InpaintModelConditioning", "inputs": {"mask": ["1", 0]}}},
            }
            run = self.host.submit("HitlMaskPainter", inputs)
            self.wait_ready()
            paths = smooth_strokes(strokes, size, np.random.default_rng(index))
            info = self.page.evaluate(
                """async ([module, paths, width, height, gap]) => {
                    const { encodeStroke } = await import(module);
                    const p = document.querySelector("section.hitl-card[data-kind='mask-painter']").hitlMaskPainter;
                    for (const path of paths) {
                        if (gap) await new Promise((resolve) => setTimeout(resolve, gap));
                        p.activeDoc.apply(encodeStroke({ tool: "brush", size: 48, hardness: 0.5, xs: path.xs, ys: path.ys,
                            pressure: null, width, height }));
                        if (gap) { p.redrawOverlay(); p.changed(); }
                    }
                    if (!gap) { p.redrawOverlay(); p.changed(); }  // one change: one draft, racing the answer
                    const answer = p.answer();
                    const body = JSON.stringify({ value: answer });
                    window.__sendClicked = performance.timeOrigin + performance.now();
                    document.querySelector("section.hitl-card[data-kind='mask-painter'] [data-action='primary']").click();
                    return { bytes: new TextEncoder().encode(body).length, answer,
                             points: answer.masks[0].reduce((n, op) => n + op.points.length / 2, 0) };
                }""",
                [module, paths, size, int(images.shape[1]), gap_ms],
            )
            run.wait(120)
            assert run.status == "success", run.error
            clicked = self.page.evaluate("() => window.__sendClicked")
            [output] = run.outputs
            mask = np.asarray(output["result"][0])
            assert mask.shape == (1, int(images.shape[1]), size) and mask.max() == 1.0
            self.page.wait_for_selector(DIALOG, state="detached")
            # Baseline: the same mask (the browser's own model replays the answer) as a PNG.
            token = f"bench-{gap_ms}-{index}"
            baseline_run = self.host.submit("BaselinePngMask", {"token": token}, node_id="2")
            upload = self.page.evaluate(
                """async ([module, token, answer, width, height]) => {
                    const { MaskDoc } = await import(module);
                    const doc = new MaskDoc(width, height, null);
                    doc.replay(answer.masks[0]);
                    const sent = performance.timeOrigin + performance.now();
                    const mask = doc.mask;
                    const canvas = new OffscreenCanvas(width, height);
                    const context = canvas.getContext("2d");
                    const image = context.createImageData(width, height);
                    for (let i = 0; i < mask.length; i++) { const j = 4 * i; image.data[j] = image.data[j + 1] = image.data[j + 2] = mask[i]; image.data[j + 3] = 255; }
                    context.putImageData(image, 0, 0);
                    const blob = await canvas.convertToBlob({ type: "image/png" });
                    await fetch(`/baseline/mask/${token}`, { method: "POST", body: blob });
                    return { sent, bytes: blob.size };
                }""",
                [module, token, info["answer"], size, int(images.shape[1])],
            )
            baseline_run.wait(120)
            assert baseline_run.status == "success", baseline_run.error
            if index:
                ours.append((run.node_ended_at + clock) * 1000 - clicked)
                baseline.append(self.uploads.returned_at[token] * 1000 - upload["sent"])
                sizes = {
                    "answer_bytes": info["bytes"],
                    "png_bytes": upload["bytes"],
                    "ops": len(info["answer"]["masks"][0]),
                    "points": info["points"],
                    "drawn_ahead": output["ui"]["drawn_ahead"][0],
                }
        return ours, baseline, sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2048, help="image edge in pixels (default 2048)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--strokes", type=int, default=200)
    parser.add_argument("--brushes", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument(
        "--stroke-gap-ms",
        type=float,
        default=150,
        help="time between strokes when painting at a pace (default 150: faster than a hand draws a stroke)",
    )
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    uploads = UploadedMasks()
    host = HarnessHost()
    host.node_classes["BaselinePngMask"] = make_baseline_node(uploads)
    server = HarnessServer(host, extra_routes=baseline_routes(uploads))
    server.start()
    images = pattern(1, args.size, args.size)
    load_before = load_average()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            page.goto(server.url)
            page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
            bench = Bench(page, host, server, uploads)
            ready, full = bench.start_to_paintable(images, args.runs)
            paint = bench.paint_cost(images, args.brushes)
            paced = bench.send_to_resumed(images, args.strokes, args.runs, args.stroke_gap_ms)
            burst = bench.send_to_resumed(images, args.strokes, args.runs, 0)
            browser.close()
    finally:
        host.close()
        server.stop()
    load_after = load_average()
    print(f"mask painter, a {args.size}×{args.size} picture-like image, {machine()}, {os.cpu_count()} CPUs")
    print(f"load average before {load_before}, after {load_after}; {args.runs} runs each (after one warm-up)\n")
    print("| measure, ms | ours: median | p90 | max | baseline: median | p90 | max | baseline ÷ ours |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(row("node start → image shown and paintable (baseline: full-size PNG decoded)", ready, full))
    for size, frames in paint.items():
        print(row(f"paint cost per frame, {size} px brush ({len(frames)} frames)", frames))
    send, upload, sizes = paced
    print(
        row(
            f"Send → node returned the full-size mask, {args.strokes} strokes painted one per "
            f"{args.stroke_gap_ms:g} ms (baseline: PNG upload)",
            send,
            upload,
        )
    )
    print(
        row(
            f"the same, {args.strokes} strokes all at once and Send at once (worst case: little drawn ahead)",
            burst[0],
            burst[1],
        )
    )
    print(
        f"\nanswer body {sizes['answer_bytes']:,} bytes ({sizes['ops']} strokes, {sizes['points']} points) "
        f"against a {sizes['png_bytes']:,}-byte PNG of the same mask; drawn ahead at Send: "
        f"{sizes['drawn_ahead']} of {sizes['ops']} strokes (paced), {burst[2]['drawn_ahead']} (all at once)"
    )
    RESULTS.mkdir(exist_ok=True)
    figures = {
        "size": args.size,
        "load_average": [load_before, load_after],
        "start_to_paintable_ms": vars(summarize(ready)),
        "baseline_full_png_ms": vars(summarize(full)),
        "paint_frame_ms": {str(size): vars(summarize(frames)) for size, frames in paint.items()},
        "stroke_gap_ms": args.stroke_gap_ms,
        "send_to_resumed_ms": vars(summarize(send)),
        "baseline_png_upload_ms": vars(summarize(upload)),
        "send_to_resumed_all_at_once_ms": vars(summarize(burst[0])),
        "baseline_png_upload_all_at_once_ms": vars(summarize(burst[1])),
        **sizes,
    }
    (RESULTS / "mask_painter.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
