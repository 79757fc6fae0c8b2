"""Anime end to end: the real `reconcile --once` against simulated Jellyseerr, Radarr, Sonarr,
Shoko Server and Jellyfin on 127.0.0.1, one cycle after each step of the script.

The failure these guard against: an anime film shown as available 37 seconds before Jellyfin had
scanned it in (Shoko had matched it; Jellyfin had not listed it). Availability waits for a
playable Jellyfin item, matched by TMDB id under either key, else by the Shoko ids recorded from
Shoko, else by the AniDB id. Time-dependent steps (the refresh grace, the unrecognised-file
deadline) use fractional-second durations and a bounded loop on a condition, never a fixed sleep.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from tests.conftest import run_reconcile
from tests.e2e.media import MEDIA_SERVERS
from tests.e2e.support import SEERR_IDS, SEERR_VERSIONS, rows_changed_by

ANIME_MOVIES = "/data/anime/movies"
ANIME_SHOWS = "/data/anime/shows"
# Shoko mounts the same library at another root: only the tail of a path is comparable.
SHOKO_ROOT = "/mnt/library/anime"

YOUR_NAME = 372058  # TMDB film id
YOUR_NAME_ANIDB = 11829
YOUR_NAME_ANIDB_EPISODE = 182576
SILENT_VOICE = 378064
SILENT_VOICE_ANIDB = 11977
SILENT_VOICE_ANIDB_EPISODE = 185318

LOOP_LIMIT = 15.0  # seconds a bounded wait loop may take before the test fails


@dataclass
class Film:
    """A scripted film request: its Jellyseerr, Radarr and (once imported) file facts."""

    request_id: int
    movie_id: int
    download_id: str
    title: str
    tmdb_id: int
    path: str = ""


@dataclass
class ShokoMatch:
    """What Shoko recorded for a matched file."""

    file_id: int
    series_id: int
    episode_id: int
    anidb_series: int
    anidb_episode: int


class Anime:
    """The simulated stack with anime libraries, and the commands a test runs against it."""

    def __init__(self, stack: SimulatedStack, tmp_path: Path) -> None:
        self.stack = stack
        self.world: World = stack.world
        self.tmp_path = tmp_path
        self.config = tmp_path / "config.toml"
        self.shoko_folder = self.world.shoko.add_import_folder(SHOKO_ROOT, "Anime")
        jf = self.world.jellyfin
        self.movies_library = jf.add_library("Movies", ["/data/movies"], "movies")
        self.anime_movies_library = jf.add_library("Anime Movies", [ANIME_MOVIES], "movies")
        self.anime_shows_library = jf.add_library("Anime", [ANIME_SHOWS], "tvshows")
        jf.scan_on_refresh = False  # Jellyfin lists a new file only when the test says so
        self.configure()

    # -- configuration ----------------------------------------------------------------------

    def configure(self, *, refresh_grace: str = "60s", refresh_min_interval: str = "5m",
                  unrecognised_after: str = "30m", root_folders: tuple[str, ...] = (
                      ANIME_MOVIES, ANIME_SHOWS)) -> None:
        text = self.stack.config_toml(self.tmp_path / "reconciler.db")
        text = text.replace("[jellyfin]\n", "[jellyfin]\n"
                            f'refresh_grace = "{refresh_grace}"\n'
                            f'refresh_min_interval = "{refresh_min_interval}"\n', 1)
        text = text.replace("[shoko]\n", f'[shoko]\nunrecognised_after = "{unrecognised_after}"\n',
                            1)
        roots = ", ".join(f'"{r}"' for r in root_folders)
        text += f'\n[anime]\nradarr_tags = ["anime"]\nroot_folders = [{roots}]\n'
        self.config.write_text(text, encoding="utf-8")
        self.config.chmod(0o600)

    # -- commands ---------------------------------------------------------------------------

    def once(self) -> int:
        result = run_reconcile("--config", str(self.config), "--once")
        return result.code

    def show(self, request_id: int) -> dict[str, Any]:
        result = run_reconcile("--config", str(self.config), "show", str(request_id), "--json")
        assert result.code == 0, result.stderr
        data: dict[str, Any] = result.json()
        return data

    def request(self, request_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self.show(request_id)["request"]
        return data

    def cycles_until(self, done: Callable[[], bool], *,
                     each: Callable[[], None] | None = None) -> int:
        """Run cycles until `done()` holds (calling `each()` after every cycle); fail after
        LOOP_LIMIT seconds. Returns how many cycles it took."""
        deadline = time.monotonic() + LOOP_LIMIT
        cycles = 0
        while True:
            assert self.once() == 0
            cycles += 1
            if each is not None:
                each()
            if done():
                return cycles
            assert time.monotonic() < deadline, "condition not reached in time"
            time.sleep(0.05)

    # -- Jellyfin ---------------------------------------------------------------------------

    def refresh_calls(self) -> list[Any]:
        return list(self.world.jellyfin.refresh_calls)

    # -- scripting a film -------------------------------------------------------------------

    def film(self, tmdb_id: int, title: str, *, year: int = 2016, root: str = ANIME_MOVIES,
             tags: tuple[str, ...] = ("anime",)) -> Film:
        """Requested, in Radarr, grabbed and downloading."""
        w = self.world
        rid = w.jellyseerr.add_request(tmdb_id, "movie", title)
        mid = w.radarr.add_movie(tmdb_id, title, year=year, root_folder=root, tags=tags)
        did = w.radarr.grab(mid)
        w.radarr.progress(did, 0.5)
        return Film(rid, mid, did, title, tmdb_id)

    def import_film(self, film: Film) -> str:
        """Radarr imports the film; returns the file's path as Radarr reports it."""
        movie = self.world.radarr.get_movie(film.movie_id)
        relative = f"{movie.title} ({movie.year}) [Bluray-1080p].mkv"
        self.world.radarr.import_file(download_id=film.download_id, relative_path=relative)
        film.path = f"{movie.path}/{relative}"
        return film.path

    def shoko_file_for(self, film: Film) -> int:
        """Shoko hashes the imported file (seen under its own mount), not matched yet."""
        # Shoko's RelativePath may start with a separator.
        tail = film.path.removeprefix("/data/anime")
        return self.world.shoko.add_file(tail, self.shoko_folder)

    def shoko_match(self, file_id: int, name: str, anidb_series: int, anidb_episode: int, *,
                    tmdb_movie_ids: tuple[int, ...] = ()) -> ShokoMatch:
        """Shoko links the file to an AniDB film (and to TMDB only if given)."""
        shoko = self.world.shoko
        sid = shoko.add_series(anidb_series, name, tmdb_movie_ids=tmdb_movie_ids)
        eid = shoko.add_episode(sid, anidb_episode, name="Complete Movie")
        shoko.match_file(file_id, sid, [eid])
        return ShokoMatch(file_id, sid, eid, anidb_series, anidb_episode)

    def shokofin_movie(self, name: str, match: ShokoMatch, *, pending: bool = False,
                       extra_ids: dict[str, Any] | None = None,
                       only: dict[str, Any] | None = None) -> str:
        """The film as Shokofin presents it: Shoko ids and AniDB, no TMDB id by default, a path
        inside Shokofin's virtual file system."""
        ids: dict[str, Any] = only if only is not None else {
            "Shoko File": match.file_id, "Shoko Episode": match.episode_id,
            "Shoko Series": match.series_id, "AniDB": match.anidb_episode,
        }
        ids.update(extra_ids or {})
        vfs = (f"/config/Shokofin/VFS/{self.anime_movies_library}/{name} "
               f"[shoko-series-{match.series_id}]/{name} [shoko-file-{match.file_id}].mkv")
        return self.world.jellyfin.add_movie(name, provider_ids=ids, path=vfs,
                                             library="Anime Movies", pending=pending)


