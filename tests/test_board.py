"""The table board's rules (facilitator/board.py), against a plain reference model."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facilitator.board import BoardError, new_board

STATEMENTS = [1, 2, 4, 5, 6, 7, 8, 9, 10]


def board(step="rank", start=STATEMENTS):
    return new_board(step, STATEMENTS, 5, start=start)


def test_a_board_starts_from_the_previous_consensus_or_shuffled():
    assert board(start=[10, 9, 8, 7, 6, 5, 4, 2, 1]).order == [10, 9, 8, 7, 6, 5, 4, 2, 1]
    shuffled = {
        tuple(new_board("rank", STATEMENTS, 5, rng=random.Random(i)).order) for i in range(20)
    }
    assert len(shuffled) > 10 and all(sorted(o) == STATEMENTS for o in shuffled)
    with pytest.raises(ValueError):
        new_board("rank", STATEMENTS, 5, start=[1, 2, 3])


def test_each_step_reads_its_answer_from_the_order():
    assert board("rank").answer() == STATEMENTS
    assert board("top").answer() == STATEMENTS[:5]
    assert board("discard").answer() == 10


def test_a_move_puts_the_statement_at_its_place_and_bumps_the_version():
    b = board()
    assert b.move(10, 0, 0, "m1")
    assert b.order[:3] == [10, 1, 2] and b.version == 1


def test_a_resent_move_is_not_applied_twice():
    b = board()
    assert b.move(1, 3, 0, "m1")
    order = list(b.order)
    assert not b.move(1, 0, 0, "m1")
    assert b.order == order and b.version == 1


def test_a_move_made_on_an_older_version_is_still_applied():
    b = board()
    b.move(1, 8, 0, "a")
    b.move(2, 8, 0, "b")  # made on version 0 by another phone
    assert b.order[-2:] == [1, 2] and b.version == 2


@pytest.mark.parametrize(
    ("statement", "to", "base", "move_id", "code"),
    [
        (3, 0, 0, "x", "not_a_statement"),
        (1, 9, 0, "x", "bad_request"),
        (1, -1, 0, "x", "bad_request"),
        (1, True, 0, "x", "bad_request"),
        (1, 0, 5, "x", "bad_request"),
        (1, 0, 0, "", "bad_request"),
        (1, 0, 0, "x" * 65, "bad_request"),
        ("1", 0, 0, "x", "not_a_statement"),
    ],
)
def test_a_bad_move_is_refused_and_changes_nothing(statement, to, base, move_id, code):
    b = board()
    with pytest.raises(BoardError) as caught:
        b.move(statement, to, base, move_id)
    assert caught.value.code == code
    assert b.order == STATEMENTS and b.version == 0 and not b.move_ids


def test_any_move_clears_every_agreement():
    b = board()
    b.agree(1, 0, {1, 2, 3})
    b.agree(2, 1, {1, 2, 3})
    assert b.agreed == {1, 2}
    b.move(4, 0, b.version, "m")
    assert b.agreed == set() and not b.locked


def test_agreeing_with_an_old_version_is_refused():
    b = board()
    b.move(4, 0, 0, "m")
    with pytest.raises(BoardError) as caught:
        b.agree(1, 0, {1})
    assert caught.value.code == "board_moved" and b.agreed == set()


def test_the_board_locks_when_every_connected_member_agrees():
    b = board()
    for member in (1, 2, 3):
        assert not b.locked
        b.agree(member, b.version, {1, 2, 3})
    assert b.locked and b.members == 3
    with pytest.raises(BoardError):
        b.move(1, 2, b.version, "late")
    with pytest.raises(BoardError):
        b.agree(4, b.version, {1, 2, 3, 4})


def test_a_member_who_leaves_no_longer_holds_the_lock_back():
    b = board()
    b.agree(1, 0, {1, 2})
    assert not b.check_lock({1, 2})
    assert b.check_lock({1}) and b.members == 1


def test_withdrawing_an_agreement():
    b = board()
    b.agree(1, 0, {1, 2})
    b.withdraw(1)
    assert b.agreed == set() and b.version == 2
    b.withdraw(1)
    assert b.version == 2


def test_the_trainer_locks_and_unlocks_a_table():
    b = board()
    b.agree(1, 0, {1, 2, 3})
    b.lock({1, 2, 3})
    assert b.locked and b.members == 3 and b.agreed == {1}
    b.unlock()
    assert not b.locked and b.agreed == set()
    assert b.move(1, 1, b.version, "after")


@st.composite
def concurrent_moves(draw):
    """Moves from 5 phones, each made on the version its phone had seen, some resent."""
    moves = []
    for k in range(draw(st.integers(1, 60))):
        phone = draw(st.integers(0, 4))
        moves.append((phone, draw(st.sampled_from(STATEMENTS)), draw(st.integers(0, 8)), k))
        if draw(st.integers(0, 9)) == 0:
            moves.append(moves[draw(st.integers(0, len(moves) - 1))])  # a resend
    return moves


@given(concurrent_moves())
@settings(max_examples=200, deadline=None)
def test_concurrent_moves_are_each_applied_once_in_server_order(moves):
    b = board()
    reference = list(STATEMENTS)
    applied = set()
    seen = [0] * 5  # the version each phone last saw
    for phone, statement, to, k in moves:
        fresh = b.move(statement, to, seen[phone], f"p{phone}-{k}")
        assert fresh == (k not in applied)
        if fresh:
            applied.add(k)
            reference.remove(statement)
            reference.insert(to, statement)
        seen[phone] = b.version
    assert b.order == reference
    assert b.version == len(applied)
    assert sorted(b.order) == STATEMENTS
