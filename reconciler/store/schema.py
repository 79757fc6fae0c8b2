"""The store's schema: created and migrated here, in numbered steps recorded in
`PRAGMA user_version`; a database from a newer version of the program is refused, never
rewritten. `connect` opens a database (checking it is one), configures it (WAL, incremental
auto-vacuum) and, unless read-only, brings its schema up to date.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import sqlite_utils

from reconciler.errors import StoreError
from reconciler.store.retention import AUTO_VACUUM_INCREMENTAL

SCHEMA_VERSION = 9


# ---------------------------------------------------------------- migrations


@dataclass(frozen=True)
class _Table:
    """A table as a migration creates it: its columns in order, its primary key, the columns
    that must be set, and the indexes made right after it."""

    name: str
    columns: dict[str, type]
    pk: str | tuple[str, ...]
    not_null: frozenset[str] = frozenset()
    indexes: tuple[tuple[str, ...], ...] = ()

    def create(self, db: sqlite_utils.Database) -> None:
        table = db.table(self.name)
        table.create(self.columns, pk=self.pk, not_null=set(self.not_null) or None)
        for columns in self.indexes:
            table.create_index(list(columns))


# The first schema, in the order its tables were created (a released migration never changes;
# later steps add to it).
_TABLES_1 = (
    _Table(
        "requests",
        {
            "id": int, "media_type": str, "title": str, "tmdb_id": int, "tvdb_id": int,
            "is4k": int, "is_anime": int, "seerr_status": int, "seasons": str,
            "radarr_movie_id": int, "sonarr_series_id": int, "jellyfin_item_id": str,
            "jellyfin_key": str, "shoko_ids": str,
            "state": str, "state_since": str, "via": str, "detail": str,
            "progress": float, "phase": str, "phase_since": str, "progress_since": str,
            "stuck_reason": str, "episodes_available": int, "episodes_aired": int,
            "absent_count": int, "created_at": str, "updated_at": str,
        },
        pk="id",
        not_null=frozenset({"media_type", "state", "state_since"}),
    ),
    _Table(
        "episodes",
        {
            "request_id": int, "season": int, "episode": int, "sonarr_episode_id": int,
            "air_date": str, "state": str, "via": str, "jellyfin_item_id": str,
        },
        pk=("request_id", "season", "episode"),
    ),
    _Table(
        "timeline",
        {
            "id": int, "request_id": int, "at": str, "from_state": str, "to_state": str,
            "via": str, "detail": str,
        },
        pk="id",
        indexes=(("request_id", "id"),),
    ),
    _Table(
        "observations",
        {"service": str, "subject": str, "data": str, "observed_at": str},
        pk=("service", "subject"),
    ),
    _Table(
        "jellyfin_items",
        {
            "id": str, "type": str, "name": str, "location_type": str, "is_placeholder": int,
            "path": str, "series_id": str, "season": int, "episode": int, "episode_end": int,
            "provider_ids": str, "date_last_saved": str, "digest": str, "missing_count": int,
        },
        pk="id",
        indexes=(("series_id",),),
    ),
    _Table(
        "jellyfin_provider_ids",
        {"item_id": str, "key": str, "value": str},
        pk=("key", "value", "item_id"),
        indexes=(("item_id",),),
    ),
    _Table(
        "polls",
        {
            "id": int, "service": str, "started": str, "finished": str, "ok": int,
            "error": str, "http_calls": int, "http_bytes": int, "watermark": str, "full": int,
        },
        pk="id",
        indexes=(("service", "id"),),
    ),
    _Table("meta", {"key": str, "value": str}, pk="key"),
)


def _migrate_1(db: sqlite_utils.Database) -> None:
    for table in _TABLES_1:
        table.create(db)


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


def _migrate_6(db: sqlite_utils.Database) -> None:
    """Whether Jellyfin was asked to scan for a request is kept as data (`nudged_at`), no
    longer read back from its timeline's wording; a request nudged before the upgrade keeps
    its nudge."""
    db.table("requests").add_column("nudged_at", str)
    db.execute(
        "UPDATE requests SET nudged_at = (SELECT max(t.at) FROM timeline t WHERE "
        "t.request_id = requests.id AND t.via = 'reconciler' "
        "AND t.detail LIKE 'asked Jellyfin to scan%')")


def _migrate_7(db: sqlite_utils.Database) -> None:
    """Each observation says which version of its JSON form it is in (issue 21): the rows
    written before are version 1 (times as the services sent them), which is still read; a
    version the program does not know is not read at all, so its subject is polled again."""
    db.table("observations").add_column("version", int, not_null_default=1)


def _migrate_8(db: sqlite_utils.Database) -> None:
    """What the household is told and shown (issue 23): when a notice that failed may be tried
    again (kept in the database, so `reconcile --once` under cron backs off across runs as the
    daemon does), and each episode's own download progress and expected end (the page names
    the episode on its way: "S02E04 downloading 25 %, ready about 13:40")."""
    db.table("notifications").add_column("next_attempt", str)
    episodes = db.table("episodes")
    episodes.add_column("progress", float)
    episodes.add_column("eta", str)


def _migrate_9(db: sqlite_utils.Database) -> None:
    """A cycle decides only the requests that can move (issue 25): the active ones, and those
    waiting for the media server, are found by index look-ups, not by a scan of every request."""
    db.execute("CREATE INDEX IF NOT EXISTS idx_requests_state ON requests(state)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_requests_phase ON requests(phase)")


MIGRATIONS = [_migrate_1, _migrate_2, _migrate_3, _migrate_4, _migrate_5, _migrate_6,
              _migrate_7, _migrate_8, _migrate_9]
# Steps that end outside the transaction (VACUUM cannot run inside one); the schema version
# is raised only after it, so an interrupted step is done again at the next start.
AFTER_COMMIT = {3: _vacuum_incremental}
assert len(MIGRATIONS) == SCHEMA_VERSION


# ---------------------------------------------------------------- opening


def connect(path: Path, readonly: bool) -> sqlite3.Connection:
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
