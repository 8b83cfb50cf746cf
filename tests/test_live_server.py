"""The real server: a subprocess under eventlet, driven by python-socketio clients over
websockets, as phones and a projector meet it."""

from __future__ import annotations

import pytest
import socketio
from driver import Client

pytestmark = pytest.mark.server


def test_phones_run_a_session_against_the_real_server(live_server):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    console = Client(live_server.url)
    assert console.call("facilitate", token=info["facilitator_token"])["ok"]
    projector = Client(live_server.url, transports=("polling", "websocket"))
    assert projector.call("watch", projector=info["projector_key"])["ok"]
    phones = []
    for i in range(12):
        phone = Client(live_server.url)
        ack = phone.call("join", code=info["code"].lower(), name=f"P{i}", group=1 + i % 2)
        assert ack["ok"], ack
        phones.append((phone, ack["token"]))
    assert console.call("open_step", token=info["facilitator_token"], step="discard")["ok"]
    versions = []
    for i, (phone, token) in enumerate(phones):
        ack = phone.call("submit", token=token, step="discard", answer=3 if i % 2 else 4,
                         id=f"d{i}")
        assert ack["ok"], ack
        versions.append(ack["version"])
    # the projector hears about every submit (coalesced), though results stay hidden
    snap = projector.wait_for("snapshot", lambda s: s["version"] >= max(versions))
    assert [g["answered"]["discard"] for g in snap["groups"]] == [6, 6]
    assert snap["results"] is None
    assert console.call("close_step", token=info["facilitator_token"])["ok"]
    assert console.call("open_step", token=info["facilitator_token"], step="rank")["ok"]
    phone, token = phones[0]
    state = phone.wait_for("state", lambda s: s["session"]["step"] == "rank")
    assert state["group_discard"] == 4 and 4 not in state["remaining"]
    ranking = state["remaining"]
    assert phone.call("submit", token=token, step="rank", answer=ranking, id="r0")["ok"]
    for client, _ in phones:
        client.close()
    console.close()
    projector.close()


def test_a_crash_loses_nothing_that_was_acknowledged(live_server):
    info = live_server.create_session(groups=["Table 1"])
    console = Client(live_server.url)
    console.call("facilitate", token=info["facilitator_token"])
    console.call("open_step", token=info["facilitator_token"], step="discard")
    phone = Client(live_server.url)
    token = phone.call("join", code=info["code"], name="Ana", group=1)["token"]
    assert phone.call("submit", token=token, step="discard", answer=7, id="only")["ok"]
    before = live_server.get(f"/facilitator/{info['facilitator_token']}/export/responses.csv")
    phone.close()
    console.close()
    live_server.kill()
    live_server.start()
    after = live_server.get(f"/facilitator/{info['facilitator_token']}/export/responses.csv")
    assert after == before
    phone = Client(live_server.url)
    state = phone.call("resume", token=token)["state"]
    assert state["answers"]["discard"] == 7 and state["session"]["step"] == "discard"
    again = phone.call("submit", token=token, step="discard", answer=7, id="only")
    assert again["duplicate"] is True
    phone.close()


def connects(url: str, transport: str, origin: str | None) -> bool:
    """Does a handshake with this Origin header get through?"""
    if transport == "websocket":
        # websocket-client sends its own Origin; set it through its option, not a header
        sio = socketio.Client(reconnection=False,
                              websocket_extra_options={"origin": origin} if origin else {})
        headers = {}
    else:
        sio = socketio.Client(reconnection=False)
        headers = {"Origin": origin} if origin else {}
    try:
        sio.connect(url, transports=[transport], headers=headers, wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        return False
    sio.disconnect()
    return True


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_foreign_origin_cannot_open_a_socket(live_server, transport):
    assert not connects(live_server.url, transport, "http://evil.example")
    assert connects(live_server.url, transport, live_server.url)
    assert connects(live_server.url, transport, None)  # not a browser: still needs tokens
