"""Bounded memory: a first cycle against a Jellyfin library of 100,000 items reads it page by
page and never holds the listing, so its peak memory stays close to that of a small library; a
300 MB answer from any service is refused as it arrives (the service fails, nothing moves); a
20,000-film Radarr listing (150 MB of JSON, unpaged) is parsed as a stream. Peak memory is
measured for the whole `reconcile --once` process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simstack import SimulatedStack, World
from tests.reliability.support import (
    EXPECTED,
    KEYS,
    Scenario,
    build_scenario,
    settled_calls,
    write_config,
)

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


PEAK_LIMIT_MB = 250  # for the whole run, whatever an upstream sends
HUGE_MB = 300


def once_with_peak(config: Path) -> tuple[int, float, str]:
    """Run `reconcile --once`; its exit code, peak resident memory (MB) and stderr."""
    done = subprocess.run([sys.executable, "-c", PEAK_REPORTER, "--config", str(config),
                           "--once"], capture_output=True, text=True, timeout=300)
    found = re.search(r"peak-kb (\d+)", done.stderr)
    assert found, done.stderr[-2000:]
    return done.returncode, int(found.group(1)) / 1024, done.stderr


def peak_mb_of_a_first_cycle(stack: SimulatedStack, directory: Path) -> float:
    directory.mkdir()
    config = write_config(stack, directory, timeout=60.0, retry_budget=5.0,
                          max_response_mb=64,
                          service_extra={"jellyfin": f"page_size = {PAGE_SIZE}"})
    code, peak, stderr = once_with_peak(config)
    assert code == 0, stderr[-2000:]
    return peak


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


def every_cycle_full_scenario(stack: SimulatedStack, directory: Path) -> Scenario:
    """The five-request scenario after its first cycle, configured so that every cycle is a
    full sync (the whole-library listings are read each time) with the default response cap."""
    sc = build_scenario(stack, directory, timeout=60.0, retry_budget=60.0, max_response_mb=256,
                        reconciler_extra="full_sync_interval = 0.001")
    first = sc.once()
    assert first.code == 0, first.stderr
    assert sc.states() == EXPECTED
    return sc


HUGE_CASES = {
    # The first call each service makes (a page, a status) sends 300 MB.
    **{name: (name, None) for name in ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin")},
    # The unpaged whole-library listings, which are streamed up to `max_response_mb`.
    "radarr-library": ("radarr", "/api/v3/movie"),
    "sonarr-library": ("sonarr", "/api/v3/series"),
}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("case", list(HUGE_CASES))
def test_a_300_mb_answer_fails_the_service_within_bounded_memory_and_moves_nothing(
        tmp_path: Path, case: str) -> None:
    service, path = HUGE_CASES[case]
    with SimulatedStack(World(), api_keys=KEYS) as stack:
        sc = every_cycle_full_scenario(stack, tmp_path)
        timeline = sc.timeline_rows()
        sc.reveal(service)  # a change the failing service would show if it answered
        stack.set_fault(service, "huge", path=path, size_mb=HUGE_MB)
        sc.world.advance(60)
        code, peak, stderr = once_with_peak(sc.config)
        print(f"peak RSS with a {HUGE_MB} MB answer ({case}): {peak:.0f} MB")
        assert code == 3, stderr[-2000:]
        assert peak < PEAK_LIMIT_MB, f"peak {peak:.0f} MB"
        _, ok, error = sc.last_polls()[service]
        assert ok == 0 and error and "exceeds" in error, error
        assert sc.states() == EXPECTED and sc.timeline_rows() == timeline


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_20000_film_radarr_listing_is_read_as_a_stream_within_bounded_memory(
        tmp_path: Path) -> None:
    with SimulatedStack(World(), api_keys=KEYS) as stack:
        sc = every_cycle_full_scenario(stack, tmp_path)
        # Real Radarr films are ~7.5 KB of JSON each (overview, images, ratings, file details).
        for movie in list(sc.world.radarr.movies.values()):
            sc.world.radarr.update_movie(movie.id, overview="An overview. " * 500)
        films_mb = 150
        stack.set_fault("radarr", "huge", path="/api/v3/movie", size_mb=films_mb,
                        distinct=True)
        stack.reset_stats()
        sc.world.advance(60)
        code, peak, stderr = once_with_peak(sc.config)
        served = stack.stats()["radarr"]["bytes"] / (1024 * 1024)
        element_kb = len(json.dumps(sc.world.radarr.render_movie(
            next(iter(sc.world.radarr.movies.values()))))) / 1024
        print(f"peak RSS reading {served:.0f} MB of films ({element_kb:.1f} KB each): "
              f"{peak:.0f} MB")
        assert code == 0, stderr[-2000:]
        assert served >= films_mb and element_kb > 7
        assert films_mb * 1024 / element_kb > 19_000  # films in the listing
        assert peak < PEAK_LIMIT_MB, f"peak {peak:.0f} MB for {served:.0f} MB of films"
        assert sc.last_polls()["radarr"][1] == 1
        assert sc.states() == EXPECTED
