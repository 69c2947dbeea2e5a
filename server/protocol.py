"""The wire protocol shared with the browser: route paths, event names, state names.

This is the one place the Python side spells these strings; ``web/protocol.js`` is the
one place the browser spells them, and ``tests/test_protocol.py`` checks the two agree.
"""

from __future__ import annotations

from typing import Any

from .errors import ERROR_STATUS

#: Every route of ours lives under this prefix (ComfyUI also serves it under ``/api``).
ROUTE_PREFIX = "/hitl"

#: Route paths, as aiohttp patterns. ``{request_id}`` is the unguessable id of a request.
ROUTES: dict[str, str] = {
    "list": f"{ROUTE_PREFIX}/requests",
    "answer": f"{ROUTE_PREFIX}/requests/{{request_id}}/answer",
    "cancel": f"{ROUTE_PREFIX}/requests/{{request_id}}/cancel",
    # What the person has done so far (the mask painter's strokes), drawn ahead of the answer.
    "draft": f"{ROUTE_PREFIX}/requests/{{request_id}}/draft",
    "image": f"{ROUTE_PREFIX}/requests/{{request_id}}/images/{{index}}",
    "thumbnails": f"{ROUTE_PREFIX}/requests/{{request_id}}/thumbnails",
    "openapi": f"{ROUTE_PREFIX}/openapi.json",
    # One request, waiting or ended (a deep link, ``show`` in the CLI); the last ended ones.
    "request": f"{ROUTE_PREFIX}/requests/{{request_id}}",
    "history": f"{ROUTE_PREFIX}/history",
    # The inbox page (any device, no ComfyUI frontend needed) and the modules it loads:
    # ``{folder}`` is ``inbox`` or ``web``, ``{name}`` an allow-listed file of that folder.
    "inbox": f"{ROUTE_PREFIX}/inbox",
    "ui": f"{ROUTE_PREFIX}/ui/{{folder}}/{{name}}",
    "notify_config": f"{ROUTE_PREFIX}/notify/config",
    "notify_status": f"{ROUTE_PREFIX}/notify/status",
    "notify_test": f"{ROUTE_PREFIX}/notify/test",
    # --- paired devices (docs/pairing.md) ---
    # A phone trades a one-time pairing secret for a device cookie (public, rate-limited);
    # who this device is (and which live stream the inbox follows); the listener's live stream.
    "pair": f"{ROUTE_PREFIX}/pair",
    "device": f"{ROUTE_PREFIX}/device",
    "events": f"{ROUTE_PREFIX}/events",
    # Management: only on ComfyUI's own port, only for callers on this machine.
    "pairing_secrets": f"{ROUTE_PREFIX}/pairing/secrets",
    "devices": f"{ROUTE_PREFIX}/devices",
    "device_revoke": f"{ROUTE_PREFIX}/devices/{{device_id}}/revoke",
    "devices_revoke_all": f"{ROUTE_PREFIX}/devices/revoke-all",
}

#: The routes the pack's own listener serves (``COMFYUI_HITL_REMOTE_LISTEN``): the inbox page,
#: its modules, the request routes it uses, pairing and the live stream. Nothing else.
LISTENER_ROUTES = (
    "list",
    "answer",
    "cancel",
    "draft",
    "image",
    "thumbnails",
    "request",
    "history",
    "inbox",
    "ui",
    "pair",
    "device",
    "events",
)
#: Routes of the listener that need no paired device: the page, its modules and the pairing call.
PUBLIC_LISTENER_ROUTES = ("inbox", "ui", "pair")

