"""What every node of ours shares: binding to a registry, and the one node flow.

:meth:`HitlNode.answer` is the flow every asking node runs: its ``mode`` decides whether to
ask, to reuse the node's last answer ("use last answer", "repeat last selection"…) or to pass
a value on without asking; asking opens a request from the node's :class:`~..questions.base.Question`
and waits; an answer is remembered; a timeout gives a fallback or ends the run. A node
declares its modes and timeout actions (:class:`Mode`, :class:`TimeoutAction`) and gets
``IS_CHANGED`` from them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, NoReturn

from ..images.batches import question_image_fields, question_images
from ..questions.base import Question
from ..server import comfy as _comfy
from ..server import protocol as P
from ..server.describe import summarize
from ..server.history import for_image_metadata
from ..state import Outcome, RequestRegistry, Validator
from . import memory as _memory

log = logging.getLogger(__name__)

#: The node menu category of every node in the pack.
CATEGORY = "human-in-the-loop"

#: ComfyUI's hidden inputs we read: the node's prompt key ("12" or "12:5" in a subgraph)
#: and the workflow, for the node's title.
HIDDEN_INPUTS = {"unique_id": "UNIQUE_ID", "extra_pnginfo": "EXTRA_PNGINFO"}
#: A node with a memory of "last answer" also reads the workflow identity our on-prompt
#: handler stamps on it, and the API prompt, to work the identity out when there is no stamp
#: (see nodes/memory.py).
MEMORY_HIDDEN_INPUTS = {**HIDDEN_INPUTS, "api_prompt": "PROMPT", _memory.IDENTITY_INPUT: _memory.IDENTITY_TYPE}

#: The longest wait a node's ``timeout_seconds`` widget allows (a week).
MAX_TIMEOUT_S = 7 * 24 * 3600


def node_label(extra_pnginfo: Any, unique_id: str | None, fallback: str, item: _comfy.ListItem | None = None) -> str:
    """The node's title as the user sees it, found in the workflow; ``fallback`` if not.

    Inside a subgraph the id is a path ("6:2", "6:2:5"): each outer node's title (else its
    subgraph's name) comes first, as context, then the inner node's title from the
    subgraph's definition (``workflow.definitions.subgraphs[].nodes[]``): "Copy B › Refiner
    steps". A node without a title keeps ``fallback`` and its id. A node run for one item of
    a list says which: "Refiner steps (item 2 of 3)"."""
    label = _titled(extra_pnginfo, unique_id, fallback)
    return f"{label} ({item.words()})" if item is not None else label


def _titled(extra_pnginfo: Any, unique_id: str | None, fallback: str) -> str:
    untitled = fallback if unique_id is None else f"{fallback} #{unique_id}"
    workflow = extra_pnginfo.get("workflow") if isinstance(extra_pnginfo, dict) else None
    if unique_id is None or not isinstance(workflow, dict):
        return untitled
    definitions = workflow.get("definitions")
    listed = definitions.get("subgraphs") if isinstance(definitions, dict) else None
    subgraphs = {
        str(graph.get("id")): graph for graph in (listed if isinstance(listed, list) else []) if isinstance(graph, dict)
    }
    nodes = workflow.get("nodes")
    path = str(unique_id).split(":")
    context: list[str] = []
    for depth, part in enumerate(path):
        node = _node_with_id(nodes, part)
        if node is None:
            break
        # No title means the default one, which ComfyUI does not save: use ours then.
        title = node.get("title")
        title = title if isinstance(title, str) and title.strip() else None
        if depth == len(path) - 1:
            return " › ".join([*context, title or untitled])
        graph = subgraphs.get(str(node.get("type")))
        name = graph.get("name") if graph is not None else None
        context.append(title or (name if isinstance(name, str) and name.strip() else f"#{part}"))
        nodes = graph.get("nodes") if graph is not None else None
    return " › ".join([*context, untitled])


def _node_with_id(nodes: Any, node_id: str) -> dict[str, Any] | None:
    if not isinstance(nodes, list):
        return None
    return next((node for node in nodes if isinstance(node, dict) and str(node.get("id")) == node_id), None)


def workflow_id(extra_pnginfo: Any) -> str | None:
    """The id the frontend gave the workflow (lets a tab tell whether it is its own); None
    when it has none that identifies it (the nil UUID is not an identity)."""
    return _memory.real_workflow_id(extra_pnginfo)


#: The node's UI output key that carries the audit record (so ComfyUI's history has it).
AUDIT_UI_KEY = "hitl_audit"
#: The key of the workflow's extra PNG info that carries the records of this run's answers,
#: so a SaveImage after the node writes them into the image's metadata.
AUDIT_IMAGE_KEY = "hitl_audit"


def audit_ui(outcome: Outcome | None, extra_pnginfo: Any) -> dict[str, list[Any]]:
    """The audit record of ``outcome`` as a UI output part (empty when nobody was asked).

    A copy without the client's address, user-agent, client id and user also goes into the
    prompt's extra PNG info, which ComfyUI hands to every node of the prompt: an image saved
    after this node then carries it in its metadata (unless ComfyUI runs with
    ``--disable-metadata``).
    """
    if outcome is None or outcome.record is None:
        return {}
    if isinstance(extra_pnginfo, dict):
        existing = extra_pnginfo.get(AUDIT_IMAGE_KEY)
        records = existing if isinstance(existing, list) else []
        extra_pnginfo[AUDIT_IMAGE_KEY] = [*records, for_image_metadata(outcome.record)]
    return {AUDIT_UI_KEY: [outcome.record]}


def check_option(name: str, value: str, options: Sequence[str]) -> None:
    """Refuse a combo widget's value that is not one of its options (an API prompt, or a
    workflow saved by another version, can carry anything), saying which ones there are."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(options)}; got {value!r}")


