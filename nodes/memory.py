"""The memory of "last answer": what a person answered to one node of one workflow.

"use last answer" (value prompt) and "repeat last selection" (image picker) are one concept
and live here, once: a bounded store keyed by :class:`MemoryKey`, the pair (workflow
identity, node id).

**What identifies a workflow.** The frontend gives every workflow an id (``workflow.id`` in
the prompt's ``extra_pnginfo``), but not always a real one: frontend 1.27.10 keeps the nil
UUID of a file that carries it, and a workflow loaded in API format, or queued by an API
client, has the nil id or none at all. A nil or missing id is no identity (two unrelated
workflows would share it), so then the identity is a fingerprint of the graph's structure:
its node ids, their class types and the links between them. Widget values are left out on
purpose: a person who edits a prompt text or gets a new seed and runs again is still in
"the same workflow"; a workflow with other nodes, or the same nodes wired differently, is
another one.

**Where the identity comes from.** ComfyUI calls a node's ``IS_CHANGED`` without the prompt
or the workflow (only constant inputs), and caches a node whose ``IS_CHANGED`` value and
inputs are unchanged, across prompts. Two workflows whose node #1 has the same settings would
then share node #1's cached output, whatever the memory says. So the pack registers an
on-prompt handler (:func:`stamp_prompt`) that writes each prompt's identity into a hidden
input of our memory nodes when the prompt is queued: ``IS_CHANGED`` and the node both read
it, and ComfyUI's cache keys (which include every input) differ between workflows. Without
the stamp (a host that never calls the handler) the node works the identity out itself from
its hidden ``PROMPT`` and ``EXTRA_PNGINFO`` inputs, and ``IS_CHANGED`` (which cannot) makes
the node run and decide.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..server.protocol import NIL_WORKFLOW_ID

log = logging.getLogger(__name__)

__all__ = [
    "NIL_WORKFLOW_ID",
    "LastAnswerMemory",
    "MemoryKey",
    "Remembered",
    "memory_key",
    "stamp_prompt",
    "workflow_identity",
]
#: The hidden input our on-prompt handler fills with the prompt's workflow identity.
IDENTITY_INPUT = "hitl_workflow"
#: Its type in ``INPUT_TYPES``: not one ComfyUI fills in, so only our stamp sets it.
IDENTITY_TYPE = "HITL_WORKFLOW"
#: How many (workflow, node) answers a memory keeps before forgetting the oldest.
DEFAULT_CAPACITY = 1024

T = TypeVar("T")


def real_workflow_id(extra_pnginfo: Any) -> str | None:
    """The workflow's id from the prompt's ``extra_pnginfo``, or None when it has none that
    identifies it (missing, empty, not text, or the nil UUID)."""
    workflow = extra_pnginfo.get("workflow") if isinstance(extra_pnginfo, dict) else None
    value = workflow.get("id") if isinstance(workflow, dict) else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or value == NIL_WORKFLOW_ID or not value.strip("0-"):
        return None
    return value


def _is_link(value: Any) -> bool:
    """A prompt input that is a link: ``[source node id, output slot]``."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], (str, int))
        and not isinstance(value[0], bool)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
    )


def graph_fingerprint(prompt: Any) -> str | None:
    """A short hash of an API-format prompt's structure: node ids, class types and links.

    Widget values (texts, seeds, sizes) and our own stamp are not part of it. None for a
    prompt that is not a non-empty dict of nodes.
    """
    if not isinstance(prompt, dict) or not prompt:
        return None
    structure: list[Any] = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict):
            continue
        inputs = node.get("inputs")
        links = []
        if isinstance(inputs, dict):
            for name, value in inputs.items():
                if name != IDENTITY_INPUT and _is_link(value):
                    links.append([str(name), str(value[0]), int(value[1])])
        structure.append([str(node_id), str(node.get("class_type")), sorted(links)])
    if not structure:
        return None
    structure.sort()
    digest = hashlib.sha256(json.dumps(structure, separators=(",", ":")).encode("utf-8"))
    return digest.hexdigest()[:32]


