"""What the services were last seen to say, typed: the only module that knows the store's
observation subjects ("request:42", "movie:603", "episodes:7", ...) and their JSON shapes.

Pollers write through it, the evidence reads through it; neither builds a subject string or
reads a raw dict. Each kind of observation has a reader and a writer here:

| service    | subject                           | value                                        |
|------------|-----------------------------------|----------------------------------------------|
| jellyseerr | `request:{id}`                    | `SeerrRequest`, absences, `active`, `hidden`   |
| jellyseerr | `title:{media_type}:{tmdb}`       | display title                                |
| jellyseerr | `title_failure:{media_type}:{tmdb}` | `TitleFailure`: why its title fails |
| jellyseerr | `titles_outage`                   | since when title look-ups fail, and why       |
| jellyseerr | `year:{media_type}:{tmdb}`        | its year (TMDB), when Jellyseerr knew one     |
| jellyseerr | `servers:radarr` / `servers:sonarr` | `SeerrArrServer` list (Jellyseerr's settings) |
| radarr     | `movie:{tmdb}`                    | `RadarrMovie`, `{}` when Radarr has none      |
| radarr     | `queue:{movie id}`                | `QueueRecord` list (tracked films only)       |
| radarr     | `departed:{movie id}`             | `QueueDeparture` list: records gone since     |
| radarr     | `history:{movie id}`              | `HistoryFacts`                               |
| radarr     | `tags`                            | tag id -> label                              |
| sonarr     | `series:tvdb:{id}` / `series:tmdb:{id}` | `SonarrSeries`, `{}` when Sonarr has none |
| sonarr     | `episodes:{series id}`            | `SonarrEpisode` list                         |
| sonarr     | `queue:{series id}`               | `QueueRecord` list                           |
| sonarr     | `departed:{series id}`            | `QueueDeparture` list (per episode)           |
| sonarr     | `history:{series id}`             | episode id -> `HistoryFacts`                 |
| shoko      | `movie:{tmdb}`                    | the film's `ShokoFile`, `{}` when none        |
| shoko      | `episode:{sonarr episode id}`     | the episode's `ShokoFile`, `{}` when none     |
| shoko      | `show:{tmdb}`                     | the show's Shoko series and their AniDB ids   |

Radarr's and Sonarr's observations are kept under the server's configured name as `service`
("radarr", "sonarr" when there is one of a kind, else e.g. "radarr4k"): every reader and writer of
them takes the `server` (default: the kind's own name).

Writes go through `Store.put_observation`, which writes only what changed (and notes it in the
store's journal). Reads are memoised per stored text (the store hands out one parsed object per
text), so an unchanged observation is turned into its dataclass once, not every cycle; the
requests, titles and title failures are kept as views updated from the journal, so reading
them all costs what changed since the last read, not what is stored. The JSON form is
`codec`'s, in the version each row names: an older one is read, one this program does not know
is treated as absent (so it is polled again and replaced).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, KeysView, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from reconciler.cycle.codec import CODECS, OBSERVATION_VERSION, Codec, dump
from reconciler.models import (
    HistoryFacts,
    MediaType,
    QueueDeparture,
    QueueRecord,
    RadarrMovie,
    SeerrArrServer,
    SeerrRequest,
    ShokoFile,
    SonarrEpisode,
    SonarrSeries,
)
from reconciler.store import Store
from reconciler.store.database import Observed
from reconciler.store.journal import Journal

T = TypeVar("T")
K = TypeVar("K")
_MEDIA_TYPES = frozenset(m.value for m in MediaType)


@dataclass(frozen=True)
class SeenRequest:
    """A Jellyseerr request as last listed, and in how many complete listings since it was
    missing (0 while it is listed). `active`: it was in the last listing of the filters that
    can still change on their own (pending, processing); None when stored before that was
    recorded. `hidden`: Jellyseerr's `filter=all` leaves it out (its media is blocklisted) while
    it still answers by id."""

    request: SeerrRequest
    absent: int = 0
    active: bool | None = False
    hidden: bool = False


# A film or show, as its title is looked up: (media type, TMDB id).
TitleKey = tuple[MediaType, int]


@dataclass(frozen=True)
class TitleFailure:
    """Why a film's or show's title look-up fails, since when, and when it is asked again
    (`cycle.titles`). `outage`: it failed with every other look-up, so it waits for the outage's
    end (`titles_outage`), not on a pause of its own; `failures` counts its own failures in a
    row, which set that pause."""

    reason: str
    failures: int
    since: datetime
    retry_at: datetime
    outage: bool = False


@dataclass(frozen=True)
class SeriesKey:
    """How a show's Sonarr series is looked up: by its TVDB id, else its TMDB id."""

    tvdb_id: int | None
    tmdb_id: int | None

    @classmethod
    def of(cls, tvdb_id: int | None, tmdb_id: int | None) -> SeriesKey | None:
        if tvdb_id is None and tmdb_id is None:
            return None
        return cls(tvdb_id, tmdb_id)

    @property
    def subject(self) -> str:
        if self.tvdb_id is not None:
            return f"series:tvdb:{self.tvdb_id}"
        return f"series:tmdb:{self.tmdb_id}"

    @classmethod
    def from_subject(cls, subject: str) -> SeriesKey | None:
        """The key whose `subject` is this (`series:tvdb:{id}` / `series:tmdb:{id}`)."""
        parts = subject.split(":")
        if len(parts) != 3 or parts[0] != "series" or not parts[2].isdigit():
            return None
        if parts[1] == "tvdb":
            return cls(int(parts[2]), None)
        return cls(None, int(parts[2])) if parts[1] == "tmdb" else None


