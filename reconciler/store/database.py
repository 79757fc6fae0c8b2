"""The store: the only place that speaks SQL (this package).

Invariants:
- The schema is created and migrated in `schema.py`, in numbered steps recorded in
  `PRAGMA user_version`; a database from a newer version of the program is refused.
- A cycle's writes happen inside `transaction()` (BEGIN IMMEDIATE ... COMMIT): a crash leaves
  the previous consistent state; each poll's writes sit in a `savepoint()` of it, rolled back
  alone when the poll fails. WAL mode, so readers (`status`) never block the writer.
- Writes happen only when something changed: an idle cycle writes nothing but its poll rows.
  Cursors (watermarks, last full listing) live in the poll rows for that reason.
- Secrets never reach the store. The rows it reads and writes are plain values (`rows.py`).
- Nothing grows with time alone: `Store.retention` deletes old poll records and sent
  notifications in small batches (never a row that a watermark, `/healthz` or the
  de-duplication of messages still reads), and the file gives freed pages back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import sqlite_utils

from reconciler.store.index import ItemIndex
from reconciler.store.journal import Journal
from reconciler.store.meta import Meta
from reconciler.store.pages import PageReads
from reconciler.store.retention import Retention
from reconciler.store.rows import (
    EpisodeRow,
    NoticeRow,
    PollRow,
    RequestRow,
    TimelineEntry,
    dump_json,
)
from reconciler.store.schema import connect
from reconciler.times import from_iso, iso

# The columns `PollRow.from_db` and `EpisodeRow.from_db` read, in their order.
_POLL_COLUMNS = "service, started, finished, ok, error, http_calls, http_bytes, watermark, full"
EPISODE_COLUMNS = ("season, episode, sonarr_episode_id, air_date, state, via, jellyfin_item_id, "
                   "progress, eta")


class Observed(NamedTuple):
    """A stored observation: the version of its JSON form (the writer's), and that JSON parsed
    (shared between readers: read-only)."""

    version: int
    data: Any


def _like_escape(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '\\'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Store:
    """All persistence. Open with `Store.open(path)`; close with `close()`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._in_tx = False
        self.rows_written = 0
        self._parsed: dict[tuple[str, str], tuple[str, int, Observed]] = {}
        # What changed, for readers that follow it (`journal.py`), and, while inside a
        # transaction, what is known of the observations without asking SQLite: service ->
        # subject -> (text, version) as stored, or None when known to be absent; a service in
        # `_complete` has every subject there. Both are dropped on a rollback and when another
        # connection committed (`PRAGMA data_version`).
        self.journal = Journal()
        self._known: dict[str, dict[str, tuple[str, int] | None]] = {}
        self._complete: set[str] = set()
        self._data_version: int | None = None
        # While not None, every observation and index key read is added (`recording`).
        self.reads: set[tuple[str, str]] | None = None
        self.retention = Retention(self.conn, self._write, self.transaction)
        self.pages = PageReads(self.conn)
        self.items = ItemIndex(self.conn, self._write, self._count_rows, self.journal,
                               self._read_key)
        self.meta = Meta(self.conn, self._write)

    # -- opening

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Store:
        """Open (creating and migrating when allowed) the database at `path`."""
        return cls(connect(path, readonly))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """A nested unit inside the transaction: an error inside rolls back only its writes and
        goes on up. A database error is left to the transaction (SQLite may have dropped the
        savepoint already)."""
        if not name.isidentifier():
            raise ValueError(f"not a savepoint name: {name!r}")
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except sqlite3.Error:
            self._forget()
            raise
        except Exception:
            self._forget()
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        self.conn.execute(f"RELEASE {name}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of writes (nested calls join the outer one)."""
        if self._in_tx:
            yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:  # another connection committed: start over
            self._forget()
            self._data_version = version
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            self._forget()
            # SQLite rolls back by itself on some errors (a full disk): never let a failing
            # ROLLBACK hide the error that caused it.
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise
        finally:
            self._in_tx = False

    def _forget(self) -> None:
        """Drop what is known in memory of the stored data; readers of the journal start
        over."""
        self._known.clear()
        self._complete.clear()
        self.journal.reset()

    @contextmanager
    def recording(self) -> Iterator[set[tuple[str, str]]]:
        """Collect the keys of every observation (`(service, subject)`) and index look-up
        (`(journal.INDEX, key)`) read inside: what a decision depends on."""
        outer, self.reads = self.reads, set()
        try:
            yield self.reads
        finally:
            self.reads = outer

    def _read_key(self, service: str, key: str) -> None:
        if self.reads is not None:
            self.reads.add((service, key))

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self.conn.execute(sql, params)
        self._count_rows(cur.rowcount)
        return cur.rowcount

    def _count_rows(self, rowcount: int) -> None:
        self.rows_written += max(rowcount, 0)

    # -- requests

    def requests(self, *, phase: str | None = None) -> list[RequestRow]:
        if phase is None:
            rows = self.conn.execute("SELECT * FROM requests ORDER BY id").fetchall()
        else:
            rows = self.conn.execute("SELECT * FROM requests WHERE phase = ? ORDER BY id",
                                     (phase,)).fetchall()
        return [RequestRow.from_db(dict(r)) for r in rows]

    def stuck_requests(self) -> list[RequestRow]:
        """The requests flagged stuck, by id."""
        rows = self.conn.execute(
            "SELECT * FROM requests WHERE stuck_reason IS NOT NULL ORDER BY id").fetchall()
        return [RequestRow.from_db(dict(r)) for r in rows]

    def requests_by_id(self, ids: Iterable[int]) -> dict[int, RequestRow]:
        """The rows of these requests (those stored), by id."""
        wanted = sorted(set(ids))
        out: dict[int, RequestRow] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" for _ in chunk)
            for r in self.conn.execute(f"SELECT * FROM requests WHERE id IN ({marks})", chunk):
                out[int(r["id"])] = RequestRow.from_db(dict(r))
        return out

    def request_ids(self, *, states: Iterable[str] | None = None) -> set[int]:
        """The ids of the stored requests, or of those in `states` (found by the index on
        state)."""
        sql, params = "SELECT id FROM requests", list(states or ())
        if states is not None:
            sql += f" WHERE state IN ({','.join('?' for _ in params)})"
        return {int(r[0]) for r in self.conn.execute(sql, params)}

    def request(self, request_id: int) -> RequestRow | None:
        row = self.conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        return RequestRow.from_db(dict(row)) if row else None

    def save_request(self, row: RequestRow, before: RequestRow | None) -> bool:
        """Insert or update `row` when it differs from `before`; True when written."""
        if before is not None and before == row:
            return False
        data = row.to_db()
        cols = list(data)
        placeholders = ", ".join("?" for _ in cols)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c != "id")
        self._write(
            f"INSERT INTO requests ({', '.join(cols)}) VALUES ({placeholders}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates}",
            [data[c] for c in cols],
        )
        return True

    def set_nudged(self, request_id: int, at: datetime) -> None:
        """Record that Jellyfin was asked to scan for the request at `at`."""
        self._write("UPDATE requests SET nudged_at = ? WHERE id = ?", (iso(at), request_id))

    def add_timeline(self, request_id: int, at: datetime, from_state: str | None, to_state: str,
                     via: str, detail: str) -> None:
        self._write(
            "INSERT INTO timeline (request_id, at, from_state, to_state, via, detail) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (request_id, iso(at), from_state, to_state, via, detail),
        )

    def timeline(self, request_id: int) -> list[TimelineEntry]:
        rows = self.conn.execute(
            "SELECT at, from_state, to_state, via, detail FROM timeline WHERE request_id = ? "
            "ORDER BY id",
            (request_id,),
        ).fetchall()
        return [TimelineEntry.from_db(r) for r in rows]

    def episodes(self, request_id: int) -> list[EpisodeRow]:
        rows = self.conn.execute(
            f"SELECT {EPISODE_COLUMNS} FROM episodes WHERE request_id = ? "
            "ORDER BY season, episode",
            (request_id,),
        ).fetchall()
        return [EpisodeRow.from_db(r) for r in rows]

    def save_episodes(self, request_id: int, rows: Sequence[EpisodeRow]) -> None:
        """Replace the request's episode rows, writing only those that changed."""
        existing = {(e.season, e.episode): e for e in self.episodes(request_id)}
        wanted = {(e.season, e.episode): e for e in rows}
        for key in existing.keys() - wanted.keys():
            self._write("DELETE FROM episodes WHERE request_id = ? AND season = ? AND episode = ?",
                        (request_id, *key))
        for key, row in wanted.items():
            if existing.get(key) == row:
                continue
            self._write(
                f"INSERT OR REPLACE INTO episodes (request_id, {EPISODE_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (request_id, *row.to_db()),
            )

    # -- observations

    def _parse(self, service: str, subject: str, text: str, version: int) -> Observed:
        """Parsed observation JSON, memoised per subject while its text stays the same (most
        do not change from one cycle to the next, and parsing is most of a steady cycle's CPU).
        One entry per subject, so the memo never grows with time; callers treat it read-only."""
        hit = self._parsed.get((service, subject))
        if hit is not None and hit[0] == text and hit[1] == version:
            return hit[2]
        parsed = Observed(version, json.loads(text))
        self._parsed[(service, subject)] = (text, version, parsed)
        return parsed

    def observation(self, service: str, subject: str) -> Observed | None:
        """The latest observation of `subject`, in whatever version it was written (the reader
        decides what it can read)."""
        if self.reads is not None:
            self.reads.add((service, subject))
        stored = self._stored(service, subject)
        return self._parse(service, subject, *stored) if stored is not None else None

    def _stored(self, service: str, subject: str) -> tuple[str, int] | None:
        """The stored (text, version) of `subject`: from memory inside a transaction when
        known, else read (and, inside one, remembered)."""
        known = self._known.get(service) if self._in_tx else None
        if known is not None:
            if subject in known:
                return known[subject]
            if service in self._complete:
                return None
        row = self.conn.execute(
            "SELECT data, version FROM observations WHERE service = ? AND subject = ?",
            (service, subject),
        ).fetchone()
        stored = (str(row[0]), int(row[1])) if row else None
        if self._in_tx:
            self._known.setdefault(service, {})[subject] = stored
        return stored

    def observations(self, service: str, prefix: str = "") -> dict[str, Observed]:
        """Every observation of `service` whose subject starts with `prefix`. Inside a
        transaction, a whole service (`prefix` "") is read once and then served from memory."""
        if self._in_tx and service in self._complete:
            known = self._known.get(service, {})
            return {subject: self._parse(service, subject, *stored)
                    for subject, stored in known.items()
                    if stored is not None and subject.startswith(prefix)}
        rows = self.conn.execute(
            "SELECT subject, data, version FROM observations WHERE service = ? "
            "AND subject LIKE ? ESCAPE '\\'",
            (service, _like_escape(prefix) + "%"),
        ).fetchall()
        if self._in_tx:
            known = self._known.setdefault(service, {})
            if not prefix:
                known.clear()
                self._complete.add(service)
            for r in rows:
                known[r[0]] = (str(r[1]), int(r[2]))
        return {r[0]: self._parse(service, r[0], r[1], r[2]) for r in rows}

    def put_observation(self, service: str, subject: str, data: Any, at: datetime,
                        version: int) -> bool:
        """Record the latest observation of `subject` (`data`: JSON-ready, in the form
        `version` names); written only when its text or version changed."""
        text = dump_json(data)
        if self._stored(service, subject) == (text, version):
            return False
        self._write(
            "INSERT OR REPLACE INTO observations (service, subject, data, observed_at, version) "
            "VALUES (?, ?, ?, ?, ?)",
            (service, subject, text, iso(at), version),
        )
        if self._in_tx:
            self._known.setdefault(service, {})[subject] = (text, version)
        self.journal.note(service, subject)
        return True

    def drop_observations(self, service: str, subjects: Iterable[str]) -> int:
        count = 0
        for subject in subjects:
            self._parsed.pop((service, subject), None)
            if self._in_tx:
                self._known.setdefault(service, {})[subject] = None
            count += max(0, self._write(
                "DELETE FROM observations WHERE service = ? AND subject = ?", (service, subject)))
            self.journal.note(service, subject)
        return count

    # -- polls

    def record_poll(self, service: str, started: datetime, finished: datetime, ok: bool,
                    error: str | None, http_calls: int, http_bytes: int,
                    watermark: datetime | None = None, full: bool = False) -> None:
        self._write(
            "INSERT INTO polls (service, started, finished, ok, error, http_calls, http_bytes, "
            "watermark, full) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (service, iso(started), iso(finished), int(ok), error, http_calls, http_bytes,
             iso(watermark), int(full)),
        )

    def last_poll(self, service: str, *, ok: bool | None = None,
                  full: bool | None = None) -> PollRow | None:
        sql = f"SELECT {_POLL_COLUMNS} FROM polls WHERE service = ?"
        params: list[Any] = [service]
        if ok is not None:
            sql += " AND ok = ?"
            params.append(int(ok))
        if full is not None:
            sql += " AND full = ?"
            params.append(int(full))
        row = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        return PollRow.from_db(row) if row is not None else None

    def last_watermark(self, service: str) -> datetime | None:
        row = self.conn.execute(
            f"SELECT {_POLL_COLUMNS} FROM polls "
            "WHERE service = ? AND ok = 1 AND watermark IS NOT NULL "
            "ORDER BY id DESC LIMIT 1",
            (service,),
        ).fetchone()
        return PollRow.from_db(row).watermark if row else None

    # -- notifications

    def notification_pending(self, request_id: int, event: str, key: str, message: str,
                             at: datetime) -> None:
        """Queue a notification once; repeating (request, event, key) is a no-op."""
        self._write(
            "INSERT OR IGNORE INTO notifications (request_id, event, key, created_at, attempts, "
            "message) VALUES (?, ?, ?, ?, 0, ?)",
            (request_id, event, key, iso(at), message),
        )

    def unsent_notifications(self) -> list[NoticeRow]:
        rows = self.conn.execute(
            "SELECT request_id, event, key, message, attempts, next_attempt FROM notifications "
            "WHERE sent_at IS NULL ORDER BY created_at"
        ).fetchall()
        return [NoticeRow(int(r[0]), str(r[1]), str(r[2]), str(r[3] or ""), int(r[4] or 0),
                          from_iso(r[5])) for r in rows]

    def notification_result(self, request_id: int, event: str, key: str, at: datetime,
                            error: str | None, next_attempt: datetime | None = None) -> None:
        """Record a send: done at `at`, or failed with `error` (tried again from
        `next_attempt`)."""
        if error is None:
            self._write(
                "UPDATE notifications SET sent_at = ?, attempts = attempts + 1, last_error = NULL "
                "WHERE request_id = ? AND event = ? AND key = ?",
                (iso(at), request_id, event, key),
            )
        else:
            self._write(
                "UPDATE notifications SET attempts = attempts + 1, last_error = ?, "
                "next_attempt = ? WHERE request_id = ? AND event = ? AND key = ?",
                (error, iso(next_attempt), request_id, event, key),
            )

    def counts(self) -> dict[str, int]:
        tables = ("requests", "episodes", "timeline", "observations", "jellyfin_items",
                  "jellyfin_provider_ids", "polls", "meta", "notifications")
        return {t: int(self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in tables}



