"""A stand-in for the store's SQLite connection whose COMMIT fails, as on a full disk; shared
by the store tests and tests/group_commit_stress.py."""

from __future__ import annotations

import sqlite3


class FailingCommit:
    """Wraps a connection; every COMMIT raises while ``fail`` is true."""

    def __init__(self, db: sqlite3.Connection, fail: bool = True) -> None:
        self.db, self.fail = db, fail

    def execute(self, sql, *args):
        if sql == "COMMIT" and self.fail:
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)
