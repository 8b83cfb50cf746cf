"""What a review of the phone and console scripts found, each in a real browser: an answer the
server turned away as busy is sent again by itself; a board push from another step is not this
board's; the top-five screen keeps the keyboard on its heading; an ended session's console can
still show or hide the results."""

from __future__ import annotations

import json
import time

import pytest
from conftest import expect
from driver import Client, LivePhone
from held_disk import HeldDiskServer
from phones import join_phone, vote

pytestmark = pytest.mark.browser

ORDER = "els => els.map(e => Number(e.dataset.statement))"


def test_an_answer_turned_away_busy_is_sent_again_by_itself(browser, pages, trainer, tmp_path):
    """One handler place for the whole server, held by another phone's answer on a stalled
    disk: this phone's ranking is answered "busy". It stays on the phone and goes in by itself
    once the server has room (it used to be dropped, with "Not saved" and no retry)."""
    server = HeldDiskServer(tmp_path)
    server.start()
    crowd: list = []
    try:
        info = server.create_session(groups=["Table 1", "Table 2"])
        coach = trainer(server.url, info["facilitator_token"])
        keeper = LivePhone(server.url, info["code"], "Keeper", 2)
        crowd.append(keeper)
        phone = join_phone(pages, browser, server.url, info["code"], "Ana", "Table 1")
        coach.open("discard")
        keeper.submit("discard", 10)
        vote(phone, 10)
        coach.close_step()
        coach.open("rank")
        phone.wait_for_selector("#rank-list > li")
        # the keeper's answer holds the only handler place
        with server.holding(keeper, "rank", list(range(1, 10)), info["projector_key"]):
            shown = phone.eval_on_selector_all("#rank-list > li", ORDER)
            phone.get_by_role("button", name="Save my ranking").tap()
            time.sleep(1.0)  # answered busy meanwhile (the place is held)
            assert phone.get_attribute("#save-state", "data-state") != "saved"
        phone.wait_for_selector("#save-state[data-state=saved]", timeout=15_000)
        state = LivePhone.__new__(LivePhone)  # not a join: read Ana's answer with her token
        token = phone.evaluate(f"() => localStorage.getItem('facilitator:{info['code']}')")
        Client.__init__(state, server.url)
        crowd.append(state)
        assert state.call("resume", token=token)["state"]["answers"]["rank"] == shown
    finally:
        for p in crowd:
            p.close()
        server.stop()
    assert pages.dialogs == [] and pages.errors == []


def test_a_board_push_from_another_step_is_not_this_boards(browser, live_server, pages,
                                                           trainer):
    """The trainer opened top as a table while a rank move was being saved: the rank board's
    late push (a higher version) must not replace the top board on the phone."""
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    coach = trainer(live_server.url, info["facilitator_token"])
    wire: dict = {"page": None}

    phone = pages.new_page(browser, "Ana", viewport={"width": 390, "height": 844},
                           has_touch=True, is_mobile=True)

    def route(ws):
        server = ws.connect_to_server()
        wire["page"] = ws
        ws.on_message(server.send)
        server.on_message(ws.send)

    phone.route_web_socket("**/socket.io/**", route)
    phone.goto(f"{live_server.url}/j/{info['code']}")
    phone.wait_for_selector("#join-form")
    phone.fill("#name", "Ana")
    phone.locator("label.tile", has_text="Table 1").tap()
    phone.tap("#join-button")
    phone.wait_for_selector(".card.wait")
    ben = LivePhone(live_server.url, info["code"], "Ben", 1)
    coach.open("discard")
    try:
        vote(phone, 10)
        ben.submit("discard", 10)
        coach.close_step()
        coach.call("open_step", step="top", mode="table")
        phone.wait_for_selector("#board-list > li")
        for _ in range(100):
            if wire["page"] is not None:
                break
            phone.wait_for_timeout(50)
        top = phone.eval_on_selector_all("#board-list > li", ORDER)
        stale = list(reversed(top))
        push = "42" + json.dumps(["board", {
            "group": 1, "round": 1, "step": "rank", "order": stale, "version": 37,
            "agreed": [], "locked": False, "members": 0, "top_size": 0, "moves": ["x"],
            "connected": 2}])
        wire["page"].send(push)
        phone.wait_for_timeout(400)
        assert phone.eval_on_selector_all("#board-list > li", ORDER) == top
        assert phone.get_attribute("#board-status", "data-version") == "0"
        # and the top board's own next push still shows
        ack = ben.call("board_move", token=ben.token, statement=top[-1], to=0, version=0,
                       id="b1")
        expect(phone.locator("#board-status")).to_have_attribute("data-version", "1")
        assert phone.eval_on_selector_all("#board-list > li", ORDER) == ack["board"]["order"]
    finally:
        ben.close()
    assert pages.dialogs == [] and pages.errors == []


