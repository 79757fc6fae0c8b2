"""`reconcile --once`, as cron or a systemd timer runs it, sends the notices the daemon would
have sent for what its cycle saw: the operator's `[notify]` and the requester's
`[notify.users]`, each once across runs, none for a request seen for the first time, a failed
send kept and tried again by a later run after a pause that grows, and a dead target never
holding the run or changing its exit code. End to end: the real command against the simulated
stack over HTTP, the notices posted by Apprise (`json://`) to local test servers."""

from __future__ import annotations

import base64
import itertools
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler import cli
from simstack import SimulatedStack, World
from tests.conftest import run_reconcile
from tests.daemon.daemon_support import AppriseTarget, write_config

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
PUBLIC_URL = "https://watch.example.org"


@pytest.fixture
def targets() -> Iterator[dict[str, AppriseTarget]]:
    made = {name: AppriseTarget() for name in ("operator", "anna")}
    try:
        yield made
    finally:
        for target in made.values():
            target.close()


@pytest.fixture
def household(tmp_path: Path, targets: dict[str, AppriseTarget]) -> Iterator[
        tuple[World, Path]]:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin")) as stack:
        config = write_config(stack, tmp_path, extra=f"""
[notify]
urls = ["{targets['operator'].url}"]
on = ["available", "failed"]

[notify.users]
anna = "{targets['anna'].url}"
""")
        text = config.path.read_text().replace(
            "[jellyfin]\n", f'[jellyfin]\npublic_url = "{PUBLIC_URL}"\n', 1)
        config.path.write_text(text)
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        yield world, config.path


def once(config: Path) -> int:
    return run_reconcile("--config", str(config), "--once").code


