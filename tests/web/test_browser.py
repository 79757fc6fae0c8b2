"""The status page as a person sees it: headless Chromium (Debian's package, driven by
Playwright) against the real daemon polling the simulated stack.

The first test follows one film from approval to ready on an open page; the second opens a
household's evening (`household.py`) and checks what keeps the page from misleading: the
attention chip equal to its list, the partly ready show naming its downloading episode, posters
from the page's own origin under the strict CSP, the stale banner coming and going with a
service, the notice when the live stream drops and the reconnection, times in the configured
zone, and no script error anywhere."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from reconciler.daemon import Daemon
from reconciler.store import Store
from simstack import SimulatedStack, World
from tests.daemon.daemon_support import free_port, wait_until, write_config
from tests.web.household import PUBLIC_URL, RunningDaemon, household, state_of
from tests.web.screenshots import CHROMIUM, CHROMIUM_ARGS
from tests.web.support import wait_for_posters

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it)", allow_module_level=True)

pytestmark = pytest.mark.slow
INTERVALS = {"jellyseerr": 0.5, "radarr": 0.5, "jellyfin": 0.5}
WAIT_MS = 20_000
ZONE = "America/New_York"


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


class Watched:
    """A page whose script errors, console errors, CSP violations and requests are kept."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        page.on("request", lambda request: self.requests.append(request.url))
        # Injected by the browser itself, not as a page script: the CSP does not apply to it.
        page.add_init_script("window.cspViolations = [];"
                             "document.addEventListener('securitypolicyviolation', function (e) {"
                             " window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);"
                             "});")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "net::ERR_CONNECTION_REFUSED" not in message.text \
                and "Failed to load resource" not in message.text:
            self.errors.append(f"console: {message.text}")

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.cspViolations")
        return found


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

            def states() -> tuple[str | None, ...]:
                return tuple((state_of(db, r) or (None,))[0] for r in (matrix, waiting, odyssey))

            wait_until(lambda: states() == ("approved", "requested", "approved"), timeout=20)

            page = browser.new_page(viewport={"width": 1000, "height": 900})
            watched = Watched(page)
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
            year = "" if day.year == datetime.now(UTC).year else f" {day.year}"
            expect(later.locator("[data-label]")).to_have_text(
                f"Not released yet: expected {day.day} {day:%b}{year}")
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
            # The bar is the whole way, and says so: it does not contradict the badge.
            expect(page.get_by_role("progressbar", name="Progress of The Matrix")) \
                .to_have_attribute("value", "45")
            expect(the_matrix.locator(".journey-text")).to_have_text("45 % of the way")
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
            # Ready: listed under "Ready to watch" now, without a reload.
            expect(page.locator('[data-group="ready"]').locator(
                f'li[data-request-id="{matrix}"]')).to_have_count(1)

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

            # The request page, reached by the title's link: the moves in plain words.
            page.get_by_role("link", name="The Matrix").click()
            expect(page).to_have_url(f"{base}/requests/{matrix}")
            expect(page.get_by_role("heading", level=1)).to_have_text("The Matrix (1999)")
            moves = page.locator("table.timeline tbody tr")
            expect(moves.first).to_have_attribute("data-to", "available")
            expect(moves.last).to_have_attribute("data-to", "approved")
            expect(page.locator('tr[data-to="downloading"]')).to_have_count(1)
            expect(page.get_by_role("cell", name="Available", exact=True)).to_be_visible()
            expect(page.get_by_role("cell", name="Jellyfin can play it")).to_be_visible()
            expect(page.get_by_role("cell", name="Radarr is downloading it")).to_be_visible()
            # The services' own words (a release's name) wait behind a disclosure.
            technical = page.locator("details.technical")
            expect(technical).not_to_have_attribute("open", "")
            expect(technical.get_by_text("Radarr", exact=True).first).to_be_hidden()
            technical.locator("summary").click()
            expect(technical.get_by_text("Radarr", exact=True).first).to_be_visible()

            page.goto(base + "/requests/999999")
            expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
            assert page.request.get(base + "/livez").status == 200
            assert watched.errors == [] and watched.violations() == []
            page.close()
    finally:
        store.close()
    assert daemon.http is None


