"""The Form node: the run waits until a person fills in several typed values in one dialog,
and goes on with all of them at once. The ``fields`` widget's syntax (one field per line,
``name ["label"]: TYPE options [= default]``) and its checks are ``questions/forms.py``'s; this
module declares the node's inputs and outputs, and checks that the Form Field nodes fed by it
ask for fields it has.
"""

from __future__ import annotations

import json
from typing import Any

from ..questions.forms import DEFAULT_FIELDS, FORM_TYPE, FormAnswers, FormQuestion, FormSpec, check_name, parse_fields
from ..questions.values import STRING_TYPES
from ..server import protocol as P
from .base import (
    MEMORY_HIDDEN_INPUTS,
    Hidden,
    HitlNode,
    ask_recall_or_default,
    default_or_cancel,
)

__all__ = ["FORM_FIELD_NODE", "FORM_TYPE", "Form", "FormAnswers", "check_name", "parse_fields"]

#: The node id of the companion node that takes one field out of a form.
FORM_FIELD_NODE = "HitlFormField"


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
    MODES = ask_recall_or_default(P.MODE_USE_LAST_ANSWERS, P.MODE_PASS_DEFAULTS)
    ON_TIMEOUT = default_or_cancel(P.ON_TIMEOUT_USE_DEFAULTS)

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
                **cls.timeout_inputs(P.ON_TIMEOUT_USE_DEFAULTS, "What happens when nobody answers in time"),
                "mode": cls.mode_input(
                    "always ask; use last answers (ask once, then reuse them); pass defaults (never ask)"
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

    async def fill_in(
        self,
        fields: str = DEFAULT_FIELDS,
        title: str = "Settings",
        message: str = "",
        timeout_seconds: int = 0,
        on_timeout: str = P.ON_TIMEOUT_USE_DEFAULTS,
        mode: str = P.MODE_ALWAYS_ASK,
        text: str | None = None,
        image: Any = None,
        **hidden_inputs: Any,
    ) -> dict[str, Any]:
        form = parse_fields(fields)
        hidden = Hidden.of(hidden_inputs)
        problems = consumer_errors(form, hidden.api_prompt, hidden.node_id)
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

        answer = await self.answer_beside_image(
            FormQuestion(form, starting),
            image=image,
            title=title,
            message=message,
            mode=mode,
            on_timeout=on_timeout,
            timeout_s=timeout_seconds,
            hidden=hidden,
        )
        return self._result(form, answer.value, answer.source, answer.audit(hidden))

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
