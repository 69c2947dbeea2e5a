"""The value prompt: the run waits until a person types a value (INT, FLOAT, text, yes/no or
one of a list of choices) in the browser, and goes on with it.

The server is the authority on what fits: :class:`ValueSpec` checks every answer and a
refusal (422, with the reason) leaves the node waiting. Widget settings that make no sense
(a default above the maximum, an empty choice list) are refused when the prompt is queued
(``VALIDATE_INPUTS``) and again when the node runs.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import _protocol as P
from .._images import BatchImages
from .._memory import LastAnswerMemory
from ..state import InvalidAnswer
from ._base import MEMORY_HIDDEN_INPUTS, HitlNode, end_run_interrupted

#: Whole numbers stay within what a browser's number represents exactly (2**53 - 1).
SAFE_INT = 2**53 - 1

MODE_ALWAYS_ASK = "always ask"
MODE_LAST_ANSWER = "use last answer"
MODE_PASS_DEFAULT = "pass default"  # noqa: S105 (a mode's name, not a password)
MODES = (MODE_ALWAYS_ASK, MODE_LAST_ANSWER, MODE_PASS_DEFAULT)

ON_TIMEOUT_DEFAULT = "use default"
ON_TIMEOUT_CANCEL = "cancel run"
ON_TIMEOUT_ACTIONS = (ON_TIMEOUT_DEFAULT, ON_TIMEOUT_CANCEL)

#: How the output came about (the node's ``ui.source``, shown in the history).
SOURCE_PERSON = "person"
SOURCE_LAST_ANSWER = "last answer"
SOURCE_DEFAULT = "default"
SOURCE_TIMEOUT = "timeout default"

DEFAULT_MAX_LENGTH = 10_000
#: The answer travels in one request body (256 KiB): text up to this many characters fits.
MAX_LENGTH_LIMIT = 60_000
MAX_CHOICES = 500
MAX_CHOICE_LENGTH = 500
#: Thumbnails the dialog shows of an IMAGE batch; the rest are counted, not sent.
MAX_IMAGES_SHOWN = 16
MAX_TIMEOUT_S = 7 * 24 * 3600

STRING_TYPES = (P.VALUE_TYPE_STRING, P.VALUE_TYPE_MULTILINE)
NUMBER_TYPES = (P.VALUE_TYPE_INT, P.VALUE_TYPE_FLOAT)
_INT_TEXT = re.compile(r"[+-]?\d+")
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0", ""}


def _shown(value: Any) -> str:
    """A short, JSON-like rendering of an answer for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else f"{text[:37]}…"


def _number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