#: The inbox URL's fragment key that carries a pairing secret: ``/hitl/inbox#pair=<secret>``
#: (a fragment reaches no server log and no Referer).
PAIR_FRAGMENT = "pair"
#: The cookie that carries a paired device's token (HttpOnly; the page never sees it).
DEVICE_COOKIE = "hitl_device"
#: How long a pairing secret is valid, and how many pairing attempts one address may make a minute.
PAIRING_SECRET_TTL_S = 600
PAIRING_ATTEMPTS_PER_MINUTE = 10
#: How the inbox follows request changes (``GET /hitl/device``'s ``stream``): ComfyUI's
#: websocket on ComfyUI's port, the listener's server-sent events on the listener.
STREAM_WEBSOCKET = "websocket"
STREAM_EVENTS = "events"
#: The first event of the listener's stream: its client id (as ComfyUI's ``status`` gives one).
EVENT_HELLO = "hitl-hello"

#: The inbox's query parameter that opens one request's dialog: ``/hitl/inbox?request=<id>``.
INBOX_REQUEST_PARAM = "request"

#: Where a push's link points, under the configured public URL: the inbox page, opened on
#: one request. (Only the server builds these links; the browser never needs the pattern.)
DEEP_LINK = f"{ROUTES['inbox']}?{INBOX_REQUEST_PARAM}={{request_id}}"

#: ``GET /hitl/history?limit=N``: how many ended requests by default, and at most.
HISTORY_LIMIT_DEFAULT = 20
HISTORY_LIMIT_MAX = 200

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

#: Who ended a request (an audit record's ``by.surface``). A client may claim the first
#: four in an answer or cancel body; the server alone sets the others.
SURFACE_COMFYUI_TAB = "comfyui-tab"
SURFACE_INBOX = "inbox"
SURFACE_CLI = "cli"
SURFACE_API = "api"
SURFACE_TIMEOUT = "timeout"
SURFACE_INTERRUPT = "interrupt"
SURFACE_SERVER = "server"
CLAIMABLE_SURFACES = (SURFACE_COMFYUI_TAB, SURFACE_INBOX, SURFACE_CLI, SURFACE_API)
SURFACES = (*CLAIMABLE_SURFACES, SURFACE_TIMEOUT, SURFACE_INTERRUPT, SURFACE_SERVER)

#: How an ended request ended, in one word a person reads (``outcome`` of its view).
OUTCOME_ANSWERED = "answered"
OUTCOME_CANCELLED = "cancelled"
OUTCOME_TIMED_OUT = "timed_out"
OUTCOME_INTERRUPTED = "interrupted"
OUTCOME_RESET = "reset"
OUTCOMES = (OUTCOME_ANSWERED, OUTCOME_CANCELLED, OUTCOME_TIMED_OUT, OUTCOME_INTERRUPTED, OUTCOME_RESET)
#: Each reason's outcome: the reason says why, the outcome says what the person sees.
OUTCOME_OF_REASON = {
    REASON_ANSWER: OUTCOME_ANSWERED,
    REASON_USER_CANCEL: OUTCOME_CANCELLED,
    REASON_TIMEOUT: OUTCOME_TIMED_OUT,
    REASON_INTERRUPT: OUTCOME_INTERRUPTED,
    REASON_PROMPT_OVER: OUTCOME_RESET,
}

#: Kinds of request, one per node that asks the browser something.
KIND_INTEGER_DOUBLER = "integer-doubler"
KIND_VALUE_PROMPT = "value-prompt"
KIND_IMAGE_PICKER = "image-picker"
KIND_FORM = "form"
KIND_MASK_PAINTER = "mask-painter"
KINDS = (KIND_INTEGER_DOUBLER, KIND_VALUE_PROMPT, KIND_IMAGE_PICKER, KIND_FORM, KIND_MASK_PAINTER)

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

#: A node's ``mode`` widget: what it does when it runs. Saved workflows keep these by their
#: text, so a value is never renamed (a new one goes at the end of its node's list).
MODE_ALWAYS_ASK = "always ask"
MODE_USE_LAST_ANSWER = "use last answer"
MODE_USE_LAST_ANSWERS = "use last answers"
MODE_REPEAT_LAST_SELECTION = "repeat last selection"
MODE_REPEAT_LAST_MASK = "repeat last mask"
MODE_PASS_DEFAULT = "pass default"  # noqa: S105 (a mode's name, not a password)
MODE_PASS_DEFAULTS = "pass defaults"  # noqa: S105
MODE_PASS_EVERYTHING = "pass everything through"  # noqa: S105
MODE_PASS_INPUT_MASK = "pass input mask through"  # noqa: S105
MODE_USE_PRESET = "use preset"

