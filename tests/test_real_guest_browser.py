"""A good guest in a real ComfyUI frontend (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui; run it once per frontend, 1.27.10 and 1.58.1 with
HITL_COMFYUI_FRONTEND_ROOT): keys typed in our dialogs change nothing in ComfyUI (no queued
prompt, no deleted node, no sidebar, no undo, no save dialog) while the same keys on the
canvas still work; Run and Cancel, the tabs and the top bar stay reachable at common sizes;
ComfyUI's own windows open above ours; the subtitle follows a reload; the example
workflows of the previous version still load and run. With Vue nodes off and on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from test_browser_image_picker import wait_thumbnails
from test_real_comfyui_browser import ARTIFACTS, poll_json, queue_from_page, wait_history

from dev.harness.pack import ROOT

pytestmark = [pytest.mark.real_comfyui, pytest.mark.browser]

CARD = "section.hitl-card"
EXAMPLES = ROOT / "example_workflows"
PREVIOUS_EXAMPLES = ROOT / "tests" / "data" / "examples-0.1.0"
VIEWPORTS = [(1280, 720), (1366, 768), (1440, 900), (390, 844)]


def example(name: str) -> dict[str, Any]:
    """The example workflow whose title starts with ``name`` ("Image picker", "Value prompt",
    "Form", "Mask painter")."""
    [path] = [path for path in EXAMPLES.glob("*.json") if path.stem.startswith(name)]
    return json.loads(path.read_text())


def ready(page: Any) -> None:
    page.wait_for_function("window.app && window.app.graph && window.app.canvas", timeout=60_000)
    page.wait_for_function("document.documentElement.dataset.comfyuiHitl === 'ready'", timeout=60_000)


def set_vue_nodes(page: Any, enabled: bool) -> None:
    page.evaluate("(on) => window.app.extensionManager.setting.set('Comfy.VueNodes.Enabled', on)", enabled)


@pytest.fixture(params=[False, True], ids=["vue-nodes-off", "vue-nodes-on"])
def page(comfy_page: Any, request: Any) -> Iterator[Any]:
    """A real ComfyUI page with Vue nodes (``Comfy.VueNodes.Enabled``) off or on."""
    set_vue_nodes(comfy_page, request.param)
    comfy_page.reload()
    ready(comfy_page)
    comfy_page.vue_nodes = request.param
    try:
        yield comfy_page
    finally:
        # Nothing may keep ComfyUI's single worker waiting for the next test.
        comfy_page.evaluate(
            "async () => { for (const r of (await (await fetch('/api/hitl/requests')).json()).requests)"
            " await fetch(`/api/hitl/requests/${r.id}/cancel`, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}); }"
        )
        set_vue_nodes(comfy_page, False)


def load(page: Any, workflow: dict[str, Any]) -> None:
    page.evaluate("async (workflow) => { await window.app.loadGraphData(workflow); }", workflow)
    if getattr(page, "vue_nodes", False):
        page.wait_for_selector("[data-node-id]")  # the nodes really are Vue components


def node_count(page: Any) -> int:
    return page.evaluate("() => (window.app.rootGraph ?? window.app.graph).nodes.length")


def sidebar_tab(page: Any) -> Any:
    return page.evaluate("() => window.app.extensionManager.sidebarTab.activeSidebarTabId ?? null")


def comfy_windows(page: Any) -> int:
    """ComfyUI dialogs open (settings, save-as prompt...): PrimeVue masks, Reka/ARIA dialogs."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.p-dialog-mask, .p-dialog, [role="dialog"], dialog[open]')]
            .filter((el) => !el.closest('.hitl-layer') && el.getClientRects().length > 0).length"""
    )


def history_count(page: Any) -> int:
    return len(page.evaluate("async () => await (await fetch('/history')).json()"))


def centre_hits(page: Any, selector_js: str) -> bool:
    """Whether a click at the centre of the element ``selector_js`` finds lands on it: on the
    element, inside it, or on the control it is part of (a tab's label inside its button),
    and never on anything of ours."""
    return page.evaluate(
        f"""() => {{
            const el = ({selector_js});
            if (!el) throw new Error('not found: ' + {json.dumps(selector_js)});
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return !!hit && !hit.closest('.hitl-layer') && (hit === el || el.contains(hit) || hit.contains(el));
        }}"""
    )


RUN_BUTTON = (
    "document.querySelector(\"[data-testid='queue-button']\")"
    " ?? [...document.querySelectorAll('.actionbar button')].find((b) => b.textContent.trim() === 'Run')"
)
CANCEL_BUTTON = "document.querySelector(\"[aria-label='Cancel current run']\")"
#: A workflow tab on screen (with several tabs open, the strip scrolls some out of a phone's width).
TAB = (
    "[...document.querySelectorAll('.workflow-tab')].find((tab) => { const r = tab.getBoundingClientRect();"
    " return r.width > 0 && r.left + r.width / 2 > 0 && r.left + r.width / 2 < innerWidth; })"
)


def test_keys_in_a_dialog_change_nothing_in_comfyui(page: Any) -> None:
    """Issue 14: with the picker focused and a node selected on the canvas, ComfyUI's keys do
    nothing (Delete deletes no node, Ctrl+Z undoes nothing, "w"/"q" open no sidebar, Ctrl+S
    and Ctrl+, open no window, Ctrl+Alt+Enter interrupts nothing); Ctrl+Enter sends the picks
    and queues nothing extra. Then, on the canvas, the same keys work as before."""
    load(page, example("Image picker - pick colours"))
    nodes, histories = guard_the_graph(page)
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    card = page.locator(f"{CARD}[data-kind='image-picker']")
    card.wait_for(timeout=60_000)
    wait_thumbnails(page, 6)
    page.evaluate("() => window.app.canvas.selectNode((window.app.rootGraph ?? window.app.graph).getNodeById(30))")
    page.wait_for_function("(card) => card.contains(document.activeElement)", arg=card.element_handle())
    for key in [*COMFY_KEYS, *COMFY_RUN_KEYS, "1", "Control+Enter"]:
        page.keyboard.press(key)
    card.wait_for(state="detached")
    last = nothing_changed_in_comfyui(page, nodes, histories)
    assert last["status"]["status_str"] == "success" and last["outputs"]["20"]["picked"] == [0]

    # The focus went back where it was (nowhere); on the canvas ComfyUI's keys work as before.
    page.focus("#graph-canvas")
    page.keyboard.press("w")
    page.wait_for_function("() => window.app.extensionManager.sidebarTab.activeSidebarTabId === 'workflows'")
    page.focus("#graph-canvas")  # 1.58.1 moved the focus into the sidebar's search field
    page.keyboard.press("w")
    page.wait_for_function("() => window.app.extensionManager.sidebarTab.activeSidebarTabId == null")
    page.focus("#graph-canvas")
    page.evaluate("() => window.app.canvas.selectNode((window.app.rootGraph ?? window.app.graph).getNodeById(30))")
    page.keyboard.press("Delete")
    page.wait_for_function(f"() => (window.app.rootGraph ?? window.app.graph).nodes.length === {nodes - 1}")


def guard_the_graph(page: Any) -> tuple[int, int]:
    """Add a node the change tracker knows of (so a graph undo would remove it), and return
    the node count and the history's length to compare with afterwards."""
    page.evaluate(
        """() => {
            const graph = window.app.rootGraph ?? window.app.graph;
            const node = window.LiteGraph.createNode('PrimitiveInt');
            node.pos = [40, 900];
            graph.add(node);
            const tracker = window.app.extensionManager.workflow.activeWorkflow?.changeTracker;
            (tracker?.captureCanvasState ?? tracker?.checkState)?.call(tracker);
        }"""
    )
    return node_count(page), history_count(page)


def select_a_node(page: Any) -> None:
    """Select a node on the canvas: what Delete would delete, were a key to reach ComfyUI."""
    page.evaluate(
        "() => { const graph = window.app.rootGraph ?? window.app.graph; window.app.canvas.selectNode(graph.nodes[0]); }"
    )


def nothing_changed_in_comfyui(page: Any, nodes: int, histories: int, runs: int = 1) -> Any:
    """Exactly ``runs`` more runs, nothing queued, no node deleted or undone, no sidebar, no
    ComfyUI window; returns the newest run's history entry."""
    queue = poll_json(page, "/queue", "value.queue_running.length + value.queue_pending.length === 0")
    assert queue["queue_pending"] == []
    poll_json(page, "/history", f"Object.keys(value).length >= {histories + runs}")
    assert history_count(page) == histories + runs, "a key queued another run"
    assert node_count(page) == nodes, "a key deleted a node or undid the graph"
    assert sidebar_tab(page) is None, "a key opened a sidebar"
    assert comfy_windows(page) == 0, "a key opened a ComfyUI window"
    return page.evaluate("async () => Object.values(await (await fetch('/history?max_items=1')).json())[0]")


#: ComfyUI's keys that must do nothing while the focus is in one of our dialogs.
COMFY_KEYS = ["w", "q", "Delete", "Backspace", "Control+z", "Control+s", "Control+,", "Control+g"]
COMFY_RUN_KEYS = ["Control+Shift+Enter", "Control+Alt+Enter", "Alt+Enter"]
PAINTER = "document.querySelector(\"section.hitl-card[data-kind='mask-painter']\").hitlMaskPainter"


def test_keys_in_the_form_and_the_mask_painter_change_nothing_in_comfyui(page: Any) -> None:
    """The form and the mask painter hear their keys through the overlay: typing, Tab, Y in
    the form; the painter's Ctrl+Z undoes its stroke and never the graph, Ctrl+Y redoes it.
    None of ComfyUI's keys acts (no deleted node, no undo, no sidebar, no window, no extra
    run), and Ctrl+Enter sends each dialog once."""
    load(page, example("Form"))
    nodes, histories = guard_the_graph(page)
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    form = page.locator(f"{CARD}[data-kind='form']")
    form.wait_for(timeout=60_000)
    select_a_node(page)
    page.wait_for_function("(card) => card.contains(document.activeElement)", arg=form.element_handle())
    for key in [*COMFY_KEYS, *COMFY_RUN_KEYS, "Control+a", "6", "4", "0", "Tab", "End", "Delete", "!", "Tab", "3"]:
        page.keyboard.press(key)
    page.keyboard.press("Control+Enter")
    form.wait_for(state="detached")
    last = nothing_changed_in_comfyui(page, nodes, histories)
    assert last["status"]["status_str"] == "success"
    assert last["outputs"]["1"]["answer"] == [{"width": 640, "caption": "a lighthouse at dusk!", "style": "ink sketch"}]

    load(page, example("Mask painter"))
    nodes, histories = guard_the_graph(page)
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    painter = page.locator(f"{CARD}[data-kind='mask-painter'][data-ready='true']")
    painter.wait_for(timeout=60_000)
    scale, left, top = page.evaluate(
        f"() => {{ const p = {PAINTER}; const box = p.stage.getBoundingClientRect(); return [p.scale, p.tx + box.left, p.ty + box.top]; }}"
    )
    page.mouse.move(left + 560 * scale, top + 120 * scale)
    page.mouse.down()
    page.mouse.move(left + 600 * scale, top + 160 * scale, steps=6)
    page.mouse.up()
    ops = f"() => {PAINTER}.activeDoc.entries.length"
    assert page.evaluate(ops) == 1
    select_a_node(page)
    for key in COMFY_KEYS:  # Ctrl+Z among them: the painter's undo
        page.keyboard.press(key)
    assert page.evaluate(ops) == 0
    page.keyboard.press("Control+y")
    assert page.evaluate(ops) == 1
    for key in COMFY_RUN_KEYS:
        page.keyboard.press(key)
    page.keyboard.press("Control+Enter")
    painter.wait_for(state="detached")
    last = nothing_changed_in_comfyui(page, nodes, histories)
    assert last["status"]["status_str"] == "success" and last["outputs"]["10"]["source"] == ["person"]


def picker_alone() -> dict[str, Any]:
    """The widest dialog on its own: a picker of six images."""
    return {
        "2": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 48, "batch_size": 6, "color": 0x3366FF}},
        "3": {
            "class_type": "HitlImagePicker",
            "inputs": {"images": ["2", 0], "mode": "always ask", "min_picks": 1, "max_picks": 0, "title": "Pick",
                       "timeout_seconds": 0, "on_timeout": "cancel run"},
        },
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }  # fmt: skip


