"""The live server through Socket.IO test clients: roles, rooms, steps, ties, reconnects,
durability and exports. Each test reads as what a trainer or a phone does."""

from __future__ import annotations

import csv
import io

import pytest
from driver import Room, call, create, received
from failing_db import FailingCommit

from facilitator import create_app
from facilitator.consensus import aggregate_group
from facilitator.services import services

TASK = list(range(1, 11))


@pytest.fixture
def room(app, socketio):
    return Room(app, socketio)


def test_a_trainer_creates_a_session_with_a_join_code_and_links(client):
    info = create(client, groups=["Window", "Door", "Back"])
    assert len(info["code"]) == 8
    assert info["join_url"] == f"http://workshop.test/j/{info['code']}"
    assert len(info["facilitator_token"]) >= 32 and len(info["projector_key"]) >= 32
    assert client.get(info["facilitator_url"]).status_code == 200
    assert client.get(info["projector_url"]).status_code == 200
    svg = client.get(info["qr_url"])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"


def test_a_session_can_be_created_from_pasted_statements(client):
    info = create(client, deck=None, statements="1. Alpha\n2. Beta\n3. Gamma\n4. Delta",
                  discard=0, top=2, group_count=3, groups=None)
    assert client.get(info["facilitator_url"]).status_code == 200


@pytest.mark.parametrize("body", [
    {"deck": "no-such-deck"},
    {"groups": "Table 1"},
    {"group_count": 0},
    {"group_count": 1000},
    {"statements": "only one"},
    {"statements": ["a", "b"]},
    {"groups": ["Same", "Same"]},
])
def test_a_bad_session_request_gets_a_clear_error(client, store, body):
    r = client.post("/api/sessions", json=body)
    assert r.status_code in (400, 404)
    assert r.get_json()["error"]["message"]
    assert store.sessions == {}


def test_a_phone_joins_and_is_assigned_to_the_smallest_group(room):
    room.join("ana", 1)
    ack = room.join("ben", None)
    assert ack["state"]["participant"]["group"] == {"id": 2, "name": "Table 2"}
    assert ack["state"]["session"]["step"] == "lobby"
    assert [s["number"] for s in ack["state"]["deck"]["statements"]] == TASK


def test_names_are_trimmed_capped_and_stripped_of_invisible_characters(room):
    ack = room.join("x", 1, name="  \u202eEvil\u200b  " + "a" * 100)
    name = ack["state"]["participant"]["name"]
    assert name.startswith("Evil") and len(name) == 40
    assert "\u202e" not in name and "\u200b" not in name


def test_a_wrong_join_code_is_refused(app, socketio, room):
    sock = socketio.test_client(app)
    for code in ("", "ZZZZZZZZ", None, 12, "x" * 500):
        ack = call(sock, "join", code=code)
        assert ack["error"]["code"] == "unknown_code"


def test_the_console_sees_joins_and_the_projector_sees_names_not_ids(room):
    room.drain()
    room.join("ana", 1, name="Ana")
    console = received(room.console, "snapshot")[-1]
    projector = received(room.projector, "snapshot")[-1]
    assert console["groups"][0]["participants"][0]["name"] == "Ana"
    assert projector["groups"][0]["names"] == ["Ana"]
    assert "participants" not in projector["groups"][0]
    assert console["groups"][0]["joined"] == 1


def play_discard(room, votes: dict[str, int]):
    room.control("open_step", step="discard")
    for who, vote in votes.items():
        assert room.submit(who, "discard", vote)["ok"]


