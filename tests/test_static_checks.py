"""Static checks, in the one test command: ruff (lint and format), mypy in strict mode over
the pack's own modules, and the oldest Python the pack runs on (vermin).

The rules live in pyproject.toml. The pack must run on every Python ComfyUI users run
(3.10 to 3.13); the dev harness, tests and benchmarks may use 3.11.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from dev.harness.pack import PACKAGE, ROOT

#: What ComfyUI loads: the root modules and nodes/ (plus the CLI once it exists). The
#: harness, tests, benchmarks and dev tools are not shipped to users' ComfyUI.
NOT_THE_PACK = {"tests", "dev", "docs", "example_workflows", "web", "inbox", ".venv", "test-artifacts"}
OLDEST_PYTHON = (3, 10)


def pack_files() -> list[Path]:
    files = sorted(ROOT.glob("*.py"))
    for folder in sorted(p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in NOT_THE_PACK:
            files += sorted(folder.rglob("*.py"))
    return files


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_pack_is_what_comfyui_loads() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in pack_files()}
    assert {"__init__.py", "state.py", "server_routes.py", "nodes/__init__.py"} <= names
    assert not any(name.startswith(("tests/", "dev/")) for name in names)


def test_ruff_check() -> None:
    result = run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run(sys.executable, "-m", "ruff", "format", "--no-cache", "--check", ".")
    assert result.returncode == 0, "run `.venv/bin/ruff format .`\n" + result.stdout + result.stderr


def test_mypy_strict_over_the_pack(tmp_path: Path) -> None:
    # The pack uses relative imports, so mypy must see it as a package; its folder may have
    # any name (a dash, too), so give it an importable one through a link.
    (tmp_path / PACKAGE).symlink_to(ROOT, target_is_directory=True)
    excluded = "|".join(re.escape(name) for name in sorted(NOT_THE_PACK))
    result = run(
        sys.executable, "-m", "mypy",
        "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(ROOT / ".venv" / "mypy-cache"),
        "--exclude", rf"^{PACKAGE}/({excluded})/",
        "-p", PACKAGE,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success" in result.stdout


def vermin() -> str:
    # vermin has no `python -m vermin`; its script sits beside the interpreter.
    script = Path(sys.executable).with_name("vermin")
    assert script.exists(), "vermin is missing: the README's test command installs it"
    return str(script)


def test_the_pack_runs_on_python_3_10() -> None:
    files = [str(path) for path in pack_files()]
    target = ".".join(map(str, OLDEST_PYTHON))
    result = run(vermin(), "--no-tips", "--eval-annotations", "--violations", f"-t={target}-", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    report = run(vermin(), "--no-tips", "--eval-annotations", *files)
    found = re.search(r"Minimum required versions: (\d+)\.(\d+)", report.stdout)
    assert found, report.stdout
    assert (int(found.group(1)), int(found.group(2))) <= OLDEST_PYTHON, report.stdout


@pytest.mark.parametrize("feature", ["TaskGroup", "ExceptionGroup", "tomllib", "asyncio.timeout("])
def test_no_3_11_only_feature_in_the_pack(feature: str) -> None:
    # vermin knows most of these; this names the ones the harness uses, so a copy into
    # the pack is caught even where vermin's rules lag behind.
    offenders = [path.name for path in pack_files() if feature in path.read_text(encoding="utf-8")]
    assert not offenders, f"{feature} needs Python 3.11; the pack supports 3.10: {offenders}"
