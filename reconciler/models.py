"""Typed values shared by every layer: request states and what the services were seen to say.

Nothing here does I/O. Service modules build these from HTTP responses; the store persists them;
the core reads them to decide a request's state. Every time is a timezone-aware `datetime` in
UTC, parsed once by the service module that read it (None: not sent, or unreadable); every
film-or-show is a `MediaType`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any


class MediaType(StrEnum):
    """What a request is for; the strings are Jellyseerr's `type` and the stored contract."""

    MOVIE = "movie"
    TV = "tv"

    @property
    def arr(self) -> str:
        """The kind of service that downloads it: Radarr for films, Sonarr for shows."""
        return "radarr" if self is MediaType.MOVIE else "sonarr"


class SeerrStatus(IntEnum):
    """Jellyseerr request status codes."""

    PENDING = 1
    APPROVED = 2
    DECLINED = 3
    FAILED = 4
    COMPLETED = 5


class SeerrMediaStatus:
    """Jellyseerr media status codes (`media.status` / `status4k`): 6 since Jellyseerr 2.2
    (named BLACKLISTED before Seerr 3), 7 since 2.6."""

    UNKNOWN = 1
    PENDING = 2
    PROCESSING = 3
    PARTIALLY_AVAILABLE = 4
    AVAILABLE = 5
    BLOCKLISTED = 6
    DELETED = 7


# ---------------------------------------------------------------- Jellyseerr


@dataclass(frozen=True)
class SeerrRequest:
    """One Jellyseerr request, as listed by `/api/v1/request`."""

    id: int
    media_type: MediaType
    status: int
    tmdb_id: int | None
    tvdb_id: int | None
    is4k: bool = False
    seasons: tuple[int, ...] = ()
    external_service_id: int | None = None  # the Radarr/Sonarr id for this request's quality
    updated_at: datetime | None = None
    created_at: datetime | None = None
    # Who asked (`requestedBy`); Seerr sends `username` null for a Jellyfin user without one.
    requested_by_id: int | None = None
    requested_by_display_name: str | None = None
    requested_by_username: str | None = None
    requested_by_email: str | None = None
    requested_by_jellyfin_username: str | None = None
    # Where Seerr sends it: the *arr server (Seerr's id in its settings), profile, root folder.
    server_id: int | None = None
    profile_id: int | None = None
    root_folder: str | None = None
    # The request's media, both qualities (flat, so the stored observation round-trips).
    media_id: int | None = None
    media_status: int | None = None
    media_status_4k: int | None = None
    service_id: int | None = None
    service_id_4k: int | None = None
    external_service_id_hd: int | None = None
    external_service_id_4k: int | None = None
    jellyfin_media_id: str | None = None
    jellyfin_media_id_4k: str | None = None

    @property
    def quality_media_status(self) -> int | None:
        """The media status of the quality this request asked for (HD or 4K)."""
        return self.media_status_4k if self.is4k else self.media_status

    @property
    def blocklisted(self) -> bool:
        """Its media is blocklisted in Seerr: `filter=all` no longer lists it, by id it still
        answers."""
        return self.quality_media_status == SeerrMediaStatus.BLOCKLISTED


@dataclass(frozen=True)
class SeerrArrServer:
    """A Radarr or Sonarr server in Jellyseerr's settings (`GET /api/v1/settings/radarr|sonarr`);
    its API key is never read."""

    id: int
    name: str
    is4k: bool
    is_default: bool
    hostname: str
    port: int | None
    base_url: str = ""
    use_ssl: bool = False


# ---------------------------------------------------------------- Radarr / Sonarr


@dataclass(frozen=True)
class QueueRecord:
    """One *arr queue record (Sonarr: one per episode; a season pack shares `download_id`)."""

    download_id: str
    status: str  # queued|paused|downloading|completed|failed|warning|delay|...
    tracked_status: str  # ok|warning|error
    tracked_state: str  # downloading|importPending|importing|imported|failedPending|failed|...
    size: float
    sizeleft: float
    title: str = ""
    messages: tuple[str, ...] = ()
    movie_id: int | None = None
    series_id: int | None = None
    episode_id: int | None = None
    # When the download client expects it to finish (`estimatedCompletionTime`); absent while
    # nothing is downloading.
    estimated_completion: datetime | None = None

    @property
    def progress(self) -> float | None:
        if self.size <= 0:
            return None
        return min(1.0, max(0.0, 1.0 - self.sizeleft / self.size))


