"""Where each participant's ranking starts: an order shuffled for them.

Everyone starting from the deck's order puts statement 1 on top of every list (primacy bias).
Each participant gets their own order instead, the same on every load (derived from the session
code and their number, nothing stored), unless the trainer turned shuffling off when creating
the session. Only the starting order shown on the phone changes: answers, results and CSV are
whatever the participant hands in.
"""

from __future__ import annotations

import hashlib
import random

from facilitator.workshop import Participant, Session


def start_order(session: Session, participant: Participant) -> list[int] | None:
    """The order the participant's ranking starts from: their previous round's ranking in a
    later round, else the deck's (or a shuffled) order; None while their table's discard is
    undecided (there is nothing to rank yet)."""
    remaining = session.remaining(participant.group)
    if remaining is None:
        return None
    order = list(remaining)
    previous = session.previous_answer(participant, "rank")
    if previous is not None and sorted(previous) == sorted(order):
        return list(previous)  # a later round starts from their own previous ranking
    if session.shuffle:
        seed = hashlib.sha256(f"{session.code}:{participant.number}".encode()).digest()
        random.Random(seed).shuffle(order)
    return order
