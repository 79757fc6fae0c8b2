"""The person who asked is told: the cycle against the simulated stack, the notifier sending to
fake Apprise targets (`json://` to a local HTTP server). One notice per film once Jellyfin
plays it, one per episode count a show reaches, none before, none twice, none to the others,
and the URLs (which hold tokens) never in a log line or the database."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from reconciler.cycle import Reconciler
from reconciler.notify import notifier_for
from reconciler.store import Store
from reconciler.views import request_json
from simstack import SimulatedStack, World
from tests.daemon.daemon_support import AppriseTarget, write_config

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


@pytest.fixture
def targets() -> Iterator[dict[str, AppriseTarget]]:
    made = {name: AppriseTarget() for name in ("operator", "anna", "ben")}
    try:
        yield made
    finally:
        for target in made.values():
            target.close()


def with_password(target: AppriseTarget, password: str) -> str:
    """The target's URL with basic-auth credentials in it, as real Apprise URLs carry tokens."""
    return target.url.replace("json://", f"json://user:{password}@")


async def poll_round(reconciler: Reconciler, services: tuple[str, ...]) -> None:
    for service in services:
        await reconciler.cycle(services=[service])


def test_each_requester_is_told_once_when_their_film_plays(
        tmp_path: Path, world: World, targets: dict[str, AppriseTarget]) -> None:
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin")) as stack:
        anna_url = with_password(targets["anna"], "anna-secret-token")
        config = write_config(stack, tmp_path, extra=f"""
[notify]
urls = ["{targets['operator'].url}"]
on = ["available"]

[notify.users]
Anna = "{anna_url}"
"BEN@example.org" = ["{with_password(targets['ben'], 'ben-secret-token')}"]
""")
        store = Store.open(config.database)
        reconciler = Reconciler(config, store)
        notifier = notifier_for(config.model.notify, store, retry_base=0.0)
        assert notifier is not None
        notifier.attach(reconciler)
        anna = world.jellyseerr.add_user("anna")
        ben = world.jellyseerr.add_user("benjamin", email="ben@example.org")
        matrix = world.jellyseerr.add_request(603, "movie", "The Matrix", requested_by=anna)
        heat = world.jellyseerr.add_request(949, "movie", "Heat", requested_by=ben)
        admins = world.jellyseerr.add_request(105, "movie", "Back to the Future")
        films = {603: ("The Matrix", 1999), 949: ("Heat", 1995),
                 105: ("Back to the Future", 1985)}
        movie_ids = {tmdb: world.radarr.add_movie(tmdb, title, year=year)
                     for tmdb, (title, year) in films.items()}
        services = ("jellyseerr", "radarr", "jellyfin")

        async def scenario() -> None:
            await poll_round(reconciler, services)
            assert await notifier.send_pending() == 0  # approved: nothing to tell
            for movie_id in movie_ids.values():
                world.radarr.import_file(movie_id)
            await poll_round(reconciler, services)
            assert await notifier.send_pending() == 0  # imported, not playable yet
            for tmdb, (title, year) in films.items():
                world.jellyfin.add_movie(title, tmdb_id=tmdb, year=year)
            await poll_round(reconciler, services)
            assert await notifier.send_pending() == 5  # the operator's 3, Anna's, Ben's
            await poll_round(reconciler, services)
            assert await notifier.send_pending() == 0
            await reconciler.aclose()

        with capture_logs() as logs:
            asyncio.run(scenario())
        rows = {r.id: r for r in store.requests()}
        store.close()
    assert targets["anna"].titles() == ["The Matrix is ready to watch"]
    assert "The Matrix (1999), which you requested" in targets["anna"].messages[0]["message"]
    assert targets["ben"].titles() == ["Heat is ready to watch"]
    assert sorted(targets["operator"].titles()) == [
        "Back to the Future is available", "Heat is available", "The Matrix is available"]
    assert (rows[matrix].requested_by, rows[heat].requested_by) == ("anna", "benjamin")
    assert rows[admins].requested_by == "admin"
    assert "ben@example.org" in rows[heat].requester_keys
    assert request_json(rows[heat])["requested_by"] == "benjamin"
    assert "ben@example.org" not in json.dumps(request_json(rows[heat]))  # matching only
    text = json.dumps([dict(e) for e in logs], default=str)
    assert "anna-secret-token" not in text and "ben-secret-token" not in text
    conn = sqlite3.connect(config.database)
    dumped = "\n".join(conn.iterdump())
    conn.close()
    assert "anna-secret-token" not in dumped and "ben-secret-token" not in dumped


