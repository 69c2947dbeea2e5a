"""The integer doubler: the classic "passing control to JavaScript" round trip."""

from __future__ import annotations

from typing import Any

from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import HIDDEN_INPUTS, HitlNode, audit_ui, end_run_interrupted

#: Inputs stay within +-2**52 so the doubled value is exact in a JavaScript number.
LIMIT = 2**52


def validate_doubled(value: Any) -> int:
    """An answer must be a whole number a browser can represent exactly."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAnswer("the answer must be an integer")
    if abs(value) > 2 * LIMIT:
        raise InvalidAnswer(f"the answer must be within +-{2 * LIMIT}")
    return value


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
                    {"default": 60, "min": 0, "max": 7 * 24 * 3600, "tooltip": "0 waits forever"},
                ),
            },
            "hidden": dict(HIDDEN_INPUTS),
        }

    async def double(
        self,
        value: int,
        ask_first: bool = False,
        timeout_seconds: int = 60,
        unique_id: str | None = None,
        extra_pnginfo: Any = None,
    ) -> dict[str, Any]:
        outcome = await self.ask(
            P.KIND_INTEGER_DOUBLER,
            {"value": int(value), "ask_first": bool(ask_first)},
            unique_id=unique_id,
            extra_pnginfo=extra_pnginfo,
            timeout_s=timeout_seconds,
            validate=validate_doubled,
            summary=f"{int(value)} × 2",
        )
        if outcome.answered:
            ui = {"doubled": [outcome.value], **audit_ui(outcome, extra_pnginfo)}
            return {"ui": ui, "result": (outcome.value,)}
        if outcome.reason == P.REASON_TIMEOUT:
            raise TimeoutError(f"no browser or API client answered within {timeout_seconds} s")
        end_run_interrupted(outcome)
