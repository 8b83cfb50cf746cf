"""Task 5.1 run end to end in real browsers: a trainer's console, a projector and four phones.

Table 1: Ana (ranks with the keyboard and the move buttons only) and Ben (drags); their discard
ties and the trainer settles it. Table 2: a participant with a hostile display name (taps the
buttons) and Dee (reloads in the middle of ranking and gets the ranking back). The projector's
consensus is checked against facilitator.consensus.aggregate_group computed here from what the
phones submitted, and the CSV downloaded from the console is parsed and compared.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from conftest import expect
from phones import tap_to_press
from phones import vote as vote_on

from facilitator.consensus import aggregate_group, aggregate_room
from facilitator.decks import find_deck

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
STATEMENTS = list(range(1, 11))
STATEMENTS_TEXT = {s.number: s.text for s in find_deck("task-5-1").statements}
ALL_ANSWERED = ("() => [...document.querySelectorAll('.gp .big')]"
                ".map(e => e.textContent).join() === '2 / 2,2 / 2'")


# -- phone helpers ---------------------------------------------------------------------------
def join(phone, url, code, name, group):
    phone.goto(f"{url}/j/{code}")
    phone.wait_for_selector("#join-form")
    phone.fill("#name", name)
    radio = phone.locator("label.tile", has_text=group)
    if radio.count():
        radio.tap()
    phone.tap("#join-button")
    phone.wait_for_selector(".card.wait")
    who = phone.inner_text("#who")
    assert group in who, f"{name} was placed at {who!r}, not {group}"


def vote(phone, statement):
    vote_on(phone, statement)
    chosen = phone.get_attribute(f'button.choice[data-statement="{statement}"]', "aria-pressed")
    assert chosen == "true"


def order_of(phone, list_id):
    return phone.eval_on_selector_all(
        f"#{list_id} > li", "els => els.map(e => Number(e.dataset.statement))")


def positions_shown(phone, list_id):
    return phone.eval_on_selector_all(
        f"#{list_id} > li .pos", "els => els.map(e => Number(e.textContent))")


def arrange_with_buttons(phone, list_id, target, keyboard):
    """Move each statement up into place with the ▲ buttons (tapped, or Enter on the focused
    one)."""
    for i, statement in enumerate(target):
        at = order_of(phone, list_id).index(statement)
        if at == i:
            continue
        up = phone.locator(f'#{list_id} > li[data-statement="{statement}"] .move.up')
        if keyboard:
            up.focus()
            for _ in range(at - i):
                phone.keyboard.press("Enter")
            # the keyboard stays on the moved statement's button
            focused = phone.evaluate("document.activeElement.closest('li').dataset.statement")
            assert focused == str(statement)
        else:
            for step in range(at - i):
                up.tap()
                # the click comes from the touch gesture after tap() returns: wait for the move
                phone.wait_for_function(
                    "([id, n, want]) => [...document.querySelectorAll(`#${id} > li`)]"
                    ".findIndex((li) => li.dataset.statement === String(n)) === want",
                    arg=[list_id, statement, at - step - 1])
        assert order_of(phone, list_id)[i] == statement
    assert order_of(phone, list_id) == target
    assert positions_shown(phone, list_id) == list(range(1, len(target) + 1))


def drag_up_one(phone, list_id, statement, touch):
    """Drag a statement's handle onto the item above it (SortableJS), by touch or by mouse.

    One step at a time, with the item scrolled to the middle of the screen: what a person does
    with a thumb, and never under the sticky save bar.
    """
    item = phone.locator(f'#{list_id} > li[data-statement="{statement}"]')
    item.evaluate("e => e.scrollIntoView({block: 'center'})")
    index = order_of(phone, list_id).index(statement)
    source = item.locator(".handle").bounding_box()
    target = phone.locator(f"#{list_id} > li").nth(index - 1).locator(".handle").bounding_box()
    x0, y0 = source["x"] + source["width"] / 2, source["y"] + source["height"] / 2
    x1, y1 = target["x"] + target["width"] / 2, target["y"] + target["height"] * 0.4
    steps = [(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10) for k in range(1, 11)]
    if touch:
        cdp = phone.context.new_cdp_session(phone)
        def touch_event(kind, points):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

        touch_event("touchStart", [{"x": x0, "y": y0}])
        for x, y in steps:
            touch_event("touchMove", [{"x": x, "y": y}])
            phone.wait_for_timeout(12)
        touch_event("touchEnd", [])
        cdp.detach()
    else:
        phone.mouse.move(x0, y0)
        phone.mouse.down()
        for x, y in steps:
            phone.mouse.move(x, y)
            phone.wait_for_timeout(12)
        phone.mouse.up()
    phone.wait_for_function(
        "([id, at, n]) => document.querySelectorAll(`#${id} > li`)[at].dataset.statement === n",
        arg=[list_id, index - 1, str(statement)])
    # SortableJS animates the swap (150 ms): the next drag starts once the items are still, as
    # a person's would; grabbing a moving item aims at where it was, not where it is.
    phone.wait_for_function(
        "id => [...document.querySelectorAll(`#${id} > li`)]"
        ".every(li => !li.style.transform && !li.style.transition)", arg=list_id)


def arrange_by_drag(phone, list_id, target, touch=True):
    for i, statement in enumerate(target):
        while order_of(phone, list_id).index(statement) > i:
            drag_up_one(phone, list_id, statement, touch)
    assert order_of(phone, list_id) == target
    assert positions_shown(phone, list_id) == list(range(1, len(target) + 1))


def save(phone, button_text):
    phone.get_by_role("button", name=button_text).tap()
    phone.wait_for_selector("#save-state[data-state=saved]")


def pick_top(phone, picks):
    phone.wait_for_selector("#pick-list")
    for statement in picks:
        # the click comes from the touch gesture after tap() returns: wait for it to show
        tap_to_press(phone, f'#pick-list button[data-statement="{statement}"]')
    expect(phone.locator("#pick-counter")).to_have_text("5 of 5 chosen")
    phone.tap("#to-order")
    phone.wait_for_selector("#top-list")


def reveal(console):
    """Tick "Show results on the projector" on the console page. Not check(), which reads the box
    straight after its click: the console's snapshots come up to half a second after the
    projector's, and one built before the click (results hidden) unticks the box again until
    the click's own answer arrives."""
    toggle = console.locator("#reveal-toggle")
    expect(toggle).not_to_be_checked()
    toggle.click()
    expect(toggle).to_be_checked()


