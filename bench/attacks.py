"""Attack benchmark: can one client take the room down? (loopback only, bounded in time.)

    .venv/bin/python bench/attacks.py                       # every attack, 8 s each
    .venv/bin/python bench/attacks.py --seconds 2 --only unknown_flood --json out.json

Starts ``python -m facilitator serve`` on 127.0.0.1 with the shipped limits and a fresh
database. A victim phone (127.0.0.1) in its own session submits twice a second and /healthz
is probed every 200 ms, before (baseline), during and after each attack. The attacker is a
separate process bound to 127.0.0.2 (another loopback address: a different client as far as
the server's per-address limits go), so its own CPU share is measured apart.

Targets per attack: victim ack p99 during the attack <= 2 x baseline p99 + 50 ms; no victim
submit fails; /healthz answers within 1 s throughout; server RSS growth <= 100 MB; victim
p99 in the window 2-4 s after the attack back within the same bound. ``--markdown`` writes
the table into bench/RESULTS.md (its own section; the load table is left alone).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ATTACKER = "127.0.0.2"  # the attacker's address, unless --source says another
SOURCE = {"address": ATTACKER}
STRANGER = "127.0.0.4"  # the busy session's phones: another client than the flooders
HOST = "127.0.0.1"


# -- a raw websocket client (no library: the attacks send what no library would) ------------
def frame(payload: bytes, opcode: int = 1) -> bytes:
    """One masked client frame."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    repeated = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
    return header + mask + masked


async def ws_connect(port: int, local: str | None = None, namespace: bool = True):
    """A websocket to the Engine.IO endpoint; returns (reader, writer) after the Socket.IO
    connect (when ``namespace``)."""
    reader, writer = await asyncio.open_connection(
        HOST, port, local_addr=(local or SOURCE["address"], 0))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {HOST}:{port}"
                  f"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}"
                  "\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    if b" 101 " not in head.split(b"\r\n")[0]:
        writer.close()
        raise ConnectionError(head.split(b"\r\n")[0].decode(errors="replace"))
    if namespace:
        writer.write(frame(b"40"))
        await writer.drain()
    return reader, writer


async def drain_reader(reader) -> None:
    """Read and discard whatever the server sends until it closes."""
    try:
        while await reader.read(65536):
            pass
    except (OSError, asyncio.IncompleteReadError):
        pass


async def flood_ws(port: int, until: float, payloads: list[bytes], stats: dict,
                   opcode: int = 1, prefix: list[bytes] | None = None) -> None:
    """Open a websocket, send ``payloads`` round and round as fast as the socket takes them;
    when the server closes it, count that and open another. Until ``until``."""
    while time.monotonic() < until:
        try:
            reader, writer = await ws_connect(port)
        except (TimeoutError, OSError, ConnectionError):
            stats["refused"] = stats.get("refused", 0) + 1
            await asyncio.sleep(0.05)
            continue
        stats["connections"] = stats.get("connections", 0) + 1
        drainer = asyncio.create_task(drain_reader(reader))
        try:
            for p in prefix or []:
                writer.write(frame(p))
            i = 0
            while time.monotonic() < until and not drainer.done():
                writer.write(frame(payloads[i % len(payloads)], opcode))
                stats["frames"] = stats.get("frames", 0) + 1
                i += 1
                if i % 16 == 0:
                    await asyncio.wait_for(writer.drain(), 2)
        except (TimeoutError, OSError):
            pass
        if drainer.done():
            stats["closed_by_server"] = stats.get("closed_by_server", 0) + 1
        writer.close()
        drainer.cancel()


