"""When what a request waits for can first be had: release and air dates, download ends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from reconciler.core.downloads import queue_stage
from reconciler.core.outcome import EpisodeDecision
from reconciler.models import QueueRecord, RadarrMovie
from reconciler.states import RequestState

S = RequestState


# A film without a digital or physical release date counts as released this long after its
# cinema release (Radarr's own rule for `isAvailable`).
CINEMA_TO_HOME = timedelta(days=90)


def film_release(movie: RadarrMovie | None, now: datetime) -> datetime | None:
    """When a film can first be had at home: its digital or physical release, whichever comes
    first, else `CINEMA_TO_HOME` after its cinema release; None when Radarr knows no date, or
    when it says the film is out (`status` "released") against a date still to come."""
    if movie is None:
        return None
    homes = [t for t in (movie.digital_release, movie.physical_release) if t is not None]
    cinemas = movie.in_cinemas
    release = min(homes) if homes else cinemas + CINEMA_TO_HOME if cinemas is not None else None
    if release is not None and release > now and movie.status == "released":
        return None
    return release


def show_release(episodes: Iterable[EpisodeDecision]) -> datetime | None:
    """When a show's next wanted episode can first be had: the air date of its earliest
    requested episode not yet playable (in the past while one is missing, else the next to
    air); None when every one is playable or none has a date."""
    dates = [t for e in episodes if e.state is not S.AVAILABLE
             and (t := e.air_date) is not None]
    return min(dates, default=None)


def download_eta(queue: Iterable[QueueRecord]) -> datetime | None:
    """The earliest expected end among the downloads still under way (queued or downloading)."""
    times = [t for r in queue if queue_stage(r).under_way
             and (t := r.estimated_completion) is not None]
    return min(times, default=None)
