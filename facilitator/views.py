"""HTTP views: the three pages, session creation, QR codes, CSV exports, the organiser page."""

from __future__ import annotations

import hmac
import io
import json
import secrets
import time
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from facilitator import export, session_setup, workshop
from facilitator.decks import DEFAULT_DECK_ID, Deck, DeckError, deck_from_text, load_decks
from facilitator.services import error_body, error_for, services
from facilitator.store import Store
from facilitator.workshop import Session, WorkshopError

bp = Blueprint("facilitator", __name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
EXPORTS = ("responses", "summary", "groups", "tables", "changes")
STATEMENT_MAX = 1000  # characters of one pasted statement
ORGANISER_PAGE = 50  # sessions per page of the organiser list


def store() -> Store:
    """The app's store."""
    return services().store


def decks() -> dict[str, Deck]:
    """Statement decks from statements/, read once per app."""
    if "facilitator.decks" not in current_app.extensions:
        current_app.extensions["facilitator.decks"] = load_decks()
    return current_app.extensions["facilitator.decks"]


def public_base() -> str:
    """Base URL phones use: the configured public URL; else, behind a trusted proxy, the
    URL the request came in on there (https://public-host); else the launcher's guess (the
    LAN address) or this request's URL."""
    config = current_app.config
    if config["PUBLIC_URL"] and not (config.get("PUBLIC_URL_GUESSED")
                                     and request.environ.get("facilitator.proxied")):
        return config["PUBLIC_URL"].rstrip("/")
    return request.host_url.rstrip("/")


def session_links(s: Session) -> dict[str, Any]:
    """Every link a trainer gets for a session."""
    base = public_base()
    return {
        "code": s.code,
        "facilitator_url": url_for("facilitator.console", token=s.console_token),
        "projector_url": url_for("facilitator.projector", key=s.projector_key),
        "join_url": f"{base}/j/{s.code}",
        "qr_url": url_for("facilitator.qr", code=s.code),
        "exports": {kind: url_for("facilitator.session_export", token=s.console_token,
                                  kind=kind) for kind in EXPORTS},
    }


@bp.after_app_request
def security_headers(response: Response) -> Response:
    """CSP with our own scripts only, no sniffing, no framing, no referrer (links hold tokens)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.is_secure:  # over https (directly or through a trusted proxy): stay there
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if request.path.startswith(("/facilitator/", "/organiser", "/api/")):
        response.headers["Cache-Control"] = "no-store"
    return response


ERROR_CODES = {400: "bad_request", 403: "forbidden", 404: "not_found", 405: "bad_request",
               413: "too_large", 429: "rate_limited"}


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[Response | str, int]:
    """Every HTTP error as our own page (JSON under /api/), never a traceback."""
    status = exc.code or 500
    message = exc.description or exc.name
    if status == 404:
        message = "This link is not valid (or the session was deleted)."
    elif status == 413:
        message = "The request is too large."
    elif status == 429:
        message = "Too many attempts from your address; wait a minute and try again."
    if request.path.startswith("/api/") or status == 413:
        code = ERROR_CODES.get(status, "bad_request")
        return jsonify(error_body(code, message)), status
    title = exc.name[:1] + exc.name[1:].lower()  # "Not found", "Method not allowed"
    return render_template("error.html", title=title, message=message), status


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness for launchers and tests."""
    return {"status": "ok"}


@bp.get("/")
def index() -> str:
    """Landing page: join with a code, or create a workshop."""
    return render_template("index.html", decks=[d.to_dict() for d in decks().values()],
                           default_deck=DEFAULT_DECK_ID,
                           trainer_secret=bool(current_app.config["TRAINER_SECRET"]))


@bp.get("/j")
@bp.get("/j/<code>")
def phone(code: str = "") -> str:
    """The participant's page (the QR code opens it with the code filled in, and the session's
    table groups to choose from)."""
    code = workshop.normalise_code(code) or ""
    s = look_up_code(code) if code else None
    groups, title = [], ""
    if s is not None and not s.closed:
        groups = [{"id": n, "name": g.name} for n, g in s.groups.items()]
        title = s.title
    return render_template("phone.html", code=code, groups=groups, title=title)


@bp.get("/facilitator/<token>")
def console(token: str) -> str:
    """The trainer's console (private link)."""
    s = store().by_console(token) or abort(404)
    return render_template("facilitator.html", token=token, title=s.title, **session_links(s))


@bp.get("/projector/<key>")
def projector(key: str) -> str:
    """The projector view (read-only link)."""
    s = store().by_projector(key) or abort(404)
    links = session_links(s)
    return render_template("projector.html", key=key, code=s.code, title=s.title,
                           join_url=links["join_url"], qr_url=links["qr_url"])


def client_address() -> str:
    """The client's address (the real one behind a trusted proxy: app.TrustedProxies)."""
    return request.remote_addr or "?"


def look_up_code(code: str | None) -> Session | None:
    """A session by join code over HTTP, under the same throttle as joins over the socket:
    too many wrong codes from an address and every look-up answers 429 for a while."""
    guard, address = services().guard, client_address()
    if not guard.join_attempt(address):  # counted as wrong until the look-up says otherwise
        abort(429)
    s = store().by_code(code) if code else None
    if s is not None:
        guard.join_succeeded(address)
    return s


@bp.get("/qr/<code>.svg")
def qr(code: str) -> Response:
    """QR code (SVG) of a session's join URL."""
    s = look_up_code(workshop.normalise_code(code)) or abort(404)
    out = io.BytesIO()
    segno.make(f"{public_base()}/j/{s.code}", error="m").save(
        out, kind="svg", scale=10, border=2, dark="#000", light="#fff", xmldecl=False,
        svgns=True, title="Join code " + s.code)
    return Response(out.getvalue(), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-cache"})


@bp.get("/api/decks")
def api_decks() -> Response:
    """The decks a trainer can choose from."""
    return jsonify([d.to_dict() for d in decks().values()])


def _api_error(code: str, message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error_body(code, message)), status


@bp.post("/api/sessions")
def create_session() -> tuple[Response, int]:
    """Create a workshop session from a deck (or pasted statements) and table groups."""
    throttles = current_app.extensions["facilitator.throttles"]
    if not throttles["sessions"].allow(client_address()):
        return _api_error("rate_limited", "Too many new sessions from your address; wait a "
                          "few minutes.", 429)
    body = json_object()
    if body is None:
        return _api_error("bad_request", "Send a JSON object.")
    wanted = current_app.config["TRAINER_SECRET"]
    if wanted:
        if throttles["secrets"].blocked(client_address()):
            return _api_error("rate_limited", "Too many wrong secrets; wait and try again.", 429)
        given = body.get("trainer_secret")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(),
                                                                 wanted.encode()):
            throttles["secrets"].failed(client_address())
            return _api_error("forbidden", "This server asks trainers for its trainer secret.",
                              403)
    try:
        check_sizes(body)
        deck = _deck_for(body)
        session_setup.check_table_count(body.get("groups"), body.get("group_count"))
        groups = workshop.group_names(body.get("groups"), body.get("group_count"))
        title = workshop.clean_text(body.get("title"), workshop.TITLE_MAX) or deck.title
        shuffle = body.get("shuffle", True)
        if not isinstance(shuffle, bool):
            raise WorkshopError("bad_request", "shuffle must be true or false.")
    except (DeckError, WorkshopError) as exc:
        return jsonify(error_for(exc)), 400
    s = store().create_session(deck, title, groups, shuffle=shuffle)
    links = session_links(s)
    links.pop("exports")
    links.update(facilitator_token=s.console_token, projector_key=s.projector_key)
    return jsonify(links), 201


def json_object() -> dict[str, Any] | None:
    """The request's JSON object, or None for anything else: not JSON, not an object, or
    nested too deeply for the parser (a RecursionError, not a 500 and a traceback)."""
    if not request.is_json:
        return None
    try:
        body = json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):
        return None
    return body if isinstance(body, dict) else None


