"""Generated inputs for the stand-in host: the demo page and the benchmark queue a picker on
a batch made server-side, since a browser cannot post a tensor.

An input value ``{"generate": "noise" | "colors", "batch": 8, "size": 512}`` becomes an
IMAGE batch (numpy float32 [B, H, W, 3] in 0..1); ``{"generate": "latent", "batch": 8,
"size": 64, "channels": 4}`` a LATENT; ``{"generate": "mask", "batch": 8, "size": 512}`` a
MASK; ``{"generate": "pattern", "batch": 2, "size": 1024, "height": 768}`` a picture-like
IMAGE (gradients and shapes, different per image; ``height`` defaults to ``size``).
Anything else is passed on as it is.
"""

from __future__ import annotations

import colorsys
from typing import Any

import numpy as np

MAX_BATCH = 256
MAX_SIZE = 2048
#: The most pixels one generated batch may hold: 256 images of 1024² (3 GiB as float32).
MAX_PIXELS = 256 * 1024 * 1024
KINDS = ("noise", "colors", "latent", "mask", "pattern")


def _spec_int(spec: dict[str, Any], key: str, default: int, largest: int) -> int:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= largest:
        raise ValueError(f"{key} must be an integer from 1 to {largest}")
    return value


def distinct_colours(batch: int) -> list[tuple[float, float, float]]:
    """``batch`` clearly different colours (hues around the wheel)."""
    return [colorsys.hsv_to_rgb(i / batch, 0.75, 0.95) for i in range(batch)]


def generate(spec: dict[str, Any]) -> Any:
    """The array a generate spec asks for; ValueError for a bad spec."""
    kind = spec.get("generate")
    if kind not in KINDS:
        raise ValueError(f"generate must be one of {', '.join(KINDS)}")
    batch = _spec_int(spec, "batch", 8, MAX_BATCH)
    size = _spec_int(spec, "size", 512, MAX_SIZE)
    if batch * size * size > MAX_PIXELS:
        raise ValueError(f"batch × size² must be at most {MAX_PIXELS} pixels")
    rng = np.random.default_rng(spec.get("seed", 0) if isinstance(spec.get("seed", 0), int) else 0)
    if kind == "noise":
        return rng.random((batch, size, size, 3), dtype=np.float32)
    if kind == "colors":
        # A solid colour per image, shaded top to bottom so a thumbnail is not a flat swatch.
        shade = np.linspace(1.0, 0.6, size, dtype=np.float32)[:, None, None]
        colours = np.asarray(distinct_colours(batch), np.float32)[:, None, None, :]
        return np.ascontiguousarray(np.broadcast_to(colours * shade, (batch, size, size, 3)))
    if kind == "mask":
        return rng.random((batch, size, size), dtype=np.float32)
    if kind == "pattern":
        return pattern(batch, size, _spec_int(spec, "height", size, MAX_SIZE))
    channels = _spec_int(spec, "channels", 4, 128)
    return {"samples": rng.standard_normal((batch, channels, size, size), dtype=np.float32)}


def materialize(inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` with every generate spec replaced by what it generates."""
    return {
        name: generate(value) if isinstance(value, dict) and "generate" in value else value
        for name, value in inputs.items()
    }


def pattern(batch: int, width: int, height: int) -> np.ndarray:
    """Picture-like images (a sky gradient, a sun, hills), a little different per image:
    something to paint a mask on that is not noise."""
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    out = np.empty((batch, height, width, 3), np.float32)
    for index in range(batch):
        hue = index / max(1, batch)
        flat = np.zeros((height, width), np.float32)
        sky = np.stack([0.25 + 0.3 * y + 0.2 * hue + flat, 0.45 + 0.3 * y + flat, 0.85 - 0.2 * y + flat], axis=-1)
        aspect = width / height  # a round sun whatever the image's shape
        sun = (((x - 0.7 + 0.1 * hue) * aspect) ** 2 + (y - 0.3) ** 2) < 0.012
        hill = y > 0.65 + 0.1 * np.sin(x * 9.0 + index)
        frame = sky
        frame[sun] = (1.0, 0.85, 0.3)
        frame[hill] = (0.2 + 0.2 * hue, 0.5, 0.25)
        out[index] = frame
    return out
