"""A table-board move from another phone arrives while this phone is dragging (issue 13): the
list must not move under the finger. The drop is applied to the newest board, and a drag that
ends where it began catches up to the server's order, in real browsers with a real touch drag."""

from __future__ import annotations

import time

import pytest
from phones import join_phone

pytestmark = pytest.mark.browser

ORDER = "els => els.map(e => Number(e.dataset.statement))"
STILL = ("() => [...document.querySelectorAll('#board-list > li')]"
         ".every(li => !li.style.transform && !li.style.transition)")
# Nothing else to wait for once the push is in: either the list kept its order (the version on
# the status line says the push arrived) or it was reordered under the finger.
PUSHED = """([version, held, rest]) => {
  const now = [...document.querySelectorAll('#board-list > li')]
    .map(e => Number(e.dataset.statement));
  return document.querySelector('#board-status').dataset.version === String(version)
    || JSON.stringify(now.filter(n => n !== held)) !== JSON.stringify(rest);
}"""


class Finger:
    """One finger on a phone's screen through CDP's Input.dispatchTouchEvent: put down, moved
    in small steps (as a thumb does) and lifted only when the test says so."""

    def __init__(self, phone):
        self.phone, self.cdp, self.at = phone, phone.context.new_cdp_session(phone), None

    def _touch(self, kind, points):
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def down(self, x, y):
        self._touch("touchStart", [{"x": x, "y": y}])
        self.at = (x, y)

    def move_to(self, x, y, steps=10):
        x0, y0 = self.at
        for k in range(1, steps + 1):
            point = {"x": x0 + (x - x0) * k / steps, "y": y0 + (y - y0) * k / steps}
            self._touch("touchMove", [point])
            self.phone.wait_for_timeout(12)
        self.at = (x, y)

    def up(self):
        """Lift the finger (again: nothing); a test lifts it in ``finally`` too, so that a
        failed test does not leave SortableJS's half-transparent placeholder for axe to check."""
        if self.at is not None:
            self._touch("touchEnd", [])
            self.cdp.detach()
            self.at = None


def order(phone):
    return phone.eval_on_selector_all("#board-list > li", ORDER)


def handle_point(phone, index, height=0.5):
    box = phone.locator("#board-list > li").nth(index).locator(".handle").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] * height


def server_board(coach, version):
    """The table's board on the server once it has reached ``version``."""
    board = None
    for _ in range(100):
        board = coach.call("facilitate")["snapshot"]["groups"][0]["board"]
        if board["version"] >= version:
            return board
        time.sleep(0.05)
    raise AssertionError(f"the server's board stayed at version {board['version']}")


def wait_order(phone, want):
    phone.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('#board-list > li')]"
        ".map(e => Number(e.dataset.statement))) === JSON.stringify(want)", arg=want)
    phone.wait_for_function(STILL)


def placed(board_order, statement, to):
    """``statement`` moved to index ``to`` (what the server's Board.move does)."""
    rest = [n for n in board_order if n != statement]
    return rest[:to] + [statement] + rest[to:]


def table_of_two(browser, live_server, pages, trainer):
    """Ana and Ben at table 1, the rank step open as a table; both show the same board."""
    info = live_server.create_session(groups=["Table 1", "Table 2"])
    url, code = live_server.url, info["code"]
    ana, ben = (join_phone(pages, browser, url, code, name, "Table 1") for name in ("Ana", "Ben"))
    coach = trainer(url, info["facilitator_token"])
    coach.call("open_step", step="discard", mode="table")
    coach.close_step()  # the board's last statement is the table's discard
    coach.call("open_step", step="rank", mode="table")
    for phone in (ana, ben):
        phone.wait_for_selector("#board-list > li:nth-child(9)")
    start = order(ana)
    assert order(ben) == start and len(start) == 9
    return ana, ben, coach, start


def ben_moves_the_last_one_up(ben, start):
    """Ben taps ▲ on the last statement: it swaps with the one above it (version 1)."""
    ben.locator("#board-list > li").nth(8).locator("button.move.up").tap()
    return placed(start, start[8], 7)


def grab(phone, index, height=0.5, middle=None):
    """Put a finger on the handle of the list's ``index``-th item, with the ``middle``-th (or
    that one) scrolled to mid-screen, away from SortableJS's auto-scroll at the edges."""
    items = phone.locator("#board-list > li")
    items.nth(index if middle is None else middle).evaluate(
        "e => e.scrollIntoView({block: 'center'})")
    finger = Finger(phone)
    finger.down(*handle_point(phone, index, height))
    return finger


def drag_two_up(phone, index):
    """Drag the ``index``-th statement up two places and hold it there (finger down)."""
    finger = grab(phone, index, middle=index - 1)
    finger.move_to(*handle_point(phone, index - 2, 0.4))
    phone.wait_for_selector("#board-list > li.drag-ghost")
    phone.wait_for_function(STILL)
    return finger


