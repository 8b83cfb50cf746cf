"""Snapshots cost nothing when nobody watches, and results are recomputed at most a few times
a second per session however fast its phones submit (issue 14: a stranger's busy session
slowed phones in other sessions)."""

from __future__ import annotations

import time

import pytest
from driver import Room, call

from facilitator import create_app, live
from facilitator.services import services


@pytest.fixture
def counted(monkeypatch):
    """Counts of snapshots built and results computed, by audience."""
    counts = {"snapshot": 0, "results": 0}
    snapshot, results_view = live.snapshot, live.results_view

    def counting_snapshot(*args, **kwargs):
        counts["snapshot"] += 1
        return snapshot(*args, **kwargs)

    def counting_results(*args, **kwargs):
        counts["results"] += 1
        return results_view(*args, **kwargs)

    monkeypatch.setattr(live, "snapshot", counting_snapshot)
    monkeypatch.setattr(live, "results_view", counting_results)
    return counts


def test_nothing_is_built_for_a_session_nobody_watches(app, socketio, counted):
    room = Room(app, socketio)
    room.control("open_step", step="discard")
    room.control("reveal", revealed=True)
    room.console.disconnect()
    room.projector.disconnect()
    for k in range(6):
        room.join(f"p{k}", 1 + k % 2)
    before = dict(counted)
    for k in range(6):
        assert room.submit(f"p{k}", "discard", 1 + k)["ok"]
    assert counted == before  # six changes, no audience: no snapshot, no results
    projector = socketio.test_client(app)
    ack = call(projector, "watch", projector=room.info["projector_key"])
    assert ack["ok"] and ack["snapshot"]["results"] is not None  # the ack is up to date
    assert room.submit("p0", "discard", 9)["ok"]
    snapshots = [e["args"][0] for e in projector.get_received() if e["name"] == "snapshot"]
    assert snapshots and snapshots[-1]["groups"][0]["answered"]["discard"] == 3


def test_results_are_recomputed_at_most_a_few_times_a_second_per_session(tmp_path, counted):
    app = create_app({"TESTING": True, "DATABASE": str(tmp_path / "w.sqlite3"),
                      "SNAPSHOT_INTERVAL": 0.15, "ORGANISER_SECRET": "s"})
    socketio = services(app).socketio
    try:
        room = Room(app, socketio)
        room.control("open_step", step="discard")
        room.control("reveal", revealed=True)
        for k in range(10):
            room.join(f"p{k}", 1 + k % 2)
        counted["results"] = 0
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 1.5:
            n += 1
            assert room.submit(f"p{n % 10}", "discard", 1 + n % 10, sid=f"s{n}")["ok"]
            time.sleep(0.005)
        time.sleep(0.6)  # the last snapshots go out
        seconds = time.monotonic() - start
        assert n > 50
        # two audiences (console, revealed projector), each at most every RESULTS_GAP
        assert counted["results"] <= 2 * (seconds / live.RESULTS_GAP + 1), (counted, n)
        projector_snaps = [e["args"][0] for e in room.projector.get_received()
                           if e["name"] == "snapshot"]
        last = projector_snaps[-1]
        assert sum(g["answered"]["discard"] for g in last["groups"]) == 10  # ends up current
    finally:
        services(app).store.close()


def test_submits_are_limited_per_participant_across_sockets(app, socketio):
    """One token on three sockets: together they get SUBMIT_BURST submits, then SUBMIT_RATE a
    second; the rest are rate_limited without running. Another phone is not affected."""
    room = Room(app, socketio)
    room.control("open_step", step="discard")
    room.join("ana", 1)
    room.join("ben", 1)
    _, token = room.phones["ana"]
    sockets = [socketio.test_client(app) for _ in range(3)]
    for sock in sockets:
        assert call(sock, "resume", token=token)["ok"]
    start = time.monotonic()
    codes = []
    for k in range(60):
        ack = call(sockets[k % 3], "submit", token=token, step="discard", answer=1 + k % 10,
                   id=f"a{k}")
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
    seconds = time.monotonic() - start
    burst, rate = app.config["SUBMIT_BURST"], app.config["SUBMIT_RATE"]
    assert set(codes) == {"ok", "rate_limited"}
    assert burst <= codes.count("ok") <= burst + rate * seconds + 1, (codes.count("ok"), seconds)
    assert room.submit("ben", "discard", 4)["ok"]
