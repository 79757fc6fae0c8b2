"""Several Radarr/Sonarr servers (issue 16): the configuration contract, the routing rule
(`core.route`) and which copy a Jellyfin item plays (`core.plays_copy`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import core
from reconciler.config import load_config
from reconciler.errors import ConfigError
from reconciler.models import JellyfinItem, MediaType, SeerrArrServer, SeerrRequest

BASE = """
[jellyseerr]
url = "http://127.0.0.1:5055"
api_key = "k"

[jellyfin]
url = "http://127.0.0.1:8096"
api_key = "k"
"""

TWO_RADARRS = BASE + """
[[radarr]]
url = "http://127.0.0.1:7878"
api_key = "hd"

[[radarr]]
name = "radarr4k"
url = "http://127.0.0.1:7879/4k/"
is4k = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_array_tables_give_one_service_per_server_with_its_name_quality_and_env_key(
        tmp_path: Path) -> None:
    config = load_config(write(tmp_path, TWO_RADARRS),
                         {"RECONCILER_RADARR4K_API_KEY": "from-env"})
    assert list(config.services) == ["jellyseerr", "radarr", "radarr4k", "jellyfin"]
    hd, uhd = config.servers("radarr")
    assert (hd.name, hd.kind, hd.is4k, hd.default, hd.api_key) == (
        "radarr", "radarr", False, True, "hd")
    assert (uhd.name, uhd.kind, uhd.is4k, uhd.default, uhd.api_key) == (
        "radarr4k", "radarr", True, True, "from-env")
    assert uhd.url == "http://127.0.0.1:7879/4k"
    assert config.poll_interval("radarr4k", active=True) == 10.0  # follows downloads
    assert "from-env" in config.secrets()


def test_a_single_table_keeps_working(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + '[radarr]\nurl = "http://r:7878"\n'
                                                'api_key = "x"\n'))
    (radarr,) = config.servers("radarr")
    assert (radarr.name, radarr.kind, radarr.is4k, radarr.default) == (
        "radarr", "radarr", False, True)


@pytest.mark.parametrize(("extra", "message"), [
    ('[[radarr]]\nurl = "http://a:1"\napi_key = "a"\n[[radarr]]\nurl = "http://b:1"\n'
     'api_key = "b"\n',
     '[[radarr]] #2 (name "radarr") name: "radarr" is already the name of [[radarr]] #1'),
    ('[[radarr]]\nname = "sonarr"\nurl = "http://a:1"\napi_key = "a"\n',
     '[[radarr]] #1 (name "sonarr") name: "sonarr" is already the name of the [sonarr]'),
    ('[[radarr]]\nname = "a"\nurl = "http://a:1"\napi_key = "a"\ndefault = true\n'
     '[[radarr]]\nname = "b"\nurl = "http://b:1"\napi_key = "b"\ndefault = true\n',
     '[[radarr]] #2 (name "b") default: "a" is already the default HD radarr server'),
    ('[[radarr]]\nname = "a b"\nurl = "http://a:1"\napi_key = "a"\n',
     "[[radarr]] #1 name: must be 1-40 letters"),
    ('[[radarr]]\nname = "a"\nurl = "http://a:1"\napi_key = "a"\nseerr_server_id = -1\n',
     "[[radarr]] #1 seerr_server_id:"),
    ('[[radarr]]\nname = "a4k"\nurl = "http://a:1"\n',
     '[[radarr]] #1 (name "a4k") api_key: missing (set api_key, api_key_file, or '
     'RECONCILER_A4K_API_KEY)'),
])
def test_configuration_errors_name_the_file_the_server_and_the_key(
        tmp_path: Path, extra: str, message: str) -> None:
    path = write(tmp_path, BASE + extra)
    with pytest.raises(ConfigError) as err:
        load_config(path, {})
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_an_explicit_default_wins_over_the_first_of_its_quality(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, BASE + """
[[sonarr]]
url = "http://a:1"
api_key = "a"
[[sonarr]]
name = "anime"
url = "http://b:1"
api_key = "b"
default = true
"""))
    assert [(s.name, s.default) for s in config.servers("sonarr")] == [
        ("sonarr", False), ("anime", True)]


# ---------------------------------------------------------------- routing

SERVERS = [
    core.ArrServer("radarr", "radarr", "http://127.0.0.1:7878", default=True),
    core.ArrServer("radarr4k", "radarr", "http://127.0.0.1:7879/4k", is4k=True, default=True),
    core.ArrServer("anime", "sonarr", "http://127.0.0.1:8990", seerr_server_id=3),
    core.ArrServer("sonarr", "sonarr", "http://127.0.0.1:8989", default=True),
]
SETTINGS = [
    SeerrArrServer(0, "Radarr", False, True, "127.0.0.1", 7878),
    SeerrArrServer(1, "Radarr 4K", True, True, "127.0.0.1", 7879, "/4k/"),
    SeerrArrServer(2, "Radarr Kids", False, False, "kids", 7878),
]


