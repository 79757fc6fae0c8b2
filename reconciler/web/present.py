"""What the status page says about a request, in the household's words: pure, no I/O.

`present(row, now, ...)` turns a stored `RequestRow` into a `RequestView` the templates read,
and `select` / `newest_first` filter and order them. The requester, year, ETA and release date
are shown only when the row has them. The words shared with the CLI and the notices (titles,
kinds, counts, times) come from `reconciler.words`, in the page's voice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from reconciler.core.tracking import BLOCKLISTED_NOTE
from reconciler.models import MediaType
from reconciler.states import STATES, Phase, RequestState, Tone
from reconciler.store import RequestRow
from reconciler.words import Voice, display_title, episode_count, kind, moment, percent, short_date

S = RequestState

# The state table's words, by state (`reconciler.states`): the steady label (a few depend on the
# row: see `state_label`), the short name (the state filter, the timeline's from/to columns), the
# journey bar's step (states on the journey) and the badge's tone.
LABELS: dict[RequestState, str] = {s: row.label for s, row in STATES.items()}
STATE_NAMES: dict[RequestState, str] = {s: row.name for s, row in STATES.items()}
JOURNEY: dict[RequestState, int] = {s: row.journey for s, row in STATES.items()
                                    if row.journey is not None}
TONES: dict[RequestState, str] = {s: row.tone for s, row in STATES.items()}

_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/@]+@", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"\b((?:api_?key|apikey|token|access_token|password)=)[^\s&]+",
                           re.IGNORECASE)


def redact(text: str | None) -> str:
    """Text from upstream (details, reasons) without credentials in URLs or query strings."""
    if not text:
        return ""
    return _SECRET_PARAM.sub(r"\1***", _CREDENTIALS.sub(r"\1***@", text))


@dataclass(frozen=True)
class RequestView:
    """One request as the page shows it."""

    id: int
    title: str
    year: int | None
    media_type: MediaType
    kind: str  # "Film", "Show", "Anime film", "Anime show"
    state: str
    state_name: str
    label: str
    tone: str
    since: datetime
    since_text: str  # "17:40", "yesterday, 17:40", "3 Dec" (the server's time zone)
    percent: int | None  # the journey bar, 0-100; None for failed/declined/deleted
    progress_text: str  # the bar's accessible value text
    detail: str
    stuck: bool
    stuck_reason: str
    stuck_since: datetime | None
    requested_by: str | None
    eta: datetime | None
    release_date: date | None
    episodes_available: int | None
    episodes_aired: int | None
    next_air_date: date | None
    episodes_text: str  # "7 of 10 episodes, next on 12 Dec" (shows), else ""
    is4k: bool
    created_at: datetime | None
    # The Radarr/Sonarr server tracking it, shown only when several of a kind are configured.
    server: str | None = None
    # Its media is on Jellyseerr's blocklist (the decision's note in the detail).
    blocklisted: bool = False

    def matches(self, query: str) -> bool:
        """Case-insensitive search in the title and the requester."""
        needle = query.casefold().strip()
        if not needle:
            return True
        return needle in self.title.casefold() or needle in (self.requested_by or "").casefold()


def state_label(row: RequestRow, now: datetime, release_date: date | None = None,
                server: str = "Jellyfin") -> str:
    """The human label: "Downloading 42 %", "Waiting for Jellyfin" (`server`: the media
    server's name), "Not released yet: ..."."""
    state = row.state
    if state is S.DOWNLOADING and row.progress is not None:
        return f"Downloading {percent(row.progress, Voice.PAGE)}"
    if state in (S.IMPORTING, S.ANIME_MATCHING) and row.phase == Phase.WAITING_FOR_JELLYFIN:
        return f"Waiting for {server}"
    if state in (S.REQUESTED, S.APPROVED) and release_date is not None \
            and release_date > now.date():
        if row.media_type is MediaType.TV:
            return f"Not aired yet: next episode {short_date(release_date)}"
        return f"Not released yet: expected {short_date(release_date)}"
    if state is S.PARTIALLY_AVAILABLE and row.episodes_aired:
        return f"{episode_count(row, Voice.PAGE)} ready"
    return LABELS[state]


def journey_percent(row: RequestRow) -> int | None:
    """Where the request is on the way to "ready to watch", for the progress bar."""
    state = row.state
    if state not in JOURNEY:
        return None
    if state is S.DOWNLOADING:
        return 25 + round(50 * min(max(row.progress or 0.0, 0.0), 1.0))
    if state is S.PARTIALLY_AVAILABLE:
        if not row.episodes_aired:
            return 50
        return min(99, round(100 * (row.episodes_available or 0) / row.episodes_aired))
    return JOURNEY[state]


def episodes_text(row: RequestRow, next_air: date | None) -> str:
    if row.media_type is not MediaType.TV:
        return ""
    parts = []
    if row.episodes_aired:
        parts.append(episode_count(row, Voice.PAGE))
    if next_air is not None:
        parts.append(f"next on {short_date(next_air)}")
    return ", ".join(parts)


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def present(row: RequestRow, now: datetime, next_air: datetime | None = None, *,
            show_server: bool = False, media_server: str = "Jellyfin") -> RequestView:
    """The page's view of `row` at `now`; `next_air` is the next episode's air date (shows);
    `show_server`: name the server tracking it (several servers of a kind are configured);
    `media_server`: the name of the media server a request waits for."""
    requested_by = row.requested_by or None
    year = row.year or None
    release_date = _day(row.release_date)
    next_day = _day(next_air)
    journey = journey_percent(row)
    label = state_label(row, now, release_date, media_server)
    return RequestView(
        id=row.id,
        title=display_title(row),
        year=year,
        media_type=row.media_type,
        kind=kind(row, Voice.PAGE),
        state=row.state.value,
        state_name=STATE_NAMES[row.state],
        label=label,
        tone=Tone.PROBLEM if row.stuck_reason else TONES[row.state],
        since=row.state_since,
        since_text=moment(row.state_since, now),
        percent=journey,
        progress_text=label if journey is None else f"{label} ({journey} % of the way)",
        detail=redact(row.detail),
        stuck=row.stuck_reason is not None,
        stuck_reason=redact(row.stuck_reason),
        stuck_since=row.stuck_since,
        requested_by=requested_by,
        eta=row.eta if row.state is S.DOWNLOADING or row.state is S.INDEXED else None,
        release_date=release_date,
        episodes_available=row.episodes_available,
        episodes_aired=row.episodes_aired,
        next_air_date=next_day,
        episodes_text=episodes_text(row, next_day),
        is4k=row.is4k,
        created_at=row.created_at,
        server=row.server if show_server else None,
        blocklisted=BLOCKLISTED_NOTE in (row.detail or ""),
    )


def newest_first(views: Iterable[RequestView]) -> list[RequestView]:
    """Newest request first: by Jellyseerr's creation time, then by id."""
    return sorted(views, key=lambda v: (v.created_at.timestamp() if v.created_at else 0.0,
                                        v.id), reverse=True)


def select(views: Iterable[RequestView], *, state: str = "", user: str = "",
           query: str = "") -> list[RequestView]:
    """The page's filters: `state` (a state string, or "stuck"), requester, search text."""
    out = []
    for view in views:
        if state == "stuck" and not view.stuck:
            continue
        if state and state != "stuck" and view.state != state:
            continue
        if user and (view.requested_by or "").casefold() != user.casefold():
            continue
        if not view.matches(query):
            continue
        out.append(view)
    return out
