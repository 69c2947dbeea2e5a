"""Being a good guest in the host's page, in headless Chromium on the harness (real routes,
nodes and web modules): keys typed in our dialogs reach none of the host's listeners, for
every dialog kind; the focus; where dialogs go (never over the Run/Cancel bar, the tabs or
the top bar), dragging them by mouse and by touch; the host's modal windows above ours; the
minimised pill; the subtitle following the tab's workflow; the smaller dialog details.

The host's listeners are stand-ins registered as ComfyUI's frontend registers its own (see
the comment at the top of web/keys.js): a keybinding service on `window` (bubble phase)
and a change tracker on `window` (capture phase, reading the event later) both registered
before any extension loads, LiteGraph-like listeners on `document` registered after.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from test_browser_image_picker import colour_batch, wait_thumbnails
from test_browser_mask_painter import drag, open_painter, painter_ops

from dev.harness.batches import pattern
from dev.harness.host import HarnessHost, NodeCall, Run

pytestmark = pytest.mark.browser

CARD = "section.hitl-card"

#: Registered before the page's scripts, so before our extension: like ComfyUI's keybinding
#: service (window, bubble) and change tracker (window, capture, reads the event in a frame).
EARLY_LISTENERS = """
window.__seen = [];
const note = (where, event) => window.__seen.push({ where, type: event.type, key: event.key, ctrl: event.ctrlKey || event.metaKey });
for (const type of ["keydown", "keyup", "keypress"]) window.addEventListener(type, (event) => note("window", event));
window.addEventListener("keydown", (event) => {
  const modifier = ["Control", "Shift", "Alt", "Meta"].includes(event.key);
  requestAnimationFrame(() => {
    note("deferred", event);
    if (!modifier) window.__prevented.push(event.defaultPrevented);
  });
}, true);
window.__prevented = [];
"""

#: Registered after our extension: like LiteGraph (document, capture) and anything else.
LATE_LISTENERS = """() => {
  for (const type of ["keydown", "keyup", "keypress"]) {
    document.addEventListener(type, (event) => window.__seen.push({ where: "document-capture", type, key: event.key }), true);
    document.addEventListener(type, (event) => window.__seen.push({ where: "document", type, key: event.key }));
    window.addEventListener(type, (event) => window.__seen.push({ where: "window-late", type, key: event.key }), true);
  }
  const canvas = document.createElement("canvas");
  canvas.id = "stand-in-canvas";
  canvas.tabIndex = 1;
  canvas.width = 200;
  canvas.height = 100;
  canvas.style.cssText = "position:fixed;left:0;bottom:0";
  document.body.append(canvas);
}"""

#: Keys that do something in ComfyUI, none of which may do anything in our dialogs.
NOISE = [
    "w",
    "r",
    "q",
    "f",
    ".",
    "Delete",
    "Backspace",
    "Control+s",
    "Control+o",
    "Control+z",
    "Control+y",
    "Control+g",
    "Control+,",
    "Control+Shift+Enter",
    "Control+Alt+Enter",
    "Alt+Enter",
    "Alt+c",
    "Shift",
]


@pytest.fixture
def guest_page(open_page: Any) -> Any:
    """A harness page with the host's stand-in key listeners and a focusable canvas."""

    def make(viewport: dict[str, int] | None = None) -> Any:
        page = open_page(viewport)
        page.context.add_init_script(EARLY_LISTENERS)
        page.reload()
        page.wait_for_function("window.__harnessReady === true")
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        page.evaluate(LATE_LISTENERS)
        return page

    return make


