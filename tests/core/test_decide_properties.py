"""Properties of `core.decide` over generated evidence (hypothesis).

(a) idempotent: deciding again on the same evidence with the resulting state is no transition;
(b) never available without a playable Jellyfin item carrying one of the request's ids;
(c) a service the request depends on that did not answer holds a recorded state.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconciler.core import (
    Current,
    Decision,
    EpisodeEvidence,
    Evidence,
    JellyfinMatch,
    decide,
    film_match_ids,
    match_episode,
    match_item,
)
from reconciler.models import (
    HistoryFacts,
    JellyfinItem,
    MediaType,
    QueueRecord,
    RadarrMovie,
    SeerrStatus,
    ShokoFile,
    SonarrEpisode,
)
from reconciler.registry import SERVICES
from reconciler.states import Phase, RequestState
from tests.core.core_builders import NOW, TMDB, seerr, series

PROPS = settings(max_examples=100, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow])
QUICK = settings(PROPS, max_examples=40)  # for the properties that vary one thing of (a)-(c)

# Times around NOW, on the second or with a fraction (as .NET's seven digits parse), or missing.
MOMENTS = [NOW + timedelta(minutes=m) for m in (-600, -120, -61, -59, -30, -5, -1, 0, 5)]
moments = st.sampled_from(MOMENTS)
stamps = st.one_of(
    st.none(),
    moments,
    moments.map(lambda t: t.replace(microsecond=123456)),
)
AIRED = datetime(2025, 1, 1, 20, 0, tzinfo=UTC)
NOT_ANNOUNCED_YET = datetime(2099, 1, 1, tzinfo=UTC)

histories = st.builds(
    HistoryFacts,
    grabbed_at=stamps,
    grabbed_title=st.sampled_from([None, "Release.1080p"]),
    failed_at=stamps,
    failed_message=st.sampled_from([None, "stalled"]),
    imported_at=stamps,
    file_deleted_at=stamps,
)

queue_records = st.builds(
    QueueRecord,
    download_id=st.sampled_from(["D1", "D2"]),
    status=st.sampled_from(["queued", "paused", "downloading", "completed", "failed", "warning",
                            "delay", "Downloading", "unknown"]),
    tracked_status=st.sampled_from(["ok", "warning", "error"]),
    tracked_state=st.sampled_from(["downloading", "importPending", "importBlocked", "importing",
                                   "imported", "failedPending", "failed"]),
    size=st.sampled_from([0.0, 100.0, 4e9]),
    sizeleft=st.sampled_from([0.0, 25.0, 100.0, 4e9]),
    messages=st.lists(st.sampled_from(["Unable to parse file", "stalled"]), max_size=2)
    .map(tuple),
)
queues = st.lists(queue_records, max_size=3).map(tuple)

radarr_movies = st.builds(
    RadarrMovie,
    id=st.just(7),
    tmdb_id=st.just(TMDB),
    title=st.just("Film"),
    has_file=st.booleans(),
    file_path=st.sampled_from([None, "/data/movies/Film/film.mkv", "/data/anime/movies/A/a.mkv"]),
)

shoko_files = st.builds(
    ShokoFile,
    id=st.sampled_from([41, 42]),
    relative_path=st.just("/A/a.mkv"),
    series_ids=st.sampled_from([(), (301,)]),
    episode_ids=st.sampled_from([(), (3001,)]),
    anidb_series_ids=st.sampled_from([(), (15199,)]),
    anidb_episode_ids=st.sampled_from([(), (230001,)]),
)

# ProviderId keys in the casings Jellyfin and Shokofin use (and some they might), with the
# request's values and near misses.
KEYS = ["Tmdb", "TMDB", "tmdb", "TheMovieDb", "themoviedb", "Imdb", "Tvdb", "Shoko File",
        "shoko file", "Shoko Episode", "Shoko Series", "AniDB", "anidb"]
VALUES = [str(TMDB), str(TMDB), "6030", "41", "42", "3001", "301", "15199", "230001", "",
          " 603 "]
# Ids a request's item may carry, in the casings seen in the wild.
RIGHT_IDS = [{"Tmdb": str(TMDB)}, {"TheMovieDb": str(TMDB)}, {"tmdb": f" {TMDB} "},
             {"Shoko File": "41"}, {"Shoko Episode": "3001"}, {"shoko series": "301"},
             {"AniDB": "15199"}, {"AniDB": "230001"}, {"Tmdb": str(TMDB), "Imdb": "tt0133093"}]
provider_ids = st.one_of(
    st.sampled_from(RIGHT_IDS),
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3),
)


def weighted(common: object, *others: object) -> st.SearchStrategy:
    """`common` half the time, else one of `others`."""
    return st.sampled_from([common] * len(others) + list(others))


def jellyfin_items(
    season: int | None = None, number: int | None = None
) -> st.SearchStrategy[JellyfinItem]:
    """Items of any type and location; for an episode, mostly carrying its numbers."""
    is_episode = season is not None
    return st.builds(
        JellyfinItem,
        id=st.sampled_from(["a", "b", "c"]),
        type=weighted("Episode" if is_episode else "Movie", "Movie", "Series", "Episode",
                      "Season", "Video"),
        name=st.just("Film"),
        location_type=weighted("FileSystem", None, "Virtual", "Remote", "Offline"),
        is_placeholder=weighted(False, True),
        path=weighted("/media/film.mkv", None, ""),
        season=weighted(season, None, 1, 2) if is_episode else st.none(),
        episode=weighted(number, None, 1, 2, 3) if is_episode else st.none(),
        episode_end=st.sampled_from([None, None, None, 2, 3]),
        provider_ids=provider_ids,
    )


def listed_items(
    season: int | None = None, number: int | None = None
) -> st.SearchStrategy[JellyfinItem]:
    """Real files in Jellyfin's index (a Movie, or an Episode with these numbers)."""
    is_episode = season is not None
    return st.builds(
        JellyfinItem,
        id=st.sampled_from(["a", "b", "c"]),
        type=st.just("Episode" if is_episode else "Movie"),
        name=st.just("Film"),
        location_type=st.sampled_from(["FileSystem", "Remote"]),
        path=st.just("/media/film.mkv"),
        season=st.just(season),
        episode=st.just(number),
        provider_ids=provider_ids,
    )


