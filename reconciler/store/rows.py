"""The rows the store reads and writes: plain values, no SQL.

Timestamps are stored as ISO 8601 UTC strings in whole seconds with a `Z` (`reconciler.times`)
and are `datetime`s everywhere else: each row converts them here (`from_db` / `to_db`), once.
Columns that once held a service's own text (Jellyseerr's `createdAt`, Sonarr's `airDateUtc`,
Jellyseerr's watermark, with milliseconds) are read leniently (`parse_time`), so a database
written before they were converted reads the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.models import JellyfinItem, MediaType
from reconciler.states import RequestState
from reconciler.times import from_iso, iso, parse_time, utcnow


def dump_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class RequestRow:
    """A tracked request as stored."""

    id: int
    media_type: MediaType
    title: str | None
    tmdb_id: int | None
    tvdb_id: int | None
    is4k: bool
    is_anime: bool
    seerr_status: int | None
    seasons: list[int]
    radarr_movie_id: int | None
    sonarr_series_id: int | None
    jellyfin_item_id: str | None
    jellyfin_key: str | None
    shoko_ids: dict[str, list[int]]
    state: RequestState
    state_since: datetime
    via: str | None
    detail: str | None
    progress: float | None
    phase: str | None
    phase_since: datetime | None
    progress_since: datetime | None
    stuck_reason: str | None
    stuck_since: datetime | None
    episodes_available: int | None
    episodes_aired: int | None
    absent_count: int
    created_at: datetime | None
    updated_at: datetime | None
    # Who asked (Jellyseerr's display name and user id), and the names a `[notify.users]` key
    # may use for them (username, Jellyfin username, display name, e-mail; lower-case). The
    # e-mail address is for matching only: never shown.
    requested_by: str | None = None
    requested_by_id: int | None = None
    requester_keys: list[str] = field(default_factory=list)
    year: int | None = None
    # The earliest expected end of the request's active downloads (the *arr queue).
    eta: datetime | None = None
    # When it can first be had: a film's home release (digital or physical), a show's earliest
    # requested episode not yet playable (aired or to air). Past dates stay: see core.
    release_date: datetime | None = None
    # The configured name of the Radarr/Sonarr server tracking it (None while none does).
    server: str | None = None
    # When Jellyfin was last asked to scan for it (one nudge per wait: see cycle.nudge).
    nudged_at: datetime | None = None

    @classmethod
    def from_db(cls, row: dict[str, Any]) -> RequestRow:
        return cls(
            id=row["id"],
            media_type=MediaType(row["media_type"]),
            title=row["title"],
            tmdb_id=row["tmdb_id"],
            tvdb_id=row["tvdb_id"],
            is4k=bool(row["is4k"]),
            is_anime=bool(row["is_anime"]),
            seerr_status=row["seerr_status"],
            seasons=json.loads(row["seasons"] or "[]"),
            radarr_movie_id=row["radarr_movie_id"],
            sonarr_series_id=row["sonarr_series_id"],
            jellyfin_item_id=row["jellyfin_item_id"],
            jellyfin_key=row["jellyfin_key"],
            shoko_ids=json.loads(row["shoko_ids"] or "{}"),
            state=RequestState(row["state"]),
            state_since=from_iso(row["state_since"]) or utcnow(),
            via=row["via"],
            detail=row["detail"],
            progress=row["progress"],
            phase=row["phase"],
            phase_since=from_iso(row["phase_since"]),
            progress_since=from_iso(row["progress_since"]),
            stuck_reason=row["stuck_reason"],
            stuck_since=from_iso(row.get("stuck_since")),
            episodes_available=row["episodes_available"],
            episodes_aired=row["episodes_aired"],
            absent_count=row["absent_count"] or 0,
            created_at=parse_time(row["created_at"]),
            updated_at=parse_time(row["updated_at"]),
            requested_by=row.get("requested_by"),
            requested_by_id=row.get("requested_by_id"),
            requester_keys=json.loads(row.get("requester_keys") or "[]"),
            year=row.get("year"),
            eta=from_iso(row.get("eta")),
            release_date=from_iso(row.get("release_date")),
            server=row.get("server"),
            nudged_at=from_iso(row.get("nudged_at")),
        )

    def to_db(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "media_type": self.media_type.value,
            "title": self.title,
            "tmdb_id": self.tmdb_id,
            "tvdb_id": self.tvdb_id,
            "is4k": int(self.is4k),
            "is_anime": int(self.is_anime),
            "seerr_status": self.seerr_status,
            "seasons": dump_json(self.seasons),
            "radarr_movie_id": self.radarr_movie_id,
            "sonarr_series_id": self.sonarr_series_id,
            "jellyfin_item_id": self.jellyfin_item_id,
            "jellyfin_key": self.jellyfin_key,
            "shoko_ids": dump_json(self.shoko_ids),
            "state": self.state.value,
            "state_since": iso(self.state_since),
            "via": self.via,
            "detail": self.detail,
            "progress": self.progress,
            "phase": self.phase,
            "phase_since": iso(self.phase_since),
            "progress_since": iso(self.progress_since),
            "stuck_reason": self.stuck_reason,
            "stuck_since": iso(self.stuck_since),
            "episodes_available": self.episodes_available,
            "episodes_aired": self.episodes_aired,
            "absent_count": self.absent_count,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "requested_by": self.requested_by,
            "requested_by_id": self.requested_by_id,
            "requester_keys": dump_json(self.requester_keys),
            "year": self.year,
            "eta": iso(self.eta),
            "release_date": iso(self.release_date),
            "server": self.server,
            "nudged_at": iso(self.nudged_at),
        }


@dataclass(frozen=True)
class RequestBrief:
    """What the status page needs of every request to group, count, search and order them
    (`PageReads.briefs`): a few columns, not the whole row."""

    id: int
    media_type: MediaType
    title: str | None
    tmdb_id: int | None
    state: RequestState
    stuck: bool
    episodes_available: int | None
    episodes_aired: int | None
    created_at: datetime | None
    requested_by: str | None
    jellyfin_item_id: str | None

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> RequestBrief:
        """From `PageReads.BRIEF_COLUMNS`, in their order."""
        return cls(row[0], MediaType(row[1]), row[2], row[3], RequestState(row[4]),
                   bool(row[5]), row[6], row[7], parse_time(row[8]), row[9], row[10])


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a request's history: a change of state, or news within one."""

    at: datetime | None
    from_state: str | None
    to_state: str
    via: str
    detail: str

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> TimelineEntry:
        """From (at, from_state, to_state, via, detail)."""
        return cls(from_iso(row[0]), row[1], row[2], row[3], row[4])


