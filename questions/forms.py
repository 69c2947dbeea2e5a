"""A form: several typed values asked in one dialog (:class:`FormQuestion`), declared by the
Form node's ``fields`` text (:func:`parse_fields`).

The ``fields`` widget declares one field per line::

    # a line starting with # is a comment; blank lines are ignored
    steps: INT 1..60 = 20
    denoise "Denoise strength": FLOAT 0..1 step 0.05 = 0.55
    prompt: TEXT multiline = a lighthouse at dusk
    style: CHOICE photo | oil painting | sketch = photo
    upscale: BOOLEAN = yes

``name ["label"]: TYPE options [= default]``. The name is the answer's key (letters, digits
and _, not starting with a digit; unique, ignoring case); the label, in double quotes, is
what the dialog shows (default: the name with _ as spaces). Types and their options:

- ``INT`` / ``FLOAT``: a range ``LOW..HIGH`` (either end may be left out: ``1..``,
  ``..60``; negative numbers are fine), and ``step N`` (the arrow keys' increment).
- ``TEXT`` (or ``STRING``): ``multiline``, and ``max N`` characters (default 1,000 for one
  line, 10,000 for multiline).
- ``BOOLEAN``: no options; the default is yes/no, true/false, on/off or 1/0.
- ``CHOICE``: the options, separated by ``|`` (spaces inside an option are kept).

Everything after the first ``=`` is the default (so a text default may contain ``=``; a
choice option may not). Without one: 0 or the bound nearest to it, empty text, no, the
first option. Each answer is checked on the server by the value prompt's own
:class:`ValueSpec`; every mistake in the text is refused when the prompt is queued
(``VALIDATE_INPUTS``), naming its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import Question
from .checks import shown
from .values import (
    DEFAULT_MAX_LENGTH,
    MAX_LENGTH_LIMIT,
    STRING_TYPES,
    ValueSpec,
    answer_text,
    check_choices,
    parse_number,
)

#: The ComfyUI type that carries a form's answers (the Form node's ``form`` output, a Form
#: Field node's input): a :class:`FormAnswers`.
FORM_TYPE = "HITL_FORM"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a form: its name (the key of the answer), its label, its type and its
    default (as :meth:`ValueSpec.parse_default` gives it: a choice by index)."""

    name: str
    label: str
    spec: ValueSpec
    default: Any

    def describe(self) -> dict[str, Any]:
        """The field as the browser gets it."""
        return {
            "name": self.name,
            "label": self.label,
            **self.spec.describe(),
            "default": self.default,
            "default_text": self.spec.as_text(self.default),
        }


