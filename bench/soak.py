"""The soak: months of unattended running, in simulated hours, to show that nothing grows with
time alone (`python -m bench --soak`).

The simulated stack (in a child process, as for the benchmark) holds `requests` requests, a
tenth of them downloading, in a library of `library` Jellyfin items. Every step (one simulated
hour by default) the world's clock and the reconciler's clock move on together, every active
download moves forward a little without ever finishing, and films nobody requested are added
to and removed from Radarr and Jellyfin; then one cycle polls every service, and retention
(`store.retention.prune`) runs as the daemon runs it after each cycle. No request is added and
no state changes after the first cycles, so whatever grows between day 30 and day 90 grows with
time.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.stack import Sizes, StackProcess
from reconciler.config import load_config
from reconciler.cycle import Reconciler
from reconciler.store import Store

DAYS = 90
STEP_S = 3600
REQUESTS = 200
LIBRARY = 10_000
ACTIVE_SHARE = 0.1
CHURN = 4  # unrequested films added (and as many removed) per step
CHECKPOINTS = (30, 90)
TOLERANCE = 0.10  # day-90 rows and file size within 10 % of day 30
RSS_MB = 100.0  # issue 25: the reconciler's resident memory at the last checkpoint (day 90)


@dataclass
class Sample:
    day: float
    rows: dict[str, int]
    db_mb: float
    rss_mb: float
    wall_s: float
    cpu_s: float  # this process's (the reconciler's) CPU time so far; the fakes run apart
    transitions: int


@dataclass
class SoakReport:
    days: int
    step_s: int
    samples: list[Sample] = field(default_factory=list)
    checkpoints: dict[int, Sample] = field(default_factory=dict)
    cycles: int = 0
    failed_cycles: int = 0
    transitions_after_week1: int = 0

    def as_json(self) -> dict[str, Any]:
        first, last = (self.checkpoints[d] for d in sorted(self.checkpoints)[:2])
        a, b = sorted(self.checkpoints)[:2]
        return {"soak": {
            "days": self.days, "step_s": self.step_s,
            f"rows_day{a}": first.rows, f"rows_day{b}": last.rows,
            f"db_mb_day{a}": first.db_mb, f"db_mb_day{b}": last.db_mb,
            f"rss_mb_day{a}": first.rss_mb, f"rss_mb_day{b}": last.rss_mb,
        }}

    def targets(self) -> dict[str, bool]:
        a, b = (self.checkpoints[d] for d in sorted(self.checkpoints)[:2])
        out = {f"{table}: day {b.day:g} rows within 10 % of day {a.day:g}":
               _within(a.rows[table], b.rows[table]) for table in a.rows}
        out["database file within 10 %"] = _within(a.db_mb, b.db_mb)
        out["RSS flat (within 10 %)"] = _within(a.rss_mb, b.rss_mb)
        out[f"RSS at day {b.day:g} under {RSS_MB:g} MB"] = b.rss_mb < RSS_MB
        out["no state changes after the first week"] = self.transitions_after_week1 == 0
        out["every cycle polled every service"] = self.failed_cycles == 0
        return out


def _within(a: float, b: float) -> bool:
    return abs(b - a) <= TOLERANCE * max(a, 1e-9) if a else b == 0


def rss_mb() -> float:
    """This process's resident memory now (not its peak)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def db_mb(path: Path) -> float:
    files = (path, path.with_name(path.name + "-wal"))
    return round(sum(p.stat().st_size for p in files if p.exists()) / (1024 * 1024), 2)


async def soak(workdir: Path, *, days: int = DAYS, step_s: int = STEP_S,
               requests: int = REQUESTS, library: int = LIBRARY,
               checkpoints: tuple[int, ...] = CHECKPOINTS, retain: str = "",
               progress: Callable[[Sample], None] | None = None) -> SoakReport:
    """Run the soak in `workdir`; `retain` adds retention lines to [reconciler]."""
    sizes = Sizes(requests=requests, active=int(requests * ACTIVE_SHARE), library=library)
    report = SoakReport(days=days, step_s=step_s)
    steps = int(days * 86400 // step_s)
    per_day = 86400 / step_s
    week_steps = int(7 * per_day)
    wanted = {int(d * per_day): d for d in checkpoints}
    with StackProcess(sizes) as stack:
        config_path = workdir / "config.toml"
        text = stack.config(str(workdir / "soak.db"))
        if retain:
            text = text.replace("[reconciler]\n", f"[reconciler]\n{retain}\n", 1)
        config_path.write_text(text)
        config_path.chmod(0o600)
        config = load_config(config_path)
        settings = config.model.reconciler
        now: datetime = stack.call("now")

        def clock() -> datetime:
            return now

        store = Store.open(config.database)
        reconciler = Reconciler(config, store, clock=clock)
        reconciler.freeze_heap = True  # as the daemon does
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            for step in range(steps + 1):
                if step:
                    stack.call("advance", step_s)
                    now += timedelta(seconds=step_s)
                    stack.call("creep", steps - step + 1)
                    stack.call("churn", CHURN)
                result = await reconciler.cycle()
                store.retention.prune(now, settings.retain_polls, settings.retain_notifications)
                report.cycles += 1
                report.failed_cycles += 0 if result.ok else 1
                if step > week_steps:
                    report.transitions_after_week1 += len(result.transitions)
                if step % week_steps == 0 or step in wanted or step == steps:
                    sample = Sample(day=round(step / per_day, 2), rows=store.counts(),
                                    db_mb=db_mb(config.database), rss_mb=rss_mb(),
                                    wall_s=round(time.perf_counter() - wall0, 1),
                                    cpu_s=round(time.process_time() - cpu0, 1),
                                    transitions=len(result.transitions))
                    if not report.samples or report.samples[-1].day != sample.day:
                        report.samples.append(sample)
                        if progress is not None:
                            progress(sample)
                    if step in wanted:
                        report.checkpoints[wanted[step]] = sample
        finally:
            await reconciler.aclose()
            store.close()
    return report


TABLES = ("requests", "timeline", "episodes", "observations", "jellyfin_items",
          "jellyfin_provider_ids", "polls", "meta", "notifications")
SHORT = {"jellyfin_items": "jf_items", "jellyfin_provider_ids": "jf_pids",
         "observations": "observ", "notifications": "notif"}


def header() -> str:
    cols = " ".join(f"{SHORT.get(t, t):>9}" for t in TABLES)
    return f"{'day':>6} {cols} {'db MB':>7} {'rss MB':>7} {'wall s':>7} {'cpu s':>7}"


def row(sample: Sample) -> str:
    cols = " ".join(f"{sample.rows.get(t, 0):>9}" for t in TABLES)
    return (f"{sample.day:>6g} {cols} {sample.db_mb:>7.2f} {sample.rss_mb:>7.1f} "
            f"{sample.wall_s:>7.1f} {sample.cpu_s:>7.1f}")


def render(report: SoakReport) -> str:
    lines = [f"soak: {report.days} simulated days in steps of {report.step_s} s, "
             f"{report.cycles} cycles", header()]
    lines += [row(s) for s in report.samples]
    lines.append("")
    lines += [f"  {'PASS' if ok else 'FAIL'}  {name}" for name, ok in report.targets().items()]
    return "\n".join(lines)


def run_soak(workdir: Path, **kwargs: Any) -> SoakReport:
    return asyncio.run(soak(workdir, **kwargs))
