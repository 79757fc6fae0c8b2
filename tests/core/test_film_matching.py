"""Which Jellyfin film item is the request's when the item carries Shoko ids (Shokofin): a
match by the broad ids (Shoko series, AniDB) is refused for an item that names another film by
an exact id, and Shokofin's TMDB-built `Shoko Episode = "T<TMDB film id>"` (issue 22, its TMDB
library structure) names another film only when that TMDB id is not the request's."""

from __future__ import annotations

import pytest

from reconciler.core import film_match_ids, match_item
from tests.core.core_builders import TMDB, item, shoko_file

# The request's film (TMDB 603), as Shoko matched its file 41: Shoko series 301, episode 3001,
# AniDB anime 15199, AniDB episode 230001.
IDS = film_match_ids(TMDB, shoko_file())


@pytest.mark.parametrize(("provider_ids", "key"), [
    # Shokofin's TMDB structure: its own `T<id>` episode, and the file it merged under another
    # item (AutoMergeVersions), so the Shoko File is not ours: the broad ids still match.
    pytest.param({"Shoko Episode": f"T{TMDB}", "Shoko Series": "301", "AniDB": "15199"},
                 "Shoko Series", id="T-of-our-film-by-series"),
    pytest.param({"Shoko Episode": f"T{TMDB}", "AniDB": "15199"}, "AniDB",
                 id="T-of-our-film-by-anidb"),
    pytest.param({"Shoko File": "41", "Shoko Episode": f"T{TMDB}"}, "Shoko File",
                 id="T-of-our-film-by-shoko-file"),
    pytest.param({"Shoko File": "77", "Shoko Episode": f"T{TMDB}", "AniDB": "15199"}, "AniDB",
                 id="T-of-our-film-merged-with-another-version-s-file-by-anidb"),
    pytest.param({"Shoko Episode": "t98765", "Shoko Series": "301"}, "Shoko Series",
                 id="t-a-tmdb-episode-says-nothing-against-a-film"),
    pytest.param({"Shoko Episode": "3001", "Shoko Series": "301"}, "Shoko Episode",
                 id="our-shoko-episode"),
    # Refused: an exact id of another film.
    pytest.param({"Shoko Episode": "T604", "Shoko Series": "301", "AniDB": "15199"}, None,
                 id="T-of-another-film-is-another-film"),
    pytest.param({"Shoko Episode": "3002", "Shoko Series": "301"}, None,
                 id="another-shoko-episode-is-another-film"),
    pytest.param({"Shoko File": "42", "AniDB": "15199"}, None,
                 id="another-shoko-file-is-another-film"),
    pytest.param({"Tmdb": "604", "Shoko Series": "301"}, None, id="another-tmdb-id"),
])
def test_a_shokofin_film_matches_by_its_shoko_ids(provider_ids: dict[str, str],
                                                  key: str | None) -> None:
    match = match_item([item(provider_ids)], IDS, "Movie")
    assert (match.key if match else None) == key


def test_a_T_id_says_nothing_when_the_requests_tmdb_id_is_unknown() -> None:
    ids = film_match_ids(None, shoko_file())
    match = match_item([item({"Shoko Episode": "T604", "Shoko Series": "301"})], ids, "Movie")
    assert match is not None and match.key == "Shoko Series"
