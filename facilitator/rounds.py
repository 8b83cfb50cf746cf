"""What the discussion changed: measures between rounds and towards a table's agreed answer.

Pure Python (statements in, numbers out; no Flask, sockets or I/O). The rules are stated in
docs/consensus.md ("Between rounds"); the consensus orders and Kendall's W come from
``facilitator.consensus`` so the projector, the CSV files and ``analyse`` share one computation.
"""

from __future__ import annotations

import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from facilitator.consensus import Concordance, kemeny_order, kendall_w

Ranking = Sequence[int]


def max_tau_distance(n: int) -> int:
    """The largest Kendall tau distance between two orders of ``n`` statements: n(n - 1)/2."""
    if n < 0:
        raise ValueError(f"n must not be negative, got {n}")
    return n * (n - 1) // 2


def _inversions(values: list[int]) -> int:
    """Pairs i < j with values[i] > values[j], by merge sort in O(n log n)."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    i = j = 0
    for k in range(len(values)):
        if j >= len(right) or (i < len(left) and left[i] <= right[j]):
            values[k] = left[i]
            i += 1
        else:
            values[k] = right[j]
            count += len(left) - i  # right[j] jumps over every remaining left value
            j += 1
    return count


def kendall_tau_distance(a: Ranking, b: Ranking) -> int:
    """How many pairs of statements ``a`` and ``b`` order differently (0 … n(n - 1)/2).

    Both must order the same statements, each once; otherwise ``ValueError``. It equals the
    number of swaps of neighbours that turn one order into the other.
    """
    position = {s: i for i, s in enumerate(a)}
    if len(position) != len(a):
        raise ValueError(f"{list(a)!r} names a statement twice")
    if len(b) != len(a) or set(b) != set(position):
        raise ValueError(f"{list(b)!r} does not order the statements of {list(a)!r}")
    return _inversions([position[s] for s in b])


@dataclass(frozen=True)
class StatementMove:
    """One statement's consensus position before and after (1 = first; ``None`` = not placed).

    ``moved`` is positive when it climbed (``before - after``), ``None`` unless placed in both.
    """

    statement: int
    before: int | None
    after: int | None

    @property
    def moved(self) -> int | None:
        """Places climbed (negative: fell); ``None`` when it is missing from either order."""
        if self.before is None or self.after is None:
            return None
        return self.before - self.after

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "statement": self.statement,
            "before": self.before,
            "after": self.after,
            "moved": self.moved,
        }


def statement_moves(before: Ranking, after: Ranking) -> tuple[StatementMove, ...]:
    """Each statement's position in ``before`` and ``after``, listed in ``after``'s order.

    Statements only in ``before`` (e.g. discarded since) follow, in ``before``'s order.
    """
    old = {s: i + 1 for i, s in enumerate(before)}
    new = {s: i + 1 for i, s in enumerate(after)}
    if len(old) != len(before) or len(new) != len(after):
        raise ValueError("an order names a statement twice")
    listed = [*after, *(s for s in before if s not in new)]
    return tuple(StatementMove(s, old.get(s), new.get(s)) for s in listed)


@dataclass(frozen=True)
class Movement:
    """An anonymous distribution of Kendall tau distances (how far people moved).

    ``distances`` is sorted ascending and names nobody; ``most`` is n(n - 1)/2 for the statements
    compared. ``counts[d]`` is how many moved exactly ``d`` pairs.
    """

    distances: tuple[int, ...]
    most: int

    @property
    def people(self) -> int:
        """How many people are in the distribution."""
        return len(self.distances)

    @property
    def median(self) -> float | None:
        """The median distance (``None`` for nobody)."""
        return statistics.median(self.distances) if self.distances else None

    @property
    def mean(self) -> float | None:
        """The mean distance (``None`` for nobody)."""
        return statistics.fmean(self.distances) if self.distances else None

    @property
    def unmoved(self) -> int:
        """How many ended with exactly the order they started from."""
        return self.distances.count(0)

    @property
    def counts(self) -> tuple[int, ...]:
        """``counts[d]``: how many moved exactly ``d`` pairs, for d = 0 … most."""
        tally = [0] * (self.most + 1)
        for d in self.distances:
            tally[d] += 1
        return tuple(tally)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (mean and median rounded to 2 places)."""
        return {
            "people": self.people,
            "most": self.most,
            "distances": list(self.distances),
            "median": None if self.median is None else round(self.median, 2),
            "mean": None if self.mean is None else round(self.mean, 2),
            "unmoved": self.unmoved,
        }


def movement(distances: Sequence[int], most: int) -> Movement:
    """A ``Movement`` of ``distances`` between 0 and ``most``; anything else is a ``ValueError``."""
    for d in distances:
        if not 0 <= d <= most:
            raise ValueError(f"distance {d} is outside 0…{most}")
    return Movement(tuple(sorted(distances)), most)


def people_moved(
    first: Mapping[Hashable, Ranking], later: Mapping[Hashable, Ranking | None]
) -> Movement:
    """How far each person's ``later`` ranking is from their ``first`` (people in both only).

    ``later`` maps a person to their later ranking, or to ``None`` when they gave none.
    """
    distances = []
    size = 0
    for person, start in first.items():
        end = later.get(person)
        if end is None:
            continue
        distances.append(kendall_tau_distance(start, end))
        size = len(start)
    return movement(distances, max_tau_distance(size))


