"""The form node: its grammar (every good and bad line, every message, the limits), the
queue-time check, and the node run by the stand-in host as ComfyUI runs it (modes, timeout,
text and image inputs, the history record, Form Field nodes checked before asking)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from dev.harness.host import HarnessHost, NodeCall
from dev.harness.pack import load_pack, submodule

form = submodule("nodes.form")
forms = submodule("questions.forms")
memory = submodule("nodes.memory")
answer_types = submodule("questions.values")
state = submodule("state")
P = submodule("server.protocol")

NODE = "HitlForm"
INT, FLOAT, STRING, MULTILINE, BOOLEAN, CHOICE = P.VALUE_TYPES
SAFE = 2**53 - 1


# ------------------------------------------------------------------ the grammar
#: (line, what its field must be: name, label, then the browser's view of it)
GOOD_LINES = [
    ("steps: INT 1..60 = 20", {"name": "steps", "label": "Steps", "type": INT, "min": 1, "max": 60, "default": 20}),
    ("steps: INT", {"type": INT, "min": None, "max": None, "step": None, "default": 0}),
    ("steps: INT 1..", {"min": 1, "max": None, "default": 1}),  # no default: 0, or the bound nearest to it
    ("steps: INT ..60", {"min": None, "max": 60, "default": 0}),
    ("offset: INT -10..-2", {"min": -10, "max": -2, "default": -2}),
    ("offset: INT -10 .. 10 = -3", {"min": -10, "max": 10, "default": -3}),  # spaces around ..
    ("steps: INT 0..100 step 5 = 25", {"step": 5, "default": 25}),
    ("steps: INT step 5 0..100", {"step": 5, "min": 0, "max": 100}),  # options in any order
    ("steps: int 1..60", {"type": INT}),  # type words in any case
    (f"big: INT {-SAFE}..{SAFE}", {"min": -SAFE, "max": SAFE}),
    ("denoise: FLOAT 0..1 step 0.05 = 0.55", {"type": FLOAT, "min": 0.0, "max": 1.0, "step": 0.05, "default": 0.55}),
    ("scale: FLOAT -1.5..-0.5", {"min": -1.5, "max": -0.5, "default": -0.5}),
    ("scale: FLOAT 1e-3..1e3 = 2.5e1", {"min": 0.001, "max": 1000.0, "default": 25.0}),
    ("cfg: FLOAT = 7", {"default": 7.0, "default_text": "7.0"}),
    ("prompt: TEXT = a lighthouse at dusk", {"type": STRING, "max_length": 1000, "default": "a lighthouse at dusk"}),
    ("prompt: TEXT multiline = a lighthouse", {"type": MULTILINE, "max_length": 10_000}),
    ("prompt: TEXT multi-line max 500", {"type": MULTILINE, "max_length": 500, "default": ""}),
    ("prompt: STRING max 20 = short", {"type": STRING, "max_length": 20, "default": "short"}),
    ("expr: TEXT = a=b == c", {"default": "a=b == c"}),  # everything after the first = is the default
    ("url: TEXT = http://x.example/?a=1#top", {"default": "http://x.example/?a=1#top"}),
    ("empty: TEXT =", {"default": ""}),
    ("markup: TEXT = <b>not bold</b>", {"default": "<b>not bold</b>"}),
    ("upscale: BOOLEAN = yes", {"type": BOOLEAN, "default": True, "default_text": "true"}),
    ("upscale: BOOLEAN = Off", {"default": False}),
    ("upscale: BOOLEAN", {"default": False}),
    (
        "style: CHOICE photo | painting | sketch = sketch",
        {"type": CHOICE, "choices": ["photo", "painting", "sketch"], "default": 2},
    ),
    ("style: CHOICE oil painting|  pencil sketch  ", {"choices": ["oil painting", "pencil sketch"], "default": 0}),
    ("style: CHOICE one", {"choices": ["one"], "default": 0}),
    ("style: CHOICE 1..2 | #3 = #3", {"choices": ["1..2", "#3"], "default": 1}),
    ('steps "Refiner steps": INT 1..60 = 20', {"name": "steps", "label": "Refiner steps"}),
    ('steps"Refiner: steps" : INT', {"label": "Refiner: steps"}),  # a colon inside the label is the label's
    ('steps "  padded  ": INT', {"label": "padded"}),
    ("refiner_steps: INT", {"label": "Refiner steps"}),
    ("_private: INT", {"label": "Private"}),
    ("  indented:INT  ", {"name": "indented"}),
    ("Schritte: INT", {"name": "Schritte"}),
    ("步数: INT = 3", {"name": "步数", "label": "步数"}),
    ("x" * 64 + ": BOOLEAN", {"name": "x" * 64}),
    ('steps "' + "L" * 200 + '": INT', {"label": "L" * 200}),
]


@pytest.mark.parametrize(("line", "expected"), GOOD_LINES)
def test_good_lines_declare_their_field(line: str, expected: dict[str, Any]) -> None:
    [field] = forms.parse_fields(line).describe()
    for key, value in expected.items():
        assert field[key] == value and type(field[key]) is type(value), (key, field)


#: (the fields text, the whole refusal: every message checked)
BAD_LINES = [
    (
        "style: CHOICE",
        "line 1 (`style: CHOICE`): a CHOICE needs at least one option: list them separated by |, e.g. `CHOICE photo | sketch`",
    ),
    (
        "style: CHOICE   = x",
        "line 1 (`style: CHOICE   = x`): a CHOICE needs at least one option: list them separated by |, e.g. `CHOICE photo | sketch`",
    ),
    (
        "style: CHOICE photo || sketch",
        "line 1 (`style: CHOICE photo || sketch`): option 2 is empty (options are separated by |)",
    ),
    (
        "style: CHOICE photo | sketch |",
        "line 1 (`style: CHOICE photo | sketch |`): option 3 is empty (options are separated by |)",
    ),
    ("style: CHOICE a | b | a", "line 1 (`style: CHOICE a | b | a`): the choice 'a' is listed twice"),
    ("style: CHOICE a | b = c", "line 1 (`style: CHOICE a | b = c`): the default 'c' is not one of the choices"),
    ("style: CHOICE a | b = A", "line 1 (`style: CHOICE a | b = A`): the default 'A' is not one of the choices"),
    (
        "style: CHOICE a=1 | b=2",
        "line 1 (`style: CHOICE a=1 | b=2`): the default '1 | b=2' is not one of the choices (an option cannot contain =: the first = starts the default)",
    ),
    (
        "s: CHOICE a | " + "x" * 501,
        "line 1 (`s: CHOICE a | xxxxxxxxxxxxxxxxxxxxxxxxx…`): a choice is longer than 500 characters: '"
        + "x" * 40
        + "'…",
    ),
    ("steps: INT 1..60 = 70", "line 1 (`steps: INT 1..60 = 70`): the default: 70 is above the maximum 60"),
    ("steps: INT 1..60 = 0", "line 1 (`steps: INT 1..60 = 0`): the default: 0 is below the minimum 1"),
    ("steps: INT 1..60 = 2.5", "line 1 (`steps: INT 1..60 = 2.5`): the default '2.5' is not a whole number"),
    ("steps: INT = twenty", "line 1 (`steps: INT = twenty`): the default 'twenty' is not a whole number"),
    ("steps: INT 1.5..60", "line 1 (`steps: INT 1.5..60`): the minimum '1.5' is not a whole number"),
    ("steps: INT 1..6e1", "line 1 (`steps: INT 1..6e1`): the maximum '6e1' is not a whole number"),
    ("steps: INT 60..1", "line 1 (`steps: INT 60..1`): the minimum 60 is above the maximum 1"),
    ("steps: INT ..", "line 1 (`steps: INT ..`): a range needs at least one end: 1..60, 1.. or ..60"),
    (
        "steps: INT 1...5",
        "line 1 (`steps: INT 1...5`): `1...5` is not a range: write LOW..HIGH, LOW.. or ..HIGH, e.g. 1..60",
    ),
    (
        "steps: INT 1-60",
        "line 1 (`steps: INT 1-60`): unexpected `1-60`: INT takes a range (1..60, 1.., ..60) and `step N`",
    ),
    (
        "steps: INT 1 to 60",
        "line 1 (`steps: INT 1 to 60`): unexpected `1`: INT takes a range (1..60, 1.., ..60) and `step N`",
    ),
    ("steps: INT 1..60 1..50", "line 1 (`steps: INT 1..60 1..50`): the range is given twice"),
    ("steps: INT step", "line 1 (`steps: INT step`): `step` needs a number after it, e.g. `step 5`"),
    ("steps: INT step 0", "line 1 (`steps: INT step 0`): the step must be above 0"),
    ("steps: INT step -5", "line 1 (`steps: INT step -5`): the step must be above 0"),
    ("steps: INT step 2 step 3", "line 1 (`steps: INT step 2 step 3`): `step` is given twice"),
    ("steps: INT step 0.5", "line 1 (`steps: INT step 0.5`): the step '0.5' is not a whole number"),
    (f"steps: INT {SAFE + 1}..", f"line 1 (`steps: INT {SAFE + 1}..`): the minimum '{SAFE + 1}' is not within ±{SAFE}"),
    ("d: FLOAT 0..1e999", "line 1 (`d: FLOAT 0..1e999`): the maximum must be a finite number"),
    (
        "d: FLOAT nan..1",
        "line 1 (`d: FLOAT nan..1`): `nan..1` is not a range: write LOW..HIGH, LOW.. or ..HIGH, e.g. 1..60",
    ),
    ("d: FLOAT inf", "line 1 (`d: FLOAT inf`): unexpected `inf`: FLOAT takes a range (1..60, 1.., ..60) and `step N`"),
    ("d: FLOAT 0..1 step x", "line 1 (`d: FLOAT 0..1 step x`): the step 'x' is not a number"),
    ("d: FLOAT 0..1 = high", "line 1 (`d: FLOAT 0..1 = high`): the default 'high' is not a number"),
    ("d: FLOAT 0..1 = -0.1", "line 1 (`d: FLOAT 0..1 = -0.1`): the default: -0.1 is below the minimum 0.0"),
    ("d: FLOAT = nan", "line 1 (`d: FLOAT = nan`): the default must be a finite number"),
    ("t: TEXT max", "line 1 (`t: TEXT max`): `max` needs a whole number of characters from 1 to 60000"),
    ("t: TEXT max 0", "line 1 (`t: TEXT max 0`): `max` needs a whole number of characters from 1 to 60000"),
    ("t: TEXT max 60001", "line 1 (`t: TEXT max 60001`): `max` needs a whole number of characters from 1 to 60000"),
    ("t: TEXT max 1.5", "line 1 (`t: TEXT max 1.5`): `max` needs a whole number of characters from 1 to 60000"),
    ("t: TEXT max 10 max 20", "line 1 (`t: TEXT max 10 max 20`): `max` is given twice"),
    (
        "t: TEXT max 3 = abcd",
        "line 1 (`t: TEXT max 3 = abcd`): the default is 4 characters long; at most 3 are allowed",
    ),
    (
        "t: TEXT = " + "x" * 1001,
        "line 1 (`t: TEXT = xxxxxxxxxxxxxxxxxxxxxxxxxxxxx…`): the default is 1001 characters long; at most 1000 are allowed",
    ),
    ("t: TEXT wide", "line 1 (`t: TEXT wide`): unexpected `wide`: TEXT takes `multiline` and `max N`"),
    ("u: BOOLEAN = maybe", "line 1 (`u: BOOLEAN = maybe`): the default 'maybe' is not true or false"),
    (
        "u: BOOLEAN yes",
        "line 1 (`u: BOOLEAN yes`): a BOOLEAN takes no options (found `yes`), only a default: `= yes` or `= no`",
    ),
    ("x: BOOL", "line 1 (`x: BOOL`): unknown type `BOOL`: use INT, FLOAT, TEXT, BOOLEAN or CHOICE"),
    ("x: INT1..5", "line 1 (`x: INT1..5`): unknown type `INT1..5`: use INT, FLOAT, TEXT, BOOLEAN or CHOICE"),
    ("x:", "line 1 (`x:`): the type is missing after the colon: INT, FLOAT, TEXT, BOOLEAN or CHOICE"),
    ("x: = 5", "line 1 (`x: = 5`): the type is missing after the colon: INT, FLOAT, TEXT, BOOLEAN or CHOICE"),
    (": INT", "line 1 (`: INT`): a line starts with the field's name, e.g. `steps: INT 1..60 = 20`"),
    ('"Label": INT', 'line 1 (`"Label": INT`): a line starts with the field\'s name, e.g. `steps: INT 1..60 = 20`'),
    ("steps INT 1..60", "line 1 (`steps INT 1..60`): expected `steps: TYPE …`, e.g. `steps: INT 1..60 = 20`"),
    (
        "my steps: INT",
        'line 1 (`my steps: INT`): a name cannot contain spaces: write `my_steps` (a label in quotes may: `my_steps "my steps":`)',
    ),
    (
        'my big steps "Label": INT',
        'line 1 (`my big steps "Label": INT`): a name cannot contain spaces: write `my_big_steps` (a label in quotes may: `my_big_steps "my big steps":`)',
    ),
    ('steps "Refiner: INT', 'line 1 (`steps "Refiner: INT`): the label has no closing "'),
    (
        'steps "": INT',
        'line 1 (`steps "": INT`): the label is empty: leave the quotes out to use the name ("" is not a label)',
    ),
    (
        'steps "   ": INT',
        'line 1 (`steps "   ": INT`): the label is empty: leave the quotes out to use the name ("" is not a label)',
    ),
    (
        'steps "Refiner" extra: INT',
        'line 1 (`steps "Refiner" extra: INT`): expected a colon after the label, found `extra`',
    ),
    (
        "1st: INT",
        "line 1 (`1st: INT`): `1st` is not a valid name: use letters, digits and _, not starting with a digit",
    ),
    (
        "my-steps: INT",
        "line 1 (`my-steps: INT`): `my-steps` is not a valid name: use letters, digits and _, not starting with a digit",
    ),
    ("__proto__: INT", "line 1 (`__proto__: INT`): `__proto__`: names starting with __ are reserved"),
    ("a" * 65 + ": INT", "line 1 (`" + "a" * 39 + "…`): the name is 65 characters long; at most 64 are allowed"),
    (
        'steps "' + "L" * 201 + '": INT',
        'line 1 (`steps "' + "L" * 32 + "…`): the label is 201 characters long; at most 200 are allowed",
    ),
    # Form-level mistakes, each on the line that makes it.
    (
        "steps: INT\n\n# a comment\nSteps: FLOAT",
        "line 4 (`Steps: FLOAT`): the name `Steps` is already used on line 1 as `steps` (names are compared ignoring case)",
    ),
    ("steps: INT\nsteps: INT", "line 2 (`steps: INT`): the name `steps` is already used on line 1"),
    ("", "the form has no fields: write one per line, e.g. `steps: INT 1..60 = 20`"),
    (
        "\n  \n# only comments\n   # here too\n",
        "the form has no fields: write one per line, e.g. `steps: INT 1..60 = 20`",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_LINES)
def test_bad_lines_are_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(forms.FormSyntaxError) as refused:
        forms.parse_fields(text)
    assert str(refused.value) == message
    assert len(message) < 300  # a huge line is never echoed whole


def test_every_mistake_is_listed_with_its_line() -> None:
    text = "a: INT\nb: BOOL\nc CHOICE\n# fine\nd: TEXT max 0\ne: INT 5..1\nf: X\ng: Y\nh: INT"
    with pytest.raises(forms.FormSyntaxError) as refused:
        forms.parse_fields(text)
    assert refused.value.errors == [
        "line 2 (`b: BOOL`): unknown type `BOOL`: use INT, FLOAT, TEXT, BOOLEAN or CHOICE",
        "line 3 (`c CHOICE`): expected `c: TYPE …`, e.g. `steps: INT 1..60 = 20`",
        "line 5 (`d: TEXT max 0`): `max` needs a whole number of characters from 1 to 60000",
        "line 6 (`e: INT 5..1`): the minimum 5 is above the maximum 1",
        "line 7 (`f: X`): unknown type `X`: use INT, FLOAT, TEXT, BOOLEAN or CHOICE",
    ]
    assert str(refused.value).endswith("\n(and 1 more)")


def test_comments_blank_lines_and_windows_line_ends() -> None:
    text = "# settings for the refiner\r\n\r\n  steps: INT 1..60 = 20\r\n# style\r\nstyle: CHOICE a | b\r\n"
    assert forms.parse_fields(text).names() == ["steps", "style"]
    # A # inside a line is not a comment: it belongs to the default or an option.
    [field] = forms.parse_fields("colour: TEXT = #ff8800 # not a comment").describe()
    assert field["default"] == "#ff8800 # not a comment"


def test_the_default_fields_are_the_documented_example() -> None:
    described = forms.parse_fields(forms.DEFAULT_FIELDS).describe()
    assert [(f["name"], f["type"], f["default"]) for f in described] == [
        ("steps", INT, 20),
        ("denoise", FLOAT, 0.55),
        ("prompt", MULTILINE, "a lighthouse at dusk"),
        ("style", CHOICE, 0),
        ("upscale", BOOLEAN, True),
    ]


# ------------------------------------------------------------------------ limits
def test_limit_on_the_number_of_fields() -> None:
    at_limit = "\n".join(f"f{i}: BOOLEAN" for i in range(forms.MAX_FIELDS))
    assert len(forms.parse_fields(at_limit).fields) == forms.MAX_FIELDS
    with pytest.raises(forms.FormSyntaxError) as refused:
        forms.parse_fields(at_limit + "\nextra: INT\nmore: INT")
    assert refused.value.errors == [f"line {forms.MAX_FIELDS + 1} (`extra: INT`): a form has at most 50 fields"]


def test_limit_on_the_length_of_the_fields_text_is_checked_first() -> None:
    huge = "x" * (forms.MAX_FIELDS_TEXT + 1)  # not even a valid line: the length is refused before parsing
    with pytest.raises(forms.FormSyntaxError) as refused:
        forms.parse_fields(huge)
    assert str(refused.value) == "the fields text is 20001 characters long; at most 20000 are allowed"


def test_limit_on_the_text_fields_together() -> None:
    six = "\n".join(f"t{i}: TEXT multiline" for i in range(6))  # 6 x 10,000 = 60,000: fits one answer
    assert len(forms.parse_fields(six).fields) == 6
    with pytest.raises(forms.FormSyntaxError) as refused:
        forms.parse_fields(six + "\nlast: TEXT max 1")
    assert str(refused.value) == (
        "line 7 (`last: TEXT max 1`): the TEXT fields together allow 60001 characters; at most 60000 fit "
        "in one answer: give some a smaller `max N`"
    )
    assert len(forms.parse_fields(six.replace("multiline", "multiline max 5000") + "\nlast: TEXT").fields) == 7


def test_limit_on_choice_options() -> None:
    options = " | ".join(f"o{i}" for i in range(100))
    five = "\n".join(f"c{i}: CHOICE {options}" for i in range(5))  # 500 options in all
    assert len(forms.parse_fields(five).fields) == 5
    with pytest.raises(forms.FormSyntaxError) as refused:
        forms.parse_fields(five + "\nlast: CHOICE a")
    assert refused.value.errors == [
        "line 6 (`last: CHOICE a`): the form's CHOICE fields have 501 options in all; at most 500 are allowed"
    ]
    many = " | ".join(f"o{i}" for i in range(501))
    with pytest.raises(forms.FormSyntaxError, match="there are 501 choices; at most 500 are allowed"):
        forms.parse_fields(f"c: CHOICE {many}")


def test_validate_inputs_reports_mistakes_at_queue_time() -> None:
    node = form.Form
    assert node.VALIDATE_INPUTS(fields=forms.DEFAULT_FIELDS) is True
    assert node.VALIDATE_INPUTS(fields="steps: INT 1..60\nstyle: CHOICE") == (
        "line 2 (`style: CHOICE`): a CHOICE needs at least one option: list them separated by |, e.g. `CHOICE photo | sketch`"
    )
    assert node.VALIDATE_INPUTS(fields=None) is True  # a linked input: checked when it runs


# ---------------------------------------------------------------------- the node
def test_nodes_are_registered_with_their_types() -> None:
    pack = load_pack()
    assert {NODE, "HitlFormField"} <= set(pack.NODE_CLASS_MAPPINGS)
    assert pack.NODE_DISPLAY_NAME_MAPPINGS[NODE] == "Form (ask a person)"
    assert pack.NODE_DISPLAY_NAME_MAPPINGS["HitlFormField"] == "Form Field (one answer)"
    node = form.Form
    assert node.RETURN_TYPES == ("HITL_FORM", "STRING") and node.RETURN_NAMES == ("form", "json")
    assert len(node.OUTPUT_TOOLTIPS) == 2
    inputs = node.INPUT_TYPES()
    assert list(inputs["required"]) == ["fields", "title", "message", "timeout_seconds", "on_timeout", "mode"]
    assert inputs["required"]["mode"][0] == ["always ask", "use last answers", "pass defaults"]
    assert inputs["required"]["on_timeout"][0] == ["use defaults", "cancel run"]
    assert inputs["required"]["fields"][1]["multiline"] is True
    assert set(inputs["optional"]) == {"text", "image"}
    assert inputs["hidden"] == {
        "unique_id": "UNIQUE_ID",
        "extra_pnginfo": "EXTRA_PNGINFO",
        "api_prompt": "PROMPT",
        memory.IDENTITY_INPUT: memory.IDENTITY_TYPE,
    }
    # Every widget has a default, so a saved workflow of an older version still loads.
    assert all("default" in spec[1] for spec in inputs["required"].values())


def ask(host: HarnessHost, node_id: str = "1", **inputs: Any) -> Any:
    return host.submit(NODE, inputs, node_id=node_id)


EXAMPLE = 'steps "Refiner steps": INT 1..60 = 20\ndenoise: FLOAT 0..1 step 0.05 = 0.55\nprompt: TEXT multiline = a lighthouse\nstyle: CHOICE photo | painting | sketch = photo\nupscale: BOOLEAN = yes'


def test_answer_comes_out_as_one_typed_object(host: HarnessHost) -> None:
    run = ask(host, fields=EXAMPLE, title="Before the refiner", message="Set them all")
    [view] = host.wait_waiting(run)
    payload = view["payload"]
    assert view["kind"] == "form" and payload["title"] == "Before the refiner" and payload["message"] == "Set them all"
    assert [(f["name"], f["label"]) for f in payload["fields"]][:2] == [
        ("steps", "Refiner steps"),
        ("denoise", "Denoise"),
    ]
    answer = {"steps": 30, "denoise": 0.4, "prompt": "a lighthouse,\nstorm", "style": 2, "upscale": False}
    host.registry.answer(view["id"], answer)
    result = run.wait().outputs[0]
    assert run.status == "success", run.error
    typed, text = result["result"]
    expected = {"steps": 30, "denoise": 0.4, "prompt": "a lighthouse,\nstorm", "style": "sketch", "upscale": False}
    assert typed == expected and list(typed) == list(expected)  # the form's order
    assert isinstance(typed, forms.FormAnswers) and isinstance(typed, dict)
    assert json.loads(text) == expected
    # The history records the whole form's answer and how it came.
    [record] = result["ui"].pop("hitl_audit")  # and who answered, when: the request's record
    assert result["ui"] == {"answer": [expected], "source": ["person"]}
    assert json.loads(json.dumps(result["ui"])) == result["ui"]
    assert record == host.audit.find(view["id"]).as_json() and record["summary"] == "Before the refiner (5 fields)"
    assert record["answer"] == expected and record["outcome"] == "answered"


def test_json_output_keeps_unicode_readable(host: HarnessHost) -> None:
    run = ask(host, fields="caption: TEXT")
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], {"caption": "crème brûlée 🍮"})
    assert run.wait().outputs[0]["result"][1] == '{"caption": "crème brûlée 🍮"}'


def test_refused_answers_change_nothing_and_name_the_field(host: HarnessHost) -> None:
    run = ask(host, fields=EXAMPLE)
    [view] = host.wait_waiting(run)
    good = {"steps": 30, "denoise": 0.4, "prompt": "x", "style": "photo", "upscale": True}
    for bad, field in [
        ({**good, "steps": 61}, "steps"),
        ({**good, "denoise": "0.5"}, "denoise"),
        ({k: v for k, v in good.items() if k != "prompt"}, "prompt"),
        ({**good, "extra": 1}, None),
        (list(good.values()), None),
    ]:
        with pytest.raises(state.InvalidAnswer) as refused:
            host.registry.answer(view["id"], bad)
        assert refused.value.field == field
        assert host.registry.get(view["id"]).state == "waiting" and not run.done.is_set()
    host.registry.answer(view["id"], good)
    assert run.wait().outputs[0]["result"][0]["steps"] == 30


def test_cancel_and_interrupt_end_the_run_as_interrupted(host: HarnessHost) -> None:
    run = ask(host, fields=EXAMPLE)
    [view] = host.wait_waiting(run)
    host.registry.cancel(view["id"])
    assert run.wait().status == "interrupted"
    run = ask(host, fields=EXAMPLE)
    host.wait_waiting(run)
    host.interrupt.raise_flag()
    assert run.wait().status == "interrupted"


def test_timeout_uses_the_defaults(host: HarnessHost) -> None:
    run = ask(host, fields=EXAMPLE, timeout_seconds=0.2, on_timeout="use defaults")
    [view] = host.wait_waiting(run)
    assert view["payload"]["timeout_uses_default"] is True and view["timeout_s"] == 0.2
    result = run.wait(5).outputs[0]
    assert result["result"][0] == {
        "steps": 20,
        "denoise": 0.55,
        "prompt": "a lighthouse",
        "style": "photo",
        "upscale": True,
    }
    assert result["ui"]["source"] == ["timeout default"]
    assert result["ui"]["hitl_audit"][0]["outcome"] == "timed_out"


def test_timeout_can_cancel_the_run(host: HarnessHost) -> None:
    run = ask(host, fields=EXAMPLE, timeout_seconds=0.2, on_timeout="cancel run")
    assert run.wait(5).status == "interrupted"
    assert host.registry.waiting_count() == 0


def test_pass_defaults_never_asks(host: HarnessHost) -> None:
    before = host.event_count()
    run = ask(host, fields=EXAMPLE, mode="pass defaults")
    result = run.wait().outputs[0]
    assert result["ui"] == {
        "answer": [{"steps": 20, "denoise": 0.55, "prompt": "a lighthouse", "style": "photo", "upscale": True}],
        "source": ["default"],
    }
    assert host.event_count() == before  # no request was opened


def test_use_last_answers_asks_once_then_reuses_them(host: HarnessHost) -> None:
    settings = {"fields": EXAMPLE, "mode": "use last answers"}
    run = ask(host, node_id="5", **settings)
    [view] = host.wait_waiting(run)
    answer = {"steps": 33, "denoise": 0.3, "prompt": "p", "style": 1, "upscale": False}
    host.registry.answer(view["id"], answer)
    first = run.wait().outputs[0]["result"][0]
    before = host.event_count()
    again = ask(host, node_id="5", **settings)
    result = again.wait().outputs[0]
    assert result["result"][0] == first and result["ui"]["source"] == ["last answer"]
    assert host.event_count() == before
    # A reordered choice list still finds the remembered label.
    reordered = ask(
        host, node_id="5", **{**settings, "fields": EXAMPLE.replace("photo | painting", "painting | photo")}
    )
    assert reordered.wait().outputs[0]["result"][0]["style"] == "painting"
    # Fields that changed so the answers no longer fit: ask again.
    narrower = ask(host, node_id="5", **{**settings, "fields": EXAMPLE.replace("1..60", "1..30")})
    [view] = host.wait_waiting(narrower)
    host.registry.cancel(view["id"])
    narrower.wait()
    added = ask(host, node_id="5", **{**settings, "fields": EXAMPLE + "\nseed: INT"})
    [view] = host.wait_waiting(added)  # a new field has no answer yet
    host.registry.cancel(view["id"])
    added.wait()


def test_use_last_answers_is_per_node_and_workflow_and_ignores_timeouts(host: HarnessHost) -> None:
    first = {"workflow": {"id": "wf-a", "nodes": []}}
    run = ask(host, node_id="6", fields="n: INT", mode="use last answers", extra_pnginfo=first)
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], {"n": 7})
    run.wait()
    for other in (
        {"node_id": "7", "extra_pnginfo": first},
        {"node_id": "6", "extra_pnginfo": {"workflow": {"id": "wf-b"}}},
    ):
        run = ask(host, fields="n: INT", mode="use last answers", **other)
        [view] = host.wait_waiting(run)
        host.registry.cancel(view["id"])
        run.wait()
    run = ask(host, node_id="8", fields="n: INT = 3", mode="use last answers", timeout_seconds=0.1)
    assert run.wait(5).outputs[0]["ui"]["source"] == ["timeout default"]
    run = ask(host, node_id="8", fields="n: INT = 3", mode="use last answers")
    [view] = host.wait_waiting(run)  # a default used on timeout is not an answer
    host.registry.cancel(view["id"])
    run.wait()


def test_use_last_answers_tells_nil_id_workflows_apart(host: HarnessHost) -> None:
    """Issue 14: two workflows carrying the nil id, whose form is node #1 with the same
    fields, do not share answers; the same workflow (other widget values) does."""
    nil = {"workflow": {"id": memory.NIL_WORKFLOW_ID, "nodes": []}}
    settings = {"fields": "n: INT", "mode": "use last answers", "extra_pnginfo": nil}
    sizes = {
        "2": {"class_type": "HitlFormField", "inputs": {"form": ["1", 0], "name": "n"}},
        "3": {"class_type": "EmptyImage", "inputs": {"width": ["2", 0], "height": 64}},
    }
    steps = {
        "2": {"class_type": "HitlFormField", "inputs": {"form": ["1", 0], "name": "n"}},
        "3": {"class_type": "KSampler", "inputs": {"steps": ["2", 0], "seed": 1}},
    }
    run = host.submit(NODE, settings, node_id="1", workflow=sizes)
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], {"n": 320})
    assert run.wait().outputs[0]["result"][1] == '{"n": 320}'
    other = host.submit(NODE, settings, node_id="1", workflow=steps)
    [view] = host.wait_waiting(other)  # another workflow, same node id and fields: it asks
    host.registry.answer(view["id"], {"n": 30})
    assert other.wait().outputs[0]["result"][1] == '{"n": 30}'
    tweaked = {**sizes, "3": {"class_type": "EmptyImage", "inputs": {"width": ["2", 0], "height": 512}}}
    again = host.submit(NODE, {**settings, "title": "renamed"}, node_id="1", workflow=tweaked).wait()
    assert again.outputs[0]["result"][1] == '{"n": 320}' and again.outputs[0]["ui"]["source"] == ["last answer"]


def test_is_changed_follows_the_mode() -> None:
    node = form.Form.bind(state.RequestRegistry())
    first, second = node.IS_CHANGED(mode="always ask", unique_id="3"), node.IS_CHANGED(mode="always ask", unique_id="3")
    assert math.isnan(first) and first != second
    assert node.IS_CHANGED(mode="pass defaults", unique_id="3") == node.IS_CHANGED(mode="pass defaults", unique_id="3")
    stamped = {"mode": "use last answers", "unique_id": "3", memory.IDENTITY_INPUT: "id:wf"}
    assert math.isnan(node.IS_CHANGED(**stamped))
    key = memory.MemoryKey("id:wf", "3")
    node.memory.remember(key, memory.Remembered("form", {"n": 1}, '{"n":1}'))
    value = node.IS_CHANGED(**stamped)
    assert value == node.IS_CHANGED(**stamped)
    # Another workflow, or a call without the stamp (which workflow is it?), must run the node.
    assert math.isnan(node.IS_CHANGED(**{**stamped, memory.IDENTITY_INPUT: "id:other"}))
    assert math.isnan(node.IS_CHANGED(mode="use last answers", unique_id="3"))
    node.memory.remember(key, memory.Remembered("form", {"n": 2}, '{"n":2}'))
    assert node.IS_CHANGED(**stamped) != value
    # The memory is the one every node shares (nodes/memory.py), one per bound class.
    assert type(node.memory) is memory.LastAnswerMemory
    assert not hasattr(form.Form, "memory")


def test_text_input_starts_the_first_text_field(host: HarnessHost) -> None:
    caption = "a cat on a windowsill,\nsoft light"
    run = ask(
        host, fields="steps: INT = 4\ncaption: TEXT multiline = old\nnotes: TEXT", text=caption, mode="always ask"
    )
    [view] = host.wait_waiting(run)
    fields = {f["name"]: f for f in view["payload"]["fields"]}
    assert fields["caption"]["default"] == caption and fields["caption"]["default_text"] == caption
    assert fields["notes"]["default"] == "" and view["payload"]["message"] == ""
    host.registry.expire(view["id"])  # on timeout the defaults are used: the text input's too
    assert run.wait().outputs[0]["result"][0]["caption"] == caption


def test_text_input_is_the_message_when_there_is_no_text_field(host: HarnessHost) -> None:
    run = ask(host, fields="ok: BOOLEAN", message="widget message", text="Is 'a cat' right?")
    [view] = host.wait_waiting(run)
    assert view["payload"]["message"] == "Is 'a cat' right?"
    host.registry.cancel(view["id"])
    run.wait()


def test_text_input_that_does_not_fit_is_a_clear_error(host: HarnessHost) -> None:
    run = ask(host, fields="caption: TEXT max 5", text="far too long")
    assert run.wait().status == "error"
    assert "the text input does not fit the field caption: the default is 12 characters long; at most 5" in run.error
    assert host.registry.waiting_count() == 0


def test_image_input_is_shown_beside_the_form(host: HarnessHost) -> None:
    run = ask(host, fields="keep: BOOLEAN", image=np.zeros((20, 8, 12, 3), dtype=np.float32))
    [view] = host.wait_waiting(run)
    assert view["payload"]["image_count"] == 20 and len(view["payload"]["images"]) == 16
    assert view["payload"]["images"][0] == {"index": 0, "width": 12, "height": 8}
    thumb, media_type = host.registry.get(view["id"]).resources.image_bytes(3, "thumb")
    assert media_type == "image/jpeg" and thumb[:2] == b"\xff\xd8"
    host.registry.answer(view["id"], {"keep": True})
    run.wait()


def test_bad_fields_or_settings_end_the_run_with_a_clear_error(host: HarnessHost) -> None:
    run = ask(host, fields="style: CHOICE")
    run.wait()
    assert run.status == "error" and "line 1 (`style: CHOICE`): a CHOICE needs at least one option" in run.error
    run = ask(host, fields="n: INT", mode="sometimes")
    run.wait()
    assert run.status == "error" and "mode must be one of always ask, use last answers, pass defaults" in run.error
    assert host.registry.waiting_count() == 0


def test_form_field_names_are_checked_before_the_person_is_asked(host: HarnessHost) -> None:
    prompt = {
        "1": {"class_type": NODE, "inputs": {"fields": EXAMPLE}},
        "7": {"class_type": "HitlFormField", "inputs": {"form": ["1", 0], "name": "stepz"}},
        "8": {"class_type": "HitlFormField", "inputs": {"form": ["1", 0], "name": " steps "}},
        "9": {"class_type": "HitlFormField", "inputs": {"form": ["2", 0], "name": "other form's"}},
        "10": {"class_type": "HitlFormField", "inputs": {"form": ["1", 0], "name": ["3", 0]}},  # a linked name
    }
    before = host.event_count()
    run = ask(host, fields=EXAMPLE, api_prompt=prompt)
    run.wait()
    assert run.status == "error"
    assert run.error == (
        "ValueError: Form Field #7: the form has no field 'stepz'; its fields are: steps, denoise, prompt, style, upscale"
    )
    assert host.event_count() == before  # nobody was asked
    prompt["7"]["inputs"]["name"] = "Steps"
    run = ask(host, fields=EXAMPLE, api_prompt=prompt)
    run.wait()
    assert "no field 'Steps' (did you mean 'steps'?)" in run.error
    del prompt["7"]
    run = ask(host, fields=EXAMPLE, api_prompt=prompt)
    [view] = host.wait_waiting(run)  # every consumer asks for a field that exists: it asks
    host.registry.cancel(view["id"])
    run.wait()


def test_two_forms_wait_at_once_and_resume_in_any_order(host: HarnessHost) -> None:
    run = host.submit_many([NodeCall("7", NODE, {"fields": "a: INT"}), NodeCall("8", NODE, {"fields": "b: TEXT"})])
    first, second = host.wait_waiting(run, count=2)
    host.registry.answer(second["id"], {"b": "later"})
    assert host.registry.get(first["id"]).state == "waiting"
    host.registry.answer(first["id"], {"a": 5})
    run.wait()
    assert [out["result"][1] for out in run.outputs] == ['{"a": 5}', '{"b": "later"}']


# ------------------------------------------------------------------------ routes
async def test_route_refusals_name_the_field_and_change_nothing(route_client: Any) -> None:
    registry = state.RequestRegistry()
    client = await route_client(registry)
    checks = forms.parse_fields(EXAMPLE)
    request = registry.open(P.KIND_FORM, prompt_id="p", node_id="1", validate=checks.validate)
    url = f"/hitl/requests/{request.id}/answer"
    good = {"steps": 30, "denoise": 0.4, "prompt": "x", "style": 1, "upscale": True}
    cases = [
        (
            {"value": {**good, "steps": 500}},
            {"code": "invalid_answer", "message": "steps: 500 is above the maximum 60", "field": "steps"},
        ),
        (
            {"value": {**good, "upscale": "yes"}},
            {"code": "invalid_answer", "message": 'upscale: expected true or false, got "yes"', "field": "upscale"},
        ),
        (
            {"value": {"steps": 30}},
            {
                "code": "invalid_answer",
                "message": "denoise: no value given (every field needs one)",
                "field": "denoise",
            },
        ),
        (
            {"value": {**good, "seed": 1}},
            {"code": "invalid_answer", "message": "the answer has 6 entries; the form has 5 fields"},
        ),
        ({"value": 30}, {"code": "invalid_answer", "message": "expected an object of field name → value, got 30"}),
        ({"value": good, "extra": 1}, {"code": "invalid_body", "message": 'unknown field(s): "extra"'}),
    ]
    for body, error in cases:
        response = await client.post(url, json=body)
        assert response.status == 422 and await response.json() == {"error": error}, body
        assert request.state == "waiting" and request.value is None
    response = await client.post(url, json={"value": good})
    assert response.status == 200
    assert request.future.result(timeout=0).value == {**good, "style": "painting"}


async def test_a_body_at_the_cap_is_refused_at_once(route_client: Any) -> None:
    registry = state.RequestRegistry()
    client = await route_client(registry)
    request = registry.open(P.KIND_FORM, prompt_id="p", node_id="1", validate=forms.parse_fields(EXAMPLE).validate)
    url = f"/hitl/requests/{request.id}/answer"
    # As many entries as fit just under the 256 KiB cap: refused by their count, none read.
    entries = {f"k{i:05d}": 0 for i in range(20_000)}
    body = json.dumps({"value": entries}).encode()
    assert P.MAX_BODY_BYTES - 10_000 < len(body) <= P.MAX_BODY_BYTES
    response = await client.post(url, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 422
    assert (await response.json())["error"]["message"] == "the answer has 20000 entries; the form has 5 fields"
    response = await client.post(url, data=body + b" " * 3000, headers={"Content-Type": "application/json"})
    assert response.status == 413  # over the cap: never parsed
    assert request.state == "waiting"
