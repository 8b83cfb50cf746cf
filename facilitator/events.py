"""Socket.IO handlers (one ``Namespace``): validate, call the store, answer through the ack,
notify the rooms.

Every handler answers ``{"ok": true, ...}`` or ``{"ok": false, "error": {code, message}}``
(docs/protocol.md). Tokens are checked on every event; a socket is never trusted for what it
said before. Handlers keep no state of their own: the store has it all.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from flask import current_app, request
from flask_socketio import Namespace, join_room

from facilitator import live, workshop
from facilitator.services import error_body, error_for
from facilitator.throttle import Failures
from facilitator.workshop import Participant, Session, WorkshopError

if TYPE_CHECKING:
    from facilitator.services import Services

log = logging.getLogger(__name__)

# Per socket: at most EVENT_BURST events at once, refilled at EVENT_RATE a second.
EVENT_RATE = 10.0
EVENT_BURST = 30.0
# Per client address: at most JOIN_FAILURES wrong join codes (or organiser secrets) in
# JOIN_WINDOW seconds.
JOIN_FAILURES = 10
JOIN_WINDOW = 60.0


class Guard:
    """Throttles: a token bucket per socket, and wrong join codes per client address (shared
    with the HTTP join-code look-ups, facilitator/throttle.py; stale addresses are pruned)."""

    def __init__(self) -> None:
        self.buckets: dict[str, tuple[float, float]] = {}
        self.join_failures = Failures(JOIN_FAILURES, JOIN_WINDOW)

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

    def join_attempt(self, address: str) -> bool:
        """A join code from this address is about to be looked up: False when the address has
        tried too many wrong codes lately; else the attempt counts as wrong until
        ``join_succeeded`` (so look-ups in flight together cannot pass the limit)."""
        return self.join_failures.attempt(address)

    def join_succeeded(self, address: str) -> None:
        """The code this address tried was right: it does not count."""
        self.join_failures.forgive(address)

    def forget(self, sid: str) -> None:
        """Drop a disconnected socket's bucket."""
        self.buckets.pop(sid, None)


def true_or_false(data: dict[str, Any], key: str) -> bool:
    """``data[key]`` when it is a boolean; a bad_request refusal otherwise."""
    value = data.get(key)
    if not isinstance(value, bool):
        raise WorkshopError("bad_request", f"{key} must be true or false.")
    return value


RATE_LIMITED = ("rate_limited", "Too many messages; wait a moment and retry.")


