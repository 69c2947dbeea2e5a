"""// @ts-check is enforced: TypeScript's checker (strict) runs over every web module and every
module of the inbox page, with the host's scripts/app.js and scripts/api.js described by
tests/web_types/*.d.ts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dev.harness.pack import ROOT

TYPES = Path(__file__).resolve().parent / "web_types"


def find_tsc() -> str:
    candidates = [
        os.environ.get("HITL_TSC"),
        str(ROOT / ".venv" / "tsc" / "node_modules" / ".bin" / "tsc"),
        shutil.which("tsc"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("TypeScript's tsc is needed: the README's test command installs it (npm, into .venv/tsc)")


def test_web_modules_type_check_strictly(tmp_path: Path) -> None:
    # Lay the files out as ComfyUI serves them: /extensions/<folder>/*.js beside /scripts/;
    # the inbox's modules import web/ as ../web/, as the inbox route serves them.
    extension = tmp_path / "extensions" / "any-folder-name"
    shutil.copytree(ROOT / "web", extension)
    inbox = tmp_path / "extensions" / "inbox"
    shutil.copytree(ROOT / "inbox", inbox)
    (tmp_path / "extensions" / "web").symlink_to(extension, target_is_directory=True)
    (tmp_path / "scripts").mkdir()
    for name in ("app", "api"):
        shutil.copy(TYPES / f"{name}.d.ts", tmp_path / "scripts" / f"{name}.d.ts")
    files = sorted(str(path) for path in [*extension.rglob("*.js"), *inbox.rglob("*.js")])
    result = subprocess.run(
        [
            find_tsc(),
            "--allowJs",
            "--checkJs",
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--module",
            "es2022",
            "--moduleResolution",
            "bundler",
            "--lib",
            "es2022,dom,dom.iterable",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
