"""`core.decide` as tables: (what the services said, the state before) → (state, via, detail).

Film evidence is assembled like the cycle does it (`reconciler.cycle.evidence`): the Jellyfin
match is chosen by
`match_item` from the items the index holds, so "virtual item", "placeholder" and "wrong type"
rows exercise the whole path from Jellyfin's items to the decision.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.core import Current, Evidence, JellyfinMatch, MatchIds, decide, match_item
from reconciler.models import HistoryFacts, SeerrStatus, ShokoFile
from reconciler.states import RequestState
from tests.core.core_builders import (
    ANIME_PATH,
    FILM_PATH,
    NOW,
    TMDB,
    ago,
    current,
    episode,
    episode_path,
    film,
    item,
    jf_episode,
    movie,
    record,
    shoko_file,
    show,
)

S = RequestState

GRABBED = HistoryFacts(grabbed_at=ago(hours=3), grabbed_title="The.Matrix.1999.1080p")
IMPORTED = HistoryFacts(grabbed_at=ago(hours=3), grabbed_title="The.Matrix.1999.1080p",
                        imported_at=ago(hours=2))
FAILED = HistoryFacts(grabbed_at=ago(hours=3), grabbed_title="The.Matrix.1999.1080p",
                      failed_at=ago(hours=2), failed_message="qBittorrent: torrent errored")
IGNORED = HistoryFacts(grabbed_at=ago(hours=3), grabbed_title="The.Matrix.1999.1080p",
                       ignored_at=ago(hours=2), ignored_message="Manually ignored")
# Linked to AniDB; Shoko has not created the series or episode yet (null `ID`s).
PENDING_METADATA = ShokoFile(id=41, relative_path="/Made in Abyss/Made.in.Abyss.Dawn.mkv",
                             anidb_series_ids=(15199,), anidb_episode_ids=(230001,),
                             pending_metadata=True)
ON_DISK = movie(has_file=True)
ANIME_ON_DISK = movie(has_file=True, file_path=ANIME_PATH)
PLAYABLE = item({"Tmdb": str(TMDB)})


def anime_film(**kw: Any) -> Evidence:
    """An anime film Radarr has imported, with Shoko enabled."""
    return film(radarr=ANIME_ON_DISK, anime=True, shoko_enabled=True, **kw)


# ---------------------------------------------------------------- a film seen for the first time

# (evidence, expected state, via, phase, a fragment of the detail)
FIRST_SIGHT = [
    pytest.param(film(status=SeerrStatus.PENDING), S.REQUESTED, "jellyseerr", "requested",
                 "waiting for approval", id="pending-in-jellyseerr-is-requested"),
    pytest.param(film(status=SeerrStatus.DECLINED), S.DECLINED, "jellyseerr", "declined",
                 "declined", id="declined-in-jellyseerr-is-declined"),
    pytest.param(film(deleted=True, radarr=ON_DISK, items=[PLAYABLE]), S.DELETED, "jellyseerr",
                 "deleted", "removed from Jellyseerr",
                 id="removed-request-is-deleted-even-if-playable"),
    pytest.param(film(), S.APPROVED, "jellyseerr", "approved", "not in Radarr yet",
                 id="approved-not-yet-in-radarr"),
    pytest.param(film(radarr=movie()), S.APPROVED, "radarr", "waiting_for_grab",
                 "waiting for Radarr to grab", id="approved-in-radarr-nothing-grabbed"),
    pytest.param(film(status=SeerrStatus.FAILED), S.FAILED, "jellyseerr", "failed",
                 "could not send the request to Radarr", id="jellyseerr-failed-to-send"),
    pytest.param(film(radarr=movie(), history=GRABBED), S.INDEXED, "radarr", "grabbed",
                 "grabbed The.Matrix.1999.1080p", id="history-grabbed-is-indexed"),
    pytest.param(film(radarr=movie(), history=GRABBED,
                      queue=[record("downloading", "queued", sizeleft=100)]),
                 S.INDEXED, "radarr", "grabbed", "queued", id="queued-record-is-indexed"),
    pytest.param(film(radarr=movie(), queue=[record("downloading", "delay", sizeleft=100)]),
                 S.INDEXED, "radarr", "grabbed", "delay", id="delayed-record-is-indexed"),
    pytest.param(film(radarr=movie(), history=GRABBED,
                      queue=[record("downloading", "downloading", size=200, sizeleft=50)]),
                 S.DOWNLOADING, "radarr", "downloading", "downloading 75%",
                 id="downloading-record-with-progress"),
    pytest.param(film(radarr=movie(), queue=[record(
                     "downloading", "downloading", tracked_status="warning",
                     messages=("The download is stalled with no connections",))]),
                 S.DOWNLOADING, "radarr", "downloading", "warning: The download is stalled",
                 id="stalled-download-keeps-downloading-with-the-warning"),
    pytest.param(film(radarr=movie(), queue=[record("importPending", "completed", sizeleft=0)]),
                 S.DOWNLOAD_DONE, "radarr", "download_done", "import pending",
                 id="finished-download-waiting-for-import"),
    pytest.param(film(radarr=movie(), queue=[record(
                     "importPending", "completed", sizeleft=0, tracked_status="warning",
                     messages=("Unable to parse file",))]),
                 S.DOWNLOAD_DONE, "radarr", "download_done",
                 "import blocked: Unable to parse file", id="import-blocked-warning-names-reason"),
    pytest.param(film(radarr=movie(), queue=[record(
                     "importBlocked", "completed", sizeleft=0, tracked_status="warning",
                     messages=("Found matching movie via grab history, but release was matched"
                               " to movie by ID. Manual Import required.",))]),
                 S.DOWNLOAD_DONE, "radarr", "download_done", "Manual Import required",
                 id="import-blocked-state-names-reason"),
    pytest.param(film(radarr=movie(), queue=[record("importing", "completed", sizeleft=0)]),
                 S.IMPORTING, "radarr", "importing", "Radarr is importing",
                 id="radarr-importing"),
    pytest.param(film(radarr=ON_DISK, history=IMPORTED), S.IMPORTING, "radarr",
                 "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="imported-but-not-in-jellyfin-is-importing"),
    pytest.param(film(radarr=ON_DISK, queue=[record("importing", "completed", sizeleft=0)]),
                 S.IMPORTING, "radarr", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="file-on-disk-beats-a-lingering-queue-record"),
    pytest.param(film(radarr=ON_DISK, items=[item(location_type="Virtual", path=None)]),
                 S.IMPORTING, "radarr", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="virtual-jellyfin-item-is-not-playable"),
    pytest.param(film(radarr=ON_DISK, items=[item(placeholder=True)]),
                 S.IMPORTING, "radarr", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="placeholder-jellyfin-item-is-not-playable"),
    pytest.param(film(radarr=ON_DISK, items=[item(path=None)]),
                 S.IMPORTING, "radarr", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="metadata-stub-without-a-file-is-not-playable"),
    pytest.param(film(radarr=ON_DISK, items=[item(type="Series")]),
                 S.IMPORTING, "radarr", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="series-item-with-the-films-tmdb-id-is-not-the-film"),
    pytest.param(film(radarr=ON_DISK, items=[item({"Tmdb": "6030"}), item({"Imdb": str(TMDB)})]),
                 S.IMPORTING, "radarr", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="items-with-other-ids-are-not-the-film"),
    pytest.param(film(radarr=ON_DISK, items=[PLAYABLE]), S.AVAILABLE, "jellyfin", "available",
                 "matched by Tmdb", id="playable-item-with-tmdb-key-is-available"),
    pytest.param(film(radarr=ON_DISK, items=[item({"TheMovieDb": str(TMDB)})]),
                 S.AVAILABLE, "jellyfin", "available", "matched by TheMovieDb",
                 id="themoviedb-key-is-the-tmdb-id"),
    pytest.param(film(radarr=ON_DISK, items=[item({"tmdb": str(TMDB)})]),
                 S.AVAILABLE, "jellyfin", "available", "matched by tmdb",
                 id="lowercase-tmdb-key"),
    pytest.param(film(radarr=ON_DISK, items=[item({"TMDB": f" {TMDB} "})]),
                 S.AVAILABLE, "jellyfin", "available", "matched by TMDB",
                 id="uppercase-tmdb-key-with-padded-value"),
    pytest.param(film(radarr=ON_DISK, items=[item(location_type="Virtual", path=None,
                                                  item_id="stub"), PLAYABLE]),
                 S.AVAILABLE, "jellyfin", "available", "matched by Tmdb",
                 id="a-stub-beside-the-real-item-does-not-hide-it"),
    pytest.param(film(radarr=movie(), items=[PLAYABLE]), S.AVAILABLE, "jellyfin", "available",
                 "playable in Jellyfin", id="jellyfin-listing-before-radarr-reports-the-file"),
    pytest.param(film(status=SeerrStatus.COMPLETED, radarr=ON_DISK), S.IMPORTING, "radarr",
                 "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="jellyseerr-available-is-only-a-hint"),
    pytest.param(film(radarr=movie(), history=GRABBED, queue=[record(
                     "failed", "failed", messages=("No files found are eligible for import",))]),
                 S.FAILED, "radarr", "failed", "No files found are eligible",
                 id="failed-queue-record-is-failed"),
    pytest.param(film(radarr=movie(), history=FAILED), S.FAILED, "radarr", "failed",
                 "torrent errored; nothing new grabbed", id="failed-history-nothing-new-grabbed"),
    pytest.param(film(radarr=movie(), history=HistoryFacts(
                     grabbed_at=ago(minutes=5), grabbed_title="The.Matrix.1999.2160p",
                     failed_at=ago(hours=2))),
                 S.INDEXED, "radarr", "grabbed", "The.Matrix.1999.2160p",
                 id="grab-after-failure-is-indexed"),
    # `downloadIgnored` (history event 9 in Radarr, 7 in Sonarr): removed, not blocklisted
    pytest.param(film(radarr=movie(), history=IGNORED), S.FAILED, "radarr", "failed",
                 "the download was removed in Radarr (Manually ignored) and nothing new was "
                 "grabbed", id="ignored-download-nothing-new-grabbed"),
    pytest.param(film(radarr=movie(), history=replace(IGNORED, ignored_message=None)),
                 S.FAILED, "radarr", "failed",
                 "the download was removed in Radarr and nothing new was grabbed",
                 id="ignored-download-without-a-message"),
    pytest.param(film(radarr=movie(), history=replace(IGNORED, grabbed_at=ago(minutes=5),
                                                      grabbed_title="The.Matrix.1999.2160p")),
                 S.INDEXED, "radarr", "grabbed", "The.Matrix.1999.2160p",
                 id="grab-after-an-ignored-download-is-indexed"),
    pytest.param(film(radarr=movie(), history=replace(IGNORED, failed_at=ago(minutes=30),
                                                      failed_message="stalled")),
                 S.FAILED, "radarr", "failed", "download failed: stalled",
                 id="failure-after-an-ignored-download-names-the-failure"),
    pytest.param(film(radarr=movie(), history=IGNORED,
                      queue=[record(size=100, sizeleft=40)]),
                 S.DOWNLOADING, "radarr", "downloading", "downloading 60%",
                 id="a-queued-download-outranks-an-older-ignored-one"),
    pytest.param(film(radarr=ON_DISK, history=IGNORED), S.IMPORTING, "radarr",
                 "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="a-file-on-disk-outranks-an-ignored-download"),
    # anime films
    pytest.param(anime_film(shoko=PENDING_METADATA), S.ANIME_MATCHING, "shoko",
                 "waiting_for_shoko", "Shoko is still fetching the anime's metadata from AniDB",
                 id="anime-linked-to-anidb-shoko-ids-still-null"),
    pytest.param(anime_film(shoko=replace(shoko_file(), pending_metadata=True)),
                 S.ANIME_MATCHING, "shoko", "waiting_for_jellyfin",
                 "matched by Shoko; waiting for Jellyfin",
                 id="anime-matched-with-one-cross-reference-still-pending"),
    pytest.param(anime_film(), S.ANIME_MATCHING, "radarr", "waiting_for_shoko",
                 "waiting for Shoko to match the file", id="anime-imported-shoko-has-not-seen-it"),
    pytest.param(anime_film(shoko=shoko_file(matched=False)), S.ANIME_MATCHING, "shoko",
                 "waiting_for_shoko", "waiting for Shoko to match the file",
                 id="anime-shoko-has-the-file-unmatched"),
    pytest.param(anime_film(shoko=shoko_file()), S.ANIME_MATCHING, "shoko",
                 "waiting_for_jellyfin", "matched by Shoko; waiting for Jellyfin",
                 id="anime-matched-by-shoko-stays-anime-matching"),
    pytest.param(anime_film(shoko=shoko_file(), items=[item({"Shoko File": "41"},
                                                            location_type="Virtual", path=None)]),
                 S.ANIME_MATCHING, "shoko", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="anime-virtual-shokofin-item-is-not-playable"),
    pytest.param(anime_film(shoko=shoko_file(), items=[item({"Shoko File": "42"})]),
                 S.ANIME_MATCHING, "shoko", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="anime-item-of-another-shoko-file-is-not-the-film"),
    pytest.param(anime_film(shoko=shoko_file(), items=[item({"Shoko File": "41"})]),
                 S.AVAILABLE, "jellyfin", "available", "matched by Shoko File",
                 id="anime-available-by-shoko-file-id-without-tmdb"),
    pytest.param(anime_film(shoko=shoko_file(), items=[item({"Shoko Episode": "3001"})]),
                 S.AVAILABLE, "jellyfin", "available", "matched by Shoko Episode",
                 id="anime-available-by-shoko-episode-id"),
    pytest.param(anime_film(shoko=shoko_file(), items=[item({"shoko series": "301"})]),
                 S.AVAILABLE, "jellyfin", "available", "matched by shoko series",
                 id="anime-available-by-shoko-series-id"),
    pytest.param(anime_film(shoko=shoko_file(), items=[item({"AniDB": "15199"})]),
                 S.AVAILABLE, "jellyfin", "available", "matched by AniDB",
                 id="anime-available-by-anidb-id"),
    pytest.param(anime_film(shoko=shoko_file(matched=False), items=[PLAYABLE]),
                 S.AVAILABLE, "jellyfin", "available", "matched by Tmdb",
                 id="anime-listed-by-tmdb-is-available-whatever-shoko-says"),
    pytest.param(film(radarr=ANIME_ON_DISK, anime=True, shoko_enabled=False), S.IMPORTING,
                 "radarr", "waiting_for_jellyfin", "waiting for Jellyfin",
                 id="anime-without-shoko-waits-for-jellyfin-directly"),
]


@pytest.mark.parametrize(("evidence", "state", "via", "phase", "fragment"), FIRST_SIGHT)
def test_film_first_decision(
    evidence: Evidence, state: RequestState, via: str, phase: str, fragment: str
) -> None:
    """A film never seen before gets the state its evidence shows, as a transition."""
    decision = decide(evidence, None, NOW)
    assert (decision.state, decision.via, decision.phase) == (state, via, phase)
    assert fragment in decision.detail
    assert decision.transition is True
    assert decision.held is False


def test_first_sight_table_reaches_every_film_state() -> None:
    """The first-sight table reaches every state a film can be in on its own evidence."""
    reached = {p.values[1] for p in FIRST_SIGHT}
    assert reached == set(RequestState) - {S.PARTIALLY_AVAILABLE}


def test_downloading_progress_comes_from_size_and_sizeleft() -> None:
    """Downloading progress is 1 - sizeleft/size, between 0 and 1."""
    evidence = film(radarr=movie(), queue=[record(size=4_000, sizeleft=1_000)])
    assert decide(evidence, None, NOW).progress == pytest.approx(0.75)


def test_downloading_without_size_has_no_progress() -> None:
    """A queue record with no size yet (magnet resolving) gives no progress, not 0 or 1."""
    evidence = film(radarr=movie(), queue=[record(size=0, sizeleft=0)])
    decision = decide(evidence, None, NOW)
    assert decision.state is S.DOWNLOADING
    assert decision.progress is None


def test_imported_film_not_in_jellyfin_says_so() -> None:
    """The detail of an imported film Jellyfin does not list says imported, waiting for it."""
    detail = decide(film(radarr=ON_DISK), None, NOW).detail
    assert detail.startswith("imported")
    assert detail.endswith("; waiting for Jellyfin")


def test_importing_while_not_in_jellyfin_waits_for_jellyfin() -> None:
    """A film imported but not listed is in the phase the nudge looks for (it then finds the
    film's file in Radarr's observation: `reconciler.cycle.nudge.waiting_path`)."""
    decision = decide(film(radarr=ON_DISK), None, NOW)
    assert decision.phase == "waiting_for_jellyfin"
    assert FILM_PATH in decision.detail


def test_available_records_the_matched_item_and_key() -> None:
    """An available film carries the Jellyfin item id and the ProviderId key that matched it."""
    decision = decide(film(radarr=ON_DISK, items=[item({"TheMovieDb": str(TMDB)})]), None, NOW)
    assert (decision.jellyfin_item_id, decision.jellyfin_key) == ("jf-movie", "TheMovieDb")


# ---------------------------------------------------------------- decide does not trust a bad match

BAD_MATCHES = [
    pytest.param(item(location_type="Virtual", path=None), id="virtual"),
    pytest.param(item(placeholder=True), id="placeholder"),
    pytest.param(item(type="Series"), id="series-for-a-film"),
    pytest.param(item(location_type="Offline"), id="offline"),
    pytest.param(item({"Tmdb": "999"}), id="another-films-tmdb-id"),
    pytest.param(item({}), id="no-provider-ids"),
]


@pytest.mark.parametrize("bad", BAD_MATCHES)
def test_decide_refuses_a_jellyfin_match_that_is_not_a_playable_film(bad: object) -> None:
    """Even handed a match directly, decide says available only for a playable film item
    carrying the request's id."""
    assert isinstance(bad, type(PLAYABLE))
    evidence = Evidence(request=film().request, movie=ON_DISK,
                        jellyfin=JellyfinMatch(item=bad, key="Tmdb"))
    decision = decide(evidence, None, NOW)
    assert decision.state is S.IMPORTING
    assert decision.jellyfin_item_id is None


