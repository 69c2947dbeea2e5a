"""Import the pack the way ComfyUI does: its folder as a package, whatever it is named."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
#: The pack the harness runs: this repository, unless ``HITL_PACK_ROOT`` names another copy
#: of it (the browser benchmark runs an older commit of the pack beside this one that way).
PACK_ROOT = Path(os.environ.get("HITL_PACK_ROOT") or ROOT).resolve()
#: The name the pack is imported under outside ComfyUI (its folder name may have a dash).
PACKAGE = "comfyui_hitl"


def load_pack() -> ModuleType:
    """The pack's top-level package, imported once from :data:`PACK_ROOT`."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    spec = importlib.util.spec_from_file_location(
        PACKAGE, PACK_ROOT / "__init__.py", submodule_search_locations=[str(PACK_ROOT)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[PACKAGE]
        raise
    return module


def submodule(name: str) -> ModuleType:
    """A module of the pack, e.g. ``submodule("state")``."""
    load_pack()
    return importlib.import_module(f"{PACKAGE}.{name}")
