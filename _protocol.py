"""The wire protocol shared with the browser: route paths, event names, state names.

This is the one place the Python side spells these strings; ``web/protocol.js`` is the
one place the browser spells them, and ``tests/test_protocol.py`` checks the two agree.
"""

from __future__ import annotations

from typing import Any

#: Every route of ours lives under this prefix (ComfyUI also serves it under ``/api``).
ROUTE_PREFIX = "/hitl"

#: Route paths, as aiohttp patterns. ``{request_id}`` is the unguessable id of a request.
ROUTES: dict[str, str] = {
    "list": f"{ROUTE_PREFIX}/requests",
    "answer": f"{ROUTE_PREFIX}/requests/{{request_id}}/answer",
    "cancel": f"{ROUTE_PREFIX}/requests/{{request_id}}/cancel",
    "image": f"{ROUTE_PREFIX}/requests/{{request_id}}/images/{{index}}",
    "openapi": f"{ROUTE_PREFIX}/openapi.json",
}

#: The websocket event (``send_sync`` type) that carries every change of a request.
EVENT_REQUEST = "hitl-request"

#: States of a request. A request is born WAITING and leaves it exactly once.
STATE_WAITING = "waiting"
STATE_ANSWERED = "answered"
STATE_CANCELLED = "cancelled"
STATE_RESET = "reset"
STATES = (STATE_WAITING, STATE_ANSWERED, STATE_CANCELLED, STATE_RESET)

#: Why a request left WAITING.
REASON_ANSWER = "answer"
REASON_USER_CANCEL = "user_cancel"
REASON_INTERRUPT = "interrupt"
REASON_TIMEOUT = "timeout"
REASON_PROMPT_OVER = "prompt_over"
REASONS = (REASON_ANSWER, REASON_USER_CANCEL, REASON_INTERRUPT, REASON_TIMEOUT, REASON_PROMPT_OVER)

#: Kinds of request, one per node that asks the browser something.
KIND_INTEGER_DOUBLER = "integer-doubler"
KIND_VALUE_PROMPT = "value-prompt"
KIND_IMAGE_PICKER = "image-picker"
KINDS = (KIND_INTEGER_DOUBLER, KIND_VALUE_PROMPT, KIND_IMAGE_PICKER)

#: What a value prompt asks for (``payload["type"]`` of a ``value-prompt`` request). These
#: are also the choices of the node's ``value_type`` widget, so saved workflows keep them.
VALUE_TYPE_INT = "INT"
VALUE_TYPE_FLOAT = "FLOAT"
VALUE_TYPE_STRING = "STRING"
VALUE_TYPE_MULTILINE = "STRING (multi-line)"
VALUE_TYPE_BOOLEAN = "BOOLEAN"
VALUE_TYPE_CHOICE = "CHOICE"
VALUE_TYPES = (
    VALUE_TYPE_INT,
    VALUE_TYPE_FLOAT,
    VALUE_TYPE_STRING,
    VALUE_TYPE_MULTILINE,
    VALUE_TYPE_BOOLEAN,
    VALUE_TYPE_CHOICE,
)

#: ``error.code`` values of a refused call.
ERROR_CODES = (
    "unsupported_media_type",
    "body_too_large",
    "malformed_json",
    "invalid_body",
    "invalid_answer",
    "unknown_request",
    "not_waiting",
    "forbidden_origin",
    "not_found",
)

#: The largest request body we read, in bytes.
MAX_BODY_BYTES = 256 * 1024

#: The workflow id a frontend leaves on a workflow that has none of its own (1.27.10 keeps
#: it from a file that carries it): it identifies nothing, on either side.
NIL_WORKFLOW_ID = "00000000-0000-0000-0000-000000000000"


def as_dict() -> dict[str, Any]:
    """Everything the browser must agree on, in the shape ``web/protocol.js`` exports."""
    return {
        "ROUTE_PREFIX": ROUTE_PREFIX,
        "ROUTES": dict(ROUTES),
        "EVENT_REQUEST": EVENT_REQUEST,
        "STATES": {
            "WAITING": STATE_WAITING,
            "ANSWERED": STATE_ANSWERED,
            "CANCELLED": STATE_CANCELLED,
            "RESET": STATE_RESET,
        },
        "REASONS": {
            "ANSWER": REASON_ANSWER,
            "USER_CANCEL": REASON_USER_CANCEL,
            "INTERRUPT": REASON_INTERRUPT,
            "TIMEOUT": REASON_TIMEOUT,
            "PROMPT_OVER": REASON_PROMPT_OVER,
        },
        "KINDS": {
            "INTEGER_DOUBLER": KIND_INTEGER_DOUBLER,
            "VALUE_PROMPT": KIND_VALUE_PROMPT,
            "IMAGE_PICKER": KIND_IMAGE_PICKER,
        },
        "VALUE_TYPES": {
            "INT": VALUE_TYPE_INT,
            "FLOAT": VALUE_TYPE_FLOAT,
            "STRING": VALUE_TYPE_STRING,
            "MULTILINE": VALUE_TYPE_MULTILINE,
            "BOOLEAN": VALUE_TYPE_BOOLEAN,
            "CHOICE": VALUE_TYPE_CHOICE,
        },
        "ERROR_CODES": list(ERROR_CODES),
        "MAX_BODY_BYTES": MAX_BODY_BYTES,
        "NIL_WORKFLOW_ID": NIL_WORKFLOW_ID,
    }
