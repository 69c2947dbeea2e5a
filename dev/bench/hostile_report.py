"""One hostile exchange's figures, the same for the stand-in host (``hostile.py``) and a real
ComfyUI (``hostile_real.py``)."""

from __future__ import annotations

import json
from typing import Any

from dev.harness.hostile import Exchange

from .picker import summarize


def describe(samples: list[Exchange], size: int) -> dict[str, Any]:
    refusal = summarize(sample.seconds * 1000 for sample in samples)
    probe = summarize(sample.probe_seconds * 1000 for sample in samples)
    statuses = sorted({sample.status for sample in samples})
    message = ""
    try:
        message = json.loads(samples[-1].body)["error"]["message"][:80]
    except (ValueError, KeyError, TypeError):
        message = samples[-1].body[:80].decode("utf-8", "replace")
    return {
        "bytes": size,
        "runs": len(samples),
        "statuses": statuses,
        "refusal_ms": {"median": refusal.median, "max": refusal.max},
        "probe_ms": {"median": probe.median, "max": probe.max},
        "probe_statuses": sorted({sample.probe_status for sample in samples}),
        "message": message,
    }
