"""HTTP and join throttles, keyed by client address (the real one behind a trusted proxy).

- ``Failures``: wrong guesses (join codes, secrets) per key in a sliding window, with an
  optional ceiling over all keys together (a secret guessed from many addresses).
- ``Rate``: a token bucket per key (how often one address may create a session).

Both forget keys they no longer need, so a stream of new addresses cannot grow them forever.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from facilitator.limits import TokenBucket

PRUNE_EVERY = 256  # operations between sweeps of stale keys


class Failures:
    """At most ``limit`` failures per key in ``window`` seconds, and (if ``overall``) at most
    ``overall`` failures from every key together in the same window."""

    def __init__(self, limit: int, window: float, overall: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.overall, self.clock = limit, window, overall, clock
        self.by_key: dict[str, deque[float]] = {}
        self.all: deque[float] = deque()
        self.operations = 0

    def _trim(self, times: deque[float], now: float) -> None:
        cutoff = now - self.window
        while times and times[0] <= cutoff:
            times.popleft()

    def blocked(self, key: str) -> bool:
        """Has ``key`` (or everyone together) failed too often lately?"""
        now = self.clock()
        self._tick(now)
        if self.overall is not None:
            self._trim(self.all, now)
            if len(self.all) >= self.overall:
                return True
        times = self.by_key.get(key)
        if not times:
            return False
        self._trim(times, now)
        return len(times) >= self.limit

    def failed(self, key: str) -> None:
        """Count one failure for ``key``."""
        now = self.clock()
        self._tick(now)
        self.by_key.setdefault(key, deque()).append(now)
        if self.overall is not None:
            self.all.append(now)

    def attempt(self, key: str) -> bool:
        """Check and count in one step, for a guess whose check may wait (a look-up that
        reads the database): False when ``key`` is blocked; else one failure is counted at
        once, before the look-up, so that guesses in flight together cannot all pass the
        check. Call ``forgive`` when the guess turns out right."""
        if self.blocked(key):
            return False
        self.failed(key)
        return True

    def forgive(self, key: str) -> None:
        """Take back one failure of ``key`` counted by ``attempt`` (the guess was right)."""
        times = self.by_key.get(key)
        if not times:
            return
        times.pop()
        if not times:
            del self.by_key[key]
        if self.overall is not None and self.all:
            self.all.pop()

    def clear(self) -> None:
        """Forget every failure."""
        self.by_key.clear()
        self.all.clear()

    def _tick(self, now: float) -> None:
        self.operations += 1
        if self.operations % PRUNE_EVERY == 0:
            self.prune(now)

    def prune(self, now: float | None = None) -> None:
        """Forget keys whose failures are all older than the window."""
        now = self.clock() if now is None else now
        cutoff = now - self.window
        for key in [k for k, t in self.by_key.items() if not t or t[-1] <= cutoff]:
            del self.by_key[key]


class Rate:
    """``burst`` actions per key at once, then ``per_hour`` an hour."""

    def __init__(self, burst: float, per_hour: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate, self.clock = burst, per_hour / 3600.0, clock
        self.buckets: dict[str, TokenBucket] = {}
        self.operations = 0

    def allow(self, key: str) -> bool:
        """Take one action for ``key``; False when its bucket is empty."""
        now = self.clock()
        self.operations += 1
        if self.operations % PRUNE_EVERY == 0:
            for k in [k for k, b in self.buckets.items() if b.full(now)]:
                del self.buckets[k]
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(1, now)
