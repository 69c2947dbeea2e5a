"""Fixtures: the pack imported as ComfyUI imports it, fresh registries and harness hosts,
and one headless Chromium (Debian's package, never a downloaded browser)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dev.harness.browser import CHROMIUM_ARGS, chromium_executable
from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.pack import load_pack, submodule

load_pack()


@pytest.fixture
def state() -> Any:
    return submodule("state")


@pytest.fixture
def protocol() -> Any:
    return submodule("server.protocol")


@pytest.fixture
def route_client(aiohttp_client: Any) -> Any:
    """Make a client of a fresh aiohttp application carrying the real routes on a registry
    (one application per test, as ComfyUI's own route tests do)."""
    from aiohttp import web

    server_routes = submodule("server_routes")

    async def make(registry: Any, **options: Any) -> Any:
        app = web.Application()
        routes = web.RouteTableDef()
        server_routes.add_routes(routes, registry, **options)
        app.add_routes(routes)
        return await aiohttp_client(app)

    return make


@pytest.fixture
def host() -> Iterator[HarnessHost]:
    host = HarnessHost()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
def served(host: HarnessHost) -> Iterator[HarnessServer]:
    server = HarnessServer(host)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # Module scope: Playwright's sync API keeps an event loop running in this thread while
    # it is open, which async tests in other modules must not inherit.
    executable = chromium_executable()
    if executable is None:
        pytest.fail("Debian's chromium is not installed: the README's test command installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(browser: Any, served: HarnessServer) -> Iterator[Any]:
    """Open the harness page in a fresh browser context; fails the test on page errors."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(viewport: dict[str, int] | None = None, **context_options: Any) -> Any:
        # context_options: e.g. has_touch=True, is_mobile=True for a phone.
        context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, **context_options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(served.url)
        page.wait_for_function("window.__harnessReady === true")
        page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"page errors: {errors}"


def thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


@pytest.fixture(scope="session")
def comfyui() -> Iterator[Any]:
    """One real ComfyUI for the session (opt-in through HITL_COMFYUI_DIR)."""
    from dev.harness.comfyui import ENV_DIR, RealComfyUI

    real = RealComfyUI.from_environment()
    if real is None:
        pytest.skip(f"opt-in: set {ENV_DIR} to a ComfyUI folder to run the real-ComfyUI tests")
    real.start()
    try:
        yield real
    finally:
        real.stop()


@pytest.fixture
def comfy_page(comfyui: Any, browser: Any) -> Iterator[Any]:
    """A page of the real ComfyUI with the pack's extension ready; fails on our page errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text) if message.type == "error" and "hitl" in message.text.lower() else None
        ),
    )
    page.goto(comfyui.url)
    page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
    page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'")
    yield page
    context.close()
    assert not [e for e in errors if "hitl" in e.lower()], errors