def no_horizontal_scroll(page):
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def fits(page):
    """The projector shows everything without scrolling (asserted with the sizes in the message)."""
    sizes = page.evaluate(
        "(() => { const d = document.documentElement, b = document.getElementById('proj-body');"
        " return [d.scrollWidth, d.clientWidth, d.scrollHeight, d.clientHeight,"
        " b.scrollHeight, b.clientHeight]; })()")
    page_w, view_w, page_h, view_h, body_h, box_h = sizes
    assert page_w <= view_w and page_h <= view_h and body_h <= box_h + 1, sizes
    return True


# -- the workshop ----------------------------------------------------------------------------
def test_task_5_1_whole_workshop(browser, live_server, pages, shots):
    url = live_server.url
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})

    # The trainer creates the session on the start page.
    console.goto(url + "/")
    shots(console, "start-page", full_page=True)
    console.fill("#title", "Multi-agency training – Tuesday")
    console.fill("#group-names", "Table 1\nTable 2")
    console.click("#create-button")
    console.wait_for_url("**/facilitator/**")
    console.wait_for_selector("#stepper li.current")
    code = console.inner_text("#join-code").strip()
    assert re.fullmatch(r"[A-Z0-9]{4,12}", code)
    assert console.locator("img.qr").evaluate("img => img.complete && img.naturalWidth > 0")

    projector = pages.new_page(browser, "projector", viewport={"width": 1920, "height": 1080})
    projector.goto(url + console.get_attribute("#projector-link", "href"))
    projector.wait_for_selector(".lobby .code")
    assert projector.inner_text(".lobby .code") == code
    small = pages.new_page(browser, "projector-720", viewport={"width": 1280, "height": 720})
    small.goto(projector.url)

    # Four phones join, two per table.
    people = [("Ana", "Table 1"), (HOSTILE, "Table 2"), ("Ben", "Table 1"), ("Dee", "Table 2")]
    phones = {}
    for name, group in people:
        phone = pages.phone(browser, name)
        if not phones:
            phone.goto(f"{url}/j/{code}")
            phone.wait_for_selector("#join-form")
            shots(phone, "phone-1-join")
        join(phone, url, code, name, group)
        phones[name] = phone
    ana, ben, bad, dee = (phones[n] for n in ("Ana", "Ben", HOSTILE, "Dee"))
    shots(ana, "phone-2-lobby")

    # The hostile name is text on the projector and the console, and nothing ran.
    projector.wait_for_function(
        "() => document.querySelectorAll('.group-joins .count')[1]?.textContent === '2'")
    assert HOSTILE in projector.locator(".group-joins").inner_text()
    assert projector.locator(".group-joins img").count() == 0
    console.wait_for_selector(".people li >> nth=3")
    assert console.locator(".pname", has_text=HOSTILE).count() == 1
    assert console.locator(".people img").count() == 0
    assert fits(projector)
    shots(projector, "projector-1-lobby")

    # -- discard: Table 1 ties (3 vs 6), Table 2 agrees on 5 -------------------------------
    console.click("#next-step")
    ana.wait_for_selector("#discard-list")
    ana.tap('button.choice[data-statement="9"]')
    expect(ana.locator("#confirm-sheet")).to_be_visible()  # the tap's click has opened it
    shots(ana, "phone-3-discard-confirm")
    ana.tap("#confirm-yes")
    ana.wait_for_selector("#save-state[data-state=saved]")
    vote(ana, 3)  # changed her mind: the latest vote counts
    shots(ana, "phone-4-discard-saved")
    vote(ben, 6)
    vote(bad, 5)
    vote(dee, 5)
    votes = {"Ana": 3, "Ben": 6, HOSTILE: 5, "Dee": 5}
    projector.wait_for_function(ALL_ANSWERED)
    shots(projector, "projector-2-progress")

    reveal(console)
    projector.wait_for_selector(".results-discard .matrix td.votes")
    assert fits(projector)
    shots(projector, "projector-3-discard-tally")

    console.click("#close-step")
    console.wait_for_selector("#ties:not([hidden]) .tie")
    ana.wait_for_selector("text=Your table is tied")
    shots(ana, "phone-5-discard-tied")
    dee.wait_for_selector(".card.decided")
    assert "5" in dee.inner_text(".card.decided")
    shots(console, "console-1-tie", full_page=True)
    console.click('#ties [data-action=settle][data-statement="6"]')
    console.wait_for_selector("#ties", state="hidden")
    discards = {"Table 1": 6, "Table 2": 5}

    # -- rank --------------------------------------------------------------------------------
    console.click("#next-step")
    for phone in phones.values():
        phone.wait_for_selector("#rank-list > li")
    assert 6 not in order_of(ana, "rank-list") and 5 not in order_of(dee, "rank-list")
    shots(ana, "phone-6-rank")
    rankings = {
        "Ana": [8, 1, 10, 2, 4, 9, 7, 3, 5],
        "Ben": [1, 8, 2, 10, 9, 4, 3, 7, 5],
        HOSTILE: [1, 8, 10, 2, 4, 9, 7, 6, 3],
        "Dee": [8, 1, 2, 10, 9, 4, 7, 3, 6],
    }
    arrange_with_buttons(ana, "rank-list", rankings["Ana"], keyboard=True)
    assert ana.get_attribute("#save-state", "data-state") == "unsaved"
    save(ana, "Save my ranking")
    shots(ana, "phone-7-rank-saved")

    arrange_by_drag(ben, "rank-list", [8, 1, 2, 10, 9, 4, 3, 7, 5])
    save(ben, "Save my ranking")
    arrange_by_drag(ben, "rank-list", rankings["Ben"])  # a later change re-saves by itself
    ben.wait_for_selector("#save-state[data-state=saved]")

    arrange_with_buttons(bad, "rank-list", rankings[HOSTILE], keyboard=False)
    save(bad, "Save my ranking")

    arrange_with_buttons(dee, "rank-list", rankings["Dee"][:4] + [3, 4, 6, 7, 9], keyboard=False)
    save(dee, "Save my ranking")
    arrange_with_buttons(dee, "rank-list", rankings["Dee"], keyboard=False)
    dee.reload()  # mid-rank: the ranking on screen comes back, and is saved
    dee.wait_for_selector("#rank-list > li")
    assert order_of(dee, "rank-list") == rankings["Dee"]
    dee.wait_for_selector("#save-state[data-state=saved]")

    for phone in phones.values():
        assert no_horizontal_scroll(phone)
    projector.wait_for_function(ALL_ANSWERED)
    reveal(console)
    projector.wait_for_selector(".results-matrix .matrix")

    def expected(group, names, tops=()):
        return aggregate_group(STATEMENTS, discard_votes=[votes[n] for n in names],
                               group_discard=discards[group],
                               rankings=[rankings[n] for n in names],
                               tops=[tops_[n] for n in names] if tops else ())

    table1 = expected("Table 1", ["Ana", "Ben"])
    table2 = expected("Table 2", [HOSTILE, "Dee"])
    # the room matrix: each table's column is its consensus position, its discard marked
    for column, result in ((1, table1), (2, table2)):
        cells = projector.eval_on_selector_all(
            f".matrix tbody tr td:nth-of-type({column})",
            "tds => tds.map(td => [Number(td.parentElement.dataset.key.slice(2)),"
            " td.textContent.trim()])")
        assert {s: t for s, t in cells} == {
            **{s: str(i + 1) for i, s in enumerate(result.consensus_order)},
            result.group_discard: "✕discarded"}
    assert fits(projector)
    shots(projector, "projector-4-rank-matrix")
    small.wait_for_selector(".results-matrix .matrix")
    assert fits(small)
    shots(small, "projector-4-rank-matrix-1280x720")
    # the trainer puts one table on the projector from the console, then one statement
    expect(console.locator(".projector-now")).to_contain_text("the room matrix")
    for number, result in ((1, table1), (2, table2)):
        console.click(f'#projector-choice [data-action=project][data-table="{number}"]')
        projector.wait_for_selector(f'.results-table h2:text-is("Table {number}")')
        shown = projector.eval_on_selector_all(
            '.heat-table tbody tr', "rows => rows.map(r => Number(r.dataset.key.slice(2)))")
        assert shown == list(result.consensus_order)
        assert projector.inner_text(".meter .w") == f"W {result.concordance.w:.2f}"
        # the console hears its click's answer on its own socket: not before the projector
        expect(console.locator(".projector-now")).to_contain_text(f"Table {number} in detail")
    assert fits(projector)
    shots(projector, "projector-4-rank-one-table")
    console.click('#projector-choice [data-action=project][data-statement="8"]')
    projector.wait_for_selector(".results-statement .histogram")
    assert STATEMENTS_TEXT[8] in projector.inner_text(".statement-head")
    assert fits(projector)
    shots(projector, "projector-4-rank-one-statement")
    console.click("#close-step")

    # -- similarities and differences ----------------------------------------------------------
    console.click("#next-step")
    projector.wait_for_selector(".results-compare .compare-grid")
    ana.wait_for_selector("text=Discuss with your table")
    ana.wait_for_selector("text=Your table is split on")
    split = ana.eval_on_selector_all(
        "section:has(h2:text-is('Your table is split on')) li",
        "els => els.map(e => Number(e.dataset.statement))")
    assert split == list(table1.contested)
    assert fits(projector)
    shots(projector, "projector-5-similarities")
    ana.evaluate("window.scrollTo(0, 0)")
    shots(ana, "phone-8-similarities")

    # -- top five --------------------------------------------------------------------------------
    console.click("#next-step")
    tops_ = {
        "Ana": [8, 1, 10, 2, 4],
        "Ben": [1, 8, 2, 9, 10],
        HOSTILE: [1, 8, 10, 2, 4],
        "Dee": [8, 2, 1, 10, 9],
    }
    for name, phone in phones.items():
        picks = sorted(tops_[name])  # picked in another order, then arranged
        pick_top(phone, picks)
        if name == "Ana":
            shots(phone, "phone-9-top-order")
        if name == "Ben":
            arrange_by_drag(phone, "top-list", tops_[name], touch=False)
        else:
            arrange_with_buttons(phone, "top-list", tops_[name], keyboard=name == "Ana")
        save(phone, "Save my top 5")
    shots(ana, "phone-10-top-saved")
    console.click("#close-step")

    # -- results ----------------------------------------------------------------------------------
    console.click("#next-step")
    projector.wait_for_selector(".results-matrix .matrix")
    table1 = expected("Table 1", ["Ana", "Ben"], tops=True)
    table2 = expected("Table 2", [HOSTILE, "Dee"], tops=True)
    rows = projector.eval_on_selector_all(
        ".matrix tbody tr", "rows => rows.map(r => Number(r.dataset.key.slice(2)))")
    room = aggregate_room(STATEMENTS, [table1, table2],
                          [[rankings[n] for n in ("Ana", "Ben")],
                           [rankings[n] for n in (HOSTILE, "Dee")]], 5)
    assert rows == list(room.consensus_order)
    assert fits(projector)
    shots(projector, "projector-6-results")
    shots(ana, "phone-11-results")
    shots(console, "console-2-results", full_page=True)

    small.wait_for_selector(".results-matrix .matrix")
    assert fits(small)
    shots(small, "projector-7-results-1280x720")

    # -- the CSV from the console matches what the phones gave ---------------------------------
    with console.expect_download() as download:
        console.click("#export-responses")
    with open(download.value.path(), encoding="utf-8-sig") as f:
        text = f.read()
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(text))}
    assert set(rows) == set(votes)
    group_of = dict(people)
    for name, row in rows.items():
        assert row["group"] == group_of[name]
        assert int(row["discard_vote"]) == votes[name]
        assert int(row["group_discard"]) == discards[group_of[name]]
        assert [int(row[f"rank_{k}"]) for k in range(1, 10)] == rankings[name]
        assert [int(row[f"top_{k}"]) for k in range(1, 6)] == tops_[name]

    # Nothing went wrong in any page, and the hostile name never ran.
    assert pages.dialogs == []
    assert pages.errors == []