@pytest.fixture
def anime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Anime]:
    """The anime stack; parametrized indirectly with `World` keyword arguments (e.g.
    `{"shoko_version": "6.0.0"}`) or a Jellyseerr version."""
    param = getattr(request, "param", None)
    kwargs = param if isinstance(param, dict) else {"jellyseerr_version": param}
    with SimulatedStack(World(**kwargs)) as stack:
        yield Anime(stack, tmp_path)


# Shoko Server 5.x takes `includeXRefs` (default true), 6.x only `include=XRefs`; 5.3 and later
# send the nullable-id cross-reference shape. The representative journeys run on each.
SHOKO_VERSIONS = pytest.mark.parametrize(
    "anime", [{"shoko_version": "5.3.3"}, {"shoko_version": "6.0.0"}],
    ids=["shoko-5.3.3", "shoko-6.0.0"], indirect=True)


def timeline_pairs(data: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(t["from"], t["to"]) for t in data["timeline"]]


def imported_and_matched(anime: Anime, tmdb_id: int = YOUR_NAME, title: str = "Your Name",
                         *, tmdb_link: bool = False) -> tuple[Film, ShokoMatch]:
    """An anime film through download, import and Shoko's match, one cycle after each step."""
    film = anime.film(tmdb_id, title)
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    fid = anime.shoko_file_for(film)
    match = anime.shoko_match(fid, title, YOUR_NAME_ANIDB if tmdb_id == YOUR_NAME
                              else SILENT_VOICE_ANIDB,
                              YOUR_NAME_ANIDB_EPISODE if tmdb_id == YOUR_NAME
                              else SILENT_VOICE_ANIDB_EPISODE,
                              tmdb_movie_ids=(tmdb_id,) if tmdb_link else ())
    assert anime.once() == 0
    return film, match


# ---------------------------------------------------------------- the 37-second gap


@SHOKO_VERSIONS
def test_anime_film_is_not_available_while_shoko_matched_it_and_jellyfin_has_not_listed_it(
        anime: Anime) -> None:
    anime.configure(refresh_grace="0.2s", refresh_min_interval="1h")
    film = anime.film(YOUR_NAME, "Your Name")
    assert anime.once() == 0
    assert anime.request(film.request_id)["state"] == "downloading"

    anime.import_film(film)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert request["state"] == "anime_matching"
    assert request["detail"] == "imported; waiting for Shoko to match the file"

    # Shoko has hashed the file but not matched it yet (no cross-references).
    fid = anime.shoko_file_for(film)
    assert anime.once() == 0
    assert anime.request(film.request_id)["detail"].startswith(
        "imported; waiting for Shoko to match the file")

    match = anime.shoko_match(fid, "Kimi no Na wa.", YOUR_NAME_ANIDB, YOUR_NAME_ANIDB_EPISODE)
    # The file is on disk and Shokofin would present it, but Jellyfin has not scanned it in.
    item = anime.shokofin_movie("Your Name", match, pending=True)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert request["state"] == "anime_matching"
    assert request["detail"] == "matched by Shoko; waiting for Jellyfin"

    def never_available() -> None:
        assert anime.request(film.request_id)["state"] == "anime_matching"

    # After the grace period reconciler tells Jellyfin about the file: it lies under the
    # library's folder, so Jellyfin scans just that folder (no library scan is started).
    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1, each=never_available)
    calls = anime.refresh_calls()
    assert len(calls) == 1
    assert (calls[0].kind, calls[0].paths) == ("media_updated", (film.path,))

    # Jellyfin is still scanning: more cycles, still not available, and no second refresh.
    for _ in range(3):
        assert anime.once() == 0
        never_available()
    assert len(anime.refresh_calls()) == 1

    anime.world.jellyfin.scan()
    assert anime.once() == 0
    data = anime.show(film.request_id)
    request = data["request"]
    assert (request["state"], request["via"]) == ("available", "jellyfin")
    assert request["jellyfin_item_id"] == item
    assert request["matched_by"] == "Shoko File"
    assert timeline_pairs(data)[-3:] == [
        ("downloading", "anime_matching"), ("anime_matching", "anime_matching"),
        ("anime_matching", "available"),
    ]
    nudge = data["timeline"][-2]
    assert (nudge["via"], nudge["detail"]) == (
        "reconciler", "asked Jellyfin to scan the new file in 'Anime Movies'")


def test_two_anime_films_waiting_in_one_library_cause_one_refresh_call(anime: Anime) -> None:
    anime.configure(refresh_grace="0.2s", refresh_min_interval="1h")
    films = [anime.film(YOUR_NAME, "Your Name"), anime.film(SILENT_VOICE, "A Silent Voice")]
    assert anime.once() == 0
    for film in films:
        anime.import_film(film)
    assert anime.once() == 0
    for film, anidb, episode in ((films[0], YOUR_NAME_ANIDB, YOUR_NAME_ANIDB_EPISODE),
                                 (films[1], SILENT_VOICE_ANIDB, SILENT_VOICE_ANIDB_EPISODE)):
        anime.shoko_match(anime.shoko_file_for(film), film.title, anidb, episode)
    assert anime.once() == 0
    for film in films:
        assert anime.request(film.request_id)["detail"] == "matched by Shoko; waiting for Jellyfin"

    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1)
    for _ in range(3):
        assert anime.once() == 0
    calls = anime.refresh_calls()
    assert [(c.kind, sorted(c.paths)) for c in calls] == [
        ("media_updated", sorted(f.path for f in films))]
    assert anime.stack.count("jellyfin", "POST", "/Library/Refresh") == 0
    for film in films:
        data = anime.show(film.request_id)
        assert data["request"]["state"] == "anime_matching"
        nudges = [t for t in data["timeline"] if t["via"] == "reconciler"]
        assert [t["detail"] for t in nudges] == [
            "asked Jellyfin to scan the new files in 'Anime Movies'"]


