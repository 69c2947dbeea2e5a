"""The one question abstraction: every kind of answer is a Question that checks an answer,
describes itself, summarizes, gives its default, keeps and recalls an answer; and the node
flow (HitlNode.answer) is the same for every node that asks."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from dev.harness.pack import submodule

base = submodule("questions.base")
values = submodule("questions.values")
forms = submodule("questions.forms")
picks = submodule("questions.picks")
masks = submodule("questions.masks")
doubler = submodule("questions.doubler")
errors = submodule("server.errors")
nodes_base = submodule("nodes.base")
memory = submodule("nodes.memory")
state = submodule("state")
P = submodule("server.protocol")


def every_kind() -> dict[str, Any]:
    """One question of each kind, with an answer that fits and one that does not."""
    spec = values.build_spec(P.VALUE_TYPE_INT, minimum="1", maximum="60")
    form = forms.parse_fields("steps: INT 1..60 = 20\nstyle: CHOICE photo | sketch = sketch")
    return {
        P.KIND_VALUE_PROMPT: (values.ValueQuestion(spec, 20), 30, 61),
        P.KIND_FORM: (forms.FormQuestion(form), {"steps": 5, "style": "photo"}, {"steps": 5}),
        P.KIND_IMAGE_PICKER: (picks.PickQuestion(picks.PickBounds.for_batch(4, 1, 2)), [3, 0], [0, 0]),
        P.KIND_MASK_PAINTER: (masks.MaskQuestion(2, 8, 8), {"masks": [[{"op": "invert"}]], "same_for_all": True}, {}),
        P.KIND_INTEGER_DOUBLER: (doubler.DoublerQuestion(21), 42, "42"),
    }


def test_every_kind_of_answer_is_one_question_per_kind() -> None:
    questions = every_kind()
    assert set(questions) == set(P.KINDS)  # a new kind needs its question
    for kind, (question, good, bad) in questions.items():
        assert isinstance(question, base.Question) and question.kind == kind
        question.validate(good)
        with pytest.raises(errors.InvalidAnswer):
            question.validate(bad)
        assert isinstance(question.describe(), dict) and question.summary()


def test_each_question_gives_its_default() -> None:
    defaults = {kind: question.default() for kind, (question, _, _) in every_kind().items()}
    painted = defaults.pop(P.KIND_MASK_PAINTER)
    assert defaults == {
        P.KIND_VALUE_PROMPT: 20,
        P.KIND_FORM: {"steps": 20, "style": "sketch"},
        P.KIND_IMAGE_PICKER: (0, 1, 2, 3),  # everything: what "pass everything through" sends
        P.KIND_INTEGER_DOUBLER: 42,
    }
    assert painted.same_for_all and painted.stroke_count == 0  # nothing painted: the input mask


def test_summaries_say_what_is_asked() -> None:
    summaries = {kind: question.summary() for kind, (question, _, _) in every_kind().items()}
    assert summaries == {
        P.KIND_VALUE_PROMPT: "INT 1–60",
        P.KIND_FORM: "2 fields",
        P.KIND_IMAGE_PICKER: "pick 1–2 of 4",
        P.KIND_MASK_PAINTER: "paint a mask on 2 images of 8×8",
        P.KIND_INTEGER_DOUBLER: "21 × 2",
    }


def test_a_kept_answer_is_recalled_only_while_it_fits() -> None:
    choice = values.ValueQuestion(values.build_spec(P.VALUE_TYPE_CHOICE, choices="photo\nsketch"), 0)
    kept = choice.remembered(choice.validate(1))
    assert kept == "sketch"  # by its label, so a reordered list still finds it
    reordered = values.ValueQuestion(values.build_spec(P.VALUE_TYPE_CHOICE, choices="ink\nsketch\nphoto"), 0)
    assert reordered.recall(kept) == 1
    assert values.ValueQuestion(values.build_spec(P.VALUE_TYPE_CHOICE, choices="ink"), 0).recall(kept) is None

    four = picks.PickQuestion(picks.PickBounds.for_batch(4, 1, 0))
    assert four.recall((3, 1)) == (3, 1)
    assert picks.PickQuestion(picks.PickBounds.for_batch(2, 1, 0)).recall((3, 1)) is None  # a smaller batch

    painter = masks.MaskQuestion(2, 8, 8)
    painted = painter.remembered(painter.validate({"masks": [[{"op": "invert"}], []], "same_for_all": False}))
    assert painter.recall(painted) is painted
    assert masks.MaskQuestion(2, 16, 8).recall(painted) is None  # another size
    assert masks.MaskQuestion(3, 8, 8).recall(painted) is None  # one mask per image, for two


def test_fingerprints_change_with_the_kept_answer_only() -> None:
    four = picks.PickQuestion(picks.PickBounds.for_batch(4, 1, 0))
    assert four.fingerprint((2, 0)) == four.fingerprint((2, 0)) == "2,0"
    value = values.ValueQuestion(values.build_spec(P.VALUE_TYPE_INT), 0)
    assert value.fingerprint(12) != value.fingerprint(13)
    # A value kept for an INT is not the same answer as the same number kept for a FLOAT.
    assert value.fingerprint(12) != values.ValueQuestion(values.build_spec(P.VALUE_TYPE_FLOAT), 0).fingerprint(12)
    painter = masks.MaskQuestion(1, 8, 8)
    answer = painter.validate({"masks": [[{"op": "invert"}]], "same_for_all": True})
    first, second = painter.remembered(answer), painter.remembered(answer)
    assert painter.fingerprint(first) != painter.fingerprint(second)  # each painted answer is its own


def test_a_mask_is_recorded_by_its_shape_never_its_points() -> None:
    painter = masks.MaskQuestion(1, 64, 64)
    stroke = {"op": "brush", "size": 8, "hardness": 1, "points": [0, 0, 100, 100, 200, 200]}
    answer = painter.validate({"masks": [[stroke, {"op": "invert"}]], "same_for_all": False})
    assert painter.record(answer) == {"same_for_all": False, "operations": [2], "strokes": 1}


# ------------------------------------------------------------------ the node flow
class Asker(nodes_base.HitlNode):
    """A node of the test's own, on the one flow: what a new kind's node amounts to."""

    DISPLAY_NAME = "Asker"
    MODES = (
        nodes_base.ALWAYS_ASK,
        nodes_base.Mode(P.MODE_USE_LAST_ANSWER, nodes_base.RECALL, "last answer"),
        nodes_base.Mode(P.MODE_PASS_DEFAULT, nodes_base.PASS, "default"),
        nodes_base.Mode(P.MODE_USE_PRESET, nodes_base.PASS, gives="seven", depends_on=("preset",)),
    )
    ON_TIMEOUT = (nodes_base.TimeoutAction(P.ON_TIMEOUT_USE_DEFAULT, "default"), nodes_base.CANCEL_RUN)


class Opened:
    """The registry's notifier: hands each request that opens to the running test loop."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] | None = None

    def __call__(self, event: str, view: dict[str, Any]) -> None:
        # Called in open(), on the loop's own thread (the node runs on it): no thread hop.
        if self.queue is not None and view.get("state") == P.STATE_WAITING:
            self.queue.put_nowait(view)


