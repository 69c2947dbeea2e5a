"""Races, 1,000 rounds each, through real HTTP and real node runs: two answers at once,
answer vs cancel, answer vs interrupt, answer vs timeout. Exactly one wins each round, the
loser gets a clear 409, and the node's output matches the winner."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dev.harness.host import HarnessHost, HarnessServer

ROUNDS = 1000


class Client:
    """A keep-alive HTTP client of the harness server (one per racing thread)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.connection.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        return response.status, json.loads(response.read())

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def arena() -> Iterator[tuple[HarnessHost, Client, Client]]:
    host = HarnessHost()
    server = HarnessServer(host)
    server.start()
    one, two = Client(server.port), Client(server.port)
    yield host, one, two
    one.close()
    two.close()
    server.stop()
    host.close()


def race(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run both at the same instant (a barrier releases them together)."""
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(slot: int, move: Callable[[], Any]) -> None:
        barrier.wait()
        results[slot] = move()

    threads = [threading.Thread(target=run, args=(0, first)), threading.Thread(target=run, args=(1, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results[0], results[1]


def start_wait(host: HarnessHost, value: int, timeout: float = 0) -> tuple[Any, dict[str, Any]]:
    run = host.submit("HitlIntegerDoubler", {"value": value, "ask_first": True, "timeout_seconds": timeout})
    [view] = host.wait_waiting(run)
    return run, view


def answer_path(view: dict[str, Any]) -> str:
    return f"/hitl/requests/{view['id']}/answer"


def assert_loser_409(response: tuple[int, dict[str, Any]]) -> None:
    status, body = response
    assert status == 409 and body["error"]["code"] == "not_waiting" and body["error"]["message"]


def test_two_clients_answer_at_the_same_instant(arena: Any) -> None:
    host, one, two = arena
    wins: Counter[str] = Counter()
    for round_number in range(ROUNDS):
        run, view = start_wait(host, round_number)
        first, second = race(
            lambda view=view, n=round_number: one.post(answer_path(view), {"value": 2 * n}),
            # Both send the double (the only answer a doubler takes): the statuses tell who won.
            lambda view=view, n=round_number: two.post(answer_path(view), {"value": 2 * n}),
        )
        statuses = sorted([first[0], second[0]])
        assert statuses == [200, 409], (first, second)
        winner_value = 2 * round_number
        assert_loser_409(second if first[0] == 200 else first)
        run.wait()
        assert run.status == "success" and run.outputs[0]["result"] == (winner_value,)
        wins["first" if first[0] == 200 else "second"] += 1
    assert sum(wins.values()) == ROUNDS and host.registry.waiting_count() == 0


def test_answer_races_cancel(arena: Any) -> None:
    host, one, two = arena
    outcomes: Counter[str] = Counter()
    for round_number in range(ROUNDS):
        run, view = start_wait(host, round_number)
        answered, cancelled = race(
            lambda view=view, n=round_number: one.post(answer_path(view), {"value": 2 * n}),
            lambda view=view: two.post(f"/hitl/requests/{view['id']}/cancel", {}),
        )
        run.wait()
        assert sorted([answered[0], cancelled[0]]) == [200, 409], (answered, cancelled)
        if answered[0] == 200:
            assert_loser_409(cancelled)
            assert run.status == "success" and run.outputs[0]["result"] == (2 * round_number,)
            outcomes["answer"] += 1
        else:
            assert_loser_409(answered)
            assert run.status == "interrupted"
            outcomes["cancel"] += 1
    assert sum(outcomes.values()) == ROUNDS


def test_answer_races_interrupt(arena: Any) -> None:
    host, one, _ = arena
    outcomes: Counter[str] = Counter()
    for round_number in range(ROUNDS):
        run, view = start_wait(host, round_number)
        answered, _ = race(
            lambda view=view, n=round_number: one.post(answer_path(view), {"value": 2 * n}), host.interrupt.raise_flag
        )
        run.wait()
        if answered[0] == 200:
            assert run.status == "success" and run.outputs[0]["result"] == (2 * round_number,)
            assert host.registry.get(view["id"]).reason == "answer"
            outcomes["answer"] += 1
        else:
            assert_loser_409(answered)
            assert run.status == "interrupted"
            assert host.registry.get(view["id"]).reason == "interrupt"
            outcomes["interrupt"] += 1
    assert sum(outcomes.values()) == ROUNDS


def test_answer_races_timeout(arena: Any) -> None:
    host, one, _ = arena
    outcomes: Counter[str] = Counter()
    for round_number in range(ROUNDS):
        run, view = start_wait(host, round_number, timeout=0.004)
        # Aim the answer just before the deadline, so either side may win: this delay is
        # the race itself, not a wait for readiness.
        time.sleep(max(0.0, view["expires_in_ms"] / 1000 - 0.001))
        status, body = one.post(answer_path(view), {"value": 2 * round_number})
        run.wait()
        if status == 200:
            assert run.status == "success" and run.outputs[0]["result"] == (2 * round_number,)
            outcomes["answer"] += 1
        else:
            assert_loser_409((status, body))
            assert run.status == "error" and "no browser or API client answered" in run.error
            assert host.registry.get(view["id"]).reason == "timeout"
            outcomes["timeout"] += 1
    assert sum(outcomes.values()) == ROUNDS
