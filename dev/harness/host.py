"""A stand-in ComfyUI: the real registry, routes, nodes and web modules, a worker thread
that runs each "prompt" in a fresh asyncio loop (as ComfyUI does), an interrupt flag, and
a websocket that broadcasts ``send_sync`` events to every tab.

Only the host is a stand-in; everything of the pack in it is the real code.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import json
import logging
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from .batches import materialize
from .pack import PACK_ROOT, submodule

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
#: The folder name the harness serves the pack's web/ under; any name must work.
EXTENSION_FOLDER = "comfyui-hitl-under-test"


class StandInInterrupt:
    """ComfyUI's interrupt flag, with the push that ``_comfy.ComfyInterruptSource`` adds.

    ``pushes=False`` behaves like a ComfyUI whose interrupt function we could not wrap, so
    waiters must poll the flag.
    """

    def __init__(self, *, pushes: bool = True) -> None:
        self._lock = threading.Lock()
        self._flag = False
        self._pushes = pushes
        self._callbacks: list[Callable[[], None]] = []
        self.raised_at: float | None = None

    def __repr__(self) -> str:
        return f"<StandInInterrupt set={self._flag} pushes={self._pushes}>"

    def is_set(self) -> bool:
        with self._lock:
            return self._flag

    def subscribe(self, callback: Callable[[], None]) -> bool:
        if self._pushes:
            with self._lock:
                self._callbacks.append(callback)
        return self._pushes

    def raise_flag(self) -> None:
        """What ``POST /interrupt`` does: set the flag (and, through our hook, push)."""
        with self._lock:
            self._flag = True
            self.raised_at = time.perf_counter()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback()

    def clear(self) -> None:
        with self._lock:
            self._flag = False


@dataclass
class NodeCall:
    """One node of a stand-in prompt: its id, its type and its inputs."""

    node_id: str
    node_type: str
    inputs: dict[str, Any]
    #: Inputs fed a list (an upstream OUTPUT_IS_LIST): the node is called once per item, as
    #: ComfyUI does (the items of an async node at once; a shorter list repeats its last).
    lists: dict[str, list[Any]] = field(default_factory=dict)


def _plain(value: Any) -> bool:
    """A small JSON value a run may keep after it ends (not a tensor, array or dict)."""
    return value is None or isinstance(value, (str, int, float, bool))


@dataclass
class Run:
    """One stand-in prompt: its nodes run concurrently in one fresh event loop."""

    prompt_id: str
    calls: list[NodeCall]
    done: threading.Event = field(default_factory=threading.Event)
    status: str | None = None  # "success" | "interrupted" | "error"
    outputs: list[Any] = field(default_factory=list)
    error: str | None = None
    ended_at: float | None = None
    #: perf_counter when the last node function returned or raised (before loop teardown).
    node_ended_at: float | None = None

    def wait(self, timeout: float = 10.0) -> Run:
        if not self.done.wait(timeout):
            raise TimeoutError(f"run {self.prompt_id} did not end within {timeout} s")
        return self

    def summary(self) -> dict[str, Any]:
        return {
            "prompt_id": self.prompt_id,
            "status": self.status,
            "outputs": _jsonable(self.outputs),
            "error": self.error,
        }


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


class HarnessHost:
    """The stand-in host. ``submit`` queues a run; ``wait_for`` waits on a broadcast event.

    ``user_dir`` stands for ComfyUI's user directory (settings file, audit log): a fresh
    temporary one, removed on close, unless given (to restart a host on the same one).
    ``environ`` stands for the environment the settings read (empty unless given);
    ``push_backoff`` shortens the pushes' waits between retries (tests).
    """

    def __init__(
        self,
        *,
        interrupt_pushes: bool = True,
        user_dir: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        push_backoff: tuple[float, ...] | None = None,
    ) -> None:
        state = submodule("state")
        nodes = submodule("nodes")
        self._comfy = submodule("server.comfy")
        self._own_user_dir = user_dir is None
        self.user_dir = Path(user_dir) if user_dir is not None else Path(tempfile.mkdtemp(prefix="hitl-user-"))
        self.settings = submodule("server.settings").SettingsStore(
            self.user_dir, environ={} if environ is None else environ
        )
        self.audit = submodule("server.audit").AuditLog(self.user_dir, self.settings.current)
        push = submodule("server.push")
        self.pusher = push.Pusher(self.settings, backoff=push_backoff or push.BACKOFF_S)
        self.interrupt = StandInInterrupt(pushes=interrupt_pushes)
        self.registry = state.RequestRegistry(
            notify=self._notify, interrupt=self.interrupt, history_log=self.audit, observers=(self.pusher,)
        )
        self.node_classes, self.display_names = nodes.build_node_mappings(self.registry)
        self._events: list[tuple[float, str, dict[str, Any]]] = []
        self._events_changed = threading.Condition()
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._queue: queue.Queue[Run | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.runs: dict[str, Run] = {}

    def __repr__(self) -> str:
        return f"<HarnessHost {self.registry!r} runs={len(self.runs)}>"

    # ------------------------------------------------------------------ events
    def _notify(self, event: str, data: dict[str, Any]) -> None:
        with self._events_changed:
            self._events.append((time.perf_counter(), event, data))
            self._events_changed.notify_all()
        for listener in list(self._listeners):
            listener(event, data)

    def add_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def event_count(self) -> int:
        with self._events_changed:
            return len(self._events)

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first broadcast request view (from event number ``after`` on) that matches."""
        deadline = time.monotonic() + timeout
        index = after
        with self._events_changed:
            while True:
                while index < len(self._events):
                    data = self._events[index][2]
                    index += 1
                    if predicate(data):
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._events_changed.wait(remaining):
                    raise TimeoutError("no matching request event")

    def wait_waiting(self, run: Run, *, timeout: float = 10.0, count: int = 1) -> list[dict[str, Any]]:
        """The views of the first ``count`` requests ``run`` opened, once they wait."""
        seen: list[dict[str, Any]] = []

        def match(view: dict[str, Any]) -> bool:
            if view.get("prompt_id") == run.prompt_id and view.get("state") == "waiting":
                seen.append(view)
            return len(seen) >= count

        self.wait_for(match, timeout=timeout)
        return seen

    # -------------------------------------------------------------------- runs
    def submit(
        self,
        node_type: str,
        inputs: dict[str, Any] | None = None,
        *,
        node_id: str = "1",
        workflow: dict[str, Any] | None = None,
    ) -> Run:
        """Queue a prompt of one node (``workflow``: see :meth:`submit_many`)."""
        return self.submit_many([NodeCall(node_id, node_type, dict(inputs or {}))], workflow=workflow)

    def submit_list(
        self,
        node_type: str,
        inputs: dict[str, Any],
        lists: dict[str, list[Any]],
        *,
        node_id: str = "1",
        workflow: dict[str, Any] | None = None,
    ) -> Run:
        """Queue a prompt of one node fed lists (``lists``: input name -> its items); the
        run's ``outputs`` are the items' results, in order."""
        return self.submit_many([NodeCall(node_id, node_type, dict(inputs), dict(lists))], workflow=workflow)

    def submit_many(self, calls: Iterable[NodeCall], *, workflow: dict[str, Any] | None = None) -> Run:
        """Queue a prompt whose nodes run at the same time (parallel branches).

        As ComfyUI does when a prompt is queued, the pack's on-prompt handler stamps the
        workflow's identity on our memory nodes. ``workflow`` is the whole API-format prompt
        those nodes belong to (other nodes are structure only: the host runs just ``calls``);
        by default the prompt is the calls alone.
        """
        calls = list(calls)
        self._stamp(calls, workflow)
        run = Run(prompt_id=str(uuid.uuid4()), calls=calls)
        self.runs[run.prompt_id] = run
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="harness-worker", daemon=True)
            self._worker.start()
        self._queue.put(run)
        return run

    def _stamp(self, calls: list[NodeCall], workflow: dict[str, Any] | None) -> None:
        memory = submodule("nodes.memory")
        prompt = {node_id: dict(node) for node_id, node in (workflow or {}).items()}
        for call in calls:
            prompt[call.node_id] = {"class_type": call.node_type, "inputs": call.inputs}
        extra_pnginfo = next((c.inputs["extra_pnginfo"] for c in calls if "extra_pnginfo" in c.inputs), None)
        body = {"prompt": prompt, "extra_data": {"extra_pnginfo": extra_pnginfo}}
        memory.stamp_prompt(body, submodule("nodes").memory_node_types())

    def _work(self) -> None:
        while True:
            run = self._queue.get()
            if run is None:
                return
            self._execute(run)

    def _execute(self, run: Run) -> None:
        # ComfyUI clears the interrupt flag when a prompt starts, and runs it in a fresh loop.
        self.interrupt.clear()
        interrupted = self._comfy.interrupt_exception()
        try:
            run.outputs = asyncio.run(self._run_calls(run))
            run.status = "success"
        except interrupted:
            run.status = "interrupted"
        except BaseExceptionGroup as group:  # several branches failed at once
            first = group.exceptions[0]
            run.status = "interrupted" if isinstance(first, interrupted) else "error"
            run.error = str(first)
        except Exception as exc:
            run.status = "error"
            run.error = f"{type(exc).__name__}: {exc}"
        run.ended_at = time.perf_counter()
        # Let go of the large inputs (a picker's batch may be gigabytes); the outputs stay,
        # and so do the plain values (widgets, the hidden workflow stamp) a test may read.
        run.calls = [
            NodeCall(call.node_id, call.node_type, {k: v for k, v in call.inputs.items() if _plain(v)})
            for call in run.calls
        ]
        run.done.set()
        for listener in list(self._listeners):
            listener("harness-run", run.summary())

    async def _run_calls(self, run: Run) -> list[Any]:
        async def one(call: NodeCall) -> Any:
            node_class = self.node_classes[call.node_type]
            function = getattr(node_class(), node_class.FUNCTION)
            # ComfyUI tells the tab that queued the prompt which node starts, just before it runs.
            executing = {"node": call.node_id, "display_node": call.node_id, "prompt_id": run.prompt_id}
            for listener in list(self._listeners):
                listener("executing", executing)
            try:
                with self._comfy.stand_in_context(run.prompt_id, call.node_id):
                    result = function(**call.inputs)
                    if inspect.isawaitable(result):
                        result = await result
                return result
            finally:
                run.node_ended_at = time.perf_counter()

        async def items(call: NodeCall) -> list[Any]:
            # ComfyUI's _async_map_node_over_list: one call per item, each async call a task
            # started at once (create_task, then one sleep(0)); every task is awaited before
            # the node's result (or its first failure) counts.
            node_class = self.node_classes[call.node_type]
            length = max(len(values) for values in call.lists.values())
            tasks = []
            for index in range(length):
                inputs = {**call.inputs, **{k: v[min(index, len(v) - 1)] for k, v in call.lists.items()}}
                function = getattr(node_class(), node_class.FUNCTION)
                with self._comfy.stand_in_context(run.prompt_id, call.node_id, (index, length)):
                    tasks.append(asyncio.create_task(function(**inputs)))
                await asyncio.sleep(0)
            try:
                await asyncio.wait(tasks)
            finally:
                run.node_ended_at = time.perf_counter()
            failures = [task.exception() for task in tasks]  # every one retrieved
            first = next((failure for failure in failures if failure is not None), None)
            if first is not None:
                raise first
            return [task.result() for task in tasks]

        if len(run.calls) == 1 and run.calls[0].lists:
            return await items(run.calls[0])
        if len(run.calls) == 1:
            return [await one(run.calls[0])]
        # Like ComfyUI: the first failure ends the prompt and the other branches are cancelled.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(call)) for call in run.calls]
        except BaseExceptionGroup as group_error:
            if len(group_error.exceptions) == 1:
                raise group_error.exceptions[0] from None
            raise
        return [task.result() for task in tasks]

    def close(self) -> None:
        """End every wait, stop the worker, the pushes and the audit writer (which writes
        what is queued first)."""
        self.registry.reset_all()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=5)
        self.pusher.close()
        self.audit.close()
        if self._own_user_dir:
            shutil.rmtree(self.user_dir, ignore_errors=True)


