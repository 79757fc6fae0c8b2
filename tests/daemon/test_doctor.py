"""`reconcile doctor`: one line per check, ✓ or ✗ with the fix; exit 1 when anything failed."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.config import Config, load_config
from reconciler.doctor import run_doctor
from reconciler.store import Store
from simstack import SimulatedStack, World

PORTS = {"jellyseerr": 5055, "radarr": 7878, "sonarr": 8989, "shoko": 8111, "jellyfin": 8096}
KEYS = {name: f"{name}-key-0123456789" for name in PORTS}


def make_config(tmp_path: Path, keys: dict[str, str] | None = None) -> Config:
    keys = {**KEYS, **(keys or {})}
    text = f'[reconciler]\ndatabase = "{tmp_path / "state" / "reconciler.db"}"\n'
    for name, port in PORTS.items():
        text += f'\n[{name}]\nurl = "http://127.0.0.1:{port}"\napi_key = "{keys[name]}"\n'
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return load_config(path)


def jellyfin_items() -> list[dict[str, Any]]:
    items = [{"Id": f"m{i}", "Type": "Movie", "Name": f"Film {i}", "LocationType": "FileSystem",
              "ProviderIds": {"Tmdb": str(100 + i)}} for i in range(8)]
    items.append({"Id": "m9", "Type": "Movie", "Name": "No ids", "ProviderIds": {}})
    items.append({"Id": "a1", "Type": "Movie", "Name": "Anime film",
                  "ProviderIds": {"Shoko Series": "12", "Shoko File": "40", "AniDB": "9"}})
    return items


class FakeStack:
    """A MockTransport handler answering as the five services do (by port)."""

    def __init__(self, items: list[dict[str, Any]] | None = None,
                 seerr_version: str = "2.7.3", seerr_accepts: frozenset[str] | None = None
                 ) -> None:
        self.items = jellyfin_items() if items is None else items
        self.seerr_version = seerr_version
        # The query parameters this Jellyseerr's spec declares: any other is a 400, checked
        # before the key, as express-openapi-validator does.
        self.seerr_accepts = seerr_accepts if seerr_accepts is not None else frozenset(
            {"take", "skip", "filter", "sort", "sortDirection", "mediaType", "requestedBy"})
        self.seerr_queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        service = next(n for n, p in PORTS.items() if p == request.url.port)
        path = request.url.path
        open_paths = {"/api/v1/status", "/api/v3/Init/Status", "/api/v3/Init/Version"}
        if service == "jellyfin":
            key = request.headers.get("Authorization", "").partition('Token="')[2].rstrip('"')
        elif service == "shoko":
            key = request.headers.get("apikey", "")
        else:
            key = request.headers.get("X-Api-Key", "")
        if path == "/api/v1/request":
            self.seerr_queries.append(dict(request.url.params))
            unknown = set(request.url.params) - self.seerr_accepts
            if unknown:
                name = sorted(unknown)[0]
                return httpx.Response(400, json={
                    "message": f"Unknown query parameter '{name}'",
                    "errors": [{"path": f".query.{name}",
                                "message": f"Unknown query parameter '{name}'"}]})
        if path not in open_paths and key != KEYS[service]:
            return httpx.Response(403 if service == "jellyseerr" else 401)
        body: Any = {
            "/api/v1/status": {"version": self.seerr_version},
            "/api/v1/request": {"pageInfo": {"pages": 0, "pageSize": 1, "results": 0,
                                             "page": 1}, "results": []},
            "/api/v3/system/status": {"version": "5.14.0" if service == "radarr" else "4.0.15"},
            "/api/v3/tag": [{"id": 1, "label": "anime"}],
            "/api/v3/series": [
                {"id": 1, "title": "Frieren", "tvdbId": 424536, "seriesType": "anime",
                 "seasons": []},
                {"id": 2, "title": "Severance", "tvdbId": 371980, "seriesType": "standard",
                 "seasons": []},
            ],
            "/api/v3/Init/Status": {"State": "Started"},
            "/api/v3/Init/Version": {"Server": {"Version": "5.1.0.0"}},
            "/api/v3/File/PathEndsWith": [],
            "/System/Info": {"Version": "10.11.2", "ServerName": "media"},
            "/Items": {"Items": self.items, "TotalRecordCount": len(self.items),
                       "StartIndex": 0},
        }.get(path)
        if body is None:
            return httpx.Response(404)
        return httpx.Response(200, content=json.dumps(body),
                              headers={"Content-Type": "application/json"})


def doctor(config: Config, handler: FakeStack) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = run_doctor(config, transport=httpx.MockTransport(handler), out=out)
    return code, out.getvalue().splitlines()


def test_all_good_is_all_ticks(tmp_path: Path) -> None:
    code, lines = doctor(make_config(tmp_path), FakeStack())
    assert code == 0, lines
    assert all(line[0] in "✓⚠" for line in lines), lines
    assert "✓ radarr: reachable, API key accepted, version 5.14.0" in lines
    assert ("✓ jellyseerr: reachable, API key accepted, version 2.7.3 (Jellyseerr 2.7.3)"
            in lines)
    assert "✓ shoko: reachable, API key accepted, version 5.1.0.0" in lines
    assert "✓ sonarr: series of type anime: 1 of 2 (anime series are recognised by it)" in lines
    assert any(line.startswith("✓ jellyfin: 8 of 9 films in a sample carry a TMDB ProviderId")
               for line in lines)
    assert "✓ jellyfin: Shokofin items found (1 in the sample); none of them carry TMDB ids; " \
        "they are matched by their Shoko ids" in lines
    assert any(line.startswith("✓ database:") for line in lines)


def test_a_wrong_key_is_a_cross_with_the_fix(tmp_path: Path) -> None:
    code, lines = doctor(make_config(tmp_path, {"jellyfin": "not-the-key-at-all"}), FakeStack())
    assert code == 1
    assert ("✗ jellyfin: API key refused (HTTP 401) — fix: set [jellyfin] api_key (or "
            "api_key_file) to a key from Dashboard > API Keys in Jellyfin") in lines
    assert not any("not-the-key-at-all" in line for line in lines)
    code, lines = doctor(make_config(tmp_path, {"jellyseerr": "nope-nope"}), FakeStack())
    assert code == 1
    assert any(line.startswith("✗ jellyseerr: API key refused (HTTP 403)") for line in lines)


def test_films_without_tmdb_ids_fail_the_check(tmp_path: Path) -> None:
    items = [{"Id": f"m{i}", "Type": "Movie", "Name": f"Film {i}", "ProviderIds": {}}
             for i in range(4)]
    code, lines = doctor(make_config(tmp_path), FakeStack(items))
    assert code == 1
    assert any(line.startswith("✗ jellyfin: only 0 of 4 films") and "TheMovieDb" in line
               for line in lines)


def test_unreachable_service(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.port == PORTS["radarr"]:
            raise httpx.ConnectError("connection refused", request=request)
        return FakeStack()(request)

    out = io.StringIO()
    code = run_doctor(make_config(tmp_path), transport=httpx.MockTransport(handler), out=out)
    assert code == 1
    assert ("✗ radarr: cannot reach http://127.0.0.1:7878 (ConnectError) — fix: check [radarr] "
            "url and that Radarr is running and reachable from here") in out.getvalue()


def test_unwritable_database_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path)
    locked = tmp_path / "state"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:
        # Root can write anywhere: the answer any other user gets for this folder is injected.
        real_access = os.access

        def access(path: Any, mode: int, **kwargs: Any) -> bool:
            if Path(path) == locked and mode & os.W_OK:
                return False
            return real_access(path, mode, **kwargs)

        monkeypatch.setattr("reconciler.doctor.os.access", access)
    try:
        code, lines = doctor(config, FakeStack())
    finally:
        locked.chmod(0o700)
    assert code == 1
    assert any(line.startswith("✗ database: cannot create") for line in lines)


def test_doctor_over_real_http_reports_a_wrong_key(tmp_path: Path) -> None:
    """`reconcile doctor` against the simulated stack, as an operator runs it."""
    world = World()
    with SimulatedStack(world, api_keys={"radarr": "the-right-radarr-key"}) as stack:
        config_path = stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        good = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config_path),
                               "doctor"], capture_output=True, text=True, timeout=60)
        assert good.returncode == 0, good.stdout + good.stderr
        assert "✓ radarr: reachable, API key accepted" in good.stdout
        config_path.write_text(config_path.read_text().replace("the-right-radarr-key",
                                                               "a-wrong-radarr-key"))
        bad = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config_path),
                              "doctor"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    assert "✗ radarr: API key refused (HTTP 401) — fix: set [radarr] api_key" in bad.stdout
    assert "a-wrong-radarr-key" not in bad.stdout + bad.stderr


OVERSEERR_QUERY = frozenset({"take", "skip", "filter", "sort", "requestedBy"})


@pytest.mark.parametrize(("version", "flavour"), [("1.33.2", "Overseerr"),
                                                  ("2.1.0", "Jellyseerr")])
def test_doctor_checks_an_older_seerr_with_the_poller_s_own_queries(
        tmp_path: Path, version: str, flavour: str) -> None:
    """Overseerr and Jellyseerr < 2.2 answer 400 to `sortDirection`: the doctor names the
    flavour and sends exactly the poller's listings, which leave it out."""
    stack = FakeStack(seerr_version=version, seerr_accepts=OVERSEERR_QUERY)
    code, lines = doctor(make_config(tmp_path), stack)
    assert code == 0, lines
    assert (f"✓ jellyseerr: reachable, API key accepted, version {version} "
            f"({flavour} {version})") in lines
    assert [(q["filter"], q["sort"]) for q in stack.seerr_queries] == [
        ("all", "added"), ("pending", "modified"), ("processing", "modified")]
    assert all("sortDirection" not in q for q in stack.seerr_queries)


