"""Every request state, once, with all that belongs to it: the state table.

Each row of `STATES` says where a state stands on the ladder (or that it is off it), whether
something is moving in it (the daemon polls faster), how long a request may stay in it before it
is flagged stuck (its `[stuck]` key, default and reason), whether its arrival is worth a message
(`[notify] on`), and what people see: the page's label and short name, the badge's tone and the
journey bar's step. Beside it: `Phase` (where within its state a request is) with the phases'
own deadlines, the notify events, and the download stage vocabulary (`QueueStage`).

Everything else (config, core, notify, the page, the CLI) reads these tables; adding a state
means adding its member and its row here (a test walks the table for completeness).
Bottom layer: the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class RequestState(StrEnum):
    """Where a request is. The strings are the contract (database, JSON, logs)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    INDEXED = "indexed"
    DOWNLOADING = "downloading"
    DOWNLOAD_DONE = "download_done"
    IMPORTING = "importing"
    ANIME_MATCHING = "anime_matching"
    PARTIALLY_AVAILABLE = "partially_available"
    AVAILABLE = "available"
    FAILED = "failed"
    DECLINED = "declined"
    DELETED = "deleted"


class Phase(StrEnum):
    """Where within its state a request is (what it waits for). The strings are stored."""

    REQUESTED = "requested"
    APPROVED = "approved"
    WAITING_FOR_GRAB = "waiting_for_grab"
    GRABBED = "grabbed"
    DOWNLOADING = "downloading"
    DOWNLOAD_DONE = "download_done"
    IMPORTING = "importing"
    WAITING_FOR_SHOKO = "waiting_for_shoko"
    WAITING_FOR_JELLYFIN = "waiting_for_jellyfin"
    WAITING_FOR_AIR = "waiting_for_air"
    PARTIALLY_AVAILABLE = "partially_available"
    AVAILABLE = "available"
    FAILED = "failed"
    DECLINED = "declined"
    DELETED = "deleted"

    @classmethod
    def parse(cls, value: str | None) -> Phase | None:
        """The phase a stored string names; None when empty or unknown."""
        try:
            return cls(value) if value else None
        except ValueError:
            return None


class NotifyEvent(StrEnum):
    """What `[notify] on` can name: a state's arrival, or the stuck flag going up. The order is
    the one a configuration error lists them in."""

    AVAILABLE = "available"
    STUCK = "stuck"
    FAILED = "failed"
    DECLINED = "declined"
    DELETED = "deleted"
    PARTIALLY_AVAILABLE = "partially_available"


# What an operator's message says happened (its title: "Spirited Away is available").
HEADLINES: dict[NotifyEvent, str] = {
    NotifyEvent.AVAILABLE: "is available",
    NotifyEvent.PARTIALLY_AVAILABLE: "is partly available",
    NotifyEvent.FAILED: "failed",
    NotifyEvent.DECLINED: "was declined",
    NotifyEvent.DELETED: "was deleted",
    NotifyEvent.STUCK: "is stuck",
}


class Tone(StrEnum):
    """The colour family of a state's badge on the page (CSS classes `tone-*`)."""

    WAITING = "waiting"
    ACTIVE = "active"
    READY = "ready"
    PROBLEM = "problem"
    ENDED = "ended"


class QueueStage(StrEnum):
    """Where one download in an *arr queue is; the order is the rank, least advanced first
    (of a film's or episode's queue records, the most advanced one says where it is)."""

    FAILED = "failed"
    INDEXED = "indexed"
    DOWNLOADING = "downloading"
    DOWNLOAD_DONE = "download_done"
    IMPORTING = "importing"

    @property
    def rank(self) -> int:
        return _QUEUE_ORDER.index(self)

    @property
    def under_way(self) -> bool:
        """Grabbed or downloading: neither finished nor failed."""
        return self in (QueueStage.INDEXED, QueueStage.DOWNLOADING)

    @property
    def state(self) -> RequestState:
        """The request state a download at this stage puts a film or episode in."""
        return RequestState(self.value)


_QUEUE_ORDER = tuple(QueueStage)


@dataclass(frozen=True)
class Deadline:
    """How long a request may stay in a state (or phase) before it is flagged stuck: the
    default of its `[stuck]` key (the state's or phase's own string) and the reason given once
    it has passed (`{limit}` stands for the deadline, "6 h", "30 min")."""

    default: timedelta
    reason: str


@dataclass(frozen=True)
class StateRow:
    """All that belongs to one state."""

    rank: int | None  # on the ladder; None: off it, reached and left on its own evidence
    active: bool  # something moves: the daemon polls the services that follow it faster
    playable: bool  # Jellyfin lists a playable item of it (the requester is told)
    deadline: Deadline | None  # None: a request is never stuck in it (a phase may still be)
    notify: NotifyEvent | None  # its arrival is worth an operator's message
    label: str  # the page's steady label (a few depend on the row: `web.present.state_label`)
    name: str  # the short name: the page's state filter, the timeline's from/to columns
    tone: Tone
    journey: int | None  # the journey bar's step in percent; None: off the journey


