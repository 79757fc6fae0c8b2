"""python-plexapi or a thin httpx client for Plex? Measured on the simulated Plex (issue 26;
the results and the decision are in docs/media-servers.md).

    python3 -m venv /tmp/plexapi-venv && /tmp/plexapi-venv/bin/pip install plexapi
    .venv/bin/python -m bench.plex_client_choice --plexapi-python /tmp/plexapi-venv/bin/python

python-plexapi is not one of the project's dependencies: it is installed in a scratch
virtualenv and run from there. The simulated Plex (`--items` films, shows and episodes, default
100,000) runs in this process; every measurement runs in a fresh child process, which reports
its own import time, CPU time, peak RSS (`VmHWM`) and the longest stall of an asyncio event
loop ticking every 10 ms beside the listing:

- `plexapi_all`: `section.all()` and `section.searchEpisodes()` (1,000 a request), every object
  kept, as python-plexapi's API hands them over; called directly (it is synchronous).
- `plexapi_thread`: the same pages one at a time (`search(container_start=...,
  maxresults=1000)`), each dropped after counting, every call in `asyncio.to_thread` as an
  asyncio daemon would have to run it.
- `thin_stream`: `PlexClient.item_pages(page_size=1000)` in the event loop, each page dropped.
- `thin_all`: the same, every `JellyfinItem` (the index's model) kept.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-plex-token-0123456789"

# Shared by every child: the event-loop stall meter and the report.
PRELUDE = r"""
import asyncio, json, resource, sys, time
URL, TOKEN = sys.argv[1], sys.argv[2]

class Ticker:
    def __init__(self):
        self.worst = 0.0
    async def run(self):
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - before - 0.01)

def peak_mb():
    # VmHWM, this process image's own high-water mark: `ru_maxrss` would keep the parent's
    # (the simulated Plex's) across fork and exec.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)

def report(**fields):
    use = resource.getrusage(resource.RUSAGE_SELF)
    fields.update(peak_rss_mb=peak_mb(), cpu_s=round(use.ru_utime + use.ru_stime, 2))
    print(json.dumps(fields))
"""

PLEXAPI_ALL = PRELUDE + r"""
t0 = time.perf_counter()
from plexapi.server import PlexServer
imported = time.perf_counter() - t0
rss_imported = peak_mb()
t1 = time.perf_counter()
plex = PlexServer(URL, TOKEN)
kept = []
for section in plex.library.sections():
    kept += section.all(container_size=1000)
    if section.type == "show":
        kept += section.searchEpisodes(container_size=1000)
listed = time.perf_counter() - t1
# Synchronous: in an event loop this call would have stalled it for the whole listing.
report(variant="plexapi_all", import_s=round(imported, 3),
       rss_after_import_mb=rss_imported, list_s=round(listed, 2), items=len(kept),
       loop_stall_ms=round(listed * 1000))
"""

PLEXAPI_THREAD = PRELUDE + r"""
from plexapi.server import PlexServer
rss_imported = peak_mb()

def page(section, libtype, start):
    return len(section.search(libtype=libtype, container_start=start, container_size=1000,
                              maxresults=1000))

async def main():
    ticker = Ticker()
    tick = asyncio.ensure_future(ticker.run())
    t1 = time.perf_counter()
    plex = await asyncio.to_thread(PlexServer, URL, TOKEN)
    count = 0
    for section in await asyncio.to_thread(plex.library.sections):
        for libtype in (["movie"] if section.type == "movie" else ["show", "episode"]):
            start = 0
            while True:
                n = await asyncio.to_thread(page, section, libtype, start)
                count, start = count + n, start + n
                if n < 1000:
                    break
    listed = time.perf_counter() - t1
    tick.cancel()
    report(variant="plexapi_thread", rss_after_import_mb=rss_imported,
           list_s=round(listed, 2), items=count,
           loop_stall_ms=round(ticker.worst * 1000))

asyncio.run(main())
"""

THIN = PRELUDE + r"""
KEEP = sys.argv[3] == "keep"
t0 = time.perf_counter()
from reconciler.config import ServiceConfig
from reconciler.services.plex import PlexClient
imported = time.perf_counter() - t0
rss_imported = peak_mb()

