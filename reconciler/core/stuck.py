"""When a request is stuck (a flag beside its state, never a state), and since when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from reconciler.core.durations import minutes_text
from reconciler.states import (
    NEVER_STUCK,
    PHASE_DEADLINES,
    STATES,
    STUCK_DEFAULTS,
    Phase,
    RequestState,
)

S = RequestState


class Deadlines:
    """How long a request may stay in a state (or phase) before it is flagged stuck, by its
    `[stuck]` key: `Deadlines(approved=timedelta(hours=1)).approved`; a key not given keeps the
    state table's default."""

    def __init__(self, **limits: timedelta) -> None:
        unknown = sorted(set(limits) - set(STUCK_DEFAULTS))
        if unknown:
            raise TypeError(f"no stuck deadline is called {', '.join(unknown)}")
        self.limits: Mapping[str, timedelta] = {**STUCK_DEFAULTS, **limits}

    def __getattr__(self, key: str) -> timedelta:
        """`deadlines.approved`: one key's limit (read from `__dict__`: `limits` may not be
        set yet, while a copy is made)."""
        limits: Mapping[str, timedelta] = self.__dict__.get("limits", {})
        if key not in limits:
            raise AttributeError(key)
        return limits[key]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deadlines) and self.limits == other.limits

    def __hash__(self) -> int:
        return hash(tuple(self.limits.items()))

    def __repr__(self) -> str:
        return f"Deadlines({', '.join(f'{k}={v!r}' for k, v in self.limits.items())})"


def stuck_reason(
    state: RequestState,
    phase: Phase | None,
    since: datetime,
    phase_since: datetime | None,
    progress_since: datetime | None,
    now: datetime,
    deadlines: Deadlines,
    release: datetime | None = None,
    server: str = "Jellyfin",
) -> str | None:
    """Why a request is stuck, or None. Stuck is a flag beside the state, never a state.

    The deadlines are the state table's: a phase's own (from when the phase began) comes before
    its state's (from when the state was entered; a download's from its last progress).
    `release` is when what an approved request waits for can first be had (`film_release`,
    `show_release`): no release can be grabbed before it, so the `approved` deadline runs from
    then, not from the approval. `server` names the media server a phase waits for.

    The reason names the deadline, not the time elapsed (the state's `since` tells that), so a
    request that stays stuck is not rewritten every cycle."""
    if phase in NEVER_STUCK:
        return None
    if phase is not None and phase in PHASE_DEADLINES:
        return _past(PHASE_DEADLINES[phase].reason.replace("{server}", server),
                     deadlines.limits[phase], phase_since or since, now)
    deadline = STATES[state].deadline
    if deadline is None:
        return None
    start = since
    if state is S.DOWNLOADING:
        start = progress_since or since
    if state is S.APPROVED and release is not None and release > since:
        start = release
    return _past(deadline.reason, deadlines.limits[state], start, now)


def _past(reason: str, limit: timedelta, start: datetime, now: datetime) -> str | None:
    """`reason` with its limit filled in once `limit` has passed since `start`, else None."""
    return reason.format(limit=minutes_text(limit)) if now - start >= limit else None


def stuck_since(reason: str | None, previous: datetime | None, now: datetime) -> datetime | None:
    """When the stuck flag went up: kept while the request stays stuck, cleared once it is not."""
    if reason is None:
        return None
    return previous if previous is not None else now
