"""What the operator sees from `status`, `show` and bad arguments: one line, the documented exit
code, no traceback, and a table that fits a terminal."""

from __future__ import annotations

from pathlib import Path

from reconciler.states import RequestState
from reconciler.views import status_table
from tests.conftest import run_reconcile
from tests.daemon.test_httpapi import T0, make_config, movie


def test_status_cuts_long_lines_to_the_terminal_width_and_keeps_them_whole_when_piped() -> None:
    detail = "waiting for Shoko to match the file: Shoko has not recognised " + "x" * 120
    rows = [movie(1, RequestState.ANIME_MATCHING, detail=detail),
            movie(2, RequestState.AVAILABLE, detail="playable in Jellyfin")]
    cut = status_table(rows, T0, width=100).splitlines()
    assert all(len(line) <= 100 for line in cut)
    assert cut[1].endswith("…") and not cut[2].endswith("…")
    assert detail in status_table(rows, T0)


def test_status_without_a_database_says_nothing_is_tracked_yet(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    result = run_reconcile("--config", str(config.path), "status")
    assert (result.code, result.stdout.strip()) == (
        0, "no requests tracked yet (run `reconcile --once`)")
    assert run_reconcile("--config", str(config.path), "status", "--json").json() == []


def test_show_of_an_untracked_id_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    result = run_reconcile("--config", str(config.path), "show", "999")
    assert result.code == 1
    assert result.stderr == "reconcile: no request 999 (no database yet)\n"


def test_bad_arguments_exit_2_with_a_usage_line_and_no_traceback(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    for args in (["show", "abc"], ["frobnicate"], ["status", "--bogus"]):
        result = run_reconcile("--config", str(config.path), *args)
        assert result.code == 2, args
        assert "Traceback" not in result.stderr and "error:" in result.stderr, args


def test_a_missing_config_file_is_named_and_exits_2(tmp_path: Path) -> None:
    result = run_reconcile("--config", str(tmp_path / "nope.toml"), "status")
    assert result.code == 2
    assert result.stderr == (f"reconcile: configuration error: {tmp_path / 'nope.toml'}: "
                             "file not found\n")
