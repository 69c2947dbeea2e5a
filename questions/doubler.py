"""The integer doubler's question: the classic "passing control to JavaScript" round trip,
where the browser (or a person, with ``ask_first``) answers with the value doubled."""

from __future__ import annotations

from typing import Any

from ..server import protocol as P
from ..server.errors import InvalidAnswer
from .base import Question

#: Inputs stay within +-2**52 so the doubled value is exact in a JavaScript number.
LIMIT = 2**52


def validate_doubled(value: Any) -> int:
    """An answer must be a whole number a browser can represent exactly."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAnswer("the answer must be an integer")
    if abs(value) > 2 * LIMIT:
        raise InvalidAnswer(f"the answer must be within +-{2 * LIMIT}")
    return value


class DoublerQuestion(Question):
    """``value`` × 2, computed by the browser; with ``ask_first`` it waits for Send."""

    kind = P.KIND_INTEGER_DOUBLER

    def __init__(self, value: int, ask_first: bool = False) -> None:
        self.value = int(value)
        self.ask_first = bool(ask_first)

    def __repr__(self) -> str:
        return f"<DoublerQuestion {self.value} ask_first={self.ask_first}>"

    def validate(self, value: Any) -> int:
        """An integer within the bounds (``validate_doubled``), and the double: nothing else."""
        doubled = validate_doubled(value)
        if doubled != 2 * self.value:
            raise InvalidAnswer(f"{self.value} × 2 is {2 * self.value}, not {doubled}")
        return doubled

    def describe(self) -> dict[str, Any]:
        return {"value": self.value, "ask_first": self.ask_first}

    def summary(self) -> str:
        return f"{self.value} × 2"

    def summarize_answer(self, value: int) -> str:
        return str(value)

    def default(self) -> int:
        """The right answer, which is what a browser sends."""
        return 2 * self.value
