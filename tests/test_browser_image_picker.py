"""The image picker's dialog in headless Chromium, on the harness (real routes, real web/
modules, the real node): picking by click and by keyboard, zoom, the Send button, Cancel,
timeout actions, and a reload mid-wait."""

from __future__ import annotations

import re
import threading
from typing import Any

import numpy as np
import pytest

from dev.harness.batches import distinct_colours
from dev.harness.host import HarnessHost, Run
from dev.harness.pack import ROOT, submodule

pytestmark = pytest.mark.browser

DIALOG = "section.hitl-card[data-kind='image-picker']"
TILE = f"{DIALOG} .hitl-pick-tile"
SEND = f"{DIALOG} [data-action='primary']"


def colour_batch(count: int, size: int = 64) -> np.ndarray:
    """Image i is a solid colour of its own, so an output tells which images were picked."""
    colours = np.asarray(distinct_colours(count), np.float32)
    return np.ascontiguousarray(np.broadcast_to(colours[:, None, None, :], (count, size, size, 3)))


def picked_of(run: Run, batch: np.ndarray) -> list[int]:
    """Which images of ``batch`` the run output, in output order."""
    output = run.outputs[0]["result"][0]
    return [int(np.argmin(np.abs(batch[:, 0, 0] - frame[0, 0]).sum(axis=1))) for frame in np.asarray(output)]


def queue(host: HarnessHost, batch: np.ndarray, **options: Any) -> Run:
    inputs = {
        "images": batch,
        "mode": "always ask",
        "min_picks": 1,
        "max_picks": 0,
        "title": "Pick",
        "timeout_seconds": 0,
        "on_timeout": "cancel run",
        **options,
    }
    return host.submit("HitlImagePicker", inputs)


def open_dialog(page: Any) -> Any:
    dialog = page.locator(DIALOG)
    dialog.wait_for()
    return dialog


def wait_thumbnails(page: Any, count: int) -> None:
    page.wait_for_function(
        """(count) => {
            const images = [...document.querySelectorAll("section.hitl-card[data-kind='image-picker'] .hitl-pick-tile img")];
            return images.length === count && images.every((img) => img.complete && img.naturalWidth > 0);
        }""",
        arg=count,
    )


