"""The results cache: each group's consensus and the whole room's, computed by the consensus
core from the sessions in memory and kept until a change makes them stale.

Pure bookkeeping, no I/O: the store tells it which groups changed (``forget``).
"""

from __future__ import annotations

from typing import Any

from facilitator.consensus import GroupResult, RoomResult, aggregate_group, aggregate_room
from facilitator.workshop import Session

ROOM = 0  # key of the whole room (groups are numbered from 1)


class ResultCache:
    """Group and room results per session, computed on first use and cached."""

    def __init__(self) -> None:
        self._results: dict[tuple[int, int], Any] = {}  # (session id, group or ROOM) -> result

    def group(self, session: Session, number: int) -> GroupResult:
        """The group's consensus, computed by the core and cached until the group changes."""
        key = (session.id, number)
        result = self._results.get(key)
        if result is None:
            members = session.members(number)
            # while a re-vote is tied the table's kept rankings and tops fit no discard yet
            counted = members if session.remaining(number) is not None else []
            result = aggregate_group(
                session.deck.numbers,
                discard_votes=[p.answers["discard"] for p in members if "discard" in p.answers],
                group_discard=session.groups[number].discard,
                rankings=[p.answers["rank"] for p in counted if "rank" in p.answers],
                tops=[p.answers["top"] for p in counted if "top" in p.answers],
                top_size=session.deck.top,
                participants=len(members),
                has_discard=session.deck.discard == 1,
            )
            self._results[key] = result
        return result

    def room(self, session: Session) -> RoomResult:
        """The whole room's view, from the cached group results; cached like them."""
        key = (session.id, ROOM)
        result = self._results.get(key)
        if result is None:
            groups = [self.group(session, number) for number in session.groups]
            rankings_by_group = [
                [p.answers["rank"] for p in session.members(number) if "rank" in p.answers]
                for number in session.groups
            ]
            result = aggregate_room(session.deck.numbers, groups, rankings_by_group,
                                    session.deck.top)
            self._results[key] = result
        return result

    def forget(self, session: Session, groups: set[int] | None = None) -> None:
        """Drop the results of ``groups`` (and the room's), or of the whole session."""
        if groups is not None:
            for number in groups:
                self._results.pop((session.id, number), None)
            if groups:
                self._results.pop((session.id, ROOM), None)
            return
        for key in [k for k in self._results if k[0] == session.id]:
            del self._results[key]

    def clear(self) -> None:
        """Drop every result (the store reloaded its memory)."""
        self._results.clear()
