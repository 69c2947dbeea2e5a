"""``python -m dev.bench``: our pack against the poll-and-sleep baseline, side by side.

Prints one table (median, p90, max, and the baseline/ours ratio of medians), and writes the
same figures as JSON to bench/results/latest.json. ``--comfyui DIR`` measures against a
real ComfyUI instead (see bench/real.py). ``--browser`` measures the image picker where the
person looks, in headless Chromium, beside the pack at a baseline commit (see
bench/browser.py): on the harness page, or in ComfyUI's real frontend with ``--comfyui DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from .measure import Bench, Figure

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def row(name: str, ours: Figure, baseline: Figure | None, unit: str = "ms") -> str:
    ratio = f"{baseline.median / ours.median:,.0f}×" if baseline and ours.median > 0 else "–"
    base = f"{baseline.median:8.2f} {baseline.p90:8.2f} {baseline.max:8.2f}" if baseline else " " * 26
    return f"{name:<34} {ours.median:8.2f} {ours.p90:8.2f} {ours.max:8.2f}   {base}   {ratio:>7}  {unit}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100, help="runs per latency figure and system (default 100)")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--picker-runs", type=int, default=10)
    parser.add_argument("--comfyui", metavar="DIR", help="measure against a real ComfyUI in DIR instead")
    parser.add_argument("--comfyui-python", metavar="PYTHON", help="interpreter with ComfyUI's requirements")
    parser.add_argument("--browser", action="store_true", help="the picker in a real browser (bench/browser.py)")
    from .browser import add_arguments

    add_arguments(parser)
    args = parser.parse_args(argv)

    if args.browser:
        import logging

        from .browser import run_browser_bench

        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        figures = run_browser_bench(
            comfyui=args.comfyui,
            comfyui_python=args.comfyui_python,
            front_end_root=args.frontend_root,
            baseline_ref=None if args.no_baseline else args.baseline_ref,
            batch=args.batch,
            size=args.size,
            runs=args.runs if args.runs != 100 else 20,
            sequential=args.sequential,
        )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"browser-{args.batch}.json").write_text(json.dumps(figures, indent=2))
        return 0

    if args.comfyui:
        from .real import run_real

        return run_real(args.comfyui, args.comfyui_python, runs=max(args.runs, 20))

    results: dict[str, Any] = {"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    bench = Bench()
    lines = []
    try:
        for measure in ("resume", "cancel"):
            pairs = {
                system: [getattr(bench, measure)(system) for _ in range(args.runs)] for system in ("ours", "baseline")
            }
            for index, start in enumerate(("response", "request sent")):
                name = f"{measure} latency (from {start})"
                figures = {system: Figure([pair[index] for pair in pairs[system]]) for system in pairs}
                results[name] = {system: figure.as_dict() for system, figure in figures.items()}
                lines.append(row(name, figures["ours"], figures["baseline"]))
        for measure in ("interrupt",):
            figures = {
                system: Figure([getattr(bench, measure)(system) for _ in range(args.runs)])
                for system in ("ours", "baseline")
            }
            results[measure] = {system: figure.as_dict() for system, figure in figures.items()}
            lines.append(row(f"{measure} latency", figures["ours"], figures["baseline"]))
        idle = {system: bench.idle(system, args.idle_seconds) for system in ("ours", "baseline")}
        results["idle"] = idle
    finally:
        bench.close()

    try:
        from .picker import compare_picker
    except ImportError:
        compare_picker = None
    picker_lines: list[str] = []
    if compare_picker is not None:
        results["picker"], picker_lines = compare_picker(runs=args.picker_runs)

    print(f"machine: {results['machine']}")
    print(f"{'':<34} {'ours':^26}   {'baseline (poll + sleep 0.1 s)':^26}   {'ratio':>7}")
    print(f"{'':<34} {'median':>8} {'p90':>8} {'max':>8}   {'median':>8} {'p90':>8} {'max':>8}")
    for line in lines + picker_lines:
        print(line)
    for system in ("ours", "baseline"):
        figures = idle[system]
        print(
            f"idle while waiting ({system}, {args.idle_seconds:.0f} s): {figures['wakeups_per_s']:.1f} wake-ups/s, "
            f"{figures['cpu_ms']:.0f} ms CPU, {figures['ws_messages']} websocket messages"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