#: A node's ``on_timeout`` widget: what its run does when nobody answers in time. Kept in
#: saved workflows like the modes.
ON_TIMEOUT_USE_DEFAULT = "use default"
ON_TIMEOUT_USE_DEFAULTS = "use defaults"
ON_TIMEOUT_CANCEL_RUN = "cancel run"
ON_TIMEOUT_SEND_ALL = "send all"
ON_TIMEOUT_SEND_FIRST = "send first"
ON_TIMEOUT_SEND_INPUT_MASK = "send input mask"
ON_TIMEOUT_SEND_EMPTY_MASK = "send empty mask"

#: Renditions the image route serves (``?size=``): a small JPEG for grids and strips, a
#: screen-sized JPEG to paint on, the exact full-size PNG, and the request's input mask as
#: an 8-bit grayscale PNG (mask painter requests that have one).
IMAGE_SIZES = ("thumb", "preview", "full", "mask")

#: A mask painter's answer: per image an ordered list of operations. Strokes carry their
#: points as integers in 1/POINT_SCALE pixel and their optional pen pressure in
#: 0..PRESSURE_SCALE; ``images/mask_strokes.py`` and ``web/mask_strokes.js`` draw them the same way.
MASK_OP_BRUSH = "brush"
MASK_OP_ERASE = "erase"
MASK_OP_CLEAR = "clear"
MASK_OP_INVERT = "invert"
MASK_OP_FILL = "fill"
MASK_STROKE_OPS = (MASK_OP_BRUSH, MASK_OP_ERASE)
MASK_WHOLE_OPS = (MASK_OP_CLEAR, MASK_OP_INVERT, MASK_OP_FILL)
MASK_LIMITS: dict[str, int] = {
    "POINT_SCALE": 4,
    "PRESSURE_SCALE": 255,
    #: Images of one answer (a mask painter asks about at most this many).
    "MAX_IMAGES": 64,
    #: Operations and stroke points in one answer, all images together.
    "MAX_OPS": 4096,
    "MAX_POINTS": 65536,
    #: Brush diameter, in image pixels.
    "MIN_SIZE": 1,
    "MAX_SIZE": 4096,
    #: How far outside the image a stroke point may lie, in image widths/heights.
    "COORD_MARGIN": 1,
    #: The drawing work an answer may ask for, in pixel evaluations per image pixel.
    "WORK_PER_PIXEL": 48,
}

#: ``error.code`` values of a refused call (their HTTP statuses: ``server/errors.py``).
ERROR_CODES = tuple(ERROR_STATUS)

#: The largest request body we read, in bytes.
MAX_BODY_BYTES = 256 * 1024

