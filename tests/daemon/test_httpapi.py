"""The HTTP endpoint against a database filled directly: health, Prometheus metrics, and the
same JSON as `status --json` / `show --json`; read-only, and never a secret."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.config import Config, load_config
from reconciler.httpapi import HttpApi, HttpServer, Metrics, health, start_http_server
from reconciler.models import MediaType
from reconciler.results import CycleResult, PollOutcome, Transition
from reconciler.states import RequestState
from reconciler.store import RequestRow, Store
from reconciler.views import request_json, show_json
from tests.daemon.daemon_support import Clock

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEYS = {"jellyseerr": "seerr-secret-0001", "radarr": "radarr-secret-0002",
        "jellyfin": "jellyfin-secret-0003"}


def make_config(tmp_path: Path) -> Config:
    text = f"""
[reconciler]
database = "{tmp_path / 'reconciler.db'}"
active_poll_interval = 10

[jellyseerr]
url = "http://127.0.0.1:5055"
api_key = "{KEYS['jellyseerr']}"
poll_interval = "60s"

[radarr]
url = "http://127.0.0.1:7878"
api_key = "{KEYS['radarr']}"
poll_interval = 30

[jellyfin]
url = "http://127.0.0.1:8096"
api_key = "{KEYS['jellyfin']}"
poll_interval = 30

[http]
listen = "127.0.0.1:9105"
"""
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return load_config(path)


def movie(rid: int, state: RequestState, **fields: object) -> RequestRow:
    base = RequestRow(
        id=rid, media_type=MediaType.MOVIE, title=f"Film {rid}", tmdb_id=1000 + rid, tvdb_id=None,
        is4k=False, is_anime=False, seerr_status=2, seasons=[], radarr_movie_id=rid,
        sonarr_series_id=None, jellyfin_item_id=None, jellyfin_key=None, shoko_ids={},
        state=state, state_since=T0, via="radarr", detail=state.value, progress=None,
        phase=None, phase_since=None, progress_since=None, stuck_reason=None, stuck_since=None,
        episodes_available=None, episodes_aired=None, absent_count=0, created_at=None,
        updated_at=None,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def filled(config: Config) -> Iterator[Store]:
    store = Store.open(config.database)
    with store.transaction():
        store.save_request(movie(1, RequestState.AVAILABLE), None)
        store.save_request(movie(2, RequestState.DOWNLOADING, stuck_reason="no progress for 3 h",
                                 stuck_since=T0), None)
        store.save_request(movie(3, RequestState.APPROVED), None)
        store.add_timeline(1, T0, None, "approved", "radarr", "approved")
        store.add_timeline(1, T0, "approved", "available", "jellyfin", "playable")
        for name in ("jellyseerr", "radarr", "jellyfin"):
            store.record_poll(name, T0 - timedelta(seconds=1), T0, True, None, 3, 100)
    yield store
    store.close()


def test_healthy_when_every_service_polled_within_three_intervals(config: Config,
                                                                  filled: Store) -> None:
    ok, data = health(config, filled, T0 + timedelta(seconds=80))
    assert ok and data["status"] == "ok" and data["behind"] == []


def test_unhealthy_names_the_service_behind(config: Config, filled: Store) -> None:
    # radarr/jellyfin: 30 s intervals (idle pace 30 s, active 10 s) -> 90 s allowed.
    with filled.transaction():
        filled.record_poll("radarr", T0 + timedelta(seconds=50), T0 + timedelta(seconds=51),
                           False, "radarr: cannot reach http://127.0.0.1:7878", 1, 0)
    ok, data = health(config, filled, T0 + timedelta(seconds=100))
    assert not ok
    assert data["behind"] == ["radarr", "jellyfin"]
    assert "last successful poll 100 s ago (limit 90 s)" in data["services"]["radarr"]["behind"]
    assert data["services"]["radarr"]["last_error"].startswith("radarr: cannot reach")
    assert data["services"]["jellyseerr"]["ok"]  # 60 s interval: 180 s allowed


def test_sub_second_intervals_are_healthy_a_second_after_a_successful_poll(
        tmp_path: Path, filled: Store) -> None:
    # The demo polls every 0.2 s; polls are stored in whole seconds, so 3 x 0.2 s would read
    # "last successful poll 1 s ago (limit 0 s)" right after a good poll.
    text = make_config(tmp_path).path.read_text()
    fast = text.replace("poll_interval = 30", "poll_interval = 0.2").replace(
        'poll_interval = "60s"', "poll_interval = 0.4").replace(
        "active_poll_interval = 10", "active_poll_interval = 0.2")
    (tmp_path / "config.toml").write_text(fast)
    config = load_config(tmp_path / "config.toml")
    ok, data = health(config, filled, T0 + timedelta(seconds=1))
    assert ok, data
    ok, data = health(config, filled, T0 + timedelta(seconds=11))
    assert not ok and "(limit 10 s)" in data["services"]["radarr"]["behind"]


def test_no_database_is_unhealthy(config: Config) -> None:
    ok, data = health(config, None, T0)
    assert not ok and set(data["behind"]) == {"jellyseerr", "radarr", "jellyfin"}


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


@pytest.fixture
def server(config: Config, filled: Store) -> Iterator[tuple[HttpServer, Metrics, Clock]]:
    metrics = Metrics()
    metrics.know_services(list(config.services))
    clock = Clock(T0 + timedelta(seconds=5))
    srv = HttpServer("127.0.0.1", 0, HttpApi(lambda: config, metrics, clock))
    srv.start()
    yield srv, metrics, clock
    srv.stop()


def test_endpoints_over_http(config: Config, filled: Store,
                             server: tuple[HttpServer, Metrics, Clock]) -> None:
    srv, _, clock = server
    status, ctype, body = get(srv.url + "/healthz")
    assert status == 200 and ctype == "application/json"
    assert json.loads(body)["status"] == "ok"
    clock.advance(seconds=600)
    status, _, body = get(srv.url + "/healthz")
    assert status == 503
    assert json.loads(body)["behind"] == ["jellyseerr", "radarr", "jellyfin"]

    status, _, body = get(srv.url + "/api/requests")
    assert status == 200
    assert json.loads(body) == [json.loads(json.dumps(request_json(r)))
                                for r in filled.requests()]
    status, _, body = get(srv.url + "/api/requests/1")
    row = filled.request(1)
    assert row is not None
    assert status == 200 and json.loads(body) == json.loads(json.dumps(show_json(filled, row)))
    assert json.loads(body)["request"]["stuck"] is False
    assert json.loads(get(srv.url + "/api/requests/2")[2])["request"]["stuck_reason"] == \
        "no progress for 3 h"
    status, _, body = get(srv.url + "/api/requests/99")
    assert status == 404 and json.loads(body) == {"error": "no request 99 is tracked"}
    assert get(srv.url + "/nowhere")[0] == 404


def test_metrics_in_prometheus_text_format(config: Config, filled: Store,
                                           server: tuple[HttpServer, Metrics, Clock]) -> None:
    srv, metrics, _ = server
    polls = {
        "radarr": PollOutcome("radarr", ok=False, error="down", calls=2, started=T0,
                              finished=T0 + timedelta(seconds=1.5)),
        "jellyfin": PollOutcome("jellyfin", ok=True, calls=4, started=T0,
                                finished=T0 + timedelta(seconds=0.2)),
    }
    moved = [Transition(3, "approved", "downloading", "radarr")]
    metrics.record_cycle(CycleResult(polls, moved, 0, []))
    status, ctype, raw = get(srv.url + "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    values = samples(raw.decode())
    assert values["reconciler_requests", ("state", "available")] == 1
    assert values["reconciler_requests", ("state", "downloading")] == 1
    assert values["reconciler_requests", ("state", "failed")] == 0
    assert values["reconciler_stuck_requests", ()] == 1
    assert values["reconciler_poll_errors_total", ("service", "radarr")] == 1
    assert values["reconciler_poll_errors_total", ("service", "jellyseerr")] == 0
    assert values["reconciler_http_calls_total", ("service", "jellyfin")] == 4
    assert values["reconciler_poll_duration_seconds_count", ("service", "radarr")] == 1
    assert values["reconciler_poll_duration_seconds_sum", ("service", "radarr")] == 1.5
    assert values["reconciler_last_successful_poll_timestamp_seconds",
                  ("service", "jellyfin")] == T0.timestamp()
    assert values["reconciler_transitions_total", ("to", "downloading")] == 1


def samples(text: str) -> dict[tuple[str, tuple[str, ...]], float]:
    """Every sample of a Prometheus text exposition, keyed by name and flattened labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = tuple(x for kv in sorted(s.labels.items()) for x in kv)
            out[s.name, labels] = s.value
    return out


