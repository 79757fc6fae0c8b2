"""Nudging Jellyfin (`library_for`, `plan_nudges`) and the stuck flag (`stuck_reason`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.core import (
    LIBRARY_ITEM,
    MEDIA_UPDATED,
    WHOLE_LIBRARY,
    Deadlines,
    Waiting,
    jellyfin_path,
    library_for,
    plan_nudges,
    stuck_reason,
)
from reconciler.models import Library
from reconciler.states import RequestState
from tests.core.core_builders import NOW

S = RequestState

MOVIES = Library("Movies", "lib-movies", ("/media/movies",))
ANIME_MOVIES = Library("Anime films", "lib-anime", ("/media/anime/movies",))
SHOWS = Library("Shows", "lib-shows", ("/media/tv", "/mnt/more/tv"))
LIBRARIES = [MOVIES, ANIME_MOVIES, SHOWS]

GRACE = timedelta(minutes=2)
INTERVAL = timedelta(minutes=10)


# ---------------------------------------------------------------- library_for


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/media/movies/Film (2020)/film.mkv", MOVIES, id="prefix"),
        pytest.param("/media/anime/movies/A (2020)/a.mkv", ANIME_MOVIES, id="longest-prefix"),
        pytest.param("/mnt/more/tv/Show/Season 01/e.mkv", SHOWS, id="second-location"),
        pytest.param("/data/anime/movies/A (2020)/a.mkv", ANIME_MOVIES,
                     id="other-mount-root-by-shared-folder-tail"),
        pytest.param("/DATA/Anime/Movies/A/a.mkv", ANIME_MOVIES, id="folder-tail-ignores-case"),
        pytest.param("D:\\media\\movies\\Film\\film.mkv", MOVIES, id="windows-separators"),
        pytest.param("/downloads/complete/film.mkv", None, id="no-shared-folders"),
        pytest.param("/media/moviesextra/film.mkv", None, id="prefix-stops-at-folder-boundary"),
        pytest.param(None, None, id="no-path"),
        pytest.param("", None, id="empty-path"),
    ],
)
def test_library_for(path: str | None, expected: Library | None) -> None:
    """The library holding a file: by prefix, else by shared folder tail, else none."""
    assert library_for(path, LIBRARIES) == expected


def test_library_for_prefers_a_prefix_over_a_longer_shared_tail() -> None:
    """A real prefix match wins even when another library shares more folder names."""
    deep = Library("Deep", "lib-deep", ("/srv/x/media/movies/classics",))
    shallow = Library("Shallow", "lib-shallow", ("/media",))
    assert library_for("/media/movies/classics/film.mkv", [deep, shallow]) == shallow


def test_library_for_without_libraries_is_unknown() -> None:
    """With no library list (Jellyfin did not give one) the library is unknown."""
    assert library_for("/media/movies/Film/film.mkv", []) is None


# ---------------------------------------------------------------- plan_nudges


def waiting(request_id: int, path: str | None, minutes: float = 5) -> Waiting:
    return Waiting(request_id, path, NOW - timedelta(minutes=minutes))


def plan(
    waits: list[Waiting], last: dict[str, timedelta] | None = None
) -> list[tuple[str, tuple[int, ...]]]:
    """plan_nudges with refreshes `last[key]` ago; the result as (key, request ids)."""
    refreshed = {k: NOW - ago for k, ago in (last or {}).items()}
    nudges = plan_nudges(waits, LIBRARIES, refreshed, NOW, GRACE, INTERVAL)
    return sorted((n.key, n.request_ids) for n in nudges)


def test_requests_within_the_grace_period_are_not_nudged() -> None:
    """Jellyfin gets the grace period to find a file on its own."""
    assert plan([waiting(1, "/media/movies/F/f.mkv", minutes=1)]) == []


def test_one_nudge_per_library_for_all_its_waiting_requests() -> None:
    """Two films in one library make one refresh of that library."""
    assert plan([waiting(1, "/media/movies/A/a.mkv"), waiting(2, "/media/movies/B/b.mkv")]) == [
        ("lib-movies", (1, 2))
    ]


def test_requests_in_different_libraries_nudge_each_library() -> None:
    """Files in two libraries refresh those two libraries, each once."""
    assert plan([waiting(1, "/media/movies/A/a.mkv"), waiting(2, "/media/tv/S/e.mkv")]) == [
        ("lib-movies", (1,)),
        ("lib-shows", (2,)),
    ]


def test_file_of_unknown_library_nudges_the_whole_library() -> None:
    """When the file's library cannot be found, the whole library is refreshed."""
    nudges = plan_nudges([waiting(1, "/downloads/x.mkv")], LIBRARIES, {}, NOW, GRACE, INTERVAL)
    assert [(n.library, n.key, n.label) for n in nudges] == [(None, "*", "the whole library")]


