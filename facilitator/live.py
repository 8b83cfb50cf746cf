"""What each audience is sent: the phone's state, and the console's and projector's snapshots.

Snapshots are coalesced: a change only marks its session dirty, and a snapshot goes to the
session's projector (at most 20 a second) and console (at most 4 a second) rooms when a burst
settles or a little later (``Broadcaster``). A submit therefore
costs the same however many groups, sessions or watchers there are; the aggregation itself is the
consensus core's, cached per group by the store until that group changes.
"""

from __future__ import annotations

import time
from typing import Any

from facilitator.consensus import DISTINCTIVE_MIN
from facilitator.rounds import TableRounds, what_changed
from facilitator.start_order import start_order
from facilitator.store import Store
from facilitator.workshop import (
    INPUT_STEPS,
    MATRIX_TABLES,
    PROJECTOR_VIEWS,
    STEPS,
    Participant,
    Session,
)

PROJECTOR_NAMES = 40


def projector_view(session: Session) -> dict[str, Any]:
    """What the projector shows now: the trainer's choice for this step, else the step's view."""
    choice = session.projector_view
    return dict(choice) if choice.get("view") in PROJECTOR_VIEWS else {"view": "step"}


def console_room(session: Session) -> str:
    """Socket.IO room of a session's consoles."""
    return f"f:{session.id}"


def projector_room(session: Session) -> str:
    """Socket.IO room of a session's projectors."""
    return f"p:{session.id}"


def participant_room(session: Session, participant: Participant) -> str:
    """Socket.IO room of one participant's tabs."""
    return f"u:{session.id}:{participant.number}"


def table_room(session: Session, group: int) -> str:
    """Socket.IO room of every phone at one table (the table board's pushes)."""
    return f"t:{session.id}:{group}"


def connected_members(socketio: Any, session: Session, group: int,
                      leaving: str | None = None) -> set[int]:
    """The members of ``group`` with at least one connected tab (their room is not empty),
    not counting the socket ``leaving``."""
    rooms = socketio.server.manager.rooms.get("/", {})
    return {p.number for p in session.members(group)
            if set(rooms.get(participant_room(session, p)) or ()) - {leaving}}


def board_view(session: Session, group: int, moves: list[str] | None = None,
               connected: int | None = None) -> dict[str, Any] | None:
    """The ``board`` push: the table's shared board now, the move ids it applied since the last
    push (``moves``) and how many members are connected; None when the table has no board."""
    board = session.table_board(group)
    if board is None:
        return None
    return {"group": group, "round": session.round, **board.to_dict(),
            "moves": moves or [], "connected": connected}


def what_changed_view(session: Session) -> dict[str, Any]:
    """Each table's round 1 against its last round or agreed answer, and the room's movement
    (``rounds.what_changed``): the agreed answer is the table's locked rank board, latest round."""
    tables = []
    for number, group in session.groups.items():
        statements = session.remaining(number)
        if statements is None:
            continue
        rounds: dict[int, dict[int, list[int]]] = {}
        for p in session.members(number):
            for past, answers in p.history.items():
                if "rank" in answers:
                    rounds.setdefault(past, {})[p.number] = answers["rank"]
            if "rank" in p.answers:
                rounds.setdefault(session.round, {})[p.number] = p.answers["rank"]
        answer = None
        for (_round, step, g), board in sorted(session.boards.items()):
            if g == number and step == "rank" and board.locked:
                answer = board.order
        tables.append(TableRounds(number, group.name, statements, rounds, answer))
    return what_changed(tables)


def session_view(session: Session) -> dict[str, Any]:
    """The session fields every audience sees."""
    return {
        "round": session.round,
        "mode": session.mode,
        "code": session.code,
        "title": session.title,
        "instructions": session.deck.instructions,
        "step": session.step,
        "open": session.open,
        "revealed": session.revealed,
        "closed": session.closed,
        "joins_locked": session.joins_locked,
        "steps": list(STEPS),
    }


