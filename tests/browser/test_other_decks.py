"""Decks other than Task 5.1: pasted statements with no discard step and a top three, and the
eleven-statement `partnership-criteria` deck run with eight table groups on one projector."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import expect
from driver import LivePhone
from own_statements import SIX_STATEMENTS
from phones import tap_to_press

pytestmark = pytest.mark.browser

NUMBERS = "els => els.map(e => Number(e.dataset.statement))"


def phone_order(phone, list_id):
    return phone.eval_on_selector_all(f"#{list_id} > li", NUMBERS)


def save_ranking(phone, size):
    """On a browser phone: save the ranking shown, after checking it has `size` statements."""
    phone.wait_for_selector("#rank-list > li")
    shown = phone_order(phone, "rank-list")
    assert len(shown) == size, shown
    phone.get_by_role("button", name="Save my ranking").tap()
    phone.wait_for_selector("#save-state[data-state=saved]")
    return shown


def pick(phone, picks, top, offered):
    """On a browser phone: pick `picks` out of the `offered` statements, order and save them."""
    phone.wait_for_selector("#pick-list")
    assert phone.locator("#pick-list button.pick").count() == offered
    for n in picks:
        # A tap's click arrives after tap() returns (Chromium makes it from the touch gesture):
        # wait for the page to show it, never read the page straight after a tap.
        tap_to_press(phone, f'#pick-list button[data-statement="{n}"]')
    expect(phone.locator("#pick-counter")).to_have_text(f"{top} of {top} chosen")
    assert phone.locator("#pick-list button.pick:disabled").count() == offered - top  # no more
    phone.tap("#to-order")
    phone.wait_for_selector("#top-list")
    assert phone_order(phone, "top-list") == picks
    phone.get_by_role("button", name=f"Save my top {top}").tap()
    phone.wait_for_selector("#save-state[data-state=saved]")


def check_fits(page, layout, what):
    """No scrolling and nothing wider than the viewport; the projector body holds its content."""
    shown = layout(page)
    body = page.evaluate(
        "(() => { const b = document.getElementById('proj-body');"
        " return [b.scrollHeight, b.clientHeight, b.scrollWidth, b.clientWidth]; })()")
    assert shown["out"] == [], (what, shown)
    assert shown["scrollWidth"] <= shown["width"], (what, shown)
    assert shown["scrollHeight"] <= shown["height"], (what, shown)
    assert body[0] <= body[1] + 1 and body[2] <= body[3] + 1, (what, body)
    # Columns and tiles clip their overflow, so a cut-off last row would not scroll anything:
    # measure them, and numbers (places, means, counts) must sit on one line.
    clipped = page.evaluate("""() => {
      const bad = [];
      for (const el of document.querySelectorAll(
          '#proj-body :is(.gp, .panel, .matrix-wrap, .ccol)')) {
        if (el.scrollHeight > el.clientHeight + 2) {
          bad.push(`${el.dataset.key}: ${el.scrollHeight} > ${el.clientHeight}`);
        }
      }
      for (const el of document.querySelectorAll('#proj-body :is(.cell, .mean, .big)')) {
        const r = el.getBoundingClientRect();
        const line = parseFloat(getComputedStyle(el).fontSize) * 1.7;
        if (el.scrollWidth > el.clientWidth + 1 || r.height > line) {
          bad.push(`${el.className} "${el.textContent}" wraps`);
        }
      }
      return bad;
    }""")
    assert clipped == [], (what, clipped)


def test_pasted_statements_without_discard_top_three(browser, live_server, pages, shots, layout):
    url = live_server.url
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 900})
    console.goto(url + "/")
    console.select_option("#deck", "")
    console.wait_for_selector("#own-statements:not([hidden])")
    console.fill("#statements", "\n".join(SIX_STATEMENTS))
    console.select_option("#discard", "0")
    console.fill("#top", "3")
    console.fill("#title", "Our own six")
    console.fill("#group-count", "2")
    shots(console, "decks-1-start-own-statements", full_page=True)
    console.click("#create-button")
    console.wait_for_url("**/facilitator/**")
    console.wait_for_selector("#stepper li.current")
    # no discard step anywhere in the console; the top step is called "Top 3"
    steps = console.eval_on_selector_all("#stepper .name", "els => els.map(e => e.textContent)")
    assert steps == ["Joining", "Rank", "Similarities", "Top 3", "Results"]
    code = console.inner_text("#join-code").strip()

    phones = []
    for i, name in enumerate(["Ana", "Ben"]):
        phone = pages.phone(browser, name)
        phone.goto(f"{url}/j/{code}")
        phone.wait_for_selector("#join-form")
        phone.fill("#name", name)
        phone.locator("label.tile").nth(0).tap()
        phone.tap("#join-button")
        phone.wait_for_selector(".card.wait")
        assert phone.locator(".statement-preview li, .plain-list li").count() == 6
        assert phone.inner_text("#step-label").startswith("1/5")
        phones.append(phone)

    assert console.inner_text("#next-step") == "Next: Rank →"
    console.click("#next-step")  # straight to ranking
    for phone in phones:
        shown = save_ranking(phone, 6)
        assert sorted(shown) == [1, 2, 3, 4, 5, 6]
        assert phone.inner_text("#step-label").startswith("2/5 · Rank")
    shots(phones[0], "decks-2-phone-rank-six")
    console.click("#close-step")
    console.click("#next-step")  # similarities
    # until its ack re-renders, the button still reads "Next: Similarities": a second click
    # would open similarities again (flaky on a busy machine)
    console.wait_for_selector('#stepper li.current[data-key="similarities"]')
    console.click("#next-step")  # top 3
    pick(phones[0], [6, 2, 4], 3, offered=6)
    pick(phones[1], [2, 6, 1], 3, offered=6)
    shots(phones[0], "decks-3-phone-top-three")
    console.click("#close-step")
    console.click("#next-step")  # results
    phones[0].wait_for_selector("text=Your top 3")
    console.wait_for_selector("#preview .preview-group ol li")
    assert pages.dialogs == [] and pages.errors == []


def test_eleven_statements_eight_groups_fit_the_projector(browser, live_server, pages, trainer,
                                                          shots, layout):
    info = live_server.create_session(deck="partnership-criteria", group_count=8, groups=None,
                                      title="Partnership criteria – eight tables")
    url, code = live_server.url, info["code"]
    coach = trainer(url, info["facilitator_token"])
    big = pages.new_page(browser, "projector-1080", viewport={"width": 1920, "height": 1080})
    small = pages.new_page(browser, "projector-720", viewport={"width": 1280, "height": 720})
    for projector in (big, small):
        projector.goto(f"{url}{info['projector_url']}")

    # One real phone at Table 1; fifteen socket phones fill the tables (two each).
    phone = pages.phone(browser, "Ana")
    phone.goto(f"{url}/j/{code}")
    phone.wait_for_selector("#join-form")
    assert phone.locator("label.tile").count() == 8
    phone.fill("#name", "Ana")
    phone.locator("label.tile", has_text="Table 1").tap()
    phone.tap("#join-button")
    phone.wait_for_selector(".card.wait")
    crowd = [LivePhone(url, code, f"P{i}", 1 + i % 8) for i in range(1, 16)]
    try:
        for projector in (big, small):
            projector.wait_for_function(
                "() => [...document.querySelectorAll('.group-joins .count')]"
                ".reduce((n, e) => n + +e.textContent, 0) === 16")
            assert projector.locator(".group-joins li").count() == 8
            check_fits(projector, layout, "lobby")
            assert projector.locator(".group-joins li").last.is_visible()
        shots(small, "decks-4-projector-8-groups-lobby-1280x720")

        # -- discard: each table agrees on one statement (table g discards g) -------------------
        coach.open("discard")
        phone.wait_for_selector("#discard-list")
        assert phone.locator("#discard-list button.choice").count() == 11
        phone.tap('button.choice[data-statement="1"]')
        phone.tap("#confirm-yes")
        phone.wait_for_selector("#save-state[data-state=saved]")
        for p in crowd:
            p.submit("discard", p.state["participant"]["group"]["id"])
        for projector, name in ((big, "1920x1080"), (small, "1280x720")):
            projector.wait_for_function("() => document.querySelector('.progress .headline')"
                                        "?.textContent === '16 of 16 have answered'")
            assert projector.locator(".gp").count() == 8
            check_fits(projector, layout, f"progress {name}")
            shots(projector, f"decks-5-projector-8-groups-progress-{name}")

        coach.reveal(True)
        seen = set()
        for projector, name in ((big, "1920x1080"), (small, "1280x720")):
            projector.wait_for_selector(".results-discard .matrix")
            assert projector.locator(".matrix thead th.m-table:not(.m-room)").count() == 8
            check_fits(projector, layout, f"discard results {name}")
        shots(small, "decks-6-projector-discard-results-1280x720")
        # No page turns by itself: all eight tables stay while answers keep arriving.
        stop = threading.Event()

        def keep_answering():
            k = 0
            while not stop.is_set():
                p = crowd[k % len(crowd)]
                p.submit("discard", p.state["participant"]["group"]["id"])
                k += 1
                time.sleep(0.15)

        busy = threading.Thread(target=keep_answering, daemon=True)
        busy.start()
        try:
            deadline = time.monotonic() + 8
            while len(seen) < 8 and time.monotonic() < deadline:
                seen.add(small.locator(".matrix thead th.m-table:not(.m-room)").count())
                small.wait_for_timeout(250)
        finally:
            stop.set()
            busy.join()
        assert seen == {8}, seen
        coach.close_step()

        # -- rank: ten statements each -------------------------------------------------------------
        coach.open("rank")
        shown = save_ranking(phone, 10)
        assert 1 not in shown
        for p in crowd:
            remaining = p.resume()["remaining"]
            assert len(remaining) == 10
            p.submit("rank", remaining[::-1] if p.n % 2 else remaining)
        coach.reveal(True)
        for projector, name in ((big, "1920x1080"), (small, "1280x720")):
            projector.wait_for_selector(".results-matrix .matrix")
            projector.wait_for_function(
                "() => document.querySelectorAll('.results-matrix tbody tr').length === 11")
            check_fits(projector, layout, f"rank results {name}")
            shots(projector, f"decks-7-projector-rank-{name}")
        coach.close_step()
        coach.open("similarities")
        for projector, name in ((big, "1920x1080"), (small, "1280x720")):
            projector.wait_for_selector(".results-compare .compare-grid")
            check_fits(projector, layout, f"similarities {name}")
        shots(small, "decks-8-projector-similarities-1280x720")

        # -- top five ----------------------------------------------------------------------------
        coach.open("top")
        picks = shown[:5]
        pick(phone, picks, 5, offered=10)
        for p in crowd:
            p.submit("top", p.state["remaining"][:5])
        coach.close_step()
        coach.open("results")
        for projector, name in ((big, "1920x1080"), (small, "1280x720")):
            projector.wait_for_selector(".results-matrix .matrix")
            assert projector.locator(".matrix thead th.m-table:not(.m-room)").count() == 8
            check_fits(projector, layout, f"overview {name}")
            shots(projector, f"decks-9-projector-results-{name}")
        phone.wait_for_selector("text=Your top 5")
    finally:
        for p in crowd:
            p.close()
    assert pages.dialogs == [] and pages.errors == []


def test_organiser_and_error_pages(browser, live_server, pages, shots, layout):
    """The organiser's list of sessions (several decks) and the error page, on a laptop and a
    phone."""
    url = live_server.url
    live_server.create_session(title="Multi-agency training – Tuesday")
    live_server.create_session(deck="partnership-criteria", groups=None, group_count=8)
    live_server.create_session(deck=None, statements="\n".join(SIX_STATEMENTS), discard=0, top=3,
                               title="<b>Our own</b> =SUM(1) " + "long title " * 8)
    laptop = pages.new_page(browser, "organiser", viewport={"width": 1280, "height": 800})
    laptop.goto(url + "/organiser")
    shots(laptop, "organiser-1-login")
    laptop.fill("#secret", "not it")
    laptop.click("button[type=submit]")
    laptop.wait_for_selector(".form-error")
    laptop.fill("#secret", "organiser-secret")
    laptop.click("button[type=submit]")
    laptop.wait_for_selector("table.sessions")
    assert laptop.locator("table.sessions tbody tr").count() == 3
    assert laptop.locator("table.sessions tbody b").count() == 0
    shown = layout(laptop)
    assert shown["out"] == [] and shown["scrollWidth"] <= shown["width"], shown
    shots(laptop, "organiser-2-sessions", full_page=True)
    # Download with nothing ticked: said on the page, no trip to the server's error answer.
    before = laptop.url
    laptop.get_by_role("button", name="Download responses.csv").click()
    laptop.wait_for_selector("#export-error:not([hidden])")
    assert laptop.url == before
    laptop.check("table.sessions tbody tr:last-child input[name=session]")
    assert laptop.locator("#export-error").is_hidden()
    with laptop.expect_download() as download:
        laptop.get_by_role("button", name="Download responses.csv").click()
    assert download.value.suggested_filename.endswith("-responses.csv")

    phone = pages.phone(browser, "organiser-phone")
    phone.context.add_cookies(laptop.context.cookies())
    phone.goto(url + "/organiser")
    phone.wait_for_selector("table.sessions")
    shown = layout(phone)
    assert shown["out"] == [] and shown["scrollWidth"] <= shown["width"], shown
    shots(phone, "organiser-3-sessions-phone", full_page=True)

    for page, name in ((laptop, "laptop"), (phone, "phone")):
        response = page.goto(url + "/projector/no-such-key")
        assert response.status == 404
        assert page.inner_text("h1") == "Not found"
        shown = layout(page)
        assert shown["out"] == [] and shown["scrollWidth"] <= shown["width"], shown
        shots(page, f"error-page-{name}")
    assert pages.dialogs == []
    assert [e for e in pages.errors if "404 (NOT FOUND)" not in e] == []
