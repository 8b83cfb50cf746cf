"""Property tests of the consensus core (hypothesis), against brute force and scipy."""

import itertools
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from facilitator.consensus import (
    RULES,
    AnswerError,
    aggregate_group,
    check_ranking,
    check_top,
    chi_square_sf,
    kemeny_distance,
    kemeny_order,
    kendall_w,
)


@st.composite
def ranked_group(draw, min_n=1, max_n=7, min_m=0, max_m=6):
    """Distinct statement numbers and some complete rankings of them."""
    n = draw(st.integers(min_n, max_n))
    statements = draw(st.lists(st.integers(1, 99), min_size=n, max_size=n, unique=True))
    m = draw(st.integers(min_m, max_m))
    rankings = [tuple(draw(st.permutations(statements))) for _ in range(m)]
    return statements, rankings


def brute_force_optima(statements, rankings):
    """Every order with the least total Kendall tau distance, and that distance."""
    best, optima = None, []
    for order in itertools.permutations(statements):
        cost = kemeny_distance(order, rankings)
        if best is None or cost < best:
            best, optima = cost, [order]
        elif cost == best:
            optima.append(order)
    return best, optima


@settings(max_examples=60, deadline=None)
@given(ranked_group(max_n=6, max_m=5))
def test_the_kemeny_order_has_the_brute_force_minimum_distance(group):
    statements, rankings = group
    best, optima = brute_force_optima(statements, rankings)
    order = kemeny_order(statements, rankings)
    assert kemeny_distance(order, rankings) == best

    # The documented tie-break: lowest (sum of positions, number) first, position by position.
    def key(order):
        return [(sum(r.index(s) + 1 for r in rankings), s) for s in order]

    assert order == min(optima, key=key)


@settings(max_examples=10, deadline=None)
@given(ranked_group(min_n=7, max_n=7, min_m=1, max_m=4))
def test_the_kemeny_order_is_optimal_for_seven_statements(group):
    statements, rankings = group
    best, _ = brute_force_optima(statements, rankings)
    assert kemeny_distance(kemeny_order(statements, rankings), rankings) == best


@settings(max_examples=100, deadline=None)
@given(ranked_group(min_n=2, max_n=12, min_m=2, max_m=12))
def test_kendall_w_is_between_zero_and_one(group):
    statements, rankings = group
    result = kendall_w(statements, rankings)
    assert 0.0 <= result.w <= 1.0
    assert 0.0 <= result.p_value <= 1.0
    assert result.chi_square == pytest.approx(result.m * (result.n - 1) * result.w)


@settings(max_examples=50, deadline=None)
@given(ranked_group(min_n=2, max_n=12, min_m=1, max_m=1), st.integers(2, 30))
def test_identical_rankings_have_w_of_exactly_one(group, m):
    statements, rankings = group
    assert kendall_w(statements, rankings * m).w == 1.0


@settings(max_examples=60, deadline=None)
@given(ranked_group(min_n=2, max_n=8, min_m=0, max_m=8), st.data())
def test_results_do_not_depend_on_how_statements_are_labelled(group, data):
    statements, rankings = group
    new_labels = data.draw(
        st.lists(
            st.integers(100, 999), min_size=len(statements), max_size=len(statements), unique=True
        )
    )
    relabel = dict(zip(statements, new_labels, strict=True))
    moved = [tuple(relabel[s] for s in r) for r in rankings]
    before = aggregate_group(statements, rankings=rankings, has_discard=False)
    after = aggregate_group(new_labels, rankings=moved, has_discard=False)
    if rankings:
        order = before.consensus_order
        assert kemeny_distance(after.consensus_order, moved) == kemeny_distance(order, rankings)
    assert (before.concordance is None) == (after.concordance is None)
    if before.concordance:
        assert after.concordance.w == before.concordance.w
        assert after.concordance.p_value == before.concordance.p_value
    for old in before.per_statement:
        new = after.statement(relabel[old.statement])
        assert (new.mean_rank, new.rank_sd, new.rank_iqr, new.agreement, new.positions) == (
            old.mean_rank,
            old.rank_sd,
            old.rank_iqr,
            old.agreement,
            old.positions,
        )


@settings(max_examples=60, deadline=None)
@given(ranked_group(min_n=2, max_n=8, min_m=1, max_m=8), st.integers(1, 50))
def test_an_order_preserving_relabelling_keeps_the_consensus_order_exactly(group, shift):
    statements, rankings = group
    relabel = {s: 3 * s + shift for s in statements}
    moved = [tuple(relabel[s] for s in r) for r in rankings]
    expected = tuple(relabel[s] for s in kemeny_order(statements, rankings))
    assert kemeny_order([relabel[s] for s in statements], moved) == expected


