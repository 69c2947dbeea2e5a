"""The baseline: the pattern of ComfyUI's "passing control to JavaScript" how-to that most
packs still use, written here only to be measured beside ours (it is not shipped).

- Answers land in a dict; the node checks it in a loop with ``time.sleep(0.1)``.
- Previews: every image is saved as a full PNG to a temp folder with Pillow, and the
  browser is sent the file names, then fetches each file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image

from dev.harness.pack import submodule

_comfy = submodule("server.comfy")

#: The how-to's poll period.
POLL_PERIOD = 0.1
CANCEL = "__cancel__"


class MessageHolder:
    """A dict of messages by node id, checked in a sleep loop (the pattern being measured)."""

    def __init__(self) -> None:
        self.messages: dict[str, Any] = {}
        self.waiting = threading.Event()

    def add(self, node_id: str, message: Any) -> None:
        self.messages[str(node_id)] = message

    def wait_for(self, node_id: str, interrupted: Callable[[], bool]) -> Any:
        self.waiting.set()
        while str(node_id) not in self.messages:
            if interrupted():
                raise _comfy.RunInterrupted("interrupted")
            time.sleep(POLL_PERIOD)
        return self.messages.pop(str(node_id))


def make_baseline_doubler(holder: MessageHolder, interrupted: Callable[[], bool]) -> type:
    class BaselineDoubler:
        """The how-to's doubler: a synchronous node polling the holder."""

        FUNCTION = "double"

        def double(self, value: int, **_: Any) -> tuple[int]:
            _, node_id = _comfy.executing_context()
            answer = holder.wait_for(str(node_id), interrupted)
            if answer == CANCEL:
                raise _comfy.RunInterrupted("cancelled")
            return (int(answer),)

    return BaselineDoubler


def baseline_routes(holder: MessageHolder) -> web.RouteTableDef:
    """The how-to's route: put the posted answer in the dict (and a cancel message)."""
    routes = web.RouteTableDef()

    @routes.post("/baseline/answer")
    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        holder.add(body["node_id"], body["value"])
        return web.json_response({})

    @routes.post("/baseline/cancel")
    async def cancel(request: web.Request) -> web.Response:
        body = await request.json()
        holder.add(body["node_id"], CANCEL)
        return web.json_response({})

    return routes


def make_baseline_picker(registry: Any, folder: Path) -> type:
    """The peers' picker preview path: every image of the batch saved as a full PNG with
    Pillow into ``folder`` (SaveImage's compression), then the names are sent to the browser,
    which fetches each file. It waits on ``registry`` like ours: only the preview path differs
    (time to thumbnails is measured, not the wait)."""

    class BaselinePngPicker:
        FUNCTION = "pick"

        def pick(self, images: Any, **_: Any) -> tuple[Any]:
            frames = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
            names = []
            for index, frame in enumerate(frames):
                pixels = np.clip(255.0 * frame, 0, 255).astype(np.uint8)
                name = f"preview_{index:05}.png"
                Image.fromarray(pixels).save(folder / name, compress_level=4)
                names.append(name)
            prompt_id, node_id = _comfy.executing_context()
            request = registry.open(
                "image-picker", prompt_id=prompt_id, node_id=node_id, payload={"count": len(names), "names": names}
            )
            outcome = registry.wait(request)
            if not outcome.answered:
                raise _comfy.RunInterrupted("cancelled")
            return (images,)

    return BaselinePngPicker


def png_folder_routes(folder: Path) -> web.RouteTableDef:
    """Serve the saved PNGs by name, as ComfyUI's /view serves temp files."""
    routes = web.RouteTableDef()

    @routes.get("/baseline/view/{name}")
    async def view(request: web.Request) -> web.FileResponse:
        return web.FileResponse(folder / request.match_info["name"])

    return routes
