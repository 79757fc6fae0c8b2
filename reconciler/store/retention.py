"""The store's retention: what it deletes so that nothing grows with time alone.

Part of the store (its SQL lives here, beside `store.py`, and nowhere else). Poll records older
than `[reconciler] retain_polls` and sent notifications older than `retain_notifications` are
deleted in small batches; the rows that a watermark, `/healthz` or the de-duplication of
messages still reads are kept whatever their age. Freed pages go back to the file system
(`auto_vacuum = INCREMENTAL`, set by the store's migration 3).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any

from reconciler.store.rows import PruneCounts
from reconciler.times import iso

# Rows per DELETE and statements per call (a cycle never stalls on a backlog, which later
# cycles work off), and at most this many free pages handed back to the file per call.
PRUNE_BATCH = 500
PRUNE_BATCHES = 20
VACUUM_PAGES = 2048
AUTO_VACUUM_INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL

Write = Callable[[str, Sequence[Any]], int]


class Retention:
    """Prunes one store's poll records and notifications (`Store.retention`)."""

    def __init__(self, conn: sqlite3.Connection, write: Write,
                 transaction: Callable[[], AbstractContextManager[None]]) -> None:
        self.conn = conn
        self._write = write
        self._transaction = transaction

    def prune(self, now: datetime, retain_polls: float,
              retain_notifications: float) -> PruneCounts:
        """Delete poll records older than `retain_polls` seconds and sent notifications older
        than `retain_notifications`, at most `PRUNE_BATCH * PRUNE_BATCHES` of each per call,
        then hand up to `VACUUM_PAGES` free pages back to the file system.

        Kept whatever their age: per service, the latest poll, the latest ok one, the latest
        full one, the latest ok and full one and the latest ok one with a watermark (what
        `last_poll` and `last_watermark` read for watermarks, full syncs and `/healthz`); per
        request, event and target, the newest sent notification (its key stops a repeat).
        Outside a transaction each batch commits on its own (short write locks); inside one,
        the deletes join it."""
        polls = self._prune_polls(iso(now - timedelta(seconds=retain_polls)) or "")
        notes = self._prune_notifications(
            iso(now - timedelta(seconds=retain_notifications)) or "")
        pages = 0
        free = int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        if free and self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] \
                == AUTO_VACUUM_INCREMENTAL:
            # One page per step: sqlite3 stops a statement without result rows after one step.
            with self._batch():
                for _ in range(min(free, VACUUM_PAGES)):
                    self.conn.execute("PRAGMA incremental_vacuum(1)")
            pages = free - int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        return PruneCounts(polls, notes, pages)

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """One short transaction of its own, or the caller's when one is open."""
        if self.conn.in_transaction:
            yield
            return
        with self._transaction():
            yield

    def polls_in_use(self, services: Iterable[str]) -> set[int]:
        """Ids of the poll records that `last_poll` / `last_watermark` can return."""
        keep: set[int] = set()
        for service in services:
            for where in ("", " AND ok = 1", " AND full = 1", " AND ok = 1 AND full = 1",
                          " AND ok = 1 AND watermark IS NOT NULL"):
                row = self.conn.execute(
                    f"SELECT id FROM polls WHERE service = ?{where} ORDER BY id DESC LIMIT 1",
                    (service,)).fetchone()
                if row is not None:
                    keep.add(int(row[0]))
        return keep

    def _prune_polls(self, cutoff: str) -> int:
        services = [r[0] for r in self.conn.execute(
            "SELECT DISTINCT service FROM polls WHERE started < ?", (cutoff,))]
        if not services:
            return 0
        keep = self.polls_in_use(services)
        deleted = 0
        for _ in range(PRUNE_BATCHES):
            ids = [r[0] for r in self.conn.execute(
                "SELECT id FROM polls WHERE started < ? ORDER BY started LIMIT ?",
                (cutoff, PRUNE_BATCH + len(keep)))]
            doomed = [i for i in ids if i not in keep][:PRUNE_BATCH]
            if not doomed:
                break
            with self._batch():
                deleted += max(0, self._write(
                    f"DELETE FROM polls WHERE id IN ({','.join('?' for _ in doomed)})", doomed))
            if len(ids) < PRUNE_BATCH + len(keep):
                break
        return deleted

    def _prune_notifications(self, cutoff: str) -> int:
        # The key ends in "@TARGET": the newest sent row per (request, event, target) stays.
        sql = (
            "DELETE FROM notifications WHERE rowid IN (SELECT n.rowid FROM notifications n "
            "WHERE n.sent_at IS NOT NULL AND n.sent_at < ? AND EXISTS (SELECT 1 FROM "
            "notifications m WHERE m.request_id = n.request_id AND m.event = n.event "
            "AND m.sent_at IS NOT NULL "
            "AND substr(m.key, instr(m.key, '@')) = substr(n.key, instr(n.key, '@')) "
            "AND (m.sent_at > n.sent_at OR (m.sent_at = n.sent_at AND m.key > n.key))) "
            "LIMIT ?)"
        )
        deleted = 0
        for _ in range(PRUNE_BATCHES):
            with self._batch():
                count = max(0, self._write(sql, (cutoff, PRUNE_BATCH)))
            deleted += count
            if count < PRUNE_BATCH:
                break
        return deleted

    def oldest_poll(self) -> str | None:
        """When the oldest poll record still kept started (ISO time), if any."""
        row = self.conn.execute("SELECT min(started) FROM polls").fetchone()
        return row[0] if row else None
