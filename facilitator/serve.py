"""The launcher: ``python -m facilitator serve``. The one place that knows about eventlet."""

from __future__ import annotations

import argparse
import gc
import io
import logging
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

BACKLOG = 1024
# eventlet's server stops accepting at max_size connections (default 1024).
MAX_CONNECTIONS = 10000
# A client that stops reading or writing mid-request is dropped after this long.
SOCKET_TIMEOUT = 60.0
# Loggers a client can make write: python-socketio / python-engineio log a traceback for every
# packet they cannot parse; Flask logs an unhandled exception per request, our handlers one per
# failed event, eventlet's HTTP server (given HTTP_LOGGER) one per broken response.
HTTP_LOGGER = "facilitator.http"
CLIENT_TRIGGERED_LOGGERS = ("engineio.server", "socketio.server", "facilitator.app",
                            "facilitator.events", HTTP_LOGGER)


class LogLimit(logging.Filter):
    """At most ``limit`` records per ``window`` seconds; the first record let through after
    some were dropped says how many. Keeps a phone sending garbage from filling the disk."""

    def __init__(self, limit: int = 10, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.limit, self.window, self.clock = limit, window, clock
        self.window_start = float("-inf")
        self.passed = 0
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Let the record through unless this window's allowance is spent."""
        now = self.clock()
        if now - self.window_start >= self.window:
            self.window_start, self.passed = now, 0
        if self.passed >= self.limit:
            self.dropped += 1
            return False
        self.passed += 1
        if self.dropped:
            record.msg = (f"{record.getMessage()} [{self.dropped} more records like this were"
                          f" dropped: at most {self.limit} every {self.window:g} s]")
            record.args = ()
            self.dropped = 0
        return True


def limit_client_triggered_logs() -> None:
    """Rate-limit the loggers in ``CLIENT_TRIGGERED_LOGGERS``."""
    for name in CLIENT_TRIGGERED_LOGGERS:
        logging.getLogger(name).addFilter(LogLimit())


def lan_address() -> str:
    """This machine's address on the local network (what phones can reach), else 127.0.0.1.

    Uses a UDP socket's routing decision towards a documentation address (RFC 5737): connect()
    on UDP sends no packet.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            address = probe.getsockname()[0]
            if not address.startswith("127.") and address != "0.0.0.0":
                return address
    except OSError:
        pass
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            address = info[4][0]
            if not address.startswith("127."):
                return address
    except OSError:
        pass
    return "127.0.0.1"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options of ``serve``."""
    parser = argparse.ArgumentParser(prog="python -m facilitator serve",
                                     description="Serve facilitator (Flask-SocketIO on eventlet).")
    parser.add_argument("--host", default="0.0.0.0", help="interface to listen on (all)")
    parser.add_argument("--port", type=int, default=5000, help="port (5000)")
    parser.add_argument("--db", default=None, help="SQLite file (instance/facilitator.sqlite3)")
    parser.add_argument("--public-url", default=None,
                        help="URL phones use, e.g. https://workshop.example.org "
                             "(default: http://<LAN address>:<port>)")
    parser.add_argument("--snapshot-interval", type=float, default=None,
                        help="seconds between projector updates (0.15)")
    return parser.parse_args(argv)


REFUSED = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0"
           b"\r\nRetry-After: 5\r\n\r\n")
TOO_MANY = (b"HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0"
            b"\r\nRetry-After: 2\r\n\r\n")
# Seconds a refused connection or request waits for its answer.
REFUSAL_PAUSE = 1.0
# A websocket reader yields to the other connections after this many frames in a row (a
# flood's frames are already buffered, so reading them never waits).
YIELD_EVERY = 8
TOO_MUCH = (b"429 Too Many Requests", [("Content-Type", "text/plain"), ("Retry-After", "2")],
            b"Too much traffic from this address; slow down.")


