"""Shared fixtures: a fresh app per test, socket test clients, and the real server as a
subprocess (eventlet, never patched into this pytest process)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from facilitator import create_app
from facilitator.services import services

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(tmp_path):
    """A fresh app on a temporary database; snapshots sent at once (no coalescing)."""
    app = create_app({
        "TESTING": True,
        "DATABASE": str(tmp_path / "test.sqlite3"),
        "SNAPSHOT_INTERVAL": 0,
        "PUBLIC_URL": "http://workshop.test",
        "ORGANISER_SECRET": "organiser-secret",
    })
    yield app
    services(app).store.close()


@pytest.fixture
def client(app):
    """Flask HTTP test client."""
    return app.test_client()


@pytest.fixture
def socketio(app):
    """The app's Flask-SocketIO server."""
    return services(app).socketio


@pytest.fixture
def store(app):
    """The app's store."""
    return services(app).store


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``python -m facilitator serve`` as a subprocess on 127.0.0.1 with its own database."""

    def __init__(self, db_path: Path, log_path: Path, snapshot_interval: float | None = None):
        self.db_path = db_path
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.snapshot_interval = snapshot_interval
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start (or restart) the server on the same port and database; wait until it serves."""
        args = [sys.executable, "-m", "facilitator", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--db", str(self.db_path),
                "--public-url", self.url]
        if self.snapshot_interval is not None:
            args += ["--snapshot-interval", str(self.snapshot_interval)]
        env = dict(os.environ, FACILITATOR_ORGANISER_SECRET="organiser-secret",
                   PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()}")

    def stop(self) -> None:
        """Stop gracefully (SIGINT), then make sure it is gone."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_log()

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def _close_log(self) -> None:
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def create_session(self, **body) -> dict:
        """POST /api/sessions; returns the JSON answer (code, links, tokens)."""
        body.setdefault("deck", "task-5-1")
        body.setdefault("groups", ["Table 1", "Table 2"])
        # The deck's order on every phone unless a test asks for shuffled starting orders:
        # the browser tests' expected orders start from it.
        body.setdefault("shuffle", False)
        req = urllib.request.Request(
            self.url + "/api/sessions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def get(self, path: str) -> bytes:
        """GET a path; returns the body."""
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return r.read()


@pytest.fixture
def live_server(tmp_path):
    """The real server (eventlet) in a subprocess; stopped after the test."""
    server = LiveServer(tmp_path / "live.sqlite3", tmp_path / "server.log")
    server.start()
    yield server
    server.stop()
