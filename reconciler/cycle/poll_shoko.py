"""Poll Shoko: whether it found and matched the files of anime films and episodes.

Strategy: nothing is listed. Every `[shoko] poll_interval` (`active_poll_interval` while
something moves), each film that Radarr has a file for and that is not available yet is looked
up by its file's path tail and by its TMDB id (Shokofin may present a film Radarr does not tag
anime). For each anime show, the Shoko series linked to its TMDB id are
asked for until one is known, and every episode file not matched yet (and not playable yet) is
looked up by path; a matched file is kept, since Shoko does not unmatch files on its own.
Files are asked for with their cross-references in both dialects (`includeXRefs`, Shoko 5.x;
`include=XRefs`, Shoko 6). A cross-reference whose Shoko `ID` is still null (linked to AniDB, the
series or episode not created yet) is no error: the file counts as not matched yet
(`ShokoFile.pending_metadata`, said in the request's detail) and is asked for again next poll.
Runs after Radarr and Sonarr in the cycle, so it looks up the paths they just reported, also
for a show requested since the last cycle (anime by Sonarr's series type or an anime root
folder): its files are asked about in the cycle that first sees them.
Watermark: none.
"""

from __future__ import annotations

from datetime import datetime

from reconciler import core
from reconciler.core import AnimeRules
from reconciler.cycle.context import PollContext
from reconciler.cycle.observations import changed_requests, series_key
from reconciler.models import MediaType, SeerrRequest, ShokoFile
from reconciler.results import PollOutcome
from reconciler.services.shoko import ShokoClient, path_tail
from reconciler.states import RequestState
from reconciler.store import RequestRow

# Requests that need nothing more from Shoko.
SETTLED = frozenset({RequestState.AVAILABLE, RequestState.DELETED, RequestState.DECLINED})


class ShokoPoller:
    """Shoko's poll; `service` is the name its poll records are kept under."""

    def __init__(self, client: ShokoClient, name: str = "shoko") -> None:
        self.client = client
        self.service = name
        self._cursor: int | None = None  # in the store's journal, after the last poll

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        now = ctx.clock()
        known = ctx.seen.seerr_requests()
        journal = ctx.store.journal
        changed = changed_requests(journal, self._cursor)
        self._cursor = journal.cursor()
        # Not a loop over every request: most are settled. The unsettled ones, and those
        # Jellyseerr's record of changed since the last poll (a new one has no row yet).
        if changed is None:
            wanted = known.keys() - ctx.store.request_ids(states=[s.value for s in SETTLED])
        else:
            wanted = ctx.store.request_ids(states=[s.value for s in RequestState
                                                   if s not in SETTLED]) | changed
        rows = ctx.store.requests_by_id(wanted)
        for request_id in sorted(wanted):
            seen_request = known.get(request_id)
            row = rows.get(request_id)
            if seen_request is None or core.seerr_gone(seen_request.absent) or (
                    row is not None and row.state in SETTLED):
                continue
            req = seen_request.request
            if req.media_type is MediaType.MOVIE and req.tmdb_id is not None:
                # Every film with a file Jellyfin does not list yet, judged on this cycle's
                # Radarr facts (not the last decision, which would make Shoko's answer, and the
                # state, lag a cycle behind): Shokofin may present a film not tagged anime.
                movie = ctx.seen.movie(req.tmdb_id)
                if movie is None or not movie.has_file:
                    continue
                found = await self._movie_file(movie.file_path, req.tmdb_id)
                ctx.seen.put_shoko_movie(req.tmdb_id, found, now)
            elif req.media_type is MediaType.TV:
                # A request first seen this cycle has no row yet: its files are asked about now,
                # not a cycle later.
                await self._show(ctx, req, row, now)

    async def _movie_file(self, path: str | None, tmdb_id: int) -> ShokoFile | None:
        """The film's file in Shoko, found by path tail and by TMDB id; either way counts."""
        by_path = await self.client.files_by_path(path) if path else []
        by_id = await self.client.files_by_tmdb_movie(tmdb_id)
        if path:
            # The file of exactly that name first (the two-part tail may also find another).
            name = path_tail(path, 1).lower()
            by_path = [f for f in by_path
                       if path_tail(f.relative_path, 1).lower() == name] or by_path
        candidates = by_path + [f for f in by_id if f.id not in {p.id for p in by_path}]
        return _best_file(candidates)

    async def _show(self, ctx: PollContext, req: SeerrRequest, row: RequestRow | None,
                    now: datetime) -> None:
        series = ctx.seen.series(series_key(req))
        if series is None:
            return
        rules = AnimeRules.configured((), {}, ctx.config.model.anime.root_folders)
        if not ((row is not None and row.is_anime) or rules.show(series)):
            return
        # The show's Shoko series (id -> AniDB ids), which Shokofin's Series items carry: those
        # Shoko links to the TMDB show, asked again while none is known (Shoko learns the link
        # only once it has matched files), plus those of every matched episode file.
        shows: dict[int, set[int]] = {
            sid: set(anidb) for sid, anidb in ctx.seen.shoko_show(req.tmdb_id).items()}
        if req.tmdb_id is not None and not shows:
            for sid, anidb in await self.client.series_by_tmdb_show(req.tmdb_id):
                shows.setdefault(sid, set()).update(anidb)
        available = {e.sonarr_episode_id for e in ctx.store.episodes(req.id)
                     if e.state == RequestState.AVAILABLE}
        for ep in ctx.seen.episodes(series.id) or []:
            if not ep.has_file or not ep.file_path:
                continue
            prior = ctx.seen.shoko_episode(ep.id)
            found = prior
            # Matched already (Shoko does not unmatch files on its own; asked again while a
            # cross-reference still waits for its Shoko ids), or playable anyway.
            settled = prior is not None and prior.matched and not prior.pending_metadata
            if not settled and ep.id not in available:
                found = _best_file(await self.client.files_by_path(ep.file_path))
                ctx.seen.put_shoko_episode(ep.id, found, now)
            if found is not None and found.matched:
                _add_series(shows, found)
        ctx.seen.put_shoko_show(req.tmdb_id, shows, now)


def _add_series(shows: dict[int, set[int]], file: ShokoFile) -> None:
    """Fold a matched file's Shoko series and their AniDB ids into `shows`."""
    paired = len(file.series_ids) == len(file.anidb_series_ids)
    for i, sid in enumerate(file.series_ids):
        anidb = (file.anidb_series_ids[i],) if paired else file.anidb_series_ids
        shows.setdefault(sid, set()).update(anidb)


def _best_file(files: list[ShokoFile]) -> ShokoFile | None:
    """A matched file first (it carries the ids), else any file Shoko has seen."""
    matched = [f for f in files if f.matched]
    return (matched or files)[0] if files else None
