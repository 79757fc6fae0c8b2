"""`SimulatedStack`: the fake services on 127.0.0.1, free ports, daemon threads.

    with SimulatedStack() as stack:                      # or SimulatedStack(services=["radarr"])
        stack.world.radarr.add_movie(603, "The Matrix", year=1999)
        httpx.get(stack.urls["radarr"] + "/api/v3/movie",
                  headers={"X-Api-Key": stack.api_keys["radarr"]})
        stack.set_fault("radarr", "status", code=503, retry_after=2, times=1)
        stack.stats()["radarr"]                          # {"calls": 1, "bytes": ...}
        stack.requests("jellyfin", method="POST", path="/Library/Refresh")
        config_text = stack.config_toml("/tmp/reconciler.db")

The default stack serves Jellyseerr, Radarr, Sonarr, Shoko and Jellyfin (`DEFAULT_SERVICES`);
`SimulatedStack(media_server="plex")` (or "emby") serves that media server in Jellyfin's place
(`world.plex`, `world.emby`), without Shoko (`household`), and `services=` may name any of
`SERVICES`.

Several Radarr or Sonarr instances: `SimulatedStack(world, extra={"radarr4k": "radarr"})` also
serves `world.radarrs["radarr4k"]` (made if missing; `world.radarr` stays the default one) as the
service "radarr4k" (its URL, key, faults and statistics under that name);
`config_toml(..., servers={"radarr4k": {"is4k": True}})` writes each kind with extras as
`[[radarr]]` tables with those keys.

Servers run in background threads, so the stack works from synchronous tests and under an asyncio
program alike. Fault kinds and options: see `simstack.faults`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from simstack.emby import EmbyApp
from simstack.faults import Fault, FaultBook
from simstack.jellyfin import JellyfinApp
from simstack.jellyseerr import JellyseerrApp
from simstack.media import MEDIA_SERVERS, MediaServerFake, media_server
from simstack.plex import PlexApp
from simstack.radarr import RadarrApp
from simstack.server import App, LoggedRequest, Recorder, ServiceRunner
from simstack.shoko import ShokoApp
from simstack.sonarr import SonarrApp
from simstack.world import World

SERVICES = ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin", "emby", "plex")
# What a stack serves unless told otherwise: one media server, Jellyfin.
DEFAULT_SERVICES = ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin")


def household(media_server: str = "jellyfin") -> tuple[str, ...]:
    """A household's services with `media_server`: `DEFAULT_SERVICES` with it in Jellyfin's
    place, and Shoko only beside Jellyfin (it reaches the media server through Shokofin, a
    Jellyfin plugin)."""
    if media_server not in MEDIA_SERVERS:
        raise ValueError(f"media_server {media_server!r}: one of {list(MEDIA_SERVERS)}")
    return tuple(media_server if s == "jellyfin" else s for s in DEFAULT_SERVICES
                 if s != "shoko" or media_server == "jellyfin")

_APPS: dict[str, Callable[[World, str], App]] = {
    "jellyseerr": lambda world, key: JellyseerrApp(world.jellyseerr, key),
    "radarr": lambda world, key: RadarrApp(world.radarr, key),
    "sonarr": lambda world, key: SonarrApp(world.sonarr, key),
    "shoko": lambda world, key: ShokoApp(world.shoko, key),
    "jellyfin": lambda world, key: JellyfinApp(world.jellyfin, key),
    "emby": lambda world, key: EmbyApp(world.emby, key),
    "plex": lambda world, key: PlexApp(world.plex, key),
}

DEFAULT_POLL_INTERVALS = {"jellyseerr": 60, "radarr": 30, "sonarr": 30, "shoko": 60,
                          "jellyfin": 60, "emby": 60, "plex": 60}


def default_api_key(service: str) -> str:
    """The deterministic default key of a fake service (32 hex digits, like *arr keys)."""
    return hashlib.md5(f"simulated-{service}-api-key".encode()).hexdigest()


def _toml_str(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _toml_str(str(value))


class SimulatedStack:
    """The fake media stack. See the module docstring.

    - `world`: the shared `World` (pass one in to script it before starting).
    - `services`: which fakes to start (default `household(media_server)`: `DEFAULT_SERVICES`,
      or with Emby or Plex in Jellyfin's place and no Shoko).
    - `api_keys`: per-service keys (defaults from `default_api_key`).
    - `ports`: fixed ports per service (default 0: a free port).
    """

    def __init__(self, world: World | None = None, *, services: Iterable[str] | None = None,
                 api_keys: Mapping[str, str] | None = None, host: str = "127.0.0.1",
                 ports: Mapping[str, int] | None = None, log_limit: int = 100_000,
                 extra: Mapping[str, str] | None = None, media_server: str | None = None,
                 ) -> None:
        chosen = list(services) if services is not None else list(household(
            media_server or "jellyfin"))
        unknown = [s for s in chosen if s not in SERVICES]
        if unknown:
            raise ValueError(f"unknown services {unknown}; expected some of {list(SERVICES)}")
        self.world = world if world is not None else World()
        self.kinds: dict[str, str] = {s: s for s in SERVICES}
        for name, kind in (extra or {}).items():
            if kind not in ("radarr", "sonarr") or name in SERVICES:
                raise ValueError(f"extra {name!r}: a new name, of kind 'radarr' or 'sonarr'")
            self.world.add_arr(kind, name)
            self.kinds[name] = kind
        order = [s for s in SERVICES if s in chosen]
        for name, kind in (extra or {}).items():  # after the last of its kind
            same = [i for i, s in enumerate(order) if self.kinds[s] == kind]
            order.insert(same[-1] + 1 if same else len(order), name)
        self.services: tuple[str, ...] = tuple(order)
        self.api_keys: dict[str, str] = {s: default_api_key(s) for s in self.services}
        self.api_keys.update({k: v for k, v in (api_keys or {}).items() if k in self.services})
        self.host = host
        self._faults = FaultBook()
        self.recorder = Recorder(log_limit)
        self.runners: dict[str, ServiceRunner] = {}
        for service in self.services:
            if service in SERVICES:
                app = _APPS[service](self.world, self.api_keys[service])
            else:
                app = (RadarrApp(self.world.radarrs[service], self.api_keys[service])
                       if self.kinds[service] == "radarr"
                       else SonarrApp(self.world.sonarrs[service], self.api_keys[service]))
            self.runners[service] = ServiceRunner(
                app, world=self.world, faults=self._faults, recorder=self.recorder, host=host,
                port=(ports or {}).get(service, 0), service=service)
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SimulatedStack:
        refused = {s for s, faults in self._faults.snapshot().items()
                   if any(f.closes_listener for f in faults)}
        for service, runner in self.runners.items():
            if service not in refused:
                runner.start()
        for name in ("jellyfin", "emby"):
            if name in self.runners:
                getattr(self.world, name).local_address = self.runners[name].url
        seerr = self.world.jellyseerr
        for kind in ("radarr", "sonarr"):
            if kind in self.runners and seerr.servers[kind]:
                seerr.point_server_at(kind, seerr.servers[kind][0].id, self.runners[kind].url)
        if "jellyfin" in self.runners:
            seerr.jellyfin_url = self.runners["jellyfin"].url
            seerr.jellyfin_server_id = self.world.jellyfin.server_id
        self._started = True
        return self

    def stop(self) -> None:
        """Stop every server (in parallel: each waits for its poll loop to notice)."""
        threads = [threading.Thread(target=r.stop, daemon=True) for r in self.runners.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        self._started = False

    def __enter__(self) -> SimulatedStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def media_server(self) -> str:
        """The media server this stack serves ("jellyfin", "emby" or "plex")."""
        return next((s for s in self.services if s in MEDIA_SERVERS), "jellyfin")

    @property
    def media(self) -> MediaServerFake:
        """The media server this stack serves, through the verbs all three answer
        (`simstack.media`)."""
        return media_server(self.world, self.media_server)

    @property
    def urls(self) -> dict[str, str]:
        """Base URL per started service, e.g. `http://127.0.0.1:40123` (no trailing slash)."""
        return {s: r.url for s, r in self.runners.items()}

    def url(self, service: str) -> str:
        return self.runners[service].url

    # -- faults ------------------------------------------------------------------------------

    @property
    def faults(self) -> dict[str, list[Fault]]:
        """The active faults per started service (a snapshot; [] when none)."""
        active = self._faults.snapshot()
        return {s: active.get(s, []) for s in self.runners}

    def _fault(self, service: str, kind: str, path: str | None, method: str | None,
               times: int | None, opts: dict[str, Any]) -> Fault:
        if service not in self.runners:
            raise KeyError(f"service {service!r} is not running in this stack")
        return Fault(kind, path=path, method=method, times=times, options=opts)

    def set_fault(self, service: str, kind: str, *, path: str | None = None,
                  method: str | None = None, times: int | None = None, **opts: Any) -> Fault:
        """Replace `service`'s faults with one fault (see `simstack.faults`)."""
        fault = self._fault(service, kind, path, method, times, opts)
        self.clear_fault(service)
        self._faults.set(service, fault)
        if fault.closes_listener:
            self.runners[service].stop_listening()
        return fault

    def add_fault(self, service: str, kind: str, *, path: str | None = None,
                  method: str | None = None, times: int | None = None, **opts: Any) -> Fault:
        """Add a fault to `service` (the first matching fault applies to a request)."""
        fault = self._fault(service, kind, path, method, times, opts)
        self._faults.add(service, fault)
        if fault.closes_listener:
            self.runners[service].stop_listening()
        return fault

    def clear_fault(self, service: str | None = None) -> None:
        """Remove the faults of `service` (or of every service); a refused one listens again."""
        for name in ([service] if service is not None else list(self.runners)):
            removed = self._faults.clear(name)
            runner = self.runners[name]
            if self._started and (any(f.closes_listener for f in removed)
                                  or not runner.listening):
                runner.start()

    clear_faults = clear_fault

    # -- statistics and the request log -----------------------------------------------------

    def stats(self) -> dict[str, dict[str, int]]:
        """`{service: {"calls": n, "bytes": response body bytes}}` since the last reset."""
        return self.recorder.stats()

    def reset_stats(self) -> None:
        """Zero the counters and clear the request log."""
        self.recorder.reset()

    def requests(self, service: str | None = None, *, method: str | None = None,
                 path: str | None = None, path_prefix: str | None = None) -> list[LoggedRequest]:
        """Logged requests, oldest first, optionally filtered (paths compare case-insensitively,
        `path` exactly apart from a trailing slash)."""
        out = []
        want = path.rstrip("/").lower() if path is not None else None
        prefix = path_prefix.lower() if path_prefix is not None else None
        for entry in self.recorder.entries():
            if service is not None and entry.service != service:
                continue
            if method is not None and entry.method != method.upper():
                continue
            low = entry.path.rstrip("/").lower()
            if want is not None and low != want:
                continue
            if prefix is not None and not entry.path.lower().startswith(prefix):
                continue
            out.append(entry)
        return out

    def count(self, service: str, method: str = "GET", path: str | None = None) -> int:
        return len(self.requests(service, method=method, path=path))

    # -- configuration -----------------------------------------------------------------------

    def config_toml(self, database: str | Path, *, extra: str = "", log_format: str = "json",
                    log_level: str = "info",
                    poll_intervals: Mapping[str, float] | None = None,
                    servers: Mapping[str, Mapping[str, Any]] | None = None) -> str:
        """A reconciler configuration pointing at the started services (`extra` appended).
        A kind with several instances is written as `[[radarr]]` / `[[sonarr]]` tables, each
        with its `name` and the keys `servers` gives it (e.g. `{"radarr4k": {"is4k": True}}`)."""
        intervals: dict[str, float] = dict(DEFAULT_POLL_INTERVALS)
        intervals.update(poll_intervals or {})
        lines = [
            "[reconciler]",
            f"database = {_toml_str(str(database))}",
            f"log_format = {_toml_str(log_format)}",
            f"log_level = {_toml_str(log_level)}",
        ]
        several = {k for k in ("radarr", "sonarr")
                   if sum(1 for s in self.services if self.kinds[s] == k) > 1}
        for service in self.services:
            kind = self.kinds[service]
            interval = intervals.get(service, intervals[kind])
            value = int(interval) if float(interval).is_integer() else interval
            head = [f"[[{kind}]]", f"name = {_toml_str(service)}"] if kind in several \
                else [f"[{service}]"]
            lines += [
                "",
                *head,
                f"url = {_toml_str(self.runners[service].url)}",
                f"api_key = {_toml_str(self.api_keys[service])}",
                f"poll_interval = {value}",
            ]
            for key, option in (servers or {}).get(service, {}).items():
                lines.append(f"{key} = {_toml_value(option)}")
        text = "\n".join(lines) + "\n"
        if extra:
            text += "\n" + extra.rstrip("\n") + "\n"
        return text

    def write_config(self, path: str | Path, database: str | Path, **kwargs: Any) -> Path:
        """Write `config_toml(database, **kwargs)` to `path` (mode 0600) and return the path."""
        target = Path(path)
        target.write_text(self.config_toml(database, **kwargs), encoding="utf-8")
        target.chmod(0o600)
        return target
