"""The store's reads for the status page: every request in brief (to group, count, search and
order them), the full rows and episodes of the few on one screen, which Jellyfin item plays a
request, what changed since the page was drawn, and what airs next. Part of the store (its SQL
lives here, beside `database.py`); read-only.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from reconciler.store.rows import EpisodeRow, RequestBrief, RequestRow
from reconciler.times import iso, parse_time

# `RequestBrief.from_db`'s columns, in its order.
BRIEF_COLUMNS = ("id, media_type, title, tmdb_id, state, stuck_reason IS NOT NULL, "
                 "episodes_available, episodes_aired, created_at, requested_by, "
                 "jellyfin_item_id")
_EPISODE_COLUMNS = ("request_id, season, episode, sonarr_episode_id, air_date, state, via, "
                    "jellyfin_item_id, progress, eta")
# SQLite's default limit on a statement's parameters is 999 (older builds): ids go in chunks.
_CHUNK = 500


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
            "episodes_available, episodes_aired, requested_by, year, eta, release_date, "
            "jellyfin_item_id FROM requests ORDER BY id",
            "SELECT max(id) FROM timeline",
            "SELECT request_id, season, episode, state, air_date, progress, eta, "
            "jellyfin_item_id FROM episodes ORDER BY request_id, season, episode",
        ):
            for row in self.conn.execute(sql):
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    def list_rows(self) -> list[tuple[Any, ...]]:
        """Every request as the list groups, orders and searches it: (id, state, stuck,
        episodes available, episodes aired, created at, requested by, title, TMDB id)."""
        return [tuple(r) for r in self.conn.execute(
            "SELECT id, state, stuck_reason IS NOT NULL, episodes_available, episodes_aired, "
            "created_at, requested_by, title, tmdb_id FROM requests")]

    def cycle_mark(self) -> tuple[int, int]:
        """Moves with every committed cycle (each records its polls in the transaction that
        writes its requests) and every timeline entry: what the page's marker is cached on."""
        row = self.conn.execute("SELECT (SELECT max(id) FROM polls), "
                                "(SELECT max(id) FROM timeline)").fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    def briefs(self) -> list[RequestBrief]:
        """Every request, in brief."""
        return [RequestBrief.from_db(r) for r in
                self.conn.execute(f"SELECT {BRIEF_COLUMNS} FROM requests")]

    def rows(self, ids: Sequence[int]) -> dict[int, RequestRow]:
        """The full rows of the requests `ids`."""
        out: dict[int, RequestRow] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" for _ in chunk)
            for r in self.conn.execute(f"SELECT * FROM requests WHERE id IN ({marks})", chunk):
                row = RequestRow.from_db(dict(r))
                out[row.id] = row
        return out

    def episodes_of(self, ids: Sequence[int]) -> dict[int, list[EpisodeRow]]:
        """The episode rows of the requests `ids`, in season and episode order."""
        out: dict[int, list[EpisodeRow]] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" for _ in chunk)
            for r in self.conn.execute(
                    f"SELECT {_EPISODE_COLUMNS} FROM episodes WHERE request_id IN ({marks}) "
                    "ORDER BY request_id, season, episode", chunk):
                out.setdefault(int(r[0]), []).append(EpisodeRow.from_db(tuple(r)[1:]))
        return out

    def play_items(self, rows: Iterable[RequestBrief | RequestRow]) -> dict[int, str]:
        """The Jellyfin item that plays each request: a film's own item, a show's series (the
        series of its playable episodes' items, from the index)."""
        out: dict[int, str] = {}
        shows: list[int] = []
        for row in rows:
            if row.jellyfin_item_id:
                out[row.id] = row.jellyfin_item_id
            elif row.media_type.value == "tv":
                shows.append(row.id)
        for chunk in _chunks(shows):
            marks = ",".join("?" for _ in chunk)
            for request_id, series_id in self.conn.execute(
                    "SELECT e.request_id, min(i.series_id) FROM episodes e JOIN jellyfin_items i "
                    f"ON i.id = e.jellyfin_item_id WHERE e.request_id IN ({marks}) "
                    "AND i.series_id IS NOT NULL GROUP BY e.request_id", chunk):
                out[int(request_id)] = str(series_id)
        return out

    def next_air_dates(self, after: datetime) -> dict[int, datetime]:
        """Per request, the earliest episode air date after `after`."""
        rows = self.conn.execute(
            "SELECT request_id, min(air_date) FROM episodes WHERE air_date > ? "
            "GROUP BY request_id",
            (iso(after),),
        )
        return {int(r[0]): when for r in rows if (when := parse_time(r[1])) is not None}


def _chunks(ids: Sequence[Any] | Iterable[Any]) -> Iterable[list[Any]]:
    items = list(ids)
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]
