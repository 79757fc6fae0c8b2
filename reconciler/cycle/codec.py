"""The JSON form of the observed dataclasses (`reconciler.models`), both ways, and its versions.

A dataclass is a JSON object of its fields; a tuple is a list; an enum is its value; a time is
text. Which field is a time, a tuple or an enum is read from its declared type, once per class,
so a new field needs no code here. Reading leaves out keys the class does not have and lets a
field the JSON lacks take its default (an observation written before the field existed).

The versions of that form (the store keeps each observation's, `Store.put_observation`):

- 1: times as the services sent them (any ISO 8601 form, `""` for none): what was written
  before times were typed. Still read.
- 2 (`OBSERVATION_VERSION`): times as `datetime.isoformat()` of a UTC time, to the microsecond.

An observation of any other version is not read (`CODECS` has no reader for it): its subject is
polled again, and the new observation replaces it.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from types import NoneType, UnionType
from typing import Any, TypeVar

from reconciler.services.parse import service_time

D = TypeVar("D")

OBSERVATION_VERSION = 2

# How one field is kept: as it is (None), a time, a tuple of plain values, or an enum (its class).
_TIME = "time"
_TUPLE = "tuple"
_Kind = str | type[Enum] | None
_PLAIN = (int, float, str, bool, NoneType)


def _kind(cls: type, name: str, hint: Any) -> _Kind:
    """What a field of type `hint` needs beyond `json`: `_TIME`, `_TUPLE`, an enum class, or
    nothing. A type the form has no rule for is refused when the class is first seen."""
    args = typing.get_args(hint)
    if isinstance(hint, UnionType) or typing.get_origin(hint) is typing.Union:
        kinds = {_kind(cls, name, a) for a in args if a is not NoneType}
        if len(kinds) != 1:
            raise TypeError(f"{cls.__name__}.{name}: no JSON form for {hint}")
        return kinds.pop()
    if hint is datetime:
        return _TIME
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if typing.get_origin(hint) is tuple and all(a in _PLAIN or a is Ellipsis for a in args):
        return _TUPLE
    if hint in _PLAIN or (typing.get_origin(hint) is dict and all(a in _PLAIN for a in args)):
        return None
    raise TypeError(f"{cls.__name__}.{name}: no JSON form for {hint}")


@functools.cache
def _plan(cls: type) -> tuple[tuple[str, _Kind], ...]:
    """Each field of the dataclass `cls` and how it is kept."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _kind(cls, f.name, hints[f.name])) for f in dataclasses.fields(cls))


def dump(value: Any) -> Any:
    """`value` (a dataclass, or lists and dicts of them) in its JSON form, current version."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for name, kind in _plan(type(value)):
            field = getattr(value, name)
            if field is None or kind is None:
                out[name] = field
            elif kind is _TIME:
                out[name] = field.isoformat()
            elif kind is _TUPLE:
                out[name] = list(field)
            else:
                out[name] = field.value
        return out
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


class Codec:
    """Reads one version of the form."""

    def __init__(self, version: int, time: Callable[[str], datetime | None]) -> None:
        self.version = version
        self.time = time

    def load(self, cls: type[D], data: Mapping[str, Any]) -> D:
        """An instance of the dataclass `cls` from its JSON object."""
        values: dict[str, Any] = {}
        for name, kind in _plan(typing.cast(type, cls)):
            if name not in data:
                continue
            value = data[name]
            if value is None or kind is None:
                values[name] = value
            elif kind is _TIME:
                values[name] = self.time(value)
            elif kind is _TUPLE:
                values[name] = tuple(value)
            else:
                values[name] = typing.cast(type[Enum], kind)(value)
        return cls(**values)


CODECS = {
    1: Codec(1, service_time),
    OBSERVATION_VERSION: Codec(OBSERVATION_VERSION, datetime.fromisoformat),
}
