"""Unit tests of the consensus core: answer rules, discard tally, Kemeny, W, group and room."""

import json
import math
import statistics

import pytest
from scipy.stats import chi2

from facilitator.consensus import (
    AnswerError,
    aggregate_group,
    aggregate_room,
    check_discard_vote,
    check_ranking,
    check_top,
    chi_square_sf,
    kemeny_distance,
    kemeny_order,
    kendall_w,
    tally_discard,
)

DECK = tuple(range(1, 11))
REMAINING = tuple(s for s in DECK if s != 3)  # the group discarded statement 3


def rule_of(call, *args):
    with pytest.raises(AnswerError) as caught:
        call(*args)
    return caught.value.rule


# --------------------------------------------------------------------------- answer rules


def test_a_discard_vote_is_one_statement_of_the_deck():
    assert check_discard_vote(DECK, 7) == 7


def test_a_discard_vote_for_a_statement_not_in_the_deck_is_refused_with_a_readable_message():
    with pytest.raises(AnswerError) as caught:
        check_discard_vote(DECK, 11)
    assert caught.value.rule == "not_a_statement"
    assert str(caught.value) == "Statement 11 is not in this deck."
    assert caught.value.message == "Statement 11 is not in this deck."


@pytest.mark.parametrize("vote", [True, False, 3.0, "3", None, [3]])
def test_a_discard_vote_must_be_a_whole_number_and_true_is_not_statement_one(vote):
    assert rule_of(check_discard_vote, DECK, vote) == "not_an_integer"


def test_a_complete_ranking_comes_back_as_a_tuple():
    ranking = [2, 8, 1, 10, 4, 9, 7, 6, 5]
    assert check_ranking(REMAINING, ranking, 3) == tuple(ranking)


def test_cannot_rank_the_discarded_statement():
    with pytest.raises(AnswerError) as caught:
        check_ranking(REMAINING, [3, 8, 1, 10, 4, 9, 7, 6, 5], 3)
    assert caught.value.rule == "discarded_statement"
    assert caught.value.statement == 3
    assert "Statement 3" in str(caught.value)


def test_cannot_rank_a_statement_twice():
    assert rule_of(check_ranking, REMAINING, [2, 2, 1, 10, 4, 9, 7, 6, 5], 3) == (
        "duplicate_statement"
    )


def test_cannot_rank_a_statement_outside_the_deck():
    assert rule_of(check_ranking, REMAINING, [11, 8, 1, 10, 4, 9, 7, 6, 5], 3) == "not_a_statement"


def test_a_short_ranking_names_the_missing_statements():
    with pytest.raises(AnswerError) as caught:
        check_ranking(REMAINING, [2, 8, 1, 10, 4, 9, 7], 3)
    assert caught.value.rule == "missing_statement"
    assert "5 and 6" in str(caught.value)


def test_a_ranking_with_an_extra_statement_has_the_wrong_length():
    assert rule_of(check_ranking, REMAINING, [2, 8, 1, 10, 4, 9, 7, 6, 5, 5, 5]) == "wrong_length"


def test_a_huge_ranking_is_refused_by_length_before_its_entries_are_looked_at():
    hostile = ["x"] * 1_000_000
    assert rule_of(check_ranking, REMAINING, hostile) == "wrong_length"
    assert rule_of(check_top, REMAINING, hostile, 5) == "wrong_length"


@pytest.mark.parametrize("answer", [None, 5, "2,8,1", {"1": 2}, b"\x01\x02"])
def test_a_ranking_must_be_a_list(answer):
    assert rule_of(check_ranking, REMAINING, answer) == "not_a_list"


@pytest.mark.parametrize("bad", [True, 2.0, "2", None, [2]])
def test_every_ranked_entry_must_be_a_whole_number(bad):
    assert rule_of(check_ranking, REMAINING, [bad, 8, 1, 10, 4, 9, 7, 6, 5]) == "not_an_integer"


def test_a_huge_statement_number_gives_a_short_message():
    with pytest.raises(AnswerError) as caught:
        check_discard_vote(DECK, 10**4000)
    assert len(str(caught.value)) < 80


def test_a_top_five_is_five_distinct_remaining_statements_in_order():
    assert check_top(REMAINING, [9, 1, 2, 4, 5], 5) == (9, 1, 2, 4, 5)


