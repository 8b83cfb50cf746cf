"""Group commit under eventlet with failing disks: run as a subprocess by
tests/test_faults.py (eventlet is never patched into the pytest process).

Sixty phones (greenlets) submit and resubmit discard votes through ``Store.stage_submit`` and
``GroupCommit.wait`` while the trainer closes, reopens and reveals, and a fifth of the COMMITs
(the writer's and the trainer's) fail as on a full disk; commits run in tpool's real threads, as
the launcher runs them. Prints one JSON line per seed: how many
answers were acknowledged, how many of those are missing from the database (must be 0), how many
submissions differ between the database and memory (must be 0), and the commits and answers the
group commit wrote.

    python tests/group_commit_stress.py SEED [SEED ...]
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import eventlet.tpool  # noqa: E402
from engineio.async_drivers.eventlet import Event  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from failing_db import FailingCommit  # noqa: E402

from facilitator.decks import load_decks  # noqa: E402
from facilitator.group_commit import GroupCommit  # noqa: E402
from facilitator.store import Store  # noqa: E402
from facilitator.workshop import WorkshopError  # noqa: E402

PHONES = 60
TRAINER_MOVES = 150


def run(seed: int) -> dict:
    rnd = random.Random(seed)
    # commits in tpool's real threads, as the launcher runs them
    store = Store(Path(tempfile.mkdtemp()) / "stress.sqlite3", blocking=eventlet.tpool.execute)
    session = store.create_session(load_decks()["task-5-1"], "T", ["A", "B"])
    tokens = [store.join(session, f"p{i}", 1 + i % 2).token for i in range(PHONES)]
    store.open_step(session, "discard")
    disk = FailingCommit(store._db, fail=False)
    store._db = disk
    commit = GroupCommit(store, eventlet.spawn, Event, max_group=10)
    acked: list[tuple[int, str]] = []
    refused: dict[str, int] = {}
    stop = False

    def phone(i: int) -> None:
        n = 0
        while not stop:
            found = store.by_participant(tokens[i])  # looked up afresh, as every event does
            if found is None:
                return
            s, p = found
            sid = f"{i}-{n // 2}"  # every id is sent twice: the second is a resend
            n += 1
            try:
                record, _ = store.stage_submit(s, p, "discard", rnd.randint(1, 5), sid)
                commit.wait(record)
                acked.append((p.number, sid))
            except WorkshopError as exc:
                refused[exc.code] = refused.get(exc.code, 0) + 1
            eventlet.sleep(rnd.random() * 0.002)

    phones = [eventlet.spawn(phone, i) for i in range(PHONES)]
    for _ in range(TRAINER_MOVES):
        eventlet.sleep(0.002)
        disk.fail = rnd.random() < 0.2  # the writer's commits fail now and then
        eventlet.sleep(0)
        disk.fail = rnd.random() < 0.1  # and so do the trainer's
        s = store.by_code(session.code)
        try:
            if rnd.random() < 0.5:
                store.close_step(s)
                store.open_step(s, "discard")
            else:
                store.reveal(s, rnd.random() < 0.5)
        except (sqlite3.Error, WorkshopError):
            pass
        disk.fail = False
    stop = True
    with eventlet.Timeout(20):
        for g in phones:
            g.wait()
    store.commit_staged()
    in_db = {(row[1], row[2]) for row in store.dump()["submissions"]}
    s = store.by_code(session.code)
    in_memory = {(p.number, i) for p in s.participants.values() for i in p.submission_ids}
    return {"seed": seed, "acked": len(acked), "refused": refused,
            "missing": sum(1 for k in acked if k not in in_db),
            "differ": len(in_db ^ in_memory), "commits": commit.commits,
            "answers": commit.answers}


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)  # the failing commits are logged by design
    for arg in sys.argv[1:]:
        print(json.dumps(run(int(arg))), flush=True)
