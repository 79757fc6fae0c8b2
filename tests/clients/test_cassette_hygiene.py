"""No cassette holds a credential, recording scrubs them, and every cassette is replayed."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import yaml

from reconciler.config import ServiceConfig
from tests.clients.replay import (
    AUTH_HEADER,
    BASE_URLS,
    CASSETTES,
    PLACEHOLDER,
    SECRET_HEADERS,
    TEST_KEY,
    client_type,
    make_vcr,
)

CASSETTE_FILES = sorted(CASSETTES.glob("*/*.yaml"))
SCRUBBED = {PLACEHOLDER, f'MediaBrowser Token="{PLACEHOLDER}"'}
SECRET_QUERY = {"apikey", "api_key", "x-emby-token", "token", "access_token", "x-plex-token"}

# A credential in a key-like context: `"apiKey": "…"`, `apikey=…`, `Token="…"`. Jellyfin item
# ids, Seerr avatar ETags, download ids and file hashes are long hex too, but never in these
# contexts, so they are not flagged; placeholders (`<…>`) are allowed.
KEYLIKE = re.compile(
    r"""(?ix)(api[-_]?key|access[-_]?token|auth[-_]?token|x-emby-token|password|secret|token)
        ["']?\s*[:=]\s*["']?(?!<)([A-Za-z0-9+/_-]{12,})""")
HEX_KEY = re.compile(r"\b[0-9a-fA-F]{32,}\b")


def leaks(text: str) -> list[str]:
    """Everything in a cassette's text that looks like a credential."""
    found = []
    if TEST_KEY in text:
        found.append("the replay key itself")
    found += [f"key-like value after {m.group(1)!r}" for m in KEYLIKE.finditer(text)]
    data = yaml.safe_load(text) or {}
    for i, interaction in enumerate(data.get("interactions", [])):
        request, response = interaction["request"], interaction["response"]
        for name, values in request.get("headers", {}).items():
            for value in values if isinstance(values, list) else [values]:
                if name.lower() in {h.lower() for h in SECRET_HEADERS}:
                    if value not in SCRUBBED:
                        found.append(f"#{i}: request header {name} is not scrubbed")
                elif HEX_KEY.search(str(value)):
                    found.append(f"#{i}: request header {name} holds a key-like hex string")
        for name, value in parse_qsl(urlsplit(request["uri"]).query):
            if name.lower() in SECRET_QUERY and value != PLACEHOLDER:
                found.append(f"#{i}: query parameter {name} is not scrubbed")
        for name in response.get("headers", {}):
            if name.lower() in ("set-cookie", "www-authenticate"):
                found.append(f"#{i}: response header {name} was kept")
    return found


@pytest.mark.parametrize("path", CASSETTE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_cassette_holds_a_credential(path: Path) -> None:
    assert leaks(path.read_text(encoding="utf-8")) == []


def _cassette_text(header: str, value: str, uri: str = "http://radarr.test:7878/api/v3/tag",
                   body: str = "[]") -> str:
    return yaml.safe_dump({"version": 1, "interactions": [{
        "request": {"method": "GET", "uri": uri, "body": "", "headers": {header: [value]}},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {},
                     "body": {"string": body}},
    }]})


@pytest.mark.parametrize(("header", "value", "uri", "body"), [
    ("X-Api-Key", "0c1e7a3b9f2d48e6a5b4c3d2e1f0a9b8", None, None),
    ("apikey", "not-scrubbed", None, None),
    ("Authorization", 'MediaBrowser Client="reconciler", Token="0c1e7a3b9f2d48e6a5b4"', None, None),
    ("X-Api-Key", PLACEHOLDER, "http://radarr.test:7878/api/v3/tag?apikey=0c1e7a3b9f2d48e6", None),
    ("X-Api-Key", PLACEHOLDER, None, '{"apiKey": "0c1e7a3b9f2d48e6a5b4c3d2e1f0a9b8"}'),
    ("X-Api-Key", PLACEHOLDER, None,
     '{"downloadUrl": "http://prowlarr:9696/1/download?apikey=0c1e7a3b9f2d48e6a5b4"}'),
    ("X-Api-Key", TEST_KEY, None, None),
])
def test_the_scan_finds_a_planted_key(header: str, value: str, uri: str | None,
                                      body: str | None) -> None:
    text = _cassette_text(header, value, uri or "http://radarr.test:7878/api/v3/tag",
                          body or "[]")
    assert leaks(text)


def test_the_scan_leaves_ids_hashes_and_placeholders_alone() -> None:
    body = ('{"Id": "6e4c0f0ef1f32cc391d06ea50cf6e342", "ServerId": '
            '"05647f36ec63477298d28772721b3d1b", "downloadId": '
            '"C2C60F66C126652A86F7F2EE73DC83D4E255929E", "avatarETag": '
            '"981168a3c88b23c0656316955720ce9fb99a50a4ebcc0ebb874a8aa42a1837e0", '
            '"SHA1": "3F92992E2FBEB6EBB251304236BF5E0B600A91C3", '
            '"downloadUrl": "http://prowlarr:9696/5/download?apikey=<PROWLARR_API_KEY>"}')
    assert leaks(_cassette_text("Authorization", f'MediaBrowser Token="{PLACEHOLDER}"',
                                body=body)) == []


@pytest.mark.parametrize("service", sorted(BASE_URLS))
def test_recording_scrubs_the_key_and_moves_the_server_to_its_test_address(
        service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `RECONCILER_RECORD=once` writes: the key header replaced by a placeholder, the
    real server's address replaced by the fixed one the replay uses, no cookies."""
    monkeypatch.setenv("RECONCILER_RECORD_SERVICE", service)
    monkeypatch.setenv("RECONCILER_RECORD_PREFIX", "/proxied")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True}, headers={
            "Set-Cookie": f"session={TEST_KEY}; HttpOnly"})

    config = ServiceConfig(name=service, url="http://192.168.0.2:4321/proxied", api_key=TEST_KEY,
                           poll_interval=30.0, timeout=5.0, verify_tls=True)

    async def one_call() -> Any:
        client = client_type(service)(config, transport=httpx.MockTransport(handler))
        try:
            return await client.get("/probe", {"page": 1})
        finally:
            await client.aclose()

    target = tmp_path / "probe.yaml"
    with make_vcr("once").use_cassette(str(target)):
        assert asyncio.run(one_call()) == {"ok": True}
    assert TEST_KEY in str(seen[0].headers.get(AUTH_HEADER[service]))  # the server got the key
    text = target.read_text(encoding="utf-8")
    assert leaks(text) == []
    recorded = yaml.safe_load(text)["interactions"][0]["request"]
    assert recorded["uri"] == f"{BASE_URLS[service]}/probe?page=1"
    assert "192.168.0.2" not in text
    assert recorded["headers"][AUTH_HEADER[service]][0] in SCRUBBED


