"""The store: the only module that speaks SQL.

Invariants:
- The schema is created and migrated here, in numbered steps recorded in `PRAGMA user_version`;
  a database from a newer version of the program is refused, never rewritten.
- A cycle's writes happen inside `transaction()` (BEGIN IMMEDIATE ... COMMIT): a crash leaves
  the previous consistent state. WAL mode, so readers (`status`) never block the writer.
- Writes happen only when something changed: an idle cycle writes nothing but its poll rows.
  Cursors (watermarks, last full listing) live in the poll rows for that reason.
- Secrets never reach this module.
- Nothing grows with time alone: `prune` deletes old poll records and sent notifications in
  small batches (never a row that a watermark, `/healthz` or the de-duplication of messages
  still reads), and the file gives freed pages back (`auto_vacuum = INCREMENTAL`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlite_utils

from reconciler.models import JellyfinItem, RequestState, normalise_provider_key

SCHEMA_VERSION = 3


class StoreError(Exception):
    """The database cannot be used; the message says why, for the operator."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def from_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


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
    # `prune` finds old poll records by their start, not by scanning the table.
    db.table("polls").create_index(["started"], if_not_exists=True)


def _vacuum_incremental(conn: sqlite3.Connection) -> None:
    """After migration 3, outside any transaction: an existing file switches to incremental
    auto-vacuum, which SQLite applies only by rewriting it once (a new file has it from the
    start, see `Store._configure`)."""
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != _AUTO_VACUUM_INCREMENTAL:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")


MIGRATIONS = [_migrate_1, _migrate_2, _migrate_3]
# Steps that end outside the transaction (VACUUM cannot run inside one); the schema version
# is raised only after it, so an interrupted step is done again at the next start.
AFTER_COMMIT = {3: _vacuum_incremental}
assert len(MIGRATIONS) == SCHEMA_VERSION
_AUTO_VACUUM_INCREMENTAL = 2

# Pruning: rows per DELETE and statements per call (a cycle never stalls on a backlog, which
# later cycles work off), and at most this many free pages handed back to the file per call.
PRUNE_BATCH = 500
PRUNE_BATCHES = 20
VACUUM_PAGES = 2048


# ---------------------------------------------------------------- rows