def test_a_show_tells_its_requester_each_time_it_gains_episodes(
        tmp_path: Path, world: World, targets: dict[str, AppriseTarget]) -> None:
    with SimulatedStack(world, services=("jellyseerr", "sonarr", "jellyfin")) as stack:
        config = write_config(stack, tmp_path, extra=f"""
[notify.users]
anna = "{targets['anna'].url}"
""")
        store = Store.open(config.database)
        reconciler = Reconciler(config, store)
        notifier = notifier_for(config.model.notify, store, retry_base=0.0)
        assert notifier is not None
        notifier.attach(reconciler)
        anna = world.jellyseerr.add_user("anna")
        world.jellyseerr.add_request(1399, "tv", "Slow Horses", tvdb_id=121361, seasons=[1],
                                     requested_by=anna)
        sid = world.sonarr.add_series(121361, "Slow Horses", tmdb_id=1399, seasons={1: 4},
                                      year=2022)
        series_item = world.jellyfin.add_series("Slow Horses", tvdb_id=121361, tmdb_id=1399)
        episodes = world.sonarr.episode_ids(sid, season=1)
        services = ("jellyseerr", "sonarr", "jellyfin")

        async def step(*numbers: int) -> int:
            for n in numbers:
                world.sonarr.import_file(sid, [episodes[n - 1]])
                world.jellyfin.add_episode(series_item, 1, n)
            await poll_round(reconciler, services)
            return await notifier.send_pending()

        async def scenario() -> list[int]:
            sent = [await step()]
            sent.append(await step(1, 2))
            sent.append(await step())  # nothing new: nothing sent
            sent.append(await step(3))
            sent.append(await step(4))
            await reconciler.aclose()
            return sent

        sent = asyncio.run(scenario())
        store.close()
    assert sent == [0, 1, 0, 1, 1]
    assert targets["anna"].titles() == ["Slow Horses: 2 episodes ready to watch",
                                        "Slow Horses: 3 episodes ready to watch",
                                        "Slow Horses is ready to watch"]
    assert "2 of 4 aired episodes of Slow Horses (2022)" in \
        targets["anna"].messages[0]["message"]
    assert "All 4 aired episodes" in targets["anna"].messages[2]["message"]


def test_a_failed_notice_is_retried_until_it_is_delivered(
        tmp_path: Path, world: World, targets: dict[str, AppriseTarget]) -> None:
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin")) as stack:
        config = write_config(stack, tmp_path, extra=f"""
[notify.users]
anna = "{targets['anna'].url}"
""")
        store = Store.open(config.database)
        reconciler = Reconciler(config, store)
        notifier = notifier_for(config.model.notify, store, retry_base=0.0)
        assert notifier is not None
        notifier.attach(reconciler)
        anna = world.jellyseerr.add_user("anna")
        world.jellyseerr.add_request(603, "movie", "The Matrix", requested_by=anna)
        world.radarr.import_file(world.radarr.add_movie(603, "The Matrix", year=1999))
        targets["anna"].status = 500

        async def scenario() -> list[int]:
            await poll_round(reconciler, ("jellyseerr", "radarr", "jellyfin"))
            world.jellyfin.add_movie("The Matrix", tmdb_id=603, year=1999)
            await poll_round(reconciler, ("jellyseerr", "radarr", "jellyfin"))
            sent = [await notifier.send_pending(), await notifier.send_pending()]
            targets["anna"].status = 200
            sent += [await notifier.send_pending(), await notifier.send_pending()]
            await reconciler.aclose()
            return sent

        assert asyncio.run(scenario()) == [0, 0, 1, 0]
        store.close()
    assert targets["anna"].titles() == ["The Matrix is ready to watch"]
