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
page's do not go stale on an open page and read in the server's time zone (`moment`, `soon`,
`date_time`, `short_date`).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

from reconciler.models import MediaType
from reconciler.states import RequestState
from reconciler.store.rows import RequestRow


class Voice(Enum):
    """Where the words are read."""

    TERMINAL = "terminal"  # `status`, `show`: compact, the stored names
    PAGE = "page"  # the household's status page
    NOTICE = "notice"  # a notification's sentence


# -- titles


def display_title(row: RequestRow) -> str:
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


# -- times on the page: in the server's time zone, never stale on an open page


def short_date(when: date | datetime) -> str:
    """"12 Dec" (no leading zero, no year: the page is about the near future and past)."""
    return f"{when.day} {when.strftime('%b')}"


def date_time(when: datetime) -> str:
    """"12 Dec, 14:05"."""
    local = when.astimezone()
    return f"{short_date(local)}, {local:%H:%M}"


def moment(when: datetime, now: datetime) -> str:
    """A time past: "17:40" today, "yesterday, 17:40", else "3 Dec"."""
    local, today = when.astimezone(), now.astimezone().date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if (today - local.date()).days == 1:
        return f"yesterday, {local:%H:%M}"
    return short_date(local)


def soon(when: datetime, now: datetime) -> str:
    """An expected time: "19:30" today, "tomorrow, 09:10", else "6 Dec, 09:10"."""
    local, today = when.astimezone(), now.astimezone().date()
    if local.date() == today:
        return f"{local:%H:%M}"
    if (local.date() - today).days == 1:
        return f"tomorrow, {local:%H:%M}"
    return date_time(local)
