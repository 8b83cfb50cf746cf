"""Group commit: answers that arrive together share one transaction (and one disk flush).

A handler stages an answer in the store (``Store.stage_submit``, which keeps it in a
``Staging``), then waits on ``GroupCommit.wait`` until the store has committed it
(``Store.commit_staged``). Nothing here touches the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from facilitator.workshop import Participant, Session, WorkshopError

if TYPE_CHECKING:
    from facilitator.store import Store

log = logging.getLogger(__name__)


@dataclass(eq=False)
class StagedAnswer:
    """An accepted answer on its way to the database (see ``Store.stage_submit``)."""

    session: Session
    participant: Participant
    step: str
    value: Any
    submission_id: str
    done: bool = False
    error: BaseException | None = None

    def result(self) -> None:
        """Return once committed; raise if its commit failed. Never blocks."""
        if self.error is not None:
            raise WorkshopError(
                "internal", "The server could not save that answer; it will be sent again."
            ) from self.error
        if not self.done:
            raise RuntimeError("answer not committed yet")


COMMITTED = StagedAnswer(None, None, "", None, "", done=True)  # type: ignore[arg-type]


class Staging:
    """Answers accepted but not committed yet, in arrival order, found again by
    (session, participant, submission id) so that a resend waits for its first copy."""

    def __init__(self) -> None:
        self._records: list[StagedAnswer] = []
        self._ids: dict[tuple[int, int, str], StagedAnswer] = {}

    def __len__(self) -> int:
        return len(self._records)

    def find(self, session: Session, participant: Participant,
             submission_id: str) -> StagedAnswer | None:
        """The waiting copy of this submission, if any."""
        return self._ids.get((session.id, participant.number, submission_id))

    def add(self, record: StagedAnswer) -> None:
        """Stage one accepted answer for the next commit."""
        self._records.append(record)
        self._ids[(record.session.id, record.participant.number, record.submission_id)] = record

    def take(self) -> list[StagedAnswer]:
        """Every staged answer, in arrival order, for a commit; they are still found (a resend
        waits for them) until ``settle``."""
        records, self._records = self._records, []
        return records

    def settle(self, records: list[StagedAnswer]) -> None:
        """Forget committed answers (memory now holds them)."""
        for r in records:
            self._ids.pop((r.session.id, r.participant.number, r.submission_id), None)

    def fail(self, error: BaseException) -> None:
        """Drop every answer, each staged one carrying ``error`` (its waiter tells the phone)."""
        records, self._records, self._ids = self._records, [], {}
        for record in records:
            record.error = error


class GroupCommit:
    """Commits answers in groups: one transaction (and one disk flush) for every answer that
    arrives while the previous group is written, instead of one per answer.

    A handler stages an answer in the store, then calls ``wait``: the first waiter starts a
    writer task, and every answer staged before that task runs shares its commit. The writer
    runs after the handlers already scheduled, so in a burst one commit carries many answers
    and on a quiet server it carries one, at once. ``start_task`` and ``make_event`` come from
    the async mode in use (eventlet, gevent or threads).
    """

    WAIT_LIMIT = 1.0  # seconds a waiter trusts the writer before committing by itself

    def __init__(self, store: Store, start_task: Callable[..., Any],
                 make_event: Callable[[], Any], max_group: int = 100) -> None:
        self.store = store
        self._start_task = start_task
        self._make_event = make_event
        self._lock = threading.Lock()
        self._pending: Any = None  # the event of the writer that has not taken its answers yet
        self.max_group = max_group
        # transactions written, and answers in them (read by the tests and the bench)
        self.commits = 0
        self.answers = 0

    def wait(self, record: StagedAnswer) -> None:
        """Block this task until ``record`` is committed; raise ``WorkshopError`` if its commit
        failed (nothing was saved, and the phone sends it again).

        Once ``max_group`` answers are staged, the task that stages the next one commits the
        group itself instead of waiting, so no more than about that many tasks (each holding
        its stack and request) are ever parked here at once."""
        while not record.done and record.error is None:
            started = True
            with self._lock:
                event = self._pending
                if event is None:
                    event = self._pending = self._make_event()
                    try:
                        self._start_task(self._run, event)
                    except Exception:  # no task could be started: this one writes
                        log.exception("could not start the group commit writer")
                        started = False
            if not started or self.store.staged_count() >= self.max_group:
                self._run(event)
            elif not event.wait(self.WAIT_LIMIT):
                with self._lock:
                    late = self._pending is event  # its writer has not taken the answers
                if late:
                    self._run(event)  # the writer is late (or gone): never wait on it for ever
        record.result()

    def _run(self, event: Any) -> None:
        def taken() -> None:
            with self._lock:
                if self._pending is event:
                    self._pending = None  # answers staged from now on go with the next writer

        try:
            written = self.store.commit_staged(on_take=taken)
            if written:
                self.commits += 1
                self.answers += written
        except Exception:
            log.exception("group commit failed")
        finally:
            event.set()
