"""Small helpers shared by the fake services: date formats as each real server writes them,
.NET TimeSpan strings, query-string access, id generation."""

from __future__ import annotations

import email.utils
import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any


def ensure_utc(value: datetime) -> datetime:
    """A timezone-aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_js(value: datetime) -> str:
    """JavaScript `Date.toISOString()`: milliseconds, `Z` (Jellyseerr)."""
    v = ensure_utc(value)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def iso_net(value: datetime) -> str:
    """System.Text.Json DateTime (Radarr, Sonarr, Shoko): up to 7 fraction digits, trailing zeros
    trimmed, `Z`. E.g. `2018-01-13T15:54:23Z`, `2022-07-06T13:48:09.330878Z`."""
    v = ensure_utc(value)
    base = v.strftime("%Y-%m-%dT%H:%M:%S")
    if v.microsecond:
        return base + "." + f"{v.microsecond:06d}".rstrip("0") + "Z"
    return base + "Z"


def iso_jellyfin(value: datetime) -> str:
    """Jellyfin's round-trip ("O") format: always 7 fraction digits, `Z`."""
    v = value if value.tzinfo is UTC else ensure_utc(value)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}.{v.microsecond:06d}0Z")


def http_date(value: datetime) -> str:
    """RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`."""
    return email.utils.format_datetime(ensure_utc(value).replace(microsecond=0), usegmt=True)


_ISO_RE = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?\s*$"
)


def parse_iso(text: str | None) -> datetime | None:
    """Parse the ISO-8601 variants clients send (`Z`, offsets, 1-9 fraction digits, date only).
    Naive values are taken as UTC. Returns None when unparseable."""
    if not text:
        return None
    m = _ISO_RE.match(text)
    if not m:
        return None
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        dt = datetime(int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0),
                      micro)
    except ValueError:
        return None
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return (dt - sign * offset).replace(tzinfo=UTC)
    return dt.replace(tzinfo=UTC)


def timespan(seconds: float) -> str:
    """.NET TimeSpan constant format as Radarr/Sonarr write `timeleft`: `[d.]hh:mm:ss`."""
    total = max(0, round(seconds))
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    core = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}.{core}" if days else core


def duration_net(seconds: float) -> str:
    """.NET TimeSpan with 7 fraction digits, as Shoko writes `Duration`: `00:23:40.0410000`."""
    total_us = max(0, round(seconds * 1_000_000))
    whole, micro = divmod(total_us, 1_000_000)
    days, rem = divmod(whole, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    core = f"{hours:02d}:{minutes:02d}:{secs:02d}.{micro:06d}0"
    return f"{days}.{core}" if days else core


def hex_id(*parts: object) -> str:
    """A deterministic 32-hex-digit id (Jellyfin's Guid "N" format) derived from `parts`."""
    return hashlib.md5("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def compact(**fields: Any) -> dict[str, Any]:
    """A dict without the None values (System.Text.Json `WhenWritingNull`, as *arr/Jellyfin do)."""
    return {k: v for k, v in fields.items() if v is not None}


def iso_date(value: date | datetime) -> str:
    return value.strftime("%Y-%m-%d")


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(text: str | None) -> bool | None:
    if text is None:
        return None
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return None


class QueryParams:
    """Query-string access. `case_insensitive` mirrors ASP.NET model binding (Radarr, Sonarr,
    Jellyfin, Shoko); Express (Jellyseerr) is case-sensitive."""

    def __init__(self, raw: Mapping[str, list[str]], *, case_insensitive: bool) -> None:
        self.raw: dict[str, list[str]] = {k: list(v) for k, v in raw.items()}
        self.case_insensitive = case_insensitive
        self._folded: dict[str, list[str]] = {}
        if case_insensitive:
            for key, values in raw.items():
                self._folded.setdefault(key.lower(), []).extend(values)
        else:
            self._folded = self.raw

    def _values(self, name: str) -> list[str]:
        return self._folded.get(name.lower() if self.case_insensitive else name, [])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self._values(name))

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._values(name)
        return values[0] if values else default

    def get_all(self, name: str) -> list[str]:
        return list(self._values(name))

    def get_list(self, name: str) -> list[str]:
        """All values, comma lists split, blanks dropped (`Fields=A,B&Fields=C`)."""
        out: list[str] = []
        for value in self._values(name):
            out.extend(p.strip() for p in value.split(",") if p.strip())
        return out

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.get(name)
        if value is None or value.strip() == "":
            return default
        try:
            return int(value)
        except ValueError:
            try:
                return int(float(value))
            except ValueError:
                raise BadParam(name, value) from None

    def get_bool(self, name: str, default: bool | None = None) -> bool | None:
        value = self.get(name)
        if value is None or value.strip() == "":
            return default
        parsed = parse_bool(value)
        if parsed is None:
            raise BadParam(name, value)
        return parsed

    def first_values(self) -> dict[str, str]:
        return {k: v[0] if v else "" for k, v in self.raw.items()}


class BadParam(ValueError):
    """A query parameter that the real server's model binding would reject (400)."""

    def __init__(self, name: str, value: str) -> None:
        super().__init__(f"The value '{value}' is not valid for {name}.")
        self.name = name
        self.value = value


def lower_set(values: Iterable[str]) -> set[str]:
    return {v.lower() for v in values}
