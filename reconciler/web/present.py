"""What the status page says about a request, in the household's words: pure, no I/O.

`present(row, now, ...)` turns a stored `RequestRow` (and a show's episode rows) into a
`RequestView` the templates read. The rules that keep the page from misleading live here:

- one percentage per meaning: the badge says how far the *download* is ("Downloading 42 %"),
  the bar how far the *whole way* to "ready to watch" is, and says so ("46 % of the way"); a
  show's bar is the mean of its aired episodes' steps, each episode with its own download's
  progress, so a second download starting never moves it back;
- a show names what is on the way and when ("S02E04 downloading 25 %, ready about 13:40") and
  when its next episodes air; a failed request says why and what happens next; a stuck one
  shows no ETA;
- every time is in one zone and carries its year outside the current one (`PageTimes`).

The words shared with the CLI and the notices (titles, kinds, counts, times) come from
`reconciler.words`, in the page's voice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from reconciler.core.tracking import BLOCKLISTED_NOTE
from reconciler.models import MediaType
from reconciler.registry import short_name
from reconciler.states import STATES, Phase, RequestState, Tone
from reconciler.store import EpisodeRow, RequestRow
from reconciler.times import zone
from reconciler.web.listing import Group, group_of
from reconciler.words import PageTimes, Voice, display_title, episode_count, kind, percent

S = RequestState

# The state table's words, by state (`reconciler.states`): the steady label (a few depend on the
# row: see `state_label`), the short name (the state filter, the timeline's status column), the
# journey bar's step (states on the journey) and the badge's tone.
LABELS: dict[RequestState, str] = {s: row.label for s, row in STATES.items()}
STATE_NAMES: dict[RequestState, str] = {s: row.name for s, row in STATES.items()}
JOURNEY: dict[RequestState, int] = {s: row.journey for s, row in STATES.items()
                                    if row.journey is not None}
TONES: dict[RequestState, str] = {s: row.tone for s, row in STATES.items()}
# Where an episode stands on the journey: a failed one is back to being looked for.
_EPISODE_STEP: dict[RequestState, int] = {**JOURNEY, S.FAILED: JOURNEY[S.APPROVED]}
# A card names at most this many episode lines (the request page lists every episode).
NEWS_LINES = 3

_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/@]+@", re.IGNORECASE)
_SECRET_PARAM = re.compile(r"\b((?:api_?key|apikey|token|access_token|password)=)[^\s&]+",
                           re.IGNORECASE)


def redact(text: str | None) -> str:
    """Text from upstream (details, reasons) without credentials in URLs or query strings."""
    if not text:
        return ""
    return _SECRET_PARAM.sub(r"\1***", _CREDENTIALS.sub(r"\1***@", text))


@dataclass(frozen=True)
class Failure:
    """Why a request failed, and what happens next, in words."""

    why: str
    next: str


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
    since_text: str  # "17:40", "yesterday, 17:40", "3 Dec" (the page's zone)
    percent: int | None  # the journey bar, 0-100; None for failed/declined/deleted
    progress_text: str  # the bar's accessible value text
    detail: str
    stuck: bool
    stuck_reason: str
    stuck_since: datetime | None
    requested_by: str | None
    eta: datetime | None  # None while stuck: no promise then
    release_date: date | None
    episodes_available: int | None
    episodes_aired: int | None
    next_air_date: date | None
    episodes_text: str  # "7 of 10 episodes, next on 12 Dec" (shows), else ""
    is4k: bool
    created_at: datetime | None
    # The Radarr/Sonarr server tracking it, shown only when several of a kind are configured.
    server: str | None = None
    group: Group = Group.ON_THE_WAY
    journey_text: str = ""  # "46 % of the way" beside the bar, "" when nothing to say
    news: tuple[str, ...] = ()  # a show's episodes on the way and to air, in words
    failure: Failure | None = None
    poster: str | None = None  # the page's own /artwork/... address, None: the placeholder
    play: str | None = None  # where the media server plays it ([jellyfin] public_url)
    initial: str = "?"  # the placeholder's letter
    episodes: tuple[EpisodeRow, ...] = field(default=(), repr=False)
    # Its media is on Jellyseerr's blocklist (the decision's note in the detail).
    blocklisted: bool = False

    @property
    def attention(self) -> bool:
        return self.group is Group.ATTENTION


def state_label(row: RequestRow, now: datetime | PageTimes,
                release_date: date | None = None, server: str = "Jellyfin") -> str:
    """The badge: "Downloading 42 %", "Waiting for Jellyfin" (`server`: the media server's
    name), "Not released yet: ..."."""
    times = now if isinstance(now, PageTimes) else PageTimes(zone(), now)
    state = row.state
    if state is S.DOWNLOADING and row.media_type is MediaType.TV and row.episodes_aired:
        return "Downloading"  # the episodes' own progress is in the lines below
    if state is S.DOWNLOADING and row.progress is not None:
        return f"Downloading {percent(row.progress, Voice.PAGE)}"
    if state in (S.IMPORTING, S.ANIME_MATCHING) and row.phase == Phase.WAITING_FOR_JELLYFIN:
        return f"Waiting for {server}"
    if state in (S.REQUESTED, S.APPROVED) and release_date is not None \
            and release_date > times.now.date():
        if row.media_type is MediaType.TV:
            return f"Not aired yet: next episode {times.day(release_date)}"
        return f"Not released yet: expected {times.day(release_date)}"
    if state is S.PARTIALLY_AVAILABLE and row.episodes_aired:
        return f"{episode_count(row, Voice.PAGE)} ready"
    return LABELS[state]


def _aired(ep: EpisodeRow, now: datetime) -> bool:
    return ep.state == S.AVAILABLE or (ep.air_date is not None and ep.air_date <= now)


def _episode_state(ep: EpisodeRow) -> RequestState:
    try:
        return RequestState(ep.state)
    except ValueError:
        return S.APPROVED


def journey_percent(row: RequestRow, episodes: Sequence[EpisodeRow] = (),
                    now: datetime | None = None) -> int | None:
    """Where the request is on the way to "ready to watch", for the bar: a film's state (and
    its download's progress); a show's aired episodes' mean, so that a download starting for
    some episodes moves it forward and never back."""
    state = row.state
    if state not in JOURNEY:
        return None
    if state is S.AVAILABLE:
        return 100
    counted = [e for e in episodes if now is None or _aired(e, now)]
    if row.media_type is MediaType.TV and counted:
        steps = []
        for ep in counted:
            ep_state = _episode_state(ep)
            step = float(_EPISODE_STEP.get(ep_state, JOURNEY[S.APPROVED]))
            if ep_state is S.DOWNLOADING:
                step += 50 * min(max(ep.progress or 0.0, 0.0), 1.0)
            steps.append(step)
        return min(99, round(sum(steps) / len(steps)))
    if state is S.DOWNLOADING:
        return 25 + round(50 * min(max(row.progress or 0.0, 0.0), 1.0))
    if state is S.PARTIALLY_AVAILABLE:
        if not row.episodes_aired:
            return 50
        return min(99, round(100 * (row.episodes_available or 0) / row.episodes_aired))
    return JOURNEY[state]


def episodes_text(row: RequestRow, next_air: date | None,
                  times: PageTimes | None = None) -> str:
    """"7 of 10 episodes, next on 12 Dec" (shows), else ""."""
    if row.media_type is not MediaType.TV:
        return ""
    parts = []
    if row.episodes_aired:
        parts.append(episode_count(row, Voice.PAGE))
    if next_air is not None:
        day = times.day(next_air) if times else f"{next_air.day} {next_air:%b}"
        parts.append(f"next on {day}")
    return ", ".join(parts)


def _code(ep: EpisodeRow) -> str:
    return f"S{ep.season:02d}E{ep.episode:02d}"


def _codes(run: Sequence[EpisodeRow]) -> str:
    """"S02E04", or a run of one season's episodes "S01E01" to "E08" joined by a dash."""
    first, last = run[0], run[-1]
    if len(run) == 1:
        return _code(first)
    if first.season == last.season:
        return f"{_code(first)}–E{last.episode:02d}"
    return f"{_code(first)}–{_code(last)}"