# ---------------------------------------------------------------- a film with a state already

# (evidence, current, expected state, via, transition, held, a fragment of the detail)
WITH_CURRENT = [
    # a service the request depends on did not answer: hold, whatever else was seen
    pytest.param(film(radarr=ON_DISK, items=[PLAYABLE], unknown=frozenset({"radarr"})),
                 current(S.DOWNLOADING, detail="downloading 40%"),
                 S.DOWNLOADING, "", False, True, "downloading 40%",
                 id="unknown-radarr-holds-even-forward"),
    pytest.param(film(radarr=ON_DISK, unknown=frozenset({"jellyfin"})), current(S.AVAILABLE),
                 S.AVAILABLE, "", False, True, "", id="unknown-jellyfin-holds-available"),
    pytest.param(film(status=SeerrStatus.DECLINED, unknown=frozenset({"jellyseerr"})),
                 current(S.APPROVED), S.APPROVED, "", False, True, "",
                 id="unknown-jellyseerr-holds-even-a-decline"),
    pytest.param(film(deleted=True, unknown=frozenset({"jellyseerr"})), current(S.AVAILABLE),
                 S.AVAILABLE, "", False, True, "", id="unknown-jellyseerr-holds-deletion"),
    pytest.param(anime_film(shoko=shoko_file(), unknown=frozenset({"shoko"})),
                 current(S.IMPORTING), S.IMPORTING, "", False, True, "",
                 id="unknown-shoko-holds-an-anime-film"),
    pytest.param(film(radarr=ON_DISK, unknown=frozenset({"shoko", "sonarr"})),
                 current(S.DOWNLOADING), S.IMPORTING, "radarr", True, False,
                 "waiting for Jellyfin", id="services-a-film-does-not-use-do-not-hold-it"),
    pytest.param(film(radarr=ANIME_ON_DISK, anime=True, shoko_enabled=False,
                      unknown=frozenset({"shoko"})),
                 current(S.DOWNLOADING), S.IMPORTING, "radarr", True, False,
                 "waiting for Jellyfin", id="unknown-shoko-does-not-hold-when-shoko-is-off"),
    # backwards only on positive evidence
    pytest.param(film(radarr=movie(), history=GRABBED), current(S.DOWNLOADING),
                 S.DOWNLOADING, "", False, True, "",
                 id="queue-record-vanished-without-evidence-holds-downloading"),
    pytest.param(film(radarr=movie()), current(S.INDEXED), S.INDEXED, "", False, True, "",
                 id="history-not-yet-seen-holds-indexed"),
    pytest.param(film(radarr=movie(), history=IMPORTED), current(S.IMPORTING),
                 S.IMPORTING, "", False, True, "",
                 id="has-file-missing-without-a-deletion-holds-importing"),
    pytest.param(film(radarr=movie(), history=HistoryFacts(
                     grabbed_at=ago(hours=3), failed_at=ago(minutes=10),
                     failed_message="stalled")),
                 current(S.DOWNLOADING), S.FAILED, "radarr", True, False,
                 "stalled; nothing new grabbed", id="failure-after-downloading-began"),
    pytest.param(film(radarr=movie(), history=HistoryFacts(
                     grabbed_at=ago(minutes=5), grabbed_title="Better.Release",
                     failed_at=ago(hours=2))),
                 current(S.FAILED), S.INDEXED, "radarr", True, False, "Better.Release",
                 id="failed-then-regrabbed-is-indexed"),
    pytest.param(film(radarr=movie(), history=HistoryFacts(
                     grabbed_at=ago(minutes=5), failed_at=ago(hours=2)),
                      queue=[record(size=100, sizeleft=90)]),
                 current(S.FAILED), S.DOWNLOADING, "radarr", True, False, "downloading 10%",
                 id="failed-then-regrabbed-and-downloading"),
    pytest.param(film(radarr=movie(), history=HistoryFacts(
                     grabbed_at=ago(minutes=5), grabbed_title="Other.Release"),
                      queue=[record(size=100, sizeleft=80)]),
                 current(S.DOWNLOAD_DONE), S.DOWNLOADING, "radarr", True, False,
                 "downloading 20%", id="new-grab-after-download-done-moves-back"),
    pytest.param(film(radarr=ON_DISK, history=IMPORTED), current(S.AVAILABLE),
                 S.IMPORTING, "radarr", True, False, "waiting for Jellyfin",
                 id="item-removed-from-jellyfin-moves-available-back"),
    pytest.param(film(radarr=movie(), history=HistoryFacts(
                     grabbed_at=ago(hours=3), grabbed_title="Old.Release",
                     imported_at=ago(hours=2), file_deleted_at=ago(minutes=10))),
                 current(S.IMPORTING), S.APPROVED, "radarr", True, False,
                 "waiting for Radarr to grab", id="deleted-file-moves-back-to-waiting-for-a-grab"),
    pytest.param(film(radarr=movie(), history=HistoryFacts(
                     grabbed_at=ago(minutes=5), grabbed_title="New.Release",
                     imported_at=ago(hours=2), file_deleted_at=ago(minutes=10))),
                 current(S.APPROVED), S.INDEXED, "radarr", True, False, "grabbed New.Release",
                 id="grab-after-the-deletion-is-indexed"),
    # stages may be skipped
    pytest.param(film(radarr=ON_DISK), current(S.APPROVED), S.IMPORTING, "radarr", True,
                 False, "waiting for Jellyfin", id="approved-straight-to-importing"),
    pytest.param(anime_film(shoko=shoko_file()), current(S.DOWNLOADING), S.ANIME_MATCHING,
                 "shoko", True, False, "matched by Shoko",
                 id="downloading-straight-to-anime-matching"),
    pytest.param(film(radarr=movie(), queue=[record(size=100, sizeleft=10)]),
                 current(S.INDEXED), S.DOWNLOADING, "radarr", True, False, "downloading 90%",
                 id="indexed-to-downloading"),
    pytest.param(film(radarr=ON_DISK, items=[PLAYABLE]),
                 current(S.IMPORTING, phase="waiting_for_jellyfin"),
                 S.AVAILABLE, "jellyfin", True, False, "playable in Jellyfin",
                 id="importing-to-available-when-jellyfin-lists-it"),
    pytest.param(anime_film(shoko=shoko_file(), items=[item({"Shoko File": "41"})]),
                 current(S.ANIME_MATCHING, phase="waiting_for_jellyfin"),
                 S.AVAILABLE, "jellyfin", True, False, "Shoko File",
                 id="anime-matching-to-available-via-jellyfin"),
    pytest.param(film(radarr=ON_DISK, items=[PLAYABLE], deleted=True), current(S.AVAILABLE),
                 S.DELETED, "jellyseerr", True, False, "removed from Jellyseerr",
                 id="available-request-removed-is-deleted"),
    pytest.param(film(status=SeerrStatus.DECLINED), current(S.REQUESTED), S.DECLINED,
                 "jellyseerr", True, False, "declined", id="requested-then-declined"),
    pytest.param(film(radarr=movie()), current(S.REQUESTED), S.APPROVED, "radarr", True,
                 False, "waiting for Radarr", id="requested-then-approved"),
    # the same evidence again: nothing new
    pytest.param(film(radarr=ON_DISK), current(S.IMPORTING, phase="waiting_for_jellyfin"),
                 S.IMPORTING, "radarr", False, False, "waiting for Jellyfin",
                 id="still-importing-is-no-transition"),
    pytest.param(anime_film(shoko=shoko_file()),
                 current(S.ANIME_MATCHING, phase="waiting_for_jellyfin"),
                 S.ANIME_MATCHING, "shoko", False, False, "matched by Shoko; waiting for Jellyfin",
                 id="stays-anime-matching-while-jellyfin-has-not-listed-the-film"),
    pytest.param(film(radarr=movie(), history=FAILED), current(S.FAILED), S.FAILED, "radarr",
                 False, False, "nothing new grabbed", id="still-failed-is-no-transition"),
    pytest.param(film(radarr=movie(), history=replace(IGNORED, ignored_at=ago(minutes=10))),
                 current(S.DOWNLOADING), S.FAILED, "radarr", True, False,
                 "removed in Radarr (Manually ignored) and nothing new was grabbed",
                 id="download-ignored-while-downloading-is-failed"),
    pytest.param(film(radarr=movie(), history=replace(IGNORED, grabbed_at=ago(minutes=5))),
                 current(S.FAILED), S.INDEXED, "radarr", True, False, "grabbed",
                 id="ignored-then-regrabbed-is-indexed"),
]


