"""When and how to ask Jellyfin to scan for files it should already list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reconciler.models import Library


@dataclass(frozen=True)
class Waiting:
    """A request waiting for Jellyfin to list a file it should already have."""

    request_id: int
    path: str | None
    waiting_since: datetime
    # Jellyfin was already asked to scan for it during this wait: one refresh, then patience
    # (and the stuck flag); repeated scans have broken Shokofin's virtual file system.
    nudged: bool = False


# How Jellyfin is asked, gentlest first: report the new files (`POST /Library/Media/Updated`:
# Jellyfin scans just their folders), refresh one library (`POST /Items/{id}/Refresh`, queued),
# or scan every library (`POST /Library/Refresh`, which cancels and restarts a running scan, so
# it is only sent when none runs).
MEDIA_UPDATED = "media_updated"
LIBRARY_ITEM = "library_item"
WHOLE_LIBRARY = "whole_library"


@dataclass(frozen=True)
class Nudge:
    library: Library | None  # None: refresh the whole library
    request_ids: tuple[int, ...] = field(default=())
    # The files to report, as Jellyfin sees them (under one of the library's folders); set only
    # when every request of the nudge has one.
    paths: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.library.item_id if self.library else "*"

    @property
    def kind(self) -> str:
        if self.library is None:
            return WHOLE_LIBRARY
        return MEDIA_UPDATED if self.paths else LIBRARY_ITEM

    @property
    def label(self) -> str:
        if self.library is None:
            return "the whole library"
        if self.paths:
            files = "the new file" if len(self.paths) == 1 else "the new files"
            return f"{files} in '{self.library.name}'"
        return f"'{self.library.name}'"


def library_for(path: str | None, libraries: Sequence[Library]) -> Library | None:
    """The library whose folders hold `path`: by prefix, else by the longest shared folder tail.

    The *arr and Jellyfin may mount the media at different roots (`/data/anime/movies` against
    `/media/anime/movies`), so a prefix match is tried first and then folder names.
    """
    if not path:
        return None
    norm = path.replace("\\", "/").rstrip("/")
    best: tuple[int, Library] | None = None
    for lib in libraries:
        for loc in lib.locations:
            root = loc.replace("\\", "/").rstrip("/")
            score = 1000 + len(root) if _under(norm, root) else _shared_tail(root, norm)
            if score >= 2 and (best is None or score > best[0]):
                best = (score, lib)
    return best[1] if best else None


def jellyfin_path(path: str | None, library: Library | None) -> str | None:
    """`path` when Jellyfin sees the file there (it lies under one of the library's folders),
    else None (another mount root: only a refresh of the library can find it)."""
    if not path or library is None:
        return None
    norm = path.replace("\\", "/").rstrip("/")
    for loc in library.locations:
        if _under(norm, loc.replace("\\", "/").rstrip("/")):
            return path
    return None


def _under(path: str, root: str) -> bool:
    return bool(root) and (path == root or path.startswith(root + "/"))


def _shared_tail(root: str, path: str) -> int:
    """How many trailing folders of `root` appear, in order, inside `path`."""
    parts = [p for p in root.split("/") if p]
    path_parts = [p.lower() for p in path.split("/") if p]
    for n in range(len(parts), 0, -1):
        tail = [p.lower() for p in parts[-n:]]
        for i in range(len(path_parts) - n + 1):
            if path_parts[i : i + n] == tail:
                return n
    return 0


def plan_nudges(
    waiting: Sequence[Waiting],
    libraries: Sequence[Library],
    last_refresh: Mapping[str, datetime],
    now: datetime,
    grace: timedelta,
    min_interval: timedelta,
    *,
    scan_running: bool = False,
) -> list[Nudge]:
    """How to ask Jellyfin to find the files it lacks, now: for requests past the grace period
    that no scan was asked for yet in this wait, at most one nudge per library per interval.

    Per library, the gentlest way that reaches every file: report the files when all of them lie
    under the library's folders (`Nudge.paths`, `POST /Library/Media/Updated`), else refresh
    the library. A file in no known library needs the whole library scanned; that waits while
    a library scan is running (`scan_running`: asking again would cancel and restart it), and
    while any library was refreshed within the interval."""
    groups: dict[str, tuple[Library | None, list[Waiting]]] = {}
    for w in waiting:
        if w.nudged or now - w.waiting_since < grace:
            continue
        lib = library_for(w.path, libraries)
        groups.setdefault(lib.item_id if lib else "*", (lib, []))[1].append(w)
    result = []
    whole = last_refresh.get("*")
    for key, (lib, waits) in groups.items():
        if key == "*" and scan_running:
            continue
        # A whole-library scan scans every library, so it waits until none was just refreshed.
        times = last_refresh.values() if key == "*" else (last_refresh.get(key), whole)
        if any(t is not None and now - t < min_interval for t in times):
            continue
        paths = [jellyfin_path(w.path, lib) for w in waits]
        result.append(Nudge(library=lib, request_ids=tuple(w.request_id for w in waits),
                            paths=tuple(dict.fromkeys(p for p in paths if p))
                            if all(paths) else ()))
    if any(n.library is None for n in result):
        # ... and it stands in for the libraries' own nudges in the same plan.
        return [Nudge(library=None, request_ids=tuple(i for n in result for i in n.request_ids))]
    return result
