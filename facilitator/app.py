"""The application factory: configuration, the store, the socket server, the views."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, abort
from flask import request as flask_request
from flask.sessions import SecureCookieSessionInterface
from flask_socketio import SocketIO
from werkzeug.middleware.proxy_fix import ProxyFix

from facilitator import assets, limits, services, views
from facilitator.events import Guard, WorkshopNamespace
from facilitator.group_commit import GroupCommit
from facilitator.live import Broadcaster
from facilitator.store import Store
from facilitator.throttle import Failures, Rate

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "DATABASE": str(ROOT / "instance" / "facilitator.sqlite3"),
    # eventlet in production (the launcher patches); threading for tests and tools.
    "ASYNC_MODE": "threading",
    # Runs a blocking call (the SQLite commit) in a real OS thread and waits for it without
    # holding up the event loop; the launcher sets eventlet's tpool.execute. None: in place.
    "BLOCKING_CALL": None,
    # Origins allowed to open a socket besides our own; None = same origin only.
    "CORS_ORIGINS": None,
    # Base of the URL phones use (join link, QR). None = the URL the request came in on.
    "PUBLIC_URL": None,
    # Coalescing of console/projector snapshots, seconds; 0 sends each change at once (tests).
    "SNAPSHOT_INTERVAL": 0.15,
    # Phones sleep and lose Wi-Fi: ping every 10 s, give up on silence after 20 s more.
    "PING_INTERVAL": 10,
    "PING_TIMEOUT": 20,
    "MAX_PAYLOAD": 16 * 1024,
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "ORGANISER_SECRET": None,
    # An organiser login lasts this many hours (and ends for everyone at any logout, or when
    # the organiser secret changes).
    "ORGANISER_LOGIN_HOURS": 12,
    # When set, only those who give it may create sessions (a public host); off on a laptop.
    "TRAINER_SECRET": None,
    # Session creation per client address: a burst, then so many an hour.
    "SESSIONS_BURST": 20,
    "SESSIONS_PER_HOUR": 60,
    "SESSION_COOKIE_SAMESITE": "Strict",
    "SESSION_COOKIE_HTTPONLY": True,
    # -- what one client may cost (facilitator/limits.py; the launcher enforces the first
    # five). Open connections per client address; a header must arrive within HEADER_TIMEOUT s.
    "MAX_CONNECTIONS_PER_ADDRESS": 64,
    "HEADER_TIMEOUT": 10.0,
    # Websocket frames and bytes per connection (a phone sends one every few seconds); an
    # address may spend ADDRESS_TRAFFIC_SHARE connections' worth in all. Over budget: closed.
    "FRAME_RATE": 20.0,
    "FRAME_BURST": 100.0,
    "BYTE_RATE": 16 * 1024,
    "BYTE_BURST": 64 * 1024,
    "ADDRESS_TRAFFIC_SHARE": 10.0,
    # Event handlers in flight per socket and in all; past either the event is answered "busy".
    "HANDLERS_PER_SOCKET": 16,
    "HANDLERS_TOTAL": 4096,
    # Participants one session takes (the console can also lock joins at any time).
    "MAX_PARTICIPANTS": 1000,
    # Submits per participant token, whichever sockets carry them: a burst, then so many a
    # second (a phone's 10 events a second per socket cannot be multiplied by opening sockets).
    "SUBMIT_BURST": 20.0,
    "SUBMIT_RATE": 5.0,
    # Addresses of reverse proxies whose X-Forwarded-For/-Proto/-Host we believe (comma list).
    "TRUSTED_PROXIES": (),
}
NUMBERS = ("ORGANISER_LOGIN_HOURS", "SESSIONS_BURST", "SESSIONS_PER_HOUR",
           "MAX_CONNECTIONS_PER_ADDRESS", "HEADER_TIMEOUT", "FRAME_RATE", "FRAME_BURST",
           "BYTE_RATE", "BYTE_BURST", "ADDRESS_TRAFFIC_SHARE", "HANDLERS_PER_SOCKET",
           "HANDLERS_TOTAL", "SUBMIT_BURST", "SUBMIT_RATE", "MAX_PARTICIPANTS")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then environment (FACILITATOR_*), then ``test_config``."""
    app = Flask(__name__, static_folder=str(ROOT / "static"),
                static_url_path=assets.static_url_path(ROOT / "static"),
                template_folder=str(ROOT / "templates"))
    app.config.update(DEFAULTS)
    app.session_interface = PagesOnlySessions()
    for key in ("DATABASE", "PUBLIC_URL", "ORGANISER_SECRET", "CORS_ORIGINS", "TRAINER_SECRET"):
        value = os.environ.get(f"FACILITATOR_{key}")
        if value:
            app.config[key] = value
    for key in NUMBERS:
        value = os.environ.get(f"FACILITATOR_{key}")
        if value:
            app.config[key] = type(DEFAULTS[key])(float(value))
    proxies = os.environ.get("FACILITATOR_TRUSTED_PROXIES")
    if proxies:
        app.config["TRUSTED_PROXIES"] = proxies
    if test_config:
        app.config.update(test_config)
    cors = app.config["CORS_ORIGINS"]
    if isinstance(cors, str):
        cors = [o.strip() for o in cors.split(",") if o.strip()]

    if isinstance(app.config["TRUSTED_PROXIES"], str):
        app.config["TRUSTED_PROXIES"] = tuple(
            a.strip() for a in app.config["TRUSTED_PROXIES"].split(",") if a.strip())

    private_file(app.config["DATABASE"])
    store = Store(app.config["DATABASE"], blocking=app.config["BLOCKING_CALL"])
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or _stored_secret(store, "secret_key")
    app.config["ORGANISER_SECRET_GENERATED"] = False
    if not app.config["ORGANISER_SECRET"]:
        app.config["ORGANISER_SECRET_GENERATED"] = store.setting("organiser_secret") is None
        app.config["ORGANISER_SECRET"] = _stored_secret(store, "organiser_secret")
    app.extensions["facilitator.organiser_epoch"] = int(store.setting("organiser_epoch") or 0)
    app.extensions["facilitator.throttles"] = {
        "sessions": Rate(float(app.config["SESSIONS_BURST"]),
                         float(app.config["SESSIONS_PER_HOUR"])),
        "secrets": Failures(SECRET_FAILURES, SECRET_WINDOW, overall=SECRET_FAILURES_OVERALL),
    }

    socketio = SocketIO(
        app,
        async_mode=app.config["ASYNC_MODE"],
        cors_allowed_origins=origin_check(cors or []),
        ping_interval=app.config["PING_INTERVAL"],
        ping_timeout=app.config["PING_TIMEOUT"],
        max_http_buffer_size=app.config["MAX_PAYLOAD"],
        logger=False,
        engineio_logger=False,
    )
    app.extensions[services.KEY] = built = services.Services(
        store=store,
        socketio=socketio,
        guard=Guard(),
        commit=GroupCommit(store, socketio.start_background_task,
                           socketio.server.eio.create_event),
        broadcaster=Broadcaster(socketio, store, float(app.config["SNAPSHOT_INTERVAL"])),
    )
    socketio.on_namespace(WorkshopNamespace(built))
    # Outermost: only a configured proxy's X-Forwarded-* headers are believed (the client
    # address for throttles, https for Secure cookies and HSTS, the public host for the QR).
    app.wsgi_app = TrustedProxies(app.wsgi_app, app.config["TRUSTED_PROXIES"])
    limits.refuse_binary(socketio.server)
    app.extensions["facilitator.handlers"] = limits.bound_handlers(
        socketio.server, int(app.config["HANDLERS_PER_SOCKET"]),
        int(app.config["HANDLERS_TOTAL"]))
    app.extensions["facilitator.submits"] = limits.limit_submits(
        socketio.server, float(app.config["SUBMIT_RATE"]), float(app.config["SUBMIT_BURST"]))
    app.extensions["facilitator.limits"] = limits.TrafficLimits(
        limits.LimitConfig.from_app_config(app.config))
    app.register_blueprint(views.bp)
    assets.init_app(app)
    # Flask-SocketIO runs every socket event in a request context built from the handshake's
    # URL. Without a rule for that URL, werkzeug raises (and keeps, with its traceback and
    # frames) a NotFound per event: measurable CPU, and cyclic garbage that only the slower
    # collections free. HTTP to /socket.io/ never gets here (the Socket.IO middleware answers
    # it); /socket.io without the slash does, and gets the usual 404 page for every method.
    for endpoint, websocket, methods in (
        ("socketio", False, ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
        ("socketio_ws", True, ["GET", "HEAD", "OPTIONS"]),
    ):
        app.add_url_rule("/socket.io/", endpoint, _socketio_path, strict_slashes=False,
                         websocket=websocket, methods=methods, provide_automatic_options=False)
    return app


def _socketio_path() -> None:
    """Not a page: the app's 404 (see create_app)."""
    abort(404)


FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST",
             "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")


