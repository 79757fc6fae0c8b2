"""The decision: where a request is now, from its evidence and its recorded state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reconciler.core.downloads import DownloadFacts, download_stage, later, queue_stage
from reconciler.core.evidence import Current, EpisodeEvidence, Evidence
from reconciler.core.matching import (
    JellyfinMatch,
    film_match_ids,
    match_episode,
    match_item,
    plays_copy,
    shoko_file_ids,
)
from reconciler.core.outcome import Decision, EpisodeDecision, Stage
from reconciler.core.releases import download_eta
from reconciler.models import (
    JELLYFIN,
    MediaServer,
    MediaType,
    SeerrRequest,
    SeerrStatus,
    SonarrEpisode,
    SonarrSeries,
)
from reconciler.states import EPISODE_RANK, LADDER, Phase, RequestState

S = RequestState
P = Phase


def decide(
    evidence: Evidence,
    current: Current | None,
    now: datetime,
    unrecognised_after: timedelta = timedelta(minutes=30),
) -> Decision:
    """The request's state now. `current` is None for a request never seen before."""
    seerr_stage = _seerr_stage(evidence)
    if seerr_stage is not None:
        if "jellyseerr" in evidence.unknown and current is not None:
            return _hold(current)
        return _finish(seerr_stage, current, evidence, None)

    if current is not None and evidence.depends_on() & evidence.unknown:
        return _hold(current)

    if evidence.unrouted is not None:
        match = _film_match(evidence) if evidence.request.media_type is MediaType.MOVIE \
            else None
        if match is None:
            return _finish(Stage(S.APPROVED, "jellyseerr", evidence.unrouted, P.APPROVED),
                           current, evidence, None)

    if evidence.request.media_type is MediaType.TV:
        return _decide_show(evidence, current, now, unrecognised_after)
    movie = evidence.movie
    match = _film_match(evidence)
    stage = download_stage(DownloadFacts(
        arr="radarr",
        has_file=bool(movie and movie.has_file),
        file_path=movie.file_path if movie else None,
        history=evidence.movie_history,
        queue=evidence.queue,
        is_anime=evidence.is_anime,
        shoko_enabled=evidence.shoko_enabled,
        shoko=evidence.shoko,
        playable=match,
        in_arr=movie is not None,
        departed=evidence.departed,
        current=current,
        now=now,
        unrecognised_after=unrecognised_after,
        media_server=evidence.media_server,
        unmatchable=evidence.unmatchable,
    ))
    if stage.state is S.APPROVED and evidence.request.status == SeerrStatus.FAILED:
        stage = Stage(S.FAILED, "jellyseerr", "Jellyseerr could not send the request to Radarr",
                      P.FAILED)
    return _finish(stage, current, evidence, match)


def _film_match(evidence: Evidence) -> JellyfinMatch | None:
    """The film's Jellyfin match, only if it is a playable Movie carrying the request's ids."""
    if evidence.jellyfin is None or not plays_copy(evidence.jellyfin.item,
                                                   evidence.request.is4k, evidence.files_4k):
        return None
    ids = film_match_ids(evidence.request.tmdb_id, evidence.shoko)
    return match_item([evidence.jellyfin.item], ids, "Movie")


def _seerr_stage(evidence: Evidence) -> Stage | None:
    """Outcomes that only Jellyseerr decides: deleted, declined, pending approval."""
    request = evidence.request
    if evidence.seerr_deleted:
        return Stage(S.DELETED, "jellyseerr", "request removed from Jellyseerr", P.DELETED)
    if request.status == SeerrStatus.DECLINED:
        return Stage(S.DECLINED, "jellyseerr", "declined in Jellyseerr", P.DECLINED)
    if request.status == SeerrStatus.PENDING:
        return Stage(S.REQUESTED, "jellyseerr", "waiting for approval in Jellyseerr", P.REQUESTED)
    return None