def test_doctor_fails_when_jellyseerr_refuses_the_poller_s_query(tmp_path: Path) -> None:
    """A server that claims 2.7.3 but refuses `sortDirection` is what the poller would hit."""
    stack = FakeStack(seerr_version="2.7.3", seerr_accepts=OVERSEERR_QUERY)
    code, lines = doctor(make_config(tmp_path), stack)
    assert code != 0
    assert any(line.startswith("✗ jellyseerr: Jellyseerr 2.7.3 refused the poller's query: "
                               "HTTP 400 from /api/v1/request: Unknown query parameter "
                               "'sortDirection'") for line in lines), lines


def test_the_database_line_shows_its_size_and_oldest_poll_record(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    store = Store.open(config.database)
    when = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    store.record_poll("radarr", when, when, True, None, 1, 1)
    store.close()
    _, lines = doctor(config, FakeStack())
    line = next(line for line in lines if line.startswith("✓ database:"))
    assert re.search(r", \d+\.\d MB, oldest poll record 2026-11-20T08:00:00Z\)$", line), line


def test_doctor_checks_every_server_and_names_the_jellyseerr_server_each_is(
        tmp_path: Path) -> None:
    """Several Radarr servers (issue 16): each is checked under its name; the doctor reads
    Jellyseerr's settings and says which of its servers each one is, and fails on a
    `seerr_server_id` Jellyseerr does not have."""
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin"),
                        extra={"radarr4k": "radarr", "kids": "radarr"},
                        api_keys={"kids": "a-wrong-key"}) as stack:
        port = int(stack.url("radarr4k").rsplit(":", 1)[1])
        world.jellyseerr.add_arr_server("radarr", name="Radarr 4K", hostname="127.0.0.1",
                                        port=port, is4k=True)
        path = stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                                  servers={"radarr4k": {"is4k": True},
                                           "kids": {"seerr_server_id": 7}})
        path.write_text(path.read_text().replace('api_key = "a-wrong-key"',
                                                 'api_key = "kids-radarr-key"'))
        out = io.StringIO()
        code = run_doctor(load_config(path), out=out)
    text = out.getvalue()
    assert code == 1, text
    assert "✓ radarr4k: reachable, API key accepted" in text
    assert ("✗ kids: API key refused (HTTP 401) — fix: set [[radarr]] name = \"kids\" "
            "api_key") in text
    assert ("✓ radarr: is Jellyseerr's Radarr server 'Radarr' (id 0, HD, default; by host, "
            "port and base URL)") in text
    assert ("✓ radarr4k: is Jellyseerr's Radarr server 'Radarr 4K' (id 1, 4K, default; by "
            "host, port and base URL)") in text
    assert "✗ kids: seerr_server_id = 7 is not one of Jellyseerr's Radarr servers" in text
    assert "kids-radarr-key" not in text


