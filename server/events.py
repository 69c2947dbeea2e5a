"""The listener's live stream: server-sent events, one per request change.

ComfyUI's websocket is not on the pack's listener, so the inbox there follows
``GET /hitl/events`` instead (``text/event-stream``). The registry tells the hub of every
change from whatever thread made it, under its lock: :meth:`EventHub.publish` only hands
the view to the server's loop (``call_soon_threadsafe``) and returns. On the loop, each
client has a bounded queue; a client whose queue is full (it reads too slowly) is dropped,
and its browser reconnects and lists again. A comment every :data:`KEEPALIVE_S` seconds
keeps proxies and phones from closing an idle stream. A revoked device's streams close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any

from aiohttp import web

from . import protocol as P

log = logging.getLogger(__name__)

#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE_S = 15.0
#: Events queued for one client before it counts as too slow and is dropped.
CLIENT_QUEUE = 256
#: How long a browser waits before reconnecting a dropped stream (the ``retry`` field), ms.
RETRY_MS = 1000


def frame(event: str, data: Any) -> bytes:
    """One server-sent event: its name and its JSON data on one line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class StreamClient:
    """One open stream: its queue of frames, and the device it belongs to."""

    def __init__(self, device_id: str | None) -> None:
        self.device_id = device_id
        self.client_id = secrets.token_hex(16)
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CLIENT_QUEUE)
        self.closed = False

    def __repr__(self) -> str:
        return f"<StreamClient {self.client_id[:8]} device={self.device_id} closed={self.closed}>"

    def close(self) -> None:
        """End the stream (its handler wakes and returns). On the loop only."""
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class EventHub:
    """Fans request changes out to every open stream (see the module's docstring).

    ``bind(loop)`` names the loop the streams run on (the listener's start does it);
    changes published before that, or after the loop closed, go nowhere.
    """

    def __init__(self, *, keepalive_s: float = KEEPALIVE_S) -> None:
        self.keepalive_s = keepalive_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[StreamClient] = set()
        #: Clients dropped for being slow, since the start (for tests and logs).
        self.dropped = 0

    def __repr__(self) -> str:
        return f"<EventHub clients={len(self._clients)} dropped={self.dropped}>"

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` from now on."""
        self._loop = loop

    def client_count(self) -> int:
        """How many streams are open."""
        return len(self._clients)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """A registry notifier: hand the change to the loop and return at once (any thread)."""
        loop = self._loop
        if loop is None or not self._clients:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody listens
            loop.call_soon_threadsafe(self._fan_out, frame(event, data))

    def _fan_out(self, data: bytes) -> None:
        for client in list(self._clients):
            if client.closed:
                continue
            try:
                client.queue.put_nowait(data)
            except asyncio.QueueFull:
                self.dropped += 1
                log.info("dropped a live stream that read too slowly (it reconnects and lists again)")
                client.close()

    def close_device(self, device_id: str) -> None:
        """Close every stream of a device (it was revoked). Any thread."""
        loop = self._loop
        if loop is None:
            return

        def close() -> None:
            for client in list(self._clients):
                if client.device_id == device_id:
                    client.close()

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(close)

    def close_all(self) -> None:
        """Close every stream (the listener stops). On the loop only."""
        for client in list(self._clients):
            client.close()

    async def stream(self, request: web.Request, device_id: str | None) -> web.StreamResponse:
        """Serve one stream until the client goes, is dropped, or its device is revoked."""
        client = StreamClient(device_id)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a reverse proxy passes each event on at once
            }
        )
        await response.prepare(request)
        self._clients.add(client)
        try:
            await response.write(
                f"retry: {RETRY_MS}\n\n".encode() + frame(P.EVENT_HELLO, {"client_id": client.client_id})
            )
            while True:
                try:
                    data = await asyncio.wait_for(client.queue.get(), self.keepalive_s)
                except asyncio.TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if data is None:
                    break
                await response.write(data)
        except ConnectionError:
            log.debug("a live stream's client went away")
        finally:
            self._clients.discard(client)
            client.closed = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await response.write_eof()
        return response