def test_library_refreshed_within_the_interval_is_not_refreshed_again() -> None:
    """At most one refresh per library per interval."""
    assert plan([waiting(1, "/media/movies/A/a.mkv")], {"lib-movies": timedelta(minutes=9)}) == []


def test_library_refreshed_before_the_interval_may_be_refreshed_again() -> None:
    """Once the interval has passed, the library may be refreshed again."""
    assert plan([waiting(1, "/media/movies/A/a.mkv")], {"lib-movies": timedelta(minutes=10)}) == [
        ("lib-movies", (1,))
    ]


def test_refresh_of_another_library_does_not_hold_this_one() -> None:
    """The rate limit is per library."""
    assert plan([waiting(1, "/media/movies/A/a.mkv")], {"lib-shows": timedelta(minutes=1)}) == [
        ("lib-movies", (1,))
    ]


def test_recent_whole_library_refresh_suppresses_library_refreshes() -> None:
    """A whole-library refresh within the interval counts for every library."""
    waits = [waiting(1, "/media/movies/A/a.mkv"), waiting(2, "/downloads/x.mkv")]
    assert plan(waits, {"*": timedelta(minutes=3)}) == []


def test_whole_library_refresh_replaces_library_refreshes_in_the_same_plan() -> None:
    """When the whole library is refreshed, no library is refreshed a second time beside it."""
    waits = [waiting(1, "/media/movies/A/a.mkv"), waiting(2, "/downloads/x.mkv")]
    assert plan(waits) == [("*", (1, 2))]


def test_whole_library_refresh_waits_for_a_recently_refreshed_library() -> None:
    """A whole-library refresh would scan a library refreshed within the interval again, so it
    waits; other libraries' own refreshes still go ahead."""
    waits = [waiting(1, "/downloads/x.mkv"), waiting(2, "/media/tv/S/e.mkv")]
    assert plan(waits, {"lib-movies": timedelta(minutes=3)}) == [("lib-shows", (2,))]


def how(waits: list[Waiting], *, scan_running: bool = False) -> list[tuple[str, str, tuple]]:
    """plan_nudges as (kind, label, paths)."""
    nudges = plan_nudges(waits, LIBRARIES, {}, NOW, GRACE, INTERVAL, scan_running=scan_running)
    return sorted((n.kind, n.label, n.paths) for n in nudges)


def test_files_under_the_library_folder_are_reported_not_the_library_refreshed() -> None:
    """Jellyfin sees the files where they are: it is told about them (Media/Updated) and scans
    only their folders."""
    assert how([waiting(1, "/media/movies/A/a.mkv"), waiting(2, "/media/movies/B/b.mkv")]) == [
        (MEDIA_UPDATED, "the new files in 'Movies'",
         ("/media/movies/A/a.mkv", "/media/movies/B/b.mkv"))]


def test_a_file_under_another_mount_root_refreshes_its_library() -> None:
    """Found by folder names only: Jellyfin would not know that path, so the library is
    refreshed."""
    assert how([waiting(1, "/data/anime/movies/A/a.mkv")]) == [
        (LIBRARY_ITEM, "'Anime films'", ())]


def test_one_file_jellyfin_would_not_know_makes_the_library_refresh_cover_all() -> None:
    """One nudge per library: when some file cannot be reported, the library refresh finds all."""
    assert how([waiting(1, "/media/anime/movies/A/a.mkv"),
                waiting(2, "/data/anime/movies/B/b.mkv")]) == [(LIBRARY_ITEM, "'Anime films'", ())]


def test_a_running_scan_holds_the_whole_library_scan_but_not_the_gentler_nudges() -> None:
    """`POST /Library/Refresh` would cancel and restart the running scan: it waits; the other
    library's report goes ahead."""
    waits = [waiting(1, "/downloads/x.mkv"), waiting(2, "/media/tv/S/e.mkv")]
    assert how(waits) == [(WHOLE_LIBRARY, "the whole library", ())]
    assert how(waits, scan_running=True) == [
        (MEDIA_UPDATED, "the new file in 'Shows'", ("/media/tv/S/e.mkv",))]
    assert how([waiting(1, "/downloads/x.mkv")], scan_running=True) == []


@pytest.mark.parametrize(("path", "library", "expected"), [
    pytest.param("/media/movies/A/a.mkv", MOVIES, "/media/movies/A/a.mkv", id="under-folder"),
    pytest.param("/mnt/more/tv/S/e.mkv", SHOWS, "/mnt/more/tv/S/e.mkv", id="second-folder"),
    pytest.param("/data/movies/A/a.mkv", MOVIES, None, id="another-mount-root"),
    pytest.param("/media/moviesextra/a.mkv", MOVIES, None, id="folder-boundary"),
    pytest.param("/media/movies/A/a.mkv", None, None, id="no-library"),
    pytest.param(None, MOVIES, None, id="no-path"),
])
def test_jellyfin_path(path: str | None, library: Library | None, expected: str | None) -> None:
    assert jellyfin_path(path, library) == expected