def workflow_identity(prompt: Any = None, extra_pnginfo: Any = None) -> str | None:
    """What identifies the workflow a prompt came from: its real id when it has one,
    otherwise the fingerprint of its graph; None when neither is known."""
    workflow_id = real_workflow_id(extra_pnginfo)
    if workflow_id is not None:
        return f"id:{workflow_id}"
    fingerprint = graph_fingerprint(prompt)
    return None if fingerprint is None else f"graph:{fingerprint}"


def stamp_prompt(json_data: Any, node_types: Collection[str]) -> Any:
    """Write the prompt's workflow identity into the hidden input of every node of
    ``node_types`` in a ``POST /prompt`` body (ComfyUI's on-prompt handler contract: take the
    body, return it). Anything unexpected is left as it is: this must never stop a prompt."""
    try:
        prompt = json_data.get("prompt") if isinstance(json_data, dict) else None
        if not isinstance(prompt, dict):
            return json_data
        extra = json_data.get("extra_data")
        extra_pnginfo = extra.get("extra_pnginfo") if isinstance(extra, dict) else None
        identity = workflow_identity(prompt, extra_pnginfo)
        if identity is None:
            return json_data
        for node in prompt.values():
            if isinstance(node, dict) and node.get("class_type") in node_types and isinstance(node.get("inputs"), dict):
                node["inputs"][IDENTITY_INPUT] = identity
    except Exception:  # a prompt we cannot read is ComfyUI's to refuse, not ours
        log.exception("could not stamp the workflow identity on a prompt")
    return json_data


def prompt_stamper(node_types: Collection[str]) -> Callable[[Any], Any]:
    """An on-prompt handler for ``PromptServer.add_on_prompt_handler`` stamping ``node_types``."""
    types = frozenset(node_types)

    def stamp(json_data: Any) -> Any:
        return stamp_prompt(json_data, types)

    return stamp


@dataclass(frozen=True)
class MemoryKey:
    """One node of one workflow: the workflow's identity and the node's id ("12", or "12:5"
    inside a subgraph), and for a node fed a list, the item."""

    workflow: str
    node_id: str
    #: For a node fed a list, which item of how many ("1/3"); "" otherwise.
    item: str = ""


def item_key(item: Any) -> str:
    """A list item's part of its key: its index and the list's length ("1/3"), so a list of
    another length remembers nothing yet."""
    length = getattr(item, "length", None)
    return f"{getattr(item, 'index', 0)}/{'?' if length is None else length}"


def memory_key(node_id: Any, *, stamped: Any = None, prompt: Any = None, extra_pnginfo: Any = None) -> MemoryKey | None:
    """The key of a node's memory: the stamped identity if there is one, else the identity
    worked out from the prompt and workflow. None (no memory at all) when the node id or the
    workflow is unknown: an answer is never reused where it cannot be told apart."""
    if node_id is None:
        return None
    identity = stamped if isinstance(stamped, str) and stamped else workflow_identity(prompt, extra_pnginfo)
    if identity is None:
        return None
    return MemoryKey(identity, str(node_id))


@dataclass(frozen=True)
class Remembered:
    """An answer a person gave one node, as its question keeps it (``Question.remembered``):
    what kind of answer it is (``tag``: a node whose settings now ask for another kind does
    not take it), what is kept, and its fingerprint for ComfyUI's cache (``IS_CHANGED``)."""

    tag: str
    kept: Any
    fingerprint: str


class LastAnswerMemory(Generic[T]):
    """The last answer a person gave each (workflow, node), bounded: the least recently
    used entry goes first when ``capacity`` is reached. Thread-safe. Only answers a person
    gave belong here (a default used on timeout is not an answer): callers decide.

    One memory belongs to each bound node class (``HitlNode.bind``), so two hosts or two
    test registries never share answers, and no route can reach it.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._answers: OrderedDict[MemoryKey, T] = OrderedDict()

    def __repr__(self) -> str:
        with self._lock:
            return f"<LastAnswerMemory {len(self._answers)} of {self._capacity} answer(s)>"

    def __len__(self) -> int:
        with self._lock:
            return len(self._answers)

    def remember(self, key: MemoryKey | None, answer: T) -> None:
        if key is None:
            return
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self._capacity:
                self._answers.popitem(last=False)

    def recall(self, key: MemoryKey | None) -> T | None:
        if key is None:
            return None
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
            return answer

    def forget(self, key: MemoryKey | None) -> None:
        if key is None:
            return
        with self._lock:
            self._answers.pop(key, None)