def episode_words(ep: EpisodeRow, times: PageTimes, stuck: bool) -> str:
    """Where one episode (or a run of episodes in the same download) is, after its code."""
    state = _episode_state(ep)
    if state is S.DOWNLOADING:
        pct = f" {percent(ep.progress, Voice.PAGE)}" if ep.progress is not None else ""
        eta = f", ready about {times.soon(ep.eta)}" if ep.eta and not stuck else ""
        return f"downloading{pct}{eta}"
    if state is S.APPROVED and ep.air_date is not None and ep.air_date > times.now:
        return f"airs {times.date_time(ep.air_date)}"
    if state is S.APPROVED and ep.air_date is None:
        return "not aired yet; no date announced"
    return {
        S.INDEXED: "release found, download starting",
        S.DOWNLOAD_DONE: "downloaded, waiting to be imported",
        S.IMPORTING: "being added to the library",
        S.ANIME_MATCHING: "being identified by Shoko",
        S.FAILED: "download failed",
        S.AVAILABLE: "ready to watch",
    }.get(state, "being looked for")


def episode_news(episodes: Sequence[EpisodeRow], times: PageTimes, stuck: bool,
                 limit: int = NEWS_LINES) -> tuple[str, ...]:
    """A show's episodes that are not ready yet, in words, the ones under way first, then the
    next to air: "S02E04 downloading 25 %, ready about 13:40", "S02E05 airs 14 Dec, 02:00".
    Consecutive episodes saying the same (one season pack) share a line."""
    waiting = [e for e in episodes if e.state != S.AVAILABLE]
    runs: list[list[EpisodeRow]] = []
    for ep in waiting:
        words = episode_words(ep, times, stuck)
        last = runs[-1][-1] if runs else None
        if last is not None and last.season == ep.season and last.episode + 1 == ep.episode \
                and episode_words(last, times, stuck) == words and not words.startswith("airs"):
            runs[-1].append(ep)
        else:
            runs.append([ep])

    def rank(run: list[EpisodeRow]) -> int:
        state = _episode_state(run[0])
        to_air = run[0].air_date is not None and run[0].air_date > times.now
        return 2 if to_air else 0 if state is not S.APPROVED else 1

    ordered = sorted(runs, key=rank)
    lines = [f"{_codes(run)} {episode_words(run[0], times, stuck)}" for run in ordered]
    if len(lines) > limit:
        more = sum(len(run) for run in ordered[limit:])
        lines = [*lines[:limit], f"and {more} more episode{'s' if more != 1 else ''}"]
    return tuple(lines)