def eventlet_parts(limits: Any, header_timeout: float,
                   max_payload: int) -> tuple[type, type, Callable]:
    """The eventlet classes that enforce ``limits`` (facilitator/limits.py): an HTTP protocol
    with the per-address connection cap and a deadline for a request's line and headers, a
    websocket handler that counts every frame (pings, pongs, messages) against the sender's
    budget and refuses binary frames, and a WSGI wrapper that charges Engine.IO polling posts
    to the same budget. Built here so that eventlet stays in the launcher."""
    import eventlet
    import eventlet.websocket
    import eventlet.wsgi
    from engineio.async_drivers import eventlet as engineio_eventlet

    failed = eventlet.websocket.FailedConnectionError

    class Protocol(eventlet.wsgi.HttpProtocol):
        """One TCP connection: capped per address; every request's headers on a deadline."""

        def __init__(self, conn_state: list, server: Any) -> None:
            address = conn_state[0][0] if isinstance(conn_state[0], tuple) else "?"
            self._address = address
            if not limits.open(address):
                refuse(address, conn_state[1], REFUSED)
                return  # eventlet closes the socket
            self._header_timer = None
            self._over_budget = False
            try:
                super().__init__(conn_state, server)
            finally:
                limits.close(address)

        def handle_one_request(self) -> None:
            """Wait at most ``header_timeout`` for the request line and headers (an idle
            keep-alive connection is closed after as long)."""
            timer = self._header_timer = eventlet.Timeout(header_timeout)
            try:
                super().handle_one_request()
            except eventlet.Timeout as exc:
                if exc is not timer:
                    raise
                self.close_connection = 1
            finally:
                timer.cancel()

        def get_environ(self) -> dict:
            """Headers are in: the deadline no longer applies; the request is charged to the
            address's budget."""
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._over_budget = not limits.request(self._address)
            return super().get_environ()

        def handle_one_response(self) -> None:
            """Over budget: 429 (after a pause) instead of running the app."""
            if self._over_budget:
                self.close_connection = 1
                refuse(self._address, self.connection, TOO_MANY)
                return
            super().handle_one_response()

    def refuse(address: str, sock: Any, answer: bytes) -> None:
        """Answer a refused connection or request after REFUSAL_PAUSE seconds (a client that
        waits for answers, as most floods do, slows itself down), or at once with nothing
        when the address already has as many refusals waiting as it may have connections."""
        if not limits.hold(address):
            return
        try:
            eventlet.sleep(REFUSAL_PAUSE)
            sock.settimeout(1)
            sock.sendall(answer)
        except OSError:
            pass
        finally:
            limits.release(address)

    class WebSocket(engineio_eventlet.WebSocketWSGI):
        """Engine.IO's eventlet websocket, with every incoming frame counted."""

        def __call__(self, environ: dict, start_response: Callable) -> Any:
            address = environ.get("REMOTE_ADDR") or "?"
            budget = limits.budget(address)
            handler = self.handler

            def counted(ws: Any) -> Any:
                receive = ws._recv_frame
                frames = 0

                def recv_frame(message: Any = None) -> Any:
                    nonlocal frames
                    got = receive(message=message)
                    if got.opcode == 2:
                        raise failed(1003, "Binary frames are not accepted.")
                    if not budget.take(1, 0):
                        raise failed(1008, "Too many frames from this connection.")
                    frames += 1
                    if frames % YIELD_EVERY == 0:
                        # frames already buffered must not monopolise the loop; a yield per
                        # frame cost more than the frame (a timer and a hub pass each)
                        eventlet.sleep(0)
                    return got

                def unmask(data: bytes, mask: tuple, length: int | None = None,
                           offset: int = 0) -> bytes:
                    if not budget.take(0, len(data)):
                        raise failed(1008, "Too much data from this connection.")
                    return fast_unmask(data, mask, offset)

                ws._recv_frame = recv_frame
                ws._apply_mask = unmask
                return handler(ws)

            self.handler = counted
            try:
                return super().__call__(environ, start_response)
            finally:
                limits.end(address, budget)

    def charge_polling(app: Callable) -> Callable:
        def wsgi(environ: dict, start_response: Callable) -> Any:
            if environ.get("REQUEST_METHOD") == "POST" and \
                    environ.get("PATH_INFO", "").startswith("/socket.io"):
                try:
                    size = max(0, int(environ.get("CONTENT_LENGTH") or 0))
                except ValueError:
                    size = 0
                packets = 1
                if 0 < size <= max_payload:  # larger: Engine.IO refuses it unread
                    body = environ["wsgi.input"].read(size)
                    packets = body.count(b"\x1e") + 1  # Engine.IO's packet separator
                    environ["wsgi.input"] = io.BytesIO(body)
                if not limits.charge(environ.get("REMOTE_ADDR") or "?", packets, size):
                    status, headers, body = TOO_MUCH
                    start_response(status.decode(), headers)
                    return [body]
            return app(environ, start_response)

        return wsgi

    return Protocol, WebSocket, charge_polling


