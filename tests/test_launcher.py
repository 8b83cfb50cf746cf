"""The launcher's own parts that need no server: the log limit."""

from __future__ import annotations

import logging

from facilitator.serve import CLIENT_TRIGGERED_LOGGERS, LogLimit, limit_client_triggered_logs


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


def test_every_logger_a_client_can_make_write_is_limited():
    """Unparseable packets (engineio, socketio), unhandled request and event errors (Flask's
    app logger, our handlers) and eventlet's HTTP server all go through a LogLimit."""
    limit_client_triggered_logs()
    for name in ("engineio.server", "socketio.server", "facilitator.app", "facilitator.events",
                 "facilitator.http"):
        assert name in CLIENT_TRIGGERED_LOGGERS
        assert any(isinstance(f, LogLimit) for f in logging.getLogger(name).filters), name
    from flask import Flask

    assert Flask("facilitator.app").logger.name == "facilitator.app"  # as app.py builds it
