"""The mask painter in a real ComfyUI frontend (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui): the example workflow loaded as a user loads it, a stroke drawn with the
mouse, and the mask and the filled result at the right pixels; with Vue nodes off and on."""

from __future__ import annotations

import io
import json
import urllib.parse
import urllib.request
from typing import Any

import numpy as np
import pytest
from PIL import Image
from test_real_comfyui_browser import ARTIFACTS, queue_from_page, wait_history
from test_real_mask_painter import PAINTER_ID, painter_prompt

from dev.harness.comfyui import RealComfyUI
from dev.harness.pack import ROOT

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]

EXAMPLE = ROOT / "example_workflows" / "Mask painter - mask the sun.json"
DIALOG = "section.hitl-card[data-kind='mask-painter']"
#: In the example: the mask's preview and the result's (the painted part filled with magenta).
MASK_PREVIEW, RESULT_PREVIEW = "21", "31"
SKY, FILL = (0x6F, 0xA8, 0xDC), (0xE0, 0x40, 0xFB)


def preview(comfyui: RealComfyUI, history: dict[str, Any], node: str) -> np.ndarray:
    entry = history["outputs"][node]["images"][0]
    query = urllib.parse.urlencode(
        {"filename": entry["filename"], "subfolder": entry["subfolder"], "type": entry["type"]}
    )
    with urllib.request.urlopen(f"{comfyui.url}/view?{query}") as response:
        return np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))


def paint(page: Any, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through image points of the open painter."""
    scale, left, top = page.evaluate(
        """() => { const p = document.querySelector("section.hitl-card[data-kind='mask-painter']").hitlMaskPainter;
            const box = p.stage.getBoundingClientRect(); return [p.scale, p.tx + box.left, p.ty + box.top]; }"""
    )
    page.mouse.move(left + points[0][0] * scale, top + points[0][1] * scale)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(left + x * scale, top + y * scale, steps=10)
    page.mouse.up()


def set_vue_nodes(page: Any, enabled: bool) -> None:
    page.evaluate(
        "async (enabled) => { await window.app.extensionManager.setting.set('Comfy.VueNodes.Enabled', enabled); }",
        enabled,
    )


@pytest.mark.parametrize("vue_nodes", [False, True], ids=["litegraph-nodes", "vue-nodes"])
def test_example_workflow_a_mouse_stroke_reaches_the_mask_and_the_result(
    comfyui: RealComfyUI, comfy_page: Any, vue_nodes: bool
) -> None:
    set_vue_nodes(comfy_page, vue_nodes)
    try:
        comfy_page.evaluate(
            "async (workflow) => { await window.app.loadGraphData(workflow); }", json.loads(EXAMPLE.read_text())
        )
        types = comfy_page.evaluate("() => window.app.graph._nodes.map((node) => node.type)")
        assert "HitlMaskPainter" in types and types.count("PreviewImage") == 2
        assert comfy_page.get_by_text("Invalid workflow against zod schema").count() == 0
        comfy_page.evaluate("() => window.app.queuePrompt(0, 1)")
        dialog = comfy_page.locator(f"{DIALOG}[data-ready='true']")
        dialog.wait_for(timeout=60_000)
        request_id = dialog.get_attribute("data-request-id")
        views = comfy_page.evaluate("async () => (await (await fetch('/api/hitl/requests')).json()).requests")
        [view] = [v for v in views if v["id"] == request_id]
        assert (view["payload"]["width"], view["payload"]["height"]) == (768, 512)
        # A horizontal stroke through the sky, 40 px wide.
        comfy_page.evaluate(f'() => document.querySelector("{DIALOG}").hitlMaskPainter.setSize(40)')
        paint(comfy_page, [(100, 200), (400, 200)])
        # The stroke went to the server as a draft (through ComfyUI's api), which drew it ahead.
        comfy_page.wait_for_function(
            f'() => {{ const p = document.querySelector("{DIALOG}").hitlMaskPainter; return !p.draftInFlight && !p.draftStale; }}'
        )
        version = comfy_page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
        ARTIFACTS.mkdir(exist_ok=True)
        name = f"mask-painter-frontend-{version}-{'vue' if vue_nodes else 'litegraph'}.png"
        comfy_page.screenshot(path=str(ARTIFACTS / name))
        dialog.locator("[data-action='primary']").click()
        dialog.wait_for(state="detached")
        history = wait_history(comfy_page, view["prompt_id"])
        assert history["status"]["status_str"] == "success"
        [drawn_ahead] = [out["drawn_ahead"] for out in history["outputs"].values() if "drawn_ahead" in out]
        assert drawn_ahead == [1]  # Send left nothing to draw
        mask = preview(comfyui, history, MASK_PREVIEW)
        assert mask.shape == (512, 768, 3)
        assert (mask[200, 100:400] == 255).all() and (mask[200, 430:] == 0).all() and (mask[260, 100:400] == 0).all()
        result = preview(comfyui, history, RESULT_PREVIEW)
        assert tuple(result[200, 250]) == FILL and tuple(result[300, 250]) == SKY
    finally:
        set_vue_nodes(comfy_page, False)


def test_cancel_and_escape_end_the_run_as_interrupted(comfyui: RealComfyUI, comfy_page: Any) -> None:
    for how in ("button", "escape"):
        prompt_id = queue_from_page(comfy_page, painter_prompt())
        dialog = comfy_page.locator(f"{DIALOG}[data-ready='true']")
        dialog.wait_for()
        paint(comfy_page, [(10, 10), (50, 40)])
        if how == "button":
            dialog.locator("[data-action='cancel']").click()
        else:
            comfy_page.keyboard.press("Escape")
        history = wait_history(comfy_page, prompt_id)
        assert history["status"]["status_str"] == "error"
        assert any(message[0] == "execution_interrupted" for message in history["status"]["messages"])
        comfy_page.locator(DIALOG).wait_for(state="detached")
    assert PAINTER_ID  # the API prompt's painter node
