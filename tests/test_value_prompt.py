"""The value prompt node: the server-side checks of every type and bound (hostile values
included), and the node run by the stand-in host as ComfyUI runs it."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
import torch

from dev.harness.host import HarnessHost, NodeCall
from dev.harness.pack import load_pack, submodule

vp = submodule("nodes.value_prompt")
memory = submodule("nodes.memory")
state = submodule("state")
images = submodule("images.batches")
server_routes = submodule("server_routes")
P = submodule("server.protocol")

NODE = "HitlValuePrompt"
SAFE = 2**53 - 1
INT, FLOAT, STRING, MULTILINE, BOOLEAN, CHOICE = P.VALUE_TYPES


def spec(value_type: str, **settings: Any) -> Any:
    return vp.build_spec(value_type, **settings)


# --------------------------------------------------------------- validation table
#: (type, settings, answer, normalised answer)
ACCEPTED = [
    (INT, {}, 0, 0),
    (INT, {}, -SAFE, -SAFE),
    (INT, {}, SAFE, SAFE),
    (INT, {"minimum": "1", "maximum": "60"}, 1, 1),
    (INT, {"minimum": "1", "maximum": "60"}, 60, 60),
    (INT, {"minimum": "-5"}, -5, -5),
    (INT, {"step": "5", "minimum": "0"}, 7, 7),  # step is the arrows' increment, not a rule
    (FLOAT, {}, 0.5, 0.5),
    (FLOAT, {}, 3, 3.0),  # a JSON integer is a number too
    (FLOAT, {}, 10**20, 1e20),  # what JSON.stringify(1e20) sends: exact as a float
    (FLOAT, {}, 2**53, float(2**53)),
    (FLOAT, {}, -1.7976931348623157e308, -1.7976931348623157e308),
    (FLOAT, {"minimum": "0", "maximum": "1"}, 1.0, 1.0),
    (FLOAT, {"minimum": "0", "maximum": "1"}, 0, 0.0),
    (STRING, {}, "", ""),
    (STRING, {"max_length": 3}, "abc", "abc"),
    (STRING, {"max_length": 3}, "🙂🙂🙂", "🙂🙂🙂"),  # characters, not UTF-16 units or bytes
    (STRING, {}, "tab\tand <b>markup</b>", "tab\tand <b>markup</b>"),
    (MULTILINE, {}, "line one\nline two\r\n", "line one\nline two\r\n"),
    (MULTILINE, {"max_length": 5}, "a\nb\nc", "a\nb\nc"),
    (BOOLEAN, {}, True, True),
    (BOOLEAN, {}, False, False),
    (CHOICE, {"choices": "photo\nink\n2"}, 0, 0),
    (CHOICE, {"choices": "photo\nink\n2"}, "ink", 1),  # by label
    (CHOICE, {"choices": "photo\nink\n2"}, "2", 2),  # the label "2", not the index 2
    (CHOICE, {"choices": "photo\nink\n2\nfourth"}, 2, 2),  # the index 2
    (CHOICE, {"choices": "  spaced  \n\n  other"}, "spaced", 0),
]

#: (type, settings, answer, words the refusal must contain)
REFUSED = [
    (INT, {}, 1.5, "expected a whole number, got 1.5"),
    (INT, {}, 2.0, "expected a whole number"),
    (INT, {}, True, "expected a whole number, got true"),  # bool is an int subclass in Python
    (INT, {}, False, "got false"),
    (INT, {}, "4", 'got "4"'),
    (INT, {}, None, "got null"),
    (INT, {}, [4], "got a list"),
    (INT, {}, {"value": 4}, "got an object"),
    (INT, {}, math.nan, "got NaN"),
    (INT, {}, math.inf, "got Infinity"),
    (INT, {}, -math.inf, "got -Infinity"),
    (INT, {}, SAFE + 1, "too large"),
    (INT, {}, -(SAFE + 1), "too large"),
    (INT, {}, 2**63, "too large"),  # beyond int64
    (INT, {}, 2**64 + 1, "too large"),
    (INT, {}, -(10**400), "too large"),
    (INT, {"minimum": "1", "maximum": "60"}, 0, "0 is below the minimum 1"),
    (INT, {"minimum": "1", "maximum": "60"}, 61, "61 is above the maximum 60"),
    (FLOAT, {}, math.nan, "expected a finite number, got NaN"),
    (FLOAT, {}, math.inf, "got Infinity"),
    (FLOAT, {}, -math.inf, "got -Infinity"),
    (FLOAT, {}, True, "expected a number, got true"),
    (FLOAT, {}, "0.5", "expected a number"),
    (FLOAT, {}, None, "got null"),
    (FLOAT, {}, 2**53 + 1, "cannot be held exactly by a FLOAT"),  # beyond 2**53
    (FLOAT, {}, 10**400, "too large for a FLOAT"),
    (FLOAT, {"minimum": "0", "maximum": "1"}, 1.0000001, "above the maximum 1.0"),
    (FLOAT, {"minimum": "0", "maximum": "1"}, -0.5, "below the minimum 0.0"),
    (STRING, {}, 5, "expected text, got 5"),
    (STRING, {}, None, "expected text, got null"),
    (STRING, {}, ["a"], "got a list"),
    (STRING, {"max_length": 3}, "abcd", "4 characters long; at most 3"),
    (STRING, {}, "x" * (vp.DEFAULT_MAX_LENGTH + 1), f"at most {vp.DEFAULT_MAX_LENGTH}"),
    (STRING, {}, "two\nlines", "single line"),
    (STRING, {}, "carriage\rreturn", "single line"),
    (STRING, {}, "lone \ud800 surrogate", "unpaired surrogate"),
    (MULTILINE, {"max_length": 4}, "a\nb\nc", "5 characters long; at most 4"),
    (MULTILINE, {}, True, "expected text, got true"),
    (BOOLEAN, {}, 1, "expected true or false, got 1"),
    (BOOLEAN, {}, 0, "got 0"),
    (BOOLEAN, {}, "true", 'got "true"'),
    (BOOLEAN, {}, None, "got null"),
    (CHOICE, {"choices": "photo\nink"}, "watercolour", '"watercolour" is not one of the choices (photo, ink)'),
    (CHOICE, {"choices": "photo\nink"}, "Photo", "not one of the choices"),  # exact labels only
    (CHOICE, {"choices": "photo\nink"}, 2, "there is no choice 2: the index must be 0 to 1"),
    (CHOICE, {"choices": "photo\nink"}, -1, "there is no choice -1"),
    (CHOICE, {"choices": "photo\nink"}, True, "expected a choice's index or label, got true"),
    (CHOICE, {"choices": "photo\nink"}, 1.0, "got 1.0"),
    (CHOICE, {"choices": "photo\nink"}, None, "got null"),
    (CHOICE, {"choices": "\n".join(f"c{i}" for i in range(9))}, "x", "(c0, c1, c2, c3, c4, …)"),
]


@pytest.mark.parametrize(("value_type", "settings", "answer", "expected"), ACCEPTED)
def test_fitting_answers_are_accepted_and_normalised(
    value_type: str, settings: dict, answer: Any, expected: Any
) -> None:
    result = spec(value_type, **settings).validate(answer)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(("value_type", "settings", "answer", "reason"), REFUSED)
def test_answers_that_do_not_fit_are_refused_with_the_reason(
    value_type: str, settings: dict, answer: Any, reason: str
) -> None:
    with pytest.raises(state.InvalidAnswer) as refused:
        spec(value_type, **settings).validate(answer)
    assert reason in refused.value.message
    assert len(refused.value.message) < 200  # a huge answer is never echoed whole


def test_a_refused_answer_changes_nothing_and_the_request_keeps_waiting() -> None:
    registry = state.RequestRegistry()
    checks = spec(INT, minimum="1", maximum="10")
    request = registry.open(P.KIND_VALUE_PROMPT, prompt_id="p", node_id="1", validate=checks.validate)
    for bad in (11, True, math.nan, "5", 2**70):
        with pytest.raises(state.InvalidAnswer):
            registry.answer(request.id, bad)
        assert request.state == "waiting" and not request.future.done()
    registry.answer(request.id, 10)
    assert request.future.result(timeout=0).value == 10


# ------------------------------------------------------------- settings checks
#: (type, settings, default text, words of the error)
BAD_SETTINGS = [
    ("TEXT", {}, "", "value_type must be one of INT, FLOAT"),
    (INT, {"minimum": "1.5"}, "", "minimum '1.5' is not a whole number"),
    (INT, {"maximum": "ten"}, "", "maximum 'ten' is not a whole number"),
    (INT, {"maximum": str(2**63)}, "", "not within"),
    (INT, {"minimum": "10", "maximum": "1"}, "", "the minimum 10 is above the maximum 1"),
    (INT, {"step": "0"}, "", "step must be above 0"),
    (INT, {"step": "-2"}, "", "step must be above 0"),
    (FLOAT, {"minimum": "nan"}, "", "must be a finite number"),
    (FLOAT, {"maximum": "inf"}, "", "must be a finite number"),
    (FLOAT, {"step": "x"}, "", "step 'x' is not a number"),
    (INT, {"maximum": "100"}, "500", "the default: 500 is above the maximum 100"),
    (INT, {}, "2.5", "the default '2.5' is not a whole number"),
    (FLOAT, {"minimum": "0"}, "-1", "below the minimum"),
    (BOOLEAN, {}, "maybe", "the default 'maybe' is not true or false"),
    (CHOICE, {"choices": ""}, "", "choices is empty"),
    (CHOICE, {"choices": " \n \n"}, "", "choices is empty"),
    (CHOICE, {"choices": "a\nb\na"}, "", "the choice 'a' is listed twice"),
    (CHOICE, {"choices": "a\n" + "x" * 501}, "", "longer than 500"),
    (CHOICE, {"choices": "\n".join(str(i) for i in range(501))}, "", "at most 500"),
    (CHOICE, {"choices": "a\nb"}, "c", "the default 'c' is not one of the choices"),
    (STRING, {"max_length": 0}, "", "max_length must be a whole number from 1"),
    (STRING, {"max_length": 3}, "abcd", "the default is 4 characters long"),
    (STRING, {}, "two\nlines", "the default must be a single line"),
    # ASCII digits only: int() takes Arabic-Indic and full-width digits, float() underscores.
    (INT, {"minimum": "\u0663"}, "", "minimum '\u0663' is not a whole number"),
    (INT, {"maximum": "\uff19\uff19"}, "", "is not a whole number"),
    (INT, {}, "\u0663", "the default '\u0663' is not a whole number"),
    (FLOAT, {"maximum": "\u0661.\u0665"}, "", "is not a number"),
    (FLOAT, {"step": "1_000"}, "", "step '1_000' is not a number"),
    # A long digit string is refused before it is converted (quadratic), its text cut short.
    (INT, {"maximum": "9" * 200_000}, "", f"maximum '{'9' * 37}…' is not within"),
]


def test_leading_zeros_do_not_count_as_digits() -> None:
    assert spec(INT, minimum="-" + "0" * 100 + "5", maximum="+0009").minimum == -5


@pytest.mark.parametrize(("value_type", "settings", "default", "error"), BAD_SETTINGS)
def test_settings_that_make_no_sense_are_refused(value_type: str, settings: dict, default: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        spec(value_type, **settings).parse_default(default)


@pytest.mark.parametrize(
    ("value_type", "settings", "default", "expected"),
    [
        (INT, {}, "", 0),
        (INT, {"minimum": "10", "maximum": "20"}, "", 10),  # 0 is out of range: the nearest bound
        (INT, {"maximum": "-3"}, "", -3),
        (INT, {}, " +42 ", 42),
        (FLOAT, {}, "", 0.0),
        (FLOAT, {"minimum": "0.25"}, "", 0.25),
        (FLOAT, {}, "1e3", 1000.0),
        (STRING, {}, "", ""),
        (MULTILINE, {}, "keep\n  spacing ", "keep\n  spacing "),
        (BOOLEAN, {}, "", False),
        (BOOLEAN, {}, "Yes", True),
        (BOOLEAN, {}, "off", False),
        (CHOICE, {"choices": "a\nb"}, "", 0),
        (CHOICE, {"choices": "a\nb"}, "b", 1),
        (STRING, {"minimum": "junk"}, "", ""),  # bounds do not apply to text: ignored
    ],
)
def test_default_text_becomes_a_typed_default(value_type: str, settings: dict, default: str, expected: Any) -> None:
    result = spec(value_type, **settings).parse_default(default)
    assert result == expected and type(result) is type(expected)


def test_validate_inputs_reports_bad_settings_at_queue_time() -> None:
    node = vp.ValuePrompt
    good = {
        "value_type": INT,
        "default": "5",
        "minimum": "1",
        "maximum": "9",
        "step": "",
        "max_length": 10,
        "choices": "",
    }
    assert node.VALIDATE_INPUTS(**good) is True
    assert node.VALIDATE_INPUTS(**{**good, "default": "50"}) == "the default: 50 is above the maximum 9"
    assert "choices is empty" in node.VALIDATE_INPUTS(**{**good, "value_type": CHOICE})
    assert "value_type must be one of" in node.VALIDATE_INPUTS(**{**good, "value_type": "nope"})
    # A widget turned into a linked input is None at queue time: checked when it runs.
    assert node.VALIDATE_INPUTS(**{**good, "default": None, "maximum": "0"}) is True
    # A STRING's default may come from the text input, so it is not judged here.
    assert node.VALIDATE_INPUTS(**{**good, "value_type": STRING, "default": "x" * 20}) is True


# --------------------------------------------------------------------- routes
async def test_route_refuses_hostile_answers_with_a_clear_4xx(route_client: Any) -> None:
    registry = state.RequestRegistry()
    client = await route_client(registry)
    request = registry.open(P.KIND_VALUE_PROMPT, prompt_id="p", node_id="1", validate=spec(FLOAT, maximum="1").validate)
    url = f"/hitl/requests/{request.id}/answer"
    headers = {"Content-Type": "application/json"}
    cases = [
        (b'{"value": NaN}', 400, "malformed_json"),
        (b'{"value": -Infinity}', 400, "malformed_json"),
        (b'{"value": 1e400}', 400, "malformed_json"),  # JSON's grammar allows it; it is no finite number
        (b'{"value": 2}', 422, "invalid_answer"),
        (b'{"value": true}', 422, "invalid_answer"),
        (b'{"value": "0.5"}', 422, "invalid_answer"),
        (b'{"value": 0.5, "extra": 1}', 422, "invalid_body"),
    ]
    for body, status, code in cases:
        response = await client.post(url, data=body, headers=headers)
        refusal = await response.json()
        assert (response.status, refusal["error"]["code"]) == (status, code), body
        assert request.state == "waiting"
    response = await client.post(url, data=b'{"value": 1e400}', headers=headers)
    assert "1e400 is out of range" in (await response.json())["error"]["message"]
    response = await client.post(url, json={"value": 0.5})
    assert response.status == 200 and request.future.result(timeout=0).value == 0.5


# ------------------------------------------------------------------- the node
def test_node_is_registered_with_typed_outputs() -> None:
    pack = load_pack()
    assert NODE in pack.NODE_CLASS_MAPPINGS and pack.NODE_DISPLAY_NAME_MAPPINGS[NODE]
    node = vp.ValuePrompt
    assert node.RETURN_TYPES == ("INT", "FLOAT", "STRING", "BOOLEAN", "INT")
    assert node.RETURN_NAMES == ("int", "float", "string", "boolean", "choice_index")
    assert len(node.OUTPUT_TOOLTIPS) == len(node.RETURN_TYPES)
    spec_ = node.INPUT_TYPES()
    assert spec_["required"]["value_type"][0] == list(P.VALUE_TYPES)
    assert spec_["required"]["mode"][0] == [P.MODE_ALWAYS_ASK, P.MODE_USE_LAST_ANSWER, P.MODE_PASS_DEFAULT]
    assert spec_["required"]["on_timeout"][0] == [P.ON_TIMEOUT_USE_DEFAULT, P.ON_TIMEOUT_CANCEL_RUN]
    assert spec_["optional"]["image"][0] == "IMAGE" and spec_["optional"]["text"][0] == "STRING"
    assert spec_["hidden"] == {
        "unique_id": "UNIQUE_ID",
        "extra_pnginfo": "EXTRA_PNGINFO",
        "api_prompt": "PROMPT",
        memory.IDENTITY_INPUT: memory.IDENTITY_TYPE,
    }
    assert not getattr(node, "OUTPUT_NODE", False)


def ask(host: HarnessHost, node_id: str = "1", **inputs: Any) -> Any:
    return host.submit(NODE, inputs, node_id=node_id)


#: (type, settings, the answer sent, the five outputs)
ROUND_TRIPS = [
    (INT, {"minimum": "1", "maximum": "60"}, 42, (42, 42.0, "42", True, -1)),
    (INT, {}, 0, (0, 0.0, "0", False, -1)),
    (FLOAT, {}, 2.5, (3, 2.5, "2.5", True, -1)),
    (FLOAT, {}, -2.5, (-3, -2.5, "-2.5", True, -1)),
    (STRING, {}, "a cat", (0, 0.0, "a cat", True, -1)),
    (MULTILINE, {}, "a\nb", (0, 0.0, "a\nb", True, -1)),
    (BOOLEAN, {}, True, (1, 1.0, "true", True, -1)),
    (BOOLEAN, {}, False, (0, 0.0, "false", False, -1)),
    (CHOICE, {"choices": "photo\nink\nwatercolour"}, 2, (2, 2.0, "watercolour", True, 2)),
    (CHOICE, {"choices": "photo\nink"}, "photo", (0, 0.0, "photo", False, 0)),
]


@pytest.mark.parametrize(("value_type", "settings", "answer", "outputs"), ROUND_TRIPS)
def test_answer_comes_out_with_the_right_types(
    host: HarnessHost, value_type: str, settings: dict, answer: Any, outputs: tuple
) -> None:
    run = ask(host, value_type=value_type, title="Question", message="Why?", **settings)
    [view] = host.wait_waiting(run)
    assert view["kind"] == P.KIND_VALUE_PROMPT and view["payload"]["type"] == value_type
    assert view["payload"]["title"] == "Question" and view["payload"]["message"] == "Why?"
    host.registry.answer(view["id"], answer)
    result = run.wait().outputs[0]
    assert run.status == "success", run.error
    assert result["result"] == outputs
    assert [type(out) for out in result["result"]] == [int, float, str, bool, int]
    assert result["ui"]["source"] == ["person"]


def test_payload_says_what_fits(host: HarnessHost) -> None:
    run = ask(
        host,
        value_type=INT,
        default="20",
        minimum="1",
        maximum="60",
        step="5",
        timeout_seconds=30,
        on_timeout="cancel run",
        choices="ignored",
    )
    [view] = host.wait_waiting(run)
    payload = view["payload"]
    assert payload["min"] == 1 and payload["max"] == 60 and payload["step"] == 5
    assert payload["default"] == 20 and payload["default_text"] == "20"
    assert payload["timeout_uses_default"] is False and view["timeout_s"] == 30
    assert payload["max_length"] is None and payload["image_count"] == 0 and payload["images"] == []
    host.registry.cancel(view["id"])
    run.wait()


def test_cancel_ends_the_run_as_interrupted(host: HarnessHost) -> None:
    run = ask(host, value_type=STRING)
    [view] = host.wait_waiting(run)
    host.registry.cancel(view["id"])
    assert run.wait().status == "interrupted"


def test_interrupt_ends_the_run_as_interrupted(host: HarnessHost) -> None:
    run = ask(host, value_type=BOOLEAN)
    host.wait_waiting(run)
    host.interrupt.raise_flag()
    assert run.wait().status == "interrupted"


def test_timeout_uses_the_default(host: HarnessHost) -> None:
    run = ask(host, value_type=FLOAT, default="0.45", timeout_seconds=0.2, on_timeout="use default")
    run.wait(5)
    assert run.status == "success", run.error
    assert run.outputs[0]["result"][1] == 0.45 and run.outputs[0]["ui"]["source"] == ["timeout default"]


def test_timeout_can_cancel_the_run(host: HarnessHost) -> None:
    run = ask(host, value_type=FLOAT, default="0.45", timeout_seconds=0.2, on_timeout="cancel run")
    assert run.wait(5).status == "interrupted"
    assert host.registry.waiting_count() == 0


def test_bad_settings_end_the_run_with_a_clear_error(host: HarnessHost) -> None:
    run = ask(host, value_type=INT, default="500", maximum="100")
    run.wait()
    assert run.status == "error" and "the default: 500 is above the maximum 100" in run.error
    run = ask(host, value_type=INT, mode="sometimes")
    run.wait()
    assert run.status == "error" and "mode must be one of" in run.error
    assert host.registry.waiting_count() == 0


def test_text_input_is_the_editable_answer_of_a_string_prompt(host: HarnessHost) -> None:
    caption = "a cat on a windowsill,\nsoft light"
    run = ask(host, value_type=MULTILINE, message="Fix the caption", default="ignored", text=caption)
    [view] = host.wait_waiting(run)
    assert view["payload"]["default"] == caption and view["payload"]["message"] == "Fix the caption"
    host.registry.answer(view["id"], caption.replace("cat", "dog"))
    assert run.wait().outputs[0]["result"][2] == "a dog on a windowsill,\nsoft light"


def test_text_input_is_the_message_of_other_types(host: HarnessHost) -> None:
    run = ask(host, value_type=BOOLEAN, message="widget message", text="Is 'a cat' a good caption?")
    [view] = host.wait_waiting(run)
    assert view["payload"]["message"] == "Is 'a cat' a good caption?"
    assert view["payload"]["default"] is False
    host.registry.answer(view["id"], True)
    assert run.wait().outputs[0]["result"][3] is True


def test_pass_default_never_asks(host: HarnessHost) -> None:
    before = host.event_count()
    run = ask(host, value_type=CHOICE, choices="a\nb\nc", default="c", mode="pass default")
    assert run.wait().status == "success"
    assert run.outputs[0]["result"] == (2, 2.0, "c", True, 2)
    assert run.outputs[0]["ui"] == {"answer": ["c"], "source": ["default"]}
    assert host.event_count() == before  # no request was opened


def test_always_ask_asks_every_time(host: HarnessHost) -> None:
    for answer in (3, 4):
        run = ask(host, value_type=INT, mode="always ask")
        [view] = host.wait_waiting(run)
        host.registry.answer(view["id"], answer)
        assert run.wait().outputs[0]["result"][0] == answer


def test_use_last_answer_asks_once_then_reuses_it(host: HarnessHost) -> None:
    settings = {"value_type": CHOICE, "choices": "photo\nink\nwatercolour", "mode": "use last answer"}
    run = ask(host, node_id="5", **settings)
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], 1)
    assert run.wait().outputs[0]["result"][2] == "ink"
    before = host.event_count()
    again = ask(host, node_id="5", **settings)
    assert again.wait().status == "success"
    assert again.outputs[0]["result"] == (1, 1.0, "ink", True, 1)
    assert again.outputs[0]["ui"]["source"] == ["last answer"]
    assert host.event_count() == before
    # A reordered list still finds the remembered label.
    reordered = ask(host, node_id="5", **{**settings, "choices": "ink\nphoto"})
    assert reordered.wait().outputs[0]["result"][4] == 0
    # Another node has no answer yet: it asks.
    other = ask(host, node_id="6", **settings)
    [view] = host.wait_waiting(other)
    host.registry.cancel(view["id"])
    other.wait()


def test_use_last_answer_asks_again_when_the_answer_no_longer_fits(host: HarnessHost) -> None:
    run = ask(host, value_type=INT, maximum="100", mode="use last answer")
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], 80)
    run.wait()
    narrower = ask(host, value_type=INT, maximum="50", mode="use last answer")
    [view] = host.wait_waiting(narrower)  # 80 is now above the maximum: ask
    host.registry.answer(view["id"], 40)
    assert narrower.wait().outputs[0]["result"][0] == 40
    other_type = ask(host, value_type=FLOAT, mode="use last answer")
    [view] = host.wait_waiting(other_type)  # an INT answer is not reused as a FLOAT
    host.registry.cancel(view["id"])
    other_type.wait()


def test_use_last_answer_is_per_workflow(host: HarnessHost) -> None:
    first = {"workflow": {"id": "wf-a", "nodes": []}}
    second = {"workflow": {"id": "wf-b", "nodes": []}}
    run = ask(host, value_type=INT, mode="use last answer", extra_pnginfo=first)
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], 7)
    run.wait()
    run = ask(host, value_type=INT, mode="use last answer", extra_pnginfo=second)
    [view] = host.wait_waiting(run)  # same node id, another workflow: ask
    host.registry.cancel(view["id"])
    run.wait()
    run = ask(host, value_type=INT, mode="use last answer", extra_pnginfo=first)
    assert run.wait().outputs[0]["result"][0] == 7


def test_a_default_used_on_timeout_is_not_remembered(host: HarnessHost) -> None:
    run = ask(host, value_type=INT, default="9", timeout_seconds=0.1, mode="use last answer")
    assert run.wait(5).outputs[0]["ui"]["source"] == ["timeout default"]
    again = ask(host, value_type=INT, default="9", mode="use last answer")
    [view] = host.wait_waiting(again)
    host.registry.answer(view["id"], 1)
    assert again.wait().outputs[0]["result"][0] == 1


def test_use_last_answer_tells_nil_id_workflows_apart(host: HarnessHost) -> None:
    """Issue 14: two workflows carrying the nil id, whose value prompt is node #1 with the same
    settings, do not share an answer; the same workflow (another seed, other text) does."""
    nil = {"workflow": {"id": memory.NIL_WORKFLOW_ID, "nodes": []}}
    settings = {"value_type": INT, "mode": "use last answer", "extra_pnginfo": nil}
    width = {
        "2": {"class_type": "EmptyImage", "inputs": {"width": ["1", 0], "height": 256, "color": 0}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    steps = {
        "2": {"class_type": "KSampler", "inputs": {"steps": ["1", 0], "seed": 5}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}},
    }
    run = host.submit(NODE, settings, workflow=width)
    [view] = host.wait_waiting(run)
    host.registry.answer(view["id"], 320)
    assert run.wait().outputs[0]["result"][0] == 320
    other = host.submit(NODE, settings, workflow=steps)
    [view] = host.wait_waiting(other)  # another workflow, same node id and settings: it asks
    host.registry.answer(view["id"], 30)
    assert other.wait().outputs[0]["result"][0] == 30
    tweaked = {**width, "2": {"class_type": "EmptyImage", "inputs": {"width": ["1", 0], "height": 512, "color": 9}}}
    again = host.submit(NODE, settings, workflow=tweaked)
    assert again.wait().outputs[0]["result"][0] == 320  # the same graph with other values
    assert again.outputs[0]["ui"]["source"] == ["last answer"]


def test_is_changed_follows_the_mode() -> None:
    registry = state.RequestRegistry()
    node = vp.ValuePrompt.bind(registry)
    first, second = node.IS_CHANGED(mode="always ask", unique_id="3"), node.IS_CHANGED(mode="always ask", unique_id="3")
    assert math.isnan(first) and first != second  # a fresh NaN: always re-run
    assert node.IS_CHANGED(mode="pass default", unique_id="3") == node.IS_CHANGED(mode="pass default", unique_id="3")
    stamped = {"mode": "use last answer", "unique_id": "3", memory.IDENTITY_INPUT: "id:wf"}
    assert math.isnan(node.IS_CHANGED(**stamped))  # nothing to reuse yet
    key = memory.MemoryKey("id:wf", "3")
    node.memory.remember(key, memory.Remembered(INT, 12, "[INT,12]"))
    value = node.IS_CHANGED(**stamped)
    assert value == node.IS_CHANGED(**stamped)  # cached while the answer stands
    # Another workflow, or a call without the stamp (which workflow is it?), must run the node.
    assert math.isnan(node.IS_CHANGED(**{**stamped, memory.IDENTITY_INPUT: "id:other"}))
    assert math.isnan(node.IS_CHANGED(mode="use last answer", unique_id="3"))
    node.memory.remember(key, memory.Remembered(INT, 13, "[INT,13]"))
    assert node.IS_CHANGED(**stamped) != value


def test_each_bound_class_has_its_own_memory() -> None:
    first = vp.ValuePrompt.bind(state.RequestRegistry())
    second = vp.ValuePrompt.bind(state.RequestRegistry())
    key = memory.MemoryKey("id:wf", "1")
    first.memory.remember(key, memory.Remembered(INT, 5, "[INT,5]"))
    assert second.memory.recall(key) is None and first.memory.recall(key).kept == 5
    assert not hasattr(vp.ValuePrompt, "memory")  # nothing module- or base-level


@pytest.mark.parametrize(
    "make_images",
    [
        lambda: torch.rand(3, 40, 64, 3),
        lambda: np.random.default_rng(1).random((3, 40, 64, 3), dtype=np.float32),
    ],
    ids=["torch", "numpy"],
)
def test_image_input_is_shown_beside_the_question(host: HarnessHost, make_images: Any) -> None:
    run = ask(host, value_type=BOOLEAN, image=make_images())
    [view] = host.wait_waiting(run)
    payload = view["payload"]
    assert payload["image_count"] == 3
    assert payload["images"] == [{"index": i, "width": 64, "height": 40} for i in range(3)]
    request = host.registry.get(view["id"])
    assert isinstance(request.resources, server_routes.ImageSource)
    thumb, media_type = request.resources.image_bytes(2, "thumb")
    assert media_type == "image/jpeg" and thumb[:2] == b"\xff\xd8"
    host.registry.answer(view["id"], True)
    assert run.wait().outputs[0]["result"][3] is True
    assert request.resources is None  # dropped once answered


def test_a_big_batch_sends_only_the_first_thumbnails(host: HarnessHost) -> None:
    run = ask(host, value_type=BOOLEAN, image=np.zeros((20, 8, 8, 3), dtype=np.float32))
    [view] = host.wait_waiting(run)
    assert view["payload"]["image_count"] == 20 and len(view["payload"]["images"]) == images.MAX_IMAGES_SHOWN
    host.registry.cancel(view["id"])
    run.wait()


def test_two_prompts_wait_at_once_and_resume_in_any_order(host: HarnessHost) -> None:
    run = host.submit_many([NodeCall("7", NODE, {"value_type": INT}), NodeCall("8", NODE, {"value_type": STRING})])
    first, second = host.wait_waiting(run, count=2)
    host.registry.answer(second["id"], "later")
    assert host.registry.get(first["id"]).state == "waiting"
    host.registry.answer(first["id"], 5)
    run.wait()
    assert [out["result"][:3] for out in run.outputs] == [(5, 5.0, "5"), (0, 0.0, "later")]


def test_node_label_and_workflow_reach_the_dialog(host: HarnessHost) -> None:
    workflow = {"workflow": {"id": "wf-1", "nodes": [{"id": 4, "type": NODE, "title": "Refiner steps?"}]}}
    run = ask(host, node_id="4", value_type=INT, extra_pnginfo=workflow)
    [view] = host.wait_waiting(run)
    assert view["node_label"] == "Refiner steps?" and view["payload"]["workflow_id"] == "wf-1"
    host.registry.cancel(view["id"])
    run.wait()


# ------------------------------------------------------------------ lists
def test_a_list_input_asks_once_per_item_and_says_which(host: HarnessHost) -> None:
    # ComfyUI calls a node fed a list once per item, the items of an async node at once.
    run = host.submit_list(
        NODE, {"value_type": INT, "title": "Steps", "mode": "always ask"}, {"text": ["a", "b", "c"]}, node_id="4"
    )
    views = sorted(host.wait_waiting(run, count=3), key=lambda view: view["node_label"])
    assert [view["node_label"] for view in views] == [
        "Value Prompt (ask a person) #4 (item 1 of 3)",
        "Value Prompt (ask a person) #4 (item 2 of 3)",
        "Value Prompt (ask a person) #4 (item 3 of 3)",
    ]
    for answer, view in enumerate(views, 10):
        host.registry.answer(view["id"], answer)
    assert [out["result"][0] for out in run.wait().outputs] == [10, 11, 12]


def test_cancel_in_one_items_dialog_ends_the_run(host: HarnessHost) -> None:
    run = host.submit_list(NODE, {"value_type": INT, "title": "Steps"}, {"text": ["a", "b", "c"]}, node_id="4")
    views = host.wait_waiting(run, count=3)
    host.registry.cancel(views[1]["id"], by=state.Provenance(surface="comfyui-tab"))
    assert run.wait(timeout=5).status == "interrupted"  # at once, with no other answer
    assert host.registry.pending() == []


def test_use_last_answer_remembers_each_item_of_a_list(host: HarnessHost) -> None:
    settings = {"value_type": INT, "title": "Steps", "mode": "use last answer"}
    run = host.submit_list(NODE, settings, {"text": ["a", "b", "c"]}, node_id="4")
    by_label = {view["node_label"][-9:]: view for view in host.wait_waiting(run, count=3)}
    for answer, label in zip((10, 11, 12), ("1 of 3)", "2 of 3)", "3 of 3)"), strict=True):
        host.registry.answer(next(v["id"] for k, v in by_label.items() if k.endswith(label)), answer)
    assert [out["result"][0] for out in run.wait().outputs] == [10, 11, 12]
    before = host.event_count()
    again = host.submit_list(NODE, settings, {"text": ["a", "b", "c"]}, node_id="4").wait()
    assert [out["result"][0] for out in again.outputs] == [10, 11, 12]  # each item its own
    assert host.event_count() == before  # nobody was asked
    shorter = host.submit_list(NODE, settings, {"text": ["a", "b"]}, node_id="4")
    views = host.wait_waiting(shorter, count=2)  # a list of another length: ask again
    host.registry.cancel(views[0]["id"])
    assert shorter.wait().status == "interrupted"
