"""Notifications in a real ComfyUI frontend (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui; HITL_COMFYUI_FRONTEND_ROOT picks the frontend): the settings in
ComfyUI's own settings dialog, the title badge beside the frontend's own title, a system
notification (stubbed: headless Chromium shows none) and the tab's claims in the record; a
ComfyUI tab and the inbox in one browser announce a request once between them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_browser_notify import STUBS
from test_real_comfyui import doubler
from test_real_comfyui_browser import ARTIFACTS, queue_from_page, wait_history
from test_real_image_picker import picker_prompt

from dev.harness.comfyui import RealComfyUI

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]

SECTIONS = ["Notifications in the browser", "Pushes to a phone (server)", "Record of answers: audit log (server)"]


@pytest.fixture
def stubbed_page(comfyui: RealComfyUI, browser: Any) -> Iterator[Any]:
    """Open the real frontend with a counting AudioContext and a recording Notification."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(params: dict[str, Any] | None = None, viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(viewport=viewport or {"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.add_init_script(f"window.__stubParams = {json.dumps(params or {})};" + STUBS)
        page.goto(comfyui.url)
        page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not [e for e in errors if "hitl" in e.lower()], errors


def configure(page: Any, changes: dict[str, Any]) -> Any:
    return page.evaluate(
        """async (changes) => (await fetch('/api/hitl/notify/config', {method: 'POST',
             headers: {'Content-Type': 'application/json'}, body: JSON.stringify(changes)})).json()""",
        changes,
    )


def test_settings_appear_in_comfyuis_settings_dialog(stubbed_page: Any) -> None:
    page = stubbed_page(viewport={"width": 1400, "height": 1400})
    version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    secret = "https://ntfy.sh/comfy-hitl-k2x9f7q1"
    configure(page, {"public_url": "http://192.168.1.20:8188", "ntfy_url": secret})
    try:
        check_settings_dialog(page, version, secret)
    finally:
        configure(page, {"public_url": None, "ntfy_url": None})


def check_settings_dialog(page: Any, version: str, secret: str) -> None:
    page.evaluate("app.extensionManager.command.execute('Comfy.ShowSettingsDialog')")
    page.get_by_text("Human in the loop", exact=True).click()
    for section in SECTIONS:
        page.get_by_text(section, exact=True).wait_for()
    for name in (
        "Play a sound when a run waits for you",
        "Sound volume",
        "Show how many requests wait in the tab's title",
        "System notification when a run waits and this tab is hidden",
        "ntfy topic URL",
        "Webhook URL",
        "Status, and a test push to every target",
    ):
        assert page.get_by_text(name, exact=True).count() == 1, name
    # The server rows are our own forms, filled from the config route.
    page.locator("[data-hitl-setting='webhook_format'] select").wait_for()
    assert page.locator("[data-hitl-setting='webhook_format'] select").input_value() == "json"
    ntfy = page.locator("[data-hitl-setting='ntfy_url'] input")
    assert ntfy.input_value() == "" and ntfy.get_attribute("placeholder") == "set: https://ntfy.sh/…f7q1"
    assert secret not in page.content()  # the secret never reaches the page
    # The sections in the same order on both frontends (they sort them differently).
    tops = [page.get_by_text(section, exact=True).bounding_box()["y"] for section in SECTIONS]
    assert tops == sorted(tops), tops
    page.get_by_text("Notifications in the browser", exact=True).scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"notify-settings-frontend-{version}.png"))
    # Turning system notifications on in the panel asks the browser (the click is the gesture).
    assert page.evaluate("window.__permissionAsked") == 0
    page.locator("[id='Hitl.Notifications.System']").first.click()
    page.wait_for_function("app.extensionManager.setting.get('Hitl.Notifications.System') === true")
    assert page.evaluate("window.__permissionAsked") == 0  # the stub's permission is already "granted"
    page.evaluate("app.extensionManager.setting.set('Hitl.Notifications.System', false)")


