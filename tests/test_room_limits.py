"""A participant cap per session (MAX_PARTICIPANTS) and a console switch that locks joins
(issue 14: 5,011 joins to one session were accepted)."""

from __future__ import annotations

from driver import Room, call

from facilitator import create_app
from facilitator.services import services


def make(tmp_path, **config):
    return create_app({"TESTING": True, "DATABASE": str(tmp_path / "r.sqlite3"),
                       "SNAPSHOT_INTERVAL": 0, "ORGANISER_SECRET": "s", **config})


def test_a_session_takes_at_most_max_participants(tmp_path):
    app = make(tmp_path, MAX_PARTICIPANTS=3)
    socketio = services(app).socketio
    try:
        room = Room(app, socketio)
        for who in ("a", "b", "c"):
            room.join(who, 1)
        before = services(app).store.dump()
        extra = socketio.test_client(app)
        ack = call(extra, "join", code=room.info["code"], name="d", group=1)
        assert ack["ok"] is False and ack["error"]["code"] == "session_full"
        assert services(app).store.dump() == before
        # those in carry on, and a removed participant frees a place
        assert call(room.phones["a"][0], "resume", token=room.phones["a"][1])["ok"]
        room.control("remove_participant", participant=2)
        assert call(extra, "join", code=room.info["code"], name="d", group=1)["ok"]
    finally:
        services(app).store.close()


def test_the_console_locks_and_unlocks_joins(app, socketio):
    room = Room(app, socketio)
    room.join("a", 1)
    snap = room.control("lock_joins", locked=True)
    assert snap["session"]["joins_locked"] is True
    late = socketio.test_client(app)
    ack = call(late, "join", code=room.info["code"], name="late", group=1)
    assert ack["error"]["code"] == "joins_locked"
    assert call(room.phones["a"][0], "resume", token=room.phones["a"][1])["ok"]
    room.control("open_step", step="discard")
    assert room.submit("a", "discard", 3)["ok"]
    assert room.control("lock_joins", locked=False)["session"]["joins_locked"] is False
    assert call(late, "join", code=room.info["code"], name="late", group=1)["ok"]


def test_only_the_console_can_lock_joins_and_the_lock_survives_a_restart(tmp_path):
    app = make(tmp_path)
    socketio = services(app).socketio
    room = Room(app, socketio)
    room.join("a", 1)
    for token in (room.phones["a"][1], room.info["projector_key"], "guess"):
        ack = call(room.phones["a"][0], "lock_joins", token=token, locked=True)
        assert ack["ok"] is False and ack["error"]["code"] in ("forbidden", "bad_token")
    bad = call(room.console, "lock_joins", token=room.token, locked="yes")
    assert bad["error"]["code"] == "bad_request"
    room.control("lock_joins", locked=True)
    services(app).store.close()
    again = make(tmp_path)
    try:
        phone = services(again).socketio.test_client(again)
        ack = call(phone, "join", code=room.info["code"], name="b", group=1)
        assert ack["error"]["code"] == "joins_locked"
    finally:
        services(again).store.close()
