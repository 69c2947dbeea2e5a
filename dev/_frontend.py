"""What the docs scripts share: a real ComfyUI with the pack and a page of its frontend, an
example workflow built from its API form there and saved as the frontend saves it, and a
run followed to its end in the history.

One implementation: ``dev.docs`` (screenshots and thumbnails of every example) and each
example's builder (``dev.picker_docs``, ``dev.form_docs``, ``dev.mask_painter_docs``) use
these.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dev.harness.browser import CHROMIUM_ARGS, chromium_executable
from dev.harness.comfyui import RealComfyUI
from dev.harness.pack import ROOT

log = logging.getLogger("dev.frontend")

EXAMPLES = ROOT / "example_workflows"
NIL_ID = "00000000-0000-0000-0000-000000000000"
VIEWPORT = {"width": 1400, "height": 900}


class NoComfyUI(RuntimeError):
    """HITL_COMFYUI_DIR is not set: there is no real ComfyUI to work in."""


@contextmanager
def comfy_page(frontend_root: str | None = None) -> Iterator[Any]:
    """A real ComfyUI with the pack, and a headless Chromium page of its frontend, ready."""
    comfy = RealComfyUI.from_environment()
    if comfy is None:
        raise NoComfyUI("set HITL_COMFYUI_DIR (and HITL_COMFYUI_PYTHON) first")
    if frontend_root:
        comfy.front_end_root = frontend_root
    from playwright.sync_api import sync_playwright

    comfy.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(comfy.url)
                page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
                page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
                log.info("frontend %s", page.evaluate("window.__COMFYUI_FRONTEND_VERSION__"))
                yield page
            finally:
                browser.close()
    finally:
        comfy.stop()


def ensure_id(path: Path) -> dict[str, Any]:
    """The workflow in ``path``, given a random id of its own if it has none (written back):
    the memory of "last answer" tells workflows apart by it."""
    workflow = json.loads(path.read_text())
    if workflow.get("id") in (None, "", NIL_ID):
        workflow["id"] = str(uuid.uuid4())
        path.write_text(json.dumps(workflow, indent=2) + "\n")
        log.info("gave %s the id %s", path.name, workflow["id"])
    return workflow


def rebuild_example(path: Path, api_workflow: dict[str, Any], layout: str, layout_arg: Any = None) -> int:
    """Build an example in the real frontend from its API form (``app.loadApiJson``), lay it
    out with the ``layout`` function (which returns ``graph.serialize()`` as JSON text), and
    save it to ``path`` as the frontend saves a workflow, keeping the id the example had."""
    previous_id = json.loads(path.read_text()).get("id") if path.exists() else None
    try:
        with comfy_page() as page:
            page.evaluate(
                "async ([prompt, name]) => { await window.app.loadApiJson(prompt, name); }", [api_workflow, path.stem]
            )
            workflow = json.loads(page.evaluate(layout, layout_arg))
    except NoComfyUI as exc:
        log.error("%s", exc)
        return 2
    workflow["id"] = previous_id if previous_id not in (None, "", NIL_ID) else str(uuid.uuid4())
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(workflow, indent=2) + "\n")
    log.info("saved %s (%d nodes); now run python3 -m dev.docs", path.relative_to(ROOT), len(workflow["nodes"]))
    return 0


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


def open_example(page: Any, path: Path, card: str = "section.hitl-card") -> Any:
    """Load an example as a user does (``app.loadGraphData``), run it as the Run button does,
    and return its dialog once it is on screen."""
    page.evaluate("async (workflow) => { await window.app.loadGraphData(workflow); }", ensure_id(path))
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    dialog = page.locator(card)
    dialog.wait_for(timeout=60_000)
    return dialog
