"""What happened to the requests that ended: the one record shape, and the seam between the
registry and the log that keeps it.

At every end (in its one move, ``RequestRegistry._end``) the registry builds one
:class:`HistoryEntry`: the request's view at that moment (what was asked, its outcome, when
it opened and ended, how long it waited), the answer as JSON (never image data) and who
ended it (:class:`Provenance`). That same record is what ``GET /hitl/history`` and
``GET /hitl/requests/{id}`` show, what the inbox's "Recent" list and ``cli.py history``
read, what the audit log writes as one JSON line, and what the node puts in its UI output.
The registry hands it to a :class:`HistoryLog` (``record``) under its lock; the log the
pack uses is ``server/audit.AuditLog`` (a :class:`RecentHistory`, plus a JSON-lines file);
the registry's own default is a :class:`RecentHistory` alone (memory only).
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from . import protocol as P

#: An answer text longer than this is cut in the record (the node still gets all of it).
MAX_RECORDED_TEXT = 4096
#: Claimed strings (user-agent, ComfyUI user) are cut to this many characters in a record.
MAX_CLAIM_LENGTH = 256
#: How deep an answer is copied into a record (answers are flat or one level deep).
MAX_DEPTH = 8
#: The most bytes an answer takes in a record (its JSON, UTF-8): past it, the record keeps
#: the start of that JSON as text (``answer_truncated``). A picker's 4,096 picks fit.
MAX_ANSWER_BYTES = 48 * 1024
#: The most bytes one record takes (a line of the audit log, an entry of the history route):
#: the answer above plus the view, whose texts are cut where the request opens (``state.py``).
MAX_RECORD_BYTES = 64 * 1024

#: The keys a record adds to the request's view.
RECORD_KEYS = ("answer", "answer_truncated", "by", "answer_summary")
#: What of a record's ``by`` may travel inside a saved image (the rest stays on the server).
IMAGE_METADATA_BY = ("surface", "source")


def iso_time(epoch_seconds: float) -> str:
    """A wall-clock time as ISO 8601 in UTC, to the millisecond: ``2025-11-26T14:03:12.345Z``."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, "…" included (the one cut of workflow and
    client text for records, views and events)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut(text: str | None, limit: int) -> str | None:
    return None if text is None else cut_text(text, limit)


def recordable(value: Any, depth: int = 0) -> tuple[Any, bool]:
    """``value`` as plain JSON for a record (tuples become lists; anything JSON cannot hold
    becomes text; text longer than :data:`MAX_RECORDED_TEXT` is cut), and whether anything
    was cut. Answers are JSON-shaped (validators take JSON and return numbers, text, booleans,
    tuples of indices or a form's dict; a question whose answer is not, says what of it to keep
    with ``Question.record``); the rest guards the log against surprises."""
    if value is None or isinstance(value, (bool, int)):
        return value, False
    if isinstance(value, str):
        return (value, False) if len(value) <= MAX_RECORDED_TEXT else (value[:MAX_RECORDED_TEXT], True)
    if isinstance(value, float):
        return (value if math.isfinite(value) else str(value)), False
    if depth < MAX_DEPTH and isinstance(value, (list, tuple)):
        items = [recordable(item, depth + 1) for item in value]
        return [item for item, _ in items], any(cut for _, cut in items)
    if depth < MAX_DEPTH and isinstance(value, dict):
        pairs = {str(key): recordable(item, depth + 1) for key, item in value.items()}
        return {key: item for key, (item, _) in pairs.items()}, any(cut for _, cut in pairs.values())
    return repr(value), False


def bounded_answer(value: Any) -> tuple[Any, bool]:
    """``value`` as a record keeps it (:func:`recordable`), and within :data:`MAX_ANSWER_BYTES`:
    a larger answer is kept as the start of its JSON text. The second item says whether
    anything was cut."""
    answer, cut = recordable(value)
    text = json.dumps(answer, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) <= MAX_ANSWER_BYTES:
        return answer, cut
    return text[:MAX_RECORDED_TEXT] + "…", True


@dataclass(frozen=True)
class Provenance:
    """Who or what ended a request, for its record.

    ``source`` is ``"client"`` when a client called the answer or cancel route: then
    ``surface`` and ``client_id`` are what the client *claims* (any HTTP client can send
    any of the claimable surfaces), ``user`` and ``user_agent`` are its headers (also
    claims), and ``remote`` is the address the server saw. ``source`` is ``"server"`` when
    the server itself ended the request (timeout, interrupt, a new prompt).
    """

    surface: str
    source: str = "client"
    client_id: str | None = None
    remote: str | None = None
    user_agent: str | None = None
    user: str | None = None
    #: The paired device's name when the answer came through one (the pack's listener, or
    #: ComfyUI's port with pairing required): the server's, not a claim.
    device: str | None = None

    @classmethod
    def server(cls, surface: str) -> Provenance:
        """The server ended the request itself (``surface`` says how)."""
        return cls(surface=surface, source="server")

    def as_dict(self) -> dict[str, Any]:
        """The record's ``by`` (``Provenance`` in openapi.json); ``device`` only when set."""
        by = {
            "surface": self.surface,
            "source": self.source,
            "client_id": self.client_id,
            "user": _cut(self.user, MAX_CLAIM_LENGTH),
            "user_agent": _cut(self.user_agent, MAX_CLAIM_LENGTH),
            "remote": self.remote,
        }
        if self.device is not None:
            by["device"] = self.device
        return by


