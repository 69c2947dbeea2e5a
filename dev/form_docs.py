"""Rebuild the form's example workflow in a real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.form_docs

Starts ComfyUI with the pack (as the real-ComfyUI tests do), builds the workflow in the real
frontend from its API form (``app.loadApiJson``), lays it out, and saves
``app.graph.serialize()`` as the example (keeping the id it already has, so the memory of
"use last answers" stays with it). ``python3 -m dev.docs`` then runs it, fills the form in
from the keyboard (:func:`fill_in`), retakes the README screenshot and the template
thumbnail, and checks that the width reached EmptyImage and the text reached Preview Any.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from dev._frontend import EXAMPLES, rebuild_example

WORKFLOW = EXAMPLES / "Form - image settings.json"

FIELDS = """\
# One field per line:  name "label": TYPE options = default
width "Image width": INT 64..1024 step 64 = 512
caption: TEXT multiline = a lighthouse at dusk
style: CHOICE photo | watercolour | ink sketch = photo
"""
HEIGHT = 256


def api_workflow() -> dict[str, Any]:
    """Form → Form Field (width) → EmptyImage → Preview Image, and Form Field (caption) and
    Form Field (style) → Concatenate → Preview Any; the form's json → Preview Any too."""

    def field(name: str) -> dict[str, Any]:
        return {"class_type": "HitlFormField", "inputs": {"form": ["1", 0], "name": name}}

    return {
        "1": {
            "class_type": "HitlForm",
            "inputs": {
                "fields": FIELDS,
                "title": "Image settings",
                "message": "Everything the next stage needs, in one go.",
                "timeout_seconds": 0,
                "on_timeout": "use defaults",
                "mode": "always ask",
            },
        },
        "2": field("width"),
        "3": field("caption"),
        "4": field("style"),
        "5": {
            "class_type": "EmptyImage",
            "inputs": {"width": ["2", 0], "height": HEIGHT, "batch_size": 1, "color": 0x2B6CB0},
        },
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
        "7": {
            "class_type": "StringConcatenate",
            "inputs": {"string_a": ["3", 2], "string_b": ["4", 2], "delimiter": ", "},
        },
        "8": {"class_type": "PreviewAny", "inputs": {"source": ["7", 0]}},
        "9": {"class_type": "PreviewAny", "inputs": {"source": ["1", 1]}},
    }


LAYOUT = """() => {
    const graph = window.app.graph;
    const places = {1: [40, 60], 2: [520, 40], 3: [520, 250], 4: [520, 460], 5: [840, 40], 6: [1150, 40],
        7: [840, 300], 8: [840, 580], 9: [520, 680]};
    const titles = {2: "Form Field: width", 3: "Form Field: caption", 4: "Form Field: style", 8: "Preview the prompt", 9: "Preview the whole form (json)"};
    for (const node of graph._nodes) {
        // The API form has no slot indices; the frontend's own schema wants them.
        (node.outputs ?? []).forEach((output, index) => { if (output.slot_index == null) output.slot_index = index; });
        const place = places[Number(node.id)];
        if (place) node.pos = place;
        if (titles[Number(node.id)]) node.title = titles[Number(node.id)];
        if (Number(node.id) === 1) node.size = [440, 520];
    }
    graph.setDirtyCanvas(true, true);
    // As text: JSON drops undefined fields, which Playwright would turn into nulls.
    return JSON.stringify(graph.serialize());
}"""


#: What :func:`fill_in` answers, as Preview Any shows the caption and style joined.
EXPECTED_TEXT = "a lighthouse at dusk, storm clouds, watercolour"
#: The node ids of the API form (the saved workflow keeps them).
FORM_ID, TEXT_PREVIEW = "1", "8"


def fill_in(page: Any) -> None:
    """Fill the open form in from the keyboard, as a person would: width 640, a few words
    added to the caption, the second style."""
    page.wait_for_function("document.activeElement && document.activeElement.type === 'number'")
    page.keyboard.type("640")
    page.keyboard.press("Tab")
    page.keyboard.press("End")
    page.keyboard.type(", storm clouds")
    page.keyboard.press("Tab")
    page.keyboard.press("2")


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return rebuild_example(WORKFLOW, api_workflow(), LAYOUT)


if __name__ == "__main__":
    sys.exit(main())