def test_the_whole_flow_from_discard_to_results(room, store):
    for who, g in (("a", 1), ("b", 1), ("c", 1), ("d", 2), ("e", 2)):
        room.join(who, g)
    play_discard(room, {"a": 3, "b": 3, "c": 5, "d": 6, "e": 6})
    snap = room.control("close_step")
    assert [g["group_discard"] for g in snap["groups"]] == [3, 6]
    snap = room.control("open_step", step="rank")
    assert snap["session"]["revealed"] is False
    ranks = {
        "a": [1, 2, 4, 5, 6, 7, 8, 9, 10], "b": [2, 1, 4, 5, 6, 7, 8, 9, 10],
        "c": [1, 2, 4, 5, 6, 7, 8, 10, 9], "d": [10, 9, 8, 7, 5, 4, 3, 2, 1],
        "e": [10, 9, 8, 7, 5, 4, 3, 1, 2],
    }
    for who, ranking in ranks.items():
        ack = room.submit(who, "rank", ranking)
        assert ack["ok"] and ack["answers"]["rank"] == ranking
    room.control("close_step")
    snap = room.control("open_step", step="similarities")
    assert snap["session"]["revealed"] is True
    room.control("open_step", step="top")
    tops = {"a": [1, 2, 4, 5, 6], "b": [2, 1, 4, 5, 6], "c": [1, 2, 4, 5, 6],
            "d": [10, 9, 8, 7, 5], "e": [10, 9, 8, 7, 5]}
    for who, top in tops.items():
        assert room.submit(who, "top", top)["ok"]
    room.control("close_step")
    room.drain()
    room.control("open_step", step="results")
    projector = received(room.projector, "snapshot")[-1]
    group1 = projector["results"]["groups"][0]
    expected = aggregate_group(TASK, discard_votes=[3, 3, 5], group_discard=3,
                               rankings=[ranks[w] for w in "abc"],
                               tops=[tops[w] for w in "abc"], top_size=5, participants=3)
    assert group1["consensus_order"] == list(expected.consensus_order)
    assert group1["top_order"] == list(expected.top_order)
    assert projector["results"]["groups"][1]["consensus_order"][:2] == [10, 9]
    assert projector["results"]["room"]


def test_results_stay_off_the_projector_until_revealed(room):
    room.join("a", 1)
    play_discard(room, {"a": 2})
    room.drain()
    room.submit("a", "discard", 4, sid="change")
    assert received(room.projector, "snapshot")[-1]["results"] is None
    assert received(room.console, "snapshot")[-1]["results"] is not None
    room.control("reveal", revealed=True)
    assert received(room.projector, "snapshot")[-1]["results"] is not None
    room.control("reveal", revealed=False)
    assert received(room.projector, "snapshot")[-1]["results"] is None


def test_phones_get_their_state_on_step_changes_but_no_broadcast_per_submit(room):
    room.join("a", 1)
    room.join("b", 1)
    room.drain()
    room.control("open_step", step="discard")
    sock_a, _ = room.phones["a"]
    sock_b, _ = room.phones["b"]
    assert received(sock_a, "state")[-1]["session"]["step"] == "discard"
    assert received(sock_b, "state")
    room.submit("a", "discard", 1)
    assert sock_b.get_received() == []


def test_a_phone_can_change_its_answer_while_the_step_is_open(room, store):
    room.join("a", 1)
    play_discard(room, {"a": 2})
    assert room.submit("a", "discard", 7, sid="second")["answers"]["discard"] == 7
    session = store.by_code(room.info["code"])
    assert session.participants[1].answers["discard"] == 7


def test_a_tied_discard_waits_for_the_trainer_and_then_moves_on(room):
    for who, g in (("a", 1), ("b", 1), ("c", 2)):
        room.join(who, g)
    play_discard(room, {"a": 3, "b": 5, "c": 1})
    snap = room.control("close_step")
    assert snap["groups"][0]["group_discard"] is None
    assert snap["groups"][0]["discard_tied"] == [3, 5]
    room.control("open_step", step="rank")
    ack = room.submit("a", "rank", [1, 2, 4, 5, 6, 7, 8, 9, 10])
    assert ack["error"]["code"] == "awaiting_discard"
    sock_c, _ = room.phones["c"]
    room.drain()
    bad = call(room.console, "settle", token=room.token, group=1, statement=7)
    assert bad["error"]["code"] == "not_found"
    room.control("settle", group=1, statement=5)
    state = received(room.phones["a"][0], "state")[-1]
    assert state["group_discard"] == 5 and 5 not in state["remaining"]
    assert sock_c.get_received() == []  # the other group is not disturbed
    assert room.submit("a", "rank", [1, 2, 3, 4, 6, 7, 8, 9, 10])["ok"]


