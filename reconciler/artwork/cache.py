"""The poster cache: one file per film or show (`movie-603.jf.jpg`: its kind, TMDB id, source,
and the picture's own type, read from its first bytes), in a folder under the state directory.

Invariants: only JPEG, PNG, WebP and GIF pictures are kept (never SVG or HTML: the page serves
these files from its own origin); a file is written whole (a temporary name, then renamed)
so a reader never sees half a picture; the folder stays under `max_bytes`, the oldest written
removed first; a poster that could not be had is remembered (`.none`) and asked for again only
after `RETRY_MISSING`.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from reconciler.config import Config
from reconciler.models import MediaType

# Where a poster came from: the media server (preferred), or TMDB through Jellyseerr.
JELLYFIN, TMDB = "jf", "tmdb"
SOURCES = (JELLYFIN, TMDB)
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                 "gif": "image/gif"}
NAME = re.compile(r"^(movie|tv)-(\d{1,12})\.(jf|tmdb)\.(jpg|png|webp|gif)$")
RETRY_MISSING = timedelta(days=1)


def picture_type(data: bytes) -> str | None:
    """The picture's type from its first bytes ("jpg", "png", "webp", "gif"), else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def key_of(media_type: MediaType, tmdb_id: int | None) -> str | None:
    """The cache's name for a film's or show's poster: "movie-603", "tv-1399"."""
    return None if tmdb_id is None else f"{media_type.value}-{tmdb_id}"


@dataclass(frozen=True)
class Cached:
    name: str  # the file's name, as the page's `/artwork/NAME` serves it
    source: str  # JELLYFIN or TMDB
    version: int  # the file's modification time (ns), for the URL: a new picture, a new URL

    @property
    def url(self) -> str:
        return f"/artwork/{self.name}?v={self.version // 1_000_000}"


class ArtworkCache:
    """The posters on disk in `folder`, at most `max_bytes` of them (0: none kept)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def index(self) -> dict[str, Cached]:
        """Every cached poster by key (the media server's when there are both); one listing of
        the folder, so a page costs one system call, not one per card."""
        found: dict[str, Cached] = {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return found
        for entry in entries:
            match = NAME.match(entry.name)
            if match is None:
                continue
            key, source = f"{match[1]}-{match[2]}", match[3]
            if key in found and found[key].source == JELLYFIN:
                continue
            try:
                version = entry.stat().st_mtime_ns
            except OSError:
                continue
            found[key] = Cached(entry.name, source, version)
        return found

    def missing(self, now: datetime) -> set[str]:
        """Keys whose poster could not be had lately (asked again after `RETRY_MISSING`)."""
        out: set[str] = set()
        limit = (now - RETRY_MISSING).timestamp()
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return out
        for entry in entries:
            if entry.name.endswith(".none"):
                try:
                    if entry.stat().st_mtime > limit:
                        out.add(entry.name.removesuffix(".none"))
                except OSError:
                    continue
        return out

    def path(self, name: str) -> Path | None:
        """The file the page serves as `/artwork/NAME`; None for any other name or none there."""
        if not NAME.match(name):
            return None
        path = self.folder / name
        return path if path.is_file() else None

    def find(self, key: str | None) -> Path | None:
        """The poster file of `key`, if cached (the media server's first)."""
        if key is None:
            return None
        cached = self.index().get(key)
        return None if cached is None else self.folder / cached.name

    def save(self, key: str, source: str, data: bytes) -> Path | None:
        """Keep `data` as `key`'s poster from `source`; None (and nothing kept) when it is not
        a picture of a kept type. The media server's poster replaces TMDB's."""
        kind = picture_type(data)
        if kind is None or not self.enabled or source not in SOURCES:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{key}.{source}.{kind}"
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # Gone: the "none" mark, the same source's picture of another type, and TMDB's
        # once the media server's is here.
        stale = {f"{key}.none", *(f"{key}.{source}.{t}" for t in CONTENT_TYPES)}
        if source == JELLYFIN:
            stale |= {f"{key}.{TMDB}.{t}" for t in CONTENT_TYPES}
        for name in stale - {target.name}:
            (self.folder / name).unlink(missing_ok=True)
        self.evict()
        return target

    def give_up(self, key: str) -> None:
        """Remember that `key` has no poster to be had for now."""
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{key}.none").touch()

    def evict(self) -> int:
        """Remove the oldest posters until the folder holds at most `max_bytes`; how many went."""
        files = []
        try:
            for entry in os.scandir(self.folder):
                if NAME.match(entry.name):
                    stat = entry.stat()
                    files.append((stat.st_mtime_ns, stat.st_size, entry.path))
        except OSError:
            return 0
        total = sum(size for _, size, _ in files)
        removed = 0
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            Path(path).unlink(missing_ok=True)
            total -= size
            removed += 1
        return removed


def artwork_cache(config: Config) -> ArtworkCache:
    """The cache the configuration asks for: `artwork` beside the database."""
    limit = config.model.reconciler.artwork_cache_mb * 1024 * 1024
    return ArtworkCache(config.state_dir / "artwork", limit)
