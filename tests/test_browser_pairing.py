"""A phone pairs with the pack's own listener and answers there (headless Chromium as a 390×844
touch phone): the stand-in ComfyUI on 127.0.0.1, the listener on 127.0.0.2. Unpaired, the page
shows only how to pair; the pairing link pairs it (the secret leaves the address bar), the list
follows the listener's event stream, every kind of dialog answers by tap; a deep link waits
for the pairing; an unpaired device is sent back to the pairing screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from remote_helpers import FakeClock, Paired, call, start_paired
from test_browser_image_picker import colour_batch, picked_of
from test_browser_inbox import PHONE, SEND, card, doubler, row, value_prompt, waiting_id
from test_browser_mask_painter import client_point, touch

from dev.harness.host import HarnessHost, NodeCall

pytestmark = pytest.mark.browser

PAIRING = "[data-role='pairing']"


@pytest.fixture
def paired(host: HarnessHost) -> Iterator[Paired]:
    setup = start_paired(host, FakeClock())
    try:
        yield setup
    finally:
        setup.server.stop()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone's browser context; fails the test on page errors."""
    context = browser.new_context(**PHONE)
    errors: list[str] = []

    def watch(page: Any) -> None:
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
        )

    context.on("page", watch)
    yield context
    context.close()
    assert not errors, f"page errors: {errors}"


def ready(page: Any) -> None:
    page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")


def test_an_unpaired_phone_sees_only_how_to_pair(paired: Paired, phone: Any) -> None:
    run = value_prompt(paired.host, title="Secret title of a request")
    waiting_id(paired.host, run)
    page = phone.new_page()
    page.goto(f"{paired.listener}/hitl/inbox")
    page.locator(PAIRING).wait_for()
    text = page.locator("body").inner_text()
    assert "Pair this phone" in text and "Secret title" not in text
    assert "Waiting" not in text and page.locator("[data-role='count']").is_hidden()
    assert page.title() == "Inbox · human in the loop"
    assert page.evaluate("() => window.hitlInbox") is None
    # Touch targets: the field and the button are thumb-sized.
    for target in (page.locator("#pairing-link"), page.get_by_role("button", name="Pair")):
        box = target.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
    # A wrong link says so, and changes nothing.
    page.locator("#pairing-link").fill(f"{paired.listener}/hitl/inbox#pair={'x' * 32}")
    page.get_by_role("button", name="Pair").tap()
    page.get_by_text("wrong, expired or already used").wait_for()
    assert call(paired.comfy, "GET", "/hitl/devices").json()["devices"] == []
    paired.host.registry.reset_all()
    run.wait()


def test_scan_pairs_and_every_dialog_answers_by_tap(paired: Paired, phone: Any) -> None:
    host = paired.host
    link = paired.pairing_link("Test phone")
    page = phone.new_page()
    page.goto(link)
    ready(page)
    # The secret is out of the address bar, and the cookie is one scripts cannot read.
    assert "#pair" not in page.url and page.url.endswith("/hitl/inbox")
    assert page.evaluate("() => document.cookie") == ""
    cookie = next(c for c in phone.cookies() if c["name"] == "hitl_device")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    assert page.evaluate("() => window.hitlInbox.api.constructor.name") == "ListenerApi"
    page.locator("[data-role='connection'][data-connected='true']").wait_for()

    # Doubler.
    run = doubler(host, 21)
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    card(page, request_id).wait_for()
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"] == (42,)
    row(page, request_id).wait_for(state="detached")
    by = host.audit.find(request_id).by
    assert (by["surface"], by["device"]) == ("inbox", "Test phone")
    assert by["client_id"] == page.evaluate("() => window.hitlInbox.api.clientId")

    # Value prompt.
    run = value_prompt(host, minimum="1", maximum="60")
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    card(page, request_id).locator("input[role='spinbutton']").fill("42")
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"][0] == 42

    # Form.
    run = host.submit(
        "HitlForm", {"title": "Next stage", "fields": "steps: INT 1..60 = 20\nstyle: CHOICE photo | ink = ink"}
    )
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    dialog = card(page, request_id)
    dialog.locator("input[role='spinbutton']").fill("33")
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"][0] == {"steps": 33, "style": "ink"}

    # Picker: thumbnails come through the listener too.
    batch = colour_batch(4, 64)
    run = host.submit(
        "HitlImagePicker",
        {"images": batch, "mode": "always ask", "min_picks": 1, "max_picks": 0, "title": "Keep",
         "timeout_seconds": 0, "on_timeout": "cancel run"},
    )  # fmt: skip
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    tiles = card(page, request_id).locator(".hitl-pick-tile")
    tiles.nth(3).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.hitl-pick-tile img')].every((img) => img.complete && img.naturalWidth > 0)"
    )
    tiles.nth(2).tap()
    page.locator(SEND).tap()
    assert run.wait().status == "success"
    assert picked_of(run, batch) == [2]

    # Mask painter: one finger paints, the drafts go through the listener, Send resumes.
    run = host.submit(
        "HitlMaskPainter",
        {"images": colour_batch(1, 256), "title": "Paint", "mode": "always ask", "timeout_seconds": 0,
         "on_timeout": "cancel run"},
    )  # fmt: skip
    request_id = waiting_id(host, run)
    row(page, request_id).tap()
    page.wait_for_selector(f"section.hitl-card[data-request-id='{request_id}'][data-ready='true']")
    cdp = phone.new_cdp_session(page)
    path = [client_point(page, 20 + 10 * i, 128) for i in range(20)]
    touch(cdp, "touchStart", [path[0]])
    for point in path[1:]:
        touch(cdp, "touchMove", [point])
    touch(cdp, "touchEnd", [])
    page.locator(SEND).click()  # (a synthetic stroke ends microseconds before: see test_browser_inbox)
    assert run.wait().status == "success", run.error
    mask = np.asarray(run.outputs[0]["result"][0])[0]
    assert mask[128, 60:180].min() == 1.0 and mask[20, 20] == 0.0
    assert [d["name"] for d in call(paired.comfy, "GET", "/hitl/devices").json()["devices"]] == ["Test phone"]


