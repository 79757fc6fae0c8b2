"""Secrets: the API keys appear in no log line, exception, database row or file, `status` /
`show` / `doctor` output, or HTTP endpoint response — found by grepping everything a run
produced. A config readable by other users is warned about; so is `verify_tls = false`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_config
from reconciler.httpapi import Metrics, start_http_server
from reconciler.services.radarr import RadarrClient
from simstack import SimulatedStack, World
from tests.conftest import run_reconcile
from tests.reliability.support import KEYS, Scenario, build_scenario, closing, write_config


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with SimulatedStack(World(), api_keys=KEYS) as stack:
        yield build_scenario(stack, tmp_path)


def leaks(text: str | bytes) -> list[str]:
    """The services whose key occurs in `text`."""
    data = text.encode() if isinstance(text, str) else text
    return [name for name, key in KEYS.items() if key.encode() in data]


def http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return f"{response.headers}\n{response.read().decode()}"
    except urllib.error.HTTPError as exc:
        return f"{exc.headers}\n{exc.read().decode()}"


def test_no_api_key_appears_in_anything_a_run_produced(
        scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    produced: list[str] = []

    def run(*args: str) -> None:
        result = scenario.run(*args)
        produced.extend([result.stdout, result.stderr])

    assert all(key in scenario.config.read_text() for key in KEYS.values())
    run("--once")
    scenario.reveal("radarr")
    run("--once")
    for service in KEYS:  # every key refused: each error names the key's setting, not its value
        scenario.stack.set_fault(service, "unauthorized")
    run("--once")
    scenario.stack.clear_fault()
    scenario.stack.set_fault("jellyfin", "html_login")
    scenario.stack.set_fault("radarr", "malformed_json")
    scenario.stack.set_fault("sonarr", "huge", size_mb=6)
    run("--once")
    scenario.stack.clear_fault()

    # An exception whose message carries a key (as a careless library's might): the traceback
    # in the log and the poll row's error must not.
    async def careless(self: RadarrClient, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"request failed; headers: X-Api-Key={self.config.api_key}")

    monkeypatch.setattr(RadarrClient, "queue", careless)
    run("--once")
    monkeypatch.undo()
    run("--once")
    run("doctor")
    run("status")
    run("status", "--json")
    for request_id in scenario.ids.values():
        run("show", str(request_id))
        run("show", str(request_id), "--json")
    # A broken config is reported without echoing its values.
    broken = scenario.directory / "broken.toml"
    broken.write_text(scenario.config.read_text().replace("timeout = 10.0", "timeout = []", 1)
                      .replace('"\n[radarr]', '" oops\n[radarr]', 1))
    result = run_reconcile("--config", str(broken), "--once")
    assert result.code == 2
    produced += [result.stdout, result.stderr]

    config = load_config(scenario.config)
    server = start_http_server(lambda: config, Metrics(), "127.0.0.1:0")
    try:
        for endpoint in ("/healthz", "/metrics", "/api/requests", "/nowhere",
                         *(f"/api/requests/{rid}" for rid in scenario.ids.values())):
            produced.append(http_get(server.url + endpoint))
    finally:
        server.stop()

    haystack = "\n".join(produced)
    # The haystack really holds what was asked for: logs, errors, traceback, states, endpoints.
    for needle in ("request.transitioned", "the API key was refused; check [radarr] api_key",
                   "Traceback", "reconciler_requests", "download_done", "Breaking Bad"):
        assert needle in haystack, needle
    assert leaks(haystack) == []
    with closing(scenario.database) as conn:
        dump = "\n".join(conn.iterdump())
        assert "***" in conn.execute("SELECT group_concat(error) FROM polls").fetchone()[0]
    assert leaks(dump) == []
    for path in scenario.directory.iterdir():  # the database, its WAL, the lock file
        if path.suffix != ".toml" and path.is_file():
            assert leaks(path.read_bytes()) == [], path.name


def test_a_config_file_readable_by_others_is_warned_about_and_a_private_one_is_not(
        scenario: Scenario) -> None:
    scenario.config.chmod(0o644)
    warned = scenario.run("status")
    assert "readable by other users; run: chmod 600" in warned.stderr
    scenario.config.chmod(0o600)
    assert "readable by other users" not in scenario.run("status").stderr


def test_keys_in_files_of_their_own_leave_a_readable_config_unwarned(
        scenario: Scenario) -> None:
    text = scenario.config.read_text()
    for name, key in KEYS.items():
        key_file = scenario.directory / f"{name}.key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        text = text.replace(f'api_key = "{key}"', f'api_key_file = "{key_file}"')
    scenario.config.write_text(text)
    scenario.config.chmod(0o644)
    result = scenario.run("--once")
    assert result.code == 0, result.stderr
    assert "readable by other users" not in result.stderr


def test_tls_verification_is_on_unless_a_service_opts_out_with_a_warning(
        scenario: Scenario) -> None:
    assert all(s.verify_tls for s in load_config(scenario.config).services.values())
    config = write_config(scenario.stack, scenario.directory,
                          service_extra={"radarr": "verify_tls = false"})
    assert not load_config(config).services["radarr"].verify_tls
    result = scenario.run("status")
    warnings = [json.loads(line) for line in result.stderr.splitlines()
                if '"config.warning"' in line]
    assert [w["message"] for w in warnings] == [
        "[radarr] verify_tls = false: TLS certificates are not checked"]
