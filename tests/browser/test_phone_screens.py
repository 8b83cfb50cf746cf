"""The participant's phone at 390×844, as a new trainer's room met it (issue 12): each step
starts at its heading, one long touch drag reaches the top of the list, the table's name is
never cut, and each row shows one number that reads as a rank."""

from __future__ import annotations

import pytest
from phones import join_phone

pytestmark = pytest.mark.browser

LONG_TABLE = "Window table by the garden door"
LONG_NAME = "Maximilian Alexander von Hohenberg-Lichtenstein"


def order(phone, list_id="rank-list"):
    return phone.eval_on_selector_all(f"#{list_id} > li",
                                      "els => els.map(e => Number(e.dataset.statement))")


def scroll_to_bottom(phone):
    """Scroll as far down as the screen goes (a short screen may not scroll at all)."""
    phone.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
    phone.wait_for_function("() => window.scrollY >= Math.min(200,"
                            " document.scrollingElement.scrollHeight - innerHeight)")


def heading_on_top(phone, text):
    """The new step's heading is focused, on screen below the sticky bar, the page at its top."""
    phone.wait_for_function("text => document.activeElement?.tagName === 'H1'"
                            " && document.activeElement.textContent.includes(text)", arg=text)
    got = phone.evaluate("""() => {
      const h = document.activeElement.getBoundingClientRect();
      const bar = document.querySelector('#phone-bar').getBoundingClientRect();
      return {scrollY: window.scrollY, top: h.top, bottom: h.bottom, bar: bar.bottom,
              height: innerHeight};
    }""")
    assert got["scrollY"] == 0, got
    assert got["bar"] <= got["top"] and got["bottom"] <= got["height"], got


def start(live_server, trainer, browser, pages, name=LONG_NAME, **body):
    info = live_server.create_session(groups=[LONG_TABLE, "Table 2"], **body)
    coach = trainer(live_server.url, info["facilitator_token"])
    phone = join_phone(pages, browser, live_server.url, info["code"], name, LONG_TABLE)
    return info, coach, phone


def test_each_step_starts_at_its_heading_focused_and_announced(browser, live_server, pages,
                                                               trainer, shots):
    info, coach, phone = start(live_server, trainer, browser, pages)
    scroll_to_bottom(phone)  # reading the statements in the lobby
    coach.open("discard")
    heading_on_top(phone, "Which statement should your table discard?")
    phone.wait_for_function("() => document.querySelector('#announce').textContent"
                            ".startsWith('Step 2 of 6: Discard one, open.')")
    assert "Which statement" in phone.inner_text("#announce")
    phone.tap('button.choice[data-statement="10"]')
    phone.tap("#confirm-yes")
    phone.wait_for_selector("#save-state[data-state=saved]")
    coach.close_step()
    heading_on_top(phone, "Your table discards")
    coach.open("rank")
    heading_on_top(phone, "Rank the statements")
    phone.wait_for_function("() => document.querySelector('#announce').textContent"
                            ".startsWith('Step 3 of 6: Rank, open.')")
    shots(phone, "phone-390-rank-start")
    phone.get_by_role("button", name="Save my ranking").tap()
    phone.wait_for_selector("#save-state[data-state=saved]")
    scroll_to_bottom(phone)
    coach.open("similarities")
    heading_on_top(phone, "Discuss with your table")
    scroll_to_bottom(phone)
    coach.open("top")
    heading_on_top(phone, "Pick your top 5")
    shots(phone, "phone-390-top-start")
    assert pages.errors == [] and pages.dialogs == []


