"""Assemble each request's `core.Evidence` from the observations and the media server's index."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler import core
from reconciler.core import AnimeRules, EpisodeEvidence, Evidence, MatchIds
from reconciler.cycle.observations import Observations, SeenRequest, series_key
from reconciler.models import (
    JELLYFIN,
    HistoryFacts,
    JellyfinItem,
    Library,
    MediaServer,
    MediaType,
    QueueDeparture,
    QueueRecord,
    SeerrRequest,
    UnmatchableLibrary,
)
from reconciler.store import Store


@dataclass
class EvidenceSource:
    """Where evidence comes from this cycle: what the services said, and the rules to read it."""

    store: Store
    seen: Observations
    anime: AnimeRules
    shoko_enabled: bool
    unknown: frozenset[str]
    # The configured Radarr/Sonarr servers (empty: the kind's own name, as with one each), and
    # the anime rules of each Radarr server (its tag ids are its own).
    servers: Sequence[core.ArrServer] = ()
    anime_by_server: Mapping[str, AnimeRules] = field(default_factory=dict)
    # The media server that says what plays, and its libraries whose items cannot be matched.
    media_server: MediaServer = JELLYFIN
    unmatchable: Sequence[UnmatchableLibrary] = ()

    def unmatchable_library(self, path: str | None) -> UnmatchableLibrary | None:
        """The unmatchable library that holds `path`, if any."""
        if not path:
            return None
        return next((lib for lib in self.unmatchable if core.jellyfin_path(
            path, Library(lib.name, "", lib.locations))), None)

    def route(self, req: SeerrRequest) -> core.Route:
        kind = core.arr_kind(req)
        if not self.servers:
            return core.Route(kind)
        return core.route(req, self.servers, self.seen.seerr_servers(kind))

    def evidence(self, seen_request: SeenRequest) -> tuple[Evidence, MatchIds]:
        """The request's evidence, and the ids its Jellyfin items may carry."""
        route = self.route(seen_request.request)
        if seen_request.request.media_type is MediaType.MOVIE:
            return self._film(seen_request, route)
        return self._show(seen_request, route)

    def _film(self, seen_request: SeenRequest, route: core.Route) -> tuple[Evidence, MatchIds]:
        req, seen = seen_request.request, self.seen
        server = route.server or "radarr"
        tracked = route.server is not None
        movie = seen.movie(req.tmdb_id, server) if tracked else None
        shoko = seen.shoko_movie(req.tmdb_id)
        history = (seen.movie_history(movie.id, server) or HistoryFacts()) if movie \
            else HistoryFacts()
        queue = seen.queue(server, movie.id) if movie else ()
        departed = seen.departed(server, movie.id) if movie else ()
        ids = core.film_match_ids(req.tmdb_id, shoko)
        files_4k = tuple(m.file_path for s in self.servers if s.kind == "radarr" and s.is4k
                         if (m := seen.movie(req.tmdb_id, s.name)) is not None and m.file_path)
        match = core.match_item(self.store.items.by_provider(ids.pairs()), ids, "Movie",
                                is4k=req.is4k, files_4k=files_4k)
        anime = self.anime_by_server.get(server, self.anime)
        return Evidence(
            request=req, seerr_deleted=core.seerr_gone(seen_request.absent),
            is_anime=anime.film(movie, shoko), shoko_enabled=self.shoko_enabled,
            movie=movie, movie_history=history, queue=queue, departed=departed, shoko=shoko,
            jellyfin=match,
            unknown=self.unknown, server=route.server, unrouted=route.detail,
            files_4k=files_4k, media_server=self.media_server,
            unmatchable=self.unmatchable_library(movie.file_path if movie else None),
        ), ids

    def _show(self, seen_request: SeenRequest, route: core.Route) -> tuple[Evidence, MatchIds]:
        req, seen, store = seen_request.request, self.seen, self.store
        server = route.server or "sonarr"
        series = seen.series(series_key(req), server) if route.server is not None else None
        show_ids = seen.shoko_show(req.tmdb_id)
        ids = MatchIds(tmdb=req.tmdb_id, tvdb=req.tvdb_id or (series.tvdb_id if series else None),
                       shoko_series=tuple(show_ids),
                       anidb=tuple(a for anidb in show_ids.values() for a in anidb))
        episodes: list[EpisodeEvidence] = []
        if series is not None:
            jf_episodes = [e for item in _series_items(store.items.by_provider(ids.pairs()), ids)
                           for e in store.items.episodes_of(item.id)]
            queue_by_ep: dict[int, list[QueueRecord]] = defaultdict(list)
            for record in seen.queue(server, series.id):
                if record.episode_id is not None:
                    queue_by_ep[record.episode_id].append(record)
            departed_by_ep: dict[int, list[QueueDeparture]] = defaultdict(list)
            for gone in seen.departed(server, series.id):
                if gone.episode_id is not None:
                    departed_by_ep[gone.episode_id].append(gone)
            histories = seen.episode_histories(series.id, server) or {}
            for ep in seen.episodes(series.id, server) or []:
                shoko = seen.shoko_episode(ep.id)
                match = core.match_episode(jf_episodes, ep.season, ep.episode,
                                           shoko.episode_ids if shoko else (),
                                           core.shoko_file_ids(shoko), is4k=req.is4k)
                episodes.append(EpisodeEvidence(
                    episode=ep,
                    history=histories.get(ep.id, HistoryFacts()),
                    queue=tuple(queue_by_ep.get(ep.id, ())),
                    departed=tuple(departed_by_ep.get(ep.id, ())),
                    shoko=shoko,
                    jellyfin=match,
                ))
        return Evidence(
            request=req, seerr_deleted=core.seerr_gone(seen_request.absent),
            is_anime=self.anime.show(series, (e.shoko for e in episodes)),
            shoko_enabled=self.shoko_enabled, series=series, episodes=tuple(episodes),
            unknown=self.unknown, server=route.server, unrouted=route.detail,
            media_server=self.media_server,
            unmatchable=self.unmatchable_library(series.path if series else None),
        ), ids


def _series_items(candidates: list[JellyfinItem], ids: MatchIds) -> list[JellyfinItem]:
    """The Jellyfin Series items of a show: all those carrying its most trusted kind of id that
    any carries, under any of its values. One show may sit in two libraries, a replaced item
    stays in the index until its removal is confirmed, and Shokofin makes one Series per Shoko
    series (a season split over two anime is two); their episodes all count."""
    series = [i for i in candidates if i.type == "Series"]
    values: dict[str, set[str]] = defaultdict(set)
    for key, value in ids.pairs():
        values[key].add(value)
    for key, wanted in values.items():
        found = [i for i in series if (i.provider_id(key) or "").strip() in wanted]
        if found:
            return found
    return []