def _hold(current: Current) -> Decision:
    return Decision(
        state=current.state,
        via="",
        detail=current.detail,
        progress=None,
        phase=current.phase,
        transition=False,
        held=True,
    )


def _finish(
    stage: Stage,
    current: Current | None,
    evidence: Evidence,
    match: JellyfinMatch | None,
    newly_aired: bool = False,
    /,
    **extra: object,
) -> Decision:
    """The decision for `stage`; a step back without evidence holds the current state
    (`newly_aired`: a show's episode aired since then, Sonarr's evidence)."""
    if current is not None and not newly_aired and _is_unevidenced_regression(
            stage, current, evidence):
        return _hold(current)
    return Decision(
        state=stage.state,
        via=stage.via,
        detail=stage.detail,
        progress=stage.progress,
        phase=stage.phase,
        transition=current is None or current.state is not stage.state,
        jellyfin_item_id=match.item.id if match else None,
        jellyfin_key=match.key if match else None,
        **extra,  # type: ignore[arg-type]  # only Decision's own episode fields are passed
    )


def _is_unevidenced_regression(stage: Stage, current: Current, evidence: Evidence) -> bool:
    """A backwards move with nothing seen since the current state began to justify it."""
    new_rank = LADDER.get(stage.state)
    old_rank = LADDER.get(current.state)
    if new_rank is None or old_rank is None or new_rank >= old_rank:
        return False
    if stage.state is S.REQUESTED:
        return False  # Jellyseerr's word on approval is final
    if current.state in (S.AVAILABLE, S.PARTIALLY_AVAILABLE) and \
            evidence.media_server.service not in evidence.unknown:
        # The index drops an item only once its removal is confirmed, so losing the match is
        # the media server's own positive evidence; a newly aired episode is Sonarr's.
        return False
    histories = [evidence.movie_history] + [e.history for e in evidence.episodes]
    for h in histories:
        for stamp in (h.failed_at, h.grabbed_at, h.file_deleted_at):
            if later(stamp, current.since):
                return False
    return True


# ---------------------------------------------------------------- shows


def requested_seasons(request: SeerrRequest, series: SonarrSeries | None) -> tuple[int, ...]:
    """The seasons a request covers: the ones it names, else every season Sonarr monitors."""
    if request.seasons:
        return tuple(sorted(set(request.seasons)))
    if series is None:
        return ()
    return tuple(s for s in series.monitored_seasons if s != 0)


def _aired(episode: SonarrEpisode, now: datetime) -> bool:
    aired = episode.air_date_utc
    return aired is not None and aired <= now


@dataclass(frozen=True)
class _Episodes:
    """A show's wanted episodes in the requested seasons, each one's stage decided."""

    decisions: tuple[EpisodeDecision, ...]
    aired: list[tuple[EpisodeEvidence, Stage]]  # aired, or playable already
    future: list[SonarrEpisode]  # not aired yet, and not playable
    left_out: int  # unmonitored in Sonarr, so not counted


def _decide_show(
    evidence: Evidence, current: Current | None, now: datetime, unrecognised_after: timedelta
) -> Decision:
    """A show is where its least advanced aired episode is; partly available while some of
    them play; waiting for the calendar while none has aired."""
    series = evidence.series
    if series is None:
        return _show_not_in_sonarr(evidence, current)
    episodes = _episode_stages(evidence, series, current, now, unrecognised_after)
    to_air = _to_air_note(episodes.future) + _left_out_note(episodes.left_out)
    available = [s for _, s in episodes.aired if s.state is S.AVAILABLE]
    aired_count = len(episodes.aired)
    extra: dict[str, object] = {
        "episodes": episodes.decisions,
        "episodes_available": len(available),
        "episodes_aired": aired_count,
    }
    if aired_count == 0:
        nothing = "nothing has aired yet" if episodes.future or not episodes.left_out \
            else "no monitored episode in the requested seasons"
        stage = Stage(S.APPROVED, "sonarr", nothing + to_air, P.WAITING_FOR_AIR)
        return _finish(stage, current, evidence, None, **extra)
    if len(available) == aired_count:
        stage = Stage(S.AVAILABLE, evidence.media_server.service,
                      f"all {aired_count} aired episodes playable in "
                      f"{evidence.media_server.name}" + to_air, P.AVAILABLE, 1.0)
        return _finish(stage, current, evidence, None, **extra)
    missing = [(ev, s) for ev, s in episodes.aired if s.state is not S.AVAILABLE]
    if available:
        stage = _partly_available(missing, len(available), aired_count, current, to_air,
                                  evidence.media_server)
        return _finish(stage, current, evidence, None, **extra)
    stage = _least_advanced(missing, aired_count, to_air)
    aired_since = current is not None and any(
        (t := ev.episode.air_date_utc) is not None and t > current.since
        for ev, _ in missing
    )
    return _finish(stage, current, evidence, None, aired_since, **extra)