def test_a_film_jellyfin_still_lacks_after_its_refresh_is_not_refreshed_again(
        anime: Anime) -> None:
    # The library may be scanned again after 0.2 s, but this film had its one scan.
    anime.configure(refresh_grace="0.2s", refresh_min_interval="0.2s")
    film, _ = imported_and_matched(anime)
    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1)
    first = time.monotonic()
    anime.cycles_until(lambda: time.monotonic() - first > 1.0)
    assert len(anime.refresh_calls()) == 1
    assert anime.request(film.request_id)["state"] == "anime_matching"

    # Another film arriving later gets its own scan: the library's interval has passed.
    other = anime.film(SILENT_VOICE, "A Silent Voice")
    assert anime.once() == 0
    anime.import_film(other)
    anime.shoko_match(anime.shoko_file_for(other), other.title, SILENT_VOICE_ANIDB,
                      SILENT_VOICE_ANIDB_EPISODE)
    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 2)
    assert anime.once() == 0
    assert len(anime.refresh_calls()) == 2
    nudged = [t["detail"] for t in anime.show(film.request_id)["timeline"]
              if t["via"] == "reconciler"]
    assert nudged == ["asked Jellyfin to scan the new file in 'Anime Movies'"]


def test_a_file_in_no_jellyfin_library_makes_reconciler_refresh_the_whole_library(
        anime: Anime) -> None:
    anime.configure(refresh_grace="0.2s", refresh_min_interval="1h")
    film = anime.film(603, "The Matrix", year=1999, root="/srv/elsewhere", tags=())
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["is_anime"]) == ("importing", False)

    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1)
    assert anime.once() == 0
    assert [c.kind for c in anime.refresh_calls()] == ["library"]
    timeline = anime.show(film.request_id)["timeline"]
    assert timeline[-1]["detail"] == "asked Jellyfin to scan the whole library"


def test_a_file_under_another_mount_root_refreshes_its_library(anime: Anime) -> None:
    """Radarr sees the film under /srv/media, Jellyfin's library folder is /data/anime/movies:
    Jellyfin would not know the path, so the library (found by its folder names) is refreshed,
    a queued refresh that cancels nothing."""
    anime.configure(refresh_grace="0.2s", refresh_min_interval="1h")
    film = anime.film(603, "The Matrix", year=1999, root="/srv/media/anime/movies", tags=())
    assert anime.once() == 0
    anime.import_film(film)
    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1)
    assert anime.once() == 0
    assert [(c.kind, c.library_id) for c in anime.refresh_calls()] == [
        ("item", anime.anime_movies_library)]
    assert anime.show(film.request_id)["timeline"][-1]["detail"] == (
        "asked Jellyfin to scan 'Anime Movies'")


def _after(seconds: float) -> Callable[[], bool]:
    """A condition that holds once `seconds` have passed from now."""
    until = time.monotonic() + seconds
    return lambda: time.monotonic() > until


def test_a_running_library_scan_is_never_restarted_by_requests_waiting_one_after_another(
        anime: Anime) -> None:
    """Files in no Jellyfin library need the whole library scanned, and `POST /Library/Refresh`
    cancels a running scan and starts it again. While `GET /ScheduledTasks` shows the scan
    running, the next requests wait for it; once it is over, one scan is asked for them all."""
    anime.configure(refresh_grace="0.2s", refresh_min_interval="0.2s")
    jf = anime.world.jellyfin
    jf.scan_on_refresh = True
    jf.library_scan_duration = 600.0  # simulated seconds: it runs until the test moves time on
    first = anime.film(603, "The Matrix", year=1999, root="/srv/elsewhere", tags=())
    later = [anime.film(604, "The Matrix Reloaded", year=2003, root="/srv/elsewhere", tags=()),
             anime.film(605, "The Matrix Revolutions", year=2003, root="/srv/elsewhere",
                        tags=())]
    assert anime.once() == 0
    anime.import_film(first)
    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1)
    assert [c.kind for c in anime.refresh_calls()] == ["library"]
    assert jf.running_scan is not None

    for film in later:  # imported one after another while the scan runs
        anime.import_film(film)
        assert anime.once() == 0
        anime.cycles_until(_after(0.5))  # past the grace period and the interval
        assert anime.request(film.request_id)["state"] == "importing"
    assert len(anime.refresh_calls()) == 1
    assert jf.scan_restarts == 0
    assert anime.stack.count("jellyfin", "GET", "/ScheduledTasks") >= 2
    for film in later:
        assert not [t for t in anime.show(film.request_id)["timeline"]
                    if t["via"] == "reconciler"]

    anime.world.advance(600)  # the scan completes
    assert jf.running_scan is None
    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 2)
    for _ in range(3):
        assert anime.once() == 0
    assert [c.kind for c in anime.refresh_calls()] == ["library", "library"]
    assert jf.scan_restarts == 0
    for film in later:
        details = [t["detail"] for t in anime.show(film.request_id)["timeline"]
                   if t["via"] == "reconciler"]
        assert details == ["asked Jellyfin to scan the whole library"]


def test_no_whole_library_scan_while_jellyfin_cannot_say_whether_one_runs(anime: Anime) -> None:
    """`GET /ScheduledTasks` failing is unknown, not "idle": no `POST /Library/Refresh` (it
    might restart a running scan) until Jellyfin answers again."""
    anime.configure(refresh_grace="0.2s", refresh_min_interval="0.2s")
    anime.stack.set_fault("jellyfin", "status", code=500, path="/ScheduledTasks")
    film = anime.film(603, "The Matrix", year=1999, root="/srv/elsewhere", tags=())
    assert anime.once() == 0
    anime.import_film(film)
    anime.cycles_until(lambda: anime.stack.count("jellyfin", "GET", "/ScheduledTasks") >= 2)
    assert anime.refresh_calls() == []
    assert anime.request(film.request_id)["state"] == "importing"

    anime.stack.clear_fault("jellyfin")
    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1)
    assert [c.kind for c in anime.refresh_calls()] == ["library"]


# ---------------------------------------------------------------- finding the file in Shoko


def test_shoko_file_found_by_tmdb_id_when_its_path_does_not_match(anime: Anime) -> None:
    film = anime.film(YOUR_NAME, "Your Name")
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    # Shoko indexed the release under its original name: no path tail in common.
    fid = anime.world.shoko.add_file("[SubsPlease] Kimi no Na wa (BD 1080p) [ABCD1234].mkv",
                                     anime.shoko_folder)
    match = anime.shoko_match(fid, "Kimi no Na wa.", YOUR_NAME_ANIDB, YOUR_NAME_ANIDB_EPISODE,
                              tmdb_movie_ids=(YOUR_NAME,))
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert request["detail"] == "matched by Shoko; waiting for Jellyfin"
    assert request["shoko_ids"] == {"file": [fid], "episode": [match.episode_id],
                                    "series": [match.series_id], "anidb": [YOUR_NAME_ANIDB],
                                    "anidb_episode": [YOUR_NAME_ANIDB_EPISODE]}
    assert anime.stack.requests("shoko", path=f"/api/v3/Tmdb/Movie/{YOUR_NAME}/Shoko/File")


def test_shokofin_item_without_a_tmdb_id_is_matched_by_the_shoko_ids_found_by_path(
        anime: Anime) -> None:
    # Shoko linked the film to AniDB only: its TMDB endpoints answer 404, only the path works.
    film, match = imported_and_matched(anime, tmdb_link=False)
    request = anime.request(film.request_id)
    assert request["shoko_ids"]["file"] == [match.file_id]
    item = anime.shokofin_movie("Your Name", match)
    assert anime.world.jellyfin.item(item).provider_ids.get("Tmdb") is None
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["via"]) == ("available", "jellyfin")
    assert (request["jellyfin_item_id"], request["matched_by"]) == (item, "Shoko File")


