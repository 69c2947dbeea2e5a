"""The mask painter's dialog in headless Chromium, on the harness (real routes, real web/
modules, the real node): mouse, eraser, undo/redo, zoom then paint, touch painting and pinch
on a 390×844 phone, batches, the input mask, a reload, keys and timeouts. What the browser
shows is compared with what the server outputs, pixel by pixel."""

from __future__ import annotations

import base64
import re
from typing import Any

import numpy as np
import pytest

from dev.harness.batches import pattern
from dev.harness.host import HarnessHost, Run
from dev.harness.pack import ROOT

pytestmark = pytest.mark.browser

DIALOG = "section.hitl-card[data-kind='mask-painter']"
READY = f"{DIALOG}[data-ready='true']"
SEND = f"{DIALOG} [data-action='primary']"
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}


def queue(host: HarnessHost, images: Any, **options: Any) -> Run:
    return host.submit(
        "HitlMaskPainter",
        {
            "images": images,
            "title": "Paint",
            "mode": "always ask",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
            **options,
        },
    )


def open_painter(page: Any, image: int = 0) -> Any:
    page.wait_for_selector(f"{READY}[data-shown='{image}']")
    return page.locator(DIALOG)


def view(page: Any) -> dict[str, float]:
    """The painter's view: image pixel (x, y) is at client (left + tx + x·scale, top + ty + y·scale)."""
    return page.evaluate(
        """() => { const card = document.querySelector("section.hitl-card[data-kind='mask-painter']");
            const p = card.hitlMaskPainter; const box = p.stage.getBoundingClientRect();
            return { scale: p.scale, tx: p.tx, ty: p.ty, left: box.left, top: box.top }; }"""
    )


def client_point(page: Any, x: float, y: float) -> tuple[float, float]:
    v = view(page)
    return v["left"] + v["tx"] + x * v["scale"], v["top"] + v["ty"] + y * v["scale"]


def image_point(page: Any, cx: float, cy: float) -> tuple[float, float]:
    v = view(page)
    return (cx - v["left"] - v["tx"]) / v["scale"], (cy - v["top"] - v["ty"]) / v["scale"]


def drag(page: Any, points: list[tuple[float, float]], steps: int = 12) -> None:
    """Paint with the mouse through image points."""
    start = client_point(page, *points[0])
    page.mouse.move(*start)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(*client_point(page, x, y), steps=steps)
    page.mouse.up()


def shown_mask(page: Any) -> np.ndarray:
    """The mask as the overlay canvas shows it: its alpha channel, at full resolution."""
    data = page.evaluate(
        """() => { const canvas = document.querySelector("[data-role='mask-canvas']");
            const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            const alpha = new Uint8Array(rgba.length / 4);
            for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3];
            let text = ''; for (let i = 0; i < alpha.length; i += 32768) text += String.fromCharCode(...alpha.subarray(i, i + 32768));
            return [canvas.width, canvas.height, btoa(text)]; }"""
    )
    width, height, encoded = data
    return np.frombuffer(base64.b64decode(encoded), np.uint8).reshape(height, width)


def output_mask(run: Run, index: int = 0) -> np.ndarray:
    assert run.wait().status == "success", run.error
    return np.asarray(run.outputs[0]["result"][0])[index]


def agree(shown: np.ndarray, output: np.ndarray) -> float:
    """The share of pixels where the browser's 8-bit mask and the server's float mask agree
    within one level."""
    return float((np.abs(shown.astype(np.float64) - output.astype(np.float64) * 255) <= 1).mean())


def painter_ops(page: Any) -> int:
    return page.evaluate(
        "() => document.querySelector(\"section.hitl-card[data-kind='mask-painter']\").hitlMaskPainter.activeDoc.entries.length"
    )