def test_a_deep_link_waits_for_the_pairing(paired: Paired, phone: Any) -> None:
    host = paired.host
    run = host.submit_many([NodeCall("3", "HitlIntegerDoubler", {"value": 5, "ask_first": True, "timeout_seconds": 0})])
    request_id = waiting_id(host, run)
    # A push's link, tapped on a phone that is not paired yet: the pairing screen...
    page = phone.new_page()
    page.goto(f"{paired.listener}/hitl/inbox?request={request_id}")
    page.locator(PAIRING).wait_for()
    # ... then the QR code, scanned with the camera, opens another tab: that one opens the request.
    scanned = phone.new_page()
    scanned.goto(paired.pairing_link())
    ready(scanned)
    card(scanned, request_id).wait_for()
    assert f"request={request_id}" in scanned.url
    # Pasted into the first tab instead, a link pairs that tab and opens its request there.
    page.locator("#pairing-link").fill(paired.pairing_link())
    page.get_by_role("button", name="Pair").tap()
    ready(page)
    card(page, request_id).wait_for()
    page.locator(SEND).tap()
    assert run.wait().outputs[0]["result"] == (10,)


def test_an_unpaired_phone_goes_back_to_the_pairing_screen(paired: Paired, phone: Any) -> None:
    page = phone.new_page()
    page.goto(paired.pairing_link("Lost phone"))
    ready(page)
    page.wait_for_function("() => window.hitlInbox.api.connected === true")
    assert paired.remote.hub.client_count() == 1
    device = call(paired.comfy, "GET", "/hitl/devices").json()["devices"][0]
    assert call(paired.comfy, "POST", f"/hitl/devices/{device['id']}/revoke", {}).status == 200
    page.locator(PAIRING).wait_for()
    assert "Pair this phone" in page.locator("body").inner_text()
    assert paired.remote.hub.client_count() == 0


def test_the_comfyui_tab_pairs_a_phone_and_unpairs_it(paired: Paired, browser: Any, phone: Any) -> None:
    """The settings section: "Pair a phone" shows the QR code, the link and its countdown; the
    phone that opens the link appears in the devices row, and "Unpair" sends it back to pairing."""
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tab = desk.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        tab.goto(paired.comfy)
        tab.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        tab.click("#show-settings")
        tab.locator("[data-hitl-setting='devices']").get_by_text("No device is paired.").wait_for()
        pair_row = tab.locator("[data-hitl-setting='pair']")
        pair_row.locator("input").fill("Kitchen phone")
        pair_row.get_by_role("button", name="Pair a phone").click()
        qr = pair_row.locator("svg[role='img']")
        qr.wait_for()
        assert qr.bounding_box()["width"] == 220
        link = pair_row.locator("[data-role='pairing-url']").inner_text()
        assert link.startswith(f"{paired.listener}/hitl/inbox#pair=")
        assert pair_row.locator("[data-role='countdown']").inner_text() in (
            "Valid for 10:00 more",
            "Valid for 9:59 more",
        )
        # The SVG draws the server's matrix: as many dark modules as the matrix has.
        dark = tab.evaluate(
            """(svg) => svg.querySelector('path').getAttribute('d').match(/h(\\d+)/g).reduce((n, h) => n + Number(h.slice(1)), 0)""",
            qr.element_handle(),
        )
        secret = link.split("#pair=")[1]
        remote_module = __import__("remote_helpers").remote_module
        expected = remote_module.qr_matrix(link)
        assert dark == sum(row.count("1") for row in expected["rows"]) and secret
        # The phone opens the link: it is paired, and the devices row shows it.
        page = phone.new_page()
        page.goto(link)
        ready(page)
        devices = tab.locator("[data-hitl-setting='devices']")
        item = devices.locator("li[data-device-id]").filter(has_text="Kitchen phone")
        item.wait_for()
        assert "from 127.0.0.1" in item.inner_text()
        item.get_by_role("button", name="Unpair").click()
        page.locator(PAIRING).wait_for()
        devices.get_by_text("No device is paired.").wait_for()
        assert not errors, errors
    finally:
        desk.close()
