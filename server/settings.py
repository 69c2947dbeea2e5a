"""The pack's server-side settings: where pushes go, and how the audit log is kept.

They live in ``<ComfyUI user directory>/comfyui-hitl/config.json`` (a folder no ComfyUI
user's ``/userdata`` route reaches), are edited through our config route (which ComfyUI's
settings panel uses), and each may be overridden by an environment variable for headless
servers. Every value is validated when it is read from the file, the environment or a
request; a bad one is refused (request) or ignored with a warning (file, environment).
Secrets (push URLs, which carry their tokens, and the ntfy token) are never shown in full.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .destinations import ENV_ALLOW_LOOPBACK, DestinationPolicy, RefusedDestination
from .errors import InvalidSetting, SettingsLocked
from .private_files import write_private_json

log = logging.getLogger(__name__)

#: The pack's folder in ComfyUI's user directory (config and audit log).
DATA_FOLDER = "comfyui-hitl"
CONFIG_FILE = "config.json"
#: Set to 1 to refuse every change through the route (a shared server's admin decides). Any
#: value but the words for "off" (0, false, no, off, empty) locks: a typo fails closed.
ENV_LOCKED = "COMFYUI_HITL_CONFIG_LOCKED"

MAX_URL_LENGTH = 2048
MAX_TOKEN_LENGTH = 256
NTFY_PRIORITIES = ("min", "low", "default", "high", "urgent")
WEBHOOK_FORMATS = ("json", "discord", "slack")
#: The least audit retention the config route allows (whoever can change settings must not
#: be able to erase the trail of what they did): 1 MiB per file, 2 rotated files.
AUDIT_MAX_BYTES_FLOOR = 1 << 20
AUDIT_BACKUPS_FLOOR = 2
#: The settings whose change is itself recorded in the audit log.
RETENTION_SETTINGS = ("audit_max_bytes", "audit_backups")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _check_url(value: str, *, allow_query: bool) -> str:
    if len(value) > MAX_URL_LENGTH:
        raise InvalidSetting(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in value):
        raise InvalidSetting("the URL has spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as exc:
        raise InvalidSetting(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidSetting("the URL must start with http:// or https://")
    if not parts.hostname:
        raise InvalidSetting("the URL has no host")
    if "@" in parts.netloc:
        raise InvalidSetting("no user or password in the URL: use the token setting")
    if parts.fragment:
        raise InvalidSetting("the URL may not have a #fragment")
    if not allow_query and parts.query:
        raise InvalidSetting("the URL may not have a ?query")
    return value


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets: ``[::]:8190``) as ``(host, port)``, or
    :class:`InvalidSetting`."""
    text = value.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        if not bracket:
            raise InvalidSetting("an IPv6 address goes in brackets: [::]:8190")
    else:
        host, _, port = text.rpartition(":")
    if not host or any(ch.isspace() or ch in "/@?#" for ch in host) or len(host) > 253:
        raise InvalidSetting("write the address to listen on as HOST:PORT, e.g. 0.0.0.0:8190")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise InvalidSetting("the port must be a number from 1 to 65535, e.g. 0.0.0.0:8190")
    return host, int(port)


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its name (in the file and the route), environment variable, kind and bounds."""

    name: str
    env: str
    kind: str  # "url" | "base_url" | "token" | "choice" | "bool" | "int" | "float" | "listen"
    default: Any
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    #: The lowest value the config route takes (lower ones only from the environment or
    #: the config file, which only the machine's admin can write).
    api_minimum: float | None = None
    #: A URL the server POSTs to: checked against :class:`~.destinations.DestinationPolicy`.
    push_target: bool = False

    def parse(self, value: Any) -> Any:
        """A JSON value for this setting, validated; None (or "" for text) is "unset"."""
        if value is None or (value == "" and self.kind in ("url", "base_url", "token", "listen")):
            return None
        if self.kind in ("url", "base_url", "token", "choice", "listen") and not isinstance(value, str):
            raise InvalidSetting(f"{self.name} must be a string")
        if self.kind == "listen":
            host, port = parse_listen(value)
            return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if self.kind == "url":
            return _check_url(value, allow_query=True)
        if self.kind == "base_url":
            return _check_url(value, allow_query=False).rstrip("/")
        if self.kind == "token":
            if len(value) > MAX_TOKEN_LENGTH or not all(33 <= ord(ch) <= 126 for ch in value):
                raise InvalidSetting(f"{self.name} must be up to {MAX_TOKEN_LENGTH} printable ASCII characters")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise InvalidSetting(f"{self.name} must be one of {', '.join(self.choices)}")
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidSetting(f"{self.name} must be true or false")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidSetting(f"{self.name} must be a number")
        if self.kind == "int" and (isinstance(value, float) and not value.is_integer()):
            raise InvalidSetting(f"{self.name} must be a whole number")
        number = int(value) if self.kind == "int" else float(value)
        if not math.isfinite(number):
            raise InvalidSetting(f"{self.name} must be finite")
        if self.minimum is not None and number < self.minimum:
            raise InvalidSetting(f"{self.name} must be at least {self.minimum:g}")
        if self.maximum is not None and number > self.maximum:
            raise InvalidSetting(f"{self.name} must be at most {self.maximum:g}")
        return number

    def parse_env(self, text: str) -> Any:
        """An environment variable's text for this setting, validated."""
        text = text.strip()
        if self.kind == "bool":
            lowered = text.lower()
            if lowered not in _TRUE | _FALSE:
                raise InvalidSetting(f"{self.env} must be 1/0, true/false, yes/no or on/off")
            return lowered in _TRUE
        if self.kind in ("int", "float"):
            try:
                number: Any = int(text) if self.kind == "int" else float(text)
            except ValueError:
                raise InvalidSetting(f"{self.env} must be a number") from None
            return self.parse(number)
        if self.kind == "choice":
            return self.parse(text.lower())
        return self.parse(text)

    def check_api_minimum(self, value: Any) -> None:
        """Refuse, through the route, a value under :attr:`api_minimum` (:class:`InvalidSetting`)."""
        if self.api_minimum is not None and value is not None and value < self.api_minimum:
            raise InvalidSetting(
                f"{self.name} must be at least {self.api_minimum:g} when changed here (so the recent audit"
                f" trail is kept); a lower value can only be set in the environment ({self.env}) or the config file"
            )

    def describe(self) -> dict[str, Any]:
        """What a form needs to edit this setting (``minimum``: the lowest the route takes)."""
        return {
            "kind": self.kind,
            "env": self.env,
            "secret": self.secret,
            "default": self.default,
            "choices": list(self.choices) or None,
            "minimum": self.minimum if self.api_minimum is None else self.api_minimum,
            "maximum": self.maximum,
        }


