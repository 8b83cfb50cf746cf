"""A live server whose only event handler place a test can hold: one handler for the whole
server (FACILITATOR_HANDLERS_TOTAL=1) on a disk whose commits stall while a flag file exists
(tests/stalled_disk_server.py). While a phone's answer waits on that disk, every other event is
answered "busy" — for exactly as long as the test says."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from driver import Client, LivePhone, LiveServer

STALLED_DISK_SERVER = Path(__file__).resolve().parents[1] / "stalled_disk_server.py"


class HeldDiskServer(LiveServer):
    """A LiveServer with one handler place and a disk the test stalls (``holding``)."""

    def __init__(self, tmp_path: Path) -> None:
        self.flag = tmp_path / "disk-stalled"
        super().__init__(tmp_path / "busy.sqlite3", tmp_path / "server.log",
                         launcher=[sys.executable, str(STALLED_DISK_SERVER),
                                   f"while:{self.flag}", "tpool"],
                         env={"FACILITATOR_HANDLERS_TOTAL": "1"})

    @contextlib.contextmanager
    def holding(self, keeper: LivePhone, step: str, answer, projector_key: str) -> Iterator[None]:
        """Stall the disk and send ``keeper``'s answer, which then holds the only handler place
        (checked: a probe's watch is answered busy); on leaving, the disk comes back and the
        answer is saved."""
        probe = Client(self.url)
        self.flag.touch()

        def save() -> None:
            # the probe's own watch may hold the place for a moment: then the answer is
            # answered busy, and sent again until it is the one waiting on the disk
            while True:
                ack = keeper.sio.call("submit", {"token": keeper.token, "step": step,
                                                 "answer": answer, "id": f"held-{step}"},
                                      timeout=30)
                if ack.get("ok") or ack["error"]["code"] != "busy":
                    assert ack.get("ok"), ack
                    return
                time.sleep(0.02)

        saving = threading.Thread(target=save)
        saving.start()
        try:
            deadline = time.monotonic() + 10
            busy = 0
            while busy < 2:  # twice in a row, 0.2 s apart: held, not a passing moment
                assert time.monotonic() < deadline, "the keeper's answer never took the place"
                assert saving.is_alive(), "the keeper's answer was saved without waiting"
                ack = probe.call("watch", projector=projector_key)
                busy = busy + 1 if not ack.get("ok") and ack["error"]["code"] == "busy" else 0
                time.sleep(0.2 if busy else 0.05)
            yield
        finally:
            self.flag.unlink(missing_ok=True)
            saving.join(timeout=10)
            probe.close()