async def main():
    ticker = Ticker()
    tick = asyncio.ensure_future(ticker.run())
    config = ServiceConfig("plex", URL, TOKEN, 30.0, 60.0, True)
    kept, count = [], 0
    t1 = time.perf_counter()
    async with PlexClient(config) as client:
        async for page in client.item_pages(page_size=1000):
            count += len(page.items)
            if KEEP:
                kept += page.items
    listed = time.perf_counter() - t1
    tick.cancel()
    report(variant="thin_all" if KEEP else "thin_stream", import_s=round(imported, 3),
           rss_after_import_mb=rss_imported, list_s=round(listed, 2), items=count,
           loop_stall_ms=round(ticker.worst * 1000))

asyncio.run(main())
"""

IMPORT_TIME = r"""
import sys, time
t0 = time.perf_counter()
__import__(sys.argv[1])
print(time.perf_counter() - t0)
"""

# The thin client's import cost beyond what the daemon imports anyway (the cycle: httpx, the
# other clients, the core).
MARGINAL_IMPORT = r"""
import time
import reconciler.cycle
t0 = time.perf_counter()
import reconciler.services.plex
print(time.perf_counter() - t0)
"""

PLEXAPI_FOOTPRINT = r"""
import json
from importlib import metadata
dist = metadata.distribution("PlexAPI")
print(json.dumps({"version": dist.version, "requires": dist.requires or [],
                  "bytes": sum(f.size or 0 for f in dist.files or [])}))
"""


def child(python: str, code: str, *args: str) -> Any:
    done = subprocess.run([python, "-c", code, *args], capture_output=True, text=True,
                          cwd=REPO, timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"child failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_median(python: str, code: str, *args: str, runs: int = 5) -> float:
    return statistics.median(float(child(python, code, *args)) for _ in range(runs))


def footprint(plexapi_python: str) -> dict[str, Any]:
    """What installing python-plexapi would add to reconciler's environment."""
    found = child(plexapi_python, PLEXAPI_FOOTPRINT)
    names = [r.split(";")[0].split("[")[0].strip(" <>=!~0123456789.,")
             for r in found["requires"] if "extra ==" not in r]
    present = []
    for name in names:
        try:
            present.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return {"plexapi": found["version"], "plexapi_kb": round(found["bytes"] / 1024),
            "requires": names, "already_here": present,
            "new_distributions": 1 + len(names) - len(present)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plexapi-python", required=True,
                        help="the python of a scratch virtualenv with plexapi installed")
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args(argv)

    from simstack import World
    from simstack.plex import PlexWorld, serve

    pw = PlexWorld(World(datetime(2026, 3, 1, 12, 0, tzinfo=UTC)))
    pw.add_section("Movies", ["/data/movies"])
    pw.add_section("TV Shows", ["/data/tv"], "show")
    started = time.perf_counter()
    counts = pw.populate(args.items)
    print(f"simulated Plex: {counts} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    runner = serve(pw, TOKEN)
    results: dict[str, Any] = {"items": args.items, "footprint": footprint(args.plexapi_python)}
    try:
        results["import_s"] = {
            "plexapi.server": round(import_median(args.plexapi_python, IMPORT_TIME,
                                                  "plexapi.server"), 3),
            "reconciler.services.plex": round(import_median(sys.executable, IMPORT_TIME,
                                                            "reconciler.services.plex"), 3),
            "reconciler.services.plex, after reconciler.cycle": round(
                import_median(sys.executable, MARGINAL_IMPORT), 3),
        }
        runs = [(args.plexapi_python, PLEXAPI_ALL), (args.plexapi_python, PLEXAPI_THREAD),
                (sys.executable, THIN, "stream"), (sys.executable, THIN, "keep")]
        results["runs"] = []
        for python, code, *extra in runs:
            result = child(python, code, runner.url, TOKEN, *extra)
            print(json.dumps(result), file=sys.stderr)
            results["runs"].append(result)
    finally:
        runner.stop()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