class FormSpec:
    """What a form accepts: one JSON object with exactly one value per field, each checked
    by its field's :class:`ValueSpec`. A refusal names the field (``InvalidAnswer.field``)."""

    def __init__(self, fields: Iterable[FieldSpec]) -> None:
        self.fields = tuple(fields)
        self._by_name = {field.name: field for field in self.fields}
        if len(self._by_name) != len(self.fields):
            raise ValueError("two fields have the same name")

    def __repr__(self) -> str:
        return f"<FormSpec {', '.join(self.names())}>"

    def names(self) -> list[str]:
        return [field.name for field in self.fields]

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``; ``LookupError`` saying which fields there are if none."""
        found = self._by_name.get(name)
        if found is not None:
            return found
        near = [field.name for field in self.fields if field.name.casefold() == name.casefold()]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise LookupError(f"the form has no field {name!r}{hint}; its fields are: {self.listed()}")

    def listed(self, limit: int = 20) -> str:
        names = self.names()
        return ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")

    def validate(self, value: Any) -> dict[str, Any]:
        """The answer (field name -> value, in the form's order, a choice by its label), or
        :class:`InvalidAnswer`. Bounded first: an object with more entries than the form has
        fields is refused before any entry is looked at."""
        if not isinstance(value, dict):
            raise InvalidAnswer(f"expected an object of field name → value, got {shown(value)}")
        if len(value) > len(self.fields):
            raise InvalidAnswer(f"the answer has {len(value)} entries; the form has {len(self.fields)} fields")
        for key in value:
            if key not in self._by_name:
                raise InvalidAnswer(f"there is no field {shown(key)}; the fields are: {self.listed()}")
        answers: dict[str, Any] = {}
        for field in self.fields:
            if field.name not in value:
                raise InvalidAnswer(f"{field.name}: no value given (every field needs one)", field=field.name)
            try:
                normalised = field.spec.validate(value[field.name])
            except InvalidAnswer as exc:
                raise InvalidAnswer(f"{field.name}: {exc.message}", field=field.name) from None
            answers[field.name] = field.spec.remembered_form(normalised)
        return answers

    def defaults(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every field's default, as :meth:`validate` gives an answer; ``overrides`` replace
        some (each as ``parse_default`` gives it)."""
        chosen = {**{field.name: field.default for field in self.fields}, **(overrides or {})}
        return {field.name: field.spec.remembered_form(chosen[field.name]) for field in self.fields}

    def describe(self, overrides: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The fields as the browser gets them (``overrides``: other starting values)."""
        described = []
        for field in self.fields:
            entry = field.describe()
            if overrides and field.name in overrides:
                entry["default"] = overrides[field.name]
                entry["default_text"] = field.spec.as_text(overrides[field.name])
            described.append(entry)
        return described


class FormQuestion(Question):
    """A form asked of a person: its fields, with their starting values (``starting``
    replaces some defaults, e.g. the text input). The answer is every field's value."""

    kind = P.KIND_FORM

    def __init__(self, form: FormSpec, starting: Mapping[str, Any] | None = None) -> None:
        self.form = form
        self.starting = dict(starting or {})

    def __repr__(self) -> str:
        return f"<FormQuestion {self.form!r}>"

    def validate(self, value: Any) -> dict[str, Any]:
        return self.form.validate(value)

    def describe(self) -> dict[str, Any]:
        return {"fields": self.form.describe(self.starting)}

    def summary(self) -> str:
        return f"{len(self.form.fields)} fields"

    def default(self) -> dict[str, Any]:
        return self.form.defaults(self.starting)

    def summarize_answer(self, value: dict[str, Any]) -> str:
        """Every field as ``name value`` ("steps 30, denoise 0.4, style photo"), in the form's order."""
        parts = []
        for field in self.form.fields:
            typed = field.spec.validate(value[field.name])  # a choice's label back to its index
            parts.append(f"{field.name} {answer_text(field.spec, typed)}")
        return ", ".join(parts)


class FormAnswers(dict[str, Any]):
    """A form's answers: field name -> typed value (int, float, str, bool; a choice's label),
    in the form's order. A plain dict to any node that takes one (JSON-serialisable as is);
    :meth:`outputs` gives one field's typed outputs, converted as the value prompt's are."""

    def __init__(self, form: FormSpec, answers: Mapping[str, Any]) -> None:
        super().__init__(answers)
        self.form = form

    def outputs(self, name: str) -> tuple[int, float, str, bool]:
        """The field ``name`` as (int, float, string, boolean); ``LookupError`` if no such field."""
        field = self.form.field(name)
        value = field.spec.validate(self[field.name])  # a choice's label back to its index
        return field.spec.outputs(value)[:4]


# ------------------------------------------------------------------- limits
#: Checked before anything else is parsed, so a huge widget costs nothing.
MAX_FIELDS_TEXT = 20_000
MAX_FIELDS = 50
MAX_NAME_LENGTH = 64
MAX_LABEL_LENGTH = 200
#: Options of all the form's CHOICE fields together.
MAX_FORM_OPTIONS = 500
#: A TEXT field's ``max`` when none is given.
TEXT_MAX_LENGTH = 1_000
MULTILINE_MAX_LENGTH = DEFAULT_MAX_LENGTH
#: Mistakes listed at once in one refusal; the rest are counted.
MAX_ERRORS_LISTED = 5

DEFAULT_FIELDS = """\
steps: INT 1..60 = 20
denoise: FLOAT 0..1 step 0.05 = 0.55
prompt: TEXT multiline = a lighthouse at dusk
style: CHOICE photo | painting | sketch = photo
upscale: BOOLEAN = yes
"""

TYPE_WORDS = {
    "INT": P.VALUE_TYPE_INT,
    "FLOAT": P.VALUE_TYPE_FLOAT,
    "TEXT": P.VALUE_TYPE_STRING,
    "STRING": P.VALUE_TYPE_STRING,
    "BOOLEAN": P.VALUE_TYPE_BOOLEAN,
    "CHOICE": P.VALUE_TYPE_CHOICE,
}
_TYPE_LIST = "INT, FLOAT, TEXT, BOOLEAN or CHOICE"
_EXAMPLE = "`steps: INT 1..60 = 20`"

#: Unicode letters, digits and _, not starting with a digit.
_NAME = re.compile(r"[^\W\d]\w*")
_NUMBER = r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_RANGE = re.compile(rf"({_NUMBER})?\.\.({_NUMBER})?")
_RANGE_SPACES = re.compile(r"\s*\.\.\s*")
_WHOLE = re.compile(r"\d+")


class FormSyntaxError(ValueError):
    """Mistakes in a form's ``fields`` text; each message names its line."""

    def __init__(self, errors: list[str], more: int = 0) -> None:
        self.errors = errors
        summary = "\n".join(errors) + (f"\n(and {more} more)" if more else "")
        super().__init__(summary)


def check_name(name: str) -> None:
    """``ValueError`` unless ``name`` can name a field."""
    if not name:
        raise ValueError(f"a line starts with the field's name, e.g. {_EXAMPLE}")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the name is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed")
    if not _NAME.fullmatch(name):
        raise ValueError(f"`{name}` is not a valid name: use letters, digits and _, not starting with a digit")
    if name.startswith("__"):
        raise ValueError(f"`{name}`: names starting with __ are reserved")


def default_label(name: str) -> str:
    """``refiner_steps`` -> ``Refiner steps``."""
    words = name.replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) if words else name


def _excerpt(line: str) -> str:
    return line if len(line) <= 40 else f"{line[:39]}…"


def _split_head(line: str) -> tuple[str, str | None, str]:
    """``name ["label"]:`` and what follows the colon."""
    match = re.match(r'[^\s:"]*', line)
    name = match.group() if match else ""
    position = len(name)
    while position < len(line) and line[position].isspace():
        position += 1
    label = None
    if position < len(line) and line[position] == '"':
        close = line.find('"', position + 1)
        if close < 0:
            raise ValueError('the label has no closing "')
        label = line[position + 1 : close]
        position = close + 1
        while position < len(line) and line[position].isspace():
            position += 1
    if position < len(line) and line[position] == ":":
        return name, label, line[position + 1 :]
    if not name:
        raise ValueError(f"a line starts with the field's name, e.g. {_EXAMPLE}")
    colon = line.find(":", position)
    if colon < 0:
        raise ValueError(f"expected `{name}: TYPE …`, e.g. {_EXAMPLE}")
    between = line[position:colon].strip()
    if label is not None:
        raise ValueError(f"expected a colon after the label, found `{between}`")
    # More words before the colon (or before a label): a name with spaces.
    words = [name, *between.split('"')[0].split()]
    raise ValueError(
        f"a name cannot contain spaces: write `{'_'.join(words)}` "
        f'(a label in quotes may: `{"_".join(words)} "{" ".join(words)}":`)'
    )


def _number_spec(value_type: str, word: str, options: str) -> ValueSpec:
    tokens = _RANGE_SPACES.sub("..", options.strip()).split()
    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = None
    ranged = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.lower() == "step":
            if step is not None:
                raise ValueError("`step` is given twice")
            if index + 1 >= len(tokens):
                raise ValueError("`step` needs a number after it, e.g. `step 5`")
            step = parse_number(value_type, tokens[index + 1], "the step")
            if step <= 0:
                raise ValueError("the step must be above 0")
            index += 2
            continue
        if ".." in token:
            if ranged:
                raise ValueError("the range is given twice")
            match = _RANGE.fullmatch(token)
            if match is None:
                raise ValueError(f"`{token}` is not a range: write LOW..HIGH, LOW.. or ..HIGH, e.g. 1..60")
            low_text, high_text = match.group(1), match.group(2)
            if not low_text and not high_text:
                raise ValueError("a range needs at least one end: 1..60, 1.. or ..60")
            low = parse_number(value_type, low_text, "the minimum") if low_text else None
            high = parse_number(value_type, high_text, "the maximum") if high_text else None
            if low is not None and high is not None and low > high:
                raise ValueError(f"the minimum {low_text} is above the maximum {high_text}")
            ranged = True
            index += 1
            continue
        raise ValueError(f"unexpected `{token}`: {word} takes a range (1..60, 1.., ..60) and `step N`")
    return ValueSpec(value_type, minimum=low, maximum=high, step=step)


def _text_spec(word: str, options: str) -> ValueSpec:
    tokens = options.split()
    multiline = False
    max_length: int | None = None
    index = 0
    while index < len(tokens):
        keyword = tokens[index].lower()
        if keyword in ("multiline", "multi-line"):
            multiline = True
            index += 1
            continue
        if keyword == "max":
            if max_length is not None:
                raise ValueError("`max` is given twice")
            count = tokens[index + 1] if index + 1 < len(tokens) else ""
            if not _WHOLE.fullmatch(count) or not 1 <= int(count) <= MAX_LENGTH_LIMIT:
                raise ValueError(f"`max` needs a whole number of characters from 1 to {MAX_LENGTH_LIMIT}")
            max_length = int(count)
            index += 2
            continue
        raise ValueError(f"unexpected `{tokens[index]}`: {word} takes `multiline` and `max N`")
    if max_length is None:
        max_length = MULTILINE_MAX_LENGTH if multiline else TEXT_MAX_LENGTH
    return ValueSpec(P.VALUE_TYPE_MULTILINE if multiline else P.VALUE_TYPE_STRING, max_length=max_length)


def _choice_spec(options: str) -> ValueSpec:
    if not options.strip():
        raise ValueError("a CHOICE needs at least one option: list them separated by |, e.g. `CHOICE photo | sketch`")
    listed = tuple(option.strip() for option in options.split("|"))
    empty = next((index for index, option in enumerate(listed) if not option), None)
    if empty is not None:
        raise ValueError(f"option {empty + 1} is empty (options are separated by |)")
    check_choices(listed)
    return ValueSpec(P.VALUE_TYPE_CHOICE, choices=listed)


def _type_spec(text: str) -> ValueSpec:
    words = text.split(maxsplit=1)
    if not words:
        raise ValueError(f"the type is missing after the colon: {_TYPE_LIST}")
    word, options = words[0], (words[1] if len(words) > 1 else "")
    value_type = TYPE_WORDS.get(word.upper())
    if value_type is None:
        raise ValueError(f"unknown type `{word}`: use {_TYPE_LIST}")
    if value_type == P.VALUE_TYPE_CHOICE:
        return _choice_spec(options)
    if value_type in (P.VALUE_TYPE_INT, P.VALUE_TYPE_FLOAT):
        return _number_spec(value_type, word.upper(), options)
    if value_type == P.VALUE_TYPE_STRING:
        return _text_spec(word.upper(), options)
    if options.strip():
        raise ValueError(f"a BOOLEAN takes no options (found `{options.strip()}`), only a default: `= yes` or `= no`")
    return ValueSpec(P.VALUE_TYPE_BOOLEAN)


def parse_line(line: str) -> FieldSpec:
    """One field from one line (already stripped, not blank, not a comment); ``ValueError``
    saying what is wrong."""
    name, label, rest = _split_head(line)
    check_name(name)
    if label is not None:
        label = label.strip()
        if not label:
            raise ValueError('the label is empty: leave the quotes out to use the name ("" is not a label)')
        if len(label) > MAX_LABEL_LENGTH:
            raise ValueError(f"the label is {len(label)} characters long; at most {MAX_LABEL_LENGTH} are allowed")
    # The first "=" starts the default, so a text default may contain "=" too.
    type_text, _, default_text = rest.partition("=")
    spec = _type_spec(type_text)
    try:
        default = spec.parse_default(default_text.strip())
    except ValueError as exc:
        if spec.value_type == P.VALUE_TYPE_CHOICE and "|" in default_text:
            raise ValueError(f"{exc} (an option cannot contain =: the first = starts the default)") from None
        raise
    return FieldSpec(name, label if label is not None else default_label(name), spec, default)


def parse_fields(text: str) -> FormSpec:
    """The form declared by the ``fields`` widget, or :class:`FormSyntaxError` listing every
    mistake by line. Bounded: the text's length is checked before anything is parsed."""
    if len(text) > MAX_FIELDS_TEXT:
        raise FormSyntaxError(
            [f"the fields text is {len(text)} characters long; at most {MAX_FIELDS_TEXT} are allowed"]
        )
    errors: list[str] = []
    fields: list[FieldSpec] = []
    seen: dict[str, tuple[int, str]] = {}  # casefolded name -> (line number, name)
    text_characters = 0
    options = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            if len(fields) >= MAX_FIELDS:
                raise ValueError(f"a form has at most {MAX_FIELDS} fields")
            field = parse_line(line)
            earlier = seen.get(field.name.casefold())
            if earlier is not None:
                ignoring_case = (
                    "" if earlier[1] == field.name else f" as `{earlier[1]}` (names are compared ignoring case)"
                )
                raise ValueError(f"the name `{field.name}` is already used on line {earlier[0]}{ignoring_case}")
            if field.spec.value_type in STRING_TYPES:
                text_characters += field.spec.max_length
                if text_characters > MAX_LENGTH_LIMIT:
                    raise ValueError(
                        f"the TEXT fields together allow {text_characters} characters; at most {MAX_LENGTH_LIMIT} "
                        "fit in one answer: give some a smaller `max N`"
                    )
            options += len(field.spec.choices)
            if options > MAX_FORM_OPTIONS:
                raise ValueError(
                    f"the form's CHOICE fields have {options} options in all; at most {MAX_FORM_OPTIONS} are allowed"
                )
        except ValueError as exc:
            errors.append(f"line {number} (`{_excerpt(line)}`): {exc}")
            if len(fields) >= MAX_FIELDS:
                break  # every further line would say the same
            continue
        seen[field.name.casefold()] = (number, field.name)
        fields.append(field)
    if errors:
        raise FormSyntaxError(errors[:MAX_ERRORS_LISTED], more=max(0, len(errors) - MAX_ERRORS_LISTED))
    if not fields:
        raise FormSyntaxError([f"the form has no fields: write one per line, e.g. {_EXAMPLE}"])
    return FormSpec(fields)
