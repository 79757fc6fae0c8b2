"""The demo's scripted world: five requests played out on the simulated stack, on a timeline.

`DemoScript(world, speed, media_server)` builds the initial state (`setup()`), then `play()` (a
thread target) performs each step when its time comes. Times are written for `speed` 1 (seconds
since the start) and divided by `speed`. What each request is expected to end as, and the anime
film's invariant (never `available` before the simulated media server listed it), are checked by
`check(store)` against the timeline the real reconciler wrote.

The media server is Jellyfin (with Shoko and Shokofin for the anime film), Emby or Plex (the
anime film then matched by its TMDB id, Shoko being a Jellyfin feature), driven through
`simstack.media`. It does not scan on its own here: items the script "drops on disk" appear at
fixed times, except the anime film, which it lists only after the reconciler asked it to scan
(a refresh call, or a report of its file or folder under the library's: Shokofin then builds the
film's entry in its virtual folder), `SCAN_DELAY` later. So the film can only become available
through the reconciler's own nudge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.registry import short_name
from reconciler.states import RequestState
from reconciler.store import Store
from simstack import World
from simstack._arr import ArrWorld
from simstack.jellyseerr import APPROVED, DECLINED, MEDIA_AVAILABLE, PENDING
from simstack.media import Scan, media_server

S = RequestState

# Timings at speed 1, in seconds of the demo.
POLL_INTERVAL = 1.0  # Radarr, Sonarr, Shoko, the media server
SEERR_POLL_INTERVAL = 2.0  # Jellyseerr (each of its listings costs it *arr calls)
REFRESH_GRACE = 5.0  # how long the reconciler lets the media server find a file by itself
REFRESH_MIN_INTERVAL = 10.0
# The database keeps times to the second (a phase may look up to 1 s older than it is), so a
# shorter grace would nudge the media server about films it lists a moment after their import
# anyway.
MIN_REFRESH_GRACE = 2.0
SCAN_DELAY = 2.0  # a refresh call's scan takes this long to list new items
SLACK = 30.0  # after the last step, how long the requests may take to settle
MIN_INTERVAL = 0.05  # no poll interval below this, whatever the speed
E04_AIRS = 30.0  # when the airing show's fourth episode of season 2 airs

MOVIES, SHOWS, ANIME = "/data/movies", "/data/tv", "/data/anime"

# Request ids, in the order the script creates them in Jellyseerr.
MATRIX, HARBOR, SPIRITED, BLADE, CATS = 1, 2, 3, 4, 5

EmitFn = Callable[[str], None]


@dataclass(frozen=True)
class Expectation:
    """How one scripted request must end, and which states it must have passed through."""

    request_id: int
    title: str
    kind: str
    end_state: RequestState
    passes_through: tuple[RequestState, ...]
    story: str


def expectations(server: str = "Jellyfin") -> tuple[Expectation, ...]:
    """How the five requests must end with the media server `server` (its name)."""
    anime = (
        Expectation(SPIRITED, "Spirited Away", "anime film", S.AVAILABLE, (S.ANIME_MATCHING,),
                    "Shoko matches the file long before Jellyfin lists it; Jellyfin lists it "
                    "only once the reconciler asks it to scan")
        if server == "Jellyfin" else
        Expectation(SPIRITED, "Spirited Away", "anime film", S.AVAILABLE, (S.IMPORTING,),
                    f"matched by its TMDB id (Shoko is a Jellyfin feature); {server} lists it "
                    f"only once the reconciler asks it to scan"))
    missing = (f"{server}'s placeholder episodes do not count" if server != "Plex"
               else "Plex lists only the episodes it has scanned")
    return (
        Expectation(MATRIX, "The Matrix", "film", S.AVAILABLE, (S.REQUESTED, S.DOWNLOADING),
                    f"approved after a wait, downloaded, imported, listed by {server}"),
        Expectation(HARBOR, "Harbor Lights", "show", S.AVAILABLE, (S.PARTIALLY_AVAILABLE,),
                    "season 1 as a season pack, season 2 airing: one episode airs during the "
                    f"demo; {missing}"),
        anime,
        Expectation(BLADE, "Blade Runner 2049", "film", S.AVAILABLE, (S.FAILED,),
                    "the first download stalls and fails; Radarr grabs another release"),
        Expectation(CATS, "Cats", "film", S.DECLINED, (),
                    "declined in Jellyseerr"),
    )


EXPECTATIONS = expectations()


# What a step does to the world: performed with the script (its world, and the ids and
# downloads earlier steps recorded) when the step's time comes.
Do = Callable[["DemoScript"], None]


@dataclass(frozen=True)
class Step:
    at: float  # seconds at speed 1
    note: str | None  # what the world does, for the log; None for routine progress
    do: Do


@dataclass
class AnimeWatch:
    """What happened to the anime film's media server item, in world time."""

    item_id: str | None = None
    pending_since: datetime | None = None
    refreshes: list[datetime] = field(default_factory=list)
    listed_at: datetime | None = None
    # When the reconciler decided `available` (its clock, to the microsecond; the database's
    # timeline keeps whole seconds). Filled by whoever runs the reconciler in-process.
    available_at: list[datetime] = field(default_factory=list)


