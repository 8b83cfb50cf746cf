"""Hostile board events: whatever a phone sends, the ack is the protocol's shape, a refusal
changes nothing, and the board stays one order of its statements."""

from __future__ import annotations

import json

from driver import Room, call
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facilitator.services import services

ANYTHING = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=10,
)
CODES = {"bad_request", "bad_token", "not_a_statement", "board_locked", "board_moved",
         "not_table_mode", "rate_limited", "not_found"}


def test_hostile_moves_and_agreements_are_refused_or_applied_cleanly(app, socketio):
    room = Room(app, socketio)
    room.join("a", 1)
    room.join("b", 1)
    room.control("open_step", step="discard")
    for who in ("a", "b"):
        assert room.submit(who, "discard", 3)["ok"]
    room.control("close_step")
    room.control("open_step", step="rank", mode="table")
    store = services(app).store
    (session,) = store.sessions.values()
    board = session.table_board(1)
    statements = sorted(board.order)
    sock, token = room.phones["a"]
    guard = services(app).guard

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(event=st.sampled_from(["board_move", "board_agree", "board_withdraw"]),
           statement=st.one_of(st.sampled_from(statements), ANYTHING),
           to=st.one_of(st.integers(-2, 10), ANYTHING), version=st.one_of(
               st.integers(-1, 400), ANYTHING), move_id=st.one_of(st.text(max_size=70), ANYTHING),
           who=st.sampled_from([token, "nope", None, 7]))
    def hostile(event, statement, to, version, move_id, who):
        guard.buckets.clear()  # the throttle is tested elsewhere; here every payload counts
        before = (list(board.order), board.version, set(board.agreed), board.locked)
        dumped = store.dump()
        ack = call(sock, event, token=who, statement=statement, to=to, version=version,
                   id=move_id)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        json.dumps(ack)
        if not ack["ok"]:
            assert ack["error"]["code"] in CODES, ack
            assert (list(board.order), board.version, set(board.agreed), board.locked) == before
            assert store.dump() == dumped
        assert sorted(board.order) == statements
        if board.locked:
            room.control("lock_table", group=1, locked=False)

    hostile()
