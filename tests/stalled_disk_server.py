"""The launcher (``python -m facilitator serve``) on a disk whose every COMMIT stalls: run as a
subprocess by tests/test_faults.py.

    python tests/stalled_disk_server.py SECONDS (tpool|in-place) SERVE-ARGS...
    python tests/stalled_disk_server.py while:FLAG-FILE (tpool|in-place) SERVE-ARGS...

The second form stalls each COMMIT for as long as FLAG-FILE exists.

``tpool`` serves as the launcher does (commits in eventlet's tpool threads); ``in-place`` runs the
commits on the event loop, as before they were moved off it (the fault test's control).
"""

import sys
from pathlib import Path

import eventlet

eventlet.monkey_patch()

import eventlet.tpool  # noqa: E402
from eventlet import patcher  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from failing_db import HeldCommit, StallingCommit  # noqa: E402

from facilitator import serve, store  # noqa: E402


def main(argv: list[str]) -> int:
    seconds, mode, *serve_args = argv
    real_sleep = patcher.original("time").sleep
    opened = store.Store.__init__

    def open_on_a_stalling_disk(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        if seconds.startswith("while:"):
            self._db = HeldCommit(self._db, seconds[len("while:"):], real_sleep)
        else:
            self._db = StallingCommit(self._db, float(seconds), real_sleep)

    store.Store.__init__ = open_on_a_stalling_disk
    if mode == "in-place":
        eventlet.tpool.execute = lambda fn, *args, **kwargs: fn(*args, **kwargs)
    return serve.main(serve_args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