@pytest.mark.parametrize(
    ("evidence", "before", "state", "via", "transition", "held", "fragment"), WITH_CURRENT
)
def test_film_decision_with_current_state(
    evidence: Evidence,
    before: Current,
    state: RequestState,
    via: str,
    transition: bool,
    held: bool,
    fragment: str,
) -> None:
    """A film with a recorded state moves on evidence, holds without it."""
    decision = decide(evidence, before, NOW)
    assert (decision.state, decision.via) == (state, via)
    assert (decision.transition, decision.held) == (transition, held)
    assert fragment in decision.detail


# ---------------------------------------------------------------- Shoko deadline


@pytest.mark.parametrize(
    ("shoko", "seen"),
    [(None, "has not found"), (shoko_file(matched=False), "has not recognised")],
    ids=["shoko-never-saw-the-file", "shoko-cannot-match-the-file"],
)
def test_unmatched_anime_file_past_the_deadline_is_named(shoko: object, seen: str) -> None:
    """After the deadline in waiting_for_shoko, the detail names the file to link by hand."""
    before = current(S.ANIME_MATCHING, phase="waiting_for_shoko",
                     phase_since=NOW - timedelta(minutes=31))
    decision = decide(anime_film(shoko=shoko), before, NOW)
    assert decision.state is S.ANIME_MATCHING
    assert decision.transition is False
    assert ANIME_PATH in decision.detail
    assert seen in decision.detail


