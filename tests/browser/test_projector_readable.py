"""The projector read from the back of a room: Task 5.1 with 3, 6 and 8 tables, every results
view at 1920×1080, 1280×720 and 1024×768. No statement is cut, statement text is at least 3 %
of the screen height, the matrix shows all eight tables at once, and axe-core finds nothing
serious. Screenshots: build/screenshots/readable-*.png."""

from __future__ import annotations

import random
from contextlib import contextmanager

import pytest
from conftest import axe_violations, expect, resize
from driver import LivePhone

from facilitator.decks import find_deck

pytestmark = pytest.mark.browser

SIZES = [(1920, 1080), (1280, 720), (1024, 768)]
DECK = find_deck("task-5-1")
WORDS = {s.short for s in DECK.statements} | {s.text for s in DECK.statements}

MEASURE = """() => {
  const body = document.getElementById('proj-body');
  const inside = (r, box) => r.top >= box.top - 1 && r.bottom <= box.bottom + 1
    && r.left >= box.left - 1 && r.right <= box.right + 1;
  const bad = [], texts = [];
  let smallest = Infinity;
  for (const el of body.querySelectorAll('.stext')) {
    const cs = getComputedStyle(el);
    const size = parseFloat(cs.fontSize);
    smallest = Math.min(smallest, size);
    const text = el.textContent.trim();
    texts.push(text);
    if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
      bad.push(`overflows its box: ${text}`);
    }
    if (cs.textOverflow === 'ellipsis' || cs.webkitLineClamp !== 'none' || text.includes('…')) {
      bad.push(`ellipsis: ${text}`);
    }
    const r = el.getBoundingClientRect();
    // not clipped by any ancestor that hides its overflow, nor by the viewport
    for (let a = el.parentElement; a; a = a.parentElement) {
      if (a === document.body || getComputedStyle(a).overflow !== 'visible') {
        if (!inside(r, a.getBoundingClientRect())) {
          bad.push(`clipped by ${a.tagName}.${a.className}: ${text}`);
          break;
        }
      }
    }
    if (!inside(r, {top: 0, left: 0, bottom: innerHeight, right: innerWidth})) {
      bad.push(`off screen: ${text}`);
    }
  }
  const d = document.scrollingElement;
  return {texts, smallest, height: innerHeight, bad,
          page: [d.scrollWidth, innerWidth, d.scrollHeight, innerHeight],
          body: [body.scrollHeight, body.clientHeight, body.scrollWidth, body.clientWidth],
          tables: [...body.querySelectorAll('.matrix thead th.m-table:not(.m-room)')]
            .filter(th => { const r = th.getBoundingClientRect();
              return r.width > 0 && r.right <= innerWidth && r.bottom <= innerHeight; })
            .length,
          h1: document.querySelectorAll('h1').length};
}"""


def check_view(page, shots, tables: int, name: str, *, matrix_tables: int | None = None):
    """The projector's current results view at every size: readable, whole, accessible."""
    problems = []
    for width, height in SIZES:
        resize(page, width, height)  # the resize re-renders and refits
        shown = page.evaluate(MEASURE)
        where = f"{tables} tables, {name}, {width}x{height}"
        shots(page, f"readable-{tables}t-{name}-{width}x{height}")
        assert shown["texts"], (where, "no statement shown")
        assert set(shown["texts"]) <= WORDS, (where, set(shown["texts"]) - WORDS)
        assert shown["bad"] == [], (where, shown["bad"])
        assert shown["smallest"] >= 0.03 * height, (where, shown["smallest"])
        page_w, view_w, page_h, view_h = shown["page"]
        assert page_w <= view_w and page_h <= view_h, (where, shown["page"])
        assert shown["body"][0] <= shown["body"][1] + 1, (where, shown["body"])
        assert shown["body"][2] <= shown["body"][3] + 1, (where, shown["body"])
        assert shown["h1"] == 1, where
        if matrix_tables is not None:
            assert shown["tables"] == matrix_tables, (where, shown["tables"])
        if (width, height) == (1280, 720):
            problems += axe_violations(page, where)
    assert problems == [], problems


def bias(table: int, remaining: list[int]) -> list[int]:
    """Each table has its own leaning: a seeded shuffle, with statement 8 near the top."""
    order = remaining[:]
    random.Random(table).shuffle(order)
    if 8 in order:
        order.remove(8)
        order.insert(table % 3, 8)
    return order


def jitter(order: list[int], rng: random.Random) -> list[int]:
    """A member's ranking: the table's leaning with two neighbouring swaps."""
    order = order[:]
    for _ in range(2):
        k = rng.randrange(len(order) - 1)
        order[k], order[k + 1] = order[k + 1], order[k]
    return order