@pytest.mark.parametrize("key", ["TheMovieDb", "Tmdb", "tmdb"])
def test_shokofin_item_carrying_the_tmdb_id_under_either_key_is_matched_by_it(
        anime: Anime, key: str) -> None:
    film, match = imported_and_matched(anime)
    item = anime.shokofin_movie("Your Name", match, extra_ids={key: str(YOUR_NAME)})
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["via"]) == ("available", "jellyfin")
    assert (request["jellyfin_item_id"], request["matched_by"]) == (item, key)


@pytest.mark.parametrize("anidb", [YOUR_NAME_ANIDB, YOUR_NAME_ANIDB_EPISODE],
                         ids=["anime-id-current-shokofin", "episode-id-older-shokofin"])
def test_shokofin_item_carrying_only_an_anidb_id_is_matched_by_it(
        anime: Anime, anidb: int) -> None:
    """Current Shokofin writes the AniDB *anime* id on a film, an older one (b9f17ce) wrote the
    AniDB *episode* id; 4.2.x writes neither (only the Shoko ids)."""
    film, match = imported_and_matched(anime)
    item = anime.shokofin_movie("Your Name", match, only={"AniDB": anidb})
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert request["state"] == "available"
    assert (request["jellyfin_item_id"], request["matched_by"]) == (item, "AniDB")


def test_jellyfin_item_with_other_shoko_ids_is_not_taken_for_the_film(anime: Anime) -> None:
    film, match = imported_and_matched(anime)
    anime.world.jellyfin.add_movie("Weathering with You", library="Anime Movies", provider_ids={
        "Shoko File": match.file_id + 100, "Shoko Episode": match.episode_id + 100,
        "Shoko Series": match.series_id + 100, "AniDB": 99999,
    })
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert request["state"] == "anime_matching"
    assert request["jellyfin_item_id"] is None


def test_a_sibling_film_of_the_same_shoko_series_is_not_taken_for_the_film(
        anime: Anime) -> None:
    """One AniDB entry can hold several films, all carrying its `Shoko Series`: that alone
    must not make the requested film available while only its sibling is listed."""
    film, match = imported_and_matched(anime)
    sibling_episode = anime.world.shoko.add_episode(match.series_id, 190000, name="Part 2")
    sibling_file = anime.world.shoko.add_file("movies/Part 2/part2.mkv", anime.shoko_folder)
    anime.world.shoko.match_file(sibling_file, match.series_id, [sibling_episode])
    anime.world.jellyfin.add_movie("Your Name: Part 2", library="Anime Movies", provider_ids={
        "Shoko File": sibling_file, "Shoko Episode": sibling_episode,
        "Shoko Series": match.series_id, "AniDB": match.anidb_series,
    })
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert request["state"] == "anime_matching"
    assert request["jellyfin_item_id"] is None

    item = anime.shokofin_movie("Your Name", match)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["jellyfin_item_id"]) == ("available", item)


def test_show_json_exposes_the_recorded_shoko_ids_and_what_jellyfin_matched_by(
        anime: Anime) -> None:
    film, match = imported_and_matched(anime, tmdb_link=True)
    anime.shokofin_movie("Your Name", match)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert request["is_anime"] is True
    assert request["shoko_ids"] == {"file": [match.file_id], "episode": [match.episode_id],
                                    "series": [match.series_id], "anidb": [YOUR_NAME_ANIDB],
                                    "anidb_episode": [YOUR_NAME_ANIDB_EPISODE]}
    assert request["matched_by"] == "Shoko File"


# ---------------------------------------------------------------- which requests are anime


def test_radarr_film_with_the_configured_tag_is_anime(anime: Anime) -> None:
    film = anime.film(YOUR_NAME, "Your Name", root="/data/movies", tags=("anime",))
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["is_anime"]) == ("anime_matching", True)
    assert request["detail"] == "imported; waiting for Shoko to match the file"


def test_radarr_film_under_a_configured_anime_root_folder_is_anime(anime: Anime) -> None:
    film = anime.film(YOUR_NAME, "Your Name", root=ANIME_MOVIES, tags=())
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["is_anime"]) == ("anime_matching", True)


def test_radarr_film_without_tag_or_anime_root_is_not_anime(anime: Anime) -> None:
    film = anime.film(603, "The Matrix", year=1999, root="/data/movies", tags=())
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["is_anime"]) == ("importing", False)
    assert "waiting for Jellyfin" in request["detail"]


def test_film_whose_imported_file_shoko_knows_is_anime_without_tag_or_root(
        anime: Anime) -> None:
    film = anime.film(YOUR_NAME, "Your Name", root="/data/movies", tags=())
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    assert anime.request(film.request_id)["is_anime"] is False
    # Shoko watches that folder too, and has matched the file.
    fid = anime.world.shoko.add_file(film.path.removeprefix("/data/"), anime.shoko_folder)
    match = anime.shoko_match(fid, "Kimi no Na wa.", YOUR_NAME_ANIDB, YOUR_NAME_ANIDB_EPISODE)
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["is_anime"]) == ("anime_matching", True)
    assert request["shoko_ids"]["file"] == [match.file_id]


# ---------------------------------------------------------------- series through Sonarr


@pytest.mark.parametrize(
    "anime", [{"shoko_version": "5.3.3"}, {"shoko_version": "6.0.0"}, *SEERR_VERSIONS],
    ids=["shoko-5.3.3", "shoko-6.0.0", *SEERR_IDS], indirect=True)
