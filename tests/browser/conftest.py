"""Browser tests: Playwright (sync API) driving Debian's Chromium against the real server.

The server runs as a subprocess (the ``live_server`` fixture of tests/conftest.py); this pytest
process is never monkey-patched by eventlet, which would make Playwright hang. Playwright's own
browser downloads are never used: only the system Chromium.

Without Chromium (or Playwright) the browser tests are skipped with a warning naming the reason;
with ``REQUIRE_BROWSER=1`` they fail instead (CI sets it).
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from driver import Trainer

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# axe-core from the npm registry (package.json, installed into node_modules by `make test`)
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"viewport": {"width": 360, "height": 640}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 2}


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        hint = f" (one is at {found}: set CHROMIUM_PATH)" if found else ""
        return f"no Chromium at {CHROMIUM}{hint}"
    return None


def browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "") not in ("", "0")


def pytest_collection_modifyitems(config, items):
    """Skip browser tests loudly when there is no browser (unless REQUIRE_BROWSER=1)."""
    chosen = [item for item in items if item.get_closest_marker("browser")]
    reason = browser_missing() if chosen else None
    if reason is None or browser_required():
        return
    message = (f"browser tests skipped: {reason}. Install Debian's chromium; "
               "REQUIRE_BROWSER=1 makes this a failure.")
    warnings.warn(pytest.PytestWarning(message), stacklevel=1)
    for item in chosen:
        item.add_marker(pytest.mark.skip(reason=message))


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium (fails under REQUIRE_BROWSER=1 when missing)."""
    reason = browser_missing()
    if reason:
        if browser_required():
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageWatch:
    """Collects every page's console errors, uncaught exceptions and dialogs (alert/confirm)."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    contexts: list = field(default_factory=list)
    watched: list = field(default_factory=list)

    def watch(self, page, name: str):
        self.watched.append((page, name))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"{name}: console error: {msg.text} ({msg.location.get('url', '')})"))
        page.on("pageerror", lambda exc: self.errors.append(f"{name}: page error: {exc}"))

        def on_dialog(dialog):
            self.dialogs.append(f"{name}: {dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    def new_page(self, browser, name: str, **context_options):
        context = browser.new_context(accept_downloads=True, **context_options)
        context.set_default_timeout(10_000)
        self.contexts.append(context)
        return self.watch(context.new_page(), name)

    def phone(self, browser, name: str):
        return self.new_page(browser, name, **PHONE)

    def close(self):
        for context in self.contexts:
            context.close()


def axe_violations(page, name: str = "") -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (injected through
    the DevTools protocol, so the page's CSP does not apply to it)."""
    if not AXE.exists():
        message = f"axe-core is not installed ({AXE}); run `make test` (npm ci)"
        if browser_required():
            pytest.fail(message)
        pytest.skip(message)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    found = page.evaluate("""async () => {
      const r = await axe.run(document, {resultTypes: ['violations']});
      return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' ')
          + ' ' + (n.failureSummary || '').split('\\n').slice(1, 2).join('')).join(' | ')}`);
    }""")
    return [f"{name} {page.url}: {v}" for v in found]


@pytest.fixture
def pages(browser):
    """Make pages that are watched for errors and dialogs; closed after the test. Every page
    still open at the end is checked with axe-core: no serious or critical violation."""
    watch = PageWatch()
    yield watch
    violations = []
    for page, name in watch.watched:
        if not page.is_closed() and page.url.startswith("http"):
            violations += axe_violations(page, name)
    watch.close()
    assert violations == [], "\n".join(violations)


@pytest.fixture(scope="session")
def shots():
    """Save a screenshot under build/screenshots/ (gitignored): shots(page, "name")."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return save


@pytest.fixture
def trainer():
    """trainer(live_server.url, facilitator_token) -> a connected Trainer; all closed afterwards."""
    made: list[Trainer] = []

    def make(url: str, token: str) -> Trainer:
        made.append(Trainer(url, token))
        return made[-1]

    yield make
    for t in made:
        t.close()


OVERFLOWING = """() => {
  // Elements that stick out of the viewport sideways (unless an ancestor clips them inside it),
  // and the scroll sizes of the page.
  const W = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!r.width && !r.height) continue;
    if (r.right <= W + 1 && r.left >= -1) continue;
    // cut off by an ancestor that clips (overflow not visible) inside the viewport: not seen
    let clipped = false;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX !== 'visible') {
        const ar = a.getBoundingClientRect();
        if (ar.right <= W + 1 && ar.left >= -1) { clipped = true; break; }
      }
    }
    if (!clipped) {
      const name = `${el.tagName.toLowerCase()}.${el.className || ''}#${el.id || ''}`;
      out.push(`${name} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  const d = document.scrollingElement;
  return {out, scrollWidth: d.scrollWidth, width: W,
          scrollHeight: d.scrollHeight, height: innerHeight};
}"""


def expect(actual, message: str | None = None):
    """Playwright's `expect` (an assertion that waits for its condition), imported when used so
    that this module loads without Playwright. Use it for a read that follows anything the page
    does later: a tap's click (made from the touch gesture after tap() returns), a socket round
    trip, another page's action relayed by the server."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual, message)


def resize(page, width: int, height: int) -> None:
    """Set the viewport and return once the page has handled its `resize` event (the projector
    re-renders and refits in it): the new size is in effect, and a frame has passed since, and
    resize events go out before a frame's animation callbacks. A condition, not a guessed pause
    that a slow machine can outrun."""
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_function("([w, h]) => innerWidth === w && innerHeight === h",
                           arg=[width, height])
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() =>"
                  " requestAnimationFrame(() => done())))")


@pytest.fixture(scope="session")
def layout():
    """layout(page) -> {"out": [elements sticking out of the viewport sideways], "scrollWidth",
    "width", "scrollHeight", "height"} of document.scrollingElement and the viewport."""
    return lambda page: page.evaluate(OVERFLOWING)
