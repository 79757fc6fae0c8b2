"""The fake Jellyseerr answers every recorded query as the recorded version did: same status and
the same set of (JSON path, type), given the same data.

For each version the recorded request listing, the by-id answers and the configured *arr servers
are loaded into a `World` playing that version (`jellyseerr_version=`), TMDB is made unreachable
(the recordings were made without it), and each recorded query is replayed over HTTP. Two
sources: the real recordings in `../shared/api/samples/jellyseerr-real/` (when that checkout
exists beside the repository) and the project's own fixtures in `tests/fixtures/jellyseerr/`,
rewritten from them with our own data, so the check also runs in a clone without `../shared`.

`ALLOWED` lists the paths the simulator legitimately cannot reproduce, each with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simstack import SimulatedStack, World
from tests.simulator.recorded import (
    FIXTURES,
    REAL,
    VERSIONS,
    Recorded,
    path_types,
    query_for,
    recordings,
)

# (version regex, path regex, reason): differences the simulator cannot or need not reproduce.
ALLOWED: list[tuple[str, str, str]] = [
    # Overseerr's users and media come from Plex: a real Plex id, a Plex rating key and Plex
    # URLs exist only for media a Plex server has; the simulator has no Plex server.
    ("overseerr", r"\.(ratingKey|plexUrl|iOSPlexUrl)$", "Plex library fields"),
]


def _allowed(version: str, path: str) -> bool:
    return any(re.search(v, version) and re.search(p, path) for v, p, _ in ALLOWED)


def _differences(version: str, real: Any, sim: Any) -> tuple[list[Any], list[Any]]:
    want = {pt for pt in path_types(real) if not _allowed(version, pt[0])}
    got = {pt for pt in path_types(sim) if not _allowed(version, pt[0])}
    return sorted(want - got), sorted(got - want)


def _load(world: World, recorded: dict[str, Recorded]) -> None:
    """The recorded data: the full listing, every by-id answer (incl. the blocklisted
    request the listing leaves out) and the configured servers."""
    js = world.jellyseerr
    rows: list[Any] = []
    for name in ("request_take100", "request_modified_nodir_take100"):
        r = recorded.get(name)
        if r is not None and r.status == 200:
            rows.extend(r.body["results"])
    rows.extend(r.body for n, r in recorded.items()
                if re.fullmatch(r"request_\d+(_\w+)?", n) and r.status == 200)
    assert rows, "no request listing recorded"
    js.load_listing(rows)
    for kind in ("radarr", "sonarr"):
        servers = recorded[f"settings_{kind}"].body
        for old in list(js.servers[kind]):
            js.remove_arr_server(kind, old.id)
        for s in servers:
            js.add_arr_server(kind, name=s["name"], hostname=s["hostname"], port=s["port"],
                              base_url=s["baseUrl"], use_ssl=s["useSsl"], is4k=s["is4k"],
                              is_default=s["isDefault"], api_key=s["apiKey"],
                              active_directory=s["activeDirectory"])
            js.servers[kind][-1].id = s["id"]
    # the recordings' *arr servers were down where the list says so (3.x `serviceErrors`)
    listing = recorded.get("request_default")
    for kind, down in ((listing.body or {}).get("serviceErrors") or {} if listing else {}).items():
        for server in down:
            js.set_arr_reachable(kind, server["id"], False)
    js.set_tmdb_down(True)


def _sources() -> Iterator[Any]:
    for version in VERSIONS:
        yield pytest.param("real", version, id=f"real-{version}", marks=pytest.mark.skipif(
            not REAL.is_dir(), reason=f"{REAL} (the shared real-server recordings) is not "
                                      "checked out beside the repository"))
        yield pytest.param("fixtures", version, id=f"fixtures-{version}")


@pytest.mark.parametrize(("source", "version"), list(_sources()))
def test_simulator_answers_as_recorded(source: str, version: str) -> None:
    recorded = recordings(source, version)
    assert recorded, f"no {source} recordings for {version}"
    world = World(jellyseerr_version=VERSIONS[version])
    _load(world, recorded)
    failures: list[str] = []
    replayed = 0
    with SimulatedStack(world, services=["jellyseerr"]) as stack:
        keys = {"good": {"X-Api-Key": stack.api_keys["jellyseerr"]},
                "bad": {"X-Api-Key": "not-the-key"}, "none": {}}
        with httpx.Client(base_url=stack.urls["jellyseerr"], timeout=10) as client:
            for name, rec in sorted(recorded.items()):
                query = query_for(name)
                if query is None:
                    continue
                replayed += 1
                answer = client.get(query.path, params=query.params, headers=keys[query.key])
                if answer.status_code != rec.status:
                    failures.append(f"{name}: status {answer.status_code}, recorded "
                                    f"{rec.status}: {answer.text[:200]}")
                    continue
                missing, extra = _differences(version, rec.body, answer.json())
                if missing or extra:
                    failures.append(f"{name}: missing {missing[:8]} extra {extra[:8]}")
    assert replayed >= 20
    assert not failures, "\n".join(failures)


def test_path_types_sees_a_changed_type() -> None:
    """The comparison is not vacuous: a null where a string was is a difference."""
    missing, extra = _differences("3.1.0", {"a": [{"b": "x"}]}, {"a": [{"b": None}]})
    assert missing == [("$.a[].b", "string")] and extra == [("$.a[].b", "null")]


def test_fixtures_exist_for_every_version() -> None:
    for version in VERSIONS:
        assert len(list((FIXTURES / version).glob("*.json"))) >= 20, version
