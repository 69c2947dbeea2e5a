"""The state machine: every legal and illegal move, waits (sync and async), and races."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
import time
from typing import Any

import pytest
from conftest import thread_names

from dev.harness.host import StandInInterrupt
from dev.harness.pack import submodule

KIND = "integer-doubler"


def make_registry(state: Any, **kwargs: Any) -> tuple[Any, list[tuple[str, dict]]]:
    events: list[tuple[str, dict]] = []
    registry = state.RequestRegistry(notify=lambda event, data: events.append((event, data)), **kwargs)
    return registry, events


def open_request(registry: Any, prompt: str = "p1", node_id: str = "7", **kwargs: Any) -> Any:
    return registry.open(KIND, prompt_id=prompt, node_id=node_id, payload={"value": 3}, **kwargs)


def test_open_creates_waiting_request_with_unguessable_id(state: Any) -> None:
    # A clock that stands still: a view's waited_ms would otherwise grow between two views.
    registry, events = make_registry(state, clock=lambda: 100.0)
    request = open_request(registry, node_label="Doubler #7")
    assert request.state == "waiting"
    assert len(request.id) >= 24  # 18 random bytes in url-safe base64
    ids = {open_request(registry).id for _ in range(200)}
    assert len(ids) == 200
    view = registry.view(request)
    assert view["state"] == "waiting" and view["kind"] == KIND and view["node_id"] == "7"
    assert view["payload"] == {"value": 3} and view["node_label"] == "Doubler #7"
    # The broadcast view is the same (but for waited_ms, which grows while it waits).
    event, broadcast = events[0]
    assert event == "hitl-request" and {**broadcast, "waited_ms": view["waited_ms"]} == view
    assert "waiting" in repr(request) and "RequestRegistry" in repr(registry)


def test_open_refuses_unknown_kind_and_negative_timeout(state: Any) -> None:
    registry, _ = make_registry(state)
    with pytest.raises(ValueError, match="unknown kind"):
        registry.open("nope", prompt_id="p", node_id="1")
    with pytest.raises(ValueError, match="timeout_s"):
        registry.open(KIND, prompt_id="p", node_id="1", timeout_s=-1)
    assert registry.waiting_count() == 0


ENDINGS = {
    "answer": lambda registry, request: registry.answer(request.id, 6),
    "cancel": lambda registry, request: registry.cancel(request.id),
    "expire": lambda registry, request: registry.expire(request.id),
    "reset": lambda registry, request: registry.reset(request.id),
    "interrupt": lambda registry, request: registry.interrupt_waiting(),
}
EXPECTED = {
    "answer": ("answered", "answer", 6),
    "cancel": ("cancelled", "user_cancel", None),
    "expire": ("cancelled", "timeout", None),
    "reset": ("reset", "prompt_over", None),
    "interrupt": ("cancelled", "interrupt", None),
}


@pytest.mark.parametrize("first", sorted(ENDINGS))
def test_each_legal_move_and_every_later_move_refused(state: Any, first: str) -> None:
    registry, events = make_registry(state)
    request = open_request(registry)
    ENDINGS[first](registry, request)
    final_state, reason, value = EXPECTED[first]
    assert (request.state, request.reason, request.value) == (final_state, reason, value)
    outcome = request.future.result(timeout=0)
    assert (outcome.state, outcome.reason, outcome.value) == (final_state, reason, value)
    assert registry.waiting_count() == 0 and registry.pending() == []
    assert events[-1][1]["state"] == final_state and events[-1][1]["payload"] is None
    count = len(events)
    # Nothing moves an ended request again; the refusals change nothing and say nothing.
    with pytest.raises(state.NotWaiting):
        registry.answer(request.id, 6)
    with pytest.raises(state.NotWaiting):
        registry.cancel(request.id)
    assert registry.expire(request.id) is False
    assert registry.reset(request.id) is False
    assert registry.interrupt_waiting() == 0
    assert (request.state, request.reason, request.value) == (final_state, reason, value)
    assert len(events) == count


@pytest.mark.parametrize("start", ["answered", "cancelled", "reset"])
@pytest.mark.parametrize("target", ["waiting", "answered", "cancelled", "reset"])
def test_illegal_moves_are_refused_by_the_request(state: Any, start: str, target: str) -> None:
    registry, _ = make_registry(state)
    request = open_request(registry)
    with registry._lock:
        request._move(start, "answer")
        with pytest.raises(state.IllegalTransition):
            request._move(target, "answer")
    assert request.state == start


def test_waiting_cannot_move_to_waiting(state: Any) -> None:
    registry, _ = make_registry(state)
    request = open_request(registry)
    with pytest.raises(state.IllegalTransition):
        request._move("waiting", "answer")


def test_unknown_id_is_refused(state: Any) -> None:
    registry, _ = make_registry(state)
    with pytest.raises(state.UnknownRequest):
        registry.answer("no-such-id", 1)
    with pytest.raises(state.UnknownRequest):
        registry.cancel("no-such-id")
    assert registry.expire("no-such-id") is False


def test_invalid_answer_changes_nothing(state: Any) -> None:
    def only_even(value: Any) -> int:
        if not isinstance(value, int) or value % 2:
            raise state.InvalidAnswer("must be an even integer")
        return value

    registry, events = make_registry(state)
    request = open_request(registry, validate=only_even)

    def steady(view: dict) -> dict:  # what a refusal could change (waited_ms grows by itself)
        return {key: value for key, value in view.items() if key != "waited_ms"}

    before = (steady(registry.view(request)), len(events))
    for bad in (3, "6", None, [6]):
        with pytest.raises(state.InvalidAnswer):
            registry.answer(request.id, bad)
    assert (steady(registry.view(request)), len(events)) == before
    assert not request.future.done()
    registry.answer(request.id, 8)
    assert request.value == 8


def test_validator_type_errors_become_invalid_answer(state: Any) -> None:
    registry, _ = make_registry(state)
    request = open_request(registry, validate=lambda value: int(value))
    with pytest.raises(state.InvalidAnswer):
        registry.answer(request.id, "twelve")
    assert request.state == "waiting"


def test_a_check_runs_outside_the_lock_and_a_move_meanwhile_wins(state: Any) -> None:
    registry, events = make_registry(state)
    cancelled = threading.Event()

    def slow_check(value: Any) -> Any:
        # While the answer is checked, another thread's cancel takes the lock and wins.
        other = threading.Thread(target=lambda: (registry.cancel(request.id), cancelled.set()))
        other.start()
        other.join(timeout=10)
        assert cancelled.is_set(), "the cancel waited for the check: it ran under the lock"
        return value

    request = open_request(registry, validate=slow_check)
    with pytest.raises(state.NotWaiting, match="request is cancelled"):
        registry.answer(request.id, 6)
    assert (request.state, request.reason, request.value) == ("cancelled", "user_cancel", None)
    assert request.future.result(timeout=0).reason == "user_cancel"
    assert [data["state"] for _, data in events] == ["waiting", "cancelled"]


def test_a_recursion_error_in_a_check_is_a_refusal(state: Any) -> None:
    def depth(value: Any) -> int:
        return 1 + depth(value[0]) if isinstance(value, list) else 0

    registry, _ = make_registry(state)
    request = open_request(registry, validate=depth)
    nested: Any = 0
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(state.InvalidAnswer, match="nested too deeply"):
        registry.answer(request.id, nested)
    assert request.state == "waiting"


def test_new_prompt_resets_stale_requests(state: Any) -> None:
    registry, _events = make_registry(state)
    old = open_request(registry, prompt="old")
    sibling = open_request(registry, prompt="old")
    new = open_request(registry, prompt="new")
    assert (old.state, old.reason) == ("reset", "prompt_over")
    assert sibling.state == "reset"
    assert new.state == "waiting"
    assert [view["id"] for view in registry.pending()] == [new.id]
    assert registry.reset_all(except_prompt="new") == 0
    assert registry.reset_all() == 1 and new.state == "reset"


def test_history_is_bounded_and_late_calls_get_409_then_404(state: Any) -> None:
    registry, _ = make_registry(state, history=3)
    ended = []
    for n in range(5):
        request = open_request(registry, node_id=str(n))
        registry.cancel(request.id)
        ended.append(request.id)
    with pytest.raises(state.NotWaiting):
        registry.answer(ended[-1], 1)
    with pytest.raises(state.UnknownRequest):
        registry.answer(ended[0], 1)
    assert len(registry._ended) == 3


def test_ending_drops_server_side_resources(state: Any) -> None:
    registry, _ = make_registry(state)
    request = open_request(registry, resources=bytearray(10))
    assert registry.get_waiting(request.id).resources is not None
    registry.cancel(request.id)
    assert request.resources is None


def test_events_are_ordered_with_increasing_seq(state: Any) -> None:
    registry, events = make_registry(state)
    first = open_request(registry)
    second = open_request(registry)
    registry.answer(second.id, 1)
    registry.cancel(first.id)
    seqs = [data["seq"] for _, data in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert [(data["id"], data["state"]) for _, data in events] == [
        (first.id, "waiting"),
        (second.id, "waiting"),
        (second.id, "answered"),
        (first.id, "cancelled"),
    ]


def test_a_broken_notifier_does_not_break_a_move(state: Any) -> None:
    def broken(event: str, data: dict) -> None:
        raise RuntimeError("socket gone")

    registry = state.RequestRegistry(notify=broken)
    request = open_request(registry)
    registry.answer(request.id, 2)
    assert request.state == "answered"


# ------------------------------------------------------------------- waiting
def answer_later(registry: Any, request: Any, value: Any, ready: threading.Event) -> threading.Thread:
    def run() -> None:
        ready.wait(5)
        registry.answer(request.id, value)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_sync_wait_wakes_at_once_on_answer(state: Any) -> None:
    registry, _ = make_registry(state, interrupt=StandInInterrupt())
    request = open_request(registry)
    ready = threading.Event()
    thread = answer_later(registry, request, 42, ready)
    ready.set()
    start = time.perf_counter()
    outcome = registry.wait(request)
    elapsed = time.perf_counter() - start
    thread.join()
    assert outcome.answered and outcome.value == 42
    assert elapsed < 0.05  # the safety tick is 1 s: waking before it proves the handoff


def test_async_waits_in_parallel_in_a_fresh_loop(state: Any) -> None:
    registry, _ = make_registry(state, interrupt=StandInInterrupt())
    requests = [open_request(registry) for _ in range(3)]

    async def wait_all() -> list[Any]:
        return await asyncio.gather(*(registry.wait_async(r) for r in requests))

    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        # Like ComfyUI's worker: another thread, its own loop per prompt.
        future = worker.submit(asyncio.run, wait_all())
        for value, request in zip((30, 10, 20), reversed(requests), strict=True):
            registry.answer(request.id, value)
        outcomes = future.result(timeout=5)
    assert [o.value for o in outcomes] == [20, 10, 30]


def test_async_wait_on_second_prompt_loop_still_wakes(state: Any) -> None:
    # A module-global asyncio.Event would be bound to the first loop; futures are not.
    registry, _ = make_registry(state, interrupt=StandInInterrupt())
    for value in (1, 2):
        request = open_request(registry, prompt=f"p{value}")
        with concurrent.futures.ThreadPoolExecutor(1) as worker:
            future = worker.submit(asyncio.run, registry.wait_async(request))
            registry.answer(request.id, value)
            assert future.result(timeout=2).value == value


@pytest.mark.parametrize("pushes", [True, False], ids=["hooked", "polled"])
def test_interrupt_ends_the_wait_within_50ms(state: Any, pushes: bool) -> None:
    interrupt = StandInInterrupt(pushes=pushes)
    registry, _ = make_registry(state, interrupt=interrupt)
    request = open_request(registry)
    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        future = worker.submit(asyncio.run, registry.wait_async(request))
        interrupt.raise_flag()
        outcome = future.result(timeout=2)
        elapsed = time.perf_counter() - interrupt.raised_at
    assert (outcome.state, outcome.reason) == ("cancelled", "interrupt")
    assert elapsed < 0.05


def test_interrupt_raised_before_waiting_is_noticed(state: Any) -> None:
    interrupt = StandInInterrupt(pushes=True)
    registry, _ = make_registry(state, interrupt=interrupt)
    request = open_request(registry)
    interrupt.raise_flag()  # pushed: ends the request before anyone waits on it
    assert registry.wait(request).reason == "interrupt"
    # A flag that is already up when a request opens is seen on the first tick.
    late = open_request(registry)
    assert registry.wait(late).reason == "interrupt"


def test_deadline_ends_the_wait_as_timeout(state: Any) -> None:
    registry, _ = make_registry(state, interrupt=StandInInterrupt())
    request = open_request(registry, timeout_s=0.05)
    start = time.perf_counter()
    outcome = registry.wait(request)
    assert (outcome.state, outcome.reason) == ("cancelled", "timeout")
    assert 0.045 <= time.perf_counter() - start < 0.5
    assert registry.view(request)["expires_in_ms"] is None


def test_expires_in_counts_down(state: Any) -> None:
    now = [100.0]
    registry, _ = make_registry(state, clock=lambda: now[0])
    request = open_request(registry, timeout_s=30)
    assert registry.view(request)["expires_in_ms"] == 30_000
    now[0] += 12.5
    assert registry.view(request)["expires_in_ms"] == 17_500
    no_deadline = open_request(registry)
    assert registry.view(no_deadline)["expires_in_ms"] is None


def test_cancelled_async_task_resets_its_request(state: Any) -> None:
    registry, events = make_registry(state, interrupt=StandInInterrupt())
    request = open_request(registry)

    async def main() -> None:
        task = asyncio.create_task(registry.wait_async(request))
        await asyncio.sleep(0)  # let the task start waiting
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert (request.state, request.reason) == ("reset", "prompt_over")
    assert events[-1][1]["state"] == "reset"


# --------------------------------------------------------------------- races
def test_answer_cancel_interrupt_race_has_exactly_one_winner(state: Any) -> None:
    interrupt = StandInInterrupt()
    registry, _ = make_registry(state, interrupt=interrupt)
    wins = {"answer": 0, "cancel": 0, "interrupt": 0}
    for round_number in range(300):
        request = open_request(registry)
        barrier = threading.Barrier(3)
        results: dict[str, str] = {}

        def racer(
            name: str, move: Any, barrier: threading.Barrier = barrier, results: dict[str, str] = results
        ) -> None:
            barrier.wait()
            try:
                outcome = move()
                results[name] = "won" if outcome not in (0, False) else "lost"
            except state.NotWaiting:
                results[name] = "lost"

        threads = [
            threading.Thread(
                target=racer, args=("answer", lambda request=request, n=round_number: registry.answer(request.id, n))
            ),
            threading.Thread(target=racer, args=("cancel", lambda request=request: registry.cancel(request.id))),
            threading.Thread(target=racer, args=("interrupt", registry.interrupt_waiting)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [name for name, result in results.items() if result == "won"]
        assert len(winners) == 1, results
        outcome = registry.wait(request)
        expected = {"answer": "answer", "cancel": "user_cancel", "interrupt": "interrupt"}[winners[0]]
        assert outcome.reason == expected
        if winners[0] == "answer":
            assert outcome.value == round_number
        wins[winners[0]] += 1
    assert registry.waiting_count() == 0
    assert sum(wins.values()) == 300


def test_no_thread_or_request_leaks(state: Any) -> None:
    interrupt = StandInInterrupt()
    registry, _ = make_registry(state, interrupt=interrupt, history=16)
    gc.collect()
    threads_before = thread_names()
    for index in range(200):
        request = open_request(registry, prompt=f"p{index}")
        with concurrent.futures.ThreadPoolExecutor(1) as worker:
            future = worker.submit(asyncio.run, registry.wait_async(request))
            if index % 2:
                registry.answer(request.id, index)
            else:
                registry.cancel(request.id)
            future.result(timeout=2)
    assert registry.waiting_count() == 0
    assert len(registry._ended) == 16
    assert thread_names() == threads_before


class RecordingObserver:
    """An observer that checks, when told, that the waiter was already woken."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.opened: list[dict] = []
        self.ended: list[dict] = []
        self.future_done_when_told: list[bool] = []
        self.requests: dict[str, Any] = {}

    def request_opened(self, view: dict) -> None:
        self.opened.append(view)

    def request_ended(self, record: dict) -> None:
        self.ended.append(record)
        self.future_done_when_told.append(self.requests[record["id"]].future.done())


