"""What each audience is sent: the phone's state, and the console's and projector's snapshots.

Snapshots are coalesced: a change only marks its session dirty, and at most one snapshot per
``SNAPSHOT_INTERVAL`` seconds goes to the session's console and projector rooms. A submit therefore
costs the same however many groups, sessions or watchers there are; the aggregation itself is the
consensus core's, cached per group by the store until that group changes.
"""

from __future__ import annotations

import time
from typing import Any

from facilitator.store import Store
from facilitator.workshop import STEPS, Participant, Session

PROJECTOR_NAMES = 40


def console_room(session: Session) -> str:
    """Socket.IO room of a session's facilitator consoles."""
    return f"f:{session.id}"


def projector_room(session: Session) -> str:
    """Socket.IO room of a session's projectors."""
    return f"p:{session.id}"


def participant_room(session: Session, participant: Participant) -> str:
    """Socket.IO room of one participant's tabs."""
    return f"u:{session.id}:{participant.number}"


def session_view(session: Session) -> dict[str, Any]:
    """The session fields every audience sees."""
    return {
        "code": session.code,
        "title": session.title,
        "instructions": session.deck.instructions,
        "step": session.step,
        "open": session.open,
        "revealed": session.revealed,
        "closed": session.closed,
        "steps": list(STEPS),
    }


def participant_state(session: Session, participant: Participant) -> dict[str, Any]:
    """Everything one phone needs to show its current step (the ``state`` payload)."""
    group = session.groups[participant.group]
    remaining = session.remaining(participant.group)
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
        "answers": answers_view(participant),
        "version": session.version,
    }


def answers_view(participant: Participant) -> dict[str, Any]:
    """A participant's saved answers, one key per input step."""
    return {step: participant.answers.get(step) for step in ("discard", "rank", "top")}


def results_view(store: Store, session: Session) -> dict[str, Any]:
    """Per-group results and the whole room, computed by the consensus core."""
    groups = []
    for number, group in session.groups.items():
        data = store.group_result(session, number).to_dict()
        data["group"] = number
        data["name"] = group.name
        groups.append(data)
    return {"groups": groups, "room": store.room_result(session).to_dict()}


def snapshot(store: Store, session: Session, audience: str, base_url: str = "",
             results: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full picture for the ``facilitator`` console or the ``projector``.

    ``results`` may be passed in when several snapshots are built at once.
    """
    console = audience == "facilitator"
    groups = []
    members_by_group: dict[int, list[Participant]] = {n: [] for n in session.groups}
    for p in session.participants.values():
        if not p.removed:
            members_by_group[p.group].append(p)
    for number, group in session.groups.items():
        members = members_by_group[number]
        answered = {step: sum(1 for p in members if step in p.answers)
                    for step in ("discard", "rank", "top")}
        entry: dict[str, Any] = {
            "id": number,
            "name": group.name,
            "joined": len(members),
            "answered": answered,
            "group_discard": group.discard,
            "discard_tied": list(group.discard_tied) if group.discard_tied else None,
        }
        if console:
            entry["participants"] = [
                {"id": p.number, "name": p.name,
                 "answered": {s: s in p.answers for s in ("discard", "rank", "top")}}
                for p in members
            ]
        else:
            entry["names"] = [p.label() for p in members[-PROJECTOR_NAMES:]]
        groups.append(entry)
    view = session_view(session)
    view["join_url"] = f"{base_url}/j/{session.code}"
    view["qr_svg_url"] = f"/qr/{session.code}.svg"
    show_results = console or session.revealed
    return {
        "version": session.version,
        "session": view,
        "deck": session.deck.to_dict(),
        "groups": groups,
        "results": (results or results_view(store, session)) if show_results else None,
    }


class Broadcaster:
    """Sends snapshots (coalesced) to consoles and projectors, and states to phones."""

    def __init__(self, socketio: Any, store: Store, interval: float, base_url: str = "") -> None:
        self.socketio = socketio
        self.store = store
        self.interval = interval
        self.base_url = base_url
        self._scheduled: set[int] = set()
        self._last: dict[int, float] = {}

    def touch(self, session: Session) -> None:
        """Note that ``session`` changed: a snapshot follows within ``interval`` seconds."""
        if self.interval <= 0:
            self.flush(session)
            return
        if session.id in self._scheduled:
            return
        self._scheduled.add(session.id)
        delay = max(0.0, self._last.get(session.id, 0.0) + self.interval - time.monotonic())
        self.socketio.start_background_task(self._flush_later, session, delay)

    def _flush_later(self, session: Session, delay: float) -> None:
        if delay:
            self.socketio.sleep(delay)
        # unschedule first: a change made while this snapshot is built schedules the next one
        self._scheduled.discard(session.id)
        self._last[session.id] = time.monotonic()
        if self.store.sessions.get(session.id) is session:
            self.flush(session)

    def flush(self, session: Session) -> None:
        """Send the current snapshots now."""
        results = results_view(self.store, session)
        for audience, room in (("facilitator", console_room(session)),
                               ("projector", projector_room(session))):
            data = snapshot(self.store, session, audience, self.base_url, results)
            self.socketio.emit("snapshot", data, to=room)

    def push_state(self, session: Session, participants: list[Participant] | None = None) -> None:
        """Send each phone (or the given ones) its current state, e.g. after a step change."""
        targets = session.active() if participants is None else participants
        for p in targets:
            self.socketio.emit("state", participant_state(session, p),
                               to=participant_room(session, p))
