"""How current reconciler's news of each service is: the one rule that `/healthz`, the status
page's banner and `/api/summary`'s `behind` share. A service is behind when its last successful
poll is older than three of its intervals (the slower of its two paces; never less than
`HEALTH_MIN_LIMIT`), or when it has never answered. Read-only; `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.config import Config
from reconciler.registry import Role, short_name
from reconciler.registry import kind as kind_of
from reconciler.store import Store

HEALTH_INTERVALS = 3
# Poll times are stored in whole seconds and a poll takes a moment: below this, a service
# polled every second or faster would read as behind right after a successful poll.
HEALTH_MIN_LIMIT = 10.0

# What may have happened unseen while a service of this role is behind (the banner's words).
UNSEEN: dict[Role, str] = {
    Role.REQUESTS: "new requests and approvals may not show yet",
    Role.DOWNLOADS: "downloads may have moved since",
    Role.ANIME_MATCHING: "anime being identified may have moved since",
    Role.MEDIA_SERVER: "what is ready to watch may have changed since",
}


@dataclass(frozen=True)
class Freshness:
    """One configured service or server: when it last answered, and whether that is recent
    enough."""

    name: str  # as configured: "radarr", or a server's own name ("radarr4k")
    kind: str  # "radarr"
    limit: timedelta
    last_success: datetime | None
    last_error: str | None  # the latest poll's error, when the latest poll failed
    now: datetime

    @property
    def ok(self) -> bool:
        return self.last_success is not None and self.now - self.last_success <= self.limit

    @property
    def behind(self) -> str | None:
        """Why it is behind, as `/healthz` says it; None when it is not."""
        if self.last_success is None:
            return "no successful poll yet"
        if self.ok:
            return None
        seconds = int((self.now - self.last_success).total_seconds())
        return f"last successful poll {seconds} s ago (limit {int(self.limit.total_seconds())} s)"

    @property
    def display_name(self) -> str:
        """How the page names it: "Radarr", a second server "Radarr (radarr4k)"."""
        product = short_name(self.kind)
        return product if self.name == self.kind else f"{product} ({self.name})"

    @property
    def unseen(self) -> str:
        """What may have moved unseen while it is behind."""
        try:
            return UNSEEN[kind_of(self.kind).role]
        except KeyError:
            return "requests may have moved since"


def limit_for(config: Config, name: str) -> timedelta:
    """How old the last successful poll of `name` may be: three of its slower interval."""
    interval = max(config.poll_interval(name, False), config.poll_interval(name, True))
    return timedelta(seconds=max(interval * HEALTH_INTERVALS, HEALTH_MIN_LIMIT))


def freshness(config: Config, store: Store | None, now: datetime) -> list[Freshness]:
    """Every configured service's freshness at `now`, in poll order (all behind without a
    database)."""
    out = []
    for name, svc in config.services.items():
        last_ok = store.last_poll(name, ok=True) if store else None
        latest = store.last_poll(name) if store else None
        error = latest.error if latest is not None and not latest.ok else None
        out.append(Freshness(name, svc.kind, limit_for(config, name),
                             (last_ok.finished or last_ok.started) if last_ok else None,
                             error, now))
    return out
