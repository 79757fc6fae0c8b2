"""Poll Radarr: the tracked films, their queue records and history.

Strategy: every `[radarr] poll_interval` (`active_poll_interval` while something moves) the
poll reads the whole queue (`/api/v3/queue/details`, unpaged, so no record is skipped or
counted twice while downloads move; the paged queue sorted by `added` where details answers 404)
and then the history since the watermark (a `downloadIgnored` event, the queue's "Ignore
download", makes the film failed until the next grab). A queue record stored at the last poll
and missing now is kept as departed (`note_departures`); gone from two polls with no import,
failure or ignore since its grab, it was removed from the download client (the queue dialog's
default, which writes no history), and the film is failed until the next grab.
A film is read once when first tracked (by TMDB id), then again only when its history changed
(a grab, import, failure, deletion or rename); every `full_sync_interval` the whole film list
is read instead (`excludeLocalCovers=true`: Radarr need not stat every cover file). A newly
tracked film without a file gets its full history once. Tags are read
when a film carries a tag not seen before (and at each full listing).
Watermark: the `Date` header of the queue response (Radarr's own clock).
"""

from __future__ import annotations

from datetime import datetime

from reconciler.cycle.context import PollContext, bounded
from reconciler.cycle.observations import subject_id
from reconciler.cycle.poll_arr import (
    Tracked,
    external_id,
    fold_film,
    note_departures,
    recent_history,
    store_history,
    store_queue,
)
from reconciler.models import HistoryFacts, MediaType, RadarrMovie, SeerrRequest
from reconciler.results import PollOutcome
from reconciler.services.radarr import RadarrClient


class RadarrPoller:
    """One Radarr server's poll; `service` is the server's configured name ("radarr" when
    there is one), under which its observations and poll records are kept."""

    def __init__(self, client: RadarrClient, server: str = "radarr") -> None:
        self.client = client
        self.service = server
        self.films: Tracked[int] = Tracked(
            server, MediaType.MOVIE, "movie", key=lambda r: r.tmdb_id,
            stored=lambda ctx: ctx.seen.movies(server), of_subject=subject_id)

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        client, seen, server, films = self.client, ctx.seen, self.service, self.films
        now = ctx.clock()
        films.refresh(ctx)
        tracked = films.requests.keys()
        watermark = ctx.watermark(server)
        full = watermark is None or ctx.full_due(server)
        # The queue first, then the history: a download that left the queue because it was
        # imported has its import in this history read (`note_departures`).
        queue, server_date = await client.queue()
        events = await recent_history(client, watermark or server_date)
        movies: dict[int, RadarrMovie | None] = {}
        if full:
            library = {m.tmdb_id: m for m in await client.movies()}
            movies = {t: library.get(t) for t in tracked}
        else:  # the films Radarr was not seen to have: asked again each poll
            for tmdb in sorted(films.unfound):
                movies[tmdb] = await _find_movie(client, films.first_request(ctx, tmdb), tmdb)
        _store_movies(ctx, movies, now, server)
        films.refresh(ctx)
        # Radarr movie id -> TMDB id, of the tracked films Radarr has.
        current = films.current
        change = store_queue(ctx, server, queue, lambda r: r.movie_id, current.keys(), now)

        def needs_history(movie_id: int) -> bool:
            movie = seen.movie(current[movie_id], server)
            return not (movie is not None and movie.has_file)

        changed = await store_history(
            events, lambda e: e.movie_id, current, seen.movie_histories(server).keys(),
            prior=lambda mid: seen.movie_history(mid, server), fold=fold_film,
            write=lambda mid, facts: seen.put_movie_history(mid, facts, now, server),
            fetch=client.movie_history, needs_history=needs_history,
        )
        note_departures(ctx, server, change, current.keys(),
                        lambda mid, _: (seen.movie_history(mid, server) or HistoryFacts())
                        .grabbed_at, now)
        # Something happened to these films (grab, import, failure, deletion, rename): read
        # them again. The others cannot have changed in a way that matters here.
        fetched = {m.id for m in movies.values() if m is not None}
        again = sorted(changed - fetched)
        refreshed = dict(zip([current[mid] for mid in again],
                             await bounded([client.movie(mid) for mid in again]), strict=True))
        _store_movies(ctx, refreshed, now, server)
        tag_ids = {t for m in [*movies.values(), *refreshed.values()] if m for t in m.tags}
        known_tags = seen.radarr_tags(server)
        if tag_ids and (full or known_tags is None or tag_ids - set(known_tags)):
            seen.put_radarr_tags(await client.tags(), now, server)
        outcome.full = full
        outcome.watermark = server_date or watermark


async def _find_movie(client: RadarrClient, req: SeerrRequest, tmdb: int) -> RadarrMovie | None:
    """The request's film: by the id Jellyseerr recorded for its quality on this server
    (`externalServiceId` / `externalServiceId4k`) when it has one, else by TMDB id."""
    movie_id = external_id(req)
    if movie_id is not None:
        movie = await client.movie(movie_id)
        if movie is not None and movie.tmdb_id == tmdb:
            return movie
    return await client.movie_by_tmdb(tmdb)


def _store_movies(ctx: PollContext, movies: dict[int, RadarrMovie | None], now: datetime,
                  server: str) -> None:
    for tmdb, movie in movies.items():
        ctx.seen.put_movie(tmdb, movie, now, server)
