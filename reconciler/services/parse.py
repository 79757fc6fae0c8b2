"""Reading fields out of service payloads: a missing id or an unknown enum value is a
`BadResponse` (the service is then *unknown* for the cycle), never a silent default. Times are
parsed here, once: what the other layers get is a `datetime` in UTC."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import BadResponse
from reconciler.times import parse_time


def service_time(text: str | None) -> datetime | None:
    """A time as the services write it (ISO 8601 with `Z` or an offset, .NET's seven fractional
    digits kept to the microsecond), in UTC; None when missing, empty or unreadable."""
    parsed = parse_time(text)
    return parsed.astimezone(UTC) if parsed is not None else None


class Fields:
    """Typed access to one JSON object from `service`'s `endpoint`."""

    def __init__(self, service: str, endpoint: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise BadResponse(service, f"{endpoint}: expected an object, got {type(obj).__name__}")
        self.service = service
        self.endpoint = endpoint
        self.obj = obj

    def bad(self, key: str, problem: str) -> BadResponse:
        return BadResponse(self.service, f"{self.endpoint}: field {key!r} {problem}")

    def integer(self, key: str) -> int:
        value = self.obj.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.bad(key, "is missing or not an integer")
        return value

    def opt_int(self, key: str) -> int | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                return int(value)
            raise self.bad(key, "is not an integer")
        return value

    def number(self, key: str, default: float = 0.0) -> float:
        value = self.obj.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.bad(key, "is not a number")
        return float(value)

    def text(self, key: str) -> str:
        value = self.obj.get(key)
        if not isinstance(value, str) or not value:
            raise self.bad(key, "is missing or not a string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.obj.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.bad(key, "is not a string")
        return value

    def time(self, key: str, *, required: bool = False) -> datetime | None:
        """A timestamp (`service_time`): not a string is a `BadResponse`, an unreadable one
        None; `required`: missing or empty is a `BadResponse` too."""
        text = self.text(key) if required else self.opt_text(key)
        return service_time(text)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.obj.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.bad(key, "is not a boolean")
        return value

    def enum(self, key: str, allowed: Collection[Any], default: Any = None) -> Any:
        value = self.obj.get(key, default)
        if value not in allowed:
            raise self.bad(key, f"has an unknown value {value!r}")
        return value

    def array(self, key: str) -> list[Any]:
        value = self.obj.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.bad(key, "is not a list")
        return value

    def sub(self, key: str) -> Fields | None:
        value = self.obj.get(key)
        if value is None:
            return None
        return Fields(self.service, f"{self.endpoint}.{key}", value)

    def int_list(self, key: str) -> tuple[int, ...]:
        out = []
        for v in self.array(key):
            if isinstance(v, bool) or not isinstance(v, int):
                raise self.bad(key, "holds a non-integer")
            out.append(v)
        return tuple(out)
