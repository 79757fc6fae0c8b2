"""Bounded memory: a first cycle against a Jellyfin library of 100,000 items reads it page by
page and never holds the listing, so its peak memory stays close to that of a small library."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from simstack import SimulatedStack, World
from tests.reliability.support import KEYS, settled_calls, write_config

# Runs `python -m reconciler ...` and prints the process's peak resident memory at exit.
# (VmHWM belongs to this process alone; ru_maxrss would include the forking test process.)
PEAK_REPORTER = """
import atexit, re, runpy, sys
def report():
    status = open("/proc/self/status").read()
    print("peak-kb", re.search(r"VmHWM:\\s+(\\d+)", status).group(1), file=sys.stderr)
atexit.register(report)
sys.argv[0] = "reconcile"
runpy.run_module("reconciler", run_name="__main__")
"""
PAGE_SIZE = 1000
ALLOWED_GROWTH_MB = 64  # the 100,000 items arrive as ~50 MB of JSON: they must not all stay


def peak_mb_of_a_first_cycle(stack: SimulatedStack, directory: Path) -> float:
    directory.mkdir()
    config = write_config(stack, directory, timeout=60.0, retry_budget=5.0,
                          max_response_mb=64,
                          service_extra={"jellyfin": f"page_size = {PAGE_SIZE}"})
    done = subprocess.run([sys.executable, "-c", PEAK_REPORTER, "--config", str(config),
                           "--once"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r"peak-kb (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return int(found.group(1)) / 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_100000_item_library_is_listed_in_pages_within_bounded_memory(tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin"),
                        api_keys=KEYS) as stack:
        counts = world.jellyfin.populate(2_000)
        small = peak_mb_of_a_first_cycle(stack, tmp_path / "small")
        more = world.jellyfin.populate(98_000)
        listed = sum(counts[t] + more[t] for t in ("Movie", "Series", "Episode"))
        stack.reset_stats()
        large = peak_mb_of_a_first_cycle(stack, tmp_path / "large")
        settled_calls(stack, "jellyfin", "/Items", at_least=-(-listed // PAGE_SIZE))
        listing = [r for r in stack.requests("jellyfin", method="GET", path="/Items")
                   if "StartIndex" in r.query]
        served_mb = stack.stats()["jellyfin"]["bytes"] / (1024 * 1024)
    assert listed > 90_000 and len(listing) == -(-listed // PAGE_SIZE)
    assert max(int(r.query["Limit"]) for r in listing) == PAGE_SIZE
    assert served_mb > ALLOWED_GROWTH_MB * 0.7  # the bound is well below holding it all
    assert large - small < ALLOWED_GROWTH_MB, (
        f"peak {large:.0f} MB with 100,000 items vs {small:.0f} MB with 2,000 "
        f"({served_mb:.0f} MB of JSON served)")
