"""A table builds one answer together on four phones, then a second individual round, and the
projector shows what the discussion changed (issue 13), in real browsers."""

from __future__ import annotations

import time

import pytest
from conftest import resize
from driver import LivePhone
from phones import join_phone

pytestmark = pytest.mark.browser

ORDER = "els => els.map(e => Number(e.dataset.statement))"


def board_order(phone):
    return phone.eval_on_selector_all("#board-list > li", ORDER)


def status_starts(phone, text):
    phone.wait_for_function(
        "text => document.querySelector('#board-status').textContent.startsWith(text)", arg=text)


def wait_order(phone, order):
    phone.wait_for_function(
        "want => JSON.stringify(Array.from(document.querySelectorAll('#board-list > li'))"
        ".map(e => Number(e.dataset.statement))) === JSON.stringify(want)", arg=order)


def rank_order(phone):
    return phone.eval_on_selector_all("#rank-list > li", ORDER)


def tap_up_and_save(phone, position):
    """Tap ▲ on the rank list's item at `position` (1 = top), then save. The tap's click comes
    after tap() returns: the save waits until the move shows, so what is saved is the moved
    order. Returns that order."""
    order = rank_order(phone)
    moved = order[:position - 2] + [order[position - 1], order[position - 2]] + order[position:]
    phone.tap(f"#rank-list > li:nth-child({position}) button.move.up")
    phone.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('#rank-list > li')]"
        ".map(e => Number(e.dataset.statement))) === JSON.stringify(want)", arg=moved)
    phone.get_by_role("button", name="Save my ranking").tap()
    phone.wait_for_selector("#save-state[data-state=saved]")
    return moved


def test_four_phones_build_one_answer_and_a_second_round_shows_what_changed(
        browser, live_server, pages, shots, trainer, layout):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    url, code = live_server.url, info["code"]
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
    console.goto(url + info["facilitator_url"])
    console.wait_for_selector("#stepper li.current")
    phones = [join_phone(pages, browser, url, code, name, "Table 1")
              for name in ("Ana", "Ben", "Cat", "Dev")]
    other = LivePhone(url, code, "Zed", 2)
    coach = trainer(url, info["facilitator_token"])
    try:
        coach.open("discard")
        for i, phone in enumerate(phones):
            phone.wait_for_selector("#discard-list")
            phone.tap('button.choice[data-statement="3"]')
            phone.tap("#confirm-yes")
            phone.wait_for_selector("#save-state[data-state=saved]")
        other.submit("discard", 3)
        coach.close_step()
        # round 1, individually
        firsts = {}
        coach.open("rank")
        for phone in phones:
            phone.wait_for_selector("#rank-list > li")
            firsts[phone] = tap_up_and_save(phone, phone.locator("#rank-list > li").count())
        # the table builds one answer: the console reopens rank as a table
        coach.close_step()
        console.wait_for_selector("#reopen-table")
        console.click("#reopen-table")
        for phone in phones:
            phone.wait_for_selector("#board-list > li")
        start = board_order(phones[0])
        assert all(board_order(p) == start for p in phones)
        shots(phones[0], "board-phone-start")

        # two phones move at once: both moves land, every phone ends with the server's order
        last, first = (p.locator("#board-list > li") for p in phones[:2])
        last.nth(8).locator("button.move.up").tap(no_wait_after=True)
        first.nth(0).locator("button.move.down").tap(no_wait_after=True)
        # (both clicks come from touch gestures after tap() returns, then a socket round trip)
        final, deadline = None, time.monotonic() + 10
        while time.monotonic() < deadline:
            final = coach.call("facilitate")["snapshot"]["groups"][0]["board"]
            if final["version"] >= 2:
                break
            phones[0].wait_for_timeout(50)
        assert final["version"] == 2
        for phone in phones:
            wait_order(phone, final["order"])

        # "We agree" from two, then a move clears every agreement
        phones[0].tap("#agree-button")
        status_starts(phones[1], "1 of 4")
        phones[1].tap("#agree-button")
        status_starts(phones[2], "2 of 4")
        shots(phones[2], "board-phone-two-agree")
        phones[2].locator("#board-list > li").nth(3).locator("button.move.up").tap()
        for phone in phones:
            status_starts(phone, "0 of 4")

        # a reload mid-board: the phone comes back to the same board
        phones[3].reload()
        phones[3].wait_for_selector("#board-list > li")
        wait_order(phones[3], board_order(phones[0]))

        # everyone agrees: the answer locks on every phone and on the console
        for phone in phones:
            phone.wait_for_selector("#agree-button:not([hidden])")
            phone.tap("#agree-button")
            phone.wait_for_function("() => /you too|Locked/.test("
                                    "document.querySelector('#board-status').textContent)")
        for phone in phones:
            status_starts(phone, "Locked")
            assert phone.locator("#board-list button.move:enabled").count() == 0
        console.wait_for_selector(".group-board[data-locked='1']")
        shots(phones[0], "board-phone-locked")
        shots(console, "board-console-locked")
        agreed = board_order(phones[0])

        # round 2, individually: each phone starts from its own first ranking
        coach.close_step()
        console.click("#new-round")
        # confirmed, and "New round" clicked again before the ack: the second click finds the
        # button disabled, so there is one round 2, not a round 3
        again = console.evaluate("""() => {
          document.querySelector('#confirm-ok').click();
          const button = document.querySelector('#new-round');
          const disabled = button.disabled;
          button.click();
          return disabled;
        }""")
        assert again is True
        for phone in phones:
            phone.wait_for_selector("#rank-list > li")
            assert phone.eval_on_selector_all("#rank-list > li", ORDER) == firsts[phone]
        console.wait_for_selector("#new-round:not([disabled]), #close-step:not([disabled])")
        assert coach.call("facilitate")["snapshot"]["session"]["round"] == 2
        for phone in phones[:2]:
            tap_up_and_save(phone, 2)

        # the projector shows what changed
        projector = pages.new_page(browser, "projector", viewport={"width": 1920, "height": 1080})
        projector.goto(url + info["projector_url"])
        coach.reveal(True)
        coach.call("show_on_projector", view="changes")
        projector.wait_for_selector(".results-changes .change")
        text = projector.text_content(".results-changes")
        assert "Round 1 → agreed answer" in text and "Table 1" in text
        assert "People moved to their table's answer" in text
        shots(projector, "projector-what-changed")
        for width, height in ((1280, 720), (1024, 768)):
            resize(projector, width, height)
            found = layout(projector)
            assert found["out"] == [] and found["scrollHeight"] <= found["height"] + 1, found
            shots(projector, f"projector-what-changed-{width}x{height}")
        console.wait_for_selector("#what-changed")
        shots(console, "console-what-changed", full_page=True)
        change = coach.call("facilitate")["snapshot"]["results"]["changes"]["tables"][0]
        assert change["answer"] == agreed and change["to_answer"]["people"] == 4
    finally:
        other.close()
