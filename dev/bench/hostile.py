"""``python -m dev.bench.hostile``: how long the largest hostile answers the body cap allows take
to be refused, for every kind, and how long another request waits meanwhile.

For each target of ``harness/hostile.py`` (every kind, built with the largest settings its
node allows) and each shape (the most expensive bodies of each JSON type just under the
256 KiB cap), the client sends the answer whole on one connection, then at once a probe
(``GET /extensions``, a route of the host, not ours) on another, and times each from its
own send to its response. The server is the harness (the real routes, registry and
validators on an aiohttp server in a thread of this process); ``--comfyui DIR`` measures a
real ComfyUI instead, whose probe is ``GET /system_stats``, with a waiting request of each
kind queued through its API.

Prints, per target, the shape that took longest (median and max over ``--runs``; a shape
slower than ``--slow-seconds`` runs once) and the probe's time alongside, then every shape.
Figures also go to bench/results/hostile.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.hostile import TARGETS, Exchange, http_request, open_target, timed_exchange
from dev.harness.pack import submodule

from .hostile_report import describe
from .picker import summarize

P = submodule("server.protocol")
RESULTS = Path(__file__).resolve().parent / "results"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


class Aim:
    """The path (its answer route, or another route it names) of a waiting request of one
    target; a new request once one is taken."""

    def __init__(self, registry: Any, name: str) -> None:
        self.registry = registry
        self.name = name
        self.request = open_target(registry, name)

    def path(self) -> str:
        if self.request.state != "waiting":
            self.request = open_target(self.registry, self.name)
        return TARGETS[self.name].path(self.request.id)


def measure_cell(
    port: int, path_of: Callable[[], str], body: bytes, probe: bytes, runs: int, slow: float
) -> list[Exchange]:
    """Up to ``runs`` timed exchanges of one body (one only when it is slow)."""
    samples = []
    for _ in range(runs):
        hostile = http_request("POST", path_of(), f"127.0.0.1:{port}", body)
        exchange = asyncio.run(timed_exchange(port, hostile, probe))
        samples.append(exchange)
        if exchange.seconds > slow:
            break
    return samples


def run_harness(runs: int, slow: float, only: list[str]) -> dict[str, Any]:
    host = HarnessHost()
    server = HarnessServer(host)
    server.start()
    probe = http_request("GET", "/extensions", f"127.0.0.1:{server.port}")
    results: dict[str, Any] = {}
    try:
        idle = [asyncio.run(timed_exchange(server.port, probe, probe)).seconds * 1000 for _ in range(runs)]
        results["probe alone"] = {"median_ms": summarize(idle).median, "max_ms": summarize(idle).max}
        for name, target in TARGETS.items():
            if only and not any(word.lower() in name.lower() for word in only):
                continue
            aim = Aim(host.registry, name)
            cells: dict[str, Any] = {}
            for shape, build in target.all_shapes().items():
                body = build(P.MAX_BODY_BYTES)
                assert len(body) <= P.MAX_BODY_BYTES, (shape, len(body))
                samples = measure_cell(server.port, aim.path, body, probe, runs, slow)
                cells[shape] = describe(samples, len(body))
                print(f"  {name:<34} {shape:<28} {format_cell(cells[shape])}", file=sys.stderr, flush=True)
            results[name] = cells
    finally:
        server.stop()
        host.close()
    return results


def format_cell(cell: dict[str, Any]) -> str:
    refusal, probe = cell["refusal_ms"], cell["probe_ms"]
    statuses = "/".join(str(status) for status in cell["statuses"])
    return (
        f"{statuses:>7} {refusal['median']:>11,.1f} {refusal['max']:>11,.1f}"
        f" {probe['median']:>11,.1f} {probe['max']:>11,.1f}  ×{cell['runs']}  {cell['message']}"
    )


def print_tables(results: dict[str, Any]) -> None:
    alone = results["probe alone"]
    print(f"load average: {results['load average']}; probe alone: {alone['median_ms']:.2f} ms median")
    header = f"{'target':<34} {'worst shape':<28} {'status':>7} {'refusal med':>11} {'refusal max':>11} {'probe med':>11} {'probe max':>11}"
    print(header)
    for name in TARGETS:
        cells = results.get(name)
        if not cells:
            continue
        shape, cell = worst(cells)
        print(f"{name:<34} {shape:<28} {format_cell(cell)}")


def worst(cells: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The shape that took longest to refuse (by median)."""
    return max(cells.items(), key=lambda item: item[1]["refusal_ms"]["median"])


def compare(before_path: str, after_path: str) -> str:
    """A Markdown table of two result files (e.g. before and after a fix), per target."""

    def ms(value: float) -> str:
        return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"

    before, after = (json.loads(Path(path).read_text()) for path in (before_path, after_path))
    lines = [
        f"before: load average {before['load average']}; after: load average {after['load average']}",
        "",
        "| kind | before: slowest body | refused in, ms (median / max) | probe waited, ms (max) "
        "| after: slowest body | refused in, ms (median / max) | probe waited, ms (max) |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for name in TARGETS:
        if name not in before or name not in after:
            continue
        row = [name]
        for results in (before, after):
            shape, cell = worst(results[name])
            refusal, probe = cell["refusal_ms"], cell["probe_ms"]
            runs = "" if cell["runs"] > 1 else " (1 run)"
            row += [shape, f"{ms(refusal['median'])} / {ms(refusal['max'])}{runs}", ms(probe["max"])]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="exchanges per target and shape (default 5)")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="a shape slower than this runs once")
    parser.add_argument("--only", nargs="*", default=[], help="targets whose name contains one of these words")
    parser.add_argument("--comfyui", metavar="DIR", help="measure a real ComfyUI in DIR instead of the harness")
    parser.add_argument("--comfyui-python", metavar="PYTHON", help="interpreter with ComfyUI's requirements")
    parser.add_argument("--output", default=str(RESULTS / "hostile.json"))
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"), help="print two result files as a table")
    args = parser.parse_args(argv)
    if args.compare:
        print(compare(*args.compare))
        return 0

    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = load_average()
    if args.comfyui:
        from .hostile_real import run_real

        results = run_real(args.comfyui, args.comfyui_python, runs=args.runs, slow=args.slow_seconds, only=args.only)
    else:
        results = run_harness(args.runs, args.slow_seconds, args.only)
    results["load average"] = f"{load_before} before, {load_average()} after"
    results["when"] = started
    results["machine"] = f"{os.cpu_count()} cores, Python {sys.version.split()[0]}"
    print_tables(results)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
