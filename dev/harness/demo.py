"""The demo: the pack's real nodes, routes and dialogs on the stand-in host.

``python -m dev.harness.demo`` serves it until Ctrl-C; ``--check`` starts it, runs a doubler
round trip over HTTP as an API client would, prints the result and exits (0 on success).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading

import aiohttp

from .host import HarnessHost, HarnessServer

log = logging.getLogger("comfyui_hitl.demo")


async def check(url: str) -> int:
    """Queue a doubler, answer it through the pack's routes, and read the run's result."""
    async with aiohttp.ClientSession(url) as session:
        async with session.post(
            "/harness/queue",
            json={"node_type": "HitlIntegerDoubler", "inputs": {"value": 21, "ask_first": True, "timeout_seconds": 30}},
        ) as response:
            prompt_id = (await response.json())["prompt_id"]
        async with session.ws_connect("/ws") as socket:
            async with session.get("/api/hitl/requests") as response:
                pending = [r for r in (await response.json())["requests"] if r["prompt_id"] == prompt_id]
            while not pending:
                message = await socket.receive_json(timeout=10)
                data = message.get("data", {})
                if message.get("type") == "hitl-request" and data.get("prompt_id") == prompt_id:
                    pending = [data]
            request = pending[0]
            async with session.post(
                f"/api/hitl/requests/{request['id']}/answer", json={"value": request["payload"]["value"] * 2}
            ) as response:
                assert response.status == 200, await response.text()
            while True:
                message = await socket.receive_json(timeout=10)
                if message.get("type") == "harness-run" and message["data"]["prompt_id"] == prompt_id:
                    run = message["data"]
                    break
    print(f"demo check: doubler run {run['status']}, output {run['outputs'][0]['result']}")
    return 0 if run["status"] == "success" and run["outputs"][0]["result"] == [42] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8189)
    parser.add_argument("--check", action="store_true", help="run one round trip and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # The demo reads COMFYUI_HITL_* from the environment, as the pack does in ComfyUI (pushes).
    host = HarnessHost(environ=os.environ)
    server = HarnessServer(host, port=0 if args.check else args.port)
    url = server.start()
    try:
        if args.check:
            return asyncio.run(check(url))
        log.info("comfyui-hitl demo on %s (Ctrl-C to stop)", url)
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
        return 0
    finally:
        host.close()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
