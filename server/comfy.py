"""Everything we take from ComfyUI itself, in one place, each import guarded.

Outside ComfyUI (unit tests, the harness, the demo) these fall back to stand-ins, so the
rest of the pack never imports ``server``, ``comfy`` or ``comfy_execution`` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
#: And which item of a list the node runs for: (index, length), or None.
_STAND_IN_ITEM: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "comfyui_hitl_stand_in_item", default=None
)


@contextlib.contextmanager
def stand_in_context(prompt_id: str | None, node_id: str | None, item: tuple[int, int] | None = None) -> Iterator[None]:
    """Run code as if ComfyUI were executing ``node_id`` of ``prompt_id`` (for list item
    ``item``: its index and the list's length) (harness only)."""
    token = _STAND_IN_CONTEXT.set((prompt_id, node_id))
    item_token = _STAND_IN_ITEM.set(item)
    try:
        yield
    finally:
        _STAND_IN_ITEM.reset(item_token)
        _STAND_IN_CONTEXT.reset(token)


def _executing() -> Any:
    """ComfyUI's executing context (prompt_id, node_id, list_index), or None outside ComfyUI;
    raises ImportError when ComfyUI is not there."""
    utils = importlib.import_module("comfy_execution.utils")
    get_context = getattr(utils, "get_executing_context", None)
    return get_context() if get_context else None


def executing_context() -> tuple[str | None, str | None]:
    """(prompt_id, node_id) of the node now executing, or (None, None)."""
    try:
        context = _executing()
    except ImportError:
        return _STAND_IN_CONTEXT.get()
    if context is None:
        return None, None
    return getattr(context, "prompt_id", None), getattr(context, "node_id", None)


@dataclass(frozen=True)
class ListItem:
    """Which item of a list a node runs for: ``index`` from 0, and the list's ``length``
    (None when it cannot be told)."""

    index: int
    length: int | None

    def words(self) -> str:
        """ "item 2 of 3" (or "item 2" when the length is unknown)."""
        return f"item {self.index + 1}" + (f" of {self.length}" if self.length is not None else "")


def list_item() -> ListItem | None:
    """The list item the executing node runs for, or None when it is not fed a list.

    ComfyUI calls a node fed a list once per item (``execution._async_map_node_over_list``),
    and its executing context gives the item's index, not the list's length; a node that is
    not fed a list runs as item 0 of 1. The length is that function's local
    ``max_len_input``: while an item's call runs its first step (before its first ``await``),
    the prompt's main task is suspended inside that function, so its frame is found on the
    main task's chain of awaits. Read it at the start of a node's call. When it cannot be
    found (another ComfyUI, a later step), the length is None: item 0 then counts as no list.
    """
    try:
        context = _executing()
    except ImportError:
        stand_in = _STAND_IN_ITEM.get()
        return None if stand_in is None or stand_in[1] <= 1 else ListItem(*stand_in)
    index = getattr(context, "list_index", None) if context is not None else None
    if not isinstance(index, int):
        return None
    length = _list_length(getattr(context, "prompt_id", None), getattr(context, "node_id", None))
    if (length is None and index == 0) or (length is not None and length <= 1):
        return None
    return ListItem(index, length)


_MAP_OVER_LIST = "_async_map_node_over_list"


def _list_length(prompt_id: Any, node_id: Any) -> int | None:
    """``max_len_input`` of ComfyUI's call of ``node_id`` over its list, if it is under way."""
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:  # no running loop
        return None
    for task in tasks:
        awaited: Any = task.get_coro()
        for _ in range(64):  # the chain of awaits is short; never walk far
            frame = getattr(awaited, "cr_frame", None)
            if frame is None:
                break
            if frame.f_code.co_name == _MAP_OVER_LIST:
                local = frame.f_locals
                if str(local.get("unique_id")) == str(node_id) and local.get("prompt_id") == prompt_id:
                    length = local.get("max_len_input")
                    return length if isinstance(length, int) and not isinstance(length, bool) else None
                break
            awaited = getattr(awaited, "cr_await", None)
    return None


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
