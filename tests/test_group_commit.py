"""Group commit: answers that arrive together share one transaction, nothing is acknowledged
before its commit, a failed commit fails every answer in it and changes nothing, and any other
change (closing the discard step, removing a phone) first commits the answers accepted before it.

The coordinator is driven here with real threads and a writer the test starts by hand, so the
moment of the commit is under the test's control; the eventlet server runs the same code in the
live-server and fault tests (kill -9 with submits in flight).
"""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from failing_db import FailingCommit

from facilitator.decks import load_decks
from facilitator.group_commit import GroupCommit
from facilitator.store import Store
from facilitator.workshop import WorkshopError


@pytest.fixture
def world(tmp_path):
    """A store with one session in an open discard step and six phones in two groups."""
    store = Store(tmp_path / "db.sqlite3")
    session = store.create_session(load_decks()["task-5-1"], "T", ["A", "B"])
    phones = [store.join(session, f"p{i}", 1 + i % 2) for i in range(6)]
    store.open_step(session, "discard")
    yield store, session, phones
    store.close()


class HeldWriter:
    """A GroupCommit whose writer task only runs when the test says so. Its waiters trust the
    writer for a minute instead of a second (WAIT_LIMIT), so a slow machine cannot turn them into
    their own writers before the test runs it; the test that is about that sets its own."""

    def __init__(self, store: Store) -> None:
        self.tasks: list = []
        self.waiting = 0  # tasks parked on a commit event now
        lock = threading.Lock()
        held = self

        class CountedEvent(threading.Event):
            def wait(self, timeout=None):
                with lock:
                    held.waiting += 1
                try:
                    return super().wait(timeout)
                finally:
                    with lock:
                        held.waiting -= 1

        self.commit = GroupCommit(store, lambda fn, *args: self.tasks.append((fn, args)),
                                  CountedEvent)
        self.commit.WAIT_LIMIT = 60.0

    def run_writer(self) -> None:
        fn, args = self.tasks.pop(0)
        fn(*args)

    def until_waiting(self, count: int) -> None:
        """Return once ``count`` tasks wait for the commit (a condition, not a pause)."""
        deadline = time.monotonic() + 10
        while self.waiting < count and time.monotonic() < deadline:
            time.sleep(0.001)
        assert self.waiting == count, (self.waiting, count)


def wait_all(commit: GroupCommit, records) -> tuple[list[threading.Thread], list]:
    """One waiting 'handler' thread per record; their outcomes land in the returned list."""
    outcomes: list = []

    def handler(record):
        try:
            commit.wait(record)
            outcomes.append("saved")
        except WorkshopError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=handler, args=(r,)) for r in records]
    for t in threads:
        t.start()
    return threads, outcomes


def answers_in_db(store: Store) -> int:
    return len(store.dump()["answers"])


def test_answers_staged_together_share_one_commit_and_none_is_acked_before_it(world):
    store, session, phones = world
    held = HeldWriter(store)
    records = [store.stage_submit(session, p, "discard", 3, f"s{p.number}")[0] for p in phones]
    threads, outcomes = wait_all(held.commit, records)
    held.until_waiting(len(records))  # every handler is waiting for the one commit
    assert len(held.tasks) == 1
    assert outcomes == [] and answers_in_db(store) == 0
    assert not any("discard" in p.answers for p in phones)  # nothing shown before the commit
    version = session.version
    held.run_writer()
    for t in threads:
        t.join(5)
    assert outcomes == ["saved"] * len(phones)
    assert held.tasks == []  # one writer was started for all of them
    assert (held.commit.commits, held.commit.answers) == (1, len(phones))
    assert answers_in_db(store) == len(phones)
    assert all(p.answers["discard"] == 3 for p in phones)
    assert session.version == version + len(phones)
    assert store.dump()["sessions"][0][11] == session.version  # the version column is saved too


