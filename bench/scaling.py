"""The scaling table (`python -m bench --scaling [--json] [--check]`): the benchmark at several
sizes, each in a child process of its own (`python -m bench ... --json`), so that each size's
peak RSS and CPU time are its own, then issue 25's targets across the sizes of this one run.

Default sizes: 1,000 and 10,000 requests (100 active each) by 10,000 and 100,000 items, five
steady cycles each. Per size and phase: `first` (the first cycle), `settle` (the sum over the
settle cycles; how many in `n`), `steady` (the median of the steady cycles), `idle`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.page import FIRST_SCREEN_MS
from bench.run import FIRST_RSS_MB, FIRST_WALL_S, STEADY_CPU_S

ROOT = Path(__file__).resolve().parents[1]
RATIO = 1.3  # issue 25: 10x the requests cost at most 1.3x the steady cycle
DEFAULT_STEADY = 5
PHASES = ("first", "settle", "steady", "idle")


@dataclass
class Run:
    requests: int
    active: int
    library: int
    report: dict[str, Any] | None = None
    error: str | None = None
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        items = int((self.report or {}).get("sizes", {}).get("items", self.library))
        more = f" ({items:,})" if items > self.library else ""
        return f"{self.requests:,} req / {self.active:,} active / {self.library:,}{more} items"

    def steady(self, key: str) -> list[float]:
        cycles = (self.report or {}).get("cycles", [])
        return [c[key] for c in cycles if c["phase"] == "steady" and c.get(key) is not None]

    @property
    def page_ms(self) -> float | None:
        page = (self.report or {}).get("page")
        return None if page is None else float(page["median_ms"])

    def as_json(self) -> dict[str, Any]:
        return {"sizes": {"requests": self.requests, "active": self.active,
                          "library": self.library},
                "error": self.error, "phases": self.phases, "page_ms": self.page_ms,
                "report": self.report}


def summarise(cycles: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per phase: first and idle as they are, settle summed, steady the median of each column
    (peak RSS: the highest, as it only grows)."""
    out: dict[str, dict[str, Any]] = {}
    for phase in PHASES:
        of = [c for c in cycles if c["phase"] == phase]
        if not of:
            continue
        calls = [sum(c["calls"].values()) for c in of]
        kb = [sum(c["bytes"].values()) / 1024 for c in of]
        cpu, wall = [c["cpu_s"] for c in of], [c["wall_s"] for c in of]
        decided = [c["decided"] for c in of if c.get("decided") is not None]
        steps = [c.get("sql_steps", 0) for c in of]
        pick = statistics.median if phase == "steady" else sum
        out[phase] = {
            "n": len(of), "calls": pick(calls), "kb": round(pick(kb), 1),
            "cpu_s": round(pick(cpu), 4), "wall_s": round(pick(wall), 4),
            "peak_rss_mb": max(c["peak_rss_mb"] for c in of),
            "decided": pick(decided) if decided else None,
            "sql_steps": pick(steps),
        }
        if phase == "steady":
            out[phase]["cpu_s_min"] = min(cpu)
    return out


def child_command(args: argparse.Namespace, run: Run, steady: int) -> list[str]:
    cmd = [sys.executable, "-m", "bench", "--requests", str(run.requests),
           "--active", str(run.active), "--library", str(run.library),
           "--steady-cycles", str(steady), "--changes", str(args.changes),
           "--baseline-sample", "0", "--page-samples", str(args.page_samples), "--json"]
    if args.seerr_version:
        cmd += ["--seerr-version", args.seerr_version]
    if args.media_server != "jellyfin":
        cmd += ["--media-server", args.media_server]
    if args.extra_4k:
        cmd.append("--extra-4k")
    return cmd


