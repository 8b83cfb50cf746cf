"""Rounds and table boards as workshop rules, on the domain objects alone (no SQLite or sockets)."""

from __future__ import annotations

import pytest
from test_workshop import a_session, answer, refused, votes

from facilitator.consensus import kemeny_order
from facilitator.export import session_rows, session_tables
from facilitator.workshop import WorkshopError


def decided(members=(3, 1)):
    """Both tables discard statement 6 (votes 6, 6, 1 and 6)."""
    session = a_session(members=members)
    votes(session, 6, 6, 1, 6)
    session.close_step()
    assert [g.discard for g in session.groups.values()] == [6, 6]
    return session


def rank_all(session, rankings):
    session.open_step("rank")
    for number, ranking in rankings.items():
        answer(session, session.participants[number], "rank", ranking)


def test_a_new_round_keeps_the_last_answers_read_only_and_opens_rank_for_everyone():
    session = decided()
    rank_all(session, {1: [1, 2, 3, 4, 5], 2: [2, 1, 3, 4, 5]})
    session.open_step("top")
    answer(session, session.participants[1], "top", [1, 2, 3])
    version = session.version
    change = session.new_round()
    assert (session.round, session.step, session.open, session.mode) == (2, "rank", True,
                                                                          "individual")
    assert session.version == version + 1
    p1, p2, p3 = (session.participants[n] for n in (1, 2, 3))
    assert p1.history == {1: {"rank": [1, 2, 3, 4, 5], "top": [1, 2, 3]}}
    assert p2.history == {1: {"rank": [2, 1, 3, 4, 5]}}
    assert p3.history == {} and change.archived == [p1, p2]
    assert "rank" not in p1.answers and p1.answers["discard"] == 6
    assert session.previous_answer(p1, "rank") == [1, 2, 3, 4, 5]
    answer(session, p1, "rank", [5, 4, 3, 2, 1])
    assert p1.history[1]["rank"] == [1, 2, 3, 4, 5]  # round 1 stays as it was
    rows = {(r.participant, r.round): r for r in session_rows(session)}
    assert rows[("1", 1)].ranking == (1, 2, 3, 4, 5) and rows[("1", 2)].ranking == (5, 4, 3, 2, 1)
    assert rows[("1", 2)].discard_vote == 6 and ("3", 1) not in rows and ("3", 2) in rows


def test_a_table_board_starts_from_the_tables_consensus_of_the_last_individual_round():
    session = decided()
    rankings = {1: [1, 2, 3, 4, 5], 2: [2, 1, 3, 4, 5], 3: [1, 3, 2, 5, 4]}
    rank_all(session, rankings)
    session.new_round()
    change = session.open_step("rank", "table")
    assert change.boards == {(2, "rank", 1), (2, "rank", 2)}
    board = session.table_board(1)
    assert board.order == list(kemeny_order([1, 2, 3, 4, 5], list(rankings.values())))
    assert session.table_board(2).order != []  # table 2 never ranked: shuffled
    assert sorted(session.table_board(2).order) == [1, 2, 3, 4, 5]


def test_a_member_cannot_answer_alone_while_the_table_builds_one_answer():
    session = decided()
    session.open_step("rank", "table")
    refused("table_mode", answer, session, session.participants[1], "rank", [1, 2, 3, 4, 5])


def test_moves_agreements_and_the_lock_through_the_session():
    session = decided()
    session.open_step("rank", "table")
    p1, p2, p3 = (session.participants[n] for n in (1, 2, 3))
    board = session.table_board(1)
    change = session.board_move(p1, board.order[0], 4, 0, "m1")
    assert change.moves == [((1, "rank", 1), "m1")] and board.version == 1
    assert session.board_move(p1, board.order[0], 4, 0, "m1").moves == []  # resent
    session.board_agree(p1, 1, {1, 2, 3})
    session.board_agree(p2, 2, {1, 2, 3})
    session.board_move(p3, board.order[1], 0, 3, "m2")
    assert board.agreed == set()
    for p in (p1, p2, p3):
        session.board_agree(p, board.version, {1, 2, 3})
    assert board.locked and board.members == 3
    refused("board_locked", session.board_move, p1, board.order[0], 1, board.version, "m3")
    session.lock_table(1, False, {1, 2, 3})
    assert not board.locked
    session.lock_table(1, True, {1, 2})
    assert board.locked and board.members == 2
    (row,) = [r for r in session_tables(session) if r.group == "A"]
    assert row.ranking == tuple(board.order) and row.locked and row.members == 2


def test_a_move_on_the_other_tables_board_is_impossible():
    session = decided()
    session.open_step("rank", "table")
    p4 = session.participants[4]
    statement = session.table_board(2).order[0]
    session.board_move(p4, statement, 3, 0, "x")
    assert session.table_board(1).version == 0 and session.table_board(2).version == 1


@pytest.mark.parametrize("mode", ["group", None, 1])
def test_a_step_opens_alone_or_as_a_table_only(mode):
    session = decided()
    refused("bad_request", session.open_step, "rank", mode)
    refused("bad_request", session.open_step, "results", "table")


def test_no_board_moves_outside_table_mode():
    session = decided()
    session.open_step("rank")
    refused("not_table_mode", session.board_move, session.participants[1], 1, 0, 0, "m")
    with pytest.raises(WorkshopError):
        session.lock_table(1, True, set())


def test_a_discard_board_decides_the_tables_discard_when_the_step_closes():
    session = a_session()
    session.open_step("discard", "table")
    board = session.table_board(1)
    session.board_move(session.participants[1], 2, 5, 0, "d1")
    assert board.answer() == 2
    session.close_step()
    assert session.groups[1].discard == 2
    assert session.groups[2].discard == session.boards[(1, "discard", 2)].order[-1]


def test_reset_clears_rounds_and_boards():
    session = decided()
    session.open_step("rank", "table")
    session.new_round()
    session.reset()
    assert (session.round, session.mode, session.boards) == (1, "individual", {})


def test_a_top_board_starts_from_the_tables_top_picks_and_exports_its_first_m():
    session = decided()
    session.open_step("top")
    for number, picks in {1: [5, 4, 3], 2: [5, 3, 1], 3: [5, 4, 2]}.items():
        answer(session, session.participants[number], "top", picks)
    session.open_step("top", "table")
    board = session.table_board(1)
    assert board.order[:2] == [5, 4] and sorted(board.order) == [1, 2, 3, 4, 5]
    session.board_move(session.participants[2], 1, 0, 0, "t1")
    assert board.answer() == [1, 5, 4]
    (row,) = [r for r in session_tables(session) if r.group == "A"]
    assert row.top == (1, 5, 4) and row.ranking is None and not row.locked


def test_the_discard_cannot_be_voted_again_once_a_second_round_has_started():
    """Every round ranks what the first round's discard left: a new discard would not fit the
    earlier rounds' rankings, which are kept, exported and compared (it made every later
    export and the console fail). Refused, as a table too, and nothing changes."""
    session = decided()
    rank_all(session, {1: [1, 2, 3, 4, 5], 2: [2, 1, 3, 4, 5]})
    session.new_round()
    version = session.version
    for mode in ("individual", "table"):
        with pytest.raises(WorkshopError) as error:
            session.open_step("discard", mode)
        assert error.value.code == "wrong_step" and "second round" in error.value.message
    assert (session.version, session.step, session.round) == (version, "rank", 2)
    assert [g.discard for g in session.groups.values()] == [6, 6]
