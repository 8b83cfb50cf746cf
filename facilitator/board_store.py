"""SQL for rounds and table boards: what ``Store`` writes for a ``Change`` that archives a round
or moves a board, and how it loads them back. Kept apart from ``store.py`` so the store's own
write path stays one piece; the store calls ``migrate`` on start, ``statements`` for every change
and ``load`` after its own tables.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from facilitator.board import Board
from facilitator.workshop import Change, Session, WorkshopError

Statements = list[tuple[str, list[tuple[Any, ...]]]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS round_answers (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    participant INTEGER NOT NULL,
    round INTEGER NOT NULL,
    step TEXT NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (session_id, participant, round, step)
);
CREATE TABLE IF NOT EXISTS boards (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    step TEXT NOT NULL,
    group_number INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (session_id, round, step, group_number)
);
CREATE TABLE IF NOT EXISTS board_moves (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    step TEXT NOT NULL,
    group_number INTEGER NOT NULL,
    move_id TEXT NOT NULL,
    PRIMARY KEY (session_id, round, step, group_number, move_id)
);
"""
TABLES = ("round_answers", "boards", "board_moves")


def migrate(db: sqlite3.Connection) -> None:
    """Create the tables, and the session columns a database from before rounds lacks."""
    db.executescript(SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    if "round" not in columns:
        db.execute("ALTER TABLE sessions ADD COLUMN round INTEGER NOT NULL DEFAULT 1")
    if "mode" not in columns:
        db.execute("ALTER TABLE sessions ADD COLUMN mode TEXT NOT NULL DEFAULT 'individual'")


def _state(board: Board) -> str:
    return json.dumps({"step": board.step, "order": board.order, "top_size": board.top_size,
                       "version": board.version, "agreed": sorted(board.agreed),
                       "locked": board.locked, "members": board.members, "moved": board.moved})


def statements(change: Change) -> Statements:
    """The SQL that saves the rounds and boards part of ``change`` (with the session's round
    and mode, always)."""
    s = change.session
    out: Statements = [("UPDATE sessions SET round = ?, mode = ? WHERE id = ?",
                        [(s.round, s.mode, s.id)])]
    if change.reset:
        out += [(f"DELETE FROM {table} WHERE session_id = ?", [(s.id,)]) for table in TABLES]
    if change.archived:
        past = s.round - 1
        out.append((
            "INSERT OR REPLACE INTO round_answers (session_id, participant, round, step, answer)"
            " VALUES (?, ?, ?, ?, ?)",
            [(s.id, p.number, past, step, json.dumps(answer))
             for p in change.archived for step, answer in p.history[past].items()],
        ))
        out.append((
            "DELETE FROM answers WHERE session_id = ? AND participant = ? AND step IN"
            " ('rank', 'top')", [(s.id, p.number) for p in change.archived],
        ))
    kept = [key for key in sorted(change.boards) if key in s.boards]
    gone = [key for key in sorted(change.boards) if key not in s.boards]
    if kept:
        out.append((
            "INSERT OR REPLACE INTO boards (session_id, round, step, group_number, state)"
            " VALUES (?, ?, ?, ?, ?)",
            [(s.id, *key, _state(s.boards[key])) for key in kept],
        ))
    if gone:
        out += [(f"DELETE FROM {table} WHERE session_id = ? AND round = ? AND step = ? AND"
                 " group_number = ?", [(s.id, *key) for key in gone])
                for table in ("boards", "board_moves")]
    if change.moves:
        out.append((
            "INSERT INTO board_moves (session_id, round, step, group_number, move_id)"
            " VALUES (?, ?, ?, ?, ?)",
            [(s.id, *key, move_id) for key, move_id in change.moves],
        ))
    return out


def load(db: sqlite3.Connection, sessions: dict[int, Session]) -> None:
    """Put the rounds, earlier answers and boards back into the loaded ``sessions`` (only
    those: closed sessions are loaded on demand, one at a time)."""
    if not sessions:
        return
    ids = ",".join(str(int(i)) for i in sessions)  # integers, from the database itself
    where = f" WHERE session_id IN ({ids})"
    for sid, number, mode in db.execute(
        f"SELECT id, round, mode FROM sessions WHERE id IN ({ids})"
    ):
        sessions[sid].round, sessions[sid].mode = number, mode
    for sid, number, past, step, answer in db.execute(
        "SELECT session_id, participant, round, step, answer FROM round_answers" + where
    ):
        sessions[sid].participants[number].history.setdefault(past, {})[step] = json.loads(answer)
    for sid, past, step, group, state in db.execute(
        "SELECT session_id, round, step, group_number, state FROM boards" + where
    ):
        data = json.loads(state)
        sessions[sid].boards[(past, step, group)] = Board(
            data["step"], data["order"], data["top_size"], data["version"], set(data["agreed"]),
            data["locked"], data["members"], moved=data.get("moved", data["version"]))
    for sid, past, step, group, move_id in db.execute(
        "SELECT session_id, round, step, group_number, move_id FROM board_moves" + where
    ):
        board = sessions[sid].boards.get((past, step, group))
        if board is not None:
            board.move_ids.add(move_id)


class StagedBoard:
    """A board change applied in memory and waiting for its commit (``Store.stage_board``);
    ``GroupCommit.wait`` waits on it like on an answer."""

    def __init__(self, statements: Statements) -> None:
        self.statements = statements
        self.done = False
        self.error: BaseException | None = None

    def result(self) -> None:
        """Return once committed; raise if its commit failed (the store then rebuilt memory
        from the database, so the change is gone and the phone sends it again)."""
        if self.error is not None:
            raise WorkshopError(
                "internal", "The server could not save that move; it will be sent again."
            ) from self.error
        if not self.done:
            raise RuntimeError("board change not committed yet")