class DemoScript:
    """The scripted world of `reconcile demo`. See the module docstring."""

    def __init__(self, world: World, speed: float = 1.0, media: str = "jellyfin") -> None:
        if speed <= 0:
            raise ValueError("speed must be greater than zero")
        self.world = world
        self.speed = speed
        self.media = media_server(world, media)
        self.server = short_name(media)  # "Plex": what the notes call it
        self.anime = AnimeWatch()
        self.started: datetime | None = None
        self.done = threading.Event()
        self.expectations = expectations(self.server)
        self._ids: dict[str, int] = {}
        self._downloads: dict[str, str] = {}
        self._libraries: dict[str, str] = {}
        self._placeholders: dict[int, str] = {}
        self._emit: EmitFn = lambda text: None
        self.announce_refreshes = False  # also note refresh calls (nobody else reports them)
        # In time order; same-time steps keep the order they are written in (a stable sort).
        # Without Jellyfin, Shoko plays no part: the anime film lands on disk for the server.
        timeline = TIMELINE if media == "jellyfin" else WITHOUT_SHOKO
        self._steps = sorted(timeline, key=lambda step: step.at)

    # -- timing ------------------------------------------------------------------------------

    def scaled(self, seconds: float) -> float:
        """`seconds` of the demo at speed 1, in real seconds at this speed."""
        return seconds / self.speed

    def interval(self, seconds: float, floor: float = MIN_INTERVAL) -> float:
        """A configured interval: `seconds` at speed 1, scaled, at least `floor`."""
        return max(floor, round(seconds / self.speed, 3))

    @property
    def length(self) -> float:
        """The time of the last step, at speed 1."""
        return max(step.at for step in self._steps)

    @property
    def deadline(self) -> float:
        """Real seconds after the start by which every request should have settled."""
        return self.scaled(self.length + SLACK) + 5.0

    def elapsed(self, when: datetime | None = None) -> float:
        """Seconds since the start of the script (world time)."""
        if self.started is None:
            return 0.0
        return ((when or self.world.now) - self.started).total_seconds()

    # -- the initial world -------------------------------------------------------------------

    def setup(self) -> None:
        """Everything that exists before the demo starts (call before the stack serves)."""
        world = self.world
        with world.lock:
            self.started = world.now
            media = self.media
            self._libraries = {
                "movies": media.add_library("Movies", [MOVIES], "movies"),
                "tv": media.add_library("Shows", [SHOWS], "tvshows"),
                "anime": media.add_library("Anime", [ANIME], "movies"),
            }
            media.scan_on_refresh = False  # this script decides what a refresh lists
            media.on_scan(self._on_scan)

            seerr = world.jellyseerr
            seerr.add_title(603, "movie", "The Matrix", date="1999-03-31", imdb_id="tt0133093")
            seerr.add_title(900002, "tv", "Harbor Lights", date="2024-03-04", tvdb_id=900001,
                            seasons={1: 6, 2: 6})
            seerr.add_title(129, "movie", "Spirited Away", date="2001-07-20",
                            original_title="千と千尋の神隠し", original_language="ja")
            seerr.add_title(335984, "movie", "Blade Runner 2049", date="2017-10-04")
            seerr.add_title(536869, "movie", "Cats", date="2019-12-19")
            # The household: the status page says who asked for what.
            anna, ben = seerr.add_user("anna"), seerr.add_user("ben")
            ids = [
                seerr.add_request(603, "movie", "The Matrix", status=PENDING, requested_by=ben),
                seerr.add_request(900002, "tv", "Harbor Lights", tvdb_id=900001, seasons=[1, 2],
                                  requested_by=anna),
                seerr.add_request(129, "movie", "Spirited Away", requested_by=anna),
                seerr.add_request(335984, "movie", "Blade Runner 2049", requested_by=ben),
                seerr.add_request(536869, "movie", "Cats", status=PENDING, requested_by=anna),
            ]
            if ids != [MATRIX, HARBOR, SPIRITED, BLADE, CATS]:
                raise RuntimeError(f"the demo needs a fresh world (request ids {ids})")

            radarr = world.radarr
            radarr.add_tag("anime")
            self._ids["spirited"] = radarr.add_movie(
                129, "Spirited Away", year=2001, root_folder=f"{ANIME}/movies", tags=["anime"],
                runtime=125)
            self._ids["blade"] = radarr.add_movie(335984, "Blade Runner 2049", year=2017,
                                                  runtime=164)

            sonarr = world.sonarr
            now = self.started
            sid = sonarr.add_series(900001, "Harbor Lights", tmdb_id=900002, seasons={1: 6},
                                    first_aired=now - timedelta(days=400), year=2024)
            self._ids["harbor"] = sid
            # Season 2 is airing: three episodes out, the fourth airs during the demo (its time
            # is set again when the script starts playing), two more in the coming weeks.
            season2 = [now - timedelta(days=15), now - timedelta(days=8), now - timedelta(days=1),
                       now + timedelta(seconds=self.scaled(E04_AIRS)),
                       now + timedelta(days=7), now + timedelta(days=14)]
            for number, airs in enumerate(season2, start=1):
                self._ids[f"s2e{number}"] = sonarr.add_episode(sid, 2, number, airs)

    def _arr(self, name: str) -> ArrWorld:
        return self.world.radarr if name == "radarr" else self.world.sonarr

    def _replace_placeholders(self, *numbers: int) -> None:
        for n in numbers:
            self.media.make_playable(
                self._placeholders[n],
                f"{SHOWS}/Harbor Lights/Season 02/Harbor Lights - S02E{n:02d}.mkv")

    # -- the media server's scans ------------------------------------------------------------

    def _on_scan(self, call: Scan) -> None:
        """A scan request reached the fake media server (server thread, world lock held)."""
        anime_library = call.library_id == self._libraries["anime"] or any(
            _under(p, ANIME) for p in call.paths)
        if call.kind == "all" or anime_library:
            self.anime.refreshes.append(call.at)
        if self.announce_refreshes:
            what = "every library" if call.kind == "all" else (
                "a new file" if call.paths
                else f"library {self._library_name(call.library_id)}")
            self._emit(f"{self.server} was asked to scan {what}; the scan takes "
                       f"{self.scaled(SCAN_DELAY):g} s")
        self.world.call_later(self.scaled(SCAN_DELAY), lambda: self._scan(call))

    def _library_name(self, library_id: str | None) -> str:
        name = self.media.library_name(library_id)
        return f"'{name}'" if name else "?"

    def _scan(self, call: Scan) -> None:
        media = self.media
        if call.kind == "all":
            listed = media.scan()
        elif not call.paths:
            listed = media.scan(call.library_id)
        elif media.kind == "jellyfin":
            # A file reported under the anime library's folder: Shokofin (the VFS) presents it
            # at a path of its own, so what gets listed is that library's new entry.
            listed = [i for p in call.paths for i in (
                media.scan(self._libraries["anime"]) if _under(p, ANIME)
                else media.scan(path=p))]
        else:
            listed = [i for p in call.paths for i in media.scan(path=p)]
        if self.anime.item_id in listed:
            self.anime.listed_at = self.world.now
            self._emit(f"{self.server}'s scan lists Spirited Away")

    # -- playing -----------------------------------------------------------------------------

    def play(self, emit: EmitFn, stop: threading.Event) -> None:
        """Perform every step at its time (a thread target); `emit` gets each step's note.
        The demo's clock starts now."""
        self._emit = emit
        if self.started is None:
            self.setup()
        with self.world.lock:
            self.started = clock0 = self.world.now
            self.world.sonarr.update_episode(
                self._ids["s2e4"], air_date_utc=clock0 + timedelta(seconds=self.scaled(E04_AIRS)))
        for step in self._steps:
            due = self.scaled(step.at)
            while True:
                left = due - (self.world.now - clock0).total_seconds()
                if left <= 0:
                    break
                if stop.wait(min(left, 0.05)):
                    return
                self.world.tick()  # the scan timers run even when nobody calls the server
            with self.world.lock:
                step.do(self)
            if step.note:
                emit(step.note.replace("{server}", self.server))
        self.done.set()
        while not stop.wait(0.05):
            self.world.tick()

    # -- checking ----------------------------------------------------------------------------

    def check(self, store: Store) -> list[str]:
        """What went wrong, from the reconciler's database (empty: everything as scripted)."""
        problems = []
        for exp in self.expectations:
            row = store.request(exp.request_id)
            label = f"#{exp.request_id} {exp.title}"
            if row is None:
                problems.append(f"{label}: never tracked")
                continue
            if row.state is not exp.end_state:
                problems.append(f"{label}: ended {row.state.value}, expected "
                                f"{exp.end_state.value} ({row.detail})")
            seen = {t.to_state for t in store.timeline(exp.request_id)}
            for state in exp.passes_through:
                if state.value not in seen:
                    problems.append(f"{label}: never was {state.value}")
        problems += self.check_anime(store)
        return problems

    def check_anime(self, store: Store) -> list[str]:
        """The anime film was never available before the media server listed it, and it was
        listed only after the reconciler asked it to scan.

        The timeline keeps whole seconds, so from the database an `available` stamped before the
        second in which the server listed the film is the proof of an early one; the reconciler's
        own decision times (`anime.available_at`, when recorded) settle it to the microsecond."""
        label, server = f"#{SPIRITED} Spirited Away", self.server
        listed = self.anime.listed_at
        timeline = store.timeline(SPIRITED)
        stamped = [at for t in timeline
                   if t.to_state == S.AVAILABLE.value and (at := t.at) is not None]
        problems = []
        if listed is None:
            if stamped or self.anime.available_at:
                problems.append(f"{label}: available, but {server} never listed it")
            else:
                problems.append(f"{label}: {server} never listed it (no scan was asked for)")
            return problems
        listed_second = listed.replace(microsecond=0)
        early = [at for at in stamped if at < listed_second]
        early += [at for at in self.anime.available_at if at < listed]
        for at in early:
            problems.append(f"{label}: available at {self.elapsed(at):.1f}s, before {server} "
                            f"listed it at {self.elapsed(listed):.1f}s")
        if not any(at <= listed for at in self.anime.refreshes):
            problems.append(f"{label}: {server} listed it without a scan request")
        if not any(t.from_state == t.to_state and t.via == "reconciler" for t in timeline):
            problems.append(f"{label}: the timeline shows no scan request")
        return problems


