"""The image picker's dialog in a real ComfyUI frontend (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui): the example workflow loads and runs, the picked images reach Preview
Image in pick order, Cancel ends the run as interrupted, a reload keeps the dialog."""

from __future__ import annotations

import io
import json
import urllib.parse
import urllib.request
from typing import Any

import numpy as np
import pytest
from PIL import Image
from test_browser_image_picker import sources_seen, wait_clips_ready, wait_thumbnails
from test_real_comfyui_browser import ARTIFACTS, poll_json, queue_from_page, wait_history
from test_real_image_picker import (
    CLIP_PICKER_ID,
    COLOURS,
    FRAME_COLOURS,
    PICKER_ID,
    PREVIEW_ID,
    REJECTS_ID,
    clip_prompt,
    picker_prompt,
    rgb,
)

from dev.harness.comfyui import RealComfyUI
from dev.harness.pack import ROOT

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]

DIALOG = "section.hitl-card[data-kind='image-picker']"
#: The example workflow as version 0.1.0 saved it (before clips, rejects and presets).
PREVIOUS_EXAMPLE = ROOT / "tests" / "data" / "examples-0.1.0" / "image_picker.json"
CLIPS_EXAMPLE = ROOT / "example_workflows" / "Image picker - pick clips.json"


def preview_colours(comfyui: RealComfyUI, outputs: dict[str, Any], preview_id: str) -> list[tuple[int, ...]]:
    colours = []
    for entry in outputs[preview_id]["images"]:
        query = urllib.parse.urlencode(
            {"filename": entry["filename"], "subfolder": entry["subfolder"], "type": entry["type"]}
        )
        with urllib.request.urlopen(f"{comfyui.url}/view?{query}") as response:
            pixels = np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))
        colours.append(tuple(int(v) for v in pixels[pixels.shape[0] // 2, pixels.shape[1] // 2]))
    return colours


def newest_prompt_id(page: Any) -> str:
    """The prompt the page queued last (app.queuePrompt does not return its id)."""
    queue = poll_json(page, "/queue", "value.queue_running.length + value.queue_pending.length > 0")
    return (queue["queue_running"] or queue["queue_pending"])[0][1]


def set_vue_nodes(page: Any, enabled: bool) -> None:
    """Nodes 2.0 (Vue nodes) on or off, as the person's setting would have it."""
    page.evaluate(
        "async (on) => { await window.app.extensionManager.setting.set('Comfy.VueNodes.Enabled', on); }", enabled
    )


@pytest.mark.parametrize("vue_nodes", [False, True], ids=["litegraph-nodes", "vue-nodes"])
def test_example_workflow_loads_runs_and_previews_the_picks(
    comfyui: RealComfyUI, comfy_page: Any, vue_nodes: bool
) -> None:
    # The workflow 0.1.0 saved: six widget values, five outputs. It still loads and runs.
    set_vue_nodes(comfy_page, vue_nodes)
    workflow = json.loads(PREVIOUS_EXAMPLE.read_text())
    comfy_page.evaluate("async (workflow) => { await window.app.loadGraphData(workflow); }", workflow)
    types = comfy_page.evaluate("() => window.app.graph._nodes.map((node) => node.type).sort()")
    assert types.count("EmptyImage") == 6 and "HitlImagePicker" in types and "PreviewImage" in types
    comfy_page.evaluate("() => window.app.queuePrompt(0, 1)")
    dialog = comfy_page.locator(DIALOG)
    dialog.wait_for(timeout=60_000)
    prompt_id = newest_prompt_id(comfy_page)
    wait_thumbnails(comfy_page, 6)
    send = dialog.locator("[data-action='primary']")
    assert send.is_disabled()
    dialog.locator(".hitl-pick-tile").nth(5).click()
    dialog.locator(".hitl-pick-tile").nth(2).click()
    assert dialog.locator(".hitl-pick-tile[data-index='5'] .hitl-pick-order").inner_text() == "1"
    version = comfy_page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    # The node got the newer widgets with their defaults, after the saved ones.
    widgets = comfy_page.evaluate(
        "() => Object.fromEntries(window.app.graph._nodes.find((n) => n.type === 'HitlImagePicker').widgets.map((w) => [w.name, w.value]))"
    )
    assert widgets["title"] == "Keep the colours you like" and widgets["mode"] == "always ask"
    assert (widgets["frames_per_item"], widgets["preset"], widgets["click_sends"]) == (1, "", False)
    ARTIFACTS.mkdir(exist_ok=True)
    vue = "-vue-nodes" if vue_nodes else ""
    comfy_page.screenshot(path=str(ARTIFACTS / f"image-picker-dialog-frontend-{version}{vue}.png"))
    send.click()
    dialog.wait_for(state="detached")
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "success"
    # The example's colours (see dev/picker_docs.py): purple, then yellow.
    colours = preview_colours(comfyui, history["outputs"], "30")
    assert colours == [rgb(0x8E24AA), rgb(0xFDD835)]


def test_keyboard_pick_reaches_preview_and_cancel_interrupts(comfyui: RealComfyUI, comfy_page: Any) -> None:
    prompt_id = queue_from_page(comfy_page, picker_prompt())
    dialog = comfy_page.locator(DIALOG)
    dialog.wait_for()
    wait_thumbnails(comfy_page, 4)
    comfy_page.keyboard.press("4")
    comfy_page.keyboard.press("2")
    comfy_page.keyboard.press("Enter")
    history = wait_history(comfy_page, prompt_id)
    assert history["outputs"][PICKER_ID]["picked"] == [3, 1]
    assert preview_colours(comfyui, history["outputs"], PREVIEW_ID) == [rgb(COLOURS[3]), rgb(COLOURS[1])]
    dialog.wait_for(state="detached")

    prompt_id = queue_from_page(comfy_page, picker_prompt())
    dialog.wait_for()
    comfy_page.keyboard.press("1")
    dialog.locator("[data-action='cancel']").click()
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "error"
    assert any(message[0] == "execution_interrupted" for message in history["status"]["messages"])
    dialog.wait_for(state="detached")


def test_zoom_and_reload_mid_wait_keep_the_dialog(comfyui: RealComfyUI, comfy_page: Any) -> None:
    prompt_id = queue_from_page(comfy_page, picker_prompt())
    dialog = comfy_page.locator(DIALOG)
    dialog.wait_for()
    comfy_page.keyboard.press("3")
    comfy_page.keyboard.press(" ")
    comfy_page.wait_for_function("document.querySelector(\"[data-role='zoom'] img\").dataset.size === 'full'")
    assert comfy_page.locator("[data-role='zoom'] img").evaluate("(img) => img.naturalWidth") == 64
    comfy_page.keyboard.press("Escape")
    assert comfy_page.locator("[data-role='zoom']").is_hidden()
    comfy_page.reload()
    comfy_page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'", timeout=60_000)
    dialog.wait_for()
    wait_thumbnails(comfy_page, 4)
    assert dialog.locator(".hitl-pick-tile[data-index='2'] .hitl-pick-order").inner_text() == "1"
    dialog.locator("[data-action='primary']").click()
    history = wait_history(comfy_page, prompt_id)
    assert preview_colours(comfyui, history["outputs"], PREVIEW_ID) == [rgb(COLOURS[2])]


def frame_colours(*indices: int) -> list[tuple[int, int, int]]:
    return [rgb(FRAME_COLOURS[index]) for index in indices]


def test_a_clip_workflow_picks_the_right_frames_in_order_and_rejects_go_to_a_second_preview(
    comfyui: RealComfyUI, comfy_page: Any
) -> None:
    prompt_id = queue_from_page(comfy_page, clip_prompt())
    dialog = comfy_page.locator(DIALOG)
    dialog.wait_for()
    assert dialog.locator(".hitl-pick-tile").count() == 4
    wait_thumbnails(comfy_page, 4)
    wait_clips_ready(comfy_page, 4)
    dialog.locator(".hitl-pick-tile").nth(2).hover()
    assert len(sources_seen(comfy_page, 2, 4)) == 4  # the hovered clip plays its four frames
    dialog.locator(".hitl-pick-tile").nth(2).click()
    comfy_page.keyboard.press("1")
    version = comfy_page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    ARTIFACTS.mkdir(exist_ok=True)
    comfy_page.screenshot(path=str(ARTIFACTS / f"image-picker-clips-frontend-{version}.png"))
    dialog.locator("[data-action='primary']").click()
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "success"
    assert history["outputs"][CLIP_PICKER_ID]["picked"] == [2, 0]
    assert preview_colours(comfyui, history["outputs"], PREVIEW_ID) == frame_colours(8, 9, 10, 11, 0, 1, 2, 3)
    assert preview_colours(comfyui, history["outputs"], REJECTS_ID) == frame_colours(4, 5, 6, 7, 12, 13, 14, 15)


@pytest.mark.parametrize("vue_nodes", [False, True], ids=["litegraph-nodes", "vue-nodes"])
def test_the_clips_example_loads_and_runs(comfyui: RealComfyUI, comfy_page: Any, vue_nodes: bool) -> None:
    set_vue_nodes(comfy_page, vue_nodes)
    comfy_page.evaluate(
        "async (workflow) => { await window.app.loadGraphData(workflow); }", json.loads(CLIPS_EXAMPLE.read_text())
    )
    assert comfy_page.get_by_text("Invalid workflow against zod schema").count() == 0
    comfy_page.evaluate("() => window.app.queuePrompt(0, 1)")
    dialog = comfy_page.locator(DIALOG)
    dialog.wait_for(timeout=60_000)
    prompt_id = newest_prompt_id(comfy_page)
    wait_clips_ready(comfy_page, 4)
    comfy_page.keyboard.press("4")
    comfy_page.keyboard.press("Enter")
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "success"
    outputs = history["outputs"]
    assert outputs["20"]["picked"] == [3] and len(outputs["30"]["images"]) == 4 and len(outputs["31"]["images"]) == 12
