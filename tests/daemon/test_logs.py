"""The log output an operator reads: JSON lines off a terminal, console lines on one, the
transition's fields under their documented names, and no secret."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from reconciler import logs


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    logs.register_secrets([])
    structlog.reset_defaults()


def _transition() -> None:
    logs.get_logger("reconciler").info(
        "request.transitioned", request_id=7, title="The Matrix", from_="importing",
        to="available", via="jellyfin", detail="playable in Jellyfin")


def test_transition_is_one_json_line_with_from_not_from_underscore_off_a_terminal() -> None:
    out = io.StringIO()
    logs.configure("auto", "info", stream=out)
    _transition()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "request.transitioned"
    assert {k: event[k] for k in ("request_id", "title", "from", "to", "via")} == {
        "request_id": 7, "title": "The Matrix", "from": "importing", "to": "available",
        "via": "jellyfin"}
    assert "from_" not in event
    assert list(event).index("from") < list(event).index("to")  # the order it was logged in


def test_a_terminal_gets_console_lines_not_json() -> None:
    out = _Terminal()
    logs.configure("auto", "info", stream=out)
    _transition()
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # colours, on a terminal
    assert "request.transitioned" in text and "from=importing" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_a_registered_secret_never_reaches_the_output() -> None:
    out = io.StringIO()
    logs.configure("json", "info", stream=out)
    logs.register_secrets(["s3cr3t-api-key"])
    logs.get_logger("reconciler").warning("service.outage_started", service="radarr",
                                          error="GET /api/v3/queue?apikey=s3cr3t-api-key: 500")
    assert "s3cr3t-api-key" not in out.getvalue()
    assert "apikey=***" in out.getvalue()


def test_a_running_reconciler_logs_to_stdout_only_when_asked() -> None:
    import sys

    assert logs.service_stream({}) is sys.stderr
    assert logs.service_stream({logs.STREAM_VARIABLE: "stdout"}) is sys.stdout
    assert logs.service_stream({logs.STREAM_VARIABLE: " STDOUT "}) is sys.stdout
    assert logs.service_stream({logs.STREAM_VARIABLE: "stderr"}) is sys.stderr


def test_with_log_stream_stdout_once_logs_json_there_and_status_json_stays_clean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The container image sets RECONCILER_LOG_STREAM=stdout: `--once` writes its JSON lines
    to stdout; `status --json` still prints nothing but its JSON there."""
    from reconciler.cli import main

    config = tmp_path / "config.toml"
    config.write_text(
        '[reconciler]\ndatabase = "r.db"\nlog_format = "json"\nretry_budget = "1s"\n'
        '[jellyseerr]\nurl = "http://127.0.0.1:9"\napi_key = "k1k1k1"\ntimeout = 1\n'
        '[radarr]\nurl = "http://127.0.0.1:9"\napi_key = "k2k2k2"\ntimeout = 1\n'
        '[jellyfin]\nurl = "http://127.0.0.1:9"\napi_key = "k3k3k3"\ntimeout = 1\n')
    config.chmod(0o644)  # readable by others: a warning is logged by every command
    monkeypatch.setenv(logs.STREAM_VARIABLE, "stdout")
    assert main(["--config", str(config), "--once"]) == 3  # nothing answers on port 9
    out = capsys.readouterr().out
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert "config.warning" in events and "service.outage_started" in events

    assert main(["--config", str(config), "status", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "config.warning" in captured.err
