"""The node memory of "the last answer": keyed by node id, bounded, newest kept."""

from __future__ import annotations

from harness.pack import submodule

memory_module = submodule("nodes._memory")


def test_remember_recall_forget_and_the_bound() -> None:
    memory = memory_module.NodeMemory(capacity=2)
    memory.remember(None, "nothing")  # no node id: nothing to key it by
    assert memory.recall(None) is None
    memory.remember("12", "a")
    memory.remember("12:5", "b")  # a node inside a subgraph is a node of its own
    assert (memory.recall("12"), memory.recall("12:5")) == ("a", "b")
    memory.remember("12", "c")  # newest answer wins, and is now the most recent
    memory.remember("7", "d")  # over the bound: the least recent ("12:5") goes
    assert memory.recall("12:5") is None and memory.recall("12") == "c" and memory.recall("7") == "d"
    memory.forget("12")
    assert memory.recall("12") is None
    assert repr(memory) == "<NodeMemory nodes=1 capacity=2>"
