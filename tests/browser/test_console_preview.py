"""The console's results preview (reviewer's report, item 2): each statement by the deck's short
title where it has one, else its whole text wrapped between words; never cut with an ellipsis."""

from __future__ import annotations

import pytest
from driver import LivePhone

from facilitator.decks import find_deck

pytestmark = pytest.mark.browser

SHOWN = """() => [...document.querySelectorAll('#preview .preview-group ol li')].map(li => ({
  text: li.firstChild.textContent, overflows: li.scrollWidth > li.clientWidth + 1}))"""


LONG = [f"Statement {n}: partners think creatively and be innovative about sharing the work"
        f" of number {n} fairly" for n in range(1, 7)]


def previewed(browser, live_server, pages, trainer, shots, ranking, vote=None, **deck):
    """The console's preview after one phone ranked ``ranking`` (after a discard vote)."""
    info = live_server.create_session(group_count=1, groups=None, **deck)
    url = live_server.url
    coach = trainer(url, info["facilitator_token"])
    phone = LivePhone(url, info["code"], "Ana", 1)
    try:
        if vote is not None:
            coach.open("discard")
            phone.submit("discard", vote)
        coach.open("rank")
        phone.submit("rank", ranking)
        coach.open("results")
    finally:
        phone.close()
    name = deck.get("deck") or "pasted"
    console = pages.new_page(browser, f"console-{name}", viewport={"width": 1024, "height": 768})
    console.goto(url + info["facilitator_url"])
    console.wait_for_selector("#preview .preview-group ol li")
    console.locator("#preview").scroll_into_view_if_needed()
    shots(console, f"console-preview-{name}")
    return console.evaluate(SHOWN)


def test_the_preview_shows_the_decks_short_titles(browser, live_server, pages, trainer, shots):
    deck = find_deck("task-5-1")
    ranking = [n for n in range(1, 11) if n != 10]
    shown = previewed(browser, live_server, pages, trainer, shots, ranking, 10, deck="task-5-1")
    titles = {s.number: s.short for s in deck.statements}
    assert [item["text"] for item in shown] == [titles[n] for n in ranking]


def test_the_preview_wraps_whole_statements_where_the_deck_has_no_short_titles(
        browser, live_server, pages, trainer, shots):
    ranking = [6, 5, 4, 3, 2, 1]
    shown = previewed(browser, live_server, pages, trainer, shots, ranking, deck=None,
                      statements="\n".join(LONG), discard=0, top=3)
    assert [item["text"] for item in shown] == [LONG[n - 1] for n in ranking]
    assert not any(item["overflows"] for item in shown)