async def http(port: int, method: str, path: str, body: bytes = b"", local: str | None = None,
               headers: str = "Content-Type: application/json\r\n",
               timeout: float = 5) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh connection; (status, body)."""
    reader, writer = await asyncio.open_connection(
        HOST, port, local_addr=(local or SOURCE["address"], 0))
    try:
        writer.write((f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{headers}"
                      f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
                     + body)
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]


async def http_flood(port: int, until: float, requests: list[tuple[str, str, bytes]],
                     stats: dict, parallel: int = 8) -> None:
    """``parallel`` loops sending the requests round and round; counts statuses."""
    async def loop(k: int) -> None:
        i = k
        while time.monotonic() < until:
            method, path, body = requests[i % len(requests)]
            i += parallel
            try:
                status, _ = await http(port, method, path, body)
            except (TimeoutError, OSError):
                status = 0
            key = f"http_{status}"
            stats[key] = stats.get(key, 0) + 1

    await asyncio.gather(*(loop(k) for k in range(parallel)))


# -- the attacks (each runs in the attacker process until ``until``) ---------------------------
async def attack_unknown_flood(port: int, until: float, stats: dict) -> None:
    """Sockets flooding unknown events (no token needed): 42["zz",{}]."""
    await asyncio.gather(*(flood_ws(port, until, [b'42["zz",{}]'], stats) for _ in range(8)))


async def attack_pong_flood(port: int, until: float, stats: dict) -> None:
    """Sockets flooding Engine.IO pongs ("3") and websocket pings."""
    await asyncio.gather(*(flood_ws(port, until, [b"3"], stats) for _ in range(8)))


async def attack_big_frames(port: int, until: float, stats: dict) -> None:
    """16 KB frames as fast as possible: every one costs the server its unmasking."""
    payload = b'42["zz","' + b"x" * (16 * 1024 - 20) + b'"]'
    await asyncio.gather(*(flood_ws(port, until, [payload], stats) for _ in range(8)))


async def attack_binary(port: int, until: float, stats: dict) -> None:
    """A binary-attachment header, then binary frames the server would buffer."""
    await asyncio.gather(*(flood_ws(
        port, until, [b"\0" * 8192], stats, opcode=2,
        prefix=[b'451-["zz",{"_placeholder":true,"num":0}]']) for _ in range(4)))


async def attack_polling_flood(port: int, until: float, stats: dict) -> None:
    """Engine.IO long-polling: posts of 16 KB, each a thousand unknown events."""
    batch = "\x1e".join(['42["zz",{}]'] * 1300).encode()

    async def loop() -> None:
        while time.monotonic() < until:
            try:
                status, body = await http(port, "GET", "/socket.io/?EIO=4&transport=polling",
                                          headers="")
                if status != 200:
                    stats[f"open_{status}"] = stats.get(f"open_{status}", 0) + 1
                    await asyncio.sleep(0.05)
                    continue
                sid = json.loads(body[1:].split(b"\x1e")[0])["sid"]
                path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
                await http(port, "POST", path, b"40", headers="Content-Type: text/plain\r\n")
                while time.monotonic() < until:
                    status, _ = await http(port, "POST", path, batch,
                                           headers="Content-Type: text/plain\r\n")
                    stats[f"post_{status}"] = stats.get(f"post_{status}", 0) + 1
                    if status != 200:
                        break
            except (OSError, TimeoutError, ValueError, KeyError):
                stats["errors"] = stats.get("errors", 0) + 1
                await asyncio.sleep(0.05)

    await asyncio.gather(*(loop() for _ in range(4)))


async def attack_slowloris(port: int, until: float, stats: dict, count: int = 3000) -> None:
    """Thousands of half-sent requests, one header line every few seconds."""
    held: list = []

    async def hold() -> None:
        try:
            reader, writer = await asyncio.open_connection(
                HOST, port, local_addr=(SOURCE["address"], 0))
        except OSError:
            stats["refused"] = stats.get("refused", 0) + 1
            return
        stats["opened"] = stats.get("opened", 0) + 1
        held.append(writer)
        try:
            writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}\r\n".encode())
            while time.monotonic() < until:
                await asyncio.sleep(2)
                writer.write(b"X-a: b\r\n")
                await writer.drain()
                if reader.at_eof():
                    break
        except OSError:
            pass
        closed = writer.is_closing()
        try:  # a refusal may have sent its 503 before closing: read past it to the end
            while not closed:
                closed = not await asyncio.wait_for(reader.read(65536), 0.05)
        except (TimeoutError, OSError):
            pass
        if closed:
            stats["closed_by_server"] = stats.get("closed_by_server", 0) + 1

    tasks = []
    for _ in range(count):
        if time.monotonic() >= until:
            break
        tasks.append(asyncio.create_task(hold()))
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks, return_exceptions=True)
    for writer in held:
        writer.close()


async def attack_huge_session(port: int, until: float, stats: dict) -> None:
    """POST /api/sessions asking for a hundred million groups (no login)."""
    await http_flood(port, until, [("POST", "/api/sessions",
                                    json.dumps({"group_count": 100_000_000}).encode())], stats)


async def attack_deep_json(port: int, until: float, stats: dict) -> None:
    """Deeply nested JSON bodies (the parser's recursion limit)."""
    await http_flood(port, until, [("POST", "/api/sessions", b"[" * 30000 + b"]" * 30000)],
                     stats)


async def attack_session_spam(port: int, until: float, stats: dict) -> None:
    """Session creation as fast as the server answers."""
    await http_flood(port, until, [("POST", "/api/sessions", b'{"group_count": 40}')], stats)


async def attack_join_codes_http(port: int, until: float, stats: dict) -> None:
    """Join-code guessing over HTTP: /qr/<code>.svg and /j/<code>."""
    alphabet = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # workshop.CODE_ALPHABET
    reqs = []
    for _ in range(200):
        code = "".join(random.choice(alphabet) for _ in range(8))
        reqs += [("GET", f"/qr/{code}.svg", b""), ("GET", f"/j/{code}", b"")]
    await http_flood(port, until, reqs, stats)


async def attack_busy_session(port: int, until: float, stats: dict, phones: int = 40) -> None:
    """Not a flood: a stranger's own session run hard. 12 statements, 40 tables, results
    revealed, 40 phones each submitting five times a second (under the per-socket limit)."""
    import aiohttp
    import socketio

    statements = "\n".join(f"Statement number {k}" for k in range(1, 13))
    status, body = await http(port, "POST", "/api/sessions", json.dumps(
        {"statements": statements, "discard": 1, "top": 5, "group_count": 40}).encode(),
        local=STRANGER)
    stats[f"create_{status}"] = 1
    if status != 201:
        return
    info = json.loads(body)
    url = f"http://{HOST}:{port}"
    connector = aiohttp.TCPConnector(local_addr=(STRANGER, 0), limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        console = socketio.AsyncClient(reconnection=False, http_session=session)
        await console.connect(url, transports=["websocket"], wait_timeout=10)
        token = info["facilitator_token"]
        await console.call("facilitate", {"token": token}, timeout=10)
        await console.call("open_step", {"token": token, "step": "discard"}, timeout=10)
        await console.call("reveal", {"token": token, "revealed": True}, timeout=10)
        await console.disconnect()

        async def phone(k: int) -> None:
            client = socketio.AsyncClient(reconnection=False, http_session=session)
            try:
                await client.connect(url, transports=["websocket"], wait_timeout=10)
                joined = await client.call("join", {"code": info["code"], "name": f"S{k}",
                                                    "group": 1 + k % 40}, timeout=10)
                if not joined.get("ok"):
                    stats["join_refused"] = stats.get("join_refused", 0) + 1
                    return
                n = 0
                while time.monotonic() < until and client.connected:
                    n += 1
                    sent = time.monotonic()
                    ack = await client.call("submit", {
                        "token": joined["token"], "step": "discard", "answer": 1 + n % 12,
                        "id": f"s{n}"}, timeout=5)
                    key = "submit_ok" if ack.get("ok") else "submit_" + str(
                        ack.get("error", {}).get("code"))
                    stats[key] = stats.get(key, 0) + 1
                    await asyncio.sleep(max(0.0, 0.2 - (time.monotonic() - sent)))
            except Exception as exc:  # noqa: BLE001 - counted, the attack goes on
                key = "error_" + type(exc).__name__
                stats[key] = stats.get(key, 0) + 1
            finally:
                with contextlib.suppress(Exception):
                    await client.disconnect()

        await asyncio.gather(*(phone(k) for k in range(phones)))


ATTACKS = {
    "unknown_flood": attack_unknown_flood,
    "pong_flood": attack_pong_flood,
    "big_frames": attack_big_frames,
    "binary": attack_binary,
    "polling_flood": attack_polling_flood,
    "slowloris": attack_slowloris,
    "huge_session": attack_huge_session,
    "deep_json": attack_deep_json,
    "session_spam": attack_session_spam,
    "join_codes_http": attack_join_codes_http,
    "busy_session": attack_busy_session,
}


def run_attacker(name: str, port: int, seconds: float, source: str = ATTACKER) -> None:
    """Attacker process entry: run one attack from ``source``, print its counters as JSON."""
    SOURCE["address"] = source
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # "socket.send() raised"
    stats: dict[str, Any] = {}
    until = time.monotonic() + seconds

    async def main() -> None:
        try:
            await asyncio.wait_for(ATTACKS[name](port, until, stats), seconds + 10)
        except TimeoutError:
            stats["overran"] = True

    asyncio.run(main())
    print(json.dumps(stats), flush=True)


# -- the server, the victim, the probe ---------------------------------------------------------
class Server:
    """The app on 127.0.0.1 with its shipped limits and a fresh database."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.port = s.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = workdir / "attack-server.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "facilitator", "serve", "--host", HOST, "--port",
             str(self.port), "--db", str(workdir / "attack.sqlite3"), "--public-url", self.url],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore",
                     FACILITATOR_ORGANISER_SECRET="organiser-secret", **(env or {})))
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start: " + self.log_path.read_text())

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Victim:
    """A phone in its own session submitting twice a second; /healthz probed every 200 ms;
    server RSS sampled with each probe. Every sample is (time, value)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.acks: list[tuple[float, float]] = []
        self.failures: list[tuple[float, str]] = []
        self.health: list[tuple[float, float]] = []
        self.rss: list[tuple[float, float]] = []
        self.stop = False

    async def run(self) -> None:
        import socketio

        status, body = await http(self.server.port, "POST", "/api/sessions",
                                  b'{"deck": "task-5-1", "groups": ["A", "B"]}', local=HOST)
        info = json.loads(body)
        console = socketio.AsyncClient(reconnection=False)
        phone = socketio.AsyncClient(reconnection=False)
        await console.connect(self.server.url, transports=["websocket"], wait_timeout=10)
        await console.call("facilitate", {"token": info["facilitator_token"]}, timeout=10)
        await console.call("open_step", {"token": info["facilitator_token"], "step": "discard"},
                           timeout=10)
        await phone.connect(self.server.url, transports=["websocket"], wait_timeout=10)
        ack = await phone.call("join", {"code": info["code"], "name": "Victim", "group": 1},
                               timeout=10)
        token = ack["token"]
        self.ready = True
        try:
            await asyncio.gather(self.submits(phone, token), self.probe())
        finally:
            for c in (phone, console):
                with contextlib.suppress(Exception):  # tidy up regardless
                    await asyncio.wait_for(c.disconnect(), 5)

    async def submits(self, phone, token: str) -> None:
        k = 0
        while not self.stop:
            k += 1
            sent = time.monotonic()
            try:
                ack = await phone.call("submit", {"token": token, "step": "discard",
                                                  "answer": 1 + k % 10, "id": f"v{k}"},
                                       timeout=5)
                if ack.get("ok"):
                    self.acks.append((sent, time.monotonic() - sent))
                else:
                    self.failures.append((sent, json.dumps(ack)))
            except Exception as exc:  # noqa: BLE001 - a timeout or a dropped socket is a failure
                self.failures.append((sent, repr(exc)))
            await asyncio.sleep(max(0.0, 0.5 - (time.monotonic() - sent)))

    async def probe(self) -> None:
        while not self.stop:
            sent = time.monotonic()
            try:
                status, _ = await http(self.server.port, "GET", "/healthz", local=HOST,
                                       headers="", timeout=5)
                took = time.monotonic() - sent if status == 200 else float("inf")
            except (TimeoutError, OSError):
                took = float("inf")
            self.health.append((sent, took))
            self.rss.append((sent, self.server.rss_mb()))
            await asyncio.sleep(max(0.0, 0.2 - (time.monotonic() - sent)))


def p99(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def machine_busy_percent(seconds: float, exclude: set[int]) -> float:
    """CPU share (% of the machine) used by processes other than ``exclude`` over ``seconds``."""
    def times() -> dict[int, float]:
        out = {}
        for p in psutil.process_iter(["pid"]):
            try:
                t = p.cpu_times()
                out[p.pid] = t.user + t.system
            except psutil.Error:
                pass
        return out

    before = times()
    time.sleep(seconds)
    after = times()
    used = sum(v - before.get(pid, v) for pid, v in after.items() if pid not in exclude)
    return 100 * used / seconds / (os.cpu_count() or 1)


async def measure(server: Server, name: str, seconds: float, before: float = 5.0,
                  after: float = 4.0, source: str = ATTACKER) -> dict[str, Any]:
    """Baseline, attack, recovery for one attack; the figures and whether each target held."""
    victim = Victim(server)
    task = asyncio.create_task(victim.run())
    while not getattr(victim, "ready", False):
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    t0 = time.monotonic()
    await asyncio.sleep(before)
    cpu_before = sum(psutil.cpu_times()[:3])
    start = time.monotonic()
    attacker = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).resolve()), "--attacker", name,
        "--port", str(server.port), "--seconds", str(seconds), "--source", source,
        stdout=asyncio.subprocess.PIPE, cwd=ROOT)
    ps = psutil.Process(attacker.pid)
    attacker_cpu = 0.0
    server_cpu0 = sum(server.ps.cpu_times()[:2])
    while attacker.returncode is None:
        try:
            t = ps.cpu_times()
            attacker_cpu = t.user + t.system
        except psutil.Error:
            pass
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(attacker.wait(), 0.2)
    out = await attacker.stdout.read()
    end = time.monotonic()
    server_cpu = sum(server.ps.cpu_times()[:2]) - server_cpu0
    machine_cpu = sum(psutil.cpu_times()[:3]) - cpu_before
    await asyncio.sleep(after)
    victim.stop = True
    await asyncio.wait_for(task, 15)
    try:
        stats = json.loads(out.decode().strip().splitlines()[-1])
    except (IndexError, ValueError):
        stats = {"attacker_output": out.decode(errors="replace")[-300:]}

    def acks(a: float, b: float) -> list[float]:
        return [v for t, v in victim.acks if a <= t < b]

    base, during = acks(t0, start), acks(start, end)
    recovered = acks(end + 2, end + after)
    base_p99, during_p99, after_p99 = p99(base), p99(during), p99(recovered)
    bound = 2 * (base_p99 or 0) + 0.050
    health_max = max(v for _, v in victim.health)
    rss_base = min(v for t, v in victim.rss if t < start)
    rss_growth = max(v for _, v in victim.rss) - rss_base
    wall = end - start
    row = {
        "attack": name, "seconds": round(wall, 1),
        "baseline_p99_ms": ms(base_p99), "during_p99_ms": ms(during_p99),
        "after_p99_ms": ms(after_p99), "victim_submits": len(victim.acks),
        "victim_failures": len(victim.failures), "failure_samples": victim.failures[:3],
        "healthz_max_ms": ms(health_max), "rss_growth_mb": round(rss_growth, 1),
        "attacker_cpu_percent": round(100 * attacker_cpu / wall / (os.cpu_count() or 1), 1),
        "server_cpu_percent": round(100 * server_cpu / wall / (os.cpu_count() or 1), 1),
        "machine_cpu_percent": round(100 * machine_cpu / wall / (os.cpu_count() or 1), 1),
        "attacker": stats,
    }
    row["targets"] = {
        "p99": during_p99 is not None and during_p99 <= bound,
        "no_failures": not victim.failures,
        "healthz": health_max <= 1.0,
        "rss": rss_growth <= 100,
        "recovered": after_p99 is not None and after_p99 <= bound,
    }
    row["pass"] = all(row["targets"].values())
    return row


