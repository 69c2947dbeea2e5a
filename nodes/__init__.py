"""The pack's nodes, made for one registry by :func:`build_node_mappings`."""

from __future__ import annotations

from ..state import RequestRegistry
from ._base import HitlNode
from .image_picker import ImagePicker
from .integer_doubler import IntegerDoubler
from .value_prompt import ValuePrompt

#: ComfyUI node id (prefixed so it never clashes with core or other packs) -> node class.
NODE_CLASSES: dict[str, type[HitlNode]] = {
    "HitlIntegerDoubler": IntegerDoubler,
    "HitlValuePrompt": ValuePrompt,
    "HitlImagePicker": ImagePicker,
}


def memory_node_types() -> frozenset[str]:
    """The node ids whose nodes keep a memory of "last answer": our on-prompt handler stamps
    the workflow identity on these (see _memory.py)."""
    return frozenset(name for name, cls in NODE_CLASSES.items() if cls.MEMORY_FACTORY is not None)


def build_node_mappings(registry: RequestRegistry) -> tuple[dict[str, type], dict[str, str]]:
    """``NODE_CLASS_MAPPINGS`` and ``NODE_DISPLAY_NAME_MAPPINGS`` bound to ``registry``."""
    classes = {name: cls.bind(registry) for name, cls in NODE_CLASSES.items()}
    names = {name: cls.DISPLAY_NAME for name, cls in NODE_CLASSES.items()}
    return classes, names
