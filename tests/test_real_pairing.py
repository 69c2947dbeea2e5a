"""The pack's own listener on a real ComfyUI (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui): ComfyUI on 127.0.0.1, the listener on 127.0.0.2 (COMFYUI_HITL_REMOTE_LISTEN).
None of ComfyUI's routes is there; the ComfyUI tab's settings pair a phone by its QR code; the
phone answers a real run through the listener; the record names the device."""

from __future__ import annotations

import os
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from remote_helpers import call
from test_browser_inbox import PHONE, ROW, SEND
from test_real_comfyui_browser import ARTIFACTS
from test_real_inbox import ApiClient
from test_real_value_prompt import width_prompt

from dev.harness.comfyui import RealComfyUI

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]


def free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def comfy_and_listener() -> Iterator[tuple[RealComfyUI, str]]:
    real = RealComfyUI.from_environment()
    if real is None:
        pytest.skip("opt-in: set HITL_COMFYUI_DIR to a ComfyUI folder to run the real-ComfyUI tests")
    port = free_port("127.0.0.2")
    saved = os.environ.get("COMFYUI_HITL_REMOTE_LISTEN")
    os.environ["COMFYUI_HITL_REMOTE_LISTEN"] = f"127.0.0.2:{port}"
    try:
        real.start()
    finally:
        if saved is None:
            del os.environ["COMFYUI_HITL_REMOTE_LISTEN"]
        else:
            os.environ["COMFYUI_HITL_REMOTE_LISTEN"] = saved
    try:
        yield real, f"http://127.0.0.2:{port}"
    finally:
        real.stop()


def test_nothing_of_comfyui_is_on_the_listener(comfy_and_listener: tuple[RealComfyUI, str]) -> None:
    comfyui, listener = comfy_and_listener
    assert any(f"paired phones reach the inbox at {listener}/hitl/inbox" in line for line in comfyui.log)
    for method, path in [
        ("POST", "/prompt"), ("GET", "/queue"), ("POST", "/interrupt"), ("GET", "/object_info"),
        ("GET", "/system_stats"), ("GET", "/view?filename=x.png&type=temp"), ("POST", "/upload/image"),
        ("GET", "/userdata?dir=workflows"), ("GET", "/extensions"), ("GET", "/ws"), ("GET", "/"),
        ("GET", "/api/hitl/requests"), ("GET", "/hitl/notify/config"), ("POST", "/hitl/pairing/secrets"),
        ("GET", "/hitl/devices"),
    ]:  # fmt: skip
        reply = call(listener, method, path, {} if method == "POST" else None)
        assert reply.status == 404, (path, reply.status)
    assert call(listener, "GET", "/hitl/requests").status == 401
    # ComfyUI's own port is as it was.
    with urllib.request.urlopen(f"{comfyui.url}/system_stats", timeout=30) as response:
        assert response.status == 200


def test_a_phone_paired_from_the_comfyui_tab_answers_a_real_run(
    comfy_and_listener: tuple[RealComfyUI, str], browser: Any
) -> None:
    comfyui, listener = comfy_and_listener
    desk = browser.new_context(viewport={"width": 1400, "height": 900})
    phone = browser.new_context(**PHONE)
    api = ApiClient(comfyui)
    try:
        tab = desk.new_page()
        tab.goto(comfyui.url)
        tab.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
        tab.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        tab.evaluate("app.extensionManager.command.execute('Comfy.ShowSettingsDialog')")
        tab.get_by_text("Human in the loop", exact=True).click()
        section = tab.get_by_text("Phones: pair and answer away from the computer", exact=True)
        section.wait_for()
        pair_row = tab.locator("[data-hitl-setting='pair']")
        pair_row.scroll_into_view_if_needed()
        pair_row.locator("input").fill("My phone")
        pair_row.get_by_role("button", name="Pair a phone").click()
        pair_row.locator("svg[role='img']").wait_for()
        link = pair_row.locator("[data-role='pairing-url']").inner_text()
        assert link.startswith(f"{listener}/hitl/inbox#pair=")
        pair_row.locator("[data-role='countdown']").scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        tab.screenshot(path=str(ARTIFACTS / "real-pairing-comfyui-tab.png"))
        # The phone opens the link (what scanning the code does) and sees the list.
        page = phone.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(link)
        page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")
        assert page.evaluate("() => window.hitlInbox.api.constructor.name") == "ListenerApi"
        tab.locator("[data-hitl-setting='devices'] li[data-device-id]").filter(has_text="My phone").wait_for()
        # A run queued through ComfyUI's API waits; the phone answers it through the listener.
        prompt_id = api.queue(width_prompt(title="Image width", timeout_seconds=300))
        row = page.locator(ROW).first
        row.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "real-pairing-phone-list.png"))
        row.tap()
        page.locator("section.hitl-card input[role='spinbutton']").fill("88")
        page.screenshot(path=str(ARTIFACTS / "real-pairing-phone-dialog.png"))
        page.locator(SEND).tap()
        history = api.history(prompt_id)
        assert history["status"]["status_str"] == "success"
        [record] = history["outputs"]["1"]["hitl_audit"]
        assert record["answer"] == 88 and record["by"]["surface"] == "inbox"
        assert record["by"]["device"] == "My phone"
        row.wait_for(state="detached")
        # Unpaired from the tab: the phone goes back to the pairing screen.
        item = tab.locator("[data-hitl-setting='devices'] li[data-device-id]").filter(has_text="My phone")
        item.get_by_role("button", name="Unpair").click()
        page.locator("[data-role='pairing']").wait_for()
        page.screenshot(path=str(ARTIFACTS / "real-pairing-phone-unpaired.png"))
        assert not errors, errors
    finally:
        api.close()
        desk.close()
        phone.close()
