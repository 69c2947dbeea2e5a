"""Benchmark: from the image picker node starting to a client holding every thumbnail.

``python -m dev.bench.picker`` runs the real node, routes and image code on the stand-in host
(a worker thread running each prompt in a fresh event loop, an aiohttp server, a websocket),
and an HTTP client that does what the browser does: it follows the websocket, and when the
picker's request arrives it fetches every thumbnail over HTTP through the pack's image route,
six at a time (a browser's connections per host). For each batch size it prints median, p90
and max over several runs of:

- **time**: from just before the prompt is queued (the node starts on the worker thread a few
  microseconds later) to the last thumbnail byte in the client's hands;
- **bytes**: what the client received before any zoom: the request event on the websocket plus
  every thumbnail body (HTTP headers not counted);
- **memory**: the peak resident memory (RSS) the process added during the run, over the RSS
  with the batch already in memory. Before each run freed heap memory is handed back to the
  OS (``malloc_trim``) and Linux's peak-RSS counter (VmHWM) is reset through
  ``/proc/self/clear_refs``, so this counts everything the run touches: numpy, Pillow, torch,
  threads, the server and the client (all in this one process). Compare it with the size of
  one uint8 copy of the batch.

Other benchmarks import :func:`measure_time_to_thumbnails` and :func:`summarize`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from dev.harness.host import HarnessHost, HarnessServer

log = logging.getLogger("bench.picker")

#: A browser opens at most this many connections to one host (HTTP/1.1).
BROWSER_CONNECTIONS = 6
PICKER = "HitlImagePicker"


@dataclass(frozen=True)
class Summary:
    """Median, 90th percentile and maximum of a list of measurements."""

    median: float
    p90: float
    max: float

    def scaled(self, factor: float) -> Summary:
        return Summary(self.median * factor, self.p90 * factor, self.max * factor)


def summarize(values: Iterable[float]) -> Summary:
    """Median, p90 (nearest rank) and max."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("nothing to summarize")
    rank = max(0, min(len(ordered) - 1, -(-9 * len(ordered) // 10) - 1))
    return Summary(statistics.median(ordered), ordered[rank], ordered[-1])


@dataclass(frozen=True)
class PickerRun:
    """One measured run: seconds to every thumbnail in hand, bytes received, memory added."""

    batch: int
    seconds: float
    event_bytes: int
    thumbnail_bytes: int
    peak_rss_added: int | None

    @property
    def bytes_received(self) -> int:
        return self.event_bytes + self.thumbnail_bytes


@dataclass(frozen=True)
class PickerResult:
    """Every run of one batch size, and what one uint8 copy of that batch weighs."""

    batch: int
    size: int
    runs: list[PickerRun]
    uint8_copy_bytes: int

    @property
    def time_ms(self) -> Summary:
        return summarize(run.seconds for run in self.runs).scaled(1000)

    @property
    def bytes_received(self) -> Summary:
        return summarize(run.bytes_received for run in self.runs)

    @property
    def peak_rss_added(self) -> Summary | None:
        values = [run.peak_rss_added for run in self.runs if run.peak_rss_added is not None]
        return summarize(values) if values else None


# ----------------------------------------------------------------------- memory
def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def release_free_memory() -> None:
    """Give freed heap memory back to the OS (glibc), so the next run's RSS growth shows
    what that run needs, not only what no earlier run happened to leave resident."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak_rss() -> bool:
    """Reset Linux's peak-RSS counter (VmHWM) to the current RSS. False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_bytes() -> int | None:
    kib = _status_kib("VmRSS")
    return None if kib is None else kib * 1024


def peak_rss_bytes() -> int | None:
    kib = _status_kib("VmHWM")
    return None if kib is None else kib * 1024


# ------------------------------------------------------------------------ batches
def noisy_batch(batch: int, size: int, *, use_torch: bool = True, seed: int = 0) -> Any:
    """``batch`` noisy size×size RGB images as ComfyUI passes them: float32 [B, H, W, 3]
    in 0..1, a torch tensor when torch is installed (as in ComfyUI), else a numpy array."""
    array = np.random.default_rng(seed).random((batch, size, size, 3), dtype=np.float32)
    if use_torch:
        try:
            import torch
        except ImportError:
            return array
        return torch.from_numpy(array)
    return array


def picker_inputs(images: Any) -> dict[str, Any]:
    return {
        "images": images,
        "mode": "always ask",
        "min_picks": 1,
        "max_picks": 0,
        "title": "bench",
        "timeout_seconds": 0,
        "on_timeout": "cancel run",
    }


def picker_thumbnail_paths(view: dict[str, Any]) -> list[str]:
    """The URLs a browser fetches for the picker's thumbnails (the pack's image route)."""
    count = int(view["payload"]["count"])
    return [f"/api/hitl/requests/{view['id']}/images/{index}?size=thumb" for index in range(count)]


# ------------------------------------------------------------------------ running
class _Client:
    """The browser's part: a websocket that follows the host, and an HTTP session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: asyncio.Queue[tuple[str, dict[str, Any], int]] = asyncio.Queue()

    async def __aenter__(self) -> _Client:
        connector = aiohttp.TCPConnector(limit_per_host=BROWSER_CONNECTIONS)
        self.session = aiohttp.ClientSession(self.url, connector=connector)
        self.socket = await self.session.ws_connect("/ws", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: Any) -> None:
        self._reader.cancel()
        await self.socket.close()
        await self.session.close()

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                parsed = json.loads(message.data)
                await self.messages.put((parsed.get("type"), parsed.get("data") or {}, len(message.data.encode())))

    async def next_event(
        self, predicate: Callable[[str, dict[str, Any]], bool], timeout: float = 60
    ) -> tuple[dict[str, Any], int]:
        """The next websocket event that matches, and its size in bytes."""
        async with asyncio.timeout(timeout):
            while True:
                event, data, size = await self.messages.get()
                if predicate(event, data):
                    return data, size

    async def fetch_all(self, paths: list[str]) -> int:
        """Fetch every path at once (the connector keeps six in flight); total body bytes."""

        async def fetch(path: str) -> int:
            async with self.session.get(path) as response:
                response.raise_for_status()
                return len(await response.read())

        return sum(await asyncio.gather(*(fetch(path) for path in paths)))


async def _measure(
    server: HarnessServer,
    images: Any,
    runs: int,
    *,
    node_type: str,
    make_inputs: Callable[[Any], dict[str, Any]],
    thumbnail_paths: Callable[[dict[str, Any]], list[str]],
    warmup: int,
) -> list[PickerRun]:
    host = server.host
    batch = int(images.shape[0])
    results: list[PickerRun] = []
    async with _Client(server.url) as client:
        for index in range(warmup + runs):
            gc.collect()
            release_free_memory()
            can_reset = reset_peak_rss()
            baseline = rss_bytes()
            started = time.perf_counter()
            run = host.submit(node_type, make_inputs(images))
            view, event_bytes = await client.next_event(
                lambda event, data, run=run: data.get("prompt_id") == run.prompt_id and data.get("state") == "waiting"
            )
            thumbnail_bytes = await client.fetch_all(thumbnail_paths(view))
            elapsed = time.perf_counter() - started
            peak = peak_rss_bytes()
            added = peak - baseline if can_reset and peak is not None and baseline is not None else None
            async with client.session.post(f"/api/hitl/requests/{view['id']}/cancel", json={}) as response:
                response.raise_for_status()
            await asyncio.to_thread(run.wait, 30)
            if index >= warmup:
                results.append(PickerRun(batch, elapsed, event_bytes, thumbnail_bytes, added))
    return results


def measure_time_to_thumbnails(
    batch: int,
    *,
    runs: int = 10,
    size: int = 1024,
    warmup: int = 1,
    images: Any = None,
    node_type: str = PICKER,
    make_inputs: Callable[[Any], dict[str, Any]] = picker_inputs,
    thumbnail_paths: Callable[[dict[str, Any]], list[str]] = picker_thumbnail_paths,
    host_factory: Callable[[], HarnessHost] = HarnessHost,
    extra_routes: Any = None,
) -> PickerResult:
    """Node start to every thumbnail in a client's hands, over HTTP, ``runs`` times.

    ``node_type``, ``make_inputs`` and ``thumbnail_paths`` let another benchmark run a
    different picker (e.g. a baseline) through the same host, client and clock; the node
    must open a request on the host's registry whose broadcast view leads to its thumbnails.
    """
    images = noisy_batch(batch, size) if images is None else images
    host = host_factory()
    server = HarnessServer(host, extra_routes=extra_routes)
    server.start()
    try:
        measured = asyncio.run(
            _measure(
                server,
                images,
                runs,
                node_type=node_type,
                make_inputs=make_inputs,
                thumbnail_paths=thumbnail_paths,
                warmup=warmup,
            )
        )
    finally:
        host.close()
        server.stop()
    height, width, channels = (int(n) for n in images.shape[1:])
    return PickerResult(batch, size, measured, batch * height * width * channels)


# ------------------------------------------------------------- against the baseline
def compare_picker(
    runs: int = 10, batches: Iterable[int] = (1, 8, 32), size: int = 1024
) -> tuple[dict[str, Any], list[str]]:
    """Ours and the PNG-to-disk baseline (bench/baseline.py) on the same batches, host,
    client and clock; rows for ``python -m dev.bench``'s table and the figures as a dict."""
    import shutil
    import tempfile

    from .baseline import make_baseline_picker, png_folder_routes

    figures: dict[str, Any] = {}
    lines: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="hitl-bench-png-"))
    try:
        for batch in batches:
            images = noisy_batch(batch, size)
            ours = measure_time_to_thumbnails(batch, runs=runs, size=size, images=images)

            def baseline_host() -> HarnessHost:
                host = HarnessHost()
                host.node_classes["BaselinePngPicker"] = make_baseline_picker(host.registry, folder)
                return host

            baseline = measure_time_to_thumbnails(
                batch,
                runs=max(3, runs // 3),
                size=size,
                images=images,
                node_type="BaselinePngPicker",
                make_inputs=lambda frames: {"images": frames},
                thumbnail_paths=lambda view: [f"/baseline/view/{name}" for name in view["payload"]["names"]],
                host_factory=baseline_host,
                extra_routes=png_folder_routes(folder),
            )
            ours_ms, base_ms = ours.time_ms, baseline.time_ms
            memory = ours.peak_rss_added
            figures[f"batch {batch}"] = {
                "ours_ms": vars(ours_ms),
                "baseline_ms": vars(base_ms),
                "ours_bytes": ours.bytes_received.median,
                "baseline_bytes": baseline.bytes_received.median,
                "ours_peak_rss_added_mib": memory.median / 2**20 if memory else None,
                "uint8_copy_mib": ours.uint8_copy_bytes / 2**20,
            }
            ratio = base_ms.median / ours_ms.median
            lines.append(
                f"{f'picker: thumbnails in hand, {batch}×{size}²':<34} {ours_ms.median:8.1f} {ours_ms.p90:8.1f} {ours_ms.max:8.1f}"
                f"   {base_ms.median:8.1f} {base_ms.p90:8.1f} {base_ms.max:8.1f}   {ratio:6.1f}×  ms"
            )
            lines.append(
                f"{'  bytes sent before any zoom':<34} {ours.bytes_received.median / 1e6:8.2f} {'':>17}"
                f"   {baseline.bytes_received.median / 1e6:8.2f} {'':>17}   {baseline.bytes_received.median / ours.bytes_received.median:6.1f}×  MB"
            )
            if memory is not None:
                lines.append(
                    f"{'  peak memory added (RSS)':<34} {memory.median / 2**20:8.1f} {memory.p90 / 2**20:8.1f} {memory.max / 2**20:8.1f}"
                    f"   (one uint8 copy of the batch: {ours.uint8_copy_bytes / 2**20:.1f})  MiB"
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures, lines


# ---------------------------------------------------------------------------- CLI
def _mib(value: float) -> str:
    return f"{value / 2**20:.1f}"


def format_table(results: list[PickerResult]) -> str:
    lines = [
        "| batch | runs | thumbnails in hand, ms (median / p90 / max) | bytes received (median) | peak RSS added, MiB (median / p90 / max) | one uint8 copy, MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        time_ms = result.time_ms
        memory = result.peak_rss_added
        memory_text = "n/a" if memory is None else f"{_mib(memory.median)} / {_mib(memory.p90)} / {_mib(memory.max)}"
        lines.append(
            f"| {result.batch} | {len(result.runs)} | {time_ms.median:.0f} / {time_ms.p90:.0f} / {time_ms.max:.0f} "
            f"| {result.bytes_received.median:,.0f} | {memory_text} | {_mib(result.uint8_copy_bytes)} |"
        )
    return "\n".join(lines)


def frame_costs(frames: int = 8, size: int = 1024, rounds: int = 20) -> list[tuple[str, Summary]]:
    """Milliseconds of one thread per noisy size² frame (median / p90 / max over ``rounds``
    passes of ``frames`` frames), for each step of a thumbnail and the whole of it, beside
    the previous method and the floor (reading the float rows a 2-row box filter needs)."""
    import io

    from PIL import Image

    from dev.harness.pack import submodule

    images_module = submodule("images.batches")
    batch = noisy_batch(frames, size, use_torch=False)
    source = images_module.BatchImages(batch, workers=1)
    source.thumbs  # noqa: B018 (let its background thread finish: these figures are one thread's)
    converter = source._converter
    scale = source._scale
    pairs = converter.pair_rows_uint8(batch[0], scale).copy()
    reduced = Image.fromarray(pairs, "RGB").reduce((scale, 1))

    def jpeg(_: int) -> bytes:
        buffer = io.BytesIO()
        reduced.save(buffer, format="JPEG", quality=images_module.THUMB_QUALITY)
        return buffer.getvalue()

    def previous(index: int) -> bytes:
        # The method before (bench baseline): every other row to uint8, then Pillow's (4, 2) box.
        image = Image.fromarray(converter.to_uint8(batch[index][::2]), "RGB").reduce((scale, scale // 2))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=images_module.THUMB_QUALITY)
        return buffer.getvalue()

    steps = [
        ("floor: read the two float rows per block of 4 (numpy sum)", lambda i: float(batch[i][1::2].sum())),
        (
            "1. two rows per block averaged to uint8 (numpy, banded)",
            lambda i: converter.pair_rows_uint8(batch[i], scale),
        ),
        ("2. Pillow box filter across (uint8)", lambda i: Image.fromarray(pairs, "RGB").reduce((scale, 1))),
        ("3. JPEG encode, quality 75", jpeg),
        ("thumbnail, all steps (ours)", source._thumbnail),
        ("thumbnail, the method before", previous),
    ]
    # Every round runs every step once, in turn, so a busy machine slows them all alike.
    per_round: dict[str, list[float]] = {name: [] for name, _ in steps}
    for _, step in steps:
        step(0)
    for _ in range(rounds):
        for name, step in steps:
            started = time.perf_counter()
            for index in range(frames):
                step(index)
            per_round[name].append((time.perf_counter() - started) / frames * 1000)
    source.close()
    return [(name, summarize(per_round[name])) for name, _ in steps]


def machine() -> str:
    import os

    cpus = os.cpu_count()
    return f"{platform.system()} {platform.machine()}, {cpus} CPUs, Python {platform.python_version()}, numpy {np.__version__}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--size", type=int, default=1024, help="image edge in pixels (default 1024)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--frame-cost", action="store_true", help="one thread's cost per frame, step by step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if args.frame_cost:
        print(f"one thread, ms per noisy {args.size}² frame (median / p90 / max), {machine()}")
        for name, figure in frame_costs(size=args.size):
            print(f"  {name:<60} {figure.median:6.2f} {figure.p90:6.2f} {figure.max:6.2f}")
        return 0
    results = [measure_time_to_thumbnails(batch, runs=args.runs, size=args.size) for batch in args.batches]
    print(f"image picker, noisy {args.size}×{args.size} images, {machine()}")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