def test_anime_series_through_sonarr_waits_for_shoko_then_jellyfin(anime: Anime) -> None:
    w = anime.world
    tvdb, tmdb = 424536, 209867
    rid = w.jellyseerr.add_request(tmdb, "tv", "Frieren", tvdb_id=tvdb, seasons=[1])
    sid = w.sonarr.add_series(tvdb, "Frieren", tmdb_id=tmdb, series_type="anime",
                              seasons={1: 3}, root_folder=ANIME_SHOWS)
    did = w.sonarr.grab(sid, season=1)
    w.sonarr.progress(did, 0.3)
    assert anime.once() == 0
    assert anime.request(rid)["state"] == "downloading"

    file_ids = w.sonarr.import_download(did)
    assert anime.once() == 0
    request = anime.request(rid)
    assert (request["state"], request["is_anime"]) == ("anime_matching", True)
    assert "waiting for Shoko to match the file" in request["detail"]

    series_path = w.sonarr.get_series(sid).path
    shoko_series = w.shoko.add_series(17852, "Sousou no Frieren", tmdb_show_ids=[tmdb])
    shoko_files = []
    shoko_episodes = []
    for n, sonarr_file in enumerate(file_ids, start=1):
        relative = f"{series_path}/{w.sonarr.files[sonarr_file].relative_path}"
        fid = w.shoko.add_file(relative.removeprefix("/data/anime/"), anime.shoko_folder)
        eid = w.shoko.add_episode(shoko_series, 271000 + n)
        w.shoko.match_file(fid, shoko_series, [eid])
        shoko_files.append(fid)
        shoko_episodes.append(eid)
    assert anime.once() == 0
    request = anime.request(rid)
    assert request["state"] == "anime_matching"
    assert "matched by Shoko; waiting for Jellyfin" in request["detail"]
    assert request["shoko_ids"]["series"] == [shoko_series]

    # Shokofin's series and episodes: Shoko ids only, and a season numbering of its own (its
    # season 2 is Sonarr's season 1), so only the Shoko episode ids can pair them.
    series_item = w.jellyfin.add_series("Frieren: Beyond Journey's End", library="Anime",
                                        provider_ids={"Shoko Series": shoko_series,
                                                      "AniDB": 17852})
    for n, (fid, eid) in enumerate(zip(shoko_files, shoko_episodes, strict=True), start=1):
        w.jellyfin.add_episode(series_item, 2, n, provider_ids={
            "Shoko Episode": eid, "Shoko File": fid, "AniDB": 271000 + n})
    assert anime.once() == 0
    data = anime.show(rid)
    request = data["request"]
    assert (request["state"], request["via"]) == ("available", "jellyfin")
    assert (request["episodes_available"], request["episodes_aired"]) == (3, 3)
    assert [e["state"] for e in data["episodes"]] == ["available"] * 3
    assert timeline_pairs(data)[-2:] == [("downloading", "anime_matching"),
                                         ("anime_matching", "available")]


def test_a_new_episode_jellyfin_does_not_list_gets_one_scan_while_the_show_is_partial(
        anime: Anime) -> None:
    """The weekly case: episode 1 is playable, episode 2 is imported and matched, and Shokofin's
    VFS did not pick it up. The show is partially available; Jellyfin is still asked once to
    scan, as for any file it should list (one refresh fixed it in the field)."""
    anime.configure(refresh_grace="0.2s", refresh_min_interval="1h")
    w = anime.world
    tvdb, tmdb = 424538, 209869
    rid = w.jellyseerr.add_request(tmdb, "tv", "Weekly", tvdb_id=tvdb, seasons=[1])
    sid = w.sonarr.add_series(tvdb, "Weekly", tmdb_id=tmdb, series_type="anime",
                              seasons={1: 2}, root_folder=ANIME_SHOWS)
    series_path = w.sonarr.get_series(sid).path
    shoko_series = w.shoko.add_series(18101, "Weekly", tmdb_show_ids=[tmdb])
    item = w.jellyfin.add_series("Weekly", library="Anime",
                                 provider_ids={"Shoko Series": shoko_series, "AniDB": 18101})
    for n, episode_id in enumerate(w.sonarr.episode_ids(sid), start=1):
        [sonarr_file] = w.sonarr.import_download(w.sonarr.grab(sid, [episode_id]))
        relative = f"{series_path}/{w.sonarr.files[sonarr_file].relative_path}"
        fid = w.shoko.add_file(relative.removeprefix("/data/anime/"), anime.shoko_folder)
        eid = w.shoko.add_episode(shoko_series, 282000 + n)
        w.shoko.match_file(fid, shoko_series, [eid])
        if n == 1:
            w.jellyfin.add_episode(item, 1, 1, provider_ids={"Shoko Episode": eid})
    assert anime.once() == 0  # Sonarr: both imported, Shoko asked about them in this cycle
    assert anime.once() == 0
    request = anime.request(rid)
    assert (request["state"], request["episodes_available"]) == ("partially_available", 1)
    assert "matched by Shoko; waiting for Jellyfin" in request["detail"]

    anime.cycles_until(lambda: len(anime.refresh_calls()) >= 1)
    for _ in range(3):
        assert anime.once() == 0
    calls = anime.refresh_calls()
    assert [c.kind for c in calls] == ["media_updated"]
    [path] = calls[0].paths
    assert path.startswith(f"{series_path}/") and "E02" in path  # the episode Jellyfin lacks
    assert anime.request(rid)["state"] == "partially_available"


def test_a_season_split_over_two_shoko_series_counts_the_episodes_of_both(anime: Anime) -> None:
    """AniDB (so Shoko, so Shokofin) often splits one Sonarr season into two anime (split
    cours): two Shoko series, two Jellyfin Series items, one Sonarr season. Both count."""
    w = anime.world
    tvdb, tmdb = 424537, 209868
    rid = w.jellyseerr.add_request(tmdb, "tv", "Cours", tvdb_id=tvdb, seasons=[1])
    sid = w.sonarr.add_series(tvdb, "Cours", tmdb_id=tmdb, series_type="anime",
                              seasons={1: 2}, root_folder=ANIME_SHOWS)
    did = w.sonarr.grab(sid, season=1)
    assert anime.once() == 0
    file_ids = w.sonarr.import_download(did)
    assert anime.once() == 0

    series_path = w.sonarr.get_series(sid).path
    first = w.shoko.add_series(18001, "Cours Part 1", tmdb_show_ids=[tmdb])
    second = w.shoko.add_series(18002, "Cours Part 2")
    pairs = []
    for n, (sonarr_file, shoko_series) in enumerate(zip(file_ids, (first, second), strict=True),
                                                     start=1):
        relative = f"{series_path}/{w.sonarr.files[sonarr_file].relative_path}"
        fid = w.shoko.add_file(relative.removeprefix("/data/anime/"), anime.shoko_folder)
        eid = w.shoko.add_episode(shoko_series, 281000 + n)
        w.shoko.match_file(fid, shoko_series, [eid])
        pairs.append((shoko_series, 18000 + n, fid, eid))
    assert anime.once() == 0
    assert anime.request(rid)["shoko_ids"]["series"] == [first, second]

    for shoko_series, anidb, fid, eid in pairs:
        item = w.jellyfin.add_series(f"Cours {anidb}", library="Anime",
                                     provider_ids={"Shoko Series": shoko_series, "AniDB": anidb})
        w.jellyfin.add_episode(item, 1, 1, provider_ids={"Shoko Episode": eid, "Shoko File": fid})
    assert anime.once() == 0
    request = anime.request(rid)
    assert (request["state"], request["episodes_available"], request["episodes_aired"]) == (
        "available", 2, 2)




def test_cycles_while_anime_waits_for_shoko_and_jellyfin_write_nothing_new(
        anime: Anime) -> None:
    """Level-triggered and idle: re-reading Shoko every cycle stores nothing when it says the
    same (a film waiting for Jellyfin, a series waiting for Shoko)."""
    w = anime.world
    imported_and_matched(anime)
    sid = w.sonarr.add_series(424536, "Frieren", tmdb_id=209867, series_type="anime",
                              seasons={1: 2}, root_folder=ANIME_SHOWS)
    w.jellyseerr.add_request(209867, "tv", "Frieren", tvdb_id=424536, seasons=[1])
    did = w.sonarr.grab(sid, season=1)
    assert anime.once() == 0
    w.sonarr.import_download(did)
    assert anime.once() == 0
    assert anime.once() == 0
    shoko_calls = len(anime.stack.requests("shoko"))
    assert rows_changed_by(anime.tmp_path / "reconciler.db", anime.once) == {"polls": 5}
    assert len(anime.stack.requests("shoko")) > shoko_calls  # Shoko was asked again


