"""The inbox page in headless Chromium, on the harness (real routes, real nodes, the same
web/ dialogs a ComfyUI tab shows): rows live over the websocket, a tap opens the dialog,
answers by touch on a 390×844 phone resume each run, deep links, the recent list, a
ComfyUI tab beside it in step, a lost websocket, the page's size and its touch targets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from test_browser_image_picker import colour_batch, picked_of
from test_browser_mask_painter import client_point, touch

from dev.harness.host import HarnessHost, HarnessServer, NodeCall, Run

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
LANDSCAPE = {**PHONE, "viewport": {"width": 844, "height": 390}}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
ROW = "ul[data-role='waiting'] li[data-request-id]"
SEND = "section.hitl-card [data-action='primary']"


@pytest.fixture
def open_inbox(browser: Any, served: HarnessServer) -> Iterator[Any]:
    """Open the inbox in a fresh context (a phone by default); fails the test on page errors."""
    contexts: list[Any] = []
    errors: list[str] = []

    # Predicates are functions, never strings: the inbox's Content-Security-Policy forbids
    # eval, which Playwright uses to poll a string expression.
    def open_inbox(
        query: str = "", *, device: dict[str, Any] | None = None, prefix: str = "", init_script: str = ""
    ) -> Any:
        context = browser.new_context(**(device or PHONE))
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        # A 404 of a deep link's lookup is logged by the browser itself; anything else is ours.
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
        )
        page.goto(f"{served.url}{prefix}/hitl/inbox{query}")
        page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")
        return page

    yield open_inbox
    for context in contexts:
        context.close()
    assert not errors, f"page errors: {errors}"


def row(page: Any, request_id: str) -> Any:
    return page.locator(f"{ROW}[data-request-id='{request_id}']")


def card(page: Any, request_id: str) -> Any:
    return page.locator(f"section.hitl-card[data-request-id='{request_id}']")


def value_prompt(host: HarnessHost, **inputs: Any) -> Run:
    settings = {"value_type": "INT", "title": "Refiner steps", "message": "How many steps?", "default": "20"}
    return host.submit("HitlValuePrompt", {**settings, **inputs})


def doubler(host: HarnessHost, value: int, *, ask_first: bool = True, timeout: int = 0) -> Run:
    return host.submit("HitlIntegerDoubler", {"value": value, "ask_first": ask_first, "timeout_seconds": timeout})


def waiting_id(host: HarnessHost, run: Run) -> str:
    return str(host.wait_waiting(run)[0]["id"])


def test_lists_requests_opened_before_and_after_it_loaded(host: HarnessHost, open_inbox: Any) -> None:
    first = value_prompt(host, minimum="1", maximum="60", timeout_seconds=300)
    first_id = waiting_id(host, first)
    page = open_inbox()
    listed = row(page, first_id)
    listed.wait_for()
    text = listed.inner_text()
    assert "Value Prompt (ask a person) #1" in text and "Refiner steps (INT 1–60)" in text
    assert "Value prompt" in text and f"prompt {first.prompt_id[:8]}" in text
    assert "waiting 0:0" in text and "left" in text  # how long it waited, and its countdown
    assert page.locator("[data-role='count']").inner_text() == "1"
    assert page.title().startswith("(1) ")
    # Ended elsewhere (an API client): the row goes, without a reload, and "Recent" says how.
    host.registry.cancel(first_id)
    listed.wait_for(state="detached")
    assert first.wait().status == "interrupted"
    recent = page.locator(f"ul[data-role='recent'] li[data-request-id='{first_id}']")
    recent.wait_for()
    assert "cancelled" in recent.inner_text()
    # Opened after the page loaded: a row appears by itself.
    second = doubler(host, 4)
    second_id = waiting_id(host, second)
    row(page, second_id).wait_for()
    assert "4 × 2" in row(page, second_id).inner_text()
    assert page.locator("[data-role='empty']").is_hidden()
    host.registry.cancel(second_id)
    row(page, second_id).wait_for(state="detached")
    page.locator("[data-role='empty']").wait_for()
    assert page.title() == "Inbox · human in the loop"


def test_value_prompt_answered_by_touch_resumes_the_run(host: HarnessHost, open_inbox: Any) -> None:
    page = open_inbox()
    run = value_prompt(host, minimum="1", maximum="60")
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    dialog = card(page, request_id)
    dialog.wait_for()
    field = dialog.locator("input[role='spinbutton']")
    field.fill("500")
    page.locator(SEND).tap()
    # The server's refusal shows in the dialog, which stays open for a fix.
    dialog.locator("[data-role='error']").get_by_text("above the maximum 60").wait_for()
    field.fill("42")
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"][0] == 42
    dialog.wait_for(state="detached")
    row(page, request_id).wait_for(state="detached")
    recent = page.locator(f"ul[data-role='recent'] li[data-request-id='{request_id}']")
    recent.wait_for()
    assert "answered" in recent.inner_text() and "answer 42" in recent.inner_text()
    # The audit record says the inbox answered, from this page (its websocket's client id).
    assert "in the inbox" in recent.inner_text()
    by = host.audit.find(request_id).by
    client_id = page.evaluate("() => window.hitlInbox.api.clientId")
    assert (by["surface"], by["source"], by["client_id"]) == ("inbox", "client", client_id) and len(client_id) == 32


def test_the_inbox_works_from_a_keyboard(host: HarnessHost, open_inbox: Any) -> None:
    """The overlay takes only keys typed inside a dialog: the inbox's own rows still open with
    Enter; in a dialog, keys type and Enter or Ctrl+Enter sends. The page lays the dialog
    out (centred over the list): it has no grip, and a drag on its header moves nothing."""
    page = open_inbox(device=DESKTOP)
    run = host.submit_many(
        [
            NodeCall("1", "HitlValuePrompt", {"value_type": "INT", "title": "Steps", "default": "20"}),
            NodeCall("2", "HitlForm", {"title": "More", "fields": "n: INT = 1\nnote: TEXT multiline = a"}),
        ]
    )
    first, second = host.wait_waiting(run, count=2)
    row(page, first["id"]).locator("button").focus()
    page.keyboard.press("Enter")
    dialog = card(page, first["id"])
    dialog.wait_for()
    page.wait_for_function("(card) => card.contains(document.activeElement)", arg=dialog.element_handle())
    assert dialog.locator(".hitl-grip").is_hidden()
    head = dialog.locator(".hitl-head").bounding_box()
    before = dialog.bounding_box()
    page.mouse.move(head["x"] + head["width"] / 3, head["y"] + 10)
    page.mouse.down()
    page.mouse.move(head["x"] + head["width"] / 3 + 200, head["y"] + 160, steps=4)
    page.mouse.up()
    assert dialog.bounding_box() == before
    assert abs(before["x"] + before["width"] / 2 - 640) <= 1  # centred
    # The click on the header kept the focus in the dialog: its keys are still the dialog's.
    page.wait_for_function("(card) => card.contains(document.activeElement)", arg=dialog.element_handle())
    dialog.locator("input").focus()
    page.keyboard.press("Control+a")
    page.keyboard.type("42")
    page.keyboard.press("Enter")
    dialog.wait_for(state="detached")
    row(page, second["id"]).locator("button").focus()
    page.keyboard.press("Enter")
    form = card(page, second["id"])
    form.wait_for()
    page.wait_for_function("(card) => card.contains(document.activeElement)", arg=form.element_handle())
    page.keyboard.type("7")  # the number was selected: 7 replaces it
    page.keyboard.press("Tab")
    page.keyboard.press("End")
    page.keyboard.press("Enter")  # Enter in multi-line text sends too (Shift+Enter is a new line)
    run.wait()
    assert [out["result"][0] for out in run.outputs] == [42, {"n": 7, "note": "a"}]


def test_picker_answered_by_touch_on_a_phone(host: HarnessHost, open_inbox: Any) -> None:
    page = open_inbox()
    batch = colour_batch(6, 64)
    run = host.submit(
        "HitlImagePicker",
        {"images": batch, "mode": "always ask", "min_picks": 1, "max_picks": 0, "title": "Keep the best",
         "timeout_seconds": 0, "on_timeout": "cancel run"},
    )  # fmt: skip
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    dialog = card(page, request_id)
    tiles = dialog.locator(".hitl-pick-tile")
    tiles.nth(5).wait_for()
    # Two or three images per row on a 390 px phone, whatever the remembered tile size.
    columns = page.evaluate(
        "() => { const t = [...document.querySelectorAll('.hitl-pick-tile')]; return t.filter((x) => x.offsetTop === t[0].offsetTop).length; }"
    )
    assert 2 <= columns <= 3, columns
    page.wait_for_function(
        "() => [...document.querySelectorAll('.hitl-pick-tile img')].every((img) => img.complete && img.naturalWidth > 0)"
    )
    tiles.nth(3).tap()
    tiles.nth(0).tap()
    # The zoom button shows the full image; a swipe moves on; a tap on "Pick" picks.
    tiles.nth(4).locator("[data-action='zoom']").tap()
    zoom = dialog.locator("[data-role='zoom']")
    zoom.wait_for()
    assert "Image 5 of 6" in zoom.inner_text()
    swipe(page, zoom.locator("img"), -150)
    assert "Image 6 of 6" in zoom.inner_text()
    swipe(page, zoom.locator("img"), 150)
    swipe(page, zoom.locator("img"), 150)
    assert "Image 4 of 6" in zoom.inner_text()
    zoom.locator("[data-action='zoom-next']").tap()
    zoom.locator("[data-action='zoom-next']").tap()
    assert "Image 6 of 6" in zoom.inner_text()
    zoom.locator("[data-action='zoom-toggle']").tap()
    assert "picked #3" in zoom.inner_text()
    zoom.locator("[data-action='zoom-close']").tap()
    zoom.wait_for(state="hidden")
    page.locator(SEND).tap()
    assert run.wait().status == "success"
    assert picked_of(run, batch) == [3, 0, 5]
    row(page, request_id).wait_for(state="detached")


def test_mask_painted_by_one_finger_on_a_phone_is_drawn_while_painting(host: HarnessHost, open_inbox: Any) -> None:
    page = open_inbox()
    run = host.submit(
        "HitlMaskPainter",
        {"images": colour_batch(1, 512), "title": "Fix the sky", "mode": "always ask", "timeout_seconds": 0,
         "on_timeout": "cancel run"},
    )  # fmt: skip
    request_id = waiting_id(host, run)
    drafts = host.registry.get(request_id).resources.drafts
    row(page, request_id).tap()
    page.wait_for_selector(f"section.hitl-card[data-request-id='{request_id}'][data-ready='true']")
    cdp = page.context.new_cdp_session(page)
    settled = """() => { const p = document.querySelector("section.hitl-card[data-kind='mask-painter']").hitlMaskPainter;
        return !p.draftInFlight && !p.draftStale; }"""
    for y in (100, 300):  # two strokes, one finger each
        path = [client_point(page, 60 + 20 * i, y) for i in range(20)]
        touch(cdp, "touchStart", [path[0]])
        for point in path[1:]:
            touch(cdp, "touchMove", [point])
        touch(cdp, "touchEnd", [])
        page.wait_for_function(settled)  # the inbox sent the stroke as a draft...
        assert drafts.wait_idle(30)  # ... and the server drew it
    assert drafts.drafts == 2
    # Clicked, not tapped: Chromium makes no click of a tap that comes within moments of the
    # last touch sequence, and this synthetic stroke ended microseconds before (a tap on Send
    # 1.5 s after the stroke does send: checked by hand).
    page.locator(SEND).click()
    assert run.wait().status == "success", run.error
    mask = np.asarray(run.outputs[0]["result"][0])[0]
    assert run.outputs[0]["ui"]["drawn_ahead"] == [2]  # Send left nothing to draw
    assert mask[100, 100:400].min() == 1.0 and mask[300, 100:400].min() == 1.0 and mask[200, 250] == 0.0
    row(page, request_id).wait_for(state="detached")


def swipe(page: Any, target: Any, dx: float) -> None:
    """A finger moving sideways across ``target`` (Playwright's touchscreen only taps)."""
    box = target.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    target.evaluate(
        """(img, [x, y, dx]) => {
            const event = (type, at) => new PointerEvent(type, { bubbles: true, pointerType: "touch", isPrimary: true, clientX: at, clientY: y });
            img.dispatchEvent(event("pointerdown", x));
            img.dispatchEvent(event("pointermove", x + dx / 2));
            img.dispatchEvent(event("pointerup", x + dx));
        }""",
        [x, y, dx],
    )


def test_doubler_in_the_inbox(host: HarnessHost, open_inbox: Any) -> None:
    page = open_inbox()
    run = doubler(host, 21)
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    assert "21 × 2 = 42" in card(page, request_id).inner_text()
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"] == (42,)
    # Without "ask first" no person is needed: an open inbox answers it, like a ComfyUI tab.
    run = doubler(host, 8, ask_first=False, timeout=30)
    assert run.wait().outputs[0]["result"] == (16,)
    assert page.locator("section.hitl-card").count() == 0


def test_deep_link_opens_that_requests_dialog(host: HarnessHost, open_inbox: Any) -> None:
    run = host.submit_many(
        [
            NodeCall("7", "HitlValuePrompt", {"value_type": "STRING", "title": "Caption", "default": "a cat"}),
            NodeCall("8", "HitlIntegerDoubler", {"value": 5, "ask_first": True, "timeout_seconds": 0}),
        ]
    )
    views = host.wait_waiting(run, count=2)
    wanted = next(view for view in views if view["kind"] == "integer-doubler")
    page = open_inbox(f"?request={wanted['id']}")
    dialog = card(page, wanted["id"])
    dialog.wait_for()
    assert page.locator("section.hitl-card").count() == 1  # that one, and only that one
    assert row(page, wanted["id"]).locator("[data-linked='true']").count() == 1
    page.locator(SEND).tap()
    # The page says what happened to the request its link named.
    page.locator("[data-role='deep-link'][data-outcome='answered']").wait_for()
    other = next(view for view in views if view["kind"] == "value-prompt")
    host.registry.answer(other["id"], "a dog")
    assert [out["result"] for out in run.wait().outputs][1] == (10,)


@pytest.mark.parametrize(
    ("end", "words"),
    [
        ("answer", "was answered"),
        ("cancel", "was cancelled"),
        ("timeout", "was timed out"),
        ("interrupt", "was interrupted"),
    ],
)
def test_deep_link_of_an_ended_request_says_how_and_when(
    host: HarnessHost, open_inbox: Any, end: str, words: str
) -> None:
    run = doubler(host, 3, timeout=1 if end == "timeout" else 0)
    request_id = waiting_id(host, run)
    if end == "answer":
        host.registry.answer(request_id, 6)
    elif end == "cancel":
        host.registry.cancel(request_id)
    elif end == "interrupt":
        host.interrupt.raise_flag()
    run.wait()
    page = open_inbox(f"?request={request_id}")
    notice = page.locator("[data-role='deep-link']")
    notice.wait_for()
    text = notice.inner_text()
    assert "Integer Doubler (browser) #1: 3 × 2 was" in text and words in text, text
    assert "just now, at " in text and "after waiting 0:0" in text, text
    assert page.locator("section.hitl-card").count() == 0


def test_deep_link_of_an_unknown_request_says_so(open_inbox: Any) -> None:
    page = open_inbox("?request=no-such-request")
    notice = page.locator("[data-role='deep-link'][data-kind='unknown']")
    notice.wait_for()
    assert "No request with this id" in notice.inner_text()
    assert page.locator("[data-role='empty']").is_visible()  # the page itself works


#: Notes, on this machine's one clock, when Send is clicked in this page and when the
#: request's dialog or row leaves it (whoever answered).
NOTE_SEND_AND_GONE = """(id) => {
    window.__goneAt = null;
    const gone = () => !document.querySelector(`[data-request-id="${id}"]:is(li, section)`);
    new MutationObserver((_, observer) => {
        if (gone()) { window.__goneAt = performance.timeOrigin + performance.now(); observer.disconnect(); }
    }).observe(document.body, { childList: true, subtree: true });
    window.__sentAt = null;
    if (!window.__notingSends) {
        window.__notingSends = true;
        document.addEventListener("click", (event) => {
            if (event.target.closest("[data-action='primary']")) window.__sentAt ??= performance.timeOrigin + performance.now();
        }, { capture: true });
    }
}"""


def test_comfyui_tab_and_inbox_stay_in_step_within_a_second(host: HarnessHost, open_page: Any, open_inbox: Any) -> None:
    tab = open_page()
    inbox = open_inbox()
    for answered_in in ("tab", "inbox"):
        run = doubler(host, 7)
        request_id = waiting_id(host, run)
        tab_card = card(tab, request_id)
        tab_card.wait_for()
        row(inbox, request_id).wait_for()
        # Each page notes, on the one clock of this machine, when the other's answer shows.
        for page in (tab, inbox):
            page.evaluate(NOTE_SEND_AND_GONE, request_id)
        source, other = (tab, inbox) if answered_in == "tab" else (inbox, tab)
        if answered_in == "inbox":
            row(inbox, request_id).tap()
            card(inbox, request_id).wait_for()
            inbox.locator(SEND).tap()
        else:
            tab_card.locator("[data-action='primary']").click()
        assert run.wait().outputs[0]["result"] == (14,)
        other.wait_for_function("() => window.__goneAt !== null")
        delay_ms = other.evaluate("window.__goneAt") - source.evaluate("window.__sentAt")
        assert 0 < delay_ms < 1000, (answered_in, delay_ms)


def test_a_lost_websocket_is_made_good_on_reconnect(host: HarnessHost, open_inbox: Any) -> None:
    page = open_inbox()
    run = host.submit_many(
        [
            NodeCall("1", "HitlIntegerDoubler", {"value": 1, "ask_first": True, "timeout_seconds": 0}),
            NodeCall("2", "HitlIntegerDoubler", {"value": 2, "ask_first": True, "timeout_seconds": 0}),
        ]
    )
    first, second = (view["id"] for view in host.wait_waiting(run, count=2))
    row(page, first).wait_for()
    row(page, second).wait_for()
    # Cut the socket and keep it down (every reconnection fails) while things change.
    page.evaluate(
        """() => {
            const api = window.hitlInbox.api;
            api.WebSocketClass = class extends WebSocket { constructor() { super("ws://127.0.0.1:9/"); } };
            api.socket.close();
        }"""
    )
    page.locator("[data-role='connection'][data-connected='false']").wait_for()
    host.registry.answer(first, 2)
    assert row(page, first).count() == 1  # nothing heard: the page cannot know yet
    page.evaluate("() => { window.hitlInbox.api.WebSocketClass = WebSocket; }")
    page.locator("[data-role='connection'][data-connected='true']").wait_for()
    row(page, first).wait_for(state="detached")  # the resync on reconnect found it ended
    row(page, second).wait_for()
    host.registry.answer(second, 4)
    row(page, second).wait_for(state="detached")
    assert [out["result"] for out in run.wait().outputs] == [(2,), (4,)]


def test_the_page_is_small_before_it_shows_the_list(host: HarnessHost, open_inbox: Any) -> None:
    run = doubler(host, 2)
    request_id = waiting_id(host, run)
    page = open_inbox()
    row(page, request_id).wait_for()
    loaded = page.evaluate(
        """() => {
            const shown = performance.getEntriesByName("hitl-inbox-list")[0].startTime;
            const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")];
            const before = entries.filter((e) => e.responseEnd <= shown);
            return { bytes: before.reduce((sum, e) => sum + e.encodedBodySize, 0), names: before.map((e) => e.name) };
        }"""
    )
    assert loaded["bytes"] < 100_000, loaded
    # The dialogs' own modules come after the list (so a tap opens them at once).
    assert not any(name.endswith(("image_picker.js", "value_prompt.js")) for name in loaded["names"]), loaded
    page.wait_for_function(
        "() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('image_picker.js'))"
    )
    host.registry.cancel(request_id)


@pytest.mark.parametrize("device", [PHONE, LANDSCAPE, DESKTOP], ids=["portrait", "landscape", "desktop"])
def test_every_dialog_is_thumb_sized_and_fits_the_screen(host: HarnessHost, open_inbox: Any, device: Any) -> None:
    width = device["viewport"]["width"]
    page = open_inbox(device=device)
    image = np.linspace(0, 1, 48 * 64 * 3, dtype=np.float32).reshape(1, 48, 64, 3)
    run = host.submit_many(
        [
            NodeCall("1", "HitlIntegerDoubler", {"value": 3, "ask_first": True, "timeout_seconds": 0}),
            NodeCall("2", "HitlValuePrompt", {"value_type": "INT", "title": "Steps", "default": "20", "timeout_seconds": 60}),
            NodeCall("3", "HitlValuePrompt", {"value_type": "BOOLEAN", "title": "Upscale?", "image": image}),
            NodeCall("4", "HitlValuePrompt", {"value_type": "CHOICE", "title": "Style", "choices": "photo\nink\nwatercolour"}),
            NodeCall("5", "HitlValuePrompt", {"value_type": "STRING (multi-line)", "title": "Caption", "text": "a cat"}),
            NodeCall("6", "HitlImagePicker", {"images": colour_batch(9, 64), "mode": "always ask", "min_picks": 1,
                     "max_picks": 0, "title": "Pick", "timeout_seconds": 300, "on_timeout": "cancel run"}),
            NodeCall("7", "HitlForm", {"title": "Next stage", "fields": "steps: INT 1..60 = 20\n"
                     "prompt: TEXT multiline = a lighthouse\nupscale: BOOLEAN = yes\nstyle: CHOICE photo | ink = ink"}),
            NodeCall("8", "HitlMaskPainter", {"images": colour_batch(2, 96), "title": "Paint", "mode": "always ask",
                     "timeout_seconds": 0, "on_timeout": "cancel run"}),
        ]
    )  # fmt: skip
    views = host.wait_waiting(run, count=8)
    touch = device is not DESKTOP
    for view in views:
        row(page, view["id"]).click()
        dialog = card(page, view["id"])
        dialog.wait_for()
        page.wait_for_timeout(50)  # let the layout settle after the dialog's own focus
        report = page.evaluate(
            """(id) => {
                const card = document.querySelector(`section.hitl-card[data-request-id="${id}"]`);
                const box = card.getBoundingClientRect();
                // A radio or checkbox inside its label is tapped through the label: measure that.
                const targets = [...card.querySelectorAll("button, input, textarea, label, .hitl-pick-tile")]
                    .filter((el) => el.offsetParent !== null)
                    .filter((el) => !((el.type === "radio" || el.type === "checkbox") && el.closest("label")))
                    .filter((el) => el.tagName !== "LABEL" || el.querySelector("input[type=radio], input[type=checkbox]"));
                const small = targets.map((el) => [el.dataset.action || el.className || el.tagName, el.getBoundingClientRect()])
                    .filter(([, r]) => r.height < 44 || r.width < 44).map(([name, r]) => `${name} ${Math.round(r.width)}x${Math.round(r.height)}`);
                return { left: box.left, right: box.right, top: box.top, bottom: box.bottom,
                         scrollWidth: document.documentElement.scrollWidth, small };
            }""",
            view["id"],
        )
        assert report["left"] >= 0 and report["right"] <= width, (view["kind"], report)
        assert report["top"] >= 0 and report["bottom"] <= device["viewport"]["height"], (view["kind"], report)
        assert report["scrollWidth"] <= width, report
        if touch:
            assert report["small"] == [], (view["kind"], report["small"])
        page.screenshot(
            path=str(artifacts() / f"inbox-{device['viewport']['width']}-{view['node_id']}-{view['kind']}.png")
        )
        page.locator(f"section.hitl-card[data-request-id='{view['id']}'] [data-action='minimise']").click()
        dialog.wait_for(state="hidden")
    if device is PHONE:
        page.screenshot(path=str(artifacts() / "inbox-phone-list.png"))
    # Minimised, they are rows of the list again: no pill or "runs wait" line over the page.
    assert page.locator("button.hitl-pill").first.is_hidden() and page.locator(".hitl-tray-count").is_hidden()
    # Cancelling one branch ends the run, and ComfyUI (like the harness) then resets the others.
    host.registry.cancel(views[0]["id"])
    assert run.wait().status == "interrupted"
    assert host.registry.waiting_count() == 0


def artifacts() -> Any:
    from dev.harness.pack import ROOT

    folder = ROOT / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


def test_a_minimised_dialog_comes_back_from_its_row(host: HarnessHost, open_inbox: Any) -> None:
    page = open_inbox()
    run = doubler(host, 6)
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    card(page, request_id).locator("[data-action='minimise']").tap()
    card(page, request_id).wait_for(state="hidden")
    assert page.locator("button.hitl-pill").is_hidden()  # the row is the way back, not a pill
    row(page, request_id).tap()
    card(page, request_id).wait_for()
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"] == (12,)


def test_workflow_text_is_shown_as_text_in_rows(host: HarnessHost, open_inbox: Any) -> None:
    hostile = '<img src=x onerror="window.__pwned=1">'
    run = host.submit(
        "HitlValuePrompt",
        {
            "value_type": "STRING",
            "title": hostile,
            "extra_pnginfo": {"workflow": {"nodes": [{"id": 1, "title": hostile}]}},
        },
    )
    request_id = waiting_id(host, run)
    page = open_inbox()
    listed = row(page, request_id)
    listed.wait_for()
    assert hostile in listed.locator(".inbox-row-title").inner_text()
    assert page.locator("ul[data-role='waiting'] img").count() == 0
    assert page.evaluate("window.__pwned") is None
    host.registry.cancel(request_id)


def test_served_under_api_too(host: HarnessHost, open_inbox: Any) -> None:
    # ComfyUI serves every route of ours under /api as well: the page works from there.
    run = value_prompt(host, value_type="BOOLEAN", title="Go on?", default="true")
    request_id = waiting_id(host, run)
    page = open_inbox(f"?request={request_id}", prefix="/api")
    card(page, request_id).wait_for()
    requested = page.evaluate("() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)")
    assert all(path.startswith(("/api/hitl/", "/ws")) for path in requested), requested
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"][3] is True


def test_recent_lists_outcomes_newest_first(host: HarnessHost, open_inbox: Any) -> None:
    ids = []
    for value, end in ((1, "answer"), (2, "cancel")):
        run = doubler(host, value)
        request_id = waiting_id(host, run)
        if end == "answer":
            host.registry.answer(request_id, 2)
        else:
            host.registry.cancel(request_id)
        run.wait()
        ids.append(request_id)
    page = open_inbox()
    items = page.locator("ul[data-role='recent'] li")
    items.nth(1).wait_for()
    assert [items.nth(i).get_attribute("data-request-id") for i in range(2)] == ids[::-1]
    assert json.loads(json.dumps(items.nth(0).get_attribute("data-outcome"))) == "cancelled"
    assert "answer 2" in items.nth(1).inner_text() and "just now" in items.nth(1).inner_text()


STICKY_ACTIVATION = """(() => {
  let active = false;
  for (const type of ["pointerup", "touchend", "keydown", "click"]) addEventListener(type, (e) => { if (e.isTrusted) active = true; }, true);
  Object.defineProperty(Navigator.prototype, "userActivation", { configurable: true,
    get: () => ({ get hasBeenActive() { return active; }, get isActive() { return active; } }) });
})();"""


def test_no_audio_warning_before_a_gesture(host: HarnessHost, open_inbox: Any) -> None:
    # Issue 22: three "AudioContext was not allowed to start" warnings (a chime per request
    # arriving before any tap). No AudioContext is made, or resumed, before a gesture.
    # Playwright's own evaluate calls count as gestures to Chromium: the page is given the
    # browser's sticky activation as a real one has it, set by real input events only.
    page = open_inbox(init_script=STICKY_ACTIVATION)
    warnings: list[str] = []
    page.on("console", lambda message: warnings.append(message.text))
    page.evaluate(
        """() => { window.__audio = 0; const Real = window.AudioContext;
            window.AudioContext = class extends Real { constructor(...a) { super(...a); window.__audio += 1; } };
            window.__announced = 0;
            window.addEventListener("comfyui-hitl:announce", () => { window.__announced += 1; }); }"""
    )
    # Live requests (news, chimed), not ones found when the websocket first connects, and
    # heard once the notifier (loaded after the list) is listening.
    page.locator("[data-role='connection'][data-connected='true']").wait_for()
    page.locator("[data-action='notification-settings']").wait_for(state="attached")
    calls = [NodeCall(str(i), "HitlValuePrompt", {"value_type": "INT", "title": f"Q{i}"}) for i in range(3)]
    run = host.submit_many(calls)
    views = host.wait_waiting(run, count=3)
    page.locator(ROW).nth(2).wait_for()
    page.wait_for_function("() => window.__announced >= 3")  # each request's announcement was decided
    assert page.evaluate("window.__audio") == 0  # no context before a gesture
    page.locator(ROW).first.locator("button").tap()  # a gesture: the chime may play from now on
    page.locator(SEND).wait_for()
    page.locator(SEND).tap()
    page.locator(ROW).nth(2).wait_for(state="detached")
    assert not [text for text in warnings if "AudioContext" in text], warnings
    for view in views[1:]:
        host.registry.cancel(view["id"])
    run.wait()


def test_the_header_count_hides_at_zero(host: HarnessHost, open_inbox: Any) -> None:
    # Issue 22: a blue "0" when nothing waits.
    page = open_inbox()
    count = page.locator("[data-role='count']")
    assert not count.is_visible()
    run = value_prompt(host)
    request_id = waiting_id(host, run)
    row(page, request_id).wait_for()
    page.wait_for_function("() => document.querySelector(\"[data-role='count']\").textContent === '1'")
    assert count.is_visible()
    host.registry.cancel(request_id)
    run.wait()
    row(page, request_id).wait_for(state="detached")
    assert not count.is_visible()


def test_recent_shows_the_answer_summary_and_a_deep_link_no_double_brackets(host: HarnessHost, open_inbox: Any) -> None:
    # Issue 22: Recent showed raw JSON; the ended request's notice said "(Deep style (one of 3 choices))".
    run = value_prompt(host, value_type="CHOICE", title="Deep style", choices="photo\nink\nsketch", default="")
    request_id = waiting_id(host, run)
    host.registry.answer(request_id, 2)
    run.wait()
    page = open_inbox(f"?request={request_id}")
    notice = page.locator("[data-role='deep-link']")
    notice.wait_for()
    assert "((" not in notice.inner_text() and "))" not in notice.inner_text(), notice.inner_text()
    item = page.locator(f"ul[data-role='recent'] li[data-request-id='{request_id}']")
    item.wait_for()
    assert "answer sketch" in item.inner_text(), item.inner_text()