def three_at_once() -> dict[str, Any]:
    """A doubler, a picker and a value prompt waiting at once (parallel branches)."""
    return {
        **picker_alone(),
        "1": {"class_type": "HitlIntegerDoubler", "inputs": {"value": 4, "ask_first": True, "timeout_seconds": 0}},
        "5": {
            "class_type": "HitlValuePrompt",
            "inputs": {"value_type": "INT", "title": "Width", "message": "", "default": "64", "minimum": "", "maximum": "",
                       "step": "", "max_length": 100, "choices": "", "timeout_seconds": 0, "on_timeout": "use default",
                       "mode": "always ask"},
        },
        "6": {"class_type": "EmptyImage", "inputs": {"width": ["5", 0], "height": 8, "batch_size": 1, "color": 0}},
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
    }  # fmt: skip


def check_reachable(page: Any, what: str) -> None:
    """At every size: a click at the centre of Run, of the red Cancel X, of the workflow tab
    and of the top bar lands on them; our dialogs stay on-screen."""
    version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
    mode = "vue" if page.vue_nodes else "canvas"
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"window.innerWidth === {width} && window.innerHeight === {height}")
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.screenshot(path=str(ARTIFACTS / f"placement-{version}-{mode}-{what}-{width}x{height}.png"))
        where = f"{version} {mode} {what} {width}x{height}"
        assert centre_hits(page, RUN_BUTTON), f"Run covered at {where}"
        assert centre_hits(page, CANCEL_BUTTON), f"Cancel covered at {where}"
        assert centre_hits(page, TAB), f"the workflow tab covered at {where}"
        if page.evaluate("() => !!document.querySelector('.comfyui-menu')"):
            assert centre_hits(page, "document.querySelector('.comfyui-menu')"), f"the top bar covered at {where}"
        stack = page.locator(".hitl-stack").bounding_box()
        assert stack["x"] >= 0 and stack["x"] + stack["width"] <= width + 0.5, where
        assert stack["y"] + stack["height"] <= height + 0.5, where
    page.set_viewport_size({"width": 1400, "height": 900})


