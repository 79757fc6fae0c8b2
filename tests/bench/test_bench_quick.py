"""The benchmark's quick variant, so it cannot rot: small sizes, the same code and targets that
do not depend on size (calls per steady cycle, nothing written by an idle cycle)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs_and_meets_the_size_independent_targets() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--requests", "60", "--library", "3000",
         "--steady-cycles", "2", "--baseline-sample", "1", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    phases = [c["phase"] for c in report["cycles"]]
    assert phases == ["first", "settle", "steady", "steady", "idle"]
    targets = report["targets"]
    assert targets["steady: at most 20 HTTP calls"]
    assert targets["idle: 0 rows besides poll records"]
    assert targets["all cycles polled every service"]
    first = report["cycles"][0]
    assert first["transitions"] == 60  # every request got its first state
    assert report["baseline"]["calls_per_cycle"] > 0
