"""The pack's nodes, made for one registry by :func:`build_node_mappings`."""

from __future__ import annotations

from ..state import RequestRegistry
from .base import HitlNode
from .form import FORM_FIELD_NODE, Form
from .form_field import FormField
from .image_picker import ImagePicker
from .integer_doubler import IntegerDoubler
from .mask_painter import MaskPainter
from .value_prompt import ValuePrompt

#: ComfyUI node id (prefixed so it never clashes with core or other packs) -> node class.
NODE_CLASSES: dict[str, type[HitlNode]] = {
    "HitlIntegerDoubler": IntegerDoubler,
    "HitlValuePrompt": ValuePrompt,
    "HitlImagePicker": ImagePicker,
    "HitlForm": Form,
    "HitlMaskPainter": MaskPainter,
}

#: Nodes that never ask a person: plain ComfyUI nodes, with no registry to bind.
PLAIN_NODE_CLASSES: dict[str, type[FormField]] = {
    FORM_FIELD_NODE: FormField,
}


def memory_node_types() -> frozenset[str]:
    """The node ids whose nodes keep a memory of "last answer": our on-prompt handler stamps
    the workflow identity on these (see nodes/memory.py)."""
    return frozenset(name for name, cls in NODE_CLASSES.items() if cls.remembers())


def build_node_mappings(registry: RequestRegistry) -> tuple[dict[str, type], dict[str, str]]:
    """``NODE_CLASS_MAPPINGS`` and ``NODE_DISPLAY_NAME_MAPPINGS`` bound to ``registry``."""
    classes: dict[str, type] = {name: cls.bind(registry) for name, cls in NODE_CLASSES.items()}
    names = {name: cls.DISPLAY_NAME for name, cls in NODE_CLASSES.items()}
    classes.update(PLAIN_NODE_CLASSES)
    names.update({name: cls.DISPLAY_NAME for name, cls in PLAIN_NODE_CLASSES.items()})
    return classes, names
