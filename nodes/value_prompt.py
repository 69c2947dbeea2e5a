"""The value prompt: the run waits until a person types a value (INT, FLOAT, text, yes/no or
one of a list of choices) in the browser, and goes on with it.

The server is the authority on what fits: :class:`ValueSpec` (``questions/values.py``, shared
with the form) checks every answer and a refusal (422, with the reason) leaves the node
waiting. Widget settings that make no sense (a default above the maximum, an empty choice
list) are refused when the prompt is queued (``VALIDATE_INPUTS``) and again when the node runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from ..images.batches import question_image_fields, question_images
from ..questions.describe import summarize
from ..questions.values import (
    DEFAULT_MAX_LENGTH,
    MAX_LENGTH_LIMIT,
    NUMBER_TYPES,
    SOURCE_DEFAULT,
    SOURCE_LAST_ANSWER,
    SOURCE_PERSON,
    SOURCE_TIMEOUT,
    STRING_TYPES,
    ValueSpec,
    check_choices,
    parse_number,
)
from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import MAX_TIMEOUT_S, MEMORY_HIDDEN_INPUTS, HitlNode, audit_ui, check_option, end_run_interrupted
from .memory import LastAnswerMemory

MODE_ALWAYS_ASK = "always ask"
MODE_LAST_ANSWER = "use last answer"
MODE_PASS_DEFAULT = "pass default"  # noqa: S105 (a mode's name, not a password)
MODES = (MODE_ALWAYS_ASK, MODE_LAST_ANSWER, MODE_PASS_DEFAULT)

ON_TIMEOUT_DEFAULT = "use default"
ON_TIMEOUT_CANCEL = "cancel run"
ON_TIMEOUT_ACTIONS = (ON_TIMEOUT_DEFAULT, ON_TIMEOUT_CANCEL)


def parse_choices(text: str) -> tuple[str, ...]:
    """The ``choices`` widget: one choice per line; surrounding spaces and blank lines dropped."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def build_spec(
    value_type: str,
    *,
    minimum: str = "",
    maximum: str = "",
    step: str = "",
    max_length: int = DEFAULT_MAX_LENGTH,
    choices: str = "",
) -> ValueSpec:
    """A :class:`ValueSpec` from the node's widgets, or ``ValueError`` saying what is wrong.
    Settings that do not apply to the type (bounds of a text) are ignored."""
    check_option("value_type", value_type, P.VALUE_TYPES)
    if value_type in NUMBER_TYPES:
        low = parse_number(value_type, minimum.strip(), "minimum") if minimum.strip() else None
        high = parse_number(value_type, maximum.strip(), "maximum") if maximum.strip() else None
        if low is not None and high is not None and low > high:
            raise ValueError(f"the minimum {minimum.strip()} is above the maximum {maximum.strip()}")
        increment = parse_number(value_type, step.strip(), "step") if step.strip() else None
        if increment is not None and increment <= 0:
            raise ValueError("step must be above 0 (or empty)")
        return ValueSpec(value_type, minimum=low, maximum=high, step=increment)
    if value_type in STRING_TYPES:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= MAX_LENGTH_LIMIT:
            raise ValueError(f"max_length must be a whole number from 1 to {MAX_LENGTH_LIMIT}")
        return ValueSpec(value_type, max_length=max_length)
    if value_type == P.VALUE_TYPE_CHOICE:
        listed = parse_choices(choices)
        if not listed:
            raise ValueError("choices is empty: write one choice per line")
        check_choices(listed)
        return ValueSpec(value_type, choices=listed)
    return ValueSpec(value_type)


@dataclass(frozen=True)
class RememberedAnswer:
    """An answer a person gave to one node (of one workflow: the memory's key says which),
    with the type it was given for."""

    value_type: str
    value: Any


def recall_answer(
    memory: LastAnswerMemory[RememberedAnswer], key: Any, kind: str, validate: Callable[[Any], Any]
) -> tuple[Any] | None:
    """The node's remembered answer, checked again (its settings may have changed since), as
    a 1-tuple; None when there is none for ``kind`` or it no longer fits: ask again."""
    remembered = memory.recall(key)
    if remembered is None or remembered.value_type != kind:
        return None
    try:
        return (validate(remembered.value),)
    except InvalidAnswer:
        return None


