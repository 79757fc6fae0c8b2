"""Stuck detection with the clock injected (never slept): a request past its state's deadline is
flagged, with the reason, in status/show and their JSON; the flag clears when it moves, and
its notification is sent once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cycle import Reconciler
from reconciler.notify import notifier_for
from reconciler.store import Store
from simstack import SimulatedStack, World
from tests.daemon.daemon_support import AppriseTarget, Clock, write_config

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


async def poll_round(reconciler: Reconciler) -> list[tuple[int, str | None, str, str]]:
    """One cycle per service, in dependency order, as the daemon's jobs run them."""
    transitions = []
    for service in ("jellyseerr", "jellyfin", "radarr"):
        transitions += (await reconciler.cycle(services=[service])).transitions
    return transitions


def cli_json(config_path: Path, *args: str) -> object:
    done = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config_path),
                           *args, "--json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_stuck_flag_is_set_past_the_deadline_and_clears_when_the_request_moves(
        tmp_path: Path, world: World, stack: SimulatedStack,
        apprise_target: AppriseTarget) -> None:
    config = write_config(stack, tmp_path, extra=f"""
[stuck]
approved = "6h"

[notify]
urls = ["{apprise_target.url}"]
on = ["stuck", "available"]
""")
    clock = Clock()
    store = Store.open(config.database)
    reconciler = Reconciler(config, store, clock=clock)
    notifier = notifier_for(config.model.notify, store, retry_base=0.0)
    assert notifier is not None
    notifier.attach(reconciler)
    rid = world.jellyseerr.add_request(129, "movie", "Spirited Away")
    movie_id = world.radarr.add_movie(129, "Spirited Away", year=2001)

    async def scenario() -> None:
        await poll_round(reconciler)
        row = store.request(rid)
        assert row is not None and row.state.value == "approved"
        assert row.stuck_reason is None

        clock.advance(hours=5, minutes=59)
        await poll_round(reconciler)
        assert store.request(rid).stuck_reason is None  # type: ignore[union-attr]

        clock.advance(minutes=2)
        await poll_round(reconciler)
        row = store.request(rid)
        assert row is not None and row.state.value == "approved"  # a flag, not a state
        assert row.stuck_reason == "no release grabbed after 6 h"
        assert await notifier.send_pending() == 1

        clock.advance(minutes=30)  # still stuck: the same stretch, no second message
        await poll_round(reconciler)
        assert await notifier.send_pending() == 0
        assert apprise_target.titles() == ["Spirited Away is stuck"]
        assert "no release grabbed" in apprise_target.messages[0]["message"]

        listed = cli_json(config.path, "status")
        assert isinstance(listed, list)
        assert listed[0]["stuck"] is True
        assert listed[0]["stuck_reason"] == "no release grabbed after 6 h"
        shown = cli_json(config.path, "show", str(rid))
        assert isinstance(shown, dict) and shown["request"]["stuck"] is True

        download = world.radarr.grab(movie_id)
        world.radarr.progress(download, 0.3)
        clock.advance(minutes=1)
        await poll_round(reconciler)
        await reconciler.aclose()

    asyncio.run(scenario())
    row = store.request(rid)
    assert row is not None and row.state.value == "downloading"
    assert row.stuck_reason is None and row.stuck_since is None
    shown = cli_json(config.path, "show", str(rid))
    assert isinstance(shown, dict)
    assert shown["request"]["stuck"] is False and shown["request"]["stuck_reason"] is None
    store.close()


def test_downloading_without_progress_is_stuck(tmp_path: Path, world: World,
                                               stack: SimulatedStack) -> None:
    config = write_config(stack, tmp_path, extra='[stuck]\ndownloading = "2h"\n')
    clock = Clock()
    store = Store.open(config.database)
    reconciler = Reconciler(config, store, clock=clock)
    rid = world.jellyseerr.add_request(129, "movie", "Spirited Away")
    download = world.radarr.grab(world.radarr.add_movie(129, "Spirited Away"))
    world.radarr.progress(download, 0.4)

    async def scenario() -> None:
        await poll_round(reconciler)
        clock.advance(hours=1)
        world.radarr.progress(download, 0.5)  # progress resets the deadline
        await poll_round(reconciler)
        clock.advance(hours=1, minutes=30)
        await poll_round(reconciler)
        assert store.request(rid).stuck_reason is None  # type: ignore[union-attr]
        clock.advance(minutes=31)
        await poll_round(reconciler)
        await reconciler.aclose()

    asyncio.run(scenario())
    row = store.request(rid)
    assert row is not None and row.state.value == "downloading"
    assert row.stuck_reason is not None
    assert row.stuck_reason == "no download progress in 2 h"
    store.close()


def test_a_request_that_stays_stuck_is_not_rewritten_every_cycle() -> None:
    """The reason names the deadline, not the time elapsed, so an idle cycle writes nothing."""
    from datetime import UTC, datetime, timedelta

    from reconciler.core import Deadlines, stuck_reason
    from reconciler.states import RequestState

    since = datetime(2026, 1, 1, tzinfo=UTC)
    reasons = {stuck_reason(RequestState.APPROVED, "waiting_for_grab", since, since, since,
                            since + timedelta(hours=h), Deadlines()) for h in (6, 7, 30)}
    assert reasons == {"no release grabbed after 6 h"}
