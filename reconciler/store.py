"""The store: the only module that speaks SQL.

Invariants:
- The schema is created and migrated here, in numbered steps recorded in `PRAGMA user_version`;
  a database from a newer version of the program is refused, never rewritten.
- A cycle's writes happen inside `transaction()` (BEGIN IMMEDIATE ... COMMIT): a crash leaves
  the previous consistent state; each poll's writes sit in a `savepoint()` of it, rolled back
  alone when the poll fails. WAL mode, so readers (`status`) never block the writer.
- Writes happen only when something changed: an idle cycle writes nothing but its poll rows.
  Cursors (watermarks, last full listing) live in the poll rows for that reason.
- Secrets never reach this module. The rows it reads and writes are plain values in `rows.py`
  (re-exported here).
- Nothing grows with time alone: `Store.retention` (`store_retention.Retention`, the store's
  other module) deletes old poll records and sent notifications in small batches (never a row
  that a watermark, `/healthz` or the de-duplication of messages still reads), and the file
  gives freed pages back (`auto_vacuum = INCREMENTAL`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlite_utils

from reconciler.models import JellyfinItem, normalise_provider_key
from reconciler.rows import (
    EpisodeRow,
    PollRow,
    RequestRow,
    TimelineEntry,
    dump_json,
    from_iso,
    iso,
    item_digest,
    item_from_row,
    utcnow,
    widths_text,
)
from reconciler.store_pages import PageReads
from reconciler.store_retention import AUTO_VACUUM_INCREMENTAL, Retention

__all__ = [
    "SCHEMA_VERSION", "EpisodeRow", "PollRow", "RequestRow", "Store", "StoreError",
    "TimelineEntry", "from_iso", "iso", "utcnow",
]

SCHEMA_VERSION = 5


class StoreError(Exception):
    """The database cannot be used; the message says why, for the operator."""


# ---------------------------------------------------------------- migrations


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.table("requests").create(
        {
            "id": int,
            "media_type": str,
            "title": str,
            "tmdb_id": int,
            "tvdb_id": int,
            "is4k": int,
            "is_anime": int,
            "seerr_status": int,
            "seasons": str,
            "radarr_movie_id": int,
            "sonarr_series_id": int,
            "jellyfin_item_id": str,
            "jellyfin_key": str,
            "shoko_ids": str,
            "state": str,
            "state_since": str,
            "via": str,
            "detail": str,
            "progress": float,
            "phase": str,
            "phase_since": str,
            "progress_since": str,
            "stuck_reason": str,
            "episodes_available": int,
            "episodes_aired": int,
            "absent_count": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"media_type", "state", "state_since"},
    )
    db.table("episodes").create(
        {
            "request_id": int,
            "season": int,
            "episode": int,
            "sonarr_episode_id": int,
            "air_date": str,
            "state": str,
            "via": str,
            "jellyfin_item_id": str,
        },
        pk=("request_id", "season", "episode"),
    )
    db.table("timeline").create(
        {
            "id": int,
            "request_id": int,
            "at": str,
            "from_state": str,
            "to_state": str,
            "via": str,
            "detail": str,
        },
        pk="id",
    )
    db.table("timeline").create_index(["request_id", "id"])
    db.table("observations").create(
        {"service": str, "subject": str, "data": str, "observed_at": str},
        pk=("service", "subject"),
    )
    db.table("jellyfin_items").create(
        {
            "id": str,
            "type": str,
            "name": str,
            "location_type": str,
            "is_placeholder": int,
            "path": str,
            "series_id": str,
            "season": int,
            "episode": int,
            "episode_end": int,
            "provider_ids": str,
            "date_last_saved": str,
            "digest": str,
            "missing_count": int,
        },
        pk="id",
    )
    db.table("jellyfin_items").create_index(["series_id"])
    db.table("jellyfin_provider_ids").create(
        {"item_id": str, "key": str, "value": str}, pk=("key", "value", "item_id")
    )
    db.table("jellyfin_provider_ids").create_index(["item_id"])
    db.table("polls").create(
        {
            "id": int,
            "service": str,
            "started": str,
            "finished": str,
            "ok": int,
            "error": str,
            "http_calls": int,
            "http_bytes": int,
            "watermark": str,
            "full": int,
        },
        pk="id",
    )
    db.table("polls").create_index(["service", "id"])
    db.table("meta").create({"key": str, "value": str}, pk="key")


def _migrate_2(db: sqlite_utils.Database) -> None:
    db.table("notifications").create(
        {"request_id": int, "event": str, "key": str, "created_at": str, "sent_at": str,
         "attempts": int, "last_error": str, "message": str},
        pk=("request_id", "event", "key"),
    )
    db.table("requests").add_column("stuck_since", str)


def _migrate_3(db: sqlite_utils.Database) -> None:
    # Retention finds old poll records by their start, not by scanning the table.
    db.table("polls").create_index(["started"], if_not_exists=True)


def _vacuum_incremental(conn: sqlite3.Connection) -> None:
    """After migration 3, outside any transaction: an existing file switches to incremental
    auto-vacuum, which SQLite applies only by rewriting it once (a new file has it from the
    start, see `_configure`)."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != AUTO_VACUUM_INCREMENTAL:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")


