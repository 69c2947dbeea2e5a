"""The registry of requests that wait on a person, and their one state machine.

A request is born ``waiting`` and leaves that state exactly once, to ``answered``,
``cancelled`` or ``reset``. Every move is a method that refuses an illegal one, under
one lock, so an answer racing a cancel racing an interrupt has exactly one winner.

Threads: routes run on the aiohttp loop (main thread); nodes wait on ComfyUI's worker
thread, inside a fresh asyncio loop per prompt. The winner of a move resolves the
request's :class:`concurrent.futures.Future`, which wakes a synchronous waiter at once and
an ``async`` waiter (through :func:`asyncio.wrap_future`) at once on whatever loop it runs.
Nothing sleeps waiting for an answer. ComfyUI's interrupt flag has no event of its own, so
the waiter also looks at it: at once when the interrupt source can push (see
``_comfy.ComfyInterruptSource``), and on a slow safety tick otherwise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .questions.base import Question
from .server import protocol as P
from .server.describe import MAX_ANSWER_SUMMARY, MAX_SUMMARY_LENGTH, one_line
from .server.errors import IllegalTransition, InvalidAnswer, NotWaiting, UnknownRequest
from .server.history import (
    UNSPECIFIED,
    HistoryEntry,
    HistoryLog,
    Provenance,
    RecentHistory,
    bounded_answer,
    cut_text,
    iso_time,
)

log = logging.getLogger(__name__)

WAITING = P.STATE_WAITING
ANSWERED = P.STATE_ANSWERED
CANCELLED = P.STATE_CANCELLED
RESET = P.STATE_RESET

#: The only legal moves: out of WAITING, once.
_LEGAL_MOVES: dict[str, frozenset[str]] = {
    WAITING: frozenset({ANSWERED, CANCELLED, RESET}),
    ANSWERED: frozenset(),
    CANCELLED: frozenset(),
    RESET: frozenset(),
}

#: How often a waiter looks at the interrupt flag when the source pushes interrupts to us
#: (a safety net only, for a flag raised some way other than ComfyUI's interrupt function:
#: once a second keeps an idle wait at one wake-up per second) and when it cannot push
#: (then this tick is the detection latency).
SAFETY_TICK_S = 1.0
POLL_TICK_S = 0.02

#: Ids of finished requests remembered, so a late answer gets 409 and not 404.
DEFAULT_HISTORY = 512
#: Nodes whose run a person cancelled, remembered while their prompt runs (a bound only).
CANCELLED_NODES = 64

#: Texts a workflow sets are cut to these lengths (characters) when a request opens, so no view,
#: websocket event, record or push carries more, whatever the workflow says (a node title of
#: 2 MiB made 2 MiB records and events): the node's title, and its payload's title and message.
MAX_NODE_LABEL_LENGTH = 200
MAX_TITLE_LENGTH = 200
MAX_MESSAGE_LENGTH = 4000
_PAYLOAD_TEXT_LIMITS = {"title": MAX_TITLE_LENGTH, "message": MAX_MESSAGE_LENGTH}


def bounded_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with its title and message cut to their stated lengths."""
    cut = {
        key: cut_text(value, limit)
        for key, limit in _PAYLOAD_TEXT_LIMITS.items()
        if isinstance(value := payload.get(key), str) and len(value) > limit
    }
    return {**payload, **cut} if cut else payload


class InterruptSource(Protocol):
    """Where a waiter learns that the host wants the run to stop."""

    def is_set(self) -> bool:
        """True while an interrupt is pending."""

    def subscribe(self, callback: Callable[[], None]) -> bool:
        """Call ``callback`` (from any thread) when an interrupt is raised.

        Returns True when the source will push interrupts, False when the waiter must poll.
        """


class RequestObserver(Protocol):
    """Told of every request that opens and ends (the pushes; the audit log is the registry's
    ``history_log``, which gets the same record first).

    Both methods are called under the registry's lock, in the order of the moves: they must
    only hand the data over (e.g. ``put_nowait`` on a bounded queue) and return at once.
    """

    def request_opened(self, view: dict[str, Any]) -> None:
        """A request started waiting; ``view`` is what ``RequestRegistry.view`` shows."""

    def request_ended(self, record: dict[str, Any]) -> None:
        """A request ended; ``record`` is its record (``HistoryEntry.as_json``)."""


