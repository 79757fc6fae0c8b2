"""Helpers for the daemon tests: bounded waiting on state (never a bare sleep before an
assertion), an injectable clock, a fake Apprise target, and configs for the simulated stack."""

from __future__ import annotations

import asyncio
import inspect
import json
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from reconciler.config import Config, load_config
from simstack import SimulatedStack


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.05,
               what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


async def await_until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.05,
                      what: str = "condition") -> Any:
    """`wait_until` for use inside the event loop the daemon runs on. A predicate that talks
    to the daemon's HTTP server must be async (the server runs in this same loop)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(step)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Clock:
    """An injectable clock: `clock()` is now; `advance()` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


class AppriseTarget:
    """A tiny HTTP server recording the JSON that Apprise's `json://` plugin posts."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0  # seconds before answering (a target that hangs)
        self.tries = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                target.tries += 1
                if target.delay:
                    threading.Event().wait(target.delay)
                if target.status == 200:
                    target.messages.append(json.loads(body or b"{}"))
                self.send_response(target.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"json://127.0.0.1:{self.port}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def titles(self) -> list[str]:
        return [str(m.get("title")) for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_config(stack: SimulatedStack, tmp_path: Path, *, extra: str = "",
                 intervals: dict[str, float] | None = None, name: str = "config.toml",
                 reconciler_extra: str = "") -> Config:
    """Write a config for `stack` (database in tmp_path) and load it."""
    text = stack.config_toml(tmp_path / "reconciler.db", extra=extra, log_format="json",
                             log_level="info", poll_intervals=intervals)
    if reconciler_extra:
        text = text.replace("[reconciler]\n", f"[reconciler]\n{reconciler_extra}\n", 1)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_config(path)
