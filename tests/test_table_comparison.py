"""Cross-table measures (``compare_tables``) against independent computations: scipy's
Mann–Whitney U and Friedman test, numpy's standard deviation, and the rules spelt out by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import friedmanchisquare, mannwhitneyu

from facilitator.consensus import (
    DISTINCTIVE_MIN,
    DISTINCTIVE_P,
    aggregate_group,
    aggregate_room,
    mann_whitney,
)


@st.composite
def room(draw, max_tables=5, max_members=7):
    """A deck of 4–7 statements and tables that each discard one and rank the rest."""
    n = draw(st.integers(4, 7))
    statements = list(range(1, n + 1))
    tables = draw(st.integers(1, max_tables))
    groups, rankings_by_group = [], []
    for _ in range(tables):
        discard = draw(st.sampled_from(statements))
        remaining = [s for s in statements if s != discard]
        m = draw(st.integers(0, max_members))
        rankings = [tuple(draw(st.permutations(remaining))) for _ in range(m)]
        groups.append(aggregate_group(statements, group_discard=discard, rankings=rankings))
        rankings_by_group.append(rankings)
    return statements, groups, rankings_by_group


def extended_order(group, statements):
    """A table's consensus order with its discard last, or None while it has no consensus."""
    if not group.consensus_order:
        return None
    return list(group.consensus_order) + [group.group_discard]


def scipy_p(x, y):
    if len(set(x) | set(y)) == 1:
        return 1.0
    return mannwhitneyu(x, y, alternative="two-sided", method="asymptotic",
                        use_continuity=True).pvalue


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=30),
       st.lists(st.integers(1, 9), min_size=1, max_size=30))
def test_mann_whitney_matches_scipy(x, y):
    u, p = mann_whitney(x, y)
    assert p == pytest.approx(scipy_p(x, y), rel=1e-9, abs=1e-12)
    if len(set(x) | set(y)) > 1:
        assert u == pytest.approx(mannwhitneyu(x, y, method="asymptotic").statistic)


@settings(max_examples=200, deadline=None)
@given(room())
def test_tables_are_compared_as_the_rules_say(data):
    statements, groups, rankings_by_group = data
    n = len(statements)
    result = aggregate_room(statements, groups, rankings_by_group, top_size=1).tables
    orders = {i: extended_order(g, statements) for i, g in enumerate(groups)}
    compared = [i for i, o in orders.items() if o is not None]
    assert list(result.compared) == compared

    # Kendall's W over the tables' orders: Friedman's chi-square / (m (n - 1)), an independent
    # second computation (scipy needs at least three statements and two raters)
    if len(compared) >= 2:
        columns = [[orders[i].index(s) + 1 for i in compared] for s in statements]
        chi2 = friedmanchisquare(*columns).statistic
        expected_w = chi2 / (len(compared) * (n - 1))
        if np.isnan(expected_w):  # every table identical: scipy divides 0 by 0
            expected_w = 1.0
        assert result.concordance.w == pytest.approx(expected_w, abs=1e-9)
    else:
        assert result.concordance is None

    agree_top, agree_bottom, contested = [], [], []
    for row, s in zip(result.per_statement, statements, strict=True):
        values = [orders[i].index(s) + 1 for i in compared]
        shown = [None if o is None or g.group_discard == s else o.index(s) + 1
                 for o, g in zip(orders.values(), groups, strict=True)]
        assert list(row.positions) == shown
        if len(compared) < 2:
            assert row.spread is None
            continue
        assert row.spread == pytest.approx(float(np.std(values)), abs=1e-9)
        k = n - 1
        if all(v <= k / 3 for v in values):
            agree_top.append(s)
        elif all(v == n or v > 2 * k / 3 for v in values):
            agree_bottom.append(s)
        random_sd = ((n * n - 1) / 12) ** 0.5
        if np.std(values) >= 0.8 * random_sd - 1e-12:
            contested.append((-round(float(np.std(values)), 9), s))
    assert list(result.agree_top) == agree_top
    assert list(result.agree_bottom) == agree_bottom
    # the three most spread of the contested ones, ties by number
    assert list(result.differ) == [s for _, s in sorted(contested)[:3]]


@settings(max_examples=150, deadline=None)
@given(room(max_tables=4, max_members=8))
def test_distinctive_is_a_mann_whitney_test_of_a_table_against_the_rest(data):
    statements, groups, rankings_by_group = data
    result = aggregate_room(statements, groups, rankings_by_group, top_size=1).tables
    extended = [[list(r) + [g.group_discard] for r in rankings]
                for g, rankings in zip(groups, rankings_by_group, strict=True)]
    expected = {}
    for i, own in enumerate(extended):
        rest = [r for j, other in enumerate(extended) if j != i for r in other]
        if len(own) < DISTINCTIVE_MIN or len(rest) < DISTINCTIVE_MIN:
            continue
        for s in statements:
            x = [r.index(s) + 1 for r in own]
            y = [r.index(s) + 1 for r in rest]
            p = scipy_p(x, y)
            if p < DISTINCTIVE_P * (1 - 1e-9):
                expected[(i, s)] = (p, np.mean(x) < np.mean(y))
    found = {(d.table, d.statement): d for d in result.distinctive}
    # a p-value within rounding of the threshold may land on either side; none are that close here
    assert set(found) == set(expected)
    for key, d in found.items():
        assert d.p_value == pytest.approx(expected[key][0], rel=1e-9)
        assert d.higher == expected[key][1]


def test_a_table_that_ranks_a_statement_first_against_the_room_is_distinctive():
    statements = list(range(1, 11))
    rest_order = [2, 3, 4, 5, 6, 7, 8, 9, 10]
    # table 0: six members put 9 first; tables 1 and 2 put 9 near the bottom
    own = [tuple([9] + [s for s in rest_order if s != 9])] * 6
    others = [tuple(rest_order)] * 6
    groups = [aggregate_group(statements, group_discard=1, rankings=own),
              aggregate_group(statements, group_discard=1, rankings=others),
              aggregate_group(statements, group_discard=1, rankings=others)]
    tables = aggregate_room(statements, groups, [own, others, others], top_size=5).tables
    hits = [d for d in tables.distinctive if d.table == 0 and d.statement == 9]
    assert hits and hits[0].higher and hits[0].table_mean == 1
    assert 1 in tables.agree_bottom  # every table discarded it
    assert 2 in tables.agree_top


def test_small_tables_are_never_distinctive():
    statements = list(range(1, 6))
    two = [(1, 2, 3, 4), (1, 2, 3, 4)]
    many = [(4, 3, 2, 1)] * 8
    groups = [aggregate_group(statements, group_discard=5, rankings=two),
              aggregate_group(statements, group_discard=5, rankings=many)]
    tables = aggregate_room(statements, groups, [two, many], top_size=1).tables
    assert all(d.table != 0 for d in tables.distinctive)
    assert tables.to_dict()["distinctive_min"] == DISTINCTIVE_MIN
