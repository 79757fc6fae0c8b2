"""Small builders for the core's inputs, shared by the tests under tests/core.

Evidence for a film is assembled the way the cycle does it (`reconciler.cycle.evidence`): the
Jellyfin match is chosen by `core.match_item` from the items the index holds, with the ids the
request and Shoko provide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from reconciler.core import (
    Current,
    EpisodeEvidence,
    Evidence,
    JellyfinMatch,
    film_match_ids,
    match_episode,
    match_item,
)
from reconciler.models import (
    HistoryFacts,
    JellyfinItem,
    MediaType,
    QueueRecord,
    RadarrMovie,
    SeerrRequest,
    SeerrStatus,
    ShokoFile,
    SonarrEpisode,
    SonarrSeries,
)
from reconciler.states import RequestState

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(hours=1)  # when the current state was entered, in most tables
TMDB = 603
TVDB = 81189
FILM_PATH = "/data/movies/The Matrix (1999)/The.Matrix.1999.mkv"
ANIME_PATH = "/data/anime/movies/Made in Abyss (2020)/Made.in.Abyss.Dawn.mkv"


def ago(**delta: float) -> datetime:
    """The time `delta` before NOW."""
    return NOW - timedelta(**delta)


def seerr(
    status: int = SeerrStatus.APPROVED,
    media_type: MediaType = MediaType.MOVIE,
    seasons: tuple[int, ...] = (),
) -> SeerrRequest:
    return SeerrRequest(
        id=1,
        media_type=media_type,
        status=status,
        tmdb_id=TMDB,
        tvdb_id=TVDB if media_type is MediaType.TV else None,
        seasons=seasons,
    )


def movie(has_file: bool = False, file_path: str | None = None) -> RadarrMovie:
    path = file_path or FILM_PATH
    return RadarrMovie(
        id=7,
        tmdb_id=TMDB,
        title="The Matrix",
        has_file=has_file,
        file_path=path if has_file else None,
        path=path.rsplit("/", 1)[0],
    )


def record(
    tracked_state: str = "downloading",
    status: str = "downloading",
    *,
    size: float = 100.0,
    sizeleft: float = 50.0,
    tracked_status: str = "ok",
    messages: tuple[str, ...] = (),
    title: str = "The.Matrix.1999.1080p",
    episode_id: int | None = None,
    download_id: str = "D1",
) -> QueueRecord:
    return QueueRecord(
        download_id=download_id,
        status=status,
        tracked_status=tracked_status,
        tracked_state=tracked_state,
        size=size,
        sizeleft=sizeleft,
        title=title,
        messages=messages,
        episode_id=episode_id,
    )


def item(
    provider_ids: dict[str, str] | None = None,
    *,
    type: str = "Movie",  # mirrors JellyfinItem.type
    location_type: str | None = "FileSystem",
    placeholder: bool = False,
    path: str | None = "/media/movies/The Matrix (1999)/The.Matrix.1999.mkv",
    item_id: str = "jf-movie",
    season: int | None = None,
    episode: int | None = None,
    episode_end: int | None = None,
) -> JellyfinItem:
    return JellyfinItem(
        id=item_id,
        type=type,
        name="The Matrix",
        location_type=location_type,
        is_placeholder=placeholder,
        path=path,
        season=season,
        episode=episode,
        episode_end=episode_end,
        provider_ids={"Tmdb": str(TMDB)} if provider_ids is None else provider_ids,
    )


def shoko_file(matched: bool = True, *, file_id: int = 41) -> ShokoFile:
    if not matched:
        return ShokoFile(id=file_id, relative_path="/Made in Abyss/Made.in.Abyss.Dawn.mkv")
    return ShokoFile(
        id=file_id,
        relative_path="/Made in Abyss/Made.in.Abyss.Dawn.mkv",
        series_ids=(301,),
        episode_ids=(3001,),
        anidb_series_ids=(15199,),
        anidb_episode_ids=(230001,),
    )


def film(
    *,
    status: int = SeerrStatus.APPROVED,
    radarr: RadarrMovie | None = None,
    history: HistoryFacts | None = None,
    queue: Sequence[QueueRecord] = (),
    items: Sequence[JellyfinItem] = (),
    anime: bool = False,
    shoko_enabled: bool = True,
    shoko: ShokoFile | None = None,
    deleted: bool = False,
    unknown: frozenset[str] = frozenset(),
) -> Evidence:
    """Evidence for a film request; the Jellyfin match is chosen from `items` by match_item."""
    return Evidence(
        request=seerr(status),
        seerr_deleted=deleted,
        is_anime=anime,
        shoko_enabled=shoko_enabled,
        movie=radarr,
        movie_history=history or HistoryFacts(),
        queue=tuple(queue),
        shoko=shoko,
        jellyfin=match_item(items, film_match_ids(TMDB, shoko), "Movie"),
        unknown=unknown,
    )


def current(
    state: RequestState,
    *,
    since: datetime = SINCE,
    phase: str = "",
    phase_since: datetime | None = None,
    detail: str = "",
) -> Current:
    return Current(state=state, since=since, detail=detail, phase=phase,
                   phase_since=phase_since)


# ---------------------------------------------------------------- shows


def series(monitored: tuple[int, ...] = (1,), series_type: str = "standard") -> SonarrSeries:
    return SonarrSeries(
        id=9,
        tvdb_id=TVDB,
        tmdb_id=TMDB,
        title="The Show",
        series_type=series_type,
        path="/data/tv/The Show",
        monitored_seasons=monitored,
    )


def episode_path(season: int, number: int) -> str:
    return f"/data/tv/The Show/Season {season:02d}/The.Show.S{season:02d}E{number:02d}.mkv"


def sonarr_episode(
    season: int, number: int, *, has_file: bool = False, aired: datetime | None = None,
    announced: bool = True,
) -> SonarrEpisode:
    """An episode aired `aired` (by default 30 - `number` days ago); no air date at all when
    not `announced`."""
    return SonarrEpisode(
        id=season * 100 + number,
        series_id=9,
        season=season,
        episode=number,
        air_date_utc=None if not announced else aired if aired is not None
        else ago(days=30 - number),
        has_file=has_file,
        file_path=episode_path(season, number) if has_file else None,
    )


def jf_episode(
    season: int,
    number: int,
    *,
    end: int | None = None,
    location_type: str = "FileSystem",
    placeholder: bool = False,
    provider_ids: dict[str, str] | None = None,
) -> JellyfinItem:
    return item(
        provider_ids or {},
        type="Episode",
        location_type=location_type,
        placeholder=placeholder,
        path=None if location_type == "Virtual" else f"/media/tv/S{season}E{number}.mkv",
        item_id=f"jf-s{season}e{number}",
        season=season,
        episode=number,
        episode_end=end,
    )


def episode(
    season: int,
    number: int,
    *,
    has_file: bool = False,
    aired: datetime | None = None,
    announced: bool = True,
    history: HistoryFacts | None = None,
    queue: Sequence[QueueRecord] = (),
    shoko: ShokoFile | None = None,
    playable: JellyfinMatch | None = None,
) -> EpisodeEvidence:
    return EpisodeEvidence(
        episode=sonarr_episode(season, number, has_file=has_file, aired=aired,
                               announced=announced),
        history=history or HistoryFacts(),
        queue=tuple(queue),
        shoko=shoko,
        jellyfin=playable,
    )


def show(
    episodes: Sequence[EpisodeEvidence],
    *,
    seasons: tuple[int, ...] = (1,),
    monitored: tuple[int, ...] = (1,),
    anime: bool = False,
    shoko_enabled: bool = True,
    with_series: bool = True,
    unknown: frozenset[str] = frozenset(),
    jellyfin: Sequence[JellyfinItem] = (),
) -> Evidence:
    """Evidence for a show; each episode's match is chosen from `jellyfin` by match_episode."""
    if jellyfin:
        episodes = [
            replace(ev, jellyfin=match_episode(
                jellyfin, ev.episode.season, ev.episode.episode,
                ev.shoko.episode_ids if ev.shoko else ()))
            for ev in episodes
        ]
    return Evidence(
        request=seerr(media_type=MediaType.TV, seasons=seasons),
        is_anime=anime,
        shoko_enabled=shoko_enabled,
        series=series(monitored, "anime" if anime else "standard") if with_series else None,
        episodes=tuple(episodes),
        unknown=unknown,
    )
