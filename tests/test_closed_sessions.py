"""Closed sessions are not held in memory: they stay on disk and are loaded when a link, a code
or a token asks for them (issue 14: 3,000 sessions were all kept in memory)."""

from __future__ import annotations

from driver import Room, call

from facilitator import create_app
from facilitator.services import services
from facilitator.store import CLOSED_KEPT


def test_closed_sessions_leave_memory_and_come_back_when_asked_for(tmp_path):
    path = str(tmp_path / "c.sqlite3")
    app = create_app({"TESTING": True, "DATABASE": path, "SNAPSHOT_INTERVAL": 0,
                      "ORGANISER_SECRET": "s", "SESSIONS_BURST": 100})
    socketio = services(app).socketio
    store = services(app).store
    rooms = []
    for k in range(CLOSED_KEPT + 4):
        room = Room(app, socketio)
        room.join(f"p{k}", 1)
        room.control("open_step", step="discard")
        assert room.submit(f"p{k}", "discard", 1 + k % 10)["ok"]
        rooms.append(room)
    first = rooms[0]
    export = first.http.get(f"/facilitator/{first.token}/export/responses.csv").get_data()
    for room in rooms:
        room.control("close_session")
    open_room = Room(app, socketio)  # one still running
    in_memory = {s.code for s in store.sessions.values()}
    assert open_room.info["code"] in in_memory
    assert sum(1 for s in store.sessions.values() if s.closed) <= CLOSED_KEPT
    assert first.info["code"] not in in_memory
    # every way in still finds it
    assert first.http.get(f"/facilitator/{first.token}/export/responses.csv"
                          ).get_data() == export
    assert first.http.get(first.info["projector_url"]).status_code == 200
    phone, token = first.phones["p0"]
    ack = call(phone, "resume", token=token)
    assert ack["ok"] and ack["state"]["session"]["closed"] is True
    late = socketio.test_client(app)
    assert call(late, "join", code=first.info["code"], name="x")["error"]["code"] == \
        "session_closed"
    # the organiser list counts every session, from the database
    client = app.test_client()
    page = client.get("/organiser").get_data(as_text=True)
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    client.post("/organiser/login", data={"secret": "s", "csrf": csrf})
    page = client.get("/organiser").get_data(as_text=True)
    assert f"{CLOSED_KEPT + 5} sessions" in page and first.info["code"] in page
    store.close()
    # after a restart only the open session is loaded
    again = create_app({"TESTING": True, "DATABASE": path, "ORGANISER_SECRET": "s"})
    try:
        assert [s.code for s in services(again).store.sessions.values()] == \
            [open_room.info["code"]]
        assert services(again).store.by_code(first.info["code"]).closed
    finally:
        services(again).store.close()


def test_a_reset_reopens_a_closed_session_and_keeps_it(app, socketio, store):
    room = Room(app, socketio)
    room.join("a", 1)
    room.control("close_session")
    room.control("reset_session", confirm="RESET")
    session = store.by_console(room.token)
    assert not session.closed
    for _ in range(CLOSED_KEPT + 2):
        other = Room(app, socketio)
        other.control("close_session")
    assert store.sessions.get(session.id) is session  # an open session is never forgotten