def indexed_items(
    season: int | None = None, number: int | None = None
) -> st.SearchStrategy[list[JellyfinItem]]:
    """What Jellyfin's index holds: real files and anything else."""
    return st.lists(st.one_of(listed_items(season, number), jellyfin_items(season, number)),
                    max_size=3)


recorded_states = st.builds(
    Current,
    state=st.sampled_from(list(RequestState)),
    since=moments,
    detail=st.sampled_from(["", "before"]),
    phase=st.sampled_from([None, Phase.WAITING_FOR_SHOKO, Phase.WAITING_FOR_JELLYFIN,
                           Phase.DOWNLOADING]),
    phase_since=st.one_of(st.none(), moments),
)
currents = st.one_of(st.none(), recorded_states)
# Mostly every service answered; sometimes some did not.
unknowns = weighted(frozenset(), *(frozenset({s}) for s in SERVICES),
                    frozenset({"shoko", "jellyfin"}))
statuses = weighted(SeerrStatus.APPROVED, SeerrStatus.PENDING, SeerrStatus.DECLINED,
                    SeerrStatus.FAILED, SeerrStatus.COMPLETED, SeerrStatus.APPROVED)
seerr_deleted = weighted(False, False, False, True)


def matches(
    chosen: JellyfinMatch | None, direct: st.SearchStrategy[JellyfinItem]
) -> st.SearchStrategy[JellyfinMatch | None]:
    """The match the cycle would pass (`chosen`), none, or any item handed in directly."""
    handed = st.builds(JellyfinMatch, item=direct, key=st.sampled_from(KEYS))
    return st.one_of(st.just(chosen), st.just(chosen), st.none(), handed)


