"""The words people read about a request, for every place that shows one: `status` and `show`
at a terminal (`views`), the status page (`web`) and the notices (`notify`). Pure: no I/O, the
clock passed in.

One rule per thing, so the three cannot drift apart: the title (`display_title`, the same
everywhere), and where the places word a thing differently on purpose, each caller names its
`Voice`:

| thing                   | terminal          | page                  | notice             |
|-------------------------|-------------------|-----------------------|--------------------|
| title and year          | `Heat [1995]`     | (the template's span) | `Heat (1995)`      |
| kind                    | `movie`, `tv`     | `Film`, `Anime show`  | `film`, `series`   |
| percent                 | `42%`             | `42 %`                | -                  |
| episodes                | `3/4 episodes`    | `3 of 4 episodes`     | `3/4 episodes`     |

Times: the terminal's are compact and exact (`ago`: "5m ago"; `day`: "2026-11-01", UTC); the
page's (`PageTimes`) do not go stale on an open page, read in one zone (`[http] timezone`) and
carry the year outside the current one. Where the media server plays an item is
`reconciler.playback`.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from enum import Enum
from typing import Protocol

from reconciler.models import MediaType
from reconciler.states import RequestState
from reconciler.store.rows import RequestRow


class Voice(Enum):
    """Where the words are read."""

    TERMINAL = "terminal"  # `status`, `show`: compact, the stored names
    PAGE = "page"  # the household's status page
    NOTICE = "notice"  # a notification's sentence


# -- titles


class Titled(Protocol):
    """What a title is made of: a stored row, or the page's brief of one."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str | None: ...
    @property
    def tmdb_id(self) -> int | None: ...


def display_title(row: Titled) -> str:
    """The request's title as shown, or its id while none is known (a title look-up failed,
    e.g. during a TMDB outage): "TMDB 603", else "Request #12"."""
    if row.title:
        return row.title
    if row.tmdb_id is not None:
        return f"TMDB {row.tmdb_id}"
    return f"Request #{row.id}"


def with_year(row: RequestRow, voice: Voice) -> str:
    """The title and its year when known: "Heat [1995]" at a terminal, "Heat (1995)" in a
    notice (the page sets its year apart in its own markup)."""
    name = display_title(row)
    if not row.year:
        return name
    return f"{name} [{row.year}]" if voice is Voice.TERMINAL else f"{name} ({row.year})"


def kind(row: RequestRow, voice: Voice) -> str:
    """What it is: "movie"/"tv" at a terminal (the stored names), "Film", "Show", "Anime film",
    "Anime show" on the page, "film"/"series" in a notice."""
    show = row.media_type is MediaType.TV
    if voice is Voice.TERMINAL:
        return row.media_type.value
    if voice is Voice.NOTICE:
        return "series" if show else "film"
    return "Anime show" if row.is_anime and show else "Anime film" if row.is_anime \
        else "Show" if show else "Film"


# -- progress


def percent(fraction: float, voice: Voice) -> str:
    """A fraction done: "42%" at a terminal, "42 %" on the page."""
    return f"{fraction * 100:.0f}{'%' if voice is Voice.TERMINAL else ' %'}"


def episode_count(row: RequestRow, voice: Voice) -> str:
    """A show's playable and aired episodes: "3/4 episodes", on the page "3 of 4 episodes"."""
    ready, aired = row.episodes_available or 0, row.episodes_aired
    if voice is Voice.PAGE:
        return f"{ready} of {aired} episodes"
    return f"{ready}/{aired} episodes"


def progress_text(row: RequestRow) -> str:
    """The terminal's progress column: "3/4 episodes, 42%" for a show, "42%" for a film, ""
    when there is nothing to count."""
    if row.media_type is MediaType.TV and row.episodes_aired:
        text = episode_count(row, Voice.TERMINAL)
        if row.state is RequestState.DOWNLOADING and row.progress is not None:
            text += f", {percent(row.progress, Voice.TERMINAL)}"
        return text
    if row.progress is None:
        return ""
    return percent(row.progress, Voice.TERMINAL)


# -- times at a terminal: compact, UTC


def ago(when: datetime, now: datetime) -> str:
    """How long ago, compact: "5s ago", "5m ago", "3h ago", "2d ago"."""
    seconds = int((now - when).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def day(when: datetime) -> str:
    """The date as the terminal shows it: "2026-11-01" (the stored time's UTC date)."""
    return when.date().isoformat()


# -- times on the page: one zone, relative to now, never stale on an open page


class PageTimes:
    """How the page words a time: in one zone (`[http] timezone`, default the system's), and
    against `now`, so a date outside the current year carries its year ("7 Dec 2025").
    Times are instants (converted to the zone); days (a film's release, a `date`) are calendar
    days and stay as they are."""

    def __init__(self, zone: tzinfo, now: datetime) -> None:
        self.zone = zone
        self.now = now.astimezone(zone)

    @property
    def zone_name(self) -> str:
        """"Europe/Paris", "UTC": how the page names its zone where a time could be doubted."""
        key = getattr(self.zone, "key", None) or self.now.tzname() or "UTC"
        return "UTC" if key in ("Etc/UTC", "Etc/Universal", "UCT", "Zulu", "Etc/Zulu") else key

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.zone)

    def day(self, when: date | datetime) -> str:
        """"12 Dec", or "12 Dec 2027" outside the current year."""
        if isinstance(when, datetime):
            when = self.local(when).date()
        text = f"{when.day} {when.strftime('%b')}"
        return text if when.year == self.now.year else f"{text} {when.year}"

    def clock(self, when: datetime) -> str:
        """"14:05"."""
        return f"{self.local(when):%H:%M}"

    def date_time(self, when: datetime) -> str:
        """"12 Dec, 14:05" (with the year outside the current one)."""
        return f"{self.day(when)}, {self.clock(when)}"

    def moment(self, when: datetime) -> str:
        """A time past: "17:40" today, "yesterday, 17:40", else "3 Dec"."""
        day, today = self.local(when).date(), self.now.date()
        if day == today:
            return self.clock(when)
        if (today - day).days == 1:
            return f"yesterday, {self.clock(when)}"
        return self.day(day)

    def soon(self, when: datetime) -> str:
        """An expected time: "19:30" today, "tomorrow, 09:10", else "6 Dec, 09:10"."""
        day, today = self.local(when).date(), self.now.date()
        if day == today:
            return self.clock(when)
        if (day - today).days == 1:
            return f"tomorrow, {self.clock(when)}"
        return self.date_time(when)

    def full(self, when: date | datetime) -> str:
        """Unambiguous, for a time's tooltip: "Fri 4 Dec 2026, 19:25 UTC"; a day: "Fri 4 Dec
        2026"."""
        if not isinstance(when, datetime):
            return f"{when:%a} {when.day} {when:%b %Y}"
        local = self.local(when)
        return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} {self.zone_name}"
