"""Run the benchmark: `python -m bench [--requests N] [--active-share F] [--library N] [--json]`,
or the soak: `python -m bench --soak [--json]` (see `bench/soak.py`).

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
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.stack import Sizes, StackProcess
from reconciler import logs
from reconciler.config import load_config
from reconciler.cycle import Reconciler
from reconciler.store import Store

POLL_INTERVAL = 30.0  # simulated seconds between cycles
SETTLE = 300.0  # simulated seconds between the first cycle and the steady state


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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


async def measure(reconciler: Reconciler, phase: str) -> CycleStats:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = await reconciler.cycle()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
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


async def bench(sizes: Sizes, steady_cycles: int, changes: int, baseline_sample: int,
                workdir: Path) -> Report:
    report = Report(
        machine={"python": platform.python_version(), "platform": platform.platform(),
                 "cpus": os.cpu_count() or 0},
        sizes={"requests": sizes.requests, "active": sizes.active, "library": sizes.library,
               "extra_4k_servers": int(sizes.four_k)},
        media_server=sizes.media_server,
    )
    with StackProcess(sizes) as stack:
        report.seerr = str(stack.info.get("seerr", ""))
        config_path = workdir / "config.toml"
        config_path.write_text(stack.config(str(workdir / "bench.db")))
        config_path.chmod(0o600)
        config = load_config(config_path)
        store = Store.open(config.database)
        reconciler = Reconciler(config, store)
        try:
            report.cycles.append(await measure(reconciler, "first"))
            # Polls overlap their watermarks by two minutes, so the cycle right after a bulk
            # change (here: building the whole world at one instant) re-reads what changed in
            # that window. Let that window pass once, as it does in a running system.
            stack.call("advance", SETTLE)
            report.cycles.append(await measure(reconciler, "settle"))
            for _ in range(steady_cycles):
                stack.call("advance", POLL_INTERVAL)
                stack.call("change", changes)
                report.cycles.append(await measure(reconciler, "steady"))
            stack.call("advance", POLL_INTERVAL)
            report.cycles.append(await measure(reconciler, "idle"))
            pending = sum(1 for r in store.requests() if r.state.value != "available")
        finally:
            await reconciler.aclose()
            store.close()
        if baseline_sample > 0 and sizes.media_server == "jellyfin":
            report.baseline = run_baseline(stack.info["urls"], stack.info["api_keys"], pending,
                                           baseline_sample)
    report.targets = check_targets(report)
    return report


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
    return targets


def render(report: Report) -> str:
    lines = [
        f"reconciler benchmark — {report.sizes['requests']} requests "
        f"({report.sizes['active']} active), {report.sizes['library']} "
        f"{report.media_server.capitalize()} items"
        + (", plus a 4K Radarr" if report.sizes.get("extra_4k_servers") else ""),
        f"Jellyseerr profile: {report.seerr}",
        f"machine: {report.machine['cpus']} CPUs, Python {report.machine['python']}, "
        f"{report.machine['platform']}",
        "",
        f"{'cycle':<8} {'wall s':>8} {'cpu s':>8} {'rss MB':>8} {'calls':>6} {'KB':>10} "
        f"{'rows':>6} {'rows*':>6}  calls per service",
    ]
    for c in report.cycles:
        per = " ".join(f"{s}={n}" for s, n in c.calls.items() if n)
        lines.append(
            f"{c.phase:<8} {c.wall_s:>8.3f} {c.cpu_s:>8.3f} {c.peak_rss_mb:>8.1f} "
            f"{c.total_calls:>6} {c.total_bytes / 1024:>10.1f} {c.rows_written:>6} "
            f"{c.rows_besides_polls:>6}  {per}")
    lines.append("rows* = rows written besides the poll records")
    steady = _steady(report)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="tracked requests")
    parser.add_argument("--active-share", type=float, default=0.1,
                        help="share of the requests still downloading (default 0.1)")
    parser.add_argument("--library", type=int, default=100_000, help="Jellyfin items")
    parser.add_argument("--steady-cycles", type=int, default=3)
    parser.add_argument("--changes", type=int, default=5,
                        help="downloads that move between steady-state cycles")
    parser.add_argument("--baseline-sample", type=int, default=2,
                        help="baseline listings actually measured (0 skips the baseline)")
    parser.add_argument("--seerr-version", default=None,
                        help="the simulated Jellyseerr's version or profile, e.g. 3.1.0 (frozen "
                             "updatedAt), 2.7.3, 2.1.0, 1.33.2; default: Seerr bumping updatedAt")
    parser.add_argument("--media-server", choices=("jellyfin", "emby", "plex"),
                        default="jellyfin",
                        help="the simulated media server (default jellyfin; emby and plex run "
                             "without Shoko, and without the baseline, which is Jellyfin's)")
    parser.add_argument("--extra-4k", action="store_true",
                        help="a second, 4K Radarr, with a fifth of the films also requested "
                             "in 4K on it")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a target is missed")
    parser.add_argument("--soak", action="store_true",
                        help="run the soak instead: 200 requests, 10,000 items, 90 simulated "
                             "days in steps of an hour (see bench/soak.py)")
    args = parser.parse_args(argv)
    logs.configure("json", "error")
    if args.soak:
        return soak_main(args.json, args.check)
    sizes = Sizes(requests=args.requests, active=int(args.requests * args.active_share),
                  library=args.library, seerr_version=args.seerr_version,
                  four_k=args.extra_4k, media_server=args.media_server)
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        report = asyncio.run(bench(sizes, args.steady_cycles, args.changes,
                                   args.baseline_sample, Path(tmp)))
    if args.json:
        data = asdict(report)
        print(json.dumps(data, indent=2))
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