@st.composite
def films(draw: st.DrawFn) -> Evidence:
    """A film's evidence. The Jellyfin match is chosen from random items by match_item (as the
    cycle does), or absent, or any random item handed in directly."""
    shoko = draw(st.one_of(st.none(), shoko_files))
    chosen = match_item(draw(indexed_items()), film_match_ids(TMDB, shoko), "Movie")
    return Evidence(
        request=seerr(draw(statuses)),
        seerr_deleted=draw(seerr_deleted),
        is_anime=draw(st.booleans()),
        shoko_enabled=draw(st.booleans()),
        movie=draw(st.one_of(st.none(), radarr_movies)),
        movie_history=draw(histories),
        queue=draw(queues),
        shoko=shoko,
        jellyfin=draw(matches(chosen, jellyfin_items())),
        unknown=draw(unknowns),
    )


@st.composite
def shows(draw: st.DrawFn) -> Evidence:
    """A show's evidence: up to three episodes over seasons 0-2, each matched by match_episode
    from random items (mostly numbered like it), or absent, or any random item handed in."""
    episodes = []
    for n, season in enumerate(draw(st.lists(weighted(1, 0, 1, 2), max_size=3))):
        shoko = draw(st.one_of(st.none(), shoko_files))
        ep = SonarrEpisode(
            id=n, series_id=9, season=season, episode=n + 1,
            air_date_utc=draw(weighted(AIRED, None, NOT_ANNOUNCED_YET, *MOMENTS[-3:])),
            has_file=draw(st.booleans()),
            file_path=f"/data/tv/S/{n}.mkv",
        )
        candidates = draw(indexed_items(season, n + 1))
        chosen = match_episode(candidates, season, n + 1, shoko.episode_ids if shoko else ())
        episodes.append(EpisodeEvidence(
            episode=ep, history=draw(histories), queue=draw(queues), shoko=shoko,
            jellyfin=draw(matches(chosen, jellyfin_items(season, n + 1))),
        ))
    request = seerr(draw(statuses), MediaType.TV, draw(st.sampled_from([(), (1,), (1, 2)])))
    return Evidence(
        request=request,
        seerr_deleted=draw(seerr_deleted),
        is_anime=draw(st.booleans()),
        shoko_enabled=draw(st.booleans()),
        series=draw(weighted(series((1,)), None, series((0, 1, 2)))),
        episodes=tuple(episodes),
        unknown=draw(unknowns),
    )


requests = st.one_of(films(), shows())

# Evidence aimed at the branch properties (b) are about: Jellyseerr approved the request, it is
# not gone, every service it depends on answered (or only Shoko did not), and Jellyfin's index
# holds real files, so that most examples are decided available and (b) has something to check.
def mostly(aimed: st.SearchStrategy[Evidence],
           general: st.SearchStrategy[Evidence]) -> st.SearchStrategy[Evidence]:
    """`aimed` mostly, else `general` (so nothing else goes unexplored). Hypothesis favours
    the ends of a range, so the rare pick is one from its middle."""
    return st.integers(0, 6).flatmap(lambda n: general if n == 3 else aimed)


seerr_approved = st.sampled_from([SeerrStatus.APPROVED, SeerrStatus.COMPLETED])
answered = weighted(frozenset(), frozenset(), frozenset({"shoko"}))
# Real files, most carrying the film's TMDB id (the common case), else any ids.
film_files = st.builds(
    JellyfinItem,
    id=st.sampled_from(["a", "b", "c"]),
    type=st.just("Movie"),
    name=st.just("Film"),
    location_type=st.sampled_from(["FileSystem", "Remote"]),
    path=st.just("/media/film.mkv"),
    provider_ids=st.integers(0, 4).flatmap(
        lambda n: provider_ids if n == 2 else st.sampled_from(RIGHT_IDS[:3])),
)


