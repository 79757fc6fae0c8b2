"""Time at the edges: the services' ISO 8601 timestamps parsed, and the store's own format.

Every timestamp inside the program is a timezone-aware `datetime` in UTC. Text appears only at
the edges: what the services send (`parse_time`, lenient: `Z` or an offset, .NET's seven
fractional digits) and what the store keeps (`iso` / `from_iso`: whole seconds, `Z`).
"""

from __future__ import annotations

from datetime import UTC, datetime


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
