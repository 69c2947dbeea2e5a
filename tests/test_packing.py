"""The registry zip holds what runs, and only that.

``comfy node pack`` and ``comfy node publish`` (comfy-cli 1.23, ``file_utils.zip_files``) zip
the files ``git ls-files`` lists, minus those ``.comfyignore`` matches (its lines stripped,
blank lines and ``#`` comments dropped, read by ``pathspec`` as ``gitwildmatch``), plus the
folders ``[tool.comfy] includes`` names. This computes the same set and checks it: no tests,
dev tools, CI files or screenshots; every file the pack needs in ComfyUI. comfy-cli itself is
too heavy for the test environment: dev/README.md says how to run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
import warnings
from functools import cache
from pathlib import PurePosixPath

import pathspec
import pytest

from dev.harness.pack import ROOT

IGNORE_FILE = ROOT / ".comfyignore"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"}
#: Never in the zip: development only.
DEV_FOLDERS = ("tests/", "dev/", ".ci/")
#: Always in the zip, whole: what ComfyUI serves or shows.
RUNTIME_FOLDERS = ("web/", "inbox/", "example_workflows/")
RUNTIME_FILES = ("__init__.py", "README.md", "LICENSE", "pyproject.toml", "server/openapi.json")


@cache
def tracked() -> tuple[str, ...]:
    """``git ls-files`` of the checkout, as comfy-cli runs it."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: comfy node pack would zip every file")
    listed = subprocess.check_output([git, "-C", str(ROOT), "ls-files"], text=True)
    return tuple(line for line in listed.splitlines() if line.strip())


def ignore_patterns() -> list[str]:
    """``.comfyignore``'s patterns, read as comfy-cli's ``_load_comfyignore_spec`` reads them."""
    lines = IGNORE_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def includes() -> list[str]:
    """``[tool.comfy] includes`` as comfy-cli normalizes them (no leading ``/``)."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        listed = tomllib.load(file).get("tool", {}).get("comfy", {}).get("includes", [])
    return [PurePosixPath(os.path.normpath(entry.lstrip("/"))).as_posix() for entry in listed]


def gitwildmatch(patterns: list[str]) -> pathspec.PathSpec:
    """The patterns as comfy-cli reads them: ``PathSpec.from_lines("gitwildmatch", ...)``
    (pathspec 1.x warns that the name is deprecated; comfy-cli still uses it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pathspec.PathSpec.from_lines("gitwildmatch", patterns)


@cache
def packed() -> frozenset[str]:
    """The paths ``comfy node pack`` puts in the zip."""
    spec = gitwildmatch(ignore_patterns())
    forced = includes()

    def ignored(path: str) -> bool:
        if any(path == prefix or path.startswith(prefix + "/") for prefix in forced if prefix):
            return False
        return spec.match_file(path)

    files = {path for path in tracked() if not ignored(path)}
    for folder in forced:
        base = ROOT / folder
        if base.is_file():
            files.add(folder)
        for path in base.rglob("*") if base.is_dir() else ():
            if path.is_file():
                files.add(path.relative_to(ROOT).as_posix())
    return frozenset(files)


def test_the_ignore_file_exists_and_has_patterns() -> None:
    assert IGNORE_FILE.is_file(), ".comfyignore is missing: the registry zip would hold every tracked file"
    assert ignore_patterns()


def test_no_development_files_are_packed() -> None:
    leaked = sorted(path for path in packed() if path.startswith(DEV_FOLDERS))
    assert not leaked, f"development files in the registry zip: {leaked}"


def test_no_screenshots_are_packed() -> None:
    # The one kind of image that runs: an example workflow's thumbnail, shown by ComfyUI's
    # template browser beside the workflow of the same name.
    def is_template_thumbnail(path: str) -> bool:
        return path.startswith("example_workflows/") and str(PurePosixPath(path).with_suffix(".json")) in packed()

    images = sorted(
        path
        for path in packed()
        if PurePosixPath(path).suffix.lower() in IMAGE_SUFFIXES and not is_template_thumbnail(path)
    )
    assert not images, f"images in the registry zip: {images}"


def test_every_runtime_file_is_packed() -> None:
    needed = {
        path
        for path in tracked()
        if (path.endswith(".py") and not path.startswith(DEV_FOLDERS))
        or path.startswith(RUNTIME_FOLDERS)
        or path in RUNTIME_FILES
    }
    assert set(RUNTIME_FILES) <= needed, "a runtime file is not tracked by git"
    assert any(path.startswith("nodes/") for path in needed)
    missing = sorted(needed - packed())
    assert not missing, f"files the pack needs are left out of the registry zip: {missing}"


def test_every_ignore_pattern_matches_a_tracked_file() -> None:
    # A pattern that matches nothing is a typo (or a leftover): it protects nothing.
    unused = [
        pattern
        for pattern in ignore_patterns()
        if not pattern.startswith("!") and not any(gitwildmatch([pattern]).match_files(tracked()))
    ]
    assert not unused, f".comfyignore patterns that match no tracked file: {unused}"
