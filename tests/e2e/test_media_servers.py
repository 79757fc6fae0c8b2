"""What only one media server does, end to end against the simulated servers over HTTP: the
index switching servers, Plex's legacy agents and its token, Emby's look-up by ProviderId."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from tests.conftest import run_reconcile
from tests.e2e.support import once, show

TMDB = 603


def _film(world: World) -> int:
    """The Matrix, requested and imported by Radarr; its request id."""
    rid = world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
    mid = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
    world.radarr.import_file(mid, download_id=world.radarr.grab(mid))
    return rid


def _request(tmp_path: Path, rid: int) -> dict[str, Any]:
    data: dict[str, Any] = show(tmp_path, rid)["request"]
    return data


def test_switching_the_media_server_forgets_the_old_ones_items(tmp_path: Path) -> None:
    """Jellyfin made the film available; the household moves to Plex. While Plex cannot be
    read the request holds (the index is Jellyfin's, so nothing is decided on it); once Plex
    answers, Jellyfin's items are gone (the request waits for Plex) until Plex lists the
    film, which then makes it available on Plex's item."""
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin", "plex")) as stack:
        stack.media.add_library("Movies", ["/data/movies"], "movies")
        plex = world.plex
        plex.add_section("Movies", ["/data/movies"], "movie")
        full = stack.config_toml(tmp_path / "reconciler.db")
        jellyfin_only = full.split("[plex]")[0]
        plex_only = full.split("[jellyfin]")[0] + "[plex]" + full.split("[plex]")[1]
        config = tmp_path / "config.toml"
        config.write_text(jellyfin_only)
        rid = _film(world)
        jf_item = world.jellyfin.add_movie("The Matrix", tmdb_id=TMDB, year=1999)
        assert once(tmp_path) == 0
        assert (_request(tmp_path, rid)["state"], _request(tmp_path, rid)["jellyfin_item_id"]) \
            == ("available", jf_item)

        config.write_text(plex_only)
        stack.set_fault("plex", "refuse")
        assert once(tmp_path) == 3
        held = _request(tmp_path, rid)
        assert (held["state"], held["via"]) == ("available", "jellyfin")

        stack.clear_fault("plex")
        assert once(tmp_path) == 0
        moved = _request(tmp_path, rid)
        assert (moved["state"], moved["jellyfin_item_id"]) == ("importing", None)
        assert moved["detail"].endswith("waiting for Plex")
        conn = sqlite3.connect(tmp_path / "reconciler.db")
        try:
            assert conn.execute("SELECT count(*) FROM jellyfin_items WHERE id = ?",
                                (jf_item,)).fetchone()[0] == 0
            held_by = conn.execute("SELECT value FROM meta WHERE key = "
                                   "'media_server:index_of'").fetchone()[0]
        finally:
            conn.close()
        assert held_by == f"plex {stack.url('plex')}"

        item = plex.add_movie("The Matrix", tmdb_id=TMDB, year=1999)
        assert once(tmp_path) == 0
        done = _request(tmp_path, rid)
        assert (done["state"], done["via"], done["jellyfin_item_id"]) == (
            "available", "plex", str(item))


def test_a_film_in_a_plex_library_on_a_legacy_agent_says_it_cannot_be_matched(
        tmp_path: Path) -> None:
    """Plex's legacy agents give items no external ids: the film is listed but cannot be
    matched, and the request's detail says why and what to change; the doctor fails on the
    section."""
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "plex")) as stack:
        world.plex.add_section("Films", ["/data/movies"], "movie", legacy=True)
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        rid = _film(world)
        world.plex.add_movie("The Matrix", tmdb_id=TMDB, imdb_id="tt0133093", year=1999)
        assert once(tmp_path) == 0
        assert once(tmp_path) == 0
        request = _request(tmp_path, rid)
        assert request["state"] == "importing"
        assert request["detail"].endswith(
            "; cannot match: library 'Films' is on Plex's legacy agent "
            "(com.plexapp.agents.imdb), whose items carry no TMDB/TVDB ids; switch it to the "
            "Plex Movie or Plex TV Series agent")
        doctor = run_reconcile("--config", str(tmp_path / "config.toml"), "doctor")
        assert doctor.code == 1
        assert "✗ plex: section 'Films' uses the legacy agent com.plexapp.agents.imdb" \
            in doctor.stdout
        assert "✓ plex: Plex Media Server confirms availability" in doctor.stdout


