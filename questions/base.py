"""The one question abstraction: what a person is asked, whatever the kind of answer.

Every kind of answer (a typed value, a form, picks from a batch, a painted mask, a doubled
integer) is a :class:`Question`. The node flow (``nodes/base.py``) asks through it, the
registry checks every answer with its ``validate`` (so the ComfyUI tab, the inbox, the CLI
and any API client are judged alike), lists and pushes show its ``summary``, a timeout or a
"pass" mode takes its ``default``, and "use last answer" keeps its ``remembered`` form and
asks it whether that still fits (``recall``).

A new kind of answer is one module here (its question), one in ``nodes/`` (its node: inputs,
outputs, and the question it asks) and one dialog in ``web/``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from ..server.errors import InvalidAnswer


class Question(ABC):
    """One thing a person is asked.

    ``kind`` is the request kind (``server/protocol.py`` ``KIND_*``): which dialog opens.
    ``memory_tag`` says what kind of answer "use last answer" keeps, so a node whose settings
    changed to another type of answer does not take an old one (a value prompt's tag is its
    value type)."""

    kind: ClassVar[str]

    @property
    def memory_tag(self) -> str:
        """What kind of answer this is, for the memory of "last answer"."""
        return self.kind

    @abstractmethod
    def validate(self, value: Any) -> Any:
        """The answer, normalised, or :class:`InvalidAnswer` saying what does not fit.

        Called on ComfyUI's event loop for every answer anyone posts, up to the body cap: it
        must be bounded (sizes and counts first) and linear (see ``questions/checks.py``)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the dialog needs to know of what fits (merged into the request's payload)."""

    @abstractmethod
    def summary(self) -> str:
        """What is asked, in a few words ("INT 1–60", "pick 2 of 8"): the request's summary
        in lists, pushes and the CLI."""

    @abstractmethod
    def default(self) -> Any:
        """The answer given when nobody is asked (a "pass" mode) or nobody answered in time,
        as :meth:`validate` gives an answer."""

    def record(self, value: Any) -> Any:
        """An answer (what ``validate`` gave) as the history keeps it, and as lists, pushes,
        the inbox's Recent list and ``cli.py history`` show it: plain JSON, small."""
        return value

    def summarize_answer(self, value: Any) -> str:
        """An answer (what ``validate`` gave) in a few words for people: the inbox's Recent
        list, pushes, ``cli.py history``. Plain text; the registry cuts it to one short line."""
        return json.dumps(self.record(value), ensure_ascii=False, separators=(", ", ": "))

    def remembered(self, value: Any) -> Any:
        """What "use last answer" keeps of an answer (what ``validate`` gave)."""
        return value

    def recall(self, kept: Any) -> Any | None:
        """A kept answer as an answer to this question, or None when it no longer fits (the
        node's settings or input changed since): then the person is asked again."""
        try:
            return self.validate(kept)
        except InvalidAnswer:
            return None

    def fingerprint(self, kept: Any) -> str:
        """A kept answer as ComfyUI's ``IS_CHANGED`` value: equal for the same answer, so the
        stages after a node that reuses it stay cached."""
        return json.dumps([self.memory_tag, kept], separators=(",", ":"), ensure_ascii=False)
