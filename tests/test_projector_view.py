"""The trainer chooses what the projector shows; phones get their table's similarities."""

from __future__ import annotations

import sqlite3

from driver import Room, call, received

from facilitator import create_app
from facilitator.services import services


def play_to_similarities(room: Room) -> None:
    """Three tables of three: table 1 puts 9 first, tables 2 and 3 put it last; all discard 10."""
    people = [("a", 1), ("b", 1), ("c", 1), ("d", 2), ("e", 2), ("f", 2), ("g", 3), ("h", 3),
              ("i", 3)]
    for who, group in people:
        room.join(who, group)
    room.control("open_step", step="discard")
    for who in "abcdefghi":
        assert room.submit(who, "discard", 10)["ok"]
    room.control("close_step")
    room.control("open_step", step="rank")
    for who in "abc":
        assert room.submit(who, "rank", [9, 1, 2, 3, 4, 5, 6, 7, 8])["ok"]
    for who in "defghi":
        assert room.submit(who, "rank", [1, 2, 3, 4, 5, 6, 7, 8, 9])["ok"]
    room.control("close_step")
    room.control("open_step", step="similarities")


def test_the_projector_shows_the_steps_view_until_the_trainer_chooses(app, socketio):
    room = Room(app, socketio, groups=["Table 1", "Table 2", "Table 3"])
    play_to_similarities(room)
    room.projector.get_received()
    snap = room.control("show_on_projector", view="statement", statement=9)
    assert snap["projector_view"] == {"view": "statement", "statement": 9}
    assert received(room.projector, "snapshot")[-1]["projector_view"]["statement"] == 9
    # a new step brings back the step's own view
    snap = room.control("open_step", step="top")
    assert snap["projector_view"] == {"view": "step"}


def test_a_bad_projector_choice_is_refused_and_changes_nothing(app, socketio):
    room = Room(app, socketio)
    room.control("show_on_projector", view="matrix")
    for bad in [{"view": "cinema"}, {"view": "table", "table": 99},
                {"view": "statement", "statement": "9"}, {"view": "matrix", "page": 1}]:
        ack = call(room.console, "show_on_projector", token=room.token, **bad)
        assert not ack["ok"] and ack["error"]["message"]
    assert room.control("show_on_projector", view="matrix")["projector_view"] == {
        "view": "matrix", "page": 0}
    # only the console may choose
    ack = call(room.projector, "show_on_projector", token=room.info["projector_key"],
               view="step")
    assert ack["error"]["code"] == "forbidden"


def test_each_phone_gets_its_tables_similarities_and_where_it_stands_apart(app, socketio):
    room = Room(app, socketio, groups=["Table 1", "Table 2", "Table 3"])
    play_to_similarities(room)
    sock, _ = room.phones["a"]
    state = received(sock, "state")[-1]
    similar = state["similarities"]
    assert similar["consensus_order"][0] == 9
    assert 9 in similar["agreed"]
    assert similar["tables"] == 3
    assert 10 in similar["agree_bottom"]
    apart = [d for d in similar["apart"] if d["statement"] == 9]
    assert apart and apart[0]["higher"]
    # the projector's room result carries the same comparison
    results = room.control("show_on_projector", view="matrix")["results"]
    tables = results["room"]["tables"]
    assert tables["compared"] == [0, 1, 2]
    assert any(d["table"] == 0 and d["statement"] == 9 for d in tables["distinctive"])


def test_tables_beyond_the_eighth_are_on_a_second_page(app, socketio):
    room = Room(app, socketio, groups=[f"Table {t}" for t in range(1, 11)])
    assert room.control("show_on_projector", view="step", page=1)["projector_view"] == {
        "view": "step", "page": 1}
    ack = call(room.console, "show_on_projector", token=room.token, view="matrix", page=2)
    assert ack["error"]["code"] == "bad_request"


def test_what_changed_is_paged_like_the_matrix(app, socketio):
    room = Room(app, socketio, groups=[f"Table {t}" for t in range(1, 11)])
    assert room.control("show_on_projector", view="changes", page=1)["projector_view"] == {
        "view": "changes", "page": 1}
    assert room.control("show_on_projector", view="changes")["projector_view"] == {
        "view": "changes", "page": 0}
    ack = call(room.console, "show_on_projector", token=room.token, view="changes", page=2)
    assert ack["error"]["code"] == "bad_request"


def test_an_old_choice_does_not_come_back_when_the_trainer_returns_to_its_step(app, socketio):
    room = Room(app, socketio, groups=["Table 1", "Table 2", "Table 3"])
    play_to_similarities(room)
    before = room.control("show_on_projector", view="statement", statement=9)
    room.control("open_step", step="top")
    snap = room.control("open_step", step="similarities")
    assert snap["projector_view"] == {"view": "step"}
    # the choice is a rule like the others: one version for it, saved with the session
    snap = room.control("show_on_projector", view="matrix")
    assert snap["version"] == before["version"] + 3


def test_phones_similarities_follow_a_removal_made_while_the_tables_discuss(app, socketio):
    room = Room(app, socketio, groups=["Table 1", "Table 2", "Table 3"])
    play_to_similarities(room)
    sock, _ = room.phones["a"]
    assert received(sock, "state")[-1]["similarities"]["tables"] == 3
    for number in (4, 5, 6):  # d, e and f: table 2 no longer has a consensus
        room.control("remove_participant", participant=number)
    similar = received(sock, "state")[-1]["similarities"]
    assert similar["tables"] == 2


def test_the_projectors_choice_survives_a_restart_and_an_old_database_loads(tmp_path):
    """The trainer's choice is saved with the session: after a restart the projector still
    shows it. A database from before the choice was saved loads with the step's own view."""
    config = {"TESTING": True, "DATABASE": str(tmp_path / "db.sqlite3"), "SNAPSHOT_INTERVAL": 0}
    app = create_app(config)
    room = Room(app, services(app).socketio, groups=["Table 1", "Table 2", "Table 3"])
    play_to_similarities(room)
    room.control("show_on_projector", view="table", table=2)
    services(app).store.close()

    again = create_app(config)
    projector = services(again).socketio.test_client(again)
    ack = call(projector, "watch", projector=room.info["projector_key"])
    assert ack["snapshot"]["projector_view"] == {"view": "table", "table": 2}
    services(again).store.close()

    with sqlite3.connect(config["DATABASE"]) as db:
        db.execute("ALTER TABLE sessions DROP COLUMN projector_view")
    old = create_app(config)
    projector = services(old).socketio.test_client(old)
    ack = call(projector, "watch", projector=room.info["projector_key"])
    assert ack["snapshot"]["projector_view"] == {"view": "step"}
    assert ack["snapshot"]["session"]["step"] == "similarities"
    services(old).store.close()
