"""Baton's Python client: find, submit, clone and wait for tasks and runs of a Baton server.

Standard library only. ``from baton import Baton; b = Baton.connect()``; see docs/python.md.
"""

from .client import Baton, Run, Task
from .errors import (
    AuthenticationError,
    BatonConnectionError,
    BatonError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ServerError,
    WaitTimeout,
)

__all__ = [
    "Baton",
    "Run",
    "Task",
    "BatonError",
    "AuthenticationError",
    "BatonConnectionError",
    "ConflictError",
    "InvalidRequestError",
    "NotFoundError",
    "ServerError",
    "WaitTimeout",
]

__version__ = "0.1.0"