def test_every_cassette_is_replayed_by_a_client_test() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8")
                        for p in Path(__file__).parent.glob("test_*_cassettes.py"))
    unused = [f"{p.parent.name}/{p.name}" for p in CASSETTE_FILES
              if f'"{p.parent.name}/{p.name}"' not in sources]
    assert unused == []
    assert {p.parent.name for p in CASSETTE_FILES} == set(BASE_URLS)


def test_replay_refuses_a_request_with_another_query() -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException

    from tests.clients.replay import call, cassette

    with pytest.raises(CannotOverwriteExistingCassetteException), \
            cassette("radarr/queue_paged.yaml"):
        call("radarr", lambda c: c.queue(page_size=3))


def test_replay_refuses_a_request_without_the_api_key_header() -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException

    from reconciler.services.radarr import RadarrClient
    from tests.clients.replay import cassette, service_config

    class KeylessRadarr(RadarrClient):
        def auth_headers(self, api_key: str) -> dict[str, str]:
            return {}

    async def tags() -> Any:
        client = KeylessRadarr(service_config("radarr"), max_attempts=1)
        try:
            return await client.tags()
        finally:
            await client.aclose()

    with pytest.raises(CannotOverwriteExistingCassetteException), cassette("radarr/tags.yaml"):
        asyncio.run(tags())


def test_replay_fails_when_a_recorded_request_is_never_made() -> None:
    from tests.clients.replay import call, cassette

    with pytest.raises(AssertionError, match="never made"), \
            cassette("jellyseerr/request_exists.yaml"):
        call("jellyseerr", lambda c: c.request_by_id(101))
