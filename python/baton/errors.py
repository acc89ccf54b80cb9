"""Errors raised by the Baton client.

Every error is a :class:`BatonError` with a stable ``code``: the server's own code when the API
answered with an error (``STORE_NOT_FOUND``, ``PARAM_INVALID``, ``BAD_REQUEST``...), else one
of the client's (``UNREACHABLE``, ``NO_SERVER``, ``TIMEOUT``, ``NO_MATCH``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class BatonError(Exception):
    """An error of Baton or of its API.

    Attributes:
        code: The error code (see the module docstring).
        message: What went wrong, in words.
        status: The HTTP status the server answered with, or None for client-side errors.
        problems: Located problems the server listed (``{"path": "body.params.lr", "message": ...}``).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: Optional[int] = None,
        problems: Optional[List[Dict[str, Any]]] = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.problems: List[Dict[str, Any]] = list(problems or [])

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InvalidRequestError(BatonError):
    """The server refused the request as wrong (HTTP 400): a bad param, name or field."""


class AuthenticationError(BatonError):
    """The server refused the token (HTTP 401)."""


class NotFoundError(BatonError):
    """No such task, run or pipeline (HTTP 404), or no task matches a search."""


class ConflictError(BatonError):
    """The task or run cannot do this in its state, or an id prefix is ambiguous (HTTP 409)."""


class ServerError(BatonError):
    """The server failed (HTTP 5xx)."""


class BatonConnectionError(BatonError):
    """No server could be found or reached."""


class WaitTimeout(BatonError, TimeoutError):
    """``wait(timeout=...)`` ran out before the task or run ended (code ``TIMEOUT``)."""


def error_for(status: int, code: str, message: str, problems: Optional[List[Dict[str, Any]]] = None) -> BatonError:
    """The error for an API answer with this HTTP status and the server's code."""
    if status == 401:
        cls: type = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif 400 <= status < 500:
        cls = InvalidRequestError
    else:
        cls = ServerError
    return cls(code, message, status, problems)
