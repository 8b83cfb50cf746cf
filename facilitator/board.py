"""A table's shared board: one live answer that every member of the table moves together.

Plain Python, no Flask, sockets or I/O. The board is an order of statements; each step reads its
answer from that order (rank: the whole order; top: the first M; discard: the last statement).
Moves are applied in the order the server receives them; each carries the version of the board it
was made on and a move id, so a resent move is recognised and never applied twice. Any move clears
every agreement; the board locks when every connected member agrees, and the trainer can lock or
unlock it. The rules are in docs/protocol.md ("Table board").
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

BOARD_STEPS = ("discard", "rank", "top")
MOVE_ID_MAX = 64


class BoardError(ValueError):
    """A move or agreement the board refuses; ``code`` is stable, the message is for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Board:
    """One table's shared answer for one step of one round.

    ``order`` holds the statements, most important first (for discard: the last one is thrown
    out). ``version`` counts applied changes; ``agreed`` holds the numbers of members who tapped
    "We agree" on the current order; ``members`` is how many were connected when it locked;
    ``moved`` is the version at which the order (or the lock) last changed: agreeing with any
    version since is agreeing with the order on screen.
    """

    step: str
    order: list[int]
    top_size: int = 0
    version: int = 0
    agreed: set[int] = field(default_factory=set)
    locked: bool = False
    members: int = 0
    move_ids: set[str] = field(default_factory=set)
    moved: int = 0

    # -- reading --------------------------------------------------------------------------
    def answer(self) -> list[int] | int:
        """The table's answer: the order (rank), the first M (top) or the last statement."""
        if self.step == "discard":
            return self.order[-1]
        if self.step == "top":
            return self.order[: self.top_size]
        return list(self.order)

    def to_dict(self) -> dict[str, Any]:
        """What every phone at the table is sent (agreements as member numbers, ascending)."""
        return {
            "step": self.step,
            "order": list(self.order),
            "version": self.version,
            "agreed": sorted(self.agreed),
            "locked": self.locked,
            "members": self.members,
            "top_size": self.top_size,
        }

    # -- rules ----------------------------------------------------------------------------
    def move(self, statement: object, to: object, base: object, move_id: object) -> bool:
        """Put ``statement`` at position ``to`` (0 = first), as made on version ``base``.

        Returns False (and changes nothing) for a move id already applied: a resend. A move made
        on an older version is still applied — it says where that statement should go now —
        so concurrent moves from several phones are all kept, in server order.
        """
        move_id = _check_move_id(move_id)
        if move_id in self.move_ids:
            return False
        if self.locked:
            raise BoardError("board_locked", "Your table's answer is locked.")
        if type(base) is not int or not 0 <= base <= self.version:
            raise BoardError("bad_request", "version must be a version of this board.")
        if type(statement) is not int or statement not in self.order:
            raise BoardError("not_a_statement", "That statement is not on your table's board.")
        if type(to) is not int or not 0 <= to < len(self.order):
            raise BoardError(
                "bad_request", f"to must be a position from 0 to {len(self.order) - 1}."
            )
        self.order.remove(statement)
        self.order.insert(to, statement)
        self.move_ids.add(move_id)
        self.agreed.clear()
        self.version += 1
        self.moved = self.version
        return True

    def agree(self, member: int, version: object, connected: Collection[int]) -> None:
        """``member`` agrees with the board as it is at ``version``; locks when every connected
        member agrees. Agreeing with a version from before the last move is refused: the order
        has changed since. Another's agreement in between changes no order, so two members
        tapping at once are both counted."""
        if self.locked:
            raise BoardError("board_locked", "Your table's answer is locked.")
        if type(version) is not int or not self.moved <= version <= self.version:
            raise BoardError("board_moved", "The board has changed since; look again, then agree.")
        if member in self.agreed:
            return  # a resent agreement
        self.agreed.add(member)
        self.version += 1
        self.check_lock(connected)

    def withdraw(self, member: int) -> None:
        """``member`` no longer agrees (nothing changes if they had not)."""
        if self.locked:
            raise BoardError("board_locked", "Your table's answer is locked.")
        if member in self.agreed:
            self.agreed.discard(member)
            self.version += 1

    def check_lock(self, connected: Collection[int]) -> bool:
        """Lock when every connected member has agreed (e.g. after one who had not left).

        Returns whether the board is locked now.
        """
        if self.ready_to_lock(connected):
            self.locked, self.members = True, len(set(connected))
            self.version += 1
        return self.locked

    def ready_to_lock(self, connected: Collection[int]) -> bool:
        """Would ``check_lock`` lock the board now?"""
        present = set(connected)
        return not self.locked and bool(present) and present <= self.agreed

    def lock(self, connected: Collection[int]) -> None:
        """The trainer locks the table's answer as it stands."""
        if not self.locked:
            self.locked, self.members = True, len(set(connected))
            self.version += 1

    def unlock(self) -> None:
        """The trainer unlocks the table: moves are possible again and agreements start over."""
        if self.locked:
            self.locked, self.members = False, 0
            self.agreed.clear()
            self.version += 1
            self.moved = self.version


def is_client_id(value: object, limit: int = MOVE_ID_MAX) -> bool:
    """Whether ``value`` can be a client-generated id (a move's or a submission's): 1 to
    ``limit`` printable ASCII characters."""
    return (isinstance(value, str) and 1 <= len(value) <= limit and value.isascii()
            and value.isprintable())


def _check_move_id(value: object) -> str:
    if not is_client_id(value):
        raise BoardError("bad_request", "id must be a string of 1 to 64 printable characters.")
    return value  # type: ignore[return-value]


def new_board(
    step: str,
    statements: Sequence[int],
    top_size: int,
    start: Sequence[int] | None = None,
    rng: random.Random | None = None,
) -> Board:
    """A board of ``statements`` for ``step``: in the order ``start`` (the table's consensus of
    the previous individual round) when given, else shuffled."""
    if step not in BOARD_STEPS:
        raise BoardError("bad_request", "step must be one of " + ", ".join(BOARD_STEPS) + ".")
    if start is not None:
        if sorted(start) != sorted(statements):
            raise ValueError(f"{list(start)!r} does not order the statements {list(statements)!r}")
        order = list(start)
    else:
        order = list(statements)
        (rng or random.SystemRandom()).shuffle(order)
    return Board(step, order, top_size if step == "top" else 0)
