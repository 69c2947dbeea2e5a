"""A real browser on a real ComfyUI (opt-in: set HITL_COMFYUI_DIR, see test_real_comfyui)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_real_comfyui import doubler

from dev.harness.pack import ROOT

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]
ARTIFACTS = ROOT / "test-artifacts"


def queue_from_page(page: Any, prompt: dict[str, Any]) -> str:
    """Queue as the page's own client (so ComfyUI sends its events to this tab)."""
    return page.evaluate(
        """async (prompt) => {
            const { api } = await import('/scripts/api.js');
            const response = await api.fetchApi('/prompt', { method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({ prompt, client_id: api.clientId }) });
            return (await response.json()).prompt_id;
        }""",
        prompt,
    )


def history_of(page: Any, prompt_id: str) -> Any:
    return page.evaluate("async (id) => (await (await fetch(`/history/${id}`)).json())[id]", prompt_id)


def poll_json(page: Any, url: str, condition: str, *, timeout: float = 30_000) -> Any:
    """Playwright's polling until ``condition`` (a JS expression over ``value``, the JSON at
    ``url``) holds; returns that JSON. The predicate must be synchronous: Playwright does not
    await a promise a predicate returns (a promise is truthy, so it would pass at once), so
    each poll starts a fetch and checks the answer of the previous one."""
    handle = page.wait_for_function(
        """([url, condition]) => {
            const state = (window.__hitlPoll ??= {});
            const previous = state[url];
            if (!previous || previous.done) {
                const entry = { done: false, value: undefined };
                state[url] = entry;
                fetch(url, { cache: "no-store" }).then((r) => r.json()).then((value) => { entry.value = value; entry.done = true; },
                    () => { entry.done = true; });
            }
            const last = previous && previous.done ? previous.value : undefined;
            return last !== undefined && new Function("value", `return (${condition});`)(last) ? JSON.stringify(last) : false;
        }""",
        arg=[url, condition],
        polling=100,
        timeout=timeout,
    )
    return json.loads(handle.json_value())


def wait_history(page: Any, prompt_id: str) -> Any:
    """The history entry of ``prompt_id`` once the run has ended."""
    history = poll_json(
        page,
        f"/history/{prompt_id}",
        f"value[{prompt_id!r}] && value[{prompt_id!r}].status && value[{prompt_id!r}].status.status_str",
    )
    return history[prompt_id]


def test_browser_doubles_with_no_click(comfy_page: Any) -> None:
    prompt_id = queue_from_page(comfy_page, doubler(21, ask_first=False))
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "success"
    assert history["outputs"]["1"]["doubled"] == [42]


def test_browser_dialog_cancel_and_send(comfy_page: Any) -> None:
    version = comfy_page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    prompt_id = queue_from_page(comfy_page, doubler(8, ask_first=True, timeout=300))
    dialog = comfy_page.locator("section.hitl-card[data-kind='integer-doubler']")
    dialog.wait_for()
    assert "8 × 2 = 16" in dialog.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    comfy_page.screenshot(path=str(ARTIFACTS / f"doubler-dialog-frontend-{version}.png"))
    dialog.locator("[data-action='cancel']").click()
    history = wait_history(comfy_page, prompt_id)
    assert history["status"]["status_str"] == "error"
    assert any(m[0] == "execution_interrupted" for m in history["status"]["messages"])
    dialog.wait_for(state="detached")

    prompt_id = queue_from_page(comfy_page, doubler(9, ask_first=True, timeout=300))
    dialog.wait_for()
    dialog.locator("[data-action='primary']").click()
    history = wait_history(comfy_page, prompt_id)
    assert history["outputs"]["1"]["doubled"] == [18]


def test_reload_mid_wait_restores_the_dialog(comfy_page: Any) -> None:
    prompt_id = queue_from_page(comfy_page, doubler(3, ask_first=True, timeout=300))
    dialog = comfy_page.locator("section.hitl-card[data-kind='integer-doubler']")
    dialog.wait_for()
    comfy_page.reload()
    comfy_page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'", timeout=60_000)
    dialog.wait_for()
    dialog.locator("[data-action='primary']").click()
    assert wait_history(comfy_page, prompt_id)["outputs"]["1"]["doubled"] == [6]


def test_frontend_red_x_interrupt_closes_the_dialog(comfy_page: Any) -> None:
    prompt_id = queue_from_page(comfy_page, doubler(3, ask_first=True, timeout=300))
    dialog = comfy_page.locator("section.hitl-card[data-kind='integer-doubler']")
    dialog.wait_for()
    # What the frontend's Cancel (red X) posts.
    comfy_page.evaluate(
        "async (id) => { const { api } = await import('/scripts/api.js'); await api.interrupt(id); }", prompt_id
    )
    dialog.wait_for(state="detached")
    assert wait_history(comfy_page, prompt_id)["status"]["status_str"] == "error"
