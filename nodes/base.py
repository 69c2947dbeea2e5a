"""What every node of ours shares: binding to a registry, asking, and ending a run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NoReturn

from ..server import comfy as _comfy
from ..server.history import for_image_metadata
from ..state import Outcome, RequestRegistry, Validator
from . import memory as _memory

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


def node_label(extra_pnginfo: Any, unique_id: str | None, fallback: str) -> str:
    """The node's title as the user sees it, found in the workflow; ``fallback`` if not."""
    workflow = extra_pnginfo.get("workflow") if isinstance(extra_pnginfo, dict) else None
    nodes = workflow.get("nodes") if isinstance(workflow, dict) else None
    if unique_id is not None and isinstance(nodes, list):
        # Inside a subgraph the id is "outer:inner"; the workflow's top level knows the outer node.
        top_id = str(unique_id).split(":")[0]
        for node in nodes:
            if isinstance(node, dict) and str(node.get("id")) == top_id:
                # No title means the default one, which ComfyUI does not save: use ours then.
                title = node.get("title")
                if isinstance(title, str) and title:
                    return title if top_id == str(unique_id) else f"{title} › {unique_id}"
    return fallback if unique_id is None else f"{fallback} #{unique_id}"


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


class HitlNode:
    """Base of the pack's nodes: a ComfyUI (V1) node whose class is bound to a registry.

    The classes ComfyUI sees are made by :func:`bind`, one subclass per registry, so the
    registry is passed in, never a module-level global.
    """

    registry: ClassVar[RequestRegistry]
    CATEGORY = CATEGORY
    DISPLAY_NAME: ClassVar[str] = ""
    #: Makes the node's memory (e.g. of "use last answer"), one per bound class, so each
    #: registry (a ComfyUI, a test host) has its own and no route can reach it. None: no memory.
    MEMORY_FACTORY: ClassVar[Callable[[], Any] | None] = None
    memory: ClassVar[Any]

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
    def IS_CHANGED(cls, **_inputs: Any) -> float:
        # ComfyUI caches a node whose IS_CHANGED value equals last run's; NaN never equals
        # itself (a fresh float each call, unlike the math.nan singleton), so we always ask.
        return float("nan")

    @classmethod
    def bind(cls, registry: RequestRegistry) -> type[HitlNode]:
        """A subclass of this node that asks through ``registry``."""
        attributes: dict[str, Any] = {"registry": registry, "__doc__": cls.__doc__}
        if cls.MEMORY_FACTORY is not None:
            attributes["memory"] = cls.MEMORY_FACTORY()
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
            node_label=node_label(extra_pnginfo, node_id, self.DISPLAY_NAME or type(self).__name__),
            resources=resources,
            summary=summary,
        )
        # Resources that work in the background (a batch's renditions) start now that the
        # request is out, so their threads do not hold up the message that opens the dialog.
        start = getattr(resources, "start", None)
        if callable(start):
            start()
        return await self.registry.wait_async(request)
