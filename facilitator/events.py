"""Socket.IO handlers: validate, call the store, answer through the ack, notify the rooms.

Every handler answers ``{"ok": true, ...}`` or ``{"ok": false, "error": {code, message}}``
(docs/protocol.md). Tokens are checked on every event; a socket is never trusted for what it
said before. Handlers keep no state of their own: the store has it all.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_socketio import SocketIO, join_room

from facilitator import live, workshop
from facilitator.group_commit import GroupCommit
from facilitator.store import Store
from facilitator.workshop import Session, WorkshopError

log = logging.getLogger(__name__)

# Per socket: at most EVENT_BURST events at once, refilled at EVENT_RATE a second.
EVENT_RATE = 10.0
EVENT_BURST = 30.0
# Per client address: at most JOIN_FAILURES wrong join codes (or organiser secrets) in
# JOIN_WINDOW seconds.
JOIN_FAILURES = 10
JOIN_WINDOW = 60.0


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The protocol's one error shape."""
    return {"ok": False, "error": {"code": code, "message": message, **extra}}


class Guard:
    """Throttles: a token bucket per socket, and wrong join codes per client address."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}
        self.join_failures: dict[str, deque[float]] = {}

    def allow_event(self, sid: str) -> bool:
        """Take one event from this socket's bucket; False when it is empty."""
        now = time.monotonic()
        tokens, last = self.buckets.get(sid, (EVENT_BURST, now))
        tokens = min(EVENT_BURST, tokens + (now - last) * EVENT_RATE)
        if tokens < 1:
            self.buckets[sid] = (tokens, now)
            return False
        self.buckets[sid] = (tokens - 1, now)
        return True

    def join_blocked(self, address: str) -> bool:
        """Has this address tried too many wrong codes lately?"""
        failures = self.join_failures.get(address)
        if not failures:
            return False
        cutoff = time.monotonic() - JOIN_WINDOW
        while failures and failures[0] < cutoff:
            failures.popleft()
        return len(failures) >= JOIN_FAILURES

    def join_failed(self, address: str) -> None:
        """Count a wrong join code from this address."""
        self.join_failures.setdefault(address, deque()).append(time.monotonic())

    def forget(self, sid: str) -> None:
        """Drop a disconnected socket's bucket."""
        self.buckets.pop(sid, None)


