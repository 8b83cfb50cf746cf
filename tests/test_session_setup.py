"""A trainer's new session (issue 12, item 7, and the shuffled starting order of item 6): a top
that leaves a choice, table counts that agree with the names, the deck's instructions on the
phones and the projector, and each participant's own starting order."""

from __future__ import annotations

import csv
import io
from collections import Counter

import pytest

from facilitator.decks import deck_from_text, load_decks
from facilitator.session_setup import check_table_count, leave_a_choice
from facilitator.start_order import start_order
from facilitator.workshop import Participant, Session, WorkshopError

SIX = "\n".join(f"Statement {c}" for c in "ABCDEF")


def post(client, **body):
    return client.post("/api/sessions", json=body)


# -- a top that leaves a choice --------------------------------------------------------------
def test_a_chosen_top_as_large_as_what_is_left_is_refused_with_the_numbers():
    deck = deck_from_text("Six", SIX, discard=1, top=5)
    with pytest.raises(WorkshopError) as caught:
        leave_a_choice(deck, top_given=True)
    message = str(caught.value)
    assert "6 statements with one discarded leave 5" in message
    assert "top 5 would leave nothing to choose" in message and "4 or fewer" in message


def test_a_default_top_that_leaves_no_choice_is_lowered_to_the_largest_real_choice():
    deck = leave_a_choice(deck_from_text("Six", SIX, discard=1), top_given=False)
    assert deck.top == 4


def test_a_top_smaller_than_what_is_left_is_kept():
    deck = deck_from_text("Six", SIX, discard=0, top=5)
    assert leave_a_choice(deck, top_given=True) is deck
    assert leave_a_choice(load_decks()["task-5-1"], top_given=True).top == 5


def test_the_landing_page_request_for_six_statements_and_a_top_five_is_refused(client, store):
    before = store.dump()
    r = post(client, deck=None, statements=SIX, discard=1, top=5, group_count=2)
    assert r.status_code == 400
    assert "nothing to choose" in r.get_json()["error"]["message"]
    assert store.dump() == before


def test_an_api_request_without_a_top_gets_one_that_leaves_a_choice(client, store):
    r = post(client, deck=None, statements=SIX, discard=1, group_count=2)
    assert r.status_code == 201
    assert store.by_code(r.get_json()["code"]).deck.top == 4


# -- tables ------------------------------------------------------------------------------------
def test_a_table_count_that_disagrees_with_the_names_is_refused(client, store):
    before = store.dump()
    r = post(client, deck="task-5-1", group_count=4, groups=["Window", "Door"])
    assert r.status_code == 400
    assert r.get_json()["error"]["message"].startswith("You asked for 4 tables but named 2.")
    assert store.dump() == before


@pytest.mark.parametrize("names, count", [
    (["Window", "Door"], 2), (["Window", "Door"], None), (None, 3), ([], 3),
])
def test_names_and_counts_that_agree_or_come_alone_are_accepted(client, names, count):
    check_table_count(names, count)
    body = {"deck": "task-5-1"}
    if names is not None:
        body["groups"] = names
    if count is not None:
        body["group_count"] = count
    assert post(client, **body).status_code == 201


# -- instructions --------------------------------------------------------------------------------
def test_the_decks_instructions_reach_the_phone_lobby_and_the_projector_lobby(app, socketio,
                                                                              client):
    info = post(client, deck="task-5-1", groups=["Window"]).get_json()
    phone = socketio.test_client(app)
    ack = phone.emit("join", {"code": info["code"], "name": "Kim", "group": 1}, callback=True)
    instructions = load_decks()["task-5-1"].instructions
    assert "Rank the remaining nine statements" in instructions
    assert ack["state"]["deck"]["instructions"] == instructions
    projector = socketio.test_client(app)
    ack = projector.emit("watch", {"projector": info["projector_key"]}, callback=True)
    assert ack["snapshot"]["deck"]["instructions"] == instructions
    page = client.get(f"/j/{info['code']}").get_data(as_text=True)
    assert "/js/phone.js" in page


# -- each participant's starting order -------------------------------------------------------
def session(shuffle: bool = True, code: str = "K7QX9MBR") -> Session:
    s = Session(1, code, "T", load_decks()["task-5-1"], "f", "p", "now", shuffle=shuffle)
    from facilitator.workshop import Group

    s.groups = {1: Group(1, "Window", discard=10)}
    s.participants = {n: Participant(n, 1, f"P{n}", f"t{n}") for n in range(1, 31)}
    return s