def check_sizes(body: dict[str, Any]) -> None:
    """Refuse counts and lists over their limits before anything is built from them."""
    count, names = body.get("group_count"), body.get("groups")
    if isinstance(count, int) and not isinstance(count, bool) and \
            not 1 <= count <= workshop.MAX_GROUPS:
        raise WorkshopError("bad_request", f"A session has 1 to {workshop.MAX_GROUPS} groups.")
    if isinstance(names, list) and len(names) > workshop.MAX_GROUPS:
        raise WorkshopError("bad_request", f"A session has 1 to {workshop.MAX_GROUPS} groups.")


def _deck_for(body: dict[str, Any]) -> Deck:
    pasted = body.get("statements")
    if pasted:
        if not isinstance(pasted, str):
            raise WorkshopError("bad_request", "statements must be text, one per line.")
        discard, top = body.get("discard", 1), body.get("top")
        for value in (discard, top):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise WorkshopError("bad_request", "discard and top must be whole numbers.")
        title = workshop.clean_text(body.get("title"), workshop.TITLE_MAX) or "Custom statements"
        # control, bidi and zero-width characters out of every line (NUL included)
        pasted = "\n".join(workshop.clean_text(line, STATEMENT_MAX)
                           for line in pasted.splitlines())
        return session_setup.leave_a_choice(deck_from_text(title, pasted, discard=discard, top=top),
                                            top_given=top is not None)
    deck_id = body.get("deck") or DEFAULT_DECK_ID
    if not isinstance(deck_id, str) or deck_id not in decks():
        raise WorkshopError("not_found", "There is no such statement deck.")
    return decks()[deck_id]


