"""Rebuild the image picker's example workflows in a real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.picker_docs [--clips-only]

Starts ComfyUI with the pack (as the real-ComfyUI tests do), builds each workflow in the real
frontend from its API form (``app.loadApiJson``), lays it out, and saves
``app.graph.serialize()`` as the example (keeping the id the example already has, so the
memory of "repeat last selection" stays with it):

- ``Image picker - pick colours.json``: six colours → picker → Preview Image;
- ``Image picker - pick clips.json``: four clips of four noisy frames (frames_per_item 4) →
  picker → a Preview Image of the picks and one of the rejects.

``python3 -m dev.docs`` then runs them, retakes the README screenshots
(``docs/images/image-picker-dialog.png``, ``docs/images/image-picker-clips.png``) and the template thumbnails.
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


CLIPS_WORKFLOW = EXAMPLES / "Image picker - pick clips.json"
#: One colour per clip: red, green, blue, purple.
CLIP_COLOURS = [0xE53935, 0x43A047, 0x1E88E5, 0x8E24AA]
CLIP_NAMES = ["Red clip", "Green clip", "Blue clip", "Purple clip"]
FRAMES_PER_CLIP = 4
#: The picker's node id, and the Preview Images of the picked and the rejected clips.
CLIPS_PICKER, CLIPS_PICKED, CLIPS_REJECTED = "20", "30", "31"


def clips_api_workflow() -> dict[str, Any]:
    """Four clips of four noisy frames (EmptyImage ×4 per colour → ImageBatch chain → Image Add
    Noise) → Image Picker (frames_per_item 4) → Preview Image of the picks, and of the rejects."""
    prompt: dict[str, Any] = {}
    for index, colour in enumerate(CLIP_COLOURS):
        prompt[str(index + 1)] = {
            "class_type": "EmptyImage",
            "inputs": {"width": 384, "height": 384, "batch_size": FRAMES_PER_CLIP, "color": colour},
        }
    previous = ["1", 0]
    for index in range(1, len(CLIP_COLOURS)):
        node_id = str(10 + index)
        prompt[node_id] = {"class_type": "ImageBatch", "inputs": {"image1": previous, "image2": [str(index + 1), 0]}}
        previous = [node_id, 0]
    prompt["15"] = {"class_type": "ImageAddNoise", "inputs": {"image": previous, "seed": 7, "strength": 0.15}}
    prompt[CLIPS_PICKER] = {
        "class_type": "HitlImagePicker",
        "inputs": {
            "images": ["15", 0],
            "mode": "always ask",
            "min_picks": 1,
            "max_picks": 0,
            "title": "Keep the clips you like",
            "timeout_seconds": 0,
            "on_timeout": "cancel run",
            "frames_per_item": FRAMES_PER_CLIP,
            "preset": "",
            "click_sends": False,
        },
    }
    prompt[CLIPS_PICKED] = {"class_type": "PreviewImage", "inputs": {"images": [CLIPS_PICKER, 0]}}
    prompt[CLIPS_REJECTED] = {"class_type": "PreviewImage", "inputs": {"images": [CLIPS_PICKER, 5]}}
    return prompt


CLIPS_LAYOUT = """(names) => {
    const graph = window.app.graph;
    for (const node of graph._nodes) {
        const id = Number(node.id);
        (node.outputs ?? []).forEach((output, index) => { if (output.slot_index == null) output.slot_index = index; });
        if (id <= 4) { node.pos = [40, 40 + (id - 1) * 190]; node.title = names[id - 1]; }
        else if (id >= 11 && id <= 13) node.pos = [380, 60 + (id - 11) * 120];
        else if (id === 15) node.pos = [380, 440];
        else if (id === 20) node.pos = [720, 160];
        else if (id === 30) { node.pos = [1100, 60]; node.title = "Picked clips (every frame)"; }
        else if (id === 31) { node.pos = [1100, 420]; node.title = "Rejected clips"; }
    }
    graph.setDirtyCanvas(true, true);
    return JSON.stringify(graph.serialize());
}"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips-only", action="store_true", help="only the clips example")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.clips_only:
        failed = rebuild_example(WORKFLOW, api_workflow(), LAYOUT, [f"{name} (EmptyImage)" for name in NAMES])
        if failed:
            return failed
    names = [f"{name} (EmptyImage ×{FRAMES_PER_CLIP})" for name in CLIP_NAMES]
    return rebuild_example(CLIPS_WORKFLOW, clips_api_workflow(), CLIPS_LAYOUT, names)


if __name__ == "__main__":
    sys.exit(main())
