"""Load benchmark: N phones against the real server, and the same harness against the floor.

    .venv/bin/python bench/load.py --phones 1000 --mode burst --json out.json

For each target (``app``: ``python -m facilitator serve`` on a fresh temporary database;
``floor``: ``bench/floor.py``, a bare Flask-SocketIO server) it starts the server as a subprocess
on 127.0.0.1, connects a projector (and, for the app, a facilitator console) from this process and
N python-socketio AsyncClient phones from worker processes, then runs three submit rounds
(discard, rank, top). The app run follows the real protocol: create the session over HTTP,
``watch``, ``join`` over four groups, ``open_step``/``close_step``/``settle`` from the console,
each phone submitting the answer its ``state`` push allows. The floor run sends the same three
submits per phone through the identical harness.

Latency of a submit to the projector: app, arrival of the first ``snapshot`` whose ``version`` is
at least the submit's ack ``version``; floor, arrival of the forwarded submit itself. Both minus
the submit's send time, on ``time.perf_counter`` (CLOCK_MONOTONIC on Linux, one clock for every
process on the machine, so the worker processes' send times and this process's arrival times
compare directly). The rank round is the headline; every round is reported.

Everything is bounded: connect, join and ack timeouts, a wait for the projector, and an overall
deadline per target; the servers and workers are stopped on the way out.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import functools
import gc
import json
import math
import multiprocessing as mp
import os
import random
import resource
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facilitator.workshop import INPUT_STEPS  # noqa: E402

STEPS = INPUT_STEPS
HEADLINE = "rank"
DECK = "task-5-1"
GROUPS = ["Table 1", "Table 2", "Table 3", "Table 4"]
FLOOR_NUMBERS = list(range(1, 11))
FLOOR_DISCARD = 3
FLOOR_TOP = 5
SERVER_CPU = 0
# --nonblocking samples without pausing the server; BENCH_PYSPY=--native (which pauses it) shows
# C frames too, e.g. the garbage collector
PYSPY_MODE = shlex.split(os.environ.get("BENCH_PYSPY", "--nonblocking"))
now = time.perf_counter


# --------------------------------------------------------------------------- small helpers


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of ``values``; None if empty."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


def raise_nofile() -> None:
    """Raise this process's open-file limit to the hard limit (inherited by children)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, payload: dict | None = None, timeout: float = 10.0) -> tuple[int, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        body = resp.read()
        try:
            return resp.status, json.loads(body)
        except ValueError:
            return resp.status, body


# --------------------------------------------------------------------------- answers


def group_index(index: int, n_groups: int) -> int:
    return index % n_groups


def discard_vote(index: int, n_groups: int, numbers: list[int]) -> int:
    """Mostly statement 3 (a clear plurality); the last group splits 2/9 so it may tie."""
    g, k = group_index(index, n_groups), index // n_groups
    if g == n_groups - 1:
        return 2 if k % 2 == 0 else 9
    return 3 if k % 4 != 3 else numbers[k % len(numbers)]


def rank_answer(index: int, remaining: list[int], seed: int) -> list[int]:
    order = list(remaining)
    random.Random(seed * 1_000_003 + index).shuffle(order)
    return order


def top_answer(index: int, remaining: list[int], size: int, seed: int) -> list[int]:
    return rank_answer(index, remaining, seed + 17)[:size]


# --------------------------------------------------------------------------- phones (workers)