def test_picking_and_ordering_the_top_five_keeps_the_keyboard_on_the_heading(
        browser, live_server, pages, trainer):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    coach = trainer(live_server.url, info["facilitator_token"])
    phone = join_phone(pages, browser, live_server.url, info["code"], "Ana", "Table 1")
    coach.open("discard")
    vote(phone, 10)
    coach.close_step()
    coach.open("top")
    phone.wait_for_selector("#pick-list")
    for n in (1, 2, 3, 4, 5):
        phone.tap(f'#pick-list button[data-statement="{n}"]')
        expect(phone.locator(f'#pick-list button[data-statement="{n}"]')).to_have_attribute(
            "aria-pressed", "true")
    phone.locator("#to-order").focus()
    phone.keyboard.press("Enter")
    phone.wait_for_selector("#top-list")
    assert phone.evaluate("document.activeElement.tagName") == "H1"
    phone.locator("#change-picks").focus()
    phone.keyboard.press("Enter")
    phone.wait_for_selector("#pick-list")
    assert phone.evaluate("document.activeElement.tagName") == "H1"
    assert pages.dialogs == [] and pages.errors == []


def test_an_ended_sessions_console_can_still_show_or_hide_the_results(browser, live_server,
                                                                      pages, trainer):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    coach = trainer(live_server.url, info["facilitator_token"])
    coach.call("close_session")
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
    console.goto(live_server.url + info["facilitator_url"])
    console.wait_for_selector("#reveal-toggle")
    assert not console.is_checked("#reveal-toggle")
    console.click("#reveal-toggle")
    expect(console.locator("#reveal-toggle")).to_be_checked()
    for _ in range(50):
        if coach.call("facilitate")["snapshot"]["session"]["revealed"]:
            break
        time.sleep(0.1)
    assert coach.call("facilitate")["snapshot"]["session"]["revealed"] is True
    assert pages.dialogs == [] and pages.errors == []


def test_escape_closes_the_discard_confirmation_as_cancel_does(browser, live_server, pages,
                                                               trainer):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    coach = trainer(live_server.url, info["facilitator_token"])
    phone = join_phone(pages, browser, live_server.url, info["code"], "Ana", "Table 1")
    coach.open("discard")
    phone.wait_for_selector("#discard-list")
    phone.locator('button.choice[data-statement="4"]').tap()
    expect(phone.locator("#confirm-sheet")).to_be_visible()
    expect(phone.locator("#confirm-yes")).to_be_focused()
    phone.keyboard.press("Escape")
    expect(phone.locator("#confirm-sheet")).to_be_hidden()
    expect(phone.locator('button.choice[data-statement="4"]')).to_be_focused()
    assert phone.get_attribute("#save-state", "data-state") == "unsaved"  # no vote was sent
    assert coach.call("facilitate")["snapshot"]["groups"][0]["answered"]["discard"] == 0
    assert pages.dialogs == [] and pages.errors == []
