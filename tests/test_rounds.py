"""The between-rounds measures (facilitator/rounds.py) against independent computations."""

import itertools
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import friedmanchisquare, kendalltau

from facilitator.rounds import (
    StatementMove,
    kendall_tau_distance,
    max_tau_distance,
    movement,
    people_moved,
    people_to_answer,
    room_movement,
    statement_moves,
    table_change,
)


def pair_count(a, b):
    """O(n²): the pairs of statements that ``a`` and ``b`` put in opposite order."""
    where = {s: i for i, s in enumerate(b)}
    return sum(1 for x, y in itertools.combinations(a, 2) if where[x] > where[y])


def neighbour_swaps(a, b):
    """Bubble-sort ``b`` into ``a``'s order, counting the swaps of neighbours."""
    target = {s: i for i, s in enumerate(a)}
    work, swaps = list(b), 0
    for end in range(len(work) - 1, 0, -1):
        for i in range(end):
            if target[work[i]] > target[work[i + 1]]:
                work[i], work[i + 1] = work[i + 1], work[i]
                swaps += 1
    return swaps


@st.composite
def two_orders(draw, min_n=0, max_n=14):
    n = draw(st.integers(min_n, max_n))
    statements = draw(st.lists(st.integers(1, 99), min_size=n, max_size=n, unique=True))
    return tuple(draw(st.permutations(statements))), tuple(draw(st.permutations(statements)))


@given(two_orders())
@settings(max_examples=300, deadline=None)
def test_tau_distance_counts_the_discordant_pairs(orders):
    a, b = orders
    d = kendall_tau_distance(a, b)
    assert d == pair_count(a, b) == neighbour_swaps(a, b)
    assert d == kendall_tau_distance(b, a)
    assert 0 <= d <= max_tau_distance(len(a))


@given(two_orders(min_n=2))
@settings(max_examples=200, deadline=None)
def test_tau_distance_agrees_with_scipy_kendall_tau(orders):
    a, b = orders
    position_b = {s: i for i, s in enumerate(b)}
    tau = kendalltau(range(len(a)), [position_b[s] for s in a]).statistic
    pairs = max_tau_distance(len(a))
    assert kendall_tau_distance(a, b) == round((1 - tau) * pairs / 2)


@given(two_orders(min_n=1))
def test_reversed_order_is_the_largest_distance(orders):
    a, _ = orders
    assert kendall_tau_distance(a, a) == 0
    assert kendall_tau_distance(a, a[::-1]) == max_tau_distance(len(a))


def test_orders_of_different_statements_are_refused():
    with pytest.raises(ValueError):
        kendall_tau_distance((1, 2, 3), (1, 2, 4))
    with pytest.raises(ValueError):
        kendall_tau_distance((1, 2, 3), (1, 2))
    with pytest.raises(ValueError):
        kendall_tau_distance((1, 1, 2), (1, 2, 1))


@given(two_orders())
def test_statement_moves_are_the_change_of_position(orders):
    a, b = orders
    moves = statement_moves(a, b)
    assert [m.statement for m in moves] == list(b)
    for m in moves:
        assert m.before == a.index(m.statement) + 1
        assert m.after == b.index(m.statement) + 1
        assert m.moved == m.before - m.after
    assert sum(m.moved for m in moves) == 0
    # a statement climbs past as many as fall past it: each discordant pair moves two statements
    assert sum(abs(m.moved) for m in moves) <= 2 * kendall_tau_distance(a, b)


def test_a_statement_missing_from_the_later_order_has_no_movement():
    moves = statement_moves((3, 1, 2), (2, 1))
    assert moves == (StatementMove(2, 3, 1), StatementMove(1, 2, 2), StatementMove(3, 1, None))
    assert moves[2].moved is None


def test_movement_summarises_a_distribution_anonymously():
    m = movement([5, 0, 2, 0], 36)
    assert m.distances == (0, 0, 2, 5)
    assert (m.people, m.unmoved, m.median, m.mean) == (4, 2, 1, 1.75)
    assert m.counts[0] == 2 and m.counts[5] == 1 and len(m.counts) == 37
    assert movement([], 36).to_dict()["median"] is None
    with pytest.raises(ValueError):
        movement([37], 36)


@st.composite
def table_rounds(draw):
    n = draw(st.integers(2, 6))
    statements = list(range(1, n + 1))
    people = [f"p{i}" for i in range(draw(st.integers(1, 5)))]
    rounds = {}
    for r in range(1, draw(st.integers(1, 3)) + 1):
        rounds[r] = {
            p: tuple(draw(st.permutations(statements)))
            for p in people
            if r == 1 or draw(st.booleans())
        }
    answer = tuple(draw(st.permutations(statements))) if draw(st.booleans()) else None
    return statements, rounds, answer


def total_disagreement(order, rankings):
    return sum(pair_count(order, r) for r in rankings)