# ---------------------------------------------------------------------- server
def build_app(
    host: HarnessHost,
    *,
    allowed_origins: Iterable[str] = (),
    extra_routes: web.RouteTableDef | None = None,
    remote: Any = None,
    remote_address: tuple[str, int] | None = None,
) -> web.Application:
    """An aiohttp app serving the pack like ComfyUI does, plus the stand-in frontend
    (and ``extra_routes``, e.g. a benchmark's baseline). ``remote`` (a
    ``server.remote.RemoteAccess``) adds the pairing routes, and its listener starts with the
    app at ``remote_address``, as the pack does in ComfyUI."""
    server_routes = submodule("server_routes")
    app = web.Application()
    routes = web.RouteTableDef()
    for route in extra_routes or ():
        assert isinstance(route, web.RouteDef)
        routes.route(route.method, route.path)(route.handler)
    server_routes.add_routes(
        routes,
        host.registry,
        allowed_origins=allowed_origins,
        settings=host.settings,
        pusher=host.pusher,
        access=remote.comfy_access if remote is not None else None,
    )
    if remote is not None:
        remote.add_comfy_routes(routes)
    # ComfyUI serves every custom route a second time under /api.
    api_routes = web.RouteTableDef()
    for route in routes:
        assert isinstance(route, web.RouteDef)
        api_routes.route(route.method, "/api" + route.path)(route.handler)
    app.add_routes(routes)
    app.add_routes(api_routes)
    if remote is not None:
        remote.attach(app, remote_address)

    sockets: set[web.WebSocketResponse] = set()
    outbox: asyncio.Queue[str] | None = None

    async def publish(app: web.Application) -> Any:
        nonlocal outbox
        outbox = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def send_sync(event: str, data: dict[str, Any]) -> None:
            message = json.dumps({"type": event, "data": data})
            # The server may be stopping while a run ends: then nobody listens any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(outbox.put_nowait, message)  # type: ignore[union-attr]

        host.add_listener(send_sync)

        async def drain() -> None:
            assert outbox is not None
            while True:
                message = await outbox.get()
                for socket in list(sockets):
                    try:
                        await socket.send_str(message)
                    except (ConnectionError, RuntimeError):
                        sockets.discard(socket)

        task = asyncio.create_task(drain())
        yield
        # The server's loop closes after this: later changes (a test's teardown) go nowhere.
        host.remove_listener(send_sync)
        task.cancel()
        for socket in list(sockets):
            await socket.close()

    app.cleanup_ctx.append(publish)

    async def close_sockets(app: web.Application) -> None:
        # As ComfyUI's server going down does: every websocket is told at once (aiohttp
        # would otherwise wait for their handlers to end before it cleans up).
        for socket in list(sockets):
            await socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"server shutdown")

    app.on_shutdown.append(close_sockets)

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        sockets.add(socket)
        # As ComfyUI does: the socket's client id is the one it asked for, or a new one, said
        # in the first status message.
        sid = request.query.get("clientId") or uuid.uuid4().hex
        status = {"status": {"exec_info": {"queue_remaining": 0}}, "sid": sid}
        await socket.send_json({"type": "status", "data": status})
        try:
            async for _ in socket:
                pass
        finally:
            sockets.discard(socket)
        return socket

    async def extensions(request: web.Request) -> web.Response:
        web_dir = PACK_ROOT / "web"
        files = sorted(p.relative_to(web_dir).as_posix() for p in web_dir.rglob("*.js"))
        return web.json_response([f"/extensions/{EXTENSION_FOLDER}/{name}" for name in files])

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def queue_run(request: web.Request) -> web.Response:
        body = await request.json()
        calls = body.get("calls") or [{"node_type": body["node_type"], "inputs": body.get("inputs", {})}]
        try:
            # {"generate": ...} inputs become arrays here (a picker's batch, its latents, masks).
            prepared = [
                NodeCall(str(call.get("node_id", i + 1)), call["node_type"], materialize(call.get("inputs", {})))
                for i, call in enumerate(calls)
            ]
        except ValueError as exc:
            return web.json_response({"error": {"code": "invalid_body", "message": str(exc)}}, status=422)
        run = host.submit_many(prepared)
        return web.json_response({"prompt_id": run.prompt_id})

    async def run_status(request: web.Request) -> web.Response:
        run = host.runs.get(request.match_info["prompt_id"])
        if run is None:
            raise web.HTTPNotFound()
        return web.json_response(run.summary())

    async def interrupt(request: web.Request) -> web.Response:
        host.interrupt.raise_flag()
        return web.json_response({})

    app.router.add_get("/", index)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/extensions", extensions)
    app.router.add_static(f"/extensions/{EXTENSION_FOLDER}", PACK_ROOT / "web")
    app.router.add_static("/scripts", STATIC / "scripts")
    app.router.add_post("/harness/queue", queue_run)
    app.router.add_get("/harness/runs/{prompt_id}", run_status)
    app.router.add_post("/harness/interrupt", interrupt)
    return app


