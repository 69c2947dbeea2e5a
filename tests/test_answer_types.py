"""_answer_types: the one validator per type, shared by the value prompt and the form. The
value prompt's own tests (test_value_prompt.py) cover every type's checks through
``ValueSpec``; here: the form's whole-object checks (hostile values in every field type,
partial and extra entries, bounded before any entry is read) and the typed answers a form
hands on (``FormAnswers``), converted as the value prompt's outputs are."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from dev.harness.pack import submodule

answer_types = submodule("questions.values")
form_node = submodule("nodes.form")
forms = submodule("questions.forms")
value_prompt = submodule("nodes.value_prompt")
state = submodule("state")
P = submodule("server.protocol")

FIELDS = (
    "steps: INT 1..60 = 20\n"
    "denoise: FLOAT 0..1 = 0.5\n"
    "name: TEXT max 8\n"
    "prompt: TEXT multiline max 20\n"
    "upscale: BOOLEAN = yes\n"
    "style: CHOICE photo | painting | sketch"
)
GOOD = {"steps": 30, "denoise": 0.25, "name": "ok", "prompt": "a\nb", "upscale": False, "style": "sketch"}


@pytest.fixture
def form() -> Any:
    return forms.parse_fields(FIELDS)


def test_the_value_prompt_and_the_form_use_one_validator() -> None:
    # One implementation per type: the value prompt's spec is the shared class itself.
    assert value_prompt.ValueSpec is answer_types.ValueSpec
    assert type(value_prompt.build_spec("INT")) is answer_types.ValueSpec
    assert all(type(field.spec) is answer_types.ValueSpec for field in forms.parse_fields(FIELDS).fields)


def test_a_fitting_answer_is_normalised_in_the_form_order(form: Any) -> None:
    answer = {"style": 2, "upscale": False, "prompt": "a\nb", "name": "ok", "denoise": 0, "steps": 30}
    result = form.validate(answer)
    assert result == {"steps": 30, "denoise": 0.0, "name": "ok", "prompt": "a\nb", "upscale": False, "style": "sketch"}
    assert list(result) == form.names() and type(result["denoise"]) is float
    assert form.validate({**GOOD, "style": "painting"})["style"] == "painting"  # by label too


#: (field, a hostile value, the refusal's whole message): each field's own type check, named.
HOSTILE = [
    ("steps", True, "steps: expected a whole number, got true"),
    ("steps", 2.0, "steps: expected a whole number, got 2.0"),
    ("steps", "30", 'steps: expected a whole number, got "30"'),
    ("steps", None, "steps: expected a whole number, got null"),
    ("steps", [30], "steps: expected a whole number, got a list"),
    ("steps", {"value": 30}, "steps: expected a whole number, got an object"),
    ("steps", 61, "steps: 61 is above the maximum 60"),
    ("steps", 0, "steps: 0 is below the minimum 1"),
    ("steps", 2**53, "steps: 9007199254740992 is too large: whole numbers must be within ±9007199254740991"),
    (
        "steps",
        -(10**400),
        "steps: a number of about 401 digits is too large: whole numbers must be within ±9007199254740991",
    ),
    ("denoise", math.nan, "denoise: expected a finite number, got NaN"),
    ("denoise", math.inf, "denoise: expected a finite number, got Infinity"),
    ("denoise", False, "denoise: expected a number, got false"),
    ("denoise", 2**53 + 1, "denoise: 9007199254740993 cannot be held exactly by a FLOAT"),
    ("denoise", 10**400, "denoise: a number of about 401 digits is too large for a FLOAT"),
    ("denoise", 1.0000001, "denoise: 1.0000001 is above the maximum 1.0"),
    ("name", 5, "name: expected text, got 5"),
    ("name", "x" * 9, "name: the answer is 9 characters long; at most 8 are allowed"),
    ("name", "x" * 200_000, "name: the answer is 200000 characters long; at most 8 are allowed"),
    ("name", "a\nb", "name: the answer must be a single line"),
    ("name", "a\rb", "name: the answer must be a single line"),
    ("name", "\ud800", "name: the answer contains an invalid character (an unpaired surrogate)"),
    ("prompt", "🙂" * 21, "prompt: the answer is 21 characters long; at most 20 are allowed"),
    ("prompt", ["a"], "prompt: expected text, got a list"),
    ("upscale", 1, "upscale: expected true or false, got 1"),
    ("upscale", "yes", 'upscale: expected true or false, got "yes"'),
    ("style", 3, "style: there is no choice 3: the index must be 0 to 2"),
    ("style", -1, "style: there is no choice -1: the index must be 0 to 2"),
    ("style", "Sketch", 'style: "Sketch" is not one of the choices (photo, painting, sketch)'),
    ("style", True, "style: expected a choice's index or label, got true"),
    ("style", 1.0, "style: expected a choice's index or label, got 1.0"),
]


@pytest.mark.parametrize(("name", "value", "message"), HOSTILE)
def test_each_field_is_checked_by_its_type_and_the_refusal_names_it(
    form: Any, name: str, value: Any, message: str
) -> None:
    with pytest.raises(state.InvalidAnswer) as refused:
        form.validate({**GOOD, name: value})
    assert refused.value.message == message and refused.value.field == name


#: (answer, message): the object as a whole is wrong; no single field to name.
WRONG_SHAPE = [
    (None, "expected an object of field name → value, got null"),
    ([1, 2], "expected an object of field name → value, got a list"),
    ("steps=30", 'expected an object of field name → value, got "steps=30"'),
    (30, "expected an object of field name → value, got 30"),
    ({**GOOD, "extra": 1}, "the answer has 7 entries; the form has 6 fields"),
    (
        {**{k: v for k, v in GOOD.items() if k != "style"}, "Style": 0},
        'there is no field "Style"; the fields are: steps, denoise, name, prompt, upscale, style',
    ),
    (
        {**{k: v for k, v in GOOD.items() if k != "style"}, "x" * 100_000: 0},
        'there is no field "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…; the fields are: steps, denoise, name, prompt, upscale, style',
    ),
]


@pytest.mark.parametrize(("answer", "message"), WRONG_SHAPE)
def test_a_wrong_object_is_refused_as_a_whole(form: Any, answer: Any, message: str) -> None:
    with pytest.raises(state.InvalidAnswer) as refused:
        form.validate(answer)
    assert refused.value.message == message and refused.value.field is None


@pytest.mark.parametrize("missing", ["steps", "style"])
def test_a_partial_answer_is_refused_naming_the_first_missing_field(form: Any, missing: str) -> None:
    partial = {name: value for name, value in GOOD.items() if name != missing}
    with pytest.raises(state.InvalidAnswer) as refused:
        form.validate(partial)
    assert refused.value.message == f"{missing}: no value given (every field needs one)"
    assert refused.value.field == missing
    with pytest.raises(state.InvalidAnswer) as refused:
        form.validate({})
    assert refused.value.field == "steps"


class Untouchable(dict):  # type: ignore[type-arg]
    """A dict that fails the test if anything but its size is looked at."""

    def __iter__(self) -> Any:
        raise AssertionError("an entry was read")

    def __getitem__(self, key: Any) -> Any:
        raise AssertionError("an entry was read")

    def __contains__(self, key: Any) -> bool:
        raise AssertionError("an entry was read")


def test_too_many_entries_are_refused_before_any_is_read(form: Any) -> None:
    huge = Untouchable({f"k{i}": i for i in range(20_000)})
    with pytest.raises(state.InvalidAnswer) as refused:
        form.validate(huge)
    assert refused.value.message == "the answer has 20000 entries; the form has 6 fields"


def test_a_refused_form_answer_changes_nothing_and_the_request_keeps_waiting(form: Any) -> None:
    registry = state.RequestRegistry()
    request = registry.open(P.KIND_FORM, prompt_id="p", node_id="1", validate=form.validate)
    for bad in ({**GOOD, "steps": 99}, {**GOOD, "x": 1}, {}, [GOOD], {**GOOD, "upscale": None}):
        with pytest.raises(state.InvalidAnswer):
            registry.answer(request.id, bad)
        assert request.state == "waiting" and not request.future.done() and request.value is None
    registry.answer(request.id, GOOD)
    assert request.future.result(timeout=0).value == GOOD


def test_defaults_and_describe(form: Any) -> None:
    assert form.defaults() == {"steps": 20, "denoise": 0.5, "name": "", "prompt": "", "upscale": True, "style": "photo"}
    assert form.defaults({"name": "given"})["name"] == "given"
    described = form.describe({"prompt": "from the text input"})
    assert described[3] == {
        "name": "prompt",
        "label": "Prompt",
        "type": P.VALUE_TYPE_MULTILINE,
        "min": None,
        "max": None,
        "step": None,
        "max_length": 20,
        "choices": [],
        "default": "from the text input",
        "default_text": "from the text input",
    }
    assert described[5]["choices"] == ["photo", "painting", "sketch"] and described[5]["default_text"] == "photo"
    assert json.loads(json.dumps(described)) == described  # what the browser gets is plain JSON
    assert repr(form) == "<FormSpec steps, denoise, name, prompt, upscale, style>"


#: (field, value, its outputs: int, float, string, boolean) as the value prompt converts them.
OUTPUTS = [
    ("steps", 42, (42, 42.0, "42", True)),
    ("steps", 1, (1, 1.0, "1", True)),
    ("denoise", 0.5, (1, 0.5, "0.5", True)),  # halves away from 0
    ("denoise", 0.0, (0, 0.0, "0.0", False)),
    ("name", "cat", (0, 0.0, "cat", True)),
    ("name", "", (0, 0.0, "", False)),
    ("prompt", "a\nb", (0, 0.0, "a\nb", True)),
    ("upscale", True, (1, 1.0, "true", True)),
    ("upscale", False, (0, 0.0, "false", False)),
    ("style", "sketch", (2, 2.0, "sketch", True)),
    ("style", "photo", (0, 0.0, "photo", False)),  # not the first choice: false
]


@pytest.mark.parametrize(("name", "value", "outputs"), OUTPUTS)
def test_form_answers_convert_each_field_as_the_value_prompt_does(
    form: Any, name: str, value: Any, outputs: tuple
) -> None:
    answers = forms.FormAnswers(form, form.validate({**GOOD, name: value}))
    result = answers.outputs(name)
    assert result == outputs and [type(out) for out in result] == [int, float, str, bool]


def test_form_answers_are_a_plain_dict_to_other_nodes(form: Any) -> None:
    answers = forms.FormAnswers(form, form.validate(GOOD))
    assert answers == GOOD and isinstance(answers, dict) and json.loads(json.dumps(answers)) == GOOD
    with pytest.raises(LookupError) as missing:
        answers.outputs("stepz")
    assert (
        str(missing.value)
        == "the form has no field 'stepz'; its fields are: steps, denoise, name, prompt, upscale, style"
    )
    with pytest.raises(LookupError, match=r"no field 'STYLE' \(did you mean 'style'\?\)"):
        answers.outputs("STYLE")


def test_a_long_list_of_field_names_is_cut() -> None:
    many = forms.parse_fields("\n".join(f"field_{i}: BOOLEAN" for i in range(30)))
    with pytest.raises(LookupError) as missing:
        many.field("nope")
    assert str(missing.value).endswith("field_18, field_19, … (30 in all)")