# -- exports ---------------------------------------------------------------------------------
def csv_response(data: bytes, filename: str) -> Response:
    """A CSV download."""
    return Response(data, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def export_bytes(sessions: list[Session], kind: str) -> bytes:
    """responses/summary/groups CSV for one or more sessions run with the same deck."""
    deck = sessions[0].deck
    rows = [row for s in sessions for row in export.session_rows(s)]
    if kind == "responses":
        return export.responses_csv(rows, deck, extra_columns=("name",))
    tables = [row for s in sessions for row in export.session_tables(s)]
    if kind == "tables":
        return export.tables_csv(tables, deck)
    if kind == "changes":
        return export.changes_csv(export.changes(rows, deck, tables))
    summary_rows, group_rows = export.summarise(rows, deck)
    return export.summary_csv(summary_rows) if kind == "summary" else export.groups_csv(group_rows)


@bp.get("/facilitator/<token>/export/<kind>.csv")
def session_export(token: str, kind: str) -> Response:
    """This session's CSV, at any time (mid-session too)."""
    s = store().by_console(token) or abort(404)
    if kind not in EXPORTS:
        abort(404)
    return csv_response(export_bytes([s], kind), f"{s.code}-{kind}.csv")


# -- organiser -------------------------------------------------------------------------------
def _organiser() -> bool:
    """Does this browser hold a live organiser login? One made with the current organiser
    secret, since the last logout (anyone's), within ORGANISER_LOGIN_HOURS."""
    login = session.get("organiser")
    if not isinstance(login, dict):
        return False
    hours = float(current_app.config["ORGANISER_LOGIN_HOURS"])
    since = login.get("since")
    return (login.get("epoch") == current_app.extensions["facilitator.organiser_epoch"]
            and hmac.compare_digest(str(login.get("key", "")), _secret_fingerprint())
            and isinstance(since, (int, float)) and 0 <= time.time() - since < hours * 3600)


def _secret_fingerprint() -> str:
    """Names the organiser secret a login was made with, without holding it (the cookie is
    signed, not encrypted)."""
    return hmac.new(current_app.config["SECRET_KEY"].encode(),
                    current_app.config["ORGANISER_SECRET"].encode(), "sha256").hexdigest()[:32]


def _csrf() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(16)
    return session["csrf"]


def _check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
        abort(400, "Form expired; reload the page.")


@bp.get("/organiser")
def organiser() -> str:
    """Past and current sessions, newest first, ORGANISER_PAGE a page, for organisers who hold
    the organiser secret."""
    listing, page, pages, total = [], 1, 1, 0
    if _organiser():
        total = store().session_count()  # read from the database: closed sessions stay there
        pages = max(1, -(-total // ORGANISER_PAGE))
        page = request.args.get("page", 1, type=int) or 1
        page = min(max(page, 1), pages)
        for s in store().session_summaries((page - 1) * ORGANISER_PAGE, ORGANISER_PAGE):
            # a trainer who lost the console link gets it back here
            s["console_url"] = url_for("facilitator.console", token=s.pop("console_token"))
            listing.append(s)
    return render_template("organiser.html", authenticated=_organiser(), sessions=listing,
                           page=page, pages=pages, total=total, error=request.args.get("error"),
                           csrf=_csrf())


@bp.post("/organiser/login")
def organiser_login() -> Response:
    """Check the organiser secret (wrong ones are throttled per address and overall, apart
    from join codes)."""
    _check_csrf()
    failures = current_app.extensions["facilitator.throttles"]["secrets"]
    address = client_address()
    if failures.blocked(address):
        return _back_to_organiser("Too many wrong secrets; wait a while and try again.")
    secret = request.form.get("secret", "")
    if hmac.compare_digest(secret.encode(), current_app.config["ORGANISER_SECRET"].encode()):
        session["organiser"] = {"epoch": current_app.extensions["facilitator.organiser_epoch"],
                                "key": _secret_fingerprint(), "since": time.time()}
        return redirect(url_for("facilitator.organiser"))
    failures.failed(address)
    return _back_to_organiser("That secret is not right.")


@bp.post("/organiser/logout")
def organiser_logout() -> Response:
    """Log out, and end every organiser login on every browser (a cookie copied elsewhere
    must not outlive the logout)."""
    _check_csrf()
    if _organiser():
        epoch = current_app.extensions["facilitator.organiser_epoch"] + 1
        store().set_setting("organiser_epoch", str(epoch))
        current_app.extensions["facilitator.organiser_epoch"] = epoch
    session.pop("organiser", None)
    return redirect(url_for("facilitator.organiser"))


@bp.get("/organiser/export/<kind>.csv")
def organiser_export(kind: str) -> Response:
    """One CSV of several sessions (they must have been run with the same deck)."""
    if not _organiser():
        abort(403)
    if kind not in EXPORTS:
        abort(404)
    codes = list(dict.fromkeys(request.args.getlist("session")))  # each session once
    chosen = [store().by_code(c) for c in codes]
    if not codes or any(s is None for s in chosen):
        return _back_to_organiser("Tick one or more existing sessions.")
    sessions = [s for s in chosen if s is not None]
    if len({(s.deck.statements, s.deck.discard, s.deck.top) for s in sessions}) > 1:
        return _back_to_organiser(
            "These sessions used different statement decks; export them separately.")
    name = sessions[0].code if len(sessions) == 1 else f"{len(sessions)}-sessions"
    return csv_response(export_bytes(sessions, kind), f"{name}-{kind}.csv")


def _back_to_organiser(message: str) -> Response:
    return redirect(url_for("facilitator.organiser", error=message))


@bp.post("/organiser/sessions/<code>/delete")
def organiser_delete(code: str) -> Response:
    """Delete a session and all its answers."""
    if not _organiser():
        abort(403)
    _check_csrf()
    s = store().by_code(code) or abort(404)
    services().broadcaster.forget(s)
    store().delete_session(s)
    return redirect(url_for("facilitator.organiser"))