class Phone:
    """One participant's phone: a socket, its token and the last ``state`` push."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.token: str | None = None
        self.state: dict | None = None
        self.connected = False
        self.closing = False
        self.lost: str | None = None
        self.client.on("state", self._on_state)
        self.client.on("disconnect", self._on_disconnect)

    async def _on_state(self, data: Any) -> None:
        self.state = data

    async def _on_disconnect(self, *args: Any) -> None:
        if not self.closing and self.lost is None:
            self.lost = f"disconnect ({args[0] if args else 'no reason'})"

    async def connect(self, url: str, transports: list[str], timeout: float) -> dict:
        t0 = now()
        try:
            await asyncio.wait_for(
                self.client.connect(url, transports=transports, wait_timeout=timeout),
                timeout + 5)
            self.connected = True
            return {"t0": t0, "t1": now(), "error": None}
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            return {"t0": t0, "t1": now(), "error": f"connect: {type(exc).__name__}: {exc}"}

    async def join(self, code: str, groups: list[int], timeout: float) -> dict:
        t0 = now()
        payload = {"code": code, "name": f"Phone {self.index}",
                   "group": groups[group_index(self.index, len(groups))]}
        try:
            ack = await self.client.call("join", payload, timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            return {"t0": t0, "t1": now(), "error": f"join: {type(exc).__name__}: {exc}"}
        t1 = now()
        if not isinstance(ack, dict) or not ack.get("ok"):
            return {"t0": t0, "t1": t1, "error": f"join refused: {ack!r}"[:300]}
        self.token = ack["token"]
        if self.state is None:
            self.state = ack.get("state")
        return {"t0": t0, "t1": t1, "error": None}

    def ready_for(self, step: str) -> bool:
        s = self.state
        if not s or s["session"]["step"] != step or not s["session"]["open"]:
            return False
        return step == "discard" or s.get("remaining") is not None

    def answer(self, kind: str, step: str, n_groups: int, seed: int) -> Any:
        if kind == "floor":
            numbers, top = FLOOR_NUMBERS, FLOOR_TOP
            remaining = [n for n in numbers if n != FLOOR_DISCARD]
        else:
            numbers = [s["number"] for s in self.state["deck"]["statements"]]
            top = self.state["deck"]["top"]
            remaining = self.state.get("remaining") or numbers
        if step == "discard":
            return discard_vote(self.index, n_groups, numbers)
        if step == "rank":
            return rank_answer(self.index, remaining, seed)
        return top_answer(self.index, remaining, top, seed)

    async def submit(self, kind: str, step: str, at: float, n_groups: int, seed: int,
                     timeout: float) -> dict:
        delay = at - now()
        if delay > 0:
            await asyncio.sleep(delay)
        sid = f"{step}-{self.index}-{seed}"
        rec: dict[str, Any] = {"i": self.index, "id": sid, "version": None, "error": None}
        if kind == "app" and self.token is None:
            rec.update(t0=now(), t1=now(), error="submit: phone never joined")
            return rec
        payload = {"token": self.token or "floor", "step": step,
                   "answer": self.answer(kind, step, n_groups, seed), "id": sid}
        rec["t0"] = now()
        try:
            ack = await self.client.call("submit", payload, timeout=timeout)
        except Exception as exc:  # noqa: BLE001
            rec.update(t1=now(), error=f"submit unacknowledged: {type(exc).__name__}: {exc}")
            return rec
        rec["t1"] = now()
        if not isinstance(ack, dict) or not ack.get("ok"):
            rec["error"] = f"submit refused: {ack!r}"[:300]
        else:
            rec["version"] = ack.get("version")
        return rec


async def in_batches(coros_for: list, batch: int) -> list:
    """Run the coroutine factories ``batch`` at a time, in order."""
    out: list = []
    for i in range(0, len(coros_for), batch):
        out.extend(await asyncio.gather(*(f() for f in coros_for[i:i + batch])))
    return out


async def worker_main(conn: Any, indices: list[int], deadline_s: float) -> None:
    loop = asyncio.get_running_loop()
    phones = [Phone(i) for i in indices]
    stop_at = now() + deadline_s
    while True:
        remaining = stop_at - now()
        if remaining <= 0:
            break
        try:
            if not await loop.run_in_executor(None, conn.poll, min(remaining, 0.2)):
                continue
            cmd = conn.recv()
        except (EOFError, OSError):
            break
        op = cmd["op"]
        if op == "exit":
            break
        if op == "connect":
            args = (cmd["url"], cmd["transports"], cmd["timeout"])
            res = await in_batches([functools.partial(p.connect, *args) for p in phones],
                                   cmd["batch"])
            conn.send(res)
        elif op == "join":
            args = (cmd["code"], cmd["groups"], cmd["timeout"])
            res = await in_batches(
                [functools.partial(p.join, *args) for p in phones if p.connected], cmd["batch"])
            conn.send(res)
        elif op == "await_state":
            step, until = cmd["step"], now() + cmd["timeout"]
            todo = [p for p in phones if p.token is not None]
            while now() < until and not all(p.ready_for(step) for p in todo):
                await asyncio.sleep(0.02)
            conn.send({"missing": sum(1 for p in todo if not p.ready_for(step)),
                       "t": now()})
        elif op == "submit":
            kind, step, n_groups, seed = cmd["kind"], cmd["step"], cmd["n_groups"], cmd["seed"]
            todo = [p for p in phones if p.connected]
            if cmd["mode"] == "burst":
                offsets = [0.0] * len(todo)
            else:
                offsets = [random.Random(f"{seed}:{p.index}").uniform(0, cmd["spread"])
                           for p in todo]
            # the harness's own garbage collections stay out of the round (app and floor
            # alike): collect now, none until the round's acks are in
            gc.collect()
            gc.disable()
            try:
                res = await asyncio.gather(*(
                    p.submit(kind, step, cmd["t0"] + off, n_groups, seed, cmd["timeout"])
                    for p, off in zip(todo, offsets, strict=True)))
            finally:
                gc.enable()
            conn.send(res)
        elif op == "disconnect":
            lost = [p.lost for p in phones if p.lost]
            for p in phones:
                p.closing = True
            await in_batches([p.client.disconnect for p in phones if p.connected], cmd["batch"])
            conn.send({"lost": lost})
    for p in phones:
        p.closing = True
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(*(p.client.disconnect() for p in phones), return_exceptions=True), 5)


def worker_entry(conn: Any, indices: list[int], deadline_s: float) -> None:
    raise_nofile()
    try:
        asyncio.run(worker_main(conn, indices, deadline_s))
    except KeyboardInterrupt:
        pass
    finally:
        conn.close()


class Pool:
    """Worker processes holding the phones; commands go to all of them at once."""

    def __init__(self, n_phones: int, n_workers: int, deadline_s: float) -> None:
        ctx = mp.get_context("spawn")
        self.conns = []
        self.procs = []
        for w in range(n_workers):
            parent, child = ctx.Pipe()
            indices = list(range(w, n_phones, n_workers))
            proc = ctx.Process(target=worker_entry, args=(child, indices, deadline_s),
                               daemon=True, name=f"phones-{w}")
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    async def all(self, wait: float, **cmd: Any) -> list:
        loop = asyncio.get_running_loop()
        for c in self.conns:
            c.send(cmd)

        async def recv(c: Any) -> Any:
            until = now() + wait
            # short polls, so that a cancelled run does not leave a thread blocked for long
            while not await loop.run_in_executor(None, c.poll, 0.2):
                if now() > until:
                    raise TimeoutError(f"worker did not answer {cmd['op']} in {wait:.0f} s")
            return c.recv()

        return await asyncio.gather(*(recv(c) for c in self.conns))

    def close(self) -> None:
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.send({"op": "exit"})
        for p in self.procs:
            p.join(8)
            if p.is_alive():
                p.terminate()
                p.join(2)


# --------------------------------------------------------------------------- server process


class Server:
    """The server under test as a subprocess, with psutil sampling its RSS every 100 ms."""

    def __init__(self, kind: str, workdir: Path, profile_dir: Path | None = None) -> None:
        self.kind = kind
        self.profile_dir = profile_dir
        self.spy: subprocess.Popen | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{kind}-server.log"
        if kind == "app":
            cmd = [sys.executable, "-m", "facilitator", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--db", str(workdir / "bench.sqlite3")]
            if os.environ.get("BENCH_APP_CMD"):  # experiments: a variant of the server
                cmd = [part.format(python=sys.executable, port=self.port,
                                   db=workdir / "bench.sqlite3")
                       for part in shlex.split(os.environ["BENCH_APP_CMD"])]
        else:
            cmd = [sys.executable, str(ROOT / "bench" / "floor.py"), "--host", "127.0.0.1",
                   "--port", str(self.port)]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore",
                   # every simulated phone comes from 127.0.0.1: lift the per-address caps
                   FACILITATOR_MAX_CONNECTIONS_PER_ADDRESS="100000",
                   FACILITATOR_ADDRESS_TRAFFIC_SHARE="100000",
                   FACILITATOR_MAX_PARTICIPANTS="100000")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        self.ps = psutil.Process(self.proc.pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self.cpu0 = 0.0

    def pin(self, cpus: set[int]) -> None:
        """Keep the server on its own core(s), away from the harness."""
        os.sched_setaffinity(self.proc.pid, cpus)

    def wait_ready(self, timeout: float = 30.0) -> None:
        until = time.monotonic() + timeout
        probe = f"{self.url}/socket.io/?EIO=4&transport=polling"
        while time.monotonic() < until:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.proc.returncode}:\n"
                                   + self.log_tail())
            try:
                status, _ = http_json(probe, timeout=2)
                if status == 200:
                    self.cpu0 = self.cpu()
                    self._sampler.start()
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server not ready in {timeout:.0f} s:\n"
                           + self.log_tail())

    def start_profiler(self, label: str) -> None:
        """py-spy on the server from now until stop_profiler() (collapsed stacks)."""
        if not self.profile_dir:
            return
        spy = Path(sys.executable).with_name("py-spy")
        out = self.profile_dir / f"{self.kind}-{label}.txt"
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self.spy = subprocess.Popen(
            [str(spy) if spy.exists() else "py-spy", "record", "--pid", str(self.proc.pid),
             "--rate", "1000", *PYSPY_MODE, "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # let it attach

    def stop_profiler(self) -> None:
        if self.spy is None:
            return
        self.spy.send_signal(signal.SIGINT)
        try:
            self.spy.wait(20)
        except subprocess.TimeoutExpired:
            self.spy.kill()
            self.spy.wait(5)
        self.spy = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self.ps.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(0.1)

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def hwm(self) -> int:
        """The kernel's own peak RSS (VmHWM), to catch a spike between samples."""
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def finish(self) -> dict:
        """CPU seconds since ready and peak RSS; call before stop()."""
        alive = self.proc.poll() is None
        cpu = self.cpu() - self.cpu0 if alive else None
        peak = max(self.peak_rss, self.hwm() if alive else 0)
        self._stop.set()
        return {"cpu_s": None if cpu is None else round(cpu, 2),
                "rss_peak_mb": round(peak / 2**20, 1), "alive": alive}

    def stop(self) -> None:
        self._stop.set()
        self.stop_profiler()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            self.log.flush()
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- projector, console


