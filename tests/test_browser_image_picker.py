"""The image picker's dialog in headless Chromium, on the harness (real routes, real web/
modules, the real node): picking by click and by keyboard, zoom, the Send button, Cancel,
timeout actions, and a reload mid-wait."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from harness.batches import distinct_colours
from harness.host import HarnessHost, Run

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
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url) if "/images/" in request.url else None)
    batch = colour_batch(5)
    run = queue(host, batch)
    dialog = open_dialog(page)
    wait_thumbnails(page, 5)
    request_id = dialog.get_attribute("data-request-id")
    # Thumbnails come from our route only, by request id and index.
    assert sorted(requested) == sorted(
        f"{page.url.rstrip('/')}/api/hitl/requests/{request_id}/images/{i}?size=thumb" for i in range(5)
    )
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
