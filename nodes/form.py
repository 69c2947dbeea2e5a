"""The form: the run waits until a person fills in several typed values in one dialog, and
goes on with all of them at once.

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

import asyncio
import json
import re
from typing import Any, ClassVar

from ..images.batches import question_image_fields, question_images
from ..questions.describe import summarize
from ..questions.values import (
    DEFAULT_MAX_LENGTH,
    MAX_LENGTH_LIMIT,
    SOURCE_DEFAULT,
    SOURCE_LAST_ANSWER,
    SOURCE_PERSON,
    SOURCE_TIMEOUT,
    STRING_TYPES,
    FieldSpec,
    FormAnswers,
    FormSpec,
    ValueSpec,
    check_choices,
    parse_number,
)
from ..server import comfy as _comfy
from ..server import protocol as P
from .base import MAX_TIMEOUT_S, MEMORY_HIDDEN_INPUTS, HitlNode, audit_ui, check_option, end_run_interrupted
from .memory import LastAnswerMemory

# The memory of "use last answers" is the one every node shares (nodes/memory.py), holding the
# value prompt's kind of remembered answer.
from .value_prompt import RememberedAnswer, recall_answer

#: The ComfyUI type of the ``form`` output: a :class:`FormAnswers` (a dict of typed answers).
FORM_TYPE = "HITL_FORM"
#: The node id of the companion node that takes one field out of a form.
FORM_FIELD_NODE = "HitlFormField"

MODE_ALWAYS_ASK = "always ask"
MODE_LAST_ANSWERS = "use last answers"
MODE_PASS_DEFAULTS = "pass defaults"  # noqa: S105 (a mode's name, not a password)
MODES = (MODE_ALWAYS_ASK, MODE_LAST_ANSWERS, MODE_PASS_DEFAULTS)

ON_TIMEOUT_DEFAULTS = "use defaults"
ON_TIMEOUT_CANCEL = "cancel run"
ON_TIMEOUT_ACTIONS = (ON_TIMEOUT_DEFAULTS, ON_TIMEOUT_CANCEL)

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


def consumer_errors(form: FormSpec, prompt: Any, form_node_id: str | None) -> list[str]:
    """Form Field nodes of this prompt, fed by this form, that ask for a field it lacks: found
    before the person is asked, not after they filled the form in."""
    if not isinstance(prompt, dict) or form_node_id is None:
        return []
    problems = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict) or node.get("class_type") != FORM_FIELD_NODE:
            continue
        inputs = node.get("inputs")
        link = inputs.get("form") if isinstance(inputs, dict) else None
        name = inputs.get("name") if isinstance(inputs, dict) else None
        if isinstance(link, list) and len(link) == 2 and str(link[0]) == form_node_id and isinstance(name, str):
            try:
                form.field(name.strip())
            except LookupError as exc:
                problems.append(f"Form Field #{node_id}: {exc}")
    return problems


class Form(HitlNode):
    """Asks the person to fill in a form of typed fields (declared one per line in
    ``fields``) in one dialog, and outputs every answer at once: ``form`` (a dict of typed
    answers, for Form Field nodes) and ``json`` (the same as text).

    Modes: "always ask"; "use last answers" (ask until this node has answers, then pass them
    on without asking); "pass defaults" (never ask, for unattended runs). With a timeout, the
    defaults are used or the run is cancelled. An IMAGE input is shown beside the form.
    """

    DISPLAY_NAME = "Form (ask a person)"
    RETURN_TYPES = (FORM_TYPE, "STRING")
    RETURN_NAMES = ("form", "json")
    OUTPUT_TOOLTIPS = (
        "Every answer, typed (a choice by its label): connect Form Field nodes to take one field each",
        'The answers as a JSON object, e.g. {"steps": 30, "style": "sketch"}',
    )
    FUNCTION = "fill_in"
    MEMORY_FACTORY = LastAnswerMemory
    memory: ClassVar[LastAnswerMemory[RememberedAnswer]]  # made by HitlNode.bind, keyed by (workflow, node)

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "fields": (
                    "STRING",
                    {
                        "default": DEFAULT_FIELDS,
                        "multiline": True,
                        "tooltip": "One field per line: name: TYPE options = default. Types: INT 1..60 step 5, "
                        "FLOAT 0..1 step 0.05, TEXT (multiline, max N), BOOLEAN, CHOICE a | b | c. "
                        'A label in quotes after the name: steps "Refiner steps": INT. # starts a comment line',
                    },
                ),
                "title": ("STRING", {"default": "Settings", "tooltip": "The dialog's title"}),
                "message": (
                    "STRING",
                    {"default": "", "multiline": True, "tooltip": "Shown above the fields (optional)"},
                ),
                "timeout_seconds": (
                    "INT",
                    {"default": 0, "min": 0, "max": MAX_TIMEOUT_S, "tooltip": "0 waits forever"},
                ),
                "on_timeout": (list(ON_TIMEOUT_ACTIONS), {"default": ON_TIMEOUT_DEFAULTS}),
                "mode": (
                    list(MODES),
                    {
                        "default": MODE_ALWAYS_ASK,
                        "tooltip": "always ask; use last answers (ask once, then reuse them); "
                        "pass defaults (never ask)",
                    },
                ),
            },
            "optional": {
                "text": (
                    "STRING",
                    {
                        "forceInput": True,
                        "tooltip": "Text from the workflow (e.g. a generated caption): the starting answer of the "
                        "first TEXT field, so it can be edited; the message when there is no TEXT field",
                    },
                ),
                "image": ("IMAGE", {"tooltip": "Shown beside the form"}),
            },
            # The API prompt (``api_prompt``) is also how the form checks, before asking, that
            # Form Field nodes ask for fields that exist.
            "hidden": dict(MEMORY_HIDDEN_INPUTS),
        }

    @classmethod
    def VALIDATE_INPUTS(cls, fields: Any = None) -> bool | str:
        # Queue-time check, so a mistake shows on the node before anything runs. A widget
        # turned into a linked input arrives as None: checked when it runs.
        if fields is None:
            return True
        try:
            parse_fields(fields)
        except (ValueError, TypeError, AttributeError) as exc:
            return str(exc)
        return True

    @classmethod
    def IS_CHANGED(
        cls, mode: str = MODE_ALWAYS_ASK, unique_id: Any = None, hitl_workflow: Any = None, **_inputs: Any
    ) -> Any:
        # ComfyUI reuses the node's last outputs when this value (and every input, our
        # workflow stamp included) equals last run's.
        if mode == MODE_PASS_DEFAULTS:
            return MODE_PASS_DEFAULTS  # the widgets (part of the cache key) decide
        if mode == MODE_LAST_ANSWERS:
            remembered = cls.remembered_for_cache(unique_id, hitl_workflow)
            if remembered is not None:
                # Unchanged while the remembered answers are, so downstream stages stay cached.
                return json.dumps([remembered.value_type, remembered.value])
        return float("nan")  # a fresh NaN never equals the last one: ask again

    async def fill_in(
        self,
        fields: str = DEFAULT_FIELDS,
        title: str = "Settings",
        message: str = "",
        timeout_seconds: int = 0,
        on_timeout: str = ON_TIMEOUT_DEFAULTS,
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
        form = parse_fields(fields)
        node_key = str(unique_id) if unique_id is not None else _comfy.executing_context()[1]
        problems = consumer_errors(form, api_prompt, node_key)
        if problems:
            raise ValueError("; ".join(problems))
        starting: dict[str, Any] = {}
        if text is not None:
            first_text = next((field for field in form.fields if field.spec.value_type in STRING_TYPES), None)
            if first_text is None:
                message = text
            else:
                try:
                    starting[first_text.name] = first_text.spec.parse_default(text)
                except ValueError as exc:
                    raise ValueError(f"the text input does not fit the field {first_text.name}: {exc}") from None
        defaults = form.defaults(starting)
        if mode == MODE_PASS_DEFAULTS:
            return self._result(form, defaults, SOURCE_DEFAULT)

        key = self.memory_key(unique_id, stamped=hitl_workflow, api_prompt=api_prompt, extra_pnginfo=extra_pnginfo)
        if mode == MODE_LAST_ANSWERS:
            recalled = recall_answer(self.memory, key, P.KIND_FORM, form.validate)
            if recalled is not None:
                return self._result(form, recalled[0], SOURCE_LAST_ANSWER)

        resources = None
        if image is not None:
            # Wrapping a batch may copy it (a tensor off the CPU): keep the prompt's event loop
            # free. Its thumbnails start once the request is out.
            resources = await asyncio.to_thread(question_images, image)
        payload = {
            "title": title,
            "message": message,
            "fields": form.describe(starting),
            "timeout_uses_default": on_timeout == ON_TIMEOUT_DEFAULTS,
            **question_image_fields(resources),
        }
        outcome = await self.ask(
            P.KIND_FORM,
            payload,
            unique_id=unique_id,
            extra_pnginfo=extra_pnginfo,
            timeout_s=timeout_seconds,
            validate=form.validate,
            resources=resources,
            summary=summarize(title, f"{len(form.fields)} fields"),
        )
        if outcome.answered:
            self.memory.remember(key, RememberedAnswer(P.KIND_FORM, outcome.value))
            return self._result(form, outcome.value, SOURCE_PERSON, audit_ui(outcome, extra_pnginfo))
        if outcome.reason == P.REASON_TIMEOUT and on_timeout == ON_TIMEOUT_DEFAULTS:
            return self._result(form, defaults, SOURCE_TIMEOUT, audit_ui(outcome, extra_pnginfo))
        end_run_interrupted(outcome)

    @staticmethod
    def _result(
        form: FormSpec, answers: dict[str, Any], source: str, audit: dict[str, list[Any]] | None = None
    ) -> dict[str, Any]:
        # The ui part lands in ComfyUI's history: the whole form's answers, how they came, and
        # (when someone was asked) the record of who answered and when.
        return {
            "ui": {"answer": [dict(answers)], "source": [source], **(audit or {})},
            "result": (FormAnswers(form, answers), json.dumps(answers, ensure_ascii=False)),
        }
