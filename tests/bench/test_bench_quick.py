"""The benchmark's quick variant, so it cannot rot: small sizes, the same code and targets that
do not depend on size (calls per steady cycle, per service and in all; nothing written by an
idle cycle), on the default Jellyseerr profile and on one that never changes `updatedAt`; and
issue 25's ratio through `--scaling`: ten times the requests cost a steady cycle at most 1.3
times as much (requests decided, SQLite VM steps, CPU time)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The most calls each service may take in a steady or idle cycle. Jellyseerr: the newest page,
# `filter=pending`, `filter=processing` (issue 14's target); a regression (e.g. a full listing
# every poll) fails here.
STEADY_CALLS = {"jellyseerr": 3, "radarr": 3, "sonarr": 3, "shoko": 2, "jellyfin": 2}
# Emby as Jellyfin; Plex: its sections, then each film and show section's films, shows and
# episodes changed since the watermark, and the same three counted (one film and one show
# section here).
MEDIA_STEADY_CALLS = {"emby": 2, "plex": 7}


@pytest.mark.parametrize("seerr_version", [None, "3.1.0"], ids=["bumping", "frozen-3.1"])
def test_quick_benchmark_runs_and_meets_the_size_independent_targets(
        seerr_version: str | None) -> None:
    args = [sys.executable, "-m", "bench", "--requests", "60", "--library", "3000",
            "--steady-cycles", "2", "--baseline-sample", "1", "--json"]
    if seerr_version:
        args += ["--seerr-version", seerr_version]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=240,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert ("3.1.0" in report["seerr"]) == (seerr_version is not None)
    phases = [c["phase"] for c in report["cycles"]]
    assert phases == ["first", "settle", "steady", "steady", "idle"]
    targets = report["targets"]
    assert targets["steady: at most 20 HTTP calls"]
    assert targets["idle: 0 rows besides poll records"]
    assert targets["all cycles polled every service"]
    for cycle in report["cycles"][2:]:
        over = {s: n for s, n in cycle["calls"].items() if n > STEADY_CALLS[s]}
        assert not over, f"{cycle['phase']} cycle over its call budget: {cycle['calls']}"
        assert sum(cycle["calls"].values()) <= 20
    first = report["cycles"][0]
    assert first["transitions"] == 60  # every request got its first state
    assert report["baseline"]["calls_per_cycle"] > 0


@pytest.mark.parametrize("media", sorted(MEDIA_STEADY_CALLS))
def test_quick_benchmark_on_emby_and_plex_meets_the_same_targets(media: str) -> None:
    args = [sys.executable, "-m", "bench", "--requests", "60", "--library", "3000",
            "--steady-cycles", "2", "--media-server", media, "--json"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=240,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["media_server"] == media and report["baseline"] is None
    assert all(report["targets"].values()), report["targets"]
    first = report["cycles"][0]
    assert first["transitions"] == 60 and set(first["calls"]) == {
        "jellyseerr", "radarr", "sonarr", media}
    budget = {**STEADY_CALLS, **MEDIA_STEADY_CALLS}
    for cycle in report["cycles"][2:]:
        over = {s: n for s, n in cycle["calls"].items() if n > budget[s]}
        assert not over, f"{cycle['phase']} cycle over its call budget: {cycle['calls']}"


# Issue 25: ten times the requests (the same active ones, the same library) cost a steady
# cycle at most RATIO times as much. A regression to deciding every request each cycle
# (about 10x) fails here.
RATIO = 1.3
CPU_RATIO = 2.0
SMALL, LARGE = 200, 2000


def test_ten_times_the_requests_cost_a_steady_cycle_at_most_1_3_times_as_much() -> None:
    args = [sys.executable, "-m", "bench", "--scaling", "--scaling-requests",
            f"{SMALL},{LARGE}", "--scaling-active", "20", "--scaling-library", "6000",
            "--steady-cycles", "5", "--page-samples", "1", "--json"]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=280,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout)["scaling"]["runs"]
    assert [r["sizes"]["requests"] for r in runs] == [SMALL, LARGE]
    assert all(r["error"] is None for r in runs), [r["error"] for r in runs]
    small, large = ({key: [c[key] for c in r["report"]["cycles"] if c["phase"] == "steady"]
                     for key in ("decided", "sql_steps", "cpu_s")} for r in runs)
    assert len(small["cpu_s"]) == len(large["cpu_s"]) == 5
    missed = []
    if None in small["decided"] + large["decided"]:
        missed.append("decided: the reconciler does not report CycleResult.decided")
    elif max(large["decided"]) > RATIO * max(small["decided"]):
        missed.append(f"decided per steady cycle: {large['decided']} at {LARGE} requests, "
                      f"{small['decided']} at {SMALL}")
    steps = statistics.median(large["sql_steps"]) / statistics.median(small["sql_steps"])
    if steps > RATIO:
        missed.append(f"SQLite VM steps per steady cycle (median): {steps:.2f}x "
                      f"({statistics.median(large['sql_steps']):.0f} at {LARGE} requests, "
                      f"{statistics.median(small['sql_steps']):.0f} at {SMALL})")
    # The fastest of five: under load CPU time only grows, so the minimum is the robust figure.
    # At these small sizes a steady cycle takes 20 to 30 ms of CPU, where a busy machine's
    # noise is of the order of the ratio itself: CPU is held to CPU_RATIO, which deciding
    # every request (about 5x here) still fails; the deterministic measures above hold 1.3.
    cpu = min(large["cpu_s"]) / min(small["cpu_s"])
    if cpu > CPU_RATIO:
        missed.append(f"CPU per steady cycle (min of 5): {cpu:.2f}x ({min(large['cpu_s']):.3f} s "
                      f"at {LARGE} requests, {min(small['cpu_s']):.3f} s at {SMALL})")
    assert not missed, f"over {RATIO}x: " + "; ".join(missed)
