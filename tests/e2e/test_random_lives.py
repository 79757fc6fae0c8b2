"""Randomised lives of a few requests, end to end: the real `reconcile --once` against the
simulated stack, with a seeded random sequence of the world steps seen in the field (grab,
progress, completion, import before or after completion, a blocked import, a failure and a new
grab, Shoko hashing and matching with and without cross-references, Jellyfin listing virtual,
placeholder, unscanned and real items, removals, one-cycle service faults, Jellyseerr declines and
deletions), with invariants checked against the simulated world's truth after every cycle.

Invariants, after every cycle: (1) `available` only while Jellyfin lists a playable item with
the request's ids (films: TMDB, or the Shoko/AniDB ids Shoko recorded; shows: every aired
episode), where an item removed but not yet confirmed gone by reconciler still counts (docs/,
"Absence is not deletion"); (2) a cycle where a service failed exits 3, records the error in its
poll row and moves no request that depends on it; (3) a cycle after one that saw the same world
writes no rows but poll records; (4) no step back without evidence (a failure, a new grab, a
deleted file, a Jellyfin removal, a newly aired episode); (5) an imported anime film Shoko has
matched and Jellyfin does not list is `anime_matching`; (6) `status --json` and `show --json`
succeed with the contract fields.

Deterministic: hypothesis with `derandomize=True` and a small example budget, no shrinking (a
failure names the life as a list of steps). The world's clock is moved to the real time before
each step (a real stack's clocks agree with the reconciler's; evidence of a step back is dated
after the state it undoes) and stands still otherwise. Nudges are out of scope (they depend on
real time): the refresh grace is an hour.
"""

from __future__ import annotations

import sqlite3
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from simstack import SimulatedStack, World
from tests.conftest import run_reconcile
from tests.e2e.support import row_counts

ANIME_MOVIES = "/data/anime/movies"
SHOKO_ROOT = "/mnt/library/anime"
DECLINED = 3
CONTRACT_FIELDS = {"id", "media_type", "title", "tmdb_id", "tvdb_id", "is_anime", "state",
                   "state_since", "via", "detail", "progress", "stuck"}
LADDER = ["requested", "approved", "indexed", "downloading", "download_done", "importing",
          "anime_matching", "partially_available", "available"]
SERVICES = ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin")


@dataclass
class Film:
    request_id: int
    movie_id: int
    tmdb_id: int
    title: str
    anime: bool
    download: str | None = None
    completed: bool = False
    has_file: bool = False
    path: str = ""
    shoko_file: int | None = None
    shoko_series: int | None = None
    anidb_series: int = 0
    jf_items: list[str] = field(default_factory=list)


@dataclass
class Show:
    request_id: int
    series_id: int
    tmdb_id: int
    tvdb_id: int
    next_episode: int
    download: str | None = None
    jf_series: str | None = None
    jf_items: list[str] = field(default_factory=list)