#: Every setting, in the order the settings panel shows them.
SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("public_url", "COMFYUI_HITL_PUBLIC_URL", "base_url", None),
    SettingSpec("ntfy_url", "COMFYUI_HITL_NTFY_URL", "url", None, secret=True, push_target=True),
    SettingSpec("ntfy_token", "COMFYUI_HITL_NTFY_TOKEN", "token", None, secret=True),
    SettingSpec("ntfy_priority", "COMFYUI_HITL_NTFY_PRIORITY", "choice", "high", choices=NTFY_PRIORITIES),
    SettingSpec("webhook_url", "COMFYUI_HITL_WEBHOOK_URL", "url", None, secret=True, push_target=True),
    SettingSpec("webhook_format", "COMFYUI_HITL_WEBHOOK_FORMAT", "choice", "json", choices=WEBHOOK_FORMATS),
    SettingSpec("push_on_end", "COMFYUI_HITL_PUSH_ON_END", "bool", False),
    SettingSpec("push_timeout_s", "COMFYUI_HITL_PUSH_TIMEOUT_S", "float", 5.0, minimum=0.2, maximum=5.0),
    SettingSpec(
        "audit_max_bytes", "COMFYUI_HITL_AUDIT_MAX_BYTES", "int", 1 << 20, minimum=4096, maximum=1 << 30,
        api_minimum=AUDIT_MAX_BYTES_FLOOR,
    ),
    SettingSpec(
        "audit_backups", "COMFYUI_HITL_AUDIT_BACKUPS", "int", 4, minimum=0, maximum=100,
        api_minimum=AUDIT_BACKUPS_FLOOR,
    ),
    # --- paired devices (server/remote.py): the pack's own listener, read at start-up ---
    SettingSpec("remote_listen", "COMFYUI_HITL_REMOTE_LISTEN", "listen", None),
    SettingSpec("require_pairing", "COMFYUI_HITL_REQUIRE_PAIRING", "bool", False),
)  # fmt: skip
SPEC_BY_NAME = {spec.name: spec for spec in SPECS}