Validator = Callable[[Any], Any]
Notifier = Callable[[str, dict[str, Any]], None]


def _accept_any(value: Any) -> Any:
    return value


def _validated(request: HitlRequest, value: Any) -> Any:
    """What the request's validator makes of ``value``; every refusal as :class:`InvalidAnswer`."""
    try:
        return request.validate(value)
    except InvalidAnswer:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidAnswer(str(exc)) from exc
    except RecursionError:
        # An answer nested almost as deep as the JSON parser allows, met by a recursive check.
        raise InvalidAnswer("the answer is nested too deeply") from None


@dataclass(frozen=True)
class Outcome:
    """How a wait ended: the final state, why, and the answer when there is one.
    ``record`` is the request's record (``HistoryEntry.as_json``: what the node puts in its
    UI output, the same the history log keeps)."""

    state: str
    reason: str
    value: Any = None
    record: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def answered(self) -> bool:
        return self.state == ANSWERED


class HitlRequest:
    """One question to a person: who asks (prompt, node), what (kind, payload), until when.

    Instances are created by :meth:`RequestRegistry.open` and moved only by the registry,
    under its lock. ``resources`` is server-side data the routes may serve while the
    request waits (e.g. the picker's images); it is dropped when the request ends.
    ``validate`` depends only on what was asked (it is never changed and never reads the
    state), so the registry runs it outside the lock; it must be linear in the answer's
    size and bound its input first (see ``questions/checks.py``).
    """

    def __init__(
        self,
        *,
        kind: str,
        prompt_id: str | None,
        node_id: str | None,
        payload: dict[str, Any],
        timeout_s: float,
        deadline: float | None,
        validate: Validator,
        node_label: str | None,
        resources: Any,
        summary: str = "",
        question: Question | None = None,
        opened_at: float = 0.0,
        opened_mono: float = 0.0,
        list_item: Any = None,
    ) -> None:
        # 144 bits from the OS CSPRNG: unguessable, so an id is a capability.
        self.id = secrets.token_urlsafe(18)
        self.kind = kind
        self.prompt_id = prompt_id
        self.node_id = node_id
        self.node_label = node_label
        self.payload = payload
        self.timeout_s = timeout_s
        self.deadline = deadline
        self.validate = validate
        #: What was asked, when a node asked it (the history keeps what the question says of
        #: an answer: ``record`` and ``summarize_answer``); None for a bare validator.
        self.question = question
        #: Which item of a list the node asks for (``server.comfy.ListItem``), or None.
        self.list_item = list_item
        self.resources = resources
        self.state = WAITING
        self.reason: str | None = None
        self.value: Any = None
        self.seq = 0
        #: One line saying what is asked ("pick 2 to 4 of 32"), for lists and notifications.
        self.summary = summary
        #: Wall-clock times (epoch seconds) for people; monotonic ones for durations.
        self.opened_at = opened_at
        self.opened_mono = opened_mono
        self.ended_at: float | None = None
        self.ended_mono: float | None = None
        #: Who ended it (set by the one move).
        self.ended_by: Provenance | None = None
        self.future: concurrent.futures.Future[Outcome] = concurrent.futures.Future()

    def __repr__(self) -> str:
        return (
            f"<HitlRequest {self.id[:8]}… kind={self.kind} state={self.state}"
            f" reason={self.reason} prompt={self.prompt_id} node={self.node_id}>"
        )

    def _move(self, new_state: str, reason: str, value: Any = None, by: Provenance = UNSPECIFIED) -> None:
        """Leave WAITING; refuse anything else. Caller holds the registry lock."""
        if new_state not in _LEGAL_MOVES[self.state]:
            raise IllegalTransition(f"request is {self.state}, it cannot become {new_state}")
        self.state = new_state
        self.reason = reason
        self.value = value
        self.resources = None
        self.ended_by = by


