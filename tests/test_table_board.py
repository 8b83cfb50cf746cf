"""The table board and rounds over the protocol: several phones at once, what each room hears,
durability across a restart, and the CSV files they give."""

from __future__ import annotations

import csv
import io

from driver import Room, call, received

from facilitator import create_app
from facilitator.analyse import main as analyse


def a_room(app, socketio, members=4):
    """Table 1 with ``members`` phones (a…), table 2 with one (z); both discard statement 3."""
    room = Room(app, socketio)
    phones = [chr(ord("a") + i) for i in range(members)]
    for who in phones:
        room.join(who, 1)
    room.join("z", 2)
    room.control("open_step", step="discard")
    for who in [*phones, "z"]:
        assert room.submit(who, "discard", 3)["ok"]
    room.control("close_step")
    return room, phones


def move(room, who, statement, to, version, move_id):
    sock, token = room.phones[who]
    return call(sock, "board_move", token=token, statement=statement, to=to, version=version,
                id=move_id)


def agree(room, who, version):
    sock, token = room.phones[who]
    return call(sock, "board_agree", token=token, version=version)


def boards(room, who):
    return received(room.phones[who][0], "board")


def test_every_phone_at_the_table_sees_each_move_and_the_other_table_nothing(app, socketio):
    room, phones = a_room(app, socketio)
    room.control("open_step", step="rank", mode="table")
    room.drain()
    state = call(room.phones["a"][0], "resume", token=room.phones["a"][1])["state"]
    board = state["board"]
    assert board["step"] == "rank" and board["version"] == 0 and len(board["order"]) == 9
    ack = move(room, "a", board["order"][-1], 0, 0, "a1")
    assert ack["ok"] and not ack["duplicate"] and ack["board"]["version"] == 1
    for who in phones:
        (push,) = boards(room, who)
        assert push["moves"] == ["a1"] and push["order"] == ack["board"]["order"]
        assert push["connected"] == 4
    assert boards(room, "z") == []
    again = move(room, "a", board["order"][-1], 0, 0, "a1")
    assert again["ok"] and again["duplicate"] and again["board"]["version"] == 1
    assert all(boards(room, who) == [] for who in phones)


def test_a_move_clears_agreements_and_all_agreeing_locks_the_table(app, socketio):
    room, phones = a_room(app, socketio)
    room.control("open_step", step="rank", mode="table")
    assert agree(room, "a", 0)["board"]["agreed"] == [1]
    b = agree(room, "b", 1)["board"]
    assert b["agreed"] == [1, 2] and not b["locked"]
    b = move(room, "c", b["order"][2], 0, b["version"], "c1")["board"]
    assert b["agreed"] == []
    stale = agree(room, "a", b["version"] - 1)
    assert stale["error"]["code"] == "board_moved"
    for who in phones:
        b = agree(room, who, b["version"])["board"]
    assert b["locked"] and b["members"] == 4
    refused = move(room, "a", b["order"][0], 3, b["version"], "late")
    assert refused["error"]["code"] == "board_locked"
    snapshot = room.control("lock_table", group=1, locked=False)
    assert snapshot["groups"][0]["board"]["locked"] is False
    assert boards(room, "d")[-1]["locked"] is False
    snapshot = room.control("lock_table", group=1, locked=True)
    assert snapshot["groups"][0]["board"]["locked"] and snapshot["groups"][0]["board"][
        "members"] == 4


def test_two_members_agreeing_at_once_are_both_counted(app, socketio):
    """Everyone taps "We agree" at about the same time, each on the version they saw: another's
    agreement changes no order, so neither is refused; a move in between still refuses it."""
    room, phones = a_room(app, socketio, members=3)
    room.control("open_step", step="rank", mode="table")
    assert agree(room, "a", 0)["ok"]
    b = agree(room, "b", 0)  # b tapped on the same board, before a's push arrived
    assert b["ok"] and b["board"]["agreed"] == [1, 2], b
    again = agree(room, "b", 0)  # a resent agreement changes nothing
    assert again["ok"] and again["board"]["version"] == b["board"]["version"]
    moved = move(room, "c", b["board"]["order"][2], 0, b["board"]["version"], "c1")["board"]
    assert agree(room, "a", b["board"]["version"])["error"]["code"] == "board_moved"
    for who in phones:
        last = agree(room, who, moved["version"])
    assert last["board"]["locked"] and last["board"]["members"] == 3