def end_run_interrupted(outcome: Outcome) -> NoReturn:
    """End the run as *interrupted* (not as an error), the way ComfyUI's own Cancel does."""
    raise _comfy.interrupt_exception()(f"human-in-the-loop request ended: {outcome.reason}")


#: What a mode does.
ASK = "ask"
RECALL = "recall"
PASS = "pass"  # noqa: S105 (what a mode does, not a password)

#: How an answer came about (a node's ``ui.source``, shown in the history).
SOURCE_PERSON = "person"
SOURCE_LAST_ANSWER = "last answer"
SOURCE_DEFAULT = "default"
SOURCE_TIMEOUT = "timeout default"

#: What a mode or a timeout action gives when it gives the question's own default.
GIVES_DEFAULT = "default"


@dataclass(frozen=True)
class Mode:
    """One value of a node's ``mode`` widget (``server/protocol.py`` ``MODE_*``) and what it
    does: ask, recall the last answer (asking while there is none that fits), or pass a value
    on without asking: the question's default, or a value the node names in ``gives``.
    ``source`` is the word the node's history shows for an answer that came this way.
    ``depends_on`` names inputs a passed value depends on beyond the mode (the picker's
    preset), so ``IS_CHANGED`` changes with them."""

    value: str
    does: str
    source: str = ""
    gives: str = GIVES_DEFAULT
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimeoutAction:
    """One value of a node's ``on_timeout`` widget (``ON_TIMEOUT_*``): what the run does when
    nobody answered in time. ``gives`` names the fallback (the question's default, or a value
    the node names); None ends the run as interrupted. Never remembered as an answer."""

    value: str
    gives: str | None
    source: str = SOURCE_TIMEOUT


#: Every node's first mode and last timeout action.
ALWAYS_ASK = Mode(P.MODE_ALWAYS_ASK, ASK)
CANCEL_RUN = TimeoutAction(P.ON_TIMEOUT_CANCEL_RUN, None)


