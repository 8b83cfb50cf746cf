"""The app's services, built once by ``create_app`` and kept in ``app.extensions["facilitator"]``;
the socket handlers, the views and the tests all reach the store and friends through it. Also
the one error body that socket acks and HTTP JSON answers share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from flask import Flask
    from flask_socketio import SocketIO

    from facilitator.events import Guard
    from facilitator.group_commit import GroupCommit
    from facilitator.live import Broadcaster
    from facilitator.store import Store

KEY = "facilitator"


@dataclass
class Services:
    """What a request needs besides its payload."""

    store: Store
    socketio: SocketIO
    guard: Guard
    commit: GroupCommit
    broadcaster: Broadcaster


def services(app: Flask | None = None) -> Services:
    """The services of ``app`` (default: the current app)."""
    return (app or current_app).extensions[KEY]


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one error shape, for socket acks and HTTP JSON alike (docs/protocol.md)."""
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


def error_for(exc: Exception) -> dict[str, Any]:
    """The error body of a refusal that carries a ``code`` (``WorkshopError``, ``DeckError``);
    any other exception is the server's fault and says nothing about it."""
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        return error_body("internal", "Something went wrong on the server; try again.")
    rule = getattr(exc, "rule", None)
    return error_body(code, str(exc), **({"rule": rule} if rule else {}))
