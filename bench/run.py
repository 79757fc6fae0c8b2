"""Run the benchmark: `python -m bench [--requests N] [--active N] [--library N] [--json]`,
the scaling table: `python -m bench --scaling [--json]` (see `bench/scaling.py`), or the soak:
`python -m bench --soak [--json]` (see `bench/soak.py`).

It starts the simulated Jellyseerr, Radarr, Sonarr, Shoko and Jellyfin in a child process, runs
the reconciler's real cycle (`Reconciler.cycle`, real HTTP, a real SQLite file) in this one, and
measures the first cycle, steady-state cycles (a few downloads move between cycles) and an idle
cycle (nothing moves), then the baseline most trackers use: list the whole Jellyfin library with
ProviderIds once per pending request per cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.page import FIRST_SCREEN_MS, PageStats, measure_page
from bench.stack import Sizes, StackProcess
from reconciler import logs
from reconciler.config import load_config
from reconciler.cycle import Reconciler
from reconciler.store import Store

POLL_INTERVAL = 30.0  # simulated seconds between cycles
SETTLE = 300.0  # simulated seconds between the first cycle and the steady state
SETTLE_CAP = 30  # settle cycles at most (a big first install fetches its titles over several)
STEADY_SEERR_CALLS = 3  # Jellyseerr's steady poll: newest page, pending, processing (<= 100)
SEERR_PAGE = 100  # requests per page of `filter=processing`
STEP_GRAIN = 100  # SQLite VM instructions between two calls of the progress handler
STEADY_CPU_S = 0.15  # issue 25: median steady-cycle CPU at 1,000 requests, 100,000 items
FIRST_WALL_S, FIRST_RSS_MB = 15.0, 150.0  # issue 25: first index of 100,000 items


@dataclass
class CycleStats:
    phase: str
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    calls: dict[str, int]
    bytes: dict[str, int]
    seconds: dict[str, float]
    rows_written: int
    rows_besides_polls: int
    transitions: int
    ok: bool
    # Requests the cycle decided (`CycleResult.decided`); None while the product does not say.
    decided: int | None = None
    # SQLite virtual-machine instructions run on the reconciler's connection during the cycle
    # (counted by its progress handler, in steps of STEP_GRAIN; see bench/README.md).
    sql_steps: int = 0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())


@dataclass
class Baseline:
    pending: int
    sampled: int
    calls_per_cycle: int
    bytes_per_cycle: int
    wall_s_per_cycle: float


@dataclass
class Report:
    machine: dict[str, Any]
    sizes: dict[str, int]
    seerr: str = ""  # the simulated Jellyseerr's profile and version
    media_server: str = "jellyfin"
    cycles: list[CycleStats] = field(default_factory=list)
    baseline: Baseline | None = None
    targets: dict[str, bool] = field(default_factory=dict)
    settle_cycles: int = 0  # settle cycles run (until Jellyseerr made its steady calls)
    settled: bool = True  # whether the last settle cycle made Jellyseerr's steady calls
    page: PageStats | None = None  # the status page's first screen over this run's database


class SqlSteps:
    """Counts the SQLite virtual-machine instructions one connection runs: its progress handler
    is called every `grain` instructions and counts them (bench code only, not the product's).

    Deterministic for the same data and queries (unlike CPU time), so it measures the work the
    cycle asks of SQLite whatever the machine's load."""

    def __init__(self, conn: sqlite3.Connection, grain: int = STEP_GRAIN) -> None:
        self.grain = grain
        self.ticks = 0
        conn.set_progress_handler(self._tick, grain)

    def _tick(self) -> int:
        self.ticks += 1
        return 0  # never interrupt

    @property
    def steps(self) -> int:
        return self.ticks * self.grain


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def measure(reconciler: Reconciler, phase: str,
                  steps: SqlSteps | None = None) -> CycleStats:
    steps0 = steps.steps if steps is not None else 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await reconciler.cycle()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    decided = getattr(result, "decided", None)
    return CycleStats(
        phase=phase,
        wall_s=round(wall, 4),
        cpu_s=round(cpu, 4),
        peak_rss_mb=round(peak_rss_mb(), 1),
        calls={s: p.calls for s, p in result.polls.items()},
        bytes={s: p.bytes for s, p in result.polls.items()},
        seconds={s: round(((p.finished or p.started) - p.started).total_seconds(), 4)
                 for s, p in result.polls.items()},
        rows_written=result.rows_written,
        rows_besides_polls=result.rows_written - len(result.polls),
        transitions=len(result.transitions),
        ok=result.ok,
        decided=decided if isinstance(decided, int) else None,
        sql_steps=steps.steps - steps0 if steps is not None else 0,
    )


def run_baseline(urls: dict[str, str], keys: dict[str, str], pending: int, sample: int,
                 page_size: int = 1000) -> Baseline:
    """List the whole Jellyfin library with ProviderIds, as a tracker does per pending request.

    Every listing is identical, so `sample` listings are measured and the per-cycle numbers are
    those times the number of pending requests (calls and bytes exactly, time by the mean)."""
    headers = {"Authorization": f'MediaBrowser Token="{keys["jellyfin"]}"'}
    calls = 0
    size = 0
    times = []
    with httpx.Client(base_url=urls["jellyfin"], headers=headers, timeout=120) as http:
        for _ in range(max(1, sample)):
            t0 = time.perf_counter()
            start, total = 0, None
            listing_calls, listing_bytes = 0, 0
            while total is None or start < total:
                r = http.get("/Items", params={
                    "Recursive": "true", "IncludeItemTypes": "Movie,Series,Episode",
                    "Fields": "ProviderIds", "StartIndex": start, "Limit": page_size})
                r.raise_for_status()
                data = r.json()
                listing_calls += 1
                listing_bytes += len(r.content)
                total = data["TotalRecordCount"]
                start += len(data["Items"]) or total
            times.append(time.perf_counter() - t0)
            calls, size = listing_calls, listing_bytes
    return Baseline(
        pending=pending,
        sampled=max(1, sample),
        calls_per_cycle=calls * pending,
        bytes_per_cycle=size * pending,
        wall_s_per_cycle=round(statistics.mean(times) * pending, 3),
    )


def steady_seerr_calls(active: int) -> int:
    """Jellyseerr's calls in a steady poll: the newest page, `filter=pending` (one page here)
    and every page of `filter=processing`, which holds the active requests."""
    return max(STEADY_SEERR_CALLS, 2 + -(-active // SEERR_PAGE))


async def bench(sizes: Sizes, steady_cycles: int, changes: int, baseline_sample: int,
                workdir: Path, page_samples: int = 5) -> Report:
    report = Report(
        machine={"python": platform.python_version(), "platform": platform.platform(),
                 "cpus": os.cpu_count() or 0},
        sizes={"requests": sizes.requests, "active": sizes.active, "library": sizes.library,
               "extra_4k_servers": int(sizes.four_k)},
        media_server=sizes.media_server,
    )
    with StackProcess(sizes) as stack:
        report.seerr = str(stack.info.get("seerr", ""))
        report.sizes["items"] = int(stack.info.get("items", sizes.library))
        config_path = workdir / "config.toml"
        config_path.write_text(stack.config(str(workdir / "bench.db")))
        config_path.chmod(0o600)
        config = load_config(config_path)
        store = Store.open(config.database)
        steps = SqlSteps(store.conn)
        reconciler = Reconciler(config, store)
        reconciler.freeze_heap = True  # as the daemon does
        try:
            report.cycles.append(await measure(reconciler, "first", steps))
            await settle(reconciler, stack, steps, report)
            for _ in range(steady_cycles):
                stack.call("advance", POLL_INTERVAL)
                stack.call("change", changes)
                report.cycles.append(await measure(reconciler, "steady", steps))
            stack.call("advance", POLL_INTERVAL)
            report.cycles.append(await measure(reconciler, "idle", steps))
            tracked = store.requests()
            pending = sum(1 for r in tracked if r.state.value != "available")
            if page_samples > 0:
                # While the reconciler and its store are open, as in the daemon, whose page
                # is drawn in the process that runs the cycles (the same heap to collect).
                report.page = await measure_page(config, len(tracked), page_samples)
        finally:
            await reconciler.aclose()
            store.close()
        if baseline_sample > 0 and sizes.media_server == "jellyfin":
            report.baseline = run_baseline(stack.info["urls"], stack.info["api_keys"], pending,
                                           baseline_sample)
    report.targets = check_targets(report)
    return report


async def settle(reconciler: Reconciler, stack: StackProcess, steps: SqlSteps,
                 report: Report) -> None:
    """Settle cycles until one makes only Jellyseerr's steady calls (at most SETTLE_CAP).

    Polls overlap their watermarks by two minutes, so the cycle right after a bulk change (here:
    building the whole world at one instant) re-reads what changed in that window: the first
    settle cycle comes after that window has passed, as it does in a running system. A big
    install's first polls also fetch display titles (at most 1,000 a poll, `cycle/titles.py`),
    so more settle cycles, each a poll interval later, run until that backlog is done; the
    steady cycles then measure the steady state, not the backlog."""
    limit = steady_seerr_calls(int(stack.info.get("active", report.sizes["active"])))
    stack.call("advance", SETTLE)
    while True:
        cycle = await measure(reconciler, "settle", steps)
        report.cycles.append(cycle)
        report.settle_cycles += 1
        report.settled = cycle.calls.get("jellyseerr", 0) <= limit
        if report.settled or report.settle_cycles >= SETTLE_CAP:
            return
        stack.call("advance", POLL_INTERVAL)


def _steady(report: Report) -> list[CycleStats]:
    return [c for c in report.cycles if c.phase == "steady"]


def check_targets(report: Report) -> dict[str, bool]:
    first = next(c for c in report.cycles if c.phase == "first")
    steady = _steady(report)
    idle = [c for c in report.cycles if c.phase == "idle"]
    targets = {
        "steady: at most 20 HTTP calls": all(c.total_calls <= 20 for c in steady),
        "steady: under 1 s wall": all(c.wall_s < 1.0 for c in steady),
        "steady: under 0.5 s CPU": all(c.cpu_s < 0.5 for c in steady),
        "idle: 0 rows besides poll records": all(c.rows_besides_polls == 0 for c in idle),
        "first: under 30 s": first.wall_s < 30.0,
        "first: peak RSS under 250 MB": first.peak_rss_mb < 250.0,
        "all cycles polled every service": all(c.ok for c in report.cycles),
    }
    if report.baseline is not None and steady:
        worst = max(c.total_bytes for c in steady) or 1
        targets["steady: >= 100x fewer HTTP bytes than baseline"] = (
            report.baseline.bytes_per_cycle >= 100 * worst)
    targets.update(issue25_targets(report))
    return targets


def issue25_targets(report: Report) -> dict[str, bool]:
    """Issue 25's targets that one run can check, where its sizes are within theirs (the
    ratio between sizes is `--scaling`'s, bench/scaling.py)."""
    first = next(c for c in report.cycles if c.phase == "first")
    steady = _steady(report)
    targets = {f"settle: Jellyseerr at its steady calls within {SETTLE_CAP} cycles":
               report.settled}
    small = report.sizes["requests"] <= 1000
    if steady and small:
        targets[f"steady: CPU median under {STEADY_CPU_S:g} s (<= 1,000 requests)"] = (
            statistics.median(c.cpu_s for c in steady) < STEADY_CPU_S)
    if small and report.sizes.get("items", report.sizes["library"]) <= 100_000:
        targets[f"first: under {FIRST_WALL_S:g} s wall (<= 1,000 requests, 100,000 items)"] = (
            first.wall_s < FIRST_WALL_S)
        targets[f"first: peak RSS under {FIRST_RSS_MB:g} MB (<= 1,000 requests, 100,000 "
                f"items)"] = first.peak_rss_mb < FIRST_RSS_MB
    if report.page is not None and report.page.requests <= 10_000:
        targets[f"page: first screen under {FIRST_SCREEN_MS:g} ms (<= 10,000 requests)"] = (
            report.page.median_ms < FIRST_SCREEN_MS)
    return targets


def render(report: Report) -> str:
    lines = [
        f"reconciler benchmark — {report.sizes['requests']} requests "
        f"({report.sizes['active']} active), {report.sizes['library']} "
        f"{report.media_server.capitalize()} items"
        + (f" ({report.sizes['items']} with the requests' own)"
           if report.sizes.get("items", 0) > report.sizes["library"] else "")
        + (", plus a 4K Radarr" if report.sizes.get("extra_4k_servers") else ""),
        f"Jellyseerr profile: {report.seerr}",
        f"machine: {report.machine['cpus']} CPUs, Python {report.machine['python']}, "
        f"{report.machine['platform']}",
        "",
        f"{'cycle':<8} {'wall s':>8} {'cpu s':>8} {'rss MB':>8} {'calls':>6} {'KB':>10} "
        f"{'rows':>6} {'rows*':>6} {'decided':>7} {'ksteps':>8}  calls per service",
    ]
    for c in report.cycles:
        per = " ".join(f"{s}={n}" for s, n in c.calls.items() if n)
        decided = "-" if c.decided is None else str(c.decided)
        lines.append(
            f"{c.phase:<8} {c.wall_s:>8.3f} {c.cpu_s:>8.3f} {c.peak_rss_mb:>8.1f} "
            f"{c.total_calls:>6} {c.total_bytes / 1024:>10.1f} {c.rows_written:>6} "
            f"{c.rows_besides_polls:>6} {decided:>7} {c.sql_steps / 1000:>8.0f}  {per}")
    steady = _steady(report)
    lines += [
        "rows* = rows written besides the poll records; decided = requests the cycle decided "
        "(- : the reconciler does not say); ksteps = thousands of SQLite VM instructions",
        f"settle cycles: {report.settle_cycles}"
        + ("" if report.settled else " (Jellyseerr never got back to its steady calls)"),
    ]
    if steady:
        lines.append(
            f"steady median of {len(steady)}: cpu {statistics.median(c.cpu_s for c in steady):.3f} "
            f"s (min {min(c.cpu_s for c in steady):.3f}), wall "
            f"{statistics.median(c.wall_s for c in steady):.3f} s")
    if report.page is not None:
        pg = report.page
        lines.append(
            f"page: first screen (GET /) over {pg.requests} requests: {pg.median_ms:.1f} ms "
            f"server time, median of {len(pg.server_ms)} (max {max(pg.server_ms):.1f}, "
            f"garbage collection up to {max(pg.gc_ms):.1f}; {pg.cards} cards, "
            f"{pg.bytes / 1024:.0f} KB)")
    if report.baseline is not None and steady:
        b = report.baseline
        calls = statistics.mean(c.total_calls for c in steady) or 1
        size = statistics.mean(c.total_bytes for c in steady) or 1
        wall = statistics.mean(c.wall_s for c in steady) or 1e-9
        lines += [
            "",
            f"baseline (whole library per pending request, {b.pending} pending; "
            f"{b.sampled} listing(s) measured):",
            f"  per cycle: {b.calls_per_cycle} calls, {b.bytes_per_cycle / 1024 / 1024:.1f} MB, "
            f"{b.wall_s_per_cycle:.1f} s",
            f"  reconciler steady state is {b.calls_per_cycle / calls:.0f}x fewer calls, "
            f"{b.bytes_per_cycle / size:.0f}x fewer bytes, {b.wall_s_per_cycle / wall:.0f}x "
            f"less time",
        ]
    lines.append("")
    for name, ok in report.targets.items():
        lines.append(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    out.add_argument("--requests", type=int, default=1000, help="tracked requests")
    out.add_argument("--active", type=int, default=None,
                     help="requests still downloading (absolute; wins over --active-share)")
    out.add_argument("--active-share", type=float, default=0.1,
                     help="share of the requests still downloading (default 0.1)")
    out.add_argument("--library", type=int, default=100_000, help="Jellyfin items")
    out.add_argument("--steady-cycles", type=int, default=None,
                     help="steady cycles measured (default 3; with --scaling 5 per size)")
    out.add_argument("--changes", type=int, default=5,
                     help="downloads that move between steady-state cycles")
    out.add_argument("--baseline-sample", type=int, default=2,
                     help="baseline listings actually measured (0 skips the baseline)")
    out.add_argument("--page-samples", type=int, default=5,
                     help="timed requests of the status page's first screen after the cycles "
                          "(median reported; 0 skips it)")
    out.add_argument("--seerr-version", default=None,
                     help="the simulated Jellyseerr's version or profile, e.g. 3.1.0 (frozen "
                          "updatedAt), 2.7.3, 2.1.0, 1.33.2; default: Seerr bumping updatedAt")
    out.add_argument("--media-server", choices=("jellyfin", "emby", "plex"), default="jellyfin",
                     help="the simulated media server (default jellyfin; emby and plex run "
                          "without Shoko, and without the baseline, which is Jellyfin's)")
    out.add_argument("--extra-4k", action="store_true",
                     help="a second, 4K Radarr, with a fifth of the films also requested "
                          "in 4K on it")
    out.add_argument("--json", action="store_true", help="print the report as JSON")
    out.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    out.add_argument("--soak", action="store_true",
                     help="run the soak instead: 200 requests, 10,000 items, 90 simulated "
                          "days in steps of an hour (see bench/soak.py)")
    out.add_argument("--scaling", action="store_true",
                     help="the scaling table: each size (requests x library) in a child "
                          "process of its own, then issue 25's targets across them")
    out.add_argument("--scaling-requests", default="1000,10000",
                     help="with --scaling: request counts (default 1000,10000)")
    out.add_argument("--scaling-library", default="10000,100000",
                     help="with --scaling: library sizes (default 10000,100000)")
    out.add_argument("--scaling-active", type=int, default=100,
                     help="with --scaling: active requests at every size (default 100)")
    return out


def report_json(report: Report) -> dict[str, Any]:
    data = asdict(report)
    if report.page is not None:
        data["page"]["median_ms"] = report.page.median_ms
    return data


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure("json", "error")
    if args.soak:
        return soak_main(args.json, args.check)
    if args.scaling:
        from bench import scaling

        return scaling.main(args)
    active = args.active if args.active is not None else int(args.requests * args.active_share)
    if not 0 <= active <= args.requests:
        parser().error(f"active requests ({active}) must be between 0 and --requests")
    sizes = Sizes(requests=args.requests, active=active,
                  library=args.library, seerr_version=args.seerr_version,
                  four_k=args.extra_4k, media_server=args.media_server)
    steady_cycles = 3 if args.steady_cycles is None else args.steady_cycles
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        report = asyncio.run(bench(sizes, steady_cycles, args.changes,
                                   args.baseline_sample, Path(tmp), args.page_samples))
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        print(render(report))
    if args.check and not all(report.targets.values()):
        return 1
    return 0


def soak_main(as_json: bool, check: bool) -> int:
    from bench import soak

    # The weekly table as it goes; with --json it goes to stderr (stdout holds only the JSON).
    table = sys.stderr if as_json else sys.stdout

    def progress(sample: soak.Sample) -> None:
        print(soak.row(sample), file=table, flush=True)

    print(soak.header(), file=table, flush=True)
    with tempfile.TemporaryDirectory(prefix="reconciler-soak-") as tmp:
        report = soak.run_soak(Path(tmp), progress=progress)
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
        print(soak.render(report), file=table)
    else:
        print()
        print(soak.render(report))
    if check and not all(report.targets().values()):
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