@pytest.fixture(params=[False, True], ids=["vue-nodes-off", "vue-nodes-on"])
def vue_nodes(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def set_vue_nodes(page: Any, enabled: bool) -> None:
    """Nodes 2.0 (a visible toggle in 1.58.1, hidden in 1.27.10) on or off for this test."""
    page.evaluate("(on) => app.extensionManager.setting.set('Comfy.VueNodes.Enabled', on)", enabled)


def test_title_badge_and_the_tabs_claims_on_the_real_frontend(stubbed_page: Any, vue_nodes: bool) -> None:
    page = stubbed_page()
    set_vue_nodes(page, vue_nodes)
    try:
        check_title_badge_and_claims(page)
    finally:
        set_vue_nodes(page, False)


def check_title_badge_and_claims(page: Any) -> None:
    prompt_id = queue_from_page(page, doubler(21, ask_first=True))
    card = page.locator("section.hitl-card[data-kind='integer-doubler']")
    card.wait_for()
    page.wait_for_function("document.title.startsWith('(1) ⏸ ')")
    page.wait_for_function("window.__decisions.length === 1 && window.__plays.length === 1")
    card.locator("[data-action='primary']").click()
    card.wait_for(state="detached")
    history = wait_history(page, prompt_id)
    page.wait_for_function("!document.title.includes('⏸')")
    assert page.title().endswith("ComfyUI")
    [record] = history["outputs"]["1"]["hitl_audit"]
    assert record["by"]["surface"] == "comfyui-tab"
    assert record["by"]["client_id"] == page.evaluate("async () => (await import('/scripts/api.js')).api.clientId")


def test_a_hidden_tab_shows_one_notification_that_closes_when_answered_elsewhere(
    stubbed_page: Any, comfyui: RealComfyUI, vue_nodes: bool
) -> None:
    page = stubbed_page({"settings": {}, "visible": False})
    version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    set_vue_nodes(page, vue_nodes)
    page.evaluate("app.extensionManager.setting.set('Hitl.Notifications.System', true)")
    try:
        prompt_id = queue_from_page(page, picker_prompt(picker_id="22"))
        page.wait_for_function("window.__notes.length === 1")
        note = page.evaluate("({title: __notes[0].title, body: __notes[0].options.body})")
        assert note == {
            "title": "Image Picker (browser) #22: Pick colours (pick any of 4)",
            "body": "A ComfyUI run is waiting for your answer.",
        }
        # Render what the stubbed Notification was given, as an OS would, for the README.
        page.evaluate(
            """(note) => {
              const box = document.createElement('div');
              box.style.cssText = 'position:fixed;right:16px;bottom:72px;z-index:100000;width:360px;padding:14px 16px;border-radius:12px;background:#2b2b2f;color:#eee;font:13px system-ui;box-shadow:0 8px 30px rgba(0,0,0,.6);border:1px solid #444';
              const head = document.createElement('div'); head.style.cssText = 'opacity:.6;font-size:11px;margin-bottom:6px'; head.textContent = 'Chromium · ' + location.host;
              const title = document.createElement('div'); title.style.cssText = 'font-weight:600;font-size:14px;margin-bottom:2px'; title.textContent = note.title;
              const body = document.createElement('div'); body.textContent = note.body;
              box.append(head, title, body); box.id = 'os-notification'; document.body.append(box);
            }""",
            note,
        )
        ARTIFACTS.mkdir(exist_ok=True)
        nodes = "vue-nodes" if vue_nodes else "classic-nodes"
        page.screenshot(path=str(ARTIFACTS / f"notify-notification-frontend-{version}-{nodes}.png"))
        views = page.evaluate("async () => (await (await fetch('/api/hitl/requests')).json()).requests")
        [view] = [v for v in views if v["prompt_id"] == prompt_id]
        status = page.evaluate(
            """async (id) => (await fetch(`/api/hitl/requests/${id}/answer`, {method: 'POST',
                 headers: {'Content-Type': 'application/json'}, body: JSON.stringify({value: [0], surface: 'cli'})})).status""",
            view["id"],
        )
        assert status == 200
        page.wait_for_function("window.__notes[0].closed === true")
        wait_history(page, prompt_id)
    finally:
        page.evaluate("app.extensionManager.setting.set('Hitl.Notifications.System', false)")
        set_vue_nodes(page, False)


def test_a_comfyui_tab_and_the_inbox_announce_a_request_once_between_them(comfyui: RealComfyUI, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    try:
        pages = []
        for url in (comfyui.url, f"{comfyui.url}/hitl/inbox"):
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.add_init_script("window.__stubParams = {};" + STUBS)
            page.goto(url)
            pages.append(page)
        tab, inbox = pages
        tab.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
        tab.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        inbox.wait_for_function("() => document.documentElement.dataset.notifications === 'ready'")
        prompt_id = queue_from_page(tab, doubler(8, ask_first=True))
        for page in pages:  # functions, not expressions: the inbox's CSP forbids eval
            page.wait_for_function("() => window.__decisions.length === 1")
        assert sum(len(page.evaluate("window.__plays")) for page in pages) == 1
        inbox.wait_for_function("() => document.title.startsWith('(1) ⏸ Inbox')")
        # Answered in the inbox: ComfyUI's history says so, with the id the real server gave its socket.
        row = inbox.locator("ul[data-role='waiting'] li[data-request-id] button")
        row.click()
        inbox.locator("section.hitl-card [data-action='primary']").click()
        history = wait_history(tab, prompt_id)
        [record] = history["outputs"]["1"]["hitl_audit"]
        client_id = inbox.evaluate("() => window.hitlInbox.api.clientId")
        assert (record["by"]["surface"], record["by"]["client_id"]) == ("inbox", client_id) and len(client_id) == 32
        inbox.wait_for_function("() => document.title === 'Inbox · human in the loop'")
        tab.wait_for_function("!document.title.includes('⏸')")
    finally:
        context.close()
    assert not [e for e in errors if "hitl" in e.lower()], errors