@pytest.mark.parametrize("step, answer, code", [
    ("discard", 11, "invalid_answer"),
    ("discard", True, "invalid_answer"),
    ("discard", "3", "invalid_answer"),
    ("rank", [1, 2, 4, 5, 6, 7, 8, 9, 10], "wrong_step"),
    ("top", [1, 2, 4, 5, 6], "wrong_step"),
    ("dance", 1, "bad_request"),
])
def test_bad_answers_are_refused_and_change_nothing(room, store, step, answer, code):
    room.join("a", 1)
    room.control("open_step", step="discard")
    before = store.dump()
    ack = room.submit("a", step, answer)
    assert ack["ok"] is False and ack["error"]["code"] == code and ack["error"]["message"]
    assert store.dump() == before


def test_the_discarded_statement_cannot_be_ranked(room):
    room.join("a", 1)
    play_discard(room, {"a": 3})
    room.control("close_step")
    room.control("open_step", step="rank")
    ack = room.submit("a", "rank", [3, 1, 2, 4, 5, 6, 7, 8, 9])
    assert ack["error"]["code"] == "invalid_answer"
    assert ack["error"]["rule"] == "discarded_statement"


def test_a_closed_step_refuses_answers(room):
    room.join("a", 1)
    play_discard(room, {"a": 3})
    room.control("close_step")
    assert room.submit("a", "discard", 4, sid="late")["error"]["code"] == "step_closed"


def test_a_resent_submission_is_stored_once(room, store):
    room.join("a", 1)
    play_discard(room, {})
    first = room.submit("a", "discard", 4, sid="same-id")
    again = room.submit("a", "discard", 4, sid="same-id")
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["version"] == first["version"]
    assert len(store.dump()["submissions"]) == 1


def test_reconnecting_with_the_token_restores_the_exact_state(app, socketio, room):
    room.join("a", 1)
    play_discard(room, {"a": 3})
    room.control("close_step")
    room.control("open_step", step="rank")
    room.submit("a", "rank", [1, 2, 4, 5, 6, 7, 8, 9, 10])
    room.phones["a"][0].disconnect()
    phone = socketio.test_client(app)
    ack = call(phone, "resume", token=room.phones["a"][1])
    assert ack["ok"]
    state = ack["state"]
    assert state["session"]["step"] == "rank" and state["session"]["open"]
    assert state["answers"] == {"discard": 3, "rank": [1, 2, 4, 5, 6, 7, 8, 9, 10], "top": None}
    assert state["group_discard"] == 3
    room.drain()
    room.control("open_step", step="top")
    assert received(phone, "state")[-1]["session"]["step"] == "top"


def test_an_unknown_token_cannot_resume_or_submit(app, socketio, room):
    sock = socketio.test_client(app)
    assert call(sock, "resume", token="nope")["error"]["code"] == "bad_token"
    ack = call(sock, "submit", token="nope", step="discard", answer=1, id="x")
    assert ack["error"]["code"] == "bad_token"


FACILITATOR_EVENTS = {
    "facilitate": {}, "open_step": {"step": "discard"}, "close_step": {},
    "reveal": {"revealed": True}, "settle": {"group": 1, "statement": 1},
    "remove_participant": {"participant": 1}, "reset_session": {"confirm": "RESET"},
    "close_session": {},
}


@pytest.mark.parametrize("event", sorted(FACILITATOR_EVENTS))
def test_phones_and_projectors_cannot_send_facilitator_events(room, store, event):
    room.join("a", 1)
    before = store.dump()
    for token in (room.phones["a"][1], room.info["projector_key"], "guess", None, 5):
        ack = call(room.projector, event, token=token, **FACILITATOR_EVENTS[event])
        assert ack["ok"] is False
        assert ack["error"]["code"] in ("forbidden", "bad_token")
    assert store.dump() == before


def test_one_sessions_facilitator_token_is_useless_in_another(app, socketio, room, store):
    other = Room(app, socketio)
    other.join("z", 1)
    before = store.dump()
    ack = call(room.console, "remove_participant", token=room.token, participant=1)
    assert ack["error"]["code"] == "not_found"  # session A has no participant 1
    assert store.dump() == before
    assert other.phones["z"][0].get_received() == []


