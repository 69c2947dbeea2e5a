"""Local HTTP receivers standing in for ntfy and webhooks: one that answers 200, one that
answers 500, one that never answers, one that redirects. Each records what it got."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request a receiver got."""

    at: float  # time.perf_counter() when its body was read
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = field(repr=False)


class Receiver:
    """A local HTTP server in a thread. ``mode``: "ok" (200), "fail" (``status``, 500 unless given), "hang" (reads the
    request, never answers until stopped), "redirect" (302 to ``redirect_to``)."""

    def __init__(self, mode: str = "ok", *, redirect_to: str = "", status: int = 500) -> None:
        self.mode = mode
        self.status = status
        self.redirect_to = redirect_to
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._record(Received(time.perf_counter(), "POST", self.path, dict(self.headers.items()), body))
                if receiver.mode == "hang":
                    receiver._release.wait()
                    self.close_connection = True
                    return
                if receiver.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = receiver.status if receiver.mode == "fail" else 200
                reply = b"oops" if status >= 400 else b'{"ok":true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"receiver-{mode}", daemon=True)
        self._thread.start()

    def _record(self, item: Received) -> None:
        with self._changed:
            self.received.append(item)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first ``count`` requests, once they have arrived (waits on a condition)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{self.mode} receiver got {len(self.received)} of {count} requests")
            return list(self.received[:count])

    def count(self) -> int:
        with self._changed:
            return len(self.received)

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()