# ----------------------------------------------------------------- painting
def test_a_mouse_stroke_reaches_the_output_where_it_was_drawn(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url) if "/images/" in request.url else None)
    run = queue(host, pattern(1, 2048, 1536))
    open_painter(page)
    # The screen-sized preview is what loads first; nothing full size before a zoom.
    assert page.locator(f"{DIALOG} .hitl-mp-view img").evaluate("(img) => [img.naturalWidth, img.dataset.size]") == [
        1024,
        "preview",
    ]
    assert [url for url in requested if "size=full" in url] == []
    drag(page, [(300, 400), (1700, 400), (1700, 1200)])
    shown = shown_mask(page)
    assert shown.shape == (1536, 2048)
    size = page.evaluate(
        "() => document.querySelector(\"section.hitl-card[data-kind='mask-painter']\").hitlMaskPainter.size"
    )
    page.locator(SEND).click()
    mask = output_mask(run)
    assert mask.shape == (1536, 2048)
    # Along the stroke, fully painted; away from it, nothing.
    assert mask[400, 300:1700].min() == 1.0 and mask[400:1200, 1700].min() == 1.0
    assert mask[400 + size, 1000] == 0.0 and mask[1400, 300] == 0.0 and mask[100, 1000] == 0.0
    # The browser showed exactly what the server made.
    assert agree(shown, mask) >= 0.99 and np.abs(shown - mask * 255).max() <= 1.0


