"""Small facts that change rarely (the `meta` table), each key with one type.

A key is a `MetaKey[T]`: its name in the table and how its value is written and read back, so
no caller compares stored text ("1", an ISO time) by hand. Part of the store (`Store.meta`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from reconciler.times import from_iso, iso

T = TypeVar("T")
Write = Callable[[str, Sequence[Any]], int]


@dataclass(frozen=True)
class MetaKey(Generic[T]):
    """One fact: its key in the table, and its value's stored form both ways."""

    name: str
    encode: Callable[[T], str]
    decode: Callable[[str], T | None]


def _time(name: str) -> MetaKey[datetime]:
    return MetaKey(name, lambda t: iso(t) or "", from_iso)


def _flag(name: str) -> MetaKey[bool]:
    return MetaKey(name, lambda b: "1" if b else "0", lambda text: text == "1")


def _text(name: str) -> MetaKey[str]:
    return MetaKey(name, str, str)


# The index holds each Jellyfin item's video widths (read only with a 4K server configured).
VIDEO_WIDTHS_READ = _flag("jellyfin:video_widths")
# When the items that made requests available were last checked by id.
ITEMS_VERIFIED_AT = _time("jellyfin:verified_at")
# The pair of differing counts ("Jellyfin's/the index's") last looked into.
COUNTS_EXAMINED = _text("jellyfin:counts_examined")
# When each library (by its item id; "*" the whole library) was last asked to scan.
REFRESHED_PREFIX = "refresh:"
# Which media server the index holds ("plex http://plex:32400": its kind and URL); none yet in a
# database from before Emby and Plex, whose index is Jellyfin's.
INDEX_OF = _text("media_server:index_of")
# The media server's own id (Jellyfin's and Emby's `Id`, Plex's `machineIdentifier`): the play
# links of Emby's and Plex's web apps name it.
SERVER_ID = _text("media_server:server_id")
# The libraries whose items cannot be matched (Plex sections on a legacy agent), as JSON.
UNMATCHABLE_LIBRARIES = MetaKey[list[dict[str, Any]]](
    "media_server:unmatchable_libraries",
    lambda value: json.dumps(value, sort_keys=True, separators=(",", ":")),
    lambda text: _json_list(text))
# What belongs to the media server the index held: forgotten with its items.
MEDIA_SERVER_FACTS: tuple[MetaKey[Any], ...] = (
    VIDEO_WIDTHS_READ, ITEMS_VERIFIED_AT, COUNTS_EXAMINED, SERVER_ID, UNMATCHABLE_LIBRARIES)


def _json_list(text: str) -> list[dict[str, Any]] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else None


def library_refreshed(library_key: str) -> MetaKey[datetime]:
    """When Jellyfin was last asked to scan the library `library_key` ("*": all of them)."""
    return _time(REFRESHED_PREFIX + library_key)


class Meta:
    """Typed reads and writes of one store's `meta` table (`Store.meta`)."""

    def __init__(self, conn: sqlite3.Connection, write: Write) -> None:
        self.conn = conn
        self._write = write

    def _text(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def get(self, key: MetaKey[T]) -> T | None:
        """The fact's value; None while it was never set."""
        text = self._text(key.name)
        return None if text is None else key.decode(text)

    def set(self, key: MetaKey[T], value: T) -> None:
        """Record the fact; nothing is written when it already holds that value."""
        text = key.encode(value)
        if self._text(key.name) == text:
            return
        self._write("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key.name, text))

    def unset(self, *keys: MetaKey[Any]) -> None:
        """Forget these facts (nothing is written for one never set)."""
        for key in keys:
            if self._text(key.name) is not None:
                self._write("DELETE FROM meta WHERE key = ?", (key.name,))

    def forget_refreshed(self) -> None:
        """Forget when each library was last asked to scan (`library_refreshed`)."""
        if self.refreshed():
            self._write("DELETE FROM meta WHERE key LIKE ?", (REFRESHED_PREFIX + "%",))

    def refreshed(self) -> dict[str, datetime]:
        """When each library was last asked to scan, by library key (`library_refreshed`)."""
        rows = self.conn.execute("SELECT key, value FROM meta WHERE key LIKE ?",
                                 (REFRESHED_PREFIX + "%",))
        return {str(k)[len(REFRESHED_PREFIX):]: t for k, v in rows
                if (t := from_iso(v)) is not None}
