"""Recorded Jellyseerr answers, the queries that produced them, and a JSON path/type comparison.

A recording set is one directory per version holding one answer per query, either the shared
real recordings (`NAME.json` body + `NAME.headers` status line, `../shared/api/samples/
jellyseerr-real/<version>/`) or the project's own fixtures (`tests/fixtures/jellyseerr/<version>/
NAME.json` = `{"status": .., "body": ..}`, rewritten from them with the project's own data).
The name says the query (see `query_for`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "api" / "samples" / "jellyseerr-real"
FIXTURES = REPO / "tests" / "fixtures" / "jellyseerr"

# recording directory -> the simstack profile playing that version
VERSIONS = {"overseerr-1.33.2": "1.33.2", "2.1.0": "2.1.0", "2.2.3": "2.2.3", "2.7.3": "2.7.3",
            "3.1.0": "3.1.0"}
# 2.1.0 answers the request list with 500 while a Radarr/Sonarr is unreachable; its `arr-stub/`
# recordings were made with them up, like every other version's.
SUBDIR = {"2.1.0": "arr-stub"}


@dataclass(frozen=True)
class Recorded:
    version: str
    name: str
    status: int
    body: Any


@dataclass(frozen=True)
class Query:
    path: str
    params: dict[str, str]
    key: str  # "good" | "bad" | "none"


def query_for(name: str) -> Query | None:
    """The query a recording's name stands for, or None when it is not one we replay."""
    key = "bad" if name.endswith("badkey") else "none" if name.endswith("nokey") else "good"
    stem = re.sub(r"_(badkey|nokey)$", "", name)
    fixed = {
        "status": "/api/v1/status", "auth_me": "/api/v1/auth/me",
        "request_count": "/api/v1/request/count", "settings_radarr": "/api/v1/settings/radarr",
        "settings_sonarr": "/api/v1/settings/sonarr", "unknown_route": "/api/v1/nosuchthing",
        "movie_1000": "/api/v1/movie/1000", "tv_2000": "/api/v1/tv/2000",
        "request_99999_missing": "/api/v1/request/99999",
        "request_abc_invalid": "/api/v1/request/abc", "request_default": "/api/v1/request",
        "request": "/api/v1/request",
    }
    if stem in fixed:
        return Query(fixed[stem], {}, key)
    if m := re.fullmatch(r"request_(\d+)(_\w+)?", stem):
        return Query(f"/api/v1/request/{m.group(1)}", {}, key)
    if m := re.fullmatch(r"media_(default|modified)(?:_skip(\d+))?", stem):
        params = {"take": "20", "skip": m.group(2) or "0"}
        if m.group(1) == "modified":
            params["sort"] = "modified"
        return Query("/api/v1/media", params, key)
    if stem == "request_take100":
        return Query("/api/v1/request", {"take": "100", "skip": "0", "filter": "all",
                                         "sort": "modified", "sortDirection": "desc"}, key)
    m = re.fullmatch(r"request_modified(?P<rest>(?:_[a-z]+)*?)(?:_(?:skip(?P<skip>\d+)|"
                     r"take(?P<take>\d+)))", stem)
    if not m:
        return None
    params = {"take": m.group("take") or "20", "skip": m.group("skip") or "0",
              "sort": "modified", "filter": "all"}
    words = [w for w in m.group("rest").split("_") if w]
    direction = "desc"
    if "asc" in words:
        direction = "asc"
    if "nodir" not in words:
        params["sortDirection"] = direction
    if "mediatype" in words:
        params["mediaType"] = words[words.index("mediatype") + 1]
        if "desc" not in words and "asc" not in words:
            params.pop("sortDirection")
    if "bogusparam" in words:
        params["bogus"] = "1"
    return Query("/api/v1/request", params, key)


def _real_dirs(version: str) -> list[Path]:
    base = REAL / version
    return [base / SUBDIR[version] if version in SUBDIR else base, base / "extra-mediatype"]


def real_recordings(version: str) -> Iterator[Recorded]:
    seen: set[str] = set()
    for directory in _real_dirs(version):
        for body_file in sorted(directory.glob("*.json")):
            name = body_file.stem
            head = body_file.with_suffix(".headers")
            if name in seen or not head.exists():
                continue
            seen.add(name)
            status = int(head.read_text().split()[1])
            yield Recorded(version, name, status, json.loads(body_file.read_text() or "null"))


def fixture_recordings(version: str) -> Iterator[Recorded]:
    for path in sorted((FIXTURES / version).glob("*.json")):
        doc = json.loads(path.read_text())
        yield Recorded(version, path.stem, doc["status"], doc["body"])


def recordings(source: str, version: str) -> dict[str, Recorded]:
    found = real_recordings(version) if source == "real" else fixture_recordings(version)
    return {r.name: r for r in found}


# -- the comparison --------------------------------------------------------------------------

def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def path_types(value: Any, path: str = "$", out: set[tuple[str, str]] | None = None,
               ) -> set[tuple[str, str]]:
    """Every (JSON path, type) in `value`; array items share the path `[]`."""
    out = set() if out is None else out
    out.add((path, _type(value)))
    if isinstance(value, dict):
        for key, item in value.items():
            path_types(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            path_types(item, f"{path}[]", out)
    return out
