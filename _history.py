"""What happened to the requests that ended: the seam between the registry and whoever keeps
a record of it.

The registry hands every ended request to a :class:`HistoryLog` (``record``), under its lock,
in the order the requests ended. The routes read the log back (``recent`` for
``GET /hitl/history``, ``find`` for a request the registry no longer remembers). This module
keeps :class:`RecentHistory`, a bounded log in memory; a log that survives restarts (an
audit trail) implements the same protocol and is handed to the registry instead, so neither
the routes nor the inbox change.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

#: How many ended requests :class:`RecentHistory` keeps by default.
DEFAULT_CAPACITY = 200


def iso_time(epoch_seconds: float) -> str:
    """A wall-clock time as ISO 8601 in UTC, to the millisecond: ``2025-11-26T14:03:12.345Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON (tuples become lists); anything JSON cannot hold becomes text.

    Answers are already JSON-shaped (validators take JSON and return numbers, text, booleans
    or tuples of indices), so this only guards the log against a surprising validator.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth < 8 and isinstance(value, (list, tuple)):
        return [json_safe(item, depth + 1) for item in value]
    if depth < 8 and isinstance(value, dict):
        return {str(key): json_safe(item, depth + 1) for key, item in value.items()}
    return repr(value)


@dataclass(frozen=True)
class HistoryEntry:
    """One ended request: its view at the moment it ended, and the answer when it has one.

    ``view`` is the registry's JSON view (``RequestView`` in openapi.json: state, reason,
    outcome, when it opened and ended, how long it waited); ``answer`` is JSON (the picked
    indices, the value typed), never image data; None unless the request was answered.
    """

    view: dict[str, Any]
    answer: Any = None

    @property
    def request_id(self) -> str:
        return str(self.view["id"])

    def as_json(self) -> dict[str, Any]:
        """The entry as ``GET /hitl/history`` shows it (``HistoryEntry`` in openapi.json)."""
        return {**self.view, "answer": self.answer}


class HistoryLog(Protocol):
    """Where the registry sends each ended request, and where the routes read them back."""

    def record(self, entry: HistoryEntry) -> None:
        """Keep ``entry``. Called under the registry's lock, from any thread: must not block
        (a log that writes to disk hands the entry to a writer of its own)."""

    def recent(self, limit: int) -> list[HistoryEntry]:
        """The last ``limit`` entries, the newest first."""

    def find(self, request_id: str) -> HistoryEntry | None:
        """The entry of ``request_id``, if it is still kept."""


class RecentHistory:
    """The last ``capacity`` ended requests, in memory (gone when the server restarts)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, HistoryEntry] = OrderedDict()

    def __repr__(self) -> str:
        with self._lock:
            return f"<RecentHistory {len(self._entries)}/{self.capacity}>"

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def record(self, entry: HistoryEntry) -> None:
        with self._lock:
            self._entries.pop(entry.request_id, None)
            self._entries[entry.request_id] = entry
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def recent(self, limit: int) -> list[HistoryEntry]:
        with self._lock:
            return list(itertools.islice(reversed(self._entries.values()), max(0, limit)))

    def find(self, request_id: str) -> HistoryEntry | None:
        with self._lock:
            return self._entries.get(request_id)
