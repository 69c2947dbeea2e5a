"""Pushes to a phone: tell ntfy or a webhook (JSON, Discord, Slack) that a run waits.

The registry tells the :class:`Pusher` of every request that opens (and ends); the pusher
turns it into one message per configured target and puts it on that target's bounded
queue, and returns. Each target has a worker thread of its own that sends with a timeout
(at most 5 s), retries a few times with back-off, and keeps a status (last success and
failure) for the status route. So a dead or slow target delays nothing but its own later
pushes: no node, route or state change ever waits on the network.

Only the URLs in the settings are ever contacted: nothing from a workflow or an answer
becomes a URL, and redirects are not followed. Never this server, and this machine only
when its admin allows it (``server/destinations.py``): checked as each connection is made.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import http.client
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import protocol as P
from .describe import SURFACE_WORDS, describe_request, one_line
from .destinations import DestinationPolicy, RefusedDestination
from .settings import Settings, SettingsStore, mask

log = logging.getLogger(__name__)

EVENT_OPENED = "request_opened"
EVENT_ENDED = "request_ended"
EVENT_TEST = "test"

#: Pushes waiting per target; past this a new one is dropped (and counted), never waited for.
QUEUE_SIZE = 64
#: Waits between attempts (so 3 attempts in all). A 4xx other than 408/429 is not retried.
BACKOFF_S = (1.0, 4.0)
#: The longest ``Retry-After`` honoured.
MAX_RETRY_AFTER_S = 30.0
DISCORD_LIMIT = 2000
SLACK_LIMIT = 3000
USER_AGENT = "comfyui-hitl (push)"

_NTFY_PRIORITY_NUMBER = {"min": 1, "low": 2, "default": 3, "high": 4, "urgent": 5}


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def deep_link(public_url: str | None, request_id: str) -> str | None:
    """Where a push points: the inbox page on that request, under the public URL."""
    if not public_url:
        return None
    return public_url.rstrip("/") + P.DEEP_LINK.format(request_id=request_id)


@dataclass(frozen=True)
class Target:
    """A configured place to push to. ``name`` is "ntfy" or "webhook"; ``format`` one of
    "ntfy", "json", "discord", "slack"."""

    name: str
    url: str
    format: str
    token: str | None = None
    priority: str = "high"

    def __repr__(self) -> str:  # never show the secret URL in a log
        return f"<Target {self.name} {self.format} {mask(self.url)}>"


def targets_from(settings: Settings) -> list[Target]:
    """The targets the settings configure (none, one or both). The ntfy token goes only to
    the URL it belongs to (``Settings.ntfy_token_url``), never to a URL set after it."""
    targets = []
    if settings.ntfy_url:
        token = settings.ntfy_token if settings.ntfy_token_applies else None
        targets.append(Target("ntfy", settings.ntfy_url, "ntfy", token, settings.ntfy_priority))
    if settings.webhook_url:
        targets.append(Target("webhook", settings.webhook_url, settings.webhook_format))
    return targets


@dataclass(frozen=True)
class Push:
    """What to tell, whatever the target: an event, a one-line title, a message, a link."""

    event: str
    title: str
    message: str
    link: str | None
    request: dict[str, Any] | None = None  # the view, for a request that opened
    record: dict[str, Any] | None = None  # its record (HistoryEntry.as_json), for one that ended


_ENDED_WORDS = {
    P.REASON_ANSWER: "answered",
    P.REASON_USER_CANCEL: "cancelled",
    P.REASON_INTERRUPT: "interrupted",
    P.REASON_TIMEOUT: "timed out",
    P.REASON_PROMPT_OVER: "reset (a new prompt started)",
}


def opened_push(view: dict[str, Any], settings: Settings) -> Push:
    """The push for a request that started waiting."""
    title = describe_request(view)
    link = deep_link(settings.public_url, view["id"])
    lines = ["A ComfyUI run is waiting for you."]
    payload = view.get("payload") or {}
    message = payload.get("message") if view.get("kind") in (P.KIND_VALUE_PROMPT, P.KIND_FORM) else None
    if isinstance(message, str) and message.strip():
        lines.append(one_line(message, 300))
    if view.get("timeout_s"):
        lines.append(f"It stops waiting after {view['timeout_s']:g} s.")
    if link is None:
        lines.append("(Set a public URL in the pack's settings to get a link here.)")
    return Push(EVENT_OPENED, title, "\n".join(lines), link, request=view)


def ended_push(record: dict[str, Any], settings: Settings) -> Push:
    """The push for a request that ended (sent only with ``push_on_end``)."""
    how = _ENDED_WORDS.get(record.get("reason") or "", record.get("state") or "ended")
    by = record.get("by") or {}
    surface = by.get("surface")
    who = f" {SURFACE_WORDS.get(surface, f'from {surface}')}" if by.get("source") == "client" and surface else ""
    title = one_line(f"{how.capitalize()}: {describe_request(record)}", 160)
    said = record.get("answer_summary")
    what = f": {said}" if isinstance(said, str) and said else ""
    message = f"{how.capitalize()}{who} after {record.get('waited_ms', 0) / 1000:.1f} s{what}."
    return Push(EVENT_ENDED, title, message, deep_link(settings.public_url, record["id"]), record=record)


def make_test_push(settings: Settings) -> Push:
    """The push sent by "Send a test push"."""
    link = settings.public_url.rstrip("/") + P.DEEP_LINK.split("?")[0] if settings.public_url else None
    message = "If you can read this on your phone, pushes work."
    if link is None:
        message += " (No public URL is set, so real pushes carry no link.)"
    return Push(EVENT_TEST, "ComfyUI human-in-the-loop: test push", message, link)


@dataclass(frozen=True)
class Job:
    """A push to make and send. The registry's path only creates this; the target's worker
    makes the :class:`Push` (describing, formatting) off that path."""

    event: str
    data: dict[str, Any] | None
    settings: Settings
    test_result: concurrent.futures.Future[dict[str, Any]] | None = field(default=None, compare=False)

    def build(self) -> Push:
        if self.event == EVENT_OPENED and self.data is not None:
            return opened_push(self.data, self.settings)
        if self.event == EVENT_ENDED and self.data is not None:
            return ended_push(self.data, self.settings)
        return make_test_push(self.settings)


def _header_text(text: str) -> str:
    """A header value: ASCII as is, anything else as an RFC 2047 encoded word (ntfy reads
    it; Python's HTTP client would refuse the raw characters)."""
    text = one_line(text, 250)
    if text.isascii():
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def _discord_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "\\*_~`|>#[]()-" else ch for ch in text)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def encode(target: Target, push: Push) -> tuple[dict[str, str], bytes]:
    """The headers and body of ``push`` for ``target``'s format."""
    if target.format == "ntfy":
        headers = {
            "Content-Type": "text/plain; charset=utf-8",
            "Title": _header_text(push.title),
            "Priority": str(_NTFY_PRIORITY_NUMBER[target.priority if push.event == EVENT_OPENED else "default"]),
            "Tags": {"request_opened": "hourglass_flowing_sand", "request_ended": "white_check_mark"}.get(
                push.event, "bell"
            ),
        }
        if push.link:
            headers["Click"] = push.link
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        return headers, push.message.encode("utf-8")
    json_headers = {"Content-Type": "application/json"}
    if target.format == "discord":
        content = f"**{_discord_escape(push.title)}**\n{_discord_escape(push.message)}"
        if push.link:
            content += f"\n{push.link}"
        if len(content) > DISCORD_LIMIT:
            content = content[: DISCORD_LIMIT - 1] + "…"
        # No @everyone, role or user mentions, whatever workflow text says.
        body: dict[str, Any] = {"content": content, "allowed_mentions": {"parse": []}}
    elif target.format == "slack":
        text = f"*{_slack_escape(push.title)}*\n{_slack_escape(push.message)}"
        if push.link:
            text += f"\n<{push.link}|Open the request>"
        if len(text) > SLACK_LIMIT:
            text = text[: SLACK_LIMIT - 1] + "…"
        body = {"text": text, "unfurl_links": False}
    else:
        body = {
            "event": push.event,
            "title": push.title,
            "message": push.message,
            "url": push.link,
            "request": push.request,
            "record": push.record,
            "sent_at": _now_iso(),
        }
    return json_headers, json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would contact a URL nobody configured: treat it as a failure instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())