@dataclass(frozen=True)
class EpisodeRow:
    season: int
    episode: int
    sonarr_episode_id: int | None
    air_date: datetime | None
    state: str
    via: str | None
    jellyfin_item_id: str | None
    # While its download runs: how far it is (0..1) and when it should be done.
    progress: float | None = None
    eta: datetime | None = None

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> EpisodeRow:
        """From (season, episode, sonarr_episode_id, air_date, state, via, jellyfin_item_id,
        progress, eta)."""
        return cls(row[0], row[1], row[2], parse_time(row[3]), row[4], row[5], row[6],
                   row[7], from_iso(row[8]))

    def to_db(self) -> tuple[Any, ...]:
        """The columns in `from_db`'s order."""
        return (self.season, self.episode, self.sonarr_episode_id, iso(self.air_date),
                self.state, self.via, self.jellyfin_item_id, self.progress, iso(self.eta))


@dataclass(frozen=True)
class PollRow:
    service: str
    started: datetime | None
    finished: datetime | None
    ok: bool
    error: str | None
    http_calls: int
    http_bytes: int
    watermark: datetime | None
    full: bool

    @classmethod
    def from_db(cls, row: Sequence[Any]) -> PollRow:
        """From (service, started, finished, ok, error, http_calls, http_bytes, watermark,
        full)."""
        return cls(row[0], from_iso(row[1]), from_iso(row[2]), bool(row[3]), row[4],
                   row[5] or 0, row[6] or 0, parse_time(row[7]), bool(row[8]))


def item_digest(item: JellyfinItem, provider_json: str) -> str:
    """What the index keeps of an item, hashed: equal digests mean nothing to write."""
    fields: tuple[object, ...] = (
        item.type, item.name, item.location_type, item.is_placeholder, item.path,
        item.series_id, item.season, item.episode, item.episode_end)
    if item.video_widths:  # only when read (a 4K server is configured): digests stay as they were
        fields += (widths_text(item.video_widths),)
    payload = "\x1f".join(map(str, fields)) + "\x1f" + provider_json
    return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def item_from_row(row: dict[str, Any]) -> JellyfinItem:
    return JellyfinItem(
        id=row["id"],
        type=row["type"],
        name=row["name"] or "",
        location_type=row["location_type"],
        is_placeholder=bool(row["is_placeholder"]),
        path=row["path"],
        series_id=row["series_id"],
        season=row["season"],
        episode=row["episode"],
        episode_end=row["episode_end"],
        provider_ids=json.loads(row["provider_ids"] or "{}"),
        date_last_saved=from_iso(row["date_last_saved"]),
        video_widths=tuple(int(w) for w in (row.get("video_widths") or "").split(",") if w),
    )


@dataclass(frozen=True)
class NoticeRow:
    """A queued notification: `key` names the occurrence and ends in "@TARGET"; `message` is
    its title, a newline, and its body; `next_attempt`: after a failed send, not before then."""

    request_id: int
    event: str
    key: str
    message: str
    attempts: int
    next_attempt: datetime | None = None


@dataclass(frozen=True)
class PruneCounts:
    """What one `Retention.prune` call deleted, and the pages it gave back to the file system."""

    polls: int
    notifications: int
    pages_freed: int


def widths_text(widths: tuple[int, ...]) -> str | None:
    """The index's form of an item's video widths ("3840,1920"; None when unknown)."""
    return ",".join(str(w) for w in widths) or None
