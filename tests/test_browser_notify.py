"""Browser notifications in the harness (headless Chromium): one sound per request with two
tabs open (plays counted with a stubbed AudioContext), the title badge counting up and back
exactly, a system notification when the page is hidden (stubbed Notification, emulated
visibility) that closes when answered elsewhere, permission asked only after a click, the
settings honoured, and the tab's claims (surface, client id) reaching the audit record. The
inbox page does the same with the same notifier: one sound and one notification per request
across ComfyUI tabs and inbox tabs together, its title badge, its own settings panel (kept in
localStorage), permission only from a click there."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dev.harness.host import HarnessServer, NodeCall
from dev.harness.pack import ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"

#: Runs before the page's scripts: a counting AudioContext, a Notification that records what
#: it shows, visibility the test controls, and the settings the test starts with.
STUBS = """
(() => {
  const params = JSON.parse(sessionStorage.getItem("stub-params") || "null") || window.__stubParams || {};
  if (params.settings) localStorage.setItem("harness-settings", JSON.stringify(params.settings));
  for (const [id, value] of Object.entries(params.inboxSettings || {})) localStorage.setItem("comfyui-hitl.inbox:" + id, JSON.stringify(value));
  window.__plays = [];
  window.__decisions = [];
  window.addEventListener("comfyui-hitl:announce", (e) => window.__decisions.push(e.detail));
  class Param { constructor() { this.value = 0; } setValueAtTime() {} exponentialRampToValueAtTime() {} linearRampToValueAtTime() {} }
  class Node { connect(target) { if (target === this.context.destination) window.__plays.push({ volume: this.gain.value }); return target; } }
  class Gain extends Node { constructor(context) { super(); this.context = context; this.gain = new Param(); } }
  class Oscillator { constructor() { this.frequency = new Param(); } connect(t) { return t; } start() {} stop() {} }
  window.AudioContext = class { constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
    createGain() { return new Gain(this); } createOscillator() { return new Oscillator(); } resume() { return Promise.resolve(); } };
  window.__notes = [];
  window.__permissionAsked = 0;
  class FakeNotification extends EventTarget {
    static permission = params.permission || "granted";
    static async requestPermission() { window.__permissionAsked++; FakeNotification.permission = params.answer || "granted"; return FakeNotification.permission; }
    constructor(title, options) { super(); this.title = title; this.options = options; this.closed = false; window.__notes.push(this); }
    close() { if (!this.closed) { this.closed = true; this.dispatchEvent(new Event("close")); } }
  }
  window.Notification = FakeNotification;
  window.__focusCalls = 0;
  window.focus = () => { window.__focusCalls++; };
  let visible = params.visible !== false;
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (visible ? "visible" : "hidden") });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => !visible });
  window.__setVisible = (v) => { visible = v; document.dispatchEvent(new Event("visibilitychange")); };
})();
"""

SOUND = "Hitl.Notifications.Sound"
VOLUME = "Hitl.Notifications.Volume"
BADGE = "Hitl.Notifications.TitleBadge"
SYSTEM = "Hitl.Notifications.System"


@pytest.fixture
def tabs(browser: Any, served: HarnessServer) -> Iterator[Callable[..., list[Any]]]:
    """Open pages of the harness in one browser context (so they share a BroadcastChannel),
    each with the stubs and its own parameters; fails the test on page errors."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_tabs(*params: dict[str, Any], viewport: dict[str, int] | None = None) -> list[Any]:
        context = browser.new_context(viewport=viewport or {"width": 1100, "height": 760})
        contexts.append(context)
        pages = []
        for index, tab_params in enumerate(params):
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.add_init_script(f"window.__stubParams = {json.dumps(tab_params)};" + STUBS)
            page.goto(served.url)
            page.wait_for_function("window.__harnessReady === true")
            page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
            page.evaluate(f"window.__tab = {index}")
            pages.append(page)
        return pages

    yield open_tabs
    for context in contexts:
        context.close()
    assert not errors, f"page errors: {errors}"