def _migrate_4(db: sqlite_utils.Database) -> None:
    """Who asked, the year, the download's ETA and the release date (issue 17)."""
    requests = db.table("requests")
    for name, kind in (("requested_by", str), ("requested_by_id", int),
                       ("requester_keys", str), ("year", int), ("eta", str),
                       ("release_date", str)):
        requests.add_column(name, kind)


def _migrate_5(db: sqlite_utils.Database) -> None:
    """Several Radarr/Sonarr servers (issue 16): the server tracking each request, and the
    video widths of each Jellyfin item's versions (which copy it plays: HD or 4K)."""
    db.table("requests").add_column("server", str)
    db.table("jellyfin_items").add_column("video_widths", str)
    # The items pending absence, few or none: with this, counting the present ones each poll
    # costs two index look-ups, not a scan of the whole index.
    db.execute("CREATE INDEX IF NOT EXISTS idx_jellyfin_items_missing ON jellyfin_items"
               "(missing_count) WHERE missing_count > 0")


MIGRATIONS = [_migrate_1, _migrate_2, _migrate_3, _migrate_4, _migrate_5]
# Steps that end outside the transaction (VACUUM cannot run inside one); the schema version
# is raised only after it, so an interrupted step is done again at the next start.
AFTER_COMMIT = {3: _vacuum_incremental}
assert len(MIGRATIONS) == SCHEMA_VERSION


# ---------------------------------------------------------------- the store