def series_key(request: SeerrRequest) -> SeriesKey | None:
    return SeriesKey.of(request.tvdb_id, request.tmdb_id)


# ---------------------------------------------------------------- JSON shapes


def _seen_request(data: Mapping[str, Any], codec: Codec) -> SeenRequest:
    active = data.get("active")
    return SeenRequest(codec.load(SeerrRequest, data), int(data.get("absent", 0)),
                       None if active is None else bool(active), bool(data.get("hidden", False)))


def _movie(data: Mapping[str, Any], codec: Codec) -> RadarrMovie | None:
    return codec.load(RadarrMovie, data) if data else None


def _series(data: Mapping[str, Any], codec: Codec) -> SonarrSeries | None:
    return codec.load(SonarrSeries, data) if data else None


def _episodes(data: Sequence[Mapping[str, Any]], codec: Codec) -> list[SonarrEpisode]:
    return [codec.load(SonarrEpisode, e) for e in data]


def _queue(data: Sequence[Mapping[str, Any]], codec: Codec) -> tuple[QueueRecord, ...]:
    return tuple(codec.load(QueueRecord, r) for r in data)


def _departures(data: Sequence[Mapping[str, Any]],
                codec: Codec) -> tuple[QueueDeparture, ...]:
    return tuple(codec.load(QueueDeparture, d) for d in data)


def _shoko_file(data: Mapping[str, Any], codec: Codec) -> ShokoFile | None:
    return codec.load(ShokoFile, data) if data else None


def _history(data: Mapping[str, Any], codec: Codec) -> HistoryFacts:
    return codec.load(HistoryFacts, data)


def _episode_histories(data: Mapping[str, Any], codec: Codec) -> dict[int, HistoryFacts]:
    return {int(k): codec.load(HistoryFacts, v) for k, v in data.items()}


def _servers(data: Sequence[Mapping[str, Any]], codec: Codec) -> list[SeerrArrServer]:
    return [codec.load(SeerrArrServer, e) for e in data]


def _shoko_show(data: Sequence[Sequence[Any]], codec: Codec) -> dict[int, tuple[int, ...]]:
    return {int(s[0]): tuple(int(a) for a in s[1]) for s in data}


def _title_failure(data: Mapping[str, Any], codec: Codec) -> TitleFailure:
    return codec.load(TitleFailure, data)


def _title_key(subject: str) -> TitleKey | None:
    """(media type, TMDB id) of a `title:` or `title_failure:` subject; None for another."""
    _, media_type, tmdb = subject.split(":", 2)
    if tmdb.isdigit() and media_type in _MEDIA_TYPES:
        return MediaType(media_type), int(tmdb)
    return None


def _readable(observed: Observed | None) -> Observed | None:
    """The observation, unless it is in a version this program cannot read (then: absent)."""
    return observed if observed is not None and observed.version in CODECS else None


# ---------------------------------------------------------------- the accessors


