"""Make the image picker's example workflows and README screenshots in a real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.picker_docs [--screenshot-only] [--clips-only]

Starts ComfyUI with the pack (as the real-ComfyUI tests do), builds each workflow in the
real frontend from its API form (``app.loadApiJson``), lays it out, and saves
``app.graph.serialize()`` to ``example_workflows/``. Then it loads that file as a user would
(``app.loadGraphData``), runs it, takes the README's screenshot of the dialog with two items
picked, sends, and checks the run succeeded with the previews it should have:

- ``image_picker.json``, ``docs/image-picker-dialog.png``: six colours, pick two;
- ``image_picker_clips.json``, ``docs/image-picker-clips.png``: four clips of four noisy
  frames (frames_per_item 4), pick two; the picks and the rejects each go to a Preview Image.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from harness.browser import CHROMIUM_ARGS, chromium_executable
from harness.comfyui import RealComfyUI
from harness.pack import ROOT

log = logging.getLogger("dev.picker_docs")

WORKFLOW = ROOT / "example_workflows" / "image_picker.json"
SCREENSHOT = ROOT / "docs" / "image-picker-dialog.png"
#: Red, orange, yellow, green, blue, purple.
COLOURS = [0xE53935, 0xFB8C00, 0xFDD835, 0x43A047, 0x1E88E5, 0x8E24AA]
NAMES = ["Red", "Orange", "Yellow", "Green", "Blue", "Purple"]
EDGE = 512


def api_workflow() -> dict[str, Any]:
    """EmptyImage per colour → ImageBatch chain → Image Picker → Preview Image."""
    prompt: dict[str, Any] = {}
    for index, colour in enumerate(COLOURS):
        prompt[str(index + 1)] = {
            "class_type": "EmptyImage",
            "inputs": {"width": EDGE, "height": EDGE, "batch_size": 1, "color": colour},
        }
    previous = ["1", 0]
    for index in range(1, len(COLOURS)):
        node_id = str(10 + index)
        prompt[node_id] = {"class_type": "ImageBatch", "inputs": {"image1": previous, "image2": [str(index + 1), 0]}}
        previous = [node_id, 0]
    prompt["20"] = {
        "class_type": "HitlImagePicker",
        "inputs": {
            "images": previous,
            "mode": "always ask",
            "min_picks": 1,
            "max_picks": 0,
            "title": "Keep the colours you like",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
        },
    }
    prompt["30"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}
    return prompt


LAYOUT = """(names) => {
    // Colours in a column, the batch chain beside them, then the picker and the preview.
    const graph = window.app.graph;
    for (const node of graph._nodes) {
        const id = Number(node.id);
        // The API form has no slot indices; the frontend's own schema wants them.
        (node.outputs ?? []).forEach((output, index) => { if (output.slot_index == null) output.slot_index = index; });
        if (id <= 6) { node.pos = [40, 40 + (id - 1) * 150]; node.title = names[id - 1]; }
        else if (id >= 11 && id <= 15) node.pos = [400, 40 + (id - 11) * 120];
        else if (id === 20) node.pos = [720, 160];
        else if (id === 30) node.pos = [1100, 160];
    }
    graph.setDirtyCanvas(true, true);
    // As text: JSON drops undefined fields, which Playwright would turn into nulls.
    return JSON.stringify(graph.serialize());
}"""


CLIPS_WORKFLOW = ROOT / "example_workflows" / "image_picker_clips.json"
CLIPS_SCREENSHOT = ROOT / "docs" / "image-picker-clips.png"
#: One colour per clip: red, green, blue, purple.
CLIP_COLOURS = [0xE53935, 0x43A047, 0x1E88E5, 0x8E24AA]
CLIP_NAMES = ["Red clip", "Green clip", "Blue clip", "Purple clip"]
FRAMES_PER_CLIP = 4


def clips_api_workflow() -> dict[str, Any]:
    """Four clips of four noisy frames (EmptyImage ×4 per colour → ImageBatch chain → Image Add
    Noise) → Image Picker (frames_per_item 4) → Preview Image of the picks, and of the rejects."""
    prompt: dict[str, Any] = {}
    for index, colour in enumerate(CLIP_COLOURS):
        prompt[str(index + 1)] = {
            "class_type": "EmptyImage",
            "inputs": {"width": 384, "height": 384, "batch_size": FRAMES_PER_CLIP, "color": colour},
        }
    previous = ["1", 0]
    for index in range(1, len(CLIP_COLOURS)):
        node_id = str(10 + index)
        prompt[node_id] = {"class_type": "ImageBatch", "inputs": {"image1": previous, "image2": [str(index + 1), 0]}}
        previous = [node_id, 0]
    prompt["15"] = {"class_type": "ImageAddNoise", "inputs": {"image": previous, "seed": 7, "strength": 0.15}}
    prompt["20"] = {
        "class_type": "HitlImagePicker",
        "inputs": {
            "images": ["15", 0],
            "mode": "always ask",
            "min_picks": 1,
            "max_picks": 0,
            "title": "Keep the clips you like",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
            "frames_per_item": FRAMES_PER_CLIP,
            "preset": "",
            "click_sends": False,
        },
    }
    prompt["30"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}
    prompt["31"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 5]}}
    return prompt


CLIPS_LAYOUT = """(names) => {
    const graph = window.app.graph;
    for (const node of graph._nodes) {
        const id = Number(node.id);
        (node.outputs ?? []).forEach((output, index) => { if (output.slot_index == null) output.slot_index = index; });
        if (id <= 4) { node.pos = [40, 40 + (id - 1) * 190]; node.title = names[id - 1]; }
        else if (id >= 11 && id <= 13) node.pos = [380, 60 + (id - 11) * 120];
        else if (id === 15) node.pos = [380, 440];
        else if (id === 20) node.pos = [720, 160];
        else if (id === 30) { node.pos = [1100, 60]; node.title = "Picked clips (every frame)"; }
        else if (id === 31) { node.pos = [1100, 420]; node.title = "Rejected clips"; }
    }
    graph.setDirtyCanvas(true, true);
    return JSON.stringify(graph.serialize());
}"""


#: A synchronous predicate (Playwright does not await a promise a predicate returns): each
#: poll starts a fetch of the newest history entry and checks the answer of the previous one.
FINISHED = """(known) => {
    const state = (window.__docsPoll ??= {});
    if (!state.pending) {
        state.pending = fetch('/history').then((r) => r.json()).then((h) => { state.last = h; state.pending = null; },
            () => { state.pending = null; });
    }
    const runs = Object.entries(state.last ?? {}).filter(([id]) => !known.includes(id)).map(([, run]) => run);
    const run = runs.find((run) => run.status && run.status.completed);
    return run ? JSON.stringify(run.outputs) : false;
}"""


def make_example(
    page: Any, *, prompt: dict[str, Any], layout: str, names: list[str], workflow: Path, screenshot: Path, build: bool
) -> dict[str, Any]:
    """Build (when ``build``) and save the workflow, load it as a user would, run it, pick
    items 5 or 4 and 2 by number, screenshot the dialog, send; the run's outputs."""
    if build:
        page.evaluate(
            "async ([prompt, name]) => { await window.app.loadApiJson(prompt, name); }", [prompt, workflow.stem]
        )
        saved = json.loads(page.evaluate(layout, names))
        workflow.parent.mkdir(exist_ok=True)
        workflow.write_text(json.dumps(saved, indent=2) + "\n")
        log.info("saved %s (%d nodes)", workflow.relative_to(ROOT), len(saved["nodes"]))
    page.reload()
    page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'", timeout=60_000)
    page.evaluate("async (workflow) => { await window.app.loadGraphData(workflow); }", json.loads(workflow.read_text()))
    known = page.evaluate("async () => Object.keys(await (await fetch('/history')).json())")
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    dialog = page.locator("section.hitl-card[data-kind='image-picker']")
    dialog.wait_for(timeout=60_000)
    count = dialog.locator(".hitl-pick-tile").count()
    page.wait_for_function(
        "(count) => document.querySelectorAll('.hitl-pick-tile img[data-loaded]').length === count", arg=count
    )
    page.keyboard.press(str(min(count, 5)))
    page.keyboard.press("2")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(400)  # a clip under the focus plays: let it show another frame
    version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    screenshot.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(screenshot))
    log.info("saved %s (frontend %s)", screenshot.relative_to(ROOT), version)
    page.keyboard.press("Enter")
    dialog.wait_for(state="detached")
    return json.loads(page.wait_for_function(FINISHED, arg=known, polling=200, timeout=60_000).json_value())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--screenshot-only", action="store_true", help="keep the saved workflows, only retake the screenshots"
    )
    parser.add_argument("--clips-only", action="store_true", help="only the clips example")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    comfy = RealComfyUI.from_environment()
    if comfy is None:
        log.error("set HITL_COMFYUI_DIR (and HITL_COMFYUI_PYTHON) first")
        return 2
    from playwright.sync_api import sync_playwright

    comfy.start()
    ok = True
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(comfy.url)
            page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
            page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
            if not args.clips_only:
                outputs = make_example(
                    page,
                    prompt=api_workflow(),
                    layout=LAYOUT,
                    names=[f"{name} (EmptyImage)" for name in NAMES],
                    workflow=WORKFLOW,
                    screenshot=SCREENSHOT,
                    build=not args.screenshot_only,
                )
                log.info("image picker: %d previews; picked %s", len(outputs["30"]["images"]), outputs["20"]["picked"])
                ok = ok and len(outputs["30"]["images"]) == 2 and outputs["20"]["picked"] == [4, 1]
            outputs = make_example(
                page,
                prompt=clips_api_workflow(),
                layout=CLIPS_LAYOUT,
                names=[f"{name} (EmptyImage ×{FRAMES_PER_CLIP})" for name in CLIP_NAMES],
                workflow=CLIPS_WORKFLOW,
                screenshot=CLIPS_SCREENSHOT,
                build=not args.screenshot_only,
            )
            picked, rejected = len(outputs["30"]["images"]), len(outputs["31"]["images"])
            log.info("clips: %d frames picked %s, %d rejected", picked, outputs["20"]["picked"], rejected)
            ok = ok and outputs["20"]["picked"] == [3, 1] and picked == rejected == 2 * FRAMES_PER_CLIP
            browser.close()
    finally:
        comfy.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