@settings(max_examples=60, deadline=None)
@given(ranked_group(min_n=1, max_n=9, min_m=1, max_m=9))
def test_spread_figures_match_the_statistics_module(group):
    statements, rankings = group
    result = aggregate_group(statements, rankings=rankings, has_discard=False)
    for figures in result.per_statement:
        positions = [r.index(figures.statement) + 1 for r in rankings]
        assert figures.mean_rank == pytest.approx(statistics.mean(positions))
        assert figures.rank_sd == pytest.approx(statistics.pstdev(positions), abs=1e-12)
        if len(positions) > 1:
            q1, _, q3 = statistics.quantiles(positions, n=4, method="inclusive")
            assert figures.rank_iqr == pytest.approx(q3 - q1)


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 2000, allow_nan=False), st.integers(1, 60))
def test_the_chi_square_tail_matches_scipy_everywhere(x, df):
    assert chi_square_sf(x, df) == pytest.approx(chi2.sf(x, df), rel=1e-9, abs=1e-300)


# --------------------------------------------------------------------------- hostile answers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=12) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=30,
)


@st.composite
def remaining_and_discard(draw):
    deck = draw(st.lists(st.integers(1, 20), min_size=3, max_size=12, unique=True))
    discarded = draw(st.sampled_from(deck))
    return [s for s in deck if s != discarded], discarded


@settings(max_examples=300, deadline=None)
@given(remaining_and_discard(), json_values)
def test_any_json_answer_is_accepted_only_if_valid_and_refused_with_a_known_rule(setup, answer):
    remaining, discarded = setup
    for check, args in (
        (check_ranking, (remaining, answer, discarded)),
        (check_top, (remaining, answer, min(3, len(remaining)), discarded)),
    ):
        try:
            result = check(*args)
        except AnswerError as exc:
            assert exc.rule in RULES
            assert str(exc)
        else:
            assert all(type(s) is int for s in result)
            assert len(set(result)) == len(result) and set(result) <= set(remaining)


MUTATIONS = {
    "drop_one": "missing_statement",
    "repeat_one": "duplicate_statement",
    "add_discard": "discarded_statement",
    "replace_with_discard": "discarded_statement",
    "foreign": "not_a_statement",
    "boolean": "not_an_integer",
    "float": "not_an_integer",
    "string": "not_an_integer",
    "as_dict": "not_a_list",
    "far_too_long": "wrong_length",
}


@settings(max_examples=200, deadline=None)
@given(remaining_and_discard(), st.sampled_from(sorted(MUTATIONS)), st.data())
def test_every_invalid_ranking_shape_is_refused_with_its_rule(setup, mutation, data):
    remaining, discarded = setup
    ranking = list(data.draw(st.permutations(remaining)))
    k = data.draw(st.integers(0, len(ranking) - 1))
    if mutation == "drop_one":
        del ranking[k]
    elif mutation == "repeat_one":
        ranking[k] = ranking[(k + 1) % len(ranking)]
    elif mutation == "add_discard":
        ranking.insert(k, discarded)
    elif mutation == "replace_with_discard":
        ranking[k] = discarded
    elif mutation == "foreign":
        ranking[k] = 1000 + k
    elif mutation == "boolean":
        ranking[k] = True
    elif mutation == "float":
        ranking[k] = float(ranking[k])
    elif mutation == "string":
        ranking[k] = str(ranking[k])
    elif mutation == "as_dict":
        ranking = {str(i): s for i, s in enumerate(ranking)}
    elif mutation == "far_too_long":
        ranking = ranking * 3
    with pytest.raises(AnswerError) as caught:
        check_ranking(remaining, ranking, discarded)
    assert caught.value.rule == MUTATIONS[mutation]


@settings(max_examples=100, deadline=None)
@given(remaining_and_discard(), st.data())
def test_every_wrong_sized_top_is_refused(setup, data):
    remaining, discarded = setup
    size = data.draw(st.integers(1, len(remaining)))
    length = data.draw(st.integers(0, len(remaining)).filter(lambda x: x != size))
    top = data.draw(st.permutations(remaining))[:length]
    with pytest.raises(AnswerError) as caught:
        check_top(remaining, top, size, discarded)
    assert caught.value.rule == "wrong_length"
