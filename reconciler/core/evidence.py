"""What the decision is given: what was seen about a request, and its state as last recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reconciler.core.matching import JellyfinMatch
from reconciler.models import (
    JELLYFIN,
    HistoryFacts,
    MediaServer,
    QueueDeparture,
    QueueRecord,
    RadarrMovie,
    SeerrRequest,
    ShokoFile,
    SonarrEpisode,
    SonarrSeries,
    UnmatchableLibrary,
)
from reconciler.states import Phase, RequestState


@dataclass(frozen=True)
class EpisodeEvidence:
    """Everything seen about one requested episode."""

    episode: SonarrEpisode
    history: HistoryFacts = field(default_factory=HistoryFacts)
    queue: tuple[QueueRecord, ...] = ()
    shoko: ShokoFile | None = None
    jellyfin: JellyfinMatch | None = None
    # its queue records seen in an earlier poll and gone since
    departed: tuple[QueueDeparture, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """Everything seen about one request, plus which services could not be reached."""

    request: SeerrRequest
    seerr_deleted: bool = False
    is_anime: bool = False
    shoko_enabled: bool = False
    # films
    movie: RadarrMovie | None = None
    movie_history: HistoryFacts = field(default_factory=HistoryFacts)
    queue: tuple[QueueRecord, ...] = ()
    departed: tuple[QueueDeparture, ...] = ()  # queue records seen before and gone since
    shoko: ShokoFile | None = None
    jellyfin: JellyfinMatch | None = None
    # shows
    series: SonarrSeries | None = None
    episodes: tuple[EpisodeEvidence, ...] = ()
    # services that failed this cycle (Radarr and Sonarr servers by their configured names)
    unknown: frozenset[str] = frozenset()
    # The configured server tracking it (None: the kind's only one, or none); `unrouted`: why
    # none does (the request went to a server reconciler is not configured for).
    server: str | None = None
    unrouted: str | None = None
    # Films: the files the 4K Radarr servers imported for it (which Jellyfin item is that copy
    # while Jellyfin knows no video width).
    files_4k: tuple[str, ...] = ()
    # The media server that says what plays ("jellyfin", "emby", "plex"), and the library of
    # its that holds the request's files when that library's items cannot be matched.
    media_server: MediaServer = JELLYFIN
    unmatchable: UnmatchableLibrary | None = None

    @property
    def arr(self) -> str:
        return self.request.media_type.arr

    def depends_on(self) -> frozenset[str]:
        needed = {"jellyseerr", self.server or self.arr, self.media_server.service}
        if self.is_anime and self.shoko_enabled:
            needed.add("shoko")
        return frozenset(needed)


@dataclass(frozen=True)
class Current:
    """The request's state as last recorded."""

    state: RequestState
    since: datetime
    detail: str = ""
    phase: Phase | None = None
    phase_since: datetime | None = None
