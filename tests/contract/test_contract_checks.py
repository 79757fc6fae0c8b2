"""The contract checks have teeth: a renamed field, a wrong enum value, a misspelt query
parameter each fail; what the real servers legitimately do (the leniencies) passes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.contract.spec_support import REPO, SHOKO_SCHEMA, Contract

JSON = "application/json; charset=utf-8"


def recorded_body(cassette: str, index: int = 0) -> Any:
    data = yaml.safe_load((REPO / "cassettes" / cassette).read_text(encoding="utf-8"))
    return json.loads(data["interactions"][index]["response"]["body"]["string"])


def shape(contract: Contract, method: str, path: str, body: Any) -> list[str]:
    return contract.response_problems(method, path, 200, JSON, json.dumps(body).encode())


def test_the_shoko_schema_is_a_valid_json_schema() -> None:
    document = json.loads(SHOKO_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(document)
    assert set(document["x-endpoints"]) == {
        "GET /api/v3/Init/Status", "GET /api/v3/File/PathEndsWith",
        "GET /api/v3/Tmdb/Movie/{movieID}/Shoko/File",
        "GET /api/v3/Tmdb/Show/{showID}/Shoko/Series"}


def test_a_renamed_radarr_queue_field_fails(contract: Callable[[str], Contract]) -> None:
    body = recorded_body("radarr/queue.yaml")
    body[0]["sizeLeft"] = body[0].pop("sizeleft")
    problems = shape(contract("radarr"), "GET", "/api/v3/queue/details", body)
    assert any("sizeLeft" in p for p in problems)
    assert any("'sizeleft' is a required property" in p for p in problems)


def test_an_unknown_tracked_state_fails(contract: Callable[[str], Contract]) -> None:
    body = recorded_body("radarr/queue.yaml")
    body[0]["trackedDownloadState"] = "importFailed"
    assert shape(contract("radarr"), "GET", "/api/v3/queue/details", body)


def test_a_dropped_field_the_client_reads_fails(contract: Callable[[str], Contract]) -> None:
    """The *arr specs require nothing; reconciler adds what it reads and servers always send."""
    episodes = recorded_body("sonarr/episodes.yaml")
    del episodes[1]["hasFile"]
    assert shape(contract("sonarr"), "GET", "/api/v3/episode", episodes)


def test_jellyfin_item_fields_are_checked(contract: Callable[[str], Contract]) -> None:
    page = recorded_body("jellyfin/items.yaml")
    page["Items"][0]["LocationType"] = "filesystem"
    page["Items"][1]["DateLastSaved"] = "2026-01-22T04:00:00.0000000Z"  # not in BaseItemDto
    problems = shape(contract("jellyfin"), "GET", "/Items", page)
    assert any("LocationType" in p for p in problems)
    assert any("DateLastSaved" in p for p in problems)


def test_seerr_request_status_must_be_a_number(contract: Callable[[str], Contract]) -> None:
    page = recorded_body("jellyseerr/requests_all.yaml", 1)
    page["results"][0]["status"] = "approved"
    assert shape(contract("jellyseerr"), "GET", "/api/v1/request", page)


def test_seerr_optional_columns_may_be_null_but_required_ones_may_not(
        contract: Callable[[str], Contract]) -> None:
    page = recorded_body("jellyseerr/requests_all.yaml", 1)
    page["results"][0]["rootFolder"] = None  # optional: Seerr sends null when unset
    assert shape(contract("jellyseerr"), "GET", "/api/v1/request", page) == []
    page["results"][0]["media"]["tmdbId"] = None
    assert shape(contract("jellyseerr"), "GET", "/api/v1/request", page)


def test_shoko_file_fields_are_checked(contract: Callable[[str], Contract]) -> None:
    files = recorded_body("shoko/file_by_path_matched.yaml")
    files[0]["Locations"][0]["Path"] = files[0]["Locations"][0].pop("RelativePath")
    problems = shape(contract("shoko"), "GET", "/api/v3/File/PathEndsWith", files)
    assert any("RelativePath" in p for p in problems)


def test_shoko_tmdb_files_are_a_list_result_not_a_list(
        contract: Callable[[str], Contract]) -> None:
    files = recorded_body("shoko/file_by_path_matched.yaml")
    shoko = contract("shoko")
    assert shape(shoko, "GET", "/api/v3/Tmdb/Movie/1052946/Shoko/File", files)
    assert shape(shoko, "GET", "/api/v3/Tmdb/Movie/1052946/Shoko/File",
                 {"Total": 1, "List": files}) == []


@pytest.mark.parametrize(("service", "path", "query", "wanted"), [
    ("radarr", "/api/v3/queue", [("page", "1"), ("pagesize", "500")], "pagesize"),
    ("sonarr", "/api/v3/episode", [("seriesId", "23"), ("includeEpisodeFiles", "true")],
     "includeEpisodeFiles"),
    ("jellyseerr", "/api/v1/request", [("take", "100"), ("sort", "updated")], "updated"),
    ("jellyfin", "/Items", [("Recursive", "true"), ("AnyProviderIdEquals", "tmdb.603")],
     "anyprovideridequals"),
    ("jellyfin", "/Items", [("Fields", "ProviderIds,Paths")], "Paths"),
    ("shoko", "/api/v3/Tmdb/Movie/1052946/Shoko/File", [("includeXRefs", "true")],
     "includeXRefs"),
    ("shoko", "/api/v3/File/PathEndsWith", [("path", "a.mkv"), ("limit", "1000")], "limit"),
])
def test_a_misspelt_or_invalid_query_parameter_fails(
        service: str, path: str, query: list[tuple[str, str]], wanted: str,
        contract: Callable[[str], Contract]) -> None:
    problems = contract(service).request_problems("GET", path, query, None)
    assert any(wanted in p for p in problems), problems


def test_jellyfin_parameters_match_in_any_case(contract: Callable[[str], Contract]) -> None:
    jellyfin = contract("jellyfin")
    assert jellyfin.request_problems("GET", "/Items", [
        ("StartIndex", "0"), ("startindex", "0"), ("IncludeItemTypes", "Movie,Episode")],
        {"Authorization": "x"}) == []


def test_a_request_without_the_api_key_header_fails(
        contract: Callable[[str], Contract]) -> None:
    assert contract("radarr").request_problems("GET", "/api/v3/tag", [], {"Accept": "x"})
    assert contract("shoko").request_problems(
        "GET", "/api/v3/File/PathEndsWith", [("path", "a.mkv")], {"Accept": "x"})


def test_a_path_the_spec_does_not_have_fails(contract: Callable[[str], Contract]) -> None:
    assert contract("radarr").request_problems("GET", "/api/v3/movies", [], None)
    assert contract("jellyseerr").response_problems("GET", "/api/v1/requests", 200, JSON, b"{}")


def test_without_the_published_specs_only_shoko_is_checked(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Users' clones have no ../shared/api/specs/: the OpenAPI checks then skip, not fail."""
    from tests.contract import spec_support

    monkeypatch.setattr(spec_support, "SPECS_DIR", tmp_path / "missing")
    spec_support.load_contract.cache_clear()
    try:
        assert spec_support.load_contract("radarr") is None
        assert spec_support.load_contract("jellyfin") is None
        assert spec_support.load_contract("shoko") is not None
    finally:
        spec_support.load_contract.cache_clear()