def test_a_top_five_with_four_or_six_statements_has_the_wrong_length():
    assert rule_of(check_top, REMAINING, [9, 1, 2, 4], 5) == "wrong_length"
    assert rule_of(check_top, REMAINING, [9, 1, 2, 4, 5, 6], 5) == "wrong_length"


def test_a_top_five_cannot_repeat_a_statement_or_include_the_discard():
    assert rule_of(check_top, REMAINING, [9, 1, 9, 4, 5], 5) == "duplicate_statement"
    assert rule_of(check_top, REMAINING, [9, 1, 3, 4, 5], 5, 3) == "discarded_statement"
    assert rule_of(check_top, REMAINING, [9, 1, 3, 4, 5], 5) == "not_a_statement"


# --------------------------------------------------------------------------- discard tally


def test_the_plurality_of_votes_decides_the_discard():
    tally = tally_discard(DECK, [3, 3, 7, 3, 1])
    assert tally.decided == 3
    assert not tally.tied
    assert tally.voters == 5
    assert tally.votes[3] == 3 and tally.votes[10] == 0
    assert list(tally.votes) == list(DECK)


def test_a_tied_discard_is_reported_as_a_tie_and_not_broken():
    tally = tally_discard(DECK, [3, 7, 7, 3])
    assert tally.tied
    assert tally.decided is None
    assert tally.leaders == (3, 7)


def test_a_group_without_votes_has_every_statement_as_leader():
    tally = tally_discard(DECK, [])
    assert tally.leaders == DECK
    assert tally.decided is None and tally.tied and tally.voters == 0


def test_a_vote_for_an_unknown_statement_cannot_be_tallied():
    assert rule_of(tally_discard, DECK, [3, 12]) == "not_a_statement"


# --------------------------------------------------------------------------- Kemeny and W


def test_identical_rankings_are_their_own_consensus():
    ranking = (5, 2, 4, 1, 3)
    assert kemeny_order(range(1, 6), [ranking] * 4) == ranking
    assert kemeny_distance(ranking, [ranking] * 4) == 0


def test_the_majority_order_wins_when_it_is_consistent():
    rankings = [(1, 2, 3), (1, 2, 3), (2, 1, 3), (1, 3, 2)]
    assert kemeny_order((1, 2, 3), rankings) == (1, 2, 3)
    assert kemeny_distance((1, 2, 3), rankings) == 2


def test_a_cycle_of_preferences_is_broken_by_statement_number_when_mean_ranks_tie():
    rankings = [(1, 2, 3), (2, 3, 1), (3, 1, 2)]
    assert kemeny_order((1, 2, 3), rankings) == (1, 2, 3)
    assert kemeny_order((3, 2, 1), rankings) == (1, 2, 3)


def test_equally_good_orders_are_settled_by_lower_mean_rank_first():
    # 2 above 1 in both rankings; (2,1,3), (2,3,1) and (3,2,1) all cost 2.
    # Mean ranks: 2 -> 1.5, 3 -> 2.0, 1 -> 2.5.
    assert kemeny_order((1, 2, 3), [(2, 1, 3), (3, 2, 1)]) == (2, 3, 1)


def test_without_rankings_the_kemeny_order_is_the_statements_ascending():
    assert kemeny_order((4, 2, 9), []) == (2, 4, 9)


def test_kemeny_refuses_a_ranking_of_other_statements():
    with pytest.raises(ValueError):
        kemeny_order((1, 2, 3), [(1, 2, 4)])


def test_identical_rankings_have_full_concordance():
    result = kendall_w(range(1, 10), [tuple(range(1, 10))] * 5)
    assert result.w == 1.0
    assert result.df == 8
    assert result.chi_square == pytest.approx(5 * 8)
    assert result.p_value == pytest.approx(chi2.sf(40, 8), rel=1e-9)


def test_two_opposite_rankings_have_no_concordance():
    result = kendall_w((1, 2, 3, 4), [(1, 2, 3, 4), (4, 3, 2, 1)])
    assert result.w == 0.0
    assert result.p_value == 1.0


def test_kendall_w_is_undefined_for_one_ranking_or_one_statement():
    assert kendall_w((1, 2, 3), [(1, 2, 3)]) is None
    assert kendall_w((1, 2, 3), []) is None
    assert kendall_w((1,), [(1,), (1,)]) is None


