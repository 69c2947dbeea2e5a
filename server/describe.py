"""A request described for people, in one line: "Image Picker #12: Keep the best (pick 2–4 of 32)".

Each node says what it asks in a few words when it opens a request (:func:`summarize`: its
title and what fits, e.g. "Refiner steps (INT 1–60)"); the registry keeps that as the
request's ``summary`` (cleaned by :func:`one_line`), in its view and in its record, so it is
there after the request ended too. :func:`describe_request` puts the node's name in front:
pushes use it, and ``cli.py`` (its ``watch`` lines, its NODE and ASKS columns come from
:func:`node_name` and :func:`asks`). ``web/describe.js`` is the browser's twin (system
notifications, the inbox's rows, the dialogs' subtitles); ``tests/test_describe.py`` checks
both give the same text. Workflow text (node titles, a dialog's title) is made single-line
and capped, since it ends up in notification titles, terminal tables and HTTP headers.

:func:`duration` and :func:`ago` say how long, in the same words as ``web/describe.js``'s
(the inbox's rows and deep links; the CLI's tables here): the test checks both on the same
inputs.

This module imports only ``server/protocol.py`` and the standard library (``cli.py`` loads
both beside itself, with no ComfyUI).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from . import protocol as P

#: The longest description, in characters (code points), "…" included.
MAX_LENGTH = 160
#: The longest node name inside a description.
MAX_PART_LENGTH = 80
#: The longest summary a request keeps.
MAX_SUMMARY_LENGTH = 120
#: The longest summary of an answer a record keeps ("steps 30, denoise 0.4, …").
MAX_ANSWER_SUMMARY = 120

#: What people call each kind of request (when a request has no summary of its own).
KIND_NAMES: dict[str, str] = {
    P.KIND_INTEGER_DOUBLER: "Integer doubler",
    P.KIND_VALUE_PROMPT: "Value prompt",
    P.KIND_IMAGE_PICKER: "Image picker",
    P.KIND_FORM: "Form",
    P.KIND_MASK_PAINTER: "Mask painter",
}

#: How a request ended, in people's words (by its record's ``outcome``): the CLI's list,
#: history and watch, and the pushes, say it alike.
OUTCOME_WORDS: dict[str, str] = {
    P.OUTCOME_ANSWERED: "answered",
    P.OUTCOME_CANCELLED: "cancelled",
    P.OUTCOME_TIMED_OUT: "timed out",
    P.OUTCOME_INTERRUPTED: "interrupted",
    P.OUTCOME_RESET: "reset",
}

#: Where an answer or a cancel came from, in people's words (by the surface it claims).
SURFACE_WORDS: dict[str, str] = {
    P.SURFACE_COMFYUI_TAB: "in the ComfyUI tab",
    P.SURFACE_INBOX: "from the inbox",
    P.SURFACE_CLI: "from the CLI",
    P.SURFACE_API: "through the API",
}


def outcome_words(view: Mapping[str, Any]) -> str:
    """How a request ended ("timed out"), or its state while it has no outcome ("waiting")."""
    outcome = view.get("outcome")
    if isinstance(outcome, str) and outcome in OUTCOME_WORDS:
        return OUTCOME_WORDS[outcome]
    return str(outcome or view.get("state") or "ended").replace("_", " ")


_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f\u2028\u2029]+")
_SPACES = re.compile(" {2,}")


def one_line(text: Any, limit: int) -> str:
    """``text`` as one line: control characters and line breaks become a space, runs of
    spaces one space, cut to ``limit`` characters with "…"."""
    line = _SPACES.sub(" ", _CONTROL.sub(" ", str(text))).strip(" ")
    return line if len(line) <= limit else line[: limit - 1].rstrip(" ") + "…"


def summarize(title: Any, what: str) -> str:
    """A node's summary of what it asks: "Refiner steps (INT 1–60)", or only ``what`` when
    the node has no title."""
    title_line = one_line(title, MAX_PART_LENGTH) if isinstance(title, str) else ""
    return one_line(f"{title_line} ({what})" if title_line else what, MAX_SUMMARY_LENGTH)


def kind_name(kind: Any) -> str:
    """A kind as people call it: "Image picker"."""
    return KIND_NAMES.get(str(kind), str(kind or "Request"))


def node_name(view: Mapping[str, Any]) -> str:
    """Which node asks: its title as the workflow shows it, else "Node #12", else "A node"."""
    label = view.get("node_label")
    name = one_line(label, MAX_PART_LENGTH) if isinstance(label, str) else ""
    if name:
        return name
    node_id = view.get("node_id")
    return f"Node #{one_line(node_id, MAX_PART_LENGTH)}" if node_id else "A node"


def asks(view: Mapping[str, Any]) -> str:
    """What it asks: the request's summary, else its kind's name."""
    summary = view.get("summary")
    what = one_line(summary, MAX_SUMMARY_LENGTH) if isinstance(summary, str) else ""
    return what or kind_name(view.get("kind"))


def describe_request(view: Mapping[str, Any]) -> str:
    """Which node asks and what, for a request's view or record: ``"<node>: <what it asks>"``."""
    return one_line(f"{node_name(view)}: {asks(view)}", MAX_LENGTH)


def _round_half_up(x: float) -> int:
    """``x`` to the nearest whole number, a half up: JavaScript's ``Math.round`` (Python's
    ``round`` takes a half to the even number), so both sides say the same number."""
    whole = math.floor(x)
    return whole + (1 if x - whole >= 0.5 else 0)


def duration(ms: float) -> str:
    """A duration as a person reads it: "0:07", "2:13", "1h 05m" (whole seconds, rounded down;
    a countdown adds 999 ms first, so "0:01" is shown until the time is up)."""
    total = max(0, math.floor(ms / 1000))
    minutes = total // 60
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60:02d}m"
    return f"{minutes}:{total % 60:02d}"


def ago(ms: float) -> str:
    """How long ago, from ``ms`` milliseconds: "just now", "40 s ago", "3 min ago", "5 h ago",
    "3 days ago" (from two days on). Measure ``ms`` on one clock (the server's), never a
    device's against the server's."""
    seconds = max(0, _round_half_up(ms / 1000))
    if seconds < 10:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    minutes = _round_half_up(seconds / 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = _round_half_up(minutes / 60)
    if hours < 48:
        return f"{hours} h ago"
    return f"{_round_half_up(hours / 24)} days ago"
