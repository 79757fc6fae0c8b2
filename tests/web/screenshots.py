"""The README's screenshots: `python -m tests.web.screenshots [FOLDER]` fills a database with
`support.household()`, serves the status page and photographs it with the system's Chromium
(desktop and phone width, the list and one show's page)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from reconciler.httpapi import HttpApi, HttpServer, Metrics
from reconciler.store import Store
from tests.daemon.daemon_support import Clock
from tests.web.support import NOW, fill, write_config

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SIZES = {"desktop": {"width": 1100, "height": 900}, "phone": {"width": 390, "height": 844}}


def take(folder: Path, scheme: str = "light",
         pages: tuple[str, ...] = ("list", "detail")) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp))
        store = Store.open(config.database)
        fill(store, hostile=False)
        store.close()
        server = HttpServer("127.0.0.1", 0, HttpApi(lambda: config, Metrics(), Clock(NOW)))
        server.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for size, viewport in SIZES.items():
                    page = browser.new_page(viewport=viewport,  # type: ignore[arg-type]
                                            color_scheme=scheme,  # type: ignore[arg-type]
                                            device_scale_factor=1)
                    suffix = "" if scheme == "light" else f"-{scheme}"
                    for name, path in (("list", "/"), ("detail", "/requests/5")):
                        if name not in pages:
                            continue
                        page.goto(server.url + path)
                        target = folder / f"{name}-{size}{suffix}.png"
                        page.screenshot(path=str(target), full_page=size == "desktop")
                        shots.append(target)
                    page.close()
                browser.close()
        finally:
            server.stop()
    return shots


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    for shot in take(out) + take(out, "dark", ("list",)):
        print(shot)
