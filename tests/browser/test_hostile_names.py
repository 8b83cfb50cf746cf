"""Hostile display names and group names: shown as text everywhere, never run, never break the
layout. Nine phones join with markup, spreadsheet formulas, a bidi override, zero-width
characters, 10,000 letters and an emoji sequence; the trainer named a table with markup."""

from __future__ import annotations

import pytest

from facilitator.workshop import NAME_MAX, clean_text

pytestmark = pytest.mark.browser

NAMES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://x","y")',
    "+SUM(1)",
    "@cmd",
    "abc\u202Eevil",
    "zero\u200Bwidth\u200D",
    "A" * 10_000,
    "\U0001F469\u200D\U0001F469\u200D\U0001F467 Emoji",
]
GROUPS = ["<b>bold</b>", "Table 2"]
TEXTS = "els => els.map(e => e.textContent)"
INJECTED = "script:not([src]), script[src*='alert'], img[src=x], img[onerror], b, iframe, svg"


def test_hostile_names_are_text(browser, live_server, pages, shots, layout):
    info = live_server.create_session(groups=GROUPS)
    url, code = live_server.url, info["code"]
    console = pages.new_page(browser, "console", viewport={"width": 1280, "height": 800})
    console.goto(url + info["facilitator_url"])
    projector = pages.new_page(browser, "projector", viewport={"width": 1280, "height": 720})
    projector.goto(url + info["projector_url"])
    projector.wait_for_selector(".lobby .group-joins li")

    stored = {}  # name as typed -> name as the server keeps it
    long_phone = None
    for i, name in enumerate(NAMES):
        expected = clean_text(name, NAME_MAX)
        assert expected and len(expected) <= NAME_MAX and "\u202e" not in expected
        group = GROUPS[i % 2]
        phone = pages.phone(browser, f"phone {i}")
        phone.goto(f"{url}/j/{code}")
        phone.wait_for_selector("#join-form")
        if i == 0:  # the trainer's group name is text on the phone's table buttons too
            assert phone.locator("label.tile span").all_inner_texts() == GROUPS
            assert phone.locator("#join-form b").count() == 0
        # A hostile client ignores the input's maxlength: the server caps the name.
        phone.evaluate("document.getElementById('name').removeAttribute('maxlength')")
        phone.fill("#name", name)
        phone.locator("label.tile", has_text=group).tap()
        phone.tap("#join-button")
        phone.wait_for_selector(".card.wait")
        assert phone.text_content("#who") == f"{expected} · {group}"
        assert phone.locator(f"#who :is({INJECTED})").count() == 0
        stored[name] = expected
        if name.startswith("AAAA"):
            long_phone = phone
        else:
            phone.context.close()
            pages.contexts.remove(phone.context)

    # The phone showing the 40-letter name does not scroll sideways at 360×640.
    shown = layout(long_phone)
    assert shown["out"] == [] and shown["scrollWidth"] <= shown["width"], shown
    assert long_phone.evaluate("document.getElementById('who').scrollWidth") > 0
    shots(long_phone, "hostile-phone-long-name")

    # Projector lobby: every name, one element each, as text.
    projector.wait_for_function(
        "() => [...document.querySelectorAll('.group-joins .count')]"
        ".map(e => e.textContent).join() === '5,4'")
    by_group = projector.eval_on_selector_all(
        ".group-joins li", "lis => lis.map(li => [li.querySelector('.gname').textContent,"
        " [...li.querySelectorAll('.names .nm')].map(e => e.textContent)])")
    assert [g for g, _ in by_group] == GROUPS
    assert sorted(n for _, names in by_group for n in names) == sorted(stored.values())
    assert projector.locator(f".group-joins :is({INJECTED})").count() == 0
    # every name is isolated, so an RTL name cannot reorder its neighbours
    assert projector.eval_on_selector_all(".group-joins .nm",
                                          "els => els.every(e => e.tagName === 'BDI')")
    shown = layout(projector)
    assert shown["out"] == [] and shown["scrollWidth"] <= shown["width"], shown
    assert shown["scrollHeight"] <= shown["height"], shown
    shots(projector, "hostile-projector-lobby")

    # Console: each participant's name is the text the server stored.
    console.wait_for_function("() => document.querySelectorAll('.people li').length === 9")
    names = console.eval_on_selector_all(".people .pname", TEXTS)
    assert sorted(names) == sorted(stored.values())
    assert console.eval_on_selector_all(".console-group h3 .gname", TEXTS) == GROUPS
    assert console.locator(f"#groups :is({INJECTED})").count() == 0
    # the remove button's confirmation quotes the name as text too
    console.locator(".people li", has_text="<img").locator("button[data-action=remove]").click()
    console.wait_for_selector("#confirm-dialog[open]")
    assert stored[NAMES[1]] in console.text_content("#confirm-text")
    assert console.locator(f"#confirm-dialog :is({INJECTED})").count() == 0
    console.click("#confirm-cancel")
    shown = layout(console)
    assert shown["out"] == [] and shown["scrollWidth"] <= shown["width"], shown
    shots(console, "hostile-console", full_page=True)

    # The first step opens: the trainer's markup group name is still text on the projector.
    console.click("#next-step")
    projector.wait_for_selector(".group-progress .gp")
    assert projector.eval_on_selector_all(".gp .gname", TEXTS) == GROUPS
    assert projector.locator(f".group-progress :is({INJECTED})").count() == 0

    # Nothing ran anywhere: no alert, no console error (a CSP violation would be one).
    injected = "document.querySelectorAll('img[src=x], script:not([src])').length"
    assert projector.evaluate(injected) == 0
    assert pages.dialogs == []
    assert pages.errors == []