def queue(served: HarnessServer, page: Any, *calls: dict[str, Any]) -> list[dict[str, Any]]:
    """Queue one prompt of ``calls`` (parallel nodes) from the page; the views once all wait."""
    host = served.host
    after = host.event_count()
    prompt_id = page.evaluate("(body) => window.queueRun(body)", {"calls": list(calls)})
    seen: list[dict[str, Any]] = []

    def match(view: dict[str, Any]) -> bool:
        if view.get("prompt_id") == prompt_id and view.get("state") == "waiting":
            seen.append(view)
        return len(seen) >= len(calls)

    host.wait_for(match, after=after)
    return seen


def doubler_call(node_id: str = "1", value: int = 21) -> dict[str, Any]:
    return {
        "node_id": node_id,
        "node_type": "HitlIntegerDoubler",
        "inputs": {"value": value, "ask_first": True, "timeout_seconds": 60},
    }


def decided(pages: list[Any], count: int) -> None:
    """Wait until every tab has decided, for ``count`` requests, whether it announces them."""
    for page in pages:
        # A function, not an expression: the inbox's Content-Security-Policy forbids eval.
        page.wait_for_function(f"() => window.__decisions.length >= {count}")


def plays(pages: list[Any]) -> list[dict[str, Any]]:
    return [play for page in pages for play in page.evaluate("window.__plays")]


def notes(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        "window.__notes.map(n => ({title: n.title, tag: n.options.tag, body: n.options.body, closed: n.closed}))"
    )


# ------------------------------------------------------------------- the sound
def test_one_sound_per_request_with_two_tabs_open(tabs: Callable[..., list[Any]], served: HarnessServer) -> None:
    first, second = pages = tabs({}, {})
    views = queue(served, first, doubler_call("1"), doubler_call("2"))  # two requests at once
    decided(pages, 2)
    for view in views:
        served.host.registry.answer(view["id"], 42)
    views += queue(served, second, doubler_call("3"))  # the next prompt, queued from the other tab
    decided(pages, 3)
    assert len(plays(pages)) == 3, plays(pages)
    # Exactly one tab announced each request; the other decided not to.
    decisions = [d for page in pages for d in page.evaluate("window.__decisions")]
    assert sorted(d["id"] for d in decisions if d["announced"]) == sorted(v["id"] for v in views)
    assert len(decisions) == 6
    served.host.registry.cancel(views[-1]["id"])


def test_a_reloaded_tab_does_not_replay_what_already_waits(
    tabs: Callable[..., list[Any]], served: HarnessServer
) -> None:
    [page] = tabs({})
    [view] = queue(served, page, doubler_call())
    decided([page], 1)
    page.reload()
    page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
    page.wait_for_selector(f"[data-request-id='{view['id']}'].hitl-card")
    assert page.evaluate("window.__plays.length") == 0  # found on load: not news
    served.host.registry.cancel(view["id"])


# ------------------------------------------------------------------- the title
def test_title_badge_counts_up_and_back_exactly(tabs: Callable[..., list[Any]], served: HarnessServer) -> None:
    [page] = tabs({})
    original = page.title()
    assert original == "comfyui-hitl harness"
    [one] = queue(served, page, doubler_call("1"))
    page.wait_for_function(f"document.title === '(1) ⏸ {original}'")
    served.host.registry.cancel(one["id"])
    page.wait_for_function(f"document.title === {json.dumps(original)}")
    # Two requests at once (parallel branches of one prompt).
    first, second = queue(served, page, doubler_call("1"), doubler_call("2"))
    page.wait_for_function(f"document.title === '(2) ⏸ {original}'")
    # The host changes its title meanwhile (ComfyUI shows progress there): the badge follows.
    page.evaluate("document.title = '[45%] ComfyUI'")
    page.wait_for_function("document.title === '(2) ⏸ [45%] ComfyUI'")
    served.host.registry.answer(first["id"], 42)
    page.wait_for_function("document.title === '(1) ⏸ [45%] ComfyUI'")
    page.locator(f".hitl-card[data-request-id='{second['id']}'] [data-action='primary']").click()
    page.wait_for_function("document.title === '[45%] ComfyUI'")
    assert page.title() == "[45%] ComfyUI"  # exactly the host's latest title, nothing of ours