def test_one_touch_drag_moves_the_last_item_to_the_top(browser, live_server, pages, trainer,
                                                       shots):
    """Nine statements on a 390×844 phone: the finger takes item 9 up to just under the sticky
    bar and waits there while the list scrolls, then lets go on the first place."""
    info, coach, phone = start(live_server, trainer, browser, pages, name="Kim")
    coach.open("discard")
    phone.tap('button.choice[data-statement="10"]')
    phone.tap("#confirm-yes")
    phone.wait_for_selector("#save-state[data-state=saved]")
    coach.close_step()
    coach.open("rank")
    phone.wait_for_selector("#rank-list > li")
    before = order(phone)
    assert len(before) == 9
    last = before[-1]
    scroll_to_bottom(phone)
    handle = phone.locator(f'#rank-list > li[data-statement="{last}"] .handle').bounding_box()
    bar = phone.evaluate("document.querySelector('#phone-bar').getBoundingClientRect().bottom")
    x, y0 = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    hold = bar + 30  # just under the sticky bar, where a thumb goes
    cdp = phone.context.new_cdp_session(phone)

    def touch(kind, points):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", [{"x": x, "y": y0}])
    for k in range(1, 21):
        touch("touchMove", [{"x": x, "y": y0 + (hold - y0) * k / 20}])
        phone.wait_for_timeout(16)
    # The finger rests: the page scrolls by itself until the top of the list shows.
    phone.wait_for_function("() => window.scrollY === 0", timeout=8000)
    first = phone.locator("#rank-list > li").first.bounding_box()
    target = first["y"] + first["height"] * 0.3
    for k in range(1, 11):
        touch("touchMove", [{"x": x, "y": hold + (target - hold) * k / 10}])
        phone.wait_for_timeout(16)
    phone.wait_for_timeout(300)
    shots(phone, "phone-390-drag-to-top")
    touch("touchEnd", [])
    cdp.detach()
    phone.wait_for_function(
        "n => document.querySelector('#rank-list > li').dataset.statement === n", arg=str(last))
    assert order(phone) == [last] + before[:-1]
    assert phone.inner_text("#rank-list > li:first-child .pos") == "1"
    assert phone.locator("#rank-list .move").count() == 18  # the buttons stay
    assert pages.errors == [] and pages.dialogs == []


def test_the_table_name_is_never_cut(browser, live_server, pages, trainer, shots):
    info, coach, phone = start(live_server, trainer, browser, pages)
    shown = phone.evaluate("""() => {
      const t = document.querySelector('#who .table'), me = document.querySelector('#who .me');
      const r = t.getBoundingClientRect();
      return {text: t.textContent, scroll: t.scrollWidth, client: t.clientWidth,
              right: r.right, width: document.documentElement.clientWidth,
              meCut: me.scrollWidth > me.clientWidth};
    }""")
    assert shown["text"] == LONG_TABLE
    assert shown["scroll"] <= shown["client"] and shown["right"] <= shown["width"], shown
    assert shown["meCut"]  # the participant's long name gives way instead
    shots(phone, "phone-390-long-table-name")


def test_a_ranked_row_shows_one_number_that_reads_as_a_rank(browser, live_server, pages, trainer):
    info, coach, phone = start(live_server, trainer, browser, pages, name="Kim")
    coach.open("discard")
    coach.close_step()  # nobody voted: a tie of all, settled by the trainer
    coach.call("settle", group=1, statement=10)
    coach.open("rank")
    phone.wait_for_selector("#rank-list > li")
    row = phone.locator("#rank-list > li").first
    statement = row.get_attribute("data-statement")
    big = row.locator(".pos").inner_text()
    assert big == "1"
    # the statement's number is muted and follows the text
    after = row.evaluate("""li => {
      const text = li.querySelector('.text').getBoundingClientRect();
      const ref = li.querySelector('.ref');
      return {ref: ref.textContent, after: ref.getBoundingClientRect().left >= text.left,
              size: parseFloat(getComputedStyle(ref).fontSize),
              pos: parseFloat(getComputedStyle(li.querySelector('.pos')).fontSize)};
    }""")
    assert after["ref"] == f"#{statement}" and after["after"], after
    assert after["size"] < after["pos"] / 1.5, after
    assert "Drag a number" not in phone.inner_text("#app")
