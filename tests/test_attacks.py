"""A short run of every attack in bench/attacks.py against the real server with its shipped
limits (127.0.0.1 only; the attacker binds 127.0.0.2, another loopback address).

For each: a victim phone in another session submits twice a second and /healthz is probed
every 200 ms before, during and after. Here the test asserts what must hold on any machine
(no victim submit fails, /healthz always answers, memory stays put, the server closed or refused
the attacker); the latency targets are the benchmark's (bench/RESULTS.md), not a unit test's.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from driver import ROOT, LiveServer, run_async

sys.path.insert(0, str(ROOT / "bench"))
import attacks  # noqa: E402

pytestmark = [pytest.mark.faults, pytest.mark.server]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server with the shipped per-address limits for every attack in this module."""
    tmp = tmp_path_factory.mktemp("attacks")
    live = LiveServer(tmp / "attacks.sqlite3", tmp / "server.log", crowd=False)
    live.start()
    yield live
    live.stop()


class Target:
    """What bench/attacks.measure needs of a server: port, url, RSS."""

    def __init__(self, live: LiveServer) -> None:
        import psutil

        self.port, self.url, self.ps = live.port, live.url, psutil.Process(live.proc.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20


def short_run(live: LiveServer, name: str, seconds: float = 1.5) -> dict:
    """One attack from its own loopback address (the server is shared by the module: an
    address's spent budget must not carry over into the next attack)."""
    source = f"127.0.0.{10 + sorted(attacks.ATTACKS).index(name)}"
    row = run_async(attacks.measure(Target(live), name, seconds=seconds, before=1.0,
                                    after=2.5, source=source))
    assert live.proc.poll() is None, "the server died"
    assert row["victim_failures"] == 0, row["failure_samples"]
    assert row["victim_submits"] >= 8, row
    assert row["healthz_max_ms"] is not None and row["healthz_max_ms"] < 3000, row
    assert row["rss_growth_mb"] < 100, row
    return row["attacker"]


@pytest.mark.parametrize("name", ["unknown_flood", "pong_flood", "big_frames", "binary"])
def test_a_flooding_socket_is_closed_by_the_server_and_nobody_else_notices(server, name):
    """Unknown events, pongs, 16 KB frames, binary attachments: every connection the attacker
    got was closed by the server (frame and byte budgets per connection and per address;
    binary refused) except those still open when the attack stopped (at most one per attacking
    loop), and reconnecting ran into the per-address budget."""
    stats = short_run(server, name)
    assert stats["connections"] > 8, stats
    assert stats["closed_by_server"] >= stats["connections"] - 8, stats
    assert stats.get("refused", 0) >= 1, stats


def test_a_long_polling_flood_is_refused(server):
    """Engine.IO polling posts of a thousand unknown events each: each post's packets are
    counted against the address's frame budget, so the first such post is already refused."""
    stats = short_run(server, "polling_flood")
    refused = sum(v for k, v in stats.items() if k.endswith(("_429", "_503")))
    assert refused >= 1 and stats.get("post_200", 0) == 0, stats


def test_half_sent_requests_cannot_hold_the_server(server):
    """Slowloris from one address: past 64 connections the server refuses (after a pause for
    at most 64 of them, at once for the rest), and the connections it holds are on a header
    deadline."""
    stats = short_run(server, "slowloris")
    assert stats["opened"] > 128, stats
    # still open when the attack stopped: at most the 64 it may hold, and at most 64 refusals
    # waiting out their one-second pause
    assert stats.get("closed_by_server", 0) >= stats["opened"] - 128, stats


@pytest.mark.parametrize("name", ["huge_session", "deep_json"])
def test_oversized_and_unparseable_session_requests_are_400s(server, name):
    """A hundred million groups, JSON nested past the parser's limit: a quick 400 (or the
    creation throttle's 429, or the per-address connection budget's 503), never a 500, never
    a stall."""
    stats = short_run(server, name)
    assert set(stats) <= {"http_400", "http_429", "http_503"}, stats
    assert stats.get("http_400", 0) >= 1, stats
    log = server.log_path.read_text(errors="replace")
    assert "Traceback" not in log


def test_session_spam_from_one_address_is_throttled(server):
    """Creating sessions as fast as the server answers: SESSIONS_BURST (20) get through, the
    rest are 429 (or the connection budget's 503)."""
    stats = short_run(server, "session_spam")
    assert stats.get("http_201", 0) <= 20, stats
    assert stats.get("http_429", 0) >= 1, stats
    assert set(stats) <= {"http_201", "http_429", "http_503"}, stats


def test_join_code_guessing_over_http_is_throttled(server):
    """/qr/<code>.svg and /j/<code> with random codes: ten wrong codes, then 429."""
    stats = short_run(server, "join_codes_http")
    assert stats.get("http_404", 0) + stats.get("http_200", 0) <= 10, stats
    assert stats.get("http_429", 0) >= 1, stats


def test_a_strangers_busy_session_does_not_fail_a_phone_elsewhere(server):
    """40 phones of another session submitting five times a second with results revealed:
    the victim's submits all succeed (how fast is bench/RESULTS.md's business)."""
    stats = short_run(server, "busy_session", seconds=4)
    assert stats.get("create_201") == 1, stats
    assert stats.get("submit_ok", 0) >= 40, stats


def test_run_attacker_process_reports_json(server):
    """The attacker entry point the benchmark starts prints its counters."""
    out = run_async(asyncio.wait_for(_attacker(server.port), 30))
    assert '"http_' in out


async def _attacker(port: int) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "attacks.py"), "--attacker", "deep_json",
        "--port", str(port), "--seconds", "0.3", stdout=asyncio.subprocess.PIPE, cwd=ROOT)
    out, _ = await proc.communicate()
    return out.decode()


def test_a_request_whose_headers_never_finish_is_dropped_at_the_header_deadline(tmp_path):
    """FACILITATOR_HEADER_TIMEOUT (10 s; 1 s here): a connection that sends a request line and
    then trickles header lines is closed when the deadline passes, though it never went quiet
    for that long; a complete request on a fresh connection is still served."""
    live = LiveServer(tmp_path / "t.sqlite3", tmp_path / "server.log", crowd=False,
                      env={"FACILITATOR_HEADER_TIMEOUT": "1"})
    live.start()
    try:
        async def trickle() -> float:
            reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
            start = asyncio.get_running_loop().time()
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            try:
                for _ in range(20):
                    await asyncio.sleep(0.3)
                    writer.write(b"X-Slow: yes\r\n")
                    await writer.drain()
                    if reader.at_eof() or await _closed(reader):
                        break
            except OSError:
                pass
            writer.close()
            return asyncio.get_running_loop().time() - start

        took = run_async(asyncio.wait_for(trickle(), 30))
        assert 0.9 <= took <= 3.0, took
        assert live.get("/healthz") == b'{"status":"ok"}\n'
    finally:
        live.stop()


async def _closed(reader) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(1), 0.01)
    except TimeoutError:
        return False
    return data == b""
