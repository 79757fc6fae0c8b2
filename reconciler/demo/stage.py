"""The demo's stage: the simulated world and its script, the stack serving it, and the
reconciler's configuration for it."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reconciler import registry
from reconciler.config import Config, load_config
from reconciler.demo.script import (
    ANIME,
    MIN_REFRESH_GRACE,
    POLL_INTERVAL,
    REFRESH_GRACE,
    REFRESH_MIN_INTERVAL,
    SEERR_POLL_INTERVAL,
    DemoScript,
)
from simstack import SimulatedStack, World


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config_text(stack: SimulatedStack, script: DemoScript, listen: str) -> str:
    """The reconciler's configuration for the simulated stack (intervals scaled by speed)."""
    fast = script.interval(POLL_INTERVAL)
    intervals = {s: fast for s in stack.services}
    intervals["jellyseerr"] = script.interval(SEERR_POLL_INTERVAL)
    lines = [
        "# reconcile demo: the simulated stack on 127.0.0.1 (free ports, chosen at start).",
        "# Intervals are a few seconds so that the demo fits in a minute; a real stack polls",
        "# every 30-60 s (see config.example.toml).",
        "[reconciler]",
        'database = "reconciler.db"',
        'log_format = "auto"',
        'log_level = "info"',
        f"active_poll_interval = {fast:g}",
    ]
    for service in stack.services:
        lines += [
            "",
            f"[{service}]",
            f"url = {_toml(stack.url(service))}",
            f"api_key = {_toml(stack.api_keys[service])}",
            f"poll_interval = {intervals[service]:g}",
        ]
        if service in registry.MEDIA_SERVERS:
            lines += [
                f"refresh_grace = {script.interval(REFRESH_GRACE, MIN_REFRESH_GRACE):g}",
                "refresh_min_interval = "
                f"{script.interval(REFRESH_MIN_INTERVAL, MIN_REFRESH_GRACE):g}",
            ]
    lines += [
        "",
        "[anime]",
        'radarr_tags = ["anime"]',
        f"root_folders = [{_toml(ANIME)}]",
        "",
        "[http]",
        f"listen = {_toml(listen)}",
    ]
    return "\n".join(lines) + "\n"


def _write_config(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


@dataclass
class Stage:
    """The simulated world, its script, the started stack and the reconciler's config."""

    world: World
    script: DemoScript
    stack: SimulatedStack
    config: Config
    config_text: str
    listen: str


@contextlib.contextmanager
def start_stage(folder: Path, speed: float, media: str = "jellyfin") -> Iterator[Stage]:
    """The world set up for the script, the stack serving it on free ports (with the media
    server `media`; Shoko only beside Jellyfin, whose plugin Shokofin it needs), and the config
    written into `folder`."""
    world = World(realtime=True)
    script = DemoScript(world, speed, media)
    script.setup()
    with SimulatedStack(world, media_server=media) as stack:
        listen = f"127.0.0.1:{_free_port()}"
        text = config_text(stack, script, listen)
        config = load_config(_write_config(folder, text))
        yield Stage(world, script, stack, config, text, listen)
