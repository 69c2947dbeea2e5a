"""What every answer validator builds on: bound the input first, then look at it.

A validator runs on ComfyUI's event loop, for every answer anyone posts, and the answer may
be as large as the body cap (256 KiB: about 87,000 list items). So each kind's check follows
one pattern, which these helpers make short:

1. **Type and size first.** Before looking at any item or character, refuse a value of the
   wrong type, a list longer than the most the question allows (a picker's batch or
   ``max_picks``), text longer than ``max_length``, an object with more fields than the
   question has. Each costs O(1) and answers with the same clear 422 as any other refusal.
2. **Then one linear pass** over what is left, which is now small: no ``list.count`` or
   ``list.index`` in a loop, no nested loop over the answer; duplicates through a set
   (:func:`duplicates`).
3. **Messages show a bounded excerpt** (:func:`shown`), never a ``repr`` of the whole answer:
   a refusal's body stays small, and a deeply nested answer cannot overflow the stack there.

``tests/test_answer_checks.py`` tests these helpers; ``tests/test_hostile_clients.py`` times
every kind against the largest bodies the cap allows (add a new kind to
``dev/harness/hostile.py`` and it is timed too).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

#: The longest excerpt of an answer a refusal message quotes.
EXCERPT_CHARS = 40

#: Numbers larger than this many digits are described by their length, not written out.
_SHOWN_DIGITS = 30


def shown(value: Any) -> str:
    """A short, JSON-like rendering of (part of) an answer for a refusal message.

    Bounded whatever the value: text is cut before it is escaped, a container is named, not
    written out, and a huge integer is described by its number of digits.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # bit_length is O(1); str() of a 4,000-digit integer is not.
        if value.bit_length() > _SHOWN_DIGITS * 3.3:
            digits = int(value.bit_length() * math.log10(2)) + 1
            return f"a number of about {digits} digits"
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        # Escaping keeps a prefix a prefix: escape only what can be shown, then cut.
        text = json.dumps(value[:EXCERPT_CHARS])
        return text if len(text) <= EXCERPT_CHARS else f"{text[: EXCERPT_CHARS - 3]}…"
    return type(value).__name__


def duplicates(items: Iterable[Any], *, limit: int = 5) -> list[Any]:
    """The first ``limit`` items that appear more than once, in order of their second
    appearance; one pass and a set (items must be hashable)."""
    seen: set[Any] = set()
    repeated: list[Any] = []
    reported: set[Any] = set()
    for item in items:
        if item in seen:
            if item not in reported:
                reported.add(item)
                repeated.append(item)
                if len(repeated) >= limit:
                    break
        else:
            seen.add(item)
    return repeated