@dataclass(frozen=True)
class Settings:
    """The settings in effect (file, overridden by the environment, else the defaults).
    ``version`` grows with every change, so readers can tell they changed."""

    public_url: str | None = None
    ntfy_url: str | None = field(default=None, repr=False)  # secrets stay out of logs
    ntfy_token: str | None = field(default=None, repr=False)
    ntfy_priority: str = "high"
    webhook_url: str | None = field(default=None, repr=False)
    webhook_format: str = "json"
    push_on_end: bool = False
    push_timeout_s: float = 5.0
    audit_max_bytes: int = 1 << 20
    audit_backups: int = 4
    remote_listen: str | None = None
    require_pairing: bool = False
    #: The URL the ntfy token belongs to (the one in effect when it was set, or when the server
    #: started for a token from the environment): the token is sent to that URL only.
    ntfy_token_url: str | None = field(default=None, repr=False)
    version: int = field(default=0, compare=False)

    @property
    def ntfy_token_applies(self) -> bool:
        """Whether the token goes with pushes to the ntfy URL in effect."""
        return self.ntfy_token is not None and self.ntfy_token_url == self.ntfy_url


NOTE_DROPPED = "the ntfy token was dropped: a token belongs to the URL it was set with; send it again with the new URL"
NOTE_DETACHED = (
    "the ntfy token is not sent: it belongs to another URL (a token from the environment belongs to the URL"
    " in effect when ComfyUI started); set the token and the URL in the same place"
)


def mask(value: str) -> str:
    """A secret as it may be shown: a URL's scheme and host, then "…" and the last 4
    characters of the rest ("https://ntfy.sh/…k2x9"); a token's last 4 only. Nothing of a
    secret part shorter than 12 characters is shown."""
    parts = urlsplit(value)
    if parts.scheme and parts.hostname:
        prefix = f"{parts.scheme}://{parts.netloc}/"
        secret = value[len(prefix) :] if value.startswith(prefix) else value[len(prefix) - 1 :]
    else:
        prefix, secret = "", value
    tail = secret[-4:] if len(secret) >= 12 else ""
    return f"{prefix}…{tail}"


def locked_by(text: str | None) -> bool:
    """Whether :data:`ENV_LOCKED`'s value locks the settings: only the words for "off" (or no
    value) leave them unlocked; anything else locks, and a value that is not one of the words
    says so in the log (a lock an admin misspelled must not leave the server open)."""
    lowered = (text or "").strip().lower()
    if lowered in _FALSE:
        return False
    if lowered not in _TRUE:
        log.warning(
            "%s=%r is not 1/0, true/false, yes/no or on/off: settings are locked (unlock with %s=0)",
            ENV_LOCKED,
            (text or "")[:40],
            ENV_LOCKED,
        )
    return True