class Store:
    """All persistence. Open with `Store.open(path)`; close with `close()`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._in_tx = False
        self.rows_written = 0
        self._parsed: dict[tuple[str, str], tuple[str, Any]] = {}
        self.retention = Retention(self.conn, self._write, self.transaction)
        self.pages = PageReads(self.conn)

    # -- opening

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Store:
        """Open (creating and migrating when allowed) the database at `path`."""
        return cls(_connect(path, readonly))

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
            raise
        except Exception:
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
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
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

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self.conn.execute(sql, params)
        self.rows_written += max(cur.rowcount, 0)
        return cur.rowcount

    # -- requests

    def requests(self, *, phase: str | None = None) -> list[RequestRow]:
        if phase is None:
            rows = self.conn.execute("SELECT * FROM requests ORDER BY id").fetchall()
        else:
            rows = self.conn.execute("SELECT * FROM requests WHERE phase = ? ORDER BY id",
                                     (phase,)).fetchall()
        return [RequestRow.from_db(dict(r)) for r in rows]

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
        return [TimelineEntry(*r) for r in rows]

    def episodes(self, request_id: int) -> list[EpisodeRow]:
        rows = self.conn.execute(
            "SELECT season, episode, sonarr_episode_id, air_date, state, via, jellyfin_item_id "
            "FROM episodes WHERE request_id = ? ORDER BY season, episode",
            (request_id,),
        ).fetchall()
        return [EpisodeRow(*r) for r in rows]

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
                "INSERT OR REPLACE INTO episodes (request_id, season, episode, sonarr_episode_id, "
                "air_date, state, via, jellyfin_item_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (request_id, row.season, row.episode, row.sonarr_episode_id, row.air_date,
                 row.state, row.via, row.jellyfin_item_id),
            )

    # -- observations

    def _parse(self, service: str, subject: str, text: str) -> Any:
        """Parsed observation JSON, memoised per subject while its text stays the same (most
        do not change from one cycle to the next, and parsing is most of a steady cycle's CPU).
        One entry per subject, so the memo never grows with time; callers treat it read-only."""
        hit = self._parsed.get((service, subject))
        if hit is not None and hit[0] == text:
            return hit[1]
        parsed = json.loads(text)
        self._parsed[(service, subject)] = (text, parsed)
        return parsed

    def observation(self, service: str, subject: str) -> Any | None:
        row = self.conn.execute(
            "SELECT data FROM observations WHERE service = ? AND subject = ?", (service, subject)
        ).fetchone()
        return self._parse(service, subject, row[0]) if row else None

    def observations(self, service: str, prefix: str = "") -> dict[str, Any]:
        rows = self.conn.execute(
            "SELECT subject, data FROM observations WHERE service = ? AND subject LIKE ?",
            (service, prefix.replace("%", r"\%") + "%"),
        ).fetchall()
        return {r[0]: self._parse(service, r[0], r[1]) for r in rows}

    def put_observation(self, service: str, subject: str, data: Any, at: datetime) -> bool:
        """Record the latest observation of `subject`; written only when it changed."""
        text = dump_json(data)
        row = self.conn.execute(
            "SELECT data FROM observations WHERE service = ? AND subject = ?", (service, subject)
        ).fetchone()
        if row is not None and row[0] == text:
            return False
        self._write(
            "INSERT OR REPLACE INTO observations (service, subject, data, observed_at) "
            "VALUES (?, ?, ?, ?)",
            (service, subject, text, iso(at)),
        )
        return True

    def drop_observations(self, service: str, subjects: Iterable[str]) -> int:
        count = 0
        for subject in subjects:
            self._parsed.pop((service, subject), None)
            count += max(0, self._write(
                "DELETE FROM observations WHERE service = ? AND subject = ?", (service, subject)))
        return count

    # -- Jellyfin item index

    def index_items(self, items: Sequence[JellyfinItem]) -> int:
        """Add or update items in the index; returns how many rows changed."""
        if not items:
            return 0
        provider_json = {i.id: dump_json(i.provider_ids) for i in items}
        digests = {i.id: item_digest(i, provider_json[i.id]) for i in items}
        known: dict[str, tuple[str, int]] = {}
        ids = list(digests)
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" for _ in chunk)
            for row in self.conn.execute(
                f"SELECT id, digest, missing_count FROM jellyfin_items WHERE id IN ({marks})",
                chunk,
            ):
                known[row[0]] = (row[1], row[2] or 0)
        plan = _IndexPlan.of(items, known, provider_json, digests)
        for item_id in plan.found_again:
            self._write("UPDATE jellyfin_items SET missing_count = 0 WHERE id = ?", (item_id,))
        item_rows, pid_deletes, pid_rows = plan.item_rows, plan.pid_deletes, plan.pid_rows
        if item_rows:
            cur = self.conn.executemany(
                "INSERT OR REPLACE INTO jellyfin_items (id, type, name, location_type, "
                "is_placeholder, path, series_id, season, episode, episode_end, provider_ids, "
                "date_last_saved, digest, missing_count, video_widths) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                item_rows,
            )
            self.rows_written += max(cur.rowcount, 0)
        if pid_deletes:
            self.conn.executemany("DELETE FROM jellyfin_provider_ids WHERE item_id = ?",
                                  pid_deletes)
        if pid_rows:
            cur = self.conn.executemany(
                "INSERT OR IGNORE INTO jellyfin_provider_ids (item_id, key, value) "
                "VALUES (?, ?, ?)",
                pid_rows,
            )
            self.rows_written += max(cur.rowcount, 0)
        return len(item_rows)

    def items_by_provider(self, pairs: Iterable[tuple[str, str]]) -> list[JellyfinItem]:
        """Items carrying any of the (normalised key, value) ProviderId pairs."""
        result: dict[str, JellyfinItem] = {}
        for key, value in pairs:
            rows = self.conn.execute(
                "SELECT i.* FROM jellyfin_provider_ids p JOIN jellyfin_items i ON i.id = p.item_id "
                "WHERE p.key = ? AND p.value = ?",
                (key, value),
            ).fetchall()
            for r in rows:
                result[r["id"]] = item_from_row(dict(r))
        return list(result.values())

    def items_by_ids(self, ids: Iterable[str]) -> list[JellyfinItem]:
        out = []
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" for _ in chunk)
            rows = self.conn.execute(f"SELECT * FROM jellyfin_items WHERE id IN ({marks})", chunk)
            out += [item_from_row(dict(r)) for r in rows]
        return out

    def episodes_of(self, series_item_id: str) -> list[JellyfinItem]:
        rows = self.conn.execute(
            "SELECT * FROM jellyfin_items WHERE series_id = ? AND type = 'Episode'",
            (series_item_id,),
        ).fetchall()
        return [item_from_row(dict(r)) for r in rows]

    def all_item_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM jellyfin_items")}

    def present_item_count(self) -> int:
        """Items in the index not missing from a listing or lookup (those pending absence are
        looked up by id anyway)."""
        total = self.conn.execute("SELECT count(*) FROM jellyfin_items").fetchone()[0]
        missing = self.conn.execute(
            "SELECT count(*) FROM jellyfin_items WHERE missing_count > 0").fetchone()[0]
        return int(total) - int(missing)

    def mark_items_absent(self, ids: Iterable[str], confirm_after: int = 2) -> list[str]:
        """Count one more complete listing without these items; remove the confirmed ones."""
        removed = []
        for item_id in ids:
            row = self.conn.execute("SELECT missing_count FROM jellyfin_items WHERE id = ?",
                                    (item_id,)).fetchone()
            if row is None:
                continue
            count = (row[0] or 0) + 1
            if count >= confirm_after:
                self._write("DELETE FROM jellyfin_items WHERE id = ?", (item_id,))
                self._write("DELETE FROM jellyfin_provider_ids WHERE item_id = ?", (item_id,))
                removed.append(item_id)
            else:
                self._write("UPDATE jellyfin_items SET missing_count = ? WHERE id = ?",
                            (count, item_id))
        return removed

    def items_pending_absence(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM jellyfin_items WHERE missing_count > 0")]

    # -- polls

    def record_poll(self, service: str, started: datetime, finished: datetime, ok: bool,
                    error: str | None, http_calls: int, http_bytes: int,
                    watermark: str | None = None, full: bool = False) -> None:
        self._write(
            "INSERT INTO polls (service, started, finished, ok, error, http_calls, http_bytes, "
            "watermark, full) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (service, iso(started), iso(finished), int(ok), error, http_calls, http_bytes,
             watermark, int(full)),
        )

    def last_poll(self, service: str, *, ok: bool | None = None,
                  full: bool | None = None) -> PollRow | None:
        sql = ("SELECT service, started, finished, ok, error, http_calls, http_bytes, watermark, "
               "full FROM polls WHERE service = ?")
        params: list[Any] = [service]
        if ok is not None:
            sql += " AND ok = ?"
            params.append(int(ok))
        if full is not None:
            sql += " AND full = ?"
            params.append(int(full))
        row = self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return PollRow(row[0], row[1], row[2], bool(row[3]), row[4], row[5] or 0, row[6] or 0,
                       row[7], bool(row[8]))

    def last_watermark(self, service: str) -> str | None:
        row = self.conn.execute(
            "SELECT watermark FROM polls WHERE service = ? AND ok = 1 AND watermark IS NOT NULL "
            "ORDER BY id DESC LIMIT 1",
            (service,),
        ).fetchone()
        return row[0] if row else None

    # -- meta (small facts that change rarely, e.g. when a library was last refreshed)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def metas(self, prefix: str) -> dict[str, str]:
        rows = self.conn.execute("SELECT key, value FROM meta WHERE key LIKE ?", (prefix + "%",))
        return {r[0]: r[1] for r in rows}

    def set_meta(self, key: str, value: str) -> None:
        if self.meta(key) == value:
            return
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- notifications

    def notification_pending(self, request_id: int, event: str, key: str, message: str,
                             at: datetime) -> None:
        """Queue a notification once; repeating (request, event, key) is a no-op."""
        self._write(
            "INSERT OR IGNORE INTO notifications (request_id, event, key, created_at, attempts, "
            "message) VALUES (?, ?, ?, ?, 0, ?)",
            (request_id, event, key, iso(at), message),
        )

    def unsent_notifications(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT request_id, event, key, message, attempts FROM notifications "
            "WHERE sent_at IS NULL ORDER BY created_at"
        ).fetchall()
        return [dict(r) for r in rows]

    def notification_result(self, request_id: int, event: str, key: str, at: datetime,
                            error: str | None) -> None:
        if error is None:
            self._write(
                "UPDATE notifications SET sent_at = ?, attempts = attempts + 1, last_error = NULL "
                "WHERE request_id = ? AND event = ? AND key = ?",
                (iso(at), request_id, event, key),
            )
        else:
            self._write(
                "UPDATE notifications SET attempts = attempts + 1, last_error = ? "
                "WHERE request_id = ? AND event = ? AND key = ?",
                (error, request_id, event, key),
            )

    def sent_notifications(self) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT request_id, event, key, sent_at FROM notifications WHERE sent_at IS NOT NULL"
        ).fetchall()
        return [dict(r) for r in rows]

    # -- checks

    def integrity_ok(self) -> bool:
        return bool(self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def counts(self) -> dict[str, int]:
        tables = ("requests", "episodes", "timeline", "observations", "jellyfin_items",
                  "jellyfin_provider_ids", "polls", "meta", "notifications")
        return {t: int(self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in tables}

    # -- the status page (read-only queries)


@dataclass
class _IndexPlan:
    """The rows `index_items` writes: changed items, their ProviderIds, items seen again."""

    item_rows: list[tuple[Any, ...]] = field(default_factory=list)
    pid_deletes: list[tuple[str]] = field(default_factory=list)
    pid_rows: list[tuple[str, str, str]] = field(default_factory=list)
    found_again: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, items: Sequence[JellyfinItem], known: dict[str, tuple[str, int]],
           provider_json: dict[str, str], digests: dict[str, str]) -> _IndexPlan:
        plan = cls()
        for item in items:
            prior = known.get(item.id)
            if prior is not None and prior[0] == digests[item.id]:
                if prior[1]:
                    plan.found_again.append(item.id)
                continue
            plan.item_rows.append((
                item.id, item.type, item.name, item.location_type, int(item.is_placeholder),
                item.path, item.series_id, item.season, item.episode, item.episode_end,
                provider_json[item.id], item.date_last_saved, digests[item.id], 0,
                widths_text(item.video_widths),
            ))
            if prior is not None:
                plan.pid_deletes.append((item.id,))
            for key, value in item.provider_ids.items():
                if value:
                    plan.pid_rows.append((item.id, normalise_provider_key(key),
                                          str(value).strip()))
        return plan


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    """A connection to the database at `path`, its schema checked and (unless `readonly`)
    created or migrated."""
    if readonly and not path.exists():
        raise StoreError(f"{path}: no database yet (run `reconcile --once` first)")
    if not readonly:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path.parent}: cannot create the state directory "
                             f"({exc.strerror})") from None
    if path.exists():
        _check_sqlite_header(path)
    conn: sqlite3.Connection | None = None
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True,
                                   isolation_level=None, timeout=5.0, check_same_thread=False)
        else:
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=5.0,
                                   check_same_thread=False)
        conn.row_factory = sqlite3.Row
        _configure(conn, readonly)
    except BaseException as exc:
        if conn is not None:
            conn.close()  # never leak it: the HTTP endpoint opens one per request
        if not isinstance(exc, sqlite3.DatabaseError):
            raise
        hint = ""
        if "unable to open" in str(exc) or "readonly" in str(exc):
            hint = f"; reconciler must be able to write to it and to {path.parent}"
        raise StoreError(f"{path}: cannot open the database ({exc}){hint}") from None
    return conn


def _configure(conn: sqlite3.Connection, readonly: bool) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this program understands "
            f"({SCHEMA_VERSION}); upgrade reconciler or use another database file"
        )
    if readonly:
        if version < SCHEMA_VERSION:
            raise StoreError("database needs migrating; run `reconcile --once` first")
        return
    if version == 0:
        # Only before the first table (and before WAL writes the header) is this free.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    db = sqlite_utils.Database(conn)
    for step in range(version, SCHEMA_VERSION):
        after = AFTER_COMMIT.get(step + 1)
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[step](db)
            if after is None:
                conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if after is not None:
            after(conn)
            conn.execute(f"PRAGMA user_version = {step + 1}")


def _check_sqlite_header(path: Path) -> None:
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except PermissionError:
        raise StoreError(f"{path}: cannot read the database (permission denied)") from None
    except IsADirectoryError:
        raise StoreError(f"{path}: is a directory, not a database file") from None
    if head and head != b"SQLite format 3\x00":
        raise StoreError(f"{path}: not an SQLite database; refusing to touch it "
                         f"(point [reconciler] database at another file)")


def _chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
