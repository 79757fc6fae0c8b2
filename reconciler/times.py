"""Time at the edges: the services' ISO 8601 timestamps parsed, and the store's own format.

Every timestamp inside the program is a timezone-aware `datetime` in UTC. Text appears only at
the edges: what the services send (`parse_time`, lenient: `Z` or an offset, .NET's seven
fractional digits) and what the store keeps (`iso` / `from_iso`: whole seconds, `Z`). People
read times in one zone (`zone`: `[http] timezone`, else the system's, by its IANA name).
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    """Now, in UTC (the default clock; the cycle and the core take theirs as an argument)."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """The store's form of a time: ISO 8601 in UTC, whole seconds, with a `Z`."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def from_iso(value: str | None) -> datetime | None:
    """A time as the store keeps it (`iso`), back to a `datetime`; None for none."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_time(value: str | None) -> datetime | None:
    """Parse the ISO 8601 timestamps the services send (with `Z` or an offset; none: UTC).
    None for a missing or unreadable value: an odd date is never a reason to fail a poll."""
    if not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # .NET sends up to 7 fractional digits; Python takes at most 6.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        tail = ""
        for i, ch in enumerate(rest):
            if not ch.isdigit():
                tail = rest[i:]
                break
            digits += ch
        text = f"{head}.{digits[:6]}{tail}" if digits else head + tail
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone `name` ("Europe/Paris"); ValueError when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone name such as \"Europe/Paris\" or "
                         f"\"UTC\"") from None


@functools.lru_cache(maxsize=8)
def zone(name: str | None = None) -> tzinfo:
    """The zone people read times in: `name` when given, else the system's (`$TZ`, else where
    /etc/localtime points, else /etc/timezone), else the system's current UTC offset."""
    if name:
        return zone_named(name)
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.rsplit("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        pass
    for candidate in candidates:
        if candidate and not candidate.startswith("/"):
            try:
                return zone_named(candidate)
            except ValueError:
                continue
    return datetime.now().astimezone().tzinfo or UTC