# ---------------------------------------------------------------- the timeline
#
# The script as data (`TIMELINE`, at the end): one `Step` each, its `Do` made by one of the small
# verbs below.


def _both(first: Do, then: Do) -> Do:
    """Two things in one step, in this order."""
    def do(script: DemoScript) -> None:
        first(script)
        then(script)
    return do


def _nothing(script: DemoScript) -> None:
    """A step that only notes what happens (an air date set at the start passes)."""


def _grab_film(key: str, film: str, group: str) -> Do:
    """Radarr grabs a release of film `film`; its download is `key` from now on."""
    def do(script: DemoScript) -> None:
        script._downloads[key] = script.world.radarr.grab(script._ids[film], release_group=group)
    return do


def _grab_season(key: str, series: str, season: int, group: str) -> Do:
    """Sonarr grabs a season pack."""
    def do(script: DemoScript) -> None:
        script._downloads[key] = script.world.sonarr.grab(script._ids[series], season=season,
                                                          release_group=group)
    return do


def _grab_episodes(key: str, series: str, episodes: tuple[str, ...], group: str) -> Do:
    """Sonarr grabs one release of these episodes."""
    def do(script: DemoScript) -> None:
        ids = [script._ids[episode] for episode in episodes]
        script._downloads[key] = script.world.sonarr.grab(script._ids[series], ids,
                                                          release_group=group)
    return do


