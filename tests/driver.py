"""The one protocol driver of the tests: create a session, call an event, a room of phones.

In process (Flask-SocketIO test clients on a fresh app): ``create``, ``call``, ``received``,
``Room``. The real server as a subprocess under eventlet: ``LiveServer``; against it
``Client`` (a blocking python-socketio client) with ``Trainer`` and ``LivePhone``, and asyncio
phones for tests with hundreds of them: ``Phone``, ``connect``, ``acall``, ``join_all``,
``room_with_phones`` ... Server, fault, hostile-input and browser tests all use it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

BATCH = 50  # asyncio phones connect this many at a time


# -- in process: Flask-SocketIO test clients -----------------------------------------------
def create(client, **body) -> dict:
    """POST /api/sessions and return the answer."""
    body.setdefault("deck", "task-5-1")
    body.setdefault("groups", ["Table 1", "Table 2"])
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def call(sock, event, *args, **data):
    """Emit ``event`` with an ack and return the ack: the payload is ``data`` as one object,
    or ``args`` exactly as given (hostile-input tests send anything)."""
    return sock.emit(event, *(args or (data,)), callback=True)


def received(sock, name):
    """The payloads of every ``name`` event this client received since last asked."""
    return [e["args"][0] for e in sock.get_received() if e["name"] == name]


class Room:
    """A session with its console, projector and phones, driven through the protocol."""

    def __init__(self, app, socketio, **body):
        self.app, self.socketio = app, socketio
        self.http = app.test_client()
        self.info = create(self.http, **body)
        self.token = self.info["facilitator_token"]
        self.console = socketio.test_client(app)
        assert call(self.console, "facilitate", token=self.token)["ok"]
        self.projector = socketio.test_client(app)
        assert call(self.projector, "watch", projector=self.info["projector_key"])["ok"]
        self.phones: dict[str, tuple] = {}

    def join(self, who: str, group: int | None, name: str | None = None):
        sock = self.socketio.test_client(self.app)
        ack = call(sock, "join", code=self.info["code"], name=name or who, group=group)
        assert ack["ok"], ack
        self.phones[who] = (sock, ack["token"])
        return ack

    def control(self, event, **data):
        ack = call(self.console, event, token=self.token, **data)
        assert ack["ok"], ack
        return ack["snapshot"]

    def submit(self, who, step, answer, sid=None):
        sock, token = self.phones[who]
        sid = sid or f"{who}-{step}-{answer}"
        return call(sock, "submit", token=token, step=step, answer=answer, id=sid)

    def drain(self):
        for sock, _ in self.phones.values():
            if sock.is_connected():
                sock.get_received()
        self.console.get_received()
        self.projector.get_received()



# -- the real server: the process ---------------------------------------------------------
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``python -m facilitator serve`` (or another ``launcher`` taking its arguments) as a
    subprocess on 127.0.0.1 with its own database."""

    # Every phone in a test comes from 127.0.0.1: lift the per-address caps unless a test
    # is about them (``crowd=False``: the shipped defaults, or ``env`` to choose).
    CROWD = {"FACILITATOR_MAX_CONNECTIONS_PER_ADDRESS": "10000",
             "FACILITATOR_ADDRESS_TRAFFIC_SHARE": "10000"}

    def __init__(self, db_path: Path, log_path: Path, snapshot_interval: float | None = None,
                 launcher: list[str] | None = None, crowd: bool = True,
                 env: dict[str, str] | None = None, public_url: bool = True):
        self.launcher = launcher or [sys.executable, "-m", "facilitator", "serve"]
        self.extra_env = dict(self.CROWD if crowd else {}, **(env or {}))
        self.public_url = public_url  # False: the launcher guesses it (as `make run` does)
        self.db_path = db_path
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.snapshot_interval = snapshot_interval
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        """Start (or restart) the server on the same port and database; wait until it serves."""
        args = [*self.launcher, "--host", "127.0.0.1", "--port", str(self.port),
                "--db", str(self.db_path)]
        if self.public_url:
            args += ["--public-url", self.url]
        if self.snapshot_interval is not None:
            args += ["--snapshot-interval", str(self.snapshot_interval)]
        env = dict(os.environ, FACILITATOR_ORGANISER_SECRET="organiser-secret",
                   PYTHONUNBUFFERED="1", **self.extra_env)
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


