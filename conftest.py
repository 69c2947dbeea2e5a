"""pytest only (ComfyUI never imports this file): collect the repository root as a plain
folder, not as a package.

The root holds the pack's ``__init__.py``, so pytest would import it as a test package's
``__init__``; when the checkout's folder name is not a Python identifier (``comfyui-hitl``,
``wt-picker``) it imports it without a parent package, where its relative imports fail and
every test errors. The tests import the pack the way ComfyUI does, through ``harness.pack``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent


class _RootIsAFolder:
    """A global plugin: a conftest's own hooks never see the folder the conftest lives in."""

    @staticmethod
    def pytest_collect_directory(path: Path, parent: Any) -> Any:
        if path == ROOT:
            return pytest.Dir.from_parent(parent, path=path)
        return None


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_RootIsAFolder(), "comfyui-hitl-root-is-a-folder")