class TrustedProxies:
    """werkzeug's ProxyFix (one proxy: For, Proto, Host, Port) for requests whose TCP peer is
    one of ``trusted``; from anyone else the X-Forwarded-* headers are dropped unread."""

    def __init__(self, wsgi_app: Any, trusted: tuple[str, ...]) -> None:
        self.wsgi_app = wsgi_app
        self.trusted = frozenset(trusted)
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_port=1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Fix from a trusted proxy; strip from anyone else."""
        if environ.get("REMOTE_ADDR") in self.trusted:
            environ["facilitator.proxied"] = True
            return self.fixed(environ, start_response)
        for key in FORWARDED:
            environ.pop(key, None)
        return self.wsgi_app(environ, start_response)


class PagesOnlySessions(SecureCookieSessionInterface):
    """The organiser pages use Flask's cookie session; socket events never do. Flask opens the
    session for every request context, and Flask-SocketIO makes one per event: skip the cookie
    decode there (it was a measurable share of a submit)."""

    def open_session(self, app: Flask, request: Any) -> Any:
        """No session for Socket.IO traffic; the usual signed cookie everywhere else."""
        if request.path.startswith("/socket.io"):
            return self.null_session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure whenever the page came over https (directly or through a trusted proxy)."""
        return bool(app.config["SESSION_COOKIE_SECURE"] or flask_request.is_secure)


