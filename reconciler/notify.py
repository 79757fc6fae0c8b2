"""Notifications through Apprise: queued inside the cycle, sent after it, never repeated.

Invariants:
- Queuing happens in the cycle's transaction (the Reconciler's `on_transition` and
  `after_reconcile` hooks), so a notification exists exactly when the change that caused it was
  committed. Sending happens after the cycle, outside it: a slow or broken target never delays
  or stops reconciliation.
- One row per (request, event, key) in the `notifications` table; the key names the occurrence
  and the target, so a message is sent at most once per target, across restarts:
  `once` for a film's event, `episodes:N` for a series' (un)availability with N episodes,
  `since:TIME` for a stuck stretch that started at TIME; each followed by `@TARGET` (a hash of
  the Apprise URL, never the URL: it holds tokens).
- A request seen for the first time (no previous state) notifies nothing: starting on a
  filled Jellyseerr must not announce every film already on the shelf.
- A failed send is logged (`notify.failed`) and retried on a later cycle, with a pause that
  doubles each time up to a day; the time of the next try is stored with the message, so a
  `reconcile --once` run under cron keeps to it as the daemon does. One send waits at most
  `SEND_TIMEOUT`; after a target fails, its other messages wait for the next round, and
  `send_pending(budget=...)` stops starting sends once its budget is spent: a dead target
  cannot hold a cron run.
- The ready-to-watch messages carry the link that plays the item (`[jellyfin] public_url`) and
  the poster as an attachment, for the targets that take one.
- The person who requested a film or show (`[notify.users]`: their Jellyseerr username or
  e-mail -> their own Apprise URLs) is told, as event `ready`, when it becomes available and
  when a show gains playable episodes: keys `once` / `episodes:N` as above, so once per film
  and once per episode count. Both states mean Jellyfin lists a playable item (core's rule), so
  no one is told before they can press play. Requester notices do not depend on `on`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.artwork.cache import artwork_cache, key_of
from reconciler.config import Config, NotifySection
from reconciler.logs import get_logger, scrub
from reconciler.models import MediaType
from reconciler.playback import play_url
from reconciler.registry import short_name
from reconciler.states import HEADLINES, PLAYABLE_STATES, STATES, NotifyEvent, RequestState
from reconciler.store import RequestRow, Store
from reconciler.store.meta import SERVER_ID
from reconciler.times import iso, utcnow
from reconciler.words import Voice, display_title, episode_count, kind, with_year

if TYPE_CHECKING:
    from reconciler.cycle import Reconciler

log = get_logger("reconciler.notify")

# The requester's event (a film ready to watch, a show with more episodes ready: a state in
# which Jellyfin lists a playable item). The operator's events are the state table's.
READY = "ready"
SEND_TIMEOUT = 30.0
RETRY_BASE = 10.0
RETRY_CAP = 86400.0  # a day
_URLISH = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# The events whose message shows the poster (where the target takes attachments).
POSTER_EVENTS = frozenset({READY, NotifyEvent.AVAILABLE, NotifyEvent.PARTIALLY_AVAILABLE})

T = TypeVar("T")
# (url, title, body) -> None when sent, else why not; called with `attach=PATH` when the
# message has a poster.
Sender = Callable[..., str | None]
PlayLink = Callable[[RequestRow], str | None]
Poster = Callable[[int], Path | None]


def target_id(url: str) -> str:
    """A stable, short name for an Apprise URL that does not reveal it."""
    return hashlib.sha256(url.encode()).hexdigest()[:10]


def event_key(row: RequestRow, event: str) -> str:
    """The occurrence an event stands for: the key that keeps it from being sent twice."""
    if event == NotifyEvent.STUCK:
        return f"since:{iso(row.stuck_since)}"
    if row.media_type is MediaType.TV and (event == READY or event in PLAYABLE_STATES):
        return f"episodes:{row.episodes_available or 0}"
    return "once"


def compose(row: RequestRow, event: str) -> tuple[str, str]:
    """(title, body) of the message: the title, the new state and its detail."""
    name = display_title(row)
    title = f"{name} {HEADLINES[NotifyEvent(event)]}"
    parts = [f"{name} ({kind(row, Voice.NOTICE)}, request #{row.id})"]
    if event == NotifyEvent.STUCK:
        parts.append(f"is stuck in {row.state.value}: {row.stuck_reason or 'no progress'}")
    else:
        parts.append(f"is now {row.state.value}")
    if row.media_type is MediaType.TV and row.episodes_aired:
        parts.append(f"({episode_count(row, Voice.NOTICE)})")
    body = " ".join(parts)
    if row.detail:
        body += f" — {row.detail}"
    return title, body


def compose_ready(row: RequestRow, play: str | None = None,
                  server: str = "Jellyfin") -> tuple[str, str]:
    """(title, body) of the requester's notice: what they asked for plays on the household's
    media server (`server`: its name) now; `play`: the address that plays it, as a last line."""
    name, full = display_title(row), with_year(row, Voice.NOTICE)
    link = f"\nPlay it: {play}" if play else ""
    if row.media_type is MediaType.MOVIE:
        return (f"{name} is ready to watch",
                f"{full}, which you requested, can now be played in {server}.{link}")
    ready, aired = row.episodes_available or 0, row.episodes_aired or 0
    if row.state is RequestState.AVAILABLE:
        what = f"All {aired} aired episodes of {full}" if aired > 1 else full
        return (f"{name} is ready to watch",
                f"{what}, which you requested, can now be played in {server}.{link}")
    count = f"{ready} episode{'s' if ready != 1 else ''}"
    of = f"{ready} of {aired} aired episodes" if aired else count
    return (f"{name}: {count} ready to watch",
            f"{of} of {full}, which you requested, can now be played in {server}.{link}")


def requester_gained(row: RequestRow, before: RequestRow | None) -> bool:
    """The change the requester hears of: their film became available, or their show became
    (partly) available or gained playable episodes. Never on a first sighting."""
    if before is None or row.state not in PLAYABLE_STATES:
        return False
    if before.state not in PLAYABLE_STATES:
        return True
    if row.media_type is MediaType.MOVIE:
        return False
    return (row.episodes_available or 0) > (before.episodes_available or 0)


def apprise_send(url: str, title: str, body: str, attach: Path | None = None) -> str | None:
    """Send one message to one Apprise URL (blocking); None on success, else why not. `attach`:
    a file sent along where the target takes attachments (the others send the text alone)."""
    import apprise  # imported late: it loads every plugin, which the CLI's other paths skip

    # apprise is untyped; its LogCapture also keeps its log lines off our stderr
    capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")  # type: ignore[no-untyped-call]
    with capture as captured:
        target = apprise.Apprise()
        if not target.add(url):
            return "not a valid Apprise URL"
        files = str(attach) if attach is not None and attach.is_file() else None
        ok = target.notify(title=title, body=body, attach=files)
        text = captured.getvalue()
    if ok:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[-1] if lines else "the target refused the message"
    return _URLISH.sub("<url>", reason)[:300]


async def in_daemon_thread(fn: Callable[[], T], timeout: float) -> T:
    """Run blocking `fn` in a daemon thread: a hung call can neither block the event loop nor
    keep the process from exiting (unlike the default executor, which is joined at exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, failed: bool) -> None:
        if future.done():
            return
        if failed:
            future.set_exception(value)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            result: Any = fn()
            failed = False
        except BaseException as exc:  # handed to the awaiting coroutine
            result, failed = exc, True
        try:
            loop.call_soon_threadsafe(settle, result, failed)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    threading.Thread(target=target, name="notify-send", daemon=True).start()
    return await asyncio.wait_for(future, timeout)