class _View(Generic[K, T]):
    """Every readable observation of one service under one subject prefix, typed and keyed by
    `key(subject)`, kept up to date from the store's journal: each refresh costs what changed
    since the last, not what is stored (a rollback or another writer: read again whole)."""

    def __init__(self, seen: Observations, service: str, prefix: str,
                 convert: Callable[[Any, Codec], T], key: Callable[[str], K | None]) -> None:
        self.seen, self.service, self.prefix = seen, service, prefix
        self.convert, self.key = convert, key
        self.values: dict[K, T] = {}
        self.cursor: int | None = None

    def current(self) -> dict[K, T]:
        """The view now (shared: read-only; a later change makes a new one, so what a caller
        holds is a snapshot)."""
        journal = self.seen.store.journal
        changed = None if self.cursor is None else \
            journal.since_in(self.cursor, self.service, self.prefix)
        self.cursor = journal.cursor()
        if changed is None:
            self.values = {}
            for subject, observed in self.seen._every(self.service, self.prefix).items():
                self._set(subject, observed)
        elif changed:
            # A new dict, not the old one changed: what a caller holds stays as it read it.
            self.values = dict(self.values)
            for subject in changed:
                self._set(subject, self.seen._raw(self.service, subject))
        return self.values

    def _set(self, subject: str, observed: Observed | None) -> None:
        key = self.key(subject)
        if key is None:
            return
        if observed is None:
            self.values.pop(key, None)
        else:
            self.values[key] = self.seen._read(self.service, subject, observed, self.convert)


