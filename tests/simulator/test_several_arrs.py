"""simstack serves several Radarr/Sonarr instances, and Jellyfin items' versions with their
video widths (issue 16)."""

from __future__ import annotations

import httpx

from simstack import SimulatedStack, World


def test_an_extra_radarr_is_its_own_server_with_its_own_films_key_and_statistics() -> None:
    world = World()
    with SimulatedStack(world, services=("radarr",), extra={"radarr4k": "radarr"}) as stack:
        world.radarrs["radarr4k"].add_movie(603, "The Matrix")
        assert world.radarrs["radarr"] is world.radarr
        assert stack.services == ("radarr", "radarr4k")

        def movies(name: str) -> list[int]:
            r = httpx.get(stack.url(name) + "/api/v3/movie",
                          headers={"X-Api-Key": stack.api_keys[name]})
            r.raise_for_status()
            return [m["tmdbId"] for m in r.json()]

        assert movies("radarr") == []
        assert movies("radarr4k") == [603]
        assert stack.stats()["radarr4k"]["calls"] == 1
        wrong = httpx.get(stack.url("radarr4k") + "/api/v3/movie",
                          headers={"X-Api-Key": stack.api_keys["radarr"]})
        assert wrong.status_code == 401
        text = stack.config_toml("db", servers={"radarr4k": {"is4k": True}})
        assert text.count("[[radarr]]") == 2
        assert 'name = "radarr4k"' in text and "is4k = true" in text


def test_jellyfin_lists_each_version_with_its_video_width_when_asked() -> None:
    world = World()
    with SimulatedStack(world, services=("jellyfin",)) as stack:
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        item = world.jellyfin.add_movie("The Matrix", tmdb_id=603, width=1920,
                                        versions=[("/data/movies/m - 2160p.mkv", 3840)])
        headers = {"Authorization": f'MediaBrowser Token="{stack.api_keys["jellyfin"]}"'}
        r = httpx.get(stack.url("jellyfin") + "/Items",
                      params={"Ids": item, "Fields": "MediaSources"}, headers=headers)
        sources = r.json()["Items"][0]["MediaSources"]
        widths = [[s["Width"] for s in src["MediaStreams"] if s["Type"] == "Video"]
                  for src in sources]
        assert widths == [[1920], [3840]]
        assert sources[1]["Path"] == "/data/movies/m - 2160p.mkv"
        plain = httpx.get(stack.url("jellyfin") + "/Items", params={"Ids": item},
                          headers=headers).json()["Items"][0]
        assert "MediaSources" not in plain