def test_title_badge_off_leaves_the_title_alone(tabs: Callable[..., list[Any]], served: HarnessServer) -> None:
    [page] = tabs({"settings": {BADGE: False}})
    [view] = queue(served, page, doubler_call())
    decided([page], 1)
    assert page.title() == "comfyui-hitl harness"
    page.evaluate(f"app.extensionManager.setting.set('{BADGE}', true)")  # on again: at once
    page.wait_for_function("document.title === '(1) ⏸ comfyui-hitl harness'")
    served.host.registry.cancel(view["id"])
    page.wait_for_function("document.title === 'comfyui-hitl harness'")


# ------------------------------------------------------- system notifications
def test_system_notification_when_hidden_closed_when_answered_elsewhere(
    tabs: Callable[..., list[Any]], served: HarnessServer
) -> None:
    [page] = tabs({"settings": {SYSTEM: True}, "visible": False})
    [view] = queue(served, page, doubler_call("12", 21))
    decided([page], 1)
    [note] = notes(page)
    assert note == {
        "title": "Integer Doubler (browser) #12: 21 × 2",  # the same words as the push (test_describe.py)
        "tag": f"comfyui-hitl-{view['id']}",
        "body": "A ComfyUI run is waiting for your answer.",
        "closed": False,
    }
    served.host.registry.answer(view["id"], 42)  # answered elsewhere: an API client
    page.wait_for_function("window.__notes[0].closed === true")
    assert len(plays([page])) == 1  # the sound too (the notification is silent then)


def test_clicking_the_notification_brings_back_the_dialog(
    tabs: Callable[..., list[Any]], served: HarnessServer
) -> None:
    [page] = tabs({"settings": {SYSTEM: True}, "visible": False})
    [view] = queue(served, page, doubler_call())
    decided([page], 1)
    card = page.locator(f".hitl-card[data-request-id='{view['id']}']")
    card.locator("[data-action='minimise']").click()
    assert card.is_hidden()
    page.evaluate("window.__setVisible(true); window.__notes[0].dispatchEvent(new Event('click'))")
    card.wait_for(state="visible")
    assert page.evaluate("window.__focusCalls") == 1 and page.evaluate("window.__notes[0].closed")
    assert page.evaluate(f"document.activeElement.closest('.hitl-card')?.dataset.requestId === '{view['id']}'")
    served.host.registry.cancel(view["id"])


def test_one_notification_for_two_hidden_tabs_none_when_one_is_visible(
    tabs: Callable[..., list[Any]], served: HarnessServer
) -> None:
    hidden = {"settings": {SYSTEM: True}, "visible": False}
    pages = tabs(hidden, hidden)
    [view] = queue(served, pages[0], doubler_call())
    decided(pages, 1)
    assert sum(len(notes(page)) for page in pages) == 1 and len(plays(pages)) == 1
    served.host.registry.cancel(view["id"])
    # One of two tabs visible: that one announces (sound), and nobody needs a notification.
    visible_pages = tabs({"settings": {SYSTEM: True}, "visible": True}, hidden)
    [view] = queue(served, visible_pages[1], doubler_call())
    decided(visible_pages, 1)
    assert [len(page.evaluate("window.__plays")) for page in visible_pages] == [1, 0]
    assert sum(len(notes(page)) for page in visible_pages) == 0
    served.host.registry.cancel(view["id"])