def subject_id(subject: str) -> int | None:
    """The id a `{kind}:{id}` subject names ("request:42" -> 42); None for another form."""
    tail = subject.split(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


REQUESTS = ("jellyseerr", "request:")  # the service and subject prefix of requests


def request_of(key: tuple[str, str]) -> int | None:
    """The request a journal key names, when it is a request's own record."""
    service, subject = key
    if service != REQUESTS[0] or not subject.startswith(REQUESTS[1]):
        return None
    return subject_id(subject)


def changed_requests(journal: Journal, cursor: int | None) -> set[int] | None:
    """The requests whose Jellyseerr record changed after `cursor`; None: start over (no
    cursor yet, or the journal cannot tell)."""
    if cursor is None:
        return None
    changed = journal.since_in(cursor, *REQUESTS)
    return None if changed is None else {i for s in changed if (i := subject_id(s)) is not None}


def title_key_of(subject: str) -> TitleKey | None:
    """(media type, TMDB id) of a `title:` or `title_failure:` subject; None for another."""
    return _title_key(subject)


class Observations:
    """Typed reads and writes of the observations in `store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # (service, subject) -> (the stored observation it was made from, the typed value)
        self._typed: dict[tuple[str, str], tuple[Observed, Any]] = {}
        # While deciding every request: the services whose observations were read whole.
        self._snapshot: set[str] | None = None
        self._requests: _View[int, SeenRequest] = _View(
            self, *REQUESTS, _seen_request, subject_id)
        self._titles: _View[TitleKey, Any] = _View(
            self, "jellyseerr", "title:", lambda data, codec: data, _title_key)
        self._title_failures: _View[TitleKey, TitleFailure] = _View(
            self, "jellyseerr", "title_failure:", _title_failure, _title_key)
        self._views: dict[tuple[str, str], _View[Any, Any]] = {}

    def _by_id(self, service: str, kind: str,
               convert: Callable[[Any, Codec], T]) -> Mapping[int, T]:
        """Every `{kind}:{id}` observation of `service`, by id: a view kept up to date from
        the journal (read-only). One `convert` per kind: the typed memo is keyed by subject."""
        view = self._views.get((service, kind))
        if view is None:
            view = self._views[service, kind] = _View(self, service, f"{kind}:", convert,
                                                      subject_id)
        values: Mapping[int, T] = view.current()
        return values

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside are served from one query per service instead of one per subject
        (deciding every request reads a dozen subjects each): the store keeps the rows it read
        while its transaction lasts, and what is written since."""
        self._snapshot = set()
        try:
            yield
        finally:
            self._snapshot = None

    def _raw(self, service: str, subject: str) -> Observed | None:
        if self._snapshot is not None and service not in self._snapshot:
            self._snapshot.add(service)
            self.store.observations(service)
        return _readable(self.store.observation(service, subject))

    def _data(self, service: str, subject: str) -> Any | None:
        """The stored JSON of a subject kept as plain JSON (no times in it); None when absent."""
        observed = self._raw(service, subject)
        return observed.data if observed is not None else None

    def _every(self, service: str, prefix: str) -> dict[str, Observed]:
        """Every readable observation of `service` whose subject starts with `prefix`."""
        return {subject: observed
                for subject, observed in self.store.observations(service, prefix).items()
                if _readable(observed) is not None}

    def _drop(self, service: str, subjects: Sequence[str]) -> None:
        self.store.drop_observations(service, subjects)

    def _read(self, service: str, subject: str, observed: Observed,
              convert: Callable[[Any, Codec], T]) -> T:
        key = (service, subject)
        hit = self._typed.get(key)
        if hit is None or hit[0] is not observed:
            if len(self._typed) > 200_000:
                self._typed.clear()
            typed = convert(observed.data, CODECS[observed.version])
            hit = self._typed[key] = (observed, typed)
        value: T = hit[1]
        return value

    def _get(self, service: str, subject: str, convert: Callable[[Any, Codec], T],
             missing: T) -> T:
        observed = self._raw(service, subject)
        if observed is None:
            return missing
        return self._read(service, subject, observed, convert)

    def _put(self, service: str, subject: str, data: Any, now: datetime) -> bool:
        """Store `data`, already in the current JSON form (`codec.dump`)."""
        return self.store.put_observation(service, subject, data, now, OBSERVATION_VERSION)

    # -- Jellyseerr

    def seerr_requests(self) -> Mapping[int, SeenRequest]:
        """Every request Jellyseerr was seen to hold, by id (kept up to date from the journal:
        costs what changed since the last call; read-only)."""
        return self._requests.current()

    def seerr_request(self, request_id: int) -> SeenRequest | None:
        """One request as Jellyseerr was seen to hold it; None when never seen."""
        return self._get("jellyseerr", f"request:{request_id}", _seen_request, None)

    def put_seerr_request(self, request: SeerrRequest, absent: int, now: datetime, *,
                          active: bool = False, hidden: bool = False,
                          previous: SeenRequest | None = None) -> bool:
        """Store the request as listed; `previous` (what is stored) lets an unchanged request
        skip building and comparing its JSON, most of a steady poll's cost."""
        if previous is not None and previous == SeenRequest(request, absent, active, hidden):
            return False
        return self._put("jellyseerr", f"request:{request.id}",
                         {**dump(request), "absent": absent, "active": active,
                          "hidden": hidden}, now)

    def title(self, media_type: MediaType, tmdb_id: int | None) -> str | None:
        title = self._data("jellyseerr", f"title:{media_type}:{tmdb_id}")
        return str(title) if title else None

    def put_title(self, media_type: MediaType, tmdb_id: int, title: str, now: datetime,
                  year: int | None = None) -> bool:
        written = self._put("jellyseerr", f"title:{media_type}:{tmdb_id}", title, now)
        if year is not None:
            written = self._put("jellyseerr", f"year:{media_type}:{tmdb_id}", year, now) \
                or written
        return written

    def year(self, media_type: MediaType, tmdb_id: int | None) -> int | None:
        """The year Jellyseerr's title look-up gave (TMDB's release or first air date)."""
        year = self._data("jellyseerr", f"year:{media_type}:{tmdb_id}")
        return int(year) if isinstance(year, int) and year > 0 else None

    def titled(self) -> KeysView[TitleKey]:
        """(media_type, tmdb id) of every film and show whose title is stored (read-only)."""
        return self._titles.current().keys()

    def title_failure(self, media_type: MediaType,
                      tmdb_id: int | None) -> TitleFailure | None:
        """Why the film's or show's title look-up fails; None while it has not failed."""
        return self._get("jellyseerr", f"title_failure:{media_type}:{tmdb_id}", _title_failure,
                         None)

    def title_failures(self) -> dict[TitleKey, TitleFailure]:
        """Every failing title look-up, in one read."""
        return dict(self._title_failures.current())

    def put_title_failure(self, key: TitleKey, failure: TitleFailure, now: datetime) -> bool:
        media_type, tmdb_id = key
        return self._put("jellyseerr", f"title_failure:{media_type}:{tmdb_id}", dump(failure),
                         now)

    def drop_title_failures(self, keys: Sequence[TitleKey]) -> None:
        if keys:
            self._drop("jellyseerr", [f"title_failure:{m}:{t}" for m, t in keys])

    def titles_outage(self) -> dict[str, str] | None:
        """Since when title look-ups fail (`{"since": iso, "error": text}`); None while they
        work."""
        data = self._data("jellyseerr", "titles_outage")
        return {str(k): str(v) for k, v in data.items()} if data else None

    def put_titles_outage(self, outage: dict[str, str] | None, now: datetime) -> None:
        if outage is None:
            self._drop("jellyseerr", ["titles_outage"])
        else:
            self._put("jellyseerr", "titles_outage", outage, now)

    def seerr_servers_stamp(self) -> tuple[object, ...]:
        """Changes whenever Jellyseerr's stored server settings change (a cache key)."""
        return tuple(self._data("jellyseerr", f"servers:{kind}") for kind in ("radarr", "sonarr"))

    def seerr_servers(self, kind: str) -> list[SeerrArrServer] | None:
        """The Radarr or Sonarr servers in Jellyseerr's settings; None until read once."""
        return self._get("jellyseerr", f"servers:{kind}", _servers, None)

    def put_seerr_servers(self, kind: str, servers: Sequence[SeerrArrServer],
                          now: datetime) -> bool:
        return self._put("jellyseerr", f"servers:{kind}", dump(servers), now)

    # -- Radarr

    def movie(self, tmdb_id: int | None, server: str = "radarr") -> RadarrMovie | None:
        """The film as the Radarr server last described it; None when unknown or not there."""
        return self._get(server, f"movie:{tmdb_id}", _movie, None)

    def put_movie(self, tmdb_id: int, movie: RadarrMovie | None, now: datetime,
                  server: str = "radarr") -> bool:
        return self._put(server, f"movie:{tmdb_id}", dump(movie) if movie else {}, now)

    def movies(self, server: str = "radarr") -> Mapping[int, RadarrMovie | None]:
        """Every film the Radarr server was asked about, by TMDB id (None: it has none)."""
        return self._by_id(server, "movie", _movie)

    def movie_histories(self, server: str = "radarr") -> Mapping[int, HistoryFacts]:
        """Every film's history facts on the Radarr server, by movie id."""
        return self._by_id(server, "history", _history)

    def radarr_tags(self, server: str = "radarr") -> dict[int, str] | None:
        """The Radarr server's tags (id -> label); None until read once."""
        tags = self._data(server, "tags")
        return None if tags is None else {int(k): str(v) for k, v in tags.items()}

    def put_radarr_tags(self, tags: dict[int, str], now: datetime,
                        server: str = "radarr") -> bool:
        return self._put(server, "tags", tags, now)

    def movie_history(self, movie_id: int, server: str = "radarr") -> HistoryFacts | None:
        """What the Radarr server's history says about the film; None when never read."""
        return self._get(server, f"history:{movie_id}", _history, None)

    def put_movie_history(self, movie_id: int, facts: HistoryFacts, now: datetime,
                          server: str = "radarr") -> bool:
        return self._put(server, f"history:{movie_id}", dump(facts), now)

    # -- Radarr and Sonarr queues

    def queue(self, service: str, subject_id: int) -> tuple[QueueRecord, ...]:
        """The queue records of one film (Radarr, by movie id) or series (Sonarr)."""
        return self._get(service, f"queue:{subject_id}", _queue, ())

    def replace_queues(self, service: str, grouped: Mapping[int, Sequence[QueueRecord]],
                       now: datetime) -> None:
        """The queue as it is now: `grouped` by film or series; the others' records go."""
        self._replace_by_id(service, "queue", grouped, now)

    def queues(self, service: str) -> Mapping[int, tuple[QueueRecord, ...]]:
        """Every stored queue of the Radarr or Sonarr server, by film or series, in one read."""
        return self._by_id(service, "queue", _queue)

    def departed(self, service: str, subject_id: int) -> tuple[QueueDeparture, ...]:
        """The film's or series' queue records seen in an earlier poll and gone since."""
        return self._get(service, f"departed:{subject_id}", _departures, ())

    def departures(self, service: str) -> Mapping[int, tuple[QueueDeparture, ...]]:
        """Every film's or series' departed records, in one read."""
        return self._by_id(service, "departed", _departures)

    def replace_departures(self, service: str,
                           grouped: Mapping[int, Sequence[QueueDeparture]],
                           now: datetime) -> None:
        """The departed records as they are now, by film or series; the others' go."""
        self._replace_by_id(service, "departed", grouped, now)

    def _replace_by_id(self, service: str, kind: str,
                       grouped: Mapping[int, Sequence[QueueRecord | QueueDeparture]],
                       now: datetime) -> None:
        """Store each id's list of queue records (or departures) under `{kind}:{id}`, in a
        stable order; drop the ids not in `grouped`."""
        for k, records in grouped.items():
            rows = sorted(dump(list(records)),
                          key=lambda r: (r["download_id"], r.get("episode_id") or 0))
            self._put(service, f"{kind}:{k}", rows, now)
        convert = _queue if kind == "queue" else _departures
        stale = [f"{kind}:{k}" for k in self._by_id(service, kind, convert) if k not in grouped]
        self._drop(service, stale)

    # -- Sonarr

    def series(self, key: SeriesKey | None, server: str = "sonarr") -> SonarrSeries | None:
        """The show's series as the Sonarr server last described it; None when unknown or not
        there."""
        if key is None:
            return None
        return self._get(server, key.subject, _series, None)

    def put_series(self, key: SeriesKey, series: SonarrSeries | None, now: datetime,
                   server: str = "sonarr") -> bool:
        return self._put(server, key.subject, dump(series) if series else {}, now)

    def known_series(self, server: str = "sonarr") -> Mapping[str, SonarrSeries | None]:
        """Every show the Sonarr server was asked about, by `SeriesKey.subject` (None: it has
        none); a view kept from the journal."""
        view = self._views.get((server, "series"))
        if view is None:
            view = self._views[server, "series"] = _View(self, server, "series:", _series,
                                                         lambda subject: subject)
        values: Mapping[str, SonarrSeries | None] = view.current()
        return values

    def episode_lists(self, server: str = "sonarr") -> Mapping[int, list[SonarrEpisode]]:
        """Every series' episodes as last listed, by series id (a view)."""
        return self._by_id(server, "episodes", _episodes)

    def episodes(self, series_id: int, server: str = "sonarr") -> list[SonarrEpisode] | None:
        """The series' episodes as the Sonarr server last listed them; None when never listed."""
        return self._get(server, f"episodes:{series_id}", _episodes, None)

    def put_episodes(self, series_id: int, episodes: Sequence[SonarrEpisode],
                     now: datetime, server: str = "sonarr") -> bool:
        return self._put(server, f"episodes:{series_id}", dump(list(episodes)), now)

    def series_histories(self, server: str = "sonarr") -> Mapping[int, dict[int, HistoryFacts]]:
        """Every series' per-episode history facts on the Sonarr server, by series id."""
        return self._by_id(server, "history", _episode_histories)

    def episode_histories(self, series_id: int,
                          server: str = "sonarr") -> dict[int, HistoryFacts] | None:
        """What the Sonarr server's history says about each episode of the series; None when
        never read."""
        return self._get(server, f"history:{series_id}", _episode_histories, None)

    def put_episode_histories(self, series_id: int, facts: Mapping[int, HistoryFacts],
                              now: datetime, server: str = "sonarr") -> bool:
        data = {str(k): dump(v) for k, v in facts.items()}
        return self._put(server, f"history:{series_id}", dict(sorted(data.items())), now)

    # -- Shoko

    def shoko_movie(self, tmdb_id: int | None) -> ShokoFile | None:
        return self._get("shoko", f"movie:{tmdb_id}", _shoko_file, None)

    def put_shoko_movie(self, tmdb_id: int, file: ShokoFile | None, now: datetime) -> bool:
        return self._put("shoko", f"movie:{tmdb_id}", dump(file) if file else {}, now)

    def shoko_episode(self, episode_id: int) -> ShokoFile | None:
        return self._get("shoko", f"episode:{episode_id}", _shoko_file, None)

    def put_shoko_episode(self, episode_id: int, file: ShokoFile | None, now: datetime) -> bool:
        return self._put("shoko", f"episode:{episode_id}", dump(file) if file else {}, now)

    def shoko_show(self, tmdb_id: int | None) -> dict[int, tuple[int, ...]]:
        """The show's Shoko series: Shoko series id -> its AniDB anime ids."""
        return self._get("shoko", f"show:{tmdb_id}", _shoko_show, {})

    def put_shoko_show(self, tmdb_id: int | None, shows: Mapping[int, set[int]],
                       now: datetime) -> bool:
        return self._put("shoko", f"show:{tmdb_id}",
                         [[sid, sorted(anidb)] for sid, anidb in sorted(shows.items())], now)
