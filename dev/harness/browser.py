"""Headless Chromium for the tests and benchmarks: Debian's package, never a downloaded browser."""

from __future__ import annotations

import shutil

#: Flags every headless run uses (no GPU, no sandbox in containers, no network chatter).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_executable() -> str | None:
    """Debian's chromium, or None when it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")