# --------------------------------------------------------------- permission
def test_permission_is_asked_only_after_a_click(tabs: Callable[..., list[Any]], served: HarnessServer) -> None:
    # System notifications already on, permission not decided: loading never asks.
    [page] = tabs({"settings": {SYSTEM: True}, "permission": "default"})
    assert page.evaluate("window.__permissionAsked") == 0
    [other] = tabs({"permission": "default", "answer": "granted"})
    [view] = queue(served, other, doubler_call())
    decided([page, other], 1)
    assert other.evaluate("window.__permissionAsked") == 0 and page.evaluate("window.__permissionAsked") == 0
    # The dialog offers a bell while notifications are undecided; clicking it asks, once.
    bell = other.locator(f".hitl-card[data-request-id='{view['id']}'] [data-action='notify-me']")
    bell.focus()
    other.keyboard.press("Enter")  # presses the bell, and does not send the dialog
    other.wait_for_function("window.__permissionAsked === 1")
    other.wait_for_function(f"app.extensionManager.setting.get('{SYSTEM}') === true")
    bell.wait_for(state="detached")
    assert other.locator(".hitl-notice").filter(has_text="System notifications are on").count() == 1
    assert served.host.registry.get(view["id"]).state == "waiting"
    served.host.registry.cancel(view["id"])


def test_turning_the_setting_on_asks_and_a_refusal_is_explained(
    tabs: Callable[..., list[Any]], served: HarnessServer
) -> None:
    [page] = tabs({"permission": "default", "answer": "denied"})
    assert page.evaluate("window.__permissionAsked") == 0
    page.evaluate(f"app.extensionManager.setting.set('{SYSTEM}', true)")  # what the settings toggle does
    page.wait_for_function("window.__permissionAsked === 1")
    page.locator(".hitl-notice").filter(has_text="blocks notifications").wait_for()


# --------------------------------------------------------------- settings
def test_settings_are_honoured(tabs: Callable[..., list[Any]], served: HarnessServer) -> None:
    [quiet] = tabs({"settings": {SOUND: False, SYSTEM: False}, "visible": False})
    [view] = queue(served, quiet, doubler_call())
    decided([quiet], 1)
    assert plays([quiet]) == [] and notes(quiet) == []  # sound off; notifications off (the default)
    served.host.registry.cancel(view["id"])
    [soft] = tabs({"settings": {VOLUME: 25}})
    [view] = queue(served, soft, doubler_call())
    decided([soft], 1)
    [play] = plays([soft])
    assert play["volume"] == pytest.approx(0.25 * 0.4)
    served.host.registry.cancel(view["id"])


def test_defaults_are_sound_and_badge_on_system_notifications_off(tabs: Callable[..., list[Any]]) -> None:
    [page] = tabs({})
    values = page.evaluate(
        f"[{', '.join(repr(i) for i in (SOUND, VOLUME, BADGE, SYSTEM))}].map(id => app.extensionManager.setting.get(id))"
    )
    assert values == [True, 60, True, False]
    categories = page.evaluate("[...app.extensionManager.setting.params.values()].map(p => p.category)")
    assert all(category[0] == "Human in the loop" for category in categories)
    assert {category[1] for category in categories} == {
        "Notifications in the browser",
        "Pushes to a phone (server)",
        "Record of answers: audit log (server)",
        "Phones: pair and answer away from the computer",  # web/pairing.js
    }


# ------------------------------------------------------------------ provenance
def test_the_tab_claims_its_surface_and_client_id(tabs: Callable[..., list[Any]], served: HarnessServer) -> None:
    [page] = tabs({})
    [view] = queue(served, page, doubler_call())
    page.locator(f".hitl-card[data-request-id='{view['id']}'] [data-action='primary']").click()
    page.wait_for_selector(f".hitl-card[data-request-id='{view['id']}']", state="detached")
    entry = served.host.audit.find(view["id"])
    assert entry is not None
    record = entry.as_json()
    assert record["by"]["surface"] == "comfyui-tab" and record["by"]["source"] == "client"
    assert record["by"]["client_id"] == page.evaluate("async () => (await import('/scripts/api.js')).api.clientId")
    assert record["by"]["remote"] == "127.0.0.1" and "HeadlessChrome" in record["by"]["user_agent"]