def test_dialogs_leave_run_cancel_tabs_and_top_bar_reachable(page: Any) -> None:
    """Issue 14: at 1280x720, 1366x768, 1440x900 and 390x844, the picker alone (the widest
    dialog), then a picker, a value prompt and a doubler waiting at once, leave Run, the red
    Cancel X, the workflow tab and the top bar reachable."""
    ARTIFACTS.mkdir(exist_ok=True)
    prompt_id = queue_from_page(page, picker_alone())
    page.locator(f"{CARD}[data-kind='image-picker']").wait_for(timeout=60_000)
    check_reachable(page, "picker")
    page.keyboard.press("Escape")
    wait_history(page, prompt_id)
    queue_from_page(page, three_at_once())
    for kind in ("integer-doubler", "image-picker", "value-prompt"):
        page.locator(f"{CARD}[data-kind='{kind}']").wait_for(timeout=60_000)
    check_reachable(page, "three")
    check_minimised(page)


def check_minimised(page: Any) -> None:
    """Minimised, the dialogs become pills that say a run waits and for what, off ComfyUI's
    canvas toolbar and its Run bar, at every size."""
    for minimise in page.locator(f"{CARD} [data-action='minimise']").all():
        minimise.click()
    pills = page.locator("button.hitl-pill")
    assert sorted(pills.nth(i).inner_text() for i in range(3)) == [
        "Run waits for you: Integer doubler",
        "Run waits for you: Pick",
        "Run waits for you: Width",
    ]
    assert page.locator(".hitl-tray-count").inner_text() == "3 runs wait for you"
    toolbar = "[data-testid='zoom-controls-button'], [data-testid='toggle-link-visibility-button']"
    for width, height in VIEWPORTS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_function(f"window.innerWidth === {width} && window.innerHeight === {height}")
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        where = f"pills at {width}x{height}"
        version = page.evaluate("window.__COMFYUI_FRONTEND_VERSION__")
        page.screenshot(path=str(ARTIFACTS / f"pills-{version}-{width}x{height}.png"))
        for index in range(page.locator(toolbar).count()):
            selector = f"document.querySelectorAll({json.dumps(toolbar)})[{index}]"
            assert centre_hits(page, selector), f"the canvas toolbar covered by {where}"
        assert centre_hits(page, RUN_BUTTON) and centre_hits(page, CANCEL_BUTTON), where
        side_buttons = page.evaluate(
            "() => [...document.querySelectorAll('.side-tool-bar-container button')]"
            ".filter((b) => { const r = b.getBoundingClientRect(); return r.width > 0 && r.bottom <= innerHeight; }).length"
        )
        for index in range(side_buttons):
            selector = (
                "[...document.querySelectorAll('.side-tool-bar-container button')]"
                f".filter((b) => {{ const r = b.getBoundingClientRect(); return r.width > 0 && r.bottom <= innerHeight; }})[{index}]"
            )
            assert centre_hits(page, selector), f"the side toolbar covered by {where}"
        for index in range(3):
            box = pills.nth(index).bounding_box()
            assert box["x"] >= 0 and box["y"] >= 0 and box["y"] + box["height"] <= height, where
    page.set_viewport_size({"width": 1400, "height": 900})


