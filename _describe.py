"""A request described for a person in one line: "Image Picker #12: pick 2–4 of 32".

Pushes (``_push.py``) and the audit record's ``summary`` use :func:`describe_request`;
the browser's system notifications use its twin in ``web/describe.js``.
``tests/test_describe.py`` checks that both give the same text for every kind.
Workflow text (node titles, a prompt's title) is made single-line and capped, since it
ends up in notification titles and HTTP headers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from . import _protocol as P

#: The longest description, in characters (code points), "…" included.
MAX_LENGTH = 160
#: The longest piece of workflow text (a node title, a prompt's title) inside it.
MAX_PART_LENGTH = 80

_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f\u2028\u2029]+")
_SPACES = re.compile(" {2,}")


def one_line(text: Any, limit: int) -> str:
    """``text`` as one line: control characters and line breaks become a space, runs of
    spaces one space, cut to ``limit`` characters with "…"."""
    line = _SPACES.sub(" ", _CONTROL.sub(" ", str(text))).strip(" ")
    return line if len(line) <= limit else line[: limit - 1].rstrip(" ") + "…"


def format_number(value: Any) -> str:
    """A JSON number as JavaScript's ``String()`` would write it in the common range, and the
    same way in both languages outside it (``1e-7``, ``1.5e20``), so the two sides agree."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?"
    if isinstance(value, int):
        if abs(value) < 10**16:
            return str(value)
        try:
            value = float(value)  # what a browser holds of it
        except OverflowError:
            return "?"
    if not math.isfinite(value):
        return "?"
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _value_prompt(payload: Mapping[str, Any]) -> str:
    value_type = payload.get("type")
    low, high = payload.get("min"), payload.get("max")
    if value_type in (P.VALUE_TYPE_INT, P.VALUE_TYPE_FLOAT):
        what = "a whole number" if value_type == P.VALUE_TYPE_INT else "a number"
        if low is not None and high is not None:
            what += f" {format_number(low)}–{format_number(high)}"
        elif low is not None:
            what += f" ≥ {format_number(low)}"
        elif high is not None:
            what += f" ≤ {format_number(high)}"
    elif value_type in (P.VALUE_TYPE_STRING, P.VALUE_TYPE_MULTILINE):
        what = "text"
    elif value_type == P.VALUE_TYPE_BOOLEAN:
        what = "yes or no"
    elif value_type == P.VALUE_TYPE_CHOICE:
        choices = payload.get("choices")
        count = len(choices) if isinstance(choices, list) else 0
        what = f"one of {count} choices"
    else:
        what = "a value"
    title = payload.get("title")
    title = one_line(title, MAX_PART_LENGTH) if isinstance(title, str) else ""
    return f"{title} ({what})" if title else what


def _whole(value: Any) -> bool:
    # JSON has one number type: 4 and 4.0 are the same whole number to a browser.
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _image_picker(payload: Mapping[str, Any]) -> str:
    count, low, high = payload.get("count"), payload.get("min_picks"), payload.get("max_picks")
    if not (_whole(count) and _whole(low) and _whole(high)):
        return "pick images"
    count_text, low_text, high_text = format_number(count), format_number(low), format_number(high)
    if low == high:
        return f"pick {low_text} of {count_text}"
    if high == count:
        return f"pick at least {low_text} of {count_text}"
    return f"pick {low_text}–{high_text} of {count_text}"


def describe_request(view: Mapping[str, Any]) -> str:
    """Which node asks and what, for a request view (``RequestRegistry.view``) that still
    has its payload: ``"<node label>: <what it asks>"``."""
    label = view.get("node_label")
    node_id = view.get("node_id")
    if not label:
        label = f"Node #{node_id}" if node_id else "A node"
    payload = view.get("payload")
    payload = payload if isinstance(payload, Mapping) else {}
    kind = view.get("kind")
    if kind == P.KIND_INTEGER_DOUBLER:
        value = payload.get("value")
        what = f"double {format_number(value)}"
    elif kind == P.KIND_VALUE_PROMPT:
        what = _value_prompt(payload)
    elif kind == P.KIND_IMAGE_PICKER:
        what = _image_picker(payload)
    else:
        what = "waiting for an answer"
    return one_line(f"{one_line(label, MAX_PART_LENGTH)}: {what}", MAX_LENGTH)
