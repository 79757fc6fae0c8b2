"""The store's index of the media server's library: items, their ProviderIds (one row per
key and value, so a request's ids are found by index look-ups, never by a scan), and how many
complete listings in a row each was missing from. Part of the store (`Store.items`).

The tables keep Jellyfin's names (`jellyfin_items`, `jellyfin_provider_ids`), the first media
server's; they hold whichever one is configured, Jellyfin's, Emby's or Plex's items, never two
servers' at once: which one they hold is `meta.INDEX_OF` (see `cycle/poll_media_server.py`).

Writes happen only for items that changed (a digest of what is kept), so re-listing an
unchanged library writes nothing. Each change is noted in the store's journal by what requests
look items up by (`pid_key`, `series_key`), before and after, so that the requests it may
concern are decided again (`cycle/moving.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.models import JellyfinItem, normalise_provider_key
from reconciler.store.journal import INDEX, Journal
from reconciler.store.rows import dump_json, item_digest, item_from_row, widths_text
from reconciler.times import iso

Write = Callable[[str, Sequence[Any]], int]
# A change to more items than this is not noted item by item: the journal's readers start over.
NOTE_AT_MOST = 2_000


def pid_key(key: str, value: str) -> str:
    """The journal's key of a (normalised key, value) ProviderId pair."""
    return f"pid:{key}={value}"


def series_key(series_item_id: str) -> str:
    """The journal's key of a series item's episodes."""
    return f"series:{series_item_id}"


class ItemIndex:
    """The indexed items of one store (`Store.items`)."""

    def __init__(self, conn: sqlite3.Connection, write: Write,
                 count_rows: Callable[[int], None], journal: Journal | None = None,
                 read: Callable[[str, str], None] | None = None) -> None:
        self.conn = conn
        self._write = write
        self._count_rows = count_rows
        self._journal = journal or Journal()
        self._read = read or (lambda service, key: None)

    def _note(self, ids: Sequence[str]) -> None:
        """Note in the journal what a request may look these items up by, as stored now."""
        if not ids or not self._journal.listening():
            return
        if len(ids) > NOTE_AT_MOST:
            self._journal.reset()
            return
        keys: set[str] = set()
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" for _ in chunk)
            for key, value in self.conn.execute(
                    f"SELECT key, value FROM jellyfin_provider_ids WHERE item_id IN ({marks})",
                    chunk):
                keys.add(pid_key(key, value))
            for item_id, series_id in self.conn.execute(
                    f"SELECT id, series_id FROM jellyfin_items WHERE id IN ({marks})", chunk):
                keys.add(series_key(item_id))
                if series_id:
                    keys.add(series_key(series_id))
        self._journal.note_many(INDEX, sorted(keys))

    def index(self, items: Sequence[JellyfinItem]) -> int:
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
        changed = [row[0] for row in plan.item_rows] + plan.found_again
        self._note(changed)  # what they were found by before
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
            self._count_rows(cur.rowcount)
        if pid_deletes:
            self.conn.executemany("DELETE FROM jellyfin_provider_ids WHERE item_id = ?",
                                  pid_deletes)
        if pid_rows:
            cur = self.conn.executemany(
                "INSERT OR IGNORE INTO jellyfin_provider_ids (item_id, key, value) "
                "VALUES (?, ?, ?)",
                pid_rows,
            )
            self._count_rows(cur.rowcount)
        self._note(changed)  # and now
        return len(item_rows)

    def by_provider(self, pairs: Iterable[tuple[str, str]]) -> list[JellyfinItem]:
        """Items carrying any of the (normalised key, value) ProviderId pairs."""
        result: dict[str, JellyfinItem] = {}
        for key, value in pairs:
            self._read(INDEX, pid_key(key, value))
            rows = self.conn.execute(
                "SELECT i.* FROM jellyfin_provider_ids p JOIN jellyfin_items i ON i.id = p.item_id "
                "WHERE p.key = ? AND p.value = ?",
                (key, value),
            ).fetchall()
            for r in rows:
                result[r["id"]] = item_from_row(dict(r))
        return list(result.values())

    def by_ids(self, ids: Iterable[str]) -> list[JellyfinItem]:
        out = []
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" for _ in chunk)
            rows = self.conn.execute(f"SELECT * FROM jellyfin_items WHERE id IN ({marks})", chunk)
            out += [item_from_row(dict(r)) for r in rows]
        return out

    def episodes_of(self, series_item_id: str) -> list[JellyfinItem]:
        self._read(INDEX, series_key(series_item_id))
        rows = self.conn.execute(
            "SELECT * FROM jellyfin_items WHERE series_id = ? AND type = 'Episode'",
            (series_item_id,),
        ).fetchall()
        return [item_from_row(dict(r)) for r in rows]

    def all_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM jellyfin_items")}

    def present_count(self) -> int:
        """Items in the index not missing from a listing or lookup (those pending absence are
        looked up by id anyway)."""
        total = self.conn.execute("SELECT count(*) FROM jellyfin_items").fetchone()[0]
        missing = self.conn.execute(
            "SELECT count(*) FROM jellyfin_items WHERE missing_count > 0").fetchone()[0]
        return int(total) - int(missing)

    def mark_absent(self, ids: Iterable[str], confirm_after: int = 2) -> list[str]:
        """Count one more complete listing without these items; remove the confirmed ones."""
        removed = []
        ids = sorted(set(ids))
        self._note(ids)
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

    def clear(self) -> None:
        """Forget every item, and the item each request and episode was matched to: the index
        is about to hold another media server's library (their ids mean nothing there)."""
        self._journal.reset()
        self._write("DELETE FROM jellyfin_provider_ids", ())
        self._write("DELETE FROM jellyfin_items", ())
        self._write("UPDATE requests SET jellyfin_item_id = NULL, jellyfin_key = NULL "
                    "WHERE jellyfin_item_id IS NOT NULL OR jellyfin_key IS NOT NULL", ())
        self._write("UPDATE episodes SET jellyfin_item_id = NULL "
                    "WHERE jellyfin_item_id IS NOT NULL", ())

    def pending_absence(self) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM jellyfin_items WHERE missing_count > 0")]


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
                provider_json[item.id], iso(item.date_last_saved), digests[item.id], 0,
                widths_text(item.video_widths),
            ))
            if prior is not None:
                plan.pid_deletes.append((item.id,))
            for key, value in item.provider_ids.items():
                if value:
                    plan.pid_rows.append((item.id, normalise_provider_key(key),
                                          str(value).strip()))
        return plan


def _chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