def test_strokes_are_drawn_on_the_server_while_painting(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    drafts_sent: list[Any] = []
    page.on("request", lambda request: drafts_sent.append(request.url) if request.url.endswith("/draft") else None)
    run = queue(host, pattern(1, 800, 600))
    open_painter(page)
    [waiting] = host.registry.pending()
    drafts = host.registry.get(waiting["id"]).resources.drafts
    settled = f'() => {{ const p = document.querySelector("{DIALOG}").hitlMaskPainter; return !p.draftInFlight && !p.draftStale; }}'
    for y in (100, 200, 300):
        drag(page, [(100, y), (700, y)])
        page.wait_for_function(settled)  # the server took this stroke's draft...
        assert drafts.wait_idle(30)  # ... and drew it
    page.keyboard.press("Control+z")  # the stroke at y = 300 is undone: the server draws again
    page.wait_for_function(settled)
    assert drafts.wait_idle(30) and drafts.drafts == 4 and len(drafts_sent) == 4
    drag(page, [(100, 450), (700, 450)])
    shown = shown_mask(page)
    page.keyboard.press("Enter")  # at once: the last stroke's draft may still be on its way
    mask = output_mask(run)
    ahead = run.outputs[0]["ui"]["drawn_ahead"][0]
    assert ahead in (2, 3)  # the two strokes kept after the undo, and maybe the last one
    assert mask[100, 400] == 1.0 and mask[200, 400] == 1.0 and mask[450, 400] == 1.0 and mask[300, 400] == 0.0
    assert agree(shown, mask) >= 0.99 and np.abs(shown - mask * 255).max() <= 1.0
    assert "closed" in repr(drafts)


def test_eraser_undo_and_redo(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(1, 800, 600))
    open_painter(page)
    drag(page, [(100, 300), (700, 300)])
    page.keyboard.press("e")
    assert page.locator(f"{DIALOG} [data-action='tool-erase']").get_attribute("aria-pressed") == "true"
    drag(page, [(400, 100), (400, 500)])
    assert shown_mask(page)[300, 400] == 0 and shown_mask(page)[300, 200] == 255
    page.keyboard.press("Control+z")  # the erase is undone
    assert shown_mask(page)[300, 400] == 255
    page.keyboard.press("Control+Shift+Z")  # and redone
    assert shown_mask(page)[300, 400] == 0
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+y")
    assert shown_mask(page)[300, 400] == 0
    page.locator(f"{DIALOG} [data-action='undo']").click()
    page.locator(f"{DIALOG} [data-action='undo']").click()
    assert not shown_mask(page).any() and page.locator(f"{DIALOG} [data-action='undo']").is_disabled()
    page.locator(f"{DIALOG} [data-action='redo']").click()
    assert painter_ops(page) == 1
    page.keyboard.press("b")
    page.locator(f"{DIALOG} [data-action='invert']").click()  # whole-mask operations are undoable too
    assert shown_mask(page)[300, 200] == 0 and shown_mask(page)[10, 10] == 255
    shown = shown_mask(page)
    page.keyboard.press("Enter")
    mask = output_mask(run)
    assert mask[300, 200] == 0.0 and mask[10, 10] == 1.0 and agree(shown, mask) == 1.0


def test_zoom_keeps_the_brush_under_the_cursor(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(1, 2048, 2048))
    open_painter(page)
    # A mouse event's position is in whole CSS pixels: aim at one.
    cx, cy = (round(v) for v in client_point(page, 1234.0, 567.0))
    page.mouse.move(cx, cy)
    before = view(page)["scale"]
    scale_over = (
        "() => document.querySelector(\"section.hitl-card[data-kind='mask-painter']\").hitlMaskPainter.scale > {}"
    )
    page.mouse.wheel(0, -240)  # zoom in around the pointer, 1.43 at a time
    page.wait_for_function(scale_over.format(before * 1.4))
    # Measured once zoomed: the view no longer follows a late change of the dialog's layout (a
    # font or a button arriving refits a fitted view), so the zooms are all that move it.
    target = image_point(page, cx, cy)
    for _ in range(5):
        page.mouse.wheel(0, -240)
    page.wait_for_function(scale_over.format(before * 8.5))
    x, y = image_point(page, cx, cy)
    assert abs(x - target[0]) < 0.01 and abs(y - target[1]) < 0.01  # the same image point under the cursor
    # Zoomed in beyond the preview's detail: the full-size image replaces it.
    page.wait_for_function(
        "document.querySelector(\"section.hitl-card[data-kind='mask-painter'] .hitl-mp-view img\").dataset.size === 'full'"
    )
    page.keyboard.press("[")  # a smaller brush
    page.mouse.down()
    page.mouse.up()
    page.locator(SEND).click()
    mask = output_mask(run)
    assert mask[int(target[1]), int(target[0])] == 1.0
    ys, xs = np.nonzero(mask)
    assert abs(xs.mean() + 0.5 - target[0]) < 0.5 and abs(ys.mean() + 0.5 - target[1]) < 0.5


def test_pan_with_space_drag_and_fit(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(1, 640, 480))
    open_painter(page)
    start = client_point(page, 320, 240)
    page.keyboard.down(" ")
    page.mouse.move(*start)
    page.mouse.down()
    # Measured once the pan has begun: the view no longer follows a late change of the
    # dialog's layout (a font or a button arriving refits a fitted view), so the drag is
    # all that moves it from here.
    fitted = view(page)
    page.mouse.move(start[0] + 100, start[1] + 50, steps=5)
    page.mouse.up()
    page.keyboard.up(" ")
    moved = view(page)
    assert moved["tx"] == pytest.approx(fitted["tx"] + 100, abs=1) and moved["ty"] == pytest.approx(
        fitted["ty"] + 50, abs=1
    )
    assert painter_ops(page) == 0  # panning paints nothing
    page.keyboard.press("f")
    assert view(page)["tx"] == pytest.approx(fitted["tx"], abs=0.5)
    page.locator(f"{DIALOG} [data-action='cancel']").click()
    assert run.wait().status == "interrupted"


# --------------------------------------------------------------------- touch
def touch(cdp: Any, kind: str, points: list[tuple[float, float]]) -> None:
    cdp.send(
        "Input.dispatchTouchEvent",
        {"type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]},
    )


def test_touch_paints_with_one_finger_and_pinches_with_two(host: HarnessHost, browser: Any, served: Any) -> None:
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(served.url)
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        run = queue(host, pattern(1, 1024, 1024), title="Paint on the phone")
        open_painter(page)
        cdp = context.new_cdp_session(page)
        # One finger paints.
        path = [client_point(page, 200 + 30 * i, 500) for i in range(21)]
        touch(cdp, "touchStart", [path[0]])
        for point in path[1:]:
            touch(cdp, "touchMove", [point])
        touch(cdp, "touchEnd", [])
        assert painter_ops(page) == 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "mask-painter-phone.png"))
        # Two fingers pinch: the view zooms about their midpoint, and nothing is painted.
        before = view(page)
        mid = client_point(page, 512, 300)
        touch(cdp, "touchStart", [(mid[0] - 40, mid[1])])
        touch(cdp, "touchStart", [(mid[0] - 40, mid[1]), (mid[0] + 40, mid[1])])
        for step in range(1, 11):
            touch(cdp, "touchMove", [(mid[0] - 40 - 6 * step, mid[1]), (mid[0] + 40 + 6 * step, mid[1])])
        touch(cdp, "touchEnd", [])
        after = view(page)
        assert after["scale"] == pytest.approx(before["scale"] * 2.5, rel=0.05)
        x, y = image_point(page, *mid)
        assert abs(x - 512) < 2 and abs(y - 300) < 2
        assert painter_ops(page) == 1
        page.locator(SEND).tap()
        mask = output_mask(run)
        assert mask[500, 250:750].min() == 1.0 and mask[300, 512] == 0.0
    finally:
        context.close()


