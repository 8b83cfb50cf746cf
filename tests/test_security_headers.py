"""Every page route, a static file, the QR code, the JSON and CSV routes and the error page send
the security headers: a Content-Security-Policy that runs only our own scripts (no inline
script, no eval, no other hosts), no MIME sniffing, no framing, no referrer (links hold tokens).
The pages themselves carry no inline script or event-handler attribute, which the policy would
block anyway."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = pytest.mark.faults

STATIC = Path(__file__).resolve().parent.parent / "static"


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_secure(response) -> None:
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', 'unsafe-eval', hosts, data:
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy.get("object-src", ["'none'"]) in (["'none'"], ["'self'"])
    for sources in policy.values():
        assert "*" not in sources and "'unsafe-eval'" not in sources
        assert not any(s.startswith(("http:", "https:")) for s in sources)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


class Scripts(HTMLParser):
    """Collects <script> tags and on* attributes of a page."""

    def __init__(self):
        super().__init__()
        self.inline: list[str] = []
        self.sources: list[str] = []
        self.handlers: list[tuple[str, str]] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.handlers += [(tag, a) for a in attrs if a.lower().startswith("on")]
        for a in ("href", "src", "action", "formaction"):
            if (attrs.get(a) or "").strip().lower().startswith("javascript:"):
                self.handlers.append((tag, a))
        if tag == "script":
            if attrs.get("src"):
                self.sources.append(attrs["src"])
            else:
                self._in_script = attrs.get("type", "") in ("", "module", "text/javascript")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:80])


@pytest.fixture
def session_info(client):
    r = client.post("/api/sessions", json={"deck": "task-5-1", "groups": ["Table 1"]})
    assert r.status_code == 201
    return r.get_json()


PAGES = ["/", "/j", "/j/{code}", "/facilitator/{facilitator_token}",
         "/projector/{projector_key}", "/organiser"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_security_headers_and_runs_only_our_own_scripts(client,
                                                                             session_info, path):
    r = client.get(path.format(**session_info))
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert_secure(r)
    page = Scripts()
    page.feed(r.get_data(as_text=True))
    assert page.inline == [], "inline <script> would be blocked by the CSP"
    assert page.handlers == [], "event-handler attributes would be blocked by the CSP"
    for src in page.sources:
        assert src.startswith("/") and not src.startswith("//"), src


def test_private_pages_and_exports_are_not_cached(client, session_info):
    """The console link and the exports carry the facilitator token in the URL."""
    token = session_info["facilitator_token"]
    for path in (f"/facilitator/{token}", f"/facilitator/{token}/export/responses.csv",
                 "/organiser"):
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "no-store"
        assert_secure(r)


@pytest.mark.parametrize("path, mimetype", [
    ("/qr/{code}.svg", "image/svg+xml"),
    ("/api/decks", "application/json"),
    ("/healthz", "application/json"),
    ("/facilitator/{facilitator_token}/export/responses.csv", "text/csv"),
    ("/facilitator/{facilitator_token}/export/summary.csv", "text/csv"),
    ("/facilitator/{facilitator_token}/export/groups.csv", "text/csv"),
])
def test_other_routes_send_the_security_headers(client, session_info, path, mimetype):
    r = client.get(path.format(**session_info))
    assert r.status_code == 200 and r.mimetype == mimetype
    assert_secure(r)
    if mimetype == "text/csv":
        assert r.headers["Content-Disposition"].startswith("attachment;")
    if mimetype == "image/svg+xml":
        assert b"<script" not in r.get_data().lower()


def test_a_static_file_sends_the_security_headers(client):
    files = sorted(p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts)
    if not files:
        pytest.skip("static/ has no files yet")
    for path in files[:3]:
        r = client.get("/static/" + path.relative_to(STATIC).as_posix())
        assert r.status_code == 200
        assert_secure(r)
        if path.suffix in (".js", ".mjs"):
            assert r.mimetype in ("text/javascript", "application/javascript")


def test_error_pages_send_the_security_headers_and_no_traceback(client):
    for path in ("/facilitator/not-a-token", "/projector/nope", "/nothing-here",
                 "/facilitator/nope/export/responses.csv", "/qr/ZZZZZZZZ.svg"):
        r = client.get(path)
        assert r.status_code == 404
        assert_secure(r)
        assert "Traceback" not in r.get_data(as_text=True)


def test_a_cross_site_form_cannot_create_a_session(client, store):
    """A foreign page can POST a form (text/plain or urlencoded) without a CORS preflight;
    the API only reads a JSON body, so nothing is created."""
    for content_type, body in (("text/plain", '{"deck": "task-5-1"}'),
                               ("application/x-www-form-urlencoded", "deck=task-5-1"),
                               ("multipart/form-data; boundary=x", "--x--")):
        r = client.post("/api/sessions", data=body, content_type=content_type,
                        headers={"Origin": "http://evil.example"})
        assert r.status_code == 400
    assert store.sessions == {}


def test_a_request_body_over_the_limit_is_refused(client, store):
    r = client.post("/api/sessions", data=b"{" + b" " * (65 * 1024) + b"}",
                    content_type="application/json")
    assert r.status_code == 413
    assert re.search(r"too_large", r.get_data(as_text=True))
    assert store.sessions == {}
