"""HTTP hardening (issue 14): sizes checked before anything is built, unparseable JSON, session
creation throttle and the trainer secret, organiser logins that can be revoked, throttles kept
apart and pruned, join-code look-ups over HTTP, export duplicates, pasted control characters,
database file modes, the organiser secret printed once, the organiser list in pages."""

from __future__ import annotations

import logging
import os
import stat
import time

import pytest

from facilitator import create_app, views
from facilitator.app import SECRET_FAILURES, SECRET_FAILURES_OVERALL
from facilitator.events import JOIN_FAILURES
from facilitator.serve import organiser_secret_line
from facilitator.services import services
from facilitator.throttle import Failures, Rate

BODY = {"deck": "task-5-1", "groups": ["Table 1", "Table 2"]}


def make_app(tmp_path, **config):
    base = {"TESTING": True, "DATABASE": str(tmp_path / "h.sqlite3"), "SNAPSHOT_INTERVAL": 0,
            "PUBLIC_URL": "http://workshop.test", "ORGANISER_SECRET": "organiser-secret"}
    return create_app({**base, **config})


def csrf_of(client) -> str:
    page = client.get("/organiser").get_data(as_text=True)
    return page.split('name="csrf" value="')[1].split('"')[0]


def log_in(client, secret: str = "organiser-secret", address: str = "127.0.0.1"):
    return client.post("/organiser/login", data={"secret": secret, "csrf": csrf_of(client)},
                       environ_base={"REMOTE_ADDR": address})


def logged_in(client) -> bool:
    return client.get("/organiser/export/responses.csv?session=X").status_code != 403


# -- sizes and JSON --------------------------------------------------------------------------
@pytest.mark.parametrize("body", [{"group_count": 100_000_000}, {"group_count": 41},
                                  {"group_count": 0}, {"group_count": -5},
                                  {"groups": ["t"] * 41}])
def test_a_group_count_out_of_range_is_refused_before_anything_is_built(client, store, body,
                                                                        monkeypatch):
    built = []
    monkeypatch.setattr(views.workshop, "group_names",
                        lambda *a: built.append(a) or ["never"])
    before = store.dump()
    started = time.monotonic()
    r = client.post("/api/sessions", json={"deck": "task-5-1", **body})
    assert time.monotonic() - started < 1.0
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
    assert "1 to 40 groups" in r.get_json()["error"]["message"]
    assert built == [] and store.dump() == before


@pytest.mark.parametrize("data", [b"[" * 10_000 + b"]" * 10_000, b'{"deck": ', b"\xff\xfe",
                                  b'"just a string"', b"[1, 2]"])