def notices(db: Path) -> list[tuple[str, str, int, str | None, str | None]]:
    """(event, key, attempts, sent_at, next_attempt) of every notice, read directly."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT event, key, attempts, sent_at, next_attempt FROM "
                            "notifications ORDER BY rowid").fetchall()
    finally:
        conn.close()


def ready_film(world: World, tmdb: int, title: str, *, requester: int) -> tuple[int, int]:
    """A film requested and approved, in Radarr, not downloaded: (request id, Radarr id)."""
    rid = world.jellyseerr.add_request(tmdb, "movie", title, requested_by=requester)
    world.jellyseerr.add_title(tmdb, "movie", title, date="1999-03-31")
    return rid, world.radarr.add_movie(tmdb, title, year=1999)


def matrix_becomes_ready(world: World, config: Path) -> str:
    """Anna's film, seen approved by a first run, then imported and listed by Jellyfin (the
    next run sees it become available): its Jellyfin item id."""
    anna = world.jellyseerr.add_user("anna")
    _, matrix = ready_film(world, 603, "The Matrix", requester=anna)
    assert once(config) == 0
    world.radarr.import_file(matrix)
    return world.jellyfin.add_movie("The Matrix", tmdb_id=603, year=1999, library="Movies")


def test_once_tells_the_operator_and_the_requester_once_with_the_play_link_and_poster(
        household: tuple[World, Path], targets: dict[str, AppriseTarget]) -> None:
    world, config = household
    anna = world.jellyseerr.add_user("anna")
    # Already on the shelf when reconciler first looks: nobody is told about it.
    _, shelf_movie = ready_film(world, 949, "Heat", requester=anna)
    world.radarr.import_file(shelf_movie)
    world.jellyfin.add_movie("Heat", tmdb_id=949, year=1995, library="Movies")
    _, matrix = ready_film(world, 603, "The Matrix", requester=anna)
    assert once(config) == 0
    assert targets["operator"].messages == [] and targets["anna"].messages == []

    world.radarr.import_file(matrix)
    item = world.jellyfin.add_movie("The Matrix", tmdb_id=603, year=1999, library="Movies")
    assert once(config) == 0
    assert targets["operator"].titles() == ["The Matrix is available"]
    assert targets["anna"].titles() == ["The Matrix is ready to watch"]
    told = targets["anna"].messages[0]
    assert f"Play it: {PUBLIC_URL}/web/index.html#/details?id={item}" in told["message"]
    # The poster, fetched from Jellyfin by this same run, rides along (json:// takes files).
    attached = told.get("attachments") or []
    assert len(attached) == 1 and attached[0]["mimetype"].startswith("image/")
    assert base64.b64decode(attached[0]["base64"]).startswith(b"\x89PNG")
    assert "heat" not in str(targets["anna"].messages).lower()

    for _ in range(2):  # later runs: nothing again
        assert once(config) == 0
    assert len(targets["operator"].messages) == 1 and len(targets["anna"].messages) == 1


def test_a_failed_send_is_kept_and_tried_again_by_a_later_run_after_its_pause(
        household: tuple[World, Path], targets: dict[str, AppriseTarget]) -> None:
    world, config = household
    db = config.parent / "reconciler.db"
    matrix_becomes_ready(world, config)
    targets["anna"].status = 500
    started = datetime.now(UTC)
    assert once(config) == 0  # a failed notice never changes the exit code
    assert targets["anna"].tries == 1 and targets["anna"].messages == []
    assert len(targets["operator"].messages) == 1  # the other target is not held back
    ready = [n for n in notices(db) if n[0] == "ready"]
    assert len(ready) == 1 and ready[0][2] == 1 and ready[0][3] is None
    retry_at = datetime.fromisoformat(str(ready[0][4]).replace("Z", "+00:00"))
    assert started < retry_at <= datetime.now(UTC) + timedelta(seconds=11)

    targets["anna"].status = 200
    assert once(config) == 0  # within the pause: a new process keeps to it
    assert targets["anna"].tries == 1

    # The pause is over (as if the timer came back later): the next run sends it.
    conn = sqlite3.connect(db)
    conn.execute("UPDATE notifications SET next_attempt = '2000-01-01T00:00:00Z' "
                 "WHERE event = 'ready'")
    conn.commit()
    conn.close()
    assert once(config) == 0
    assert targets["anna"].titles() == ["The Matrix is ready to watch"]
    assert [n[2] for n in notices(db) if n[0] == "ready"] == [2]
    assert once(config) == 0
    assert len(targets["anna"].messages) == 1 and len(targets["operator"].messages) == 1


def test_the_pause_grows_after_each_failure_and_never_passes_a_day(
        household: tuple[World, Path], targets: dict[str, AppriseTarget]) -> None:
    world, config = household
    db = config.parent / "reconciler.db"
    matrix_becomes_ready(world, config)
    targets["anna"].status = 503
    pauses = []
    for _ in range(16):
        before = datetime.now(UTC)
        assert once(config) == 0
        (_, _, attempts, _, next_attempt), = [n for n in notices(db) if n[0] == "ready"]
        pauses.append((datetime.fromisoformat(str(next_attempt).replace("Z", "+00:00"))
                       - before).total_seconds())
        conn = sqlite3.connect(db)  # the pause is over: as if the timer came back later
        conn.execute("UPDATE notifications SET next_attempt = '2000-01-01T00:00:00Z' "
                     "WHERE event = 'ready'")
        conn.commit()
        conn.close()
    assert attempts == 16 and targets["anna"].tries == 16
    assert all(b > a for a, b in itertools.pairwise(pauses[:13]))  # it grows
    assert max(pauses) <= 86400 + 5 and pauses[-1] >= 86400 - 5  # ... up to a day


def test_a_target_that_hangs_cannot_hold_the_cron_run(
        household: tuple[World, Path], targets: dict[str, AppriseTarget],
        monkeypatch: pytest.MonkeyPatch) -> None:
    world, config = household
    monkeypatch.setattr(cli, "ONCE_SEND_SECONDS", 0.5)
    matrix_becomes_ready(world, config)
    targets["anna"].delay = 5.0
    started = time.monotonic()
    result = run_reconcile("--config", str(config), "--once")
    took = time.monotonic() - started
    assert result.code == 0
    assert took < 5.0, f"the run waited {took:.1f} s for a target that hangs"
    assert targets["operator"].titles() == ["The Matrix is available"]
    ready = [n for n in notices(config.parent / "reconciler.db") if n[0] == "ready"]
    assert ready[0][2] == 1 and ready[0][3] is None  # a failed try, kept for a later run
