"""The benchmark's quick variant, so it cannot rot: small sizes, the same code and targets that
do not depend on size (calls per steady cycle, per service and in all; nothing written by an
idle cycle), on the default Jellyseerr profile and on one that never changes `updatedAt`."""

from __future__ import annotations

import json
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