@st.composite
def films_in_jellyfin(draw: st.DrawFn) -> Evidence:
    """A film Jellyfin most likely lists: the match chosen by match_item from real files (most
    carrying one of the film's ids), or any random item handed in directly."""
    shoko = draw(st.one_of(st.none(), shoko_files))
    items = draw(st.lists(film_files, min_size=1, max_size=3))
    chosen = match_item(items, film_match_ids(TMDB, shoko), "Movie")
    handed = st.builds(JellyfinMatch, item=jellyfin_items(), key=st.sampled_from(KEYS))
    return Evidence(
        request=seerr(draw(seerr_approved)),
        is_anime=draw(st.booleans()),
        shoko_enabled=draw(st.booleans()),
        movie=draw(st.one_of(st.none(), radarr_movies)),
        movie_history=draw(histories),
        queue=draw(queues),
        shoko=shoko,
        # Now and then any item handed in, which decide must check itself.
        jellyfin=draw(handed) if draw(st.integers(0, 6)) == 3 else chosen,
        unknown=draw(answered),
    )


@st.composite
def shows_in_jellyfin(draw: st.DrawFn) -> Evidence:
    """A show whose requested episodes have mostly aired and are mostly listed in Jellyfin,
    each matched by match_episode from real files numbered like it (or not matched)."""
    episodes = []
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        shoko = draw(st.one_of(st.none(), shoko_files))
        ep = SonarrEpisode(
            id=n, series_id=9, season=1, episode=n + 1,
            air_date_utc=draw(weighted(AIRED, NOT_ANNOUNCED_YET, MOMENTS[0])),
            has_file=draw(st.booleans()),
            file_path=f"/data/tv/S/{n}.mkv",
        )
        candidates = draw(st.lists(listed_items(1, n + 1), min_size=1, max_size=2))
        chosen = match_episode(candidates, 1, n + 1, shoko.episode_ids if shoko else ())
        episodes.append(EpisodeEvidence(
            episode=ep, history=draw(histories), queue=draw(queues), shoko=shoko,
            jellyfin=None if draw(st.integers(0, 6)) == 3 else chosen,
        ))
    return Evidence(
        request=seerr(draw(seerr_approved), MediaType.TV, draw(st.sampled_from([(), (1,)]))),
        is_anime=draw(st.booleans()),
        shoko_enabled=draw(st.booleans()),
        series=series((1,)),
        episodes=tuple(episodes),
        unknown=draw(answered),
    )


def recorded(decision: Decision, before: Current | None, now: datetime) -> Current:
    """The state as the cycle records it after `decision` (`reconciler.cycle.apply`)."""
    if before is None:
        return Current(decision.state, now, decision.detail, decision.phase, now)
    if decision.held:
        return before
    return Current(
        state=decision.state,
        since=now if decision.transition else before.since,
        detail=decision.detail,
        phase=decision.phase,
        phase_since=now if decision.phase != before.phase else before.phase_since,
    )


# ---------------------------------------------------------------- (a) idempotence


@PROPS
@given(evidence=requests, before=currents)
def test_same_evidence_again_is_no_transition(evidence: Evidence, before: Current | None) -> None:
    """Deciding again with the resulting state and the same evidence changes nothing."""
    first = decide(evidence, before, NOW)
    again = decide(evidence, recorded(first, before, NOW), NOW)
    assert again.transition is False
    assert again.state is first.state


@QUICK
@given(evidence=films(), before=currents, later=st.sampled_from([1, 31, 600]))
def test_film_state_is_stable_over_time_on_the_same_evidence(
    evidence: Evidence, before: Current | None, later: int
) -> None:
    """For a film the passing of time alone never changes the state (only details may)."""
    first = decide(evidence, before, NOW)
    then = NOW + timedelta(minutes=later)
    again = decide(evidence, recorded(first, before, NOW), then)
    assert again.transition is False
    assert again.state is first.state


# ---------------------------------------------------------------- (b) available needs Jellyfin