def test_unmatched_anime_file_before_the_deadline_is_not_flagged() -> None:
    """Within the deadline Shoko is still hashing: the detail just says it is waiting."""
    before = current(S.ANIME_MATCHING, phase="waiting_for_shoko",
                     phase_since=NOW - timedelta(minutes=10))
    decision = decide(anime_film(shoko=shoko_file(matched=False)), before, NOW)
    assert decision.detail == "imported; waiting for Shoko to match the file"


def test_shoko_deadline_is_configurable() -> None:
    """The deadline passed to decide is the one applied."""
    before = current(S.ANIME_MATCHING, phase="waiting_for_shoko",
                     phase_since=NOW - timedelta(minutes=6))
    decision = decide(anime_film(), before, NOW, unrecognised_after=timedelta(minutes=5))
    assert "after 5 min" in decision.detail


# ---------------------------------------------------------------- matching Jellyfin items


def test_match_item_tries_ids_in_order_not_items() -> None:
    """A Shoko File match wins over an AniDB match listed earlier in the index."""
    by_anidb = item({"AniDB": "15199"}, item_id="by-anidb")
    by_file = item({"Shoko File": "41"}, item_id="by-file")
    ids = MatchIds(shoko_file=(41,), anidb=(15199,))
    match = match_item([by_anidb, by_file], ids, "Movie")
    assert match is not None
    assert (match.item.id, match.key) == ("by-file", "Shoko File")


