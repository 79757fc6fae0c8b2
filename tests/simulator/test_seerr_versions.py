"""The fake Jellyseerr's version profiles behave as the real versions were measured to."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from simstack import SimulatedStack, World
from simstack.jellyseerr import (
    APPROVED,
    COMPLETED,
    DECLINED,
    MEDIA_AVAILABLE,
    MEDIA_BLOCKLISTED,
    PENDING,
)
from simstack.seerr_versions import (
    JELLYSEERR_2_2,
    PROFILES,
    SEERR_3_1,
    SEERR_BUMPING,
    profile_for,
)

T0 = datetime(2026, 11, 1, 12, 0, 0, 250_000, tzinfo=UTC)
LIST = {"take": "20", "skip": "0", "filter": "all", "sort": "modified"}


@pytest.fixture
def seerr(request: pytest.FixtureRequest) -> Iterator[tuple[World, httpx.Client]]:
    world = World(T0, jellyseerr_version=getattr(request, "param", None))
    with SimulatedStack(world, services=["jellyseerr"]) as stack, httpx.Client(
            base_url=stack.urls["jellyseerr"],
            headers={"X-Api-Key": stack.api_keys["jellyseerr"]}, timeout=10) as client:
        yield world, client


def ids(client: httpx.Client, **params: str) -> list[int]:
    answer = client.get("/api/v1/request", params={**LIST, **params})
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


def test_profiles_are_found_by_name_and_version() -> None:
    assert profile_for("3.1.0") is SEERR_3_1 and profile_for("seerr-3.1") is SEERR_3_1
    assert profile_for("2.2") is JELLYSEERR_2_2
    assert profile_for("1.33").flavour == "overseerr"
    assert World().jellyseerr.profile is SEERR_BUMPING
    with pytest.raises(ValueError, match="no Seerr profile"):
        profile_for("9.9")


@pytest.mark.parametrize(("seerr", "flavour_version"), [
    ("1.33.2", "1.33.2"), ("2.1.0", "2.1.0"), ("2.2.3", "2.2.3"), ("2.7.3", "2.7.3"),
    ("3.1.0", "3.1.0"), (None, "3.2.0")], indirect=["seerr"])
def test_status_reports_the_version(seerr: tuple[World, httpx.Client],
                                    flavour_version: str) -> None:
    _, client = seerr
    assert client.get("/api/v1/status").json() == {
        "version": flavour_version, "commitTag": "v" + flavour_version,
        "updateAvailable": False, "commitsBehind": 0, "restartRequired": False}


@pytest.mark.parametrize("seerr", ["2.7.3", "3.1.0"], indirect=True)
def test_frozen_updated_at_on_2_6_and_later(seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    js = world.jellyseerr
    first = js.add_request(1, status=PENDING)
    second = js.add_request(2, status=PENDING)
    created = client.get(f"/api/v1/request/{first}").json()["updatedAt"]
    assert created.endswith(":00.000Z")  # new rows: the database's whole seconds
    world.advance(600)
    js.set_request_status(first, APPROVED)
    js.update_request(second, profile_id=4)
    js.set_media_status(1, MEDIA_AVAILABLE)
    world.advance(600)
    js.set_request_status(second, DECLINED)
    after = client.get(f"/api/v1/request/{first}").json()
    assert after["status"] == COMPLETED and after["updatedAt"] == created
    assert after["media"]["updatedAt"] == created
    assert ids(client, sortDirection="desc") == [second, first]  # creation order


@pytest.mark.parametrize("seerr", ["1.33.2", "2.1.0", "2.2.3", None], indirect=True)
def test_updated_at_bumps_where_the_version_does(seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    js = world.jellyseerr
    first = js.add_request(1, status=PENDING)
    js.add_request(2, status=PENDING)
    world.advance(90)
    js.set_request_status(first, APPROVED)
    answer = client.get(f"/api/v1/request/{first}").json()
    assert answer["updatedAt"] > answer["createdAt"]
    assert ids(client)[0] == first


@pytest.mark.parametrize(("seerr", "param", "accepted"), [
    ("1.33.2", "sortDirection", False), ("2.1.0", "sortDirection", False),
    ("2.2.3", "sortDirection", True), ("2.2.3", "mediaType", False),
    ("2.7.3", "mediaType", True), ("3.1.0", "sortDirection", True),
    ("1.33.2", "mediaType", False)], indirect=["seerr"])
def test_unknown_query_parameters_answer_the_validator_400(
        seerr: tuple[World, httpx.Client], param: str, accepted: bool) -> None:
    _, client = seerr
    value = "desc" if param == "sortDirection" else "movie"
    answer = client.get("/api/v1/request", params={**LIST, param: value})
    if accepted:
        assert answer.status_code == 200
        return
    message = f"Unknown query parameter '{param}'"
    assert answer.status_code == 400
    assert answer.json() == {"message": message,
                             "errors": [{"path": f".query.{param}", "message": message}]}
    # validated before the key: a wrong key still reads as 400
    wrong = client.get("/api/v1/request", params={**LIST, param: value},
                       headers={"X-Api-Key": "wrong"})
    assert wrong.status_code == 400


@pytest.mark.parametrize("seerr", ["2.2.3", "3.1.0"], indirect=True)
def test_bad_enum_values_answer_400(seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    bad = client.get("/api/v1/request", params={**LIST, "filter": "everything"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["path"] == ".query.filter"
    assert bad.json()["message"].startswith("request.query.filter should be equal to one of")
    completed = client.get("/api/v1/request", params={**LIST, "filter": "completed"})
    assert completed.status_code == (400 if world.jellyseerr.version == "2.2.3" else 200)
    assert client.get("/api/v1/request", params={**LIST, "sort": "size"}).status_code == 400


@pytest.mark.parametrize("seerr", ["3.1.0", None], indirect=True)
def test_unknown_tmdb_id_and_tmdb_outage_answer_seerrs_500(
        seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    world.jellyseerr.add_request(603, "movie", "The Matrix")
    world.jellyseerr.add_request(1396, "tv", "Breaking Bad", seasons=[1])
    unknown = client.get("/api/v1/movie/999999")
    assert (unknown.status_code, unknown.json()) == (500, {"message": "Unable to retrieve movie."})
    assert client.get("/api/v1/movie/603").status_code == 200
    world.jellyseerr.set_tmdb_down()
    for path, what in (("/api/v1/movie/603", "movie"), ("/api/v1/tv/1396", "series")):
        down = client.get(path)
        assert (down.status_code, down.json()) == (500, {"message": f"Unable to retrieve {what}."})
    world.jellyseerr.set_tmdb_down(False)
    assert client.get("/api/v1/tv/1396").status_code == 200


@pytest.mark.parametrize("seerr", ["3.1.0"], indirect=True)
def test_ties_come_out_in_a_seeded_order_that_pages_cleanly(
        seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    made = [world.jellyseerr.add_request(100 + i) for i in range(12)]  # one updatedAt
    orders = {take: [] for take in (3, 5, 100)}
    for take in orders:
        for skip in range(0, 12, take):
            orders[take] += ids(client, take=str(take), skip=str(skip))
    for order in orders.values():
        assert sorted(order) == made  # no page lost or repeated a request
    assert len({tuple(o) for o in orders.values()}) > 1  # but the order depends on take
    assert orders[100] != sorted(made, reverse=True)


@pytest.mark.parametrize("seerr", ["2.7.3", "2.2.3"], indirect=True)
def test_blocklisted_media_leaves_filter_all_but_answers_by_id(
        seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    js = world.jellyseerr
    kept = js.add_request(10)
    hidden = js.add_request(11)
    js.blocklist(11)
    assert ids(client) == [kept]
    answer = client.get(f"/api/v1/request/{hidden}")
    assert answer.status_code == 200 and answer.json()["media"]["status"] == MEDIA_BLOCKLISTED
    assert client.get("/api/v1/request/count").json()["total"] == 2


def test_2_2_has_no_completed_status_and_counts_like_the_real_server() -> None:
    world = World(T0, jellyseerr_version="2.2.3")
    js = world.jellyseerr
    rid = js.add_request(10)
    js.add_request(11)
    js.set_media_status(10, MEDIA_AVAILABLE)
    assert js.get_request(rid).status == APPROVED  # stays approved: no status 5
    with pytest.raises(ValueError, match="no request status 5"):
        js.set_request_status(rid, COMPLETED)
    with SimulatedStack(world, services=["jellyseerr"]) as stack:
        count = httpx.get(stack.urls["jellyseerr"] + "/api/v1/request/count",
                          headers={"X-Api-Key": stack.api_keys["jellyseerr"]}).json()
    assert count == {"total": 2, "movie": 2, "tv": 0, "pending": 0, "approved": 2,
                     "declined": 0, "processing": 1, "available": 1}


@pytest.mark.parametrize("seerr", ["3.1.0"], indirect=True)
def test_list_and_single_request_shapes(seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    js = world.jellyseerr
    js.add_user("ana", local_username=None)
    tv = js.add_request(1396, "tv", "Breaking Bad", seasons=[1, 2], external_service_id=7,
                        requested_by=2, tags=None)
    pending = js.add_request(603, status=PENDING)
    js.set_arr_reachable("sonarr", 0, False)
    listing = client.get("/api/v1/request", params=LIST).json()
    assert listing["serviceErrors"] == {"radarr": [], "sonarr": [{"id": 0, "name": "Sonarr"}]}
    items = {r["id"]: r for r in listing["results"]}
    assert items[tv]["canRemove"] is True and items[pending]["canRemove"] is False
    assert items[tv]["languageProfileId"] == 1 and items[pending]["languageProfileId"] is None
    assert items[tv]["tags"] is None and items[pending]["tags"] == []
    user = items[tv]["requestedBy"]
    assert user["username"] is None and user["jellyfinUsername"] == "ana"
    assert user["plexUsername"] is None and user["avatarETag"] is None
    assert "settings" not in user
    single = client.get(f"/api/v1/request/{tv}").json()
    assert "canRemove" not in single and "profileName" not in single
    assert "notificationTypes" in single["requestedBy"]["settings"]
    assert [(s["seasonNumber"], sorted(s)) for s in single["media"]["seasons"]] == [
        (n, ["createdAt", "id", "seasonNumber", "status", "status4k", "updatedAt"])
        for n in (1, 2)]
    assert "completed" in client.get("/api/v1/request/count").json()


@pytest.mark.parametrize("seerr", ["3.1.0"], indirect=True)
def test_several_arr_servers_and_the_4k_service_url(seerr: tuple[World, httpx.Client]) -> None:
    world, client = seerr
    js = world.jellyseerr
    uhd = js.add_arr_server("radarr", name="Radarr 4K", hostname="radarr4k", port=7879,
                            is4k=True, active_directory="/movies4k")
    rid = js.add_request(603, is4k=True, external_service_id=12)
    media = client.get(f"/api/v1/request/{rid}").json()["media"]
    assert media["serviceId4k"] == uhd
    assert media["serviceUrl4k"] == "http://radarr4k:7879/movie/603"
    servers = client.get("/api/v1/settings/radarr").json()
    assert [(s["id"], s["is4k"], s["isDefault"]) for s in servers] == [
        (0, False, True), (uhd, True, True)]
    assert {"hostname", "port", "baseUrl", "useSsl", "activeProfileId", "activeDirectory",
            "apiKey"} <= set(servers[0])
    assert client.get("/api/v1/settings/sonarr").json()[0]["seriesType"] == "standard"
    media_list = client.get("/api/v1/media").json()
    assert media_list["pageInfo"]["results"] == 1
    assert media_list["results"][0]["tmdbId"] == 603


@pytest.mark.parametrize("seerr", [None], indirect=True)
def test_unknown_route_answers_the_validators_404(seerr: tuple[World, httpx.Client]) -> None:
    _, client = seerr
    answer = client.get("/api/v1/nosuchthing")
    assert answer.status_code == 404
    assert answer.json() == {"message": "not found", "errors": [
        {"path": "/api/v1/nosuchthing", "message": "not found"}]}


def test_every_profile_is_listed() -> None:
    assert {p.version for p in PROFILES.values()} == {"1.33.2", "2.1.0", "2.2.3", "2.7.3",
                                                      "3.1.0", "3.2.0"}


def test_2_1_fails_the_whole_list_while_an_arr_is_unreachable() -> None:
    world = World(T0, jellyseerr_version="2.1.0")
    world.jellyseerr.add_request(10)
    world.jellyseerr.set_arr_reachable("sonarr", 0, False)
    with SimulatedStack(world, services=["jellyseerr"]) as stack:
        key = {"X-Api-Key": stack.api_keys["jellyseerr"]}
        url = stack.urls["jellyseerr"]
        failed = httpx.get(url + "/api/v1/request", params=LIST, headers=key)
        assert failed.status_code == 500
        assert failed.json() == {"message": "[Sonarr] Failed to retrieve profiles: fetch failed"}
        world.jellyseerr.set_arr_reachable("sonarr", 0, True)
        assert httpx.get(url + "/api/v1/request", params=LIST, headers=key).status_code == 200


def test_the_environment_chooses_the_default_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMSTACK_JELLYSEERR_VERSION", "2.7.3")
    monkeypatch.setenv("SIMSTACK_SHOKO_VERSION", "6.0.0")
    world = World()
    assert world.jellyseerr.profile.version == "2.7.3" and world.shoko.major == 6
    assert World(jellyseerr_version="3.1.0").jellyseerr.profile is SEERR_3_1


def test_assigning_a_profile_changes_a_running_world() -> None:
    world = World(T0)
    with SimulatedStack(world, services=["jellyseerr"]) as stack:
        url = stack.urls["jellyseerr"] + "/api/v1/status"
        assert httpx.get(url).json()["version"] == "3.2.0"
        world.jellyseerr.profile = profile_for("overseerr-1.33")
        assert httpx.get(url).json()["version"] == "1.33.2"
        listing = httpx.get(stack.urls["jellyseerr"] + "/api/v1/request",
                            params={**LIST, "sortDirection": "desc"},
                            headers={"X-Api-Key": stack.api_keys["jellyseerr"]})
        assert listing.status_code == 400
