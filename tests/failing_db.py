"""Stand-ins for the store's SQLite connection: one whose COMMIT fails, as on a full disk (the
store tests and tests/group_commit_stress.py), one whose COMMIT stalls, for a fixed time or for
as long as a test says (tests/stalled_disk_server.py)."""

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


class StallingCommit:
    """Wraps a connection; every COMMIT first blocks its thread for ``seconds`` (a disk flush
    that stalls). ``sleep`` must really block: under eventlet, the unpatched ``time.sleep``."""

    def __init__(self, db: sqlite3.Connection, seconds: float, sleep) -> None:
        self.db, self.seconds, self.sleep = db, seconds, sleep

    def execute(self, sql, *args):
        if sql == "COMMIT":
            self.sleep(self.seconds)
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)


class HeldCommit:
    """Wraps a connection; every COMMIT waits while the file ``flag`` exists (a disk stalled
    for exactly as long as a test wants). ``sleep`` must really block (see StallingCommit)."""

    def __init__(self, db: sqlite3.Connection, flag: str, sleep) -> None:
        self.db, self.flag, self.sleep = db, flag, sleep

    def execute(self, sql, *args):
        import os

        if sql == "COMMIT":
            while os.path.exists(self.flag):
                self.sleep(0.02)
        return self.db.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.db, name)
