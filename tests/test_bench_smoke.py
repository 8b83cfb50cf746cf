"""Smoke run of the load benchmark: 20 phones against the real server and the floor.

The full matrix (``make bench``) is not part of ``make test``; this keeps the harness, the
floor server and the protocol flow it drives (join, discard, close and settle, rank, top five)
working, in well under a minute.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from facilitator.workshop import INPUT_STEPS

ROOT = Path(__file__).resolve().parent.parent
KEYS = ("projector_p50_ms", "projector_p99_ms", "ack_p99_ms", "rss_peak_mb", "cpu_s")


@pytest.mark.server
@pytest.mark.timeout(90)
def test_load_smoke_twenty_phones(tmp_path):
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--phones", "20", "--mode", "burst",
         "--workers", "1", "--max-seconds", "40", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    report = proc.stdout + proc.stderr
    assert result["phones"] == 20 and result["mode"] == "burst"
    assert result["errors"] == 0, report
    assert proc.returncode == 0, report
    for kind in ("app", "floor"):
        res = result[kind]
        assert res["errors"] == 0, (kind, report)
        for key in KEYS:
            assert isinstance(res[key], int | float), (kind, key, report)
            assert math.isfinite(res[key]) and res[key] >= 0, (kind, key, res[key])
        assert 0 < res["projector_p50_ms"] <= res["projector_p99_ms"] < 30_000
        assert res["ack_p99_ms"] < 30_000
        assert 10 < res["rss_peak_mb"] < 1000
        for step in INPUT_STEPS:
            assert res["steps"][step]["ok"] == 20, (kind, step, res["steps"][step])
            assert res["steps"][step]["unreflected"] == 0
    assert result["ratio_p99"] > 0
    assert math.isclose(result["ratio_p99"],
                        result["app"]["projector_p99_ms"] / result["floor"]["projector_p99_ms"],
                        rel_tol=0.02)
    assert "ratio_p99" in proc.stdout  # the table was printed
