"""Everything we take from ComfyUI itself, in one place, each import guarded.

Outside ComfyUI (unit tests, the harness, the demo) these fall back to stand-ins, so the
rest of the pack never imports ``server``, ``comfy`` or ``comfy_execution`` directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)


class RunInterrupted(Exception):
    """Raised by a node to end its run as *interrupted* when ComfyUI is not there."""


def interrupt_exception() -> type[BaseException]:
    """ComfyUI's ``InterruptProcessingException``: raising it ends a run as interrupted,
    not as an error. Our own class when ComfyUI is not importable."""
    try:
        module = importlib.import_module("comfy.model_management")
    except ImportError:
        return RunInterrupted
    return getattr(module, "InterruptProcessingException", RunInterrupted)


def nothing() -> Any:
    """An output that carries nothing: ComfyUI's ``ExecutionBlocker`` without a message, so
    every node fed from it is skipped quietly (instead of being run with None, which most
    nodes, Save Image among them, fail on), and the run goes on. None outside ComfyUI."""
    try:
        module = importlib.import_module("comfy_execution.graph_utils")
    except ImportError:
        return None
    blocker = getattr(module, "ExecutionBlocker", None)
    return blocker(None) if blocker is not None else None


#: Where a stand-in host (the harness) says which prompt and node run, outside ComfyUI.
_STAND_IN_CONTEXT: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "comfyui_hitl_stand_in_context", default=(None, None)
)


@contextlib.contextmanager
def stand_in_context(prompt_id: str | None, node_id: str | None) -> Iterator[None]:
    """Run code as if ComfyUI were executing ``node_id`` of ``prompt_id`` (harness only)."""
    token = _STAND_IN_CONTEXT.set((prompt_id, node_id))
    try:
        yield
    finally:
        _STAND_IN_CONTEXT.reset(token)


def executing_context() -> tuple[str | None, str | None]:
    """(prompt_id, node_id) of the node now executing, or (None, None)."""
    try:
        utils = importlib.import_module("comfy_execution.utils")
    except ImportError:
        return _STAND_IN_CONTEXT.get()
    get_context = getattr(utils, "get_executing_context", None)
    context = get_context() if get_context else None
    if context is None:
        return None, None
    return getattr(context, "prompt_id", None), getattr(context, "node_id", None)


def prompt_server() -> Any | None:
    """``PromptServer.instance``, or None outside a running ComfyUI."""
    try:
        server = importlib.import_module("server")
    except ImportError:
        return None
    prompt_server_class = getattr(server, "PromptServer", None)
    return getattr(prompt_server_class, "instance", None)


def user_directory() -> str | None:
    """ComfyUI's user directory (``folder_paths.get_user_directory()``, ``ComfyUI/user`` or
    ``<base directory>/user``), or None outside ComfyUI."""
    try:
        folder_paths = importlib.import_module("folder_paths")
    except ImportError:
        return None
    get_user_directory = getattr(folder_paths, "get_user_directory", None)
    if get_user_directory is None:
        log.warning("this ComfyUI has no folder_paths.get_user_directory(); settings and audit stay in memory")
        return None
    directory = get_user_directory()
    return str(directory) if directory else None


def listen_port() -> int | None:
    """The port ComfyUI listens on (``--port``, ``comfy.cli_args.args.port``), or None
    outside ComfyUI: a push may never target it."""
    try:
        cli_args = importlib.import_module("comfy.cli_args")
    except ImportError:
        return None
    port = getattr(getattr(cli_args, "args", None), "port", None)
    return port if isinstance(port, int) else None


def broadcaster(server: Any) -> Callable[[str, dict[str, Any]], None]:
    """A notifier that broadcasts to every tab through ComfyUI's thread-safe ``send_sync``."""

    def notify(event: str, data: dict[str, Any]) -> None:
        server.send_sync(event, data)

    return notify


class ComfyInterruptSource:
    """ComfyUI's interrupt flag (``comfy.model_management``), with a push when it is raised.

    ComfyUI only sets a flag; nothing is told. We wrap ``interrupt_current_processing``
    (which ``nodes.interrupt_processing``, and so ``POST /interrupt``, look up at call
    time) so that a raised flag also calls our callbacks at once. The wrap is installed the
    first time a node waits, not at import, and only once. If ComfyUI ever renames the
    function, ``subscribe`` says so and waiters fall back to polling the flag.
    """

    _HOOK_MARK = "_comfyui_hitl_callbacks"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _module(self) -> Any | None:
        try:
            return importlib.import_module("comfy.model_management")
        except ImportError:
            return None

    def is_set(self) -> bool:
        module = self._module()
        return bool(module and module.processing_interrupted())

    def subscribe(self, callback: Callable[[], None]) -> bool:
        module = self._module()
        original = getattr(module, "interrupt_current_processing", None) if module else None
        if module is None or original is None:
            log.warning("ComfyUI interrupt hook unavailable; waiting nodes will poll the flag")
            return False
        with self._lock:
            callbacks: list[Callable[[], None]] | None = getattr(original, self._HOOK_MARK, None)
            if callbacks is None:
                callbacks = []

                @functools.wraps(original)
                def interrupt_current_processing(value: bool = True) -> None:
                    original(value)
                    if value:
                        for notify in list(callbacks):
                            try:
                                notify()
                            except Exception:
                                log.exception("interrupt callback failed")

                setattr(interrupt_current_processing, self._HOOK_MARK, callbacks)
                module.interrupt_current_processing = interrupt_current_processing
            callbacks.append(callback)
        return True