def origin_check(extra: list[str]):
    """Socket handshakes carrying an Origin must come from our own page (scheme://Host as the
    request names it, or as a proxy's X-Forwarded-* headers do) or a configured extra origin.
    A handshake without Origin (not a browser) is allowed; it still needs valid tokens."""

    def allowed(origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return True
        host = environ.get("HTTP_HOST", "")
        own = {f"{environ.get('wsgi.url_scheme', 'http')}://{host}"}
        forwarded_host = environ.get("HTTP_X_FORWARDED_HOST")
        forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if forwarded_host or forwarded_proto:
            scheme = (forwarded_proto or environ.get("wsgi.url_scheme", "http")).split(",")[0]
            fhost = (forwarded_host or host).split(",")[0]
            own.add(f"{scheme.strip()}://{fhost.strip()}")
        return origin in own or origin in extra

    return allowed


# Wrong organiser or trainer secrets: 5 per address, 50 from everyone together, per 15 minutes.
SECRET_FAILURES, SECRET_FAILURES_OVERALL, SECRET_WINDOW = 5, 50, 900.0


def private_file(path: str) -> None:
    """Create the database file readable by its owner only (0600; SQLite gives its -wal and
    -shm files the same mode), or tighten an existing one: it holds every token and secret."""
    if path == ":memory:" or path.startswith("file:"):
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.chmod(path + suffix, 0o600)


def _stored_secret(store: Store, key: str) -> str:
    """A secret generated once and kept in the database, so it survives restarts."""
    value = store.setting(key)
    if value is None:
        value = secrets.token_urlsafe(24)
        store.set_setting(key, value)
    return value