class WorkshopNamespace(Namespace):
    """The protocol's handlers: ``on_<event>`` for each event in ``EVENTS``.

    ``trigger_event`` is the one place every event passes: it throttles the socket, answers an
    unknown event or a payload that is not one JSON object, and maps a refusal to the error
    body; the handlers then only read the payload, call the store and say who hears of it.
    """

    EVENTS = frozenset({"join", "resume", "submit", "watch", "facilitate", "open_step",
                        "close_step", "reveal", "settle", "show_on_projector", "lock_joins",
                        "remove_participant", "reset_session", "close_session", "new_round",
                        "lock_table", "board_move", "board_agree", "board_withdraw"})

    def __init__(self, services: Services) -> None:
        super().__init__("/")
        self.services = services

    def trigger_event(self, event: str, sid: str, *args: Any) -> Any:
        """Route one event (python-socketio calls this for every event of the namespace)."""
        guard = self.services.guard
        if event in ("connect", "disconnect") and not self._connected(sid):
            # the socket's own life cycle; a client may also *send* events with these names
            # while connected, and those are just unknown events
            if event == "disconnect":
                guard.forget(sid)
                tables = [r for r in self.rooms(sid, self.namespace) if r and r.startswith("t:")]
                if tables:  # a member gone may complete the agreement of those still here
                    try:
                        self._check_locks(tables, sid)
                    except Exception:  # a failed commit: log it; the socket must still leave
                        log.exception("checking table locks after a disconnect failed")
            return None
        if not guard.allow_event(sid):
            return error_body(*RATE_LIMITED)
        if event not in self.EVENTS:
            return error_body("bad_request", "Unknown event.")
        if len(args) != 1 or not isinstance(args[0], dict):
            return error_body("bad_request", "The payload must be one JSON object.")
        try:
            return super().trigger_event(event, sid, args[0])
        except WorkshopError as exc:
            return error_for(exc)
        except Exception as exc:  # never send a traceback to a phone
            log.exception("event %s failed", event)
            return error_for(exc)

    def _connected(self, sid: str) -> bool:
        return self.socketio.server.manager.is_connected(sid, self.namespace)

    # -- helpers of the handlers --------------------------------------------------------------
    def console_session(self, data: dict[str, Any]) -> Session:
        """The session whose console token ``data`` carries, or a refusal."""
        store = self.services.store
        token = data.get("token")
        session = store.by_console(token)
        if session is not None:
            return session
        if store.by_projector(token) or store.by_participant(token):
            raise WorkshopError("forbidden", "Only the trainer's console can do that.")
        raise WorkshopError("bad_token", "This facilitator link is not valid.")

    def console_ack(self, session: Session, phones: bool = True) -> dict[str, Any]:
        """After a console event: snapshots follow, phones get their state (when ``phones``),
        and the ack carries the console's snapshot."""
        broadcaster = self.services.broadcaster
        broadcaster.touch(session)
        if phones:
            broadcaster.push_state(session)
        return {"ok": True, "snapshot": live.snapshot(self.services.store, session, "console")}

    # -- phones -------------------------------------------------------------------------------
    def on_join(self, data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: join a session by code; ack carries the new token and state."""
        guard, store = self.services.guard, self.services.store
        address = request.remote_addr or "?"
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            return error_body("bad_request", "name must be text.")
        if not guard.join_attempt(address):
            return error_body("rate_limited", "Too many wrong codes; wait a minute and try again.")
        session = store.by_code(workshop.normalise_code(data.get("code")))
        if session is None:
            return error_body("unknown_code", "No workshop has that code. Check the projector.")
        guard.join_succeeded(address)
        participant = store.join(session, workshop.clean_text(name, workshop.NAME_MAX),
                                 data.get("group"), int(current_app.config["MAX_PARTICIPANTS"]),
                                 data.get("join_id"))
        join_room(live.participant_room(session, participant))
        join_room(live.table_room(session, participant.group))
        self.services.broadcaster.touch(session)
        return {"ok": True, "token": participant.token,
                "state": live.participant_state(session, participant, self.services.store)}

    def on_resume(self, data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: come back with a token after reload, sleep or a network change."""
        found = self.services.store.by_participant(data.get("token"))
        if found is None:
            return error_body("bad_token", "This phone's place in the workshop is no longer valid.")
        session, participant = found
        join_room(live.participant_room(session, participant))
        join_room(live.table_room(session, participant.group))
        return {"ok": True,
                "state": live.participant_state(session, participant, self.services.store)}

    def on_submit(self, data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: save one answer; acked only after it is committed (answers
        arriving together share one commit)."""
        store = self.services.store
        found = store.by_participant(data.get("token"))
        if found is None:
            return error_body("bad_token", "This phone's place in the workshop is no longer valid.")
        session, participant = found
        record, duplicate = store.stage_submit(session, participant, data.get("step"),
                                               data.get("answer"), data.get("id"))
        self.services.commit.wait(record)
        if not duplicate:
            self.services.broadcaster.touch(session)
        return {"ok": True, "version": session.version, "duplicate": duplicate,
                "answers": live.answers_view(participant)}

    def on_board_move(self, data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: move a statement on the table's shared board (``statement``, ``to``,
        the ``version`` it was made on, a move ``id``). Acked after its commit; then every phone
        at the table gets the ``board``. A resent move is acked as a duplicate, not reapplied."""
        session, participant = self.participant(data)
        change, view = self._board_rule(session, participant.group, lambda: session.board_move(
            participant, data.get("statement"), data.get("to"), data.get("version"),
            data.get("id")))
        if change.moves:
            self._push(session, participant.group, view)
        return {"ok": True, "duplicate": not change.moves, "board": view}

    def on_board_agree(self, data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: "We agree" with the board at ``version``; when every connected
        member agrees, the board locks. The table's phones get the board."""
        session, participant = self.participant(data)
        connected = live.connected_members(self.socketio, session, participant.group)
        _, view = self._board_rule(session, participant.group, lambda: session.board_agree(
            participant, data.get("version"), connected))
        self._push(session, participant.group, view)
        return {"ok": True, "board": view}

    def on_board_withdraw(self, data: dict[str, Any]) -> dict[str, Any]:
        """Phone → server: take back "We agree"; the table's phones get the board."""
        session, participant = self.participant(data)
        _, view = self._board_rule(session, participant.group,
                                   lambda: session.board_withdraw(participant))
        self._push(session, participant.group, view)
        return {"ok": True, "board": view}

    def participant(self, data: dict[str, Any]) -> tuple[Session, Participant]:
        """The (session, participant) whose token ``data`` carries, or a refusal."""
        found = self.services.store.by_participant(data.get("token"))
        if found is None:
            raise WorkshopError("bad_token",
                                "This phone's place in the workshop is no longer valid.")
        return found

    def _board_rule(self, session: Session, group: int,
                    rule: Any) -> tuple[workshop.Change, dict[str, Any] | None]:
        """Apply a board rule now and wait for its commit (moves arriving together share one);
        returns the change and the board as that rule left it, which is what its ack and push
        show (never a later change that is not saved yet)."""
        connected = len(live.connected_members(self.socketio, session, group))
        views: list[dict[str, Any] | None] = []

        def apply() -> workshop.Change:
            change = rule()
            moves = [move_id for _, move_id in change.moves]
            views.append(live.board_view(session, group, moves, connected))
            return change

        change, record = self.services.store.stage_board(session, apply)
        self.services.commit.wait(record)
        return change, views[0]

    def _push(self, session: Session, group: int, view: dict[str, Any] | None) -> None:
        """Every phone at the table gets ``view``; consoles and projectors a snapshot."""
        if view is not None:
            self.socketio.emit("board", view, to=live.table_room(session, group),
                               namespace=self.namespace)
        self.services.broadcaster.touch(session)

    def _push_board(self, session: Session, group: int, moves: list[str] | None = None,
                    leaving: str | None = None) -> None:
        """Every phone at the table gets its board; consoles and projectors a snapshot."""
        connected = live.connected_members(self.socketio, session, group, leaving)
        view = live.board_view(session, group, moves, len(connected))
        if view is not None:
            self.socketio.emit("board", view, to=live.table_room(session, group),
                               namespace=self.namespace)
        self.services.broadcaster.touch(session)

    def _check_locks(self, tables: list[str], leaving: str) -> None:
        """As the socket ``leaving`` goes: lock each of its tables whose other connected members
        all agree."""
        for room in tables:
            _, sid, number = room.split(":")
            session = self.services.store.sessions.get(int(sid))
            if session is not None:
                self._lock_if_all_agree(session, int(number), leaving)

    def _lock_if_all_agree(self, session: Session, group: int,
                           leaving: str | None = None) -> bool:
        """Lock ``group``'s board if every member still connected (not counting the socket
        ``leaving``) has agreed, and tell the table; returns whether it locked now."""
        board = session.table_board(group)
        if board is None:
            return False
        connected = live.connected_members(self.socketio, session, group, leaving)
        if not board.ready_to_lock(connected):
            return False
        try:
            self.services.store.board(session, lambda: session.check_lock(group, connected)
                                      or workshop.Change(session))
        except WorkshopError:
            return False
        self._push_board(session, group, leaving=leaving)
        return True

    # -- projector ----------------------------------------------------------------------------
    def on_watch(self, data: dict[str, Any]) -> dict[str, Any]:
        """Projector → server: subscribe read-only; ack carries the snapshot."""
        store = self.services.store
        session = store.by_projector(data.get("projector"))
        if session is None:
            return error_body("bad_token", "This projector link is not valid.")
        join_room(live.projector_room(session))
        return {"ok": True, "snapshot": live.snapshot(store, session, "projector")}

    # -- console ------------------------------------------------------------------------------
    def on_facilitate(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: subscribe to the session's console room; ack carries the snapshot."""
        session = self.console_session(data)
        join_room(live.console_room(session))
        return self.console_ack(session, phones=False)

    def on_open_step(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: make a step current and open; phones get their new state."""
        session = self.console_session(data)
        self.services.store.open_step(session, data.get("step"), data.get("mode", "individual"))
        return self.console_ack(session)

    def on_new_round(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: start the next individual round (rank opens for everyone, each
        phone from its own previous answer); phones get their new state."""
        session = self.console_session(data)
        self.services.store.new_round(session)
        return self.console_ack(session)

    def on_lock_table(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: lock a table's shared answer as it stands (``locked`` true) or
        unlock it; the table's phones get the board."""
        session = self.console_session(data)
        group = data.get("group")
        connected = (live.connected_members(self.socketio, session, group)
                     if type(group) is int and group in session.groups else set())
        self.services.store.board(
            session, lambda: session.lock_table(group, data.get("locked"), connected))
        self._push_board(session, group)  # type: ignore[arg-type]  # lock_table checked it
        return self.console_ack(session, phones=False)

    def on_close_step(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: close the current step (closing discard decides the discards)."""
        session = self.console_session(data)
        self.services.store.close_step(session)
        return self.console_ack(session)

    def on_reveal(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: show or hide results on the projector."""
        session = self.console_session(data)
        self.services.store.reveal(session, true_or_false(data, "revealed"))
        return self.console_ack(session, phones=False)

    def on_lock_joins(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: stop (or allow again) new participants; those in carry on."""
        session = self.console_session(data)
        self.services.store.lock_joins(session, true_or_false(data, "locked"))
        return self.console_ack(session, phones=False)

    def on_settle(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: settle a tied group's discard; that group's phones move on."""
        session = self.console_session(data)
        change = self.services.store.settle(session, data.get("group"), data.get("statement"))
        self.services.broadcaster.push_state(session, [
            p for number in sorted(change.groups) for p in session.members(number)])
        return self.console_ack(session, phones=False)

    def on_show_on_projector(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: choose what the projector shows (step view, room matrix, one table
        or one statement) until the step changes; projectors and consoles get a snapshot."""
        session = self.console_session(data)
        self.services.store.show_on_projector(session, data.get("view"), data.get("table"),
                                              data.get("statement"), data.get("page"))
        return self.console_ack(session, phones=False)

    def on_remove_participant(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: remove a participant; their phone is told, their answers leave."""
        session = self.console_session(data)
        participant = self.services.store.remove_participant(session, data.get("participant"))
        self._tell_removed(session, [participant])
        # their agreement left with them: the others may now all agree (else the table hears
        # the board without it)
        table = participant.group
        if session.table_board(table) is not None and not self._lock_if_all_agree(session, table):
            self._push_board(session, table)
        # at the similarities step each phone shows figures the removed answers were part of
        return self.console_ack(session, phones=session.step == "similarities")

    def on_reset_session(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: delete every participant and answer (needs confirm "RESET")."""
        session = self.console_session(data)
        if data.get("confirm") != "RESET":
            return error_body("confirm_required", 'Send "confirm": "RESET" to reset the session.')
        change = self.services.store.reset(session)
        self._tell_removed(session, change.removed)
        return self.console_ack(session, phones=False)

    def on_close_session(self, data: dict[str, Any]) -> dict[str, Any]:
        """Console → server: end the session; joins and answers stop, results stay."""
        session = self.console_session(data)
        self.services.store.close_session(session)
        return self.console_ack(session)

    def _tell_removed(self, session: Session, removed: list[Participant]) -> None:
        """Removed phones get their last state (saying so), then hear nothing more."""
        self.services.broadcaster.push_state(session, removed)
        self.services.broadcaster.release(session, removed)
