"""What differs between the Overseerr / Jellyseerr / Seerr versions the fake Jellyseerr plays.

Each `SeerrProfile` holds one version's behaviour, as recorded on real servers built from source
(Overseerr 1.33.2, Jellyseerr 2.1.0, 2.2.3, 2.7.3, Seerr 3.1.0) and read in their source:

    world = World(jellyseerr_version="3.1.0")      # or
    world.jellyseerr.profile = SEERR_3_1           # or profile_for("2.7")

`SEERR_BUMPING` (the default) is a Seerr 3.x with seerr PR #2823 (merged 2026-04-03: `updatedAt`
is an `@UpdateDateColumn` again), so approvals, declines and completions bump `updatedAt` as on
Overseerr and Jellyseerr <= 2.5. Its version string "3.2.0" is this project's assumption of the
first release carrying the fix; nothing was recorded from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = [
    "JELLYSEERR_2_1",
    "JELLYSEERR_2_2",
    "JELLYSEERR_2_7",
    "OVERSEERR_1_33",
    "PROFILES",
    "SEERR_3_1",
    "SEERR_BUMPING",
    "SeerrProfile",
    "default_profile",
    "profile_for",
]

# `GET /api/v1/request`'s `filter` enum, from each version's overseerr-api.yml.
_FILTERS_OLD = ("all", "approved", "available", "pending", "processing", "unavailable", "failed")
_FILTERS_NEW = (*_FILTERS_OLD, "deleted", "completed")


@dataclass(frozen=True)
class SeerrProfile:
    """One server version's observable behaviour (see the module docstring)."""

    name: str
    flavour: str                  # "overseerr" | "jellyseerr" | "seerr"
    version: str
    # approve/decline/complete/PUT change `updatedAt` (False on 2.6.0 - 3.1.x: frozen)
    bumps_updated_at: bool
    # `updatedAt` written in whole seconds (SQLite CURRENT_TIMESTAMP / @UpdateDateColumn)
    whole_seconds: bool
    # query parameters `GET /request` accepts (express-openapi-validator rejects the rest)
    request_params: frozenset[str]
    filters: tuple[str, ...]
    # request status 5 (COMPLETED) and media status 7 (DELETED) exist
    has_completed: bool
    # media status 6 (blocklisted) exists
    has_blocklist: bool
    # `filter=all` also leaves out status-5 requests and media 6/7 (2.2.x)
    all_hides_completed: bool
    service_errors: bool          # the list carries `serviceErrors` (3.x)
    count_completed: bool         # `/request/count` has `completed` (3.x)
    can_remove: bool              # list items carry `canRemove`
    user_tokens: bool             # users carry `plexToken`, `jellyfinAuthToken`, ... (null)
    avatar_etag: bool             # users carry `avatarETag`, `avatarVersion` (null)
    jellyfin_users: bool          # users have jellyfin fields and `warnings` (not Overseerr)
    shuffle_ties: bool            # ties in `updatedAt` come out in no fixed order (3.1.0)
    title_errors_500: bool        # unknown TMDB id: 500 "Unable to retrieve movie." (real)
    # list items name their *arr quality profile (`profileName`) when their server is known
    profile_name: bool = False
    # media carry `jellyfinMediaId[4k]` (not Overseerr)
    jellyfin_media: bool = True
    # the request list answers 500 "[Sonarr] Failed to retrieve profiles: fetch failed" while a
    # configured Radarr/Sonarr is unreachable (Jellyseerr 2.1.0; fixed in 2.2.0)
    list_fails_on_arr_error: bool = False

    @property
    def commit_tag(self) -> str:
        return "v" + self.version


_BASE = frozenset({"take", "skip", "filter", "sort", "requestedBy"})
_WITH_DIR = _BASE | {"sortDirection"}
_WITH_TYPE = _WITH_DIR | {"mediaType"}

OVERSEERR_1_33 = SeerrProfile(
    "overseerr-1.33", "overseerr", "1.33.2", bumps_updated_at=True, whole_seconds=True,
    request_params=_BASE, filters=_FILTERS_OLD, has_completed=False, has_blocklist=False,
    all_hides_completed=False, service_errors=False, count_completed=False, can_remove=False,
    user_tokens=False, avatar_etag=False, jellyfin_users=False, shuffle_ties=False,
    title_errors_500=True, jellyfin_media=False)
