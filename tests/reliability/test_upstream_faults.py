"""Upstream faults, each injected into one fake service on 127.0.0.1 while the real
`reconcile --once` runs: the failed service is *unknown*, so no request that depends on it moves;
the other services are still polled and reconciled; the poll row records the error; the exit code
is 3; and the next healthy cycle recovers on its own.

Every fault kind is tried against Jellyfin (whose word makes a request available) and the ones
that could pass for an empty listing against Jellyseerr (whose listing decides deletions). The
HTTP layer is shared, so Radarr, Sonarr and Shoko get a refused connection each; every service
gets every wrong JSON shape, since each parses its own payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from tests.reliability.support import (
    EXPECTED,
    KEYS,
    REVEALED,
    Scenario,
    build_scenario,
    settled_calls,
)

# fault id -> (simulator fault kind, options). Waiting faults outlast the failing service's
# timeout (0.5 s; healthy services keep 10 s).
TRANSPORT_FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "connection_refused": ("refuse", {}),
    "connection_reset": ("reset", {}),
    "slow_headers": ("slow_headers", {"seconds": 3.0}),
    "slow_body": ("slow_body", {"seconds": 3.0, "chunks": 60}),
    "http_500": ("status", {"code": 500}),
    "http_502": ("status", {"code": 502}),
    "http_503": ("status", {"code": 503}),
    "http_429_retry_after": ("status", {"code": 429, "retry_after": 30}),
    "wrong_api_key": ("unauthorized", {}),
    "html_login_page_200": ("html_login", {}),
    "truncated_json": ("truncated_json", {"mode": "body"}),
    "truncated_connection": ("truncated_json", {"mode": "connection"}),
    "malformed_json": ("malformed_json", {}),
    "huge_response": ("huge", {"size_mb": 6}),
}
SHAPES = ("swap", "missing_fields", "null_ids", "unknown_enum", "empty_object", "null")
SEERR_FAULTS = ("connection_refused", "slow_body", "http_429_retry_after", "html_login_page_200",
                "truncated_connection", "huge_response")
SERVICES = ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin")

# While one service fails, a change another one reveals still moves its request.
BYSTANDER = {"radarr": "sonarr", "sonarr": "radarr", "shoko": "radarr"}


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with SimulatedStack(World(), api_keys=KEYS) as stack:
        sc = build_scenario(stack, tmp_path)
        first = sc.once()
        assert first.code == 0, first.stderr
        assert sc.states() == EXPECTED
        yield sc


def reveal_changes(scenario: Scenario, service: str) -> tuple[str, str | None]:
    """Make the failing service hide a change, and a healthy bystander reveal one."""
    revealed = scenario.reveal(service)
    bystander = BYSTANDER.get(service)
    return revealed, scenario.reveal(bystander) if bystander else None


def cycle_with_fault(scenario: Scenario, service: str, kind: str, options: dict[str, Any], *,
                     cycles: int, moved: str | None) -> None:
    """Run `cycles` cycles with the fault on; check exit 3, held states, the poll rows."""
    timeline_before = scenario.timeline_rows()
    held = dict(EXPECTED)
    if moved is not None:
        held[moved] = REVEALED[BYSTANDER[service]]
    scenario.make_slow_to_fail(service)
    scenario.stack.set_fault(service, kind, **options)
    try:
        for _ in range(cycles):
            polls_before = scenario.last_polls()
            result = scenario.once()
            assert result.code == 3, result.stderr
            assert scenario.states() == held
            polls = scenario.last_polls()
            poll_id, ok, error = polls[service]
            assert poll_id > polls_before[service][0] and ok == 0
            assert error, "the poll row must say what went wrong"
            assert not error.startswith("unexpected error"), error
            for other, (other_id, other_ok, other_error) in polls.items():
                if other != service:
                    assert other_id > polls_before[other][0], f"{other} was not polled"
                    assert other_ok == 1, f"{other} failed too: {other_error}"
            if moved is None:
                assert scenario.timeline_rows() == timeline_before
    finally:
        scenario.stack.clear_fault(service)
        scenario.make_slow_to_fail(None)


def assert_recovers(scenario: Scenario, service: str, revealed: str, moved: str | None) -> None:
    result = scenario.once()
    assert result.code == 0, result.stderr
    states = scenario.states()
    assert states[revealed] == REVEALED[service]
    assert scenario.last_polls()[service][1] == 1
    rest = {k: v for k, v in states.items() if k not in (revealed, moved)}
    assert rest == {k: v for k, v in EXPECTED.items() if k not in (revealed, moved)}


@pytest.mark.parametrize("fault", list(TRANSPORT_FAULTS))
def test_a_jellyfin_fault_moves_nothing_even_twice_and_the_next_cycle_recovers(
        scenario: Scenario, fault: str) -> None:
    kind, options = TRANSPORT_FAULTS[fault]
    revealed, moved = reveal_changes(scenario, "jellyfin")
    cycle_with_fault(scenario, "jellyfin", kind, options, cycles=2, moved=moved)
    assert_recovers(scenario, "jellyfin", revealed, moved)


@pytest.mark.parametrize("fault", SEERR_FAULTS)
def test_a_jellyseerr_fault_moves_nothing_even_twice_and_the_next_cycle_recovers(
        scenario: Scenario, fault: str) -> None:
    kind, options = TRANSPORT_FAULTS[fault]
    revealed, moved = reveal_changes(scenario, "jellyseerr")
    cycle_with_fault(scenario, "jellyseerr", kind, options, cycles=2, moved=moved)
    assert_recovers(scenario, "jellyseerr", revealed, moved)


@pytest.mark.parametrize("service", ["radarr", "sonarr", "shoko"])
def test_a_refused_service_holds_its_requests_while_the_others_still_move(
        scenario: Scenario, service: str) -> None:
    revealed, moved = reveal_changes(scenario, service)
    assert moved is not None
    cycle_with_fault(scenario, service, "refuse", {}, cycles=1, moved=moved)
    assert_recovers(scenario, service, revealed, moved)


@pytest.mark.parametrize("service", SERVICES)
def test_json_of_the_wrong_shape_makes_the_service_unknown_never_empty(
        scenario: Scenario, service: str) -> None:
    """Each variant in turn (a list for an object, ids missing or null, unknown enum values,
    `{}`, `null`): each cycle fails and holds; then one healthy cycle recovers."""
    revealed, moved = reveal_changes(scenario, service)
    cycles = 2 if service in ("jellyseerr", "jellyfin") else 1
    # Shoko's payloads carry no enum that reconciler reads: that variant leaves them valid.
    for variant in [v for v in SHAPES if not (service == "shoko" and v == "unknown_enum")]:
        try:
            cycle_with_fault(scenario, service, "wrong_shape", {"variant": variant},
                             cycles=cycles, moved=moved)
        except AssertionError as exc:
            raise AssertionError(f"wrong_shape {variant!r} from {service}: {exc}") from exc
    assert_recovers(scenario, service, revealed, moved)


def test_a_refused_key_logs_one_line_naming_the_service_and_its_setting_without_retrying(
        scenario: Scenario) -> None:
    config = scenario.config
    config.write_text(config.read_text().replace('log_level = "debug"', 'log_level = "info"'))
    for service in SERVICES:
        scenario.stack.set_fault(service, "unauthorized")
    scenario.stack.reset_stats()
    result = scenario.once()
    assert result.code == 3
    assert scenario.states() == EXPECTED
    for service in SERVICES:
        lines = [line for line in result.stderr.splitlines() if f"[{service}] api_key" in line]
        assert len(lines) == 1, result.stderr
        event = json.loads(lines[0])
        assert (event["level"], event["service"]) == ("warning", service)
        assert event["error"].startswith(("HTTP 401: the API key was refused",
                                          "HTTP 403: the API key was refused"))
        assert settled_calls(scenario.stack, service) == 1, f"{service} was called again"
        assert "api_key" in (scenario.last_polls()[service][2] or "")
