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