def register(socketio: SocketIO) -> None:
    """Attach every handler to ``socketio``."""

    def store() -> Store:
        return current_app.extensions["facilitator.store"]

    def broadcaster() -> live.Broadcaster:
        return current_app.extensions["facilitator.broadcaster"]

    def guard() -> Guard:
        return current_app.extensions["facilitator.guard"]

    def group_commit() -> GroupCommit:
        return current_app.extensions["facilitator.commit"]

    def handler(event: str) -> Callable:
        """Register ``event``: rate limit, require an object payload, map errors to acks."""

        def wrap(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable:
            @functools.wraps(fn)
            def run(data: Any = None, *extra: Any) -> dict[str, Any]:
                if not guard().allow_event(request.sid):
                    return error("rate_limited", "Too many messages; wait a moment and retry.")
                if not isinstance(data, dict) or extra:
                    return error("bad_request", "The payload must be one JSON object.")
                try:
                    return fn(data)
                except WorkshopError as exc:
                    return {"ok": False, "error": exc.to_dict()}
                except Exception:  # never send a traceback to a phone
                    log.exception("event %s failed", event)
                    return error("internal", "Something went wrong on the server; try again.")

            socketio.on_event(event, run)
            return run

        return wrap

    def facilitator_session(data: dict[str, Any]) -> Session:
        token = data.get("token")
        session = store().by_facilitator(token)
        if session is not None:
            return session
        if store().by_projector(token) or store().by_participant(token):
            raise WorkshopError("forbidden", "Only the trainer's console can do that.")
        raise WorkshopError("bad_token", "This facilitator link is not valid.")

    def control_ack(session: Session, phones: bool = True) -> dict[str, Any]:
        broadcaster().touch(session)
        if phones:
            broadcaster().push_state(session)
        return {"ok": True, "snapshot": live.snapshot(store(), session, "facilitator",
                                                      broadcaster().base_url)}

    # -- phones -------------------------------------------------------------------------------
    @handler("join")
    def on_join(data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: join a session by code; ack carries the new token and state."""
        address = request.remote_addr or "?"
        if guard().join_blocked(address):
            return error("rate_limited", "Too many wrong codes; wait a minute and try again.")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            return error("bad_request", "name must be text.")
        session = store().by_code(workshop.normalise_code(data.get("code")))
        if session is None:
            guard().join_failed(address)
            return error("unknown_code", "No workshop has that code. Check the projector.")
        participant = store().join(session, workshop.clean_text(name, workshop.NAME_MAX),
                                   data.get("group"))
        join_room(live.participant_room(session, participant))
        broadcaster().touch(session)
        return {"ok": True, "token": participant.token,
                "state": live.participant_state(session, participant, store())}

    @handler("resume")
    def on_resume(data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: come back with a token after reload, sleep or a network change."""
        found = store().by_participant(data.get("token"))
        if found is None:
            return error("bad_token", "This phone's place in the workshop is no longer valid.")
        session, participant = found
        join_room(live.participant_room(session, participant))
        return {"ok": True, "state": live.participant_state(session, participant, store())}

    @handler("submit")
    def on_submit(data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: save one answer; acked only after it is committed (answers
        arriving together share one commit)."""
        found = store().by_participant(data.get("token"))
        if found is None:
            return error("bad_token", "This phone's place in the workshop is no longer valid.")
        session, participant = found
        record, duplicate = store().stage_submit(session, participant, data.get("step"),
                                                 data.get("answer"), data.get("id"))
        group_commit().wait(record)
        if not duplicate:
            broadcaster().touch(session)
        return {"ok": True, "version": session.version, "duplicate": duplicate,
                "answers": live.answers_view(participant)}

    # -- projector ----------------------------------------------------------------------------
    @handler("watch")
    def on_watch(data: dict[str, Any]) -> dict[str, Any]:
        """Projector → server: subscribe read-only; ack carries the snapshot."""
        session = store().by_projector(data.get("projector"))
        if session is None:
            return error("bad_token", "This projector link is not valid.")
        join_room(live.projector_room(session))
        return {"ok": True, "snapshot": live.snapshot(store(), session, "projector",
                                                      broadcaster().base_url)}

    # -- facilitator --------------------------------------------------------------------------
    @handler("facilitate")
    def on_facilitate(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: subscribe to the session's console room; ack carries the snapshot."""
        session = facilitator_session(data)
        join_room(live.console_room(session))
        return control_ack(session, phones=False)

    @handler("open_step")
    def on_open_step(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: make a step current and open; phones get their new state."""
        session = facilitator_session(data)
        store().open_step(session, data.get("step"))
        return control_ack(session)

    @handler("close_step")
    def on_close_step(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: close the current step (closing discard decides the discards)."""
        session = facilitator_session(data)
        store().close_step(session)
        return control_ack(session)

    @handler("reveal")
    def on_reveal(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: show or hide results on the projector."""
        session = facilitator_session(data)
        revealed = data.get("revealed")
        if not isinstance(revealed, bool):
            return error("bad_request", "revealed must be true or false.")
        store().reveal(session, revealed)
        return control_ack(session, phones=False)

    @handler("settle")
    def on_settle(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: settle a tied group's discard; that group's phones move on."""
        session = facilitator_session(data)
        store().settle(session, data.get("group"), data.get("statement"))
        broadcaster().push_state(session, session.members(data["group"]))
        return control_ack(session, phones=False)

    @handler("show_on_projector")
    def on_show_on_projector(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: choose what the projector shows (step view, room matrix, one table
        or one statement) until the step changes; projectors and consoles get a snapshot."""
        session = facilitator_session(data)
        live.choose_projector_view(session, data)
        return control_ack(session, phones=False)

    @handler("remove_participant")
    def on_remove(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: remove a participant; their phone is told, their answers leave."""
        session = facilitator_session(data)
        participant = store().remove_participant(session, data.get("participant"))
        broadcaster().push_state(session, [participant])
        broadcaster().release(session, [participant])
        return control_ack(session, phones=False)

    @handler("reset_session")
    def on_reset(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: delete every participant and answer (needs confirm "RESET")."""
        session = facilitator_session(data)
        if data.get("confirm") != "RESET":
            return error("confirm_required", 'Send "confirm": "RESET" to reset the session.')
        gone = session.active()
        store().reset(session)
        broadcaster().push_state(session, gone)
        broadcaster().release(session, gone)
        return control_ack(session, phones=False)

    @handler("close_session")
    def on_close_session(data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: end the session; joins and answers stop, results stay."""
        session = facilitator_session(data)
        store().close_session(session)
        return control_ack(session)

    @socketio.on("*")
    def on_unknown(event: str, data: Any = None, *extra: Any) -> dict[str, Any]:
        """Any event the protocol does not define."""
        if not guard().allow_event(request.sid):
            return error("rate_limited", "Too many messages; wait a moment and retry.")
        return error("bad_request", "Unknown event.")

    catch_all = socketio.server.handlers["/"]["*"]
    is_connected = socketio.server.manager.is_connected

    def on_literal_star(*args: Any) -> Any:
        """An event literally named "*" reaches the catch-all without its name (python-socketio
        finds the "*" handler by exact match), and Flask-SocketIO would then take the first
        payload item for the socket id. Put the name back so it is refused like any unknown
        event. (An unknown event arrives as (name, sid, *data); a "*" event as (sid, *data).)"""
        if len(args) >= 2 and isinstance(args[1], str) and is_connected(args[1], "/"):
            return catch_all(*args)
        return catch_all("*", *args)

    socketio.server.handlers["/"]["*"] = on_literal_star

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> dict[str, Any] | None:
        """Forget a gone socket's throttle state.

        python-socketio also routes a *client-sent* event named "disconnect" here while the
        socket stays connected; that is just an unknown event, and must not reset the throttle.
        """
        if socketio.server.manager.is_connected(request.sid, request.namespace or "/"):
            return error("bad_request", "Unknown event.")
        guard().forget(request.sid)
        return None

    @socketio.on_error_default
    def on_error(exc: Exception) -> dict[str, Any]:  # pragma: no cover - safety net
        """Anything a handler did not catch becomes the protocol's error shape."""
        log.exception("socket event failed: %s", exc)
        return error("internal", "Something went wrong on the server; try again.")
