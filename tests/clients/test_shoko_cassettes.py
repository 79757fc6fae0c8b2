"""ShokoClient against recorded Shoko Server API v3 answers (cassettes/shoko/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.errors import AuthFailed, ServiceUnavailable
from tests.clients.replay import call, cassette

RECOLLECTIONS = ("/data/anime/movies/Violet Evergarden - Recollections (2021)/"
                 "Violet.Evergarden.Recollections.2022.1080p.NF.WEB-DL.AAC2.0.x264-GST.mkv")
THE_MOVIE = ("/data/anime/movies/Violet Evergarden - The Movie (2020)/"
             "[The-Nut] Violet Evergarden The Movie 2020 [BD][1080p 10bit AV1].mkv")
EPISODE = ("/data/anime/shows/Lycoris Recoil/Season 1/"
           "Lycoris.Recoil.S01E01.1080p.BluRay.Dual-Audio.Opus2.0.x265-FLE.mkv")

def test_init_status_needs_no_more_than_the_state() -> None:
    with cassette("shoko/init_status.yaml"):
        status = call("shoko", lambda c: c.init_status())
    assert status["State"] == "Started"


def test_a_matched_file_is_found_by_folder_and_file_name() -> None:
    with cassette("shoko/file_by_path_matched.yaml") as cass:
        files = call("shoko", lambda c: c.files_by_path(RECOLLECTIONS))
    assert cass.play_count == 1  # the two-part tail found it: no second lookup
    (f,) = files
    assert f.id == 1408 and f.matched
    assert f.relative_path == ("Violet Evergarden - Recollections (2021)/"
                               "Violet.Evergarden.Recollections.2022.1080p.NF.WEB-DL.AAC2.0."
                               "x264-GST.mkv")
    assert (f.series_ids, f.episode_ids) == ((311,), (6020,))
    assert (f.anidb_series_ids, f.anidb_episode_ids) == ((16544,), (260101,))
    assert f.tmdb_movie_ids == (1052946,) and f.tmdb_show_ids == ()
    assert f.imported == datetime(2026, 1, 22, 4, 47, 18, tzinfo=UTC)


def test_a_file_of_the_same_name_in_another_folder_is_not_taken() -> None:
    """The file name alone finds a file in "Violet Evergarden Movie/", which is neither the
    film's folder nor the one above it: another file, not taken (issue 22)."""
    with cassette("shoko/file_by_path_unmatched.yaml") as cass:
        files = call("shoko", lambda c: c.files_by_path(THE_MOVIE))
    assert cass.play_count == 2
    assert files == []


def test_an_episode_file_in_the_shows_folder_is_found_by_its_name_alone() -> None:
    """Shoko keeps the episodes in the show's folder, Sonarr in a season folder under it: the
    two-part tail finds nothing, the file name alone finds the file in the folder above."""
    with cassette("shoko/file_by_path_name_only.yaml") as cass:
        (f,) = call("shoko", lambda c: c.files_by_path(EPISODE))
    assert cass.play_count == 2
    assert f.matched and f.relative_path.startswith("Lycoris Recoil/")


def test_an_episode_file_carries_the_series_tvdb_and_tmdb_show_ids() -> None:
    with cassette("shoko/file_by_path_episode.yaml"):
        (f,) = call("shoko", lambda c: c.files_by_path(EPISODE))
    assert f.matched and f.series_ids == (298,) and f.episode_ids == (5881,)
    assert f.tmdb_show_ids == (154494,) and f.tmdb_movie_ids == ()


def test_a_file_linked_to_anidb_before_shoko_made_its_series_keeps_the_anidb_ids() -> None:
    """Shoko sends `"ID": null` on a cross-reference until it has created its own series and
    episode from the AniDB metadata: the file parses, with the AniDB ids, no Shoko ids, and
    says so (`pending_metadata`), instead of failing the whole poll."""
    with cassette("shoko/file_by_path_pending_metadata.yaml") as cass:
        (f,) = call("shoko", lambda c: c.files_by_path(EPISODE.replace("S01E01", "S01E02")))
    assert cass.play_count == 1
    assert f.id == 1396 and f.pending_metadata and not f.matched
    assert (f.series_ids, f.episode_ids) == ((), ())
    assert (f.anidb_series_ids, f.anidb_episode_ids) == ((16774,), (257412,))


def test_a_matched_file_is_not_pending_metadata() -> None:
    with cassette("shoko/file_by_path_matched.yaml"):
        (f,) = call("shoko", lambda c: c.files_by_path(RECOLLECTIONS))
    assert not f.pending_metadata


def test_a_file_shoko_does_not_know_is_no_files() -> None:
    with cassette("shoko/file_by_path_unknown.yaml") as cass:
        assert call("shoko", lambda c: c.files_by_path(
            "/data/anime/movies/Nowhere (2024)/Nowhere.2024.mkv")) == []
    assert cass.play_count == 2


def test_files_linked_to_a_tmdb_film_come_with_their_cross_references() -> None:
    """Shoko pages this endpoint (`{Total, List}`) and gives cross-references only with
    `include=XRefs` (it has no `includeXRefs`, which it would silently ignore)."""
    with cassette("shoko/files_by_tmdb_movie.yaml"):
        (f,) = call("shoko", lambda c: c.files_by_tmdb_movie(1052946))
    assert f.id == 1408 and f.matched and f.tmdb_movie_ids == (1052946,)


def test_a_tmdb_film_shoko_has_not_stored_is_no_files() -> None:
    with cassette("shoko/files_by_tmdb_movie_unknown.yaml"):
        assert call("shoko", lambda c: c.files_by_tmdb_movie(533514)) == []


def test_series_linked_to_a_tmdb_show_give_shoko_and_anidb_ids() -> None:
    async def both(c: Any) -> tuple[Any, Any]:
        return await c.series_by_tmdb_show(154494), await c.series_by_tmdb_show(113710)

    with cassette("shoko/series_by_tmdb_show.yaml"):
        linked, unknown = call("shoko", both)
    assert linked == [(298, (16774,))]
    assert unknown == []


def test_a_refused_key_is_auth_failed() -> None:
    with cassette("shoko/auth_refused.yaml"), pytest.raises(AuthFailed):
        call("shoko", lambda c: c.files_by_path(RECOLLECTIONS))


def test_a_500_is_unavailable() -> None:
    with cassette("shoko/server_error.yaml"), pytest.raises(ServiceUnavailable):
        call("shoko", lambda c: c.files_by_path(RECOLLECTIONS))
