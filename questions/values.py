"""A typed value (INT, FLOAT, text, yes/no, a choice), checked in one place: :class:`ValueSpec`,
and the value prompt's question (:class:`ValueQuestion`).

Every node that asks for a typed value uses these, so an INT is judged the same way in a
value prompt and in a form field (``questions/forms.py``), and a refusal says the same thing. The server is the
authority: the dialogs' own checks are a convenience. Each check is bounded (counts and
lengths first), then one pass over the answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import Question
from .checks import shown

#: Whole numbers stay within what a browser's number represents exactly (2**53 - 1).
SAFE_INT = 2**53 - 1

DEFAULT_MAX_LENGTH = 10_000
#: The answer travels in one request body (256 KiB): text up to this many characters fits.
MAX_LENGTH_LIMIT = 60_000
MAX_CHOICES = 500
MAX_CHOICE_LENGTH = 500

STRING_TYPES = (P.VALUE_TYPE_STRING, P.VALUE_TYPE_MULTILINE)
NUMBER_TYPES = (P.VALUE_TYPE_INT, P.VALUE_TYPE_FLOAT)
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0", ""}


def number_text(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(value)


@dataclass(frozen=True)
class ValueSpec:
    """What one typed value accepts: its type and bounds. ``validate`` is the authority.

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
                raise InvalidAnswer(f"expected a whole number, got {shown(value)}")
            if abs(value) > SAFE_INT:
                raise InvalidAnswer(f"{shown(value)} is too large: whole numbers must be within ±{SAFE_INT}")
            return self._in_range(value)
        if kind == P.VALUE_TYPE_FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidAnswer(f"expected a number, got {shown(value)}")
            if isinstance(value, int):
                try:
                    as_float = float(value)
                except OverflowError:
                    raise InvalidAnswer(f"{shown(value)} is too large for a FLOAT") from None
                if int(as_float) != value:
                    raise InvalidAnswer(f"{shown(value)} cannot be held exactly by a FLOAT")
                value = as_float
            if not math.isfinite(value):
                raise InvalidAnswer(f"expected a finite number, got {shown(value)}")
            return self._in_range(value)
        if kind in STRING_TYPES:
            if not isinstance(value, str):
                raise InvalidAnswer(f"expected text, got {shown(value)}")
            self._check_text(value, "the answer")
            return value
        if kind == P.VALUE_TYPE_BOOLEAN:
            if not isinstance(value, bool):
                raise InvalidAnswer(f"expected true or false, got {shown(value)}")
            return value
        return self._choice_index(value)

    def _in_range(self, value: int | float) -> int | float:
        if self.minimum is not None and value < self.minimum:
            raise InvalidAnswer(f"{number_text(value)} is below the minimum {number_text(self.minimum)}")
        if self.maximum is not None and value > self.maximum:
            raise InvalidAnswer(f"{number_text(value)} is above the maximum {number_text(self.maximum)}")
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
            raise InvalidAnswer(f"expected a choice's index or label, got {shown(value)}")
        if isinstance(value, int):
            if 0 <= value < len(self.choices):
                return value
            raise InvalidAnswer(f"there is no choice {shown(value)}: the index must be 0 to {len(self.choices) - 1}")
        if value in self.choices:
            return self.choices.index(value)
        listed = ", ".join(self.choices[:5]) + (", …" if len(self.choices) > 5 else "")
        raise InvalidAnswer(f"{shown(value)} is not one of the choices ({listed})")

    # ------------------------------------------------------------ default
    def parse_default(self, text: str) -> Any:
        """The default value from its text (``ValueError`` if it does not fit). Empty text
        means 0 (or the nearest bound), "", false, the first choice."""
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
        value = parse_number(kind, stripped, "the default")
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
            return number_text(value)
        return str(value)  # already text: STRING answers are checked to be str

    def outputs(self, value: Any) -> tuple[int, float, str, bool, int]:
        """The typed outputs (int, float, string, boolean, choice_index) of an answer."""
        kind = self.value_type
        text = self.as_text(value)
        if kind == P.VALUE_TYPE_INT:
            return value, float(value), text, value != 0, -1
        if kind == P.VALUE_TYPE_FLOAT:
            return round_half_away(value), float(value), text, value != 0, -1
        if kind == P.VALUE_TYPE_BOOLEAN:
            return int(value), float(value), text, value, -1
        if kind == P.VALUE_TYPE_CHOICE:
            return value, float(value), text, value != 0, value
        return 0, 0.0, text, text != "", -1

    def remembered_form(self, value: Any) -> Any:
        """The answer as a person reads it, and as "use last answer" keeps it: a choice by
        its label, so a reordered list still finds it."""
        return self.choices[value] if self.value_type == P.VALUE_TYPE_CHOICE else value

    def summary(self) -> str:
        """What fits, in a few words: "INT 1–60", "text", "yes or no", "one of 4 choices"."""
        kind = self.value_type
        if kind in NUMBER_TYPES:
            low, high = self.minimum, self.maximum
            if low is not None and high is not None:
                return f"{kind} {number_text(low)}–{number_text(high)}"
            if low is not None:
                return f"{kind} ≥ {number_text(low)}"
            return kind if high is None else f"{kind} ≤ {number_text(high)}"
        if kind == P.VALUE_TYPE_BOOLEAN:
            return "yes or no"
        if kind == P.VALUE_TYPE_CHOICE:
            return f"one of {len(self.choices)} choices"
        return "multi-line text" if kind == P.VALUE_TYPE_MULTILINE else "text"

    def describe(self) -> dict[str, Any]:
        """What the browser needs to know of what fits."""
        numbers = self.value_type in NUMBER_TYPES
        return {
            "type": self.value_type,
            "min": self.minimum if numbers else None,
            "max": self.maximum if numbers else None,
            "step": self.step if numbers else None,
            "max_length": self.max_length if self.value_type in STRING_TYPES else None,
            "choices": list(self.choices),
        }