class Watcher:
    """A client in this process: the projector (records arrivals) or the facilitator console."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.snap_t: list[float] = []
        self.snap_v: list[int] = []  # running maximum of the snapshot versions
        self.seen: dict[str, float] = {}
        self.closing = False
        self.lost: str | None = None
        self.client.on("snapshot", self._on_snapshot)
        self.client.on("submitted", self._on_submitted)
        self.client.on("disconnect", self._on_disconnect)

    async def _on_snapshot(self, data: Any) -> None:
        t = now()
        v = data.get("version", 0) if isinstance(data, dict) else 0
        self.snap_t.append(t)
        self.snap_v.append(max(v, self.snap_v[-1]) if self.snap_v else v)

    async def _on_submitted(self, data: Any) -> None:
        t = now()
        if isinstance(data, dict) and "id" in data:
            self.seen.setdefault(data["id"], t)

    async def _on_disconnect(self, *args: Any) -> None:
        if not self.closing:
            self.lost = f"disconnect ({args[0] if args else 'no reason'})"

    @property
    def version(self) -> int:
        return self.snap_v[-1] if self.snap_v else -1

    def reflected_at(self, version: int) -> float | None:
        i = bisect.bisect_left(self.snap_v, version)
        return self.snap_t[i] if i < len(self.snap_t) else None

    async def call(self, event: str, data: dict, timeout: float = 60.0) -> dict:
        ack = await self.client.call(event, data, timeout=timeout)
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise RuntimeError(f"{event} refused: {ack!r}"[:500])
        return ack


# --------------------------------------------------------------------------- one target


def summarise_round(kind: str, records: list[dict], proj: Watcher) -> tuple[dict, dict]:
    acks, lat = [], []
    errors: list[str] = []
    unreflected = 0
    for r in records:
        if r["error"]:
            errors.append(r["error"])
            continue
        acks.append(r["t1"] - r["t0"])
        if kind == "app":
            t = proj.reflected_at(r["version"]) if r["version"] is not None else None
        else:
            t = proj.seen.get(r["id"])
        if t is None:
            unreflected += 1
        else:
            lat.append(t - r["t0"])
    sends = [r["t0"] for r in records if "t0" in r]
    out = {"submits": len(records), "ok": len(acks), "errors": len(errors),
           "unreflected": unreflected,
           "send_window_ms": ms(max(sends) - min(sends)) if sends else None}
    for name, values in (("ack", acks), ("projector", lat)):
        for q in (50, 95, 99):
            out[f"{name}_p{q}_ms"] = ms(percentile(values, q))
        out[f"{name}_max_ms"] = ms(max(values)) if values else None
    out["error_samples"] = errors[:5]
    return out, {"ack": acks, "projector": lat}


async def drive(kind: str, server: Server, pool: Pool, args: argparse.Namespace) -> dict:
    proj, fac = Watcher(), Watcher()
    try:
        return await _drive(kind, server, pool, args, proj, fac)
    finally:
        for w in (proj, fac):
            w.closing = True
            if w.client.connected:
                with contextlib.suppress(Exception):  # already on the way out
                    await asyncio.wait_for(w.client.disconnect(), 5)
            if w.client.eio.http is not None and not w.client.eio.http.closed:
                await w.client.eio.http.close()


async def _drive(kind: str, server: Server, pool: Pool, args: argparse.Namespace,
                 proj: Watcher, fac: Watcher) -> dict:
    transports = ["websocket"] if args.transport == "websocket" else ["polling", "websocket"]
    to = args.ack_timeout
    res: dict[str, Any] = {"steps": {}}
    errs: dict[str, int] = {"connect": 0, "join": 0, "state": 0, "submit": 0,
                            "unreflected": 0, "disconnect": 0}
    samples: list[str] = []
    n_groups = len(GROUPS)

    await proj.client.connect(server.url, transports=transports, wait_timeout=to)
    if kind == "app":
        status, created = http_json(f"{server.url}/api/sessions",
                                    {"deck": DECK, "groups": GROUPS})
        if status != 201:
            raise RuntimeError(f"POST /api/sessions answered {status}: {created!r}")
        ack = await proj.call("watch", {"projector": created["projector_key"]})
        groups = [g["id"] for g in ack["snapshot"]["groups"]]
        n_groups = len(groups)
        await fac.client.connect(server.url, transports=transports, wait_timeout=to)
        ftoken = created["facilitator_token"]
        await fac.call("facilitate", {"token": ftoken})
    else:
        await proj.call("watch", {})

    batch = max(1, args.batch // len(pool.conns))
    t = now()
    parts = await pool.all(args.connect_timeout * (args.phones / args.batch + 2), op="connect",
                           url=server.url, transports=transports, batch=batch,
                           timeout=args.connect_timeout)
    conns = [r for part in parts for r in part]
    res["connect_s"] = round(max(r["t1"] for r in conns) - t, 2)
    res["connect_p99_ms"] = ms(percentile([r["t1"] - r["t0"] for r in conns], 99))
    for r in conns:
        if r["error"]:
            errs["connect"] += 1
            samples.append(r["error"])

    if kind == "app":
        t = now()
        parts = await pool.all(to * (args.phones / args.batch + 2), op="join",
                               code=created["code"], groups=groups, batch=batch, timeout=to)
        joins = [r for part in parts for r in part]
        res["join_s"] = round(now() - t, 2)
        res["join_p99_ms"] = ms(percentile([r["t1"] - r["t0"] for r in joins], 99))
        for r in joins:
            if r["error"]:
                errs["join"] += 1
                samples.append(r["error"])

    rounds = [("discard", "discard")]
    rounds += [("rank", "rank" if k == 0 else f"rank#{k + 1}") for k in range(args.rank_rounds)]
    rounds.append(("top", "top"))
    pooled: dict[str, list[float]] = {"ack": [], "projector": []}
    for n, (step, label) in enumerate(rounds):
        if kind == "app" and label == step:  # the step opens once; rank#2... resubmit in it
            await fac.call("open_step", {"token": ftoken, "step": step})
            parts = await pool.all(to + 10, op="await_state", step=step, timeout=to)
            missing = sum(p["missing"] for p in parts)
            if missing:
                errs["state"] += missing
                samples.append(f"{missing} phones had no open {step} state after {to:.0f} s")
        if label == args.profile_step:
            server.start_profiler(label.replace("#", "-"))
        cpu0 = server.cpu()
        t0 = now() + 0.5
        round_to = to + (args.spread if args.mode == "spread" else 0) + 30
        gc.collect()  # the driver's collections stay out of the round, as the workers' do
        gc.disable()
        try:
            parts = await pool.all(round_to, op="submit", kind=kind, step=step, t0=t0,
                                   mode=args.mode, spread=args.spread, n_groups=n_groups,
                                   seed=args.seed + n, timeout=to)
            records = [r for part in parts for r in part]
            # wait (bounded) until the projector has everything that was acknowledged
            until = now() + args.reflect_timeout
            if kind == "app":
                target = max((r["version"] for r in records if r["version"] is not None),
                             default=-1)
                while proj.version < target and now() < until:
                    await asyncio.sleep(0.01)
            else:
                want = {r["id"] for r in records if not r["error"]}
                while not want.issubset(proj.seen) and now() < until:
                    await asyncio.sleep(0.01)
        finally:
            gc.enable()
        if label == args.profile_step:
            server.stop_profiler()
        summary, raw = summarise_round(kind, records, proj)
        if step == HEADLINE:
            for key in pooled:
                pooled[key].extend(raw[key])
        summary["cpu_s"] = round(server.cpu() - cpu0, 3)
        summary["window"] = [round(t0, 4), round(now(), 4)]  # perf_counter, for profiles
        summary["snapshots"] = sum(1 for t in proj.snap_t if t >= t0)
        res["steps"][label] = summary
        errs["submit"] += summary["errors"]
        errs["unreflected"] += summary["unreflected"]
        samples.extend(summary.pop("error_samples"))
        last_of_step = n + 1 == len(rounds) or rounds[n + 1][0] != step
        if kind == "app" and last_of_step:
            ack = await fac.call("close_step", {"token": ftoken})
            if step == "discard":
                for g in ack["snapshot"]["groups"]:
                    if g.get("discard_tied"):
                        await fac.call("settle", {"token": ftoken, "group": g["id"],
                                                  "statement": g["discard_tied"][0]})
                        res["settled"] = res.get("settled", 0) + 1

    parts = await pool.all(60, op="disconnect", batch=batch)
    lost = [x for part in parts for x in part["lost"]]
    for w in (proj, fac):
        if w.lost:
            lost.append(f"{'projector' if w is proj else 'console'} {w.lost}")
    errs["disconnect"] = len(lost)
    samples.extend(lost[:5])

    # the headline: every rank round pooled
    res["headline_submits"] = len(pooled["projector"])
    for name, values in pooled.items():
        for q in (50, 95, 99):
            res[f"{name}_p{q}_ms"] = ms(percentile(values, q))
    res["error_kinds"] = errs
    res["errors"] = sum(errs.values())
    res["disconnects"] = errs["disconnect"]
    res["error_samples"] = samples[:10]
    return res


def run_target(kind: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        server = Server(kind, Path(tmp), args.profile)
        pool = None
        try:
            if args.pin:
                server.pin({SERVER_CPU})
            server.wait_ready()
            pool = Pool(args.phones, args.workers, args.max_seconds + 30)
            started = time.monotonic()
            try:
                res = asyncio.run(asyncio.wait_for(drive(kind, server, pool, args),
                                                   args.max_seconds))
            except TimeoutError:
                res = {"errors": args.phones, "aborted": f"over {args.max_seconds:.0f} s"}
            except Exception as exc:  # noqa: BLE001 - reported, counted, run goes on
                res = {"errors": args.phones, "aborted": f"{type(exc).__name__}: {exc}"}
            res.update(server.finish())
            res["wall_s"] = round(time.monotonic() - started, 1)
            if not res.pop("alive"):
                res["errors"] = max(res.get("errors", 0), 1)
                res["aborted"] = res.get("aborted") or "server died"
            if "aborted" in res:
                res["server_log_tail"] = server.log_tail()
            return res
        finally:
            if pool is not None:
                pool.close()
            server.stop()


# --------------------------------------------------------------------------- report


def ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or b <= 0:
        return None
    return round(a / b, 2)


ROWS = [
    ("connect all N (s)", "connect_s"),
    ("connect p99 (ms)", "connect_p99_ms"),
    ("ack p50 (ms)", "ack_p50_ms"),
    ("ack p95 (ms)", "ack_p95_ms"),
    ("ack p99 (ms)", "ack_p99_ms"),
    ("submit->projector p50 (ms)", "projector_p50_ms"),
    ("submit->projector p95 (ms)", "projector_p95_ms"),
    ("submit->projector p99 (ms)", "projector_p99_ms"),
    ("server CPU (s)", "cpu_s"),
    ("server peak RSS (MB)", "rss_peak_mb"),
    ("errors", "errors"),
    ("unexpected disconnects", "disconnects"),
]


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def table(result: dict) -> str:
    app, floor = result.get("app", {}), result.get("floor", {})
    lines = [f"phones={result['phones']} mode={result['mode']} transport={result['transport']} "
             f"workers={result['workers']} (headline: the {HEADLINE} rounds pooled)",
             f"{'':28}{'app':>10}{'floor':>10}{'app/floor':>11}"]
    for label, key in ROWS:
        a, f = app.get(key), floor.get(key)
        lines.append(f"{label:28}{fmt(a):>10}{fmt(f):>10}{fmt(ratio(a, f)):>11}")
    labels = list(app.get("steps") or floor.get("steps") or {})
    for step in labels:
        for name, res in (("app", app), ("floor", floor)):
            s = res.get("steps", {}).get(step)
            if s:
                lines.append(f"  {name:5} {step:8} ack p50/p99 {fmt(s['ack_p50_ms'])}/"
                             f"{fmt(s['ack_p99_ms'])} ms, projector p50/p95/p99 "
                             f"{fmt(s['projector_p50_ms'])}/{fmt(s['projector_p95_ms'])}/"
                             f"{fmt(s['projector_p99_ms'])} ms, sent over "
                             f"{fmt(s['send_window_ms'])} ms, server CPU {fmt(s['cpu_s'])} s")
    for name, res in (("app", app), ("floor", floor)):
        if res.get("aborted"):
            lines.append(f"{name} ABORTED: {res['aborted']}")
        if res.get("error_kinds") and res.get("errors"):
            lines.append(f"{name} errors: {res['error_kinds']}")
        for s in res.get("error_samples", [])[:5]:
            lines.append(f"  {name}: {s}")
    lines.append(f"ratio_p99 (app/floor, submit->projector): {fmt(result['ratio_p99'])}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Load benchmark: the app against the bare floor.")
    p.add_argument("--phones", type=int, default=200)
    p.add_argument("--mode", choices=("burst", "spread"), default="burst")
    p.add_argument("--spread", type=float, default=10.0, help="seconds a spread round lasts")
    p.add_argument("--transport", choices=("websocket", "upgrade"), default="websocket",
                   help="upgrade: long-polling first, then websocket, as browsers do")
    p.add_argument("--workers", type=int, default=2, help="phone processes")
    p.add_argument("--batch", type=int, default=100, help="phones connecting at once (total)")
    p.add_argument("--targets", default="app,floor", help="app,floor | app | floor")
    p.add_argument("--pin", action="store_true",
                   help="server on CPU 0, the harness on the other CPUs")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="record each server with py-spy during one round "
                        "(collapsed stacks in DIR/KIND-STEP.txt)")
    p.add_argument("--profile-step", default=HEADLINE,
                   help="round to profile: discard, rank, rank#2, ..., top")
    p.add_argument("--rank-rounds", type=int, default=None,
                   help="rank rounds (phones resubmit), pooled for the headline "
                        "(default 5 in a burst, 1 spread)")
    p.add_argument("--json", type=Path, help="write the result here")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--connect-timeout", type=float, default=30.0)
    p.add_argument("--ack-timeout", type=float, default=30.0)
    p.add_argument("--reflect-timeout", type=float, default=15.0,
                   help="how long to wait for the projector after the last ack")
    p.add_argument("--max-seconds", type=float, default=600.0, help="deadline per target")
    args = p.parse_args(argv)
    if not 1 <= args.phones <= 20000 or args.workers < 1 or args.batch < 1:
        p.error("need 1 <= phones <= 20000, workers >= 1, batch >= 1")
    args.workers = min(args.workers, args.phones)
    if args.rank_rounds is None:
        args.rank_rounds = 5 if args.mode == "burst" else 1
    if args.rank_rounds < 1:
        p.error("--rank-rounds must be at least 1")
    if args.pin and len(os.sched_getaffinity(0)) < 2:
        p.error("--pin needs at least 2 CPUs")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clock = time.get_clock_info("perf_counter").implementation
    if "CLOCK_MONOTONIC" not in clock:
        print(f"perf_counter is {clock}, not shared between processes", file=sys.stderr)
        return 2
    raise_nofile()
    if args.pin:
        # the harness (this process and the spawned phone workers inherit it) stays off CPU 0
        os.sched_setaffinity(0, os.sched_getaffinity(0) - {SERVER_CPU})
    result: dict[str, Any] = {"phones": args.phones, "mode": args.mode,
                              "transport": args.transport, "workers": args.workers,
                              "pinned": args.pin, "rank_rounds": args.rank_rounds,
                              "spread_s": args.spread if args.mode == "spread" else 0}
    for kind in args.targets.split(","):
        print(f"[{kind}] {args.phones} phones, {args.mode} ...", file=sys.stderr, flush=True)
        result[kind] = run_target(kind, args)
    app, floor = result.get("app", {}), result.get("floor", {})
    result["errors"] = app.get("errors", 0) if "app" in result else floor.get("errors", 0)
    result["ratio_p99"] = ratio(app.get("projector_p99_ms"), floor.get("projector_p99_ms"))
    print(table(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