def _progress(arr: str, key: str, start: float, end: float,
              until: float = 1.0) -> tuple[Step, ...]:
    """Progress steps for download `key` from `start` to `end`, about one a second, up to
    `until` of it."""
    def advance(fraction: float) -> Do:
        return lambda script: script._arr(arr).progress(script._downloads[key], fraction)

    n = max(1, round(end - start))
    return tuple(Step(start + (end - start) * i / n, None, advance(until * i / n))
                 for i in range(n + 1))


def _complete(arr: str, key: str) -> Do:
    return lambda script: script._arr(arr).complete_download(script._downloads[key])


def _stall(key: str, message: str) -> Do:
    return lambda script: script.world.radarr.mark_failed_pending(script._downloads[key],
                                                                  message)


def _fail(key: str, message: str) -> Do:
    return lambda script: script.world.radarr.fail_download(script._downloads[key], message)


def _start_import(key: str) -> Do:
    return lambda script: script.world.radarr.start_import(script._downloads[key])


def _import_film(key: str) -> Do:
    def do(script: DemoScript) -> None:  # a def: what it returns is not the step's
        script.world.radarr.import_file(download_id=script._downloads[key])
    return do


def _import_episodes(key: str) -> Do:
    def do(script: DemoScript) -> None:
        script.world.sonarr.import_download(script._downloads[key])
    return do


