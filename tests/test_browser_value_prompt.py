"""The value prompt's dialog in headless Chromium, on the harness (real routes, nodes and
web modules): every type answered from the keyboard, the server's refusals shown inline,
timeouts, stacked prompts, and a phone-sized screen."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dev.harness.host import HarnessHost, NodeCall
from dev.harness.pack import submodule

pytestmark = pytest.mark.browser

P = submodule("server.protocol")
INT, FLOAT, STRING, MULTILINE, BOOLEAN, CHOICE = P.VALUE_TYPES
NODE = "HitlValuePrompt"
CARD = "section.hitl-card[data-kind='value-prompt']"


def card_of(page: Any, view: dict[str, Any]) -> Any:
    return page.locator(f"{CARD}[data-request-id='{view['id']}']")


def focused_in(card: Any) -> bool:
    return card.evaluate(
        "(card) => card.contains(document.activeElement) && document.activeElement.matches('input, textarea')"
    )


def ask(host: HarnessHost, **inputs: Any) -> Any:
    return host.submit(NODE, inputs)


def waiting_card(host: HarnessHost, page: Any, run: Any) -> tuple[dict[str, Any], Any]:
    [view] = host.wait_waiting(run)
    card = card_of(page, view)
    card.wait_for()
    return view, card


#: (type, settings, the keys pressed, the outputs expected)
KEYBOARD_ANSWERS = [
    (INT, {"default": "20", "minimum": "1", "maximum": "60"}, ["4", "2", "Enter"], (42, 42.0, "42", True, -1)),
    (INT, {"default": "20", "step": "5"}, ["ArrowUp", "Enter"], (25, 25.0, "25", True, -1)),
    (FLOAT, {"default": "0.5"}, ["0", ".", "7", "5", "Enter"], (1, 0.75, "0.75", True, -1)),
    (STRING, {"default": "old"}, ["n", "e", "w", "Enter"], (0, 0.0, "new", True, -1)),
    (MULTILINE, {"default": "line one"}, ["Shift+Enter", "t", "w", "o", "Enter"], (0, 0.0, "line one\ntwo", True, -1)),
    (BOOLEAN, {"default": "false"}, ["y", "Enter"], (1, 1.0, "true", True, -1)),
    (BOOLEAN, {"default": "true"}, ["ArrowRight", "Enter"], (0, 0.0, "false", False, -1)),
    (CHOICE, {"choices": "photo\nink\nwatercolour"}, ["ArrowDown", "Enter"], (1, 1.0, "ink", True, 1)),
    (
        CHOICE,
        {"choices": "photo\nink\nwatercolour", "default": "ink"},
        ["3", "Enter"],
        (2, 2.0, "watercolour", True, 2),
    ),
]


@pytest.mark.parametrize(("value_type", "settings", "keys", "outputs"), KEYBOARD_ANSWERS)
def test_each_type_is_answered_from_the_keyboard(
    host: HarnessHost, open_page: Any, value_type: str, settings: dict, keys: list[str], outputs: tuple
) -> None:
    page = open_page()
    run = ask(host, value_type=value_type, title="Question?", **settings)
    _, card = waiting_card(host, page, run)
    assert card.get_attribute("data-value-type") == value_type
    assert card.locator(".hitl-title").inner_text() == "Question?"
    # Focus starts in the field, no click needed.
    page.wait_for_function(
        "(selector) => document.querySelector(selector).contains(document.activeElement)"
        " && document.activeElement.matches('input, textarea')",
        arg=CARD,
    )
    for key in keys:
        page.keyboard.press(key)
    run.wait()
    assert run.status == "success", run.error
    assert run.outputs[0]["result"] == outputs
    card.wait_for(state="detached")


def test_server_refusal_shows_inline_and_the_run_keeps_waiting(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, value_type=INT, default="20", minimum="1", maximum="100")
    view, card = waiting_card(host, page, run)
    page.keyboard.type("500")
    page.keyboard.press("Enter")
    error = card.locator("[data-role='error']")
    error.filter(has_text="500 is above the maximum 100").wait_for()
    # The server's own words, and the request still waits.
    assert host.registry.get(view["id"]).state == "waiting" and not run.done.is_set()
    assert focused_in(card)  # back in the field to fix it
    page.keyboard.type("7")  # the refused text was not selected: it is edited, 5007 is refused too
    page.keyboard.press("Enter")
    error.filter(has_text="5007 is above the maximum 100").wait_for()
    page.keyboard.press("Control+A")
    page.keyboard.type("99")
    assert error.inner_text() == ""  # editing clears the stale refusal
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][0] == 99


def test_whole_number_and_empty_entries(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, value_type=INT)
    view, card = waiting_card(host, page, run)
    page.keyboard.press("Backspace")  # the selected default goes: nothing to send
    page.keyboard.press("Enter")
    card.locator("[data-role='error']").filter(has_text="Enter a whole number.").wait_for()
    page.keyboard.type("2.5")
    page.keyboard.press("Enter")  # the browser sends 2.5; the server says why not
    card.locator("[data-role='error']").filter(has_text="expected a whole number, got 2.5").wait_for()
    assert host.registry.get(view["id"]).state == "waiting"
    card.locator("[data-action='cancel']").click()
    assert run.wait().status == "interrupted"


def test_long_text_is_counted_and_refused_by_the_server(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, value_type=STRING, max_length=5)
    _view, card = waiting_card(host, page, run)
    page.keyboard.type("🙂🙂🙂🙂🙂🙂")
    count = card.locator("[data-role='count']")
    assert count.inner_text() == "6 / 5 characters" and count.get_attribute("data-over") == "true"
    page.keyboard.press("Enter")
    card.locator("[data-role='error']").filter(has_text="6 characters long; at most 5").wait_for()
    page.keyboard.press("Backspace")
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][2] == "🙂" * 5


@pytest.mark.parametrize(("action", "status"), [("use default", "success"), ("cancel run", "interrupted")])
def test_timeout_shows_a_countdown_then_takes_its_action(
    host: HarnessHost, open_page: Any, action: str, status: str
) -> None:
    page = open_page()
    run = ask(host, value_type=INT, default="7", timeout_seconds=1.5, on_timeout=action)
    _, card = waiting_card(host, page, run)
    countdown = card.locator("[data-role='countdown']")
    assert countdown.is_visible() and countdown.inner_text() in {"0:01", "0:02"}
    expected_hint = "the default (7) is used" if action == "use default" else "the run is cancelled"
    assert expected_hint in card.locator(".hitl-vp-hint").inner_text()
    card.wait_for(state="detached", timeout=5000)
    assert run.wait().status == status
    if action == "use default":
        assert run.outputs[0]["result"][0] == 7 and run.outputs[0]["ui"]["source"] == ["timeout default"]


def test_two_prompts_stack_and_are_answered_in_reverse_order(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = host.submit_many(
        [
            NodeCall("7", NODE, {"value_type": INT, "title": "Width", "default": "512"}),
            NodeCall("8", NODE, {"value_type": STRING, "title": "Prefix", "default": "render"}),
        ]
    )
    first, second = host.wait_waiting(run, count=2)
    first_card, second_card = card_of(page, first), card_of(page, second)
    first_card.wait_for()
    second_card.wait_for()
    # The second dialog did not take the focus from the first.
    assert focused_in(first_card)
    assert first_card.bounding_box()["y"] < second_card.bounding_box()["y"]  # stacked, both visible
    second_card.locator("input").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("final")
    page.keyboard.press("Enter")
    second_card.wait_for(state="detached")
    assert host.registry.get(first["id"]).state == "waiting" and not run.done.is_set()
    first_card.locator("input").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("768")
    page.keyboard.press("Enter")
    run.wait()
    assert [out["result"][2] for out in run.outputs] == ["768", "final"]


def test_phone_sized_screen_shows_the_whole_dialog(host: HarnessHost, open_page: Any) -> None:
    page = open_page(viewport={"width": 390, "height": 844})
    image = np.linspace(0, 1, 96 * 128 * 3, dtype=np.float32).reshape(1, 96, 128, 3)
    run = ask(
        host,
        value_type=MULTILINE,
        title="Edit the caption",
        message="Fix anything wrong.",
        text="a cat on a windowsill",
        image=image,
        timeout_seconds=600,
    )
    _, card = waiting_card(host, page, run)
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    textarea = card.locator("textarea")
    assert textarea.bounding_box()["width"] > 300  # the question takes the full width, below the image
    img = card.locator(".hitl-vp-images img")
    img.wait_for()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert img.bounding_box()["y"] < textarea.bounding_box()["y"]
    send = card.locator("[data-action='primary']")
    send_box = send.bounding_box()
    assert send_box["y"] + send_box["height"] <= 844 and send_box["height"] >= 34
    assert textarea.evaluate("(t) => t.selectionStart === t.value.length")  # caret at the end, to edit
    page.keyboard.type(", soft light")
    send.click()
    assert run.wait().outputs[0]["result"][2] == "a cat on a windowsill, soft light"


def test_dialog_says_which_node_asks_and_from_which_workflow(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    hostile = '<img src=x onerror="window.__pwned=1">'
    own = {"workflow": {"id": "harness-workflow", "nodes": [{"id": 1, "title": "Steps?"}]}}
    run = ask(host, value_type=CHOICE, title=hostile, message=hostile, choices=f"{hostile}\nplain", extra_pnginfo=own)
    _, card = waiting_card(host, page, run)
    assert card.locator(".hitl-subtitle").inner_text() == "Steps? · this tab's workflow"
    assert card.locator(".hitl-title").inner_text() == hostile
    assert card.locator(".hitl-message").inner_text() == hostile
    assert card.locator(".hitl-vp-option").first.inner_text().startswith(hostile)
    assert card.locator("img").count() == 0 and page.evaluate("window.__pwned") is None
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"

    other = {"workflow": {"id": "another-workflow", "nodes": [{"id": 1, "title": "Steps?"}]}}
    run = ask(host, value_type=INT, extra_pnginfo=other)
    _, card = waiting_card(host, page, run)
    assert card.locator(".hitl-subtitle").inner_text() == "Steps? · from another workflow"
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_arrow_keys_step_from_the_value_and_the_step_is_no_rule(host: HarnessHost, open_page: Any) -> None:
    # Issue 22: min 1, step 5, default 20 used to give 21 then 26 (stepping from the minimum),
    # and the browser marked 20 invalid (off the grid 1, 6, 11, 16, 21...).
    page = open_page()
    run = ask(host, value_type=INT, default="20", minimum="1", maximum="32", step="5")
    _, card = waiting_card(host, page, run)
    field = card.locator("input.hitl-answer-input")
    page.wait_for_function("document.activeElement?.classList.contains('hitl-answer-input')")
    assert field.evaluate("(input) => input.checkValidity() && !input.matches(':invalid')")
    page.keyboard.press("ArrowUp")
    assert field.input_value() == "25"
    page.keyboard.press("ArrowUp")
    assert field.input_value() == "30"
    page.keyboard.press("ArrowUp")  # clamped to the maximum
    assert field.input_value() == "32"
    assert field.evaluate("(input) => input.checkValidity()")
    for _ in range(8):
        page.keyboard.press("ArrowDown")
    assert field.input_value() == "1"  # clamped to the minimum
    page.keyboard.press("ArrowUp")
    assert field.input_value() == "6"
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][0] == 6


def test_float_arrows_keep_the_steps_decimals(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, value_type=FLOAT, default="0.55", minimum="0", maximum="1", step="0.05")
    _, card = waiting_card(host, page, run)
    field = card.locator("input.hitl-answer-input")
    page.wait_for_function("document.activeElement?.classList.contains('hitl-answer-input')")
    for _ in range(3):
        page.keyboard.press("ArrowUp")
    assert field.input_value() == "0.7"
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][1] == pytest.approx(0.7)


def test_the_wheel_never_changes_a_number(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, value_type=INT, default="512", minimum="64", maximum="2048", step="64")
    _, card = waiting_card(host, page, run)
    field = card.locator("input.hitl-answer-input")
    page.wait_for_function("document.activeElement?.classList.contains('hitl-answer-input')")
    field.hover()
    for _ in range(3):
        page.mouse.wheel(0, 100)
    page.mouse.wheel(0, -100)
    # Let any wheel default run: a frame later the value is what it was.
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert field.input_value() == "512"
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


PHONE_CONTEXT = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


def test_on_a_phone_return_is_a_new_line_and_send_sends(host: HarnessHost, open_page: Any) -> None:
    # Issue 22: phones have no Shift+Enter, so a line break could not be typed; the hints
    # spoke of keys a touch screen does not have.
    page = open_page(**PHONE_CONTEXT)
    assert page.evaluate("matchMedia('(pointer: coarse)').matches")
    run = ask(host, value_type=MULTILINE, default="line one")
    view, card = waiting_card(host, page, run)
    textarea = card.locator("textarea")
    assert textarea.get_attribute("enterkeyhint") == "enter"
    hint = card.locator(".hitl-vp-hint").last.inner_text()
    assert "Shift" not in hint and "Enter" not in hint and "Send" in hint, hint
    textarea.tap()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("two")
    assert textarea.input_value() == "line one\ntwo"
    assert host.registry.get(view["id"]).state == "waiting"
    card.locator("[data-action='primary']").tap()
    assert run.wait().outputs[0]["result"][2] == "line one\ntwo"

    run = ask(host, value_type=STRING, default="x")
    _, card = waiting_card(host, page, run)
    assert card.locator("input").get_attribute("enterkeyhint") == "send"
    card.locator("input").tap()
    page.keyboard.press("Enter")  # one line: return sends
    assert run.wait().outputs[0]["result"][2] == "x"

    run = ask(host, value_type=BOOLEAN, default="true")
    _, card = waiting_card(host, page, run)
    hint = card.locator(".hitl-vp-hint").last.inner_text() if card.locator(".hitl-vp-hint").count() else ""
    assert "Y / N" not in hint and "arrow" not in hint and "Enter" not in hint, hint
    card.locator("[data-action='primary']").tap()
    run.wait()


def test_a_request_ended_elsewhere_is_said_in_words_and_the_notice_takes_no_taps(
    host: HarnessHost, open_page: Any
) -> None:
    # Issue 22: "Request ended (user_cancel)" / "(prompt_over)", over the controls for 3 s, taking taps.
    page = open_page(**PHONE_CONTEXT)
    run = ask(host, value_type=INT, title="Width")
    view, _card = waiting_card(host, page, run)
    host.registry.cancel(view["id"])
    run.wait()
    notice = page.locator(".hitl-notice")
    notice.wait_for()
    text = notice.inner_text()
    assert "_" not in text and "(" not in text and "cancelled" in text, text
    assert notice.evaluate(
        """(note) => { const r = note.getBoundingClientRect();
            return getComputedStyle(note).pointerEvents === 'none'
              && !note.contains(document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2)); }"""
    )