def carries_request_id(item: JellyfinItem, evidence: Evidence) -> bool:
    """The item carries the film's TMDB id, or (for Shokofin) its Shoko or AniDB ids."""
    shoko = evidence.shoko
    wanted = {("tmdb", str(evidence.request.tmdb_id))}
    if shoko is not None:
        if shoko.matched:
            wanted.add(("shoko file", str(shoko.id)))
        wanted |= {("shoko episode", str(i)) for i in shoko.episode_ids}
        wanted |= {("shoko series", str(i)) for i in shoko.series_ids}
        wanted |= {("anidb", str(i)) for i in shoko.anidb_series_ids + shoko.anidb_episode_ids}
    keys = {"tmdb": "tmdb", "themoviedb": "tmdb"}
    carried = {(keys.get(k.lower(), k.lower()), v.strip()) for k, v in item.provider_ids.items()}
    return bool(carried & wanted)


@PROPS
@given(evidence=mostly(films_in_jellyfin(), films()), before=currents)
def test_film_is_never_available_without_a_playable_item_carrying_its_ids(
    evidence: Evidence, before: Current | None
) -> None:
    """A film is decided available only with a playable Movie item carrying one of its ids."""
    decision = decide(evidence, before, NOW)
    decided = decision.state is RequestState.AVAILABLE and not decision.held
    event("film decided available" if decided else "film not available")
    if decided:
        match = evidence.jellyfin
        assert match is not None
        assert match.item.is_playable
        assert match.item.type == "Movie"
        assert carries_request_id(match.item, evidence)
        assert decision.jellyfin_item_id == match.item.id


@PROPS
@given(evidence=mostly(shows_in_jellyfin(), shows()), before=currents)
def test_show_is_never_available_unless_every_aired_requested_episode_is_playable(
    evidence: Evidence, before: Current | None
) -> None:
    """A show is decided available only when each requested, aired episode has a playable
    Jellyfin episode, and at least one has aired."""
    decision = decide(evidence, before, NOW)
    decided = decision.state is RequestState.AVAILABLE and not decision.held
    event("show decided available" if decided else "show not available")
    if not decided:
        return
    assert evidence.series is not None
    seasons = set(evidence.request.seasons) or set(evidence.series.monitored_seasons) - {0}
    requested = [e for e in evidence.episodes if e.episode.season in seasons]
    assert any(e.jellyfin is not None for e in requested)
    for ev in requested:
        aired = ev.episode.air_date_utc
        if aired is not None and aired <= NOW:
            assert ev.jellyfin is not None
            assert ev.jellyfin.item.is_playable
            assert ev.jellyfin.item.type == "Episode"


# ---------------------------------------------------------------- (c) unknown holds


@st.composite
def partly_unknown(draw: st.DrawFn) -> Evidence:
    """Evidence where at least one service the request depends on did not answer."""
    evidence = draw(requests)
    missing = draw(st.sampled_from(sorted(evidence.depends_on())))
    return replace(evidence, unknown=evidence.unknown | {missing})


@PROPS
@given(evidence=partly_unknown(), before=recorded_states)
def test_an_unknown_dependency_holds_the_recorded_state(
    evidence: Evidence, before: Current
) -> None:
    """With a service the request depends on unknown, the state neither moves back nor on,
    unless a reachable Jellyseerr itself says the request was declined, deleted or is pending."""
    decision = decide(evidence, before, NOW)
    seerr_says = evidence.seerr_deleted or evidence.request.status in (
        SeerrStatus.PENDING, SeerrStatus.DECLINED)
    if seerr_says and "jellyseerr" not in evidence.unknown:
        return
    assert decision.transition is False
    assert decision.state is before.state
    assert decision.held is True


@QUICK
@given(evidence=requests, before=recorded_states)
def test_unknown_jellyseerr_never_moves_a_recorded_request(
    evidence: Evidence, before: Current
) -> None:
    """Without Jellyseerr's answer, not even a deletion or a decline is recorded."""
    evidence = replace(evidence, unknown=evidence.unknown | {"jellyseerr"})
    decision = decide(evidence, before, NOW)
    assert (decision.state, decision.transition) == (before.state, False)
