"""Checks on a trainer's request for a new session that the deck and group rules alone do not
make: a top that leaves something to choose, and a table count that agrees with the names.

Pure functions over the parsed request; ``WorkshopError`` carries the message the landing page
shows.
"""

from __future__ import annotations

import dataclasses

from facilitator.decks import Deck
from facilitator.workshop import WorkshopError

DEFAULT_TOP = 5


def leave_a_choice(deck: Deck, top_given: bool) -> Deck:
    """The deck, with a top that leaves the participant something to choose.

    A top as large as the statements left after the discard is no choice at all ("pick your
    top 5" out of 5). A top the trainer chose is then refused with the numbers; a top left to
    the default is lowered to the largest real choice (the reply says so)."""
    left = len(deck.statements) - deck.discard
    if deck.top < left:
        return deck
    if left <= 1:
        raise WorkshopError(
            "bad_request",
            f"{_statements_left(deck, left)}: there is nothing to rank or choose. Add statements.")
    if top_given:
        raise WorkshopError(
            "bad_request",
            f"{_statements_left(deck, left)}: a top {deck.top} would leave nothing to choose. "
            f"Choose a top of {left - 1} or fewer, or add statements.")
    return dataclasses.replace(deck, top=min(DEFAULT_TOP, left - 1))


def _statements_left(deck: Deck, left: int) -> str:
    n = len(deck.statements)
    if deck.discard:
        return f"{n} statements with one discarded leave {left} to rank"
    return f"{n} statements leave {left} to rank"


def check_table_count(names: object, count: object) -> None:
    """Refuse a table count that disagrees with the table names given with it (either alone is
    fine: names, or a count for "Table 1", "Table 2"…)."""
    if not names or count is None or not isinstance(names, list):
        return
    named = [n for n in names if isinstance(n, str) and n.strip()]
    if isinstance(count, int) and not isinstance(count, bool) and count != len(named):
        raise WorkshopError(
            "bad_request",
            f"You asked for {count} tables but named {len(named)}. Make them agree, or give "
            "only the names.")
