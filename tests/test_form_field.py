"""The Form Field node: one field of a form's answers, typed, with a clear error for a name
the form lacks; a plain node ComfyUI caches like any other."""

from __future__ import annotations

from typing import Any

import pytest

from dev.harness.host import HarnessHost
from dev.harness.pack import load_pack, submodule

form_node = submodule("nodes.form")
form_field = submodule("nodes.form_field")
answer_types = submodule("questions.values")

FIELDS = 'steps "Refiner steps": INT 1..60 = 20\ndenoise: FLOAT 0..1 = 0.55\nprompt: TEXT multiline\nstyle: CHOICE photo | painting | sketch\nupscale: BOOLEAN = yes'


def answered_form(host: HarnessHost, answer: dict[str, Any]) -> Any:
    """The form output of a Form node answered with ``answer``."""
    run = host.submit("HitlForm", {"fields": FIELDS})
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], answer)
    return run.wait().outputs[0]["result"][0]


def test_node_is_registered_as_a_plain_cacheable_node() -> None:
    pack = load_pack()
    node = pack.NODE_CLASS_MAPPINGS["HitlFormField"]
    assert node is form_field.FormField  # nothing to bind: it never asks
    assert not hasattr(node, "IS_CHANGED")  # so ComfyUI caches it by its inputs
    assert node.RETURN_TYPES == ("INT", "FLOAT", "STRING", "BOOLEAN")
    assert node.RETURN_NAMES == ("int", "float", "string", "boolean") and len(node.OUTPUT_TOOLTIPS) == 4
    inputs = node.INPUT_TYPES()["required"]
    assert inputs["form"][0] == "HITL_FORM" == form_node.Form.RETURN_TYPES[0]
    assert inputs["name"][0] == "STRING" and inputs["name"][1]["default"] == "steps"
    assert node.CATEGORY == form_node.Form.CATEGORY


@pytest.mark.parametrize(
    ("name", "outputs"),
    [
        ("steps", (30, 30.0, "30", True)),
        ("denoise", (0, 0.25, "0.25", True)),
        ("prompt", (0, 0.0, "a cat", True)),
        ("style", (2, 2.0, "sketch", True)),
        ("upscale", (0, 0.0, "false", False)),
        (" steps ", (30, 30.0, "30", True)),  # surrounding spaces of the widget are ignored
    ],
)
def test_each_field_comes_out_typed(host: HarnessHost, name: str, outputs: tuple) -> None:
    form = answered_form(host, {"steps": 30, "denoise": 0.25, "prompt": "a cat", "style": 2, "upscale": False})
    result = form_field.FormField().take(form, name)
    assert result == outputs and [type(out) for out in result] == [int, float, str, bool]


def test_a_name_the_form_lacks_is_an_error_listing_the_fields(host: HarnessHost) -> None:
    form = answered_form(host, {"steps": 30, "denoise": 0.25, "prompt": "", "style": 0, "upscale": True})
    with pytest.raises(ValueError, match="no field 'cfg'") as missing:
        form_field.FormField().take(form, "cfg")
    assert str(missing.value) == "the form has no field 'cfg'; its fields are: steps, denoise, prompt, style, upscale"
    with pytest.raises(ValueError, match=r"no field 'Refiner steps'.*its fields are: steps,"):
        form_field.FormField().take(form, "Refiner steps")  # the label is not the name


def test_the_form_input_must_be_a_form() -> None:
    with pytest.raises(TypeError, match="must come from a Form node's form output, not a dict"):
        form_field.FormField().take({"steps": 3}, "steps")


def test_validate_inputs_refuses_a_name_no_field_can_have() -> None:
    node = form_field.FormField
    assert node.VALIDATE_INPUTS(name="steps") is True
    assert node.VALIDATE_INPUTS(name=None) is True  # a linked name: checked when it runs
    assert node.VALIDATE_INPUTS(name=" ") == "name is empty: write the name of one of the form's fields"
    assert node.VALIDATE_INPUTS(name="my steps") == (
        "name: `my steps` is not a valid name: use letters, digits and _, not starting with a digit"
    )