# ------------------------------------------------------------------- batches
def test_a_mask_per_image_then_the_same_mask_for_all(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(3, 400, 300))
    open_painter(page)
    drag(page, [(50, 50), (150, 50)])
    page.locator(f"{DIALOG} .hitl-mp-thumb[data-index='2']").click()
    open_painter(page, 2)
    assert not shown_mask(page).any()  # image 3 has its own, empty mask
    drag(page, [(300, 250), (350, 250)])
    page.keyboard.press("ArrowLeft")
    open_painter(page, 1)
    page.keyboard.press("ArrowLeft")
    open_painter(page, 0)
    assert shown_mask(page)[50, 100] == 255 and shown_mask(page)[250, 320] == 0
    assert page.locator(f"{DIALOG} .hitl-mp-thumb[data-painted='true']").count() == 2
    page.locator(SEND).click()
    assert run.wait().status == "success"
    masks = np.asarray(run.outputs[0]["result"][0])
    assert masks[0, 50, 100] == 1 and masks[2, 250, 320] == 1 and not masks[1].any()
    assert masks[0, 250, 320] == 0 and masks[2, 50, 100] == 0

    run = queue(host, pattern(3, 400, 300))
    page.wait_for_selector(READY)
    drag(page, [(50, 50), (150, 50)])
    page.locator(f"{DIALOG} [data-role='same-for-all']").check()  # what was painted becomes everyone's
    page.keyboard.press("ArrowRight")
    open_painter(page, 1)
    assert shown_mask(page)[50, 100] == 255
    drag(page, [(200, 200), (250, 200)])
    page.locator(SEND).click()
    assert run.wait().status == "success"
    masks = np.asarray(run.outputs[0]["result"][0])
    assert masks[:, 50, 100].tolist() == [1, 1, 1] and masks[:, 200, 220].tolist() == [1, 1, 1]
    assert np.array_equal(masks[0], masks[2])


