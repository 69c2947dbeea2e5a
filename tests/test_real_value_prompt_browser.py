"""The value prompt's dialog in a real ComfyUI frontend (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui): the example workflow loaded as a user loads it, run with the Run
button's own call, answered from the keyboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_real_comfyui_browser import ARTIFACTS, wait_history

from dev.harness.pack import ROOT

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]

EXAMPLE = ROOT / "example_workflows" / "Value prompt - image width.json"
CARD = "section.hitl-card[data-kind='value-prompt']"


def run_example(page: Any) -> tuple[str, Any]:
    """Load the example workflow and queue it as the Run button does; returns the prompt id
    of the question that opened, and its dialog."""
    page.evaluate(
        "async (workflow) => { await app.loadGraphData(workflow); await app.queuePrompt(0, 1); }",
        json.loads(EXAMPLE.read_text()),
    )
    card = page.locator(CARD)
    card.wait_for()
    # The file is what the frontend itself saves: loading it raises no schema complaint.
    assert page.get_by_text("Invalid workflow against zod schema").count() == 0
    request_id = card.get_attribute("data-request-id")
    views = page.evaluate("async () => (await (await fetch('/api/hitl/requests')).json()).requests")
    [view] = [view for view in views if view["id"] == request_id]
    return view["prompt_id"], card


def preview_size(page: Any, history: dict[str, Any]) -> list[int]:
    [image] = next(output["images"] for output in history["outputs"].values() if "images" in output)
    return page.evaluate(
        """async (image) => {
            const query = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
            const bitmap = await createImageBitmap(await (await fetch(`/view?${query}`)).blob());
            return [bitmap.width, bitmap.height];
        }""",
        image,
    )


def test_example_workflow_asks_and_the_answer_sets_the_image_width(comfy_page: Any) -> None:
    version = comfy_page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    prompt_id, card = run_example(comfy_page)
    assert card.locator(".hitl-title").inner_text() == "Image width"
    assert card.locator(".hitl-subtitle").inner_text() == "Ask: image width · this tab's workflow"
    assert "How wide should the image be" in card.locator(".hitl-message").inner_text()
    field = card.locator("input[role='spinbutton']")
    assert field.input_value() == "512"
    comfy_page.wait_for_function(
        "document.activeElement && document.activeElement.getAttribute('role') === 'spinbutton'"
    )
    comfy_page.keyboard.type("4096")
    comfy_page.keyboard.press("Enter")
    # The server's refusal, inline; the run still waits.
    card.locator("[data-role='error']").filter(has_text="4096 is above the maximum 2048").wait_for()
    comfy_page.keyboard.press("Control+A")
    comfy_page.keyboard.type("320")
    ARTIFACTS.mkdir(exist_ok=True)
    comfy_page.screenshot(path=str(ARTIFACTS / f"value-prompt-dialog-frontend-{version}.png"))
    comfy_page.keyboard.press("Enter")
    card.wait_for(state="detached")
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "success"
    assert preview_size(comfy_page, history) == [320, 256]


def test_escape_cancels_the_run_and_a_fresh_run_works(comfy_page: Any) -> None:
    prompt_id, card = run_example(comfy_page)
    comfy_page.keyboard.press("Escape")
    card.wait_for(state="detached")
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "error"
    assert any(message[0] == "execution_interrupted" for message in history["status"]["messages"])

    prompt_id, card = run_example(comfy_page)
    comfy_page.keyboard.type("128")
    comfy_page.keyboard.press("Enter")
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "success"
    assert preview_size(comfy_page, history) == [128, 256]