def host_saw(page: Any) -> list[dict[str, Any]]:
    """What the host's listeners saw: every event they got, and any key a deferred reader
    could still read (ours are neutralised to "Unidentified" before it looks)."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    seen = page.evaluate("window.__seen")
    return [e for e in seen if e["where"] != "deferred" or e["key"] != "Unidentified" or e.get("ctrl")]


def clear_seen(page: Any) -> None:
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => { window.__seen.length = 0; window.__prevented.length = 0; done(); }))"
    )


def doubler(host: HarnessHost) -> Run:
    return host.submit("HitlIntegerDoubler", {"value": 21, "ask_first": True, "timeout_seconds": 0})


def value_prompt(host: HarnessHost, value_type: str, **settings: Any) -> Run:
    return host.submit("HitlValuePrompt", {"value_type": value_type, "title": "Question?", **settings})


def picker(host: HarnessHost, count: int = 4, **settings: Any) -> Run:
    inputs = {"images": colour_batch(count), "mode": "always ask", "min_picks": 1, "max_picks": 0, "title": "Pick"}
    return host.submit("HitlImagePicker", {**inputs, **settings})


def both(host: HarnessHost, *, picker: dict[str, Any] | None = None, value: dict[str, Any] | None = None) -> Run:
    """A picker and a value prompt waiting at once (parallel branches of one prompt)."""
    picker = {"count": 8, **(picker or {})}
    images = colour_batch(picker.pop("count"))
    picker_inputs = {"images": images, "mode": "always ask", "min_picks": 1, "max_picks": 0, "title": "Pick", **picker}
    value_inputs = {"value_type": "INT", "default": "1", "title": "Question?", **(value or {})}
    return host.submit_many(
        [NodeCall("1", "HitlImagePicker", picker_inputs), NodeCall("2", "HitlValuePrompt", value_inputs)]
    )


def form(host: HarnessHost) -> Run:
    fields = "n: INT = 5\nnote: TEXT multiline = x\nok: BOOLEAN = no\nstyle: CHOICE a | b | c"
    return host.submit("HitlForm", {"fields": fields, "title": "Form?"})


def mask_painter(host: HarnessHost) -> Run:
    inputs = {"images": pattern(1, 256, 192), "title": "Paint", "mode": "always ask", "timeout_seconds": 0}
    return host.submit("HitlMaskPainter", {**inputs, "on_timeout": "cancel run"})


def paint_a_stroke(page: Any) -> None:
    open_painter(page)
    drag(page, [(40, 40), (200, 150)])
    page.wait_for_function(
        "() => document.querySelector(\"section.hitl-card[data-kind='mask-painter']\").hitlMaskPainter.activeDoc.entries.length === 1"
    )


def form_answered(result: Any) -> bool:
    # Tab moves field to field; "2" in the choice, "y" in yes/no, letters typed in the text.
    return result[0] == {"n": 42, "note": "xhi\nw", "ok": True, "style": "b"}


def stroke_kept(result: Any) -> bool:
    # Ctrl+Z undid the stroke in the painter (not the graph), Ctrl+Y redid it.
    mask = np.asarray(result[0])[0]
    return bool(mask[45, 45] == 1.0 and mask[180, 20] == 0.0)


#: kind -> (queue it, keys that answer after the noise, the answer's first output or a check
#: of the outputs, what to do before the noise)
DIALOG_KINDS = {
    "doubler": (doubler, [], 42, None),
    "value-int": (lambda host: value_prompt(host, "INT", default="5"), ["Control+a", "4", "2"], 42, None),
    "value-multiline": (
        lambda host: value_prompt(host, "STRING (multi-line)", default="x"),
        ["Control+a", "h", "i", "Shift+Enter", "w"],
        "hi\nw",
        None,
    ),
    "value-boolean": (lambda host: value_prompt(host, "BOOLEAN", default="false"), ["y"], True, None),
    "value-choice": (lambda host: value_prompt(host, "CHOICE", choices="a\nb\nc"), ["3"], 2, None),
    "picker": (picker, ["2"], None, None),
    "form": (
        form,
        ["Control+a", "4", "2", "Tab", "Control+a", "x", "h", "i", "Shift+Enter", "w", "Tab", "y", "Tab", "2"],
        form_answered,
        None,
    ),
    "mask-painter": (mask_painter, [], stroke_kept, paint_a_stroke),
}


@pytest.mark.parametrize("kind", list(DIALOG_KINDS))
def test_no_key_typed_in_a_dialog_reaches_the_host(host: HarnessHost, guest_page: Any, kind: str) -> None:
    """Issue 14: ComfyUI's shortcuts (queue, delete, save, sidebar letters, undo) never see a
    key typed in any of our dialogs; Ctrl+Enter sends, once; Ctrl+Shift+Enter does nothing."""
    queue_it, answer_keys, expected, prepare = DIALOG_KINDS[kind]
    page = guest_page()
    run = queue_it(host)
    [view] = host.wait_waiting(run)
    card = page.locator(f"{CARD}[data-request-id='{view['id']}']")
    card.wait_for()
    if kind == "picker":
        wait_thumbnails(page, 4)
    if prepare:
        prepare(page)
    page.wait_for_function("(card) => card.contains(document.activeElement)", arg=card.element_handle())
    clear_seen(page)
    for key in [*NOISE, *answer_keys]:
        page.keyboard.press(key)
    assert host.registry.waiting_count() == 1, "a key sent or cancelled the dialog"
    page.keyboard.press("Control+Enter")
    run.wait()
    assert run.status == "success", run.error
    result = run.outputs[0]["result"]
    if kind == "picker":
        assert result[3] == "1"  # "2" picked image 2 (index 1); Delete, Backspace, Ctrl+Z undid nothing
    elif kind == "doubler":
        assert result == (42,)
    elif callable(expected):
        assert expected(result), result
    else:
        assert expected in result
    card.wait_for(state="detached")
    assert host_saw(page) == []
    answers = sum(1 for _, _, data in host._events if data.get("reason") == "answer")
    assert answers == 1


def test_the_mask_painters_own_keys_work_and_reach_no_host_listener(host: HarnessHost, guest_page: Any) -> None:
    """The painter hears its keys through the overlay: Ctrl+Z undoes its stroke (never the
    graph: the host's deferred reader finds the key blank), Ctrl+Shift+Z and Ctrl+Y redo,
    [ ] size the brush, E and B switch tools, Space-drag pans, Enter sends."""
    page = guest_page()
    run = mask_painter(host)
    paint_a_stroke(page)
    painter = "document.querySelector(\"section.hitl-card[data-kind='mask-painter']\").hitlMaskPainter"
    clear_seen(page)
    page.keyboard.press("Control+z")
    assert painter_ops(page) == 0
    page.keyboard.press("Control+Shift+Z")
    assert painter_ops(page) == 1
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+y")
    assert painter_ops(page) == 1
    size = page.evaluate(f"() => {painter}.size")
    page.keyboard.press("]")
    assert page.evaluate(f"() => {painter}.size") > size
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert page.evaluate(f"() => {painter}.size") < size
    page.keyboard.press("e")
    assert page.evaluate(f"() => {painter}.tool") == "erase"
    page.keyboard.press("b")
    before = page.evaluate(f"() => [{painter}.tx, {painter}.ty]")
    box = page.locator("[data-role='stage']").bounding_box()
    page.keyboard.down(" ")
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 160, box["y"] + 130, steps=4)
    page.mouse.up()
    page.keyboard.up(" ")
    after = page.evaluate(f"() => [{painter}.tx, {painter}.ty]")
    assert (round(after[0] - before[0]), round(after[1] - before[1])) == (60, 30) and painter_ops(page) == 1
    assert page.evaluate(f"() => {painter}.spaceHeld") is False
    assert host_saw(page) == []
    assert page.evaluate("window.__prevented") and all(page.evaluate("window.__prevented"))
    page.keyboard.press("Enter")
    assert run.wait().status == "success" and stroke_kept(run.outputs[0]["result"])


def test_a_click_on_a_dialogs_text_keeps_the_keys_in_the_dialog(host: HarnessHost, guest_page: Any) -> None:
    """A click on the title or the message (nothing focusable) leaves the focus on the card,
    not on the page, where the host's shortcuts would take the next key."""
    page = guest_page()
    page.focus("#stand-in-canvas")
    run = value_prompt(host, "INT", default="3", message="How many?")
    card = page.locator(CARD)
    card.wait_for()
    for part in (".hitl-message", ".hitl-title"):
        card.locator(part).click()
        page.wait_for_function("(card) => document.activeElement === card", arg=card.element_handle())
        clear_seen(page)
        for key in ("w", "Delete", "Control+z", "Control+s"):
            page.keyboard.press(key)
        assert host_saw(page) == [] and host.registry.waiting_count() == 1
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_unused_combos_do_nothing_not_even_the_browsers_default(host: HarnessHost, guest_page: Any) -> None:
    """Ctrl+S in a dialog must not open the browser's "save page" instead of ComfyUI's save;
    editing keys in a text field keep their default; Cmd+Enter sends like Ctrl+Enter."""
    page = guest_page()
    run = value_prompt(host, "STRING", default="abc")
    page.locator(CARD).wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'INPUT'")
    clear_seen(page)
    for key in ("Control+s", "Control+o", "Control+Shift+Enter", "Control+a", "Control+c", "Control+z", "x"):
        page.keyboard.press(key)
    host_saw(page)  # waits two frames: every deferred read is in
    assert page.evaluate("window.__prevented") == [True, True, True, False, False, False, False]
    page.keyboard.press("Meta+Enter")
    assert run.wait().outputs[0]["result"][2] == "x"


def test_keys_on_the_canvas_still_reach_the_host(host: HarnessHost, guest_page: Any) -> None:
    """With the focus on the canvas, the host's keys work as before, even while a dialog waits."""
    page = guest_page()
    run = doubler(host)
    page.locator(CARD).wait_for()
    page.focus("#stand-in-canvas")
    clear_seen(page)
    page.keyboard.press("w")
    page.keyboard.press("Control+Enter")
    seen = host_saw(page)
    assert {("window", "keydown", "w"), ("document", "keydown", "w"), ("window", "keydown", "Enter")} <= {
        (e["where"], e["type"], e["key"]) for e in seen
    }
    assert any(e["where"] == "deferred" and e["key"] == "Enter" and e["ctrl"] for e in seen)
    assert host.registry.waiting_count() == 1  # the host's Ctrl+Enter, not ours
    page.locator(f"{CARD} [data-action='cancel']").click()
    run.wait()


def test_a_key_pressed_on_the_canvas_is_released_to_the_host(host: HarnessHost, guest_page: Any) -> None:
    """Shift held on the canvas and let go in a dialog: the host sees it go up (no stuck key);
    a key pressed in a dialog stays ours even when let go after the dialog closed."""
    page = guest_page()
    run = doubler(host)
    card = page.locator(CARD)
    card.wait_for()
    page.focus("#stand-in-canvas")
    page.keyboard.down("Shift")
    page.focus(f"{CARD} [data-action='primary']")
    clear_seen(page)
    page.keyboard.up("Shift")
    assert ("window", "keyup", "Shift") in {(e["where"], e["type"], e["key"]) for e in host_saw(page)}
    clear_seen(page)
    page.keyboard.down("Control")
    page.keyboard.down("Enter")  # sends; the dialog closes while both keys are held
    run.wait()
    card.wait_for(state="detached")
    page.keyboard.up("Enter")
    page.keyboard.up("Control")
    assert host_saw(page) == []


def test_a_dialog_takes_the_focus_from_the_canvas_and_gives_it_back(host: HarnessHost, guest_page: Any) -> None:
    page = guest_page()
    page.focus("#stand-in-canvas")
    run = value_prompt(host, "INT", default="3")
    card = page.locator(CARD)
    card.wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.getAttribute('role') === 'spinbutton'")
    page.keyboard.press("Enter")
    run.wait()
    page.wait_for_function("document.activeElement && document.activeElement.id === 'stand-in-canvas'")


def test_a_dialog_never_takes_the_focus_from_a_text_field_of_the_host(host: HarnessHost, guest_page: Any) -> None:
    page = guest_page()
    page.evaluate(
        "() => { const t = document.createElement('textarea'); t.id = 'host-text'; document.body.prepend(t); t.focus(); }"
    )
    page.keyboard.type("abc")
    run = picker(host)
    page.locator(CARD).wait_for()
    wait_thumbnails(page, 4)
    page.keyboard.type("de")
    assert page.evaluate("document.getElementById('host-text').value") == "abcde"
    assert page.evaluate("document.activeElement.id") == "host-text"
    assert host.registry.waiting_count() == 1
    page.locator(f"{CARD} [data-action='cancel']").click()
    run.wait()


# ------------------------------------------------------------------------ placement
#: Stand-ins of ComfyUI's controls, laid out as each frontend lays them out (measured in
#: 0.3.64 with 1.27.10 and 1.58.1), with the classes and test ids web/main.js looks for.
CHROME_1_27 = """() => {
  const add = (html) => { const t = document.createElement('template'); t.innerHTML = html; document.body.append(t.content); };
  add(`<div class="comfyui-menu" style="position:fixed;left:0;top:0;right:0;height:40px;background:#333;z-index:1001">
     <div class="actionbar" style="position:absolute;right:0;top:2px;width:266px;height:37px;display:flex">
       <button id="run" style="width:73px">Run</button><button style="width:113px">1</button>
       <button id="cancel" aria-label="Cancel current run" style="width:40px">X</button><button style="width:40px">C</button></div></div>
   <div class="workflow-tabs-container" style="position:fixed;left:40px;top:40px;width:212px;height:37px;background:#444"><button id="tab">Unsaved Workflow</button></div>
   <nav class="side-tool-bar-container" style="position:fixed;left:0;top:40px;bottom:0;width:40px;background:#222"></nav>
   <div style="position:fixed;right:16px;bottom:21px;display:flex;z-index:1200">
     <button data-testid="zoom-controls-button" style="width:64px;height:35px">100%</button>
     <button data-testid="toggle-link-visibility-button" style="width:35px;height:35px">L</button></div>`);
}"""
CHROME_1_58 = """() => {
  const add = (html) => { const t = document.createElement('template'); t.innerHTML = html; document.body.append(t.content); };
  add(`<div class="workflow-tabs-container" style="position:fixed;left:0;top:0;right:0;height:38px;background:#444;z-index:999"><button id="tab">Unsaved Workflow</button></div>
   <div class="actionbar" style="position:fixed;right:52px;top:50px;width:301px;height:32px;display:flex;z-index:999">
     <button style="width:48px">1</button><button id="run" data-testid="queue-button" style="width:79px">Run</button>
     <button style="width:32px">v</button><button id="cancel" aria-label="Cancel current run" style="width:32px">X</button>
     <button style="width:76px">0 active</button></div>
   <nav class="side-tool-bar-container" style="position:fixed;left:0;top:38px;bottom:0;width:56px;background:#222;z-index:999"></nav>
   <div style="position:fixed;right:12px;bottom:12px;display:flex;gap:4px;z-index:1200">
     <button data-testid="zoom-controls-button" style="width:60px;height:32px">90%</button>
     <button data-testid="toggle-minimap-button" style="width:32px;height:32px">M</button>
     <button data-testid="toggle-link-visibility-button" style="width:32px;height:32px">L</button></div>`);
}"""
VIEWPORTS = [(1280, 720), (1366, 768), (1440, 900), (390, 844)]


def centre_hits(page: Any, selector: str) -> bool:
    """Whether a click at the centre of ``selector`` lands on it (nothing of ours on top)."""
    return page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return hit === el || el.contains(hit);
        }""",
        selector,
    )


def check_reachable(page: Any, what: str) -> None:
    """At every size: Run, Cancel, the tabs and the top bar take a click at their centre; the
    dialogs stay on-screen, below the tabs and the Run bar."""
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"window.innerWidth === {width}")
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        where = f"{what} at {width}x{height}"
        for selector in ("#run", "#cancel", "#tab", ".workflow-tabs-container", ".actionbar"):
            assert centre_hits(page, selector), f"{selector} covered by the {where}"
        stack = page.locator(".hitl-stack").bounding_box()
        tabs = page.locator(".workflow-tabs-container").bounding_box()
        bar = page.locator(".actionbar").bounding_box()
        assert stack["y"] >= max(tabs["y"] + tabs["height"], bar["y"] + bar["height"]), (where, stack)
        assert stack["x"] >= 0 and stack["x"] + stack["width"] <= width, (where, stack)
        assert stack["y"] + stack["height"] <= height, (where, stack)
        # Every card fits its stack: nothing of a dialog (the painter's full-height card) spills out.
        cards = page.locator(f"{CARD}:not([data-minimised='true'])")
        for index in range(cards.count()):
            card = cards.nth(index).bounding_box()
            assert card["x"] >= stack["x"] - 0.5 and card["x"] + card["width"] <= stack["x"] + stack["width"] + 0.5, (
                where
            )


@pytest.mark.parametrize("chrome", [CHROME_1_27, CHROME_1_58], ids=["1.27-layout", "1.58-layout"])
def test_dialogs_leave_run_cancel_tabs_and_top_bar_reachable(host: HarnessHost, open_page: Any, chrome: str) -> None:
    """Issue 14: at every common laptop size and on a phone, neither a picker nor a value
    prompt (stacked), nor a form, nor the mask painter (which asks for the whole height)
    covers Run, Cancel, the tabs or the top bar; all stay on-screen."""
    page = open_page({"width": 1366, "height": 768})
    page.evaluate(chrome)
    run = both(host)
    page.locator(f"{CARD}[data-kind='image-picker']").wait_for()
    page.locator(f"{CARD}[data-kind='value-prompt']").wait_for()
    check_reachable(page, "picker and value prompt")
    host.registry.cancel(host.registry.pending()[0]["id"])
    assert run.wait().status == "interrupted"
    page.locator(CARD).first.wait_for(state="detached")
    for kind, queue_it in (("form", form), ("mask-painter", mask_painter)):
        page.set_viewport_size({"width": 1366, "height": 768})
        run = queue_it(host)
        page.locator(f"{CARD}[data-kind='{kind}']").wait_for()
        check_reachable(page, kind)
        page.keyboard.press("Escape")
        assert run.wait().status == "interrupted"
        page.locator(CARD).wait_for(state="detached")


def stack_box(page: Any) -> dict[str, float]:
    return page.locator(".hitl-stack").bounding_box()


def test_a_dialog_is_dragged_by_its_header_and_remembered(host: HarnessHost, open_page: Any) -> None:
    page = open_page({"width": 1280, "height": 720})
    page.evaluate(CHROME_1_58)
    run = value_prompt(host, "INT", default="1")
    head = page.locator(f"{CARD} .hitl-head")
    head.wait_for()
    before = stack_box(page)
    grip = head.locator(".hitl-grip").bounding_box()
    page.mouse.move(grip["x"] + 4, grip["y"] + 4)
    page.mouse.down()
    page.mouse.move(grip["x"] - 300, grip["y"] + 200, steps=5)
    page.mouse.up()
    moved = stack_box(page)
    assert abs(moved["x"] - (before["x"] - 304)) <= 2 and abs(moved["y"] - (before["y"] + 196)) <= 2
    # Remembered per browser: a reload puts it there again.
    page.reload()
    page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
    page.evaluate(CHROME_1_58)
    head.wait_for()
    again = stack_box(page)
    assert abs(again["x"] - moved["x"]) <= 2 and abs(again["y"] - moved["y"]) <= 2
    # Kept on-screen when the window shrinks.
    page.set_viewport_size({"width": 700, "height": 500})
    page.wait_for_function("window.innerWidth === 700")
    page.wait_for_function(
        "() => { const r = document.querySelector('.hitl-stack').getBoundingClientRect();"
        " return r.left >= 0 && r.right <= 700 && r.top >= 0 && r.top + 56 <= 500; }"
    )
    # A double click on the header puts it back.
    page.set_viewport_size({"width": 1280, "height": 720})
    page.locator(f"{CARD} .hitl-title").dblclick()
    page.wait_for_function(
        f"Math.abs(document.querySelector('.hitl-stack').getBoundingClientRect().top - {before['y']}) < 2"
    )
    page.keyboard.press("Escape")
    run.wait()


def test_a_dialog_is_dragged_by_touch_on_a_phone(host: HarnessHost, browser: Any, served: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(served.url)
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        page.evaluate(CHROME_1_58)
        run = value_prompt(host, "INT", default="1")
        grip = page.locator(f"{CARD} .hitl-grip")
        grip.wait_for()
        before = stack_box(page)
        box = grip.bounding_box()
        x, y = box["x"] + 4, box["y"] + 4
        cdp = context.new_cdp_session(page)
        # A finger's drag: 200 px over half a second, then lifted (timestamps, not sleeps; a
        # fast flick ends in a fling, and Chrome swallows the tap that stops a fling).
        start = time.time()

        def touch(kind: str, dy: float, at: float) -> None:
            points = [] if kind == "touchEnd" else [{"x": x, "y": y + dy}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points, "timestamp": start + at})

        touch("touchStart", 0, 0)
        for step in range(1, 6):
            touch("touchMove", 40 * step, 0.1 * step)
        touch("touchEnd", 200, 1.0)
        page.wait_for_function(
            f"document.querySelector('.hitl-stack').getBoundingClientRect().top > {before['y'] + 150}"
        )
        assert centre_hits(page, "#run") and centre_hits(page, "#cancel")
        page.locator(f"{CARD} [data-action='cancel']").tap()
        run.wait()
    finally:
        context.close()


def test_the_hosts_modal_windows_open_above_our_dialogs(host: HarnessHost, open_page: Any) -> None:
    """Issue 14: a host modal (PrimeVue masks from z-index 1101) covers our card; a side
    panel (999) does not."""
    page = open_page()
    run = value_prompt(host, "INT", default="1")
    card = page.locator(CARD)
    card.wait_for()
    box = card.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate(
        """([x, y]) => {
            const panel = document.createElement('div');
            panel.id = 'side-panel';
            panel.style.cssText = `position:absolute;left:0;top:0;width:${x + 40}px;height:100%;z-index:999;background:#123`;
            document.body.append(panel);
        }""",
        [x, y],
    )
    assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('.hitl-card')", [x, y])
    page.evaluate(
        """() => {
            const mask = document.createElement('div');
            mask.className = 'p-dialog-mask';
            mask.style.cssText = 'position:fixed;inset:0;z-index:1101;background:rgba(0,0,0,.4)';
            mask.innerHTML = '';
            const dialog = document.createElement('div');
            dialog.id = 'settings';
            dialog.setAttribute('role', 'dialog');
            dialog.style.cssText = 'position:absolute;inset:10%;background:#456';
            mask.append(dialog);
            document.body.append(mask);
        }"""
    )
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [x, y]) == "settings"
    host.registry.cancel(host.registry.pending()[0]["id"])
    run.wait()


def test_a_minimised_dialog_says_a_run_waits_for_what_and_how_long(host: HarnessHost, open_page: Any) -> None:
    page = open_page({"width": 390, "height": 844})
    page.evaluate(CHROME_1_58)
    run = both(host, picker={"count": 3, "timeout_seconds": 600, "on_timeout": "send first"}, value={"title": "Width?"})
    for kind in ("image-picker", "value-prompt"):
        page.locator(f"{CARD}[data-kind='{kind}'] [data-action='minimise']").click()
    pills = page.locator("button.hitl-pill")
    pills.first.wait_for()
    texts = [pills.nth(i).inner_text() for i in range(2)]
    assert texts[0].startswith("Run waits for you: Pick · 9:") or texts[0].startswith("Run waits for you: Pick · 10:")
    assert texts[1] == "Run waits for you: Width?"
    assert page.locator(".hitl-tray-count").inner_text() == "2 runs wait for you"
    for selector in ("[data-testid='zoom-controls-button']", "[data-testid='toggle-link-visibility-button']", "#run"):
        assert centre_hits(page, selector), selector
    pills.nth(1).click()
    page.wait_for_function("document.activeElement && document.activeElement.getAttribute('role') === 'spinbutton'")
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_the_subtitle_follows_the_tabs_workflow(host: HarnessHost, open_page: Any) -> None:
    """Issue 14: a reload labels the dialog before the frontend restores the workflow; the
    label follows when the workflow changes (the host's graphChanged event)."""
    page = open_page()
    other = {"workflow": {"id": "wf-restored", "nodes": [{"id": 1, "title": "Steps?"}]}}
    run = value_prompt(host, "INT", extra_pnginfo=other)
    subtitle = page.locator(f"{CARD} .hitl-subtitle")
    subtitle.wait_for()
    assert subtitle.inner_text() == "Steps? · from another workflow"
    page.evaluate(
        "async () => { const { app } = await import('/scripts/app.js'); const { api } = await import('/scripts/api.js');"
        " app.graph.id = 'wf-restored'; api.dispatchEvent(new CustomEvent('graphChanged')); }"
    )
    page.wait_for_function("document.querySelector('.hitl-subtitle').textContent === \"Steps? · this tab's workflow\"")
    page.evaluate(
        "async () => { const { app } = await import('/scripts/app.js'); app.graph.id = '00000000-0000-0000-0000-000000000000';"
        " window.dispatchEvent(new Event('focus')); }"
    )
    page.wait_for_function("document.querySelector('.hitl-subtitle').textContent === 'Steps?'")  # a nil id says nothing
    page.keyboard.press("Escape")
    run.wait()


# --------------------------------------------------------------------- smaller things
def test_typed_text_survives_a_reload(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = value_prompt(host, "STRING (multi-line)", default="draft")
    page.locator(CARD).wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.tagName === 'TEXTAREA'")
    page.keyboard.type(" and more")
    page.reload()
    page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
    textarea = page.locator(f"{CARD} textarea")
    textarea.wait_for()
    assert textarea.input_value() == "draft and more"
    page.keyboard.press("Control+Enter")
    assert run.wait().outputs[0]["result"][2] == "draft and more"
    # Sent: the draft is dropped once the server took it.
    page.wait_for_function("Object.keys(sessionStorage).every((key) => !key.startsWith('comfyui-hitl.draft.'))")


def test_a_forms_typed_answers_survive_a_reload(host: HarnessHost, open_page: Any) -> None:
    """One draft per request: every field's text (a number, text, yes/no, a choice) comes back
    after a reload, and goes once the server took the answer."""
    page = open_page()
    run = form(host)
    card = page.locator(f"{CARD}[data-kind='form']")
    card.wait_for()
    page.wait_for_function("document.activeElement && document.activeElement.getAttribute('role') === 'spinbutton'")
    for key in ("7", "Tab", "End", "Shift+Enter", "y", "o", "Tab", "y", "Tab", "3"):
        page.keyboard.press(key)
    page.reload()
    page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
    card.wait_for()
    assert card.locator("input[role='spinbutton']").input_value() == "7"
    assert card.locator("textarea").input_value() == "x\nyo"
    assert card.locator("input[type='radio'][data-value='true']").is_checked()
    assert card.locator("[data-field='style'] input[type='radio']").nth(2).is_checked()
    page.keyboard.press("Control+Enter")
    assert run.wait().outputs[0]["result"][0] == {"n": 7, "note": "x\nyo", "ok": True, "style": "c"}
    page.wait_for_function("Object.keys(sessionStorage).every((key) => !key.startsWith('comfyui-hitl.draft.'))")


def test_status_says_pick_at_least(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = picker(host, 8)
    status = page.locator(f"{CARD} [data-role='pick-status']")
    status.wait_for()
    assert status.inner_text() == "0 of 8 picked (pick at least 1)"
    page.keyboard.press("3")
    assert status.inner_text() == "1 of 8 picked (pick at least 1)"
    page.keyboard.press("Escape")
    run.wait()
    page.locator(CARD).wait_for(state="detached")
    run = picker(host, 8, min_picks=2, max_picks=4)
    status.wait_for()
    assert status.inner_text() == "0 of 8 picked (pick 2 to 4)"
    page.keyboard.press("3")
    assert status.inner_text() == "1 of 8 picked (pick 2 to 4) · 1 more to go"
    page.keyboard.press("Escape")
    run.wait()


def test_zoom_scales_a_small_image_up_crisply(host: HarnessHost, open_page: Any) -> None:
    page = open_page({"width": 1280, "height": 800})
    run = picker(host, 2)  # 64 px images
    page.locator(CARD).wait_for()
    wait_thumbnails(page, 2)
    page.keyboard.press(" ")
    image = page.locator("[data-role='zoom'] img")
    page.wait_for_function("document.querySelector(\"[data-role='zoom'] img\").dataset.size === 'full'")
    box = image.bounding_box()
    assert box["height"] > 600 and image.get_attribute("data-pixelated") == "true"
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector(\"[data-role='zoom'] img\")).imageRendering")
        == "pixelated"
    )
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    run.wait()


def test_a_phone_starts_with_two_images_a_row(host: HarnessHost, browser: Any, served: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(served.url)
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        run = picker(host, 6)
        page.locator(CARD).wait_for()
        tops = page.evaluate("() => [...document.querySelectorAll('.hitl-pick-tile')].map((t) => t.offsetTop)")
        assert tops[0] == tops[1] != tops[2]
        page.locator(f"{CARD} .hitl-pick-tile").nth(4).tap()
        page.locator(f"{CARD} [data-action='primary']").tap()
        assert run.wait().outputs[0]["result"][3] == "4"
    finally:
        context.close()


@pytest.mark.parametrize(
    ("size", "chrome"),
    [((1366, 768), CHROME_1_58), ((1280, 720), CHROME_1_27)],
    ids=["1366x768-1.58", "1280x720-1.27"],
)
def test_two_waiting_dialogs_are_each_reachable_with_send_visible(
    host: HarnessHost, open_page: Any, size: tuple[int, int], chrome: str
) -> None:
    """Issue 22: two dialogs at once overflowed the window with no hint (the second card
    below the window at 1366×768; the picker's Send and Cancel cut off at 1280×720). A
    switcher says how many wait; each entry brings its dialog, buttons included, on-screen."""
    width, height = size
    page = open_page({"width": width, "height": height})
    page.evaluate(chrome)
    run = both(host, picker={"count": 8})
    page.locator(f"{CARD}[data-kind='image-picker']").wait_for()
    page.locator(f"{CARD}[data-kind='value-prompt']").wait_for()
    wait_thumbnails(page, 8)
    page.screenshot(path=f"/tmp/shots/two-{width}x{height}.png")
    switcher = page.locator(".hitl-switcher")
    switcher.wait_for(timeout=5000)
    assert "2" in switcher.inner_text()
    entries = switcher.locator("button[data-request-id]")
    assert entries.count() == 2
    for index in range(2):
        entries.nth(index).click()
        request_id = entries.nth(index).get_attribute("data-request-id")
        card = page.locator(f"{CARD}[data-request-id='{request_id}']")
        for action in ("primary", "cancel"):
            button = card.locator(f"[data-action='{action}']")
            page.wait_for_function(
                f"""(el) => {{ const r = el.getBoundingClientRect();
                    if (r.width === 0 || r.top < 0 || r.bottom > {height} || r.left < 0 || r.right > {width}) return false;
                    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                    return hit === el || el.contains(hit); }}""",
                arg=button.element_handle(),
                timeout=5000,
            )
        assert card.evaluate("(card) => card.contains(document.activeElement)")
        page.screenshot(path=f"/tmp/shots/two-{width}x{height}-{index}.png")
        for selector in ("#run", "#cancel", "#tab"):
            assert centre_hits(page, selector), selector
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"