def flow_registry() -> tuple[Any, Opened]:
    opened = Opened()
    return state.RequestRegistry(notify=opened), opened


def run_flow(node: Any, registry: Any, mode: str, answer_with: Any = None, **extra: Any) -> Any:
    question = values.ValueQuestion(values.build_spec(P.VALUE_TYPE_INT, minimum="0", maximum="99"), 5)
    hidden = nodes_base.Hidden("4", None, None, "id:wf")
    opened: Opened = registry.opened

    async def main() -> Any:
        opened.queue = asyncio.Queue()
        task = asyncio.ensure_future(
            node().answer(
                question,
                mode=mode,
                on_timeout=extra.get("on_timeout", P.ON_TIMEOUT_CANCEL_RUN),
                title="How many?",
                timeout_s=extra.get("timeout_s", 0),
                hidden=hidden,
                fallbacks={"seven": lambda: 7},
            )
        )
        if answer_with is not None:
            view = await asyncio.wait_for(opened.queue.get(), 10)
            registry.answer(view["id"], answer_with)
        return await task

    return asyncio.run(main())


def test_the_node_flow_asks_remembers_recalls_and_passes() -> None:
    registry, registry.opened = flow_registry()
    node = Asker.bind(registry)
    assert node.remembers() and node.memory is not None
    asked = run_flow(node, registry, P.MODE_ALWAYS_ASK, answer_with=42)
    assert (asked.value, asked.how, asked.source) == (42, nodes_base.ASK, nodes_base.SOURCE_PERSON)
    assert asked.outcome.answered
    recalled = run_flow(node, registry, P.MODE_USE_LAST_ANSWER)
    assert (recalled.value, recalled.how, recalled.source) == (42, nodes_base.RECALL, "last answer")
    passed = run_flow(node, registry, P.MODE_PASS_DEFAULT)
    assert (passed.value, passed.how, passed.outcome) == (5, nodes_base.PASS, None)
    assert run_flow(node, registry, P.MODE_USE_PRESET).value == 7
    # IS_CHANGED follows the same declarations.
    stamped = {"unique_id": "4", memory.IDENTITY_INPUT: "id:wf"}
    assert math.isnan(node.IS_CHANGED(mode=P.MODE_ALWAYS_ASK, **stamped))
    assert node.IS_CHANGED(mode=P.MODE_USE_LAST_ANSWER, **stamped) == node.IS_CHANGED(
        mode=P.MODE_USE_LAST_ANSWER, **stamped
    )
    assert node.IS_CHANGED(mode=P.MODE_USE_PRESET, preset="1") != node.IS_CHANGED(mode=P.MODE_USE_PRESET, preset="2")