#: The thumbnails route streams each image as a header of this many bytes (the image's
#: index, then its length, each an unsigned 32-bit big-endian integer) and then its JPEG.
THUMBNAIL_HEADER_BYTES = 8

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
        "OUTCOMES": {
            "ANSWERED": OUTCOME_ANSWERED,
            "CANCELLED": OUTCOME_CANCELLED,
            "TIMED_OUT": OUTCOME_TIMED_OUT,
            "INTERRUPTED": OUTCOME_INTERRUPTED,
            "RESET": OUTCOME_RESET,
        },
        "OUTCOME_OF_REASON": dict(OUTCOME_OF_REASON),
        "INBOX_REQUEST_PARAM": INBOX_REQUEST_PARAM,
        "HISTORY_LIMIT_DEFAULT": HISTORY_LIMIT_DEFAULT,
        "HISTORY_LIMIT_MAX": HISTORY_LIMIT_MAX,
        "KINDS": {
            "INTEGER_DOUBLER": KIND_INTEGER_DOUBLER,
            "VALUE_PROMPT": KIND_VALUE_PROMPT,
            "IMAGE_PICKER": KIND_IMAGE_PICKER,
            "FORM": KIND_FORM,
            "MASK_PAINTER": KIND_MASK_PAINTER,
        },
        "VALUE_TYPES": {
            "INT": VALUE_TYPE_INT,
            "FLOAT": VALUE_TYPE_FLOAT,
            "STRING": VALUE_TYPE_STRING,
            "MULTILINE": VALUE_TYPE_MULTILINE,
            "BOOLEAN": VALUE_TYPE_BOOLEAN,
            "CHOICE": VALUE_TYPE_CHOICE,
        },
        "MODES": {
            "ALWAYS_ASK": MODE_ALWAYS_ASK,
            "USE_LAST_ANSWER": MODE_USE_LAST_ANSWER,
            "USE_LAST_ANSWERS": MODE_USE_LAST_ANSWERS,
            "REPEAT_LAST_SELECTION": MODE_REPEAT_LAST_SELECTION,
            "REPEAT_LAST_MASK": MODE_REPEAT_LAST_MASK,
            "PASS_DEFAULT": MODE_PASS_DEFAULT,
            "PASS_DEFAULTS": MODE_PASS_DEFAULTS,
            "PASS_EVERYTHING": MODE_PASS_EVERYTHING,
            "PASS_INPUT_MASK": MODE_PASS_INPUT_MASK,
            "USE_PRESET": MODE_USE_PRESET,
        },
        "ON_TIMEOUT": {
            "USE_DEFAULT": ON_TIMEOUT_USE_DEFAULT,
            "USE_DEFAULTS": ON_TIMEOUT_USE_DEFAULTS,
            "CANCEL_RUN": ON_TIMEOUT_CANCEL_RUN,
            "SEND_ALL": ON_TIMEOUT_SEND_ALL,
            "SEND_FIRST": ON_TIMEOUT_SEND_FIRST,
            "SEND_INPUT_MASK": ON_TIMEOUT_SEND_INPUT_MASK,
            "SEND_EMPTY_MASK": ON_TIMEOUT_SEND_EMPTY_MASK,
        },
        "IMAGE_SIZES": list(IMAGE_SIZES),
        "MASK_OPS": {
            "BRUSH": MASK_OP_BRUSH,
            "ERASE": MASK_OP_ERASE,
            "CLEAR": MASK_OP_CLEAR,
            "INVERT": MASK_OP_INVERT,
            "FILL": MASK_OP_FILL,
        },
        "MASK_LIMITS": dict(MASK_LIMITS),
        "SURFACES": {
            "COMFYUI_TAB": SURFACE_COMFYUI_TAB,
            "INBOX": SURFACE_INBOX,
            "CLI": SURFACE_CLI,
            "API": SURFACE_API,
            "TIMEOUT": SURFACE_TIMEOUT,
            "INTERRUPT": SURFACE_INTERRUPT,
            "SERVER": SURFACE_SERVER,
        },
        "CLAIMABLE_SURFACES": list(CLAIMABLE_SURFACES),
        "ERROR_CODES": list(ERROR_CODES),
        "MAX_BODY_BYTES": MAX_BODY_BYTES,
        "THUMBNAIL_HEADER_BYTES": THUMBNAIL_HEADER_BYTES,
        "NIL_WORKFLOW_ID": NIL_WORKFLOW_ID,
        "PAIR_FRAGMENT": PAIR_FRAGMENT,
        "PAIRING_SECRET_TTL_S": PAIRING_SECRET_TTL_S,
        "STREAMS": {"WEBSOCKET": STREAM_WEBSOCKET, "EVENTS": STREAM_EVENTS},
        "EVENT_HELLO": EVENT_HELLO,
    }