class Life:
    """The stack, the requests, and the bookkeeping the invariants need."""

    def __init__(self, stack: SimulatedStack, folder: Path) -> None:
        self.stack = stack
        self.world: World = stack.world
        self.folder = folder
        self.config = folder / "config.toml"
        self.db = folder / "reconciler.db"
        w = self.world
        self.shoko_folder = w.shoko.add_import_folder(SHOKO_ROOT, "Anime")
        w.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        w.jellyfin.add_library("Anime Movies", [ANIME_MOVIES], "movies")
        w.jellyfin.add_library("Shows", ["/data/tv"], "tvshows")
        w.jellyfin.scan_on_refresh = False
        text = stack.config_toml(self.db)
        # Nudges are out of scope (they depend on real time); removals are checked every cycle.
        # A failing service is given up on at once (its retries would only cost time).
        text = text.replace("[reconciler]\n", "[reconciler]\nretry_budget = 0.01\n", 1)
        text = text.replace("[jellyfin]\n",
                            '[jellyfin]\nrefresh_grace = "1h"\nverify_interval = 0.001\n', 1)
        text += (f'\n[anime]\nradarr_tags = ["anime"]\n'
                 f'root_folders = ["{ANIME_MOVIES}"]\n')
        self.config.write_text(text, encoding="utf-8")
        self.config.chmod(0o600)
        self.films = [self._film(603, "The Matrix", anime=False),
                      self._film(372058, "Your Name", anime=True)]
        real = datetime.now(UTC)
        rid = w.jellyseerr.add_request(1399, "tv", "Game of Thrones", tvdb_id=121361,
                                       seasons=[1])
        sid = w.sonarr.add_series(121361, "Game of Thrones", tmdb_id=1399, seasons={1: 3},
                                  first_aired=real - timedelta(days=30))
        e4 = w.sonarr.add_episode(sid, 1, 4, real + timedelta(hours=1))
        self.show = Show(rid, sid, 1399, 121361, e4)
        self.declined: set[int] = set()
        self.deleted: set[int] = set()
        self.faulted: str | None = None
        self.changed = True  # the world changed since the last cycle
        # Requests with evidence for a step back -> clean cycles it still justifies one.
        self.evidence: dict[int, int] = {}
        self.last: dict[int, str] = {}
        # Items removed from Jellyfin: reconciler drops an item only once a check finds it
        # missing on two consecutive cycles (docs/, "Absence is not deletion"); until then it
        # may count. Items that made a request available are checked every cycle here.
        self.ghosts: dict[str, Any] = {}
        self.log: list[str] = []

    def _film(self, tmdb_id: int, title: str, *, anime: bool) -> Film:
        w = self.world
        rid = w.jellyseerr.add_request(tmdb_id, "movie", title)
        mid = w.radarr.add_movie(tmdb_id, title, year=2016,
                                 root_folder=ANIME_MOVIES if anime else "/data/movies",
                                 tags=("anime",) if anime else ())
        return Film(rid, mid, tmdb_id, title, anime)

    # -- steps -------------------------------------------------------------------------------

    def step(self, name: str, pick: int) -> None:
        w = self.world
        w.now = max(w.now, datetime.now(UTC))
        film = self.films[pick % 2]
        show = self.show
        fn = getattr(self, f"s_{name}")
        if fn(film, show, pick // 2):  # the rest of `pick` chooses within the step
            self.log.append(f"('{name}', {pick})")
            self.changed = True

    def s_grab(self, f: Film, s: Show, pick: int) -> bool:
        if f.download or f.has_file or f.request_id in self.deleted:
            return False
        f.download = self.world.radarr.grab(f.movie_id)
        f.completed = False
        self._evidence(f.request_id, 1)
        return True

    def s_progress(self, f: Film, s: Show, pick: int) -> bool:
        if not f.download or f.completed:
            return False
        self.world.radarr.progress(f.download, (pick % 9 + 1) / 10)
        return True

    def s_complete(self, f: Film, s: Show, pick: int) -> bool:
        if not f.download or f.completed:
            return False
        self.world.radarr.complete_download(f.download)
        f.completed = True
        return True

    def s_blocked(self, f: Film, s: Show, pick: int) -> bool:
        if not f.download or not f.completed:
            return False
        self.world.radarr.warn(f.download, "Unable to parse file", state="importBlocked")
        return True

    def s_import(self, f: Film, s: Show, pick: int) -> bool:
        if not f.download:
            return False  # before or after completion, as seen in the field
        movie = self.world.radarr.get_movie(f.movie_id)
        relative = f"{movie.title} ({movie.year}) [Bluray-1080p].mkv"
        self.world.radarr.import_file(download_id=f.download, relative_path=relative)
        f.path = f"{movie.path}/{relative}"
        f.download, f.has_file = None, True
        return True

    def s_fail(self, f: Film, s: Show, pick: int) -> bool:
        if not f.download:
            return False
        self.world.radarr.fail_download(f.download, "Stalled")
        f.download = None
        self._evidence(f.request_id, 1)
        return True

    def s_fail_pending(self, f: Film, s: Show, pick: int) -> bool:
        if not f.download:
            return False
        self.world.radarr.mark_failed_pending(f.download, "Stalled")
        f.completed = True  # no more progress; it may still be failed for good, or imported
        self._evidence(f.request_id, 1)
        return True

    def s_delete_file(self, f: Film, s: Show, pick: int) -> bool:
        if not f.has_file:
            return False
        self.world.radarr.delete_file(f.movie_id)
        f.has_file = False
        self._evidence(f.request_id, 1)
        return True

    def s_shoko_hash(self, f: Film, s: Show, pick: int) -> bool:
        if not f.anime or not f.has_file or f.shoko_file is not None:
            return False
        f.shoko_file = self.world.shoko.add_file(f.path.removeprefix("/data/anime"),
                                                 self.shoko_folder)
        if pick % 2:  # "matched" before its cross-references arrive
            with self.world.lock:
                sf = self.world.shoko.get_file(f.shoko_file)
                sf.imported = self.world.now
                sf.updated = self.world.now
        return True

    def s_shoko_match(self, f: Film, s: Show, pick: int) -> bool:
        if f.shoko_file is None or f.shoko_series is not None:
            return False
        shoko = self.world.shoko
        f.anidb_series = 11829
        f.shoko_series = shoko.add_series(f.anidb_series, f.title,
                                          tmdb_movie_ids=(f.tmdb_id,) if pick % 2 else ())
        eid = shoko.add_episode(f.shoko_series, 182576, name="Complete Movie")
        shoko.match_file(f.shoko_file, f.shoko_series, [eid])
        return True

    def _film_ids(self, f: Film, pick: int) -> dict[str, Any]:
        if f.anime and f.shoko_file is not None and f.shoko_series is not None and pick % 2:
            return {"Shoko File": f.shoko_file, "Shoko Series": f.shoko_series,
                    "AniDB": 182576}
        return {"Tmdb": f.tmdb_id}

    def s_jf_virtual(self, f: Film, s: Show, pick: int) -> bool:
        jf = self.world.jellyfin
        if pick % 2:
            f.jf_items.append(jf.add_movie(f.title, provider_ids=self._film_ids(f, pick),
                                           location_type="Virtual"))
        else:
            f.jf_items.append(jf.add_movie(f.title, provider_ids=self._film_ids(f, pick),
                                           is_placeholder=True))
        return True

    def s_jf_real(self, f: Film, s: Show, pick: int) -> bool:
        if not f.has_file or (f.anime and f.shoko_series is None and pick % 2):
            return False
        library = "Anime Movies" if f.anime else "Movies"
        f.jf_items.append(self.world.jellyfin.add_movie(
            f.title, provider_ids=self._film_ids(f, pick), library=library,
            pending=bool(pick % 3 == 0)))
        return True

    def s_jf_scan(self, f: Film, s: Show, pick: int) -> bool:
        return bool(self.world.jellyfin.scan())

    def s_jf_remove(self, f: Film, s: Show, pick: int) -> bool:
        if not f.jf_items:
            return False
        self._remove(f.jf_items.pop(pick % len(f.jf_items)))
        self._evidence(f.request_id, 4)
        return True

    def _evidence(self, request_id: int, cycles: int) -> None:
        self.evidence[request_id] = max(cycles, self.evidence.get(request_id, 0))

    def _remove(self, item_id: str) -> None:
        with self.world.lock:
            item = self.world.jellyfin.items.get(item_id)
            self.world.jellyfin.remove_item(item_id)
        if item is not None:
            self.ghosts[item_id] = item

    def s_decline(self, f: Film, s: Show, pick: int) -> bool:
        if pick % 10:
            return False  # rare: it ends the request's life
        target = [f.request_id, s.request_id][pick % 20 // 10]
        if target in self.declined or target in self.deleted:
            return False
        self.world.jellyseerr.set_request_status(target, DECLINED)
        self.declined.add(target)
        return True

    def s_delete(self, f: Film, s: Show, pick: int) -> bool:
        if pick % 10:
            return False  # rare: it ends the request's life
        target = [f.request_id, s.request_id][pick % 20 // 10]
        if target in self.deleted:
            return False
        self.world.jellyseerr.delete_request(target)
        self.deleted.add(target)
        return True

    def s_show_grab(self, f: Film, s: Show, pick: int) -> bool:
        if s.download:
            return False
        s.download = self.world.sonarr.grab(s.series_id, season=1)
        self._evidence(s.request_id, 1)
        return True

    def s_show_progress(self, f: Film, s: Show, pick: int) -> bool:
        if not s.download:
            return False
        self.world.sonarr.progress(s.download, (pick % 9 + 1) / 10)
        return True

    def s_show_import(self, f: Film, s: Show, pick: int) -> bool:
        if not s.download:
            return False
        if pick % 2:
            self.world.sonarr.complete_download(s.download)
        self.world.sonarr.import_download(s.download)
        s.download = None
        return True

    def s_show_fail(self, f: Film, s: Show, pick: int) -> bool:
        if not s.download:
            return False
        self.world.sonarr.fail_download(s.download)
        s.download = None
        self._evidence(s.request_id, 1)
        return True

    def s_show_delete_file(self, f: Film, s: Show, pick: int) -> bool:
        sonarr = self.world.sonarr
        with self.world.lock:
            files = sorted({sonarr.episodes[e].file_id for e in sonarr.episode_ids(s.series_id)
                            if sonarr.episodes[e].file_id})
        if not files:
            return False
        sonarr.delete_episode_file(files[pick % len(files)])
        self._evidence(s.request_id, 1)
        return True

    def s_show_jf_episode(self, f: Film, s: Show, pick: int) -> bool:
        jf = self.world.jellyfin
        if s.jf_series is None:
            s.jf_series = jf.add_series("Game of Thrones", tvdb_id=s.tvdb_id, tmdb_id=s.tmdb_id)
        number = pick % 4 + 1
        virtual = pick % 5 == 0
        s.jf_items.append(jf.add_episode(s.jf_series, 1, number,
                                         location_type="Virtual" if virtual else "FileSystem"))
        return True

    def s_show_jf_remove(self, f: Film, s: Show, pick: int) -> bool:
        if not s.jf_items:
            return False
        self._remove(s.jf_items.pop(pick % len(s.jf_items)))
        self._evidence(s.request_id, 4)
        return True

    def s_show_airs(self, f: Film, s: Show, pick: int) -> bool:
        sonarr = self.world.sonarr
        aired = sonarr.episodes[s.next_episode].air_date_utc
        if aired is None or aired <= datetime.now(UTC):
            return False
        sonarr.update_episode(s.next_episode,
                              air_date_utc=datetime.now(UTC) - timedelta(seconds=1))
        self._evidence(s.request_id, 1)
        return True

    def s_fault(self, f: Film, s: Show, pick: int) -> bool:
        self.faulted = SERVICES[pick % len(SERVICES)]
        self.stack.set_fault(self.faulted, "status", code=503)
        self.log.append(f"('fault', {pick * 2})")
        return False  # not a world change; the cycle handles it

    # -- the cycle and its invariants ---------------------------------------------------------

    def requests(self) -> dict[int, dict[str, Any]]:
        result = run_reconcile("--config", str(self.config), "status", "--json")
        assert result.code == 0, result.stderr
        rows = result.json()
        for row in rows:
            assert set(row) >= CONTRACT_FIELDS, row
        out: dict[int, dict[str, Any]] = {}
        for row in rows:
            shown = run_reconcile("--config", str(self.config), "show", str(row["id"]),
                                  "--json")
            assert shown.code == 0, shown.stderr
            data = shown.json()
            assert set(data["request"]) >= CONTRACT_FIELDS
            assert data["request"]["state"] == row["state"]
            out[row["id"]] = row
        return out

    def _indexed_ghosts(self) -> list[Any]:
        """Removed items reconciler still indexes: their removal may be confirmed any cycle."""
        if not self.ghosts:
            return []
        conn = sqlite3.connect(self.db)
        try:
            indexed = {r[0] for r in conn.execute("SELECT id FROM jellyfin_items")}
        finally:
            conn.close()
        return [it for i, it in self.ghosts.items() if i in indexed]

    def non_poll_rows(self) -> dict[str, int]:
        return {t: n for t, n in row_counts(self.db).items() if t != "polls"}

    def cycle(self) -> None:
        before_rows = self.non_poll_rows() if self.db.exists() else {}
        # Quiet: nothing changed since a cycle that saw everything, and no removal waits for
        # its confirming second cycle.
        quiet = (not self.changed and self.faulted is None and self.last
                 and not self._indexed_ghosts())
        faulted = self.faulted
        code = run_reconcile("--config", str(self.config), "--once").code
        self.log.append("('cycle', 0)")
        where = "[" + ", ".join(self.log) + "]"
        now = self.requests()
        if faulted is not None:
            self._check_fault(faulted, code, now, where)
            self.stack.clear_fault(faulted)
            self.faulted = None
        else:
            assert code == 0, where
        if quiet and not (self.deleted - {r for r, s in self.last.items() if s == "deleted"}):
            assert self.non_poll_rows() == before_rows, f"quiet cycle wrote rows: {where}"
        for rid, row in now.items():
            self._check_request(rid, row, faulted, where)
        if faulted is None:
            self.evidence = {r: n - 1 for r, n in self.evidence.items() if n > 1}
        self.last = {rid: row["state"] for rid, row in now.items()}
        self.changed = faulted is not None  # a recovered service is news

    def _depends(self, rid: int, service: str) -> bool:
        if service in ("jellyseerr", "jellyfin"):
            return True
        if rid == self.show.request_id:
            return service == "sonarr"
        film = next(f for f in self.films if f.request_id == rid)
        return service == "radarr" or (service == "shoko" and film.anime)

    def _check_fault(self, service: str, code: int, now: dict[int, dict[str, Any]],
                     where: str) -> None:
        conn = sqlite3.connect(self.db)
        try:
            ok, error = conn.execute("SELECT ok, error FROM polls WHERE service = ? "
                                     "ORDER BY id DESC LIMIT 1", (service,)).fetchone()
        finally:
            conn.close()
        if service == "shoko" and code == 0 and ok:
            return  # nothing needed Shoko this cycle: it was not asked
        assert code == 3, where
        assert ok == 0 and error, where
        for rid, row in now.items():
            if rid not in self.last or not self._depends(rid, service):
                continue
            if service != "jellyseerr" and row["state"] in ("declined", "deleted"):
                continue  # Jellyseerr alone decides these, and it answered
            assert row["state"] == self.last[rid], (rid, row["state"], self.last[rid], where)

    def _check_request(self, rid: int, row: dict[str, Any], faulted: str | None,
                       where: str) -> None:
        state = row["state"]
        before = self.last.get(rid)
        if before in LADDER and state in LADDER and LADDER.index(state) < LADDER.index(before):
            assert rid in self.evidence, (rid, before, state, where)
        if faulted == "jellyfin":
            return  # Jellyfin's listing is unknown this cycle; the state was held
        if rid == self.show.request_id:
            if state in ("available", "partially_available"):
                playable = self._show_playable()
                aired = self._aired_numbers()
                if state == "available":
                    assert aired <= playable, (playable, aired, where)
                else:  # an episode listed before its air date counts as playable too
                    assert playable & {1, 2, 3, 4}, (playable, aired, where)
            return
        film = next(f for f in self.films if f.request_id == rid)
        listed = self._film_playable(film)
        if state == "available":
            assert listed, (film.title, where)
        if (film.anime and faulted is None and film.has_file and not listed
                and rid not in self.declined | self.deleted and film.shoko_file is not None):
            sf = self.world.shoko.files[film.shoko_file]
            if sf.imported is not None:
                assert state == "anime_matching", (film.title, state, where)

    def _listed(self) -> list[Any]:
        """Jellyfin's items, with those removed too recently for reconciler to know."""
        return list(self.world.jellyfin.items.values()) + self._indexed_ghosts()

    def _film_playable(self, f: Film) -> bool:
        wanted = {("Tmdb", str(f.tmdb_id))}
        if f.shoko_file is not None and f.shoko_series is not None:
            wanted |= {("Shoko File", str(f.shoko_file)), ("Shoko Series", str(f.shoko_series)),
                       ("AniDB", "182576")}
        with self.world.lock:
            for item in self._listed():
                if (item.type == "Movie" and item.location_type != "Virtual"
                        and not item.is_placeholder and item.path
                        and any(item.provider_ids.get(k) == v for k, v in wanted)):
                    return True
        return False

    def _show_playable(self) -> set[int]:
        with self.world.lock:
            return {item.index_number for item in self._listed()
                    if item.type == "Episode" and item.location_type != "Virtual"
                    and not item.is_placeholder and item.path
                    and item.series_id == self.show.jf_series}

    def _aired_numbers(self) -> set[int]:
        sonarr = self.world.sonarr
        real = datetime.now(UTC)
        with self.world.lock:
            return {sonarr.episodes[e].number for e in sonarr.episode_ids(self.show.series_id)
                    if (a := sonarr.episodes[e].air_date_utc) is not None and a <= real}


# Step -> weight: forward steps are likelier, so that lives reach the late stages.
WEIGHTS = {"grab": 3, "progress": 2, "complete": 2, "blocked": 1, "import": 3, "fail": 1,
           "fail_pending": 1, "delete_file": 1, "shoko_hash": 3, "shoko_match": 3,
           "jf_virtual": 1, "jf_real": 3, "jf_scan": 2, "jf_remove": 1, "decline": 1,
           "delete": 1, "show_grab": 2, "show_progress": 1, "show_import": 2, "show_fail": 1,
           "show_delete_file": 1, "show_jf_episode": 4, "show_jf_remove": 1, "show_airs": 1,
           "fault": 2, "cycle": 8}
STEPS = tuple(name for name, weight in WEIGHTS.items() for _ in range(weight))

lives = st.lists(st.tuples(st.sampled_from(STEPS), st.integers(0, 119)), min_size=40,
                 max_size=90)


# No shrinking: it would run hundreds of stacks; a failure prints the life as a step list.
@settings(max_examples=20, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
@given(lives)
# An anime film's whole life (hashed and "matched" before its cross-references, matched to AniDB
# only, a virtual item first, then an unscanned real one, Jellyfin down for a cycle, scanned,
# removed), and the film and the show through a failure, a re-grab and a blocked import.
@example([("grab", 1), ("progress", 3), ("cycle", 0), ("complete", 1), ("import", 1),
          ("cycle", 0), ("shoko_hash", 3), ("cycle", 0), ("shoko_match", 1), ("jf_virtual", 3),
          ("cycle", 0), ("jf_real", 7), ("cycle", 0), ("fault", 8), ("jf_scan", 1), ("cycle", 0),
          ("fault", 6), ("cycle", 0), ("jf_remove", 1), ("cycle", 0), ("cycle", 0),
          ("cycle", 0)])
@example([("grab", 0), ("show_grab", 0), ("cycle", 0), ("fail", 0), ("show_fail", 0),
          ("cycle", 0), ("grab", 0), ("show_grab", 0), ("complete", 0), ("blocked", 0),
          ("show_progress", 8), ("cycle", 0), ("import", 0), ("show_import", 2),
          ("cycle", 0), ("jf_real", 2), ("show_jf_episode", 2), ("show_jf_episode", 4),
          ("show_jf_episode", 6), ("cycle", 0), ("show_airs", 0), ("cycle", 0),
          ("fault", 2), ("cycle", 0), ("fault", 4), ("delete_file", 0), ("cycle", 0),
          ("cycle", 0), ("cycle", 0)])
def test_random_lives_keep_every_invariant_after_every_cycle(
        steps: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, SimulatedStack(World()) as stack:
        life = Life(stack, Path(tmp))
        life.cycle()
        for name, pick in steps:
            if name == "cycle":
                life.cycle()
            elif name == "fault":
                if life.faulted is None:
                    life.s_fault(life.films[0], life.show, pick // 2)
                    life.cycle()
            else:
                life.step(name, pick)
        life.cycle()
        life.cycle()
