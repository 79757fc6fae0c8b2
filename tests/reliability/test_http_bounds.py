"""Bounded resources at the HTTP seam, against fake servers on 127.0.0.1: every call has a
timeout (slow headers and slow bodies alike), retries stop within their time budget, a
Retry-After is honoured but never beyond the budget, a refused key is never retried, a huge
response is refused before it is held, and TLS certificates are verified by default.

Upper bounds on elapsed time are generous (a loaded CI machine must not fail them); they only
have to tell "bounded" from "waited for the server" (the faults last 30 s or more)."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import ServiceConfig
from reconciler.errors import AuthFailed, BadResponse, ServiceError, ServiceUnavailable
from reconciler.services.radarr import RadarrClient
from simstack import SimulatedStack, World
from tests.reliability.support import settled_calls

SLOW = 30.0  # seconds a slow fault would make a careless client wait


@pytest.fixture
def radarr() -> Iterator[SimulatedStack]:
    with SimulatedStack(World(), services=["radarr"]) as stack:
        stack.world.radarr.add_movie(603, "The Matrix", year=1999)
        yield stack


def client_for(url: str, key: str = "k", *, timeout: float = 5.0, retry_budget: float = 1.0,
               max_attempts: int = 3, max_mb: int = 2, verify_tls: bool = True) -> RadarrClient:
    config = ServiceConfig(name="radarr", url=url, api_key=key, poll_interval=30.0,
                           timeout=timeout, verify_tls=verify_tls, retry_budget=retry_budget,
                           max_body=max_mb * 1024 * 1024)
    return RadarrClient(config, max_attempts=max_attempts)


def call(client: RadarrClient, path: str = "/api/v3/movie") -> tuple[Any, float]:
    """Run one GET; returns (data or the ServiceError raised, seconds taken)."""
    async def go() -> Any:
        try:
            return await client.get(path)
        except ServiceError as exc:
            return exc
        finally:
            await client.aclose()

    start = time.monotonic()
    result = asyncio.run(go())
    return result, time.monotonic() - start


def test_headers_that_never_come_time_out(radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "slow_headers", seconds=SLOW)
    error, took = call(client_for(radarr.url("radarr"), radarr.api_keys["radarr"],
                                  timeout=0.5, retry_budget=0.5))
    assert isinstance(error, ServiceUnavailable) and "timed out" in error.message
    assert took < 8


def test_a_body_that_trickles_forever_times_out_as_a_whole(radarr: SimulatedStack) -> None:
    """Each chunk arrives well within the read timeout; only a deadline per call stops it."""
    radarr.set_fault("radarr", "slow_body", seconds=SLOW, chunks=600)
    error, took = call(client_for(radarr.url("radarr"), radarr.api_keys["radarr"],
                                  timeout=0.5, retry_budget=0.5))
    assert isinstance(error, ServiceUnavailable) and "timed out" in error.message
    assert took < 8


def test_retries_of_a_failing_service_stop_within_the_budget(radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "status", code=503)
    client = client_for(radarr.url("radarr"), radarr.api_keys["radarr"], retry_budget=1.5,
                        max_attempts=1000)
    error, took = call(client)
    assert isinstance(error, ServiceUnavailable) and "HTTP 503" in error.message
    attempts = settled_calls(radarr, "radarr", "/api/v3/movie")
    assert 2 <= attempts < 20  # it did retry, with backoff, not in a tight loop
    assert took < 8


def test_a_transient_503_is_retried_and_the_call_succeeds(radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "status", code=503, times=1)
    data, _ = call(client_for(radarr.url("radarr"), radarr.api_keys["radarr"]))
    assert isinstance(data, list) and data[0]["tmdbId"] == 603
    assert settled_calls(radarr, "radarr", "/api/v3/movie") == 2


def test_a_429_is_retried_after_the_wait_the_server_asked_for(radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "status", code=429, retry_after=0.6, times=1)
    data, took = call(client_for(radarr.url("radarr"), radarr.api_keys["radarr"],
                                 retry_budget=5.0))
    assert isinstance(data, list)
    assert settled_calls(radarr, "radarr", "/api/v3/movie") == 2
    assert took >= 0.6  # not before the server said to


def test_a_429_asking_for_longer_than_the_budget_gives_up_at_once(
        radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "status", code=429, retry_after=3600)
    error, took = call(client_for(radarr.url("radarr"), radarr.api_keys["radarr"]))
    assert isinstance(error, ServiceUnavailable)
    assert "HTTP 429" in error.message and "Retry-After 3600 s" in error.message
    assert settled_calls(radarr, "radarr", "/api/v3/movie") == 1
    assert took < 5


def test_a_refused_key_is_never_retried_and_names_the_setting(radarr: SimulatedStack) -> None:
    error, _ = call(client_for(radarr.url("radarr"), "wrong-key", max_attempts=10))
    assert isinstance(error, AuthFailed)
    assert "check [radarr] api_key" in error.message and "wrong-key" not in error.message
    assert settled_calls(radarr, "radarr", "/api/v3/movie") == 1


def test_a_huge_response_is_refused_once_past_the_cap(radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "huge", size_mb=64)
    client = client_for(radarr.url("radarr"), radarr.api_keys["radarr"], max_mb=2)
    error, took = call(client)
    assert isinstance(error, BadResponse) and "exceeds 2 MB" in error.message
    assert client.stats.bytes == 0  # nothing of it was kept
    assert took < 8


def test_an_ordinary_call_is_refused_past_the_small_cap_whatever_max_response_mb(
        radarr: SimulatedStack) -> None:
    """A page or a single item is never legitimately many MB: `max_response_mb` (here 64)
    only bounds the streamed whole-library listings."""
    radarr.set_fault("radarr", "huge", size_mb=40)
    client = client_for(radarr.url("radarr"), radarr.api_keys["radarr"], max_mb=64)
    error, _ = call(client, "/api/v3/queue")
    assert isinstance(error, BadResponse) and "exceeds 16 MB" in error.message


def stream_movies(client: RadarrClient) -> Any:
    async def go() -> Any:
        try:
            return await client.movies()
        except ServiceError as exc:
            return exc
        finally:
            await client.aclose()
    return asyncio.run(go())


def test_the_whole_library_listing_is_streamed_up_to_max_response_mb(
        radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "huge", path="/api/v3/movie", size_mb=20, distinct=True)
    # The whole call has a deadline (here 30 s): a loaded machine needs a few for 20 MB.
    films = stream_movies(client_for(radarr.url("radarr"), radarr.api_keys["radarr"],
                                     max_mb=64, timeout=30.0, retry_budget=30.0))
    assert isinstance(films, list) and len(films) > 5000, films
    assert len({f.tmdb_id for f in films}) == len(films) and films[0].tmdb_id == 603
    radarr.set_fault("radarr", "huge", path="/api/v3/movie", size_mb=20)
    error = stream_movies(client_for(radarr.url("radarr"), radarr.api_keys["radarr"],
                                     max_mb=8, timeout=30.0, retry_budget=30.0))
    assert isinstance(error, BadResponse) and "exceeds 8 MB" in error.message


@pytest.mark.parametrize(("kind", "options", "message"), [
    ("wrong_shape", {"variant": "swap"}, "expected a JSON list"),
    ("truncated_json", {"mode": "body"}, "malformed JSON"),
    ("malformed_json", {"body": "[{\"id\": 1,, }]"}, "malformed JSON"),
    ("malformed_json", {"body": "garbage"}, "malformed JSON"),
    ("html_login", {}, "HTML page"),
])
def test_a_streamed_listing_that_is_not_a_json_list_is_a_bad_response(
        radarr: SimulatedStack, kind: str, options: dict[str, Any], message: str) -> None:
    radarr.set_fault("radarr", kind, path="/api/v3/movie", **options)
    error = stream_movies(client_for(radarr.url("radarr"), radarr.api_keys["radarr"]))
    assert isinstance(error, BadResponse) and message in error.message, error


def test_a_connection_refused_fails_fast(radarr: SimulatedStack) -> None:
    radarr.set_fault("radarr", "refuse")
    error, took = call(client_for(radarr.url("radarr"), radarr.api_keys["radarr"],
                                  retry_budget=0.5))
    assert isinstance(error, ServiceUnavailable) and "cannot reach" in error.message
    assert took < 5


# -- TLS ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0

    def get_request(self) -> Any:
        self.accepted += 1
        return super().get_request()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the failed handshakes are the point


@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[tuple[str, _CountingServer]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate (made with openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: cannot make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _CountingServer(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def test_an_untrusted_certificate_is_refused_by_default_without_retries(
        self_signed_https: tuple[str, _CountingServer]) -> None:
    url, server = self_signed_https
    error, _ = call(client_for(url, max_attempts=5, retry_budget=5.0))
    assert isinstance(error, ServiceUnavailable)
    assert "TLS certificate" in error.message and "verify_tls = false" in error.message
    assert server.accepted == 1


def test_verify_tls_false_accepts_the_same_certificate(
        self_signed_https: tuple[str, _CountingServer]) -> None:
    url, _ = self_signed_https
    data, _ = call(client_for(url, verify_tls=False))
    assert data == []
