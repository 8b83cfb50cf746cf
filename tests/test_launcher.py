"""The launcher's own parts that need no server: the log limit."""

from __future__ import annotations

import logging

from facilitator.serve import LogLimit


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("engineio.server", logging.ERROR, __file__, 1, message, (), None)


def test_the_log_limit_lets_ten_a_minute_through_then_says_how_many_it_dropped():
    now = [0.0]
    limit = LogLimit(limit=10, window=60.0, clock=lambda: now[0])
    passed = [limit.filter(record(f"bad packet {i}")) for i in range(25)]
    assert passed == [True] * 10 + [False] * 15
    now[0] = 59.0
    assert limit.filter(record("still the same minute")) is False
    now[0] = 61.0
    first = record("bad packet again")
    assert limit.filter(first) is True
    assert "16 more records like this were dropped" in first.getMessage()
    second = record("and again")
    assert limit.filter(second) is True and second.getMessage() == "and again"
