"""The Form Field node: one field taken out of a form's answers, typed, so any number of a
form's fields can feed any number of nodes."""

from __future__ import annotations

from typing import Any

from ..questions.forms import FORM_TYPE, FormAnswers, check_name
from .base import CATEGORY


class FormField:
    """Takes the field ``name`` out of a Form's answers and outputs it as int, float, string
    and boolean, converted as the value prompt's outputs are (a choice: its index, its label,
    and whether it is not the first). A name the form lacks is an error listing its fields.

    It never asks anything itself, so it is a plain node (no registry) that ComfyUI caches
    like any other: unchanged answers leave it, and what follows it, cached.
    """

    DISPLAY_NAME = "Form Field (one answer)"
    CATEGORY = CATEGORY
    RETURN_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN")
    RETURN_NAMES = ("int", "float", "string", "boolean")
    OUTPUT_TOOLTIPS = (
        "The answer as a whole number (a FLOAT is rounded, halves away from 0; no/yes are 0/1; "
        "a choice gives its index; text gives 0)",
        "The answer as a number",
        "The answer as text (a choice gives its label)",
        "The answer's truth: a non-zero number, non-empty text, yes, or any choice but the first",
    )
    FUNCTION = "take"

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "form": (FORM_TYPE, {"tooltip": "The form output of a Form node"}),
                "name": ("STRING", {"default": "steps", "tooltip": "The name of the field to take"}),
            }
        }

    @classmethod
    def VALIDATE_INPUTS(cls, name: Any = None) -> bool | str:
        # Whether the form has the field is known only once it runs (the Form node checks
        # its Form Field nodes before it asks); a name that can name no field is refused now.
        if name is None:
            return True
        if not str(name).strip():
            return "name is empty: write the name of one of the form's fields"
        try:
            check_name(str(name).strip())
        except ValueError as exc:
            return f"name: {exc}"
        return True

    def take(self, form: Any, name: str) -> tuple[int, float, str, bool]:
        if not isinstance(form, FormAnswers):
            raise TypeError(f"the form input must come from a Form node's form output, not a {type(form).__name__}")
        try:
            return form.outputs(name.strip())
        except LookupError as exc:
            raise ValueError(str(exc)) from None