def fast_unmask(data: bytes, mask: tuple, offset: int = 0) -> bytes:
    """XOR ``data`` with the websocket mask (4 byte values, starting at ``offset``) in one big
    integer operation: eventlet does it a byte at a time in Python (5.7 ms per 16 KB)."""
    n = len(data)
    key = bytes(mask[(offset + i) % 4] for i in range(4))
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def raise_file_limit() -> None:
    """Thousands of phones need thousands of file descriptors."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, ValueError, OSError):
        pass


def main(argv: list[str]) -> int:
    """Patch for eventlet, build the app, print the links, serve until interrupted."""
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    import eventlet.tpool
    import eventlet.wsgi

    from facilitator.app import create_app
    from facilitator.services import services

    args = parse_args(argv)
    raise_file_limit()
    limit_client_triggered_logs()
    public_url = args.public_url or os.environ.get("FACILITATOR_PUBLIC_URL")
    guessed = not public_url
    if guessed:
        host = lan_address() if args.host in ("0.0.0.0", "::", "") else args.host
        public_url = f"http://{host}:{args.port}"
    # SQLite commits run in a tpool thread (one at a time): a slow disk flush never stalls the loop
    eventlet.tpool.set_num_threads(1)
    # A guessed URL gives way to a trusted proxy's public one (views.public_base).
    config: dict = {"ASYNC_MODE": "eventlet", "PUBLIC_URL": public_url,
                    "PUBLIC_URL_GUESSED": guessed, "BLOCKING_CALL": eventlet.tpool.execute}
    if args.db:
        config["DATABASE"] = args.db
    if args.snapshot_interval is not None:
        config["SNAPSHOT_INTERVAL"] = args.snapshot_interval
    app = create_app(config)
    # Thousands of sockets make many long-lived objects; a full garbage collection over them
    # stalls every phone for ~0.1 s. Freeze what start-up made, and collect young objects
    # less often (the server allocates briskly but keeps little).
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    listener = eventlet.listen((args.host, args.port), backlog=BACKLOG)
    protocol, websocket, charge_polling = eventlet_parts(
        app.extensions["facilitator.limits"], float(app.config["HEADER_TIMEOUT"]),
        int(app.config["MAX_PAYLOAD"]))
    eio = services(app).socketio.server.eio
    eio._async = dict(eio._async, websocket=websocket)

    store = services(app).store
    print("facilitator is running.", flush=True)
    print(f"  Trainer, open:        http://127.0.0.1:{args.port}/  (create a workshop)",
          flush=True)
    print(f"  Phones join at:       {public_url}/j", flush=True)
    print(f"  Organiser page:       {public_url}/organiser", flush=True)
    print(organiser_secret_line(app.config), flush=True)
    print(f"  Database:             {store.path}", flush=True)
    signal.signal(signal.SIGINT, stop_now)
    signal.signal(signal.SIGTERM, stop_now)
    eventlet.wsgi.server(listener, charge_polling(app), log=logging.getLogger(HTTP_LOGGER),
                         log_output=False,
                         max_size=MAX_CONNECTIONS, protocol=protocol,
                         socket_timeout=SOCKET_TIMEOUT)
    return 0


def organiser_secret_line(config: dict) -> str:
    """The organiser secret is printed once, when it is generated; after that the terminal
    (and whatever records it) never shows it again."""
    if config.get("ORGANISER_SECRET_GENERATED"):
        return (f"  Organiser secret:     {config['ORGANISER_SECRET']}  (new: note it now, it is"
                " not shown again; or set FACILITATOR_ORGANISER_SECRET)")
    if os.environ.get("FACILITATOR_ORGANISER_SECRET"):
        return "  Organiser secret:     from FACILITATOR_ORGANISER_SECRET"
    return ("  Organiser secret:     the one printed when this database was created"
            " (or set FACILITATOR_ORGANISER_SECRET)")


def stop_now(signum: int, frame: object) -> None:
    """Ctrl-C / SIGTERM: exit at once. Everything acknowledged is already committed (SQLite
    recovers its WAL as after any crash); a phone whose submit was in flight resends it."""
    print("facilitator stopped.", flush=True)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