# ----------------------------------------------------- server settings rows
def test_server_settings_rows_edit_the_config_and_never_show_secrets(
    tabs: Callable[..., list[Any]], served: HarnessServer
) -> None:
    [page] = tabs({})
    page.click("#show-settings")  # the demo page draws the registered settings, a row each
    field = page.locator("[data-hitl-setting='ntfy_url'] [data-role='control']")
    field.fill("https://ntfy.sh/a-very-secret-topic-name")
    field.press("Enter")
    page.locator("[data-hitl-setting='ntfy_url'] [data-role='note']").filter(has_text="Saved.").wait_for()
    assert served.host.settings.current().ntfy_url == "https://ntfy.sh/a-very-secret-topic-name"
    assert field.input_value() == "" and field.get_attribute("placeholder") == "set: https://ntfy.sh/…name"
    bad = page.locator("[data-hitl-setting='webhook_url'] [data-role='control']")
    bad.fill("ftp://nope")
    bad.press("Enter")
    page.locator("[data-hitl-setting='webhook_url'] [data-role='note']").filter(
        has_text="http:// or https://"
    ).wait_for()
    assert served.host.settings.current().webhook_url is None
    assert "a-very-secret" not in page.content()
    Path(ARTIFACTS).mkdir(exist_ok=True)
    page.locator("#settings-panel").screenshot(path=str(ARTIFACTS / "harness-settings.png"))


# ------------------------------------------------------------------- the inbox
INBOX_TITLE = "Inbox · human in the loop"


def open_inbox(context: Any, served: HarnessServer, params: dict[str, Any], errors: list[str]) -> Any:
    """An inbox tab in ``context`` (beside harness tabs: one BroadcastChannel), with the stubs."""
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(f"window.__stubParams = {json.dumps(params)};" + STUBS)
    page.goto(f"{served.url}/hitl/inbox")
    page.wait_for_function("() => document.documentElement.dataset.notifications === 'ready'")
    return page


def test_one_sound_and_one_notification_across_comfyui_and_inbox_tabs(browser: Any, served: HarnessServer) -> None:
    host = served.host
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    try:
        hidden = {"settings": {SYSTEM: True}, "inboxSettings": {SYSTEM: True}, "visible": False}
        comfy = context.new_page()
        comfy.on("pageerror", lambda error: errors.append(str(error)))
        comfy.add_init_script(f"window.__stubParams = {json.dumps(hidden)};" + STUBS)
        comfy.goto(served.url)
        comfy.wait_for_function("() => document.documentElement.dataset.comfyuiHitl === 'ready'")
        inboxes = [open_inbox(context, served, hidden, errors) for _ in range(2)]
        pages = [comfy, *inboxes]
        calls = [NodeCall(str(n), "HitlIntegerDoubler", {"value": n, "ask_first": True}) for n in (1, 2)]
        run = host.submit_many(calls)  # two requests at once (parallel branches)
        views = host.wait_waiting(run, count=2)
        decided(pages, 2)
        # Three tabs, two requests: two sounds and two notifications in all, whoever made them.
        assert len(plays(pages)) == 2 and sum(len(notes(page)) for page in pages) == 2
        announced = [d["id"] for page in pages for d in page.evaluate("window.__decisions") if d["announced"]]
        assert sorted(announced) == sorted(view["id"] for view in views)
        # The inbox's title counts too, in the same words as a ComfyUI tab's.
        for page in inboxes:
            page.wait_for_function(f"() => document.title === '(2) ⏸ {INBOX_TITLE}'")
        # Answered elsewhere (an API client): every notification closes, the titles come back.
        for view in views:
            host.registry.answer(view["id"], 2 * int(view["node_id"]))
        for page in pages:
            page.wait_for_function("() => window.__notes.every((note) => note.closed)")
        for page in inboxes:
            page.wait_for_function(f"() => document.title === '{INBOX_TITLE}'")
        assert comfy.title() == "comfyui-hitl harness"
        assert run.wait().status == "success"
    finally:
        context.close()
    assert not errors, errors