@pytest.mark.parametrize("first_seen_imported", [False, True],
                         ids=["imported-between-cycles", "imported-when-first-seen"])
def test_shoko_is_asked_about_a_newly_imported_film_in_the_cycle_that_sees_the_file(
        anime: Anime, first_seen_imported: bool) -> None:
    """Found by tests/e2e/test_random_lives.py: Shoko used to be asked about a film not tagged
    anime only once the previous cycle had decided it was waiting for Jellyfin, so the cycle
    after the import, with nothing changed anywhere, still stored Shoko's answer."""
    film = anime.film(603, "The Matrix", year=1999, root="/data/movies", tags=())
    if not first_seen_imported:
        assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    assert anime.request(film.request_id)["state"] == "importing"
    assert rows_changed_by(anime.tmp_path / "reconciler.db", anime.once) == {"polls": 5}


@pytest.mark.parametrize("first_seen_imported", [False, True],
                         ids=["imported-between-cycles", "imported-when-first-seen"])
def test_shoko_is_asked_about_a_new_anime_show_in_the_cycle_that_first_sees_its_files(
        anime: Anime, first_seen_imported: bool) -> None:
    """A show requested with its files already imported (or imported between two cycles) is
    asked about in Shoko in the cycle that first sees the files, as films are: the next cycle,
    with nothing changed anywhere, stores nothing new."""
    w = anime.world
    tvdb, tmdb = 424539, 209870
    rid = w.jellyseerr.add_request(tmdb, "tv", "Dandadan", tvdb_id=tvdb, seasons=[1])
    sid = w.sonarr.add_series(tvdb, "Dandadan", tmdb_id=tmdb, series_type="anime",
                              seasons={1: 2}, root_folder=ANIME_SHOWS)
    did = w.sonarr.grab(sid, season=1)
    if not first_seen_imported:
        assert anime.once() == 0
    series_path = w.sonarr.get_series(sid).path
    shoko_series = w.shoko.add_series(18201, "Dandadan", tmdb_show_ids=[tmdb])
    for n, sonarr_file in enumerate(w.sonarr.import_download(did), start=1):
        relative = f"{series_path}/{w.sonarr.files[sonarr_file].relative_path}"
        fid = w.shoko.add_file(relative.removeprefix("/data/anime/"), anime.shoko_folder)
        w.shoko.match_file(fid, shoko_series, [w.shoko.add_episode(shoko_series, 283000 + n)])
    assert anime.once() == 0
    request = anime.request(rid)
    assert request["state"] == "anime_matching"
    assert "matched by Shoko; waiting for Jellyfin" in request["detail"]
    assert request["shoko_ids"]["series"] == [shoko_series]
    assert rows_changed_by(anime.tmp_path / "reconciler.db", anime.once) == {"polls": 5}


# ---------------------------------------------------------------- failure modes


@pytest.mark.parametrize(("shoko_has_it", "seen"), [(True, "has not recognised"),
                                                    (False, "has not found")],
                         ids=["hashed-but-unmatched", "never-seen-by-shoko"])
def test_a_file_shoko_never_recognises_gets_a_detail_naming_it(
        anime: Anime, shoko_has_it: bool, seen: str) -> None:
    anime.configure(unrecognised_after="0.2s")
    film = anime.film(YOUR_NAME, "Your Name")
    assert anime.once() == 0
    path = anime.import_film(film)
    if shoko_has_it:
        anime.shoko_file_for(film)  # hashed, never matched
    assert anime.once() == 0
    assert anime.request(film.request_id)["detail"] == (
        "imported; waiting for Shoko to match the file")

    anime.cycles_until(lambda: "by hand" in anime.request(film.request_id)["detail"])
    request = anime.request(film.request_id)
    assert request["state"] == "anime_matching"
    assert request["detail"] == (f"waiting for Shoko to match the file: Shoko {seen} {path} "
                                 "after 0.2 s; link it by hand in Shoko")


def test_shoko_down_for_a_cycle_holds_anime_requests_and_exits_3(anime: Anime) -> None:
    film = anime.film(YOUR_NAME, "Your Name")
    assert anime.once() == 0
    anime.import_film(film)
    assert anime.once() == 0
    before = anime.request(film.request_id)
    assert before["state"] == "anime_matching"

    anime.stack.set_fault("shoko", "refuse")
    fid = anime.shoko_file_for(film)
    match = anime.shoko_match(fid, "Kimi no Na wa.", YOUR_NAME_ANIDB, YOUR_NAME_ANIDB_EPISODE)
    item = anime.shokofin_movie("Your Name", match)
    assert anime.once() == 3
    during = anime.request(film.request_id)
    assert (during["state"], during["detail"]) == (before["state"], before["detail"])
    conn = sqlite3.connect(anime.tmp_path / "reconciler.db")
    try:
        ok, error = conn.execute("SELECT ok, error FROM polls WHERE service='shoko' "
                                 "ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    assert ok == 0 and error

    anime.stack.clear_fault("shoko")
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["via"]) == ("available", "jellyfin")
    assert (request["jellyfin_item_id"], request["matched_by"]) == (item, "Shoko File")
    states = [t["to"] for t in anime.show(film.request_id)["timeline"]]
    assert "importing" not in states


# ---------------------------------------------------------------- Shoko still fetching metadata


@pytest.mark.parametrize(
    "anime", [{"shoko_version": v} for v in ("5.1.0.0", "5.3.3", "6.0.0")],
    ids=["shoko-5.1", "shoko-5.3.3", "shoko-6.0.0"], indirect=True)
def test_a_file_whose_shoko_ids_are_still_null_waits_and_every_other_request_moves(
        anime: Anime) -> None:
    """Linked to AniDB before Shoko has created its series and episode: the cross-reference's
    `ID` is null. That request waits, saying why; the cycle (and the other film) goes on."""
    waiting = anime.film(YOUR_NAME, "Your Name")
    other = anime.film(SILENT_VOICE, "A Silent Voice")
    assert anime.once() == 0
    anime.import_film(waiting)
    anime.import_film(other)
    fid = anime.shoko_file_for(waiting)
    anime.world.shoko.link_to_anidb_pending(fid, YOUR_NAME_ANIDB, [YOUR_NAME_ANIDB_EPISODE])
    other_match = anime.shoko_match(anime.shoko_file_for(other), other.title,
                                    SILENT_VOICE_ANIDB, SILENT_VOICE_ANIDB_EPISODE)
    item = anime.shokofin_movie("A Silent Voice", other_match)
    assert anime.once() == 0
    request = anime.request(waiting.request_id)
    assert (request["state"], request["via"]) == ("anime_matching", "shoko")
    assert request["detail"] == ("imported; Shoko is still fetching the anime's metadata from "
                                 "AniDB before it can match the file")
    other_request = anime.request(other.request_id)
    assert (other_request["state"], other_request["jellyfin_item_id"]) == ("available", item)
    assert anime.once() == 0  # and again: the null ids never fail the Shoko poll
    assert anime.request(waiting.request_id)["state"] == "anime_matching"

    # Shoko has the anime now: the same cross-reference carries its ids.
    sid = anime.world.shoko.add_series(YOUR_NAME_ANIDB, "Kimi no Na wa.")
    eid = anime.world.shoko.add_episode(sid, YOUR_NAME_ANIDB_EPISODE, name="Complete Movie")
    assert anime.once() == 0
    request = anime.request(waiting.request_id)
    assert request["detail"] == "matched by Shoko; waiting for Jellyfin"
    assert request["shoko_ids"]["series"] == [sid]
    assert request["shoko_ids"]["episode"] == [eid]
    match = ShokoMatch(fid, sid, eid, YOUR_NAME_ANIDB, YOUR_NAME_ANIDB_EPISODE)
    anime.shokofin_movie("Your Name", match)
    assert anime.once() == 0
    assert anime.request(waiting.request_id)["state"] == "available"