@dataclass(frozen=True)
class QueueDeparture:
    """A queue record seen in an earlier successful poll and missing since (one per download,
    and per episode in Sonarr). Radarr's and Sonarr's queue dialog removes a download from the
    client by default without writing any history record (QueueController.Remove), so its
    leaving the queue is the only trace of it; whether that was a removal is the core's to say
    (`core.downloads.removed_download`), from this and the history."""

    download_id: str
    title: str
    episode_id: int | None
    progress: float | None  # as last seen in the queue
    gone_at: datetime  # the poll that first missed it (reconciler's clock)
    # The history's latest grab when it went (the *arr's clock); a later grab is a new one.
    grabbed_at: datetime | None
    # Missing from a later successful poll too: confirmed, not a record read once amiss.
    confirmed: bool = False


@dataclass(frozen=True)
class HistoryFacts:
    """What the *arr history says about one film or episode (latest event of each kind)."""

    grabbed_at: datetime | None = None
    grabbed_title: str | None = None
    failed_at: datetime | None = None
    failed_message: str | None = None
    imported_at: datetime | None = None
    file_deleted_at: datetime | None = None
    # `downloadIgnored` (Radarr 9, Sonarr 7): "Ignore download" in the queue's remove dialog,
    # neither removed from the client nor blocklisted (QueueController.Remove ->
    # IgnoreDownload); `data.message` says why. The dialog's default (remove from the client,
    # no blocklist) writes no history at all: see `QueueDeparture`.
    ignored_at: datetime | None = None
    ignored_message: str | None = None
    # The newest history record folded in: a record seen again (polls overlap) changes nothing.
    last_event_id: int = 0

    def merge_event(self, event_type: str, date: datetime | None, title: str,
                    message: str) -> HistoryFacts:
        """Fold one history event in, keeping the latest of each kind (an event without a
        readable date changes nothing)."""
        kind = HISTORY_KINDS.get(event_type)
        if kind is None:
            return self
        current: datetime | None = getattr(self, f"{kind}_at")
        if date is None or (current is not None and current >= date):
            return self
        changes: dict[str, Any] = {f"{kind}_at": date}
        if kind == "grabbed":
            changes["grabbed_title"] = title or None
        if kind == "failed":
            changes["failed_message"] = message or title or None
        if kind == "ignored":
            changes["ignored_message"] = message or title or None
        return replace(self, **changes)


HISTORY_KINDS = {
    "grabbed": "grabbed",
    "downloadFailed": "failed",
    "downloadIgnored": "ignored",
    "downloadFolderImported": "imported",
    "movieFolderImported": "imported",
    "seriesFolderImported": "imported",
    "movieFileDeleted": "file_deleted",
    "episodeFileDeleted": "file_deleted",
}


@dataclass(frozen=True)
class HistoryEvent:
    """One *arr history record."""

    id: int
    event_type: str
    date: datetime | None  # None: sent, but not a readable time
    movie_id: int | None = None
    series_id: int | None = None
    episode_id: int | None = None
    source_title: str = ""
    message: str = ""


@dataclass(frozen=True)
class RadarrMovie:
    """A film in Radarr (`/api/v3/movie`)."""

    id: int
    tmdb_id: int
    title: str
    has_file: bool
    file_path: str | None = None
    path: str | None = None
    root_folder: str | None = None
    tags: tuple[int, ...] = ()
    monitored: bool = True
    year: int | None = None
    # tba | announced | inCinemas | released | deleted (None: not sent); the release dates;
    # `is_available` is Radarr's own verdict under the film's minimum availability (None: not
    # sent).
    status: str | None = None
    in_cinemas: datetime | None = None
    digital_release: datetime | None = None
    physical_release: datetime | None = None
    is_available: bool | None = None