def test_doctor_warns_when_jellyseerrs_default_server_is_not_reconcilers(
        tmp_path: Path) -> None:
    """Two HD Radarr servers (issue 22): Jellyseerr sends requests naming no server to its
    `isDefault` one; the doctor warns when reconciler's own default (used for them only while
    Jellyseerr's settings cannot be read) is another, and names the fix."""
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin"),
                        extra={"kids": "radarr"}) as stack:
        port = int(stack.url("kids").rsplit(":", 1)[1])
        world.jellyseerr.servers["radarr"][0].is_default = False
        world.jellyseerr.add_arr_server("radarr", name="Radarr Kids", hostname="127.0.0.1",
                                        port=port, is_default=True)
        path = stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        out = io.StringIO()
        code = run_doctor(load_config(path), out=out)
        text = out.getvalue()
        assert code == 0, text
        assert ("⚠ radarr: Jellyseerr's default HD Radarr server is 'Radarr Kids' (id 1, "
                "'kids'), reconciler's is 'radarr'") in text
        assert "fix: set default = true on [[radarr]] name = \"kids\"" in text

        world.jellyseerr.servers["radarr"][0].is_default = True
        world.jellyseerr.servers["radarr"][1].is_default = False
        out = io.StringIO()
        run_doctor(load_config(path), out=out)
    assert "default HD Radarr server is" not in out.getvalue()