def test_the_plex_token_goes_in_a_header_only_never_in_a_url_a_log_or_the_database(
        tmp_path: Path) -> None:
    token = "plex-token-7f3a9c2e"
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "plex"),
                        api_keys={"plex": token}) as stack:
        world.plex.add_section("Movies", ["/data/movies"], "movie")
        text = stack.config_toml(tmp_path / "reconciler.db", log_level="debug")
        text = text.replace(f'[plex]\nurl = "{stack.url("plex")}"\napi_key = "{token}"',
                            f'[plex]\nurl = "{stack.url("plex")}"\ntoken_file = "plex-token"')
        assert token not in text
        (tmp_path / "plex-token").write_text(token + "\n")
        (tmp_path / "config.toml").write_text(text)
        rid = _film(world)
        world.plex.add_movie("The Matrix", tmdb_id=TMDB, year=1999)
        outputs = []
        for _ in range(2):
            result = run_reconcile("--config", str(tmp_path / "config.toml"), "--once")
            assert result.code == 0, result.stderr
            outputs.append(result.stdout + result.stderr)
        assert _request(tmp_path, rid)["state"] == "available"
        calls = stack.requests("plex")
        # Every call was let in by the header (a wrong token is a 401), none by the query.
        assert calls and all(r.auth == "X-Plex-Token" and r.status == 200 for r in calls)
        assert not [r for r in calls if token in r.path or "X-Plex-Token" in r.query
                    or any(token in v for v in r.query.values())]
        assert not any(token in out for out in outputs)
        for file in tmp_path.glob("reconciler.db*"):
            assert token.encode() not in file.read_bytes(), file.name


def test_emby_is_asked_for_a_waiting_film_by_its_provider_id(tmp_path: Path) -> None:
    """Emby can find items by ProviderId (`AnyProviderIdEquals`), which Jellyfin cannot: a
    film waiting for Emby is also looked up so each poll, and is found whatever its place in
    the incremental listing; nothing is asked while nothing waits."""
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "emby")) as stack:
        stack.media.add_library("Movies", ["/data/movies"], "movies")
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        assert once(tmp_path) == 0
        rid = _film(world)
        assert once(tmp_path) == 0
        stack.reset_stats()
        assert once(tmp_path) == 0
        asked = [r.query["AnyProviderIdEquals"] for r in stack.requests("emby", path="/emby/Items")
                 if "AnyProviderIdEquals" in r.query]
        assert asked == [f"Tmdb.{TMDB}"]
        item = stack.media.add_movie("The Matrix", tmdb_id=TMDB, year=1999)
        assert once(tmp_path) == 0
        request = _request(tmp_path, rid)
        assert (request["state"], request["jellyfin_item_id"]) == ("available", item)
        stack.reset_stats()
        assert once(tmp_path) == 0
        assert not [r for r in stack.requests("emby", path="/emby/Items")
                    if "AnyProviderIdEquals" in r.query]


@pytest.mark.parametrize("media", ["emby", "plex"])
@pytest.mark.parametrize(("kind", "options"), [
    ("refuse", {}), ("status", {"code": 500}), ("html_login", {}), ("unauthorized", {}),
    ("wrong_shape", {"variant": "swap"}), ("wrong_shape", {"variant": "null_ids"}),
], ids=["refused", "http-500", "html-login", "wrong-key", "wrong-shape", "null-ids"])
def test_a_failing_emby_or_plex_is_unknown_and_moves_nothing_until_it_answers(
        tmp_path: Path, media: str, kind: str, options: dict[str, Any]) -> None:
    """A media server that fails to answer properly is unknown: the film it made available
    stays available, the film it now lists does not become available on a guess, the poll
    row says why, the exit code is 3; the next healthy cycle moves the waiting film on."""
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", media)) as stack:
        stack.media.add_library("Movies", ["/data/movies"], "movies")
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        done = _film(world)
        stack.media.add_movie("The Matrix", tmdb_id=TMDB, year=1999)
        waiting = world.jellyseerr.add_request(604, "movie", "The Matrix Reloaded")
        mid = world.radarr.add_movie(604, "The Matrix Reloaded", year=2003)
        world.radarr.import_file(mid, download_id=world.radarr.grab(mid))
        assert once(tmp_path) == 0
        assert (_request(tmp_path, done)["state"], _request(tmp_path, waiting)["state"]) == (
            "available", "importing")

        stack.set_fault(media, kind, **options)
        stack.media.add_movie("The Matrix Reloaded", tmdb_id=604, year=2003)
        assert once(tmp_path) == 3
        assert (_request(tmp_path, done)["state"], _request(tmp_path, waiting)["state"]) == (
            "available", "importing")
        conn = sqlite3.connect(tmp_path / "reconciler.db")
        try:
            ok, error = conn.execute("SELECT ok, error FROM polls WHERE service = ? "
                                     "ORDER BY id DESC LIMIT 1", (media,)).fetchone()
        finally:
            conn.close()
        assert ok == 0 and error

        stack.clear_fault(media)
        assert once(tmp_path) == 0
        assert (_request(tmp_path, done)["state"], _request(tmp_path, waiting)["state"]) == (
            "available", "available")