S = RequestState

STATES: dict[RequestState, StateRow] = {
    S.REQUESTED: StateRow(
        rank=0, active=False, playable=False, notify=None,
        deadline=None,
        label="Waiting for approval", name="Requested",
        tone=Tone.WAITING, journey=5),
    S.APPROVED: StateRow(
        rank=1, active=False, playable=False, notify=None,
        deadline=Deadline(timedelta(hours=6), "no release grabbed after {limit}"),
        label="Approved, looking for a release", name="Approved",
        tone=Tone.WAITING, journey=15),
    S.INDEXED: StateRow(
        rank=2, active=False, playable=False, notify=None,
        deadline=Deadline(timedelta(hours=2), "the download has not started after {limit}"),
        label="Release found, download starting", name="Release found",
        tone=Tone.ACTIVE, journey=25),
    S.DOWNLOADING: StateRow(
        rank=3, active=True, playable=False, notify=None,
        deadline=Deadline(timedelta(hours=2), "no download progress in {limit}"),
        label="Downloading", name="Downloading",
        tone=Tone.ACTIVE, journey=25),  # plus up to 50 for the download itself
    S.DOWNLOAD_DONE: StateRow(
        rank=4, active=False, playable=False, notify=None,
        deadline=Deadline(timedelta(minutes=30), "not imported after {limit}"),
        label="Downloaded, waiting to be imported", name="Downloaded",
        tone=Tone.ACTIVE, journey=78),
    S.IMPORTING: StateRow(
        rank=5, active=True, playable=False, notify=None,
        deadline=Deadline(timedelta(minutes=30), "import not finished after {limit}"),
        label="Being added to the library", name="Importing",
        tone=Tone.ACTIVE, journey=85),
    S.ANIME_MATCHING: StateRow(
        rank=6, active=True, playable=False, notify=None,
        deadline=Deadline(timedelta(minutes=30), "Shoko has not matched the file after {limit}"),
        label="Being identified by Shoko", name="Anime matching",
        tone=Tone.ACTIVE, journey=90),
    S.PARTIALLY_AVAILABLE: StateRow(
        rank=7, active=False, playable=True, notify=NotifyEvent.PARTIALLY_AVAILABLE,
        deadline=None,
        label="Some episodes ready to watch", name="Partly available",
        tone=Tone.READY, journey=0),  # episodes ready out of episodes aired
    S.AVAILABLE: StateRow(
        rank=8, active=False, playable=True, notify=NotifyEvent.AVAILABLE,
        deadline=None,
        label="Ready to watch", name="Available",
        tone=Tone.READY, journey=100),
    S.FAILED: StateRow(
        rank=None, active=False, playable=False, notify=NotifyEvent.FAILED,
        deadline=None,
        label="Download failed", name="Failed",
        tone=Tone.PROBLEM, journey=None),
    S.DECLINED: StateRow(
        rank=None, active=False, playable=False, notify=NotifyEvent.DECLINED,
        deadline=None,
        label="Declined", name="Declined",
        tone=Tone.ENDED, journey=None),
    S.DELETED: StateRow(
        rank=None, active=False, playable=False, notify=NotifyEvent.DELETED,
        deadline=None,
        label="Removed", name="Removed",
        tone=Tone.ENDED, journey=None),
}

# Phases whose wait has a deadline of its own, ahead of their state's: a file imported (or
# matched by Shoko) that the media server ("{server}": Jellyfin, Emby or Plex) has not listed
# yet. The phase keeps the first media server's name.
PHASE_DEADLINES: dict[Phase, Deadline] = {
    Phase.WAITING_FOR_JELLYFIN: Deadline(timedelta(minutes=15),
                                         "{server} has not listed it after {limit}"),
}
# Phases in which a request is never stuck: a show with nothing aired yet waits for the
# calendar.
NEVER_STUCK = frozenset({Phase.WAITING_FOR_AIR})

# ---------------------------------------------------------------- read from the table

# How far along the pipeline a state is. States off the ladder (failed, declined, deleted) are
# reached and left on their own evidence, not by rank.
LADDER: dict[RequestState, int] = {s: row.rank for s, row in STATES.items()
                                   if row.rank is not None}
# How far along an episode is, to find a show's least advanced one: the ladder, and a failed
# episode holds the show back like an ungrabbed one.
EPISODE_RANK: dict[RequestState, int] = {**LADDER, S.FAILED: LADDER[S.APPROVED]}
# States in which something is moving, so the daemon polls faster.
ACTIVE_STATES = frozenset(s for s, row in STATES.items() if row.active)
# States in which Jellyfin lists a playable item: the requester's "ready to watch".
PLAYABLE_STATES = frozenset(s for s, row in STATES.items() if row.playable)
# The `[stuck]` keys and their defaults, in the table's order: the states', then the phases'.
STUCK_DEFAULTS: dict[str, timedelta] = {
    **{s.value: row.deadline.default for s, row in STATES.items() if row.deadline is not None},
    **{p.value: d.default for p, d in PHASE_DEADLINES.items()},
}