def film(server_id: int | None = None, is4k: bool = False) -> SeerrRequest:
    return SeerrRequest(1, MediaType.MOVIE, 2, 603, None, is4k=is4k, server_id=server_id)


def test_a_request_goes_to_the_server_jellyseerr_names_by_id_or_by_its_address() -> None:
    assert core.route(film(1, is4k=True), SERVERS, SETTINGS) == core.Route("radarr4k")
    assert core.route(film(0), SERVERS, SETTINGS) == core.Route("radarr")
    show = SeerrRequest(2, MediaType.TV, 2, 1, 2, server_id=3)
    assert core.route(show, SERVERS, None) == core.Route("anime")  # by seerr_server_id


def test_a_request_naming_no_server_goes_to_the_default_of_its_quality() -> None:
    assert core.route(film(None, is4k=True), SERVERS, None).server == "radarr4k"
    assert core.route(film(None), SERVERS, None).server == "radarr"
    assert core.route(SeerrRequest(3, MediaType.TV, 2, 1, 2), SERVERS, None).server == "sonarr"


def test_a_request_sent_to_an_unconfigured_server_is_tracked_on_none() -> None:
    route = core.route(film(2), SERVERS, SETTINGS)
    assert route == core.Route(None, "sent to Radarr server 'Radarr Kids' (id 2), which "
                                     "reconciler is not configured for (configure it, or set "
                                     "its seerr_server_id = 2)")
    assert core.route(film(7), SERVERS, SETTINGS).detail == (
        "sent to Radarr server id 7, which Jellyseerr's settings no longer list")
    waiting = core.route(film(2), SERVERS, None)
    assert waiting.server is None and "waiting for Jellyseerr's server settings" in (
        waiting.detail or "")
    only_hd = [SERVERS[0]]
    assert core.route(film(None, is4k=True), only_hd, None).detail == (
        "a 4K request, and reconciler is configured for no 4K Radarr server")


def test_one_server_of_the_quality_needs_no_settings_several_do() -> None:
    only_hd = [SERVERS[0]]
    assert not core.needs_seerr_servers([core.route_case(film(0))], only_hd)
    assert core.route(film(0), only_hd, None) == core.Route("radarr")
    assert core.needs_seerr_servers([core.route_case(film(1, is4k=True))], only_hd)
    assert core.needs_seerr_servers([core.route_case(film(0))], SERVERS)
    assert not core.needs_seerr_servers([core.route_case(film(None))], only_hd)
    # Naming no server, Seerr's default decides (issue 22): with several, its settings count.
    assert core.needs_seerr_servers([core.route_case(film(None))], SERVERS)
    show = SeerrRequest(2, MediaType.TV, 2, 1, 2, server_id=None, service_id=3)
    # Its media names the anime server.
    assert not core.needs_seerr_servers([core.route_case(show)], SERVERS)


# Two HD Radarr servers whose defaults differ: reconciler's is "main", Seerr's is "kids".
TWO_HD = [
    core.ArrServer("main", "radarr", "http://main:7878", default=True),
    core.ArrServer("kids", "radarr", "http://kids:7878"),
]
TWO_HD_SETTINGS = [
    SeerrArrServer(0, "Main", False, False, "main", 7878),
    SeerrArrServer(1, "Kids", False, True, "kids", 7878),
]


def unnamed(*, service_id: int | None = None, is4k: bool = False,
            service_id_4k: int | None = None) -> SeerrRequest:
    """A request naming no server (`serverId` null: a regular user's), as Seerr lists it."""
    return SeerrRequest(1, MediaType.MOVIE, 2, 603, None, is4k=is4k, server_id=None,
                        service_id=service_id, service_id_4k=service_id_4k)


@pytest.mark.parametrize(("request_", "settings", "server"), [
    pytest.param(unnamed(), TWO_HD_SETTINGS, "kids", id="seerr-default-of-the-quality"),
    pytest.param(unnamed(service_id=0), TWO_HD_SETTINGS, "main",
                 id="the-server-seerr-recorded-on-the-media"),
    pytest.param(unnamed(service_id=1), None, None,
                 id="recorded-server-waits-for-the-settings"),
    pytest.param(unnamed(), None, "main", id="own-default-only-without-seerr-settings"),
    pytest.param(unnamed(is4k=True, service_id=0), TWO_HD_SETTINGS, None,
                 id="a-4k-request-reads-serviceId4k-not-serviceId"),
])
def test_a_request_naming_no_server_goes_where_seerr_sent_it(
        request_: SeerrRequest, settings: list[SeerrArrServer] | None,
        server: str | None) -> None:
    assert core.route(request_, TWO_HD, settings).server == server


def test_seerr_default_on_a_server_reconciler_is_not_configured_for_is_tracked_on_none() -> None:
    settings = [*TWO_HD_SETTINGS[:1], SeerrArrServer(1, "Other", False, True, "other", 7878)]
    route = core.route(unnamed(), TWO_HD, settings)
    assert route == core.Route(None, "sent to Radarr server 'Other' (id 1, Jellyseerr's "
                                     "default), which reconciler is not configured for "
                                     "(configure it, or set its seerr_server_id = 1)")
    # Seerr has no default of that quality (it would not send it): reconciler's own.
    no_default = [SeerrArrServer(0, "Main", False, False, "main", 7878)]
    assert core.route(unnamed(), TWO_HD, no_default).server == "main"


