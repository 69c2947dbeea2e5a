"""Retake the README's dialog screenshots and the example workflows' template thumbnails in a
real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.docs [--frontend-root DIR]

Starts ComfyUI with the pack (as the real-ComfyUI tests do). Each example workflow gets an id
of its own if it has none (a random UUID, kept once given: the memory of "last answer"
tells workflows apart by it). Then each is loaded as a user loads it (``app.loadGraphData``),
run, answered from the keyboard or the mouse, and photographed: ``docs/images/<dialog>.png`` for
the README, and ``example_workflows/<name>.jpg``, the thumbnail ComfyUI's template browser
shows beside the workflow (a square around the open dialog, 384 px, a few tens of KB). Last,
the integer doubler's dialog. Every run must end in success with the answer given, or the
script fails. The examples themselves are built by ``dev.picker_docs``, ``dev.form_docs``
and ``dev.mask_painter_docs``.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path
from typing import Any

from PIL import Image

from dev import form_docs, mask_painter_docs, picker_docs
from dev._frontend import EXAMPLES, VIEWPORT, NoComfyUI, comfy_page, history_length, open_example, run_to_end
from dev.harness.pack import ROOT

log = logging.getLogger("dev.docs")

DOCS = ROOT / "docs" / "images"
PICKER_EXAMPLE = picker_docs.WORKFLOW
CLIPS_EXAMPLE = picker_docs.CLIPS_WORKFLOW
VALUE_EXAMPLE = EXAMPLES / "Value prompt - image width.json"
FORM_EXAMPLE = form_docs.WORKFLOW
MASK_EXAMPLE = mask_painter_docs.WORKFLOW
THUMB_EDGE = 384
#: The square window a thumbnail is taken in (then scaled to THUMB_EDGE).
THUMB_WINDOW = 640
THUMB_QUALITY = 82
CARD = "section.hitl-card"


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


def photograph(page: Any, screenshot: Path, thumb: Path | None) -> None:
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    screenshot.write_bytes(page.screenshot())
    log.info("saved %s", screenshot.relative_to(ROOT))
    if thumb is not None:
        thumbnail(page, thumb)


def examples(page: Any) -> int:
    """Run every example and the doubler, photograph each dialog; the number of failures."""
    failures = 0
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

    open_example(page, CLIPS_EXAMPLE)
    # Every frame of the four clips in the page, so the focused clip plays in the picture.
    page.wait_for_function("() => document.querySelectorAll('.hitl-pick-tile[data-clip=\"ready\"]').length === 4")
    for key in ("4", "2", "ArrowRight"):
        page.keyboard.press(key)
    page.wait_for_function(
        "() => { const img = document.querySelector('.hitl-pick-tile:focus img');"
        " return !!img && img.getAttribute('src') !== (window.__clipFirst ??= img.getAttribute('src')); }",
        polling=50,
    )  # the focused clip has moved on to another frame
    photograph(page, DOCS / "image-picker-clips.png", CLIPS_EXAMPLE.with_suffix(".jpg"))
    before = history_length(page)
    page.keyboard.press("Control+Enter")
    run = run_to_end(page, before)
    outputs = run["outputs"]
    picked = outputs[picker_docs.CLIPS_PICKER]["picked"]
    frames = [len(outputs[node]["images"]) for node in (picker_docs.CLIPS_PICKED, picker_docs.CLIPS_REJECTED)]
    log.info("clips run: %s, picked %s, frames picked/rejected %s", run["status"]["status_str"], picked, frames)
    clip = picker_docs.FRAMES_PER_CLIP
    failures += run["status"]["status_str"] != "success" or picked != [3, 1] or frames != [2 * clip, 2 * clip]

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

    open_example(page, FORM_EXAMPLE, f"{CARD}[data-kind='form']")
    form_docs.fill_in(page)
    photograph(page, DOCS / "form-dialog.png", FORM_EXAMPLE.with_suffix(".jpg"))
    before = history_length(page)
    page.keyboard.press("Enter")
    run = run_to_end(page, before)
    text = run["outputs"][form_docs.TEXT_PREVIEW]["text"][0]
    log.info("form run: %s, answers %s", run["status"]["status_str"], run["outputs"][form_docs.FORM_ID]["answer"])
    failures += run["status"]["status_str"] != "success" or text != form_docs.EXPECTED_TEXT

    open_example(page, MASK_EXAMPLE, f"{CARD}[data-kind='mask-painter']")
    mask_painter_docs.paint_the_sun(page)
    # The thumbnail's window is smaller: the painter fits the image to it again, so the
    # painted sun shows there too.
    photograph(page, DOCS / "mask-painter-dialog.png", MASK_EXAMPLE.with_suffix(".jpg"))
    before = history_length(page)
    page.keyboard.press("Enter")
    run = run_to_end(page, before)
    outputs = run["outputs"]
    log.info(
        "mask painter run: %s, source %s", run["status"]["status_str"], outputs[mask_painter_docs.PAINTER]["source"]
    )
    failures += run["status"]["status_str"] != "success" or outputs[mask_painter_docs.PAINTER]["source"] != ["person"]

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
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frontend-root", help="another frontend's static folder (--front-end-root)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with comfy_page(args.frontend_root) as page:
            failures = examples(page)
    except NoComfyUI as exc:
        log.error("%s", exc)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
