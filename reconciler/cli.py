"""The `reconcile` command line.

Exit codes: 0 ok; 1 a local problem (database unusable, disk full); 2 configuration or usage
error; 3 at least one service could not be polled (everything else was still saved); 75
another reconcile process holds the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from reconciler import logs
from reconciler.config import Config, find_config_path, load_config
from reconciler.errors import ConfigError, LockHeld
from reconciler.lock import DatabaseLock
from reconciler.registry import MEDIA_SERVERS
from reconciler.store import RequestRow, Store, StoreError
from reconciler.times import from_iso

if TYPE_CHECKING:
    from reconciler.views import Untitled

if TYPE_CHECKING:
    from reconciler.cycle import Reconciler

EXIT_OK = 0
EXIT_LOCAL = 1
EXIT_CONFIG = 2
EXIT_SERVICES = 3
EXIT_LOCKED = 75


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconcile",
        description="Follow Jellyseerr requests through Radarr/Sonarr, Shoko and the media server "
        "(Jellyfin, Emby or Plex), and say `available` only when it can play them.",
    )
    parser.add_argument("--config", metavar="PATH", help="configuration file (TOML)")
    parser.add_argument("--once", action="store_true",
                        help="poll every service once, reconcile, save and exit (for cron)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the daemon (the default without a command)")
    status = sub.add_parser("status", help="every tracked request: state, since, why")
    status.add_argument("--json", action="store_true", help="JSON array, one object per request")
    show = sub.add_parser("show", help="one request and its timeline")
    show.add_argument("id", type=int, help="the Jellyseerr request id")
    show.add_argument("--json", action="store_true", help="JSON object")
    sub.add_parser("doctor", help="check the configuration and every service")
    notify = sub.add_parser("notify", help="notices through Apprise")
    notify_sub = notify.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    notify_test = notify_sub.add_parser(
        "test", help="send a test notice to a [notify.users] entry's addresses")
    notify_test.add_argument("user", metavar="USER",
                             help="the Jellyseerr username or e-mail, as in [notify.users]")
    demo = sub.add_parser("demo", help="run the reconciler against a built-in simulated stack")
    demo.add_argument("--speed", type=float, default=1.0,
                      help="time factor: 2 runs twice as fast (default 1: about a minute)")
    demo.add_argument("--workdir", metavar="DIR", help="keep the config and database here")
    demo.add_argument("--media-server", choices=MEDIA_SERVERS, default="jellyfin",
                      help="the simulated media server that says what plays (default jellyfin)")
    demo.add_argument("--serve", action="store_true",
                      help="leave the simulated stack running and print its config")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)

    if args.command == "demo":
        from reconciler.demo import run_demo

        return run_demo(speed=args.speed, workdir=args.workdir, serve=args.serve,
                        media=args.media_server)

    try:
        config = load_config(find_config_path(args.config),
                             require_keys=args.command not in ("status", "show", "notify"))
    except ConfigError as exc:
        if args.command == "doctor":
            print(f"✗ config: {exc}")
        print(f"reconcile: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from reconciler.notify import notify_urls

    logs.register_secrets([*config.secrets(), *notify_urls(config)])
    running = args.command in (None, "run")  # the daemon or --once: not a printing command
    logs.configure(config.model.reconciler.log_format, config.model.reconciler.log_level,
                   logs.service_stream() if running else None)
    log = logs.get_logger("reconciler")
    for warning in config.warnings:
        log.warning("config.warning", message=warning)

    try:
        if args.command == "status":
            return cmd_status(config, args.json)
        if args.command == "show":
            return cmd_show(config, args.id, args.json)
        if args.command == "doctor":
            from reconciler.doctor import run_doctor

            return run_doctor(config)
        if args.command == "notify":
            return cmd_notify_test(config, args.user)
        if args.once:
            return cmd_once(config)
        from reconciler.daemon import run_daemon

        return run_daemon(config)
    except LockHeld as exc:
        print(f"reconcile: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except StoreError as exc:
        print(f"reconcile: database error: {exc}", file=sys.stderr)
        return EXIT_LOCAL
    except sqlite3.Error as exc:  # e.g. the disk is full: the cycle's transaction rolled back
        lost = "; nothing was saved from this cycle" if args.command in (None, "run") else ""
        print(f"reconcile: database error: {exc} ({config.database}){lost}", file=sys.stderr)
        return EXIT_LOCAL
    except OSError as exc:
        print(f"reconcile: {exc.filename or config.state_dir}: {exc.strerror or exc} (the "
              f"database, its lock file and their directory {config.state_dir} must be "
              f"writable)", file=sys.stderr)
        return EXIT_LOCAL


# After the cycle of `--once`: how long fetching posters (for the notices) and sending the
# notices may take at most, so a dead target or a slow service cannot hold a cron run.
ONCE_ARTWORK_SECONDS = 20.0
ONCE_NOTIFY_SECONDS = 60.0
ONCE_SEND_SECONDS = 30.0  # one send (as the daemon's `notify.SEND_TIMEOUT`)


def cmd_once(config: Config) -> int:
    """One full cycle under the database lock, then the notices it queued (and those due
    again from earlier runs). A failed notice is logged and tried by a later run; it never
    changes the exit code."""
    from reconciler.cycle import Reconciler
    from reconciler.notify import household_links, notifier_for

    log = logs.get_logger("reconciler")
    with DatabaseLock(config.database):
        store = Store.open(config.database)
        try:
            async def go() -> int:
                reconciler = Reconciler(config, store)
                notifier = notifier_for(config.model.notify, store, timeout=ONCE_SEND_SECONDS,
                                        **household_links(config, store))
                if notifier is not None:
                    notifier.attach(reconciler)
                try:
                    result = await reconciler.cycle()
                    settings = config.model.reconciler  # retention, as the daemon does
                    store.retention.prune(reconciler.clock(), settings.retain_polls,
                                          settings.retain_notifications)
                    log.info("cycle.finished", ok=result.ok, failed=result.failed,
                             transitions=len(result.transitions),
                             rows_written=result.rows_written)
                    if notifier is not None:
                        await _once_posters(config, store, reconciler)
                        await notifier.send_pending(budget=ONCE_NOTIFY_SECONDS)
                finally:
                    await reconciler.aclose()
                return result.exit_code

            return asyncio.run(go())
        finally:
            store.close()


async def _once_posters(config: Config, store: Store, reconciler: Reconciler) -> None:
    """One bounded round of poster fetching, so the notices of this run carry theirs."""
    from reconciler.artwork import artwork_cache
    from reconciler.artwork.fetch import ArtworkFetcher

    fetcher = ArtworkFetcher(artwork_cache(config), store, lambda: reconciler.clients,
                             reconciler.clock)
    if fetcher.due():
        try:
            await fetcher.round(fetcher.choose(), ONCE_ARTWORK_SECONDS)
        except Exception:  # posters are an extra: the notices go without them
            logs.get_logger("reconciler").exception("artwork.crashed")


def _open_readonly(config: Config) -> Store:
    return Store.open(config.database, readonly=True)


def cmd_status(config: Config, as_json: bool) -> int:
    from reconciler.views import request_json, status_table

    if not config.database.exists():
        rows = []
    else:
        store = _open_readonly(config)
        try:
            rows = store.requests()
        finally:
            store.close()
    if as_json:
        print(json.dumps([request_json(r) for r in rows], indent=2))
    else:
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        print(status_table(rows, datetime.now(UTC), width, servers=config.several_servers()))
    return EXIT_OK


def _untitled(store: Store, row: RequestRow) -> Untitled | None:
    """Why the request has no title yet (its look-up's failure, or the outage of them all)."""
    from reconciler.cycle.observations import Observations
    from reconciler.views import Untitled

    if row.title or row.tmdb_id is None:
        return None
    seen = Observations(store)
    failure = seen.title_failure(row.media_type, row.tmdb_id)
    if failure is not None:
        return Untitled(failure.reason, failure.since,
                        None if failure.outage else failure.retry_at)
    outage = seen.titles_outage()
    if outage is not None:
        return Untitled(outage.get("error", ""), from_iso(outage.get("since")))
    return None


def cmd_show(config: Config, request_id: int, as_json: bool) -> int:
    from reconciler.views import show_json, show_text

    if not config.database.exists():
        print(f"reconcile: no request {request_id} (no database yet)", file=sys.stderr)
        return EXIT_LOCAL
    store = _open_readonly(config)
    try:
        row = store.request(request_id)
        if row is None:
            print(f"reconcile: no request {request_id} is tracked", file=sys.stderr)
            return EXIT_LOCAL
        untitled = _untitled(store, row)
        if as_json:
            print(json.dumps(show_json(store, row, untitled), indent=2))
        else:
            print(show_text(store, row, datetime.now(UTC), untitled))
    finally:
        store.close()
    return EXIT_OK


def cmd_notify_test(config: Config, user: str) -> int:
    """Send a test notice to each address `[notify.users]` has for `user`: 0 when every one
    took it, 2 for a user not in the table, 3 when a send failed. URLs are never printed
    (they hold tokens): each address is named by its position and a short hash."""
    from reconciler.notify import SEND_TIMEOUT, apprise_send, in_daemon_thread, target_id

    section = config.model.notify
    urls = section.user_urls(user) if section is not None else None
    if not urls:
        known = ", ".join(sorted(section.users, key=str.casefold)) if section else ""
        hint = f" (known: {known})" if known else " ([notify.users] is empty)"
        print(f"reconcile: no [notify.users] entry for {user!r}{hint}", file=sys.stderr)
        return EXIT_CONFIG
    title = "reconciler test notice"
    body = (f"This is a test from reconciler: {user} will be told here when what they "
            f"requested is ready to watch.")

    async def send(url: str) -> str | None:
        try:
            return await in_daemon_thread(lambda: apprise_send(url, title, body), SEND_TIMEOUT)
        except TimeoutError:
            return f"no answer within {SEND_TIMEOUT:g} s"
        except Exception as exc:  # an Apprise plugin failing: say so, never with the URL
            return type(exc).__name__

    failed = 0
    for number, url in enumerate(urls, 1):
        error = asyncio.run(send(url))
        name = f"address {number} of {len(urls)} ({target_id(url)})"
        if error is None:
            print(f"✓ {name}: sent")
        else:
            failed += 1
            print(f"✗ {name}: {logs.scrub(error)}")
    if failed:
        print(f"reconcile: {failed} of {len(urls)} test notices for {user} could not be sent",
              file=sys.stderr)
        return EXIT_SERVICES
    return EXIT_OK


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