def test_removing_the_one_who_had_not_agreed_locks_the_table_and_their_phone_hears_no_more(
        app, socketio):
    room, phones = a_room(app, socketio, members=3)
    room.control("open_step", step="rank", mode="table")
    agree(room, "a", 0)
    agree(room, "b", 1)
    room.drain()
    snap = room.control("remove_participant", participant=3)  # c never agreed
    board = snap["groups"][0]["board"]
    assert board["locked"] and board["members"] == 2 and board["agreed"] == [1, 2]
    assert boards(room, "a")[-1]["locked"]
    room.control("lock_table", group=1, locked=False)
    room.drain()
    move(room, "a", board["order"][0], 1, board["version"] + 1, "m1")
    assert boards(room, "b") and boards(room, "c") == []  # removed: not in the table's room


def test_a_removed_members_agreement_leaves_with_them(app, socketio):
    room, _ = a_room(app, socketio, members=3)
    room.control("open_step", step="rank", mode="table")
    agree(room, "a", 0)
    snap = room.control("remove_participant", participant=1)
    assert snap["groups"][0]["board"]["agreed"] == []
    snap = room.control("lock_table", group=1, locked=True)
    board = snap["groups"][0]["board"]
    assert board["agreed"] == [] and board["members"] == 2


def test_a_closed_sessions_tables_cannot_be_locked_or_unlocked(app, socketio):
    room, _ = a_room(app, socketio, members=2)
    room.control("open_step", step="rank", mode="table")
    room.control("close_session")
    sock, token = room.console, room.token
    ack = call(sock, "lock_table", token=token, group=1, locked=True)
    assert ack["error"]["code"] == "session_closed"


def test_a_member_who_leaves_lets_the_others_lock(app, socketio):
    room, phones = a_room(app, socketio, members=3)
    room.control("open_step", step="rank", mode="table")
    agree(room, "a", 0)
    agree(room, "b", 1)
    room.phones["c"][0].disconnect()
    socketio.sleep(0.2)
    state = call(room.phones["a"][0], "resume", token=room.phones["a"][1])["state"]
    assert state["board"]["locked"] and state["board"]["members"] == 2


def test_a_failed_lock_commit_after_a_disconnect_still_lets_the_socket_leave(app, socketio,
                                                                              monkeypatch):
    """The last agreement completed by a member leaving is committed from the disconnect
    handler; if that commit fails, the error is logged and the socket still leaves its rooms
    (python-socketio skips the room clean-up when the handler raises)."""
    from facilitator.services import services

    room, phones = a_room(app, socketio, members=3)
    room.control("open_step", step="rank", mode="table")
    agree(room, "a", 0)
    agree(room, "b", 1)
    leaving = room.phones["c"][0]
    sid = socketio.server.manager.sid_from_eio_sid(leaving.eio_sid, "/")
    assert sid is not None

    def failing_commit(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services(app).store, "board", failing_commit)
    leaving.disconnect()
    socketio.sleep(0.2)
    manager = socketio.server.manager
    assert not any(sid in members for rooms in manager.rooms.values()
                   for members in rooms.values())


def test_bad_board_events_are_refused_and_change_nothing(app, socketio):
    room, _ = a_room(app, socketio)
    assert move(room, "a", 1, 0, 0, "x")["error"]["code"] == "not_table_mode"
    room.control("open_step", step="rank", mode="table")
    for statement, to, version, move_id, code in [
        (3, 0, 0, "x", "not_a_statement"), (1, 99, 0, "x", "bad_request"),
        (1, 0, 7, "x", "bad_request"), (1, 0, 0, None, "bad_request"),
    ]:
        assert move(room, "a", statement, to, version, move_id)["error"]["code"] == code
    sock = room.phones["a"][0]
    assert call(sock, "board_move", token="nope", statement=1, to=0, version=0,
                id="y")["error"]["code"] == "bad_token"
    ack = call(room.console, "lock_table", token=room.token, group=9, locked=True)
    assert ack["error"]["code"] == "not_found"
    state = call(sock, "resume", token=room.phones["a"][1])["state"]
    assert state["board"]["version"] == 0