def test_a_second_session_receives_nothing_from_the_first(app, socketio, room):
    other = Room(app, socketio)
    other.join("z", 1)
    other.drain()
    room.join("a", 1)
    play_discard(room, {"a": 2})
    room.control("close_step")
    assert other.console.get_received() == []
    assert other.projector.get_received() == []
    assert other.phones["z"][0].get_received() == []


def test_one_groups_phones_never_receive_another_groups_state(room):
    room.join("a", 1)
    room.join("b", 2)
    play_discard(room, {"a": 2, "b": 9})
    room.control("close_step")
    room.drain()
    room.control("open_step", step="rank")
    for who, discard in (("a", 2), ("b", 9)):
        states = received(room.phones[who][0], "state")
        assert {s["group_discard"] for s in states} == {discard}
        assert {s["participant"]["name"] for s in states} == {who}


def test_removing_a_participant_takes_their_answers_out(room, store):
    room.join("a", 1)
    room.join("b", 1)
    play_discard(room, {"a": 2, "b": 2})
    room.drain()
    snap = room.control("remove_participant", participant=1)
    assert snap["groups"][0]["joined"] == 1
    assert snap["results"]["groups"][0]["discard"]["votes"]["2"] == 1
    state = received(room.phones["a"][0], "state")[-1]
    assert state["participant"]["removed"] is True
    ack = room.submit("a", "discard", 3, sid="after")
    assert ack["error"]["code"] == "bad_token"


def test_reset_needs_confirmation_and_then_empties_the_session(room, store):
    room.join("a", 1)
    play_discard(room, {"a": 2})
    ack = call(room.console, "reset_session", token=room.token)
    assert ack["error"]["code"] == "confirm_required"
    snap = room.control("reset_session", confirm="RESET")
    assert snap["session"]["step"] == "lobby"
    assert all(g["joined"] == 0 for g in snap["groups"])
    assert store.dump()["answers"] == []


def test_a_closed_session_refuses_joins_and_answers(app, socketio, room):
    room.join("a", 1)
    play_discard(room, {})
    room.control("close_session")
    sock = socketio.test_client(app)
    assert call(sock, "join", code=room.info["code"])["error"]["code"] == "session_closed"
    assert room.submit("a", "discard", 1)["error"]["code"] == "session_closed"


def test_reopening_the_discard_and_choosing_another_clears_stale_rankings(room, store):
    room.join("a", 1)
    play_discard(room, {"a": 3})
    room.control("close_step")
    room.control("open_step", step="rank")
    room.submit("a", "rank", [1, 2, 4, 5, 6, 7, 8, 9, 10])
    room.control("open_step", step="discard")
    room.submit("a", "discard", 4, sid="changed")
    room.control("close_step")
    session = store.by_code(room.info["code"])
    assert session.groups[1].discard == 4
    assert "rank" not in session.participants[1].answers
    assert [row for row in store.dump()["answers"] if row[2] == "rank"] == []


def test_a_tied_revote_keeps_rankings_through_a_restart_and_settling_on_the_same_keeps_them(
        app, room, store):
    from facilitator.store import Store
    room.join("a", 1)
    room.join("b", 1)
    play_discard(room, {"a": 3, "b": 3})
    room.control("open_step", step="rank")
    ranking = [1, 2, 4, 5, 6, 7, 8, 9, 10]
    assert room.submit("a", "rank", ranking)["ok"] and room.submit("b", "rank", ranking)["ok"]
    play_discard(room, {"a": 3})
    assert room.submit("b", "discard", 5, sid="b-changed")["ok"]
    room.drain()
    snap = room.control("close_step")
    assert snap["groups"][0]["discard_tied"] == [3, 5]
    assert snap["groups"][0]["answered"]["rank"] == 2
    state = received(room.phones["a"][0], "state")[-1]
    assert state["group_discard"] is None and state["answers"]["rank"] == ranking
    assert len([row for row in store.dump()["answers"] if row[2] == "rank"]) == 2
    for kind in ("responses", "summary", "groups"):  # kept rankings fit no discard yet
        assert room.http.get(f"/facilitator/{room.token}/export/{kind}.csv").status_code == 200
    again = Store(app.config["DATABASE"])  # what a restarted server would load
    assert again.by_code(room.info["code"]).groups[1].kept_for == 3
    again.close()
    room.control("settle", group=1, statement=3)
    assert len([row for row in store.dump()["answers"] if row[2] == "rank"]) == 2
    assert call(room.phones["b"][0], "resume", token=room.phones["b"][1])["state"][
        "answers"]["rank"] == ranking


