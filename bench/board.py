"""Table-board benchmark: every table moves its shared answer at once.

    .venv/bin/python bench/board.py --tables 20 --phones 8 --rate 2 --seconds 20 --json out.json

Starts the real server (``python -m facilitator serve``) on 127.0.0.1 with a fresh temporary
database, creates a session with ``--tables`` tables over HTTP, joins ``--phones`` phones per
table (python-socketio AsyncClients in ``--workers`` processes, a table never split between two),
lets every phone vote the same discard, closes the discard step and opens the rank step in table
mode from the console. Then each phone makes ``--rate`` moves a second (random statement to a
random place, on the version it last saw; Poisson arrivals) for ``--seconds``.

Latency, per move and per *other* phone at the table: the arrival of the first ``board`` push that
lists the move's id, minus the move's send time, both on ``time.perf_counter`` (CLOCK_MONOTONIC,
one clock for every process on the machine). A move is an error when its ack is refused or late,
or when some other phone at the table never hears of it. At the end every phone ``resume``s and its
board must equal every other phone's at the table (converged).

Bounded: connect, ack and drain timeouts and ``--max-seconds``; the server and workers are stopped
on the way out. Traffic goes only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import socketio
from load import Server, http_json, ms, percentile, raise_nofile
from page_weight import write

now = time.perf_counter
DISCARD = 3
BEGIN, END = "<!-- table-board -->", "<!-- /table-board -->"
TARGET_P99_MS = 150.0


class BoardPhone:
    """One phone at a table: its token, the board it last saw, when each move id reached it."""

    def __init__(self, table: int, seat: int) -> None:
        self.table, self.seat = table, seat
        self.client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.token: str | None = None
        self.board: dict | None = None
        self.heard: dict[str, float] = {}
        self.client.on("board", self._on_board)
        self.client.on("state", self._on_state)

    async def _on_state(self, data: Any) -> None:
        if isinstance(data, dict) and isinstance(data.get("board"), dict):
            await self._on_board(data["board"])

    async def _on_board(self, data: Any) -> None:
        t = now()
        if not isinstance(data, dict):
            return
        for move_id in data.get("moves", ()):
            self.heard.setdefault(move_id, t)
        if self.board is None or data.get("version", -1) > self.board.get("version", -1):
            self.board = data

    async def join(self, url: str, code: str, group: int, timeout: float) -> None:
        await self.client.connect(url, transports=["websocket"], wait_timeout=timeout)
        ack = await self.client.call(
            "join", {"code": code, "name": f"T{self.table}P{self.seat}", "group": group},
            timeout=timeout)
        if not ack.get("ok"):
            raise RuntimeError(f"join refused: {ack}")
        self.token = ack["token"]
        ack = await self.client.call("submit", {"token": self.token, "step": "discard",
                                                "answer": DISCARD, "id": "d"}, timeout=timeout)
        if not ack.get("ok"):
            raise RuntimeError(f"discard refused: {ack}")

    async def move_for(self, seconds: float, rate: float, timeout: float, seed: int) -> list[dict]:
        rng = random.Random(seed)
        moves: list[dict] = []
        until = now() + seconds
        k = 0
        while True:
            await asyncio.sleep(rng.expovariate(rate))
            if now() >= until:
                return moves
            board = self.board
            if board is None:
                continue
            order = board["order"]
            move_id = f"{self.table}-{self.seat}-{k}"
            k += 1
            payload = {"token": self.token, "statement": rng.choice(order),
                       "to": rng.randrange(len(order)), "version": board["version"],
                       "id": move_id}
            rec = {"id": move_id, "table": self.table, "seat": self.seat, "t0": now(),
                   "error": None}
            moves.append(rec)
            asyncio.get_running_loop().create_task(self._send(payload, rec, timeout))

    async def _send(self, payload: dict, rec: dict, timeout: float) -> None:
        try:
            ack = await self.client.call("board_move", payload, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - every failure is counted
            rec["error"] = f"unacknowledged: {type(exc).__name__}"
            return
        rec["t1"] = now()
        if not isinstance(ack, dict) or not ack.get("ok"):
            rec["error"] = f"refused: {ack!r}"[:200]

    async def final_board(self, timeout: float) -> dict | None:
        ack = await self.client.call("resume", {"token": self.token}, timeout=timeout)
        return (ack.get("state") or {}).get("board") if ack.get("ok") else None


async def worker_main(conn: Any, url: str, code: str, tables: list[tuple[int, int]],
                      phones: int, args: dict) -> None:
    """Join this worker's tables, wait for "go", move, report the records and final boards."""
    seats = [BoardPhone(t, s) for t, _ in tables for s in range(phones)]
    group_of = dict(tables)
    try:
        for i in range(0, len(seats), 40):
            await asyncio.gather(*(p.join(url, code, group_of[p.table], args["timeout"])
                                   for p in seats[i:i + 40]))
        conn.send(("joined", len(seats)))
        conn.recv()  # "go": the board is open
        deadline = now() + 10
        while any(p.board is None for p in seats) and now() < deadline:
            await asyncio.sleep(0.05)
        moves = await asyncio.gather(*(
            p.move_for(args["seconds"], args["rate"], args["timeout"],
                       args["seed"] * 7919 + p.table * 101 + p.seat) for p in seats))
        await asyncio.sleep(args["drain"])  # the last moves' pushes
        finals = await asyncio.gather(*(p.final_board(args["timeout"]) for p in seats))
        conn.send(("done", {
            "moves": [m for per_phone in moves for m in per_phone],
            "heard": [{"table": p.table, "seat": p.seat, "heard": p.heard} for p in seats],
            "finals": [{"table": p.table, "board": f} for p, f in zip(seats, finals, strict=True)],
        }))
    except Exception as exc:  # noqa: BLE001
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        await asyncio.gather(*(p.client.disconnect() for p in seats), return_exceptions=True)


