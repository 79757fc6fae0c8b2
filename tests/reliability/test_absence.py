"""Absence is not deletion: a request or a Jellyfin item counts as removed only when complete,
successful listings (or a by-id lookup) lack it on two consecutive cycles. A failed poll, or a
listing that ends before the total it announced, proves nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from simstack import SimulatedStack, World
from tests.reliability.support import EXPECTED, KEYS, Scenario, build_scenario

SEERR_LISTING = "/api/v1/request"


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with SimulatedStack(World(), api_keys=KEYS) as stack:
        # Every poll a full listing, so each cycle is a chance to notice (or imagine) a removal.
        sc = build_scenario(stack, tmp_path, extra="")
        text = sc.config.read_text().replace("[reconciler]\n",
                                             '[reconciler]\nfull_sync_interval = "1ms"\n', 1)
        sc.config.write_text(text)
        first = sc.once()
        assert first.code == 0, first.stderr
        assert sc.states() == EXPECTED
        yield sc


def fetch(sc: Scenario, service: str, path: str, params: dict[str, Any]) -> Any:
    headers = {"X-Api-Key": KEYS[service]} if service != "jellyfin" else {
        "Authorization": f'MediaBrowser Token="{KEYS[service]}"'}
    response = httpx.get(sc.stack.url(service) + path, params=params, headers=headers)
    response.raise_for_status()
    return response.json()


def seerr_listing_without(sc: Scenario, request_id: int) -> bytes:
    """Jellyseerr's real listing with one request left out: complete and consistent."""
    data = fetch(sc, "jellyseerr", SEERR_LISTING,
                 {"take": 100, "skip": 0, "filter": "all", "sort": "modified"})
    data["results"] = [r for r in data["results"] if r["id"] != request_id]
    data["pageInfo"]["results"] = len(data["results"])
    return json.dumps(data).encode()


def jellyfin_listing_without(sc: Scenario, item_id: str) -> bytes:
    data = fetch(sc, "jellyfin", "/Items", {"Recursive": "true", "Fields": "ProviderIds,Path",
                                            "IncludeItemTypes": "Movie,Series,Episode"})
    data["Items"] = [i for i in data["Items"] if i["Id"] != item_id]
    data["TotalRecordCount"] = len(data["Items"])
    return json.dumps(data).encode()


def serve(sc: Scenario, service: str, path: str, body: bytes, times: int | None = None) -> None:
    """Answer `path` with `body` (200, JSON) instead of the real payload."""
    sc.stack.set_fault(service, "malformed_json", path=path, body=body, times=times)


def test_a_request_deleted_in_jellyseerr_is_deleted_only_on_the_second_listing_without_it(
        scenario: Scenario) -> None:
    scenario.world.jellyseerr.delete_request(scenario.ids["downloading"])
    assert scenario.once().code == 0
    assert scenario.states()["downloading"] == "downloading"
    assert scenario.once().code == 0
    assert scenario.states()["downloading"] == "deleted"
    timeline = scenario.show("downloading")["timeline"]
    assert (timeline[-1]["to"], timeline[-1]["via"]) == ("deleted", "jellyseerr")


def test_failed_polls_between_two_listings_neither_count_nor_confirm_an_absence(
        scenario: Scenario) -> None:
    scenario.world.jellyseerr.delete_request(scenario.ids["downloading"])
    assert scenario.once().code == 0
    scenario.stack.set_fault("jellyseerr", "status", code=503)
    for _ in range(3):
        assert scenario.once().code == 3
        assert scenario.states()["downloading"] == "downloading"
    scenario.stack.clear_fault("jellyseerr")
    assert scenario.once().code == 0
    assert scenario.states()["downloading"] == "deleted"


def test_a_request_back_in_the_listing_starts_its_absence_count_again(
        scenario: Scenario) -> None:
    rid = scenario.ids["downloading"]
    body = seerr_listing_without(scenario, rid)
    for _ in range(3):  # missing, back, missing: never twice in a row
        # Missing from every listing and 404 by id (the first matching fault answers).
        scenario.stack.set_fault("jellyseerr", "status", code=404, path=f"{SEERR_LISTING}/{rid}",
                                 body=b'{"message": "Request not found."}',
                                 content_type="application/json")
        scenario.stack.add_fault("jellyseerr", "malformed_json", path=SEERR_LISTING, body=body)
        assert scenario.once().code == 0
        assert scenario.states()["downloading"] == "downloading"
        scenario.stack.clear_fault("jellyseerr")
        assert scenario.once().code == 0
        assert scenario.states()["downloading"] == "downloading"


@pytest.mark.parametrize("total", [5, 500])
def test_a_jellyseerr_listing_that_ends_before_its_total_deletes_nothing(
        scenario: Scenario, total: int) -> None:
    """An empty page where the total promised more is a cut-short listing, not "no requests"."""
    body = json.dumps({"pageInfo": {"pages": 1, "pageSize": 100, "results": total, "page": 1},
                       "results": []}).encode()
    serve(scenario, "jellyseerr", SEERR_LISTING, body)
    for _ in range(3):
        scenario.once()
        assert scenario.states() == EXPECTED
    scenario.stack.clear_fault("jellyseerr")
    assert scenario.once().code == 0
    assert scenario.states() == EXPECTED


def test_a_jellyfin_item_missing_from_one_full_listing_is_not_removed(
        scenario: Scenario) -> None:
    item = scenario.show("available")["request"]["jellyfin_item_id"]
    body = jellyfin_listing_without(scenario, item)
    serve(scenario, "jellyfin", "/Items", body, times=1)  # the listing only; by-id checks pass
    assert scenario.once().code == 0
    assert scenario.states()["available"] == "available"
    assert scenario.once().code == 0
    assert scenario.states()["available"] == "available"


def test_a_jellyfin_item_removed_for_real_leaves_only_on_the_second_cycle_without_it(
        scenario: Scenario) -> None:
    item = scenario.show("available")["request"]["jellyfin_item_id"]
    scenario.world.jellyfin.remove_item(item)
    assert scenario.once().code == 0
    assert scenario.states()["available"] == "available"
    assert scenario.once().code == 0
    assert scenario.states()["available"] == "importing"  # imported, no longer in Jellyfin


@pytest.mark.parametrize("body", [
    {"Items": [], "TotalRecordCount": 7, "StartIndex": 0},
    {"Items": [], "TotalRecordCount": 7000, "StartIndex": 0},
], ids=["empty_page_of_7", "empty_page_of_7000"])
def test_a_jellyfin_listing_that_ends_before_its_total_removes_nothing(
        scenario: Scenario, body: dict[str, Any]) -> None:
    serve(scenario, "jellyfin", "/Items", json.dumps(body).encode())
    for _ in range(3):
        scenario.once()
        assert scenario.states()["available"] == "available"
    scenario.stack.clear_fault("jellyfin")
    assert scenario.once().code == 0
    assert scenario.states() == EXPECTED


def test_a_jellyfin_item_of_an_unknown_type_makes_jellyfin_unknown_not_the_film_gone(
        scenario: Scenario) -> None:
    data = fetch(scenario, "jellyfin", "/Items", {"Recursive": "true",
                                                  "Fields": "ProviderIds,Path",
                                                  "IncludeItemTypes": "Movie,Series,Episode"})
    for item in data["Items"]:
        if item["Type"] == "Movie":
            item["Type"] = "unexpectedValue"
    serve(scenario, "jellyfin", "/Items", json.dumps(data).encode())
    result = scenario.once()
    assert scenario.states()["available"] == "available"
    assert result.code == 3