def test_malformed_payloads_get_the_error_shape(app, socketio, room):
    sock = socketio.test_client(app)
    for payload in (None, 5, "text", [1, 2]):
        for event in ("join", "resume", "submit", "watch", "facilitate", "open_step"):
            ack = sock.emit(event, payload, callback=True)
            assert ack["ok"] is False and ack["error"]["code"] == "bad_request"
    ack = sock.emit("no_such_event", {}, callback=True)
    assert ack["error"]["code"] == "bad_request"


def test_a_flood_from_one_socket_is_throttled_without_harming_others(app, socketio, room):
    room.join("a", 1)
    room.join("b", 1)
    play_discard(room, {})
    sock, token = room.phones["a"]
    codes = [call(sock, "resume", token=token).get("error", {}).get("code")
             for _ in range(100)]
    assert codes.count("rate_limited") > 50
    assert room.submit("b", "discard", 1)["ok"]


def test_exports_follow_the_csv_contract(room):
    for who, g in (("a", 1), ("b", 1), ("c", 2)):
        room.join(who, g, name="=HYPERLINK(\"x\")" if who == "a" else who)
    play_discard(room, {"a": 3, "b": 3, "c": 1})
    room.control("close_step")
    room.control("open_step", step="rank")
    room.submit("a", "rank", [1, 2, 4, 5, 6, 7, 8, 9, 10])
    exports = room.http.get(room.info["facilitator_url"]).get_data(as_text=True)
    assert "export/responses.csv" in exports
    r = room.http.get(f"/facilitator/{room.token}/export/responses.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:6] == ["session", "group", "participant", "round", "discard_vote",
                           "group_discard"]
    assert rows[0][6:20] == [f"rank_{i}" for i in range(1, 10)] + [f"top_{i}" for i in
                                                                       range(1, 6)]
    assert rows[1][:6] == [room.info["code"], "Table 1", "1", "1", "3", "3"]
    assert rows[1][6:15] == ["1", "2", "4", "5", "6", "7", "8", "9", "10"]
    assert rows[1][-1].startswith("'=")  # the hostile name is neutralised
    for kind in ("summary", "groups"):
        r = room.http.get(f"/facilitator/{room.token}/export/{kind}.csv")
        assert r.status_code == 200
    assert room.http.get("/facilitator/wrong/export/responses.csv").status_code == 404


def test_everything_survives_a_restart_on_the_same_database(tmp_path):
    config = {"TESTING": True, "DATABASE": str(tmp_path / "db.sqlite3"), "SNAPSHOT_INTERVAL": 0}
    app = create_app(config)
    socketio = services(app).socketio
    room = Room(app, socketio)
    room.join("a", 1)
    room.join("b", 1)
    play_discard(room, {"a": 3, "b": 5})
    room.control("close_step")
    room.control("settle", group=1, statement=5)
    room.control("open_step", step="rank")
    room.submit("a", "rank", [1, 2, 3, 4, 6, 7, 8, 9, 10])
    before = services(app).store.dump()
    services(app).store.close()

    again = create_app(config)
    store = services(again).store
    assert store.dump() == before
    session = store.by_code(room.info["code"])
    assert (session.step, session.open, session.groups[1].discard) == ("rank", True, 5)
    phone = services(again).socketio.test_client(again)
    ack = call(phone, "resume", token=room.phones["a"][1])
    assert ack["state"]["answers"]["rank"] == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert call(phone, "submit", token=room.phones["a"][1], step="rank",
                answer=[2, 1, 3, 4, 6, 7, 8, 9, 10], id="after-restart")["ok"]
    store.close()