def test_the_form_and_the_mask_painter_leave_run_cancel_tabs_and_top_bar_reachable(page: Any) -> None:
    """The form, and the mask painter (whose card takes the whole free height), each alone at
    1280x720, 1366x768, 1440x900 and 390x844: Run, the red Cancel X, the workflow tab and the
    top bar stay reachable, and the dialog on-screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    for name, kind in (("Form", "form"), ("Mask painter", "mask-painter")):
        load(page, example(name))
        page.evaluate("() => window.app.queuePrompt(0, 1)")
        card = page.locator(f"{CARD}[data-kind='{kind}']")
        card.wait_for(timeout=60_000)
        check_reachable(page, kind)
        page.keyboard.press("Escape")
        card.wait_for(state="detached")


def test_the_template_browser_gets_titles_and_thumbnails(comfy_page: Any) -> None:
    """Issue 14: ComfyUI lists the examples under the pack's folder name with their titles
    (file names), and serves a JPEG thumbnail beside each (it asks for <name>.jpg)."""
    templates = comfy_page.evaluate("async () => await (await fetch('/api/workflow_templates')).json()")
    [(folder, names)] = [(key, value) for key, value in templates.items() if "Image picker - pick colours" in value]
    assert sorted(names) == sorted(path.stem for path in EXAMPLES.glob("*.json"))
    for name in names:
        served = comfy_page.evaluate(
            """async ([folder, name]) => {
                const response = await fetch(`/api/workflow_templates/${folder}/${name}.jpg`);
                const blob = await response.blob();
                const bitmap = await createImageBitmap(blob);
                return [response.status, blob.type, blob.size, bitmap.width];
            }""",
            [folder, name],
        )
        assert served[0] == 200 and served[1] == "image/jpeg" and served[2] < 100_000 and served[3] >= 256, served


def overlap_centre(a: dict[str, float], b: dict[str, float]) -> list[float] | None:
    """The centre of where two boxes overlap, None if they do not."""
    left, top = max(a["x"], b["x"]), max(a["y"], b["y"])
    right, bottom = min(a["x"] + a["width"], b["x"] + b["width"]), min(a["y"] + a["height"], b["y"] + b["height"])
    return [(left + right) / 2, (top + bottom) / 2] if right > left and bottom > top else None


def test_comfyuis_windows_open_above_our_dialogs(page: Any) -> None:
    """Issue 14: Settings and the template browser cover a waiting dialog; closed, the dialog
    is back on top of the canvas and answers. The node search box and the canvas's context
    menu open above it too."""
    prompt_id = queue_from_page(
        page,
        {"1": {"class_type": "HitlIntegerDoubler", "inputs": {"value": 6, "ask_first": True, "timeout_seconds": 0}}},
    )
    card = page.locator(CARD)
    card.wait_for()
    box = card.bounding_box()
    centre = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
    on_card = "([x, y]) => !!document.elementFromPoint(x, y)?.closest('.hitl-card')"
    assert page.evaluate(on_card, centre)
    for command in ("Comfy.ShowSettingsDialog", "Comfy.BrowseTemplates"):
        page.evaluate("(command) => window.app.extensionManager.command.execute(command)", command)
        page.wait_for_function("([x, y]) => !document.elementFromPoint(x, y)?.closest('.hitl-card')", arg=centre)
        assert comfy_windows(page) > 0
        page.screenshot(path=str(ARTIFACTS / f"z-order-{command}.png"))
        page.keyboard.press("Escape")
        page.wait_for_function(on_card, arg=centre)

    # The canvas's context menu, opened just left of the card so that it spreads over it.
    page.mouse.click(box["x"] - 30, box["y"] + 20, button="right")
    menu = page.locator(".litecontextmenu, .p-contextmenu, [role='menu']").first
    menu.wait_for()
    spot = overlap_centre(menu.bounding_box(), box)
    assert spot is not None, "the menu should spread over the card"
    assert page.evaluate("([x, y]) => !document.elementFromPoint(x, y).closest('.hitl-layer')", spot)
    page.keyboard.press("Escape")
    page.mouse.click(box["x"] - 30, box["y"] + box["height"] + 40)  # closes the menu on the canvas
    menu.wait_for(state="hidden")

    card.locator("[data-action='primary']").click()
    assert wait_history(page, prompt_id)["outputs"]["1"]["doubled"] == [12]


def test_the_subtitle_follows_the_workflow_after_a_reload(page: Any) -> None:
    """Issue 14: after a reload the frontend restores the workflow after our dialog opened
    (1.58.1); the subtitle then says it is this tab's workflow."""
    load(page, example("Value prompt"))
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    subtitle = page.locator(f"{CARD} .hitl-subtitle")
    subtitle.wait_for(timeout=60_000)
    assert subtitle.inner_text() == "Ask: image width · this tab's workflow"
    page.reload()
    ready(page)
    subtitle.wait_for()
    page.wait_for_function(
        "() => document.querySelector('.hitl-subtitle')?.textContent === \"Ask: image width · this tab's workflow\"",
        timeout=30_000,
    )
    page.keyboard.press("Escape")


