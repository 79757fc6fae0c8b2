"""What the decision gives: one film's or episode's stage, and a request's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.states import Phase, RequestState


@dataclass(frozen=True)
class EpisodeDecision:
    """Where one requested episode is (a show's `Decision` carries one per episode)."""

    season: int
    episode: int
    state: RequestState
    via: str
    air_date: datetime | None
    sonarr_episode_id: int
    jellyfin_item_id: str | None = None
    # While its download runs (grabbed or downloading): how far along, and the expected end.
    progress: float | None = None
    eta: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome for one request. `transition` is true when the state changed."""

    state: RequestState
    via: str
    detail: str
    progress: float | None
    phase: Phase | None
    transition: bool
    held: bool = False
    jellyfin_item_id: str | None = None
    jellyfin_key: str | None = None
    episodes: tuple[EpisodeDecision, ...] = ()
    episodes_available: int | None = None
    episodes_aired: int | None = None


@dataclass(frozen=True)
class Stage:
    """Where one film or episode is (`download_stage`), before the request's history is
    weighed: a step back without evidence is held (`decide`)."""

    state: RequestState
    via: str
    detail: str
    phase: Phase
    progress: float | None = None