JELLYSEERR_2_1 = SeerrProfile(
    "jellyseerr-2.1", "jellyseerr", "2.1.0", bumps_updated_at=True, whole_seconds=True,
    request_params=_BASE, filters=_FILTERS_OLD, has_completed=False, has_blocklist=True,
    all_hides_completed=False, service_errors=False, count_completed=False, can_remove=False,
    user_tokens=True, avatar_etag=False, jellyfin_users=True, shuffle_ties=False,
    title_errors_500=True, profile_name=True, list_fails_on_arr_error=True)
JELLYSEERR_2_2 = SeerrProfile(
    "jellyseerr-2.2", "jellyseerr", "2.2.3", bumps_updated_at=True, whole_seconds=True,
    request_params=_WITH_DIR, filters=_FILTERS_OLD, has_completed=False, has_blocklist=True,
    all_hides_completed=True, service_errors=False, count_completed=False, can_remove=False,
    user_tokens=True, avatar_etag=False, jellyfin_users=True, shuffle_ties=False,
    title_errors_500=True)
JELLYSEERR_2_7 = SeerrProfile(
    "jellyseerr-2.7", "jellyseerr", "2.7.3", bumps_updated_at=False, whole_seconds=True,
    request_params=_WITH_TYPE, filters=_FILTERS_NEW, has_completed=True, has_blocklist=True,
    all_hides_completed=False, service_errors=False, count_completed=False, can_remove=True,
    user_tokens=False, avatar_etag=True, jellyfin_users=True, shuffle_ties=False,
    title_errors_500=True)
SEERR_3_1 = SeerrProfile(
    "seerr-3.1", "seerr", "3.1.0", bumps_updated_at=False, whole_seconds=True,
    request_params=_WITH_TYPE, filters=_FILTERS_NEW, has_completed=True, has_blocklist=True,
    all_hides_completed=False, service_errors=True, count_completed=True, can_remove=True,
    user_tokens=False, avatar_etag=True, jellyfin_users=True, shuffle_ties=True,
    title_errors_500=True)
# The default: Seerr 3.x as recorded on 3.1.0, but with `updatedAt` bumped again (PR #2823).
# Its bumped timestamps keep milliseconds (the simulator's historical clock resolution).
SEERR_BUMPING = SeerrProfile(
    "seerr-bumping", "seerr", "3.2.0", bumps_updated_at=True, whole_seconds=False,
    request_params=_WITH_TYPE, filters=_FILTERS_NEW, has_completed=True, has_blocklist=True,
    all_hides_completed=False, service_errors=True, count_completed=True, can_remove=True,
    user_tokens=False, avatar_etag=True, jellyfin_users=True, shuffle_ties=True,
    title_errors_500=True)

PROFILES: dict[str, SeerrProfile] = {p.name: p for p in (
    OVERSEERR_1_33, JELLYSEERR_2_1, JELLYSEERR_2_2, JELLYSEERR_2_7, SEERR_3_1, SEERR_BUMPING)}


def default_profile() -> SeerrProfile:
    """`SEERR_BUMPING`, or the profile named by `$SIMSTACK_JELLYSEERR_VERSION` (to run a whole
    test suite against one version)."""
    chosen = os.environ.get("SIMSTACK_JELLYSEERR_VERSION")
    return profile_for(chosen) if chosen else SEERR_BUMPING


def profile_for(version: str) -> SeerrProfile:
    """The profile for a profile name ("seerr-3.1") or a version ("3.1.0", "2.7", "1.33.2";
    a 1.x version is Overseerr)."""
    if version in PROFILES:
        return PROFILES[version]
    for profile in PROFILES.values():
        if profile.version == version or profile.version.startswith(version + "."):
            return profile
    raise ValueError(f"no Seerr profile for {version!r}; known: {', '.join(PROFILES)} "
                     f"or versions {', '.join(p.version for p in PROFILES.values())}")