def assert_still(phone, held, rest, at):
    """The list kept its order under the finger: ``held`` where SortableJS put it, the rest as
    they were when the drag began."""
    now = order(phone)
    assert [n for n in now if n != held] == rest, f"the list moved under the finger: {now}"
    assert now.index(held) == at, now


def test_a_push_mid_drag_leaves_the_list_still_and_the_drop_lands_on_the_newest_board(
        browser, live_server, pages, trainer, shots):
    ana, ben, coach, start = table_of_two(browser, live_server, pages, trainer)
    held, rest = start[5], start[:5] + start[6:]
    # Ana grabs the 6th statement and drags it up two places, finger still down
    finger = drag_two_up(ana, 5)
    try:
        assert_still(ana, held, rest, 3)  # SortableJS's placeholder is where she aims

        # Ben moves another statement; his push reaches Ana while her finger is down
        after_ben = ben_moves_the_last_one_up(ben, start)
        assert server_board(coach, 1)["order"] == after_ben
        ana.wait_for_function(PUSHED, arg=[1, held, rest])
        ana.wait_for_timeout(200)  # a reorder would also have to wait for SortableJS's animation
        assert_still(ana, held, rest, 3)
        assert ana.get_attribute("#board-status", "data-version") == "1"
        shots(ana, "board-drag-held-during-push")

        # she lets go: her move (statement to index 3) applies to the board with Ben's move in it
        finger.up()
        want = placed(after_ben, held, 3)
        final = server_board(coach, 2)
        assert final["order"] == want, (final["order"], want)
        assert final["version"] == 2
        for phone in (ana, ben):
            wait_order(phone, want)
            assert phone.get_attribute("#board-status", "data-version") == "2"
        assert ana.locator("#board-error").is_hidden()
        positions = ana.eval_on_selector_all("#board-list > li .pos",
                                             "els => els.map(e => e.textContent)")
        assert positions == [str(i) for i in range(1, 10)]
    finally:
        finger.up()


def test_a_drag_dropped_where_it_began_catches_up_to_the_pushed_order(
        browser, live_server, pages, trainer):
    ana, ben, coach, start = table_of_two(browser, live_server, pages, trainer)
    held = start[4]
    finger = grab(ana, 4, 0.3)
    try:
        x, y = finger.at
        finger.move_to(x, y + 12, steps=4)  # a drag that stays on its own item
        ana.wait_for_selector("#board-list > li.drag-ghost")
        assert order(ana) == start

        after_ben = ben_moves_the_last_one_up(ben, start)
        assert server_board(coach, 1)["order"] == after_ben
        ana.wait_for_function(PUSHED, arg=[1, held, [n for n in start if n != held]])
        ana.wait_for_timeout(200)
        assert order(ana) == start, "the list moved under the finger"

        finger.move_to(x, y, steps=4)
        finger.up()
        wait_order(ana, after_ben)  # no move to send: the list shows the server's order at once
        ana.wait_for_timeout(300)
        assert server_board(coach, 1)["version"] == 1  # nothing was sent
        assert order(ana) == order(ben) == after_ben
    finally:
        finger.up()


def test_a_board_locked_mid_drag_takes_no_drop_and_shows_the_locked_order(
        browser, live_server, pages, trainer):
    ana, ben, coach, start = table_of_two(browser, live_server, pages, trainer)
    held, rest = start[5], start[:5] + start[6:]
    finger = drag_two_up(ana, 5)
    try:
        after_ben = ben_moves_the_last_one_up(ben, start)
        server_board(coach, 1)
        coach.call("lock_table", group=1, locked=True)  # the trainer locks it as it stands
        ana.wait_for_function(PUSHED, arg=[2, held, rest])
        ana.wait_for_timeout(200)
        assert_still(ana, held, rest, 3)
        assert ana.text_content("#board-status").startswith("Locked")

        finger.up()
        wait_order(ana, after_ben)  # the locked order, without her move
        ana.wait_for_timeout(300)
        board = server_board(coach, 2)
        assert board["locked"] and board["version"] == 2 and board["order"] == after_ben
        assert ana.locator("#board-error").is_hidden()  # the drop was not sent to be refused
        assert ana.locator("#board-list button.move:enabled").count() == 0

        # locked: a new drag does not even start (no placeholder, nothing moves)
        finger = grab(ana, 5, middle=4)
        finger.move_to(*handle_point(ana, 3, 0.4))
        ana.wait_for_timeout(300)
        assert ana.locator("#board-list > li.drag-ghost").count() == 0
        assert order(ana) == after_ben
        finger.up()
        ana.wait_for_timeout(200)
        assert order(ana) == after_ben and server_board(coach, 2)["version"] == 2
        assert ana.locator("#board-error").is_hidden()
    finally:
        finger.up()