# ---------------------------------------------------------------- Shokofin's t/T episode ids


def _anime_show_on_disk(anime: Anime, tvdb: int, tmdb: int, name: str,
                        anidb: int) -> tuple[int, int, list[int], list[int]]:
    """An anime show of two episodes, imported and matched by Shoko: (request id, Shoko series,
    Shoko file ids, Shoko episode ids)."""
    w = anime.world
    rid = w.jellyseerr.add_request(tmdb, "tv", name, tvdb_id=tvdb, seasons=[1])
    sid = w.sonarr.add_series(tvdb, name, tmdb_id=tmdb, series_type="anime",
                              seasons={1: 2}, root_folder=ANIME_SHOWS)
    assert anime.once() == 0
    did = w.sonarr.grab(sid, season=1)
    file_ids = w.sonarr.import_download(did)
    series_path = w.sonarr.get_series(sid).path
    shoko_series = w.shoko.add_series(anidb, name, tmdb_show_ids=[tmdb])
    files, episodes = [], []
    for n, sonarr_file in enumerate(file_ids, start=1):
        relative = f"{series_path}/{w.sonarr.files[sonarr_file].relative_path}"
        fid = w.shoko.add_file(relative.removeprefix("/data/anime/"), anime.shoko_folder)
        eid = w.shoko.add_episode(shoko_series, anidb * 10 + n)
        w.shoko.match_file(fid, shoko_series, [eid])
        files.append(fid)
        episodes.append(eid)
    return rid, shoko_series, files, episodes


@pytest.mark.parametrize("movie", [False, True], ids=["t-tmdb-episode", "T-tmdb-movie"])
def test_a_shokofin_episode_id_built_from_tmdb_never_prevents_a_match_by_shoko_file(
        anime: Anime, movie: bool) -> None:
    """Recent Shokofin writes `Shoko Episode: t<TMDB episode>` (or `T<TMDB film>`) for
    episodes it builds from TMDB data; its numbering differs from Sonarr's here, so only the
    `Shoko File` id pairs them, and it still does."""
    rid, shoko_series, files, _ = _anime_show_on_disk(anime, 424540, 209870, "Dandadan", 17900)
    w = anime.world
    series_item = w.jellyfin.add_series("Dandadan", library="Anime",
                                        provider_ids={"Shoko Series": shoko_series})
    for n, fid in enumerate(files, start=1):
        ep_item = w.jellyfin.add_episode(series_item, 2, n, provider_ids={"Shoko File": fid})
        w.jellyfin.set_shokofin_tmdb_episode(ep_item, 5_000_000 + n, movie=movie)
    assert anime.once() == 0
    request = anime.request(rid)
    assert (request["state"], request["episodes_available"]) == ("available", 2)


def test_a_shokofin_episode_id_built_from_tmdb_never_prevents_a_match_by_number(
        anime: Anime) -> None:
    """No `Shoko File` id, the same numbering as Sonarr's, and a `t<id>` Shoko Episode value
    (which names no Shoko episode): matched by season and number."""
    rid, shoko_series, _, _ = _anime_show_on_disk(anime, 424541, 209871, "Kaiju No. 8", 17901)
    w = anime.world
    series_item = w.jellyfin.add_series("Kaiju No. 8", library="Anime",
                                        provider_ids={"Shoko Series": shoko_series})
    for n in (1, 2):
        ep_item = w.jellyfin.add_episode(series_item, 1, n)
        w.jellyfin.set_shokofin_tmdb_episode(ep_item, 5_100_000 + n)
    assert anime.once() == 0
    data = anime.show(rid)
    assert (data["request"]["state"], data["request"]["episodes_available"]) == ("available", 2)


def test_episodes_whose_shoko_ids_are_still_null_wait_then_match(anime: Anime) -> None:
    """The same window for a show: Sonarr imported both episodes, Shoko linked them to AniDB
    before creating the anime; once it has, the episodes match and Jellyfin's count them."""
    w = anime.world
    tvdb, tmdb, anidb = 424542, 209872, 17902
    rid = w.jellyseerr.add_request(tmdb, "tv", "Pending", tvdb_id=tvdb, seasons=[1])
    sid = w.sonarr.add_series(tvdb, "Pending", tmdb_id=tmdb, series_type="anime",
                              seasons={1: 2}, root_folder=ANIME_SHOWS)
    assert anime.once() == 0
    file_ids = w.sonarr.import_download(w.sonarr.grab(sid, season=1))
    series_path = w.sonarr.get_series(sid).path
    shoko_files = []
    for n, sonarr_file in enumerate(file_ids, start=1):
        relative = f"{series_path}/{w.sonarr.files[sonarr_file].relative_path}"
        fid = w.shoko.add_file(relative.removeprefix("/data/anime/"), anime.shoko_folder)
        w.shoko.link_to_anidb_pending(fid, anidb, [anidb * 10 + n])
        shoko_files.append(fid)
    assert anime.once() == 0
    assert anime.once() == 0
    request = anime.request(rid)
    assert (request["state"], request["via"]) == ("anime_matching", "shoko")
    assert "Shoko is still fetching the anime's metadata from AniDB" in request["detail"]

    shoko_series = w.shoko.add_series(anidb, "Pending", tmdb_show_ids=[tmdb])
    episodes = [w.shoko.add_episode(shoko_series, anidb * 10 + n) for n in (1, 2)]
    assert anime.once() == 0
    request = anime.request(rid)
    assert "matched by Shoko; waiting for Jellyfin" in request["detail"]
    assert request["shoko_ids"]["series"] == [shoko_series]
    item = w.jellyfin.add_series("Pending", library="Anime",
                                 provider_ids={"Shoko Series": shoko_series})
    for n, (fid, eid) in enumerate(zip(shoko_files, episodes, strict=True), start=1):
        w.jellyfin.add_episode(item, 1, n, provider_ids={"Shoko File": fid, "Shoko Episode": eid})
    assert anime.once() == 0
    assert anime.request(rid)["state"] == "available"


