"""The inbox and the CLI on a real ComfyUI (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui): runs queued through the API with no ComfyUI tab open at all are answered
from the inbox on a phone-sized touch screen; a ComfyUI tab open beside the inbox stays in
step with it (on the frontend under test, Vue nodes on and off); the CLI lists and answers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from io import BytesIO
from typing import Any

import pytest
from PIL import Image
from test_browser_image_picker import wait_thumbnails
from test_browser_inbox import NOTE_SEND_AND_GONE, PHONE, ROW, SEND
from test_real_comfyui import doubler
from test_real_comfyui_browser import ARTIFACTS
from test_real_image_picker import COLOURS, PREVIEW_ID, picker_prompt, rgb
from test_real_image_picker_browser import preview_colours
from test_real_value_prompt import HEIGHT, width_prompt

from dev.harness.comfyui import RealComfyUI
from dev.harness.pack import ROOT, submodule

cli_module = submodule("cli")

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]


class ApiClient:
    """A script driving ComfyUI over plain HTTP, following its websocket with the CLI's own
    client (so ComfyUI sends it the run's events): no ComfyUI tab involved."""

    def __init__(self, comfyui: RealComfyUI) -> None:
        self.url = comfyui.url
        self.client_id = uuid.uuid4().hex
        self.socket = cli_module.WebSocket(f"{comfyui.url.replace('http', 'ws')}/ws?clientId={self.client_id}")
        self.messages: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                message = json.loads(self.socket.receive())
                with self.arrived:
                    self.messages.append(message)
                    self.arrived.notify_all()
        except cli_module.WebSocketClosed:
            pass

    def queue(self, prompt: dict[str, Any]) -> str:
        request = urllib.request.Request(
            f"{self.url}/prompt",
            data=json.dumps({"prompt": prompt, "client_id": self.client_id}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["prompt_id"]

    def history(self, prompt_id: str, timeout: float = 60) -> dict[str, Any]:
        """The run's history entry, once ComfyUI says it is over (``executing`` of no node)."""

        def over() -> bool:
            return any(
                m.get("type") == "executing"
                and m["data"].get("node") is None
                and m["data"].get("prompt_id") == prompt_id
                for m in self.messages
            )

        with self.arrived:
            assert self.arrived.wait_for(over, timeout), f"run {prompt_id} did not end"
        with urllib.request.urlopen(f"{self.url}/history/{prompt_id}", timeout=30) as response:
            return json.loads(response.read())[prompt_id]

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def api(comfyui: RealComfyUI) -> Any:
    client = ApiClient(comfyui)
    yield client
    client.close()


@pytest.fixture
def inbox(comfyui: RealComfyUI, browser: Any) -> Any:
    """The inbox of the real ComfyUI in a phone's touch context; fails on our page errors."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{comfyui.url}/hitl/inbox")
    page.wait_for_function("() => document.documentElement.dataset.inbox === 'ready'")
    yield page
    context.close()
    assert not errors, errors


def image_size(comfyui: RealComfyUI, history: dict[str, Any], node_id: str) -> tuple[int, int]:
    [entry] = history["outputs"][node_id]["images"]
    query = urllib.parse.urlencode({key: entry[key] for key in ("filename", "subfolder", "type")})
    with urllib.request.urlopen(f"{comfyui.url}/view?{query}", timeout=30) as response:
        return Image.open(BytesIO(response.read())).size


def test_runs_queued_with_no_tab_are_answered_from_a_phone(comfyui: RealComfyUI, api: Any, inbox: Any) -> None:
    page = inbox
    # A picker: the batch's colours, picked by touch, reach Preview Image in pick order.
    prompt_id = api.queue(picker_prompt(timeout=300))
    row = page.locator(ROW).first
    row.wait_for(timeout=60_000)
    assert "Pick colours (pick any of 4)" in row.inner_text()
    row.tap()
    wait_thumbnails(page, len(COLOURS))
    tiles = page.locator(".hitl-pick-tile")
    tiles.nth(2).tap()
    tiles.nth(0).tap()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "real-inbox-picker-phone.png"))
    page.locator(SEND).tap()
    history = api.history(prompt_id)
    assert history["status"]["status_str"] == "success"
    assert preview_colours(comfyui, history["outputs"], PREVIEW_ID) == [rgb(COLOURS[2]), rgb(COLOURS[0])]
    row.wait_for(state="detached")
    # A value prompt: the width typed on the phone is the width of the image made.
    prompt_id = api.queue(width_prompt())
    row.wait_for(timeout=60_000)
    row.tap()
    page.locator("section.hitl-card input[role='spinbutton']").fill("96")
    page.locator(SEND).tap()
    history = api.history(prompt_id)
    outputs = history["outputs"]["1"]
    assert (outputs["answer"], outputs["source"]) == ([96], ["person"])
    # ComfyUI's history has the record: answered in the inbox, by this page's websocket (its
    # client id is the one the real ComfyUI gave it).
    [record] = outputs["hitl_audit"]
    client_id = page.evaluate("() => window.hitlInbox.api.clientId")
    assert (record["by"]["surface"], record["by"]["client_id"]) == ("inbox", client_id) and len(client_id) == 32
    assert image_size(comfyui, history, "3") == (96, HEIGHT)
    recent = page.locator("ul[data-role='recent'] li").first
    recent.get_by_text("answer 96").wait_for()  # the newest, once the list caught up
    assert "answered" in recent.inner_text() and "in the inbox" in recent.inner_text()


def test_deep_link_of_a_real_run(comfyui: RealComfyUI, api: Any, inbox: Any) -> None:
    page = inbox
    prompt_id = api.queue(doubler(5, ask_first=True, timeout=300))
    page.locator(ROW).first.wait_for(timeout=60_000)
    request_id = page.locator(ROW).first.get_attribute("data-request-id")
    page.goto(f"{comfyui.url}/api/hitl/inbox?request={request_id}")  # under /api, as ComfyUI serves it too
    page.locator(f"section.hitl-card[data-request-id='{request_id}']").wait_for()
    page.locator(SEND).tap()
    assert api.history(prompt_id)["outputs"]["1"]["doubled"] == [10]
    page.reload()
    notice = page.locator("[data-role='deep-link'][data-outcome='answered']")
    notice.wait_for()
    assert "was answered" in notice.inner_text()


@pytest.mark.parametrize("vue_nodes", [False, True], ids=["litegraph-nodes", "vue-nodes"])
def test_comfyui_tab_and_inbox_stay_in_step(
    comfyui: RealComfyUI, api: Any, comfy_page: Any, inbox: Any, vue_nodes: bool
) -> None:
    tab = comfy_page
    tab.evaluate(
        "async (on) => { await window.app.extensionManager.setting.set('Comfy.VueNodes.Enabled', on); }", vue_nodes
    )
    assert tab.evaluate("() => window.app.extensionManager.setting.get('Comfy.VueNodes.Enabled')") is vue_nodes
    version = tab.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    delays = {}
    for answered_in in ("tab", "inbox"):
        prompt_id = api.queue(doubler(7, ask_first=True, timeout=300))
        dialog = tab.locator("section.hitl-card[data-kind='integer-doubler']")
        dialog.wait_for(timeout=60_000)
        request_id = dialog.get_attribute("data-request-id")
        row = inbox.locator(f"{ROW}[data-request-id='{request_id}']")
        row.wait_for()
        for page in (tab, inbox):
            page.evaluate(NOTE_SEND_AND_GONE, request_id)
        if answered_in == "tab":
            dialog.locator("[data-action='primary']").click()
            source, other = tab, inbox
        else:
            row.tap()
            inbox.locator(SEND).tap()
            source, other = inbox, tab
        other.wait_for_function("() => window.__goneAt !== null")
        delays[answered_in] = other.evaluate("window.__goneAt") - source.evaluate("window.__sentAt")
        assert api.history(prompt_id)["outputs"]["1"]["doubled"] == [14]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"real-inbox-sync-{version}-vue-{vue_nodes}.json").write_text(json.dumps(delays))
    assert all(0 < delay < 1000 for delay in delays.values()), (version, vue_nodes, delays)
    tab.evaluate("async () => { await window.app.extensionManager.setting.set('Comfy.VueNodes.Enabled', false); }")


def test_cli_lists_and_answers_a_real_run(comfyui: RealComfyUI, api: Any, inbox: Any) -> None:
    prompt_id = api.queue(width_prompt())
    inbox.locator(ROW).first.wait_for(timeout=60_000)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-S", "-E", str(ROOT / "cli.py"), "--url", comfyui.url, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    [listed] = json.loads(cli("list", "--json").stdout)
    assert listed["prompt_id"] == prompt_id and listed["summary"] == "Image width (INT 8–256)"
    refused = cli("answer", listed["id"], "500")
    assert refused.returncode == 1 and "500 is above the maximum 256" in refused.stderr
    assert cli("answer", listed["id"], "64").returncode == 0
    history = api.history(prompt_id)
    outputs = history["outputs"]["1"]
    assert (outputs["answer"], outputs["source"]) == ([64], ["person"])
    assert outputs["hitl_audit"][0]["by"]["surface"] == "cli"
    inbox.locator(ROW).first.wait_for(state="detached")  # the inbox saw the CLI's answer