def run_size(args: argparse.Namespace, run: Run, steady: int) -> None:
    """One size in a child process; its JSON report, or why there is none."""
    print(f"scaling: {run.label} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(child_command(args, run, steady), cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        run.error = f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"
        return
    try:
        run.report = json.loads(proc.stdout)
    except ValueError as exc:
        run.error = f"no JSON report ({exc}): {proc.stderr.strip()[-2000:]}"
        return
    run.phases = summarise(run.report["cycles"])


def _ratio(big: list[float], base: list[float], pick: Any) -> float | None:
    if not big or not base or not pick(base):
        return None
    return round(float(pick(big)) / float(pick(base)), 3)


def ratios(runs: list[Run]) -> dict[str, dict[str, float | None]]:
    """Per library size: the largest request count's steady figures over the smallest's."""
    out: dict[str, dict[str, float | None]] = {}
    for library in sorted({r.library for r in runs}):
        at = sorted((r for r in runs if r.library == library and r.report),
                    key=lambda r: r.requests)
        if len(at) < 2 or at[0].requests == at[-1].requests:
            continue
        base, big = at[0], at[-1]
        out[f"{big.requests}/{base.requests} requests at {library} items"] = {
            "cpu_median": _ratio(big.steady("cpu_s"), base.steady("cpu_s"), statistics.median),
            "cpu_min": _ratio(big.steady("cpu_s"), base.steady("cpu_s"), min),
            "sql_steps_median": _ratio(big.steady("sql_steps"), base.steady("sql_steps"),
                                       statistics.median),
            "decided_median": _ratio(big.steady("decided"), base.steady("decided"),
                                     statistics.median),
        }
    return out


def targets(runs: list[Run]) -> dict[str, bool]:
    """Issue 25's targets across the runs: base is the fewest requests at the largest library,
    big the most requests at the same library."""
    done = [r for r in runs if r.report]
    out: dict[str, bool] = {"every size ran": len(done) == len(runs)}
    if not done:
        return out
    library = max(r.library for r in runs)
    at = sorted((r for r in done if r.library == library), key=lambda r: r.requests)
    out["every size settled (Jellyseerr back at its steady calls)"] = all(
        bool(r.report and r.report.get("settled", True)) for r in done)
    out["every cycle polled every service"] = all(
        all(c["ok"] for c in (r.report or {})["cycles"]) for r in done)
    if not at:
        return out
    base, big = at[0], at[-1]
    cpu = base.steady("cpu_s")
    out[f"steady: CPU median under {STEADY_CPU_S:g} s at {base.label}"] = bool(cpu) and (
        statistics.median(cpu) < STEADY_CPU_S)
    if big is not base:
        ratio = _ratio(big.steady("cpu_s"), cpu, statistics.median)
        out[f"steady: CPU median at {big.requests:,} requests at most {RATIO:g}x that at "
            f"{base.requests:,} ({library:,} items)"] = ratio is not None and ratio <= RATIO
    first = base.phases.get("first", {})
    out[f"first: index of {library:,} items under {FIRST_WALL_S:g} s wall "
        f"({base.requests:,} requests)"] = first.get("wall_s", 1e9) < FIRST_WALL_S
    out[f"first: index of {library:,} items under {FIRST_RSS_MB:g} MB peak RSS "
        f"({base.requests:,} requests)"] = first.get("peak_rss_mb", 1e9) < FIRST_RSS_MB
    page = big.page_ms
    if page is not None:
        out[f"page: first screen under {FIRST_SCREEN_MS:g} ms at {big.requests:,} requests"] = (
            page < FIRST_SCREEN_MS)
    return out


def render(runs: list[Run], steady: int, found: dict[str, bool],
           rates: dict[str, dict[str, float | None]]) -> str:
    lines = [f"reconciler scaling — {len(runs)} sizes, {steady} steady cycles each, each size "
             f"in its own process; machine: {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}, {platform.platform()}", "",
             f"{'size':<42} {'phase':<8} {'n':>3} {'calls':>7} {'KB':>10} {'CPU s':>8} "
             f"{'wall s':>8} {'RSS MB':>7} {'decided':>7} {'ksteps':>8}"]
    for run in runs:
        if run.error:
            lines.append(f"{run.label:<42} FAILED: {run.error.splitlines()[-1][:200]}")
            continue
        for phase, p in run.phases.items():
            name = "steady~" if phase == "steady" else phase
            decided = "-" if p["decided"] is None else f"{p['decided']:g}"
            lines.append(
                f"{run.label:<42} {name:<8} {p['n']:>3} {p['calls']:>7g} {p['kb']:>10.1f} "
                f"{p['cpu_s']:>8.3f} {p['wall_s']:>8.3f} {p['peak_rss_mb']:>7.1f} "
                f"{decided:>7} {p['sql_steps'] / 1000:>8.0f}")
        page = (run.report or {}).get("page")
        if page is not None:
            lines.append(f"{run.label:<42} page     first screen {page['median_ms']:.1f} ms "
                         f"server time (median of {len(page['server_ms'])}; max "
                         f"{max(page['server_ms']):.1f}, garbage collection up to "
                         f"{max(page.get('gc_ms') or [0]):.1f})")
    lines += ["settle: summed over its n cycles; steady~: the median of the n steady cycles "
              "(RSS: the highest); decided: requests decided (- : the reconciler does not "
              "say); ksteps: thousands of SQLite VM instructions", ""]
    for name, r in rates.items():
        shown = ", ".join(f"{k} {'-' if v is None else f'{v:.2f}x'}" for k, v in r.items())
        lines.append(f"ratio {name}: {shown}")
    lines.append("")
    lines += [f"  {'PASS' if ok else 'FAIL'}  {name}" for name, ok in found.items()]
    return "\n".join(lines)


def numbers(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def main(args: argparse.Namespace) -> int:
    steady = DEFAULT_STEADY if args.steady_cycles is None else args.steady_cycles
    runs = [Run(requests, min(args.scaling_active, requests), library)
            for requests in numbers(args.scaling_requests)
            for library in numbers(args.scaling_library)]
    for run in runs:
        run_size(args, run, steady)
    found, rates = targets(runs), ratios(runs)
    if args.json:
        print(json.dumps({"scaling": {
            "machine": {"python": platform.python_version(), "platform": platform.platform(),
                        "cpus": os.cpu_count() or 0},
            "steady_cycles": steady, "runs": [r.as_json() for r in runs],
            "ratios": rates, "targets": found}}, indent=2))
    else:
        print(render(runs, steady, found, rates))
    if args.check and not all(found.values()):
        return 1
    return 0