def participant_state(session: Session, participant: Participant,
                      store: Store | None = None) -> dict[str, Any]:
    """Everything one phone needs to show its current step (the ``state`` payload).

    At the similarities step (given the ``store``) it carries the table's similarities too.
    """
    group = session.groups[participant.group]
    remaining = session.remaining(participant.group)
    similarities = (table_similarities(store, session, participant.group)
                    if store is not None and session.step == "similarities" else None)
    return {
        "session": session_view(session),
        "deck": session.deck.to_dict(),
        "participant": {
            "id": participant.number,
            "name": participant.name,
            "group": {"id": group.number, "name": group.name},
            "removed": participant.removed,
        },
        "group_discard": group.discard,
        "discard_tied": list(group.discard_tied) if group.discard_tied else None,
        "remaining": list(remaining) if remaining is not None else None,
        "start_order": start_order(session, participant),
        "answers": answers_view(participant),
        "previous": {step: session.previous_answer(participant, step) for step in ("rank", "top")},
        "board": board_view(session, participant.group),
        "similarities": similarities,
        "version": session.version,
    }


def table_similarities(store: Store, session: Session, number: int) -> dict[str, Any]:
    """One table's agreed and split statements and where it stands apart from the room (the
    consensus core's figures, as the projector shows them)."""
    result = store.results.group(session, number)
    room = store.results.room(session)
    index = list(session.groups).index(number)
    tables = room.tables
    apart = [d.to_dict() for d in tables.distinctive if d.table == index] if tables else []
    return {
        "rankings": result.rankings,
        "concordance": result.concordance.to_dict() if result.concordance else None,
        "agreed": list(result.agreed),
        "contested": list(result.contested),
        "consensus_order": list(result.consensus_order),
        "room_order": list(room.consensus_order),
        "apart": apart,
        "agree_top": list(tables.agree_top) if tables else [],
        "agree_bottom": list(tables.agree_bottom) if tables else [],
        "tables": len(tables.compared) if tables else 0,
        "distinctive_min": DISTINCTIVE_MIN,
    }


def answers_view(participant: Participant) -> dict[str, Any]:
    """A participant's saved answers, one key per input step."""
    return {step: participant.answers.get(step) for step in INPUT_STEPS}


def results_view(store: Store, session: Session) -> dict[str, Any]:
    """Per-group results and the whole room, computed by the consensus core."""
    groups = []
    for number, group in session.groups.items():
        data = store.results.group(session, number).to_dict()
        data["group"] = number
        data["name"] = group.name
        groups.append(data)
    # the room's "tables" comparison names tables by their index in ``groups``
    return {"groups": groups, "room": store.results.room(session).to_dict(),
            "changes": what_changed_view(session)}


def snapshot(store: Store, session: Session, audience: str) -> dict[str, Any]:
    """The full picture for the ``console`` or the ``projector`` (results for the
    projector only while revealed; they are computed only then). The join link is not in
    it: the pages have it from their own request (the public or proxied URL, views.py)."""
    console = audience == "console"
    groups = []
    members_by_group: dict[int, list[Participant]] = {n: [] for n in session.groups}
    for p in session.participants.values():
        if not p.removed:
            members_by_group[p.group].append(p)
    for number, group in session.groups.items():
        members = members_by_group[number]
        answered = {step: sum(1 for p in members if step in p.answers)
                    for step in INPUT_STEPS}
        entry: dict[str, Any] = {
            "id": number,
            "name": group.name,
            "joined": len(members),
            "answered": answered,
            "group_discard": group.discard,
            "discard_tied": list(group.discard_tied) if group.discard_tied else None,
            "board": board_view(session, number),
        }
        if console:
            entry["participants"] = [
                {"id": p.number, "name": p.name,
                 "answered": {s: s in p.answers for s in INPUT_STEPS}}
                for p in members
            ]
        else:
            entry["names"] = [p.label() for p in members[-PROJECTOR_NAMES:]]
        groups.append(entry)
    view = session_view(session)
    view["qr_svg_url"] = f"/qr/{session.code}.svg"
    show_results = console or session.revealed
    return {
        "version": session.version,
        "session": view,
        "deck": session.deck.to_dict(),
        "groups": groups,
        "results": results_view(store, session) if show_results else None,
        "projector_view": projector_view(session),
        "matrix_tables": MATRIX_TABLES,
    }


AUDIENCES = ("projector", "console")
# A snapshot with results (the console's always, the projector's while revealed) goes out at
# most every RESULTS_GAP seconds: results are recomputed at most a few times a second per
# session, however fast its phones submit.
RESULTS_GAP = 0.25