def _add_film(key: str, tmdb_id: int, title: str, **fields: Any) -> Do:
    """Radarr is sent a film (Jellyseerr does it on approval)."""
    def do(script: DemoScript) -> None:
        script._ids[key] = script.world.radarr.add_movie(tmdb_id, title, **fields)
    return do


def _list_film(title: str, **fields: Any) -> Do:
    """The media server lists a film in its Movies library."""
    def do(script: DemoScript) -> None:
        script.media.add_movie(title, **fields, library=script._libraries["movies"])
    return do


def _request_status(request_id: int, status: int) -> Do:
    """An admin approves or declines a request in Jellyseerr."""
    return lambda script: script.world.jellyseerr.set_request_status(request_id, status)


def _media_available(tmdb_id: int) -> Do:
    def do(script: DemoScript) -> None:
        script.world.jellyseerr.set_media_status(tmdb_id, MEDIA_AVAILABLE, media_type="movie")
    return do


def _replace_placeholders(*numbers: int) -> Do:
    return lambda script: script._replace_placeholders(*numbers)


def _list_harbor_lights(script: DemoScript) -> None:
    """The media server lists season 1, and placeholders for season 2."""
    media = script.media
    sid = media.add_series("Harbor Lights", tvdb_id=900001, tmdb_id=900002, year=2024,
                           library=script._libraries["tv"], path=f"{SHOWS}/Harbor Lights")
    for n in range(1, 7):
        media.add_episode(sid, 1, n)
    # Metadata plugins add "missing" episodes: virtual, never playable (Plex lists none).
    script._placeholders = {n: media.add_episode(sid, 2, n, missing=True) for n in range(1, 7)}


