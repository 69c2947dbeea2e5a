"""The foundation in a real browser: headless Chromium on the harness (real routes, real
web/ modules, a stand-in for ComfyUI's app/api)."""

from __future__ import annotations

from typing import Any

import pytest

from dev.harness.host import HarnessHost

pytestmark = pytest.mark.browser

DIALOG = "section.hitl-card[data-kind='integer-doubler']"


def ask_first(host: HarnessHost, value: int = 21, **extra: Any) -> Any:
    return host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": 0, **extra})


def test_doubler_round_trip_needs_no_click(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = host.submit("HitlIntegerDoubler", {"value": 21, "ask_first": False, "timeout_seconds": 10})
    run.wait(10)
    assert run.status == "success", run.error
    assert run.outputs[0]["result"] == (42,)
    assert page.locator("section.hitl-card").count() == 0


def test_ask_first_dialog_sends_the_doubled_value(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask_first(host, 5)
    dialog = page.locator(DIALOG)
    dialog.wait_for()
    assert "5 × 2 = 10" in dialog.inner_text()
    assert "Integer Doubler" in dialog.locator(".hitl-subtitle").inner_text()
    dialog.locator("[data-action='primary']").click()
    assert run.wait().outputs[0]["result"] == (10,)
    dialog.wait_for(state="detached")


def test_cancel_button_breaks_the_wait(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask_first(host)
    page.locator(f"{DIALOG} [data-action='cancel']").click()
    assert run.wait().status == "interrupted"
    page.locator(DIALOG).wait_for(state="detached")
    assert host.registry.waiting_count() == 0


def test_escape_cancels(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask_first(host)
    page.locator(DIALOG).wait_for()
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_reload_restores_the_pending_dialog(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask_first(host, 8)
    page.locator(DIALOG).wait_for()
    page.reload()
    page.wait_for_function("window.__harnessReady === true")
    page.locator(DIALOG).wait_for()
    assert "8 × 2 = 16" in page.locator(DIALOG).inner_text()
    page.locator(f"{DIALOG} [data-action='primary']").click()
    assert run.wait().outputs[0]["result"] == (16,)


def test_dialog_opened_before_the_tab_loaded_is_shown(host: HarnessHost, open_page: Any) -> None:
    run = ask_first(host, 9)
    host.wait_waiting(run)
    page = open_page()
    page.locator(DIALOG).wait_for()
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"] == (18,)


def test_second_tab_closes_when_first_answers(host: HarnessHost, open_page: Any) -> None:
    first, second = open_page(), open_page()
    run = ask_first(host, 4)
    first.locator(DIALOG).wait_for()
    second.locator(DIALOG).wait_for()
    first.locator(f"{DIALOG} [data-action='primary']").click()
    assert run.wait().outputs[0]["result"] == (8,)
    second.locator(DIALOG).wait_for(state="detached")
    second.get_by_text("Answered elsewhere").wait_for()


def test_interrupt_closes_the_dialog(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask_first(host)
    page.locator(DIALOG).wait_for()
    host.interrupt.raise_flag()
    assert run.wait().status == "interrupted"
    page.locator(DIALOG).wait_for(state="detached")


def test_minimise_keeps_the_run_waiting_and_restores(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask_first(host, 2)
    page.locator(f"{DIALOG} [data-action='minimise']").click()
    assert not page.locator(DIALOG).is_visible()
    assert page.locator(".hitl-layer").get_attribute("data-expanded") == "false"
    page.locator("button.hitl-pill").click()
    page.locator(f"{DIALOG} [data-action='primary']").click()
    assert run.wait().outputs[0]["result"] == (4,)


def test_workflow_text_is_shown_as_text(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    hostile = '<img src=x onerror="window.__pwned=1">'
    run = ask_first(host, 1, extra_pnginfo={"workflow": {"nodes": [{"id": 1, "title": hostile}]}})
    subtitle = page.locator(f"{DIALOG} .hitl-subtitle")
    subtitle.wait_for()
    assert subtitle.inner_text() == hostile
    assert page.locator(f"{DIALOG} img").count() == 0
    assert page.evaluate("window.__pwned") is None
    page.locator(f"{DIALOG} [data-action='cancel']").click()
    run.wait()