def test_match_item_prefers_tmdb_over_shoko_ids() -> None:
    """The TMDB id is the most trusted: an item carrying it wins over a Shoko-id item."""
    by_shoko = item({"Shoko Series": "301"}, item_id="by-shoko")
    by_tmdb = item({"Tmdb": str(TMDB)}, item_id="by-tmdb")
    match = match_item([by_shoko, by_tmdb], MatchIds(tmdb=TMDB, shoko_series=(301,)), "Movie")
    assert match is not None and match.item.id == "by-tmdb"


def test_match_item_compares_values_exactly() -> None:
    """ProviderIds are compared exactly (AnyProviderIdEquals-style near misses are refused)."""
    assert match_item([item({"Tmdb": "6030"}), item({"Tmdb": "60"})], MatchIds(tmdb=603),
                      "Movie") is None


# ---------------------------------------------------------------- shows

PLAYABLE_S1 = [jf_episode(1, n) for n in (1, 2, 3)]


def aired_season(*, files: bool = True, count: int = 3) -> list:
    return [episode(1, n, has_file=files) for n in range(1, count + 1)]


# (evidence, current, expected state, via, fragment of the detail)
SHOWS = [
    pytest.param(show([], with_series=False), None, S.APPROVED, "jellyseerr",
                 "not in Sonarr yet", id="show-not-in-sonarr-yet"),
    pytest.param(show(aired_season(), jellyfin=PLAYABLE_S1), None, S.AVAILABLE, "jellyfin",
                 "all 3 aired episodes playable", id="every-aired-episode-playable"),
    pytest.param(show(aired_season(), jellyfin=PLAYABLE_S1[:2]), None,
                 S.PARTIALLY_AVAILABLE, "jellyfin", "2/3 aired episodes playable",
                 id="some-episodes-playable-is-partially-available"),
    pytest.param(show([episode(1, 1, queue=[record(size=100, sizeleft=50)]),
                       episode(1, 2, has_file=True),
                       episode(1, 3, queue=[record("importPending", "completed", sizeleft=0)])]),
                 None, S.DOWNLOADING, "sonarr", "downloading",
                 id="nothing-playable-takes-the-least-advanced-episode"),
    pytest.param(show([episode(1, 1, history=HistoryFacts(
                           grabbed_at=ago(hours=3), failed_at=ago(hours=2))),
                       episode(1, 2, queue=[record(size=100, sizeleft=50)])]),
                 None, S.FAILED, "sonarr", "download failed",
                 id="a-failed-episode-holds-the-show-back"),
    pytest.param(show([episode(1, 1, history=HistoryFacts(
                           grabbed_at=ago(hours=3), ignored_at=ago(hours=2),
                           ignored_message="Removed by user")),
                       episode(1, 2, has_file=True)]),
                 None, S.FAILED, "sonarr", "the download was removed in Sonarr (Removed by user) "
                 "and nothing new was grabbed", id="an-ignored-episode-download-is-failed"),
    pytest.param(show([episode(1, 1, has_file=True, shoko=PENDING_METADATA)], anime=True),
                 None, S.ANIME_MATCHING, "shoko", "still fetching the anime's metadata",
                 id="anime-episode-whose-shoko-ids-are-still-null"),
    pytest.param(show(aired_season(), jellyfin=[jf_episode(1, 1, end=2), jf_episode(1, 3)]),
                 None, S.AVAILABLE, "jellyfin", "all 3 aired episodes",
                 id="multi-episode-file-covers-each-episode"),
    pytest.param(show(aired_season(), jellyfin=[*PLAYABLE_S1[:2],
                                                jf_episode(1, 3, location_type="Virtual")]),
                 None, S.PARTIALLY_AVAILABLE, "jellyfin", "2/3",
                 id="virtual-missing-episode-is-not-counted"),
    pytest.param(show(aired_season(), jellyfin=[*PLAYABLE_S1[:2],
                                                jf_episode(1, 3, placeholder=True)]),
                 None, S.PARTIALLY_AVAILABLE, "jellyfin", "2/3",
                 id="placeholder-episode-is-not-counted"),
    pytest.param(show([*aired_season(count=2), episode(1, 3, aired=ago(days=-3))],
                      jellyfin=PLAYABLE_S1[:2]),
                 None, S.AVAILABLE, "jellyfin", "all 2 aired episodes playable in Jellyfin; "
                 "1 still to air, next on 2025-03-04", id="unaired-episode-does-not-block"),
    pytest.param(show([*aired_season(count=2), episode(1, 3, announced=False)],
                      jellyfin=PLAYABLE_S1[:2]),
                 None, S.AVAILABLE, "jellyfin", "; 1 still to air",
                 id="episode-without-air-date-does-not-block"),
    pytest.param(show([episode(1, 1, aired=ago(days=-7)), episode(1, 2, aired=ago(days=-14))]),
                 None, S.APPROVED, "sonarr", "nothing has aired yet; 2 still to air, next on "
                 "2025-03-08", id="nothing-aired-yet"),
    pytest.param(show([*aired_season(count=2), episode(1, 3, aired=ago(minutes=10))],
                      jellyfin=PLAYABLE_S1[:2]),
                 current(S.AVAILABLE), S.PARTIALLY_AVAILABLE, "sonarr", "2/3",
                 id="newly-aired-episode-moves-available-back-via-sonarr"),
    pytest.param(show(aired_season(), jellyfin=PLAYABLE_S1[:2]), current(S.AVAILABLE),
                 S.PARTIALLY_AVAILABLE, "jellyfin", "2/3",
                 id="episode-removed-from-jellyfin-moves-available-back-via-jellyfin"),
    pytest.param(show([*aired_season(), episode(2, 1)], seasons=(1,), monitored=(1, 2),
                      jellyfin=PLAYABLE_S1),
                 None, S.AVAILABLE, "jellyfin", "all 3 aired episodes",
                 id="specific-season-request-ignores-other-seasons"),
    pytest.param(show([*aired_season(), episode(2, 1), episode(0, 1)], seasons=(),
                      monitored=(0, 1, 2), jellyfin=PLAYABLE_S1),
                 None, S.PARTIALLY_AVAILABLE, "jellyfin", "3/4",
                 id="all-seasons-request-counts-every-monitored-season"),
    pytest.param(show([*aired_season(), episode(0, 1), episode(2, 1)], seasons=(),
                      monitored=(0, 1), jellyfin=PLAYABLE_S1),
                 None, S.AVAILABLE, "jellyfin", "all 3 aired episodes",
                 id="all-seasons-request-excludes-specials-and-unmonitored"),
    pytest.param(show([episode(1, 1, has_file=True, shoko=shoko_file())], anime=True),
                 None, S.ANIME_MATCHING, "shoko", "matched by Shoko; waiting for Jellyfin",
                 id="anime-episode-matched-by-shoko-waits-for-jellyfin"),
    pytest.param(show([episode(1, 1, has_file=True, shoko=shoko_file())], anime=True,
                      jellyfin=[jf_episode(2, 5, provider_ids={"Shoko Episode": "3001"})]),
                 None, S.AVAILABLE, "jellyfin", "all 1 aired episodes",
                 id="anime-episode-matched-by-shoko-id-despite-other-numbering"),
    pytest.param(show(aired_season(), jellyfin=PLAYABLE_S1, unknown=frozenset({"sonarr"})),
                 current(S.DOWNLOADING), S.DOWNLOADING, "", "",
                 id="unknown-sonarr-holds-a-show"),
    pytest.param(show(aired_season(files=False)), current(S.DOWNLOADING), S.DOWNLOADING, "", "",
                 id="show-queue-vanished-without-evidence-holds"),
]