@pytest.mark.parametrize("name", ["image_picker", "value_prompt"])
def test_the_previous_versions_examples_still_load_and_run(page: Any, name: str) -> None:
    """Saved workflows keep working: the 0.1.0 examples (nil ids, no memory stamp) load with no
    schema complaint and run to the end, answered with Ctrl+Enter."""
    workflow = json.loads((PREVIOUS_EXAMPLES / f"{name}.json").read_text())
    load(page, workflow)
    assert page.get_by_text("Invalid workflow against zod schema").count() == 0
    histories = history_count(page)
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    card = page.locator(CARD)
    card.wait_for(timeout=60_000)
    if name == "image_picker":
        wait_thumbnails(page, 6)
        page.keyboard.press("2")
    page.keyboard.press("Control+Enter")
    card.wait_for(state="detached")
    poll_json(page, "/history", f"Object.keys(value).length === {histories + 1}")
    last = page.evaluate("async () => Object.values(await (await fetch('/history?max_items=1')).json())[0]")
    assert last["status"]["status_str"] == "success"


def test_use_last_answer_in_the_frontend_keeps_nil_id_workflows_apart(page: Any) -> None:
    """Issue 14's own steps: the old value-prompt example (nil id, kept by 1.27.10) in "use
    last answer", answered 320; then another workflow loaded in API format whose value prompt
    is also node #1 with the same settings: its first run asks."""
    workflow = json.loads((PREVIOUS_EXAMPLES / "value_prompt.json").read_text())
    prompt = workflow["nodes"][0]
    prompt["widgets_values"][-1] = "use last answer"
    prompt["widgets_values"][1] = "Issue 14 width"  # a title of its own: no other test's memory
    load(page, workflow)
    # A graph of its own (a second preview): an earlier test's answer to the same graph is,
    # rightly, that graph's memory.
    page.evaluate(
        """(extra) => {
            const graph = window.app.rootGraph ?? window.app.graph;
            for (let i = 0; i < extra; i += 1) {
                const preview = window.LiteGraph.createNode('PreviewImage');
                graph.add(preview);
                graph.getNodeById(2).connect(0, preview, 0);
            }
        }""",
        1 + int(page.vue_nodes),
    )
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    card = page.locator(CARD)
    card.wait_for(timeout=60_000)
    page.keyboard.press("Control+a")
    page.keyboard.type("320")
    page.keyboard.press("Enter")
    card.wait_for(state="detached")
    values = prompt["widgets_values"]
    names = ["value_type", "title", "message", "default", "minimum", "maximum", "step", "max_length", "choices",
             "timeout_seconds", "on_timeout", "mode"]  # fmt: skip
    other = {
        "1": {"class_type": "HitlValuePrompt", "inputs": dict(zip(names, values, strict=True))},
        "2": {"class_type": "EmptyImage", "inputs": {"width": 96, "height": ["1", 0], "batch_size": 1, "color": 0}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "issue14"}},
    }
    page.evaluate("async (prompt) => { await window.app.loadApiJson(prompt, 'another workflow'); }", other)
    page.evaluate("() => window.app.queuePrompt(0, 1)")
    card.wait_for(timeout=60_000)  # it asks: 320 belongs to the other workflow
    page.keyboard.press("Escape")
    card.wait_for(state="detached")