#: What the routes say of a push that got no HTTP status: never why (a refused connection, a
#: timeout, a name that does not resolve), which would make the test route a port scanner.
#: The server's log has the reason.
NOT_DELIVERED = "not delivered"


def guarded_opener(policy: DestinationPolicy) -> urllib.request.OpenerDirector:
    """An opener that follows no redirect and checks every address it connects to against
    ``policy`` (the addresses a name resolves to, as it connects: a name pointed at this
    machine is refused even if it was not when the URL was set)."""

    class Connection(http.client.HTTPConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = policy.connect

    class SecureConnection(http.client.HTTPSConnection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = policy.connect

    class Handler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(Connection, req)

    class SecureHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(SecureConnection, req, context=self._context)  # type: ignore[attr-defined]

    # No proxy here: a proxy's own address is not the target's (see :func:`send_once`).
    return urllib.request.build_opener(_NoRedirects(), urllib.request.ProxyHandler({}), Handler(), SecureHandler())


def _proxied(url: str) -> bool:
    """Whether urllib would send ``url`` through a proxy of the environment (HTTPS_PROXY …)."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    return parts.scheme in proxies and not urllib.request.proxy_bypass(parts.hostname or "")


class PushFailed(Exception):
    """One attempt failed; ``retry`` says whether another may succeed. ``public`` is what
    the routes may say of it (the HTTP status, or :data:`NOT_DELIVERED`); the message, with
    the reason, is for the server's log."""

    def __init__(self, message: str, *, retry: bool, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.status = status
        self.wait = wait
        self.public = message if status is not None else NOT_DELIVERED


def send_once(target: Target, push: Push, timeout: float, policy: DestinationPolicy | None = None) -> int:
    """POST ``push`` to ``target`` once; its HTTP status, or :class:`PushFailed`. With
    ``policy``, every address connected to is checked first (this machine is refused unless
    allowed; this server always)."""
    headers, body = encode(target, push)
    headers["User-Agent"] = USER_AGENT
    request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) only: checked in _settings)
    opener = _OPENER
    try:
        if policy is not None:
            policy.check_url(target.url)
            if _proxied(target.url):
                # The proxy connects: check what the name resolves to here (the proxy is the
                # admin's own setting, and may well be on this machine).
                parts = urllib.parse.urlsplit(target.url)
                policy.resolve(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            else:
                opener = guarded_opener(policy)
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
        retry_after = None
        if status in (408, 425, 429, 503):
            try:
                retry_after = min(float(exc.headers.get("Retry-After", "")), MAX_RETRY_AFTER_S)
            except ValueError:
                retry_after = None
        detail = " (redirects are not followed)" if 300 <= status < 400 else ""
        raise PushFailed(
            f"HTTP {status}{detail}", retry=status >= 500 or status in (408, 425, 429), status=status, wait=retry_after
        ) from None
    except RefusedDestination as exc:
        raise PushFailed(f"refused: {exc}", retry=False) from None
    except TimeoutError:
        raise PushFailed(f"no answer within {timeout:g} s", retry=True) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, RefusedDestination):
            raise PushFailed(f"refused: {reason}", retry=False) from None
        if isinstance(reason, TimeoutError):
            raise PushFailed(f"no answer within {timeout:g} s", retry=True) from None
        raise PushFailed(f"could not connect: {reason}", retry=True) from None


def _settle(future: concurrent.futures.Future[dict[str, Any]], result: dict[str, Any]) -> None:
    # A test route that gave up may have cancelled it.
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        future.set_result(result)


class TargetWorker:
    """One target's queue, worker thread and status."""

    def __init__(
        self,
        target: Target,
        timeout: float,
        backoff: tuple[float, ...] = BACKOFF_S,
        policy: DestinationPolicy | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.backoff = backoff
        self.policy = policy
        self._stop = threading.Event()
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=QUEUE_SIZE)
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._accepted = 0  # pushes queued
        self._done = 0  # pushes sent or given up on
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_success_at: str | None = None
        self.last_failure_at: str | None = None
        self.last_error: str | None = None
        self.last_latency_ms: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"comfyui-hitl-push-{target.name}", daemon=True)
        self.thread.start()

    def __repr__(self) -> str:
        return f"<TargetWorker {self.target!r} sent={self.sent} failed={self.failed} dropped={self.dropped}>"

    def submit(self, job: Job) -> bool:
        """Queue ``job``; False (and counted as dropped) when the queue is full."""
        try:
            with self._lock:
                self._queue.put_nowait(job)
                self._accepted += 1
            return True
        except queue.Full:
            with self._lock:
                self.dropped += 1
            log.warning("push to %s dropped: %d pushes already wait", self.target.name, QUEUE_SIZE)
            if job.test_result is not None:
                _settle(job.test_result, self.result(False, error="the push queue is full"))
            return False

    def stop(self) -> None:
        """End the worker after its current attempt; pushes still queued are dropped (the
        target is gone, or the pack is shutting down)."""
        self._stop.set()
        with contextlib.suppress(queue.Full):  # then the stop event ends it after its attempt
            self._queue.put_nowait(None)

    def _run(self) -> None:
        while not self._stop.is_set():
            push = self._queue.get()
            if push is None:
                return
            try:
                self._deliver(push)
            finally:
                with self._progress:
                    self._done += 1
                    self._progress.notify_all()

    def wait_settled(self, timeout: float) -> bool:
        """Wait until every push queued so far is sent or given up on; False on timeout."""
        with self._progress:
            target = self._accepted
            return self._progress.wait_for(lambda: self._done >= target, timeout)

    def _deliver(self, job: Job) -> None:
        push = job.build()
        attempts = 1 if push.event == EVENT_TEST else 1 + len(self.backoff)
        for attempt in range(attempts):
            started = time.perf_counter()
            try:
                status = send_once(self.target, push, self.timeout, self.policy)
            except PushFailed as exc:
                with self._lock:
                    self.last_failure_at = _now_iso()
                    self.last_error = exc.public
                final = not exc.retry or attempt == attempts - 1
                log.warning(
                    "push %s to %s failed (attempt %d of %d): %s",
                    push.event,
                    self.target.name,
                    attempt + 1,
                    attempts,
                    exc,
                )
                if final:
                    with self._lock:
                        self.failed += 1
                    if job.test_result is not None:
                        _settle(job.test_result, self.result(False, status=exc.status, error=exc.public))
                    return
                # Back off, but wake at once when the pack shuts down (no sleep loop).
                if self._stop.wait(exc.wait if exc.wait is not None else self.backoff[attempt]):
                    return
                continue
            latency = (time.perf_counter() - started) * 1000
            with self._lock:
                self.sent += 1
                self.last_success_at = _now_iso()
                self.last_latency_ms = round(latency, 1)
            if job.test_result is not None:
                _settle(job.test_result, self.result(True, status=status, latency_ms=latency))
            return

    def result(
        self, ok: bool, *, status: int | None = None, error: str | None = None, latency_ms: float | None = None
    ) -> dict[str, Any]:
        return {
            "target": self.target.name,
            "format": self.target.format,
            "url": mask(self.target.url),
            "ok": ok,
            "status": status,
            "error": error,
            "latency_ms": None if latency_ms is None else round(latency_ms, 1),
        }

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "target": self.target.name,
                "format": self.target.format,
                "url": mask(self.target.url),
                "queued": self._queue.qsize(),
                "sent": self.sent,
                "failed": self.failed,
                "dropped": self.dropped,
                "last_success_at": self.last_success_at,
                "last_failure_at": self.last_failure_at,
                "last_error": self.last_error,
                "last_latency_ms": self.last_latency_ms,
            }


