"""Rebuild the image picker's example workflow in a real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.picker_docs

Starts ComfyUI with the pack (as the real-ComfyUI tests do), builds the workflow in the real
frontend from its API form (``app.loadApiJson``), lays it out, and saves
``app.graph.serialize()`` as the example (keeping the id the example already has, so the
memory of "repeat last selection" stays with it). ``python3 -m dev.docs`` then retakes the
README screenshots and the template thumbnails.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from dev._frontend import EXAMPLES, rebuild_example

WORKFLOW = EXAMPLES / "Image picker - pick colours.json"
#: Red, orange, yellow, green, blue, purple.
COLOURS = [0xE53935, 0xFB8C00, 0xFDD835, 0x43A047, 0x1E88E5, 0x8E24AA]
NAMES = ["Red", "Orange", "Yellow", "Green", "Blue", "Purple"]
EDGE = 512


def api_workflow() -> dict[str, Any]:
    """EmptyImage per colour → ImageBatch chain → Image Picker → Preview Image."""
    prompt: dict[str, Any] = {}
    for index, colour in enumerate(COLOURS):
        prompt[str(index + 1)] = {
            "class_type": "EmptyImage",
            "inputs": {"width": EDGE, "height": EDGE, "batch_size": 1, "color": colour},
        }
    previous = ["1", 0]
    for index in range(1, len(COLOURS)):
        node_id = str(10 + index)
        prompt[node_id] = {"class_type": "ImageBatch", "inputs": {"image1": previous, "image2": [str(index + 1), 0]}}
        previous = [node_id, 0]
    prompt["20"] = {
        "class_type": "HitlImagePicker",
        "inputs": {
            "images": previous,
            "mode": "always ask",
            "min_picks": 1,
            "max_picks": 0,
            "title": "Keep the colours you like",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
        },
    }
    prompt["30"] = {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}}
    return prompt


LAYOUT = """(names) => {
    // Colours in a column, the batch chain beside them, then the picker and the preview.
    const graph = window.app.graph;
    for (const node of graph._nodes) {
        const id = Number(node.id);
        // The API form has no slot indices; the frontend's own schema wants them.
        (node.outputs ?? []).forEach((output, index) => { if (output.slot_index == null) output.slot_index = index; });
        if (id <= 6) { node.pos = [40, 40 + (id - 1) * 150]; node.title = names[id - 1]; }
        else if (id >= 11 && id <= 15) node.pos = [400, 40 + (id - 11) * 120];
        else if (id === 20) node.pos = [720, 160];
        else if (id === 30) node.pos = [1100, 160];
    }
    graph.setDirtyCanvas(true, true);
    // As text: JSON drops undefined fields, which Playwright would turn into nulls.
    return JSON.stringify(graph.serialize());
}"""


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return rebuild_example(WORKFLOW, api_workflow(), LAYOUT, [f"{name} (EmptyImage)" for name in NAMES])


if __name__ == "__main__":
    sys.exit(main())