def worker_entry(*a: Any) -> None:
    asyncio.run(worker_main(*a))


async def console_call(console: socketio.AsyncClient, event: str, data: dict) -> dict:
    ack = await console.call(event, data, timeout=30)
    if not ack.get("ok"):
        raise RuntimeError(f"{event} refused: {ack}")
    return ack


def summarise(results: list[dict], phones: int) -> dict:
    heard: dict[int, list[dict]] = {}
    for part in results:
        for h in part["heard"]:
            heard.setdefault(h["table"], []).append(h)
    latencies: list[float] = []
    errors, lost = 0, 0
    moves = [m for part in results for m in part["moves"]]
    for m in moves:
        if m["error"]:
            errors += 1
            continue
        for other in heard[m["table"]]:
            if other["seat"] == m["seat"]:
                continue
            t = other["heard"].get(m["id"])
            if t is None:
                lost += 1
            else:
                latencies.append(t - m["t0"])
    boards: dict[int, set[str]] = {}
    for part in results:
        for f in part["finals"]:
            boards.setdefault(f["table"], set()).add(json.dumps(f["board"], sort_keys=True))
    diverged = sum(1 for b in boards.values() if len(b) != 1)
    return {
        "moves": len(moves),
        "deliveries": len(latencies),
        "errors": errors + lost + diverged + (0 if moves else 1),
        "refused_or_unacked": errors,
        "not_heard": lost,
        "tables_diverged": diverged,
        "p50_ms": ms(percentile(latencies, 50)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies) if latencies else None),
    }


