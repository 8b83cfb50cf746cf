"""Shared fixtures: a fresh app per test, socket test clients, and the real server as a
subprocess (eventlet, never patched into this pytest process)."""

from __future__ import annotations

import pytest
from driver import LiveServer

from facilitator import create_app
from facilitator.services import services


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


@pytest.fixture
def live_server(tmp_path):
    """The real server (eventlet) in a subprocess; stopped after the test."""
    server = LiveServer(tmp_path / "live.sqlite3", tmp_path / "server.log")
    server.start()
    yield server
    server.stop()
