"""The workshop's rules on the domain objects alone: no SQLite, no sockets, no Flask.

Each rule is a method of ``Session`` that checks the request, changes the session, bumps its
version once and returns a ``Change`` naming what the store must save.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from facilitator.decks import deck_from_text
from facilitator.workshop import INPUT_STEPS, Group, Session, WorkshopError

DECK = deck_from_text("Six", "\n".join(f"Statement {n}" for n in range(1, 7)), discard=1, top=3)
NO_DISCARD = deck_from_text("Four", "a\nb\nc\nd", discard=0, top=2)


def a_session(deck=DECK, groups=("A", "B"), members=(2, 2)) -> Session:
    """A session in the lobby with ``members[i]`` phones in group i + 1."""
    session = Session(1, "ABCDEFGH", "T", deck, "fac", "proj", "2026-01-01T00:00:00+00:00")
    session.groups = {i: Group(i, name) for i, name in enumerate(groups, start=1)}
    for number, count in enumerate(members, start=1):
        for _ in range(count):
            n = len(session.participants) + 1
            session.join(f"p{n}", number, f"t{n}")
    return session


def answer(session: Session, participant, step, value):
    """A phone's answer, accepted and applied as the store does after its commit."""
    accepted = session.accept_answer(participant, step, value)
    session.record_answer(participant, step, accepted, f"{step}-{participant.number}-{value}")
    return accepted


def votes(session: Session, *by_participant: int) -> None:
    """Open the discard step and let participant i + 1 vote ``by_participant[i]``."""
    session.open_step("discard")
    for number, statement in enumerate(by_participant, start=1):
        answer(session, session.participants[number], "discard", statement)


def refused(code: str, rule, *args):
    """Run a rule that must refuse with ``code``; return the session's state was untouched."""
    with pytest.raises(WorkshopError) as exc:
        rule(*args)
    assert exc.value.code == code
    return exc.value


def state(session: Session):
    return (session.step, session.open, session.revealed, session.closed, session.version,
            [(g.discard, g.discard_tied) for g in session.groups.values()],
            [(p.group, p.removed, dict(p.answers)) for p in session.participants.values()])


