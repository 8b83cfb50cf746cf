"""A participant's phone at 390×844 (a common phone today), for the issue-12 browser tests."""

from __future__ import annotations

PHONE_390 = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
             "device_scale_factor": 2}


def join_phone(pages, browser, url: str, code: str, name: str, table: str):
    """A watched 390×844 phone page that has joined ``table`` as ``name`` (in the lobby)."""
    phone = pages.new_page(browser, name, **PHONE_390)
    phone.goto(f"{url}/j/{code}")
    phone.wait_for_selector("#join-form")
    phone.fill("#name", name)
    phone.locator("label.tile", has_text=table).tap()
    phone.tap("#join-button")
    phone.wait_for_selector(".card.wait")
    return phone


def tap_to_press(phone, selector: str) -> None:
    """Tap a toggle button and wait until it shows as pressed. Headless Chromium's emulated
    touch now and then makes no click from a tap on a loaded machine (CI lost one of three
    taps in a row, with nothing else on the page changing); a tap the page did not take
    within 3 s is tapped once more, and a second miss fails the test."""
    from conftest import expect

    button = phone.locator(selector)
    phone.tap(selector)
    try:
        expect(button).to_have_attribute("aria-pressed", "true", timeout=3_000)
    except AssertionError:
        assert button.get_attribute("aria-pressed") == "false"  # not taken: never toggled off
        phone.tap(selector)
        expect(button).to_have_attribute("aria-pressed", "true")


def vote(phone, statement: int) -> None:
    """Vote to discard ``statement`` on a phone at the discard step and wait until this vote
    (not the previous one) shows as saved."""
    from conftest import expect

    phone.wait_for_selector("#discard-list")
    phone.tap(f'button.choice[data-statement="{statement}"]')
    phone.tap("#confirm-yes")
    # A re-vote starts with the previous vote shown as saved, and the confirm tap's click comes
    # after tap() returns: wait for the sheet to close (that click sends the vote), then for
    # this vote's "saved" (before it, a step closed by the trainer could refuse the vote).
    expect(phone.locator("#confirm-sheet")).to_be_hidden()
    phone.wait_for_selector("#save-state[data-state=saved]")
