"""A trainer's destructive moves and a participant's starting order, in real browsers (issue 12,
items 2, 6 and 7): re-opening the discard vote asks first and names what would be lost; phones
whose answers were cleared are told why; going back or skipping ahead asks, the next step is one
click; each participant's ranking starts in an order of their own unless the trainer turned it
off; the deck's instructions show in the phone's and the projector's lobby."""

from __future__ import annotations

import pytest
from driver import LivePhone
from own_statements import SIX_STATEMENTS
from phones import join_phone, vote

pytestmark = pytest.mark.browser

ORDER = "els => els.map(e => Number(e.dataset.statement))"


def current_step(console):
    return console.get_attribute("#stepper li.current", "data-key")


def no_dialog(console):
    console.wait_for_timeout(200)
    return console.locator("#confirm-dialog[open]").count() == 0


def test_reopening_the_discard_asks_first_and_phones_are_told_what_was_cleared(
        browser, live_server, pages, shots):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    url, code = live_server.url, info["code"]
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
    console.goto(url + info["facilitator_url"])
    console.wait_for_selector("#stepper li.current")
    kim = join_phone(pages, browser, url, code, "Kim", "Table 1")
    ben, cat = LivePhone(url, code, "Ben", 1), LivePhone(url, code, "Cat", 2)
    try:
        console.click("#next-step")  # next: one click, no question
        assert no_dialog(console)
        vote(kim, 10)
        ben.submit("discard", 10)
        cat.submit("discard", 3)
        console.click("#close-step")
        console.wait_for_selector("#next-step")
        console.click("#next-step")
        assert no_dialog(console)
        kim.wait_for_selector("#rank-list > li")
        kim.get_by_role("button", name="Save my ranking").tap()
        kim.wait_for_selector("#save-state[data-state=saved]")
        ben.resume()
        ben.submit("rank", [9, 8, 7, 6, 5, 4, 3, 2, 1])
        cat.resume()
        cat_rank = [s for s in range(1, 11) if s != 3]
        cat.submit("rank", cat_rank)
        # Both tables' rankings on the console before it is asked: its snapshots are coalesced,
        # and one can show Table 1's two before Table 2's one (the warning would then omit it).
        console.wait_for_function(
            "() => ['2 of 2 answered', '1 of 1 answered'].every("
            "(t) => document.querySelector('#groups').textContent.includes(t))")

        # The stepper's discard button: the console names what would be lost, table by table.
        console.click('#stepper button[data-step="discard"]')
        console.wait_for_selector("#confirm-dialog[open]")
        text = console.text_content("#confirm-text")
        assert "Table 1's discard may change: its 2 rankings would be cleared." in text
        assert "Table 2's discard may change: its 1 ranking would be cleared." in text
        assert console.text_content("#confirm-title") == "Re-open the discard vote?"
        shots(console, "console-reopen-discard-confirm")
        console.click("#confirm-cancel")
        assert no_dialog(console) and current_step(console) == "rank"  # nothing happened
        assert kim.get_attribute("#step-label", "data-step") == "rank"

        console.click('#stepper button[data-step="discard"]')
        console.wait_for_selector("#confirm-dialog[open]")
        console.click("#confirm-ok")
        vote(kim, 9)
        ben.submit("discard", 9)
        console.click("#close-step")  # Table 1 now discards 9; Table 2 still 3
        kim.wait_for_selector("#cleared-note")
        note = kim.inner_text("#cleared-note")
        assert note.startswith("Your ranking was cleared: your table's discard changed from "
                               "statement 10 to statement 9 when the trainer ran the vote again.")
        shots(kim, "phone-390-answers-cleared")
        assert cat.resume()["answers"]["rank"] == cat_rank  # Table 2's discard did not change
        assert ben.resume()["answers"]["rank"] is None
        kim.reload()  # the note survives a reload
        kim.wait_for_selector("#cleared-note")
        console.click("#next-step")  # rank again
        assert no_dialog(console)
        kim.wait_for_selector("#rank-list > li")
        assert kim.locator("#cleared-note").count() == 1
        kim.get_by_role("button", name="Save my ranking").tap()
        kim.wait_for_selector("#save-state[data-state=saved]")
        kim.reload()  # answered again: the note has done its job
        kim.wait_for_selector("#rank-list > li")
        assert kim.locator("#cleared-note").count() == 0

        # Skipping ahead asks; so does going back.
        console.click('#stepper button[data-step="results"]')
        console.wait_for_selector("#confirm-dialog[open]")
        assert console.text_content("#confirm-title") == "Skip ahead to Results?"
        assert "skipping Similarities and differences, Top five" in console.text_content(
            "#confirm-text")
        console.click("#confirm-cancel")
        assert current_step(console) == "rank"
        console.click('#stepper button[data-step="lobby"]')
        console.wait_for_selector("#confirm-dialog[open]")
        assert console.text_content("#confirm-title") == "Go back to Joining?"
        console.click("#confirm-ok")
        console.wait_for_function(
            "() => document.querySelector('#stepper li.current')?.dataset.key === 'lobby'")
        kim.wait_for_function(
            "() => document.querySelector('#step-label').dataset.step === 'lobby'")
    finally:
        ben.close()
        cat.close()
    assert pages.errors == [] and pages.dialogs == []