@dataclass(frozen=True)
class Pending:
    request_id: int
    event: str
    key: str
    title: str
    body: str
    attempts: int
    url: str
    attach: Path | None = None  # the poster, for a message that shows one


@asynccontextmanager
async def _held(lock: asyncio.Lock | None) -> AsyncIterator[None]:
    if lock is None:
        yield
        return
    async with lock:
        yield


class Notifier:
    """Queues and sends the `[notify]` messages. Attach it to a `Reconciler` with `attach()`."""

    def __init__(
        self,
        section: NotifySection,
        store: Store,
        *,
        sender: Sender = apprise_send,
        timeout: float = SEND_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
        retry_base: float = RETRY_BASE,
        clock: Callable[[], datetime] = utcnow,
        play_link: PlayLink | None = None,
        poster: Poster | None = None,
    ) -> None:
        self.urls = list(dict.fromkeys(section.urls))
        self.events = frozenset(section.on)
        # [notify.users]: lower-case name -> the target ids of that person's URLs
        self.users = {name.strip().casefold(): [target_id(u) for u in urls]
                      for name, urls in section.users.items()}
        self._operator = [target_id(u) for u in self.urls]
        self.store = store
        self.sender = sender
        self.timeout = timeout
        self.monotonic = monotonic
        self.retry_base = retry_base
        self.clock = clock
        self.play_link = play_link
        self.poster = poster
        self._targets = {target_id(u): u for u in
                         [*self.urls, *(u for urls in section.users.values() for u in urls)]}
        self._not_before: dict[tuple[int, str, str], float] = {}
        self._attached: Reconciler | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.urls and self.events) or bool(self.users)

    def attach(self, reconciler: Reconciler) -> None:
        reconciler.on_transition.append(self.on_transition)
        reconciler.on_row.append(self.on_row)
        reconciler.after_reconcile.append(self.after_reconcile)
        self._attached = reconciler

    def detach(self) -> None:
        reconciler, self._attached = self._attached, None
        if reconciler is None:
            return
        # Bound methods compare equal when they are bound to the same object.
        if self.on_transition in reconciler.on_transition:
            reconciler.on_transition.remove(self.on_transition)
        if self.on_row in reconciler.on_row:
            reconciler.on_row.remove(self.on_row)
        if self.after_reconcile in reconciler.after_reconcile:
            reconciler.after_reconcile.remove(self.after_reconcile)

    # ------------------------------------------------------------ queuing (inside the cycle)

    def on_transition(self, row: RequestRow, from_state: str | None) -> None:
        event = STATES[row.state].notify
        if from_state is None or event is None or event not in self.events:
            return
        self._queue(row, event)

    def on_row(self, row: RequestRow, before: RequestRow | None) -> None:
        """Tell the requester (when `[notify.users]` has an address for them)."""
        if not self.users or not requester_gained(row, before):
            return
        targets = self.requester_targets(row)
        if not targets:
            return
        attached = self._attached
        server = short_name(attached.config.media_server_kind) if attached else "Jellyfin"
        title, body = compose_ready(row, self.play_link(row) if self.play_link else None,
                                    server)
        base = event_key(row, READY)
        for tid in targets:
            self.store.notification_pending(row.id, READY, f"{base}@{tid}", f"{title}\n{body}",
                                            row.state_since)

    def requester_targets(self, row: RequestRow) -> list[str]:
        """The target ids of the `[notify.users]` entries naming the row's requester."""
        found: list[str] = []
        for key in row.requester_keys:
            found += self.users.get(key, [])
        return list(dict.fromkeys(found))

    def after_reconcile(self, now: datetime) -> None:
        del now  # the stuck stretch's own start names it, not the cycle's time
        if NotifyEvent.STUCK not in self.events or not self.urls:
            return
        for row in self.store.stuck_requests():
            if row.stuck_reason and row.stuck_since is not None:
                self._queue(row, NotifyEvent.STUCK)

    def _queue(self, row: RequestRow, event: str) -> None:
        title, body = compose(row, event)
        base = event_key(row, event)
        at = row.stuck_since if event == NotifyEvent.STUCK and row.stuck_since else row.state_since
        for tid in self._operator:
            self.store.notification_pending(row.id, str(event), f"{base}@{tid}",
                                            f"{title}\n{body}", at)

    # ------------------------------------------------------------ sending (after the cycle)

    def due(self) -> list[Pending]:
        """Unsent messages for the configured targets whose retry pause is over: this process's
        own pause after a failure it saw (monotonic), else the next attempt's time stored with
        the message (a failure seen by an earlier run)."""
        now, wall = self.monotonic(), self.clock()
        out = []
        for n in self.store.unsent_notifications():
            _, _, tid = n.key.rpartition("@")
            url = self._targets.get(tid)
            if url is None:  # queued for a target no longer configured
                continue
            ident = (n.request_id, n.event, n.key)
            if ident in self._not_before:
                if self._not_before[ident] > now:
                    continue
            elif n.next_attempt is not None and n.next_attempt > wall:
                continue
            title, _, body = n.message.partition("\n")
            out.append(Pending(n.request_id, n.event, n.key, title, body, n.attempts, url,
                               self._attachment(n.request_id, n.event)))
        return out

    async def send_pending(self, lock: asyncio.Lock | None = None, *,
                           budget: float | None = None) -> int:
        """Send what is due; returns how many were sent. Never raises (but can be cancelled).

        `lock` guards the store (the daemon's cycle lock): held to read and record, never while
        waiting for a target. After a target fails, its other messages wait for the next round;
        with `budget` (seconds), no send starts once it is spent (the rest wait too)."""
        sent = 0
        deadline = None if budget is None else self.monotonic() + budget
        failed: set[str] = set()
        try:
            async with _held(lock):
                pending = self.due()
            for p in pending:
                target = p.key.rpartition("@")[2]
                if target in failed or (deadline is not None and self.monotonic() >= deadline):
                    continue
                error = await self._deliver(p)
                if error is not None:
                    failed.add(target)
                sent += await self._record(p, error, lock)
        except asyncio.CancelledError:
            raise
        except Exception:  # a notification problem must never stop reconciliation
            log.exception("notify.crashed")
        return sent

    async def _record(self, p: Pending, error: str | None, lock: asyncio.Lock | None) -> int:
        """Store a send's outcome (on failure, when to try again) and log it; 1 when sent."""
        ident = (p.request_id, p.event, p.key)
        target = p.key.rpartition("@")[2]
        pause = min(self.retry_base * 2 ** p.attempts, RETRY_CAP)
        now = self.clock()
        async with _held(lock):
            with self.store.transaction():
                self.store.notification_result(
                    p.request_id, p.event, p.key, now, error,
                    None if error is None else now + timedelta(seconds=pause))
        if error is None:
            self._not_before.pop(ident, None)
            log.info("notify.sent", request_id=p.request_id, notify_event=p.event,
                     target=target)
            return 1
        self._not_before[ident] = self.monotonic() + pause
        log.warning("notify.failed", request_id=p.request_id, notify_event=p.event,
                    target=target, attempts=p.attempts + 1, error=error, retry_in=round(pause))
        return 0

    def _attachment(self, request_id: int, event: str) -> Path | None:
        """The poster a message shows (read with the store, so under the lock in `due`)."""
        if self.poster is None or event not in POSTER_EVENTS:
            return None
        try:
            return self.poster(request_id)
        except Exception:  # no poster is no reason not to send
            log.exception("notify.poster_failed")
            return None

    async def _deliver(self, p: Pending) -> str | None:
        url, title, body, attach = p.url, p.title, p.body, p.attach

        def send() -> str | None:
            if attach is None:
                return self.sender(url, title, body)
            return self.sender(url, title, body, attach=attach)

        try:
            return await in_daemon_thread(send, self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as exc:
            return scrub(_URLISH.sub("<url>", f"{type(exc).__name__}: {exc}"))[:300]


def notifier_for(section: NotifySection | None, store: Store,
                 **kwargs: Any) -> Notifier | None:
    """A notifier when `[notify]` names at least one URL and one event, else None."""
    if section is None:
        return None
    notifier = Notifier(section, store, **kwargs)
    return notifier if notifier.enabled else None


def household_links(config: Config, store: Store) -> dict[str, Any]:
    """The `Notifier` options that make a ready-to-watch notice a product: the link that plays
    the item (the media server's `public_url`; none without it) and its poster, from the
    cache."""
    public_url = config.media_server.public_url
    server_kind = config.media_server_kind
    cache = artwork_cache(config)

    def play_link(row: RequestRow) -> str | None:
        item = store.pages.play_items([row]).get(row.id)
        return play_url(server_kind, public_url, item, store.meta.get(SERVER_ID))

    def poster(request_id: int) -> Path | None:
        row = store.request(request_id)
        return None if row is None else cache.find(key_of(row.media_type, row.tmdb_id))

    return {"play_link": play_link if public_url else None,
            "poster": poster if cache.enabled else None}


def notify_urls(config: Config) -> list[str]:
    """Every Apprise URL configured (the operator's and `[notify.users]`'): they hold tokens,
    so they are scrubbed from every log line."""
    section = config.model.notify
    if section is None:
        return []
    return [*section.urls, *(u for urls in section.users.values() for u in urls)]