def _show_not_in_sonarr(evidence: Evidence, current: Current | None) -> Decision:
    if current is not None and LADDER.get(current.state, 0) > LADDER[S.APPROVED]:
        # Without Sonarr's episode list nothing can be counted; a show that was further
        # along is not moved back by Sonarr forgetting it.
        return _hold(current)
    stage = Stage(S.APPROVED, "jellyseerr", "approved; not in Sonarr yet", P.APPROVED)
    if evidence.request.status == SeerrStatus.FAILED:
        stage = Stage(S.FAILED, "jellyseerr", "Jellyseerr could not send the request to "
                      "Sonarr", P.FAILED)
    return _finish(stage, current, evidence, None)


def _episode_stages(
    evidence: Evidence, series: SonarrSeries, current: Current | None, now: datetime,
    unrecognised_after: timedelta,
) -> _Episodes:
    """Each wanted episode's stage, in season and episode order."""
    seasons = set(requested_seasons(evidence.request, series))
    # Episodes unmonitored in Sonarr are left out (`_wanted`); the detail says how many.
    in_seasons = [e for e in evidence.episodes if e.episode.season in seasons]
    wanted = [e for e in in_seasons if _wanted(e)]
    decisions: list[EpisodeDecision] = []
    aired_stages: list[tuple[EpisodeEvidence, Stage]] = []
    future: list[SonarrEpisode] = []
    for ev in sorted(wanted, key=lambda e: (e.episode.season, e.episode.episode)):
        ep = ev.episode
        shoko_episodes = ev.shoko.episode_ids if ev.shoko else ()
        match = match_episode([ev.jellyfin.item], ep.season, ep.episode, shoko_episodes,
                              shoko_file_ids(ev.shoko)) if ev.jellyfin else None
        stage = download_stage(DownloadFacts(
            arr="sonarr",
            has_file=ep.has_file,
            file_path=ep.file_path,
            history=ev.history,
            queue=ev.queue,
            is_anime=evidence.is_anime,
            shoko_enabled=evidence.shoko_enabled,
            shoko=ev.shoko,
            playable=match,
            in_arr=True,
            departed=ev.departed,
            current=current,
            now=now,
            unrecognised_after=unrecognised_after,
            media_server=evidence.media_server,
            unmatchable=evidence.unmatchable,
        ))
        if not _aired(ep, now) and stage.state is not S.AVAILABLE:
            future.append(ep)
            if stage.state is S.APPROVED:
                stage = replace(stage, detail="not aired yet")
        else:
            aired_stages.append((ev, stage))
        decisions.append(EpisodeDecision(
            season=ep.season,
            episode=ep.episode,
            state=stage.state,
            via=stage.via,
            air_date=ep.air_date_utc,
            sonarr_episode_id=ep.id,
            jellyfin_item_id=match.item.id if match else None,
            progress=stage.progress if stage.state is S.DOWNLOADING else None,
            eta=download_eta(ev.queue) if stage.state in (S.DOWNLOADING, S.INDEXED) else None,
        ))
    return _Episodes(tuple(decisions), aired_stages, future, len(in_seasons) - len(wanted))


