"""The settings (_settings.py): validation, the file in the user directory, environment
overrides, masking of secrets, all-or-nothing changes, and the config route over HTTP."""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dev.harness.host import HarnessServer
from dev.harness.pack import submodule

S = submodule("server.settings")


def store(tmp_path: Path, **environ: str) -> Any:
    return S.SettingsStore(tmp_path, environ=environ)


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    current = store(tmp_path).current()
    assert current == S.Settings()
    assert (current.ntfy_url, current.webhook_url, current.public_url) == (None, None, None)
    assert (current.ntfy_priority, current.webhook_format, current.push_on_end) == ("high", "json", False)
    assert current.push_timeout_s == 5.0  # never more than 5 s per send
    assert {spec.name for spec in S.SPECS} == set(S.Settings.__dataclass_fields__) - {"version", "ntfy_token_url"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ntfy_url", "ftp://ntfy.sh/x", "http:// or https://"),
        ("ntfy_url", "https://user:pw@ntfy.sh/x", "no user or password"),
        ("ntfy_url", "https://ntfy.sh/a b", "spaces or control"),
        ("ntfy_url", "https://ntfy.sh/x\n", "spaces or control"),
        ("ntfy_url", "https:///x", "no host"),
        ("ntfy_url", "https://ntfy.sh:99999/x", "not a valid URL"),
        ("ntfy_url", "https://ntfy.sh/x#y", "#fragment"),
        ("ntfy_url", "https://ntfy.sh/" + "x" * 2100, "longer than"),
        ("ntfy_url", 5, "must be a string"),
        ("public_url", "http://host:8188/?a=1", "?query"),
        ("ntfy_token", "tk with space", "printable ASCII"),
        ("ntfy_priority", "loud", "one of min, low"),
        ("webhook_format", "teams", "one of json, discord, slack"),
        ("push_on_end", 1, "true or false"),
        ("push_timeout_s", 6, "at most 5"),
        ("push_timeout_s", 0.1, "at least 0.2"),
        ("push_timeout_s", True, "must be a number"),
        ("audit_max_bytes", 4095, "at least 4096"),
        ("audit_max_bytes", 5000.5, "whole number"),
        ("audit_backups", -1, "at least 0"),
        ("nope", 1, "unknown setting"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(tmp_path: Path, name: str, value: Any, message: str) -> None:
    settings = store(tmp_path)
    settings.update({"push_on_end": True})
    before = (settings.current(), settings.describe(), settings.path.read_bytes())
    with pytest.raises(S.InvalidSetting) as refused:
        # A good value beside the bad one is refused too: all or nothing.
        settings.update({"ntfy_priority": "low", name: value})
    assert message in refused.value.message
    assert (settings.current(), settings.describe(), settings.path.read_bytes()) == before


def test_changes_are_saved_atomically_for_the_owner_only_and_read_back(tmp_path: Path) -> None:
    settings = store(tmp_path)
    changed = settings.update(
        {
            "public_url": "http://192.168.1.20:8188/",
            "ntfy_url": "https://ntfy.sh/my-very-secret-topic",
            "ntfy_token": "tk_abcdefghijklmnop",
            "webhook_url": "https://discord.com/api/webhooks/123/abcdefghijkl",
            "webhook_format": "discord",
            "push_on_end": True,
            "push_timeout_s": 2,
        }
    )
    assert changed.version == 2 and changed.public_url == "http://192.168.1.20:8188"  # no trailing slash
    path = tmp_path / "comfyui-hitl" / "config.json"
    assert settings.path == path and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["webhook_format"] == "discord"
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary file left
    again = store(tmp_path).current()
    assert again == changed
    # null resets a setting to its default (and drops it from the file).
    settings.update({"webhook_format": None, "ntfy_token": ""})
    assert settings.current().webhook_format == "json" and settings.current().ntfy_token is None
    assert "webhook_format" not in json.loads(path.read_text())


def test_secrets_are_masked_everywhere_they_are_shown(tmp_path: Path) -> None:
    settings = store(tmp_path)
    settings.update({"ntfy_url": "https://ntfy.sh/my-very-secret-topic", "ntfy_token": "tk_abcdefghijklmnop"})
    described = settings.describe()
    text = json.dumps(described)
    assert "my-very-secret" not in text and "tk_abcdefghij" not in text
    assert described["settings"]["ntfy_url"]["value"] == "https://ntfy.sh/…opic"
    assert described["settings"]["ntfy_token"]["value"] == "…mnop"
    assert described["settings"]["ntfy_url"]["source"] == "file"
    assert "my-very-secret" not in repr(settings.current()) and "tk_abc" not in repr(settings)
    assert S.mask("https://h.example/short") == "https://h.example/…"  # too short to show a tail
    assert S.mask("abc") == "…"


def test_environment_overrides_the_file_and_cannot_be_changed_through_the_route(tmp_path: Path) -> None:
    store(tmp_path).update({"ntfy_url": "https://ntfy.sh/from-file", "webhook_format": "slack"})
    settings = store(
        tmp_path,
        COMFYUI_HITL_NTFY_URL="https://ntfy.example/from-env",
        COMFYUI_HITL_WEBHOOK_URL="https://hooks.slack.com/services/T/B/x",
        COMFYUI_HITL_WEBHOOK_FORMAT="DISCORD",
        COMFYUI_HITL_PUBLIC_URL="http://10.0.0.2:8188",
        COMFYUI_HITL_PUSH_ON_END="yes",
        COMFYUI_HITL_AUDIT_BACKUPS="2",
    )
    current = settings.current()
    assert current.ntfy_url == "https://ntfy.example/from-env" and current.webhook_format == "discord"
    assert current.push_on_end is True and current.audit_backups == 2
    assert settings.describe()["settings"]["webhook_format"]["source"] == "env"
    with pytest.raises(S.SettingsLocked) as refused:
        settings.update({"ntfy_url": "https://ntfy.sh/other"})
    assert "COMFYUI_HITL_NTFY_URL" in refused.value.message


def test_bad_environment_values_and_a_broken_file_are_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "comfyui-hitl"
    folder.mkdir()
    (folder / "config.json").write_text('{"ntfy_url": "ftp://x/y", "webhook_format": "slack", "zzz": 1}')
    settings = store(tmp_path, COMFYUI_HITL_PUSH_TIMEOUT_S="ten", COMFYUI_HITL_WEBHOOK_URL="not a url")
    assert settings.current().webhook_format == "slack"
    assert settings.current().ntfy_url is None and settings.current().push_timeout_s == 5.0
    warnings = caplog.text
    assert "COMFYUI_HITL_PUSH_TIMEOUT_S" in warnings and "COMFYUI_HITL_WEBHOOK_URL" in warnings
    assert "unknown setting 'zzz'" in warnings
    (folder / "config.json").write_text("{not json")
    assert store(tmp_path).current() == S.Settings()


def test_locked_settings_refuse_every_change(tmp_path: Path) -> None:
    settings = store(tmp_path, COMFYUI_HITL_CONFIG_LOCKED="1")
    with pytest.raises(S.SettingsLocked):
        settings.update({"push_on_end": True})
    assert settings.describe()["locked"] is True and not (tmp_path / "comfyui-hitl").exists()


def test_an_unwritable_file_keeps_the_change_in_memory_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "comfyui-hitl").write_text("a file where the folder should be")
    settings = store(tmp_path)
    settings.update({"push_on_end": True})
    assert settings.current().push_on_end is True
    assert settings.describe()["save_error"]


def test_no_user_directory_means_memory_only() -> None:
    settings = S.SettingsStore(None, environ={})
    settings.update({"push_on_end": True})
    assert settings.path is None and settings.describe()["file"] is None


# ------------------------------------------------------------------ over HTTP
def post(url: str, body: bytes, content_type: str = "application/json", **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        url + "/api/hitl/notify/config", data=body, method="POST", headers={"Content-Type": content_type, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_config_route_refuses_bad_input_with_4xx_and_changes_nothing(served: HarnessServer) -> None:
    settings = served.host.settings
    assert post(served.url, json.dumps({"public_url": "http://10.0.0.5:8188"}).encode())[0] == 200
    before = (json.dumps(settings.describe()), settings.path.read_bytes())
    bad = [
        (b"{", "application/json", {}, 400, "malformed_json"),
        (b"[1]", "application/json", {}, 422, "invalid_body"),
        (b'{"push_on_end": NaN}', "application/json", {}, 400, "malformed_json"),
        (b"push_on_end=true", "application/x-www-form-urlencoded", {}, 415, "unsupported_media_type"),
        (b'{"push_on_end": true}', "application/json", {"Origin": "https://evil.example"}, 403, "forbidden_origin"),
        (b'{"push_on_end": true}', "application/json", {"Sec-Fetch-Site": "cross-site"}, 403, "forbidden_origin"),
        (b'{"push_on_end": true, "ntfy_url": "gopher://x"}', "application/json", {}, 422, "invalid_body"),
        (b'{"webhook_format": "teams"}', "application/json", {}, 422, "invalid_body"),
        (b'{"__proto__": {}}', "application/json", {}, 422, "invalid_body"),
        (json.dumps({"public_url": "x" * 300_000}).encode(), "application/json", {}, 413, "body_too_large"),
    ]
    for body, content_type, headers, status, code in bad:
        got_status, got = post(served.url, body, content_type, **headers)
        assert (got_status, got["error"]["code"]) == (status, code), (body[:40], got)
        assert (json.dumps(settings.describe()), settings.path.read_bytes()) == before
    status, body = post(served.url, json.dumps({"webhook_url": "https://hooks.example/abcdefghijklmnop"}).encode())
    assert status == 200 and body["settings"]["webhook_url"]["value"] == "https://hooks.example/…mnop"
    assert settings.current().webhook_url == "https://hooks.example/abcdefghijklmnop"


def test_the_real_user_directory_is_found_through_comfyui(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys
    import types

    comfy = submodule("server.comfy")
    assert comfy.user_directory() is None  # outside ComfyUI
    fake = types.ModuleType("folder_paths")
    fake.get_user_directory = lambda: str(tmp_path)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    assert comfy.user_directory() == str(tmp_path)
    assert os.path.isdir(comfy.user_directory())