def _shoko_finds_spirited(script: DemoScript) -> None:
    """Shoko finds the imported file and hashes it."""
    movie = script.world.radarr.get_movie(script._ids["spirited"])
    assert movie.file is not None
    relative = f"movies/{movie.path.rsplit('/', 1)[-1]}/{movie.file.relative_path}"
    script._ids["shoko_file"] = script.world.shoko.add_file(relative, size=movie.file.size,
                                                            duration=125 * 60.0)


def _shoko_matches_spirited(script: DemoScript) -> None:
    """Shoko matches the file; Shokofin's virtual folder holds the film, which Jellyfin lists
    once it scans."""
    shoko, jf = script.world.shoko, script.world.jellyfin
    series = shoko.add_series(112, "Sen to Chihiro no Kamikakushi")
    episode = shoko.add_episode(series, 1254, name="Complete Movie", duration=125 * 60.0)
    shoko.match_file(script._ids["shoko_file"], series, [episode])
    script.anime.item_id = jf.add_movie(
        "Spirited Away", year=2001, library="Anime", pending=True, runtime_minutes=125,
        provider_ids={"Shoko File": script._ids["shoko_file"], "Shoko Episode": episode,
                      "Shoko Series": series, "AniDB": 112},
        path=f"/config/Shokofin/VFS/{script._libraries['anime']}/Spirited Away (2001) "
             f"[shoko-series-{series}]/Spirited Away (2001) "
             f"[shoko-file-{script._ids['shoko_file']}].mkv")
    script.anime.pending_since = script.world.now


def _spirited_on_disk(script: DemoScript) -> None:
    """The imported file is on disk where the media server will find it when it scans."""
    movie = script.world.radarr.get_movie(script._ids["spirited"])
    assert movie.file is not None
    script.anime.item_id = script.media.add_movie(
        "Spirited Away", tmdb_id=129, year=2001, library=script._libraries["anime"],
        pending=True, path=f"{movie.path}/{movie.file.relative_path}")
    script.anime.pending_since = script.world.now


_STALLED = "The download is stalled with no connections"

