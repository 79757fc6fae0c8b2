"""The status page as a person sees it: headless Chromium (Debian's package, driven by
Playwright) against the real daemon polling the simulated stack. States and progress show,
with who asked, the year, the download's ETA and a film not released yet; the requester filter
works; the timeline page opens, and the open page follows a request upstream without a
reload."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from reconciler.daemon import Daemon
from reconciler.store import Store
from simstack import SimulatedStack, World
from tests.daemon.daemon_support import free_port, wait_until, write_config
from tests.web.screenshots import CHROMIUM, CHROMIUM_ARGS

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it)", allow_module_level=True)

pytestmark = pytest.mark.slow
INTERVALS = {"jellyseerr": 0.5, "radarr": 0.5, "jellyfin": 0.5}
WAIT_MS = 20_000


def state_of(db: Path, rid: int) -> str | None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT state FROM requests WHERE id = ?", (rid,)).fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


class RunningDaemon:
    """The daemon in a thread of its own (Playwright's sync API wants the main thread free
    of event loops), stopped by setting its stop event from outside."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        self.ready.set()
        await self.daemon.run(self.stop_event)

    def __enter__(self) -> RunningDaemon:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the daemon did not stop"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def stack(world: World) -> Iterator[SimulatedStack]:
    with SimulatedStack(world, services=["jellyseerr", "radarr", "jellyfin"]) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_the_page_follows_a_request_live_from_approval_to_ready(
        tmp_path: Path, world: World, stack: SimulatedStack, browser: Browser) -> None:
    port = free_port()
    config = write_config(stack, tmp_path, intervals=INTERVALS,
                          reconciler_extra="active_poll_interval = 0.2",
                          extra=f'[http]\nlisten = "127.0.0.1:{port}"\n')
    base = f"http://127.0.0.1:{port}"
    db = config.database
    store = Store.open(db)
    daemon = Daemon(config, store)
    try:
        with RunningDaemon(daemon):
            anna = world.jellyseerr.add_user("anna")
            matrix = world.jellyseerr.add_request(603, "movie", "The Matrix",
                                                  requested_by=anna)
            movie = world.radarr.add_movie(603, "The Matrix", year=1999)
            waiting = world.jellyseerr.add_request(1000, "movie", "<b>Paddington</b>",
                                                   status=1)
            # A film approved before its home release: Radarr announces it for later.
            day = (world.now + timedelta(days=100)).date()
            release = datetime(day.year, day.month, day.day, tzinfo=UTC)
            odyssey = world.jellyseerr.add_request(1100, "movie", "The Odyssey",
                                                   requested_by=anna)
            world.radarr.add_movie(1100, "The Odyssey", year=day.year, status="announced",
                                   in_cinemas=release - timedelta(days=60),
                                   digital_release=release, physical_release=None)
            wait_until(lambda: state_of(db, matrix) == "approved"
                       and state_of(db, waiting) == "requested"
                       and state_of(db, odyssey) == "approved", timeout=20)

            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.set_default_timeout(WAIT_MS)
            page.goto(base + "/")
            expect(page).to_have_title("Requests · reconciler")
            the_matrix = page.locator(f'li[data-request-id="{matrix}"]')
            expect(the_matrix).to_have_attribute("data-state", "approved")
            expect(the_matrix.locator("[data-label]")).to_have_text(
                "Approved, looking for a release")
            expect(the_matrix.locator(".who")).to_have_text("anna")
            expect(the_matrix.get_by_role("heading")).to_have_text("The Matrix (1999)")
            later = page.locator(f'li[data-request-id="{odyssey}"]')
            expect(later.locator("[data-label]")).to_have_text(
                f"Not released yet: expected {day.day} {day:%b}")
            expect(later).not_to_have_class(re.compile("is-stuck"))
            paddington = page.locator(f'li[data-request-id="{waiting}"]')
            expect(paddington.locator("[data-label]")).to_have_text("Waiting for approval")
            expect(paddington.get_by_role("heading")).to_have_text("<b>Paddington</b>")
            expect(page.get_by_role("progressbar", name="Progress of The Matrix")) \
                .to_have_attribute("value", "15")
            page.evaluate("window.notReloaded = true")

            # Upstream, the download starts: the open page shows it without a reload.
            download = world.radarr.grab(movie)
            world.radarr.progress(download, 0.4, speed=10 * 1024**2)
            expect(the_matrix).to_have_attribute("data-state", "downloading",
                                                 timeout=WAIT_MS)
            expect(the_matrix.locator("[data-label]")).to_have_text("Downloading 40 %")
            # 2.4 GiB left at 10 MiB/s: about four minutes from the simulated now.
            eta = (world.now + timedelta(seconds=2.4 * 1024 / 10)).astimezone()
            expect(the_matrix.locator("[data-eta]")).to_have_text(
                re.compile(rf"^ready about ({eta:%H:%M}|{eta + timedelta(minutes=1):%H:%M})$"))
            expect(page.get_by_role("progressbar", name="Progress of The Matrix")) \
                .to_have_attribute("value", "45")
            world.radarr.progress(download, 0.8)
            expect(the_matrix.locator("[data-label]")).to_have_text("Downloading 80 %")

            world.radarr.import_file(movie, download_id=download)
            world.jellyfin.add_movie("The Matrix", tmdb_id=603, year=1999)
            expect(the_matrix).to_have_attribute("data-state", "available")
            expect(the_matrix.locator("[data-label]")).to_have_text("Ready to watch")
            expect(page.get_by_role("progressbar", name="Progress of The Matrix")) \
                .to_have_attribute("value", "100")
            assert page.evaluate("window.notReloaded") is True
            expect(page.locator("[data-live-status]")).to_contain_text("Updated live")

            # The filters work as a plain form.
            page.get_by_label("Status").select_option("requested")
            page.get_by_role("button", name="Show").click()
            expect(page.locator("li[data-request-id]")).to_have_count(1)
            expect(page.locator("li[data-request-id]")).to_have_attribute(
                "data-request-id", str(waiting))
            page.get_by_role("link", name="Clear").click()
            expect(page.locator("li[data-request-id]")).to_have_count(3)
            page.get_by_label("Requested by").select_option("anna")
            page.get_by_role("button", name="Show").click()
            expect(page).to_have_url(re.compile(r"user=anna"))
            expect(page.locator("li[data-request-id]")).to_have_count(2)
            expect(page.locator(".who")).to_have_text(["anna", "anna"])
            page.get_by_role("link", name="Clear").click()

            # The timeline page, reached by the title's link.
            page.get_by_role("link", name="The Matrix").click()
            expect(page).to_have_url(f"{base}/requests/{matrix}")
            expect(page.get_by_role("heading", level=1)).to_have_text("The Matrix (1999)")
            moves = page.locator("table.timeline tbody tr")
            expect(moves.first).to_have_attribute("data-to", "available")
            expect(moves.last).to_have_attribute("data-to", "approved")
            expect(page.locator('tr[data-to="downloading"]')).to_have_count(1)
            expect(page.get_by_role("cell", name="Available", exact=True)).to_be_visible()

            page.goto(base + "/requests/999999")
            expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
            assert page.request.get(base + "/livez").status == 200
            page.close()
    finally:
        store.close()
    assert daemon.http is None
