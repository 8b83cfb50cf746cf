"""The projector (and console) live: a step played as a table shows each table's shared board,
not individual answers (issue 13), readable from the back at every size; a projector and a
console that the server turns away (busy) ask again until they are in, without a reload."""

from __future__ import annotations

import pytest
from conftest import axe_violations
from driver import LivePhone
from held_disk import HeldDiskServer
from test_other_decks import check_fits

pytestmark = pytest.mark.browser

SIZES = [(1920, 1080), (1280, 720), (1024, 768)]

# Every text on the progress view with its font size, and the headline's.
TEXTS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('#proj-body .headline, #proj-body .subline, '
      + '#proj-body .gp .gname, #proj-body .gp .big, #proj-body .gp .of, #proj-body .gp .state')) {
    out.push([el.className, el.textContent.trim(), parseFloat(getComputedStyle(el).fontSize)]);
  }
  return out;
}"""


def tiles(page) -> dict[str, str]:
    """Each table's tile on the projector: its name → the rest of its text."""
    return dict(page.eval_on_selector_all(
        "#proj-body .gp", "els => els.map(e => [e.querySelector('.gname').textContent,"
        " e.textContent.slice(e.querySelector('.gname').textContent.length)])"))


@pytest.mark.parametrize("tables", [3, 8])
def test_a_step_played_as_a_table_shows_each_tables_board_on_the_projector(
        browser, live_server, pages, trainer, shots, layout, tables):
    names = [f"Table {t}" for t in range(1, tables + 1)]
    info = live_server.create_session(groups=names, title="Tables agree")
    url, code = live_server.url, info["code"]
    coach = trainer(url, info["facilitator_token"])
    projector = pages.new_page(browser, "projector", viewport={"width": 1920, "height": 1080})
    projector.goto(url + info["projector_url"])
    projector.wait_for_selector(".lobby .code")
    # table 1 has three members, the others two
    crowd = [LivePhone(url, code, f"P{t}-{k}", t)
             for t in range(1, tables + 1) for k in range(3 if t == 1 else 2)]
    try:
        coach.call("open_step", step="discard", mode="table")
        by_table: dict[int, list[LivePhone]] = {}
        for p in crowd:
            state = p.resume()
            assert state["board"] is not None
            by_table.setdefault(state["participant"]["group"]["id"], []).append(p)
        projector.wait_for_selector(".progress.table-mode")
        assert projector.inner_text(".headline") == f"0 of {tables} tables agreed"

        # table 1: all three agree, so its answer locks; table 2: one of two agrees;
        # table 3: the trainer locks it as it stands
        version = by_table[1][0].state["board"]["version"]
        for p in by_table[1]:  # each agreement is a new version of the board
            version = p.call("board_agree", version=version)["board"]["version"]
        assert coach.call("facilitate")["snapshot"]["groups"][0]["board"]["locked"]
        first = by_table[2][0]
        first.call("board_agree", version=first.state["board"]["version"])
        coach.call("lock_table", group=3, locked=True)

        projector.wait_for_function(
            "want => document.querySelector('.headline').textContent === want",
            arg=f"2 of {tables} tables agreed")
        shown = tiles(projector)
        assert "✓ agreed" in shown["Table 1"] and "Answer locked" in shown["Table 1"], shown
        assert "1 of 2 agree" in shown["Table 2"] and "Building together" in shown["Table 2"], shown
        assert "✓ agreed" in shown["Table 3"], shown
        for name in names[3:]:
            assert "0 of 2 agree" in shown[name], shown
        assert "have answered" not in projector.inner_text("#proj-body")
        assert projector.locator(".gp.all").count() == 2

        for width, height in SIZES:
            projector.set_viewport_size({"width": width, "height": height})
            projector.wait_for_timeout(200)  # the resize re-renders and refits
            where = f"{tables} tables, table mode, {width}x{height}"
            shots(projector, f"projector-table-mode-{tables}t-{width}x{height}")
            check_fits(projector, layout, where)
            texts = projector.evaluate(TEXTS)
            headline = [size for cls, _, size in texts if cls == "headline"]
            assert headline and headline[0] >= 0.03 * height, (where, texts)
            small = [(cls, text, size) for cls, text, size in texts if size < 0.022 * height]
            assert small == [], (where, small)
            assert axe_violations(projector, where) == []

        # the trainer unlocks table 3: the headline follows
        coach.call("lock_table", group=3, locked=False)
        projector.wait_for_function(
            "want => document.querySelector('.headline').textContent === want",
            arg=f"1 of {tables} tables agreed")
    finally:
        for p in crowd:
            p.close()
    assert pages.dialogs == [] and pages.errors == []




