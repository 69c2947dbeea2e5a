"""The pack's own listener for paired phones (docs/pairing.md), over real HTTP: ComfyUI's
stand-in on 127.0.0.1, the listener on 127.0.0.2. Only the inbox is there; every call but
the page, its modules and pairing needs a paired device; secrets work once and expire;
guessing is limited; revocation closes the stream; devices survive a restart; TLS."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_check import check_response
from remote_helpers import EventReader, FakeClock, Paired, call, device_cookie, start_paired

from dev.harness.host import HarnessHost, HarnessServer
from dev.harness.pack import submodule

P = submodule("server.protocol")
pairing_module = submodule("server.pairing")
remote_module = submodule("server.remote")
doubler = submodule("nodes.integer_doubler")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def paired(host: HarnessHost, clock: FakeClock) -> Iterator[Paired]:
    setup = start_paired(host, clock)
    try:
        yield setup
    finally:
        setup.server.stop()


def documented(method: str, path: str, reply: Any) -> None:
    check_response(method, path, reply.status, (reply.headers["Content-Type"] or "").split(";")[0], reply.body)


#: ComfyUI's own routes, and ours that the listener must not serve.
NOT_ON_THE_LISTENER = [
    ("POST", "/prompt"), ("GET", "/prompt"), ("GET", "/queue"), ("POST", "/interrupt"), ("GET", "/object_info"),
    ("GET", "/system_stats"), ("GET", "/view?filename=x.png"), ("POST", "/upload/image"), ("POST", "/upload/mask"),
    ("GET", "/userdata?dir=workflows"), ("GET", "/extensions"), ("GET", "/ws"), ("GET", "/"), ("GET", "/history"),
    ("GET", "/api/hitl/requests"), ("GET", "/hitl/openapi.json"), ("GET", "/hitl/notify/config"),
    ("POST", "/hitl/notify/config"), ("GET", "/hitl/notify/status"), ("POST", "/hitl/notify/test"),
    ("POST", "/hitl/pairing/secrets"), ("GET", "/hitl/devices"), ("POST", "/hitl/devices/x/revoke"),
    ("POST", "/hitl/devices/revoke-all"), ("GET", "/extensions/comfyui-hitl-under-test/main.js"),
]  # fmt: skip


@pytest.mark.parametrize("cookie", [False, True], ids=["unpaired", "paired"])
def test_nothing_of_comfyui_is_on_the_listener(paired: Paired, cookie: bool) -> None:
    token = paired.pair("Phone") if cookie else None
    for method, path in NOT_ON_THE_LISTENER:
        reply = call(paired.listener, method, path, {} if method == "POST" else None, cookie=token)
        assert reply.status == 404, (method, path, reply.status)
        assert reply.code == "not_found", (method, path, reply.body)
    # ... while ComfyUI's port still has our management routes (for this machine).
    assert call(paired.comfy, "GET", "/hitl/devices").status == 200


def test_every_listener_call_but_the_page_and_pairing_needs_a_paired_device(paired: Paired) -> None:
    request = paired.host.registry.open("integer-doubler", prompt_id="p", node_id="1", payload={"value": 3})
    rid = request.id
    needs_device = [
        ("GET", "/hitl/requests", None), ("GET", f"/hitl/requests/{rid}", None), ("GET", "/hitl/history", None),
        ("POST", f"/hitl/requests/{rid}/answer", {"value": 6}), ("POST", f"/hitl/requests/{rid}/cancel", {}),
        ("POST", f"/hitl/requests/{rid}/draft", {"value": 1}), ("GET", f"/hitl/requests/{rid}/images/0", None),
        ("POST", f"/hitl/requests/{rid}/thumbnails", {"order": [0]}), ("GET", "/hitl/device", None),
        ("GET", "/hitl/events", None),
    ]  # fmt: skip
    for cookie in (None, "", "x" * 43, "y" * 500, "not a token;"):
        for method, path, body in needs_device:
            reply = call(paired.listener, method, path, body, cookie=cookie)
            assert reply.status == 401 and reply.code == "not_paired", (cookie, method, path, reply.body)
            documented(method, path, reply)
    assert paired.host.registry.get(rid).state == "waiting"  # nothing changed
    # The page and its modules are public: they carry no request data.
    page = call(paired.listener, "GET", "/hitl/inbox")
    assert page.status == 200 and b"<title>Inbox" in page.body
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "no-referrer"
    assert call(paired.listener, "GET", "/hitl/ui/inbox/pairing.js").status == 200
    assert call(paired.listener, "GET", "/hitl/ui/web/main.js").status == 404
    # Paired, the same calls work, and an answer through the listener names the device.
    token = paired.pair("Kitchen phone")
    assert call(paired.listener, "GET", "/hitl/requests", cookie=token).json()["requests"][0]["id"] == rid
    reply = call(
        paired.listener, "POST", f"/hitl/requests/{rid}/answer", {"value": 6, "surface": "inbox"}, cookie=token
    )
    assert reply.status == 200, reply.body
    by = paired.host.audit.find(rid).by
    assert (by["surface"], by["device"], by["remote"]) == ("inbox", "Kitchen phone", "127.0.0.1")
    device = call(paired.listener, "GET", "/hitl/device", cookie=token).json()
    assert device["stream"] == "events" and device["device"]["name"] == "Kitchen phone"
    assert device["device"]["last_address"] == "127.0.0.1" and device["device"]["last_seen"]


def test_host_and_origin_checks_apply_on_the_listener(paired: Paired) -> None:
    token = paired.pair()
    evil = call(paired.listener, "GET", "/hitl/requests", cookie=token, headers={"Origin": "https://evil.example"})
    assert evil.status == 403 and evil.code == "forbidden_origin"
    rebinding = {"Host": "evil.example:8190", "Origin": "http://evil.example:8190"}
    for path in ("/hitl/requests", "/hitl/inbox"):
        reply = call(paired.listener, "GET", path, cookie=token, headers=rebinding)
        assert reply.status == 403 and reply.code == "forbidden_host", path
    own = call(paired.listener, "GET", "/hitl/requests", cookie=token, headers={"Origin": paired.listener})
    assert own.status == 200
    # The pairing call too: a foreign page cannot pair a device (nor spend attempts).
    secret = paired.pairing_link().split("#pair=")[1]
    foreign = call(
        paired.listener, "POST", "/hitl/pair", {"secret": secret}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status == 403 and "Set-Cookie" not in foreign.headers
    assert call(paired.listener, "POST", "/hitl/pair", {"secret": secret}).status == 200


def test_a_secret_works_once_and_for_ten_minutes(paired: Paired, clock: FakeClock) -> None:
    link = paired.pairing_link("Tablet")
    assert link.startswith(f"{paired.listener}/hitl/inbox#pair=")
    secret = link.split("#pair=")[1]
    assert len(secret) >= 32
    assert call(paired.listener, "POST", "/hitl/pair", {"secret": secret}).status == 200
    again = call(paired.listener, "POST", "/hitl/pair", {"secret": secret})
    assert again.status == 403 and again.code == "pairing_refused" and "Set-Cookie" not in again.headers
    documented("POST", "/hitl/pair", again)
    assert secret not in again.body.decode()
    late = paired.pairing_link().split("#pair=")[1]
    clock.advance(P.PAIRING_SECRET_TTL_S - 1)
    nearly = paired.pairing_link().split("#pair=")[1]
    clock.advance(1)
    expired = call(paired.listener, "POST", "/hitl/pair", {"secret": late})
    assert expired.status == 403 and expired.code == "pairing_refused"
    assert call(paired.listener, "POST", "/hitl/pair", {"secret": nearly}).status == 200
    assert [d["name"] for d in call(paired.comfy, "GET", "/hitl/devices").json()["devices"]] == ["Tablet", "Phone 2"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"secret": ""}, 403, "pairing_refused"),
        ({"secret": "x" * 5000}, 413, "body_too_large"),
        ({"secret": 42}, 403, "pairing_refused"),
        ({"secret": None}, 403, "pairing_refused"),
        ({"secret": "a" * 32, "name": "me"}, 422, "invalid_body"),
        ({}, 422, "invalid_body"),
    ],
)
def test_malformed_pairing_calls_change_nothing(paired: Paired, body: Any, status: int, code: str) -> None:
    reply = call(paired.listener, "POST", "/hitl/pair", body)
    assert (reply.status, reply.code) == (status, code), reply.body
    documented("POST", "/hitl/pair", reply)
    assert "Set-Cookie" not in reply.headers
    assert call(paired.comfy, "GET", "/hitl/devices").json()["devices"] == []
    form = call(paired.listener, "POST", "/hitl/pair", raw=b"secret=x", headers={"Content-Type": "text/plain"})
    assert form.status == 415


def test_guessing_is_limited_per_address_and_logged_once(
    paired: Paired, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    secret = paired.pairing_link().split("#pair=")[1]
    for attempt in range(P.PAIRING_ATTEMPTS_PER_MINUTE):
        reply = call(paired.listener, "POST", "/hitl/pair", {"secret": f"guess-{attempt:02d}-{'x' * 30}"})
        assert reply.status == 403, attempt
    limited = call(paired.listener, "POST", "/hitl/pair", {"secret": secret})
    assert limited.status == 429 and limited.code == "too_many_attempts"
    documented("POST", "/hitl/pair", limited)
    refusals = [r for r in caplog.records if "refused a pairing attempt" in r.getMessage()]
    assert len(refusals) == 1 and "127.0.0.1" in refusals[0].getMessage()
    text = caplog.text
    assert secret not in text and "guess-" not in text
    clock.advance(60)
    token = device_cookie(call(paired.listener, "POST", "/hitl/pair", {"secret": secret}))
    assert token not in caplog.text


def test_management_is_for_this_machine_only(host: HarnessHost, clock: FakeClock) -> None:
    setup = start_paired(host, clock, is_local=lambda request: False)
    try:
        for method, path in [
            ("POST", "/hitl/pairing/secrets"), ("GET", "/hitl/devices"), ("POST", "/hitl/devices/abc/revoke"),
            ("POST", "/hitl/devices/revoke-all"),
        ]:  # fmt: skip
            reply = call(setup.comfy, method, path, {} if method == "POST" else None)
            assert reply.status == 403 and reply.code == "local_only", (path, reply.body)
            documented(method, path, reply)
    finally:
        setup.server.stop()


def test_management_routes_refuse_other_origins(paired: Paired) -> None:
    evil = {"Origin": "https://evil.example"}
    assert call(paired.comfy, "POST", "/hitl/pairing/secrets", {}, headers=evil).status == 403
    assert call(paired.comfy, "GET", "/hitl/devices", headers=evil).status == 403
    assert call(paired.comfy, "POST", "/hitl/devices/revoke-all", {}, headers=evil).status == 403


def test_the_pairing_link_carries_a_qr_code(paired: Paired) -> None:
    body = call(paired.comfy, "POST", "/hitl/pairing/secrets", {"name": "Phone"}).json()
    assert body["expires_in_s"] == P.PAIRING_SECRET_TTL_S and body["warning"] is None
    qr = body["qr"]
    assert qr["size"] == len(qr["rows"]) >= 21 and all(len(row) == qr["size"] for row in qr["rows"])
    assert set("".join(qr["rows"])) == {"0", "1"}
    segno = pytest.importorskip("segno")
    assert qr["rows"] == [
        "".join("1" if m else "0" for m in row) for row in segno.make(body["url"], error="m", micro=False).matrix
    ]


def test_revoked_device_gets_401_and_its_stream_closes(paired: Paired) -> None:
    token = paired.pair("Old phone")
    other = paired.pair("New phone")
    stream = EventReader(paired.listener, token)
    try:
        assert stream.response.status == 200
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        event, hello = stream.next()  # type: ignore[misc]
        assert event == "hitl-hello" and len(hello["client_id"]) == 32
        request = paired.host.registry.open("integer-doubler", prompt_id="p", node_id="1", payload={"value": 2})
        event, view = stream.next()  # type: ignore[misc]
        assert (event, view["id"], view["state"]) == ("hitl-request", request.id, "waiting")
        devices = call(paired.comfy, "GET", "/hitl/devices").json()["devices"]
        old = next(d for d in devices if d["name"] == "Old phone")
        reply = call(paired.comfy, "POST", f"/hitl/devices/{old['id']}/revoke", {})
        assert reply.status == 200 and reply.json()["device"]["name"] == "Old phone"
        assert stream.next() is None  # the stream ended
    finally:
        stream.close()
    assert call(paired.listener, "GET", "/hitl/requests", cookie=token).status == 401
    assert call(paired.listener, "GET", "/hitl/requests", cookie=other).status == 200
    unknown = call(paired.comfy, "POST", "/hitl/devices/nope/revoke", {})
    assert unknown.status == 404
    documented("POST", "/hitl/devices/nope/revoke", unknown)
    assert call(paired.comfy, "POST", "/hitl/devices/revoke-all", {}).json() == {"revoked": 1}
    assert call(paired.listener, "GET", "/hitl/requests", cookie=other).status == 401
    paired.host.registry.reset_all()


def test_the_stream_keeps_alive_and_drops_a_slow_reader(host: HarnessHost, clock: FakeClock) -> None:
    setup = start_paired(host, clock, keepalive_s=0.05)
    try:
        token = setup.pair()
        stream = EventReader(setup.listener, token)
        assert stream.next()[0] == "hitl-hello"  # type: ignore[index]
        assert stream.next() == (":", "keep-alive")
        stream.close()
        # A reader that never reads: its queue fills, and it is dropped, the registry unharmed.
        slow = EventReader(setup.listener, token)
        hub = setup.remote.hub
        events_module = submodule("server.events")
        for index in range(events_module.CLIENT_QUEUE * 40):
            request = host.registry.open("integer-doubler", prompt_id="p", node_id=str(index), payload={"value": 1})
            host.registry.cancel(request.id)
            if hub.dropped:
                break
        assert hub.dropped >= 1
        slow.close()
    finally:
        setup.server.stop()


def test_devices_survive_a_restart_and_only_hashes_are_kept(paired: Paired, host: HarnessHost) -> None:
    token = paired.pair("Phone that stays")
    paired.server.stop()
    stored = (host.user_dir / "comfyui-hitl" / "devices.json").read_text()
    assert token not in stored and json.loads(stored)["devices"][0]["name"] == "Phone that stays"
    assert oct((host.user_dir / "comfyui-hitl" / "devices.json").stat().st_mode & 0o777) == "0o600"
    again = start_paired(host)
    try:
        assert call(again.listener, "GET", "/hitl/requests", cookie=token).status == 200
    finally:
        again.server.stop()


def test_a_taken_port_logs_one_line_and_the_host_serves_on(host: HarnessHost, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.2", 0))
        taken.listen()
        port = taken.getsockname()[1]
        remote = remote_module.RemoteAccess(host.registry, host.settings, user_directory=None, environ={})
        server = HarnessServer(host, remote=remote, remote_address=("127.0.0.2", port))
        with caplog.at_level(logging.INFO):
            server.start()
        try:
            lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(lines) == 1 and "could not listen on 127.0.0.2" in lines[0].getMessage()
            assert remote.url is None
            assert call(server.url, "GET", "/hitl/requests").status == 200
        finally:
            server.stop()


def test_require_pairing_guards_our_routes_on_comfyuis_port(tmp_path: Path) -> None:
    host = HarnessHost(environ={"COMFYUI_HITL_REQUIRE_PAIRING": "1"})
    # Every caller counts as "not on this machine" but the management calls the test makes.
    management = {"/hitl/pairing/secrets"}
    setup = start_paired(host, is_local=lambda request: request.path in management)
    try:
        for path in ("/hitl/requests", "/hitl/history", "/hitl/notify/config", "/api/hitl/requests"):
            reply = call(setup.comfy, "GET", path)
            assert reply.status == 401 and reply.code == "not_paired", path
        assert call(setup.comfy, "GET", "/hitl/inbox").status == 200  # the page stays public
        device = call(setup.comfy, "GET", "/hitl/device")
        assert device.status == 401
        secret = setup.pairing_link("Phone").split("#pair=")[1]
        token = device_cookie(call(setup.comfy, "POST", "/hitl/pair", {"secret": secret}))
        assert call(setup.comfy, "GET", "/hitl/requests", cookie=token).status == 200
        body = call(setup.comfy, "GET", "/hitl/device", cookie=token).json()
        assert body["stream"] == "websocket" and body["device"]["name"] == "Phone" and body["pairing_required"]
    finally:
        setup.server.stop()
        host.close()


def test_without_require_pairing_comfyuis_port_is_as_before(paired: Paired) -> None:
    assert call(paired.comfy, "GET", "/hitl/requests").status == 200
    body = call(paired.comfy, "GET", "/hitl/device").json()
    assert body == {"device": None, "stream": "websocket", "pairing_required": False}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.2", "-addext", "subjectAltName=IP:127.0.0.2"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def test_tls_with_a_self_signed_certificate(host: HarnessHost, certificate: tuple[str, str]) -> None:
    cert, key = certificate
    setup = start_paired(host, environ={"COMFYUI_HITL_TLS_CERT": cert, "COMFYUI_HITL_TLS_KEY": key})
    try:
        assert setup.listener.startswith("https://127.0.0.2:")
        link = setup.pairing_link("Secure phone")
        assert link.startswith("https://")
        reply = call(setup.listener, "POST", "/hitl/pair", {"secret": link.split("#pair=")[1]})
        assert reply.status == 200 and "Secure" in reply.headers["Set-Cookie"]
        token = device_cookie(reply)
        assert call(setup.listener, "GET", "/hitl/requests", cookie=token).status == 200
        with pytest.raises((ConnectionError, OSError)):
            call(setup.listener.replace("https", "http"), "GET", "/hitl/requests", cookie=token)
    finally:
        setup.server.stop()


def test_a_missing_certificate_keeps_the_listener_off(host: HarnessHost, caplog: pytest.LogCaptureFixture) -> None:
    environ = {"COMFYUI_HITL_TLS_CERT": "/nonexistent/cert.pem", "COMFYUI_HITL_TLS_KEY": "/nonexistent/key.pem"}
    remote = remote_module.RemoteAccess(host.registry, host.settings, user_directory=None, environ=environ)
    server = HarnessServer(host, remote=remote, remote_address=("127.0.0.2", 0))
    server.start()
    try:
        assert remote.url is None
        assert "TLS certificate or key could not be read" in caplog.text
    finally:
        server.stop()


def test_listen_setting_is_checked() -> None:
    settings = submodule("server.settings")
    assert settings.parse_listen("0.0.0.0:8190") == ("0.0.0.0", 8190)  # noqa: S104
    assert settings.parse_listen("[::]:8190") == ("::", 8190)
    for bad in ("8190", "0.0.0.0", "0.0.0.0:0", "0.0.0.0:70000", "host:port", "a b:1", "[::1:8190"):  # noqa: S104
        with pytest.raises(settings.InvalidSetting):
            settings.parse_listen(bad)
    store = settings.SettingsStore(None, environ={"COMFYUI_HITL_REMOTE_LISTEN": "127.0.0.2:8190"})
    assert store.current().remote_listen == "127.0.0.2:8190"


def test_pairing_unit_rules(clock: FakeClock) -> None:
    store = pairing_module.DeviceStore(None)
    pairing = pairing_module.Pairing(store, clock=clock)
    secret, _ = pairing.create_secret("  A\nphone\x00 with a very long name " + "x" * 100)
    device, token = pairing.redeem(secret, "10.0.0.2")
    assert device.name.startswith("A phone with a very long name") and len(device.name) == 64
    assert store.authenticate(token, "10.0.0.2").id == device.id
    assert device.token_sha256 == pairing_module.digest(token) and token not in repr(store.devices())
    with pytest.raises(pairing_module.NotPaired):
        store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"), None)
    # At most eight secrets wait at once: a ninth drops the oldest.
    secrets = [pairing.create_secret()[0] for _ in range(9)]
    with pytest.raises(pairing_module.PairingRefused):
        pairing.redeem(secrets[0], "10.0.0.3")
    assert pairing.redeem(secrets[8], "10.0.0.3")[0].name.startswith("Phone")


def test_cli_pairs_lists_and_unpairs(paired: Paired) -> None:
    """``cli.py pair / devices / revoke``, run as a user runs it (standard library only)."""
    from test_cli import run_cli

    done = run_cli("pair", "--name", "CLI phone", urls=[paired.comfy])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    link = lines[-1]
    assert link.startswith(f"{paired.listener}/hitl/inbox#pair=")
    assert any("▀" in line or "▄" in line for line in lines[:-1])  # the QR code, in half blocks
    qr = remote_module.qr_matrix(link)
    assert sum(1 for line in lines if set(line) <= set("█▀▄ ") and line) == (qr["size"] + 8 + 1) // 2
    reply = call(paired.listener, "POST", "/hitl/pair", {"secret": link.split("#pair=")[1]})
    token = device_cookie(reply)
    listed = run_cli("devices", urls=[paired.comfy])
    assert listed.returncode == 0 and "CLI phone" in listed.stdout and "ID" in listed.stdout.splitlines()[0]
    device_id = json.loads(run_cli("devices", "--json", urls=[paired.comfy]).stdout)[0]["id"]
    unknown = run_cli("revoke", "nope", urls=[paired.comfy])
    assert unknown.returncode == 1 and "no paired device" in unknown.stderr
    gone = run_cli("revoke", device_id, urls=[paired.comfy])
    assert gone.returncode == 0 and "Unpaired CLI phone" in gone.stdout
    assert call(paired.listener, "GET", "/hitl/requests", cookie=token).status == 401
    assert run_cli("revoke", "--all", urls=[paired.comfy]).stdout.strip() == "Unpaired 0 device(s)."
    assert run_cli("pair", "--no-qr", urls=[paired.comfy]).stdout.count("\n") == 2
    # On the listener, the management routes are not there.
    assert run_cli("pair", urls=[paired.listener]).returncode == 1