def _partly_available(
    missing: Sequence[tuple[EpisodeEvidence, Stage]], available: int, aired_count: int,
    current: Current | None, to_air: str, media_server: MediaServer = JELLYFIN,
) -> Stage:
    """Some aired episodes play, `missing` do not: the next one's stage in the detail."""
    # Back from available: Sonarr's news when an episode aired since (or one Sonarr has no
    # file for turned up: a new or re-dated episode), the media server's when it lost a file.
    newly_aired = current is not None and any(
        not ev.episode.has_file
        or ((t := ev.episode.air_date_utc) is not None and t > current.since)
        for ev, _ in missing
    )
    via = "sonarr" if current is not None and current.state is S.AVAILABLE and newly_aired \
        else media_server.service
    lagging = min(missing, key=lambda p: EPISODE_RANK[p[1].state])[1]
    # The least advanced missing episode is imported and Jellyfin does not list it: the same
    # wait as a show with nothing playable yet (one scan, then the stuck flag).
    phase = P.WAITING_FOR_JELLYFIN if lagging.phase == P.WAITING_FOR_JELLYFIN \
        else P.PARTIALLY_AVAILABLE
    return Stage(
        S.PARTIALLY_AVAILABLE,
        via,
        f"{available}/{aired_count} aired episodes playable; "
        f"next: {lagging.detail}" + to_air,
        phase,
        available / aired_count,
    )


def _least_advanced(
    missing: Sequence[tuple[EpisodeEvidence, Stage]], aired_count: int, to_air: str
) -> Stage:
    """No aired episode plays: the show is where its least advanced one is."""
    least = min(missing, key=lambda p: EPISODE_RANK[p[1].state])
    lagging_stage = least[1]
    same = [s for _, s in missing if s.state is lagging_stage.state]
    progress = _show_progress(lagging_stage.state, missing)
    detail = lagging_stage.detail
    if len(missing) > 1:
        detail = f"{len(same)}/{aired_count} episodes {lagging_stage.state}: {detail}"
    return replace(lagging_stage, detail=detail + to_air, progress=progress)


def _wanted(ev: EpisodeEvidence) -> bool:
    """An episode the operator unmonitored in Sonarr (say, after its file was deleted, or one
    they do not want) is not counted, unless it is there anyway (a file, a Jellyfin item)."""
    ep = ev.episode
    return ep.monitored or ep.has_file or ev.jellyfin is not None


def _left_out_note(count: int) -> str:
    if count == 0:
        return ""
    if count == 1:
        return "; 1 unmonitored episode in Sonarr is not counted"
    return f"; {count} unmonitored episodes in Sonarr are not counted"


def _show_progress(
    state: RequestState, episodes: Sequence[tuple[EpisodeEvidence, Stage]]
) -> float | None:
    """Progress of the episodes at `state`, in bytes over their distinct downloads: a season
    pack is one download (one queue record per episode) and counts once."""
    same = [(ev, s) for ev, s in episodes if s.state is state]
    downloads = {r.download_id: r for ev, _ in same for r in ev.queue
                 if (stage := queue_stage(r)).under_way and stage.state is state and r.size > 0}
    if downloads:
        size = sum(r.size for r in downloads.values())
        left = sum(min(max(r.sizeleft, 0.0), r.size) for r in downloads.values())
        return 1.0 - left / size
    progresses = [s.progress for _, s in same if s.progress is not None]
    return sum(progresses) / len(progresses) if progresses else None


def _to_air_note(future: Sequence[SonarrEpisode]) -> str:
    if not future:
        return ""
    dates = sorted(d for e in future if (d := e.air_date_utc) is not None)
    nxt = f", next on {dates[0].date().isoformat()}" if dates else ""
    return f"; {len(future)} still to air{nxt}"