class ValuePrompt(HitlNode):
    """Asks the person for a value (INT, FLOAT, text, yes/no or a choice) and outputs it.

    Modes: "always ask"; "use last answer" (ask only until this node has an answer, then
    pass that on without asking); "pass default" (never ask, for unattended runs). With a
    timeout, the default is used or the run is cancelled. An IMAGE input is shown beside
    the question. The answer comes out typed: int, float, string, boolean, choice_index.
    """

    DISPLAY_NAME = "Value Prompt (ask a person)"
    RETURN_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "INT")
    RETURN_NAMES = ("int", "float", "string", "boolean", "choice_index")
    OUTPUT_TOOLTIPS = (
        "The answer as a whole number (a FLOAT is rounded, halves away from 0; false/true are 0/1; "
        "a choice gives its index; text gives 0)",
        "The answer as a number",
        "The answer as text (a choice gives its label)",
        "The answer's truth: a non-zero number, non-empty text, true, or any choice but the first",
        "The index of the choice taken (0 is the first); -1 for other types",
    )
    FUNCTION = "prompt"
    MEMORY_FACTORY = LastAnswerMemory
    memory: ClassVar[LastAnswerMemory[RememberedAnswer]]  # made by HitlNode.bind, keyed by (workflow, node)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "value_type": (list(P.VALUE_TYPES), {"default": P.VALUE_TYPE_INT, "tooltip": "What to ask for"}),
                "title": ("STRING", {"default": "Enter a value", "tooltip": "The dialog's title"}),
                "message": (
                    "STRING",
                    {"default": "", "multiline": True, "tooltip": "The question (the text input replaces it)"},
                ),
                "default": (
                    "STRING",
                    {
                        "default": "",
                        "tooltip": "The starting answer, as text (20, 0.5, true, a choice's label). "
                        "Empty: 0 or the nearest bound, empty text, false, the first choice",
                    },
                ),
                "minimum": ("STRING", {"default": "", "tooltip": "INT/FLOAT: smallest allowed answer; empty = none"}),
                "maximum": ("STRING", {"default": "", "tooltip": "INT/FLOAT: largest allowed answer; empty = none"}),
                "step": ("STRING", {"default": "", "tooltip": "INT/FLOAT: the arrow keys' increment; empty = 1 / any"}),
                "max_length": (
                    "INT",
                    {
                        "default": DEFAULT_MAX_LENGTH,
                        "min": 1,
                        "max": MAX_LENGTH_LIMIT,
                        "tooltip": "Text: most characters allowed",
                    },
                ),
                "choices": ("STRING", {"default": "", "multiline": True, "tooltip": "CHOICE: one choice per line"}),
                "timeout_seconds": (
                    "INT",
                    {"default": 0, "min": 0, "max": MAX_TIMEOUT_S, "tooltip": "0 waits forever"},
                ),
                "on_timeout": (list(ON_TIMEOUT_ACTIONS), {"default": ON_TIMEOUT_DEFAULT}),
                "mode": (
                    list(MODES),
                    {
                        "default": MODE_ALWAYS_ASK,
                        "tooltip": "always ask; use last answer (ask once, then reuse it); pass default (never ask)",
                    },
                ),
            },
            "optional": {
                "text": (
                    "STRING",
                    {
                        "forceInput": True,
                        "tooltip": "Text from the workflow (e.g. a generated caption): the starting answer of a "
                        "STRING prompt, so it can be edited; the message of the other types",
                    },
                ),
                "image": ("IMAGE", {"tooltip": "Shown beside the question"}),
            },
            "hidden": dict(MEMORY_HIDDEN_INPUTS),
        }

    @classmethod
    def VALIDATE_INPUTS(
        cls,
        value_type: Any = None,
        default: Any = None,
        minimum: Any = None,
        maximum: Any = None,
        step: Any = None,
        max_length: Any = None,
        choices: Any = None,
    ) -> bool | str:
        # Queue-time check of the settings, so a mistake shows on the node before anything
        # runs. A widget turned into a linked input arrives as None: checked when it runs.
        settings = (value_type, default, minimum, maximum, step, max_length, choices)
        if any(setting is None for setting in settings):
            return True
        try:
            spec = build_spec(
                value_type, minimum=minimum, maximum=maximum, step=step, max_length=max_length, choices=choices
            )
            # A STRING's default may come from the text input, unknown here.
            if value_type not in STRING_TYPES:
                spec.parse_default(default)
        except (ValueError, TypeError, AttributeError) as exc:
            return str(exc)
        return True

    @classmethod
    def IS_CHANGED(
        cls, mode: str = MODE_ALWAYS_ASK, unique_id: Any = None, hitl_workflow: Any = None, **_inputs: Any
    ) -> Any:
        # ComfyUI reuses the node's last outputs when this value (and every input, our
        # workflow stamp included) equals last run's.
        if mode == MODE_PASS_DEFAULT:
            return MODE_PASS_DEFAULT  # the widgets (part of the cache key) decide
        if mode == MODE_LAST_ANSWER:
            remembered = cls.remembered_for_cache(unique_id, hitl_workflow)
            if remembered is not None:
                # Unchanged while the remembered answer is, so downstream stages stay cached.
                return json.dumps([remembered.value_type, remembered.value])
        return float("nan")  # a fresh NaN never equals the last one: ask again

    async def prompt(
        self,
        value_type: str = P.VALUE_TYPE_INT,
        title: str = "Enter a value",
        message: str = "",
        default: str = "",
        minimum: str = "",
        maximum: str = "",
        step: str = "",
        max_length: int = DEFAULT_MAX_LENGTH,
        choices: str = "",
        timeout_seconds: int = 0,
        on_timeout: str = ON_TIMEOUT_DEFAULT,
        mode: str = MODE_ALWAYS_ASK,
        text: str | None = None,
        image: Any = None,
        unique_id: str | None = None,
        extra_pnginfo: Any = None,
        api_prompt: Any = None,
        hitl_workflow: str | None = None,
    ) -> dict[str, Any]:
        check_option("mode", mode, MODES)
        check_option("on_timeout", on_timeout, ON_TIMEOUT_ACTIONS)
        spec = build_spec(
            value_type, minimum=minimum, maximum=maximum, step=step, max_length=max_length, choices=choices
        )
        if text is not None and value_type in STRING_TYPES:
            default_value = spec.parse_default(text)
        else:
            default_value = spec.parse_default(default)
            if text is not None:
                message = text
        if mode == MODE_PASS_DEFAULT:
            return self._result(spec, default_value, SOURCE_DEFAULT)

        key = self.memory_key(unique_id, stamped=hitl_workflow, api_prompt=api_prompt, extra_pnginfo=extra_pnginfo)
        if mode == MODE_LAST_ANSWER:
            recalled = recall_answer(self.memory, key, value_type, spec.validate)
            if recalled is not None:
                return self._result(spec, recalled[0], SOURCE_LAST_ANSWER)

        resources = None
        if image is not None:
            # Wrapping a batch may copy it (a tensor off the CPU): keep the prompt's event loop
            # free. Its thumbnails start once the request is out.
            resources = await asyncio.to_thread(question_images, image)
        payload = {
            **spec.describe(),
            "title": title,
            "message": message,
            "default": default_value,
            "default_text": spec.as_text(default_value),
            "timeout_uses_default": on_timeout == ON_TIMEOUT_DEFAULT,
            **question_image_fields(resources),
        }
        outcome = await self.ask(
            P.KIND_VALUE_PROMPT,
            payload,
            unique_id=unique_id,
            extra_pnginfo=extra_pnginfo,
            timeout_s=timeout_seconds,
            validate=spec.validate,
            resources=resources,
            summary=summarize(title, spec.summary()),
        )
        if outcome.answered:
            self.memory.remember(key, RememberedAnswer(value_type, spec.remembered_form(outcome.value)))
            return self._result(spec, outcome.value, SOURCE_PERSON, audit_ui(outcome, extra_pnginfo))
        if outcome.reason == P.REASON_TIMEOUT and on_timeout == ON_TIMEOUT_DEFAULT:
            return self._result(spec, default_value, SOURCE_TIMEOUT, audit_ui(outcome, extra_pnginfo))
        end_run_interrupted(outcome)

    @staticmethod
    def _result(spec: ValueSpec, value: Any, source: str, audit: dict[str, list[Any]] | None = None) -> dict[str, Any]:
        # The ui part lands in ComfyUI's history: what was answered, how, and (when someone
        # was asked) the audit record of who answered and when.
        answer = spec.remembered_form(value)
        return {"ui": {"answer": [answer], "source": [source], **(audit or {})}, "result": spec.outputs(value)}