def people_to_answer(first: Mapping[Hashable, Ranking], answer: Ranking | None) -> Movement:
    """How far each person's ``first`` ranking is from the table's agreed ``answer``."""
    if answer is None:
        return movement([], max_tau_distance(0))
    return movement(
        [kendall_tau_distance(start, answer) for start in first.values()],
        max_tau_distance(len(answer)),
    )


def concordance_by_round(
    statements: Sequence[int], rankings: Mapping[int, Sequence[Ranking]]
) -> dict[int, Concordance | None]:
    """Kendall's W of each round's rankings (``None`` for a round with fewer than two)."""
    return {r: kendall_w(statements, rankings[r]) for r in sorted(rankings)}


@dataclass(frozen=True)
class TableChange:
    """What the discussion changed at one table.

    ``before``: the consensus order of ``first_round``; ``after``: the consensus order of
    ``last_round`` (empty when there is no later individual round); ``answer``: the table's agreed
    ranking, if it built one. ``moves`` compares ``before`` with ``answer`` when there is one, else
    with ``after``. ``distance`` is the Kendall tau distance of that comparison.
    """

    first_round: int
    last_round: int
    before: tuple[int, ...]
    after: tuple[int, ...]
    answer: tuple[int, ...] | None
    moves: tuple[StatementMove, ...]
    distance: int | None
    concordance: dict[int, Concordance | None]
    moved: Movement
    to_answer: Movement

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; ``concordance`` keyed by round number as a string."""
        return {
            "first_round": self.first_round,
            "last_round": self.last_round,
            "before": list(self.before),
            "after": list(self.after),
            "answer": None if self.answer is None else list(self.answer),
            "moves": [m.to_dict() for m in self.moves],
            "distance": self.distance,
            "most": max_tau_distance(len(self.before)),
            "concordance": {
                str(r): (None if c is None else c.to_dict()) for r, c in self.concordance.items()
            },
            "moved": self.moved.to_dict(),
            "to_answer": self.to_answer.to_dict(),
        }


def table_change(
    statements: Sequence[int],
    rounds: Mapping[int, Mapping[Hashable, Ranking]],
    answer: Ranking | None = None,
) -> TableChange | None:
    """Compare a table's first individual round with its last one and with its agreed ``answer``.

    ``rounds`` maps a round number to each person's complete ranking of ``statements`` in that
    round. Returns ``None`` until the first round has a ranking.
    """
    played = sorted(r for r, people in rounds.items() if people)
    if not played:
        return None
    first, last = played[0], played[-1]
    before = kemeny_order(statements, list(rounds[first].values()))
    after = kemeny_order(statements, list(rounds[last].values())) if last != first else ()
    target = tuple(answer) if answer is not None else (after or None)
    moves = statement_moves(before, target) if target is not None else ()
    distance = kendall_tau_distance(before, target) if target is not None else None
    start = {p: tuple(r) for p, r in rounds[first].items()}
    later = {p: tuple(r) for p, r in rounds[last].items()} if last != first else {}
    return TableChange(
        first_round=first,
        last_round=last,
        before=before,
        after=after,
        answer=None if answer is None else tuple(answer),
        moves=moves,
        distance=distance,
        concordance=concordance_by_round(statements, {r: list(rounds[r].values()) for r in played}),
        moved=people_moved(start, later),
        to_answer=people_to_answer(start, answer),
    )


def room_movement(changes: Sequence[TableChange]) -> tuple[Movement, Movement]:
    """The room's anonymous distributions: (moved between rounds, moved to the agreed answer).

    Tables may rank different numbers of statements (different discards); ``most`` is the
    largest of them.
    """
    moved = [d for c in changes for d in c.moved.distances]
    to_answer = [d for c in changes for d in c.to_answer.distances]
    most = max((max(c.moved.most, c.to_answer.most) for c in changes), default=0)
    return movement(moved, most), movement(to_answer, most)


@dataclass(frozen=True)
class TableRounds:
    """One table's material for "what changed": its statements (the deck minus its discard),
    each round's rankings by person, and its agreed answer if it built one."""

    group: int
    name: str
    statements: tuple[int, ...]
    rounds: Mapping[int, Mapping[Hashable, Ranking]]
    answer: Ranking | None = None


def what_changed(tables: Sequence[TableRounds]) -> dict[str, Any]:
    """The "what changed" view for the projector and console: each table's change (tables with
    nothing to compare yet are left out) and the room's anonymous movement distributions."""
    changes = []
    shown = []
    for table in tables:
        change = table_change(table.statements, table.rounds, table.answer)
        if change is None or (not change.after and change.answer is None):
            continue
        changes.append(change)
        shown.append({"group": table.group, "name": table.name, **change.to_dict()})
    moved, to_answer = room_movement(changes)
    return {"tables": shown, "room": {"moved": moved.to_dict(), "to_answer": to_answer.to_dict()}}