@pytest.mark.parametrize(("evidence", "before", "state", "via", "fragment"), SHOWS)
def test_show_decision(
    evidence: Evidence, before: Current | None, state: RequestState, via: str, fragment: str
) -> None:
    """A show's state follows from its requested, aired episodes."""
    decision = decide(evidence, before, NOW)
    assert (decision.state, decision.via) == (state, via)
    assert fragment in decision.detail


@pytest.mark.parametrize("bad", [
    pytest.param(jf_episode(1, 2, location_type="Virtual"), id="virtual"),
    pytest.param(jf_episode(1, 2, placeholder=True), id="placeholder"),
    pytest.param(item(type="Series", season=1, episode=2), id="series-item"),
    pytest.param(jf_episode(1, 3), id="another-episode"),
])
def test_decide_refuses_an_episode_match_that_is_not_that_playable_episode(bad: object) -> None:
    """Even handed a match directly, an episode counts only when the item is that episode,
    playable."""
    assert isinstance(bad, type(PLAYABLE))
    evidence = show([episode(1, 1, playable=JellyfinMatch(jf_episode(1, 1), "season/episode")),
                     episode(1, 2, has_file=True, playable=JellyfinMatch(bad, "season/episode"))])
    decision = decide(evidence, None, NOW)
    assert decision.state is S.PARTIALLY_AVAILABLE
    assert [e.jellyfin_item_id for e in decision.episodes] == ["jf-s1e1", None]