def test_the_inbox_settings_panel_is_honoured_kept_and_asks_permission_only_on_a_click(
    browser: Any, served: HarnessServer
) -> None:
    host = served.host
    errors: list[str] = []
    context = browser.new_context(**PHONE)
    try:
        page = open_inbox(context, served, {"permission": "default", "answer": "granted", "visible": False}, errors)
        assert page.evaluate("window.__permissionAsked") == 0  # never on load
        panel = page.locator("[data-role='notification-settings']")
        assert panel.is_hidden()
        page.locator("[data-action='notification-settings']").tap()
        panel.wait_for()
        checkbox = lambda setting: panel.locator(f"input[data-setting='{setting}']")  # noqa: E731
        # The defaults: sound and badge on, system notifications off.
        assert [checkbox(s).is_checked() for s in (SOUND, BADGE, SYSTEM)] == [True, True, False]
        # Sound off and badge off: a request makes no sound and leaves the title alone.
        checkbox(SOUND).tap()
        checkbox(BADGE).tap()
        run = host.submit("HitlIntegerDoubler", {"value": 5, "ask_first": True})
        [view] = host.wait_waiting(run)
        decided([page], 1)
        assert plays([page]) == [] and notes(page) == [] and page.title() == INBOX_TITLE
        # System notifications: ticking the box is the click that asks, once.
        checkbox(SYSTEM).tap()
        page.wait_for_function("() => window.__permissionAsked === 1")
        page.wait_for_function(f"() => document.querySelector(\"input[data-setting='{SYSTEM}']\").checked")
        stored = page.evaluate(
            f"[{SOUND!r}, {BADGE!r}, {SYSTEM!r}].map((id) => localStorage.getItem('comfyui-hitl.inbox:' + id))"
        )
        assert stored == ["false", "false", "true"]
        host.registry.cancel(view["id"])
        run.wait()
        # Kept across a reload (the browser keeps its permission too); sound back on at a
        # lower volume is heard at that volume.
        page.evaluate("sessionStorage.setItem('stub-params', JSON.stringify({permission: 'granted', visible: false}))")
        page.reload()
        page.wait_for_function("() => document.documentElement.dataset.notifications === 'ready'")
        page.locator("[data-action='notification-settings']").tap()
        assert [checkbox(s).is_checked() for s in (SOUND, BADGE, SYSTEM)] == [False, False, True]
        checkbox(SOUND).tap()
        panel.locator(f"input[data-setting='{VOLUME}']").evaluate(
            "(input) => { input.value = '25'; input.dispatchEvent(new Event('change')); }"
        )
        run = host.submit("HitlIntegerDoubler", {"value": 6, "ask_first": True}, node_id="7")
        [view] = host.wait_waiting(run)
        decided([page], 1)
        [play] = plays([page])
        assert play["volume"] == pytest.approx(0.25 * 0.4)
        # Hidden, so a notification; a tap on it opens the request's dialog in the inbox.
        [note] = notes(page)
        assert note["title"] == "Integer Doubler (browser) #7: 6 × 2"
        page.evaluate("window.__setVisible(true); window.__notes[0].dispatchEvent(new Event('click'))")
        dialog = page.locator(f"section.hitl-card[data-request-id='{view['id']}']")
        dialog.wait_for()
        assert page.evaluate("window.__notes[0].closed") and page.evaluate("window.__focusCalls") == 1
        dialog.locator("[data-action='primary']").tap()
        assert run.wait().status == "success"
        assert host.audit.find(view["id"]).by["surface"] == "inbox"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "inbox-notification-settings.png"))
    finally:
        context.close()
    assert not errors, errors


PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
