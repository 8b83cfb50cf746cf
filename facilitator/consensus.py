"""The arithmetic of the workshop: validating answers and aggregating a group and the room.

Pure Python, standard library only: statement numbers in, numbers out. The live server, the
projector, the CSV export and ``python -m facilitator analyse`` all call this module, so every
figure a room sees comes from one code path. The rules are explained in ``docs/consensus.md``.

Vocabulary: a *ranking* is a tuple of statement numbers, most important first (position 1); a *top*
is an ordered pick of ``top_size`` statements; the group's *remaining* statements are the deck's
statements minus the group's discard.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AnswerError",
    "Concordance",
    "DiscardTally",
    "GroupResult",
    "RoomResult",
    "StatementResult",
    "TableComparison",
    "TableSpread",
    "Distinctive",
    "aggregate_group",
    "aggregate_room",
    "check_discard_vote",
    "check_ranking",
    "check_top",
    "chi_square_sf",
    "compare_tables",
    "mann_whitney",
    "kemeny_distance",
    "kemeny_order",
    "kendall_w",
    "tally_discard",
]

# Exact Kemeny costs O(2^n * n) time and memory; decks stop at 12, this leaves headroom.
KEMENY_MAX = 16
RULES = (
    "not_a_statement",
    "duplicate_statement",
    "discarded_statement",
    "wrong_length",
    "missing_statement",
    "not_an_integer",
    "not_a_list",
)


# --------------------------------------------------------------------------- answer validation


class AnswerError(ValueError):
    """An answer that breaks a rule. ``rule`` is stable (see ``RULES``); ``str()`` is for a person.

    ``statement`` names the offending statement number when there is one (else ``None``).
    """

    def __init__(self, rule: str, message: str, statement: int | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.statement = statement


def _is_int(value: object) -> bool:
    # bool is a subclass of int, but True is not statement 1.
    return type(value) is int


def _named(value: int) -> str:
    """ "Statement 7", without turning a hostile 5000-digit number into a 5000-digit message."""
    return f"Statement {value}" if -1_000_000 < value < 1_000_000 else "That statement number"


def _joined(numbers: Sequence[int]) -> str:
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def check_discard_vote(statements: Sequence[int], vote: object) -> int:
    """A discard vote is one statement number of the deck; returns it or raises ``AnswerError``."""
    if not _is_int(vote):
        raise AnswerError("not_an_integer", "A discard vote must be one statement number.")
    assert isinstance(vote, int)
    if vote not in set(statements):
        raise AnswerError("not_a_statement", f"{_named(vote)} is not in this deck.", vote)
    return vote


def _scan(
    remaining: Sequence[int], answer: object, discarded: int | None, what: str, limit: int
) -> tuple[int, ...]:
    """Shared checks of a ranking or a top: a list of distinct remaining statements, not too long.

    ``limit`` is the most entries the answer may have; a list longer than ``limit + 1`` is refused
    before looking at a single entry, so a hostile million-entry payload costs nothing.
    """
    if not isinstance(answer, list | tuple):
        raise AnswerError("not_a_list", f"{what} must be a list of statement numbers.")
    # One entry too many is scanned (it may be the discard, which deserves its own message).
    if len(answer) > limit + 1:
        raise AnswerError(
            "wrong_length", f"{what} has {len(answer)} statements; it should have {limit}."
        )
    allowed = set(remaining)
    seen: set[int] = set()
    for value in answer:
        if not _is_int(value):
            raise AnswerError(
                "not_an_integer", f"{what} must contain statement numbers (whole numbers) only."
            )
        if value not in allowed:
            if discarded is not None and value == discarded:
                raise AnswerError(
                    "discarded_statement",
                    f"{_named(value)} is your group's discard, so it cannot be chosen here.",
                    value,
                )
            if discarded is not None:
                raise AnswerError("not_a_statement", f"{_named(value)} is not in this deck.", value)
            raise AnswerError(
                "not_a_statement",
                f"{_named(value)} is not one of your group's remaining statements.",
                value,
            )
        if value in seen:
            raise AnswerError(
                "duplicate_statement",
                f"{_named(value)} appears twice; choose each statement once.",
                value,
            )
        seen.add(value)
    if len(answer) > limit:
        raise AnswerError(
            "wrong_length", f"{what} has {len(answer)} statements; it should have {limit}."
        )
    return tuple(answer)


def check_ranking(
    remaining: Sequence[int], ranking: object, discarded: int | None = None
) -> tuple[int, ...]:
    """A ranking is a permutation of exactly the group's remaining statements, most important first.

    ``discarded`` (the group's discard) only sharpens the message when it is ranked. Returns the
    ranking as a tuple or raises ``AnswerError``.
    """
    size = len(remaining)
    checked = _scan(remaining, ranking, discarded, "A ranking", size)
    if len(checked) < size:
        given = set(checked)
        missing = [s for s in remaining if s not in given]
        noun = "Statement" if len(missing) == 1 else "Statements"
        verb = "is" if len(missing) == 1 else "are"
        raise AnswerError(
            "missing_statement",
            f"{noun} {_joined(missing)} {verb} missing; rank all {size} statements.",
            missing[0],
        )
    return checked


def check_top(
    remaining: Sequence[int], top: object, size: int, discarded: int | None = None
) -> tuple[int, ...]:
    """A top is ``size`` distinct statements from the remaining ones, in order of importance.

    Returns it as a tuple or raises ``AnswerError``.
    """
    if not 1 <= size <= len(remaining):
        raise ValueError(f"top size {size} does not fit {len(remaining)} remaining statements")
    checked = _scan(remaining, top, discarded, "Your top pick", size)
    if len(checked) != size:
        raise AnswerError(
            "wrong_length", f"Pick exactly {size} statements; this pick has {len(checked)}."
        )
    return checked


# --------------------------------------------------------------------------- discard tally


@dataclass(frozen=True)
class DiscardTally:
    """The votes for a group's discard. A tie is reported, never broken: the trainer settles it."""

    votes: dict[int, int]
    voters: int
    leaders: tuple[int, ...]
    decided: int | None
    tied: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; vote counts are keyed by the statement number as a string."""
        return {
            "votes": {str(s): c for s, c in self.votes.items()},
            "voters": self.voters,
            "leaders": list(self.leaders),
            "decided": self.decided,
            "tied": self.tied,
        }


def tally_discard(statements: Sequence[int], votes: Iterable[int]) -> DiscardTally:
    """Count discard votes; the plurality decides, a tie (or no vote at all) decides nothing."""
    counts = {s: 0 for s in statements}
    voters = 0
    for vote in votes:
        if vote not in counts:
            raise AnswerError("not_a_statement", f"{_named(vote)} is not in this deck.", vote)
        counts[vote] += 1
        voters += 1
    top = max(counts.values(), default=0)
    leaders = tuple(sorted(s for s, c in counts.items() if c == top))
    decided = leaders[0] if len(leaders) == 1 else None
    return DiscardTally(counts, voters, leaders, decided, len(leaders) > 1)


# --------------------------------------------------------------------------- ranking table


@dataclass(frozen=True)
class _Table:
    """Everything later steps need from a set of complete rankings, built in one pass.

    ``items`` fixes an index for each statement; ``counts[a][k]`` is how many rankings put item
    ``a`` at position ``k + 1``; ``before[a][b]`` is how many rankings put ``a`` above ``b``.
    """

    items: tuple[int, ...]
    m: int
    counts: list[list[int]]
    before: list[list[int]]


def _table(items: Sequence[int], rankings: Sequence[Sequence[int]]) -> _Table:
    """Position counts and pairwise counts of ``rankings`` (each a permutation of ``items``)."""
    items = tuple(items)
    n = len(items)
    if len(set(items)) != n:
        raise ValueError("statements must be distinct")
    index = {s: i for i, s in enumerate(items)}
    expected = frozenset(items)
    m = len(rankings)
    # Counts are packed into one integer per statement, ``width`` bits per field: adding a whole
    # "these statements come after me" vector is then a single integer addition, which makes the
    # pass O(m * n) additions instead of O(m * n^2) increments. A field never exceeds m < 2**width.
    width = max(m.bit_length(), 1)
    unit = {s: 1 << (width * i) for s, i in index.items()}
    slot = [1 << (width * k) for k in range(n)]
    after = dict.fromkeys(items, 0)
    placed = dict.fromkeys(items, 0)
    for ranking in rankings:
        if len(ranking) != n or frozenset(ranking) != expected:
            raise ValueError(f"{list(ranking)!r} is not a complete ranking of {list(items)!r}")
        below = 0
        k = n
        for s in reversed(ranking):
            k -= 1
            after[s] += below
            placed[s] += slot[k]
            below += unit[s]
    mask = (1 << width) - 1
    before = [[(after[s] >> (width * j)) & mask for j in range(n)] for s in items]
    counts = [[(placed[s] >> (width * k)) & mask for k in range(n)] for s in items]
    return _Table(items, m, counts, before)


def _kemeny(table: _Table, key: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """Exact Kemeny order by dynamic programming over subsets, ties broken by smallest ``key``.

    ``best[S]`` is the least number of pairwise disagreements with which the set ``S`` (a bit mask
    of item indices) can be ordered on its own; putting item ``i`` first among ``S`` costs the
    rankings that place some ``j`` in ``S`` above ``i``. Reading the optimum back from the top and
    taking, at each position, the candidate with the smallest key gives the order whose keys are
    lexicographically smallest among all optimal orders.
    """
    n = len(table.items)
    if n > KEMENY_MAX:
        raise ValueError(f"exact Kemeny is limited to {KEMENY_MAX} statements, not {n}")
    if n == 0:
        return ()
    # above[i][T] = rankings-pairs that put a member of T above i, for every subset T.
    above: list[list[int]] = []
    for i in range(n):
        costs = [0]
        for j in range(n):
            c = table.before[j][i]
            costs += [x + c for x in costs]
        above.append(costs)
    size = 1 << n
    best = [0] * size
    worst = table.m * n * n + 1  # more than any order can cost
    for subset in range(1, size):
        low_cost = worst
        rest_bits = subset
        while rest_bits:
            bit = rest_bits & -rest_bits
            rest_bits ^= bit
            rest = subset ^ bit
            cost = above[bit.bit_length() - 1][rest] + best[rest]
            if cost < low_cost:
                low_cost = cost
        best[subset] = low_cost
    order: list[int] = []
    subset = size - 1
    while subset:
        candidates = []
        for i in range(n):
            bit = 1 << i
            if subset & bit:
                rest = subset ^ bit
                if above[i][rest] + best[rest] == best[subset]:
                    candidates.append(i)
        chosen = min(candidates, key=lambda i: key[i])
        order.append(chosen)
        subset ^= 1 << chosen
    return tuple(table.items[i] for i in order)


def _tie_key(table: _Table) -> list[tuple[int, int]]:
    """Tie-break key per item: lower sum of positions (= lower mean rank) first, then number."""
    return [
        (sum(c * (k + 1) for k, c in enumerate(row)), s)
        for s, row in zip(table.items, table.counts, strict=True)
    ]


def kemeny_order(statements: Sequence[int], rankings: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The Kemeny–Young consensus order of complete rankings of ``statements`` (exact).

    Among several optimal orders, the earliest position goes to the statement with the lower mean
    rank, and then to the lower statement number. With no rankings: the statements ascending.
    """
    table = _table(statements, rankings)
    return _kemeny(table, _tie_key(table))


def kemeny_distance(order: Sequence[int], rankings: Sequence[Sequence[int]]) -> int:
    """Total Kendall tau distance (pairs ordered differently) between ``order`` and ``rankings``."""
    position = {s: i for i, s in enumerate(order)}
    total = 0
    for ranking in rankings:
        if len(ranking) != len(position) or set(ranking) != set(position):
            raise ValueError(f"{list(ranking)!r} does not rank the statements of {list(order)!r}")
        mapped = [position[s] for s in ranking]
        for k, p in enumerate(mapped):
            for q in mapped[k + 1 :]:
                if q < p:
                    total += 1
    return total


# --------------------------------------------------------------------------- Kendall's W


@dataclass(frozen=True)
class Concordance:
    """Kendall's W for m rankings of n statements, with its chi-square test (df = n - 1)."""

    m: int
    n: int
    w: float
    chi_square: float
    df: int
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, W and chi-square rounded to 4 places, p to 4 significant digits."""
        return {
            "m": self.m,
            "n": self.n,
            "w": round(self.w, 4),
            "chi_square": round(self.chi_square, 4),
            "df": self.df,
            "p_value": float(f"{self.p_value:.4g}"),
        }


def _concordance(m: int, n: int, rank_sums: Sequence[int]) -> Concordance | None:
    """W = 12 S / (m^2 (n^3 - n)), computed exactly as 3 sum((2R - m(n+1))^2) / (m^2 (n^3 - n))."""
    if m < 2 or n < 2:
        return None
    spread = sum((2 * r - m * (n + 1)) ** 2 for r in rank_sums)
    w = 3 * spread / (m * m * (n**3 - n))
    chi_square = 3 * spread / (m * n * (n + 1))  # = m (n - 1) W
    return Concordance(m, n, w, chi_square, n - 1, chi_square_sf(chi_square, n - 1))


def kendall_w(statements: Sequence[int], rankings: Sequence[Sequence[int]]) -> Concordance | None:
    """Kendall's coefficient of concordance of complete rankings; ``None`` when m < 2 or n < 2."""
    table = _table(statements, rankings)
    return _concordance(table.m, len(table.items), _rank_sums(table))


def _rank_sums(table: _Table) -> list[int]:
    return [sum(c * (k + 1) for k, c in enumerate(row)) for row in table.counts]


_EPSILON = 1e-15
_TINY = 1e-300


def _gamma_p_series(a: float, x: float) -> float:
    """Regularised lower incomplete gamma P(a, x) by its power series (good for x < a + 1)."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(10_000):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPSILON:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_q_fraction(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x) by its continued fraction (modified Lentz)."""
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPSILON:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi_square_sf(x: float, df: int) -> float:
    """P(X >= x) for X ~ chi-square with ``df`` degrees of freedom: Q(df/2, x/2)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    a, half = df / 2.0, x / 2.0
    if half == 0.0:  # x was the smallest subnormal
        return 1.0
    if half < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, half))
    return _gamma_q_fraction(a, half)


# --------------------------------------------------------------------------- per statement

# A statement's spread is compared with the spread of random answers, sigma^2 = (K^2 - 1) / 12
# for K ranked statements: agreed when its standard deviation is at most half of sigma,
# contested when at least 0.8 sigma, mixed in between. Compared exactly, in integers.
AGREED_RATIO = (1, 2)
CONTESTED_RATIO = (4, 5)


def _agreement(m: int, k: int, total: int, squares: int) -> str | None:
    if m < 2:
        return None
    if k < 2:
        return "agreed"
    # variance = (m * squares - total^2) / m^2;  sigma^2 = (k^2 - 1) / 12.
    scaled = 12 * (m * squares - total * total)
    random_spread = m * m * (k * k - 1)
    an, ad = AGREED_RATIO
    if scaled * ad * ad <= random_spread * an * an:
        return "agreed"
    cn, cd = CONTESTED_RATIO
    if scaled * cd * cd >= random_spread * cn * cn:
        return "contested"
    return "mixed"


def _order_statistic(counts: Sequence[int], j: int) -> int:
    """The j-th smallest position (0-based) in a histogram of positions 1..K."""
    seen = 0
    for k, c in enumerate(counts):
        seen += c
        if j < seen:
            return k + 1
    raise IndexError(j)


def _quantile(counts: Sequence[int], m: int, p: float) -> float:
    """Quantile with linear interpolation between order statistics (spreadsheet QUARTILE.INC)."""
    h = (m - 1) * p
    low = math.floor(h)
    fraction = h - low
    x = _order_statistic(counts, low)
    if fraction == 0:
        return float(x)
    return x + fraction * (_order_statistic(counts, low + 1) - x)


@dataclass(frozen=True)
class StatementResult:
    """One statement's figures in a group (or the room).

    ``positions[k]`` is how many rankings placed it at position k + 1 (a heat-map row; all zeros for
    the discarded statement). Rank figures are ``None`` for the discarded statement and when there
    is no ranking; ``agreement`` needs at least two rankings.
    """

    statement: int
    discard_votes: int
    mean_rank: float | None
    rank_sd: float | None
    rank_iqr: float | None
    first_places: int
    top_count: int
    top_points: int
    consensus_position: int | None
    agreement: str | None
    positions: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, decimals rounded to 4 places."""
        return {
            "statement": self.statement,
            "discard_votes": self.discard_votes,
            "mean_rank": _round(self.mean_rank),
            "rank_sd": _round(self.rank_sd),
            "rank_iqr": _round(self.rank_iqr),
            "first_places": self.first_places,
            "top_count": self.top_count,
            "top_points": self.top_points,
            "consensus_position": self.consensus_position,
            "agreement": self.agreement,
            "positions": list(self.positions),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class _Ranked:
    """Rank figures of a set of rankings: consensus, concordance and per-statement spread."""

    table: _Table
    consensus_order: tuple[int, ...]
    concordance: Concordance | None
    figures: dict[int, tuple[float | None, float | None, float | None, str | None]]


def _ranked(items: Sequence[int], rankings: Sequence[Sequence[int]]) -> _Ranked:
    table = _table(items, rankings)
    m, k = table.m, len(table.items)
    order = _kemeny(table, _tie_key(table)) if m else ()
    figures: dict[int, tuple[float | None, float | None, float | None, str | None]] = {}
    for s, row in zip(table.items, table.counts, strict=True):
        if not m:
            figures[s] = (None, None, None, None)
            continue
        total = sum(c * (p + 1) for p, c in enumerate(row))
        squares = sum(c * (p + 1) ** 2 for p, c in enumerate(row))
        variance = max(0, m * squares - total * total) / (m * m)
        iqr = _quantile(row, m, 0.75) - _quantile(row, m, 0.25)
        figures[s] = (total / m, math.sqrt(variance), iqr, _agreement(m, k, total, squares))
    concordance = _concordance(m, k, _rank_sums(table))
    return _Ranked(table, order, concordance, figures)


def _statement_results(
    statements: Sequence[int],
    ranked: _Ranked,
    discard_votes: dict[int, int],
    top_count: dict[int, int],
    top_points: dict[int, int],
) -> tuple[StatementResult, ...]:
    k = len(ranked.table.items)
    rows = dict(zip(ranked.table.items, ranked.table.counts, strict=True))
    place = {s: i + 1 for i, s in enumerate(ranked.consensus_order)}
    results = []
    for s in statements:
        positions = tuple(rows.get(s, (0,) * k))
        mean, sd, iqr, agreement = ranked.figures.get(s, (None, None, None, None))
        results.append(
            StatementResult(
                statement=s,
                discard_votes=discard_votes.get(s, 0),
                mean_rank=mean,
                rank_sd=sd,
                rank_iqr=iqr,
                first_places=positions[0] if positions else 0,
                top_count=top_count.get(s, 0),
                top_points=top_points.get(s, 0),
                consensus_position=place.get(s),
                agreement=agreement,
                positions=positions,
            )
        )
    return tuple(results)


def _top_order(per_statement: Sequence[StatementResult], size: int) -> tuple[int, ...]:
    """The ``size`` statements with most top points; ties: more picks, consensus place, number."""
    picked = [r for r in per_statement if r.top_count]
    if not picked:
        return ()
    unplaced = len(per_statement) + 1
    picked.sort(
        key=lambda r: (
            -r.top_points,
            -r.top_count,
            r.consensus_position if r.consensus_position is not None else unplaced,
            r.statement,
        )
    )
    return tuple(r.statement for r in picked[:size])


def _split(
    per_statement: Sequence[StatementResult],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Agreed statements in consensus order; contested ones most spread first."""
    agreed = sorted(
        (r for r in per_statement if r.agreement == "agreed"),
        key=lambda r: (r.consensus_position or 0, r.statement),
    )
    contested = sorted(
        (r for r in per_statement if r.agreement == "contested"),
        key=lambda r: (-(r.rank_sd or 0.0), r.statement),
    )
    return tuple(r.statement for r in agreed), tuple(r.statement for r in contested)


# --------------------------------------------------------------------------- one group


class _PerStatement:
    """Look-up shared by group and room results."""

    per_statement: tuple[StatementResult, ...]

    def statement(self, number: int) -> StatementResult:
        """The figures of statement ``number``."""
        for result in self.per_statement:
            if result.statement == number:
                return result
        raise KeyError(number)


@dataclass(frozen=True)
class GroupResult(_PerStatement):
    """Everything the projector and the exports show for one group."""

    statements: tuple[int, ...]
    participants: int
    discard: DiscardTally | None
    group_discard: int | None
    remaining: tuple[int, ...]
    rankings: int
    consensus_order: tuple[int, ...]
    concordance: Concordance | None
    top_order: tuple[int, ...]
    per_statement: tuple[StatementResult, ...]
    agreed: tuple[int, ...]
    contested: tuple[int, ...]
    top_size: int = 5
    tops: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``json.dumps`` works), decimals rounded to 4 places."""
        return {
            "statements": list(self.statements),
            "participants": self.participants,
            "discard": self.discard.to_dict() if self.discard else None,
            "group_discard": self.group_discard,
            "remaining": list(self.remaining),
            "rankings": self.rankings,
            "tops": self.tops,
            "top_size": self.top_size,
            "consensus_order": list(self.consensus_order),
            "concordance": self.concordance.to_dict() if self.concordance else None,
            "top_order": list(self.top_order),
            "per_statement": [r.to_dict() for r in self.per_statement],
            "agreed": list(self.agreed),
            "contested": list(self.contested),
        }


def _tally_tops(
    remaining: Sequence[int], tops: Sequence[Sequence[int]], size: int
) -> tuple[dict[int, int], dict[int, int]]:
    """Top picks and points: k-th place of a top of ``size`` earns size + 1 - k points."""
    allowed = frozenset(remaining)
    count = dict.fromkeys(remaining, 0)
    points = dict.fromkeys(remaining, 0)
    for top in tops:
        if len(top) != size or len(set(top)) != size or not allowed.issuperset(top):
            raise ValueError(f"{list(top)!r} is not a top {size} of {list(remaining)!r}")
        for k, s in enumerate(top):
            count[s] += 1
            points[s] += size - k
    return count, points


def aggregate_group(
    statements: Sequence[int],
    *,
    discard_votes: Sequence[int] = (),
    group_discard: int | None = None,
    rankings: Sequence[Sequence[int]] = (),
    tops: Sequence[Sequence[int]] = (),
    top_size: int = 5,
    participants: int | None = None,
    has_discard: bool = True,
) -> GroupResult:
    """Aggregate one group's answers.

    ``statements``: the deck's numbers. ``rankings`` must be complete rankings of the remaining
    statements (the deck minus ``group_discard``) and ``tops`` picks of ``top_size`` of them: both
    are validated by the caller on the way in; a malformed one raises ``ValueError`` here.
    ``has_discard=False`` (a deck without a discard step) gives ``discard=None``.
    ``participants`` defaults to the largest number of answers of any step.
    """
    numbers = tuple(statements)
    if group_discard is not None and group_discard not in numbers:
        raise ValueError(f"group discard {group_discard} is not one of {list(numbers)!r}")
    if not has_discard and group_discard is not None:
        raise ValueError("a deck without a discard step cannot have a group discard")
    remaining = tuple(s for s in numbers if s != group_discard)
    tally = tally_discard(numbers, discard_votes) if has_discard else None
    ranked = _ranked(remaining, rankings)
    top_count, top_points = _tally_tops(remaining, tops, top_size) if tops else ({}, {})
    per_statement = _statement_results(
        numbers, ranked, tally.votes if tally else {}, top_count, top_points
    )
    agreed, contested = _split(per_statement)
    if participants is None:
        participants = max(len(rankings), len(tops), len(discard_votes))
    return GroupResult(
        statements=numbers,
        participants=participants,
        discard=tally,
        group_discard=group_discard,
        remaining=remaining,
        rankings=len(rankings),
        consensus_order=ranked.consensus_order,
        concordance=ranked.concordance,
        top_order=_top_order(per_statement, top_size),
        per_statement=per_statement,
        agreed=agreed,
        contested=contested,
        top_size=top_size,
        tops=len(tops),
    )


# --------------------------------------------------------------------------- the whole room


@dataclass(frozen=True)
class RoomResult(_PerStatement):
    """The whole room across groups that may have discarded different statements.

    Each ranking is extended with its group's discard placed last (see docs/consensus.md), so
    rank figures, consensus and W cover every deck statement. ``groups_discarded[s]`` counts the
    groups whose discard is ``s``; ``discard_votes`` in ``per_statement`` and top figures are
    summed over the groups. ``left_out`` counts rankings that could not be extended (their group's
    discard not decided).
    """

    statements: tuple[int, ...]
    groups: int
    participants: int
    rankings: int
    left_out: int
    consensus_order: tuple[int, ...]
    concordance: Concordance | None
    top_order: tuple[int, ...]
    per_statement: tuple[StatementResult, ...]
    groups_discarded: dict[int, int] = field(default_factory=dict)
    agreed: tuple[int, ...] = ()
    contested: tuple[int, ...] = ()
    tables: TableComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``json.dumps`` works), decimals rounded to 4 places."""
        return {
            "statements": list(self.statements),
            "groups": self.groups,
            "participants": self.participants,
            "rankings": self.rankings,
            "left_out": self.left_out,
            "consensus_order": list(self.consensus_order),
            "concordance": self.concordance.to_dict() if self.concordance else None,
            "top_order": list(self.top_order),
            "per_statement": [r.to_dict() for r in self.per_statement],
            "groups_discarded": {str(s): c for s, c in self.groups_discarded.items()},
            "agreed": list(self.agreed),
            "contested": list(self.contested),
            "tables": self.tables.to_dict() if self.tables else None,
        }


def aggregate_room(
    statements: Sequence[int],
    groups: Sequence[GroupResult],
    rankings_by_group: Sequence[Sequence[Sequence[int]]],
    top_size: int,
) -> RoomResult:
    """Aggregate the room from each group's result and the rankings that produced it.

    ``rankings_by_group[i]`` are the rankings of ``groups[i]``. A ranking of n - 1 statements gets
    its group's discard appended (the group judged it least important); a ranking of all n is used
    as it is (decks without a discard step).
    """
    numbers = tuple(statements)
    if len(groups) != len(rankings_by_group):
        raise ValueError("one list of rankings is needed per group")
    full = frozenset(numbers)
    extended: list[tuple[int, ...]] = []
    left_out = 0
    groups_discarded = dict.fromkeys(numbers, 0)
    votes = dict.fromkeys(numbers, 0)
    top_count = dict.fromkeys(numbers, 0)
    top_points = dict.fromkeys(numbers, 0)
    for group, rankings in zip(groups, rankings_by_group, strict=True):
        if group.group_discard is not None:
            groups_discarded[group.group_discard] += 1
        for r in group.per_statement:
            votes[r.statement] += r.discard_votes
            top_count[r.statement] += r.top_count
            top_points[r.statement] += r.top_points
        for ranking in rankings:
            candidate = tuple(ranking)
            if group.group_discard is not None and group.group_discard not in candidate:
                candidate += (group.group_discard,)
            if len(candidate) == len(numbers) and frozenset(candidate) == full:
                extended.append(candidate)
            else:
                left_out += 1
    ranked = _ranked(numbers, extended)
    per_statement = _statement_results(numbers, ranked, votes, top_count, top_points)
    agreed, contested = _split(per_statement)
    return RoomResult(
        statements=numbers,
        groups=len(groups),
        participants=sum(g.participants for g in groups),
        rankings=len(extended),
        left_out=left_out,
        consensus_order=ranked.consensus_order,
        concordance=ranked.concordance,
        top_order=_top_order(per_statement, top_size),
        per_statement=per_statement,
        groups_discarded=groups_discarded,
        agreed=agreed,
        contested=contested,
        tables=compare_tables(numbers, groups, rankings_by_group),
    )


# --------------------------------------------------------------------------- across tables

# A statement is distinctive for a table when its members' positions differ from the rest of the
# room's by a two-sided Mann–Whitney U test at p < DISTINCTIVE_P, with at least DISTINCTIVE_MIN
# rankings on each side (smaller tables cannot reach the threshold and are not tested).
DISTINCTIVE_P = 0.01
DISTINCTIVE_MIN = 3
# "Tables differ" lists at most this many statements, most spread first.
DIFFER_MAX = 3


def _u_test(n1: int, n2: int, rank_sum: float, ties: int) -> tuple[float, float]:
    """U of the first sample and the two-sided p-value from its rank sum in the pooled sample.

    ``ties`` is the sum of t^3 - t over groups of t tied values (the tie correction).
    """
    n = n1 + n2
    u1 = rank_sum - n1 * (n1 + 1) / 2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return u1, 1.0
    z = (max(u1, n1 * n2 - u1) - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return u1, min(1.0, math.erfc(z / math.sqrt(2)))


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test of samples ``x`` and ``y``: ``(U of x, p-value)``.

    Mid-ranks for ties; the normal approximation with the tie correction and a continuity
    correction of 0.5 (as ``scipy.stats.mannwhitneyu(method="asymptotic")``). When every value
    is tied the samples cannot differ: p = 1.
    """
    if not x or not y:
        raise ValueError("both samples need at least one value")
    pooled = sorted([(v, 0) for v in x] + [(v, 1) for v in y])
    n = len(pooled)
    rank_x = 0.0
    ties = 0
    i = 0
    while i < n:
        j = i
        while j < n and pooled[j][0] == pooled[i][0]:
            j += 1
        mid = (i + 1 + j) / 2  # ranks i+1 .. j share their mean
        rank_x += mid * sum(1 for _, side in pooled[i:j] if side == 0)
        ties += (j - i) ** 3 - (j - i)
        i = j
    return _u_test(len(x), len(y), rank_x, ties)


@dataclass(frozen=True)
class TableSpread:
    """One statement across the tables: each table's consensus position and their spread.

    ``positions[i]`` is table i's consensus position (1 = most important), ``None`` when table i
    discarded it or has no consensus yet. ``spread`` is the standard deviation of the compared
    tables' positions, a discard counting as last (n); ``None`` with fewer than two tables.
    """

    statement: int
    positions: tuple[int | None, ...]
    discarded_by: tuple[int, ...]
    spread: float | None
    agreement: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, the spread rounded to 4 places."""
        return {
            "statement": self.statement,
            "positions": list(self.positions),
            "discarded_by": list(self.discarded_by),
            "spread": _round(self.spread),
            "agreement": self.agreement,
        }


@dataclass(frozen=True)
class Distinctive:
    """A statement that a table's members rank differently from the rest of the room.

    ``higher`` is true when the table puts it nearer the top (more important) than the room.
    Means are of positions in rankings extended with the group's discard last.
    """

    table: int
    statement: int
    table_mean: float
    rest_mean: float
    u: float
    p_value: float
    higher: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, decimals rounded to 4 places (p to 4 significant digits)."""
        return {
            "table": self.table,
            "statement": self.statement,
            "table_mean": round(self.table_mean, 4),
            "rest_mean": round(self.rest_mean, 4),
            "u": round(self.u, 4),
            "p_value": float(f"{self.p_value:.4g}"),
            "higher": self.higher,
        }


@dataclass(frozen=True)
class TableComparison:
    """How the tables compare: tables are referred to by their index in the room's groups.

    ``compared`` are the tables with a consensus over the whole deck (their discard placed last);
    ``concordance`` is Kendall's W with each compared table's consensus order as one rater.
    ``agree_top``/``agree_bottom``: statements every compared table places in its top third /
    its bottom third or discards (needs two tables). ``differ``: the most spread statements
    whose spread across tables is "contested" by the group rule. ``distinctive``: see
    ``DISTINCTIVE_P``, most significant first.
    """

    compared: tuple[int, ...]
    concordance: Concordance | None
    per_statement: tuple[TableSpread, ...]
    agree_top: tuple[int, ...]
    agree_bottom: tuple[int, ...]
    differ: tuple[int, ...]
    distinctive: tuple[Distinctive, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``json.dumps`` works)."""
        return {
            "compared": list(self.compared),
            "concordance": self.concordance.to_dict() if self.concordance else None,
            "per_statement": [r.to_dict() for r in self.per_statement],
            "agree_top": list(self.agree_top),
            "agree_bottom": list(self.agree_bottom),
            "differ": list(self.differ),
            "distinctive": [d.to_dict() for d in self.distinctive],
            "distinctive_p": DISTINCTIVE_P,
            "distinctive_min": DISTINCTIVE_MIN,
        }


def _extend(ranking: Sequence[int], discard: int | None, full: frozenset[int]) -> tuple[int, ...]:
    """A ranking with its group's discard placed last; ``()`` when it cannot cover ``full``."""
    candidate = tuple(ranking)
    if discard is not None and discard not in candidate:
        candidate += (discard,)
    return candidate if len(candidate) == len(full) and frozenset(candidate) == full else ()


def compare_tables(
    statements: Sequence[int],
    groups: Sequence[GroupResult],
    rankings_by_group: Sequence[Sequence[Sequence[int]]],
) -> TableComparison:
    """Compare the tables' consensus orders and find what is distinctive for each table.

    ``rankings_by_group[i]`` are the members' rankings of ``groups[i]``. Rules and thresholds:
    docs/consensus.md, "Across tables".
    """
    numbers = tuple(statements)
    n = len(numbers)
    full = frozenset(numbers)
    orders: dict[int, tuple[int, ...]] = {}
    for i, group in enumerate(groups):
        if group.consensus_order:
            order = _extend(group.consensus_order, group.group_discard, full)
            if order:
                orders[i] = order
    compared = tuple(sorted(orders))
    tables = len(compared)
    concordance = kendall_w(numbers, [orders[i] for i in compared]) if tables else None
    place = {i: {s: k + 1 for k, s in enumerate(orders[i])} for i in compared}
    per_statement = []
    agree_top: list[int] = []
    agree_bottom: list[int] = []
    spreads: list[tuple[int, int, int]] = []  # (statement, total, squares) for contested ones
    for s in numbers:
        shown: list[int | None] = []
        discarded_by = []
        for i, group in enumerate(groups):
            if group.group_discard == s:
                discarded_by.append(i)
            shown.append(None if i not in place or group.group_discard == s else place[i][s])
        values = [place[i][s] for i in compared]
        total, squares = sum(values), sum(v * v for v in values)
        spread = (
            math.sqrt(max(0, tables * squares - total * total)) / tables if tables >= 2 else None
        )
        agreement = _agreement(tables, n, total, squares) if tables >= 2 else None
        if tables >= 2:
            kept = [len(groups[i].consensus_order) for i in compared]
            if all(3 * place[i][s] <= k for i, k in zip(compared, kept, strict=True)):
                agree_top.append(s)
            elif all(
                groups[i].group_discard == s or 3 * place[i][s] > 2 * k
                for i, k in zip(compared, kept, strict=True)
            ):
                agree_bottom.append(s)
            if agreement == "contested":
                spreads.append((s, total, squares))
        per_statement.append(TableSpread(s, tuple(shown), tuple(discarded_by), spread, agreement))
    # most spread first: compare tables * squares - total^2 (same denominator for every statement)
    spreads.sort(key=lambda t: (-(tables * t[2] - t[1] * t[1]), t[0]))
    differ = tuple(s for s, _, _ in spreads[:DIFFER_MAX])
    return TableComparison(
        compared=compared,
        concordance=concordance,
        per_statement=tuple(per_statement),
        agree_top=tuple(agree_top),
        agree_bottom=tuple(agree_bottom),
        differ=differ,
        distinctive=_distinctive(numbers, groups, rankings_by_group),
    )


def _distinctive(
    numbers: tuple[int, ...],
    groups: Sequence[GroupResult],
    rankings_by_group: Sequence[Sequence[Sequence[int]]],
) -> tuple[Distinctive, ...]:
    """Per table and statement, a Mann–Whitney U test of the members' positions against the
    rest of the room's (rankings extended with the group's discard last).

    A table and the rest of the room always make up the whole room, so each statement's
    positions are ranked once for the room (mid-ranks from a histogram of positions 1..n) and
    each table's rank sum is read from it.
    """
    n = len(numbers)
    full = frozenset(numbers)
    by_table: list[list[tuple[int, ...]]] = []
    for group, rankings in zip(groups, rankings_by_group, strict=True):
        by_table.append([e for e in (_extend(r, group.group_discard, full) for r in rankings) if e])
    room = sum(len(own) for own in by_table)
    testable = [i for i, own in enumerate(by_table)
                if len(own) >= DISTINCTIVE_MIN and room - len(own) >= DISTINCTIVE_MIN]
    if not testable:
        return ()
    # position of statement s in each ranking, per table: positions[i][s] = [p, ...]
    positions = [{s: [0] * len(own) for s in numbers} for own in by_table]
    for i, own in enumerate(by_table):
        for r, ranking in enumerate(own):
            for k, s in enumerate(ranking):
                positions[i][s][r] = k + 1
    found = []
    for s in numbers:
        histogram = [0] * (n + 1)
        for table in positions:
            for p in table[s]:
                histogram[p] += 1
        midrank = [0.0] * (n + 1)
        below = 0
        ties = 0
        for p in range(1, n + 1):
            t = histogram[p]
            midrank[p] = below + (t + 1) / 2
            below += t
            ties += t * t * t - t
        total = sum(p * histogram[p] for p in range(1, n + 1))
        for i in testable:
            x = positions[i][s]
            n1 = len(x)
            u, p_value = _u_test(n1, room - n1, sum(midrank[p] for p in x), ties)
            if p_value < DISTINCTIVE_P:
                own_mean = sum(x) / n1
                rest_mean = (total - sum(x)) / (room - n1)
                found.append(Distinctive(i, s, own_mean, rest_mean, u, p_value,
                                         own_mean < rest_mean))
    found.sort(key=lambda d: (d.p_value, d.table, d.statement))
    return tuple(found)