def test_season_pack_progress_counts_the_one_download_once() -> None:
    """Three episodes in one season pack at 60% (one queue record each) give the show 60%."""
    evidence = show([episode(1, n, queue=[record(size=300, sizeleft=120, episode_id=100 + n)])
                     for n in (1, 2, 3)])
    decision = decide(evidence, None, NOW)
    assert decision.state is S.DOWNLOADING
    assert decision.progress == pytest.approx(0.6)
    assert "3/3 episodes downloading" in decision.detail


def test_episode_downloads_progress_is_averaged() -> None:
    """Episodes downloading separately at 20%, 40% and 60% (same size) give the show 40%."""
    evidence = show([episode(1, n, queue=[record(size=100, sizeleft=left, download_id=f"D{n}")])
                     for n, left in ((1, 80), (2, 60), (3, 40))])
    decision = decide(evidence, None, NOW)
    assert decision.state is S.DOWNLOADING
    assert decision.progress == pytest.approx(0.4)


def test_each_requested_episode_has_its_own_state() -> None:
    """The decision lists every requested episode with its own state."""
    evidence = show([episode(1, 1, has_file=True), episode(1, 2, queue=[record()]),
                     episode(1, 3, aired=ago(days=-1))], jellyfin=[jf_episode(1, 1)])
    decision = decide(evidence, None, NOW)
    states = {(e.season, e.episode): e.state for e in decision.episodes}
    assert states == {(1, 1): S.AVAILABLE, (1, 2): S.DOWNLOADING, (1, 3): S.APPROVED}
    assert (decision.episodes_available, decision.episodes_aired) == (1, 2)


def test_partially_available_progress_is_the_playable_share() -> None:
    """Two of three aired episodes playable is progress 2/3."""
    decision = decide(show(aired_season(), jellyfin=PLAYABLE_S1[:2]), None, NOW)
    assert decision.progress == pytest.approx(2 / 3)


def test_show_imported_but_not_listed_waits_for_jellyfin() -> None:
    """A show whose files are imported but not listed is in the phase the nudge looks for."""
    decision = decide(show(aired_season()), None, NOW)
    assert decision.phase == "waiting_for_jellyfin"


def test_unmatched_anime_episode_past_the_deadline_is_named() -> None:
    """An anime episode Shoko cannot match past the deadline is named in the detail."""
    evidence = show([episode(1, 1, has_file=True, shoko=shoko_file(matched=False))], anime=True)
    before = current(S.ANIME_MATCHING, phase="waiting_for_shoko",
                     phase_since=NOW - timedelta(minutes=45))
    decision = decide(evidence, before, NOW)
    assert decision.state is S.ANIME_MATCHING
    assert episode_path(1, 1) in decision.detail


