"""Phones that lose the network, a server that crashes, a tab that comes back from the background:
the participant never loses what they entered, and the page says what is going on."""

from __future__ import annotations

import csv
import io
import json

import pytest
from own_statements import SIX_STATEMENTS

pytestmark = pytest.mark.browser



def start(live_server, trainer, browser, pages, name="Ana"):
    """A session with no discard step, one phone joined at Table 1, the rank step open."""
    info = live_server.create_session(deck=None, statements="\n".join(SIX_STATEMENTS),
                                      discard=0, top=3, groups=["Table 1", "Table 2"])
    coach = trainer(live_server.url, info["facilitator_token"])
    phone = pages.phone(browser, name)
    return info, coach, phone


def join(phone, live_server, info, name="Ana"):
    phone.goto(f"{live_server.url}/j/{info['code']}")
    phone.wait_for_selector("#join-form")
    phone.fill("#name", name)
    phone.locator("label.tile", has_text="Table 1").tap()
    phone.tap("#join-button")
    phone.wait_for_selector(".card.wait")


def order(phone):
    return phone.eval_on_selector_all("#rank-list > li",
                                      "els => els.map(e => Number(e.dataset.statement))")


def move_up(phone, statement, times=1):
    # With the keyboard (Enter on the focused ▲): under offline emulation headless Chromium's hit
    # testing lags behind scrolling, so taps land on the wrong item.
    phone.locator(f'#rank-list > li[data-statement="{statement}"] .move.up').focus()
    for _ in range(times):
        phone.keyboard.press("Enter")


def watch_save_states(phone):
    """From now on, keep each state the save pill shows (window.__saveStates), in order: a state
    that lasts only until a timer (the re-save 0.7 s after a change) is still seen on a machine
    too slow to read it in time."""
    phone.evaluate("""() => {
      const pill = document.querySelector('#save-state');
      const seen = window.__saveStates = [pill.dataset.state];
      new MutationObserver(() => {
        if (seen[seen.length - 1] !== pill.dataset.state) seen.push(pill.dataset.state);
      }).observe(pill, {attributes: true, attributeFilter: ['data-state']});
    }""")


def pending(phone, code):
    kept = phone.evaluate("k => localStorage.getItem(k)", f"facilitator:{code}:pending")
    return json.loads(kept or "null")


def fits_width(phone, layout):
    """Nothing sticks out sideways (a wide status pill would let the page pan and hide the sticky
    save button), and the save button is on screen."""
    shown = layout(phone)
    assert shown["out"] == [] and shown["scrollWidth"] <= shown["width"], shown
    box = phone.locator(".save-button").bounding_box()
    assert box and box["y"] + box["height"] <= phone.viewport_size["height"] + 1, box


def stored_rank(live_server, info, name="Ana"):
    """The ranking the server holds for `name`, read from the console's responses CSV."""
    path = info["facilitator_url"] + "/export/responses.csv"
    text = live_server.get(path).decode("utf-8-sig")
    for row in csv.DictReader(io.StringIO(text)):
        if row["name"] == name:
            ranks = (row[f"rank_{k}"] for k in range(1, len(SIX_STATEMENTS) + 1))
            return [int(r) for r in ranks if r]
    return None


def test_offline_mid_rank_keeps_the_answer_and_resends_it(browser, live_server, pages, trainer,
                                                          shots, layout):
    info, coach, phone = start(live_server, trainer, browser, pages)
    join(phone, live_server, info)
    coach.open("rank")
    phone.wait_for_selector("#rank-list > li")
    assert order(phone) == [1, 2, 3, 4, 5, 6]

    phone.context.set_offline(True)
    phone.wait_for_selector("#conn[data-state=reconnecting]")
    move_up(phone, 4, 3)  # 4 to the top
    move_up(phone, 6, 1)
    wanted = [4, 1, 2, 3, 6, 5]
    assert order(phone) == wanted
    phone.get_by_role("button", name="Save my ranking").tap()

    # Not saved, and the page says so; the answer waits on the phone.
    phone.wait_for_selector("#save-state[data-state=queued]")
    assert phone.inner_text("#save-state") == "Not sent yet"
    assert phone.inner_text("#conn") == "Reconnecting…"
    assert phone.inner_text(".save-button").startswith("Kept on this phone")  # by the thumb, too
    kept = pending(phone, info["code"])
    assert kept["step"] == "rank" and kept["answer"] == wanted and kept["id"]

    # Changed again while still offline: the kept answer follows (the first save was theirs).
    watch_save_states(phone)
    move_up(phone, 5, 1)
    wanted = [4, 1, 2, 3, 5, 6]
    # straight after the move the pill says so (until the re-save, 0.7 s later, queues it)
    assert phone.evaluate("window.__saveStates.slice(0, 2)") == ["queued", "dirty"]
    phone.wait_for_function(
        "([k, want]) => JSON.parse(localStorage.getItem(k) || 'null')?.answer.join() === want",
        arg=[f"facilitator:{info['code']}:pending", ",".join(map(str, wanted))])
    phone.wait_for_selector("#save-state[data-state=queued]")
    kept = pending(phone, info["code"])
    phone.wait_for_timeout(1500)  # a while later: still kept, still not on the server
    assert pending(phone, info["code"]) == kept
    assert stored_rank(live_server, info) == []
    phone.evaluate("window.scrollTo(0, 0)")
    fits_width(phone, layout)
    shots(phone, "resilience-1-offline-kept")

    phone.context.set_offline(False)
    phone.wait_for_selector("#save-state[data-state=saved]", timeout=15_000)
    assert phone.get_attribute("#conn", "data-state") in ("back", "online")
    assert pending(phone, info["code"]) is None
    assert order(phone) == wanted
    assert stored_rank(live_server, info) == wanted
    shots(phone, "resilience-2-back-saved")
    assert pages.dialogs == []
    # the offline phase logs failed network requests as console errors: only those are allowed
    assert [e for e in pages.errors if "ERR_INTERNET_DISCONNECTED" not in e] == []


