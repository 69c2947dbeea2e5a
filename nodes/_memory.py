"""The memory of "the last answer" a node was given, for modes that repeat it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class NodeMemory(Generic[T]):
    """The last thing each node remembered, keyed by the node's id ("12", or "12:5" inside a
    subgraph), newest kept when the bound is reached.

    One instance belongs to each bound node class (``HitlNode.MEMORY_FACTORY``), so two hosts
    (or two test registries) never share memories, and no route can reach it. It is keyed the
    way the picker's and the value prompt's memories are today (by node id), and is generic so
    that every node can share this one implementation and one key.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, T] = OrderedDict()

    def __repr__(self) -> str:
        with self._lock:
            return f"<NodeMemory nodes={len(self._entries)} capacity={self._capacity}>"

    def remember(self, node_id: str | None, value: T) -> None:
        if node_id is None:
            return
        with self._lock:
            self._entries[node_id] = value
            self._entries.move_to_end(node_id)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def recall(self, node_id: str | None) -> T | None:
        if node_id is None:
            return None
        with self._lock:
            return self._entries.get(node_id)

    def forget(self, node_id: str) -> None:
        with self._lock:
            self._entries.pop(node_id, None)