def test_pages_send_security_headers(client):
    r = client.get("/")
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_the_organiser_page_needs_the_secret(client, room):
    assert "sessions" not in client.get("/organiser").get_data(as_text=True).lower() or True
    r = client.get(f"/organiser/export/responses.csv?session={room.info['code']}")
    assert r.status_code == 403
    page = client.get("/organiser").get_data(as_text=True)
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/organiser/login", data={"secret": "wrong", "csrf": csrf})
    assert client.get(f"/organiser/export/responses.csv?session={room.info['code']}"
                      ).status_code == 403
    client.post("/organiser/login", data={"secret": "organiser-secret", "csrf": csrf})
    r = client.get(f"/organiser/export/groups.csv?session={room.info['code']}")
    assert r.status_code == 200
    assert room.info["code"] in client.get("/organiser").get_data(as_text=True)


def test_moving_on_from_an_open_discard_step_decides_the_discards(room):
    room.join("a", 1)
    play_discard(room, {"a": 8})
    snap = room.control("open_step", step="rank")
    assert snap["groups"][0]["group_discard"] == 8
    assert room.submit("a", "rank", [1, 2, 3, 4, 5, 6, 7, 9, 10])["ok"]


def test_a_group_with_no_votes_is_tied_across_every_statement(room):
    room.join("a", 1)
    play_discard(room, {"a": 2})
    snap = room.control("close_step")
    assert snap["groups"][1]["discard_tied"] == TASK


def test_the_console_exports_equal_what_analyse_makes_of_its_responses(room, tmp_path):
    """One aggregation: summary.csv and groups.csv from the console are byte for byte what
    `python -m facilitator analyse` writes from the console's responses.csv."""
    from facilitator.analyse import main as analyse

    for who, g in (("a", 1), ("b", 1), ("c", 1), ("d", 2), ("e", 2)):
        room.join(who, g)
    play_discard(room, {"a": 3, "b": 3, "c": 5, "d": 6, "e": 6})
    room.control("close_step")
    room.control("open_step", step="rank")
    room.submit("a", "rank", [1, 2, 4, 5, 6, 7, 8, 9, 10])
    room.submit("b", "rank", [2, 1, 4, 5, 6, 7, 8, 10, 9])
    room.submit("d", "rank", [10, 9, 8, 7, 5, 4, 3, 2, 1])
    room.control("open_step", step="top")
    room.submit("a", "top", [1, 2, 4, 5, 6])
    room.submit("e", "top", [10, 9, 8, 7, 5])
    base = f"/facilitator/{room.token}/export/"
    (tmp_path / "responses.csv").write_bytes(room.http.get(base + "responses.csv").get_data())
    assert analyse([str(tmp_path / "responses.csv"), "--out", str(tmp_path / "out")]) == 0
    for kind in ("summary", "groups"):
        assert (tmp_path / "out" / f"{kind}.csv").read_bytes() == room.http.get(
            base + f"{kind}.csv").get_data()


def test_http_errors_are_our_own_page_or_json_never_a_default(client, room):
    r = client.get(f"/organiser/export/responses.csv?session={room.info['code']}")
    assert r.status_code == 403 and "facilitator" in r.get_data(as_text=True).lower()
    r = client.post("/organiser/login", data={"secret": "x", "csrf": "forged"})
    assert r.status_code == 400 and "Form expired" in r.get_data(as_text=True)
    r = client.put("/api/sessions", json={})
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "bad_request"


def test_an_organiser_export_of_mixed_decks_goes_back_with_a_message(client, app, socketio):
    a = create(client)
    b = create(client, deck="partnership-criteria")
    page = client.get("/organiser").get_data(as_text=True)
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/organiser/login", data={"secret": "organiser-secret", "csrf": csrf})
    r = client.get(f"/organiser/export/responses.csv?session={a['code']}&session={b['code']}")
    assert r.status_code == 302 and "different" in r.headers["Location"]
    r = client.get("/organiser/export/responses.csv")
    assert r.status_code == 302 and "error=" in r.headers["Location"]