@dataclass(frozen=True)
class ValueSpec:
    """What one value prompt accepts: its type and bounds. ``validate`` is the authority.

    Bounds are inclusive; ``None`` means unbounded (whole numbers are still kept within
    +-(2**53 - 1)). ``step`` is the increment of the dialog's arrow keys, not a rule.
    """

    value_type: str
    minimum: int | float | None = None
    maximum: int | float | None = None
    step: int | float | None = None
    max_length: int = DEFAULT_MAX_LENGTH
    choices: tuple[str, ...] = ()

    # ------------------------------------------------------------ answers
    def validate(self, value: Any) -> Any:
        """The answer, normalised (a choice becomes its index), or :class:`InvalidAnswer`."""
        kind = self.value_type
        if kind == P.VALUE_TYPE_INT:
            # bool is an int in Python; true is not a number to a person.
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidAnswer(f"expected a whole number, got {_shown(value)}")
            if abs(value) > SAFE_INT:
                raise InvalidAnswer(f"{_shown(value)} is too large: whole numbers must be within ±{SAFE_INT}")
            return self._in_range(value)
        if kind == P.VALUE_TYPE_FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidAnswer(f"expected a number, got {_shown(value)}")
            if isinstance(value, int):
                try:
                    as_float = float(value)
                except OverflowError:
                    raise InvalidAnswer(f"{_shown(value)} is too large for a FLOAT") from None
                if int(as_float) != value:
                    raise InvalidAnswer(f"{_shown(value)} cannot be held exactly by a FLOAT")
                value = as_float
            if not math.isfinite(value):
                raise InvalidAnswer(f"expected a finite number, got {_shown(value)}")
            return self._in_range(value)
        if kind in STRING_TYPES:
            if not isinstance(value, str):
                raise InvalidAnswer(f"expected text, got {_shown(value)}")
            self._check_text(value, "the answer")
            return value
        if kind == P.VALUE_TYPE_BOOLEAN:
            if not isinstance(value, bool):
                raise InvalidAnswer(f"expected true or false, got {_shown(value)}")
            return value
        return self._choice_index(value)

    def _in_range(self, value: int | float) -> int | float:
        if self.minimum is not None and value < self.minimum:
            raise InvalidAnswer(f"{_number_text(value)} is below the minimum {_number_text(self.minimum)}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidAnswer(f"{_number_text(value)} is above the maximum {_number_text(self.maximum)}")
        return value

    def _check_text(self, text: str, what: str) -> None:
        # Characters are code points, as the dialog counts them (not UTF-16 units).
        if len(text) > self.max_length:
            raise InvalidAnswer(f"{what} is {len(text)} characters long; at most {self.max_length} are allowed")
        if self.value_type == P.VALUE_TYPE_STRING and ("\n" in text or "\r" in text):
            raise InvalidAnswer(f"{what} must be a single line")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # JSON can carry a lone surrogate ("\ud800"); nothing downstream can store it.
            raise InvalidAnswer(f"{what} contains an invalid character (an unpaired surrogate)") from None

    def _choice_index(self, value: Any) -> int:
        # A choice is answered by its index (what the dialog sends) or by its exact label.
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidAnswer(f"expected a choice's index or label, got {_shown(value)}")
        if isinstance(value, int):
            if 0 <= value < len(self.choices):
                return value
            raise InvalidAnswer(f"there is no choice {value}: the index must be 0 to {len(self.choices) - 1}")
        if value in self.choices:
            return self.choices.index(value)
        listed = ", ".join(self.choices[:5]) + (", …" if len(self.choices) > 5 else "")
        raise InvalidAnswer(f"{_shown(value)} is not one of the choices ({listed})")

    # ------------------------------------------------------------ default
    def parse_default(self, text: str) -> Any:
        """The default value from the ``default`` widget's text (``ValueError`` if it does
        not fit). Empty text means 0 (or the nearest bound), "", false, the first choice."""
        kind = self.value_type
        stripped = text.strip()
        if kind in STRING_TYPES:
            try:
                self._check_text(text, "the default")
            except InvalidAnswer as exc:
                raise ValueError(exc.message) from None
            return text
        if kind == P.VALUE_TYPE_BOOLEAN:
            word = stripped.lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
            raise ValueError(f"the default {stripped!r} is not true or false")
        if kind == P.VALUE_TYPE_CHOICE:
            if not stripped:
                return 0
            if stripped not in self.choices:
                raise ValueError(f"the default {stripped!r} is not one of the choices")
            return self.choices.index(stripped)
        if not stripped:
            zero: int | float = 0 if kind == P.VALUE_TYPE_INT else 0.0
            if self.minimum is not None and zero < self.minimum:
                return self.minimum
            if self.maximum is not None and zero > self.maximum:
                return self.maximum
            return zero
        value = _parse_number(kind, stripped, "the default")
        try:
            return self._in_range(value)
        except InvalidAnswer as exc:
            raise ValueError(f"the default: {exc.message}") from None

    def as_text(self, value: Any) -> str:
        """The answer as the ``string`` output (a choice is its label)."""
        kind = self.value_type
        if kind == P.VALUE_TYPE_CHOICE:
            return self.choices[int(value)]
        if kind == P.VALUE_TYPE_BOOLEAN:
            return "true" if value else "false"
        if kind in NUMBER_TYPES:
            return _number_text(value)
        return str(value)  # already text: STRING answers are checked to be str

    def outputs(self, value: Any) -> tuple[int, float, str, bool, int]:
        """The node's five outputs (int, float, string, boolean, choice_index) for an answer."""
        kind = self.value_type
        text = self.as_text(value)
        if kind == P.VALUE_TYPE_INT:
            return value, float(value), text, value != 0, -1
        if kind == P.VALUE_TYPE_FLOAT:
            return _round_half_away(value), float(value), text, value != 0, -1
        if kind == P.VALUE_TYPE_BOOLEAN:
            return int(value), float(value), text, value, -1
        if kind == P.VALUE_TYPE_CHOICE:
            return value, float(value), text, value != 0, value
        return 0, 0.0, text, text != "", -1

    def remembered_form(self, value: Any) -> Any:
        """What "use last answer" keeps: a choice by its label, so a reordered list still finds it."""
        return self.choices[value] if self.value_type == P.VALUE_TYPE_CHOICE else value

    def describe(self) -> dict[str, Any]:
        """The part of the request payload that says what fits."""
        numbers = self.value_type in NUMBER_TYPES
        return {
            "type": self.value_type,
            "min": self.minimum if numbers else None,
            "max": self.maximum if numbers else None,
            "step": self.step if numbers else None,
            "max_length": self.max_length if self.value_type in STRING_TYPES else None,
            "choices": list(self.choices),
        }


def _round_half_away(value: float) -> int:
    """2.5 -> 3 and -2.5 -> -3, as a person rounds (Python's round() gives 2)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _parse_number(kind: str, text: str, what: str) -> int | float:
    if kind == P.VALUE_TYPE_INT:
        if not _INT_TEXT.fullmatch(text):
            raise ValueError(f"{what} {text!r} is not a whole number")
        value = int(text)
        if abs(value) > SAFE_INT:
            raise ValueError(f"{what} {text} is not within ±{SAFE_INT}")
        return value
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number")
    return number


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
    if value_type not in P.VALUE_TYPES:
        raise ValueError(f"value_type must be one of {', '.join(P.VALUE_TYPES)}; got {value_type!r}")
    if value_type in NUMBER_TYPES:
        low = _parse_number(value_type, minimum.strip(), "minimum") if minimum.strip() else None
        high = _parse_number(value_type, maximum.strip(), "maximum") if maximum.strip() else None
        if low is not None and high is not None and low > high:
            raise ValueError(f"the minimum {minimum.strip()} is above the maximum {maximum.strip()}")
        increment = _parse_number(value_type, step.strip(), "step") if step.strip() else None
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
        if len(listed) > MAX_CHOICES:
            raise ValueError(f"there are {len(listed)} choices; at most {MAX_CHOICES} are allowed")
        if len(set(listed)) != len(listed):
            duplicate = next(choice for choice in listed if listed.count(choice) > 1)
            raise ValueError(f"the choice {duplicate!r} is listed twice")
        long = next((choice for choice in listed if len(choice) > MAX_CHOICE_LENGTH), None)
        if long is not None:
            raise ValueError(f"a choice is longer than {MAX_CHOICE_LENGTH} characters: {long[:40]!r}…")
        return ValueSpec(value_type, choices=listed)
    return ValueSpec(value_type)


@dataclass(frozen=True)
class RememberedAnswer:
    """An answer a person gave to one node (of one workflow: the memory's key says which),
    with the type it was given for."""

    value_type: str
    value: Any


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
            # Only the stamp tells this call which workflow it is (ComfyUI passes no prompt
            # here): without it, run the node and let it decide.
            key = cls.memory_key(unique_id, stamped=hitl_workflow) if unique_id is not None else None
            remembered = cls.memory.recall(key)
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
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if on_timeout not in ON_TIMEOUT_ACTIONS:
            raise ValueError(f"on_timeout must be one of {', '.join(ON_TIMEOUT_ACTIONS)}; got {on_timeout!r}")
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
            remembered = self.memory.recall(key)
            if remembered is not None and remembered.value_type == value_type:
                try:
                    value = spec.validate(remembered.value)
                except InvalidAnswer:
                    pass  # the settings changed and it no longer fits: ask again
                else:
                    return self._result(spec, value, SOURCE_LAST_ANSWER)

        resources = None
        if image is not None:
            # Thumbnails take a moment for a big batch: keep the prompt's event loop free.
            resources = await asyncio.to_thread(BatchImages, image)
        payload = {
            **spec.describe(),
            "title": title,
            "message": message,
            "default": default_value,
            "default_text": spec.as_text(default_value),
            "timeout_uses_default": on_timeout == ON_TIMEOUT_DEFAULT,
            "image_count": resources.image_count() if resources else 0,
            "images": resources.describe()[:MAX_IMAGES_SHOWN] if resources else [],
        }
        outcome = await self.ask(
            P.KIND_VALUE_PROMPT,
            payload,
            unique_id=unique_id,
            extra_pnginfo=extra_pnginfo,
            timeout_s=timeout_seconds,
            validate=spec.validate,
            resources=resources,
        )
        if outcome.answered:
            self.memory.remember(key, RememberedAnswer(value_type, spec.remembered_form(outcome.value)))
            return self._result(spec, outcome.value, SOURCE_PERSON)
        if outcome.reason == P.REASON_TIMEOUT and on_timeout == ON_TIMEOUT_DEFAULT:
            return self._result(spec, default_value, SOURCE_TIMEOUT)
        end_run_interrupted(outcome)

    @staticmethod
    def _result(spec: ValueSpec, value: Any, source: str) -> dict[str, Any]:
        # The ui part lands in ComfyUI's history: what was answered, and how.
        answer = spec.remembered_form(value)
        return {"ui": {"answer": [answer], "source": [source]}, "result": spec.outputs(value)}
