"""The audit trail: the registry's history log, in memory and in an append-only JSON-lines log.

:class:`AuditLog` is the :class:`~.history.HistoryLog` ``__init__.py`` gives the pack's
registry. The registry hands it every ended request's record (a
:class:`~.history.HistoryEntry`) under its lock, at the request's one end;
:meth:`AuditLog.record` keeps it in memory (a :class:`~.history.RecentHistory`, for
:meth:`AuditLog.recent` and :meth:`AuditLog.find`: ``GET /hitl/history``, the inbox's "Recent" list, ``cli.py history``
and deep links to ended requests) and queues it for a background writer, so no node, route or
state change ever waits on the disk. Without a folder (tests, no user directory) it keeps
memory only. The log lives in ``<ComfyUI user directory>/
comfyui-hitl/audit.jsonl``, one JSON object per line; when it would grow past
``audit_max_bytes`` it is rotated (``audit.1.jsonl`` is the previous one, up to
``audit_backups`` of them), so it never holds more than (backups + 1) × max bytes. On start the
newest records are read back, so the trail survives restarts. The files are readable by their
owner only; every record starts a line of its own (a line torn by a crash is ended first, and
skipped when read), and none is longer than ``MAX_RECORD_BYTES``.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .history import MAX_RECORD_BYTES, HistoryEntry, RecentHistory
from .settings import DATA_FOLDER, Settings

log = logging.getLogger(__name__)

LOG_NAME = "audit.jsonl"
#: Records kept in memory for :meth:`AuditLog.recent` (and read back from the log on start).
MEMORY = 500
#: Records waiting for the writer; past this, new ones are counted as dropped (and still
#: kept in memory), never waited for.
QUEUE_SIZE = 1000


def _line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def _last_byte(path: Path, size: int) -> bytes:
    with open(path, "rb") as stream:
        stream.seek(size - 1)
        return stream.read(1)


def rotated_name(index: int) -> str:
    """``audit.jsonl`` for 0, ``audit.<n>.jsonl`` for the n-th older file."""
    return LOG_NAME if index == 0 else f"audit.{index}.jsonl"


class AuditLog:
    """The audit trail of this server: records in memory, and a JSON-lines log on disk.

    ``directory`` is ComfyUI's user directory (None: memory only). ``settings`` gives the
    size cap and the number of rotated files at each write.
    """

    def __init__(
        self,
        directory: str | Path | None,
        settings: Callable[[], Settings] = Settings,
        *,
        memory: int = MEMORY,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.folder = Path(directory) / DATA_FOLDER if directory else None
        self._settings = settings
        self._lock = threading.Lock()
        self.memory = memory
        self._recent = RecentHistory(memory)
        self._queue: queue.Queue[HistoryEntry | dict[str, Any] | None] = queue.Queue(maxsize=queue_size)
        self._progress = threading.Condition()
        self._accepted = 0  # records queued for the writer
        self._done = 0  # records the writer has finished with (written or failed)
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self.rotations = 0
        self.last_error: str | None = None
        self._writer: threading.Thread | None = None
        self._closed = False
        self._read_back(memory)

    def __repr__(self) -> str:
        return (
            f"<AuditLog folder={self.folder} recent={len(self._recent)} written={self.written}"
            f" dropped={self.dropped} failed={self.failed}>"
        )

    @property
    def path(self) -> Path | None:
        """The log file being written."""
        return self.folder / LOG_NAME if self.folder else None

    # --------------------------------------------------------------- reading
    def _read_back(self, limit: int) -> None:
        """Load the newest ``limit`` records from the log files, newest file first."""
        if self.folder is None or not self.folder.is_dir():
            return
        newest_first: list[HistoryEntry] = []
        skipped = 0
        index = 0
        while len(newest_first) < limit:
            path = self.folder / rotated_name(index)
            if not path.exists():
                if index > 0:
                    break
                index += 1
                continue
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError as exc:
                log.warning("could not read %s: %s", path, exc)
                break
            for line in reversed(lines):
                try:
                    data = json.loads(line)
                except ValueError:
                    data = None
                if isinstance(data, dict) and "event" in data:
                    continue  # a server event (a change of retention): in the log, not the history
                entry = HistoryEntry.from_json(data)
                if entry is None:
                    skipped += 1
                    continue
                newest_first.append(entry)
                if len(newest_first) >= limit:
                    break
            index += 1
        if skipped:
            log.warning("audit log: %d unreadable line(s) skipped", skipped)
        for entry in reversed(newest_first):
            self._recent.record(entry)

    def recent(self, limit: int = 50) -> list[HistoryEntry]:
        """The newest ``limit`` records, newest first (what ``GET /hitl/history`` serves)."""
        return self._recent.recent(limit)

    def find(self, request_id: str) -> HistoryEntry | None:
        """The record of the request ``request_id``, if it is among the kept ones."""
        return self._recent.find(request_id)

    # ------------------------------------------------------------- recording
    def record(self, entry: HistoryEntry) -> None:
        """Keep ``entry`` and queue it for the log (called under the registry's lock:
        never blocks)."""
        self._recent.record(entry)
        self._enqueue(entry)

    def record_event(self, event: dict[str, Any]) -> None:
        """Queue a server event for the log: one JSON object with an ``"event"`` key (e.g. a
        change of the audit retention, with who made it). It is in the file, never in the
        history (no request ended); never blocks."""
        log.info("audit log: %s %s", event.get("event"), event.get("changes"))
        self._enqueue(event)

    def _enqueue(self, entry: HistoryEntry | dict[str, Any]) -> None:
        with self._lock:
            if self.folder is None or self._closed:
                return
            try:
                self._queue.put_nowait(entry)
            except queue.Full:
                self.dropped += 1
                what = entry.request_id if isinstance(entry, HistoryEntry) else entry.get("event")
                log.warning("audit log: the writer is behind; record %s not written", what)
                return
            self._accepted += 1
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_loop, name="comfyui-hitl-audit", daemon=True)
                self._writer.start()

    # --------------------------------------------------------------- writing
    def _write_loop(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            try:
                self._append(entry.as_json() if isinstance(entry, HistoryEntry) else entry)
                self.written += 1
                self.last_error = None
            except (OSError, TypeError, ValueError) as exc:
                self.failed += 1
                self.last_error = str(exc)
                log.error("audit log: could not write a record: %s", exc)
            with self._progress:
                self._done += 1
                self._progress.notify_all()

    def _append(self, record: dict[str, Any]) -> None:
        if self.folder is None:  # memory only: nothing is queued then
            return
        line = _line(record)
        if len(line) > MAX_RECORD_BYTES and "answer" in record:
            # (Records are bounded where they are made; this only guards the file's promise.)
            line = _line({**record, "answer": None, "answer_truncated": True})
        settings = self._settings()
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / LOG_NAME
        size = path.stat().st_size if path.exists() else 0
        if size and size + len(line) > settings.audit_max_bytes:
            self._rotate(settings.audit_backups)
        # Owner only, like config.json: the log holds answers, addresses and user agents.
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            end = os.fstat(descriptor).st_size
            if os.name == "posix":
                os.fchmod(descriptor, 0o600)  # a log an older version left readable by all
            if end and _last_byte(path, end) != b"\n":
                # A torn last line (a crash mid-write): end it, so this record starts a line of
                # its own instead of being glued to the fragment (the reader skips the fragment).
                line = b"\n" + line
            os.write(descriptor, line)
        finally:
            os.close(descriptor)

    def _rotate(self, backups: int) -> None:
        if self.folder is None:
            return
        # Drop what falls beyond the kept backups (more than one if the setting shrank).
        index = backups + 1
        while (self.folder / rotated_name(index)).exists():
            (self.folder / rotated_name(index)).unlink()
            index += 1
        for index in range(backups, 0, -1):
            older = self.folder / rotated_name(index - 1)
            if older.exists():
                older.replace(self.folder / rotated_name(index))
                if os.name == "posix":
                    os.chmod(self.folder / rotated_name(index), 0o600)
        if backups == 0:
            (self.folder / LOG_NAME).unlink(missing_ok=True)
        self.rotations += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued record is on disk (or failed); False on timeout."""
        with self._progress:
            target = self._accepted
            return self._progress.wait_for(lambda: self._done >= target, timeout)

    def status(self) -> dict[str, Any]:
        """For the status route: where the log is and how writing goes."""
        return {
            "file": str(self.path) if self.path else None,
            "recent": len(self._recent),
            "written": self.written,
            "queued": self._queue.qsize(),
            "dropped": self.dropped,
            "failed": self.failed,
            "rotations": self.rotations,
            "last_error": self.last_error,
        }

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer thread."""
        with self._lock:
            self._closed = True
            writer = self._writer
        if writer is not None:
            self._queue.put(None)
            writer.join(timeout)