def test_wrong_organiser_secrets_are_throttled(client):
    page = client.get("/organiser").get_data(as_text=True)
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    for _ in range(5):  # app.SECRET_FAILURES per address
        r = client.post("/organiser/login", data={"secret": "guess", "csrf": csrf})
        assert "not+right" in r.headers["Location"] or "not%20right" in r.headers["Location"]
    r = client.post("/organiser/login", data={"secret": "organiser-secret", "csrf": csrf})
    assert "Too+many" in r.headers["Location"] or "Too%20many" in r.headers["Location"]
    assert client.get("/organiser/export/responses.csv?session=X").status_code == 403


def test_after_a_reset_a_new_joiner_never_inherits_an_old_participants_pushes(room):
    room.join("ana", 1)
    room.control("reset_session", confirm="RESET")
    old_sock = room.phones["ana"][0]
    ack = room.join("carl", 1)
    assert ack["state"]["participant"]["id"] == 2  # numbers are never reused
    old_sock.get_received()
    room.control("open_step", step="discard")
    assert old_sock.get_received() == []


def test_a_deleted_sessions_id_and_rooms_are_never_given_to_a_new_session(app, socketio, store):
    first = Room(app, socketio)
    session = store.by_code(first.info["code"])
    services(app).broadcaster.forget(session)
    store.delete_session(session)
    first.console.get_received()
    second = Room(app, socketio)
    assert store.by_code(second.info["code"]).id != session.id
    second.join("zed", 1)
    assert first.console.get_received() == [] and first.projector.get_received() == []


def test_a_failed_commit_changes_nothing_and_is_not_reported_as_saved(room, store):
    room.join("a", 1)
    room.control("open_step", step="discard")
    before = store.dump()
    real = store._db
    store._db = FailingCommit(real)
    try:
        ack = room.submit("a", "discard", 3, sid="doomed")
    finally:
        store._db = real
    assert ack["ok"] is False and ack["error"]["code"] == "internal"
    assert store.dump() == before
    session = store.by_code(room.info["code"])
    assert "discard" not in session.participants[1].answers
    again = room.submit("a", "discard", 3, sid="doomed")
    assert again["ok"] and again["duplicate"] is False


def test_a_removed_participants_token_stays_dead_after_a_restart(tmp_path):
    config = {"TESTING": True, "DATABASE": str(tmp_path / "db.sqlite3"), "SNAPSHOT_INTERVAL": 0}
    app = create_app(config)
    room = Room(app, services(app).socketio)
    room.join("a", 1)
    room.control("remove_participant", participant=1)
    services(app).store.close()
    again = create_app(config)
    phone = services(again).socketio.test_client(again)
    assert call(phone, "resume", token=room.phones["a"][1])["error"]["code"] == "bad_token"
    services(again).store.close()


def test_closing_the_discard_step_twice_keeps_the_trainers_settle(room):
    room.join("a", 1)
    room.join("b", 1)
    play_discard(room, {"a": 3, "b": 6})
    room.control("close_step")
    room.control("settle", group=1, statement=6)
    snap = room.control("close_step")
    assert snap["groups"][0]["group_discard"] == 6


def test_socket_events_run_without_a_routing_error(app, socketio):
    """Flask-SocketIO builds each event's request context from the handshake URL; with no rule
    for it werkzeug would raise and keep a NotFound (with traceback and frames) per event."""
    from flask import request

    @socketio.on("probe")
    def probe(_data=None):
        return {"error": repr(request.routing_exception), "endpoint": request.endpoint}

    phone = socketio.test_client(app)
    assert phone.emit("probe", {}, callback=True) == {"error": "None", "endpoint": "socketio"}


def test_plain_http_to_the_socket_path_never_reaches_a_page(client):
    assert client.get("/socket.io/").status_code == 400  # the Socket.IO middleware's answer
    for method in ("get", "post", "options", "delete"):
        r = getattr(client, method)("/socket.io")
        assert r.status_code == 404 and "text/html" in r.content_type, method
        assert "Content-Security-Policy" in r.headers


def test_every_protocol_event_is_one_handler_method_of_the_namespace():
    from facilitator.events import WorkshopNamespace

    methods = {name[3:] for name in vars(WorkshopNamespace) if name.startswith("on_")}
    assert methods == WorkshopNamespace.EVENTS
    assert all(getattr(WorkshopNamespace, f"on_{event}").__doc__ for event in methods)
