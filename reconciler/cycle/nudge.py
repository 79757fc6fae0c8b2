"""Nudge the media server: ask it to find a file it has not listed, never restarting a running
scan.

A request waiting for the media server (phase `waiting_for_jellyfin`, named after the first one)
past `refresh_grace` gets one nudge (`core.plan_nudges` picks how, at most one per library per
`refresh_min_interval`), recorded in its timeline for people and as its row's `nudged_at` for
the next cycle; then patience, and the stuck flag. Gentlest first: the file's path reported when
it lies under one of the library's folders (Jellyfin and Emby: `POST /Library/Media/Updated`,
which scans just that folder; Plex: `POST /library/sections/{key}/refresh?path=` for the file's
folder), else the library refreshed (`POST /Items/{id}/Refresh`, queued; Plex: the section's
scan); a file in no known library needs the whole library scanned (`POST /Library/Refresh`;
Plex: each section), asked only when the server shows no library scan running
(`GET /ScheduledTasks`; Plex: no section `refreshing`), since that call cancels and restarts it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reconciler import core
from reconciler.config import Config
from reconciler.cycle.observations import Observations, SeriesKey
from reconciler.errors import UpstreamError
from reconciler.logs import get_logger
from reconciler.models import MediaType
from reconciler.registry import short_name
from reconciler.services.media import MediaServerClient
from reconciler.states import Phase, RequestState
from reconciler.store import RequestRow, Store
from reconciler.store.meta import library_refreshed

log = get_logger("reconciler.cycle")

# How a request to scan the media server is recorded in the timelines of the requests it was
# for: "asked Jellyfin to scan 'Films'" (`nudge_detail`).
NUDGE_VIA = "reconciler"
NUDGE_DETAIL = "asked Jellyfin to scan"


def nudge_detail(media_server: str) -> str:
    """The timeline's words for a nudge of `media_server` ("jellyfin", "plex", ...)."""
    return f"asked {short_name(media_server)} to scan"


async def nudge(client: MediaServerClient, store: Store, seen: Observations, config: Config,
                now: datetime) -> list[str]:
    """Ask the media server to scan for the requests that wait for it; returns the libraries
    asked."""
    settings = config.media_server
    server = client.name
    grace = timedelta(seconds=settings.refresh_grace)
    due = []
    for row in store.requests(phase=Phase.WAITING_FOR_JELLYFIN):
        since = row.phase_since
        if since is not None and now - since >= grace:
            nudged = row.nudged_at is not None and row.nudged_at >= since
            due.append(core.Waiting(row.id, waiting_path(store, seen, row), since,
                                    nudged=nudged))
    due = [w for w in due if not w.nudged]
    if not due:
        return []
    last = store.meta.refreshed()
    interval = timedelta(seconds=settings.refresh_min_interval)
    whole = last.get("*")
    if whole is not None and now - whole < interval:
        return []
    try:
        libraries = await client.libraries()
    except UpstreamError as exc:
        log.warning(f"{server}.libraries_unavailable", error=exc.message)
        libraries = []
    plan = core.plan_nudges(due, libraries, last, now, grace, interval)
    if any(n.kind == core.WHOLE_LIBRARY for n in plan):
        # Only now is it worth asking whether a scan runs (one call, not one per cycle).
        try:
            running = await client.library_scan_running()
        except UpstreamError as exc:
            log.warning(f"{server}.scheduled_tasks_unavailable", error=exc.message)
            running = True  # unknown: do not risk restarting a scan
        if running:
            log.info(f"{server}.library_scan_running")
            plan = core.plan_nudges(due, libraries, last, now, grace, interval,
                                    scan_running=True)
    done = []
    for planned in plan:
        try:
            await _send(client, planned)
        except UpstreamError as exc:
            log.warning(f"{server}.refresh_failed", library=planned.label, error=exc.message)
            continue
        store.meta.set(library_refreshed(planned.key), now)
        detail = f"{nudge_detail(server)} {planned.label}"
        for rid in planned.request_ids:
            waiting_row = store.request(rid)
            if waiting_row is not None:
                store.set_nudged(rid, now)
                store.add_timeline(rid, now, waiting_row.state.value,
                                   waiting_row.state.value, NUDGE_VIA, detail)
        log.info(f"{server}.refresh_requested", library=planned.label, how=planned.kind,
                 requests=list(planned.request_ids))
        done.append(planned.label)
    return done


async def _send(client: MediaServerClient, planned: core.Nudge) -> None:
    if planned.kind == core.MEDIA_UPDATED:
        await client.report_media_updated(planned.paths)
    else:
        await client.refresh_library(planned.library)


def waiting_path(store: Store, seen: Observations, row: RequestRow) -> str | None:
    """The file the media server should list for the request: it picks the library to scan."""
    if row.media_type == MediaType.MOVIE:
        movie = seen.movie(row.tmdb_id, row.server or "radarr")
        return (movie.file_path or movie.path) if movie else None
    if row.sonarr_series_id is None:
        return None
    # The file of an episode the media server should list, else any file of the series.
    waiting = {e.sonarr_episode_id for e in store.episodes(row.id)
               if e.state in (RequestState.IMPORTING, RequestState.ANIME_MATCHING)}
    server = row.server or "sonarr"  # the server tracking it (issue 16)
    files = [ep for ep in seen.episodes(row.sonarr_series_id, server) or [] if ep.file_path]
    if files:
        return str(min(files, key=lambda ep: ep.id not in waiting).file_path)
    key = SeriesKey.of(row.tvdb_id, row.tmdb_id)
    series = seen.series(key, server) if key is not None else None
    return series.path if series else None