# -- the domain stands alone -------------------------------------------------------------------
def test_the_domain_imports_neither_sqlite_nor_flask_nor_sockets():
    code = ("import sys, facilitator.workshop; "
            "print(sorted(m for m in ('sqlite3', 'flask', 'flask_socketio', 'socketio', "
            "'eventlet') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- joining and removing ------------------------------------------------------------------------
def test_a_phone_without_a_group_joins_the_least_filled_group():
    session = a_session(members=(2, 1))
    change = session.join("Ann", None, "tok")
    assert change.joined.group == 2 and change.joined.name == "Ann"
    assert session.participants[change.joined.number] is change.joined


def test_participant_numbers_are_never_reused_after_a_removal():
    session = a_session(members=(1, 1))
    session.remove(2)
    assert session.join("late", 1, "t9").joined.number == 3


def test_a_closed_session_refuses_joins():
    session = a_session()
    session.close()
    refused("session_closed", session.join, "x", 1, "t")


@pytest.mark.parametrize("group, code", [(9, "not_found"), ("1", "bad_request"),
                                         (True, "bad_request"), (1.0, "bad_request")])
def test_joining_a_group_that_is_not_there_is_refused_and_changes_nothing(group, code):
    session = a_session()
    before = state(session)
    refused(code, session.join, "x", group, "t")
    assert state(session) == before


def test_removing_a_participant_takes_them_and_their_group_results_out():
    session = a_session()
    change = session.remove(3)
    assert session.participants[3].removed and change.removed == [session.participants[3]]
    assert change.stale_groups() == {2}
    assert [p.number for p in session.members(2)] == [4]


@pytest.mark.parametrize("number", [99, True, "1", None])
def test_removing_someone_who_is_not_there_is_refused(number):
    session = a_session()
    refused("not_found", session.remove, number)


def test_removing_someone_twice_is_refused():
    session = a_session()
    session.remove(1)
    refused("not_found", session.remove, 1)


# -- opening and closing steps -------------------------------------------------------------------
@pytest.mark.parametrize("step", INPUT_STEPS)
def test_opening_an_input_step_opens_it_and_hides_results(step):
    session = a_session()
    session.revealed = True
    session.open_step(step)
    assert (session.step, session.open, session.revealed) == (step, True, False)


@pytest.mark.parametrize("step", ["lobby", "similarities", "results"])
def test_opening_a_step_without_input_shows_the_results(step):
    session = a_session()
    session.open_step(step)
    assert (session.step, session.open, session.revealed) == (step, False, True)


def test_an_unknown_step_is_refused():
    session = a_session()
    refused("bad_request", session.open_step, "vote")


def test_a_deck_without_a_discard_has_no_discard_step():
    session = a_session(NO_DISCARD)
    refused("wrong_step", session.open_step, "discard")
    assert session.remaining(1) == NO_DISCARD.numbers


def test_closing_the_discard_step_decides_each_groups_plurality_discard():
    session = a_session()
    votes(session, 2, 2, 5, 5)
    change = session.close_step()
    assert not session.open
    assert session.groups[1].discard == 2 and session.groups[2].discard == 5
    assert change.groups == {1, 2}
    assert session.remaining(1) == (1, 3, 4, 5, 6)


def test_leaving_an_open_discard_step_decides_the_discards():
    session = a_session()
    votes(session, 4, 4, 1, 1)
    change = session.open_step("rank")
    assert [g.discard for g in session.groups.values()] == [4, 1]
    assert change.groups == {1, 2} and session.step == "rank" and session.open


def test_a_tied_discard_is_left_for_the_trainer_with_its_leaders():
    session = a_session()
    votes(session, 2, 3, 6, 6)
    session.close_step()
    assert session.groups[1].discard is None and session.groups[1].discard_tied == (2, 3)
    assert session.remaining(1) is None


def test_leaving_a_closed_discard_step_decides_nothing_again():
    session = a_session()
    votes(session, 2, 3, 6, 6)
    session.close_step()
    session.settle(1, 3)
    change = session.open_step("rank")
    assert change.groups == set() and session.groups[1].discard == 3


def test_closing_the_discard_step_twice_keeps_a_settled_discard():
    session = a_session()
    votes(session, 2, 3, 6, 6)
    session.close_step()
    session.settle(1, 2)
    change = session.close_step()
    assert change.groups == set() and session.groups[1].discard == 2


def test_a_new_discard_clears_the_rankings_made_against_the_old_one():
    session = a_session()
    votes(session, 2, 2, 5, 5)
    session.open_step("rank")
    answer(session, session.participants[1], "rank", [1, 3, 4, 5, 6])
    answer(session, session.participants[3], "rank", [1, 2, 3, 4, 6])
    session.open_step("discard")
    answer(session, session.participants[1], "discard", 6)
    answer(session, session.participants[2], "discard", 6)
    change = session.close_step()
    assert "rank" not in session.participants[1].answers
    assert session.participants[3].answers["rank"] == [1, 2, 3, 4, 6]  # group 2 kept its discard
    assert {p.number for p in change.cleared} == {1, 2}


def reranked_then_revoted_to_a_tie():
    """Group 1 discarded 2 and both members ranked; the re-vote ties on 2 and 3."""
    session = a_session()
    votes(session, 2, 2, 5, 5)
    session.open_step("top")
    answer(session, session.participants[1], "top", [1, 3, 4])
    session.open_step("rank")
    answer(session, session.participants[2], "rank", [1, 3, 4, 5, 6])
    votes(session, 2, 3, 5, 5)
    return session, session.close_step()


def test_a_tied_revote_keeps_the_tables_rankings_and_top_picks_until_it_is_settled():
    session, change = reranked_then_revoted_to_a_tie()
    assert session.groups[1].discard is None and session.groups[1].discard_tied == (2, 3)
    assert change.cleared == []
    assert session.participants[1].answers["top"] == [1, 3, 4]
    assert session.participants[2].answers["rank"] == [1, 3, 4, 5, 6]


def test_settling_a_tied_revote_on_the_same_statement_keeps_the_rankings():
    session, _ = reranked_then_revoted_to_a_tie()
    change = session.settle(1, 2)
    assert change.cleared == [] and session.groups[1].discard == 2
    assert session.participants[2].answers["rank"] == [1, 3, 4, 5, 6]


def test_settling_a_tied_revote_on_another_statement_clears_the_rankings():
    session, _ = reranked_then_revoted_to_a_tie()
    change = session.settle(1, 3)
    assert {p.number for p in change.cleared} == {1, 2}
    assert "top" not in session.participants[1].answers
    assert "rank" not in session.participants[2].answers


def test_a_tied_revote_decided_later_clears_only_if_the_discard_differs():
    for decided, kept in ((2, True), (3, False)):
        session, _ = reranked_then_revoted_to_a_tie()
        votes(session, decided, decided, 5, 5)
        change = session.close_step()
        assert ("rank" in session.participants[2].answers) is kept
        assert bool(change.cleared) is not kept


def test_a_closed_session_refuses_every_change_but_reveal_reset_and_close():
    session = a_session()
    session.close()
    for rule, args in ((session.open_step, ("rank",)), (session.close_step, ()),
                       (session.settle, (1, 2)), (session.join, ("x", 1, "t"))):
        refused("session_closed", rule, *args)
    session.reveal(True)
    session.close()
    assert session.revealed and session.closed


# -- settling a tie ------------------------------------------------------------------------------
def test_settling_a_tie_decides_the_discard_and_unblocks_the_group():
    session = a_session()
    votes(session, 2, 3, 6, 6)
    session.open_step("rank")
    refused("awaiting_discard", session.accept_answer, session.participants[1], "rank",
            [1, 3, 4, 5, 6])
    change = session.settle(1, 3)
    assert session.groups[1].discard == 3 and session.groups[1].discard_tied is None
    assert change.stale_groups() == {1}
    assert answer(session, session.participants[1], "rank", [1, 2, 4, 5, 6]) == [1, 2, 4, 5, 6]


@pytest.mark.parametrize("group, statement, code", [
    (1, 4, "not_found"), (1, 2.0, "not_found"), (1, True, "not_found"), (9, 2, "not_found"),
    (True, 2, "not_found"), (2, 6, "bad_request"),
])
def test_settling_refuses_anything_but_a_tied_statement_of_a_tied_group(group, statement, code):
    session = a_session()
    votes(session, 2, 3, 6, 6)
    session.close_step()
    before = state(session)
    refused(code, session.settle, group, statement)
    assert state(session) == before


# -- answers -------------------------------------------------------------------------------------
def test_an_answer_is_checked_without_changing_anything_until_it_is_recorded():
    session = a_session()
    session.open_step("discard")
    p = session.participants[1]
    before = state(session)
    assert session.accept_answer(p, "discard", 4) == 4
    assert state(session) == before
    session.record_answer(p, "discard", 4, "s1")
    assert p.answers == {"discard": 4} and "s1" in p.submission_ids
    assert session.version == before[4] + 1


def test_a_later_answer_replaces_the_earlier_one_for_the_same_step():
    session = a_session()
    session.open_step("discard")
    p = session.participants[1]
    answer(session, p, "discard", 4)
    answer(session, p, "discard", 5)
    assert p.answers == {"discard": 5}


@pytest.mark.parametrize("step, value, code", [
    ("rank", [1, 2, 3, 4, 5], "wrong_step"),
    ("vote", 1, "bad_request"),
    ("discard", 7, "invalid_answer"),
    ("discard", "1", "invalid_answer"),
])
def test_answers_that_break_the_rules_are_refused(step, value, code):
    session = a_session()
    session.open_step("discard")
    refused(code, session.accept_answer, session.participants[1], step, value)


def test_the_discarded_statement_cannot_be_ranked():
    session = a_session()
    votes(session, 2, 2, 5, 5)
    session.open_step("rank")
    error = refused("invalid_answer", session.accept_answer, session.participants[1], "rank",
                    [2, 1, 3, 4, 5])
    assert error.rule


def test_a_closed_step_refuses_answers():
    session = a_session()
    session.open_step("discard")
    session.close_step()
    refused("step_closed", session.accept_answer, session.participants[1], "discard", 1)


def test_a_removed_participant_cannot_answer():
    session = a_session()
    session.open_step("discard")
    session.remove(1)
    refused("bad_token", session.accept_answer, session.participants[1], "discard", 1)


def test_a_deck_without_a_discard_refuses_discard_votes():
    session = a_session(NO_DISCARD)
    session.open_step("rank")
    refused("wrong_step", session.accept_answer, session.participants[1], "discard", 1)
    assert answer(session, session.participants[1], "rank", [4, 3, 2, 1]) == [4, 3, 2, 1]


def test_a_top_pick_must_come_from_the_remaining_statements():
    session = a_session()
    votes(session, 2, 2, 5, 5)
    session.open_step("top")
    refused("invalid_answer", session.accept_answer, session.participants[1], "top", [2, 3, 4])
    assert answer(session, session.participants[1], "top", [6, 3, 4]) == [6, 3, 4]


# -- reveal, close, reset ------------------------------------------------------------------------
def test_closing_a_session_stops_the_step_and_keeps_the_results():
    session = a_session()
    votes(session, 2, 2, 5, 5)
    session.close()
    assert session.closed and not session.open
    assert session.participants[1].answers == {"discard": 2}


def test_a_reset_removes_everyone_and_every_answer_and_goes_back_to_the_lobby():
    session = a_session()
    votes(session, 2, 2, 5, 5)
    session.close_step()
    session.remove(4)
    session.close()
    change = session.reset()
    assert change.reset and [p.number for p in change.removed] == [1, 2, 3]
    assert all(p.removed and not p.answers and not p.submission_ids
               for p in session.participants.values())
    assert all(g.discard is None and g.discard_tied is None for g in session.groups.values())
    assert (session.step, session.open, session.revealed, session.closed) == (
        "lobby", False, False, False)
    assert change.stale_groups() == {1, 2}
    assert session.join("new", None, "t5").joined.number == 5


# -- every rule bumps the version once -----------------------------------------------------------
RULES = [
    ("join", lambda s: s.join("x", None, "t")),
    ("remove", lambda s: s.remove(1)),
    ("open_step", lambda s: s.open_step("rank")),
    ("close_step", lambda s: s.close_step()),
    ("reveal", lambda s: s.reveal(True)),
    ("settle", lambda s: s.settle(1, 3)),
    ("close", lambda s: s.close()),
    ("reset", lambda s: s.reset()),
]


@pytest.mark.parametrize("name, rule", RULES, ids=[name for name, _ in RULES])
def test_every_rule_bumps_the_version_exactly_once_and_says_what_changed(name, rule):
    session = a_session()
    votes(session, 2, 3, 6, 6)
    session.close_step()  # group 1 is tied on 2 and 3
    session.open_step("discard")
    version = session.version
    change = rule(session)
    assert session.version == version + 1
    assert change.session is session


# -- the projector's view -----------------------------------------------------------------------
def test_choosing_the_projectors_view_bumps_the_version_once_and_lasts_for_the_step():
    session = a_session(groups=("A", "B", "C"), members=(1, 1, 1))
    session.open_step("similarities")
    version = session.version
    change = session.show_on_projector("table", table=2)
    assert change.stale_groups() == set() and session.version == version + 1
    assert session.projector_view == {"view": "table", "table": 2}
    session.open_step("top")
    assert session.projector_view == {}
    session.show_on_projector("matrix")
    assert session.projector_view == {"view": "matrix", "page": 0}


def test_going_back_to_a_step_does_not_bring_back_an_old_projector_choice():
    session = a_session()
    session.open_step("similarities")
    session.show_on_projector("statement", statement=4)
    session.open_step("top")
    session.open_step("similarities")
    assert session.projector_view == {}
    session.show_on_projector("matrix")
    session.reset()
    assert session.projector_view == {}


def test_a_bad_projector_choice_changes_nothing():
    session = a_session()
    session.open_step("results")
    session.show_on_projector("table", table=1)
    before = (state(session), dict(session.projector_view))
    for bad in [{"view": "cinema"}, {"view": "table", "table": 9},
                {"view": "table", "table": True}, {"view": "statement", "statement": "4"},
                {"view": "matrix", "page": 1}, {"view": "top", "page": -1}]:
        refused("not_found" if bad["view"] in ("table", "statement") else "bad_request",
                lambda b=bad: session.show_on_projector(**b))
    assert (state(session), session.projector_view) == before