def test_a_failed_group_commit_fails_every_answer_in_it_and_changes_nothing(world):
    store, session, phones = world
    held = HeldWriter(store)
    before, version = store.dump(), session.version
    records = [store.stage_submit(session, p, "discard", 4, f"x{p.number}")[0] for p in phones]
    threads, outcomes = wait_all(held.commit, records)
    held.until_waiting(len(records))
    real = store._db
    store._db = FailingCommit(real)
    try:
        held.run_writer()
    finally:
        store._db = real
    for t in threads:
        t.join(5)
    assert outcomes == ["internal"] * len(phones)
    assert store.dump() == before
    fresh = store.by_code(session.code)
    assert fresh.version == version
    assert not any("discard" in p.answers for p in fresh.participants.values())
    # the phones send them again: accepted as new, not as duplicates of something unsaved
    again = [store.submit(fresh, p, "discard", 4, f"x{p.number}")
             for p in fresh.participants.values()]
    assert again == [False] * len(phones) and answers_in_db(store) == len(phones)


def test_closing_the_discard_step_counts_every_vote_accepted_before_it(world):
    store, session, phones = world
    held = HeldWriter(store)
    records = [store.stage_submit(session, p, "discard", 5, f"v{p.number}")[0] for p in phones]
    store.close_step(session)  # the trainer closes while the writer has not run yet
    assert all(r.done for r in records)
    assert {g.discard for g in session.groups.values()} == {5}
    assert answers_in_db(store) == len(phones)
    threads, outcomes = wait_all(held.commit, records)
    for t in threads:
        t.join(5)
    assert outcomes == ["saved"] * len(phones) and held.tasks == []


def test_an_answer_resent_while_its_first_copy_waits_is_saved_once(world):
    store, session, phones = world
    first, dup1 = store.stage_submit(session, phones[0], "discard", 2, "same")
    second, dup2 = store.stage_submit(session, phones[0], "discard", 9, "same")
    assert (dup1, dup2) == (False, True) and second is first
    assert store.commit_staged() == 1
    assert first.done and phones[0].answers["discard"] == 2
    assert store.submit(session, phones[0], "discard", 9, "same") is True
    assert len(store.dump()["submissions"]) == 1


def test_a_refused_answer_is_never_staged(world):
    store, session, phones = world
    with pytest.raises(WorkshopError) as exc:
        store.stage_submit(session, phones[0], "rank", [1, 2, 3], "early")
    assert exc.value.code == "wrong_step"
    assert store.commit_staged() == 0


def test_removing_a_phone_first_commits_its_waiting_answer(world):
    store, session, phones = world
    record, _ = store.stage_submit(session, phones[0], "discard", 7, "last-word")
    store.remove_participant(session, phones[0].number)
    assert record.done
    submissions = store.dump()["submissions"]
    assert [row[2] for row in submissions] == ["last-word"]


def test_a_full_group_is_committed_by_the_task_that_fills_it_without_waiting(world):
    store, session, phones = world
    held = HeldWriter(store)
    held.commit.max_group = 3
    first = [store.stage_submit(session, p, "discard", 1, f"f{p.number}")[0] for p in phones[:2]]
    threads, outcomes = wait_all(held.commit, first)  # 2 staged: below the limit, they wait
    held.until_waiting(2)
    assert outcomes == [] and held.commit.commits == 0
    third, _ = store.stage_submit(session, phones[2], "discard", 1, "third")
    held.commit.wait(third)  # the third fills the group: committed here, at once
    for t in threads:
        t.join(5)
    assert outcomes == ["saved", "saved"] and third.done
    assert (held.commit.commits, held.commit.answers) == (1, 3)
    held.run_writer()  # the writer started for the group finds nothing left to do
    assert held.commit.commits == 1 and answers_in_db(store) == 3


