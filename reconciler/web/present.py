"""What the status page says about a request, in the household's words: pure, no I/O.

`present(row, now, ...)` turns a stored `RequestRow` into a `RequestView` the templates read.
The requester, year, ETA and release date are shown only when the row has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from reconciler.models import MediaType
from reconciler.states import STATES, Phase, RequestState, Tone
from reconciler.store import RequestRow
from reconciler.store.rows import display_title

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

    def matches(self, query: str) -> bool:
        """Case-insensitive search in the title and the requester."""
        needle = query.casefold().strip()
        if not needle:
            return True
        return needle in self.title.casefold() or needle in (self.requested_by or "").casefold()


def short_date(day: date | datetime) -> str:
    """"12 Dec" (no leading zero, no year: the page is about the near future and past)."""
    return f"{day.day} {day.strftime('%b')}"


def state_label(row: RequestRow, now: datetime, release_date: date | None = None) -> str:
    """The human label: "Downloading 42 %", "Waiting for Jellyfin", "Not released yet: ..."."""
    state = row.state
    if state is S.DOWNLOADING and row.progress is not None:
        return f"Downloading {row.progress * 100:.0f} %"
    if state in (S.IMPORTING, S.ANIME_MATCHING) and row.phase == Phase.WAITING_FOR_JELLYFIN:
        return "Waiting for Jellyfin"
    if state in (S.REQUESTED, S.APPROVED) and release_date is not None \
            and release_date > now.date():
        if row.media_type is MediaType.TV:
            return f"Not aired yet: next episode {short_date(release_date)}"
        return f"Not released yet: expected {short_date(release_date)}"
    if state is S.PARTIALLY_AVAILABLE and row.episodes_aired:
        return f"{row.episodes_available or 0} of {row.episodes_aired} episodes ready"
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
        parts.append(f"{row.episodes_available or 0} of {row.episodes_aired} episodes")
    if next_air is not None:
        parts.append(f"next on {short_date(next_air)}")
    return ", ".join(parts)


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def present(row: RequestRow, now: datetime, next_air: datetime | None = None, *,
            show_server: bool = False) -> RequestView:
    """The page's view of `row` at `now`; `next_air` is the next episode's air date (shows);
    `show_server`: name the server tracking it (several servers of a kind are configured)."""
    requested_by = row.requested_by or None
    year = row.year or None
    release_date = _day(row.release_date)
    next_day = _day(next_air)
    percent = journey_percent(row)
    label = state_label(row, now, release_date)
    kind = ("Anime " if row.is_anime else "") + (
        "show" if row.media_type is MediaType.TV else "film")
    return RequestView(
        id=row.id,
        title=display_title(row),
        year=year,
        media_type=row.media_type,
        kind=kind[0].upper() + kind[1:],
        state=row.state.value,
        state_name=STATE_NAMES[row.state],
        label=label,
        tone=Tone.PROBLEM if row.stuck_reason else TONES[row.state],
        since=row.state_since,
        since_text=moment(row.state_since, now),
        percent=percent,
        progress_text=label if percent is None else f"{label} ({percent} % of the way)",
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


def moment(when: datetime, now: datetime) -> str:
    """A time that does not go stale on an open page: "17:40" today, "yesterday, 17:40",
    else "3 Dec" (in the server's time zone)."""
    local, today = when.astimezone(), now.astimezone().date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if (today - local.date()).days == 1:
        return f"yesterday, {local:%H:%M}"
    return short_date(local)


def relative(when: datetime, now: datetime) -> str:
    """"just now", "5 min ago", "3 h ago", "2 days ago"."""
    seconds = int((now - when).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return "yesterday" if days == 1 else f"{days} days ago"


def soon(when: datetime, now: datetime) -> str:
    """An expected time: "19:30" today, "tomorrow, 09:10", else "6 Dec, 09:10" (the server's
    time zone)."""
    local, today = when.astimezone(), now.astimezone().date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if (local.date() - today).days == 1:
        return f"tomorrow, {local:%H:%M}"
    return f"{short_date(local)}, {local:%H:%M}"


def until(when: datetime, now: datetime) -> str:
    """"in 12 min", "in 3 h", "14 Mar" for an ETA."""
    seconds = int((when - now).total_seconds())
    if seconds <= 60:
        return "any minute now"
    if seconds < 3600:
        return f"in about {seconds // 60} min"
    if seconds < 86400:
        return f"in about {seconds // 3600} h"
    return f"around {short_date(when)}"
