"""The one stateful place: every session, group, participant and answer.

SQLite (WAL) is the store of record; the store also keeps the whole state in memory, loaded at
start, so reads never touch the disk. Every change is written and committed first and applied in
memory only after the commit succeeded: what a phone was told is saved is on disk, and a failed
write changes nothing. A process killed at any moment restarts to exactly what was acknowledged.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from facilitator import workshop
from facilitator.consensus import aggregate_group, aggregate_room, tally_discard
from facilitator.decks import Deck, Statement
from facilitator.export import ResponseRow
from facilitator.workshop import Group, Participant, Session, WorkshopError

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: socket rooms are named by it
    code TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    deck TEXT NOT NULL,
    facilitator_token TEXT NOT NULL UNIQUE,
    projector_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    step TEXT NOT NULL DEFAULT 'lobby',
    open INTEGER NOT NULL DEFAULT 0,
    revealed INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 0,
    shuffle INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS groups (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    name TEXT NOT NULL,
    discard INTEGER,
    discard_tied TEXT,
    PRIMARY KEY (session_id, number)
);
CREATE TABLE IF NOT EXISTS participants (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    group_number INTEGER NOT NULL,
    name TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    removed INTEGER NOT NULL DEFAULT 0,
    joined_at TEXT NOT NULL,
    PRIMARY KEY (session_id, number)
);
CREATE TABLE IF NOT EXISTS answers (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    participant INTEGER NOT NULL,
    step TEXT NOT NULL,
    answer TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (session_id, participant, step)
);
CREATE TABLE IF NOT EXISTS submissions (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    participant INTEGER NOT NULL,
    submission_id TEXT NOT NULL,
    PRIMARY KEY (session_id, participant, submission_id)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


log = logging.getLogger(__name__)

ROOM = 0  # results-cache key of the whole room (groups are numbered from 1)


_clock: list = [0, ""]  # memo: the current second and its ISO text (formatting costs ~8 µs)


def _now() -> str:
    second = int(time.time())
    if second != _clock[0]:
        _clock[:] = [second, datetime.fromtimestamp(second, UTC).isoformat()]
    return _clock[1]


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


_COMMITTED = StagedAnswer(None, None, "", None, "", done=True)  # type: ignore[arg-type]


class Store:
    """All workshop state, durable in SQLite and mirrored in memory.

    Methods either succeed completely (committed, then applied) or raise ``WorkshopError`` and
    change nothing. Safe to call from several threads or greenlets (one lock).
    """

    def __init__(self, path: str | Path) -> None:
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
        self._lock = threading.RLock()
        self.sessions: dict[int, Session] = {}
        self._by_code: dict[str, Session] = {}
        self._by_facilitator: dict[str, Session] = {}
        self._by_projector: dict[str, Session] = {}
        self._by_participant: dict[str, tuple[Session, Participant]] = {}
        self._results: dict[tuple[int, int], Any] = {}  # (session id, group) -> GroupResult
        # answers accepted but not yet committed (see stage_submit), in arrival order
        self._staged: list[StagedAnswer] = []
        self._staged_ids: dict[tuple[int, int, str], StagedAnswer] = {}
        self._load()

    # -- plumbing ---------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. If anything fails, COMMIT included, the database is rolled
        back and memory (which may hold part of the change) is rebuilt from it, so the two
        never disagree and nothing unsaved is ever reported as saved."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                self._reload()
                raise

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for any change but an answer. Staged answers are committed
        first, so the change sees them (closing the discard step counts every vote that was
        accepted before it)."""
        with self._lock:
            self.commit_staged()
            with self._write() as db:
                yield db

    def _reload(self) -> None:
        self._fail_staged(RuntimeError("the store was reloaded after a failed write"))
        self.sessions.clear()
        self._by_code.clear()
        self._by_facilitator.clear()
        self._by_projector.clear()
        self._by_participant.clear()
        self._results.clear()
        self._load()

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def _index(self, session: Session) -> None:
        self.sessions[session.id] = session
        self._by_code[session.code] = session
        self._by_facilitator[session.facilitator_token] = session
        self._by_projector[session.projector_key] = session
        for p in session.participants.values():
            if not p.removed:
                self._by_participant[p.token] = (session, p)

    def _unindex(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        self._by_code.pop(session.code, None)
        self._by_facilitator.pop(session.facilitator_token, None)
        self._by_projector.pop(session.projector_key, None)
        for p in session.participants.values():
            self._by_participant.pop(p.token, None)
        self._forget_results(session)

    def _load(self) -> None:
        db = self._db
        for row in db.execute(
            "SELECT id, code, title, deck, facilitator_token, projector_key, created_at, step,"
            " open, revealed, closed, version, shuffle FROM sessions ORDER BY id"
        ):
            session = Session(
                id=row[0], code=row[1], title=row[2], deck=deck_from_json(row[3]),
                facilitator_token=row[4], projector_key=row[5], created_at=row[6], step=row[7],
                open=bool(row[8]), revealed=bool(row[9]), closed=bool(row[10]), version=row[11],
                shuffle=bool(row[12]),
            )
            self.sessions[session.id] = session
        for sid, number, name, discard, tied in db.execute(
            "SELECT session_id, number, name, discard, discard_tied FROM groups"
            " ORDER BY session_id, number"
        ):
            self.sessions[sid].groups[number] = Group(
                number, name, discard, tuple(json.loads(tied)) if tied else None
            )
        for sid, number, group, name, token, removed in db.execute(
            "SELECT session_id, number, group_number, name, token, removed FROM participants"
            " ORDER BY session_id, number"
        ):
            self.sessions[sid].participants[number] = Participant(
                number, group, name, token, bool(removed)
            )
        for sid, number, step, answer in db.execute(
            "SELECT session_id, participant, step, answer FROM answers"
        ):
            self.sessions[sid].participants[number].answers[step] = json.loads(answer)
        for sid, number, submission_id in db.execute(
            "SELECT session_id, participant, submission_id FROM submissions"
        ):
            self.sessions[sid].participants[number].submission_ids.add(submission_id)
        for session in list(self.sessions.values()):
            self._index(session)

    def _bump(self, db: sqlite3.Connection, session: Session) -> int:
        db.execute("UPDATE sessions SET version = version + 1 WHERE id = ?", (session.id,))
        return session.version + 1

    def _forget_results(self, session: Session, group: int | None = None) -> None:
        if group is not None:
            self._results.pop((session.id, group), None)
            self._results.pop((session.id, ROOM), None)
            return
        for key in [k for k in self._results if k[0] == session.id]:
            del self._results[key]

    # -- settings ---------------------------------------------------------------------------
    def setting(self, key: str) -> str | None:
        """A stored setting (e.g. the organiser secret)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # -- look-ups ---------------------------------------------------------------------------
    def by_code(self, code: str | None) -> Session | None:
        """The session with this join code (open or closed), or None."""
        return self._by_code.get(code) if code else None

    def by_facilitator(self, token: object) -> Session | None:
        """The session whose facilitator token this is, or None."""
        return self._by_facilitator.get(token) if isinstance(token, str) else None

    def by_projector(self, key: object) -> Session | None:
        """The session whose projector key this is, or None."""
        return self._by_projector.get(key) if isinstance(key, str) else None

    def by_participant(self, token: object) -> tuple[Session, Participant] | None:
        """The (session, participant) this participant token belongs to, or None."""
        return self._by_participant.get(token) if isinstance(token, str) else None

    # -- sessions ---------------------------------------------------------------------------
    def create_session(self, deck: Deck, title: str, groups: list[str],
                       shuffle: bool = True) -> Session:
        """A new session in the lobby with its groups, fresh secrets and a unique join code;
        ``shuffle`` starts each participant's ranking in an order of their own."""
        with self._transaction() as db:
            for _ in range(100):
                code = workshop.new_join_code()
                if code not in self._by_code:
                    break
            else:  # pragma: no cover - 1e-9 odds
                raise WorkshopError("bad_request", "Could not find a free join code.")
            fac, proj, created = workshop.new_token(), workshop.new_token(), _now()
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
            session = Session(sid, code, title, deck, fac, proj, created, shuffle=shuffle)
            session.groups = {i: Group(i, name) for i, name in enumerate(groups, start=1)}
            self._index(session)
        return session

    def _save_session_flags(self, db: sqlite3.Connection, session: Session, **flags: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in flags)
        db.execute(
            f"UPDATE sessions SET {cols}, version = version + 1 WHERE id = ?",
            (*(int(v) if isinstance(v, bool) else v for v in flags.values()), session.id),
        )

    def open_step(self, session: Session, step: str) -> None:
        """Make ``step`` current and open. Input steps hide results; the others reveal them.

        Leaving an open discard step decides the discards, as closing it would.
        """
        workshop.check_open(session)
        step = workshop.check_step_name(step)
        if step == "discard" and session.deck.discard == 0:
            raise WorkshopError("wrong_step", "This deck has no discard step.")
        is_input = step in workshop.INPUT_STEPS
        decide = session.step == "discard" and session.open and step != "discard"
        with self._transaction() as db:
            decisions = self._decide_discards(db, session) if decide else {}
            self._save_session_flags(db, session, step=step, open=is_input, revealed=not is_input)
            session.step, session.open, session.revealed = step, is_input, not is_input
            session.version += 1
            self._apply_discards(session, decisions)

    def close_step(self, session: Session) -> None:
        """Close the current step; closing the discard step decides each group's discard."""
        workshop.check_open(session)
        deciding = session.step == "discard" and session.open  # closing twice keeps a settle
        with self._transaction() as db:
            decisions = self._decide_discards(db, session) if deciding else {}
            self._save_session_flags(db, session, open=False)
            session.open = False
            session.version += 1
            self._apply_discards(session, decisions)

    def _decide_discards(self, db: sqlite3.Connection, session: Session
                         ) -> dict[int, tuple[int | None, tuple[int, ...] | None]]:
        """Each group's plurality discard, or its tied leaders; written inside ``db``'s
        transaction, applied in memory by ``_apply_discards`` after the commit."""
        decisions: dict[int, tuple[int | None, tuple[int, ...] | None]] = {}
        if session.deck.discard == 0:
            return decisions
        for number in session.groups:
            votes = [p.answers["discard"] for p in session.members(number)
                     if "discard" in p.answers]
            tally = tally_discard(session.deck.numbers, votes)
            discard, tied = tally.decided, None if tally.decided else tally.leaders
            decisions[number] = (discard, tied)
            self._clear_stale_answers(db, session, number, discard)
            db.execute(
                "UPDATE groups SET discard = ?, discard_tied = ? WHERE session_id = ?"
                " AND number = ?",
                (discard, json.dumps(tied) if tied else None, session.id, number),
            )
        return decisions

    def _apply_discards(self, session: Session,
                        decisions: dict[int, tuple[int | None, tuple[int, ...] | None]]) -> None:
        for number, (discard, tied) in decisions.items():
            self._set_discard(session, number, discard, tied)

    def _set_discard(self, session: Session, number: int, discard: int | None,
                     tied: tuple[int, ...] | None) -> None:
        group = session.groups[number]
        if group.discard != discard:
            # rankings and top picks made against another discard no longer fit
            for p in session.members(number):
                p.answers.pop("rank", None)
                p.answers.pop("top", None)
        group.discard, group.discard_tied = discard, tied
        self._forget_results(session, number)

    def reveal(self, session: Session, revealed: bool) -> None:
        """Show or hide results on the projector."""
        with self._transaction() as db:
            self._save_session_flags(db, session, revealed=revealed)
            session.revealed = revealed
            session.version += 1

    def settle(self, session: Session, group: object, statement: object) -> None:
        """The trainer settles a tied group's discard with one of the tied statements."""
        workshop.check_open(session)
        if isinstance(group, bool) or not isinstance(group, int) or group not in session.groups:
            raise WorkshopError("not_found", "There is no such group in this session.")
        g = session.groups[group]
        if not g.discard_tied:
            raise WorkshopError("bad_request", f"{g.name}'s discard is not tied.")
        if type(statement) is not int or statement not in g.discard_tied:
            raise WorkshopError(
                "not_found", "Choose one of the tied statements: "
                + ", ".join(str(s) for s in g.discard_tied) + "."
            )
        with self._transaction() as db:
            db.execute(
                "UPDATE groups SET discard = ?, discard_tied = NULL WHERE session_id = ?"
                " AND number = ?", (statement, session.id, group),
            )
            self._clear_stale_answers(db, session, group, statement)
            self._bump(db, session)
            session.version += 1
            self._set_discard(session, group, statement, None)  # type: ignore[arg-type]

    def _clear_stale_answers(self, db: sqlite3.Connection, session: Session, group: int,
                             discard: int | None) -> None:
        if session.groups[group].discard == discard:
            return
        numbers = [p.number for p in session.members(group)]
        db.executemany(
            "DELETE FROM answers WHERE session_id = ? AND participant = ? AND step IN"
            " ('rank', 'top')", [(session.id, n) for n in numbers],
        )

    def close_session(self, session: Session) -> None:
        """Stop joins and answers; the join code stops working. Results stay."""
        with self._transaction() as db:
            self._save_session_flags(db, session, closed=True, open=False)
            session.closed, session.open = True, False
            session.version += 1

    def reset(self, session: Session) -> None:
        """Remove every participant and answer; back to the lobby with fresh discards.

        Participants are marked removed, not deleted, so their numbers (and socket rooms) are
        never given to someone who joins afterwards.
        """
        with self._transaction() as db:
            for table in ("answers", "submissions"):
                db.execute(f"DELETE FROM {table} WHERE session_id = ?", (session.id,))
            db.execute("UPDATE participants SET removed = 1 WHERE session_id = ?", (session.id,))
            db.execute(
                "UPDATE groups SET discard = NULL, discard_tied = NULL WHERE session_id = ?",
                (session.id,),
            )
            self._save_session_flags(db, session, step="lobby", open=False, revealed=False,
                                     closed=False)
            for p in session.participants.values():
                self._by_participant.pop(p.token, None)
                p.removed = True
                p.answers.clear()
                p.submission_ids.clear()
            for g in session.groups.values():
                g.discard, g.discard_tied = None, None
            session.step, session.open, session.revealed, session.closed = (
                "lobby", False, False, False)
            session.version += 1
            self._forget_results(session)

    def delete_session(self, session: Session) -> None:
        """Delete a session and everything in it (organiser page)."""
        with self._transaction() as db:
            for table in ("answers", "submissions", "participants", "groups"):
                db.execute(f"DELETE FROM {table} WHERE session_id = ?", (session.id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session.id,))
            self._unindex(session)

    # -- participants -----------------------------------------------------------------------
    def join(self, session: Session, name: str, group: object) -> Participant:
        """A new participant in ``group`` (or the least filled group when None)."""
        workshop.check_open(session)
        number_group = session.group_for_new_participant(group)
        with self._transaction() as db:
            number = max(session.participants, default=0) + 1
            token = workshop.new_token()
            db.execute(
                "INSERT INTO participants (session_id, number, group_number, name, token,"
                " joined_at) VALUES (?, ?, ?, ?, ?, ?)",
                (session.id, number, number_group, name, token, _now()),
            )
            self._bump(db, session)
            participant = Participant(number, number_group, name, token)
            session.participants[number] = participant
            session.version += 1
            self._by_participant[token] = (session, participant)
            self._forget_results(session, number_group)
        return participant

    def remove_participant(self, session: Session, number: object) -> Participant:
        """Remove a participant: their token stops working, their answers leave the results."""
        if isinstance(number, bool) or not isinstance(number, int) or (
            number not in session.participants or session.participants[number].removed
        ):
            raise WorkshopError("not_found", "There is no such participant in this session.")
        participant = session.participants[number]
        with self._transaction() as db:
            db.execute(
                "UPDATE participants SET removed = 1 WHERE session_id = ? AND number = ?",
                (session.id, number),
            )
            self._bump(db, session)
            participant.removed = True
            session.version += 1
            self._by_participant.pop(participant.token, None)
            self._forget_results(session, participant.group)
        return participant

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
                return _COMMITTED, True
            key = (session.id, participant.number, submission_id)
            pending = self._staged_ids.get(key)
            if pending is not None:  # resent while the first copy waits for its commit
                return pending, True
            value = workshop.check_answer(session, participant, step, answer)
            record = StagedAnswer(session, participant, step, value, submission_id)  # type: ignore[arg-type]
            self._staged.append(record)
            self._staged_ids[key] = record
            return record, False

    def commit_staged(self) -> int:
        """Commit every staged answer in one transaction, then apply them in memory in arrival
        order and mark them done. Returns how many. If the write fails, each record carries
        the error and nothing changes."""
        with self._lock:
            staged = self._staged
            if not staged:
                return 0
            self._staged, self._staged_ids = [], {}
            saved_at = _now()
            bumps: dict[int, int] = {}
            for r in staged:
                bumps[r.session.id] = bumps.get(r.session.id, 0) + 1
            try:
                with self._write() as db:
                    db.executemany(
                        "INSERT INTO submissions (session_id, participant, submission_id)"
                        " VALUES (?, ?, ?)",
                        [(r.session.id, r.participant.number, r.submission_id) for r in staged],
                    )
                    db.executemany(
                        "INSERT OR REPLACE INTO answers (session_id, participant, step, answer,"
                        " submission_id, saved_at) VALUES (?, ?, ?, ?, ?, ?)",
                        [(r.session.id, r.participant.number, r.step, json.dumps(r.value),
                          r.submission_id, saved_at) for r in staged],
                    )
                    db.executemany("UPDATE sessions SET version = version + ? WHERE id = ?",
                                   [(n, sid) for sid, n in bumps.items()])
            except BaseException as exc:
                for r in staged:
                    r.error = exc
                raise
            for r in staged:
                r.participant.submission_ids.add(r.submission_id)
                r.participant.answers[r.step] = r.value
                r.session.version += 1
                self._forget_results(r.session, r.participant.group)
                r.done = True
            return len(staged)

    def staged_count(self) -> int:
        """How many answers wait for the next group commit."""
        return len(self._staged)

    def _fail_staged(self, error: BaseException) -> None:
        staged, self._staged, self._staged_ids = self._staged, [], {}
        for r in staged:
            r.error = error

    # -- aggregation ------------------------------------------------------------------------
    def group_result(self, session: Session, number: int):  # -> GroupResult
        """The group's consensus, computed by the core and cached until the group changes."""
        key = (session.id, number)
        result = self._results.get(key)
        if result is None:
            members = session.members(number)
            result = aggregate_group(
                session.deck.numbers,
                discard_votes=[p.answers["discard"] for p in members if "discard" in p.answers],
                group_discard=session.groups[number].discard,
                rankings=[p.answers["rank"] for p in members if "rank" in p.answers],
                tops=[p.answers["top"] for p in members if "top" in p.answers],
                top_size=session.deck.top,
                participants=len(members),
                has_discard=session.deck.discard == 1,
            )
            self._results[key] = result
        return result

    def room_result(self, session: Session):  # -> RoomResult
        """The whole room's view, from the cached group results; cached like them."""
        key = (session.id, ROOM)
        result = self._results.get(key)
        if result is None:
            groups = [self.group_result(session, number) for number in session.groups]
            rankings_by_group = [
                [p.answers["rank"] for p in session.members(number) if "rank" in p.answers]
                for number in session.groups
            ]
            result = aggregate_room(session.deck.numbers, groups, rankings_by_group,
                                    session.deck.top)
            self._results[key] = result
        return result

    def responses(self, session: Session) -> list[ResponseRow]:
        """One row per active participant, in the CSV contract's terms."""
        rows = []
        for p in session.active():
            group = session.groups[p.group]
            rows.append(ResponseRow(
                session=session.code,
                group=group.name,
                participant=str(p.number),
                discard_vote=p.answers.get("discard"),
                group_discard=group.discard,
                ranking=tuple(p.answers["rank"]) if "rank" in p.answers else None,
                top=tuple(p.answers["top"]) if "top" in p.answers else None,
                extra={"name": p.name},
            ))
        return rows

    def dump(self) -> dict[str, list[tuple]]:
        """Every row of every table, for tests that prove a request changed nothing."""
        with self._lock:
            return {
                table: sorted(self._db.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
                for table in ("sessions", "groups", "participants", "answers", "submissions")
            }


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
        self._pending: Any = None  # the event of the writer that has not started yet
        self.max_group = max_group
        self.commits = 0  # transactions written, and answers in them (tests read these)
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
                self._run(event)  # the writer is late (or gone): never wait on it for ever
        record.result()

    def _run(self, event: Any) -> None:
        try:
            with self._lock:
                if self._pending is event:
                    self._pending = None  # answers staged from now on go with the next writer
            written = self.store.commit_staged()
            if written:
                self.commits += 1
                self.answers += written
        except Exception:
            log.exception("group commit failed")
        finally:
            event.set()
