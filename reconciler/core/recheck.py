"""When a request must be decided again although nothing it was decided on has changed: the
clock alone moves it (a stuck deadline passing, an episode airing, a release date crossed).

`cycle/moving.py` decides only the requests that can move; this says when a quiet one can.
It errs early, never late: every moment any rule of the decision compares the clock with is a
candidate, and the earliest one to come is the answer (a second early, since the store keeps
whole seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from reconciler.core.evidence import Evidence
from reconciler.core.releases import CINEMA_TO_HOME

# Times are stored in whole seconds: a deadline counted from a stored time comes up to a
# second before the one counted from the time in memory.
_EARLY = timedelta(seconds=1)


def recheck_at(now: datetime, evidence: Evidence, *, since: Iterable[datetime | None],
               limits: Iterable[timedelta]) -> datetime | None:
    """The first moment after `now` at which the decision could change by the clock alone:
    each of `since` (when the state, phase, progress and release began) plus each of `limits`
    (the stuck deadlines, the unrecognised-file wait), and each date in the evidence the
    decision compares with the clock (release and air dates). None: no such moment."""
    starts = [s for s in since if s is not None]
    spans = list(limits)
    moments = [s + span for s in starts for span in spans]
    moments += starts
    movie = evidence.movie
    if movie is not None:
        moments += [t for t in (movie.digital_release, movie.physical_release, movie.in_cinemas)
                    if t is not None]
        if movie.in_cinemas is not None:
            moments.append(movie.in_cinemas + CINEMA_TO_HOME)
    moments += [e.episode.air_date_utc for e in evidence.episodes
                if e.episode.air_date_utc is not None]
    return min((m - _EARLY for m in moments if m - _EARLY > now), default=None)