@dataclass
class RequestRow:
    """A tracked request as stored."""

    id: int
    media_type: str
    title: str | None
    tmdb_id: int | None
    tvdb_id: int | None
    is4k: bool
    is_anime: bool
    seerr_status: int | None
    seasons: list[int]
    radarr_movie_id: int | None
    sonarr_series_id: int | None
    jellyfin_item_id: str | None
    jellyfin_key: str | None
    shoko_ids: dict[str, list[int]]
    state: RequestState
    state_since: datetime
    via: str | None
    detail: str | None
    progress: float | None
    phase: str | None
    phase_since: datetime | None
    progress_since: datetime | None
    stuck_reason: str | None
    stuck_since: datetime | None
    episodes_available: int | None
    episodes_aired: int | None
    absent_count: int
    created_at: str | None
    updated_at: str | None

    @classmethod
    def from_db(cls, row: dict[str, Any]) -> RequestRow:
        return cls(
            id=row["id"],
            media_type=row["media_type"],
            title=row["title"],
            tmdb_id=row["tmdb_id"],
            tvdb_id=row["tvdb_id"],
            is4k=bool(row["is4k"]),
            is_anime=bool(row["is_anime"]),
            seerr_status=row["seerr_status"],
            seasons=json.loads(row["seasons"] or "[]"),
            radarr_movie_id=row["radarr_movie_id"],
            sonarr_series_id=row["sonarr_series_id"],
            jellyfin_item_id=row["jellyfin_item_id"],
            jellyfin_key=row["jellyfin_key"],
            shoko_ids=json.loads(row["shoko_ids"] or "{}"),
            state=RequestState(row["state"]),
            state_since=from_iso(row["state_since"]) or utcnow(),
            via=row["via"],
            detail=row["detail"],
            progress=row["progress"],
            phase=row["phase"],
            phase_since=from_iso(row["phase_since"]),
            progress_since=from_iso(row["progress_since"]),
            stuck_reason=row["stuck_reason"],
            stuck_since=from_iso(row.get("stuck_since")),
            episodes_available=row["episodes_available"],
            episodes_aired=row["episodes_aired"],
            absent_count=row["absent_count"] or 0,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def to_db(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "media_type": self.media_type,
            "title": self.title,
            "tmdb_id": self.tmdb_id,
            "tvdb_id": self.tvdb_id,
            "is4k": int(self.is4k),
            "is_anime": int(self.is_anime),
            "seerr_status": self.seerr_status,
            "seasons": _dump(self.seasons),
            "radarr_movie_id": self.radarr_movie_id,
            "sonarr_series_id": self.sonarr_series_id,
            "jellyfin_item_id": self.jellyfin_item_id,
            "jellyfin_key": self.jellyfin_key,
            "shoko_ids": _dump(self.shoko_ids),
            "state": self.state.value,
            "state_since": iso(self.state_since),
            "via": self.via,
            "detail": self.detail,
            "progress": self.progress,
            "phase": self.phase,
            "phase_since": iso(self.phase_since),
            "progress_since": iso(self.progress_since),
            "stuck_reason": self.stuck_reason,
            "stuck_since": iso(self.stuck_since),
            "episodes_available": self.episodes_available,
            "episodes_aired": self.episodes_aired,
            "absent_count": self.absent_count,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class TimelineEntry:
    at: str
    from_state: str | None
    to_state: str
    via: str
    detail: str


@dataclass(frozen=True)
class EpisodeRow:
    season: int
    episode: int
    sonarr_episode_id: int | None
    air_date: str | None
    state: str
    via: str | None
    jellyfin_item_id: str | None


@dataclass(frozen=True)
class PruneCounts:
    """What one `Store.prune` call deleted, and the pages it gave back to the file system."""

    polls: int
    notifications: int
    pages_freed: int


@dataclass(frozen=True)
class PollRow:
    service: str
    started: str
    finished: str | None
    ok: bool
    error: str | None
    http_calls: int
    http_bytes: int
    watermark: str | None
    full: bool


# ---------------------------------------------------------------- the store


class Store:
    """All persistence. Open with `Store.open(path)`; close with `close()`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._in_tx = False
        self.rows_written = 0
        self._parsed: dict[tuple[str, str], tuple[str, Any]] = {}

    # -- opening

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Store:
        """Open (creating and migrating when allowed) the database at `path`."""
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
            store = cls(conn)
            store._configure(readonly)
        except BaseException as exc:
            if conn is not None:
                conn.close()  # never leak it: the HTTP endpoint opens one per request
            if not isinstance(exc, sqlite3.DatabaseError):
                raise
            hint = ""
            if "unable to open" in str(exc) or "readonly" in str(exc):
                hint = f"; reconciler must be able to write to it and to {path.parent}"
            raise StoreError(f"{path}: cannot open the database ({exc}){hint}") from None
        return store

    def _configure(self, readonly: bool) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
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
            self.conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        for step in range(version, SCHEMA_VERSION):
            after = AFTER_COMMIT.get(step + 1)
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                MIGRATIONS[step](self.db)
                if after is None:
                    self.conn.execute(f"PRAGMA user_version = {step + 1}")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            if after is not None:
                after(self.conn)
                self.conn.execute(f"PRAGMA user_version = {step + 1}")

    def close(self) -> None:
        self.conn.close()

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
        """Parsed observation JSON, memoised per subject while its text stays the same: most
        observations do not change from one cycle to the next, and parsing them again is most
        of a steady cycle's CPU time. One entry per subject, so the memo is as large as the
        observations table, never larger with time (a download's progress changes its text
        every cycle). The same text hands out the same object; callers must treat it as
        read-only."""
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
        text = _dump(data)
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
        provider_json = {i.id: _dump(i.provider_ids) for i in items}
        digests = {i.id: _item_digest(i, provider_json[i.id]) for i in items}
        known: dict[str, tuple[str, int]] = {}
        ids = list(digests)
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" for _ in chunk)
            for row in self.conn.execute(
                f"SELECT id, digest, missing_count FROM jellyfin_items WHERE id IN ({marks})",
                chunk,
            ):
                known[row[0]] = (row[1], row[2] or 0)
        changed = 0
        item_rows = []
        pid_deletes = []
        pid_rows = []
        for item in items:
            prior = known.get(item.id)
            if prior is not None and prior[0] == digests[item.id]:
                if prior[1]:
                    self._write("UPDATE jellyfin_items SET missing_count = 0 WHERE id = ?",
                                (item.id,))
                continue
            changed += 1
            item_rows.append((
                item.id, item.type, item.name, item.location_type, int(item.is_placeholder),
                item.path, item.series_id, item.season, item.episode, item.episode_end,
                provider_json[item.id], item.date_last_saved, digests[item.id], 0,
            ))
            if prior is not None:
                pid_deletes.append((item.id,))
            for key, value in item.provider_ids.items():
                if value:
                    pid_rows.append((item.id, normalise_provider_key(key), str(value).strip()))
        if item_rows:
            cur = self.conn.executemany(
                "INSERT OR REPLACE INTO jellyfin_items (id, type, name, location_type, "
                "is_placeholder, path, series_id, season, episode, episode_end, provider_ids, "
                "date_last_saved, digest, missing_count) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        return changed

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
                result[r["id"]] = _item_from_row(dict(r))
        return list(result.values())

    def items_by_ids(self, ids: Iterable[str]) -> list[JellyfinItem]:
        out = []
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" for _ in chunk)
            rows = self.conn.execute(f"SELECT * FROM jellyfin_items WHERE id IN ({marks})", chunk)
            out += [_item_from_row(dict(r)) for r in rows]
        return out

    def episodes_of(self, series_item_id: str) -> list[JellyfinItem]:
        rows = self.conn.execute(
            "SELECT * FROM jellyfin_items WHERE series_id = ? AND type = 'Episode'",
            (series_item_id,),
        ).fetchall()
        return [_item_from_row(dict(r)) for r in rows]

    def all_item_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM jellyfin_items")}

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

    # -- retention

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
                == _AUTO_VACUUM_INCREMENTAL:
            # One page per step: sqlite3 stops a statement without result rows after one step.
            with self._batch():
                for _ in range(min(free, VACUUM_PAGES)):
                    self.conn.execute("PRAGMA incremental_vacuum(1)")
            pages = free - int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        return PruneCounts(polls, notes, pages)

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """One short transaction of its own, or the caller's when one is open."""
        if self._in_tx or self.conn.in_transaction:
            yield
            return
        with self.transaction():
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

    def size_bytes(self) -> int:
        """The database's pages in use and free (the main file, without its WAL)."""
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(self.conn.execute("PRAGMA page_size").fetchone()[0])

    # -- checks

    def integrity_ok(self) -> bool:
        return bool(self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")

    def counts(self) -> dict[str, int]:
        tables = ("requests", "episodes", "timeline", "observations", "jellyfin_items",
                  "jellyfin_provider_ids", "polls", "meta", "notifications")
        return {t: int(self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                for t in tables}


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


def _item_digest(item: JellyfinItem, provider_json: str) -> str:
    """What the index keeps of an item, hashed: equal digests mean nothing to write."""
    fields = (item.type, item.name, item.location_type, item.is_placeholder, item.path,
              item.series_id, item.season, item.episode, item.episode_end)
    payload = "\x1f".join(map(str, fields)) + "\x1f" + provider_json
    return hashlib.blake2b(payload.encode(), digest_size=12).hexdigest()


def _item_from_row(row: dict[str, Any]) -> JellyfinItem:
    return JellyfinItem(
        id=row["id"],
        type=row["type"],
        name=row["name"] or "",
        location_type=row["location_type"],
        is_placeholder=bool(row["is_placeholder"]),
        path=row["path"],
        series_id=row["series_id"],
        season=row["season"],
        episode=row["episode"],
        episode_end=row["episode_end"],
        provider_ids=json.loads(row["provider_ids"] or "{}"),
        date_last_saved=row["date_last_saved"],
    )


def _chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