def test_read_only_and_no_secrets(config: Config, filled: Store,
                                  server: tuple[HttpServer, Metrics, Clock]) -> None:
    srv, _, _ = server
    request = urllib.request.Request(srv.url + "/api/requests/1", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=5)
    assert err.value.code == 405
    for path in ("/healthz", "/metrics", "/api/requests", "/api/requests/1"):
        body = get(srv.url + path)[2].decode()
        assert not any(key in body for key in KEYS.values()), path
    assert filled.request(1) is not None


def test_start_http_server_binds_the_configured_address(config: Config, filled: Store) -> None:
    srv = start_http_server(lambda: config, Metrics(), "127.0.0.1:0")
    try:
        assert srv.url.startswith("http://127.0.0.1:") and srv.port > 0
        assert get(srv.url + "/api/requests")[0] == 200
    finally:
        srv.stop()


def test_health_and_metrics_name_plex_when_it_is_the_media_server(tmp_path: Path) -> None:
    """With [plex] instead of [jellyfin], /healthz and /metrics name the service `plex`: the
    media server's poll is an entry like any other."""
    path = tmp_path / "config.toml"
    path.write_text(make_config(tmp_path).path.read_text().replace(
        f'[jellyfin]\nurl = "http://127.0.0.1:8096"\napi_key = "{KEYS["jellyfin"]}"',
        '[plex]\nurl = "http://127.0.0.1:32400"\ntoken = "plex-secret-0004"'))
    config = load_config(path)
    store = Store.open(config.database)
    try:
        with store.transaction():
            for name in ("jellyseerr", "radarr"):
                store.record_poll(name, T0 - timedelta(seconds=1), T0, True, None, 3, 100)
            store.record_poll("plex", T0 - timedelta(seconds=1), T0, False,
                              "plex: cannot reach http://127.0.0.1:32400", 1, 0)
        ok, data = health(config, store, T0 + timedelta(seconds=80))
    finally:
        store.close()
    assert not ok
    assert set(data["services"]) == {"jellyseerr", "radarr", "plex"}
    assert data["behind"] == ["plex"]
    assert data["services"]["plex"]["last_error"].startswith("plex: cannot reach")
    metrics = Metrics()
    metrics.know_services(list(config.services))
    metrics.record_cycle(CycleResult({"plex": PollOutcome(service="plex", ok=True, started=T0,
                                                          finished=T0, calls=7, bytes=10)},
                                     [], 0, []))
    text = generate_latest(metrics.registry).decode()
    assert 'service="plex"' in text and 'service="jellyfin"' not in text
