"""The status page's screenshots in docs/screenshots/: `python -m tests.web.screenshots [FOLDER]`
plays the household's evening (`tests.web.household`) on the simulated stack, with the real
daemon polling it, fetching the posters and serving the page, then photographs the list and one
show's page with the system's Chromium, on a desktop (1366 px) and a phone (390 x 844), in light
and dark mode. The phone shots are what fits on the screen (the first screen a person sees);
the desktop ones the whole page."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from tests.daemon.daemon_support import wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")


def photograph(browser: Browser, base: str, folder: Path, pages: dict[str, str]) -> list[Path]:
    """Each of `pages` (name -> path) at each size and in each scheme."""
    shots = []
    for scheme in SCHEMES:
        for size, viewport in SIZES.items():
            page = browser.new_page(viewport=viewport,  # type: ignore[arg-type]
                                    color_scheme=scheme,  # type: ignore[arg-type]
                                    device_scale_factor=1)
            for name, path in pages.items():
                page.goto(base + path)
                # The posters load lazily: a whole-page picture wants every one of them.
                page.evaluate("document.querySelectorAll('img[loading=lazy]')"
                              ".forEach(function (img) { img.loading = 'eager'; })")
                wait_until(lambda shown=page: shown.evaluate(
                    "Array.from(document.images).every(function (i) { return i.complete; })"),
                    what="the posters")
                page.evaluate("document.fonts.ready")
                suffix = "" if scheme == "light" else f"-{scheme}"
                target = folder / f"{name}-{size}{suffix}.png"
                page.screenshot(path=str(target), full_page=size == "desktop")
                shots.append(target)
            page.close()
    return shots


def take(folder: Path) -> list[Path]:
    from reconciler import logs
    from tests.web.household import household
    from tests.web.support import wait_for_posters

    logs.configure("console", "warning")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, household(Path(tmp)) as (h, _, _, base, _):
        wait_for_posters(base, len(h.ids) - 1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                return photograph(browser, base, folder,
                                  {"list": "/", "detail": f"/requests/{h.ids['slow']}"})
            finally:
                browser.close()


if __name__ == "__main__":
    for shot in take(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")):
        print(shot)