def test_a_client_warning_on_a_running_download_keeps_it_downloading_with_the_warning() -> None:
    """qBittorrent reporting a stalled torrent is not a step back to `indexed`."""
    from reconciler.core import DownloadFacts, download_stage
    from reconciler.models import HistoryFacts, QueueRecord

    record = QueueRecord(download_id="d1", status="warning", tracked_status="warning",
                         tracked_state="downloading", size=100.0, sizeleft=40.0,
                         messages=("The download is stalled with no connections",))
    stage = download_stage(DownloadFacts(
        arr="radarr", has_file=False, file_path=None,
        history=HistoryFacts(grabbed_at=datetime(2026, 1, 1, tzinfo=UTC)),
        queue=[record], is_anime=False, shoko_enabled=False, shoko=None,
        playable=None, in_arr=True))
    assert stage.state == "downloading"
    assert stage.progress == 0.6
    assert "stalled" in stage.detail


def test_an_episode_is_not_paired_by_number_with_an_item_of_another_shoko_episode() -> None:
    """Shokofin numbers episodes its own way (AniDB's, recaps included): a Jellyfin S01E02 that
    carries another Shoko episode id is not Sonarr's S01E02, whose file Shoko matched to its
    own episode. Only once that episode's item is listed does the show become available."""
    from dataclasses import replace

    def matched(file_id: int, shoko_episode: int) -> Any:
        return replace(shoko_file(file_id=file_id), episode_ids=(shoko_episode,))

    episodes = [episode(1, 1, has_file=True, shoko=matched(41, 3001)),
                episode(1, 2, has_file=True, shoko=matched(42, 3002))]
    recap = jf_episode(1, 2, provider_ids={"Shoko Episode": "3009"})
    listed = [jf_episode(1, 1, provider_ids={"Shoko Episode": "3001"}), recap]
    decision = decide(show(episodes, anime=True, jellyfin=listed), None, NOW)
    assert decision.state is S.PARTIALLY_AVAILABLE
    assert [e.jellyfin_item_id for e in decision.episodes] == ["jf-s1e1", None]

    second = replace(jf_episode(1, 3, provider_ids={"Shoko Episode": "3002"}), id="jf-second")
    decision = decide(show(episodes, anime=True, jellyfin=[*listed, second]), None, NOW)
    assert decision.state is S.AVAILABLE
    assert [e.jellyfin_item_id for e in decision.episodes] == ["jf-s1e1", "jf-second"]


def test_an_episode_airing_moves_a_show_back_to_the_stage_of_that_episode() -> None:
    """A newly aired episode is Sonarr's positive evidence for a step back, whatever the show's
    state: episode 1 waits for Jellyfin, episode 2 aired ten minutes ago and is not grabbed."""
    evidence = show([episode(1, 1, has_file=True), episode(1, 2, aired=ago(minutes=10))])
    before = current(S.IMPORTING, phase="waiting_for_jellyfin")
    decision = decide(evidence, before, NOW)
    assert (decision.state, decision.via, decision.transition) == (S.APPROVED, "sonarr", True)
    assert (decision.episodes_available, decision.episodes_aired) == (0, 2)

    # An episode that aired before the show entered its state is no news: the state holds.
    old = show([episode(1, 1, has_file=True), episode(1, 2, aired=ago(hours=2))])
    assert decide(old, before, NOW).held


def test_an_unmonitored_missing_episode_does_not_hold_a_show_back() -> None:
    """Sonarr unmonitors an episode whose file was deleted: it is no longer wanted, so the
    show is available once every other aired episode is playable."""
    from dataclasses import replace as _replace

    from tests.core.core_builders import episode, jf_episode, show

    kept = episode(1, 1, has_file=True)
    dropped = episode(1, 2)
    dropped = _replace(dropped, episode=_replace(dropped.episode, monitored=False))
    evidence = show([kept, dropped], jellyfin=[jf_episode(1, 1)])
    decision = decide(evidence, None, NOW)
    assert decision.state == "available"
    assert decision.episodes_aired == 1


def _unmonitored(ev: Any) -> Any:
    from dataclasses import replace as _replace

    return _replace(ev, episode=_replace(ev.episode, monitored=False))


def test_episodes_unmonitored_in_sonarr_are_left_out_and_the_detail_counts_them() -> None:
    """The operator unmonitored three aired episodes nobody will download: the requested
    season is available with the two that are playable, and the detail says why three are
    not counted. An unmonitored episode that is playable anyway still counts."""
    kept = [episode(1, 1, has_file=True), episode(1, 2, has_file=True)]
    dropped = [_unmonitored(episode(1, n)) for n in (3, 4, 5)]
    evidence = show([*kept, *dropped], jellyfin=[jf_episode(1, 1), jf_episode(1, 2)])
    decision = decide(evidence, None, NOW)
    assert (decision.state, decision.episodes_available, decision.episodes_aired) == (
        S.AVAILABLE, 2, 2)
    assert decision.detail == ("all 2 aired episodes playable in Jellyfin; "
                               "3 unmonitored episodes in Sonarr are not counted")
    assert [e.episode for e in decision.episodes] == [1, 2]

    one = show([*kept, dropped[0]], jellyfin=[jf_episode(1, 1), jf_episode(1, 2)])
    assert decide(one, None, NOW).detail.endswith(
        "; 1 unmonitored episode in Sonarr is not counted")

    playable_anyway = show([kept[0], _unmonitored(kept[1])],
                           jellyfin=[jf_episode(1, 1), jf_episode(1, 2)])
    decision = decide(playable_anyway, None, NOW)
    assert (decision.episodes_aired, decision.detail) == (
        2, "all 2 aired episodes playable in Jellyfin")


def test_a_requested_season_wholly_unmonitored_waits_and_says_so() -> None:
    evidence = show([_unmonitored(episode(1, n)) for n in (1, 2)])
    decision = decide(evidence, None, NOW)
    assert decision.state == S.APPROVED
    assert decision.detail == ("no monitored episode in the requested seasons; "
                               "2 unmonitored episodes in Sonarr are not counted")


def test_a_show_jellyseerr_could_not_send_to_sonarr_is_failed() -> None:
    from dataclasses import replace as _replace

    from tests.core.core_builders import show

    evidence = show([], with_series=False)
    evidence = _replace(evidence, request=_replace(evidence.request, status=4))
    decision = decide(evidence, None, NOW)
    assert decision.state == "failed" and decision.via == "jellyseerr"