def test_boards_agreements_and_locks_survive_a_restart(tmp_path):
    config = {"TESTING": True, "DATABASE": str(tmp_path / "db.sqlite3"), "SNAPSHOT_INTERVAL": 0}
    app = create_app(config)
    socketio = app.extensions["facilitator"].socketio
    room, phones = a_room(app, socketio)
    room.control("open_step", step="rank", mode="table")
    b = move(room, "a", 5, 0, 0, "a1")["board"]
    b = agree(room, "b", b["version"])["board"]
    room.control("lock_table", group=2, locked=True)
    token = room.phones["a"][1]
    app2 = create_app(config)
    sock = app2.extensions["facilitator"].socketio.test_client(app2)
    state = call(sock, "resume", token=token)["state"]
    assert state["board"]["order"] == b["order"] and state["board"]["agreed"] == [2]
    assert state["board"]["version"] == b["version"]
    again = call(sock, "board_move", token=token, statement=5, to=0, version=0, id="a1")
    assert again["duplicate"]  # the move id was saved with it
    store = app2.extensions["facilitator"].store
    (session,) = store.sessions.values()
    assert session.table_board(2).locked


def test_a_second_round_and_the_table_answer_in_the_exports_and_analyse(app, socketio, tmp_path):
    room, phones = a_room(app, socketio)
    room.control("open_step", step="rank")
    first = {"a": [1, 2, 4, 5, 6, 7, 8, 9, 10], "b": [2, 1, 4, 5, 6, 7, 8, 9, 10],
             "c": [1, 2, 4, 5, 6, 7, 8, 10, 9], "d": [10, 9, 8, 7, 6, 5, 4, 2, 1]}
    for who, ranking in first.items():
        assert room.submit(who, "rank", ranking)["ok"]
    snapshot = room.control("new_round")
    assert snapshot["session"]["round"] == 2 and snapshot["session"]["step"] == "rank"
    state = call(room.phones["d"][0], "resume", token=room.phones["d"][1])["state"]
    assert state["start_order"] == first["d"] and state["previous"]["rank"] == first["d"]
    assert room.submit("d", "rank", [1, 2, 4, 5, 6, 7, 8, 9, 10], sid="d-r2")["ok"]
    room.control("open_step", step="rank", mode="table")
    b = call(room.phones["a"][0], "resume", token=room.phones["a"][1])["state"]["board"]
    for who in phones:
        b = agree(room, who, b["version"])["board"]
    assert b["locked"]
    snapshot = room.control("facilitate")
    (change,) = snapshot["results"]["changes"]["tables"]
    assert change["name"] == "Table 1" and change["answer"] == b["order"]
    assert change["moved"]["distances"] == [36]  # only d ranked again: reversed
    assert change["to_answer"]["people"] == 4
    base = f"/facilitator/{room.token}/export/"
    files = {kind: room.http.get(base + f"{kind}.csv").get_data()
             for kind in ("responses", "tables", "summary", "groups", "changes")}
    responses = list(csv.DictReader(io.StringIO(files["responses"].decode("utf-8-sig"))))
    assert [(r["participant"], r["round"]) for r in responses if r["group"] == "Table 1"] == [
        ("1", "1"), ("1", "2"), ("2", "1"), ("2", "2"), ("3", "1"), ("3", "2"), ("4", "1"),
        ("4", "2")]
    tables = list(csv.DictReader(io.StringIO(files["tables"].decode("utf-8-sig"))))
    assert [(t["group"], t["round"], t["locked"], t["agreed_by"], t["members"]) for t in
            tables] == [("Table 1", "2", "1", "4", "4"), ("Table 2", "2", "0", "0", "0")]
    for kind in ("responses", "tables"):
        (tmp_path / f"{kind}.csv").write_bytes(files[kind])
    out = tmp_path / "out"
    assert analyse([str(tmp_path / "responses.csv"), "--tables", str(tmp_path / "tables.csv"),
                    "--out", str(out)]) == 0
    for kind in ("summary", "groups", "changes", "tables"):
        assert (out / f"{kind}.csv").read_bytes() == files[kind], kind


def test_phones_and_projectors_cannot_start_rounds_or_lock_tables(app, socketio, store):
    room, _ = a_room(app, socketio)
    room.control("open_step", step="rank", mode="table")
    before = store.dump()
    for event, data in (("new_round", {}), ("lock_table", {"group": 1, "locked": True})):
        for token in (room.phones["a"][1], room.info["projector_key"], "guess"):
            ack = call(room.projector, event, token=token, **data)
            assert ack["error"]["code"] in ("forbidden", "bad_token"), ack
    assert store.dump() == before
