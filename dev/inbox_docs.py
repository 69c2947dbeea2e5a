"""Take the README's inbox screenshots and CLI transcript from a real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python python3 -m dev.inbox_docs

Starts ComfyUI with the pack (on port 8188 when it is free, so the CLI needs no --url),
queues one prompt through the API (no ComfyUI tab at all) whose two branches ask at once: an
image picker and a value prompt. Opens the inbox on a phone-sized touch screen, takes
``docs/images/inbox-phone.png`` (the list), ``docs/images/inbox-notifications-phone.png`` (its notification
settings) and ``docs/images/inbox-picker-phone.png`` (the picker, two picked), then runs the CLI as a person would (``python cli.py ...`` in the pack's folder,
with ``watch`` running alongside) and writes the transcript to
``test-artifacts/cli-transcript.txt``. The picker is answered from the phone at the end.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from dev.harness.comfyui import RealComfyUI
from dev.harness.pack import ROOT

log = logging.getLogger("dev.inbox_docs")

DOCS = ROOT / "docs" / "images"
TRANSCRIPT = ROOT / "test-artifacts" / "cli-transcript.txt"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}
COLOURS = [0xE53935, 0xFB8C00, 0xFDD835, 0x43A047, 0x1E88E5, 0x8E24AA]


def prompt() -> dict[str, Any]:
    """Two branches that each ask a person: colours to keep, and refiner steps."""
    graph: dict[str, Any] = {}
    for index, colour in enumerate(COLOURS):
        graph[str(index + 1)] = {
            "class_type": "EmptyImage",
            "inputs": {"width": 512, "height": 512, "batch_size": 1, "color": colour},
        }
    previous = ["1", 0]
    for index in range(1, len(COLOURS)):
        graph[str(10 + index)] = {
            "class_type": "ImageBatch",
            "inputs": {"image1": previous, "image2": [str(index + 1), 0]},
        }
        previous = [str(10 + index), 0]
    graph["20"] = {
        "class_type": "HitlImagePicker",
        "inputs": {"images": previous, "mode": "always ask", "min_picks": 1, "max_picks": 3,
                   "title": "Keep the colours you like", "timeout_seconds": 0, "on_timeout": "cancel run"},
    }  # fmt: skip
    graph["30"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}
    graph["40"] = {
        "class_type": "HitlValuePrompt",
        "inputs": {"value_type": "INT", "title": "Refiner steps", "message": "How many steps for the refiner?",
                   "default": "20", "minimum": "1", "maximum": "60", "step": "", "max_length": 10000, "choices": "",
                   "timeout_seconds": 900, "on_timeout": "use default", "mode": "always ask"},
    }  # fmt: skip
    graph["41"] = {"class_type": "EmptyImage", "inputs": {"width": ["40", 0], "height": 8, "batch_size": 1, "color": 0}}
    graph["42"] = {"class_type": "PreviewImage", "inputs": {"images": ["41", 0]}}
    return graph


def queue(url: str, graph: dict[str, Any]) -> None:
    """Queue a prompt as a script does: plain HTTP, no client id, no ComfyUI tab."""
    request = urllib.request.Request(  # noqa: S310 (our own ComfyUI, http)
        f"{url}/prompt", data=json.dumps({"prompt": graph}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    comfyui = RealComfyUI.from_environment()
    if comfyui is None:
        log.error("set HITL_COMFYUI_DIR (and HITL_COMFYUI_PYTHON) to a ComfyUI checkout")
        return 2
    default_url = port_is_free(8188)
    if default_url:
        comfyui.port = 8188
        comfyui.url = "http://127.0.0.1:8188"
    comfyui.start()
    env = {**os.environ, "COLUMNS": "132", "PYTHONIOENCODING": "utf-8"}
    url_args = [] if default_url else ["--url", comfyui.url]
    transcript: list[str] = []

    def cli(*args: str) -> str:
        shown = " ".join(a if " " not in a and '"' not in a else f"'{a}'" for a in [*url_args, *args])
        result = subprocess.run(
            [sys.executable, "cli.py", *url_args, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=60
        )
        output = result.stdout + result.stderr
        transcript.append(
            f"$ python cli.py {shown}\n{output}" + (f"$ echo $?\n{result.returncode}\n" if result.returncode else "")
        )
        return result.stdout

    watch = subprocess.Popen(
        [sys.executable, "cli.py", *url_args, "watch"], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env
    )
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_context(**PHONE).new_page()
            page.goto(f"{comfyui.url}/hitl/inbox")
            page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")
            # A first run, answered from the terminal, so "Recent" has something to show.
            queue(
                comfyui.url,
                {
                    "1": {
                        "class_type": "HitlIntegerDoubler",
                        "inputs": {"value": 21, "ask_first": True, "timeout_seconds": 60},
                    }
                },
            )
            rows = page.locator("ul[data-role='waiting'] li")
            rows.first.wait_for(timeout=60_000)
            cli("answer", rows.first.get_attribute("data-request-id") or "", "42")
            rows.first.wait_for(state="detached")
            queue(comfyui.url, prompt())
            rows.nth(1).wait_for(timeout=60_000)
            time.sleep(3)  # so the rows show a few seconds of waiting
            page.screenshot(path=str(DOCS / "inbox-phone.png"))
            # The inbox's own notification settings, opened from the bell in its header.
            page.wait_for_function("() => document.documentElement.dataset.notifications === 'ready'")
            page.locator("[data-action='notification-settings']").tap()
            page.screenshot(path=str(DOCS / "inbox-notifications-phone.png"))
            page.locator("[data-action='notification-settings']").tap()

            listed = json.loads(cli("list", "--json"))
            steps = next(item for item in listed if item["kind"] == "value-prompt")
            transcript.clear()
            cli("list")
            cli("show", steps["id"])
            cli("answer", steps["id"], "500")
            cli("answer", steps["id"], "24")

            page.locator("ul[data-role='waiting'] li[data-request-id] button", has_text="Keep the colours").tap()
            tiles = page.locator(".hitl-pick-tile")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.hitl-pick-tile img')].every((i) => i.complete && i.naturalWidth)"
            )
            tiles.nth(4).tap()
            tiles.nth(1).tap()
            page.screenshot(path=str(DOCS / "inbox-picker-phone.png"))
            page.locator("section.hitl-card [data-action='primary']").tap()
            page.locator("ul[data-role='recent'] li").nth(2).wait_for()
            page.locator("ul[data-role='waiting'] li").first.wait_for(state="detached")
            cli("history")
            browser.close()
    finally:
        watch.terminate()
        watched = watch.communicate(timeout=10)[0]
        comfyui.stop()
    TRANSCRIPT.parent.mkdir(exist_ok=True)
    TRANSCRIPT.write_text(
        "".join(transcript) + "\n# meanwhile, in another terminal:\n$ python cli.py watch\n" + watched
    )
    print(TRANSCRIPT.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