# -- the real server: a blocking client ----------------------------------------------------
class Client:
    """A python-socketio client that records pushed events; with a ``token`` it speaks for
    that console or phone (the token goes into every event it sends)."""

    def __init__(self, url: str, transports=("websocket",), token: str | None = None):
        self.token = token
        self.sio = socketio.Client(reconnection=False)
        self.received: dict[str, list] = {}
        self.lock = threading.Lock()

        @self.sio.on("*")
        def record(event, data=None):
            with self.lock:
                self.received.setdefault(event, []).append(data)

        self.sio.connect(url, transports=list(transports), wait_timeout=10)

    strict = False  # every call must succeed (consoles and phones filling a room)

    def call(self, event: str, **data):
        """Emit ``event`` with an ack and return the ack."""
        if self.token is not None:
            data = {"token": self.token, **data}
        ack = self.sio.call(event, data, timeout=10)
        assert not self.strict or (ack and ack.get("ok")), f"{event} refused: {ack}"
        return ack

    def last(self, event: str):
        with self.lock:
            return (self.received.get(event) or [None])[-1]

    def wait_for(self, event: str, predicate, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for data in reversed(self.received.get(event, [])):
                    if predicate(data):
                        return data
            time.sleep(0.02)
        raise AssertionError(f"no {event} matching within {timeout}s; last: {self.last(event)}")

    def close(self):
        """Disconnect (if still connected)."""
        if self.sio.connected:
            self.sio.disconnect()


class Trainer(Client):
    """The trainer's console over Socket.IO, for tests whose subject is not the console page."""

    strict = True

    def __init__(self, url: str, token: str):
        super().__init__(url, token=token)
        self.snapshot: dict | None = None
        self.call("facilitate")

    def call(self, event: str, **data) -> dict:
        """A console event that must succeed; keeps the snapshot it returns."""
        ack = super().call(event, **data)
        self.snapshot = ack.get("snapshot", self.snapshot)
        return ack

    def open(self, step: str) -> dict:
        return self.call("open_step", step=step)

    def close_step(self) -> dict:
        return self.call("close_step")

    def reveal(self, revealed: bool = True) -> dict:
        return self.call("reveal", revealed=revealed)


class LivePhone(Client):
    """A participant's phone over Socket.IO (for filling a room quickly)."""

    strict = True

    def __init__(self, url: str, code: str, name: str, group: int):
        super().__init__(url)
        ack = self.call("join", code=code, name=name, group=group)
        self.token, self.state, self.n = ack["token"], ack["state"], 0

    def resume(self) -> dict:
        """Come back with the token; returns (and keeps) the state."""
        self.state = self.call("resume")["state"]
        return self.state

    def submit(self, step: str, answer) -> dict:
        """Save an answer under a fresh submission id."""
        self.n += 1
        return self.call("submit", step=step, answer=answer, id=f"{step}-{self.n}")


def run_async(coro):
    """asyncio.run in a thread of its own: Playwright's sync API (browser tests in the same
    pytest process) leaves an event loop marked running in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()



# -- the real server: asyncio clients ------------------------------------------------------
@dataclass
class Phone:
    """One participant: the socket it has now, its token, and what it was told."""

    number: int
    group: int
    client: Any = None
    token: str = ""
    pid: int = 0  # the participant id the server gave it (join order)
    states: list = field(default_factory=list)


async def connect(url: str, phone: Phone | None = None):
    """A websocket client (no Origin header: aiohttp sends none) that records pushed states."""
    client = socketio.AsyncClient(reconnection=False)
    if phone is not None:
        client.on("state", lambda data: phone.states.append(data))
    await client.connect(url, transports=["websocket"], wait_timeout=10)
    return client


async def close(client) -> None:
    """Disconnect if still connected, and always release the HTTP session."""
    try:
        if client.connected:
            await asyncio.wait_for(client.disconnect(), 5)
    except Exception:  # a dead server or socket is expected here
        pass
    http = getattr(client.eio, "http", None)
    if http is not None and not http.closed:
        await http.close()


async def close_all(clients) -> None:
    """Close every client, then give the server a moment to finish their disconnects before
    the fixture stops it (a SIGINT landing inside a disconnect handler delays the stop)."""
    for client in clients:
        await close(client)
    await asyncio.sleep(0.2)


async def acall(client, event: str, timeout: float = 10, **data) -> dict:
    """Emit ``event`` with ``data`` and return the ack (bounded by ``timeout``)."""
    return await client.call(event, data, timeout=timeout)


async def in_batches(items, coroutine, size: int = BATCH) -> list:
    """``coroutine(item)`` for every item, ``size`` at a time."""
    results = []
    for start in range(0, len(items), size):
        results += await asyncio.gather(*(coroutine(x) for x in items[start:start + size]))
    return results


async def join_all(url: str, code: str, phones: list[Phone]) -> None:
    async def join(phone: Phone) -> None:
        phone.client = await connect(url, phone)
        ack = await acall(phone.client, "join", code=code, name=f"Phone {phone.number}",
                         group=phone.group)
        assert ack["ok"], ack
        phone.token = ack["token"]
        phone.pid = ack["state"]["participant"]["id"]

    await in_batches(phones, join)


async def resume_all(url: str, phones: list[Phone]) -> dict[int, dict]:
    """Every phone reconnects on a new socket with its token; returns the states it got back."""
    async def resume(phone: Phone) -> tuple[int, dict]:
        phone.client = await connect(url, phone)
        ack = await acall(phone.client, "resume", token=phone.token)
        assert ack["ok"], ack
        return phone.number, ack["state"]

    return dict(await in_batches(phones, resume))


class Console:
    """The trainer's console socket."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    @classmethod
    async def open(cls, url: str, token: str) -> Console:
        console = cls(await connect(url), token)
        await console.control("facilitate")
        return console

    async def control(self, event: str, **data) -> dict:
        ack = await acall(self.client, event, token=self.token, **data)
        assert ack["ok"], ack
        return ack["snapshot"]


async def room_with_phones(server, count: int) -> tuple[dict, Console, list[Phone]]:
    info = server.create_session(groups=["Table 1", "Table 2"])
    console = await Console.open(server.url, info["facilitator_token"])
    await console.control("open_step", step="discard")
    phones = [Phone(i, 1 + i % 2) for i in range(count)]
    await join_all(server.url, info["code"], phones)
    return info, console, phones


async def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def table(db_path, sql: str) -> list[tuple]:
    """Rows straight from the server's SQLite file (WAL: readers do not disturb it)."""
    db = sqlite3.connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