@pytest.mark.parametrize("tables", [3, 6, 8])
def test_every_results_view_is_readable_from_the_back(browser, live_server, pages, trainer,
                                                       shots, tables):
    names = [f"Table {t}" for t in range(1, tables + 1)]
    info = live_server.create_session(groups=names, title="Multi-agency training – Tuesday")
    url, code = live_server.url, info["code"]
    coach = trainer(url, info["facilitator_token"])
    projector = pages.new_page(browser, "projector", viewport={"width": 1920, "height": 1080})
    projector.goto(f"{url}{info['projector_url']}")
    projector.wait_for_selector(".lobby .code")
    assert axe_violations(projector, "lobby") == []
    rng = random.Random(tables)
    crowd = []
    try:
        for t in range(1, tables + 1):
            for k in range(3 + t % 3):
                crowd.append(LivePhone(url, code, f"P{t}-{k}", t))
        group = {p: p.state["participant"]["group"]["id"] for p in crowd}

        # -- discard: table 1 is level while voting is open; the others agree -----------------
        coach.open("discard")
        level = iter([3, 6, 3, 6])
        for p in crowd:
            t = group[p]
            p.submit("discard", next(level) if t == 1 else 1 + t % 3 * 3)
        projector.wait_for_selector(".progress .gp")
        assert axe_violations(projector, "progress") == []
        coach.reveal(True)
        projector.wait_for_selector(".results-discard .matrix")
        assert "level" in projector.inner_text(".matrix tfoot")
        assert "trainer decides" not in projector.inner_text("#proj-body")
        check_view(projector, shots, tables, "discard", matrix_tables=tables)
        coach.close_step()
        coach.call("settle", group=1, statement=3)

        # -- rank ----------------------------------------------------------------------------------
        coach.open("rank")
        for p in crowd:
            remaining = p.resume()["remaining"]
            p.submit("rank", jitter(bias(group[p], remaining), rng))
        coach.reveal(True)
        projector.wait_for_selector(".results-matrix .matrix tbody tr >> nth=9")
        check_view(projector, shots, tables, "matrix", matrix_tables=tables)
        coach.call("show_on_projector", view="table", table=2)
        projector.wait_for_selector(".results-table .heat-table")
        check_view(projector, shots, tables, "table")
        coach.call("show_on_projector", view="statement", statement=8)
        projector.wait_for_selector(".results-statement .histogram")
        check_view(projector, shots, tables, "statement")
        coach.close_step()

        # -- similarities and differences across the tables ----------------------------------------
        coach.open("similarities")
        coach.reveal(True)
        projector.wait_for_selector(".results-compare .compare-grid")
        assert projector.locator(".differ li, .agree li, .apart li").count() > 0
        check_view(projector, shots, tables, "compare")

        # -- top five and results ------------------------------------------------------------------
        coach.open("top")
        for p in crowd:
            p.submit("top", bias(group[p], p.state["remaining"] or p.resume()["remaining"])[:5])
        coach.reveal(True)
        projector.wait_for_selector(".results-top .matrix")
        check_view(projector, shots, tables, "top", matrix_tables=tables)
        coach.close_step()
        coach.open("results")
        coach.call("show_on_projector", view="top")
        # the top step's own view was this one too: wait for the results step to be on show
        expect(projector.locator("#proj-step .step-name")).to_have_text("Results")
        projector.wait_for_selector(".results-top .matrix")
        coach.call("show_on_projector", view="step")
        coach.reveal(True)
        projector.wait_for_selector(".results-matrix .matrix")
        check_view(projector, shots, tables, "results", matrix_tables=tables)
    finally:
        for p in crowd:
            p.close()
    assert pages.dialogs == [] and pages.errors == []


@contextmanager
def revealed_rankings(browser, live_server, pages, trainer, names, people, **body):
    """A 1280x720 projector of a session with ``names`` tables whose ``people`` phones (spread
    over the tables) have discarded 10 and ranked; results revealed. Yields (coach, projector)."""
    info = live_server.create_session(groups=names, **body)
    url, code = live_server.url, info["code"]
    coach = trainer(url, info["facilitator_token"])
    projector = pages.new_page(browser, "projector", viewport={"width": 1280, "height": 720})
    projector.goto(f"{url}{info['projector_url']}")
    crowd = [LivePhone(url, code, f"P{k}", 1 + k % len(names)) for k in range(people)]
    try:
        coach.open("discard")
        for p in crowd:
            p.submit("discard", 10)
        coach.close_step()
        coach.open("rank")
        for p in crowd:
            p.submit("rank", bias(p.state["participant"]["group"]["id"], p.resume()["remaining"]))
        coach.reveal(True)
        yield coach, projector
    finally:
        for p in crowd:
            p.close()


