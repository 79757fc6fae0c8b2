"""Poll Radarr: the tracked films, their queue records and history.

Strategy: every `[radarr] poll_interval` (`active_poll_interval` while something moves) the
poll reads the whole queue (`/api/v3/queue/details`, unpaged, so no record is skipped or
counted twice while downloads move; the paged queue sorted by `added` where details answers 404)
and the history since the watermark (a `downloadIgnored` event, Radarr's "removed without
blocklisting", makes the film failed until the next grab).
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
from reconciler.cycle.poll_arr import fold_film, recent_history, store_history, store_queue
from reconciler.models import RadarrMovie
from reconciler.results import PollOutcome
from reconciler.services.radarr import RadarrClient
from reconciler.store import iso


class RadarrPoller:
    service = "radarr"

    def __init__(self, client: RadarrClient) -> None:
        self.client = client

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        client, seen = self.client, ctx.seen
        now = ctx.clock()
        tracked = {r.tmdb_id for r in ctx.tracked("movie") if r.tmdb_id is not None}
        watermark = ctx.watermark("radarr")
        full = watermark is None or ctx.full_due("radarr")
        queue, server_date = await client.queue()
        events = await recent_history(client, watermark or server_date)
        movies: dict[int, RadarrMovie | None] = {}
        if full:
            library = {m.tmdb_id: m for m in await client.movies()}
            movies = {t: library.get(t) for t in tracked}
        else:
            for tmdb in tracked:
                if seen.movie(tmdb) is None:
                    movies[tmdb] = await client.movie_by_tmdb(tmdb)
        _store_movies(ctx, movies, now)
        # Radarr movie id -> TMDB id, of the tracked films Radarr has.
        current = {m.id: t for t in tracked if (m := seen.movie(t)) is not None}
        store_queue(ctx, "radarr", queue, lambda r: r.movie_id, set(current), now)

        def needs_history(movie_id: int) -> bool:
            movie = seen.movie(current[movie_id])
            return not (movie is not None and movie.has_file)

        changed = await store_history(
            events, lambda e: e.movie_id, current,
            prior=seen.movie_history, fold=fold_film,
            write=lambda mid, facts: seen.put_movie_history(mid, facts, now),
            fetch=client.movie_history, needs_history=needs_history,
        )
        # Something happened to these films (grab, import, failure, deletion, rename): read
        # them again. The others cannot have changed in a way that matters here.
        fetched = {m.id for m in movies.values() if m is not None}
        again = sorted(changed - fetched)
        refreshed = dict(zip([current[mid] for mid in again],
                             await bounded([client.movie(mid) for mid in again]), strict=True))
        _store_movies(ctx, refreshed, now)
        tag_ids = {t for m in [*movies.values(), *refreshed.values()] if m for t in m.tags}
        known_tags = seen.radarr_tags()
        if tag_ids and (full or known_tags is None or tag_ids - set(known_tags)):
            seen.put_radarr_tags(await client.tags(), now)
        outcome.full = full
        outcome.watermark = iso(server_date) if server_date else iso(watermark)


def _store_movies(ctx: PollContext, movies: dict[int, RadarrMovie | None], now: datetime) -> None:
    for tmdb, movie in movies.items():
        ctx.seen.put_movie(tmdb, movie, now)