TIMELINE: tuple[Step, ...] = (
    # Harbor Lights: season 1 as one season pack.
    Step(1, "Sonarr grabs a season pack of Harbor Lights season 1 (6 episodes)",
         _grab_season("s1", "harbor", 1, "NTb")),
    *_progress("sonarr", "s1", 2, 11),
    Step(12, "the season pack has downloaded", _complete("sonarr", "s1")),
    Step(13, "Sonarr imports season 1", _import_episodes("s1")),
    Step(15, "{server} lists Harbor Lights: season 1, and placeholders for season 2",
         _list_harbor_lights),
    # Blade Runner 2049: a download that stalls and fails, then another release.
    Step(1, "Radarr grabs Blade Runner 2049", _grab_film("blade1", "blade", "DEADSEED")),
    *_progress("radarr", "blade1", 2, 8, until=0.55),
    Step(9, "the Blade Runner 2049 download stalls: no seeds", _stall("blade1", _STALLED)),
    Step(11, "Radarr gives up on that release (history: downloadFailed)",
         _fail("blade1", _STALLED)),
    Step(15, "Radarr grabs another release of Blade Runner 2049",
         _grab_film("blade2", "blade", "FLUX")),
    *_progress("radarr", "blade2", 16, 24),
    Step(25, "Blade Runner 2049 has downloaded", _complete("radarr", "blade2")),
    Step(26, "Radarr imports Blade Runner 2049", _import_film("blade2")),
    Step(28, "{server} lists Blade Runner 2049",
         _list_film("Blade Runner 2049", tmdb_id=335984, year=2017)),
    # Spirited Away: anime; Shoko matches it, the media server waits for a scan.
    Step(2, "Radarr grabs Spirited Away (tagged anime)",
         _grab_film("spirited", "spirited", "AnimeGrp")),
    *_progress("radarr", "spirited", 3, 12),
    Step(13, "Spirited Away has downloaded", _complete("radarr", "spirited")),
    Step(14, "Radarr starts importing Spirited Away", _start_import("spirited")),
    Step(15, "Radarr imports Spirited Away; Jellyseerr already calls it available",
         _both(_import_film("spirited"), _media_available(129))),
    Step(16, "Shoko finds the Spirited Away file and hashes it (not matched yet)",
         _shoko_finds_spirited),
    Step(19, "Shoko matches the file to AniDB 112 (no TMDB link); Jellyfin has not scanned",
         _shoko_matches_spirited),
    # The Matrix: waits for approval, then the plain path.
    Step(3, "Jellyseerr: an admin approves The Matrix; Jellyseerr sends it to Radarr",
         _both(_request_status(MATRIX, APPROVED),
              _add_film("matrix", 603, "The Matrix", year=1999, imdb_id="tt0133093",
                        runtime=136))),
    Step(5, "Radarr grabs The Matrix", _grab_film("matrix", "matrix", "AMIABLE")),
    *_progress("radarr", "matrix", 6, 15),
    Step(16, "The Matrix has downloaded", _complete("radarr", "matrix")),
    Step(17, "Radarr starts importing The Matrix", _start_import("matrix")),
    Step(18, "Radarr imports The Matrix", _import_film("matrix")),
    Step(20, "{server} lists The Matrix",
         _list_film("The Matrix", tmdb_id=603, imdb_id="tt0133093", year=1999)),
    # Cats: declined.
    Step(6, "Jellyseerr: an admin declines Cats", _request_status(CATS, DECLINED)),
    # Harbor Lights season 2: the aired episodes, then the one airing now.
    Step(4, "Sonarr grabs Harbor Lights S02E01-E03",
         _grab_episodes("s2", "harbor", ("s2e1", "s2e2", "s2e3"), "NTb")),
    *_progress("sonarr", "s2", 5, 16),
    Step(17, "S02E01-E03 have downloaded", _complete("sonarr", "s2")),
    Step(18, "Sonarr imports S02E01-E03", _import_episodes("s2")),
    Step(20, "{server} scans S02E01-E03 in, replacing their placeholders",
         _replace_placeholders(1, 2, 3)),
    Step(E04_AIRS, "Harbor Lights S02E04 airs", _nothing),
    Step(32, "Sonarr grabs S02E04", _grab_episodes("s2e4", "harbor", ("s2e4",), "NTb")),
    *_progress("sonarr", "s2e4", 33, 37),
    Step(38, "S02E04 has downloaded", _complete("sonarr", "s2e4")),
    Step(39, "Sonarr imports S02E04", _import_episodes("s2e4")),
    Step(41, "{server} scans S02E04 in", _replace_placeholders(4)),
)

# The same, with Emby or Plex: Shoko plays no part (a Jellyfin feature); the anime film's file
# is simply on disk for the media server, which lists it once the reconciler asks it to scan.
_SHOKO_STEPS = (_shoko_finds_spirited, _shoko_matches_spirited)
WITHOUT_SHOKO: tuple[Step, ...] = (
    *(step for step in TIMELINE if step.do not in _SHOKO_STEPS),
    Step(16, "Spirited Away is on disk; {server} has not scanned it", _spirited_on_disk),
)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
