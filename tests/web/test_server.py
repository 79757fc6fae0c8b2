"""uvicorn inside an event loop: the server binds at construction (a busy port is an OSError),
serves as a task of the caller's loop, and stops promptly even with event streams open."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest

from reconciler.httpapi import HttpApi, HttpServer, Metrics, start_http_server
from reconciler.store import Store
from tests.daemon.daemon_support import Clock
from tests.web.support import NOW, fill, write_config


def make_api(tmp_path: Path) -> HttpApi:
    config = write_config(tmp_path)
    store = Store.open(config.database)
    fill(store)
    store.close()
    return HttpApi(lambda: config, Metrics(), Clock(NOW), liveness=lambda: True,
                   events_interval=0.05)


def test_a_busy_port_is_an_oserror_at_construction(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(OSError):
            HttpServer("127.0.0.1", busy.getsockname()[1], make_api(tmp_path))


def test_served_in_the_callers_loop_and_stopped_with_a_stream_open(tmp_path: Path) -> None:
    api = make_api(tmp_path)

    async def scenario() -> float:
        server = HttpServer("127.0.0.1", 0, api)
        server.start()  # a task of this loop: no thread
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            assert (await client.get("/livez")).json() == {"status": "ok"}
            page = await client.get("/")
            assert page.status_code == 200 and 'data-request-id="5"' in page.text
            async with client.stream("GET", "/events") as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == "retry: 3000"
                started = time.monotonic()
                await server.aclose()
                rest = [line async for line in lines]  # the stream ends, cleanly
                assert rest == [""]
                return time.monotonic() - started

    took = asyncio.run(scenario())
    assert took < 2.0, f"stopping took {took:.1f} s"


def test_outside_a_loop_it_serves_from_a_thread(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    server = start_http_server(lambda: config, Metrics(), "127.0.0.1:0")
    try:
        r = httpx.get(server.url + "/api/summary", timeout=5)
        assert r.status_code == 200 and r.json()["total"] == 0
        assert httpx.get(server.url + "/livez", timeout=5).status_code == 503
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/livez", timeout=2)
