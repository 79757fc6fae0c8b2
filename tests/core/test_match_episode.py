"""Which Jellyfin episode plays a requested episode: Shoko file, Shoko episode, season/number."""

from __future__ import annotations

import pytest

from reconciler.core import match_episode
from reconciler.models import JellyfinItem


def episode(item_id: str, season: int, number: int, **provider: str) -> JellyfinItem:
    return JellyfinItem(id=item_id, type="Episode", name=item_id, location_type="FileSystem",
                        path=f"/shows/{item_id}.mkv", season=season, episode=number,
                        provider_ids=dict(provider))


S1E1_TMDB = episode("tmdb-built", 1, 1, **{"Shoko Episode": "t4242", "Shoko File": "77"})
S1E1_TMDB_MOVIE = episode("tmdb-movie-built", 1, 1, **{"Shoko Episode": "T99"})
S1E1_OTHER = episode("other-episode", 1, 1, **{"Shoko Episode": "555"})
S1E1_PLAIN = episode("plain", 1, 1)
S1E1_OURS = episode("ours", 1, 1, **{"Shoko Episode": "5881"})


@pytest.mark.parametrize(("items", "files", "expected", "key"), [
    # A TMDB-built Shokofin value (`t…`, `T…`) is no Shoko episode id: season/number decide.
    ([S1E1_TMDB], (), "tmdb-built", "season/episode"),
    ([S1E1_TMDB_MOVIE], (), "tmdb-movie-built", "season/episode"),
    # ...and the Shoko file id matches whatever the Shoko Episode value says.
    ([S1E1_TMDB], (77,), "tmdb-built", "Shoko File"),
    ([S1E1_OTHER, S1E1_TMDB], (77,), "tmdb-built", "Shoko File"),
    # A plain integer that is not ours still means "another episode" (Shokofin's numbering).
    ([S1E1_OTHER], (), None, None),
    ([S1E1_OTHER, S1E1_PLAIN], (), "plain", "season/episode"),
    # Our Shoko episode id wins over season and number.
    ([S1E1_PLAIN, S1E1_OURS], (), "ours", "Shoko Episode"),
])
def test_a_non_numeric_shoko_episode_never_prevents_a_match(
        items: list[JellyfinItem], files: tuple[int, ...], expected: str | None,
        key: str | None) -> None:
    found = match_episode(items, 1, 1, (5881,), files)
    assert (found.item.id if found else None) == expected
    assert (found.key if found else None) == key


def test_a_shoko_file_id_of_another_file_matches_nothing_by_file() -> None:
    found = match_episode([episode("x", 2, 3, **{"Shoko File": "78"})], 1, 1, (), (77,))
    assert found is None
