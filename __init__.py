"""comfyui-hitl: nodes that pause a ComfyUI run until a person answers in the browser.

Importing this package registers the nodes, the routes and the web directory with the
ComfyUI that loads it, and does nothing else.
"""

from __future__ import annotations

import logging
import os

from . import _comfy
from .nodes import build_node_mappings
from .server_routes import add_routes
from .state import RequestRegistry

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]

log = logging.getLogger(__name__)

#: ComfyUI serves this folder at /extensions/<our folder>/ and imports every .js in it.
WEB_DIRECTORY = "./web"

_server = _comfy.prompt_server()
_registry = RequestRegistry(
    notify=_comfy.broadcaster(_server) if _server is not None else None,
    interrupt=_comfy.ComfyInterruptSource(),
)
NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = build_node_mappings(_registry)

if _server is not None:
    # Extra origins (e.g. a reverse proxy's public address) that may call our routes.
    _origins = os.environ.get("COMFYUI_HITL_ALLOWED_ORIGINS", "").split(",")
    add_routes(_server.routes, _registry, allowed_origins=_origins)
else:
    log.debug("no PromptServer: nodes registered without routes")
