"""Retake the README's dialog screenshots and the example workflows' template thumbnails in a
real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.docs [--frontend-root DIR]

Starts ComfyUI with the pack (as the real-ComfyUI tests do). Each example workflow gets an id
of its own if it has none (a random UUID, kept once given: the memory of "use last answer"
tells workflows apart by it). Then each is loaded as a user loads it (``app.loadGraphData``),
run, answered from the keyboard, and photographed: ``docs/<dialog>.png`` for the README, and
``example_workflows/<name>.jpg``, the thumbnail ComfyUI's template browser shows beside the
workflow (a square around the open dialog, 384 px, a few tens of KB). Last, the integer
doubler's dialog. Every run must end in success, or the script fails.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from harness.comfyui import RealComfyUI
from harness.pack import ROOT

log = logging.getLogger("dev.docs")

EXAMPLES = ROOT / "example_workflows"
DOCS = ROOT / "docs"
PICKER_EXAMPLE = EXAMPLES / "Image picker - pick colours.json"
VALUE_EXAMPLE = EXAMPLES / "Value prompt - image width.json"
NIL_ID = "00000000-0000-0000-0000-000000000000"
THUMB_EDGE = 384
#: The square window a thumbnail is taken in (then scaled to THUMB_EDGE).
THUMB_WINDOW = 640
THUMB_QUALITY = 82
VIEWPORT = {"width": 1400, "height": 900}
CARD = "section.hitl-card"


def ensure_id(path: Path) -> dict[str, Any]:
    """The workflow in ``path``, given a random id of its own if it has none (written back)."""
    workflow = json.loads(path.read_text())
    if workflow.get("id") in (None, "", NIL_ID):
        workflow["id"] = str(uuid.uuid4())
        path.write_text(json.dumps(workflow, indent=2) + "\n")
        log.info("gave %s the id %s", path.name, workflow["id"])
    return workflow


def thumbnail(page: Any, target: Path) -> None:
    """The whole ComfyUI window with the dialog open, in a square window (the dialog places
    itself there as it does on any screen), scaled to THUMB_EDGE, as JPEG."""
    page.set_viewport_size({"width": THUMB_WINDOW, "height": THUMB_WINDOW})
    page.wait_for_function(f"window.innerWidth === {THUMB_WINDOW}")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    page.set_viewport_size(VIEWPORT)
    square = image.resize((THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS)
    square.save(target, "JPEG", quality=THUMB_QUALITY, optimize=True, progressive=True)
    log.info("saved %s (%d bytes)", target.relative_to(ROOT), target.stat().st_size)


def run_to_end(page: Any, before: int) -> dict[str, Any]:
    """The newest history entry once the history holds more than ``before`` ended runs. The
    predicate is synchronous (Playwright does not await one): each poll starts a fetch and
    reads the answer of the previous one."""
    finished = page.wait_for_function(
        """(before) => {
            const state = (window.__docsPoll ??= { done: true, value: null });
            if (state.done) {
                state.done = false;
                fetch('/history').then((r) => r.json()).then((value) => { state.value = value; state.done = true; },
                    () => { state.done = true; });
            }
            const runs = Object.values(state.value ?? {}).filter((run) => run.status && run.status.completed !== undefined);
            return runs.length > before && JSON.stringify(runs[runs.length - 1]);
        }""",
        arg=before,
        polling=200,
        timeout=60_000,
    )
    return json.loads(finished.json_value())


def history_length(page: Any) -> int:
    return int(page.evaluate("async () => Object.keys(await (await fetch('/history')).json()).length"))


def open_example(page: Any, path: Path) -> Any:
    """Load an example as a user does, run it, and return its dialog once it is on screen."""
    page.evaluate("async (workflow) => { await window.app.loadGraphData(workflow); }", ensure_id(path))
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    card = page.locator(CARD)
    card.wait_for(timeout=60_000)
    return card


def photograph(page: Any, screenshot: Path, thumb: Path | None) -> None:
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    screenshot.write_bytes(page.screenshot())
    log.info("saved %s", screenshot.relative_to(ROOT))
    if thumb is not None:
        thumbnail(page, thumb)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frontend-root", help="another frontend's static folder (--front-end-root)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    comfy = RealComfyUI.from_environment()
    if comfy is None:
        log.error("set HITL_COMFYUI_DIR (and HITL_COMFYUI_PYTHON) first")
        return 2
    if args.frontend_root:
        comfy.front_end_root = args.frontend_root
    from playwright.sync_api import sync_playwright

    comfy.start()
    failures = 0
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(comfy.url)
            page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
            page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
            version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
            log.info("frontend %s", version)

            open_example(page, PICKER_EXAMPLE)
            page.wait_for_function(
                "() => [...document.querySelectorAll('.hitl-pick-tile img')].every((img) => img.complete && img.naturalWidth > 0)"
            )
            for key in ("5", "2", "ArrowRight"):
                page.keyboard.press(key)
            photograph(page, DOCS / "image-picker-dialog.png", PICKER_EXAMPLE.with_suffix(".jpg"))
            before = history_length(page)
            page.keyboard.press("Control+Enter")
            run = run_to_end(page, before)
            picked = run["outputs"]["20"]["picked"]
            log.info("picker run: %s, picked %s", run["status"]["status_str"], picked)
            failures += run["status"]["status_str"] != "success" or picked != [4, 1]

            open_example(page, VALUE_EXAMPLE)
            page.wait_for_function("document.activeElement && document.activeElement.type === 'number'")
            page.keyboard.press("Control+a")
            page.keyboard.type("320")
            photograph(page, DOCS / "value-prompt-dialog.png", VALUE_EXAMPLE.with_suffix(".jpg"))
            before = history_length(page)
            page.keyboard.press("Enter")
            run = run_to_end(page, before)
            log.info("value prompt run: %s, answer %s", run["status"]["status_str"], run["outputs"]["1"]["answer"])
            failures += run["status"]["status_str"] != "success" or run["outputs"]["1"]["answer"] != [320]

            page.evaluate(
                """async () => {
                    const { api } = await import('/scripts/api.js');
                    const prompt = { 1: { class_type: 'HitlIntegerDoubler', inputs: { value: 21, ask_first: true, timeout_seconds: 120 } } };
                    await api.fetchApi('/prompt', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                        body: JSON.stringify({ prompt, client_id: api.clientId }) });
                }"""
            )
            page.locator(CARD).wait_for()
            photograph(page, DOCS / "doubler-dialog.png", None)
            before = history_length(page)
            page.keyboard.press("Control+Enter")
            run = run_to_end(page, before)
            log.info("doubler run: %s", run["status"]["status_str"])
            failures += run["status"]["status_str"] != "success"
            browser.close()
    finally:
        comfy.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