def episode_status(ep: EpisodeRow, times: PageTimes, stuck: bool) -> str:
    """The episode table's words: as `episode_words`, a capital first; "Not aired yet" for one
    to air (its date is in the next column)."""
    if _episode_state(ep) is S.APPROVED and ep.air_date is not None and ep.air_date > times.now:
        return "Not aired yet"
    words = episode_words(ep, times, stuck)
    return words[:1].upper() + words[1:]


def failure(row: RequestRow) -> Failure | None:
    """A failed request: why, in words, and what happens next."""
    if row.state is not S.FAILED:
        return None
    arr = short_name(row.via) if row.via in ("radarr", "sonarr") else (
        "Sonarr" if row.media_type is MediaType.TV else "Radarr")
    detail = redact(row.detail)
    ask = "Nothing else is being searched: ask again in Jellyseerr."
    if detail.startswith("the download was removed"):
        why = detail.replace(" and nothing new was grabbed", "")
        return Failure(f"{why[0].upper()}{why[1:]}.", ask)
    if "was removed from the download client" in detail:
        why, _, next_step = detail.partition("; ")
        return Failure(f"{why[0].upper()}{why[1:]}.",
                       f"{next_step[0].upper()}{next_step[1:]}." if next_step else ask)
    if "could not send the request" in detail:
        return Failure(f"{detail}.", f"Nothing is being searched: ask again in Jellyseerr, or "
                       f"ask whoever runs it to check {arr}.")
    if detail.startswith("download failed"):
        reason = detail.removeprefix("download failed").lstrip(": ")
        nothing_new = reason.endswith("; nothing new grabbed")
        reason = reason.removesuffix("; nothing new grabbed")
        why = f"The download failed: {reason}." if reason else "The download failed."
        if nothing_new:
            return Failure(why, f"{arr} is looking for another release; none found yet. "
                           "If nothing comes, ask again in Jellyseerr.")
        return Failure(why, f"{arr} is looking for another release.")
    return Failure(f"{detail}." if detail else "The download failed.",
                   "If nothing moves, ask again in Jellyseerr.")


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def present(row: RequestRow, now: datetime, next_air: datetime | None = None, *,
            show_server: bool = False, times: PageTimes | None = None,
            episodes: Sequence[EpisodeRow] = (), poster: str | None = None,
            play: str | None = None, media_server: str = "Jellyfin") -> RequestView:
    """The page's view of `row` at `now`; `next_air` is the next episode's air date (shows;
    found in `episodes` when not given); `show_server`: name the server tracking it (several
    servers of a kind are configured); `times`: the page's zone (default the system's);
    `poster`, `play`: its artwork address and Play link; `media_server`: the name of the media
    server a request waits for ("Plex")."""
    times = times or PageTimes(zone(), now)
    stuck = row.stuck_reason is not None
    if next_air is None and episodes:
        upcoming = [e.air_date for e in episodes if e.air_date is not None and e.air_date > now]
        next_air = min(upcoming, default=None)
    release_date = _day(row.release_date)
    next_day = None if next_air is None else times.local(next_air).date()
    journey = journey_percent(row, episodes, now)
    label = state_label(row, times, release_date, media_server)
    title = display_title(row)
    playable = STATES[row.state].playable
    eta = row.eta if row.state in (S.DOWNLOADING, S.INDEXED) and not stuck else None
    return RequestView(
        id=row.id,
        title=title,
        year=row.year or None,
        media_type=row.media_type,
        kind=kind(row, Voice.PAGE),
        state=row.state.value,
        state_name=STATE_NAMES[row.state],
        label=label,
        tone=Tone.PROBLEM if stuck else TONES[row.state],
        since=row.state_since,
        since_text=times.moment(row.state_since),
        percent=journey,
        progress_text=label if journey is None else f"{label} ({journey} % of the way)",
        detail=redact(row.detail),
        stuck=stuck,
        stuck_reason=redact(row.stuck_reason),
        stuck_since=row.stuck_since,
        requested_by=row.requested_by or None,
        eta=eta,
        release_date=release_date,
        episodes_available=row.episodes_available,
        episodes_aired=row.episodes_aired,
        next_air_date=next_day,
        episodes_text=episodes_text(row, next_day, times),
        is4k=row.is4k,
        created_at=row.created_at,
        server=row.server if show_server else None,
        group=group_of(row.state, stuck, row.episodes_available, row.episodes_aired),
        journey_text=f"{journey} % of the way" if journey is not None and 0 < journey < 100
        else "",
        news=episode_news(episodes, times, stuck) if row.media_type is MediaType.TV else (),
        failure=failure(row),
        poster=poster,
        play=play if playable else None,
        initial=(title.strip()[:1] or "?").upper(),
        episodes=tuple(episodes),
        blocklisted=BLOCKLISTED_NOTE in (row.detail or ""),
    )
