"""The one stateful place: every session, group, participant and answer, durable in SQLite.

SQLite (WAL, ``synchronous=FULL``) is the store of record; the store also keeps the whole state
in memory as workshop objects, loaded at start, so reads never touch the disk.

When memory changes: a rule (``Session.open_step``, ``settle``, ``reset``, ...) changes the
objects in memory first, under the store's lock, and the store then writes what it changed
(``Change``) and commits before the call returns; if the write fails, memory is rebuilt from the
database, so the call raises and nothing changed. Answers go the other way round: staged, then
committed in groups (``GroupCommit``), and applied in memory only after their commit, so a phone
never sees an unsaved answer as saved. A process killed at any moment restarts to exactly what
was committed, which includes everything acknowledged.

Every commit runs through one write path (``_write``), which can hand the COMMIT (the disk flush)
to a real OS thread (``blocking``: eventlet's ``tpool.execute`` in the launcher), so a slow flush
holds up only the requests that wait for that commit, never the event loop; answers go on being
staged meanwhile.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from facilitator import board_store, workshop
from facilitator.decks import Deck, Statement
from facilitator.group_commit import COMMITTED, StagedAnswer, Staging
from facilitator.results import ResultCache
from facilitator.workshop import Change, Group, Participant, Session, WorkshopError

SCHEMA = (Path(__file__).parent / "schema.sql").read_text(encoding="utf-8")


T = TypeVar("T")
Statements = list[tuple[str, list[tuple[Any, ...]]]]

_clock: list = [0, ""]  # memo: the current second and its ISO text (formatting costs ~8 µs)


# Closed sessions kept in memory after use (most recent first out of the way); the rest stay on
# disk until a link, a code or a token asks for them.
CLOSED_KEPT = 8


def _now() -> str:
    second = int(time.time())
    if second != _clock[0]:
        _clock[:] = [second, datetime.fromtimestamp(second, UTC).isoformat()]
    return _clock[1]


def _run_here(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


def deck_to_json(deck: Deck) -> str:
    """The deck as stored with its session (a session keeps the deck it was run with)."""
    return json.dumps(deck.to_dict(), ensure_ascii=False)


def deck_from_json(text: str) -> Deck:
    """Inverse of ``deck_to_json``."""
    data = json.loads(text)
    return Deck(
        id=data["id"],
        title=data["title"],
        source=data.get("source", ""),
        instructions=data.get("instructions", ""),
        statements=tuple(Statement(s["number"], s["text"], s.get("short"))
                         for s in data["statements"]),
        discard=data["discard"],
        top=data["top"],
    )


class Store:
    """All workshop state, durable in SQLite and mirrored in memory.

    Methods either succeed completely (committed) or raise ``WorkshopError`` (or the database's
    error) and change nothing. Safe to call from several threads or greenlets (one lock).
    ``blocking`` runs a blocking call away from the event loop and waits for it; the default
    runs it in place (right for threads).
    """

    def __init__(self, path: str | Path,
                 blocking: Callable[..., Any] | None = None) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is flushed to the disk before it returns, so an acknowledged answer
        # survives a killed process and a power cut. Answers are committed in groups
        # (GroupCommit), so a burst pays one flush per group, not one per answer.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
        if "shuffle" not in columns:  # a database from before the shuffled starting order
            self._db.execute("ALTER TABLE sessions ADD COLUMN shuffle INTEGER NOT NULL DEFAULT 1")
        if "joins_locked" not in columns:  # a database from before the join lock
            self._db.execute(
                "ALTER TABLE sessions ADD COLUMN joins_locked INTEGER NOT NULL DEFAULT 0")
        if "projector_view" not in columns:  # a database from before the projector chooser
            self._db.execute(
                "ALTER TABLE sessions ADD COLUMN projector_view TEXT NOT NULL DEFAULT '{}'")
        if "join_id" not in {row[1] for row in self._db.execute("PRAGMA table_info(participants)")}:
            # a database from before resent joins were recognised
            self._db.execute("ALTER TABLE participants ADD COLUMN join_id TEXT")
        if "kept_for" not in {row[1] for row in self._db.execute("PRAGMA table_info(groups)")}:
            # a database from before tied re-votes kept their table's rankings
            self._db.execute("ALTER TABLE groups ADD COLUMN kept_for INTEGER")
        board_store.migrate(self._db)
        self._blocking = blocking or _run_here
        # _writing: one transaction at a time on the connection; _lock: memory and staging.
        # Taken in that order when both are needed. Answers are staged while a commit runs.
        self._writing = threading.RLock()
        self._lock = threading.RLock()
        self.sessions: dict[int, Session] = {}
        self._closed_recent: dict[int, None] = {}  # closed sessions in memory, oldest first
        self._by_code: dict[str, Session] = {}
        self._by_console: dict[str, Session] = {}
        self._by_projector: dict[str, Session] = {}
        self._by_participant: dict[str, tuple[Session, Participant]] = {}
        self.results = ResultCache()
        self.staging = Staging()  # answers accepted but not yet committed
        self._boards_staged: list[board_store.StagedBoard] = []  # board changes, in memory
        self._load()

    # -- the write path ---------------------------------------------------------------------
    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction and commit it. The statements only fill
        SQLite's page cache; the COMMIT, which flushes to the disk and may stall, runs through
        ``blocking`` (away from the event loop). If anything fails, COMMIT included, the
        database is rolled back and memory (which may hold part of the change) is rebuilt from
        it, so the two never disagree and nothing unsaved is ever reported as saved."""
        with self._writing:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                    self._blocking(db.execute, "COMMIT")
                except BaseException:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                    raise
            except BaseException:
                with self._lock:
                    self._reload()
                raise
            return result

    def _write_statements(self, statements: Statements) -> None:
        def work(db: sqlite3.Connection) -> None:
            for sql, rows in statements:
                db.executemany(sql, rows)

        self._write(work)

    def _apply(self, session: Session, rule: Callable[[], Change]) -> Change:
        """Apply one workshop rule to ``session`` and persist what it changed. The answers
        accepted before it are committed first, so the rule sees them (closing the discard
        step counts every vote that was accepted before it)."""
        with self._writing, self._lock:
            self._check_current(session)
            self.commit_staged()
            self._check_current(session)  # that commit may have failed and rebuilt memory
            change = rule()
            self._write_statements(self._statements(change))
            for p in change.removed:
                self._by_participant.pop(p.token, None)
            if change.joined is not None:
                self._by_participant[change.joined.token] = (session, change.joined)
            self.results.forget(session, change.stale_groups())
            return change

    def _check_current(self, session: Session) -> None:
        """Refuse objects looked up before a failed write rebuilt memory (a task may wait for
        the lock while another's commit runs in a thread and fails)."""
        if self.sessions.get(session.id) is not session:
            raise WorkshopError("internal", "The server was restoring its state; try again.")

    @staticmethod
    def _statements(change: Change) -> Statements:
        """The SQL that saves ``change`` (the session's own fields are always saved)."""
        s = change.session
        out: Statements = [(
            "UPDATE sessions SET step = ?, open = ?, revealed = ?, closed = ?, version = ?,"
            " joins_locked = ?, projector_view = ? WHERE id = ?",
            [(s.step, int(s.open), int(s.revealed), int(s.closed), s.version,
              int(s.joins_locked), json.dumps(s.projector_view), s.id)],
        )]
        if change.reset:
            out += [(f"DELETE FROM {table} WHERE session_id = ?", [(s.id,)])
                    for table in ("answers", "submissions")]
        if change.groups:
            out.append((
                "UPDATE groups SET discard = ?, discard_tied = ?, kept_for = ? WHERE"
                " session_id = ? AND number = ?",
                [(g.discard, json.dumps(g.discard_tied) if g.discard_tied else None, g.kept_for,
                  s.id, g.number) for g in (s.groups[n] for n in sorted(change.groups))],
            ))
        if change.cleared:
            out.append((
                "DELETE FROM answers WHERE session_id = ? AND participant = ? AND step IN"
                " ('rank', 'top')", [(s.id, p.number) for p in change.cleared],
            ))
        if change.joined is not None:
            p = change.joined
            out.append((
                "INSERT INTO participants (session_id, number, group_number, name, token,"
                " joined_at, join_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(s.id, p.number, p.group, p.name, p.token, _now(), p.join_id)],
            ))
        if change.removed:
            out.append(("UPDATE participants SET removed = 1 WHERE session_id = ? AND number = ?",
                        [(s.id, p.number) for p in change.removed]))
        return out + board_store.statements(change)

    def _reload(self) -> None:
        self.staging.fail(RuntimeError("the store was reloaded after a failed write"))
        for record in self._boards_staged:  # their changes leave memory with the reload
            record.error = RuntimeError("the store was reloaded after a failed write")
        self._boards_staged = []
        self.sessions.clear()
        self._closed_recent.clear()
        self._by_code.clear()
        self._by_console.clear()
        self._by_projector.clear()
        self._by_participant.clear()
        self.results.clear()
        self._load()

    def close(self) -> None:
        """Close the database connection."""
        with self._writing, self._lock:
            self._db.close()

    # -- loading and indexes ----------------------------------------------------------------
    def _index(self, session: Session) -> None:
        self.sessions[session.id] = session
        self._by_code[session.code] = session
        self._by_console[session.console_token] = session
        self._by_projector[session.projector_key] = session
        for p in session.participants.values():
            if not p.removed:
                self._by_participant[p.token] = (session, p)

    def _unindex(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        self._closed_recent.pop(session.id, None)
        self._by_code.pop(session.code, None)
        self._by_console.pop(session.console_token, None)
        self._by_projector.pop(session.projector_key, None)
        for p in session.participants.values():
            self._by_participant.pop(p.token, None)
        self.results.forget(session)

    SESSION_COLUMNS = ("SELECT id, code, title, deck, facilitator_token, projector_key,"
                       " created_at, step, open, revealed, closed, version, shuffle,"
                       " joins_locked, projector_view FROM sessions")

    def _load(self) -> None:
        """Every open session into memory; closed ones are loaded when asked for (_load_one)."""
        for session in self._read_sessions(" WHERE closed = 0", ()):
            self._index(session)

    def _read_sessions(self, where: str, args: tuple) -> list[Session]:
        """Sessions matching ``where`` with their groups, participants and answers."""
        db = self._db
        found: dict[int, Session] = {}
        for row in db.execute(self.SESSION_COLUMNS + where + " ORDER BY id", args):
            found[row[0]] = Session(
                id=row[0], code=row[1], title=row[2], deck=deck_from_json(row[3]),
                console_token=row[4], projector_key=row[5], created_at=row[6], step=row[7],
                open=bool(row[8]), revealed=bool(row[9]), closed=bool(row[10]), version=row[11],
                shuffle=bool(row[12]), joins_locked=bool(row[13]),
                projector_view=json.loads(row[14]),
            )
        if not found:
            return []
        ids = ",".join(str(i) for i in found)  # integers from the database itself
        for sid, number, name, discard, tied, kept_for in db.execute(
            f"SELECT session_id, number, name, discard, discard_tied, kept_for FROM groups"
            f" WHERE session_id IN ({ids}) ORDER BY session_id, number"
        ):
            found[sid].groups[number] = Group(
                number, name, discard, tuple(json.loads(tied)) if tied else None, kept_for
            )
        for sid, number, group, name, token, removed, join_id in db.execute(
            f"SELECT session_id, number, group_number, name, token, removed, join_id"
            f" FROM participants WHERE session_id IN ({ids}) ORDER BY session_id, number"
        ):
            found[sid].participants[number] = Participant(
                number, group, name, token, bool(removed), join_id=join_id
            )
        for sid, number, step, answer in db.execute(
            f"SELECT session_id, participant, step, answer FROM answers"
            f" WHERE session_id IN ({ids})"
        ):
            found[sid].participants[number].answers[step] = json.loads(answer)
        for sid, number, submission_id in db.execute(
            f"SELECT session_id, participant, submission_id FROM submissions"
            f" WHERE session_id IN ({ids})"
        ):
            found[sid].participants[number].submission_ids.add(submission_id)
        board_store.load(db, found)
        return list(found.values())

    def _load_one(self, where: str, args: tuple) -> Session | None:
        """A session that is not in memory (a closed one), loaded on demand and kept among the
        CLOSED_KEPT most recently used closed sessions."""
        with self._writing, self._lock:
            sessions = self._read_sessions(where, args)
            if not sessions:
                return None
            session = sessions[0]
            current = self.sessions.get(session.id)
            if current is not None:  # loaded meanwhile
                return current
            self._index(session)
            self._keep_closed(session)
            return session

    def _keep_closed(self, session: Session) -> None:
        """Remember ``session`` as recently used; forget the least recent closed sessions past
        CLOSED_KEPT (an open session is never forgotten)."""
        self._closed_recent.pop(session.id, None)
        self._closed_recent[session.id] = None
        while len(self._closed_recent) > CLOSED_KEPT:
            oldest = next(iter(self._closed_recent))
            del self._closed_recent[oldest]
            old = self.sessions.get(oldest)
            if old is not None and old.closed:
                self._unindex(old)

    def session_count(self) -> int:
        """How many sessions the database holds (open and closed)."""
        with self._writing:
            return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def session_summaries(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """One page of every session, newest first, read from the database (closed sessions
        are not loaded for it): what the organiser list shows."""
        with self._writing:
            rows = self._db.execute(
                "SELECT s.id, s.code, s.title, s.deck, s.facilitator_token, s.created_at,"
                " s.step, s.closed,"
                " (SELECT COUNT(*) FROM participants p WHERE p.session_id = s.id"
                "  AND p.removed = 0),"
                " (SELECT COUNT(*) FROM groups g WHERE g.session_id = s.id)"
                " FROM sessions s ORDER BY s.id DESC LIMIT ? OFFSET ?", (limit, offset),
            ).fetchall()
        return [{"id": r[0], "code": r[1], "title": r[2],
                 "deck_title": json.loads(r[3]).get("title", ""), "console_token": r[4],
                 "created_at": r[5], "step": r[6], "closed": bool(r[7]), "participants": r[8],
                 "groups": r[9]} for r in rows]

    # -- settings ---------------------------------------------------------------------------
    def setting(self, key: str) -> str | None:
        """A stored setting (e.g. the organiser secret)."""
        with self._writing:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        """Store a setting."""
        self._write(lambda db: db.execute(
            "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value)))

    # -- look-ups ---------------------------------------------------------------------------
    def by_code(self, code: str | None) -> Session | None:
        """The session with this join code (open or closed, loaded on demand), or None."""
        if not code:
            return None
        return self._by_code.get(code) or self._load_one(" WHERE code = ?", (code,))

    def by_console(self, token: object) -> Session | None:
        """The session whose console token this is, or None."""
        if not isinstance(token, str):
            return None
        return self._by_console.get(token) or self._load_one(
            " WHERE facilitator_token = ?", (token,))

    def by_projector(self, key: object) -> Session | None:
        """The session whose projector key this is, or None."""
        if not isinstance(key, str):
            return None
        return self._by_projector.get(key) or self._load_one(" WHERE projector_key = ?", (key,))

    def by_participant(self, token: object) -> tuple[Session, Participant] | None:
        """The (session, participant) this participant token belongs to, or None."""
        if not isinstance(token, str):
            return None
        found = self._by_participant.get(token)
        if found is None and self._load_one(
                " WHERE id = (SELECT session_id FROM participants WHERE token = ?)",
                (token,)) is not None:
            found = self._by_participant.get(token)
        return found

    # -- sessions ---------------------------------------------------------------------------
    def create_session(self, deck: Deck, title: str, groups: list[str],
                       shuffle: bool = True) -> Session:
        """A new session in the lobby with its groups, fresh secrets and a unique join code;
        ``shuffle`` starts each participant's ranking in an order of their own."""
        with self._writing, self._lock:
            for _ in range(100):
                code = workshop.new_join_code()
                if code not in self._by_code and self._db.execute(
                        "SELECT 1 FROM sessions WHERE code = ?", (code,)).fetchone() is None:
                    break
            else:  # pragma: no cover - 1e-9 odds
                raise WorkshopError("bad_request", "Could not find a free join code.")
            fac, proj, created = workshop.new_token(), workshop.new_token(), _now()

            def work(db: sqlite3.Connection) -> int:
                cur = db.execute(
                    "INSERT INTO sessions (code, title, deck, facilitator_token, projector_key,"
                    " created_at, shuffle) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (code, title, deck_to_json(deck), fac, proj, created, int(shuffle)),
                )
                sid = int(cur.lastrowid or 0)
                db.executemany(
                    "INSERT INTO groups (session_id, number, name) VALUES (?, ?, ?)",
                    [(sid, i, name) for i, name in enumerate(groups, start=1)],
                )
                return sid

            session = Session(self._write(work), code, title, deck, fac, proj, created,
                              shuffle=shuffle)
            session.groups = {i: Group(i, name) for i, name in enumerate(groups, start=1)}
            self._index(session)
        return session

    def open_step(self, session: Session, step: object, mode: object = "individual") -> Change:
        """Make ``step`` current and open, alone or as a table (``Session.open_step``)."""
        return self._apply(session, lambda: session.open_step(step, mode))

    def new_round(self, session: Session) -> Change:
        """Start the next individual round (``Session.new_round``)."""
        return self._apply(session, session.new_round)

    def board(self, session: Session, rule: Callable[[], Change]) -> Change:
        """Apply one table-board rule (a move, an agreement, a lock; ``Session.board_*``,
        ``lock_table``, ``check_lock``) and commit it before returning."""
        change, record = self.stage_board(session, rule)
        self.commit_staged()
        record.result()
        return change

    def stage_board(self, session: Session,
                    rule: Callable[[], Change]) -> tuple[Change, board_store.StagedBoard]:
        """Apply one table-board rule in memory now (moves are ordered as they arrive) and stage
        what it changed for the next group commit; nothing may be acknowledged until the record
        is ``done``. A change that saves nothing (a resent move) still waits for the commit in
        flight, which carries its first copy. If that commit fails, memory is rebuilt from the
        database and the record carries the error."""
        with self._lock:
            self._check_current(session)
            change = rule()
            statements = self._statements(change) if change.boards else []
            record = board_store.StagedBoard(statements)
            self._boards_staged.append(record)
            return change, record

    def close_step(self, session: Session) -> Change:
        """Close the current step (``Session.close_step``)."""
        return self._apply(session, session.close_step)

    def lock_joins(self, session: Session, locked: bool) -> Change:
        """Stop or allow new participants (``Session.lock_joins``)."""
        return self._apply(session, lambda: session.lock_joins(locked))

    def reveal(self, session: Session, revealed: bool) -> Change:
        """Show or hide results on the projector."""
        return self._apply(session, lambda: session.reveal(revealed))

    def show_on_projector(self, session: Session, view: object, table: object = None,
                          statement: object = None, page: object = None) -> Change:
        """Choose what the projector shows (``Session.show_on_projector``)."""
        return self._apply(session, lambda: session.show_on_projector(view, table, statement,
                                                                      page))

    def settle(self, session: Session, group: object, statement: object) -> Change:
        """Settle a tied group's discard (``Session.settle``)."""
        return self._apply(session, lambda: session.settle(group, statement))

    def close_session(self, session: Session) -> Change:
        """Stop joins and answers (``Session.close``). Results stay, on disk: the session
        leaves memory once CLOSED_KEPT other closed sessions were used after it."""
        change = self._apply(session, session.close)
        with self._lock:
            self._keep_closed(session)
        return change

    def reset(self, session: Session) -> Change:
        """Remove every participant and answer (``Session.reset``)."""
        return self._apply(session, session.reset)

    def delete_session(self, session: Session) -> None:
        """Delete a session and everything in it (organiser page)."""
        with self._writing, self._lock:
            self.commit_staged()
            self._write_statements([(f"DELETE FROM {table} WHERE session_id = ?", [(session.id,)])
                                    for table in ("answers", "submissions", "participants",
                                                  "groups", *board_store.TABLES)]
                                   + [("DELETE FROM sessions WHERE id = ?", [(session.id,)])])
            self._unindex(session)

    # -- participants -----------------------------------------------------------------------
    def join(self, session: Session, name: str, group: object,
             limit: int | None = None, join_id: object = None) -> Participant:
        """A new participant in ``group`` (or the least filled group when None), unless
        joins are locked or ``limit`` participants are in (``Session.join``). A join resent
        with the same ``join_id`` gets the participant that join made, once it is saved."""
        with self._writing, self._lock:  # the first join's commit finishes before this looks
            self._check_current(session)
            again = session.joined_as(join_id)
            if again is not None:
                return again
            change = self._apply(session, lambda: session.join(
                name, group, workshop.new_token(), limit, join_id))
        assert change.joined is not None
        return change.joined

    def remove_participant(self, session: Session, number: object) -> Participant:
        """Remove a participant (``Session.remove``); returns them."""
        return self._apply(session, lambda: session.remove(number)).removed[0]

    # -- answers ----------------------------------------------------------------------------
    def submit(self, session: Session, participant: Participant, step: object, answer: object,
               submission_id: object) -> bool:
        """Save one answer (committed before returning). Returns True for a resent duplicate."""
        record, duplicate = self.stage_submit(session, participant, step, answer, submission_id)
        self.commit_staged()
        record.result()
        return duplicate

    def stage_submit(self, session: Session, participant: Participant, step: object,
                     answer: object, submission_id: object) -> tuple[StagedAnswer, bool]:
        """Accept one answer for the next group commit (``commit_staged``), or recognise a
        resent one. Returns its record and whether it is a duplicate; nothing is saved, and
        nothing may be acknowledged, until the record is ``done``. Raises ``WorkshopError``
        for an answer that breaks the rules, changing nothing."""
        submission_id = workshop.check_submission_id(submission_id)
        with self._lock:
            current = self._by_participant.get(participant.token)
            if current is None:
                if not participant.removed:  # its session was deleted meanwhile
                    raise WorkshopError("bad_token",
                                        "This phone's place in the workshop is no longer valid.")
            elif current[0] is not session or current[1] is not participant:
                # looked up before a failed write rebuilt memory: these objects are stale
                raise WorkshopError("internal", "The server was restoring its state; the answer"
                                    " will be sent again.")
            if submission_id in participant.submission_ids:
                return COMMITTED, True
            pending = self.staging.find(session, participant, submission_id)
            if pending is not None:  # resent while the first copy waits for its commit
                return pending, True
            value = session.accept_answer(participant, step, answer)
            record = StagedAnswer(session, participant, step, value, submission_id)  # type: ignore[arg-type]
            self.staging.add(record)
            return record, False

    def commit_staged(self, on_take: Callable[[], None] | None = None) -> int:
        """Commit every staged answer in one transaction, then apply them in memory in arrival
        order and mark them done. Returns how many. ``on_take`` is called as the answers are
        taken for the commit; answers staged from then on wait for the next one. If the write
        fails, each record carries the error and nothing changes."""
        with self._writing:
            with self._lock:
                if on_take is not None:
                    on_take()
                staged = self.staging.take()
                boards, self._boards_staged = self._boards_staged, []
                if not staged and not boards:
                    return 0
                saved_at = _now()
                bumps = Counter(r.session.id for r in staged)
                # board changes first: they set the session's version absolutely, as memory has
                # it without the answers below, which then add theirs
                statements: Statements = [s for b in boards for s in b.statements]
                statements += [
                    ("INSERT INTO submissions (session_id, participant, submission_id)"
                     " VALUES (?, ?, ?)",
                     [(r.session.id, r.participant.number, r.submission_id) for r in staged]),
                    ("INSERT OR REPLACE INTO answers (session_id, participant, step, answer,"
                     " submission_id, saved_at) VALUES (?, ?, ?, ?, ?, ?)",
                     [(r.session.id, r.participant.number, r.step, json.dumps(r.value),
                       r.submission_id, saved_at) for r in staged]),
                    ("UPDATE sessions SET version = version + ? WHERE id = ?",
                     [(n, sid) for sid, n in bumps.items()]),
                ]
            try:
                self._write_statements(statements)
            except BaseException as exc:
                for r in [*staged, *boards]:
                    r.error = exc
                raise
            with self._lock:
                for r in staged:
                    r.session.record_answer(r.participant, r.step, r.value, r.submission_id)
                    self.results.forget(r.session, {r.participant.group})
                    r.done = True
                self.staging.settle(staged)
                for b in boards:
                    b.done = True
            return len(staged) + len(boards)

    def staged_count(self) -> int:
        """How many answers (and board changes) wait for the next group commit."""
        return len(self.staging) + len(self._boards_staged)

    def dump(self) -> dict[str, list[tuple]]:
        """Every row of every table, for tests that prove a request changed nothing."""
        with self._writing:
            return {
                table: sorted(self._db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                for table in ("sessions", "groups", "participants", "answers", "submissions",
                              *board_store.TABLES)
            }