@dataclass(frozen=True)
class SonarrSeries:
    """A series in Sonarr (`/api/v3/series`)."""

    id: int
    tvdb_id: int | None
    tmdb_id: int | None
    title: str
    series_type: str
    path: str | None = None
    monitored_seasons: tuple[int, ...] = ()
    year: int | None = None


@dataclass(frozen=True)
class SonarrEpisode:
    """An episode in Sonarr (`/api/v3/episode`)."""

    id: int
    series_id: int
    season: int
    episode: int
    air_date_utc: datetime | None
    has_file: bool
    monitored: bool = True
    file_id: int | None = None
    file_path: str | None = None


# ---------------------------------------------------------------- Shoko


@dataclass(frozen=True)
class ShokoFile:
    """A file Shoko knows, with its cross-references (empty while unmatched)."""

    id: int
    relative_path: str
    series_ids: tuple[int, ...] = ()
    episode_ids: tuple[int, ...] = ()
    anidb_series_ids: tuple[int, ...] = ()
    anidb_episode_ids: tuple[int, ...] = ()
    tmdb_movie_ids: tuple[int, ...] = ()
    tmdb_show_ids: tuple[int, ...] = ()
    imported: datetime | None = None
    # Linked to AniDB, but Shoko has not yet created its own series or episode for at least one
    # cross-reference (its `ID` is null while it fetches the AniDB metadata): the AniDB ids are
    # known, the Shoko ids are not (yet).
    pending_metadata: bool = False

    @property
    def matched(self) -> bool:
        return bool(self.series_ids)


# ---------------------------------------------------------------- Jellyfin


def normalise_provider_key(key: str) -> str:
    """ProviderId keys compared case-insensitively; `TheMovieDb` is the same id as `Tmdb`."""
    lowered = key.strip().lower()
    return "tmdb" if lowered == "themoviedb" else lowered


@dataclass(frozen=True)
class JellyfinItem:
    """One item of Jellyfin's library, as kept in the local index."""

    id: str
    type: str  # Movie | Series | Episode
    name: str
    location_type: str | None
    is_placeholder: bool = False
    path: str | None = None
    series_id: str | None = None
    season: int | None = None
    episode: int | None = None
    episode_end: int | None = None
    provider_ids: dict[str, str] = field(default_factory=dict)
    date_last_saved: datetime | None = None
    # The video width of each of its versions (`MediaSources`; 0: no video stream seen); empty
    # when not read (reconciler reads them only when a 4K server is configured).
    video_widths: tuple[int, ...] = ()

    @property
    def is_playable(self) -> bool:
        """A real file: not virtual, not a placeholder, and with a location on disk."""
        if self.type not in ("Movie", "Episode"):
            return False
        if self.is_placeholder:
            return False
        if self.location_type not in ("FileSystem", "Remote"):
            return False
        return bool(self.path) or self.location_type == "Remote"

    def provider_id(self, key: str) -> str | None:
        wanted = normalise_provider_key(key)
        for k, v in self.provider_ids.items():
            if normalise_provider_key(k) == wanted and v:
                return str(v)
        return None

    def covers_episode(self, season: int, episode: int) -> bool:
        if self.season != season or self.episode is None:
            return False
        last = self.episode_end if self.episode_end is not None else self.episode
        return self.episode <= episode <= last


@dataclass(frozen=True)
class Library:
    """A Jellyfin library (`/Library/VirtualFolders`)."""

    name: str
    item_id: str
    locations: tuple[str, ...]


@dataclass(frozen=True)
class MediaServer:
    """The media server that says what plays: its service name (`via`, the poll records) and
    how people call it (the details)."""

    service: str = "jellyfin"
    name: str = "Jellyfin"


JELLYFIN = MediaServer()


@dataclass(frozen=True)
class UnmatchableLibrary:
    """A media server's library whose items carry no external ids to match a request by: a
    Plex section still on one of Plex's legacy agents (`agent`, e.g.
    `com.plexapp.agents.imdb`)."""

    name: str
    agent: str
    locations: tuple[str, ...]