class HarnessServer:
    """Serves :func:`build_app` on 127.0.0.1 (or ``address``) from a thread of its own."""

    _ids = itertools.count(1)

    def __init__(
        self,
        host: HarnessHost,
        *,
        port: int = 0,
        allowed_origins: Iterable[str] = (),
        extra_routes: web.RouteTableDef | None = None,
        address: str = "127.0.0.1",
        remote: Any = None,
        remote_address: tuple[str, int] | None = None,
    ) -> None:
        self.host = host
        self.remote = remote
        self.remote_address = remote_address
        self.port = port
        self.address = address
        self.allowed_origins = tuple(allowed_origins)
        self.extra_routes = extra_routes
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def start(self) -> str:
        started = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            runner = web.AppRunner(
                build_app(
                    self.host,
                    allowed_origins=self.allowed_origins,
                    extra_routes=self.extra_routes,
                    remote=self.remote,
                    remote_address=self.remote_address,
                )
            )
            await runner.setup()
            site = web.TCPSite(runner, self.address, self.port)
            await site.start()
            sockets = site._server.sockets  # type: ignore[union-attr]
            self.port = sockets[0].getsockname()[1]
            self.url = f"http://{f'[{self.address}]' if ':' in self.address else self.address}:{self.port}"
            self._stopped = asyncio.Event()
            started.set()
            await self._stopped.wait()
            await runner.cleanup()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(serve())
            except BaseException as exc:  # surfaced to start()
                failure.append(exc)
                started.set()
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=main, name=f"harness-server-{next(self._ids)}", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