def ask_recall_or_default(recall: str, pass_default: str) -> tuple[Mode, ...]:
    """The modes of a question with a default (the value prompt, the form): always ask; reuse
    the last answer (``recall``); never ask and give the default (``pass_default``)."""
    return (ALWAYS_ASK, Mode(recall, RECALL, SOURCE_LAST_ANSWER), Mode(pass_default, PASS, SOURCE_DEFAULT))


def default_or_cancel(use_default: str) -> tuple[TimeoutAction, ...]:
    """The timeout actions of a question with a default: give it, or cancel the run."""
    return (TimeoutAction(use_default, GIVES_DEFAULT), CANCEL_RUN)


@dataclass(frozen=True)
class Hidden:
    """ComfyUI's hidden inputs of one run of a node (``MEMORY_HIDDEN_INPUTS``): its prompt
    key, the workflow, the API prompt, and our workflow stamp."""

    unique_id: str | None = None
    extra_pnginfo: Any = None
    api_prompt: Any = None
    hitl_workflow: str | None = None
    #: The list item this run of the node is for (None when not fed a list), read when the
    #: node's call starts: make a Hidden before the call's first ``await``.
    item: _comfy.ListItem | None = field(default_factory=_comfy.list_item)

    @classmethod
    def of(cls, inputs: Mapping[str, Any]) -> Hidden:
        """The hidden inputs ComfyUI passed a node's function as keywords (``**hidden``);
        any other keyword is a mistake (``TypeError``, as a plain signature would say)."""
        unknown = set(inputs) - {"unique_id", "extra_pnginfo", "api_prompt", _memory.IDENTITY_INPUT}
        if unknown:
            raise TypeError(f"unexpected input(s): {', '.join(sorted(unknown))}")
        return cls(
            inputs.get("unique_id"),
            inputs.get("extra_pnginfo"),
            inputs.get("api_prompt"),
            inputs.get(_memory.IDENTITY_INPUT),
        )

    @property
    def node_id(self) -> str | None:
        """The node's prompt key ("12", or "12:5" inside a subgraph), from its input or from
        ComfyUI's executing context."""
        return str(self.unique_id) if self.unique_id is not None else _comfy.executing_context()[1]


@dataclass(frozen=True)
class Answer:
    """What the node flow settled on: the value (as the question's ``validate`` gives it, a
    kept answer as its question recalls it, or a fallback), how it came (``how``: ASK,
    RECALL, PASS, or "timeout"), the history's ``source`` word, and the request's
    :class:`Outcome` when someone was asked (None otherwise)."""

    value: Any
    how: str
    source: str
    outcome: Outcome | None = None
    resources: Any = None

    def audit(self, hidden: Hidden) -> dict[str, list[Any]]:
        """The audit record's UI output part (empty when nobody was asked)."""
        return audit_ui(self.outcome, hidden.extra_pnginfo)


#: ``Answer.how`` of a fallback given on timeout.
TIMED_OUT = "timeout"

#: Makes what a request needs beyond its question when the person is asked: extra payload
#: fields and its resources (images served while it waits), or None.
Preparer = Callable[[], Awaitable[tuple[dict[str, Any], Any]]]


def with_image(image: Any, payload: dict[str, Any]) -> Preparer:
    """A question shown beside an optional IMAGE input (the value prompt, the form): the
    payload plus the images' fields, the images served while it waits."""

    async def prepare() -> tuple[dict[str, Any], Any]:
        # Wrapping a batch may copy it (a tensor off the CPU): keep the prompt's event loop
        # free. Its thumbnails start once the request is out.
        resources = None if image is None else await asyncio.to_thread(question_images, image)
        return {**payload, **question_image_fields(resources)}, resources

    return prepare


