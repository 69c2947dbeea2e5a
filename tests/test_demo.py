"""The README's demo command works: the demo serves, and its own round trip succeeds."""

from __future__ import annotations

import subprocess
import sys

from dev.harness.pack import ROOT


def test_demo_check_round_trip() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dev.harness.demo", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "doubler run success, output [42]" in result.stdout
