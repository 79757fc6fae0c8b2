"""Which requests are tracked, when absence from Jellyseerr means deletion, and which are anime."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from reconciler.core.outcome import Decision
from reconciler.models import RadarrMovie, SeerrRequest, SeerrStatus, ShokoFile, SonarrSeries
from reconciler.states import RequestState

S = RequestState


# A request counts as gone from Jellyseerr after this many complete listings without it.
ABSENT_CONFIRMATIONS = 2
# Requests the *arr are not asked about: waiting for approval, or declined.
UNTRACKED_STATUSES = frozenset({SeerrStatus.PENDING, SeerrStatus.DECLINED})


def seerr_gone(absent: int) -> bool:
    """Removed from Jellyseerr: missing from enough complete listings in a row."""
    return absent >= ABSENT_CONFIRMATIONS


def absence_unconfirmed(absent: int) -> bool:
    """Missing from a listing, not yet often enough to count as removed."""
    return 0 < absent < ABSENT_CONFIRMATIONS


def is_tracked(request: SeerrRequest, absent: int) -> bool:
    """Worth polling the *arr for: not gone from Jellyseerr, not pending, not declined."""
    return not seerr_gone(absent) and request.status not in UNTRACKED_STATUSES


def deletion_settled(state: RequestState | None, absent: int) -> bool:
    """Recorded as deleted and still missing from Jellyseerr: nothing left to decide."""
    return state is S.DELETED and absent > 0


def seerr_listing_hides(request: SeerrRequest) -> bool:
    """Jellyseerr's `filter=all` leaves the request out while it still answers by id: its media
    is blocklisted (media status 6, every version that has a blocklist)."""
    return request.blocklisted


def seerr_listed(absent: int, hidden: bool) -> bool:
    """Counted in the total of Jellyseerr's `filter=all` listing: not gone, not hidden."""
    return not seerr_gone(absent) and not hidden


BLOCKLISTED_NOTE = "its media is blocklisted in Jellyseerr"


def with_seerr_notes(decision: Decision, request: SeerrRequest) -> Decision:
    """`decision` with what Jellyseerr says about the request besides its status added to the
    detail (its media is blocklisted), once; the state is left as the evidence decided it."""
    detail = decision.detail
    if request.blocklisted:
        if BLOCKLISTED_NOTE not in detail:
            detail = f"{detail}; {BLOCKLISTED_NOTE}" if detail else BLOCKLISTED_NOTE
    elif BLOCKLISTED_NOTE in detail:  # a held decision keeps an old detail
        detail = detail.replace(f"; {BLOCKLISTED_NOTE}", "").replace(BLOCKLISTED_NOTE, "")
    return decision if detail == decision.detail else replace(decision, detail=detail)


@dataclass(frozen=True)
class AnimeRules:
    """How a request is known to be anime (so Shoko has to match its files): a Radarr tag, a
    Sonarr series type, a path under an anime root folder, or a file Shoko found."""

    radarr_tag_ids: frozenset[int] = frozenset()
    root_folders: tuple[str, ...] = ()

    @classmethod
    def configured(cls, tag_labels: Iterable[str], radarr_tags: Mapping[int, str],
                   root_folders: Iterable[str]) -> AnimeRules:
        """The rules from the `[anime]` settings and Radarr's tag labels (id -> label)."""
        wanted = {t.lower() for t in tag_labels}
        return cls(frozenset(i for i, label in radarr_tags.items() if label.lower() in wanted),
                   tuple(r.rstrip("/") + "/" for r in root_folders))

    def under_root(self, path: str | None) -> bool:
        return path is not None and any(
            (path.rstrip("/") + "/").startswith(r) for r in self.root_folders)

    def film(self, movie: RadarrMovie | None, shoko: ShokoFile | None) -> bool:
        return bool(movie and (
            self.radarr_tag_ids & set(movie.tags) or self.under_root(movie.path)
            or self.under_root(movie.root_folder) or self.under_root(movie.file_path)
        )) or shoko is not None

    def show(self, series: SonarrSeries | None,
             shoko_files: Iterable[ShokoFile | None] = ()) -> bool:
        return bool(series and (is_anime_series(series) or self.under_root(series.path))) \
            or any(f is not None for f in shoko_files)


def is_anime_series(series: SonarrSeries) -> bool:
    """Sonarr itself says the series is anime."""
    return series.series_type == "anime"