def test_kendall_w_matches_the_textbook_formula():
    rankings = [(1, 2, 3, 4), (2, 1, 3, 4), (1, 3, 2, 4), (4, 1, 2, 3)]
    m, n = 4, 4
    sums = [sum(r.index(s) + 1 for r in rankings) for s in (1, 2, 3, 4)]
    mean = sum(sums) / n
    s = sum((x - mean) ** 2 for x in sums)
    w = 12 * s / (m**2 * (n**3 - n))
    result = kendall_w((1, 2, 3, 4), rankings)
    assert result.w == pytest.approx(w)
    assert result.chi_square == pytest.approx(m * (n - 1) * w)
    assert result.p_value == pytest.approx(chi2.sf(m * (n - 1) * w, n - 1), rel=1e-9)


@pytest.mark.parametrize("df", [1, 2, 3, 5, 8, 9, 10, 11, 15, 30, 100])
def test_the_chi_square_tail_agrees_with_scipy(df):
    for x in [1e-8, 0.01, 0.5, 1, 2, 3.5, df - 1, df, df + 1, 2 * df, 10 * df, 50, 200, 700]:
        if x <= 0:
            continue
        expected = chi2.sf(x, df)
        got = chi_square_sf(x, df)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-300), (x, df)


def test_the_chi_square_tail_of_zero_is_one_and_of_infinity_is_zero():
    assert chi_square_sf(0.0, 8) == 1.0
    assert chi_square_sf(math.inf, 8) == 0.0
    with pytest.raises(ValueError):
        chi_square_sf(1.0, 0)


# --------------------------------------------------------------------------- one group

GROUP_RANKINGS = [
    (2, 8, 1, 10, 4, 9, 7, 6, 5),
    (2, 1, 8, 10, 9, 4, 6, 7, 5),
    (8, 2, 1, 4, 10, 9, 5, 7, 6),
    (1, 2, 8, 10, 4, 9, 7, 5, 6),
]
GROUP_TOPS = [(2, 8, 1, 10, 4), (2, 1, 8, 10, 9), (8, 2, 1, 4, 10)]


def group():
    return aggregate_group(
        DECK,
        discard_votes=[3, 3, 5, 3],
        group_discard=3,
        rankings=GROUP_RANKINGS,
        tops=GROUP_TOPS,
        top_size=5,
        participants=5,
    )


def positions_of(statement, rankings=GROUP_RANKINGS):
    return [r.index(statement) + 1 for r in rankings]


def test_a_group_result_counts_its_participants_rankings_and_discard():
    result = group()
    assert result.participants == 5
    assert result.rankings == 4
    assert result.group_discard == 3
    assert result.remaining == REMAINING
    assert result.discard.decided == 3
    assert result.statement(5).discard_votes == 1


def test_each_statement_has_mean_rank_spread_and_first_places():
    result = group()
    for statement in REMAINING:
        figures = result.statement(statement)
        positions = positions_of(statement)
        assert figures.mean_rank == pytest.approx(statistics.mean(positions))
        assert figures.rank_sd == pytest.approx(statistics.pstdev(positions))
        q1, _, q3 = statistics.quantiles(positions, n=4, method="inclusive")
        assert figures.rank_iqr == pytest.approx(q3 - q1)
        assert figures.first_places == positions.count(1)
        assert sum(figures.positions) == 4 and len(figures.positions) == 9


def test_the_discarded_statement_has_no_rank_figures():
    figures = group().statement(3)
    assert figures.mean_rank is None
    assert figures.rank_sd is None
    assert figures.consensus_position is None
    assert figures.agreement is None
    assert figures.discard_votes == 3
    assert figures.positions == (0,) * 9


def test_top_five_points_give_five_for_first_down_to_one_for_fifth():
    result = group()
    assert result.statement(2).top_points == 5 + 5 + 4
    assert result.statement(8).top_points == 4 + 3 + 5
    assert result.statement(9).top_points == 1
    assert result.statement(9).top_count == 1
    assert result.statement(7).top_count == 0


def test_the_top_order_ranks_by_points_then_picks_then_consensus():
    result = group()
    # points: 2 -> 14, 8 -> 12, 1 -> 10, 10 -> 5, 4 -> 3 (4 beats 9 on points: 1+2 vs 1).
    assert result.top_order == (2, 8, 1, 10, 4)