def test_the_node_flow_gives_the_timeout_fallback_and_never_remembers_it() -> None:
    registry, registry.opened = flow_registry()
    node = Asker.bind(registry)
    timed_out = run_flow(node, registry, P.MODE_ALWAYS_ASK, on_timeout=P.ON_TIMEOUT_USE_DEFAULT, timeout_s=0.01)
    assert (timed_out.value, timed_out.how, timed_out.source) == (5, nodes_base.TIMED_OUT, nodes_base.SOURCE_TIMEOUT)
    assert len(node.memory) == 0
    # With nothing remembered, "use last answer" asks.
    asked = run_flow(node, registry, P.MODE_USE_LAST_ANSWER, answer_with=9)
    assert asked.how == nodes_base.ASK and asked.value == 9


def test_an_unknown_mode_is_refused_naming_the_options() -> None:
    registry, registry.opened = flow_registry()
    with pytest.raises(ValueError, match="mode must be one of always ask, use last answer, pass default, use preset"):
        run_flow(Asker.bind(registry), registry, "sometimes ask")


def test_each_question_summarizes_an_answer_for_people() -> None:
    choice = values.ValueQuestion(values.build_spec(P.VALUE_TYPE_CHOICE, choices="photo\nsketch"), 0)
    assert choice.summarize_answer(1) == "sketch"  # the label, never the index
    assert values.ValueQuestion(values.build_spec(P.VALUE_TYPE_BOOLEAN), False).summarize_answer(True) == "yes"
    form = forms.FormQuestion(forms.parse_fields("steps: INT = 20\ndenoise: FLOAT = 0.4\nstyle: CHOICE a | b"))
    assert form.summarize_answer({"steps": 30, "denoise": 0.4, "style": "b"}) == "steps 30, denoise 0.4, style b"
    four = picks.PickQuestion(picks.PickBounds.for_batch(4, 1, 0))
    assert four.summarize_answer((2, 0)) == "3, 1 of 4 images"  # numbered as the tiles show them
    painter = masks.MaskQuestion(2, 8, 8)
    stroke = {"op": "brush", "size": 2, "hardness": 1, "points": [0, 0, 4, 4]}
    painted = painter.validate({"masks": [[stroke, stroke, {"op": "invert"}], [stroke]], "same_for_all": False})
    assert painter.summarize_answer(painted) == "3 strokes and 1 other operation on 2 images"
    same = painter.validate({"masks": [[stroke]], "same_for_all": True})
    assert painter.summarize_answer(same) == "1 stroke, the same on all 2 images"


def test_the_record_of_an_answer_carries_its_summary() -> None:
    registry = state.RequestRegistry()
    question = values.ValueQuestion(values.build_spec(P.VALUE_TYPE_CHOICE, choices="photo\nsketch"), 0)
    request = registry.open(question.kind, prompt_id="p", node_id="1", question=question)
    registry.answer(request.id, "sketch")
    record = registry.history_log.find(request.id).as_json()
    assert (record["answer"], record["answer_summary"]) == (1, "sketch")
    cancelled = registry.open(question.kind, prompt_id="p", node_id="2", question=question)
    registry.cancel(cancelled.id)
    assert registry.history_log.find(cancelled.id).as_json()["answer_summary"] is None
