"""The soak's quick variant, so it cannot rot: a few simulated days of hourly cycles with a
one-day poll retention. The poll records stop growing once they reach the retention, the other
tables stay flat, and no request changes state after the first cycle."""

from __future__ import annotations

from pathlib import Path

from bench.soak import run_soak

SERVICES = 5


def test_a_few_simulated_days_keep_the_poll_records_bounded(tmp_path: Path) -> None:
    report = run_soak(tmp_path, days=4, step_s=3600, requests=20, library=400,
                      checkpoints=(2, 4), retain='retain_polls = "1d"')
    day2, day4 = report.checkpoints[2], report.checkpoints[4]
    assert report.cycles == 4 * 24 + 1 and report.failed_cycles == 0
    # A day of hourly polls of five services, plus the few kept for watermarks and /healthz.
    for sample in (day2, day4):
        assert 24 * SERVICES <= sample.rows["polls"] <= 25 * SERVICES + 4 * SERVICES, sample.rows
    assert day4.rows["polls"] == day2.rows["polls"]
    assert day4.rows["timeline"] == day2.rows["timeline"] == 20  # only the first states
    for table in ("requests", "observations", "episodes", "meta"):
        assert day4.rows[table] == day2.rows[table], table
    assert abs(day4.rows["jellyfin_items"] - day2.rows["jellyfin_items"]) <= 10
    as_json = report.as_json()["soak"]
    assert set(as_json) == {"days", "step_s", "rows_day2", "rows_day4", "db_mb_day2",
                            "db_mb_day4", "rss_mb_day2", "rss_mb_day4"}
