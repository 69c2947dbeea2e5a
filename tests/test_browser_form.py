"""The form's dialog in headless Chromium, on the harness (real routes, nodes and web
modules): filled and sent from the keyboard alone, the server's refusal shown under the
field it names while the run keeps waiting, long forms that scroll, workflow text shown as
text, and a phone-sized touch screen."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dev.harness.host import HarnessHost
from dev.harness.pack import submodule

pytestmark = pytest.mark.browser

P = submodule("server.protocol")
NODE = "HitlForm"
CARD = "section.hitl-card[data-kind='form']"
FIELDS = (
    'steps "Refiner steps": INT 1..60 = 20\n'
    "denoise: FLOAT 0..1 step 0.05 = 0.55\n"
    "prompt: TEXT multiline = a lighthouse\n"
    "style: CHOICE photo | oil painting | sketch = photo\n"
    "upscale: BOOLEAN = yes"
)


def ask(host: HarnessHost, **inputs: Any) -> Any:
    return host.submit(NODE, inputs)


def waiting_card(host: HarnessHost, page: Any, run: Any) -> tuple[dict[str, Any], Any]:
    [view] = host.wait_waiting(run)
    card = page.locator(f"{CARD}[data-request-id='{view['id']}']")
    card.wait_for()
    return view, card


def focused_field(page: Any) -> str | None:
    """The name of the form field the focus is in."""
    return page.evaluate("document.activeElement?.closest('.hitl-form-field')?.dataset.field ?? null")


def row(card: Any, name: str) -> Any:
    return card.locator(f".hitl-form-field[data-field='{name}']")


def test_filled_and_sent_from_the_keyboard_alone(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, fields=FIELDS, title="Before the refiner", message="Set them all.")
    _view, card = waiting_card(host, page, run)
    assert card.locator(".hitl-title").inner_text() == "Before the refiner"
    assert card.locator(".hitl-message").inner_text() == "Set them all."
    assert card.locator(".hitl-form-label").all_inner_texts() == [
        "Refiner steps",
        "Denoise",
        "Prompt",
        "Style",
        "Upscale",
    ]
    assert row(card, "steps").locator(".hitl-vp-hint").inner_text() == "A whole number from 1 to 60."
    # The focus starts in the first field, its value selected: typing replaces it.
    page.wait_for_function("document.activeElement?.closest('.hitl-form-field')?.dataset.field === 'steps'")
    page.keyboard.type("32")
    page.keyboard.press("Tab")
    assert focused_field(page) == "denoise"
    page.keyboard.press("ArrowUp")  # the arrow keys step by 0.05
    page.keyboard.press("Tab")
    assert focused_field(page) == "prompt"
    page.keyboard.press("End")
    page.keyboard.press("Shift+Enter")  # a new line, not a send
    page.keyboard.type("at dusk")
    page.keyboard.press("Tab")
    assert focused_field(page) == "style"
    page.keyboard.press("3")  # the third choice
    page.keyboard.press("Tab")
    assert focused_field(page) == "upscale"
    page.keyboard.press("n")
    assert not run.done.is_set()
    page.keyboard.press("Enter")
    run.wait()
    assert run.status == "success", run.error
    answers, text = run.outputs[0]["result"]
    assert answers == {
        "steps": 32,
        "denoise": 0.6,
        "prompt": "a lighthouse\nat dusk",
        "style": "sketch",
        "upscale": False,
    }
    assert (
        text == '{"steps": 32, "denoise": 0.6, "prompt": "a lighthouse\\nat dusk", "style": "sketch", "upscale": false}'
    )
    card.wait_for(state="detached")


def test_a_refused_value_shows_under_its_field_and_the_run_keeps_waiting(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, fields=FIELDS)
    view, card = waiting_card(host, page, run)
    page.keyboard.type("500")  # above the maximum: the server says so
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    steps_error = row(card, "steps").locator("[data-role='field-error']")
    steps_error.filter(has_text="Refiner steps: 500 is above the maximum 60").wait_for()
    assert row(card, "steps").get_attribute("data-invalid") == "true"
    assert row(card, "denoise").locator("[data-role='field-error']").inner_text() == ""
    assert card.locator(".hitl-error").inner_text() == ""  # shown under the field, not at the bottom
    assert host.registry.get(view["id"]).state == "waiting" and not run.done.is_set()
    assert focused_field(page) == "steps"  # put back in the field to fix it
    page.keyboard.press("Control+A")
    page.keyboard.type("60")
    assert steps_error.inner_text() == "" and row(card, "steps").get_attribute("data-invalid") == "false"
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][0]["steps"] == 60


def test_fields_the_browser_can_tell_are_empty_are_marked_before_sending(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, fields="a: INT = 1\nb: FLOAT = 2\nc: INT = 3")
    view, card = waiting_card(host, page, run)
    page.keyboard.press("Backspace")  # a emptied
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Backspace")  # c emptied
    page.keyboard.press("Enter")
    row(card, "c").locator("[data-role='field-error']").filter(has_text="Enter a whole number.").wait_for()
    assert row(card, "a").locator("[data-role='field-error']").inner_text() == "Enter a whole number."
    assert row(card, "b").locator("[data-role='field-error']").inner_text() == ""
    assert focused_field(page) == "a"  # the first one to fix
    assert host.registry.get(view["id"]).state == "waiting"
    page.keyboard.type("7")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("9")
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][0] == {"a": 7, "b": 2.0, "c": 9}


def test_escape_cancels_the_run(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, fields=FIELDS)
    _view, card = waiting_card(host, page, run)
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"
    card.wait_for(state="detached")


def test_a_long_form_scrolls_and_a_refusal_far_down_is_brought_into_view(host: HarnessHost, open_page: Any) -> None:
    page = open_page(viewport={"width": 1280, "height": 700})
    fields = "\n".join(f"value_{i}: INT 0..100 = {i}" for i in range(30))
    run = ask(host, fields=fields, title="Thirty values")
    view, card = waiting_card(host, page, run)
    body = card.locator(".hitl-body")
    assert body.evaluate("(b) => b.scrollHeight > b.clientHeight")  # it scrolls inside the card
    box = card.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 700  # and the card, buttons included, fits
    # Make the last field wrong through the API, and answer it from the dialog.
    last = row(card, "value_29")
    last.locator("input").evaluate("(input) => { input.value = '101'; }")
    page.keyboard.press("Enter")
    last.locator("[data-role='field-error']").filter(has_text="Value 29: 101 is above the maximum 100").wait_for()
    assert focused_field(page) == "value_29"
    assert last.evaluate(
        "(row) => { const r = row.getBoundingClientRect(), b = row.closest('.hitl-body').getBoundingClientRect();"
        " return r.top >= b.top - 1 && r.bottom <= b.bottom + 1; }"
    )
    assert host.registry.get(view["id"]).state == "waiting"
    page.keyboard.press("Control+A")
    page.keyboard.type("100")
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][0]["value_29"] == 100


def test_workflow_text_is_shown_as_text_and_any_name_is_sent(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    hostile = "<img src=x onerror=window.__pwned=1>"
    markup = "<b>not bold</b><img src>"  # an option cannot contain "=", a label can
    fields = f'constructor "{hostile}": INT = 3\ntoString: CHOICE {markup} | plain = plain'
    run = ask(host, fields=fields, title=hostile, message=hostile)
    _view, card = waiting_card(host, page, run)
    assert card.locator(".hitl-title").inner_text() == hostile
    assert card.locator(".hitl-message").inner_text() == hostile
    assert card.locator(".hitl-form-label").first.inner_text() == hostile
    assert card.locator(".hitl-vp-option").first.inner_text().startswith(markup)
    assert card.locator("img, b").count() == 0 and page.evaluate("window.__pwned") is None
    page.keyboard.press("Enter")  # names that are also properties of every JS object still travel
    assert run.wait().outputs[0]["result"][0] == {"constructor": 3, "toString": "plain"}


def test_the_text_input_and_images_reach_the_dialog(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    image = np.linspace(0, 1, 2 * 48 * 64 * 3, dtype=np.float32).reshape(2, 48, 64, 3)
    run = ask(host, fields="caption: TEXT multiline max 200\nkeep: BOOLEAN = yes", text="a cat", image=image)
    _view, card = waiting_card(host, page, run)
    assert card.locator(".hitl-vp-images img").count() == 2
    textarea = row(card, "caption").locator("textarea")
    assert textarea.input_value() == "a cat"
    assert textarea.evaluate("(t) => document.activeElement === t && t.selectionStart === t.value.length")
    assert row(card, "caption").locator("[data-role='count']").inner_text() == "5 / 200 characters"
    page.keyboard.type(" on a mat")
    page.keyboard.press("Enter")
    assert run.wait().outputs[0]["result"][0] == {"caption": "a cat on a mat", "keep": True}


def test_timeout_is_announced_once_below_the_fields(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = ask(host, fields="n: INT = 4\nok: BOOLEAN", timeout_seconds=1.5, on_timeout="use defaults")
    _view, card = waiting_card(host, page, run)
    keys = card.locator(".hitl-form-keys").inner_text()
    assert "Y / N answer yes or no" in keys and "When the time runs out, the defaults are used." in keys
    assert card.locator("[data-role='countdown']").is_visible()
    card.wait_for(state="detached", timeout=5000)
    result = run.wait().outputs[0]
    assert result["result"][0] == {"n": 4, "ok": False} and result["ui"]["source"] == ["timeout default"]


def test_phone_sized_touch_screen(host: HarnessHost, browser: Any, served: Any) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2
    )
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(served.url)
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        run = ask(host, fields=FIELDS, title="Before the refiner")
        _view, card = waiting_card(host, page, run)
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
        steps = row(card, "steps").locator("input")
        assert steps.bounding_box()["width"] > 300  # full width, label above
        assert steps.evaluate("(input) => getComputedStyle(input).fontSize") == "16px"  # no zoom on focus
        steps.tap()
        steps.fill("12")
        row(card, "style").locator(".hitl-vp-option", has_text="oil painting").tap()
        no = row(card, "upscale").locator(".hitl-vp-option", has_text="No")
        no.scroll_into_view_if_needed()
        assert no.bounding_box()["height"] >= 34  # a finger-sized target
        no.tap()
        send = card.locator("[data-action='primary']")
        send_box = send.bounding_box()
        assert send_box["y"] + send_box["height"] <= 844 and send_box["height"] >= 34
        send.tap()
        answers = run.wait().outputs[0]["result"][0]
        assert answers == {
            "steps": 12,
            "denoise": 0.55,
            "prompt": "a lighthouse",
            "style": "oil painting",
            "upscale": False,
        }
    finally:
        context.close()
    assert not errors, errors


def test_the_wheel_scrolls_the_form_and_never_changes_a_number(host: HarnessHost, open_page: Any) -> None:
    # Issue 22: scrolling with the pointer over "Image width" turned 512 into 320.
    page = open_page(viewport={"width": 1280, "height": 700})
    fields = 'width "Image width": INT 64..2048 step 64 = 512\n' + "\n".join(
        f"value_{i}: INT 0..100 = {i}" for i in range(30)
    )
    run = ask(host, fields=fields, title="Sizes")
    _view, card = waiting_card(host, page, run)
    page.wait_for_function("document.activeElement?.closest('.hitl-form-field')?.dataset.field === 'width'")
    width = row(card, "width").locator("input")
    width.hover()
    for _ in range(3):
        page.mouse.wheel(0, 120)
    body = card.locator(".hitl-body")
    page.wait_for_function("(body) => body.scrollTop > 0", arg=body.element_handle(), timeout=5000)
    assert width.input_value() == "512"
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_a_refusal_names_the_field_by_its_label(host: HarnessHost, open_page: Any) -> None:
    # Issue 22: "nick: …" under the label "Short name".
    page = open_page()
    run = ask(host, fields='nick "Short name": TEXT max 5 = ab\nsteps: INT 1..60 = 20')
    view, card = waiting_card(host, page, run)
    page.wait_for_function("document.activeElement?.closest('.hitl-form-field')?.dataset.field === 'nick'")
    page.keyboard.type("much too long")
    page.keyboard.press("Enter")
    error = row(card, "nick").locator("[data-role='field-error']")
    error.filter(has_text="Short name: ").wait_for()
    assert "nick" not in error.inner_text()
    assert host.registry.get(view["id"]).state == "waiting"
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_on_a_phone_return_adds_a_line_in_a_form_and_moves_on_in_a_line(host: HarnessHost, open_page: Any) -> None:
    # Issue 22: return sent the whole form from a multi-line field; the footnote spoke of Tab and Esc.
    page = open_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    run = ask(host, fields="name: TEXT = a\nnote: TEXT multiline = b\nlast: TEXT = c")
    view, card = waiting_card(host, page, run)
    name, note, last = (row(card, n).locator("input, textarea") for n in ("name", "note", "last"))
    assert [f.get_attribute("enterkeyhint") for f in (name, note, last)] == ["next", "enter", "send"]
    footnote = card.locator(".hitl-form-keys").inner_text()
    assert "Tab" not in footnote and "Esc" not in footnote and "Enter" not in footnote, footnote
    name.tap()
    page.keyboard.press("Enter")  # next field
    assert focused_field(page) == "note"
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("more")
    assert note.input_value() == "b\nmore" and host.registry.get(view["id"]).state == "waiting"
    card.locator("[data-action='primary']").tap()
    assert run.wait().outputs[0]["result"][0] == {"name": "a", "note": "b\nmore", "last": "c"}