class BrokenObserver:
    def request_opened(self, view: dict) -> None:
        raise RuntimeError("observer bug")

    def request_ended(self, record: dict) -> None:
        raise RuntimeError("observer bug")


def test_every_move_tells_observers_who_made_it_after_waking_the_waiter(state: Any) -> None:
    observer = RecordingObserver(state)
    registry, events = make_registry(state, observers=[BrokenObserver(), observer])  # a broken one changes nothing
    moves = [
        (lambda r: registry.answer(r.id, 6, by=state.Provenance("inbox", client_id="c")), "inbox", "client"),
        (lambda r: registry.cancel(r.id, by=state.Provenance("cli")), "cli", "client"),
        (lambda r: registry.answer(r.id, 6), "api", "client"),
        (lambda r: registry.expire(r.id), "timeout", "server"),
        (lambda r: registry.reset(r.id), "server", "server"),
        (lambda r: registry.interrupt_waiting(), "interrupt", "server"),
    ]
    for n, (move, surface, source) in enumerate(moves):
        request = open_request(registry, node_id=str(n))
        observer.requests[request.id] = request
        # The view every browser got when it opened (its waited_ms is of that moment).
        assert observer.opened[-1] == next(data for _, data in events if data["id"] == request.id)
        assert registry.history_log.find(request.id) is None  # no record while it waits
        move(request)
        record = observer.ended[-1]
        # One record, made once at the end: the log's, the node's and the observers' are the same.
        assert record == registry.history_log.find(request.id).as_json() == request.future.result(0).record
        assert (record["by"]["surface"], record["by"]["source"]) == (surface, source)
    assert observer.future_done_when_told == [True] * len(moves)
    # The record's waited time is the registry clock's, fixed when the request ended.
    assert all(record["waited_ms"] >= 0 for record in observer.ended)