def test_each_participant_starts_from_their_own_shuffle_of_what_is_left():
    s = session()
    orders = [start_order(s, p) for p in s.participants.values()]
    for order in orders:
        assert sorted(order) == list(range(1, 10))  # statement 10 was discarded
    assert len({tuple(o) for o in orders}) == len(orders)
    # statement 1 is no longer on top of everyone's list
    assert Counter(o[0] for o in orders)[1] < len(orders) / 3


def test_the_starting_order_is_the_same_on_every_load():
    first = session()
    again = session()  # the same session loaded afresh (a reload, a restart)
    for n in first.participants:
        assert (start_order(first, first.participants[n])
                == start_order(again, again.participants[n]))


def test_with_shuffling_off_everyone_starts_in_the_decks_order():
    s = session(shuffle=False)
    assert all(start_order(s, p) == list(range(1, 10)) for p in s.participants.values())


def test_there_is_no_starting_order_while_the_discard_is_undecided():
    s = session()
    s.groups[1].discard = None
    assert start_order(s, s.participants[1]) is None


def test_the_trainer_turns_shuffling_off_when_creating_the_session(app, socketio, client, store):
    assert post(client, deck="task-5-1", groups=["W"], shuffle="no").status_code == 400
    on = post(client, deck="task-5-1", groups=["W"]).get_json()
    off = post(client, deck=None, statements=SIX, discard=0, top=3, groups=["W"],
               shuffle=False).get_json()
    assert store.by_code(on["code"]).shuffle is True
    assert store.by_code(off["code"]).shuffle is False
    phone = socketio.test_client(app)
    state = phone.emit("join", {"code": off["code"], "name": "Kim", "group": 1},
                       callback=True)["state"]
    assert state["start_order"] == [1, 2, 3, 4, 5, 6]  # no discard step: all six, in order
    # ... and the setting survives a restart
    from facilitator.store import Store

    again = Store(app.config["DATABASE"])
    assert again.by_code(off["code"]).shuffle is False
    assert again.by_code(on["code"]).shuffle is True
    again.close()


def test_the_results_and_the_csv_are_what_participants_hand_in_not_where_they_started(
        app, socketio, client):
    csvs = []
    for shuffle in (True, False):
        info = post(client, deck="task-5-1", groups=["W"], shuffle=shuffle).get_json()
        console = socketio.test_client(app)
        console.emit("facilitate", {"token": info["facilitator_token"]}, callback=True)
        phones = []
        for n in range(3):
            sock = socketio.test_client(app)
            ack = sock.emit("join", {"code": info["code"], "name": f"P{n}", "group": 1},
                            callback=True)
            phones.append((sock, ack["token"]))
        console.emit("open_step", {"token": info["facilitator_token"], "step": "discard"},
                     callback=True)
        for sock, token in phones:
            sock.emit("submit", {"token": token, "step": "discard", "answer": 10, "id": "d"},
                      callback=True)
        console.emit("open_step", {"token": info["facilitator_token"], "step": "rank"},
                     callback=True)
        for i, (sock, token) in enumerate(phones):
            ack = sock.emit("submit", {"token": token, "step": "rank",
                                       "answer": list(range(1 + i, 10)) + list(range(1, 1 + i)),
                                       "id": "r"}, callback=True)
            assert ack["ok"], ack
        r = client.get(f"{info['facilitator_url']}/export/summary.csv")
        rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
        csvs.append([row[1:] for row in rows[1:]])  # without the session code
    assert csvs[0] == csvs[1]


# -- the organiser page gives a trainer back their console ------------------------------------
def test_the_organiser_page_links_each_sessions_console_after_login_only(client):
    info = post(client, deck="task-5-1", groups=["W"]).get_json()
    page = client.get("/organiser").get_data(as_text=True)
    assert info["facilitator_url"] not in page
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/organiser/login", data={"secret": "organiser-secret", "csrf": csrf})
    page = client.get("/organiser").get_data(as_text=True)
    assert f'href="{info["facilitator_url"]}"' in page
    assert client.get(info["facilitator_url"]).status_code == 200