def badges(page: Any) -> dict[int, str]:
    """Pick-order badge text of each picked tile, by tile index."""
    found = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll(".hitl-pick-tile")]
            .filter((tile) => tile.getAttribute("aria-selected") === "true")
            .map((tile) => [tile.dataset.index, tile.querySelector(".hitl-pick-order").textContent]))"""
    )
    return {int(index): text for index, text in found.items()}


def test_pick_by_click_shows_the_order_and_sends_it(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    requested: list[tuple[str, str, Any]] = []
    page.on(
        "request",
        lambda request: (
            requested.append((request.method, request.url, request.post_data_json))
            if "/hitl/requests/" in request.url
            else None
        ),
    )
    batch = colour_batch(5)
    run = queue(host, batch)
    dialog = open_dialog(page)
    wait_thumbnails(page, 5)
    request_id = dialog.get_attribute("data-request-id")
    # Every thumbnail comes in one streamed request to our route, by request id, top first.
    assert requested == [
        ("POST", f"{page.url.rstrip('/')}/api/hitl/requests/{request_id}/thumbnails", {"order": [0, 1, 2, 3, 4]})
    ]
    assert page.locator(SEND).is_disabled()
    page.locator(TILE).nth(3).click()
    page.locator(TILE).nth(1).click()
    page.locator(TILE).nth(4).click()
    page.locator(TILE).nth(4).click()  # a second click unpicks
    assert badges(page) == {3: "1", 1: "2"}
    assert page.locator(f"{DIALOG} [data-role='pick-status']").inner_text().startswith("2 of 5 picked")
    page.locator(SEND).click()
    assert run.wait().status == "success"
    assert picked_of(run, batch) == [3, 1]
    dialog.wait_for(state="detached")


def test_pick_by_keyboard(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    batch = colour_batch(12, 32)
    run = queue(host, batch)
    open_dialog(page)
    page.keyboard.press("2")  # 20 > 12: no second digit can follow, picked at once
    page.keyboard.press("1")
    page.keyboard.press("2")  # "1" then "2": image 12
    assert badges(page) == {1: "1", 11: "2"}
    page.keyboard.press("1")  # could become 10, 11 or 12: it waits for a second digit...
    page.keyboard.press("Enter")  # ...but any other key picks it first, so Enter sends it
    assert run.wait().status == "success"
    assert picked_of(run, batch) == [1, 11, 0]
    page.locator(DIALOG).wait_for(state="detached")
    run = queue(host, batch)
    open_dialog(page)
    page.keyboard.press("2")
    page.keyboard.press("Control+a")
    assert len(badges(page)) == 12 and badges(page)[1] == "1" and badges(page)[0] == "2"
    page.keyboard.press("Control+Shift+A")
    assert badges(page) == {}
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("x")
    columns = page.evaluate(
        "() => { const t = [...document.querySelectorAll('.hitl-pick-tile')]; return t.filter((x) => x.offsetTop === t[0].offsetTop).length; }"
    )
    page.keyboard.press("ArrowDown")
    page.keyboard.press("x")
    assert badges(page) == {2: "1", min(2 + columns, 11): "2"}
    page.keyboard.press("Enter")
    assert run.wait().status == "success"
    assert picked_of(run, batch) == [2, min(2 + columns, 11)]


def test_send_is_disabled_until_the_count_fits(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    batch = colour_batch(6, 32)
    run = queue(host, batch, min_picks=2, max_picks=3)
    open_dialog(page)
    send = page.locator(SEND)
    assert send.is_disabled()
    page.keyboard.press("1")
    assert send.is_disabled()
    assert "1 more to go" in page.locator(f"{DIALOG} [data-role='pick-status']").inner_text()
    page.keyboard.press("Enter")  # not valid yet: nothing is sent
    assert page.locator(f"{DIALOG} [data-role='error']").inner_text().startswith("Pick 2 to 3")
    assert host.registry.waiting_count() == 1
    page.keyboard.press("2")
    assert send.is_enabled()
    page.keyboard.press("3")
    page.keyboard.press("4")  # a fourth is refused: at most 3
    assert badges(page) == {0: "1", 1: "2", 2: "3"}
    assert "At most 3" in page.locator(f"{DIALOG} [data-role='error']").inner_text()
    page.keyboard.press("Control+Shift+a")
    page.keyboard.press("Control+a")  # all, up to the maximum
    assert badges(page) == {0: "1", 1: "2", 2: "3"}
    send.click()
    assert picked_of(run.wait(), batch) == [0, 1, 2]


def test_zoom_loads_the_full_image_on_demand(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    full_requests: list[str] = []
    page.on("request", lambda request: full_requests.append(request.url) if "size=full" in request.url else None)
    batch = colour_batch(3, 600)  # thumbnails are 300 px wide, full size 600
    run = queue(host, batch)
    open_dialog(page)
    wait_thumbnails(page, 3)
    assert full_requests == []  # nothing full size before a zoom
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    zoom = page.locator(f"{DIALOG} [data-role='zoom']")
    zoom.wait_for()
    page.wait_for_function("document.querySelector(\"[data-role='zoom'] img\").dataset.size === 'full'")
    assert zoom.locator("img").evaluate("(img) => img.naturalWidth") == 600
    assert len(full_requests) == 1 and re.search(r"/images/1\?size=full$", full_requests[0])
    assert "Image 2 of 3" in zoom.inner_text()
    page.keyboard.press("x")  # pick from the zoom
    assert "picked #1" in zoom.inner_text()
    page.keyboard.press("ArrowRight")
    assert "Image 3 of 3" in zoom.inner_text()
    page.keyboard.press("Escape")  # closes the zoom, does not cancel the run
    zoom.wait_for(state="hidden")
    assert host.registry.waiting_count() == 1
    page.locator(TILE).nth(0).locator("[data-action='zoom']").click()  # the zoom button
    zoom.wait_for()
    assert "Image 1 of 3" in zoom.inner_text()
    page.keyboard.press(" ")
    zoom.wait_for(state="hidden")
    assert badges(page) == {1: "1"}
    page.keyboard.press("Enter")
    assert picked_of(run.wait(), batch) == [1]


@pytest.mark.parametrize("how", ["button", "escape"])
def test_cancel_ends_the_run_as_interrupted(host: HarnessHost, open_page: Any, how: str) -> None:
    page = open_page()
    run = queue(host, colour_batch(3))
    dialog = open_dialog(page)
    page.keyboard.press("1")
    if how == "button":
        dialog.locator("[data-action='cancel']").click()
    else:
        page.keyboard.press("Escape")
    assert run.wait().status == "interrupted"
    dialog.wait_for(state="detached")
    assert host.registry.waiting_count() == 0


@pytest.mark.parametrize(
    ("action", "status", "picked", "text"),
    [
        ("send all", "success", [0, 1, 2], "all images are sent"),
        ("send first", "success", [0], "the first image is sent"),
        ("cancel run", "interrupted", None, "the run is cancelled"),
    ],
)
def test_timeout_actions(
    host: HarnessHost, open_page: Any, action: str, status: str, picked: list[int] | None, text: str
) -> None:
    page = open_page()
    batch = colour_batch(3)
    run = queue(host, batch, timeout_seconds=1, on_timeout=action, max_picks=1)
    dialog = open_dialog(page)
    assert text in dialog.locator("[data-role='on-timeout']").inner_text()
    assert re.fullmatch(r"0:0[01]", dialog.locator("[data-role='countdown']").inner_text())
    page.keyboard.press("2")  # a pick not sent does not count
    assert run.wait(5).status == status
    if picked is not None:
        assert picked_of(run, batch) == picked
    dialog.wait_for(state="detached")


def test_reload_mid_wait_keeps_the_dialog_its_picks_and_thumbnails(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    batch = colour_batch(6)
    run = queue(host, batch)
    open_dialog(page)
    page.keyboard.press("5")
    page.keyboard.press("2")
    page.reload()
    page.wait_for_function("window.__harnessReady === true")
    open_dialog(page)
    wait_thumbnails(page, 6)
    assert badges(page) == {4: "1", 1: "2"}
    page.locator(SEND).click()
    assert picked_of(run.wait(), batch) == [4, 1]


def test_grid_is_responsive(host: HarnessHost, open_page: Any) -> None:
    wide, narrow = open_page({"width": 1400, "height": 900}), open_page({"width": 420, "height": 800})
    run = queue(host, colour_batch(8))
    columns = []
    for page in (wide, narrow):
        open_dialog(page)
        columns.append(
            page.evaluate(
                "() => { const t = [...document.querySelectorAll('.hitl-pick-tile')]; return t.filter((x) => x.offsetTop === t[0].offsetTop).length; }"
            )
        )
    assert columns[0] >= 4 and columns[1] <= 2, columns
    narrow.locator(f"{DIALOG} [data-action='cancel']").click()
    assert run.wait().status == "interrupted"


def test_hostile_title_and_node_label_are_shown_as_text(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    run = queue(
        host, colour_batch(2), title=hostile, extra_pnginfo={"workflow": {"nodes": [{"id": 1, "title": hostile}]}}
    )
    dialog = open_dialog(page)
    assert dialog.locator(".hitl-title").inner_text() == hostile
    assert hostile in dialog.locator(".hitl-subtitle").inner_text()
    wait_thumbnails(page, 2)
    # The only images are the two thumbnails our own code made; no script ran.
    assert dialog.locator("img").count() == 2 and dialog.locator("script").count() == 0
    assert page.evaluate("window.__pwned") is None
    dialog.locator("[data-action='cancel']").click()
    assert run.wait().status == "interrupted"


# ------------------------------------------------- clips, click sends, big batches
ARTIFACTS = ROOT / "test-artifacts"


def wait_clips_ready(page: Any, count: int) -> None:
    page.wait_for_function(
        "(count) => document.querySelectorAll(\".hitl-pick-tile[data-clip='ready']\").length === count", arg=count
    )


def sources_seen(page: Any, index: int, wanted: int) -> set[str]:
    """The image sources tile ``index`` shows, watched until ``wanted`` different ones were seen."""
    handle = page.wait_for_function(
        """([index, wanted]) => {
            const seen = (window.__hitlSeen ??= {});
            const image = document.querySelectorAll('.hitl-pick-tile img')[index];
            (seen[index] ??= new Set()).add(image.getAttribute('src'));
            return seen[index].size >= wanted ? [...seen[index]] : false;
        }""",
        arg=[index, wanted],
        polling="raf",
    )
    return set(handle.json_value())


def test_clips_play_and_are_picked_as_one(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    batch = colour_batch(16)  # 4 clips of 4 frames, every frame its own colour
    run = queue(host, batch, frames_per_item=4)
    dialog = open_dialog(page)
    assert page.locator(TILE).count() == 4
    wait_thumbnails(page, 4)  # a still first frame on every tile
    wait_clips_ready(page, 4)
    assert dialog.locator("[data-role='clip']").first.inner_text() == "4 frames"
    first = page.locator(f"{TILE} img").nth(1).get_attribute("src")
    page.wait_for_timeout(300)  # hover mode: nothing plays until hovered
    assert page.locator(f"{TILE} img").nth(1).get_attribute("src") == first
    page.locator(TILE).nth(1).hover()
    assert len(sources_seen(page, 1, 4)) == 4  # the clip loops through its 4 frames
    dialog.locator("[data-role='frame-rate']").select_option("24")
    dialog.locator("[data-role='play-mode']").select_option("always")
    page.mouse.move(0, 0)
    assert len(sources_seen(page, 3, 4)) == 4  # "always": clips play without hover
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "picker-clips.png"))
    page.locator(TILE).nth(3).click()
    page.keyboard.press("1")
    assert badges(page) == {3: "1", 0: "2"}
    page.locator(SEND).click()
    assert run.wait().status == "success"
    assert picked_of(run, batch) == [12, 13, 14, 15, 0, 1, 2, 3]
    assert [int(np.asarray(run.outputs[0]["result"][5]).shape[0])] == [8]  # the rejects: clips 1 and 2
    # The settings are remembered in this browser.
    run = queue(host, batch, frames_per_item=4)
    dialog = open_dialog(page)
    assert dialog.locator("[data-role='frame-rate']").input_value() == "24"
    assert dialog.locator("[data-role='play-mode']").input_value() == "always"
    dialog.locator("[data-action='cancel']").click()
    assert run.wait().status == "interrupted"


def test_zoom_plays_a_clip(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    run = queue(host, colour_batch(6), frames_per_item=3)
    dialog = open_dialog(page)
    wait_clips_ready(page, 2)
    page.keyboard.press(" ")
    zoom = dialog.locator("[data-role='zoom']")
    zoom.wait_for()
    assert "Clip 1 of 2 · 3 frames" in zoom.inner_text()
    seen = page.wait_for_function(
        """() => { const s = (window.__zoomSeen ??= new Set());
            s.add(document.querySelector("[data-role='zoom'] img").getAttribute('src')); return s.size >= 3; }""",
        polling="raf",
    )
    assert seen
    page.keyboard.press("x")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    assert picked_of(run.wait(), colour_batch(6)) == [0, 1, 2]


@pytest.mark.parametrize("how", ["click", "digit", "tap"])
def test_click_sends_sends_on_one_pick(host: HarnessHost, open_page: Any, how: str) -> None:
    page = open_page(**({"has_touch": True} if how == "tap" else {}))
    batch = colour_batch(4)
    run = queue(host, batch, max_picks=1, click_sends=True)
    dialog = open_dialog(page)
    assert "pick and send" in dialog.locator(".hitl-pick-help").inner_text()
    if how == "click":
        page.locator(TILE).nth(2).click()
    elif how == "digit":
        page.keyboard.press("3")
    else:
        page.locator(TILE).nth(2).tap()
    assert run.wait().status == "success" and picked_of(run, batch) == [2]
    dialog.wait_for(state="detached")


def test_a_preset_is_picked_when_the_dialog_opens(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    batch = colour_batch(8)
    run = queue(host, batch, preset="0,-1", max_picks=3)
    open_dialog(page)
    assert badges(page) == {0: "1", 7: "2"}
    page.keyboard.press("Enter")
    assert picked_of(run.wait(), batch) == [0, 7]


def test_picked_only_shows_the_picks_and_moves_among_them(host: HarnessHost, open_page: Any) -> None:
    page = open_page()
    batch = colour_batch(8)
    run = queue(host, batch)
    dialog = open_dialog(page)
    page.keyboard.press("p")
    assert dialog.locator("[data-role='picked-only-empty']").is_visible()
    page.keyboard.press("p")
    for key in ("6", "2", "5"):
        page.keyboard.press(key)
    dialog.locator("[data-action='picked-only']").click()
    assert dialog.locator("[data-action='picked-only']").get_attribute("aria-pressed") == "true"
    shown = page.evaluate(
        "() => [...document.querySelectorAll('.hitl-pick-tile')].filter((t) => t.offsetParent).map((t) => +t.dataset.index)"
    )
    assert shown == [1, 4, 5]
    page.locator(TILE).nth(1).focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")  # from image 2 to image 5, the next shown
    page.keyboard.press("x")  # unpicks image 5: it leaves the view
    shown = page.evaluate(
        "() => [...document.querySelectorAll('.hitl-pick-tile')].filter((t) => t.offsetParent).map((t) => +t.dataset.index)"
    )
    assert shown == [1, 5] and badges(page) == {5: "1", 1: "2"}
    page.keyboard.press("p")
    assert page.locator(f"{TILE}:visible").count() == 8
    page.keyboard.press("Enter")
    assert picked_of(run.wait(), batch) == [5, 1]


@pytest.mark.parametrize("count", [256, 600])
def test_a_big_batch_loads_nearest_first_scrolls_and_picks(
    host: HarnessHost, open_page: Any, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    # Thumbnails past the first 64 wait for the test, so scrolling happens before they exist.
    images = submodule("images.batches")
    gate = threading.Event()
    make = images.BatchImages._thumbnail

    def gated(self: Any, index: int) -> bytes:
        if index >= 64:
            gate.wait(30)
        return make(self, index)

    monkeypatch.setattr(images.BatchImages, "_thumbnail", gated)
    page = open_page()
    orders: list[list[int]] = []
    page.on(
        "request",
        lambda request: orders.append(request.post_data_json["order"]) if "/thumbnails" in request.url else None,
    )
    batch = colour_batch(count, 8)
    last = count - 1
    run = queue(host, batch)
    try:
        dialog = open_dialog(page)
        page.wait_for_function("document.querySelectorAll('.hitl-pick-tile img[data-loaded]').length >= 12")
        assert orders[0][:3] == [0, 1, 2]  # the first stream starts at the top
        body = dialog.locator(".hitl-body")
        with page.expect_request(
            lambda request: "/thumbnails" in request.url and request.post_data_json["order"][0] > count - 60
        ):
            body.evaluate("(element) => { element.scrollTop = element.scrollHeight; }")
        # Scrolled to the end: the newest stream asks for the tiles on screen first, at the bottom.
        assert min(orders[-1][:8]) > count - 60, orders[-1][:8]
    finally:
        gate.set()
    page.wait_for_function(
        "(last) => document.querySelectorAll('.hitl-pick-tile img')[last].dataset.loaded === 'true'", arg=last
    )
    # Far-off tiles (over 320 items away) let their image go: memory stays bounded.
    first_src = page.evaluate("() => document.querySelectorAll('.hitl-pick-tile img')[0].getAttribute('src')")
    assert (first_src is None) == (count > 400), count
    for key in str(count):
        page.keyboard.press(key)
    page.locator(TILE).nth(last - 9).click()
    body.evaluate("(element) => { element.scrollTop = 0; }")
    page.wait_for_function(
        "() => { const image = document.querySelectorAll('.hitl-pick-tile img')[0]; return !!image.getAttribute('src') && image.complete; }"
    )
    page.locator(TILE).nth(0).click()
    assert badges(page) == {last: "1", last - 9: "2", 0: "3"}
    page.keyboard.press("Enter")
    assert picked_of(run.wait(), batch) == [last, last - 9, 0]


def test_the_picker_works_by_touch_on_a_phone(host: HarnessHost, open_page: Any) -> None:
    page = open_page({"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2)
    batch = colour_batch(12)
    run = queue(host, batch, frames_per_item=2, min_picks=2)
    dialog = open_dialog(page)
    wait_clips_ready(page, 6)
    page.locator(TILE).nth(4).tap()
    page.locator(TILE).nth(1).tap()
    assert badges(page) == {4: "1", 1: "2"}
    assert len(sources_seen(page, 1, 2)) == 2  # no hover on a phone: the tapped clip plays
    dialog.locator("[data-action='picked-only']").tap()
    assert page.locator(f"{TILE}:visible").count() == 2
    send = dialog.locator("[data-action='primary']")
    box = send.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "picker-phone-clips.png"))
    send.tap()
    assert picked_of(run.wait(), batch) == [8, 9, 2, 3]
