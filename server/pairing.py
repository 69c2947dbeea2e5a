"""Paired devices: one-time pairing secrets, the devices they made, and the limit on guessing.

A person on this machine asks for a pairing secret (the ComfyUI tab's "Pair a phone", or
``cli.py pair``). The secret travels to the phone in a URL's fragment (a QR code), and the
phone's page trades it, once, for a device token: 256 bits from :mod:`secrets`, set as an
HttpOnly cookie and never shown again. Only the SHA-256 of each token is kept, in
``<user directory>/comfyui-hitl/devices.json`` (written atomically, readable by its owner
only), so the file alone pairs nothing. Secrets live in memory only, for
:data:`~.protocol.PAIRING_SECRET_TTL_S` seconds, and each works once.

Everything here is synchronous, quick and thread-safe; the file is written by
:meth:`DeviceStore.flush`, which the routes call off the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from . import protocol as P
from .errors import HitlError
from .history import iso_time
from .private_files import write_private_json
from .settings import DATA_FOLDER

log = logging.getLogger(__name__)

DEVICES_FILE = "devices.json"
#: Bytes of randomness in a device token and in a pairing secret.
TOKEN_BYTES = 32
SECRET_BYTES = 24
#: The longest secret or token worth hashing: anything longer is not one of ours.
MAX_SECRET_LENGTH = 128
#: At most this many pairing secrets wait at once (a new one drops the oldest).
MAX_PENDING_SECRETS = 8
#: A device's name, as a person gives it.
MAX_NAME_LENGTH = 64
#: At most this many devices (pairing one more is refused until one is revoked).
MAX_DEVICES = 256
#: How many source addresses the attempt limiter and the refusal log remember.
MAX_TRACKED_SOURCES = 4096
#: ``last_seen`` is written to the file at most this often (it changes on every request).
TOUCH_FLUSH_S = 60.0


class NotPaired(HitlError):
    """The caller has no device token, or one no paired device has (revoked, or never paired)."""

    code = "not_paired"


class PairingRefused(HitlError):
    """A pairing secret that is wrong, expired or already used (which of them is not said)."""

    code = "pairing_refused"


class TooManyAttempts(HitlError):
    """Too many pairing attempts from one address in the last minute."""

    code = "too_many_attempts"


def digest(text: str) -> str:
    """The SHA-256 of a token or secret, in hex: what is kept instead of it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def clean_name(value: Any, fallback: str) -> str:
    """A device name a person gave: printable, one line, at most :data:`MAX_NAME_LENGTH`."""
    if not isinstance(value, str):
        return fallback
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return text[:MAX_NAME_LENGTH] or fallback


@dataclass(frozen=True)
class Device:
    """One paired device: ``id`` names it in the lists and the revoke call (it is no secret);
    ``token_sha256`` is the hash of its token; times are epoch seconds."""

    id: str
    name: str
    token_sha256: str
    paired_at: float
    last_seen: float | None = None
    last_address: str | None = None

    def public(self) -> dict[str, Any]:
        """What the lists show (``Device`` in openapi.json): never the token's hash."""
        return {
            "id": self.id,
            "name": self.name,
            "paired_at": iso_time(self.paired_at),
            "last_seen": iso_time(self.last_seen) if self.last_seen is not None else None,
            "last_address": self.last_address,
        }


@dataclass(frozen=True)
class PendingSecret:
    """A pairing secret not yet used: its hash, the name the device will get, and when it expires
    (on the monotonic clock)."""

    secret_sha256: str
    name: str
    expires_mono: float