# ---------------------------------------------------------------- which copy


def item(*widths: int, type_: str = "Movie") -> JellyfinItem:
    return JellyfinItem("i", type_, "x", "FileSystem", path="/m.mkv", video_widths=widths)


def test_a_4k_request_needs_a_4k_version_and_an_hd_request_an_hd_one() -> None:
    assert core.plays_copy(item(3840), is4k=True)
    assert core.plays_copy(item(1920, 3840), is4k=True)  # a 4K version of the item
    assert not core.plays_copy(item(1920), is4k=True)
    assert not core.plays_copy(item(), is4k=True)  # widths unknown: not 4K
    assert not core.plays_copy(item(3840), is4k=False)  # the 4K copy is not the HD one
    assert core.plays_copy(item(), is4k=False)
    assert core.plays_copy(item(2560), is4k=False)
    assert core.plays_copy(item(type_="Series"), is4k=True)


def test_healthz_names_each_server_and_a_failing_one_is_named(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from reconciler.httpapi import health
    from reconciler.store import Store

    config = load_config(write(tmp_path, TWO_RADARRS), {"RECONCILER_RADARR4K_API_KEY": "k"})
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    store = Store.open(tmp_path / "r.db")
    try:
        for name in config.services:
            store.record_poll(name, now, now, name != "radarr4k",
                              "HTTP 503" if name == "radarr4k" else None, 1, 10)
        healthy, body = health(config, store, now)
    finally:
        store.close()
    assert not healthy
    assert body["services"]["radarr"]["ok"] is True
    entry = body["services"]["radarr4k"]
    assert (entry["ok"], entry["kind"], entry["last_error"]) == (False, "radarr", "HTTP 503")
    assert "kind" not in body["services"]["radarr"]


def test_without_a_width_the_4k_server_s_file_tells_the_4k_copy() -> None:
    unprobed = JellyfinItem("i", "Movie", "x", "FileSystem",
                            path="/media/movies4k/The Matrix (1999)/The Matrix.mkv",
                            video_widths=(0,))
    files_4k = ["/data/movies4k/The Matrix (1999)/The Matrix.mkv"]
    assert core.plays_copy(unprobed, is4k=True, files_4k=files_4k)
    assert not core.plays_copy(unprobed, is4k=False, files_4k=files_4k)
    other = ["/data/movies4k/Other (1999)/The Matrix.mkv"]
    assert not core.plays_copy(unprobed, is4k=True, files_4k=other)
    assert core.plays_copy(unprobed, is4k=False, files_4k=other)
    # A known width decides, whatever the path.
    assert not core.plays_copy(item(1920), is4k=True, files_4k=["/m.mkv"])


def test_the_index_keeps_each_item_s_video_widths_and_a_changed_width_is_rewritten(
        tmp_path: Path) -> None:
    from reconciler.store import Store

    store = Store.open(tmp_path / "r.db")
    try:
        movie = JellyfinItem("m", "Movie", "x", "FileSystem", path="/m.mkv",
                             provider_ids={"Tmdb": "603"}, video_widths=(1920, 3840))
        assert store.items.index([movie]) == 1
        assert store.items.index([movie]) == 0  # unchanged: nothing written
        assert store.items.by_ids(["m"])[0].video_widths == (1920, 3840)
        assert store.items.index([JellyfinItem("m", "Movie", "x", "FileSystem", path="/m.mkv",
                                               provider_ids={"Tmdb": "603"},
                                               video_widths=(1920,))]) == 1
        assert store.items.by_ids(["m"])[0].video_widths == (1920,)
        columns = {r[1] for r in store.conn.execute("PRAGMA table_info(requests)")}
        assert "server" in columns
    finally:
        store.close()


def test_metrics_label_each_server_by_its_name(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from prometheus_client.exposition import generate_latest

    from reconciler.httpapi import Metrics
    from reconciler.results import CycleResult, PollOutcome

    config = load_config(write(tmp_path, TWO_RADARRS), {"RECONCILER_RADARR4K_API_KEY": "k"})
    metrics = Metrics()
    metrics.know_services(list(config.services))
    now = datetime(2026, 12, 4, tzinfo=UTC)
    failed = PollOutcome("radarr4k", ok=False, error="HTTP 503", calls=1, started=now,
                         finished=now)
    metrics.record_cycle(CycleResult({"radarr4k": failed}, [], 0, []))
    text = generate_latest(metrics.registry).decode()
    assert 'service="radarr4k"' in text
    errors = [line for line in text.splitlines()
              if line.startswith("reconciler_poll_errors_total{")]
    assert 'reconciler_poll_errors_total{service="radarr4k"} 1.0' in errors
    assert 'reconciler_poll_errors_total{service="radarr"} 0.0' in errors
