"""Hostile clients against a real ComfyUI (opt-in: set HITL_COMFYUI_DIR, see
test_real_comfyui): the issue's 256 KB picker answer is refused at once while ComfyUI's own
routes keep answering; a DNS-rebinding Host is refused; a LAN address is served when
ComfyUI listens on every interface."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from dev.harness.comfyui import ComfyClient, RealComfyUI
from dev.harness.hostile import TARGETS, http_request, timed_exchange
from dev.harness.pack import submodule

pytestmark = pytest.mark.real_comfyui

P = submodule("server.protocol")


def picker_prompt() -> dict[str, Any]:
    """A batch of 8 small images → picker → preview, in API format."""
    return {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 8, "color": 0x808080}},
        "2": {
            "class_type": "HitlImagePicker",
            "inputs": {
                "images": ["1", 0],
                "mode": "always ask",
                "min_picks": 1,
                "max_picks": 0,
                "title": "hostile",
                "timeout_seconds": 0,
                "on_timeout": "cancel run",
            },
        },
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


def doubler_prompt() -> dict[str, Any]:
    return {"1": {"class_type": "HitlIntegerDoubler", "inputs": {"value": 2, "ask_first": True, "timeout_seconds": 0}}}


async def test_the_issues_256kb_picker_answer_is_refused_in_under_100ms(comfyui: RealComfyUI) -> None:
    body = TARGETS["image picker"].all_shapes()["repeated indices"](P.MAX_BODY_BYTES)
    assert len(body) > 0.99 * P.MAX_BODY_BYTES  # [0,1,2,3,0,1,2,3,...], 131,066 indices
    address = f"127.0.0.1:{comfyui.port}"
    probe = http_request("GET", "/system_stats", address)
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(picker_prompt())
        view = await client.waiting_request(prompt_id, timeout=60)
        try:
            results = []
            for _ in range(5):
                answer = http_request("POST", f"/api/hitl/requests/{view['id']}/answer", address, body)
                results.append(await timed_exchange(comfyui.port, answer, probe, timeout=60))
            assert all(result.status == 422 for result in results), results[0].body[:200]
            assert all(result.probe_status == 200 for result in results)
            refusals = [result.seconds for result in results]
            probes = [result.probe_seconds for result in results]
            # Under 100 ms at best of five, so a machine busy with other work does not decide
            # (the quadratic check could never do it once: it took minutes); and every one
            # far below that, with the probe answered alongside.
            assert min(refusals) < 0.1, refusals
            assert max(refusals) < 1.0 and max(probes) < 1.0, (refusals, probes)
            assert (await client.get("/api/hitl/requests"))["requests"][0]["id"] == view["id"]
        finally:
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
            await client.run_end(prompt_id)


async def rebinding_refused(url: str, port: int, request_id: str) -> None:
    """Every route, with the Host and Origin a DNS-rebinding page sends: 403 forbidden_host."""
    host = f"evil.example:{port}"
    headers = {"Host": host, "Origin": f"http://{host}"}
    async with aiohttp.ClientSession(url) as session:
        for prefix in ("/api", ""):
            for method, path, body in (
                ("GET", "/hitl/requests", None),
                ("GET", "/hitl/openapi.json", None),
                ("POST", f"/hitl/requests/{request_id}/answer", {"value": 4}),
                ("POST", f"/hitl/requests/{request_id}/cancel", {}),
            ):
                async with session.request(method, prefix + path, json=body, headers=headers) as response:
                    refusal = await response.json(content_type=None)
                    assert response.status == 403, (path, refusal)
                    assert refusal["error"]["code"] == "forbidden_host"


async def test_a_rebinding_host_gets_403(comfyui: RealComfyUI) -> None:
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(doubler_prompt())
        view = await client.waiting_request(prompt_id, timeout=60)
        try:
            await rebinding_refused(comfyui.url, comfyui.port, view["id"])
            # Nothing changed: the request still waits, and its own origin answers it.
            assert [request["id"] for request in (await client.get("/api/hitl/requests"))["requests"]] == [view["id"]]
            status, body = await client.post(f"/api/hitl/requests/{view['id']}/answer", {"value": 4})
            assert status == 200, body
            _, end = await client.run_end(prompt_id)
            assert end["type"] == "execution_success"
        finally:
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})


def lan_address() -> str | None:
    """This machine's address on its network (the one its default route uses)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("203.0.113.1", 9))  # UDP: nothing is sent
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address


@pytest.fixture(scope="module")
def comfyui_on_every_interface() -> Iterator[tuple[RealComfyUI, str]]:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    real = RealComfyUI.from_environment(listen="0.0.0.0")  # noqa: S104 (what a phone on the LAN needs)
    if real is None:
        pytest.skip("opt-in: set HITL_COMFYUI_DIR")
    real.start()
    try:
        yield real, address
    finally:
        real.stop()


async def test_a_phone_on_the_lan_is_served_when_comfyui_listens_on_every_interface(
    comfyui_on_every_interface: tuple[RealComfyUI, str],
) -> None:
    comfyui, address = comfyui_on_every_interface
    lan_url = f"http://{address}:{comfyui.port}"
    async with ComfyClient(comfyui.url) as client:
        prompt_id = await client.queue(doubler_prompt())
        view = await client.waiting_request(prompt_id, timeout=60)
        try:
            # What the phone's browser sends: Host and Origin are the LAN address it opened.
            async with aiohttp.ClientSession(lan_url, headers={"Origin": lan_url}) as phone:
                async with phone.get("/api/hitl/requests") as response:
                    assert response.status == 200
                    assert [request["id"] for request in (await response.json())["requests"]] == [view["id"]]
                await rebinding_refused(lan_url, comfyui.port, view["id"])
                async with phone.post(f"/api/hitl/requests/{view['id']}/answer", json={"value": 4}) as response:
                    assert response.status == 200, await response.text()
            _, end = await client.run_end(prompt_id)
            assert end["type"] == "execution_success"
            assert (await client.history(prompt_id))["outputs"]["1"]["doubled"] == [4]
        finally:
            await client.post(f"/api/hitl/requests/{view['id']}/cancel", {})
