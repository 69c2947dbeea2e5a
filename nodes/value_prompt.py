"""The value prompt: the run waits until a person types a value (INT, FLOAT, text, yes/no or
one of a list of choices) in the browser, and goes on with it.

The server is the authority on what fits: :class:`ValueSpec` (``questions/values.py``, shared
with the form) checks every answer and a refusal (422, with the reason) leaves the node
waiting. Widget settings that make no sense (a default above the maximum, an empty choice
list) are refused when the prompt is queued (``VALIDATE_INPUTS``) and again when the node runs.
"""

from __future__ import annotations

from typing import Any

from ..questions.values import (
    DEFAULT_MAX_LENGTH,
    MAX_LENGTH_LIMIT,
    STRING_TYPES,
    ValueQuestion,
    ValueSpec,
    build_spec,
    parse_choices,
)
from ..server import protocol as P
from .base import (
    MEMORY_HIDDEN_INPUTS,
    Hidden,
    HitlNode,
    ask_recall_or_default,
    default_or_cancel,
)

__all__ = ["ValuePrompt", "build_spec", "parse_choices"]


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
    MODES = ask_recall_or_default(P.MODE_USE_LAST_ANSWER, P.MODE_PASS_DEFAULT)
    ON_TIMEOUT = default_or_cancel(P.ON_TIMEOUT_USE_DEFAULT)

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
                **cls.timeout_inputs(P.ON_TIMEOUT_USE_DEFAULT, "What happens when nobody answers in time"),
                "mode": cls.mode_input(
                    "always ask; use last answer (ask once, then reuse it); pass default (never ask)"
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
        on_timeout: str = P.ON_TIMEOUT_USE_DEFAULT,
        mode: str = P.MODE_ALWAYS_ASK,
        text: str | None = None,
        image: Any = None,
        **hidden_inputs: Any,
    ) -> dict[str, Any]:
        hidden = Hidden.of(hidden_inputs)  # before any await: it reads which list item this is
        spec = build_spec(
            value_type, minimum=minimum, maximum=maximum, step=step, max_length=max_length, choices=choices
        )
        if text is not None and value_type in STRING_TYPES:
            default_value = spec.parse_default(text)
        else:
            default_value = spec.parse_default(default)
            if text is not None:
                message = text

        answer = await self.answer_beside_image(
            ValueQuestion(spec, default_value),
            image=image,
            title=title,
            message=message,
            mode=mode,
            on_timeout=on_timeout,
            timeout_s=timeout_seconds,
            hidden=hidden,
        )
        return self._result(spec, answer.value, answer.source, answer.audit(hidden))

    @staticmethod
    def _result(spec: ValueSpec, value: Any, source: str, audit: dict[str, list[Any]] | None = None) -> dict[str, Any]:
        # The ui part lands in ComfyUI's history: what was answered, how, and (when someone
        # was asked) the audit record of who answered and when.
        answer = spec.remembered_form(value)
        return {"ui": {"answer": [answer], "source": [source], **(audit or {})}, "result": spec.outputs(value)}