def test_a_refused_answer_tells_no_observer(state: Any) -> None:
    observer = RecordingObserver(state)
    registry, _ = make_registry(state, observers=[observer])
    request = registry.open(KIND, prompt_id="p", node_id="1", validate=lambda v: int(v))
    with pytest.raises(state.InvalidAnswer):
        registry.answer(request.id, "x")
    assert observer.ended == [] and request.state == "waiting"
    observer.requests[request.id] = request
    registry.answer(request.id, "5")
    assert observer.ended[-1]["answer"] == 5


# ------------------------------------------------------- times, outcomes, history
class Clocks:
    """A monotonic and a wall clock that move only when told."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = 1_764_165_792.0  # 2025-11-26T14:03:12Z

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def clocked_registry(state: Any, **kwargs: Any) -> tuple[Any, Clocks]:
    clocks = Clocks()
    registry = state.RequestRegistry(clock=lambda: clocks.mono, wall_clock=lambda: clocks.wall, **kwargs)
    return registry, clocks


def test_views_say_when_a_request_opened_and_ended_and_how_long_it_waited(state: Any) -> None:
    registry, clocks = clocked_registry(state)
    request = open_request(registry, summary="21 × 2")
    view = registry.view(request)
    assert view["opened_at"] == "2025-11-26T14:03:12.000Z"
    assert view["ended_at"] is None and view["outcome"] is None
    assert view["waited_ms"] == 0 and view["summary"] == "21 × 2"
    clocks.advance(2.5)
    assert registry.view(request)["waited_ms"] == 2500  # grows while it waits
    registry.answer(request.id, 6)
    clocks.advance(60)
    ended = registry.view(request)
    assert ended["ended_at"] == "2025-11-26T14:03:14.500Z"
    assert ended["waited_ms"] == 2500  # and stops when it ends
    assert ended["outcome"] == "answered" and ended["payload"] is None
    assert registry.wall_time() == "2025-11-26T14:04:14.500Z"


@pytest.mark.parametrize(
    ("end", "outcome"),
    [
        (lambda registry, request: registry.answer(request.id, 1), "answered"),
        (lambda registry, request: registry.cancel(request.id), "cancelled"),
        (lambda registry, request: registry.expire(request.id), "timed_out"),
        (lambda registry, request: registry.interrupt_waiting(), "interrupted"),
        (lambda registry, request: registry.reset(request.id), "reset"),
        (lambda registry, request: open_request(registry, prompt="a newer prompt"), "reset"),
    ],
)
def test_every_way_of_ending_is_recorded_with_its_outcome(state: Any, end: Any, outcome: str) -> None:
    registry, events = make_registry(state)
    request = open_request(registry)
    end(registry, request)
    [entry] = [e for e in registry.history_log.recent(10) if e.request_id == request.id]
    assert entry.view["outcome"] == outcome and entry.view["state"] == request.state
    assert entry.view["ended_at"] is not None
    # The log holds the very view that was broadcast when the request ended.
    assert entry.view == [data for _, data in events if data["id"] == request.id][-1]
    assert entry.answer == (1 if outcome == "answered" else None)
    assert registry.history_log.find(request.id) is entry


def test_history_keeps_answers_as_json_and_the_newest_first(state: Any) -> None:
    registry, _ = make_registry(state)
    picker = registry.open("image-picker", prompt_id="p1", node_id="2", validate=tuple)
    registry.answer(picker.id, [3, 0])
    doubler = open_request(registry)
    registry.cancel(doubler.id)
    newest, oldest = registry.history_log.recent(5)
    assert newest.request_id == doubler.id and oldest.request_id == picker.id
    assert oldest.answer == [3, 0]  # the validator's tuple, as JSON
    assert oldest.as_json()["answer"] == [3, 0] and oldest.as_json()["id"] == picker.id


def test_a_broken_history_log_does_not_break_a_move(state: Any) -> None:
    class BrokenLog:
        def record(self, entry: Any) -> None:
            raise OSError("disk full")

        def recent(self, limit: int) -> list[Any]:
            return []

        def find(self, request_id: str) -> Any:
            return None

    events: list[Any] = []
    registry = state.RequestRegistry(history_log=BrokenLog(), notify=lambda *event: events.append(event))
    request = open_request(registry)
    registry.answer(request.id, 2)
    assert request.state == "answered" and request.future.result(timeout=0).value == 2
    assert events[-1][1]["state"] == "answered"


def test_a_log_of_its_own_gets_every_end_in_order(state: Any) -> None:
    # The seam the audit log plugs into (record/recent/find); it keeps its newest in memory.
    log = submodule("server.audit").AuditLog(None, memory=3)
    registry = state.RequestRegistry(history_log=log)
    requests = [open_request(registry, node_id=str(n)) for n in range(5)]
    for request in requests:
        registry.cancel(request.id)
    assert [entry.request_id for entry in log.recent(10)] == [r.id for r in reversed(requests[-3:])]
    assert registry.history_log is log


# ----------------------------------------- a user cancel ends the node's other requests
def test_a_user_cancel_ends_every_waiting_request_of_that_prompt_and_node(state: Any) -> None:
    # A node fed a list asks once per item, all at once (ComfyUI runs the items' coroutines
    # concurrently); Cancel run in one item's dialog ends the others too.
    registry, _ = make_registry(state)
    list_item = submodule("server.comfy").ListItem
    # The first item may not know it is one (when the list's length cannot be told).
    items = [
        registry.open(KIND, prompt_id="p1", node_id="7", payload={}, list_item=list_item(n, 3) if n else None)
        for n in range(3)
    ]
    other_node = registry.open(KIND, prompt_id="p1", node_id="8", payload={})
    by = state.Provenance(surface="inbox")
    registry.cancel(items[1].id, by=by)
    for item in items:
        outcome = item.future.result(timeout=0)
        assert (outcome.state, outcome.reason) == ("cancelled", "user_cancel")
        assert outcome.record["by"]["surface"] == "inbox"  # the person's cancel ended it
    assert other_node.state == "waiting"  # another node of the run is not this one
    # An item that asks after the cancel (its images took longer) is ended at once.
    late = registry.open(KIND, prompt_id="p1", node_id="7", payload={})
    assert late.state == "cancelled" and late.future.result(timeout=0).reason == "user_cancel"
    assert registry.pending() == [registry.view(other_node)]
    # A timeout or an interrupt is not a person's cancel of the node: nothing else ends.
    first, second = (
        registry.open(KIND, prompt_id="p1", node_id="9", payload={}, list_item=list_item(n, 2)) for n in range(2)
    )
    registry.cancel(first.id, reason="timeout")
    assert second.state == "waiting"
    registry.cancel(second.id)
    # Requests that are no list's items (an API client's, a test's) stay apart.
    one, two = (registry.open(KIND, prompt_id="p1", node_id="10", payload={}) for _ in range(2))
    registry.cancel(one.id)
    assert two.state == "waiting"
    registry.cancel(two.id)
    # The next prompt asks again at that node.
    again = registry.open(KIND, prompt_id="p2", node_id="7", payload={})
    assert again.state == "waiting"
    registry.cancel(again.id)
