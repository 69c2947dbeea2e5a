"""A push receiver in a process of its own (``python -m dev.bench.receiver ok|hang|fail``), so
the benchmark's receiver takes no CPU or GIL from the server it measures, as a real ntfy
or webhook server would not. It prints its port, then one JSON line per request:
``{"t": time.monotonic(), "path": ..., "title": ..., "body": ...}``. ``hang`` reads each
request and never answers; ``fail`` answers 500."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_write = threading.Lock()


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
    forever = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            line = {
                "t": time.monotonic(),
                "path": self.path,
                "title": self.headers.get("Title"),
                "click": self.headers.get("Click"),
                "body": body.decode(),
            }
            with _write:
                print(json.dumps(line), flush=True)
            if mode == "hang":
                forever.wait()
                return
            status = 500 if mode == "fail" else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
