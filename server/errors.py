"""Every refusal of the pack in one place: the exception family, each with its ``code``, and
the one table of HTTP statuses those codes answer with.

A leaf module (standard library only, imports nothing of the pack), so the state machine,
the settings, the answer checks and the routes all raise from here without importing each
other. ``server/protocol.py`` takes its ``ERROR_CODES`` (what the browser may see) from the
table below, and ``error_response`` in ``server_routes.py`` turns any of these into JSON.
"""

from __future__ import annotations

#: ``error.code`` of a refused call -> the HTTP status it answers with. The browser's copy of
#: the codes is ``ERROR_CODES`` in ``web/protocol.js``; a new code goes at the end.
ERROR_STATUS: dict[str, int] = {
    "unsupported_media_type": 415,
    "body_too_large": 413,
    "malformed_json": 400,
    "invalid_body": 422,
    "invalid_answer": 422,
    "unknown_request": 404,
    "not_waiting": 409,
    "forbidden_origin": 403,
    "not_found": 404,
    "forbidden_host": 403,
    "config_locked": 409,
    # paired devices (server/pairing.py, server/remote.py)
    "not_paired": 401,
    "pairing_refused": 403,
    "too_many_attempts": 429,
    "local_only": 403,
    "body_timeout": 408,
}


class HitlError(Exception):
    """A refused call. ``code`` is a key of :data:`ERROR_STATUS`; ``field``, when set, names
    the form field the refusal is about."""

    code = "invalid_body"
    field: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status this refusal answers with."""
        return ERROR_STATUS[self.code]


class Refused(HitlError):
    """A call refused before it reached the registry (its body, origin, or host); the code
    is given with each refusal."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code


class UnknownRequest(HitlError):
    """No request with that id was ever seen (or it is long forgotten)."""

    code = "unknown_request"


class NotWaiting(HitlError):
    """The request exists but has already left the waiting state."""

    code = "not_waiting"


class IllegalTransition(NotWaiting):
    """A move the state machine does not allow (e.g. answered -> cancelled)."""


class InvalidAnswer(HitlError):
    """The answer does not fit what the request asked for (in the form field ``field``, if
    it is one field of a form that is wrong)."""

    code = "invalid_answer"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SettingsLocked(HitlError):
    """The setting is fixed by an environment variable, or changes are locked."""

    code = "config_locked"


class InvalidSetting(HitlError):
    """A value that does not fit its setting (the message says why)."""

    code = "invalid_body"