def test_more_tables_than_fit_are_paged_by_the_trainer_never_by_a_timer(
        browser, live_server, pages, trainer, shots):
    names = [f"Table {t}" for t in range(1, 11)]
    with revealed_rankings(browser, live_server, pages, trainer, names, 20,
                           title="Ten tables") as (coach, projector):
        heads = ".matrix thead th.m-table:not(.m-room)"
        projector.wait_for_selector(".results-matrix .matrix")
        assert projector.locator(heads).count() == 8
        assert "Tables 1–8 of 10" in projector.inner_text(".pagenote")
        projector.wait_for_timeout(3000)  # nothing turns by itself
        assert projector.locator(heads).first.inner_text() == "Table 1"
        coach.call("show_on_projector", view="step", page=1)
        projector.wait_for_function(
            f"() => document.querySelectorAll('{heads}').length === 2")
        assert "Tables 9–10 of 10" in projector.inner_text(".pagenote")
        assert projector.locator(heads).first.inner_text() == "Table 9"
        shots(projector, "readable-10t-matrix-page-2-1280x720")
    assert pages.dialogs == [] and pages.errors == []


# Each word of each table's column heading, and whether it sits on one line (not broken inside).
HEADING_WORDS = """() => [...document.querySelectorAll('.matrix thead th.m-table:not(.m-room)')]
  .flatMap(th => {
    const node = th.firstChild, text = node.textContent, words = [];
    for (const m of text.matchAll(/\\S+/g)) {
      const r = document.createRange();
      r.setStart(node, m.index);
      r.setEnd(node, m.index + m[0].length);
      const lines = new Set([...r.getClientRects()].map(q => Math.round(q.top)));
      words.push([m[0], lines.size]);
    }
    return words;
  })"""


def test_table_names_in_the_matrix_headings_break_between_words_never_inside_one(
        browser, live_server, pages, trainer, shots):
    names = ["Window table", "Door table", "Back table"]
    with revealed_rankings(browser, live_server, pages, trainer, names, 6) as (_, projector):
        projector.wait_for_selector(".results-matrix .matrix")
        for width, height in SIZES:
            resize(projector, width, height)
            words = projector.evaluate(HEADING_WORDS)
            assert [w for w, _ in words] == ["Window", "table", "Door", "table", "Back", "table"]
            assert [(w, n) for w, n in words if n != 1] == [], (width, height)
            assert projector.evaluate(MEASURE)["bad"] == [], (width, height)
        shots(projector, "readable-matrix-headings-1280x720")
    assert pages.errors == []


# The similarities view's key to its strip columns (T1, T2, …): each entry, its words' lines.
TABLE_KEY = """() => {
  const entries = [...document.querySelectorAll('.differ .tkey .tk')].map(el => {
    const r = el.getBoundingClientRect(), words = [];
    for (const node of el.childNodes) {
      const text = node.textContent;
      for (const m of text.matchAll(/\\S+/g)) {
        const range = document.createRange(), inner = node.firstChild || node;
        range.setStart(inner, m.index);
        range.setEnd(inner, m.index + m[0].length);
        words.push(new Set([...range.getClientRects()].map(q => Math.round(q.top))).size);
      }
    }
    return {text: el.textContent, size: parseFloat(getComputedStyle(el).fontSize),
            inside: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
            overflows: el.scrollWidth > el.clientWidth + 1,
            broken: words.filter(n => n !== 1).length};
  });
  const labels = [...document.querySelectorAll('.differ .strip .tl')].map(el => el.textContent);
  return {entries, labels};
}"""


def test_the_similarities_strips_say_which_table_is_which(
        browser, live_server, pages, trainer, shots):
    names = ["Window table", "Door by the stairs", "Back corner table"]
    info = live_server.create_session(groups=names)
    url, code = live_server.url, info["code"]
    coach = trainer(url, info["facilitator_token"])
    projector = pages.new_page(browser, "projector", viewport={"width": 1920, "height": 1080})
    projector.goto(f"{url}{info['projector_url']}")
    crowd = [LivePhone(url, code, f"P{k}", 1 + k % 3) for k in range(9)]
    try:
        coach.open("discard")
        for p in crowd:
            p.submit("discard", 10)
        coach.open("rank")
        for p in crowd:
            table = p.state["participant"]["group"]["id"]
            order = list(range(1, 10))
            p.submit("rank", order if table == 1 else order[::-1] if table == 2
                     else order[4:] + order[:4])
        coach.open("similarities")
        coach.reveal(True)
        projector.wait_for_selector(".differ .strip")
        for width, height in SIZES:
            resize(projector, width, height)
            shots(projector, f"readable-similarities-key-{width}x{height}")
            where = (width, height)
            assert projector.evaluate(MEASURE)["bad"] == [], where
            shown = projector.evaluate(TABLE_KEY)
            assert [e["text"] for e in shown["entries"]] == [
                f"T{n} {name}" for n, name in enumerate(names, start=1)], where
            assert set(shown["labels"]) == {"T1", "T2", "T3"}, where
            for entry in shown["entries"]:
                assert entry["size"] >= 0.03 * height, (where, entry)
                assert entry["inside"] and not entry["overflows"], (where, entry)
                assert entry["broken"] == 0, (where, entry)
    finally:
        for p in crowd:
            p.close()
    assert pages.errors == []