class ValueQuestion(Question):
    """One typed value asked of a person (the value prompt): what fits, and the starting
    answer (``default``, as :meth:`ValueSpec.parse_default` gives it)."""

    kind = P.KIND_VALUE_PROMPT

    def __init__(self, spec: ValueSpec, default: Any) -> None:
        self.spec = spec
        self._default = default

    def __repr__(self) -> str:
        return f"<ValueQuestion {self.spec.summary()} default={self._default!r}>"

    @property
    def memory_tag(self) -> str:
        # A remembered INT is no answer once the node asks for text: the type is the tag.
        return self.spec.value_type

    def validate(self, value: Any) -> Any:
        return self.spec.validate(value)

    def describe(self) -> dict[str, Any]:
        return {**self.spec.describe(), "default": self._default, "default_text": self.spec.as_text(self._default)}

    def summary(self) -> str:
        return self.spec.summary()

    def default(self) -> Any:
        return self._default

    def summarize_answer(self, value: Any) -> str:
        """The answer as a person reads it: a choice by its label, yes or no, the number, the text."""
        return answer_text(self.spec, value)

    def remembered(self, value: Any) -> Any:
        return self.spec.remembered_form(value)


def answer_text(spec: ValueSpec, value: Any) -> str:
    """One answer to ``spec`` as people read it ("photo", "yes", "0.55", the text)."""
    if spec.value_type == P.VALUE_TYPE_BOOLEAN:
        return "yes" if value else "no"
    return spec.as_text(value)


def parse_choices(text: str) -> tuple[str, ...]:
    """A ``choices`` widget: one choice per line; surrounding spaces and blank lines dropped."""
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
    """A :class:`ValueSpec` from a value prompt's widgets, or ``ValueError`` saying what is
    wrong. Settings that do not apply to the type (bounds of a text) are ignored."""
    if value_type not in P.VALUE_TYPES:
        raise ValueError(f"value_type must be one of {', '.join(P.VALUE_TYPES)}; got {value_type!r}")
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


def round_half_away(value: float) -> int:
    """2.5 -> 3 and -2.5 -> -3, as a person rounds (Python's round() gives 2)."""
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _quoted(text: str) -> str:
    """A widget's text in an error message, cut short (it may be as long as a prompt allows)."""
    return repr(text) if len(text) <= 40 else repr(text[:37] + "…")


def parse_number(kind: str, text: str, what: str) -> int | float:
    """A whole number (``kind`` INT) or a finite number from text, or ``ValueError`` naming ``what``."""
    # ASCII digits only: int() and float() also take other scripts' digits ("٣" is 3) and
    # underscores ("1_000"), which a person reading the workflow would not see as a number.
    if kind == P.VALUE_TYPE_INT:
        if not _INT_TEXT.fullmatch(text):
            raise ValueError(f"{what} {_quoted(text)} is not a whole number")
        # Bounded before converting: int() of a long digit string costs quadratic time.
        significant = text.lstrip("+-").lstrip("0")
        if len(significant) > len(str(SAFE_INT)) or int(significant or "0") > SAFE_INT:
            raise ValueError(f"{what} {_quoted(text)} is not within ±{SAFE_INT}")
        return int(text)
    if not text.isascii() or "_" in text:
        raise ValueError(f"{what} {_quoted(text)} is not a number")
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{what} {_quoted(text)} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number")
    return number


def check_choices(listed: tuple[str, ...]) -> None:
    """``ValueError`` if a list of choices is too long, repeats one, or has one too long."""
    if len(listed) > MAX_CHOICES:
        raise ValueError(f"there are {len(listed)} choices; at most {MAX_CHOICES} are allowed")
    if len(set(listed)) != len(listed):
        duplicate = next(choice for choice in listed if listed.count(choice) > 1)
        raise ValueError(f"the choice {duplicate!r} is listed twice")
    long = next((choice for choice in listed if len(choice) > MAX_CHOICE_LENGTH), None)
    if long is not None:
        raise ValueError(f"a choice is longer than {MAX_CHOICE_LENGTH} characters: {long[:40]!r}…")