class _Channel:
    """Coalescing state of one audience of one session."""

    __slots__ = ("scheduled", "first_change", "last_change", "last_sent")

    def __init__(self) -> None:
        self.scheduled = False
        self.first_change = 0.0
        self.last_change = 0.0
        self.last_sent = float("-inf")


class Broadcaster:
    """Sends snapshots (coalesced) to consoles and projectors, and states to phones.

    Each audience of a session has its own schedule. After a change, a snapshot goes out once
    the session has been quiet for ``quiet`` seconds (the end of a burst shows at once), or at
    the latest ``interval`` seconds after the first unsent change (a steady stream still shows),
    and never sooner than ``min_gap`` after the previous one (at most 20 a second). The console
    carries every participant and the results, so it is sent less often than the projector,
    and waits a little longer for quiet, so that the projector's snapshot goes first.
    """

    def __init__(self, socketio: Any, store: Store, interval: float,
                 console_interval: float | None = None) -> None:
        self.socketio = socketio
        self.store = store
        self.interval = interval
        console = max(interval, 0.5) if console_interval is None else console_interval
        # per audience: (interval, min_gap, quiet), seconds
        self.schedules = {"projector": (interval, min(interval, 0.05), 0.005),
                          "console": (console, console / 2, 0.03)}
        self._channels: dict[tuple[int, str], _Channel] = {}

    def touch(self, session: Session) -> None:
        """Note that ``session`` changed; its snapshots follow (see the class docstring)."""
        if self.interval <= 0:
            self.flush(session)
            return
        now = time.monotonic()
        for audience in AUDIENCES:
            channel = self._channels.get((session.id, audience))
            if channel is None:
                channel = self._channels[(session.id, audience)] = _Channel()
            channel.last_change = now
            if not channel.scheduled:
                channel.scheduled = True
                channel.first_change = now
                self.socketio.start_background_task(self._send_later, session, audience, channel)

    def _send_later(self, session: Session, audience: str, channel: _Channel) -> None:
        interval, min_gap, quiet = self.schedules[audience]
        if audience == "console" or session.revealed:  # the snapshot carries results
            min_gap = max(min_gap, RESULTS_GAP)
        while True:
            due = min(channel.first_change + interval, channel.last_change + quiet)
            due = max(due, channel.last_sent + min_gap)
            wait = due - time.monotonic()
            if wait <= 0:
                break
            self.socketio.sleep(wait)
        # unschedule first: a change made while this snapshot is built schedules the next one
        channel.scheduled = False
        channel.last_sent = time.monotonic()
        if self.store.sessions.get(session.id) is session:
            self.send(session, audience)
        else:
            self._channels.pop((session.id, audience), None)

    def send(self, session: Session, audience: str) -> None:
        """Send one audience its snapshot now; nothing is built for a room nobody is in (a
        console or projector that arrives later gets its snapshot in its ack)."""
        room = projector_room(session) if audience == "projector" else console_room(session)
        if not self.socketio.server.manager.rooms.get("/", {}).get(room):
            return
        self.socketio.emit("snapshot", snapshot(self.store, session, audience),
                           to=room)

    def flush(self, session: Session) -> None:
        """Send both audiences their snapshots now (projector first)."""
        for audience in AUDIENCES:
            self.send(session, audience)

    def release(self, session: Session, participants: list[Participant]) -> None:
        """Empty the rooms of participants who left (after their last push), so their sockets
        hear nothing more: their own room, and their table's for each of their sockets."""
        rooms = self.socketio.server.manager.rooms.get("/", {})
        for p in participants:
            own = participant_room(session, p)
            for sid in list(rooms.get(own) or ()):
                self.socketio.server.leave_room(sid, table_room(session, p.group), namespace="/")
            self.socketio.close_room(own)

    def forget(self, session: Session) -> None:
        """Empty every room of a session being deleted and drop its schedules."""
        self.release(session, list(session.participants.values()))
        self.socketio.close_room(console_room(session))
        self.socketio.close_room(projector_room(session))
        for audience in AUDIENCES:
            self._channels.pop((session.id, audience), None)

    def push_state(self, session: Session, participants: list[Participant] | None = None) -> None:
        """Send each phone (or the given ones) its current state, e.g. after a step change."""
        targets = session.active() if participants is None else participants
        for p in targets:
            self.socketio.emit("state", participant_state(session, p, self.store),
                               to=participant_room(session, p))