def test_json_that_cannot_be_parsed_is_a_400_without_a_traceback(client, store, data, caplog):
    before = store.dump()
    with caplog.at_level(logging.DEBUG):
        r = client.post("/api/sessions", data=data, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
    assert "Traceback" not in r.get_data(as_text=True)
    assert not [rec for rec in caplog.records if rec.exc_info], caplog.text
    assert store.dump() == before


# -- session creation ------------------------------------------------------------------------
def test_session_creation_is_throttled_per_address(tmp_path):
    app = make_app(tmp_path, SESSIONS_BURST=3, SESSIONS_PER_HOUR=60)
    client = app.test_client()
    codes = [client.post("/api/sessions", json=BODY).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    r = client.post("/api/sessions", json=BODY)
    assert r.get_json()["error"]["code"] == "rate_limited"
    assert len(services(app).store.sessions) == 3
    other = client.post("/api/sessions", json=BODY, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 201


def test_a_rate_refills_and_forgets_full_buckets():
    now = [0.0]
    rate = Rate(burst=2, per_hour=3600, clock=lambda: now[0])
    assert [rate.allow("a"), rate.allow("a"), rate.allow("a")] == [True, True, False]
    now[0] += 1.0
    assert rate.allow("a")
    for k in range(300):
        rate.allow(f"addr-{k}")
    now[0] += 10
    for k in range(300):
        rate.allow("b")
    assert len(rate.buckets) < 10


def test_with_a_trainer_secret_only_those_who_give_it_create_sessions(tmp_path):
    app = make_app(tmp_path, TRAINER_SECRET="trainers-only")
    client = app.test_client()
    assert 'id="trainer-secret"' in client.get("/").get_data(as_text=True)
    before = services(app).store.dump()
    for given in (None, "", "wrong", 12):
        body = dict(BODY) if given is None else {**BODY, "trainer_secret": given}
        r = client.post("/api/sessions", json=body, environ_base={"REMOTE_ADDR": "10.0.0.5"})
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert services(app).store.dump() == before
    r = client.post("/api/sessions", json={**BODY, "trainer_secret": "trainers-only"})
    assert r.status_code == 201
    # wrong trainer secrets are throttled like organiser secrets
    r = client.post("/api/sessions", json={**BODY, "trainer_secret": "x"},
                    environ_base={"REMOTE_ADDR": "10.0.0.5"})
    r = client.post("/api/sessions", json={**BODY, "trainer_secret": "trainers-only"},
                    environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert r.status_code == 429


def test_without_a_trainer_secret_the_landing_page_asks_for_none(client):
    assert 'id="trainer-secret"' not in client.get("/").get_data(as_text=True)
    assert client.post("/api/sessions", json=BODY).status_code == 201


# -- organiser logins ------------------------------------------------------------------------
def test_a_logout_ends_every_organiser_login(app):
    first, second = app.test_client(), app.test_client()
    log_in(first)
    log_in(second)
    assert logged_in(first) and logged_in(second)
    first.post("/organiser/logout", data={"csrf": csrf_of(first)})
    assert not logged_in(first)
    assert not logged_in(second)  # a copied cookie does not outlive the logout
    log_in(second)
    assert logged_in(second)


def test_a_changed_organiser_secret_ends_every_login(tmp_path):
    app = make_app(tmp_path)
    client = app.test_client()
    log_in(client)
    assert logged_in(client)
    cookie = client.get_cookie("session").value
    services(app).store.close()
    restarted = make_app(tmp_path, ORGANISER_SECRET="a-new-secret")
    again = restarted.test_client()
    again.set_cookie("session", cookie)
    assert not logged_in(again)
    same = make_app(tmp_path / "..", DATABASE=str(tmp_path / "h.sqlite3"))
    kept = same.test_client()
    kept.set_cookie("session", cookie)
    assert logged_in(kept)  # same secret, same database: the login stands


def test_an_organiser_login_lasts_hours_not_a_month(app, monkeypatch):
    client = app.test_client()
    log_in(client)
    hours = app.config["ORGANISER_LOGIN_HOURS"]
    assert 1 <= hours <= 24
    real = time.time
    monkeypatch.setattr(views.time, "time", lambda: real() + hours * 3600 - 60)
    assert logged_in(client)
    monkeypatch.setattr(views.time, "time", lambda: real() + hours * 3600 + 1)
    assert not logged_in(client)


def test_the_old_cookie_shape_is_not_a_login(app):
    client = app.test_client()
    with client.session_transaction() as s:
        s["organiser"] = True
    assert not logged_in(client)


# -- throttles kept apart --------------------------------------------------------------------
def test_wrong_join_codes_do_not_lock_the_organiser_out_nor_the_other_way(app, socketio):
    client = app.test_client()
    for _ in range(JOIN_FAILURES):
        assert client.get("/qr/ZZZZZZZZ.svg").status_code == 404
    assert client.get("/qr/ZZZZZZZZ.svg").status_code == 429
    log_in(client)
    assert logged_in(client)
    other = app.test_client()
    for _ in range(SECRET_FAILURES):
        log_in(other, "wrong", address="10.0.0.3")
    assert "Too+many" in log_in(other, address="10.0.0.3").headers["Location"]
    info = other.post("/api/sessions", json=BODY,
                      environ_base={"REMOTE_ADDR": "10.0.0.3"}).get_json()
    phone = socketio.test_client(app)
    phone.socketio.server.environ[phone.eio_sid]["REMOTE_ADDR"] = "10.0.0.3"
    assert phone.emit("join", {"code": info["code"]}, callback=True)["ok"]


def test_wrong_organiser_secrets_from_many_addresses_are_capped_overall(app):
    client = app.test_client()
    for k in range(SECRET_FAILURES_OVERALL):
        log_in(client, "guess", address=f"10.1.{k // 200}.{k % 200}")
    r = log_in(client, address="10.9.9.9")
    assert "Too+many" in r.headers["Location"]
    assert not logged_in(client)


def test_the_failure_counters_forget_old_addresses():
    now = [0.0]
    failures = Failures(limit=3, window=60, clock=lambda: now[0])
    for k in range(1000):
        failures.failed(f"10.0.{k // 250}.{k % 250}")
    assert len(failures.by_key) == 1000
    now[0] += 61
    for _ in range(300):
        failures.blocked("10.9.9.9")
    assert len(failures.by_key) == 0


def test_http_join_code_look_ups_share_the_join_throttle(app, socketio, store):
    client = app.test_client()
    real = client.post("/api/sessions", json=BODY).get_json()["code"]
    for k in range(JOIN_FAILURES // 2):
        assert client.get(f"/qr/ZZZZZZZ{k + 2}.svg").status_code == 404
    for k in range(JOIN_FAILURES - JOIN_FAILURES // 2):
        client.get(f"/j/YYYYYYY{k + 2}")
    # blocked now: the QR code, the phone page and a socket join, even for the right code
    assert client.get(f"/qr/{real}.svg").status_code == 429
    assert client.get(f"/j/{real}").status_code == 429
    phone = socketio.test_client(app)
    phone.socketio.server.environ[phone.eio_sid]["REMOTE_ADDR"] = "127.0.0.1"
    ack = phone.emit("join", {"code": real}, callback=True)
    assert ack["error"]["code"] == "rate_limited"
    # another address is not affected
    assert client.get(f"/qr/{real}.svg", environ_base={"REMOTE_ADDR": "10.0.0.8"}
                      ).status_code == 200


CODE_SYMBOLS = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def test_join_code_look_ups_in_flight_together_cannot_pass_the_limit(app, socketio, store,
                                                                      monkeypatch):
    """A look-up may wait (a code not in memory is read from the database, which waits while
    a commit holds it): many guesses in flight at once are each counted before their look-up,
    so no more than JOIN_FAILURES get an answer. Each look-up here starts the next guess while
    it is still in flight; a right code is not counted."""
    client = app.test_client()
    real = client.post("/api/sessions", json=BODY).get_json()["code"]
    assert client.get(f"/qr/{real}.svg").status_code == 200  # right: not counted
    answers: list[int] = []
    by_code = store.by_code

    def slow_look_up(code):
        if len(answers) < 3 * JOIN_FAILURES:
            mine = len(answers)
            answers.append(None)  # the next guess, in flight while this look-up waits
            guess = "ZZZZZZ" + CODE_SYMBOLS[mine // 30] + CODE_SYMBOLS[mine % 30]
            answers[mine] = client.get(f"/qr/{guess}.svg").status_code
        return by_code(code)

    monkeypatch.setattr(store, "by_code", slow_look_up)
    first = client.get("/qr/ZZZZZZZZ.svg").status_code
    statuses = [first, *answers]
    # the eleventh guess in flight is refused, so no more look-ups start
    assert statuses.count(404) == JOIN_FAILURES and statuses[-1] == 429, statuses


def test_a_failure_counted_before_a_look_up_is_taken_back_when_the_guess_was_right():
    now = [0.0]
    failures = Failures(limit=3, window=60, overall=5, clock=lambda: now[0])
    assert [failures.attempt("a") for _ in range(4)] == [True, True, True, False]
    failures.forgive("a")
    assert failures.attempt("a")  # one right guess gave its place back
    failures.forgive("b")  # nothing counted for b: nothing to take back
    assert failures.attempt("b") and failures.attempt("b")
    assert not failures.attempt("c")  # five in all from everyone: the overall ceiling
    now[0] += 61
    assert failures.attempt("c")


# -- export, pasted statements, files, the secret, paging ------------------------------------
def test_a_session_named_twice_in_the_organiser_export_counts_once(app, socketio):
    client = app.test_client()
    info = client.post("/api/sessions", json=BODY).get_json()
    console = socketio.test_client(app)
    console.emit("facilitate", {"token": info["facilitator_token"]}, callback=True)
    console.emit("open_step", {"token": info["facilitator_token"], "step": "discard"},
                 callback=True)
    phone = socketio.test_client(app)
    ack = phone.emit("join", {"code": info["code"], "name": "Ana", "group": 1}, callback=True)
    assert phone.emit("submit", {"token": ack["token"], "step": "discard", "answer": 3,
                                 "id": "x"}, callback=True)["ok"]
    log_in(client)
    for kind in ("responses", "summary", "groups"):
        once = client.get(f"/organiser/export/{kind}.csv?session={info['code']}")
        twice = client.get(f"/organiser/export/{kind}.csv?session={info['code']}"
                           f"&session={info['code']}&session={info['code']}")
        assert once.status_code == twice.status_code == 200
        assert once.get_data() == twice.get_data()


def test_pasted_statements_lose_nul_and_control_characters(client, store):
    text = ("One\x00 thing\nTwo\x07 \u202etwo\nThree\x1b[31m red\n\x7fFour\u200b\n"
            "Five\x0bfive\nSix\n")
    r = client.post("/api/sessions", json={"statements": text, "discard": 1, "top": 3})
    assert r.status_code == 201, r.get_json()
    deck = store.by_code(r.get_json()["code"]).deck
    texts = [s.text if hasattr(s, "text") else s["text"] for s in deck.statements]
    for t in texts:
        assert not any(ord(c) < 32 or ord(c) == 127 or c in "\u202e\u200b" for c in t), t
    assert texts[0] == "One thing" and texts[1] == "Two two"


def test_database_files_are_private(tmp_path, socketio, app):
    path = tmp_path / "private.sqlite3"
    made = create_app({"TESTING": True, "DATABASE": str(path)})
    made.test_client().post("/api/sessions", json=BODY)
    for f in (path, path.with_name(path.name + "-wal")):
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    services(made).store.close()
    os.chmod(path, 0o644)
    again = create_app({"TESTING": True, "DATABASE": str(path)})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    services(again).store.close()


def test_the_organiser_secret_is_printed_only_when_it_is_generated(tmp_path, monkeypatch):
    monkeypatch.delenv("FACILITATOR_ORGANISER_SECRET", raising=False)
    path = str(tmp_path / "s.sqlite3")
    first = create_app({"TESTING": True, "DATABASE": path})
    secret = first.config["ORGANISER_SECRET"]
    assert secret in organiser_secret_line(first.config)
    services(first).store.close()
    second = create_app({"TESTING": True, "DATABASE": path})
    assert second.config["ORGANISER_SECRET"] == secret
    assert secret not in organiser_secret_line(second.config)
    services(second).store.close()
    monkeypatch.setenv("FACILITATOR_ORGANISER_SECRET", "chosen-one")
    third = create_app({"TESTING": True, "DATABASE": path})
    assert "chosen-one" not in organiser_secret_line(third.config)
    services(third).store.close()


def test_the_organiser_list_comes_in_pages(tmp_path):
    app = make_app(tmp_path, SESSIONS_BURST=1000)
    client = app.test_client()
    codes = [client.post("/api/sessions", json=BODY).get_json()["code"] for _ in range(120)]
    log_in(client)
    pages = {n: client.get(f"/organiser?page={n}").get_data(as_text=True) for n in (1, 2, 3)}
    shown = {n: [c for c in codes if f'value="{c}"' in page] for n, page in pages.items()}
    assert [len(shown[n]) for n in (1, 2, 3)] == [50, 50, 20]
    assert shown[1] == codes[-50:] and shown[3] == codes[:20]  # newest first
    assert "120 sessions" in pages[1] and "Page 1 of 3" in pages[1]
    assert client.get("/organiser?page=99").get_data(as_text=True).count('name="session"') == 20
    assert len(pages[1]) < 200_000
