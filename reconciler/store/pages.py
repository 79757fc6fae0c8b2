"""The store's reads for the status page: what changed since the page was drawn, and what
airs next. Part of the store (its SQL lives here, beside `store.py`); read-only."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime

from reconciler.times import iso, parse_time


class PageReads:
    """The status page's queries over one store's connection (`Store.pages`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def change_marker(self) -> str:
        """A short digest of what the status page shows: it moves when a request, its
        timeline or its episodes change, and not when an idle poll is recorded."""
        digest = hashlib.blake2b(digest_size=8)
        for sql in (
            "SELECT id, title, state, state_since, via, detail, progress, phase, stuck_reason, "
            "episodes_available, episodes_aired, requested_by, year, eta, release_date "
            "FROM requests ORDER BY id",
            "SELECT max(id) FROM timeline",
            "SELECT request_id, season, episode, state, air_date FROM episodes "
            "ORDER BY request_id, season, episode",
        ):
            for row in self.conn.execute(sql):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    def next_air_dates(self, after: datetime) -> dict[int, datetime]:
        """Per request, the earliest episode air date after `after`."""
        rows = self.conn.execute(
            "SELECT request_id, min(air_date) FROM episodes WHERE air_date > ? "
            "GROUP BY request_id",
            (iso(after),),
        )
        return {int(r[0]): when for r in rows if (when := parse_time(r[1])) is not None}