def test_server_crash_and_restart_while_a_phone_is_open(browser, live_server, pages, trainer, shots,
                                                        layout):
    info, coach, phone = start(live_server, trainer, browser, pages)
    join(phone, live_server, info)
    coach.open("rank")
    phone.wait_for_selector("#rank-list > li")
    move_up(phone, 5, 4)
    first = [5, 1, 2, 3, 4, 6]
    phone.get_by_role("button", name="Save my ranking").tap()
    phone.wait_for_selector("#save-state[data-state=saved]")
    phone.evaluate("window.__sameDocument = true")

    live_server.kill()
    phone.wait_for_selector("#conn[data-state=reconnecting]", timeout=15_000)
    assert order(phone) == first
    # While the server is down the participant changes their mind: kept, not lost.
    move_up(phone, 6, 5)
    second = [6, 5, 1, 2, 3, 4]
    # The re-save goes by itself, 0.7 s after a change: on a slow machine one can go between two
    # of the five moves, and "queued" then shows a first, partial order before the whole move.
    phone.wait_for_function(
        "([k, want]) => JSON.parse(localStorage.getItem(k) || 'null')?.answer.join() === want",
        arg=[f"facilitator:{info['code']}:pending", ",".join(map(str, second))])
    phone.wait_for_selector("#save-state[data-state=queued]")
    assert pending(phone, info["code"])["answer"] == second
    fits_width(phone, layout)
    shots(phone, "resilience-3-server-down")

    live_server.start()
    phone.wait_for_selector("#conn:is([data-state=back], [data-state=online])", timeout=15_000)
    phone.wait_for_selector("#save-state[data-state=saved]", timeout=10_000)
    assert phone.evaluate("window.__sameDocument") is True  # no reload
    assert phone.get_attribute("#step-label", "data-step") == "rank"
    assert order(phone) == second
    assert pending(phone, info["code"]) is None
    assert stored_rank(live_server, info) == second
    shots(phone, "resilience-4-server-back")
    assert pages.dialogs == []
    # while the server was down, socket.io's polling requests fail (connection refused)
    assert [e for e in pages.errors if "ERR_CONNECTION_REFUSED" not in e] == []


def test_coming_back_from_the_background_resyncs(browser, live_server, pages, trainer):
    """A push the phone missed (here: dropped on the wire) is made good when the page becomes
    visible again: it sends `resume` and renders the state it gets back."""
    info, coach, phone = start(live_server, trainer, browser, pages)
    drop = {"state": False}
    sent = []

    def route(ws):
        server = ws.connect_to_server()

        def to_page(message):
            if drop["state"] and isinstance(message, str) and message.startswith('42["state"'):
                return  # the push is lost
            ws.send(message)

        def to_server(message):
            sent.append(message)
            server.send(message)

        ws.on_message(to_server)
        server.on_message(to_page)

    phone.route_web_socket("**/socket.io/**", route)
    join(phone, live_server, info)
    for _ in range(100):  # socket.io has upgraded from polling to the (routed) websocket
        if "5" in sent:
            break
        phone.wait_for_timeout(50)
    assert "5" in sent, sent
    assert phone.inner_text("#step-label").endswith("Joining")

    drop["state"] = True
    coach.open("rank")
    phone.wait_for_timeout(800)
    assert phone.locator("#rank-list").count() == 0  # it missed the push
    drop["state"] = False

    resumes = sum('"resume"' in m for m in sent if isinstance(m, str))
    phone.evaluate("""() => {
        let state = 'hidden';
        Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
        document.dispatchEvent(new Event('visibilitychange'));
        state = 'visible';
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    phone.wait_for_selector("#rank-list > li", timeout=5_000)
    assert sum('"resume"' in m for m in sent if isinstance(m, str)) == resumes + 1
    assert pages.dialogs == [] and pages.errors == []
