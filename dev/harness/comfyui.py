"""Drive a real ComfyUI for the opt-in tests and benchmarks.

``HITL_COMFYUI_DIR`` names a ComfyUI checkout; ``HITL_COMFYUI_PYTHON`` the interpreter that
has its requirements (default: this one); ``HITL_COMFYUI_FRONTEND_ROOT`` optionally another
frontend's static folder (``--front-end-root``). The pack is linked into a fresh base
directory's ``custom_nodes`` under a folder name of our choosing, to prove no code relies on
the install folder's name.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from .pack import ROOT

ENV_DIR = "HITL_COMFYUI_DIR"
ENV_PYTHON = "HITL_COMFYUI_PYTHON"
ENV_FRONTEND = "HITL_COMFYUI_FRONTEND_ROOT"
#: Deliberately not the repository's name: nothing may depend on the install folder.
PACK_FOLDER = "hitl-pack-under-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RealComfyUI:
    """A ComfyUI process on 127.0.0.1 with the pack installed; ``start`` waits for its ready line."""

    def __init__(
        self,
        comfy_dir: str | Path,
        *,
        python: str | None = None,
        front_end_root: str | None = None,
        listen: str = "127.0.0.1",
        pack_root: Path | None = None,
    ) -> None:
        self.comfy_dir = Path(comfy_dir)
        #: ComfyUI's --listen; the tests still reach it at 127.0.0.1 (``url``).
        self.listen = listen
        #: The copy of the pack to install (this repository, or e.g. an older commit of it).
        self.pack_root = pack_root or ROOT
        self.python = python or os.environ.get(ENV_PYTHON) or sys.executable
        self.front_end_root = front_end_root if front_end_root is not None else os.environ.get(ENV_FRONTEND)
        self.base = Path(tempfile.mkdtemp(prefix="hitl-comfy-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log: list[str] = []
        self._ready = threading.Event()
        self._exited = threading.Event()
        self.process: subprocess.Popen[str] | None = None

    @classmethod
    def from_environment(cls, *, listen: str = "127.0.0.1") -> RealComfyUI | None:
        folder = os.environ.get(ENV_DIR)
        return cls(folder, listen=listen) if folder else None

    def start(self, timeout: float = 180) -> str:
        (self.base / "custom_nodes").mkdir(parents=True)
        (self.base / "custom_nodes" / PACK_FOLDER).symlink_to(self.pack_root, target_is_directory=True)
        settings = self.base / "user" / "default" / "comfy.settings.json"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps({"Comfy.TutorialCompleted": True}))
        command = [
            self.python,
            "main.py",
            "--cpu",
            "--listen",
            self.listen,
            "--port",
            str(self.port),
            "--disable-auto-launch",
            "--base-directory",
            str(self.base),
            # The database ignores --base-directory; keep it out of the ComfyUI checkout.
            "--database-url",
            "sqlite:///:memory:",
        ]
        if self.front_end_root:
            command += ["--front-end-root", self.front_end_root]
        self.process = subprocess.Popen(
            command,
            cwd=self.comfy_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            # The tests' push receivers listen on loopback: pushes to this machine are allowed.
            env={**os.environ, "PYTHONUNBUFFERED": "1", "COMFYUI_HITL_ALLOW_LOOPBACK_PUSH": "1"},
        )
        self._log_reader = threading.Thread(target=self._read_log, name="comfyui-log", daemon=True)
        self._log_reader.start()
        # Wait on the server's own "ready" line (or its exit), not on a guessed delay.
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.5):
            if self._exited.is_set() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("ComfyUI did not start:\n" + "".join(self.log[-60:]))
        return self.url

    def _read_log(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line)
            if "To see the GUI go to" in line:
                self._ready.set()
        self._exited.set()

    def import_failures(self) -> list[str]:
        """Log lines that say our pack (or any pack) failed to import."""
        return [
            line for line in self.log if "IMPORT FAILED" in line or ("Cannot import" in line and PACK_FOLDER in line)
        ]

    def pack_import_ok(self) -> bool:
        text = "".join(self.log)
        return PACK_FOLDER in text and not any(PACK_FOLDER in line for line in self.import_failures())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # Started from a non-interactive shell, ComfyUI ignores SIGINT: SIGTERM its group.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.process is not None and self.process.stdout is not None:
            self._log_reader.join(10)
            self.process.stdout.close()
        shutil.rmtree(self.base, ignore_errors=True)


class ComfyClient:
    """An API client of a real ComfyUI: queue prompts, follow the websocket, read history."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client_id = str(uuid.uuid4())
        self.session: aiohttp.ClientSession | None = None
        self.socket: aiohttp.ClientWebSocketResponse | None = None
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ComfyClient:
        self.session = aiohttp.ClientSession(self.url)
        self.socket = await self.session.ws_connect(f"/ws?clientId={self.client_id}", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: Any) -> None:
        if self._reader:
            self._reader.cancel()
        if self.socket:
            await self.socket.close()
        if self.session:
            await self.session.close()

    async def _read(self) -> None:
        assert self.socket is not None
        async for message in self.socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.messages.append((time.perf_counter(), json.loads(message.data)))
                self._arrived.set()

    async def wait_message(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = 30
    ) -> tuple[float, dict[str, Any]]:
        """The first websocket message (from index ``after`` on) that matches, with its arrival time."""
        index = after
        deadline = time.monotonic() + timeout
        while True:
            while index < len(self.messages):
                arrived, message = self.messages[index]
                index += 1
                if predicate(message):
                    return arrived, message
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching websocket message")
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                raise TimeoutError("no matching websocket message") from None

    async def queue(self, prompt: dict[str, Any], *, extra_data: dict[str, Any] | None = None) -> str:
        assert self.session is not None
        body: dict[str, Any] = {"prompt": prompt, "client_id": self.client_id}
        if extra_data is not None:
            body["extra_data"] = extra_data
        async with self.session.post("/prompt", json=body) as response:
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"prompt refused: {body}")
            return body["prompt_id"]

    async def waiting_request(self, prompt_id: str, *, after: int = 0, timeout: float = 30) -> dict[str, Any]:
        """The view of the next request of ``prompt_id`` that waits."""
        _, message = await self.wait_message(
            lambda m: (
                m.get("type") == "hitl-request"
                and m["data"].get("prompt_id") == prompt_id
                and m["data"].get("state") == "waiting"
            ),
            after=after,
            timeout=timeout,
        )
        return message["data"]

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        assert self.session is not None
        async with self.session.post(path, json=body) as response:
            return response.status, await response.json(content_type=None)

    async def get(self, path: str) -> Any:
        assert self.session is not None
        async with self.session.get(path) as response:
            return await response.json(content_type=None)

    async def run_end(self, prompt_id: str, *, timeout: float = 60) -> tuple[float, dict[str, Any]]:
        """The message that ends ``prompt_id`` (execution_success, _interrupted or _error)
        and its arrival time; returns once history is written (``executing`` of no node)."""
        ended = await self.wait_message(
            lambda m: (
                m.get("type") in {"execution_success", "execution_interrupted", "execution_error"}
                and m.get("data", {}).get("prompt_id") == prompt_id
            ),
            timeout=timeout,
        )
        await self.wait_message(
            lambda m: (
                m.get("type") == "executing"
                and m.get("data", {}).get("node") is None
                and m.get("data", {}).get("prompt_id") == prompt_id
            ),
            timeout=timeout,
        )
        return ended

    async def history(self, prompt_id: str) -> dict[str, Any]:
        return (await self.get(f"/history/{prompt_id}")).get(prompt_id, {})

    async def interrupt(self) -> None:
        await self.post("/interrupt", {})