def test_request_already_nudged_in_this_wait_is_not_nudged_again() -> None:
    """One refresh per wait, then patience: a nudged request does not cause another scan."""
    waits = [Waiting(1, "/media/movies/A/a.mkv", NOW - timedelta(hours=1), nudged=True)]
    assert plan(waits) == []


# ---------------------------------------------------------------- stuck_reason

DEADLINES = Deadlines()


def stuck(
    state: RequestState,
    phase: str = "",
    *,
    since: timedelta,
    phase_since: timedelta | None = None,
    progress_since: timedelta | None = None,
    deadlines: Deadlines = DEADLINES,
) -> str | None:
    """stuck_reason with every moment given as how long ago."""
    return stuck_reason(
        state,
        phase,
        NOW - since,
        None if phase_since is None else NOW - phase_since,
        None if progress_since is None else NOW - progress_since,
        NOW,
        deadlines,
    )


@pytest.mark.parametrize(
    ("state", "phase", "deadline", "reason"),
    [
        (S.APPROVED, "waiting_for_grab", timedelta(hours=6), "no release grabbed"),
        (S.INDEXED, "grabbed", timedelta(hours=2), "the download has not started"),
        (S.DOWNLOADING, "downloading", timedelta(hours=2), "no download progress"),
        (S.DOWNLOAD_DONE, "download_done", timedelta(minutes=30), "not imported"),
        (S.IMPORTING, "importing", timedelta(minutes=30), "import not finished"),
        (S.ANIME_MATCHING, "waiting_for_shoko", timedelta(minutes=30),
         "Shoko has not matched the file"),
        (S.IMPORTING, "waiting_for_jellyfin", timedelta(minutes=15), "Jellyfin has not listed it"),
        (S.ANIME_MATCHING, "waiting_for_jellyfin", timedelta(minutes=15),
         "Jellyfin has not listed it"),
    ],
)
def test_stuck_at_the_state_deadline_and_not_before(
    state: RequestState, phase: str, deadline: timedelta, reason: str
) -> None:
    """Each waiting state is flagged stuck from its own deadline on, with a reason."""
    assert stuck(state, phase, since=deadline - timedelta(seconds=1)) is None
    flagged = stuck(state, phase, since=deadline)
    assert flagged is not None and reason in flagged


@pytest.mark.parametrize(
    "state",
    [S.REQUESTED, S.AVAILABLE, S.PARTIALLY_AVAILABLE, S.FAILED, S.DECLINED, S.DELETED],
)
def test_settled_or_human_states_are_never_stuck(state: RequestState) -> None:
    """Requested (waits for a person), finished and final states carry no stuck flag."""
    assert stuck(state, state.value, since=timedelta(days=30)) is None


def test_stuck_reason_says_how_long_and_the_limit() -> None:
    """The reason gives the time waited and the deadline."""
    assert stuck(S.DOWNLOAD_DONE, since=timedelta(minutes=95)) == (
        "not imported after 30 min"
    )


def test_download_stuck_counts_from_the_last_progress() -> None:
    """A long download that is still progressing is not stuck; one without progress is."""
    assert stuck(S.DOWNLOADING, since=timedelta(hours=5),
                 progress_since=timedelta(minutes=10)) is None
    reason = stuck(S.DOWNLOADING, since=timedelta(hours=5), progress_since=timedelta(hours=3))
    assert reason == "no download progress in 2 h"


def test_waiting_for_jellyfin_counts_from_the_phase_not_the_state() -> None:
    """Anime matched by Shoko 5 min ago is not stuck though anime_matching began an hour ago."""
    assert stuck(S.ANIME_MATCHING, "waiting_for_jellyfin", since=timedelta(hours=1),
                 phase_since=timedelta(minutes=5)) is None


def test_waiting_for_jellyfin_has_its_own_deadline() -> None:
    """The Jellyfin deadline applies, not the importing one."""
    shorter = Deadlines(importing=timedelta(hours=5), waiting_for_jellyfin=timedelta(minutes=1))
    reason = stuck(S.IMPORTING, "waiting_for_jellyfin", since=timedelta(minutes=2),
                   phase_since=timedelta(minutes=2), deadlines=shorter)
    assert reason == "Jellyfin has not listed it after 1 min"
    assert stuck(S.IMPORTING, "importing", since=timedelta(minutes=2), deadlines=shorter) is None


def test_configured_deadlines_are_used() -> None:
    """A shorter configured deadline flags sooner."""
    quick = Deadlines(approved=timedelta(minutes=10))
    assert stuck(S.APPROVED, since=timedelta(minutes=11), deadlines=quick) is not None
    assert stuck(S.APPROVED, since=timedelta(minutes=11)) is None