#: Who ended a request when nobody says (a direct call, not through a route).
UNSPECIFIED = Provenance(surface=P.SURFACE_API)


@dataclass(frozen=True)
class HistoryEntry:
    """One ended request: its view at the moment it ended, the answer, and who ended it.

    ``view`` is the registry's JSON view (``RequestView`` in openapi.json: state, reason,
    outcome, summary, when it opened and ended, how long it waited); ``answer`` is JSON (the
    picked indices, the value typed, a form's object), never image data, None unless the
    request was answered; ``answer_truncated`` says a long text in it was cut; ``by`` is
    :meth:`Provenance.as_dict`.
    """

    view: dict[str, Any]
    answer: Any = None
    answer_truncated: bool = False
    by: dict[str, Any] | None = None
    #: The answer in a few words, as its question says it ("photo", "steps 30, denoise 0.4",
    #: "3 strokes on 2 images"): what lists and pushes show. None when nobody answered.
    answer_summary: str | None = None

    @property
    def request_id(self) -> str:
        return str(self.view["id"])

    def as_json(self) -> dict[str, Any]:
        """The record as every reader gets it (``HistoryEntry`` in openapi.json): the view's
        fields, then ``answer``, ``answer_truncated``, ``by`` and ``answer_summary``."""
        return {
            **self.view,
            "answer": self.answer,
            "answer_truncated": self.answer_truncated,
            "by": self.by,
            "answer_summary": self.answer_summary,
        }

    @classmethod
    def from_json(cls, data: Any) -> HistoryEntry | None:
        """A record read back from the log file; None when it is not one (a damaged line)."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return None
        by = data.get("by")
        view = {key: value for key, value in data.items() if key not in RECORD_KEYS}
        said = data.get("answer_summary")
        return cls(
            view,
            data.get("answer"),
            data.get("answer_truncated") is True,
            by if isinstance(by, dict) else None,
            said if isinstance(said, str) else None,
        )


def for_image_metadata(record: dict[str, Any]) -> dict[str, Any]:
    """A record fit to travel in an image's metadata: without the client's address,
    user-agent, client id and ComfyUI user."""
    by = record.get("by") or {}
    return {**record, "by": {key: by.get(key) for key in IMAGE_METADATA_BY}}


class HistoryLog(Protocol):
    """Where the registry sends each ended request, and where the routes read them back."""

    def record(self, entry: HistoryEntry) -> None:
        """Keep ``entry``. Called under the registry's lock, from any thread: must not block
        (a log that writes to disk hands the entry to a writer of its own)."""

    def recent(self, limit: int) -> list[HistoryEntry]:
        """The last ``limit`` entries, the newest first."""

    def find(self, request_id: str) -> HistoryEntry | None:
        """The entry of ``request_id``, if it is still kept."""

    def status(self) -> dict[str, Any]:
        """How keeping the log goes (for ``GET /hitl/notify/status``)."""


class RecentHistory:
    """A :class:`HistoryLog` in memory only: the newest ``capacity`` records, by request id.

    The registry's default history (tests, a registry with no audit log), and the memory part
    of the audit log, which adds the file."""

    def __init__(self, capacity: int = 500) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, HistoryEntry] = OrderedDict()  # by request id, oldest first

    def __repr__(self) -> str:
        return f"<RecentHistory {len(self)}/{self.capacity}>"

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, entry: HistoryEntry) -> None:
        """Keep ``entry`` (a request recorded again moves to the newest place)."""
        with self._lock:
            self._entries.pop(entry.request_id, None)
            self._entries[entry.request_id] = entry
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def recent(self, limit: int = 50) -> list[HistoryEntry]:
        """The newest ``limit`` records, newest first."""
        with self._lock:
            return list(itertools.islice(reversed(self._entries.values()), max(0, limit)))

    def find(self, request_id: str) -> HistoryEntry | None:
        """The record of ``request_id``, if it is among the kept ones."""
        with self._lock:
            return self._entries.get(request_id)

    def status(self) -> dict[str, Any]:
        """The audit log's status shape, for memory only: no file, nothing written."""
        return {
            "file": None,
            "recent": len(self._entries),
            "written": 0,
            "queued": 0,
            "dropped": 0,
            "failed": 0,
            "rotations": 0,
            "last_error": None,
        }