def test_the_consensus_order_is_an_optimal_kemeny_order_with_positions():
    result = group()
    assert result.consensus_order == kemeny_order(REMAINING, GROUP_RANKINGS)
    for place, statement in enumerate(result.consensus_order, start=1):
        assert result.statement(statement).consensus_position == place
    assert result.concordance.m == 4 and result.concordance.n == 9


def test_identical_rankings_make_every_statement_agreed():
    result = aggregate_group(DECK, group_discard=3, rankings=[GROUP_RANKINGS[0]] * 3)
    assert set(result.agreed) == set(REMAINING)
    assert result.contested == ()


def test_a_statement_placed_first_and_last_is_contested():
    rankings = [(2, 8, 1, 10, 4, 9, 7, 6, 5), (5, 8, 1, 10, 4, 9, 7, 6, 2)]
    result = aggregate_group(DECK, group_discard=3, rankings=rankings)
    assert result.statement(2).agreement == "contested"
    assert result.statement(8).agreement == "agreed"
    assert result.contested == (2, 5)
    assert result.agreed[0] == 8


def test_agreement_needs_two_rankings():
    result = aggregate_group(DECK, group_discard=3, rankings=GROUP_RANKINGS[:1])
    assert all(r.agreement is None for r in result.per_statement)
    assert result.concordance is None


def test_a_group_before_any_ranking_has_an_empty_consensus():
    result = aggregate_group(DECK, discard_votes=[3, 4])
    assert result.consensus_order == ()
    assert result.top_order == ()
    assert result.remaining == DECK
    assert result.discard.tied
    assert result.participants == 2


def test_a_deck_without_a_discard_step_has_no_tally():
    result = aggregate_group((1, 2, 3), rankings=[(1, 2, 3), (2, 1, 3)], has_discard=False)
    assert result.discard is None
    assert result.remaining == (1, 2, 3)


def test_a_malformed_ranking_is_refused_by_the_aggregate():
    with pytest.raises(ValueError):
        aggregate_group(DECK, group_discard=3, rankings=[(1, 2, 3)])
    with pytest.raises(ValueError):
        aggregate_group(DECK, group_discard=3, tops=[(3, 1, 2, 4, 5)])


def test_a_group_result_is_json_safe():
    data = json.loads(json.dumps(group().to_dict()))
    assert data["discard"]["votes"]["3"] == 3
    assert data["consensus_order"] == list(group().consensus_order)
    assert data["per_statement"][2]["mean_rank"] is None


# --------------------------------------------------------------------------- the room


def test_the_room_places_each_groups_discard_last_in_its_rankings():
    a = [(1, 2, 4), (2, 1, 4)]  # discarded 3
    b = [(3, 1, 2), (3, 2, 1)]  # discarded 4
    statements = (1, 2, 3, 4)
    ga = aggregate_group(statements, group_discard=3, rankings=a, tops=[(1, 2), (2, 1)], top_size=2)
    gb = aggregate_group(statements, group_discard=4, rankings=b, tops=[(3, 1), (3, 2)], top_size=2)
    room = aggregate_room(statements, [ga, gb], [a, b], top_size=2)
    extended = [(1, 2, 4, 3), (2, 1, 4, 3), (3, 1, 2, 4), (3, 2, 1, 4)]
    assert room.rankings == 4 and room.left_out == 0
    assert room.consensus_order == kemeny_order(statements, extended)
    assert room.concordance == kendall_w(statements, extended)
    assert room.groups_discarded == {1: 0, 2: 0, 3: 1, 4: 1}
    assert room.statement(3).mean_rank == pytest.approx((4 + 4 + 1 + 1) / 4)
    assert {r.statement: r.top_points for r in room.per_statement} == {1: 4, 2: 4, 3: 4, 4: 0}
    assert room.participants == 4
    json.dumps(room.to_dict())


def test_the_room_leaves_out_rankings_it_cannot_complete():
    statements = (1, 2, 3)
    undecided = aggregate_group(statements)
    room = aggregate_room(statements, [undecided], [[(1, 2)]], top_size=1)
    assert room.left_out == 1 and room.rankings == 0
    assert room.consensus_order == ()
