"""A household's requests in every kind of state, written straight into a store: for the page
tests and the README's screenshots (`python -m tests.web.screenshots`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.config import Config, load_config
from reconciler.models import MediaType
from reconciler.states import RequestState
from reconciler.store import EpisodeRow, RequestRow, Store

S = RequestState
NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
KEYS = {"jellyseerr": "seerr-secret-0001", "radarr": "radarr-secret-0002",
        "sonarr": "sonarr-secret-0004", "jellyfin": "jellyfin-secret-0003"}


def write_config(folder: Path, http_extra: str = "") -> Config:
    text = f"""
[reconciler]
database = "{folder / 'reconciler.db'}"

[jellyseerr]
url = "http://127.0.0.1:5055"
api_key = "{KEYS['jellyseerr']}"

[radarr]
url = "http://127.0.0.1:7878"
api_key = "{KEYS['radarr']}"

[sonarr]
url = "http://127.0.0.1:8989"
api_key = "{KEYS['sonarr']}"

[jellyfin]
url = "http://127.0.0.1:8096"
api_key = "{KEYS['jellyfin']}"

[http]
listen = "127.0.0.1:9105"
{http_extra}
"""
    path = folder / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return load_config(path)


def row(rid: int, state: RequestState, title: str, *, tv: bool = False,
        **fields: object) -> RequestRow:
    base = RequestRow(
        id=rid, media_type=MediaType.TV if tv else MediaType.MOVIE, title=title, tmdb_id=1000 + rid,
        tvdb_id=2000 + rid if tv else None, is4k=False, is_anime=False, seerr_status=2,
        seasons=[1] if tv else [], radarr_movie_id=None if tv else rid,
        sonarr_series_id=rid if tv else None, jellyfin_item_id=None, jellyfin_key=None,
        shoko_ids={}, state=state, state_since=NOW - timedelta(minutes=10 * rid), via="radarr",
        detail=state.value, progress=None, phase=None, phase_since=None, progress_since=None,
        stuck_reason=None, stuck_since=None, episodes_available=None, episodes_aired=None,
        absent_count=0, created_at=NOW - timedelta(hours=30 - rid),
        updated_at=None,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def household(hostile: bool = True) -> list[RequestRow]:
    """Ten requests from three people: the ones a family would see on a Friday evening (with
    `hostile`, one title is markup, for the escaping tests)."""
    return [
        row(1, S.AVAILABLE, "The Matrix", via="jellyfin", requested_by="Ben", year=1999,
            detail="playable in Jellyfin (matched by tmdb)", jellyfin_item_id="a1",
            jellyfin_key="tmdb"),
        row(2, S.DOWNLOADING, "Dune: Part Two", progress=0.42, detail="downloading 42%",
            requested_by="Anna", year=2024, eta=NOW + timedelta(minutes=85)),
        row(3, S.IMPORTING, "Paddington in Peru", phase="waiting_for_jellyfin",
            requested_by="Mia", year=2024,
            detail="imported (/media/films/Paddington in Peru (2024)); waiting for Jellyfin"),
        row(4, S.REQUESTED, "Wallace & Gromit: Vengeance Most Fowl", via="jellyseerr",
            detail="waiting for approval", seerr_status=1, requested_by="Mia", year=2024),
        row(5, S.PARTIALLY_AVAILABLE, "Slow Horses", tv=True, via="jellyfin",
            detail="7 of 10 episodes playable", episodes_available=7, episodes_aired=10,
            requested_by="Ben", year=2022),
        row(6, S.DOWNLOADING, "The Wild Robot", progress=0.05, detail="downloading 5%",
            stuck_reason="no download progress for 2 h 10 min",
            stuck_since=NOW - timedelta(minutes=40), requested_by="Mia", year=2024),
        row(7, S.FAILED, "Heretic", detail="download failed: not enough disk space",
            requested_by="Anna", year=2024),
        row(8, S.APPROVED, "The Odyssey", detail="approved; waiting for Radarr to grab a release",
            requested_by="Anna", year=2026, release_date=datetime(2027, 3, 14, tzinfo=UTC)),
        row(9, S.ANIME_MATCHING, "Frieren: Beyond Journey's End", tv=True, is_anime=True,
            via="shoko", phase="waiting_for_shoko",
            detail="imported; waiting for Shoko to match the file", episodes_available=0,
            episodes_aired=2, requested_by="Ben", year=2023),
        row(10, S.DECLINED,
            "<script>alert('owned')</script>" if hostile else "Venom: The Last Dance",
            via="jellyseerr", detail="declined in Jellyseerr", requested_by="Ben", year=2024),
    ]


def fill(store: Store, hostile: bool = True) -> None:
    """Write `household()` with timelines, episodes and a poll per service."""
    with store.transaction():
        for r in household(hostile):
            store.save_request(r, None)
            store.add_timeline(r.id, NOW - timedelta(hours=30 - r.id), None, "requested",
                               "jellyseerr", "requested in Jellyseerr")
            if r.state is not S.REQUESTED and r.state is not S.DECLINED:
                store.add_timeline(r.id, NOW - timedelta(hours=29 - r.id), "requested",
                                   "approved", "jellyseerr", "approved in Jellyseerr")
            if r.state not in (S.REQUESTED, S.APPROVED):
                store.add_timeline(r.id, r.state_since, "approved", r.state.value,
                                   r.via or "radarr", r.detail or "")
        store.save_episodes(5, [
            EpisodeRow(1, n, 500 + n, NOW - timedelta(days=7 * (10 - n)),
                       "available" if n <= 7 else "downloading", "jellyfin" if n <= 7
                       else "sonarr", None)
            for n in range(1, 11)
        ] + [EpisodeRow(1, 11, 511, NOW + timedelta(days=8), "approved",
                        None, None)])
        store.save_episodes(9, [
            EpisodeRow(1, n, 900 + n, NOW - timedelta(days=30),
                       "anime_matching", "shoko", None) for n in (1, 2)
        ])
        for name in ("jellyseerr", "radarr", "sonarr", "jellyfin"):
            store.record_poll(name, NOW - timedelta(seconds=2), NOW - timedelta(seconds=1),
                              True, None, 2, 100)


def wait_for_posters(base: str, count: int, timeout: float = 30.0) -> None:
    """Wait until the page at `base` shows at least `count` posters (the daemon fetches them in
    the background, after its cycles)."""
    import httpx

    from tests.daemon.daemon_support import wait_until

    def shown() -> bool:
        html = httpx.get(base + "/?state=", timeout=5).text
        return html.count('<img class="poster') >= count

    wait_until(shown, timeout=timeout, what=f"{count} posters on the page")