class HitlNode:
    """Base of the pack's nodes: a ComfyUI (V1) node whose class is bound to a registry.

    The classes ComfyUI sees are made by :func:`bind`, one subclass per registry, so the
    registry is passed in, never a module-level global.
    """

    registry: ClassVar[RequestRegistry]
    CATEGORY = CATEGORY
    DISPLAY_NAME: ClassVar[str] = ""
    #: How many (workflow, node) answers the node's memory of "last answer" keeps. A node
    #: with a mode that recalls gets a memory, one per bound class, so each registry (a
    #: ComfyUI, a test host) has its own and no route can reach it.
    MEMORY_CAPACITY: ClassVar[int] = _memory.DEFAULT_CAPACITY
    memory: ClassVar[_memory.LastAnswerMemory[_memory.Remembered]]
    #: The values of the node's ``mode`` widget, in the order a saved workflow knows them.
    MODES: ClassVar[tuple[Mode, ...]] = (ALWAYS_ASK,)
    #: The values of its ``on_timeout`` widget, likewise.
    ON_TIMEOUT: ClassVar[tuple[TimeoutAction, ...]] = (CANCEL_RUN,)

    @classmethod
    def remembers(cls) -> bool:
        """Whether one of the node's modes reuses its last answer (so it keeps a memory)."""
        return any(mode.does == RECALL for mode in cls.MODES)

    @classmethod
    def mode_input(cls, tooltip: str) -> tuple[list[str], dict[str, Any]]:
        """The ``mode`` widget: the node's modes, "always ask" first and by default."""
        return [mode.value for mode in cls.MODES], {"default": cls.MODES[0].value, "tooltip": tooltip}

    @classmethod
    def timeout_inputs(cls, default: str, tooltip: str, *, wait: int = 0) -> dict[str, Any]:
        """The ``timeout_seconds`` and ``on_timeout`` widgets, in that order (saved workflows
        keep widget values by position)."""
        return {
            "timeout_seconds": ("INT", {"default": wait, "min": 0, "max": MAX_TIMEOUT_S, "tooltip": "0 waits forever"}),
            "on_timeout": ([action.value for action in cls.ON_TIMEOUT], {"default": default, "tooltip": tooltip}),
        }

    @staticmethod
    def memory_key(
        unique_id: Any, *, stamped: Any, api_prompt: Any = None, extra_pnginfo: Any = None
    ) -> _memory.MemoryKey | None:
        """This node's key in its memory, from its id and hidden inputs (the stamped workflow
        identity, else the API prompt and the workflow); None when the workflow is unknown."""
        node_id = unique_id if unique_id is not None else _comfy.executing_context()[1]
        return _memory.memory_key(node_id, stamped=stamped, prompt=api_prompt, extra_pnginfo=extra_pnginfo)

    @classmethod
    def remembered_for_cache(cls, unique_id: Any, hitl_workflow: Any) -> Any:
        """What this node's memory holds for its node id in the stamped workflow, for
        ``IS_CHANGED``: ComfyUI passes that no prompt, so only the stamp says which workflow
        it is; without a stamp (or on an unbound class) None, and the node runs and decides."""
        memory = getattr(cls, "memory", None)  # only bound classes have one
        if memory is None or unique_id is None:
            return None
        return memory.recall(cls.memory_key(unique_id, stamped=hitl_workflow))

    @classmethod
    def IS_CHANGED(
        cls, mode: str = P.MODE_ALWAYS_ASK, unique_id: Any = None, hitl_workflow: Any = None, **inputs: Any
    ) -> Any:
        # ComfyUI reuses the node's last outputs when this value (and every input, our
        # workflow stamp included) equals last run's. Asking must always re-run: a fresh NaN
        # never equals the last one (unlike the math.nan singleton). A mode that passes a
        # value on, or reuses a remembered answer, gives the same outputs for the same inputs,
        # so it says "unchanged" and the stages after the node stay cached.
        chosen = next((known for known in cls.MODES if known.value == mode), None)
        if chosen is not None and chosen.does == PASS:
            if not chosen.depends_on:
                return chosen.value  # the widgets (part of the cache key) decide
            return f"{chosen.value}:" + ":".join(str(inputs.get(name)) for name in chosen.depends_on)
        if chosen is not None and chosen.does == RECALL:
            remembered = cls.remembered_for_cache(unique_id, hitl_workflow)
            if remembered is not None:
                return f"{chosen.value}:{remembered.fingerprint}"
        return float("nan")

    @classmethod
    def bind(cls, registry: RequestRegistry) -> type[HitlNode]:
        """A subclass of this node that asks through ``registry``."""
        attributes: dict[str, Any] = {"registry": registry, "__doc__": cls.__doc__}
        if cls.remembers():
            attributes["memory"] = _memory.LastAnswerMemory(cls.MEMORY_CAPACITY)
        return type(cls.__name__, (cls,), attributes)

    async def ask(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        unique_id: str | None,
        extra_pnginfo: Any,
        timeout_s: float = 0,
        validate: Validator | None = None,
        resources: Any = None,
        summary: str = "",
        question: Question | None = None,
        item: _comfy.ListItem | None = None,
    ) -> Outcome:
        """Open a request for this node and wait, without blocking the loop, for its end."""
        prompt_id, context_node_id = _comfy.executing_context()
        node_id = context_node_id or (str(unique_id) if unique_id is not None else None)
        payload = {**payload, "workflow_id": workflow_id(extra_pnginfo)}
        request = self.registry.open(
            kind,
            prompt_id=prompt_id,
            node_id=node_id,
            payload=payload,
            timeout_s=timeout_s,
            validate=validate,
            node_label=node_label(extra_pnginfo, node_id, self.DISPLAY_NAME or type(self).__name__, item),
            resources=resources,
            summary=summary,
            question=question,
            list_item=item,
        )
        # Resources that work in the background (a batch's renditions) start now that the
        # request is out, so their threads do not hold up the message that opens the dialog.
        start = getattr(resources, "start", None)
        if callable(start):
            start()
        return await self.registry.wait_async(request)

    async def ask_question(
        self,
        question: Question,
        *,
        title: Any,
        unique_id: str | None,
        extra_pnginfo: Any,
        timeout_s: float = 0,
        payload: Mapping[str, Any] | None = None,
        resources: Any = None,
        item: _comfy.ListItem | None = None,
    ) -> Outcome:
        """Ask ``question`` (its description, plus ``payload``) and wait for the request's end."""
        return await self.ask(
            question.kind,
            {**question.describe(), **(payload or {})},
            unique_id=unique_id,
            extra_pnginfo=extra_pnginfo,
            timeout_s=timeout_s,
            resources=resources,
            summary=summarize(title, question.summary()),
            question=question,
            item=item,
        )

    async def answer_beside_image(
        self,
        question: Question,
        *,
        image: Any,
        title: str,
        message: str,
        mode: str,
        on_timeout: str,
        timeout_s: float,
        hidden: Hidden,
    ) -> Answer:
        """The flow of a question with a title and a message, shown beside an optional IMAGE
        input, whose timeout may give its default (the value prompt, the form)."""
        action = next((action for action in self.ON_TIMEOUT if action.value == on_timeout), None)
        uses_default = action is not None and action.gives == GIVES_DEFAULT
        shown = {"title": title, "message": message, "timeout_uses_default": uses_default}
        return await self.answer(
            question,
            mode=mode,
            on_timeout=on_timeout,
            title=title,
            timeout_s=timeout_s,
            hidden=hidden,
            prepare=with_image(image, shown),
        )

    async def answer(
        self,
        question: Question,
        *,
        mode: str,
        on_timeout: str,
        title: Any,
        timeout_s: float,
        hidden: Hidden,
        fallbacks: Mapping[str, Callable[[], Any]] | None = None,
        prepare: Preparer | None = None,
    ) -> Answer:
        """The node flow: pass, recall or ask, as ``mode`` says; remember what a person
        answered; on timeout give ``on_timeout``'s fallback or end the run.

        ``fallbacks`` gives the values a mode or timeout action names other than the
        question's default. ``prepare`` makes the request's extra payload and resources, only
        when someone is asked; resources with ``close`` are closed when the request ends, and
        those with ``abandon`` are abandoned too when it ends without an answer.
        """
        chosen = _option("mode", mode, self.MODES)
        action = _option("on_timeout", on_timeout, self.ON_TIMEOUT)
        if chosen.does == PASS:
            return Answer(self._fallback(question, chosen.gives, fallbacks), PASS, chosen.source)
        node_key = self.memory_key(
            hidden.unique_id,
            stamped=hidden.hitl_workflow,
            api_prompt=hidden.api_prompt,
            extra_pnginfo=hidden.extra_pnginfo,
        )
        # Fed a list, each item has its own last answer (a list of another length, none).
        key = (
            node_key
            if node_key is None or hidden.item is None
            else replace(node_key, item=_memory.item_key(hidden.item))
        )
        if chosen.does == RECALL:
            remembered = self.memory.recall(key)
            if remembered is not None and remembered.tag == question.memory_tag:
                recalled = question.recall(remembered.kept)
                if recalled is not None:
                    return Answer(recalled, RECALL, chosen.source)
                log.info("%s %s: the remembered answer does not fit any more; asking", self.DISPLAY_NAME, key)
        payload, resources = await prepare() if prepare is not None else ({}, None)
        try:
            outcome = await self.ask_question(
                question,
                title=title,
                unique_id=hidden.unique_id,
                extra_pnginfo=hidden.extra_pnginfo,
                timeout_s=timeout_s,
                payload=payload,
                resources=resources,
                item=hidden.item,
            )
        except BaseException:
            _abandon(resources)
            raise
        finally:
            close = getattr(resources, "close", None)
            if callable(close):
                close()
        if outcome.answered:
            kept = question.remembered(outcome.value)
            self.remember_answer(key, question, kept)
            if key is not node_key:
                # The node's own answer (what IS_CHANGED reads, which knows no list) would
                # keep the node cached over a list: forget it, so the node runs and each
                # item recalls its own.
                self.forget_answer(node_key)
            return Answer(outcome.value, ASK, SOURCE_PERSON, outcome, resources)
        _abandon(resources)
        if outcome.reason == P.REASON_TIMEOUT and action.gives is not None:
            log.info(
                "%s %s: nobody answered within %s s; %s", self.DISPLAY_NAME, hidden.unique_id, timeout_s, action.value
            )
            return Answer(self._fallback(question, action.gives, fallbacks), TIMED_OUT, action.source, outcome)
        end_run_interrupted(outcome)

    @classmethod
    def remember_answer(cls, key: _memory.MemoryKey | None, question: Question, kept: Any) -> None:
        """Keep a person's answer (as ``question.remembered`` gives it) for "use last answer";
        never a fallback."""
        memory = getattr(cls, "memory", None)
        if memory is not None:
            memory.remember(key, _memory.Remembered(question.memory_tag, kept, question.fingerprint(kept)))

    @classmethod
    def forget_answer(cls, key: _memory.MemoryKey | None) -> None:
        memory = getattr(cls, "memory", None)
        if memory is not None:
            memory.forget(key)

    @staticmethod
    def _fallback(question: Question, gives: str, fallbacks: Mapping[str, Callable[[], Any]] | None) -> Any:
        if gives == GIVES_DEFAULT:
            return question.default()
        if fallbacks is None or gives not in fallbacks:
            raise LookupError(f"no fallback {gives!r}")  # a node that names one gives it
        return fallbacks[gives]()


def _option(name: str, value: str, options: Sequence[Any]) -> Any:
    """The declared mode or timeout action whose widget text is ``value``."""
    check_option(name, value, [option.value for option in options])
    return next(option for option in options if option.value == value)


def _abandon(resources: Any) -> None:
    abandon = getattr(resources, "abandon", None)
    if callable(abandon):
        abandon()
