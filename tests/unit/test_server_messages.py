"""A failed call's error carries the server's own reason from its JSON body (issue 22): one
line, bounded, credentials redacted, never the raw body."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from reconciler import logs
from reconciler.config import ServiceConfig
from reconciler.errors import ServiceUnavailable
from reconciler.services.http import MESSAGE_CHARS, ServiceClient


class Client(ServiceClient):
    name = "jellyseerr"


def failure(status: int, **answer: Any) -> ServiceUnavailable:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, **answer)

    config = ServiceConfig("jellyseerr", "http://seerr.test", "our-own-key-1234", 30, 5, True)

    async def go() -> None:
        async with Client(config, transport=httpx.MockTransport(handle),
                          max_attempts=1) as client:
            await client.get("/api/v1/request")

    with pytest.raises(ServiceUnavailable) as err:
        asyncio.run(go())
    return err.value


def test_the_servers_message_follows_the_status() -> None:
    err = failure(500, json={"message": "[Sonarr] Failed to retrieve profiles: fetch failed"})
    assert err.message == ("HTTP 500 from /api/v1/request: [Sonarr] Failed to retrieve "
                           "profiles: fetch failed")
    assert err.status == 500


def test_a_body_without_a_message_adds_nothing() -> None:
    assert failure(500, text="<html>oops</html>").message == "HTTP 500 from /api/v1/request"
    assert failure(500, json={"stack": "x"}).message == "HTTP 500 from /api/v1/request"


def test_the_message_is_one_bounded_line_without_credentials() -> None:
    logs.register_secrets(["our-own-key-1234"])
    try:
        err = failure(500, json={"message": (
            "connect to http://admin:hunter2@sonarr:8989/api?apikey=0123abcd failed\n"
            "token=zzz9 our-own-key-1234 " + "x" * 500)})
    finally:
        logs.register_secrets([])
    reason = err.message.split(": ", 1)[1]
    assert "\n" not in reason and len(reason) == MESSAGE_CHARS and reason.endswith("…")
    for secret in ("hunter2", "0123abcd", "zzz9", "our-own-key-1234"):
        assert secret not in err.message
    assert "http://***@sonarr:8989/api?apikey=*** failed token=*** ***" in reason
