"""The integer doubler: the classic "passing control to JavaScript" round trip."""

from __future__ import annotations

from typing import Any

from ..questions.doubler import LIMIT, DoublerQuestion, validate_doubled
from ..server import protocol as P
from .base import HIDDEN_INPUTS, MAX_TIMEOUT_S, Hidden, HitlNode, audit_ui, end_run_interrupted

__all__ = ["LIMIT", "IntegerDoubler", "validate_doubled"]


class IntegerDoubler(HitlNode):
    """Sends an INT to the browser, which doubles it and posts it back; outputs the result.

    With ``ask_first`` the browser shows the value and waits for Send or Cancel. With no
    browser, an API client answers through the routes; ``timeout_seconds`` (0 = never)
    ends the run with an error saying nobody answered.
    """

    DISPLAY_NAME = "Integer Doubler (browser)"
    RETURN_TYPES = ("INT",)
    RETURN_NAMES = ("doubled",)
    FUNCTION = "double"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {
            "required": {
                "value": ("INT", {"default": 21, "min": -LIMIT, "max": LIMIT}),
                "ask_first": ("BOOLEAN", {"default": False, "tooltip": "Show the value and wait for Send"}),
                "timeout_seconds": (
                    "INT",
                    {"default": 60, "min": 0, "max": MAX_TIMEOUT_S, "tooltip": "0 waits forever"},
                ),
            },
            "hidden": dict(HIDDEN_INPUTS),
        }

    async def double(
        self,
        value: int,
        ask_first: bool = False,
        timeout_seconds: int = 60,
        **hidden_inputs: Any,
    ) -> dict[str, Any]:
        hidden = Hidden.of(hidden_inputs)  # before any await: it reads which list item this is
        # No modes: a browser (or an API client) always answers; a timeout is an error.
        outcome = await self.ask_question(
            DoublerQuestion(value, ask_first),
            title=None,
            unique_id=hidden.unique_id,
            extra_pnginfo=hidden.extra_pnginfo,
            timeout_s=timeout_seconds,
            item=hidden.item,
        )
        if outcome.answered:
            ui = {"doubled": [outcome.value], **audit_ui(outcome, hidden.extra_pnginfo)}
            return {"ui": ui, "result": (outcome.value,)}
        if outcome.reason == P.REASON_TIMEOUT:
            raise TimeoutError(f"no browser or API client answered within {timeout_seconds} s")
        end_run_interrupted(outcome)
