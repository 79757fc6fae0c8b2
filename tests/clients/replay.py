"""Replaying `cassettes/` (and re-recording them): one vcrpy configuration for both.

In CI every cassette is replayed with `record_mode="none"`: a request the cassette does not hold
(another path, another query parameter, a missing API key header) fails the test, and so does a
recorded interaction the client never asked for. To re-record against a real server set
`RECONCILER_RECORD=once` and `RECONCILER_RECORD_CONFIG=/path/to/config.toml` (see
cassettes/README.md): the clients are then built from that configuration, and what is written
is scrubbed (API key headers replaced by a placeholder, the server's address replaced by the
fixed `http://<service>.test:<port>` the replay uses, cookies dropped).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import vcr
from vcr.cassette import Cassette
from vcr.request import Request as VcrRequest

from reconciler.config import ServiceConfig, load_config
from reconciler.cycle import CLIENT_TYPES
from reconciler.services.http import ServiceClient

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
CASSETTES = REPO / "cassettes"

# The fixed address each service has in the cassettes (never a real host).
BASE_URLS = {
    "jellyseerr": "http://jellyseerr.test:5055",
    "radarr": "http://radarr.test:7878",
    "sonarr": "http://sonarr.test:8989",
    "shoko": "http://shoko.test:8111",
    "jellyfin": "http://jellyfin.test:8096",
    # The other media servers (issue 26). Emby's paths start with /emby (its client adds it to
    # a URL without it), so its fixed address carries it.
    "emby": "http://emby.test:8096/emby",
    "plex": "http://plex.test:32400",
}

# A key-shaped dummy the replaying clients send; the leak test proves it never reaches a cassette.
TEST_KEY = "5f0c2b9d4e8a47c1b3d6e9f2a7c4b8d1"
PLACEHOLDER = "<API_KEY>"

# Request headers that carry credentials, by service: X-Api-Key (Jellyseerr, Radarr, Sonarr),
# apikey (Shoko), Authorization: MediaBrowser Token="..." (Jellyfin), X-Emby-Token (Emby),
# X-Plex-Token (Plex); the rest are legacy or alternative spellings the clients do not send but
# a recording must not keep either.
SECRET_HEADERS = ("X-Api-Key", "apikey", "Authorization", "X-Emby-Token",
                  "X-MediaBrowser-Token", "X-Emby-Authorization", "Cookie", "X-Plex-Token")
AUTH_HEADER = {"jellyseerr": "X-Api-Key", "radarr": "X-Api-Key", "sonarr": "X-Api-Key",
               "shoko": "apikey", "jellyfin": "Authorization", "emby": "X-Emby-Token",
               "plex": "X-Plex-Token"}

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "auth")


def record_mode() -> str:
    return os.environ.get("RECONCILER_RECORD", "none")


def scrub_secret(key: str, value: str, request: Any) -> str:
    """Keep the header's scheme (`MediaBrowser Token="…"`) but never its secret."""
    if "=" in value and 'Token="' in value:
        value = re.sub(r'(Token=")[^"]*(")', rf"\g<1>{PLACEHOLDER}\g<2>", value)
        return re.sub(r'(Device(Id)?=")[^"]*(")', r"\g<1>scrubbed\g<3>", value)
    return PLACEHOLDER


def canonical_host(request: VcrRequest) -> VcrRequest:
    """Record (and match) every request under the service's fixed `.test` address."""
    parts = urlsplit(request.uri)
    for base in BASE_URLS.values():
        b = urlsplit(base)
        if parts.netloc == b.netloc:
            return request
    service = os.environ.get("RECONCILER_RECORD_SERVICE")
    if service in BASE_URLS:
        b = urlsplit(BASE_URLS[service])
        path = parts.path
        prefix = os.environ.get("RECONCILER_RECORD_PREFIX", "")  # a reverse proxy's sub-path
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix):]
        request.uri = urlunsplit((b.scheme, b.netloc, path, parts.query, parts.fragment))
        if "Host" in request.headers:
            request.headers["Host"] = b.netloc
    return request


def drop_cookies(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "www-authenticate"):
            del headers[name]
    return response


def auth_matcher(r1: VcrRequest, r2: VcrRequest) -> None:
    """The same credential headers (after scrubbing) on both: a client that stops sending its
    key, or sends it under another name, no longer matches its cassette."""
    def creds(r: VcrRequest) -> dict[str, str]:
        return {h.lower(): str(r.headers[h]) for h in SECRET_HEADERS if h in r.headers}
    if creds(r1) != creds(r2):
        raise AssertionError(f"credential headers differ: {creds(r1)} != {creds(r2)}")


def make_vcr(mode: str | None = None) -> vcr.VCR:
    v = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        serializer="yaml",
        record_mode=mode or record_mode(),
        match_on=MATCH_ON,
        filter_headers=[(h, scrub_secret) for h in SECRET_HEADERS],
        filter_query_parameters=[("apikey", PLACEHOLDER), ("api_key", PLACEHOLDER),
                                 ("X-Plex-Token", PLACEHOLDER)],
        before_record_request=canonical_host,
        before_record_response=drop_cookies,
        decode_compressed_response=True,
    )
    v.register_matcher("auth", auth_matcher)
    return v


def service_config(name: str) -> ServiceConfig:
    """The fake `.test` service when replaying; the configured real one when re-recording."""
    if record_mode() != "none":
        path = os.environ.get("RECONCILER_RECORD_CONFIG")
        if not path:
            raise RuntimeError("RECONCILER_RECORD needs RECONCILER_RECORD_CONFIG=config.toml")
        config = load_config(Path(path)).services[name]
        os.environ["RECONCILER_RECORD_SERVICE"] = name
        os.environ["RECONCILER_RECORD_PREFIX"] = urlsplit(config.url).path.rstrip("/")
        return config
    return ServiceConfig(name=name, url=BASE_URLS[name], api_key=TEST_KEY, poll_interval=30.0,
                         timeout=5.0, verify_tls=True)


def client_type(name: str) -> type[ServiceClient]:
    """The client of a service: the cycle's, or a media server's the cycle does not use yet
    (Emby, Plex: issue 26)."""
    if name in CLIENT_TYPES:
        return CLIENT_TYPES[name]
    from reconciler.services.emby import EmbyClient
    from reconciler.services.plex import PlexClient

    return {"emby": EmbyClient, "plex": PlexClient}[name]


def make_client(name: str, **kwargs: Any) -> ServiceClient:
    kwargs.setdefault("max_attempts", 3)
    kwargs.setdefault("retry_budget", 5.0)
    return client_type(name)(service_config(name), **kwargs)


def call(name: str, action: Callable[[Any], Awaitable[T]], **kwargs: Any) -> T:
    """Run one async client action to completion with a fresh client (closed afterwards).
    vcrpy patches httpx's transports, so plain `asyncio.run` inside a cassette context works."""
    async def main() -> T:
        client = make_client(name, **kwargs)
        try:
            return await action(client)
        finally:
            await client.aclose()
    return asyncio.run(main())


@contextmanager
def cassette(path: str) -> Iterator[Cassette]:
    """Replay `cassettes/<path>`; afterwards every recorded interaction must have been asked
    for, exactly once (so a cassette pins the client's whole sequence of requests)."""
    with make_vcr().use_cassette(path, allow_playback_repeats=False) as cass:
        yield cass
    if record_mode() == "none":
        unplayed = [str(req) for i, (req, _) in enumerate(cass.data) if cass.play_counts[i] == 0]
        assert not unplayed, f"{path}: the client never made {unplayed}"