class SettingsStore:
    """The settings file, the environment's overrides, and the settings in effect.

    ``directory`` is ComfyUI's user directory (None: nothing is read or written, e.g. in
    unit tests). Changes through :meth:`update` are validated as a whole, written to the
    file atomically, and take effect at once; readers call :meth:`current`.
    """

    def __init__(self, directory: str | Path | None, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.path = Path(directory) / DATA_FOLDER / CONFIG_FILE if directory else None
        self.locked = locked_by(environ.get(ENV_LOCKED))
        #: Where pushes may go (never this server; this machine only if its admin allows).
        self.destinations = DestinationPolicy(
            allow_loopback=(environ.get(ENV_ALLOW_LOOPBACK) or "").strip().lower() in _TRUE
        )
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Settings], None]] = []
        self._env: dict[str, Any] = {}
        for spec in SPECS:
            text = environ.get(spec.env)
            if text is None or text.strip() == "":
                continue
            try:
                self._env[spec.name] = self._checked(spec, spec.parse_env(text))
            except InvalidSetting as exc:
                log.warning("ignoring %s: %s", spec.env, exc.message)
        self._file: dict[str, Any] = self._load()
        self._save_error: str | None = None
        # A token (from the file or the environment) belongs to the URL in effect at start.
        self._token_url: str | None = self._values().get("ntfy_url")
        self._current = self._effective(version=1)

    def __repr__(self) -> str:
        return f"<SettingsStore path={self.path} env={sorted(self._env)} file={sorted(self._file)}>"

    def _load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            log.warning("ignoring %s: %s", self.path, exc)
            return {}
        if not isinstance(data, dict):
            log.warning("ignoring %s: not a JSON object", self.path)
            return {}
        values: dict[str, Any] = {}
        for name, value in data.items():
            spec = SPEC_BY_NAME.get(name)
            if spec is None:
                log.warning("%s: unknown setting %r ignored", self.path, name)
                continue
            try:
                parsed = self._checked(spec, spec.parse(value))
            except InvalidSetting as exc:
                log.warning("%s: %s; ignored", self.path, exc.message)
                continue
            if parsed is not None:
                values[name] = parsed
        return values

    def _checked(self, spec: SettingSpec, value: Any) -> Any:
        """``value`` of ``spec``, refused (:class:`InvalidSetting`) when it is a push target
        this server may not contact."""
        if spec.push_target and isinstance(value, str):
            try:
                self.destinations.check_url(value)
            except RefusedDestination as exc:
                raise InvalidSetting(f"{spec.name}: {exc}") from None
        return value

    def _values(self) -> dict[str, Any]:
        values = {spec.name: spec.default for spec in SPECS}
        values.update(self._file)
        values.update(self._env)
        return values

    def _effective(self, version: int) -> Settings:
        return Settings(**self._values(), ntfy_token_url=self._token_url, version=version)

    def current(self) -> Settings:
        """The settings in effect now (an immutable snapshot; cheap, call it freely)."""
        return self._current

    def subscribe(self, listener: Callable[[Settings], None]) -> None:
        """Call ``listener`` with the new settings after each change."""
        self._listeners.append(listener)

    def describe(self) -> dict[str, Any]:
        """Every setting with where its value comes from; secrets masked."""
        with self._lock:
            current = self._current
            settings = {}
            for spec in SPECS:
                value = getattr(current, spec.name)
                source = "env" if spec.name in self._env else "file" if spec.name in self._file else "default"
                shown = mask(value) if spec.secret and isinstance(value, str) else value
                settings[spec.name] = {**spec.describe(), "value": shown, "source": source}
            notes = []
            if current.ntfy_token is not None and not current.ntfy_token_applies:
                notes.append(NOTE_DETACHED)
            return {
                "settings": settings,
                "locked": self.locked,
                "file": str(self.path) if self.path else None,
                "save_error": self._save_error,
                "notes": notes,
            }

    def update(self, changes: Mapping[str, Any], *, notes: list[str] | None = None) -> Settings:
        """Apply ``changes`` (setting name -> new value; null resets it to its default) as a
        whole, or refuse them all: :class:`InvalidSetting` (422), :class:`SettingsLocked` (409).

        A token belongs to the URL it was set with: a new ntfy URL without a new token drops
        the token of the file (one from the environment stays, but is not sent to the new URL);
        ``notes`` (when given) gets a sentence saying so."""
        if self.locked:
            raise SettingsLocked(f"settings are locked by {ENV_LOCKED}; edit them on the server")
        parsed: dict[str, Any] = {}
        for name, value in changes.items():
            spec = SPEC_BY_NAME.get(name)
            if spec is None:
                raise InvalidSetting(f"unknown setting {name[:40]!r}")
            if name in self._env:
                raise SettingsLocked(f"{name} is set by the environment variable {spec.env}")
            parsed[name] = self._checked(spec, spec.parse(value))
            spec.check_api_minimum(parsed[name])
        with self._lock:
            before = self._current
            new_file = dict(self._file)
            for name, value in parsed.items():
                if value is None:
                    new_file.pop(name, None)
                else:
                    new_file[name] = value
            url_changed = "ntfy_url" in parsed and parsed["ntfy_url"] != before.ntfy_url
            if url_changed and "ntfy_token" not in parsed and "ntfy_token" in new_file:
                del new_file["ntfy_token"]
                if notes is not None:
                    notes.append(NOTE_DROPPED)
            self._file = new_file
            if parsed.get("ntfy_token") is not None:
                self._token_url = self._values().get("ntfy_url")
            self._save_error = self._save(new_file)
            self._current = self._effective(before.version + 1)
            current = self._current
        for listener in list(self._listeners):
            try:
                listener(current)
            except Exception:
                log.exception("a settings listener failed")
        return current

    def _save(self, values: dict[str, Any]) -> str | None:
        """Write the file atomically, readable by its owner only. The error text, or None."""
        if self.path is None:
            return None
        try:
            write_private_json(self.path, values, sort_keys=True)
        except OSError as exc:
            log.error("could not save %s: %s (the change holds until ComfyUI restarts)", self.path, exc)
            return str(exc)
        return None
