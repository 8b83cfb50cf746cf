"""Smoke run of the table-board benchmark (bench/board.py): 2 tables of 3 phones for 2 seconds.

The full row (20 tables x 8 phones, 2 moves a second each) is the lead's, on a quiet machine;
this keeps the harness and the protocol it drives working.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.server
@pytest.mark.timeout(120)
def test_board_bench_smoke(tmp_path):
    out = tmp_path / "board.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "board.py"), "--tables", "2", "--phones", "3",
         "--seconds", "2", "--workers", "1", "--drain", "1", "--max-seconds", "60",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=100,
    )
    report = proc.stdout + proc.stderr
    assert out.exists(), report
    result = json.loads(out.read_text())
    assert result["errors"] == 0 and proc.returncode == 0, report
    assert result["moves"] > 0 and result["deliveries"] == 2 * result["moves"], report
    assert result["p99_ms"] is not None and result["tables_diverged"] == 0