def test_a_households_evening_reads_true_and_stays_true(tmp_path: Path,
                                                        browser: Browser) -> None:
    port = free_port()
    with household(tmp_path, port=port, timezone=ZONE) as (h, stack, running, base, restart):
        wait_for_posters(base, len(h.ids))
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        watched = Watched(page)
        page.set_default_timeout(WAIT_MS)
        response = page.goto(base + "/")
        assert response is not None
        csp = response.headers["content-security-policy"]
        assert "img-src 'self'" in csp and "unsafe-inline" not in csp
        assert "default-src 'self'" in csp and "script-src 'self'" in csp

        # "Need attention": the chip's count is what its link lists (stuck or failed).
        chip = page.locator('[data-chip="attention"]')
        expect(chip).to_contain_text("2 need attention")
        expect(page.locator('[data-group="attention"] li[data-request-id]')).to_have_count(2)
        chip.click()
        expect(page).to_have_url(re.compile(r"state=attention"))
        listed = page.locator("li[data-request-id]")
        expect(listed).to_have_count(2)
        assert sorted(int(x) for x in listed.evaluate_all(
            "cards => cards.map(c => c.getAttribute('data-request-id'))")) == sorted(
            [h.ids["robot"], h.ids["heretic"]])
        heretic = page.locator(f'li[data-request-id="{h.ids["heretic"]}"]')
        expect(heretic.locator("[data-failure]")).to_contain_text(
            "Why: The download failed: Not enough disk space on /downloads.")
        expect(heretic.locator("[data-failure]")).to_contain_text(
            "Next: Radarr is looking for another release")
        robot = page.locator(f'li[data-request-id="{h.ids["robot"]}"]')
        expect(robot.locator("[data-stuck]")).to_contain_text("no download progress")
        expect(robot.locator("[data-eta]")).to_have_count(0)  # stuck: no promise
        page.goto(base + "/?state=stuck")  # the old link still works
        expect(page.locator("li[data-request-id]")).to_have_count(1)

        # The partly ready show is on its way: it names the episode downloading and when.
        page.goto(base + "/")
        slow = page.locator(f'li[data-request-id="{h.ids["slow"]}"]')
        expect(slow.locator("xpath=ancestor::section")).to_have_attribute(
            "data-group", "on_the_way")
        eta = h.world.now + timedelta(seconds=1.5 * 1024 / 8)  # 1.5 GiB left at 8 MiB/s
        local = [f"{(eta + timedelta(minutes=m)).astimezone(ZoneInfo(ZONE)):%H:%M}"
                 for m in (-1, 0, 1)]
        expect(slow.locator("[data-news]")).to_contain_text(re.compile(
            rf"S02E04 downloading 25 %, ready about ({'|'.join(local)})"))
        expect(slow.locator("[data-news]")).to_contain_text("S02E05 airs")
        expect(slow.locator("[data-label]")).to_have_text("9 of 10 episodes ready")
        expect(slow.locator("[data-play]")).to_have_attribute(
            "href", re.compile(re.escape(f"{PUBLIC_URL}/web/index.html#/details?id=")))
        summary = httpx.get(base + "/api/summary", timeout=5).json()
        assert summary["on_the_way"] == 5 and summary["attention"] == 2
        assert summary["ready"] == 1 and summary["behind"] == []

        # Times are the configured zone's, server-drawn and script-drawn alike.
        now_here = h.world.now.astimezone(ZoneInfo(ZONE))
        expect(page.locator("[data-freshness]")).to_contain_text(f"Times in {ZONE}")

        # Posters: from this origin only, every one loaded, under the strict CSP.
        page.locator("details.group.ended > summary").click()  # the declined one too
        posters = page.locator("img.poster")
        expect(posters).to_have_count(len(h.ids))
        sources = posters.evaluate_all("imgs => imgs.map(i => [i.getAttribute('src'), "
                                       "i.complete && i.naturalWidth > 0])")
        assert all(src.startswith("/artwork/") for src, _ in sources), sources
        page.evaluate("document.querySelectorAll('img[loading=lazy]')"
                      ".forEach(function (img) { img.loading = 'eager'; })")
        wait_until(lambda: all(ok for _, ok in posters.evaluate_all(
            "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth > 0])")),
            what="every poster loaded")
        assert all(url.startswith(base) for url in watched.requests), watched.requests
        art = httpx.get(base + sources[0][0], timeout=5)
        assert art.headers["content-type"].startswith("image/")
        assert "img-src 'self'" in art.headers["content-security-policy"]

        # A service stops answering: the banner names it; it goes when the service is back.
        banner = page.locator("[data-banner]")
        expect(banner).to_have_count(0)
        stack.set_fault("radarr", "refuse")
        expect(banner).to_contain_text(re.compile(
            r"Radarr has not answered since \d\d:\d\d; downloads may have moved since"),
            timeout=30_000)
        assert "radarr" in httpx.get(base + "/api/summary", timeout=5).json()["behind"]
        stack.clear_fault("radarr")
        expect(banner).to_have_count(0, timeout=30_000)
        expect(page.locator("[data-live-status]")).to_contain_text(
            re.compile(r"Updated live at \d\d:\d\d"))
        status_time = page.locator("[data-live-status]").inner_text()
        shown = re.search(r"(\d\d):(\d\d)", status_time)
        assert shown is not None
        hour_here = h.world.now.astimezone(ZoneInfo(ZONE)).hour
        assert int(shown.group(1)) in (hour_here, (hour_here - 1) % 24), (status_time, now_here)

        # The daemon stops: within 30 s the page says its live updates stopped...
        running.stop()
        stopped = time.monotonic()
        expect(page.locator("[data-live-status]")).to_contain_text(
            "Live updates stopped at", timeout=30_000)
        assert time.monotonic() - stopped <= 30
        expect(page.locator("[data-live-status]").get_by_role("link", name="reload")) \
            .to_be_visible()
        # ...and once it is back, the page reconnects by itself.
        restart()
        expect(page.locator("[data-live-status]")).to_contain_text("Live again",
                                                                   timeout=30_000)
        assert watched.errors == [] and watched.violations() == []
        page.close()
