"""The rules beside `decide` that the cycle asks the core: what is tracked, when absence means
deletion, which requests are anime, and since when a request is stuck."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.core import (
    ABSENT_CONFIRMATIONS,
    AnimeRules,
    absence_unconfirmed,
    deletion_settled,
    is_tracked,
    seerr_gone,
    stuck_since,
)
from reconciler.models import RadarrMovie, SeerrStatus, ShokoFile
from reconciler.states import Phase, RequestState
from tests.core.core_builders import NOW, seerr, series


@pytest.mark.parametrize(("status", "tracked"), [
    (SeerrStatus.PENDING, False), (SeerrStatus.APPROVED, True), (SeerrStatus.DECLINED, False),
    (SeerrStatus.FAILED, True), (SeerrStatus.COMPLETED, True),
])
def test_the_arr_are_polled_for_every_status_but_pending_and_declined(
        status: SeerrStatus, tracked: bool) -> None:
    assert is_tracked(seerr(status), 0) is tracked


def test_a_request_is_gone_after_enough_complete_listings_without_it() -> None:
    """Absent once is unconfirmed (list completely again); absent twice is gone, untracked."""
    assert ABSENT_CONFIRMATIONS == 2
    assert (seerr_gone(1), absence_unconfirmed(1)) == (False, True)
    assert (seerr_gone(2), absence_unconfirmed(2)) == (True, False)
    assert not absence_unconfirmed(0)
    assert not is_tracked(seerr(SeerrStatus.APPROVED), 2)


def test_a_recorded_deletion_is_settled_only_while_the_request_stays_absent() -> None:
    assert deletion_settled(RequestState.DELETED, 2)
    assert not deletion_settled(RequestState.DELETED, 0)  # back in Jellyseerr: decide again
    assert not deletion_settled(RequestState.APPROVED, 2)
    assert not deletion_settled(None, 2)


def film(**changes: object) -> RadarrMovie:
    fields: dict[str, object] = {"id": 1, "tmdb_id": 603, "title": "A", "has_file": True}
    return RadarrMovie(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_film_is_anime_by_tag_root_folder_or_a_shoko_file() -> None:
    rules = AnimeRules.configured(["Anime"], {3: "anime", 4: "kids"}, ["/data/anime/"])
    assert rules.radarr_tag_ids == frozenset({3})
    assert rules.film(film(tags=(3,)), None)
    assert not rules.film(film(tags=(4,)), None)
    assert rules.film(film(root_folder="/data/anime"), None)
    assert rules.film(film(file_path="/data/anime/A/a.mkv"), None)
    assert not rules.film(film(path="/data/animeX/A"), None)  # a folder, not a prefix
    assert rules.film(None, ShokoFile(id=1, relative_path="a.mkv"))
    assert not rules.film(None, None)


def test_a_show_is_anime_by_series_type_root_folder_or_a_shoko_file() -> None:
    rules = AnimeRules(root_folders=("/data/anime/",))
    assert rules.show(series(series_type="anime"))
    assert not rules.show(series())  # its path is /data/tv/The Show
    assert rules.show(series(), [None, ShokoFile(id=1, relative_path="e.mkv")])
    assert not rules.show(None)


def test_the_stuck_flag_keeps_the_time_it_went_up_and_clears_with_the_reason() -> None:
    earlier = NOW - timedelta(hours=1)
    assert stuck_since("no release grabbed after 6 h", None, NOW) == NOW
    assert stuck_since("no release grabbed after 6 h", earlier, NOW) == earlier
    assert stuck_since(None, earlier, NOW) is None


def test_phases_keep_their_stored_strings() -> None:
    assert Phase.WAITING_FOR_JELLYFIN == "waiting_for_jellyfin"
    assert Phase.parse("waiting_for_air") is Phase.WAITING_FOR_AIR
    assert Phase.parse("") is None and Phase.parse("no_such_phase") is None