def test_each_participant_starts_from_an_order_of_their_own_that_survives_a_reload(
        browser, live_server, pages, trainer):
    info = live_server.create_session(groups=["Table 1"], shuffle=True)
    coach = trainer(live_server.url, info["facilitator_token"])
    phones = [join_phone(pages, browser, live_server.url, info["code"], name, "Table 1")
              for name in ("Ana", "Ben", "Cat")]
    coach.open("discard")
    for phone in phones:
        vote(phone, 10)
    coach.close_step()
    coach.open("rank")
    orders = []
    for phone in phones:
        phone.wait_for_selector("#rank-list > li")
        orders.append(phone.eval_on_selector_all("#rank-list > li", ORDER))
    for order in orders:
        assert sorted(order) == list(range(1, 10))
    assert len({tuple(o) for o in orders}) == 3  # each their own
    assert [o[0] for o in orders] != [1, 1, 1]
    phones[0].reload()
    phones[0].wait_for_selector("#rank-list > li")
    assert phones[0].eval_on_selector_all("#rank-list > li", ORDER) == orders[0]
    assert pages.errors == []


def test_a_trainer_who_turns_shuffling_off_gets_the_decks_order_on_every_phone(
        browser, live_server, pages, trainer):
    start = pages.new_page(browser, "start", viewport={"width": 1280, "height": 900})
    start.goto(live_server.url + "/")
    assert start.is_checked("#shuffle")  # on unless the trainer says otherwise
    start.select_option("#deck", "")
    start.fill("#statements", "\n".join(SIX_STATEMENTS))
    start.select_option("#discard", "0")
    start.fill("#top", "3")
    start.fill("#group-names", "Window")
    assert start.input_value("#group-count") == "1"  # the count follows the names
    start.uncheck("#shuffle")
    start.click("#create-button")
    start.wait_for_url("**/facilitator/**")
    start.wait_for_selector("#stepper li.current")
    code = start.inner_text("#join-code").strip()
    token = start.url.rsplit("/", 1)[1]
    coach = trainer(live_server.url, token)
    phone = join_phone(pages, browser, live_server.url, code, "Ana", "Window")
    coach.open("rank")
    phone.wait_for_selector("#rank-list > li")
    assert phone.eval_on_selector_all("#rank-list > li", ORDER) == [1, 2, 3, 4, 5, 6]
    assert pages.errors == []


def test_the_landing_page_refuses_a_top_that_leaves_no_choice_and_disagreeing_tables(
        browser, live_server, pages):
    start = pages.new_page(browser, "start", viewport={"width": 1280, "height": 900})
    start.goto(live_server.url + "/")
    start.select_option("#deck", "")
    start.fill("#statements", "\n".join(SIX_STATEMENTS))  # six, discard one, top 5 (defaults)
    start.click("#create-button")
    start.wait_for_selector("#create-error:not([hidden])")
    assert "a top 5 would leave nothing to choose" in start.inner_text("#create-error")
    start.fill("#top", "4")
    start.fill("#group-names", "Window\nDoor")
    start.fill("#group-count", "4")  # changed after the names: disagrees
    start.click("#create-button")
    start.wait_for_function("() => document.querySelector('#create-error').textContent"
                            ".startsWith('You asked for 4 tables but named 2.')")
    start.fill("#group-count", "2")
    start.click("#create-button")
    start.wait_for_url("**/facilitator/**")


