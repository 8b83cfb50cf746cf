"""The launcher: ``python -m facilitator serve``. The one place that knows about eventlet."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import socket
import sys
import time
import warnings
from collections.abc import Callable

BACKLOG = 1024
MAX_CONNECTIONS = 10000
# Loggers a client can make write: python-socketio / python-engineio log a traceback for every
# packet they cannot parse.
CLIENT_TRIGGERED_LOGGERS = ("engineio.server", "socketio.server")


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
    if not public_url:
        host = lan_address() if args.host in ("0.0.0.0", "::", "") else args.host
        public_url = f"http://{host}:{args.port}"
    # SQLite commits run in a tpool thread (one at a time): a slow disk flush never stalls the loop
    eventlet.tpool.set_num_threads(1)
    config: dict = {"ASYNC_MODE": "eventlet", "PUBLIC_URL": public_url,
                    "BLOCKING_CALL": eventlet.tpool.execute}
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

    store = services(app).store
    print("facilitator is running.", flush=True)
    print(f"  Trainer, open:        http://127.0.0.1:{args.port}/  (create a workshop)",
          flush=True)
    print(f"  Phones join at:       {public_url}/j", flush=True)
    print(f"  Organiser page:       {public_url}/organiser", flush=True)
    if not os.environ.get("FACILITATOR_ORGANISER_SECRET"):
        print(f"  Organiser secret:     {app.config['ORGANISER_SECRET']}"
              "  (set FACILITATOR_ORGANISER_SECRET to choose your own)", flush=True)
    print(f"  Database:             {store.path}", flush=True)
    signal.signal(signal.SIGINT, stop_now)
    signal.signal(signal.SIGTERM, stop_now)
    eventlet.wsgi.server(listener, app, log_output=False, max_size=MAX_CONNECTIONS)
    return 0


def stop_now(signum: int, frame: object) -> None:
    """Ctrl-C / SIGTERM: exit at once. Everything acknowledged is already committed (SQLite
    recovers its WAL as after any crash); a phone whose submit was in flight resends it."""
    print("facilitator stopped.", flush=True)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