def test_if_no_writer_task_can_be_started_the_waiter_commits_itself(world):
    store, session, phones = world
    calls = []

    def start_task(fn, *args):
        calls.append(fn)
        if len(calls) == 1:
            raise RuntimeError("can't start new thread")
        threading.Thread(target=fn, args=args, daemon=True).start()

    commit = GroupCommit(store, start_task, threading.Event)
    first, _ = store.stage_submit(session, phones[0], "discard", 3, "a")
    commit.wait(first)  # no writer: committed by the waiting task itself, and acknowledged
    assert first.done and phones[0].answers["discard"] == 3
    second, _ = store.stage_submit(session, phones[1], "discard", 3, "b")
    commit.wait(second)  # the next group gets a writer as usual
    assert second.done and len(calls) == 2 and answers_in_db(store) == 2


def test_a_writer_that_never_runs_does_not_park_its_waiters_for_ever(world):
    store, session, phones = world
    held = HeldWriter(store)  # its writer is never run in this test
    held.commit.WAIT_LIMIT = 0.05
    record, _ = store.stage_submit(session, phones[0], "discard", 3, "late")
    started = time.monotonic()
    held.commit.wait(record)
    assert record.done and time.monotonic() - started < 2
    assert answers_in_db(store) == 1


def test_objects_looked_up_before_a_failed_write_rebuilt_memory_are_refused(world):
    store, session, phones = world
    real = store._db
    store._db = FailingCommit(real)
    try:
        with pytest.raises(sqlite3.OperationalError):
            store.reveal(session, True)  # fails at COMMIT: memory is rebuilt from the database
    finally:
        store._db = real
    with pytest.raises(WorkshopError) as exc:  # a handler still holding the old objects
        store.stage_submit(session, phones[0], "discard", 3, "stale")
    assert exc.value.code == "internal" and store.staged_count() == 0
    before = store.dump()
    for rule, args in ((store.close_step, ()), (store.open_step, ("rank",)),
                       (store.reveal, (True,)), (store.join, ("late", 1)),
                       (store.remove_participant, (1,)), (store.reset, ())):
        with pytest.raises(WorkshopError) as exc:  # a console event waiting for the lock
            rule(session, *args)
        assert exc.value.code == "internal"
    assert store.dump() == before
    fresh_session, fresh_phone = store.by_participant(phones[0].token)
    assert store.submit(fresh_session, fresh_phone, "discard", 3, "stale") is False


def test_an_answer_for_a_deleted_session_is_refused_not_staged(world):
    store, session, phones = world
    store.delete_session(session)
    with pytest.raises(WorkshopError) as exc:
        store.stage_submit(session, phones[0], "discard", 3, "orphan")
    assert exc.value.code == "bad_token" and store.staged_count() == 0


def test_answers_are_staged_while_the_previous_group_is_flushed_to_disk(tmp_path):
    """The COMMIT runs through ``blocking`` (a thread under eventlet): while it flushes, phones
    go on staging, a resend of an answer in that commit waits for it, and the next group
    carries the rest."""
    hold, flushing, release = threading.Event(), threading.Event(), threading.Event()

    def slow_flush(fn, *args):
        if hold.is_set():
            flushing.set()
            release.wait(5)
        return fn(*args)

    store = Store(tmp_path / "db.sqlite3", blocking=slow_flush)
    session = store.create_session(load_decks()["task-5-1"], "T", ["A", "B"])
    first, second = (store.join(session, name, 1) for name in ("p1", "p2"))
    store.open_step(session, "discard")
    record, _ = store.stage_submit(session, first, "discard", 2, "one")
    hold.set()
    writer = threading.Thread(target=store.commit_staged)
    writer.start()
    assert flushing.wait(5)
    started = time.monotonic()
    again, duplicate = store.stage_submit(session, first, "discard", 2, "one")
    later, _ = store.stage_submit(session, second, "discard", 5, "two")
    assert time.monotonic() - started < 1  # nobody waited for the disk
    assert again is record and duplicate and not record.done and store.staged_count() == 1
    release.set()
    writer.join(5)
    assert record.done and not later.done and second.answers == {}
    assert store.commit_staged() == 1 and later.done
    assert answers_in_db(store) == 2
    store.close()