def test_a_projector_and_console_turned_away_busy_ask_again_until_they_are_in(
        browser, pages, trainer, tmp_path):
    # One event handler for the whole server, and a phone's answer held on a stalled disk for
    # as long as the test says: meanwhile any other event is answered "busy"
    # (docs/protocol.md).
    server = HeldDiskServer(tmp_path)
    server.start()
    crowd: list = []
    try:
        info = server.create_session(groups=["Table 1", "Table 2"])
        coach = trainer(server.url, info["facilitator_token"])
        coach.open("discard")
        keeper = LivePhone(server.url, info["code"], "Keeper", 1)
        late = LivePhone(server.url, info["code"], "Late", 2)
        crowd += [keeper, late]

        # the disk stalls: the keeper's answer holds the only handler place
        with server.holding(keeper, "discard", 2, info["projector_key"]):
            projector = pages.new_page(browser, "projector",
                                       viewport={"width": 1280, "height": 720})
            projector.goto(server.url + info["projector_url"])
            console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
            console.goto(server.url + info["facilitator_url"])
            # both were turned away, and say so
            projector.wait_for_function("() => /busy/.test("
                                        "document.querySelector('#proj-foot-text').textContent)")
            console.wait_for_selector("#console-error:not([hidden])")
            assert "busy" in console.inner_text("#console-error")
            assert projector.locator("#proj-body .progress").count() == 0
        # the disk came back: the answer is saved, the place is free

        # the server has room again: both get in by themselves (retries 2 s, 4 s, 8 s apart)
        projector.wait_for_selector("#proj-body .progress", timeout=20_000)
        console.wait_for_selector("#stepper li.current", timeout=20_000)
        assert console.locator("#console-error").is_hidden()
        # ...and they are in their rooms: a new answer shows without a reload
        late.submit("discard", 4)
        projector.wait_for_function(
            "() => document.querySelector('.headline').textContent === '2 of 2 have answered'")
        console.wait_for_function("() => [...document.querySelectorAll('.group-meta')]"
                                  ".every(p => p.textContent.startsWith('1 of 1 answered'))")
    finally:
        for p in crowd:
            p.close()
        server.stop()
    assert pages.dialogs == [] and pages.errors == []


def test_the_console_turns_the_page_of_what_changed(browser, live_server, pages, trainer, shots):
    from playwright.sync_api import expect  # only where Playwright is installed (conftest.py)

    names = [f"Table {t}" for t in range(1, 10)]
    info = live_server.create_session(groups=names, title="Nine tables")
    url, code = live_server.url, info["code"]
    coach = trainer(url, info["facilitator_token"])
    crowd = [LivePhone(url, code, f"P{t}", t) for t in range(1, 10)]
    try:
        # everyone discards 10 and ranks in deck order, then round 2 turns every ranking around
        rounds = [("discard", lambda p: 10), ("rank", lambda p: p.resume()["remaining"]),
                  ("new_round", lambda p: p.resume()["remaining"][::-1])]
        for event, answer in rounds:
            if event == "new_round":
                coach.call(event)
            else:
                coach.open(event)
            for p in crowd:
                p.submit("discard" if event == "discard" else "rank", answer(p))
            if event != "new_round":
                coach.close_step()
        coach.reveal(True)
        console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
        console.goto(url + info["facilitator_url"])
        projector = pages.new_page(browser, "projector", viewport={"width": 1280, "height": 720})
        projector.goto(url + info["projector_url"])
        projector.wait_for_selector(".results-matrix")

        chooser = console.locator("#projector-choice")
        chooser.get_by_role("button", name="What changed").click()
        projector.wait_for_selector(".results-changes .change")
        heads = ".results-changes .change h2"
        assert projector.locator(heads).count() == 8
        assert "Tables 1–8 of 9" in projector.inner_text(".page-note")
        # the page buttons turn the page of "What changed", not of the step's own view
        chooser.get_by_role("group", name="Tables shown").get_by_role(
            "button", name="Tables 9", exact=True).click()
        projector.wait_for_function(
            f"() => document.querySelectorAll('{heads}').length === 1")
        assert projector.locator(heads).inner_text() == "Table 9"
        assert "Tables 9 of 9" in projector.inner_text(".page-note")
        expect(chooser.get_by_role("button", name="Tables 9", exact=True)).to_have_attribute(
            "aria-pressed", "true")
        expect(chooser.get_by_role("button", name="What changed")).to_have_attribute(
            "aria-pressed", "true")
        shots(projector, "projector-what-changed-page-2-1280x720")
    finally:
        for p in crowd:
            p.close()
    assert pages.dialogs == [] and pages.errors == []
