"""Rebuild the mask painter's example workflow in a real ComfyUI.

    HITL_COMFYUI_DIR=/path/to/ComfyUI HITL_COMFYUI_PYTHON=/path/to/python \\
        python3 -m dev.mask_painter_docs

Starts ComfyUI with the pack (as the real-ComfyUI tests do), builds the workflow in the real
frontend from its API form (``app.loadApiJson``), lays it out, and saves
``app.graph.serialize()`` as the example (keeping the id it already has, so the memory of
"repeat last mask" stays with it). ``python3 -m dev.docs`` then runs it, paints over the sun
with the mouse (:func:`paint_the_sun`), retakes the README screenshot and the template
thumbnail, and checks that the previews show the painted part.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Any

from dev._frontend import EXAMPLES, rebuild_example

WORKFLOW = EXAMPLES / "Mask painter - mask the sun.json"
WIDTH, HEIGHT = 768, 512
SKY, GROUND, SUN, FILL = 0x6FA8DC, 0x3D7A3D, 0xFFD54F, 0xE040FB
#: Node ids of the API form (the saved workflow keeps them).
PAINTER, MASK_PREVIEW, COMPOSITE_PREVIEW = "10", "21", "31"


def api_workflow() -> dict[str, Any]:
    """A model-free picture (sky, ground, a square sun) → Mask Painter → the mask as an image
    → Preview; and the painted part filled with a colour (a stand-in for what an inpainting
    model would repaint) → Preview."""
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": WIDTH, "height": HEIGHT, "batch_size": 1, "color": SKY}},
        "2": {"class_type": "EmptyImage", "inputs": {"width": WIDTH, "height": 160, "batch_size": 1, "color": GROUND}},
        "3": {"class_type": "EmptyImage", "inputs": {"width": 120, "height": 120, "batch_size": 1, "color": SUN}},
        "4": {
            "class_type": "ImageCompositeMasked",
            "inputs": {"destination": ["1", 0], "source": ["2", 0], "x": 0, "y": HEIGHT - 160, "resize_source": False},
        },
        "5": {
            "class_type": "ImageCompositeMasked",
            "inputs": {"destination": ["4", 0], "source": ["3", 0], "x": 520, "y": 80, "resize_source": False},
        },
        "6": {"class_type": "EmptyImage", "inputs": {"width": WIDTH, "height": HEIGHT, "batch_size": 1, "color": FILL}},
        PAINTER: {
            "class_type": "HitlMaskPainter",
            "inputs": {
                "images": ["5", 0],
                "title": "Paint what to repaint",
                "mode": "always ask",
                "timeout_seconds": 0,
                "on_timeout": "cancel run",
            },
        },
        "20": {"class_type": "MaskToImage", "inputs": {"mask": [PAINTER, 0]}},
        MASK_PREVIEW: {"class_type": "PreviewImage", "inputs": {"images": ["20", 0]}},
        "30": {
            "class_type": "ImageCompositeMasked",
            "inputs": {
                "destination": [PAINTER, 1],
                "source": ["6", 0],
                "x": 0,
                "y": 0,
                "resize_source": False,
                "mask": [PAINTER, 0],
            },
        },
        COMPOSITE_PREVIEW: {"class_type": "PreviewImage", "inputs": {"images": ["30", 0]}},
    }


LAYOUT = """() => {
    // The picture's parts on the left, the painter in the middle, the previews on the right.
    const graph = window.app.graph;
    const titles = { 1: "Sky", 2: "Ground", 3: "Sun", 4: "Ground on the sky", 5: "Sun in the sky",
        6: "Fill colour (stands in for inpainting)", 20: "Mask to image", 21: "The mask",
        30: "Painted part filled", 31: "Result" };
    const places = { 1: [40, 40], 2: [40, 230], 3: [40, 420], 4: [360, 40], 5: [360, 300], 6: [360, 560],
        10: [720, 120], 20: [1100, 40], 21: [1380, 40], 30: [1100, 420], 31: [1380, 420] };
    for (const node of graph._nodes) {
        const id = Number(node.id);
        // The API form has no slot indices; the frontend's own schema wants them.
        (node.outputs ?? []).forEach((output, index) => { if (output.slot_index == null) output.slot_index = index; });
        if (places[id]) node.pos = places[id];
        if (titles[id]) node.title = titles[id];
    }
    graph.setDirtyCanvas(true, true);
    // As text: JSON drops undefined fields, which Playwright would turn into nulls.
    return JSON.stringify(graph.serialize());
}"""

#: The painted paths, in image pixels: a loop around the sun (centred on 580, 140) and its middle.
SUN_LOOP = [(580 + 52 * math.cos(k * math.pi / 12), 140 + 52 * math.sin(k * math.pi / 12)) for k in range(25)]
SUN_MIDDLE = [(580 + 24 * math.cos(k * math.pi / 6), 140 + 24 * math.sin(k * math.pi / 6)) for k in range(13)]


def paint(page: Any, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through image points in the open painter."""
    view = page.evaluate(
        """() => { const p = document.querySelector("section.hitl-card[data-kind='mask-painter']").hitlMaskPainter;
            const box = p.stage.getBoundingClientRect(); return [p.scale, p.tx + box.left, p.ty + box.top]; }"""
    )
    scale, left, top = view
    page.mouse.move(left + points[0][0] * scale, top + points[0][1] * scale)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(left + x * scale, top + y * scale, steps=4)
    page.mouse.up()


def hover(page: Any, x: float, y: float) -> None:
    """Move the mouse over image point (x, y) without painting."""
    scale, left, top = page.evaluate(
        """() => { const p = document.querySelector("section.hitl-card[data-kind='mask-painter']").hitlMaskPainter;
            const box = p.stage.getBoundingClientRect(); return [p.scale, p.tx + box.left, p.ty + box.top]; }"""
    )
    page.mouse.move(left + x * scale, top + y * scale, steps=4)


def paint_the_sun(page: Any) -> None:
    """Paint over the sun in the open painter, then leave the brush ring beside it."""
    page.locator("section.hitl-card[data-kind='mask-painter'][data-ready='true']").wait_for(timeout=60_000)
    page.evaluate(
        """() => { const p = document.querySelector("section.hitl-card[data-kind='mask-painter']").hitlMaskPainter;
            p.setSize(44); p.setHardness(0.8); }"""
    )
    paint(page, SUN_LOOP)
    paint(page, SUN_MIDDLE)
    paint(page, [(580, 140)])
    hover(page, 450, 260)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return rebuild_example(WORKFLOW, api_workflow(), LAYOUT)


if __name__ == "__main__":
    sys.exit(main())