class RequestRegistry:
    """All requests of this server: the waiting ones and a bounded memory of ended ones.

    ``notify(event, data)`` is called, under the lock and in the order of the moves, for
    every change; it must not block (ComfyUI's ``send_sync`` only schedules a send).
    ``history_log`` gets the record of every ended request the same way (see
    ``server/history.py``); by default a :class:`~.server.history.RecentHistory` in memory
    only (the pack passes its audit log). Each of ``observers`` (pushes) is told
    of every request that opens and ends, likewise under the lock: they only queue the data
    for their own workers. ``clock`` times deadlines and waits; ``wall_clock`` says when, for
    people (ISO 8601 in the views).
    """

    def __init__(
        self,
        *,
        notify: Notifier | None = None,
        interrupt: InterruptSource | None = None,
        history: int = DEFAULT_HISTORY,
        clock: Callable[[], float] = time.monotonic,
        history_log: HistoryLog | None = None,
        wall_clock: Callable[[], float] = time.time,
        observers: Iterable[RequestObserver] = (),
    ) -> None:
        self._notify = notify
        #: More notifiers, told of every change after ``notify`` (the listener's live stream).
        self._listeners: tuple[Notifier, ...] = ()
        self._observers = tuple(observers)
        if history_log is None:
            history_log = RecentHistory()  # memory only; the pack injects its audit log
        self.history_log: HistoryLog = history_log
        self._wall_clock = wall_clock
        self._interrupt = interrupt
        self._history_size = history
        self._clock = clock
        self._lock = threading.RLock()
        self._waiting: dict[str, HitlRequest] = {}
        #: (prompt_id, node_id) whose run a person cancelled, and who did.
        self._cancelled_nodes: OrderedDict[tuple[str, str], Provenance] = OrderedDict()
        self._ended: OrderedDict[str, HitlRequest] = OrderedDict()
        self._seq = 0
        self._subscribed = False
        self._interrupt_pushes = False

    def __repr__(self) -> str:
        with self._lock:
            return f"<RequestRegistry waiting={len(self._waiting)} ended={len(self._ended)}>"

    def listen(self, notifier: Notifier) -> None:
        """Tell ``notifier(event, view)`` of every change too, as ``notify`` is told: under
        the lock, in the order of the moves; it must only hand the view over and return."""
        with self._lock:
            self._listeners = (*self._listeners, notifier)

    # ----------------------------------------------------------------- opening
    def open(
        self,
        kind: str,
        *,
        prompt_id: str | None,
        node_id: str | None,
        payload: dict[str, Any] | None = None,
        timeout_s: float = 0,
        validate: Validator | None = None,
        node_label: str | None = None,
        resources: Any = None,
        summary: str = "",
        question: Question | None = None,
        list_item: Any = None,
    ) -> HitlRequest:
        """Create a waiting request and tell every browser about it.

        ``question`` (what a node asks) checks every answer and says what the history, the lists
        and the pushes keep of it; without one, ``validate`` checks (or anything goes). A waiting
        request of another prompt is stale (a new prompt has started, so its own is over): it
        is reset first, which ends its wait.
        """
        if kind not in P.KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        if timeout_s < 0:
            raise ValueError("timeout_s must be >= 0 (0 waits forever)")
        self._ensure_interrupt_subscription()
        now = self._clock()
        deadline = now + timeout_s if timeout_s > 0 else None
        request = HitlRequest(
            kind=kind,
            prompt_id=prompt_id,
            node_id=node_id,
            payload=bounded_payload(payload or {}),
            timeout_s=timeout_s,
            deadline=deadline,
            validate=question.validate if question is not None else validate or _accept_any,
            node_label=cut_text(node_label, MAX_NODE_LABEL_LENGTH) if node_label is not None else None,
            resources=resources,
            summary=one_line(summary, MAX_SUMMARY_LENGTH),
            question=question,
            list_item=list_item,
            opened_at=self._wall_clock(),
            opened_mono=now,
        )
        with self._lock:
            if prompt_id is not None:
                for stale in [r for r in self._waiting.values() if r.prompt_id != prompt_id]:
                    self._end(stale, RESET, P.REASON_PROMPT_OVER, by=Provenance.server(P.SURFACE_SERVER))
                for node in [node for node in self._cancelled_nodes if node[0] != prompt_id]:
                    del self._cancelled_nodes[node]
            cancelled_by = (
                self._cancelled_nodes.get((prompt_id, node_id))
                if prompt_id is not None and node_id is not None
                else None
            )
            if cancelled_by is not None:
                # A person cancelled this node's run already (another item of its list): the
                # request ends as it opens, and no dialog is shown for it.
                self._waiting[request.id] = request
                self._end(request, CANCELLED, P.REASON_USER_CANCEL, by=cancelled_by)
                return request
            self._waiting[request.id] = request
            view = self._publish(request)
            for observer in self._observers:
                self._tell(observer.request_opened, view)
        log.debug("opened %r", request)
        return request

    # ------------------------------------------------------------- looking up
    def get(self, request_id: str) -> HitlRequest:
        """The request with that id, waiting or ended; :class:`UnknownRequest` if none."""
        with self._lock:
            request = self._waiting.get(request_id) or self._ended.get(request_id)
            if request is None:
                raise UnknownRequest("no such request")
            return request

    def get_waiting(self, request_id: str) -> HitlRequest:
        """The request with that id if it still waits; 404/409 errors otherwise."""
        with self._lock:
            request = self.get(request_id)
            if request.state != WAITING:
                raise NotWaiting(f"request is {request.state}")
            return request

    def pending(self) -> list[dict[str, Any]]:
        """Views of every waiting request, oldest first."""
        with self._lock:
            return [self.view(r) for r in sorted(self._waiting.values(), key=lambda r: r.seq)]

    def wall_time(self) -> str:
        """The server's wall-clock time now, as the views spell times (ISO 8601, UTC)."""
        return iso_time(self._wall_clock())

    def waiting_count(self) -> int:
        with self._lock:
            return len(self._waiting)

    def view(self, request: HitlRequest) -> dict[str, Any]:
        """The JSON a browser or API client sees of a request."""
        with self._lock:
            waiting = request.state == WAITING
            expires_in_ms = None
            now = self._clock()
            if waiting and request.deadline is not None:
                expires_in_ms = max(0, round((request.deadline - now) * 1000))
            # Durations come from the server's monotonic clock, so no device has to compare
            # its own clock with the server's: a page adds the time since it got the view.
            until = now if request.ended_mono is None else request.ended_mono
            return {
                "id": request.id,
                "kind": request.kind,
                "state": request.state,
                "reason": request.reason,
                "prompt_id": request.prompt_id,
                "node_id": request.node_id,
                "node_label": request.node_label,
                "timeout_s": request.timeout_s,
                "expires_in_ms": expires_in_ms,
                "seq": request.seq,
                "payload": request.payload if waiting else None,
                "summary": request.summary,
                "opened_at": iso_time(request.opened_at),
                "ended_at": iso_time(request.ended_at) if request.ended_at is not None else None,
                "waited_ms": max(0, round((until - request.opened_mono) * 1000)),
                "outcome": P.OUTCOME_OF_REASON.get(request.reason) if request.reason else None,
            }

    # ------------------------------------------------------------------ moves
    def answer(self, request_id: str, value: Any, *, by: Provenance = UNSPECIFIED) -> dict[str, Any]:
        """Answer a waiting request. Validation runs first; a refusal changes nothing.

        The answer is checked *before* the lock is taken: a request's validator depends only
        on the question it was opened with, never on its state, so checking outside the
        lock gives the same verdict, and no check, however large the answer, holds up a
        cancel, an interrupt or a timeout. The move itself stays atomic: under the lock, a
        request that ended meanwhile refuses it (409), exactly as if it had ended before.
        """
        request = self.get_waiting(request_id)  # 404 / 409 before anything is checked
        normalized = _validated(request, value)
        with self._lock:
            if request.state != WAITING:
                raise NotWaiting(f"request is {request.state}")
            self._end(request, ANSWERED, P.REASON_ANSWER, normalized, by=by)
            return self.view(request)

    def cancel(
        self, request_id: str, reason: str = P.REASON_USER_CANCEL, *, by: Provenance = UNSPECIFIED
    ) -> dict[str, Any]:
        """Cancel a waiting request; its run ends as interrupted.

        A person's cancel (``REASON_USER_CANCEL``) of a list item cancels the node's run, not
        one dialog: a node fed a list asks once per item (``list_item``), all at once, and
        ComfyUI ends the run only when every item's call has returned. So it also ends every
        other waiting request of the same prompt and node, and one that opens later (an item
        still preparing its images) ends at once, until a request of another prompt opens.
        (Only list items share a prompt and node: one item may not know it is one, when the
        list's length cannot be told, so either side being an item is enough.)"""
        with self._lock:
            request = self.get_waiting(request_id)
            self._end(request, CANCELLED, reason, by=by)
            if reason == P.REASON_USER_CANCEL and request.prompt_id is not None and request.node_id is not None:
                node = (request.prompt_id, request.node_id)
                siblings = [r for r in self._waiting.values() if (r.prompt_id, r.node_id) == node]
                if request.list_item is not None or any(r.list_item is not None for r in siblings):
                    self._cancelled_nodes[node] = by
                    while len(self._cancelled_nodes) > CANCELLED_NODES:
                        self._cancelled_nodes.popitem(last=False)
                    for sibling in siblings:
                        self._end(sibling, CANCELLED, reason, by=by)
            return self.view(request)

    def expire(self, request_id: str) -> bool:
        """End a waiting request whose deadline has passed. False if it already ended."""
        with self._lock:
            request = self._waiting.get(request_id)
            if request is None:
                return False
            self._end(request, CANCELLED, P.REASON_TIMEOUT, by=Provenance.server(P.SURFACE_TIMEOUT))
            return True

    def reset(self, request_id: str) -> bool:
        """Reset one waiting request because its prompt is over. False if it already ended."""
        with self._lock:
            request = self._waiting.get(request_id)
            if request is None:
                return False
            self._end(request, RESET, P.REASON_PROMPT_OVER, by=Provenance.server(P.SURFACE_SERVER))
            return True

    def reset_all(self, *, except_prompt: str | None = None) -> int:
        """Reset every waiting request (of prompts other than ``except_prompt``)."""
        with self._lock:
            stale = [r for r in self._waiting.values() if except_prompt is None or r.prompt_id != except_prompt]
            for request in stale:
                self._end(request, RESET, P.REASON_PROMPT_OVER, by=Provenance.server(P.SURFACE_SERVER))
            return len(stale)

    def interrupt_waiting(self) -> int:
        """The host was interrupted: every waiting request is cancelled with that reason."""
        with self._lock:
            waiting = list(self._waiting.values())
            for request in waiting:
                self._end(request, CANCELLED, P.REASON_INTERRUPT, by=Provenance.server(P.SURFACE_INTERRUPT))
            return len(waiting)

    def _end(self, request: HitlRequest, state: str, reason: str, value: Any = None, *, by: Provenance) -> None:
        # Caller holds the lock. The one place a request ends: the move refuses anything but
        # WAITING -> an end state, and records who made it (every surface comes through here).
        # Its record (view, answer, who) goes to the history log, the waiting node (its UI
        # output) and the observers: built once, here.
        resources = request.resources
        request._move(state, reason, value, by)
        request.ended_at = self._wall_clock()
        request.ended_mono = self._clock()
        del self._waiting[request.id]
        self._ended[request.id] = request
        while len(self._ended) > self._history_size:
            self._ended.popitem(last=False)
        view = self._publish(request)
        answer, cut, said = None, False, None
        if state == ANSWERED:
            question = request.question
            answer, cut = bounded_answer(question.record(value) if question is not None else value)
            said = one_line(question.summarize_answer(value), MAX_ANSWER_SUMMARY) if question is not None else None
        entry = HistoryEntry(dict(view), answer, cut, by.as_dict(), said)
        try:
            self.history_log.record(entry)
        except Exception:  # a broken log must never break a transition either
            log.exception("could not record an ended request")
        record = entry.as_json()
        # Resolving the future wakes the waiter: a sync one at once, an async one through
        # the call_soon_threadsafe that asyncio.wrap_future installed on its loop.
        request.future.set_result(Outcome(state, reason, value, record))
        # Observers come after the waiter is woken: they only queue, but the node goes first.
        for observer in self._observers:
            self._tell(observer.request_ended, record)
        # Its images are let go now, not when the node next runs: nothing of an ended request
        # is served, and a batch may be gigabytes (closing only cancels and drops; it never waits).
        close = getattr(resources, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                log.exception("could not release an ended request's resources")
        log.debug("ended %r", request)

    @staticmethod
    def _tell(method: Callable[[dict[str, Any]], None], data: dict[str, Any]) -> None:
        try:
            method(data)
        except Exception:  # a broken observer must never break a transition
            log.exception("a request observer failed")

    def _publish(self, request: HitlRequest) -> dict[str, Any]:
        """Number the change, broadcast the request's new view, and return that view."""
        self._seq += 1
        request.seq = self._seq
        view = self.view(request)
        for notify in (self._notify, *self._listeners):
            if notify is None:
                continue
            try:
                notify(P.EVENT_REQUEST, view)
            except Exception:  # a broken notifier must never break a transition
                log.exception("could not broadcast a request change")
        return view

    # ---------------------------------------------------------------- waiting
    def _ensure_interrupt_subscription(self) -> None:
        if self._interrupt is None:
            return
        with self._lock:  # cheap, and taken once per request opened
            if self._subscribed:
                return
            self._interrupt_pushes = bool(self._interrupt.subscribe(self._on_interrupt))
            self._subscribed = True

    def _on_interrupt(self) -> None:
        count = self.interrupt_waiting()
        if count:
            log.info("interrupt ended %d waiting request(s)", count)

    def _next_tick(self, request: HitlRequest) -> float | None:
        """How long a waiter may sleep before it must look at the deadline or the flag."""
        tick: float | None = None
        if self._interrupt is not None:
            tick = SAFETY_TICK_S if self._interrupt_pushes else POLL_TICK_S
        if request.deadline is not None:
            remaining = max(0.0, request.deadline - self._clock())
            tick = remaining if tick is None else min(tick, remaining)
        return tick

    def _check(self, request: HitlRequest) -> None:
        """After a tick: end the request if the host was interrupted or time is up."""
        if self._interrupt is not None and self._interrupt.is_set():
            with self._lock:
                if request.state == WAITING:
                    self._end(request, CANCELLED, P.REASON_INTERRUPT, by=Provenance.server(P.SURFACE_INTERRUPT))
            return
        if request.deadline is not None and self._clock() >= request.deadline:
            self.expire(request.id)

    def wait(self, request: HitlRequest) -> Outcome:
        """Block the calling thread until the request ends; returns how it ended."""
        # A flag raised before this request opened was pushed to no one: look at it now, not
        # a safety tick later.
        self._check(request)
        while True:
            try:
                return request.future.result(timeout=self._next_tick(request))
            except concurrent.futures.TimeoutError:
                self._check(request)

    async def wait_async(self, request: HitlRequest) -> Outcome:
        """Wait on the running event loop until the request ends; returns how it ended.

        If the waiting task is cancelled (ComfyUI cancels leftover tasks when a prompt
        ends), the request is reset so no browser keeps showing it.
        """
        awaitable = asyncio.wrap_future(request.future)
        try:
            self._check(request)  # as in wait(): a flag already up is seen at once
            while True:
                done, _ = await asyncio.wait({awaitable}, timeout=self._next_tick(request))
                if done:
                    return awaitable.result()
                self._check(request)
        except asyncio.CancelledError:
            self.reset(request.id)
            raise
