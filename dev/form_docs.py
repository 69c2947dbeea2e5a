"""Make the form's example workflow and README screenshot in a real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.form_docs [--screenshot-only]

Starts ComfyUI with the pack (as the real-ComfyUI tests do), builds the workflow in the real
frontend from its API form (``app.loadApiJson``), lays it out, and saves
``app.graph.serialize()`` to ``example_workflows/form.json``. Then it loads that file as a
user would (``app.loadGraphData``), runs it, fills the form in from the keyboard, takes
``docs/form-dialog.png``, sends, and checks that the width reached EmptyImage and the text
reached Preview Any.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from typing import Any

from harness.comfyui import RealComfyUI
from harness.pack import ROOT

log = logging.getLogger("dev.form_docs")

WORKFLOW = ROOT / "example_workflows" / "form.json"
SCREENSHOT = ROOT / "docs" / "form-dialog.png"

FIELDS = """\
# One field per line:  name "label": TYPE options = default
width "Image width": INT 64..1024 step 64 = 512
caption: TEXT multiline = a lighthouse at dusk
style: CHOICE photo | watercolour | ink sketch = photo
"""
HEIGHT = 256


def api_workflow() -> dict[str, Any]:
    """Form → Form Field (width) → EmptyImage → Preview Image, and Form Field (caption) and
    Form Field (style) → Concatenate → Preview Any; the form's json → Preview Any too."""

    def field(name: str) -> dict[str, Any]:
        return {"class_type": "HitlFormField", "inputs": {"form": ["1", 0], "name": name}}

    return {
        "1": {
            "class_type": "HitlForm",
            "inputs": {
                "fields": FIELDS,
                "title": "Image settings",
                "message": "Everything the next stage needs, in one go.",
                "timeout_seconds": 0,
                "on_timeout": "use defaults",
                "mode": "always ask",
            },
        },
        "2": field("width"),
        "3": field("caption"),
        "4": field("style"),
        "5": {
            "class_type": "EmptyImage",
            "inputs": {"width": ["2", 0], "height": HEIGHT, "batch_size": 1, "color": 0x2B6CB0},
        },
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
        "7": {
            "class_type": "StringConcatenate",
            "inputs": {"string_a": ["3", 2], "string_b": ["4", 2], "delimiter": ", "},
        },
        "8": {"class_type": "PreviewAny", "inputs": {"source": ["7", 0]}},
        "9": {"class_type": "PreviewAny", "inputs": {"source": ["1", 1]}},
    }


LAYOUT = """() => {
    const graph = window.app.graph;
    const places = {1: [40, 60], 2: [520, 40], 3: [520, 250], 4: [520, 460], 5: [840, 40], 6: [1150, 40],
        7: [840, 300], 8: [840, 580], 9: [520, 680]};
    const titles = {2: "Form Field: width", 3: "Form Field: caption", 4: "Form Field: style", 8: "Preview the prompt", 9: "Preview the whole form (json)"};
    for (const node of graph._nodes) {
        // The API form has no slot indices; the frontend's own schema wants them.
        (node.outputs ?? []).forEach((output, index) => { if (output.slot_index == null) output.slot_index = index; });
        const place = places[Number(node.id)];
        if (place) node.pos = place;
        if (titles[Number(node.id)]) node.title = titles[Number(node.id)];
        if (Number(node.id) === 1) node.size = [440, 520];
    }
    graph.setDirtyCanvas(true, true);
    // As text: JSON drops undefined fields, which Playwright would turn into nulls.
    return JSON.stringify(graph.serialize());
}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--screenshot-only", action="store_true", help="keep the saved workflow, only retake the screenshot"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    comfy = RealComfyUI.from_environment()
    if comfy is None:
        log.error("set HITL_COMFYUI_DIR (and HITL_COMFYUI_PYTHON) first")
        return 2
    from playwright.sync_api import sync_playwright

    comfy.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--headless", "--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(comfy.url)
            page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
            page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
            if not args.screenshot_only:
                page.evaluate("async (prompt) => { await window.app.loadApiJson(prompt, 'form'); }", api_workflow())
                workflow = json.loads(page.evaluate(LAYOUT))
                WORKFLOW.parent.mkdir(exist_ok=True)
                WORKFLOW.write_text(json.dumps(workflow, indent=2) + "\n")
                log.info("saved %s (%d nodes)", WORKFLOW.relative_to(ROOT), len(workflow["nodes"]))
            # Load it as a user would, and run it.
            page.reload()
            page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'", timeout=60_000)
            page.evaluate(
                "async (workflow) => { await window.app.loadGraphData(workflow); }", json.loads(WORKFLOW.read_text())
            )
            page.evaluate("() => window.app.queuePrompt(0, 1)")
            dialog = page.locator("section.hitl-card[data-kind='form']")
            dialog.wait_for(timeout=60_000)
            page.wait_for_function("document.activeElement && document.activeElement.type === 'number'")
            page.keyboard.type("640")
            page.keyboard.press("Tab")
            page.keyboard.press("End")
            page.keyboard.type(", storm clouds")
            page.keyboard.press("Tab")
            page.keyboard.press("2")
            version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
            log.info("saved %s (frontend %s)", SCREENSHOT.relative_to(ROOT), version)
            page.keyboard.press("Enter")
            dialog.wait_for(state="detached")
            # Playwright does not await a predicate's promise: each poll starts a fetch and
            # reads the one before it.
            finished = page.wait_for_function(
                """() => {
                    const poll = (window.__formDocs ??= { busy: false, outputs: null });
                    if (!poll.busy) {
                        poll.busy = true;
                        fetch('/history?max_items=1').then((r) => r.json()).then((history) => {
                            const run = Object.values(history)[0];
                            if (run && run.status && run.status.completed) poll.outputs = JSON.stringify(run.outputs);
                        }).finally(() => { poll.busy = false; });
                    }
                    return poll.outputs ?? false;
                }""",
                polling=200,
                timeout=30_000,
            )
            outputs = json.loads(finished.json_value())
            text = outputs["8"]["text"][0]
            log.info("the run completed: answers %s; Preview Any shows %r", outputs["1"]["answer"][0], text)
            browser.close()
            return 0 if text == "a lighthouse at dusk, storm clouds, watercolour" else 1
    finally:
        comfy.stop()


if __name__ == "__main__":
    sys.exit(main())
