"""The decision: from what the services were seen to say to where each request is.

Invariants (all of them tested without I/O):
- Pure: no HTTP, no SQLite, no clock. `now` is an argument.
- Level-triggered: the state is derived from the evidence each time; the same evidence and the
  same current state give the same decision and no new transition (idempotent).
- `available` only when Jellyfin lists a playable item matched by the request's ids.
- A service that did not answer is *unknown*: a request that depends on it is held as it is.
- A state moves backwards only on positive evidence (a failure or a new grab after the state was
  entered, a deleted file, an item gone from Jellyfin, a newly aired episode); otherwise it holds.
- Every rule that affects the state machine is here or in the state table (`reconciler.states`):
  besides `decide`, which requests are tracked (`is_tracked`), when absence from Jellyseerr means
  deletion (`ABSENT_CONFIRMATIONS`), which requests are anime (`AnimeRules`), when a request is
  stuck and since when.

The modules, in the order the decision uses them:
- `evidence`: what the decision is given (`Evidence`, `Current`); `outcome`: what it gives
  (`Stage`, `Decision`).
- `routing`: which configured *arr server tracks a request.
- `matching`: which Jellyfin item is the request's, and of which copy (HD or 4K).
- `downloads`: where one film or episode is (`download_stage`).
- `decide`: where a request is (`decide`; a show from its episodes).
- `recheck`: when a request must be decided again with nothing new observed (`recheck_at`).
- `tracking`: what is tracked, absence, anime, Jellyseerr's notes.
- `scans`: when and how to ask Jellyfin to scan (`plan_nudges`).
- `releases`: release and air dates, download ends; `stuck`: the stuck flag;
  `durations`: how a detail says a duration.

Import from the package (`from reconciler import core; core.decide(...)`): `__all__` is its face.
"""

from __future__ import annotations

from reconciler.core.decide import decide
from reconciler.core.downloads import DownloadFacts, download_stage
from reconciler.core.evidence import Current, EpisodeEvidence, Evidence
from reconciler.core.matching import (
    JellyfinMatch,
    MatchIds,
    film_match_ids,
    match_episode,
    match_item,
    plays_copy,
    shoko_file_ids,
)
from reconciler.core.outcome import Decision, EpisodeDecision, Stage
from reconciler.core.recheck import recheck_at
from reconciler.core.releases import CINEMA_TO_HOME, download_eta, film_release, show_release
from reconciler.core.routing import (
    ArrServer,
    Route,
    RouteCase,
    arr_kind,
    configured_as,
    needs_seerr_servers,
    own_default,
    route,
    route_case,
    seerr_default,
    seerr_target,
    url_matches,
)
from reconciler.core.scans import (
    LIBRARY_ITEM,
    MEDIA_UPDATED,
    WHOLE_LIBRARY,
    Nudge,
    Waiting,
    jellyfin_path,
    library_for,
    plan_nudges,
)
from reconciler.core.stuck import Deadlines, stuck_reason, stuck_since
from reconciler.core.tracking import (
    ABSENT_CONFIRMATIONS,
    AnimeRules,
    absence_unconfirmed,
    deletion_settled,
    is_tracked,
    seerr_gone,
    seerr_listed,
    seerr_listing_hides,
    with_seerr_notes,
)

__all__ = [
    "ABSENT_CONFIRMATIONS",
    "CINEMA_TO_HOME",
    "LIBRARY_ITEM",
    "MEDIA_UPDATED",
    "WHOLE_LIBRARY",
    "AnimeRules",
    "ArrServer",
    "Current",
    "Deadlines",
    "Decision",
    "DownloadFacts",
    "EpisodeDecision",
    "EpisodeEvidence",
    "Evidence",
    "JellyfinMatch",
    "MatchIds",
    "Nudge",
    "Route",
    "RouteCase",
    "Stage",
    "Waiting",
    "absence_unconfirmed",
    "arr_kind",
    "configured_as",
    "decide",
    "deletion_settled",
    "download_eta",
    "download_stage",
    "film_match_ids",
    "film_release",
    "is_tracked",
    "jellyfin_path",
    "library_for",
    "match_episode",
    "match_item",
    "needs_seerr_servers",
    "own_default",
    "plan_nudges",
    "plays_copy",
    "recheck_at",
    "route",
    "route_case",
    "seerr_default",
    "seerr_gone",
    "seerr_listed",
    "seerr_listing_hides",
    "seerr_target",
    "shoko_file_ids",
    "show_release",
    "stuck_reason",
    "stuck_since",
    "url_matches",
    "with_seerr_notes",
]