async def drive(args: argparse.Namespace, server: Server) -> dict:
    status, made = http_json(f"{server.url}/api/sessions",
                             {"deck": "task-5-1", "group_count": args.tables})
    if status != 201:
        raise RuntimeError(f"session not created: {status} {made}")
    console = socketio.AsyncClient(reconnection=False, handle_sigint=False)
    await console.connect(server.url, transports=["websocket"])
    token = made["facilitator_token"]
    snapshot = (await console_call(console, "facilitate", {"token": token}))["snapshot"]
    groups = [g["id"] for g in snapshot["groups"]]
    await console_call(console, "open_step", {"token": token, "step": "discard"})
    per_worker = [list(enumerate(groups))[w::args.workers] for w in range(args.workers)]
    settings = {"seconds": args.seconds, "rate": args.rate, "timeout": args.ack_timeout,
                "drain": args.drain, "seed": args.seed}
    pipes, procs = [], []
    ctx = mp.get_context("spawn")
    for tables in per_worker:
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(target=worker_entry,
                           args=(theirs, server.url, made["code"], tables, args.phones, settings))
        proc.start()
        pipes.append(mine)
        procs.append(proc)
    try:
        for pipe in pipes:
            kind, detail = await asyncio.to_thread(pipe.recv)
            if kind != "joined":
                raise RuntimeError(f"worker failed to join: {detail}")
        await console_call(console, "close_step", {"token": token})
        await console_call(console, "open_step", {"token": token, "step": "rank", "mode": "table"})
        for pipe in pipes:
            pipe.send("go")
        results = []
        for pipe in pipes:
            kind, detail = await asyncio.to_thread(pipe.recv)
            if kind != "done":
                raise RuntimeError(f"worker failed: {detail}")
            results.append(detail)
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        await console.disconnect()
    return summarise(results, args.phones)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tables", type=int, default=20)
    p.add_argument("--phones", type=int, default=8, help="phones per table")
    p.add_argument("--rate", type=float, default=2.0, help="moves a second per phone")
    p.add_argument("--seconds", type=float, default=20.0, help="how long the phones move")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--ack-timeout", type=float, default=15.0)
    p.add_argument("--drain", type=float, default=2.0, help="wait for the last pushes (s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-seconds", type=float, default=300.0)
    p.add_argument("--json", type=Path)
    p.add_argument("--results", type=Path,
                   help="write (or replace) the table-board section of this RESULTS.md")
    p.add_argument("--note", default="", help="a line about the run (e.g. a busy machine)")
    return p.parse_args(argv)


def section(result: dict, note: str) -> str:
    """The table-board section of bench/RESULTS.md, between its markers."""
    ok = result["errors"] == 0 and (result["p99_ms"] or 1e9) <= TARGET_P99_MS
    lines = [
        BEGIN,
        "## Table board (issue 13)",
        "",
        f"Written by `bench/board.py` on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC:"
        f" {result['tables']} tables x {result['phones']} phones, {result['rate']:g} moves a"
        f" second each for {result['seconds']:g} s (Poisson), moves made on the version each"
        " phone last saw. Latency: a move's send -> the first `board` push listing it at each"
        " other phone of the table.",
    ]
    if note:
        lines += ["", note]
    lines += [
        "",
        "| moves | deliveries | errors | p50 (ms) | p99 (ms) | max (ms) | server CPU (s) |"
        " peak RSS (MB) | target: p99 <= 150 ms, 0 errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {result['moves']} | {result['deliveries']} | {result['errors']} |"
        f" {result['p50_ms']} | {result['p99_ms']} | {result['max_ms']} |"
        f" {result.get('cpu_s')} | {result.get('rss_peak_mb')} |"
        f" {'**pass**' if ok else '**FAIL**'} |",
        "",
        END,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_nofile()
    with tempfile.TemporaryDirectory(prefix="board-bench-") as tmp:
        server = Server("app", Path(tmp))
        try:
            server.wait_ready()
            result = asyncio.run(asyncio.wait_for(drive(args, server), args.max_seconds))
            result.update(server.finish())
        except Exception:
            print(server.log_tail(), file=sys.stderr)
            raise
        finally:
            server.stop()
    result.update(tables=args.tables, phones=args.phones, rate=args.rate, seconds=args.seconds)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.results:
        write(section(result, args.note), args.results, BEGIN, END)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
