"""The pack's nodes, made for one registry by :func:`build_node_mappings`."""

from __future__ import annotations

from ..state import RequestRegistry
from ._base import HitlNode
from .image_picker import ImagePicker
from .integer_doubler import IntegerDoubler
from .mask_painter import MaskPainter
from .value_prompt import ValuePrompt

#: ComfyUI node id (prefixed so it never clashes with core or other packs) -> node class.
NODE_CLASSES: dict[str, type[HitlNode]] = {
    "HitlIntegerDoubler": IntegerDoubler,
    "HitlValuePrompt": ValuePrompt,
    "HitlImagePicker": ImagePicker,
    "HitlMaskPainter": MaskPainter,
}


def build_node_mappings(registry: RequestRegistry) -> tuple[dict[str, type], dict[str, str]]:
    """``NODE_CLASS_MAPPINGS`` and ``NODE_DISPLAY_NAME_MAPPINGS`` bound to ``registry``."""
    classes = {name: cls.bind(registry) for name, cls in NODE_CLASSES.items()}
    names = {name: cls.DISPLAY_NAME for name, cls in NODE_CLASSES.items()}
    return classes, names
