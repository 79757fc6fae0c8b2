"""Apply a decision: the request's previous row, the decision and its evidence in, the new
row (and the show's episode rows) out. Pure: no store, no clock; the caller saves."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from reconciler import core
from reconciler.core import Decision, Evidence, MatchIds
from reconciler.models import MediaType, SeerrRequest
from reconciler.states import Phase, RequestState
from reconciler.store import EpisodeRow, RequestRow


@dataclass(frozen=True)
class Applied:
    row: RequestRow
    episodes: list[EpisodeRow] | None = None  # None: the episode rows stay as they are


def apply(req: SeerrRequest, before: RequestRow | None, decision: Decision, evidence: Evidence,
          ids: MatchIds, now: datetime, *, title: str | None,
          deadlines: core.Deadlines, year: int | None = None) -> Applied:
    """The request's row after `decision` (`title`, `year`: Jellyseerr's display title and
    year, if known)."""
    if before is None:
        row = RequestRow(
            id=req.id, media_type=MediaType(req.media_type), title=None, tmdb_id=req.tmdb_id,
            tvdb_id=req.tvdb_id, is4k=req.is4k, is_anime=False, seerr_status=req.status,
            seasons=list(req.seasons), radarr_movie_id=None, sonarr_series_id=None,
            jellyfin_item_id=None, jellyfin_key=None, shoko_ids={},
            state=decision.state, state_since=now, via=decision.via, detail=decision.detail,
            progress=decision.progress, phase=decision.phase, phase_since=now,
            progress_since=now, stuck_reason=None, stuck_since=None,
            episodes_available=None, episodes_aired=None, absent_count=0,
            created_at=_whole_seconds(req.created_at), updated_at=None,  # set below
        )
    else:
        row = replace(before)
    row.title = title or row.title or (evidence.movie.title if evidence.movie else None) or (
        evidence.series.title if evidence.series else None)
    row.tmdb_id, row.tvdb_id, row.is4k = req.tmdb_id, req.tvdb_id, req.is4k
    row.seerr_status, row.seasons = req.status, list(req.seasons)
    row.updated_at = _whole_seconds(req.updated_at)
    row.requested_by = requester_name(req)
    row.requested_by_id = req.requested_by_id
    row.requester_keys = requester_keys(req)
    row.year = (evidence.movie.year if evidence.movie else None) or (
        evidence.series.year if evidence.series else None) or year or row.year
    row.server = evidence.server
    row.absent_count = 0 if decision.state is not RequestState.DELETED else row.absent_count
    episodes = None
    if not decision.held:
        row.is_anime = evidence.is_anime
        row.radarr_movie_id = evidence.movie.id if evidence.movie else row.radarr_movie_id
        row.sonarr_series_id = evidence.series.id if evidence.series else row.sonarr_series_id
        row.shoko_ids = _shoko_ids(req, evidence, ids)
        if decision.transition:
            row.state, row.state_since, row.via = decision.state, now, decision.via
        if decision.phase != row.phase:
            row.phase, row.phase_since = decision.phase, now
        if decision.progress != row.progress:
            row.progress_since = now
        row.detail, row.progress = decision.detail, decision.progress
        if decision.state is RequestState.AVAILABLE or decision.jellyfin_item_id:
            row.jellyfin_item_id = decision.jellyfin_item_id or row.jellyfin_item_id
            row.jellyfin_key = decision.jellyfin_key or row.jellyfin_key
        if req.media_type == MediaType.TV:
            row.episodes_available = decision.episodes_available
            row.episodes_aired = decision.episodes_aired
            episodes = [
                EpisodeRow(e.season, e.episode, e.sonarr_episode_id,
                           _whole_seconds(e.air_date),
                           e.state.value, e.via, e.jellyfin_item_id, e.progress,
                           _whole_seconds(e.eta))
                for e in decision.episodes
            ]
        row.eta = _whole_seconds(_eta(decision, evidence))
        if evidence.movie is not None:
            row.release_date = _whole_seconds(core.film_release(evidence.movie, now))
        elif req.media_type == MediaType.TV and decision.episodes:
            row.release_date = _whole_seconds(core.show_release(decision.episodes))
    row.stuck_reason = core.stuck_reason(
        row.state, Phase.parse(row.phase), row.state_since, row.phase_since,
        row.progress_since, now, deadlines, release=row.release_date,
        server=evidence.media_server.name,
    )
    row.stuck_since = core.stuck_since(row.stuck_reason, row.stuck_since, now)
    return Applied(row, episodes)


def _shoko_ids(req: SeerrRequest, evidence: Evidence, ids: MatchIds) -> dict[str, list[int]]:
    files = [f for f in (evidence.shoko, *(e.shoko for e in evidence.episodes)) if f]
    # A show's match ids hold the AniDB anime ids of its Shoko series; a film's mix anime and
    # episode ids, so those come from its file.
    show_anidb = ids.anidb if req.media_type == MediaType.TV else ()
    shoko_ids = {
        "file": sorted({f.id for f in files}),
        "episode": sorted({i for f in files for i in f.episode_ids}),
        "series": sorted({*ids.shoko_series, *(i for f in files for i in f.series_ids)}),
        "anidb": sorted({*show_anidb, *(i for f in files for i in f.anidb_series_ids)}),
        "anidb_episode": sorted({i for f in files for i in f.anidb_episode_ids}),
    }
    return {k: v for k, v in shoko_ids.items() if v}


def _whole_seconds(when: datetime | None) -> datetime | None:
    """As the store keeps times: a fraction of a second would make every cycle a change."""
    return None if when is None else when.replace(microsecond=0)


def _eta(decision: Decision, evidence: Evidence) -> datetime | None:
    """While downloading (or about to), when the first of its downloads should be done."""
    if decision.state not in (RequestState.DOWNLOADING, RequestState.INDEXED):
        return None
    return core.download_eta([*evidence.queue, *(r for e in evidence.episodes for r in e.queue)])


def requester_name(req: SeerrRequest) -> str | None:
    """Who asked, as the page shows it: Jellyseerr's display name, never an e-mail address
    (Seerr falls back to the address for a user with no name; then its local part)."""
    for name in (req.requested_by_display_name, req.requested_by_username,
                 req.requested_by_jellyfin_username):
        if name and name.strip() and "@" not in name:
            return name.strip()
    email = req.requested_by_email or req.requested_by_display_name
    if email and "@" in email:
        return email.split("@", 1)[0].strip() or None
    return None


def requester_keys(req: SeerrRequest) -> list[str]:
    """The names a `[notify.users]` key may give the requester by, lower-case, each once."""
    names = (req.requested_by_username, req.requested_by_jellyfin_username,
             req.requested_by_display_name, req.requested_by_email)
    return list(dict.fromkeys(n.strip().casefold() for n in names if n and n.strip()))
