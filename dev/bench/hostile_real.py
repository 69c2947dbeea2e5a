"""``python -m dev.bench.hostile --comfyui DIR``: the hostile answers against a real ComfyUI.

Each target waits as its real node in a prompt of its own, queued through ComfyUI's API
(model-free core nodes around it); every shape is sent to it while ``GET /system_stats``
probes the server; then the request is cancelled and the next prompt queued.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dev.harness.comfyui import ComfyClient, RealComfyUI
from dev.harness.hostile import LARGEST_FORM, TARGETS, Exchange, http_request, timed_exchange
from dev.harness.pack import submodule

P = submodule("server.protocol")
answer_types = submodule("questions.values")


def _value_prompt(value_type: str, **settings: Any) -> dict[str, Any]:
    """A value prompt whose int output sets EmptyImage's width, previewed."""
    inputs = {
        "value_type": value_type,
        "title": "hostile",
        "message": "",
        "default": "",
        "minimum": "",
        "maximum": "",
        "step": "",
        "max_length": answer_types.MAX_LENGTH_LIMIT,
        "choices": "",
        "timeout_seconds": 0,
        "on_timeout": "use default",
        "mode": "always ask",
        **settings,
    }
    return {
        "1": {"class_type": "HitlValuePrompt", "inputs": inputs},
        "2": {"class_type": "EmptyImage", "inputs": {"width": ["1", 0], "height": 8, "batch_size": 1, "color": 0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


def _choices() -> str:
    return "\n".join(f"{n:03d}" + "c" * (answer_types.MAX_CHOICE_LENGTH - 3) for n in range(answer_types.MAX_CHOICES))


#: A prompt per target name in harness/hostile.py (the picker: a batch of 8 small images).
PROMPTS: dict[str, Any] = {
    "integer doubler": lambda: {
        "1": {"class_type": "HitlIntegerDoubler", "inputs": {"value": 1, "ask_first": True, "timeout_seconds": 0}}
    },
    "value prompt INT": lambda: _value_prompt("INT", minimum="0", maximum="100"),
    "value prompt FLOAT": lambda: _value_prompt("FLOAT", minimum="0", maximum="1"),
    "value prompt STRING": lambda: _value_prompt("STRING"),
    "value prompt STRING (multi-line)": lambda: _value_prompt("STRING (multi-line)"),
    "value prompt BOOLEAN": lambda: _value_prompt("BOOLEAN"),
    "value prompt CHOICE": lambda: _value_prompt("CHOICE", choices=_choices()),
    "image picker": lambda: {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 8, "color": 0x808080}},
        "2": {
            "class_type": "HitlImagePicker",
            "inputs": {
                "images": ["1", 0],
                "mode": "always ask",
                "min_picks": 1,
                "max_picks": 0,
                "title": "hostile",
                "timeout_seconds": 0,
                "on_timeout": "cancel run",
            },
        },
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    },
    "form": lambda: {
        "1": {
            "class_type": "HitlForm",
            "inputs": {
                "fields": LARGEST_FORM,
                "title": "hostile",
                "message": "",
                "timeout_seconds": 0,
                "on_timeout": "cancel run",
                "mode": "always ask",
            },
        },
        "2": {"class_type": "PreviewAny", "inputs": {"source": ["1", 1]}},
    },
    "mask painter": lambda: {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 2, "color": 0x808080}},
        "2": {
            "class_type": "HitlMaskPainter",
            "inputs": {
                "images": ["1", 0],
                "title": "hostile",
                "mode": "always ask",
                "timeout_seconds": 0,
                "on_timeout": "cancel run",
            },
        },
        "3": {"class_type": "MaskToImage", "inputs": {"mask": ["2", 0]}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    },
}
#: The picker's thumbnails stream takes the hostile bodies on the same picker's request.
PROMPTS["image picker thumbnails"] = PROMPTS["image picker"]


async def _measure(url: str, port: int, runs: int, slow: float, only: list[str]) -> dict[str, Any]:
    from .hostile_report import describe

    probe = http_request("GET", "/system_stats", f"127.0.0.1:{port}")
    results: dict[str, Any] = {}
    idle = [(await timed_exchange(port, probe, probe)).seconds * 1000 for _ in range(runs)]
    results["probe alone"] = {"median_ms": sorted(idle)[len(idle) // 2], "max_ms": max(idle)}
    async with ComfyClient(url) as client:
        for name, target in TARGETS.items():
            if name not in PROMPTS or (only and not any(word.lower() in name.lower() for word in only)):
                continue
            prompt_id = await client.queue(PROMPTS[name]())
            view = await client.waiting_request(prompt_id, timeout=120)
            try:
                cells: dict[str, Any] = {}
                for shape, build in target.all_shapes().items():
                    body = build(P.MAX_BODY_BYTES)
                    samples: list[Exchange] = []
                    for _ in range(runs):
                        hostile = http_request("POST", "/api" + target.path(view["id"]), f"127.0.0.1:{port}", body)
                        exchange = await timed_exchange(port, hostile, probe)
                        samples.append(exchange)
                        if exchange.seconds > slow or exchange.status == 200:
                            break
                    cells[shape] = describe(samples, len(body))
                    print(f"  {name:<34} {shape:<28} {cells[shape]}", flush=True)
                    if any(sample.status == 200 for sample in samples):
                        raise RuntimeError(f"{name}: {shape} was accepted")
                results[name] = cells
            finally:
                await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
                await client.run_end(prompt_id)
    return results


def run_real(comfy_dir: str, python: str | None, *, runs: int, slow: float, only: list[str]) -> dict[str, Any]:
    comfyui = RealComfyUI(comfy_dir, python=python)
    comfyui.start()
    try:
        return asyncio.run(_measure(comfyui.url, comfyui.port, runs, slow, only))
    finally:
        comfyui.stop()