def ms(seconds: float | None) -> float | None:
    return None if seconds is None or seconds == float("inf") else round(1000 * seconds, 1)


def markdown(rows: list[dict], other_load: float, seconds: float) -> str:
    """The RESULTS.md section."""
    lines = [
        "## Attack benchmark (`bench/attacks.py`)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {seconds:g} s per "
        f"attack; {os.cpu_count()} cores; other load before the run: {other_load:.0f} % of the"
        " machine",
        "- victim: one phone in its own session submitting twice a second from 127.0.0.1; "
        "/healthz probed every 200 ms; attacker: a separate process on 127.0.0.2 (the busy "
        "session's phones on 127.0.0.4)",
        "- targets: during p99 <= 2 x baseline p99 + 50 ms, no victim failure, /healthz "
        "<= 1 s, RSS growth <= 100 MB, p99 2-4 s after the attack within the same bound",
        "",
        "| attack | baseline p99 (ms) | during p99 (ms) | after p99 (ms) | victim failures "
        "| /healthz max (ms) | RSS growth (MB) | attacker CPU | server CPU | machine CPU (all) "
        "| what the server did | pass |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        did = ", ".join(f"{k} {v}" for k, v in sorted(r["attacker"].items()))
        failed = [k for k, ok in r["targets"].items() if not ok]
        lines.append(
            f"| {r['attack']} | {r['baseline_p99_ms']} | {r['during_p99_ms']} | "
            f"{r['after_p99_ms']} | {r['victim_failures']} | {r['healthz_max_ms']} | "
            f"{r['rss_growth_mb']} | {r['attacker_cpu_percent']} % | "
            f"{r['server_cpu_percent']} % | {r['machine_cpu_percent']} % | {did} | "
            f"{'yes' if r['pass'] else 'NO: ' + ', '.join(failed)} |")
    lines.append("")
    lines.append("CPU shares are of the whole machine (100 % = every core busy), during the "
                 "attack. *machine CPU (all)* includes every other process: when it is far above "
                 "attacker + server, something else was using the machine and the latencies "
                 "measure that too (rerun on a quiet machine).")
    return "\n".join(lines) + "\n"


ATTACKS_BEGIN, ATTACKS_END = "<!-- attacks -->", "<!-- /attacks -->"


def write_results(section: str, path: Path = HERE / "RESULTS.md") -> None:
    """Replace (or append) the attack section of RESULTS.md, between its markers (as
    bench/page_weight.py and bench/board.py do); the rest stays as it is."""
    from page_weight import write  # bench/ is on sys.path when this runs as a script

    write(f"{ATTACKS_BEGIN}\n{section.rstrip()}\n{ATTACKS_END}", path, ATTACKS_BEGIN, ATTACKS_END)


def main(argv: list[str]) -> int:
    """Run the attacks (or, with --attacker, be the attacker process)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--attacker", choices=sorted(ATTACKS))
    parser.add_argument("--port", type=int)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--source", default=ATTACKER, help="the attacker's loopback address")
    parser.add_argument("--only", action="append", choices=sorted(ATTACKS))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", action="store_true", help="write bench/RESULTS.md")
    args = parser.parse_args(argv)
    if args.attacker:
        run_attacker(args.attacker, args.port, args.seconds, args.source)
        return 0
    other = machine_busy_percent(2.0, {os.getpid()})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or list(ATTACKS):
            server = Server(Path(tmp) / name if Path(tmp, name).mkdir() is None else Path(tmp))
            try:
                row = asyncio.run(measure(server, name, args.seconds))
            finally:
                server.stop()
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "failure_samples"}),
                  flush=True)
    if args.json:
        args.json.write_text(json.dumps({"other_load_percent": other, "rows": rows}, indent=1))
    if args.markdown:
        write_results(markdown(rows, other, args.seconds))
    return 0 if all(r["pass"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