def test_the_input_mask_is_shown_and_painted_on(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    start = np.zeros((300, 400), np.float32)
    start[:, :100] = 0.5
    start[:, 100:200] = 1.0
    run = queue(host, pattern(1, 400, 300), mask=start)
    open_painter(page)
    shown = shown_mask(page)
    assert shown[150, 50] == 128 and shown[150, 150] == 255 and shown[150, 300] == 0
    page.keyboard.press("e")
    drag(page, [(150, 20), (150, 280)])
    page.keyboard.press("b")
    drag(page, [(350, 20), (350, 280)])
    shown = shown_mask(page)
    page.keyboard.press("Enter")
    mask = output_mask(run)
    assert mask[150, 50] == 0.5 and mask[150, 150] == 0.0 and mask[150, 350] == 1.0 and mask[150, 120] == 1.0
    assert agree(shown, mask) >= 0.99


# ----------------------------------------------------- keys, reload, timeouts
def test_keys_change_the_brush_and_enter_sends(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(1, 512, 512))
    dialog = open_painter(page)
    size = dialog.locator(".hitl-mp-value").first
    before = int(size.inner_text().removesuffix("px"))
    page.keyboard.press("]")
    page.keyboard.press("]")
    grown = int(size.inner_text().removesuffix("px"))
    page.keyboard.press("[")
    assert grown > before and int(size.inner_text().removesuffix("px")) < grown
    hardness = dialog.locator("[data-role='hardness']")
    value = int(hardness.input_value())
    page.keyboard.press("{")
    assert int(hardness.input_value()) == value - 10
    page.keyboard.press("x")
    assert dialog.locator("[data-action='tool-erase']").get_attribute("aria-pressed") == "true"
    page.keyboard.press("x")
    drag(page, [(100, 100), (400, 400)])
    page.keyboard.press("Enter")
    assert output_mask(run)[250, 250] == 1.0
    dialog.wait_for(state="detached")

    run = queue(host, pattern(1, 512, 512))
    open_painter(page)
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_enter_on_a_focused_button_presses_that_button(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(1, 256, 256))
    dialog = open_painter(page)
    drag(page, [(20, 20), (200, 200)])
    dialog.locator("[data-action='undo']").focus()
    page.keyboard.press("Enter")  # undoes, does not send
    assert painter_ops(page) == 0 and host.registry.waiting_count() == 1
    dialog.locator("[data-action='cancel']").focus()
    page.keyboard.press("Enter")
    assert run.wait().status == "interrupted"


def test_a_reload_keeps_the_painting(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(2, 320, 240))
    open_painter(page)
    page.keyboard.press("ArrowRight")
    open_painter(page, 1)
    drag(page, [(20, 20), (300, 220)])
    shown = shown_mask(page)
    page.reload()
    page.wait_for_function("window.__harnessReady === true")
    open_painter(page, 1)  # the same image, with its strokes
    assert np.array_equal(shown_mask(page), shown)
    page.keyboard.press("Control+z")
    assert not shown_mask(page).any()  # undo works on the restored strokes
    page.keyboard.press("Control+Shift+z")
    page.locator(SEND).click()
    assert run.wait().status == "success"
    assert np.asarray(run.outputs[0]["result"][0])[1, 120, 160] == 1.0


@pytest.mark.parametrize(
    ("action", "status", "text"),
    [
        ("send input mask", "success", "the input mask is sent"),
        ("send empty mask", "success", "an empty mask is sent"),
        ("cancel run", "interrupted", "the run is cancelled"),
    ],
)
def test_timeout_countdown_and_action(host: HarnessHost, open_page: Any, action: str, status: str, text: str) -> None:
    page = open_page()
    run = queue(host, pattern(1, 200, 200), timeout_seconds=1, on_timeout=action)
    dialog = open_painter(page)
    assert text in dialog.locator("[data-role='on-timeout']").inner_text()
    assert re.fullmatch(r"0:0[01]", dialog.locator("[data-role='countdown']").inner_text())
    assert run.wait(5).status == status
    dialog.wait_for(state="detached")


def test_a_mask_too_complex_to_send_is_held_back(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, pattern(1, 256, 256))
    open_painter(page)
    # Huge brushes swept many times: more drawing than the server allows for this image.
    page.evaluate(
        """() => { const p = document.querySelector("section.hitl-card[data-kind='mask-painter']").hitlMaskPainter;
            for (let i = 0; i < 120; i++) p.activeDoc.apply({op: 'brush', size: 4096, hardness: 0, points: [0, 0, 1024, 1024]});
            p.changed(); }"""
    )
    page.locator(SEND).click()
    assert "too many large strokes" in page.locator(f"{DIALOG} [data-role='error']").inner_text()
    assert host.registry.waiting_count() == 1
    page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"


def test_hostile_title_and_node_label_are_shown_as_text(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    run = queue(
        host, pattern(1, 64, 64), title=hostile, extra_pnginfo={"workflow": {"nodes": [{"id": 1, "title": hostile}]}}
    )
    dialog = open_painter(page)
    assert dialog.locator(".hitl-title").inner_text() == hostile
    assert dialog.locator("script").count() == 0 and page.evaluate("window.__pwned") is None
    dialog.locator("[data-action='cancel']").click()
    assert run.wait().status == "interrupted"


def test_screenshot_on_a_laptop(host: HarnessHost, open_page: Any) -> None:
    page = open_page({"width": 1280, "height": 800})
    run = queue(
        host,
        pattern(4, 1024, 768),
        title="Mask the sky to repaint it",
        timeout_seconds=300,
        on_timeout="send input mask",
    )
    open_painter(page)
    drag(page, [(80, 60), (900, 60), (900, 180), (80, 180), (80, 300), (700, 300)])
    page.keyboard.press("ArrowRight")
    open_painter(page, 1)
    drag(page, [(300, 100), (600, 120)])
    page.keyboard.press("ArrowLeft")
    open_painter(page, 0)
    page.mouse.move(*client_point(page, 760, 420))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "mask-painter-1280x800.png"))
    page.locator(SEND).click()
    assert run.wait().status == "success"