class DeviceStore:
    """The paired devices, in memory and in ``devices.json`` (None: memory only, e.g. tests).

    Listeners (``on_revoke``) are told the id of every revoked device, so its open streams close.
    """

    def __init__(self, directory: str | Path | None, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = Path(directory) / DATA_FOLDER / DEVICES_FILE if directory else None
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = self._load()
        self._dirty = False
        self._last_flush = 0.0
        self._revoke_listeners: list[Callable[[str], None]] = []

    def __repr__(self) -> str:
        return f"<DeviceStore path={self.path} devices={len(self._devices)}>"

    def _load(self) -> dict[str, Device]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            devices = {}
            for item in data["devices"]:
                device = Device(**item)
                if not (isinstance(device.id, str) and isinstance(device.token_sha256, str)):
                    raise ValueError("a device without an id or a token hash")
                devices[device.id] = device
            return devices
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s (no device is paired until it is fixed or removed): %s", self.path, exc)
            return {}

    def on_revoke(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(device_id)`` after each revocation."""
        self._revoke_listeners.append(listener)

    def devices(self) -> list[Device]:
        """Every paired device, the oldest first."""
        with self._lock:
            return sorted(self._devices.values(), key=lambda device: device.paired_at)

    def add(self, name: str) -> tuple[Device, str]:
        """Pair a new device: ``(device, token)``. The token is returned this once and kept
        only as its hash."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            if len(self._devices) >= MAX_DEVICES:
                raise PairingRefused(f"{MAX_DEVICES} devices are paired already: revoke some first")
            device = Device(
                id=secrets.token_hex(4),
                name=name,
                token_sha256=digest(token),
                paired_at=self._wall_clock(),
            )
            self._devices[device.id] = device
            self._dirty = True
        log.info("paired the device %r (%s)", device.name, device.id)
        return device, token

    def authenticate(self, token: str | None, address: str | None) -> Device:
        """The device whose token this is (its last-seen time and address updated), or
        :class:`NotPaired`. Every device's hash is compared in constant time."""
        if not token or len(token) > MAX_SECRET_LENGTH:
            raise NotPaired("this device is not paired: pair it from the computer that runs ComfyUI")
        wanted = digest(token)
        with self._lock:
            found = None
            for device in self._devices.values():
                if hmac.compare_digest(device.token_sha256, wanted):
                    found = device
            if found is None:
                raise NotPaired("this device is not paired (or it was unpaired): pair it again")
            now = self._wall_clock()
            touched = replace(found, last_seen=now, last_address=address)
            self._devices[found.id] = touched
            if address != found.last_address or now - self._last_flush > TOUCH_FLUSH_S:
                self._dirty = True
            return touched

    def revoke(self, device_id: str) -> Device | None:
        """Unpair one device; None if there is no such device."""
        with self._lock:
            device = self._devices.pop(device_id, None)
            if device is not None:
                self._dirty = True
        if device is not None:
            log.info("unpaired the device %r (%s)", device.name, device.id)
            self._tell(device.id)
        return device

    def revoke_all(self) -> int:
        """Unpair every device; how many there were."""
        with self._lock:
            gone = list(self._devices)
            self._devices.clear()
            self._dirty = True
        if gone:
            log.info("unpaired all %d devices", len(gone))
        for device_id in gone:
            self._tell(device_id)
        return len(gone)

    def _tell(self, device_id: str) -> None:
        for listener in list(self._revoke_listeners):
            try:
                listener(device_id)
            except Exception:
                log.exception("a revocation listener failed")

    @property
    def dirty(self) -> bool:
        """Whether memory holds changes the file does not."""
        return self._dirty

    def flush(self) -> None:
        """Write the file if anything changed (atomically, owner-only). Blocking: call it
        off the event loop."""
        with self._lock:
            if not self._dirty:
                return
            data = {"version": 1, "devices": [asdict(device) for device in self._devices.values()]}
            self._dirty = False
            self._last_flush = self._wall_clock()
        if self.path is None:
            return
        try:
            write_private_json(self.path, data)
        except OSError as exc:
            log.error("could not save %s: %s (paired devices hold until ComfyUI restarts)", self.path, exc)


class AttemptLimiter:
    """At most ``limit`` attempts per source address in any ``window_s`` seconds."""

    def __init__(
        self,
        limit: int = P.PAIRING_ATTEMPTS_PER_MINUTE,
        window_s: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()

    def __repr__(self) -> str:
        return f"<AttemptLimiter {self.limit}/{self.window_s:g}s sources={len(self._attempts)}>"

    def take(self, source: str) -> None:
        """Count one attempt from ``source``, or refuse it (:class:`TooManyAttempts`) when
        it is over the limit (a refused attempt is not counted)."""
        now = self._clock()
        with self._lock:
            times = self._attempts.get(source)
            if times is None:
                times = self._attempts[source] = deque()
                while len(self._attempts) > MAX_TRACKED_SOURCES:
                    self._attempts.popitem(last=False)
            while times and now - times[0] >= self.window_s:
                times.popleft()
            if len(times) >= self.limit:
                wait = max(1, round(self.window_s - (now - times[0])))
                raise TooManyAttempts(f"too many pairing attempts from this address: try again in {wait} s")
            times.append(now)
            self._attempts.move_to_end(source)


class Pairing:
    """Pairing secrets and the devices they pair (see the module's docstring).

    ``clock`` (monotonic) times secrets and attempts; tests inject one instead of sleeping.
    """

    def __init__(
        self,
        devices: DeviceStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl_s: float = P.PAIRING_SECRET_TTL_S,
        limiter: AttemptLimiter | None = None,
    ) -> None:
        self.devices = devices
        self.ttl_s = ttl_s
        self._clock = clock
        self.limiter = limiter if limiter is not None else AttemptLimiter(clock=clock)
        self._lock = threading.Lock()
        self._pending: list[PendingSecret] = []
        self._count = 0
        #: Sources whose refused attempts were logged already (once each).
        self._logged: set[str] = set()

    def __repr__(self) -> str:
        return f"<Pairing pending={len(self._pending)} {self.devices!r}>"

    def create_secret(self, name: str | None = None) -> tuple[str, float]:
        """A new one-time secret and how many seconds it is valid. The device it pairs is
        called ``name`` (or "Phone N")."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        with self._lock:
            self._count += 1
            now = self._clock()
            self._pending = [p for p in self._pending if p.expires_mono > now][-(MAX_PENDING_SECRETS - 1) :]
            fallback = f"Phone {len(self.devices.devices()) + 1}"
            self._pending.append(PendingSecret(digest(secret), clean_name(name, fallback), now + self.ttl_s))
        return secret, self.ttl_s

    def redeem(self, secret: Any, source: str) -> tuple[Device, str]:
        """Trade a secret for a new device and its token, once. :class:`TooManyAttempts`
        (429) past the limit, :class:`PairingRefused` (403) for a wrong, expired, used or
        malformed secret; a refusal changes nothing but the attempt count."""
        self.limiter.take(source)
        wanted = digest(secret) if isinstance(secret, str) and 0 < len(secret) <= MAX_SECRET_LENGTH else None
        with self._lock:
            now = self._clock()
            found: PendingSecret | None = None
            for pending in self._pending:
                # Every pending hash is compared, in constant time, whatever matched before.
                if wanted is not None and hmac.compare_digest(pending.secret_sha256, wanted):
                    found = pending
            if found is not None:
                self._pending.remove(found)  # used once, whether or not it is still valid
            if found is None or found.expires_mono <= now:
                self._log_refusal(source)
                raise PairingRefused(
                    "this pairing link is wrong, expired or already used: make a new one on the computer"
                )
        return self.devices.add(found.name)

    def _log_refusal(self, source: str) -> None:
        # Caller holds the lock. Once per source: a guesser cannot fill the log.
        if source in self._logged:
            return
        if len(self._logged) < MAX_TRACKED_SOURCES:
            self._logged.add(source)
        log.warning(
            "refused a pairing attempt from %s (wrong, expired or used link); later ones from there are not logged",
            source,
        )