def friedman_w(rankings):
    """Kendall's W from scipy's Friedman chi-square: W = χ² / (m (n − 1))."""
    m, n = len(rankings), len(rankings[0])
    if n < 3:  # scipy needs 3 columns; count directly for two statements
        first = sum(1 for r in rankings if r[0] == rankings[0][0])
        sums = [first + 2 * (m - first), 2 * first + (m - first)]
        s = sum((x - m * 1.5) ** 2 for x in sums)
        return 12 * s / (m * m * (n**3 - n))
    columns = [[r.index(s) + 1 for r in rankings] for s in sorted(rankings[0])]
    chi = friedmanchisquare(*columns).statistic
    return chi / (m * (n - 1))


@given(table_rounds())
@settings(max_examples=150, deadline=None)
def test_table_change_against_direct_computation(case):
    statements, rounds, answer = case
    change = table_change(statements, rounds, answer)
    first = rounds[1]
    played = [r for r in sorted(rounds) if rounds[r]]
    last = played[-1]
    # the before order is a consensus: no order of the statements disagrees less with round 1
    best = min(total_disagreement(o, first.values()) for o in itertools.permutations(statements))
    assert total_disagreement(change.before, first.values()) == best
    target = answer if answer is not None else (change.after or None)
    if last != 1:
        best_after = min(
            total_disagreement(o, rounds[last].values()) for o in itertools.permutations(statements)
        )
        assert total_disagreement(change.after, rounds[last].values()) == best_after
    else:
        assert change.after == ()
    if target is None:
        assert change.moves == () and change.distance is None
    else:
        assert change.distance == pair_count(change.before, target)
        assert {m.statement: m.moved for m in change.moves} == {
            s: change.before.index(s) - target.index(s) for s in statements
        }
    expected_moved = sorted(
        pair_count(first[p], rounds[last][p]) for p in first if last != 1 and p in rounds[last]
    )
    assert list(change.moved.distances) == expected_moved
    expected_to_answer = (
        sorted(pair_count(first[p], answer) for p in first) if answer is not None else []
    )
    assert list(change.to_answer.distances) == expected_to_answer
    for r in played:
        w = change.concordance[r]
        if len(rounds[r]) < 2:
            assert w is None
        elif len(set(rounds[r].values())) == 1:
            assert w.w == pytest.approx(1)
        else:
            assert w.w == pytest.approx(friedman_w(list(rounds[r].values())), abs=1e-9)
    if change.moved.people:
        assert change.moved.median == statistics.median(expected_moved)
    assert change.to_dict()["most"] == max_tau_distance(len(statements))


def test_a_table_that_has_not_ranked_has_no_change():
    assert table_change([1, 2, 3], {}) is None
    assert table_change([1, 2, 3], {1: {}}) is None


def test_a_table_that_converged():
    statements = [1, 2, 3, 4]
    rounds = {
        1: {"a": (1, 2, 3, 4), "b": (4, 3, 2, 1), "c": (1, 3, 2, 4)},
        2: {"a": (1, 2, 3, 4), "b": (1, 2, 4, 3), "c": (1, 2, 3, 4)},
    }
    change = table_change(statements, rounds)
    assert change.before == (1, 3, 2, 4)
    assert change.after == (1, 2, 3, 4)
    assert change.distance == 1
    assert change.moved.distances == (0, 1, 5)
    assert change.concordance[2].w > change.concordance[1].w
    assert change.to_answer.people == 0


def test_room_movement_pools_the_tables():
    a = table_change([1, 2, 3], {1: {"x": (1, 2, 3)}, 2: {"x": (3, 2, 1)}})
    b = table_change([1, 2, 3, 4], {1: {"y": (1, 2, 3, 4)}}, answer=(2, 1, 3, 4))
    moved, to_answer = room_movement([a, b])
    assert moved.distances == (3,) and to_answer.distances == (1,)
    assert moved.most == 6


def test_people_without_a_later_ranking_are_left_out():
    moved = people_moved({"a": (1, 2, 3), "b": (1, 2, 3)}, {"a": (2, 1, 3), "b": None})
    assert moved.distances == (1,) and moved.most == 3
    assert people_to_answer({"a": (1, 2, 3)}, None).people == 0
    assert people_to_answer({"a": (1, 2, 3), "b": (3, 2, 1)}, (1, 3, 2)).distances == (1, 2)


def test_what_changed_lists_only_tables_with_something_to_compare():
    from facilitator.rounds import TableRounds, what_changed

    view = what_changed([
        TableRounds(1, "Table 1", (1, 2, 3), {1: {"x": (1, 2, 3)}, 2: {"x": (2, 1, 3)}}),
        TableRounds(2, "Table 2", (1, 2, 3), {1: {"y": (1, 2, 3)}}),
        TableRounds(3, "Table 3", (1, 2, 4), {1: {"z": (4, 2, 1)}}, answer=(1, 2, 4)),
    ])
    assert [t["name"] for t in view["tables"]] == ["Table 1", "Table 3"]
    assert view["tables"][0]["moves"][0] == {"statement": 2, "before": 2, "after": 1, "moved": 1}
    assert view["room"]["moved"]["distances"] == [1]
    assert view["room"]["to_answer"]["distances"] == [3]