def test_the_decks_instructions_show_in_the_phone_and_projector_lobbies(
        browser, live_server, pages, shots, layout):
    info = live_server.create_session(groups=["Window table", "Door table", "Back table"])
    phone = join_phone(pages, browser, live_server.url, info["code"], "Ana", "Window table")
    items = phone.locator("#instructions li")
    assert items.count() == 6
    assert items.first.inner_text().startswith("Read the ten statements below")
    assert "•" not in phone.inner_text("#instructions")
    # the screen is cards only: no stray text (a "null" for an absent card) between them
    assert phone.evaluate("[...document.querySelector('#app').childNodes]"
                          ".every(n => n.nodeType === Node.ELEMENT_NODE)")
    shots(phone, "phone-390-lobby-instructions", full_page=True)
    for size in ({"width": 1920, "height": 1080}, {"width": 1024, "height": 768}):
        projector = pages.new_page(browser, f"projector {size['width']}", viewport=size)
        projector.goto(live_server.url + info["projector_url"])
        projector.wait_for_selector(".lobby-instructions li", state="attached")
        assert projector.locator(".lobby-instructions li").count() == 6
        # whole on a 1080p projector; on a shorter screen whole, or left out
        visible = projector.is_visible(".lobby-instructions")
        assert visible or size["height"] < 900
        if visible:
            assert projector.eval_on_selector(".lobby-instructions",
                                              "e => e.scrollHeight <= e.clientHeight + 1")
        rows = projector.eval_on_selector_all(".group-joins li", "els => els.map(e => ["
                                              "e.scrollHeight, e.clientHeight])")
        assert all(client >= scroll > 20 for scroll, client in rows), rows  # tables not squeezed
        shown = layout(projector)
        assert shown["out"] == [] and shown["scrollHeight"] <= shown["height"], shown
        shots(projector, f"projector-lobby-instructions-{size['width']}")
    assert pages.errors == []


def test_a_tied_revote_keeps_the_ranking_and_the_phone_is_told_only_when_it_is_cleared(
        browser, live_server, pages, trainer):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    url, code = live_server.url, info["code"]
    console = trainer(url, info["facilitator_token"])
    kim = join_phone(pages, browser, url, code, "Kim", "Table 1")
    ben = LivePhone(url, code, "Ben", 1)
    try:
        console.open("discard")
        vote(kim, 10)
        ben.submit("discard", 10)
        console.open("rank")
        kim.wait_for_selector("#rank-list > li")
        kim.get_by_role("button", name="Save my ranking").tap()
        kim.wait_for_selector("#save-state[data-state=saved]")

        def revote_tied():
            console.open("discard")
            vote(kim, 10)
            ben.submit("discard", 9)
            tied = console.close_step()["snapshot"]["groups"][0]
            assert tied["discard_tied"] == [9, 10] and tied["answered"]["rank"] == 1
            kim.wait_for_selector("text=Your table is tied")

        revote_tied()
        console.call("settle", group=1, statement=10)  # back on the same statement
        console.open("rank")
        kim.wait_for_selector("#rank-list > li")
        kim.wait_for_timeout(300)
        assert kim.locator("#cleared-note").count() == 0
        assert console.snapshot["groups"][0]["answered"]["rank"] == 1

        revote_tied()
        assert kim.locator("#cleared-note").count() == 0  # tied: nothing cleared yet
        console.call("settle", group=1, statement=9)
        kim.wait_for_selector("#cleared-note")
        assert kim.inner_text("#cleared-note").startswith(
            "Your ranking was cleared: your table's discard changed from statement 10 to "
            "statement 9 when the trainer ran the vote again.")
    finally:
        ben.close()


def test_a_double_click_on_next_sends_the_step_change_once(browser, live_server, pages,
                                                           trainer):
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    url = live_server.url
    watcher = trainer(url, info["facilitator_token"])
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
    console.goto(url + info["facilitator_url"])
    console.wait_for_selector("#stepper li.current")
    before = watcher.call("facilitate")["snapshot"]["version"]
    # both clicks in one task, before any ack can arrive: the second finds the button disabled
    disabled = console.evaluate("""() => {
      const next = document.querySelector('#next-step');
      next.click();
      const between = next.disabled;
      next.click();
      return between;
    }""")
    assert disabled
    console.wait_for_function(
        "() => document.querySelector('#stepper li.current')?.dataset.key === 'discard'")
    console.wait_for_selector("#close-step:not([disabled])")  # enabled again after the ack
    console.wait_for_timeout(300)
    after = watcher.call("facilitate")["snapshot"]
    assert (after["session"]["step"], after["version"]) == ("discard", before + 1)
    console.dblclick("#close-step")
    console.wait_for_selector("#next-step:not([disabled])")
    console.wait_for_timeout(300)
    closed = watcher.call("facilitate")["snapshot"]
    assert (closed["session"]["step"], closed["session"]["open"], closed["version"]) == (
        "discard", False, before + 2)
    assert pages.dialogs == [] and pages.errors == []
