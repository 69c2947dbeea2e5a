"""comfyui-hitl: nodes that pause a ComfyUI run until a person answers in the browser.

Importing this package registers the nodes, the routes and the web directory with the
ComfyUI that loads it, and does nothing else.
"""

from __future__ import annotations

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY"]

#: ComfyUI serves this folder at /extensions/<our folder>/ and imports every .js in it.
WEB_DIRECTORY = "./web"
NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}

# ComfyUI (and our harness) import this file as a package. pytest also imports it, for its
# xunit set-up, as a bare module when the checkout's folder name is not an identifier
# (e.g. "comfyui-hitl"): then there is no package to register, and nothing is done.
if __package__:
    import atexit
    import logging
    import os

    from .nodes import build_node_mappings, memory_node_types
    from .nodes import memory as _memory
    from .server import comfy as _comfy
    from .server.audit import AuditLog
    from .server.push import Pusher
    from .server.remote import RemoteAccess
    from .server.settings import SettingsStore
    from .server_routes import add_routes
    from .state import RequestRegistry

    _server = _comfy.prompt_server()
    # Settings (config file + environment) and the audit log live in ComfyUI's user directory.
    _user_directory = _comfy.user_directory()
    _settings = SettingsStore(_user_directory)
    _settings.destinations.note_own_port(_comfy.listen_port())  # never a push target
    _audit = AuditLog(_user_directory, _settings.current)
    _pusher = Pusher(_settings)
    atexit.register(_audit.close, 2.0)  # write what is queued when ComfyUI exits
    _registry = RequestRegistry(
        notify=_comfy.broadcaster(_server) if _server is not None else None,
        interrupt=_comfy.ComfyInterruptSource(),
        history_log=_audit,  # the audit trail is the history: one record per ended request
        observers=(_pusher,),
    )
    NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = build_node_mappings(_registry)

    if _server is not None:
        # Extra origins (e.g. a reverse proxy's public address) that may call our routes.
        _origins = os.environ.get("COMFYUI_HITL_ALLOWED_ORIGINS", "").split(",")
        # Paired phones: the pairing routes here, and the pack's own listener for them, started
        # with ComfyUI's server on its loop when COMFYUI_HITL_REMOTE_LISTEN asks (docs/pairing.md).
        _remote = RemoteAccess(
            _registry, _settings, user_directory=_user_directory, pusher=_pusher, allowed_origins=_origins
        )
        add_routes(
            _server.routes,
            _registry,
            allowed_origins=_origins,
            settings=_settings,
            pusher=_pusher,
            access=_remote.comfy_access,
        )
        _remote.add_comfy_routes(_server.routes)
        _remote.attach(_server.app)
        atexit.register(_remote.devices.flush)
        # Each queued prompt gets its workflow's identity on our memory nodes, so "use last
        # answer" and ComfyUI's cache never mix two workflows up (see nodes/memory.py).
        _server.add_on_prompt_handler(_memory.prompt_stamper(memory_node_types()))
    else:
        logging.getLogger(__name__).debug("no PromptServer: nodes registered without routes")
