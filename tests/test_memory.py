"""The memory of "last answer" (_memory.py): what identifies a workflow, the on-prompt stamp,
and the bounded store every node that remembers shares."""

from __future__ import annotations

import copy
import inspect
import threading
from typing import Any

import pytest

from dev.harness.pack import load_pack, submodule

memory = submodule("nodes.memory")
nodes = submodule("nodes")

NIL = "00000000-0000-0000-0000-000000000000"


def value_prompt_example(**changes: Any) -> dict[str, Any]:
    """The value-prompt example's graph in API form: prompt -> EmptyImage.width -> preview."""
    prompt = {
        "1": {
            "class_type": "HitlValuePrompt",
            "inputs": {"value_type": "INT", "default": "512", "mode": "use last answer"},
        },
        "2": {"class_type": "EmptyImage", "inputs": {"width": ["1", 0], "height": 256, "batch_size": 1, "color": 0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    for node_id, inputs in changes.items():
        prompt[node_id]["inputs"].update(inputs)
    return prompt


def another_workflow() -> dict[str, Any]:
    """Another workflow whose value prompt is node #1 with the same settings."""
    prompt = value_prompt_example()
    prompt["2"] = {"class_type": "ImageScale", "inputs": {"width": ["1", 0], "image": ["4", 0]}}
    prompt["4"] = {"class_type": "LoadImage", "inputs": {"image": "cat.png"}}
    return prompt


@pytest.mark.parametrize("value", [NIL, "", "   ", None, 7, "0000", "00000000-0000-0000-0000-00000000"])
def test_a_nil_or_missing_id_is_no_identity(value: Any) -> None:
    assert memory.real_workflow_id({"workflow": {"id": value}}) is None
    assert memory.real_workflow_id(None) is None and memory.real_workflow_id({"workflow": []}) is None


def test_a_real_id_is_the_identity() -> None:
    extra = {"workflow": {"id": "6f1c2a4e-8d0b-4b77-9a51-2f6e3c9d1a07"}}
    assert memory.workflow_identity(value_prompt_example(), extra) == "id:6f1c2a4e-8d0b-4b77-9a51-2f6e3c9d1a07"
    # The id wins over the graph: a workflow keeps its memory while a person edits it.
    assert memory.workflow_identity(another_workflow(), extra) == memory.workflow_identity(
        value_prompt_example(), extra
    )


def test_without_an_id_two_graphs_are_told_apart_by_structure() -> None:
    nil = {"workflow": {"id": NIL}}
    first = memory.workflow_identity(value_prompt_example(), nil)
    assert first is not None and first.startswith("graph:")
    assert memory.workflow_identity(another_workflow(), nil) != first
    assert memory.workflow_identity(value_prompt_example(), None) == first  # API clients send no workflow
    # Rewired: the same nodes, linked otherwise.
    rewired = value_prompt_example()
    rewired["2"]["inputs"]["height"] = ["1", 0]
    del rewired["2"]["inputs"]["width"]
    assert memory.workflow_identity(rewired, nil) != first
    # Another class behind the same id.
    renamed = value_prompt_example()
    renamed["3"]["class_type"] = "SaveImage"
    assert memory.workflow_identity(renamed, nil) != first


def test_widget_values_do_not_change_the_workflow() -> None:
    """A new seed, another prompt text, another size: still "the same workflow"."""
    base = memory.workflow_identity(value_prompt_example(), None)
    tweaked = value_prompt_example(**{"1": {"default": "640"}, "2": {"height": 512, "color": 255}})
    assert memory.workflow_identity(tweaked, None) == base
    reordered = dict(reversed(list(value_prompt_example().items())))
    assert memory.workflow_identity(reordered, None) == base
    stamped = value_prompt_example(**{"1": {memory.IDENTITY_INPUT: "graph:old"}})
    assert memory.workflow_identity(stamped, None) == base  # our own stamp is not structure


@pytest.mark.parametrize("prompt", [None, {}, [], "text", {"1": "not a node"}])
def test_no_prompt_and_no_id_is_no_identity(prompt: Any) -> None:
    assert memory.workflow_identity(prompt, {"workflow": {"id": NIL}}) is None
    assert memory.memory_key("1", prompt=prompt) is None  # so nothing is remembered or reused


def test_the_stamp_marks_only_memory_nodes_and_never_raises() -> None:
    body = {"prompt": value_prompt_example(), "extra_data": {"extra_pnginfo": {"workflow": {"id": NIL}}}}
    stamped = memory.stamp_prompt(copy.deepcopy(body), {"HitlValuePrompt"})
    identity = stamped["prompt"]["1"]["inputs"][memory.IDENTITY_INPUT]
    assert identity == memory.workflow_identity(body["prompt"], None)
    assert memory.IDENTITY_INPUT not in stamped["prompt"]["2"]["inputs"]
    # Stamping again (a prompt re-queued from the history) gives the same identity.
    again = memory.stamp_prompt(copy.deepcopy(stamped), {"HitlValuePrompt"})
    assert again["prompt"]["1"]["inputs"][memory.IDENTITY_INPUT] == identity
    for hostile in (None, [], "x", {"prompt": None}, {"prompt": {"1": None}}, {"prompt": {"1": {"inputs": 3}}}):
        assert memory.stamp_prompt(hostile, {"HitlValuePrompt"}) is hostile


def test_the_stamper_covers_every_node_with_a_memory() -> None:
    assert nodes.memory_node_types() == {"HitlValuePrompt", "HitlImagePicker", "HitlForm", "HitlMaskPainter"}
    stamp = memory.prompt_stamper(nodes.memory_node_types())
    body = stamp({"prompt": {"5": {"class_type": "HitlImagePicker", "inputs": {}}}})
    assert body["prompt"]["5"]["inputs"][memory.IDENTITY_INPUT].startswith("graph:")


def test_memory_nodes_declare_the_stamped_input_by_its_name() -> None:
    """The stamp reaches a node only if its hidden input and its parameter bear the name."""
    load_pack()
    for name in nodes.memory_node_types():
        node = nodes.NODE_CLASSES[name]
        assert node.INPUT_TYPES()["hidden"][memory.IDENTITY_INPUT] == memory.IDENTITY_TYPE
        for function in (getattr(node, node.FUNCTION), node.IS_CHANGED):
            parameters = inspect.signature(function).parameters
            takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
            assert memory.IDENTITY_INPUT in parameters or takes_any, (name, function)
    # A node's function takes its hidden inputs as keywords, read by Hidden.of by their names.
    stamped = submodule("nodes.base").Hidden.of({memory.IDENTITY_INPUT: "id:x", "unique_id": "5"})
    assert (stamped.hitl_workflow, stamped.unique_id) == ("id:x", "5")
    with pytest.raises(TypeError, match="hitl_workflw"):
        submodule("nodes.base").Hidden.of({"hitl_workflw": "id:x"})  # a misspelt input is an error


def test_keys_need_a_node_and_a_workflow() -> None:
    assert memory.memory_key(None, stamped="id:a") is None
    assert memory.memory_key("12:5", stamped="id:a") == memory.MemoryKey("id:a", "12:5")
    assert memory.memory_key(3, prompt=value_prompt_example()).node_id == "3"


def test_memory_is_bounded_least_recently_used_first() -> None:
    store = memory.LastAnswerMemory(capacity=3)
    keys = [memory.MemoryKey("id:wf", node) for node in "abcd"]
    for key in keys[:3]:
        store.remember(key, 1)
    assert store.recall(keys[0]) == 1  # "a" was used: "b" is now the oldest
    store.remember(keys[3], 4)
    assert store.recall(keys[1]) is None and store.recall(keys[0]) == 1 and len(store) == 3
    store.forget(keys[3])
    assert store.recall(keys[3]) is None and "2 of 3" in repr(store)
    store.remember(None, 5)  # no key, no memory
    assert store.recall(None) is None and len(store) == 2


def test_memory_is_thread_safe() -> None:
    store = memory.LastAnswerMemory(capacity=50)

    def work(offset: int) -> None:
        for index in range(2000):
            key = memory.MemoryKey("id:wf", str((index + offset) % 80))
            store.remember(key, index)
            store.recall(key)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 50