class Pusher:
    """Sends pushes for requests that open (and, with ``push_on_end``, end), to the targets
    the settings name. A :class:`~state.RequestObserver`: its methods only queue, so they
    never block the registry. Workers are made when the settings change (and at start),
    never on the registry's path. ``backoff`` is the wait before each retry."""

    def __init__(self, store: SettingsStore, *, backoff: tuple[float, ...] = BACKOFF_S) -> None:
        self._store = store
        self._backoff = backoff
        self._lock = threading.Lock()
        self._workers: dict[Target, TargetWorker] = {}
        self._active: tuple[TargetWorker, ...] = ()  # replaced whole, read without the lock
        self._retired: list[TargetWorker] = []
        self._closed = False
        store.subscribe(self._reconcile)
        self._reconcile(store.current())

    def __repr__(self) -> str:
        return f"<Pusher targets={[w.target.name for w in self._active]} closed={self._closed}>"

    def _reconcile(self, settings: Settings) -> None:
        """Workers for the targets configured now; workers of removed targets stop."""
        wanted = targets_from(settings)
        with self._lock:
            if self._closed:
                return
            for target, worker in list(self._workers.items()):
                if target not in wanted or worker.timeout != settings.push_timeout_s:
                    worker.stop()
                    self._retired.append(worker)
                    del self._workers[target]
            for target in wanted:
                if target not in self._workers:
                    self._workers[target] = TargetWorker(
                        target, settings.push_timeout_s, self._backoff, self._store.destinations
                    )
            self._retired = [worker for worker in self._retired if worker.thread.is_alive()]
            self._active = tuple(self._workers[target] for target in wanted)

    # ------------------------------------------------------------- observing
    def request_opened(self, view: dict[str, Any]) -> None:
        """Queue a push to every target (called under the registry's lock: never blocks)."""
        workers = self._active
        if workers:
            job = Job(EVENT_OPENED, view, self._store.current())
            for worker in workers:
                worker.submit(job)

    def request_ended(self, record: dict[str, Any]) -> None:
        """With ``push_on_end``, queue a push saying how the request ended."""
        workers = self._active
        if workers:
            settings = self._store.current()
            if settings.push_on_end:
                job = Job(EVENT_ENDED, record, settings)
                for worker in workers:
                    worker.submit(job)

    # ------------------------------------------------------------ the routes
    def send_test(self) -> list[tuple[dict[str, Any], concurrent.futures.Future[dict[str, Any]]]]:
        """Queue a test push to every target: per target, its result while pending and a
        future of its result."""
        settings = self._store.current()
        sent = []
        for worker in self._active:
            result: concurrent.futures.Future[dict[str, Any]] = concurrent.futures.Future()
            worker.submit(Job(EVENT_TEST, None, settings, result))
            sent.append((worker.result(False), result))
        return sent

    def status(self) -> list[dict[str, Any]]:
        """Per configured target: how many sent, failed, dropped, and the last of each."""
        return [worker.status() for worker in self._active]

    def wait_settled(self, timeout: float = 10.0) -> bool:
        """Wait until every target has sent or given up on every push queued so far."""
        deadline = time.monotonic() + timeout
        return all(worker.wait_settled(max(0.0, deadline - time.monotonic())) for worker in self._active)

    def threads(self) -> list[threading.Thread]:
        """The worker threads still alive (for tests and shutdown)."""
        with self._lock:
            workers = [*self._workers.values(), *self._retired]
        return [worker.thread for worker in workers if worker.thread.is_alive()]

    def close(self, timeout: float = 6.0) -> None:
        """Stop every worker: each ends after its current attempt (at most the send timeout)."""
        with self._lock:
            self._closed = True
            workers = [*self._workers.values(), *self._retired]
            self._workers.clear()
            self._retired.clear()
            self._active = ()
        for worker in workers:
            worker.stop()
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.thread.join(max(0.0, deadline - time.monotonic()))
