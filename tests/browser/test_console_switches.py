"""The console's switches ("Show results on the projector", "Lock joins") keep the trainer's
flip until the server answers it: a snapshot the server sent before the flip reached it must not
flip the switch back under their hand."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("switch, field", [("#reveal-toggle", "revealed"),
                                           ("#lock-toggle", "joins_locked")])
def test_a_snapshot_from_before_the_flip_does_not_flip_the_switch_back(
        browser, live_server, pages, trainer, switch, field):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    coach = trainer(live_server.url, info["facilitator_token"])
    coach.open("discard")
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
    wire = {"hold": False, "held": [], "snapshot": None, "page": None, "sent": []}

    def route(ws):
        server = ws.connect_to_server()
        wire["page"] = ws

        def to_page(message):
            if isinstance(message, str) and message.startswith('42["snapshot"'):
                wire["snapshot"] = message
            if wire["hold"] and isinstance(message, str) and message.startswith("4"):
                wire["held"].append(message)  # the answer to the flip and what followed it
                return
            ws.send(message)

        def to_server(message):
            wire["sent"].append(message)
            server.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    console.route_web_socket("**/socket.io/**", route)
    console.goto(live_server.url + info["facilitator_url"])
    console.wait_for_selector("#stepper li.current")
    # a snapshot pushed on the routed websocket (the page's own, as the server sent it)
    coach.call("lock_joins", locked=False)
    for _ in range(100):
        if wire["snapshot"]:
            break
        console.wait_for_timeout(50)
    assert wire["snapshot"], "no snapshot came over the routed websocket"
    assert not console.is_checked(switch)

    wire["hold"] = True
    console.click(switch)
    for _ in range(100):  # the flip has gone to the server; its answer is held
        if any(m.startswith("43") for m in wire["held"]):
            break
        console.wait_for_timeout(50)
    assert any(m.startswith("43") for m in wire["held"]), wire["sent"][-3:]
    # the server's older snapshot (switch off) reaches the page before the answer
    wire["page"].send(wire["snapshot"])
    console.wait_for_timeout(300)
    assert console.is_checked(switch), "a snapshot from before the flip flipped it back"

    wire["hold"] = False
    for message in wire["held"]:
        wire["page"].send(message)
    console.wait_for_timeout(300)
    assert console.is_checked(switch)
    assert coach.call("facilitate")["snapshot"]["session"][field] is True
    assert pages.dialogs == [] and pages.errors == []