def test_a_file_of_another_show_ending_like_this_ones_is_never_taken_for_it(
        anime: Anime) -> None:
    """Shoko's PathEndsWith is a plain EndsWith with no folder boundary (issue 22): the path
    tail is sent with its leading separator, so "Show - S01E01 ...mkv" no longer finds
    "Other Show - S01E01 ...mkv", and the file name alone never takes a file of that name in
    another folder. The episode's own file, in the show's folder (Shoko keeps no season
    folders), is found by its name."""
    w = anime.world
    tvdb, tmdb = 424540, 209871
    rid = w.jellyseerr.add_request(tmdb, "tv", "Show", tvdb_id=tvdb, seasons=[1])
    sid = w.sonarr.add_series(tvdb, "Show", tmdb_id=tmdb, series_type="anime",
                              seasons={1: 1}, root_folder=ANIME_SHOWS)
    (sonarr_file,) = w.sonarr.import_download(w.sonarr.grab(sid, season=1))
    name = w.sonarr.files[sonarr_file].relative_path.rsplit("/", 1)[1]
    other = w.shoko.add_series(18300, "Other Show")
    for relative in (f"shows/Other Show/Other {name}", f"shows/Elsewhere/{name}"):
        fid = w.shoko.add_file(relative, anime.shoko_folder)
        w.shoko.match_file(fid, other, [w.shoko.add_episode(other, 284000 + fid)])
    assert anime.once() == 0
    request = anime.request(rid)
    assert request["state"] == "anime_matching"
    assert request["detail"] == "imported; waiting for Shoko to match the file"
    assert "series" not in request["shoko_ids"]
    asked = [r.query["path"] for r in anime.stack.requests("shoko",
                                                           path="/api/v3/File/PathEndsWith")]
    assert asked == [f"/Season 01/{name}", f"/{name}"]

    own = w.shoko.add_series(18301, "Show", tmdb_show_ids=[tmdb])
    fid = w.shoko.add_file(f"shows/Show/{name}", anime.shoko_folder)
    w.shoko.match_file(fid, own, [w.shoko.add_episode(own, 285001)])
    assert anime.once() == 0
    request = anime.request(rid)
    assert "matched by Shoko; waiting for Jellyfin" in request["detail"]
    assert request["shoko_ids"]["series"] == [own]


@pytest.mark.parametrize("key", ["Shoko Series", "AniDB"])
def test_a_shokofin_tmdb_structure_film_matches_by_its_shoko_ids(anime: Anime, key: str) -> None:
    """Shokofin's TMDB library structure writes `Shoko Episode = "T<TMDB film id>"` on a film
    (issue 22): not another film's Shoko episode. With the merged version carrying another
    file's `Shoko File`, the film still matches by its Shoko series or AniDB id; a `T<id>` of
    another film is refused."""
    film, match = imported_and_matched(anime)
    values = {"Shoko Series": match.series_id, "AniDB": match.anidb_series}
    anime.world.jellyfin.add_movie("Weathering with You", library="Anime Movies", provider_ids={
        "Shoko Episode": "T568160", key: values[key]})
    assert anime.once() == 0
    assert anime.request(film.request_id)["jellyfin_item_id"] is None
    item = anime.shokofin_movie("Your Name", match, only={
        "Shoko Episode": f"T{YOUR_NAME}", "Shoko File": match.file_id + 7, key: values[key]})
    assert anime.once() == 0
    request = anime.request(film.request_id)
    assert (request["state"], request["jellyfin_item_id"], request["matched_by"]) == (
        "available", item, key)


# ---------------------------------------------------------------- anime on any media server


@pytest.mark.parametrize("media", MEDIA_SERVERS)
def test_anime_is_matched_by_its_tmdb_and_tvdb_ids_on_emby_plex_and_jellyfin_without_shoko(
        tmp_path: Path, media: str) -> None:
    """Anime through Shoko is a Jellyfin (Shokofin) feature. On Emby and Plex a configured
    [shoko] is not polled (a warning says so), and anime requests, still recognised as anime,
    wait for the media server and are matched by their TMDB (films) and TVDB (series) ids like
    any other: the journey Jellyfin takes when no Shoko is configured."""
    world = World()
    services = ("jellyseerr", "radarr", "sonarr", "shoko", media)
    with SimulatedStack(world, services=services) as stack:
        server = stack.media
        server.add_library("Anime Movies", [ANIME_MOVIES], "movies")
        server.add_library("Anime", [ANIME_SHOWS], "tvshows")
        text = stack.config_toml(tmp_path / "reconciler.db")
        text += f'\n[anime]\nroot_folders = ["{ANIME_MOVIES}", "{ANIME_SHOWS}"]\n'
        if media == "jellyfin":  # the same journey on Jellyfin: an anime household without Shoko
            text = text.split("[shoko]")[0] + "[jellyfin]" + text.split("[jellyfin]")[1]
        config = tmp_path / "config.toml"
        config.write_text(text)
        config.chmod(0o600)

        def cycle() -> None:
            result = run_reconcile("--config", str(config), "--once")
            assert result.code == 0, result.stderr

        def request(rid: int) -> dict[str, Any]:
            result = run_reconcile("--config", str(config), "show", str(rid), "--json")
            data: dict[str, Any] = result.json()["request"]
            return data

        film = world.jellyseerr.add_request(YOUR_NAME, "movie", "Your Name")
        mid = world.radarr.add_movie(YOUR_NAME, "Your Name", year=2016, root_folder=ANIME_MOVIES,
                                     tags=("anime",))
        world.radarr.import_file(mid, download_id=world.radarr.grab(mid))
        tvdb, tmdb = 424536, 209867
        show_rid = world.jellyseerr.add_request(tmdb, "tv", "Frieren", tvdb_id=tvdb, seasons=[1])
        sid = world.sonarr.add_series(tvdb, "Frieren", tmdb_id=tmdb, series_type="anime",
                                      seasons={1: 2}, root_folder=ANIME_SHOWS)
        world.sonarr.import_download(world.sonarr.grab(sid, season=1))
        cycle()
        name = {"jellyfin": "Jellyfin", "emby": "Emby", "plex": "Plex"}[media]
        for rid in (film, show_rid):
            data = request(rid)
            assert (data["state"], data["is_anime"]) == ("importing", True), data
            assert f"waiting for {name}" in data["detail"]

        item = server.add_movie("Kimi no Na wa.", tmdb_id=YOUR_NAME, year=2016,
                                library="Anime Movies")
        series = server.add_series("Sousou no Frieren", tvdb_id=tvdb, library="Anime")
        for n in (1, 2):
            server.add_episode(series, 1, n)
        cycle()
        data = request(film)
        assert (data["state"], data["via"], data["jellyfin_item_id"], data["matched_by"]) == (
            "available", media, item, "Tmdb")
        data = request(show_rid)
        assert (data["state"], data["via"], data["episodes_available"]) == ("available", media, 2)
        assert stack.requests("shoko") == []  # never asked: its matches say nothing here
        if media != "jellyfin":
            doctor = run_reconcile("--config", str(config), "doctor")
            assert f"⚠ config: [shoko] is configured but the media server is {name}: Shoko " \
                   "is not polled" in doctor.stdout
