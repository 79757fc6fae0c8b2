"""Configuration: one TOML file, validated at start; every error names the file, key and problem."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reconciler.models import FAST_SERVICES, SERVICES

DEFAULT_PATHS = (Path("config.toml"), Path("/etc/reconciler/config.toml"))

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


class ConfigError(Exception):
    """A configuration problem, phrased for the operator (exit code 2)."""


def parse_duration(value: Any) -> float:
    """Seconds from a number of seconds or a string such as "90s", "30m", "6h", "1d"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30, \"30s\", \"15m\" or \"6h\"")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError("expected a duration such as 30, \"30s\", \"15m\" or \"6h\"")
    if seconds <= 0:
        raise ValueError("must be greater than zero")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReconcilerSection(_Section):
    database: str = "reconciler.db"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    active_poll_interval: Duration = 10.0
    full_sync_interval: Duration = 6 * 3600.0
    # How long one HTTP call may keep retrying (429/502/503/504, refused, timed out).
    retry_budget: Duration = 20.0
    # A larger response is refused (the service is then unknown for the cycle), never held.
    max_response_mb: int = Field(default=256, ge=1, le=4096)
    # Poll records and sent notifications older than these are pruned (in small batches, each
    # cycle); the ones a watermark or /healthz still reads are always kept.
    retain_polls: Duration = 14 * 86400.0
    retain_notifications: Duration = 90 * 86400.0


class ServiceSection(_Section):
    url: str
    api_key: str | None = Field(default=None, repr=False)
    api_key_file: str | None = None
    poll_interval: Duration = 30.0
    timeout: Duration = 10.0
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, e.g. "
                             "\"http://127.0.0.1:7878\"")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use api_key or api_key_file")
        return value.rstrip("/")


class JellyseerrSection(ServiceSection):
    # Each Jellyseerr listing makes it query every *arr: a slower default than the others.
    poll_interval: Duration = 60.0


class JellyfinSection(ServiceSection):
    refresh_grace: Duration = 60.0
    refresh_min_interval: Duration = 300.0
    page_size: int = Field(default=1000, ge=10, le=10000)
    verify_interval: Duration = 600.0


class ShokoSection(ServiceSection):
    unrecognised_after: Duration = 1800.0


class AnimeSection(_Section):
    radarr_tags: list[str] = ["anime"]
    root_folders: list[str] = []


class StuckSection(_Section):
    approved: Duration = 6 * 3600.0
    indexed: Duration = 2 * 3600.0
    downloading: Duration = 2 * 3600.0
    download_done: Duration = 1800.0
    importing: Duration = 1800.0
    anime_matching: Duration = 1800.0
    waiting_for_jellyfin: Duration = 900.0


NotifyEvent = Literal["available", "stuck", "failed", "declined", "deleted", "partially_available"]


_APPRISE_URL = re.compile(r"^[a-z][a-z0-9+.-]*://\S+$", re.IGNORECASE)


def _apprise_urls(value: Any) -> list[str]:
    """One Apprise URL or a list of them, each `schema://...`. The messages never repeat a
    URL: it holds the target's token."""
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not urls:
        raise ValueError("expected an Apprise URL or a non-empty list of them")
    for i, url in enumerate(urls):
        if not isinstance(url, str) or not _APPRISE_URL.match(url.strip()):
            raise ValueError(f"entry {i + 1} is not an Apprise URL (schema://..., e.g. "
                             f"\"mailto://...\" or \"ntfys://...\")")
    return list(dict.fromkeys(u.strip() for u in urls))


AppriseUrls = Annotated[list[str], BeforeValidator(_apprise_urls)]


class NotifySection(_Section):
    urls: list[str] = []
    on: list[NotifyEvent] = ["available", "stuck", "failed"]
    # The people who request: Jellyseerr username or e-mail -> their own Apprise URL(s); each
    # is told when what they asked for is ready to watch.
    users: dict[str, AppriseUrls] = Field(default={}, repr=False)

    @field_validator("users")
    @classmethod
    def _check_users(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        keys = [k.strip().casefold() for k in value]
        if any(not k for k in keys):
            raise ValueError("a user's name must not be empty")
        if len(set(keys)) != len(keys):
            raise ValueError("the same user is named twice (names are compared ignoring case)")
        return value

    def user_urls(self, name: str) -> list[str] | None:
        """The Apprise URLs of the `users` entry named `name` (ignoring case); None if none."""
        wanted = name.strip().casefold()
        for key, urls in self.users.items():
            if key.strip().casefold() == wanted:
                return urls
        return None


class HttpSection(_Section):
    listen: str = "127.0.0.1:9105"
    # Optional HTTP basic auth for every path but /livez: both keys or neither.
    username: str | None = None
    password_file: str | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> HttpSection:
        if (self.username is None) != (self.password_file is None):
            raise ValueError("set both username and password_file (basic auth), or neither")
        if self.username is not None and (not self.username or ":" in self.username):
            raise ValueError("username must be non-empty and must not contain \":\"")
        return self

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
            raise ValueError("must be HOST:PORT, e.g. \"127.0.0.1:9105\"")
        return value


class ConfigModel(_Section):
    reconciler: ReconcilerSection = ReconcilerSection()
    jellyseerr: JellyseerrSection
    radarr: ServiceSection | None = None
    sonarr: ServiceSection | None = None
    shoko: ShokoSection | None = None
    jellyfin: JellyfinSection
    anime: AnimeSection = AnimeSection()
    stuck: StuckSection = StuckSection()
    notify: NotifySection | None = None
    http: HttpSection | None = None


SERVICE_SECTIONS = SERVICES  # one list of the services, in poll order (models)


@dataclass(frozen=True)
class ServiceConfig:
    """One upstream service, with its key resolved (never printed: see `__repr__`)."""

    name: str
    url: str
    api_key: str
    poll_interval: float
    timeout: float
    verify_tls: bool
    retry_budget: float = 20.0
    max_body: int = 256 * 1024 * 1024

    def __repr__(self) -> str:
        return f"ServiceConfig(name={self.name!r}, url={self.url!r}, api_key=<hidden>)"


@dataclass(frozen=True)
class Config:
    """The validated configuration, with paths made absolute and keys read."""

    path: Path
    model: ConfigModel
    database: Path
    services: dict[str, ServiceConfig]
    warnings: tuple[str, ...] = ()
    # [http] password_file's content (never printed: not in the repr, scrubbed from logs).
    http_password: str | None = field(default=None, repr=False)

    @property
    def jellyfin(self) -> JellyfinSection:
        return self.model.jellyfin

    @property
    def state_dir(self) -> Path:
        return self.database.parent

    def secrets(self) -> list[str]:
        keys = [s.api_key for s in self.services.values() if s.api_key]
        return [*keys, self.http_password] if self.http_password else keys

    def poll_interval(self, service: str, active: bool) -> float:
        """How often `service` is polled: its own `poll_interval`, or `active_poll_interval`
        when that is shorter and something moves (for the services that follow a download)."""
        own = self.services[service].poll_interval
        if active and service in FAST_SERVICES:
            return min(own, self.model.reconciler.active_poll_interval)
        return own


def find_config_path(explicit: str | None) -> Path:
    """`--config`, else `$RECONCILER_CONFIG`, else ./config.toml, else /etc/reconciler/."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("RECONCILER_CONFIG")
    if env:
        return Path(env)
    for candidate in DEFAULT_PATHS:
        if candidate.exists():
            return candidate
    raise ConfigError(
        "no configuration found: pass --config PATH, set RECONCILER_CONFIG, or create "
        "./config.toml or /etc/reconciler/config.toml (start from config.example.toml)"
    )


def load_config(path: Path, environ: dict[str, str] | None = None, *,
                require_keys: bool = True) -> Config:
    """Read, validate and resolve the configuration at `path`.

    `require_keys=False` is for the commands that only read the database (`status`, `show`):
    they must work for an operator outside the service, where systemd's credentials are not."""
    env = dict(os.environ if environ is None else environ)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot read the file (permission denied)") from None
    except OSError as exc:  # e.g. a path through a regular file, an I/O error
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

    for section in SERVICE_SECTIONS:
        override = env.get(f"RECONCILER_{section.upper()}_API_KEY")
        if override and isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], "api_key": override}
            raw[section].pop("api_key_file", None)

    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None

    if model.radarr is None and model.sonarr is None:
        raise ConfigError(f"{path}: configure [radarr], [sonarr] or both")

    warnings: list[str] = []
    services: dict[str, ServiceConfig] = {}
    for name in SERVICE_SECTIONS:
        section = getattr(model, name)
        if section is None:
            continue
        try:
            key = _resolve_key(path, name, section, env)
        except ConfigError:
            if require_keys:
                raise
            key = ""
        services[name] = ServiceConfig(
            name=name,
            url=section.url,
            api_key=key,
            poll_interval=section.poll_interval,
            timeout=section.timeout,
            verify_tls=section.verify_tls,
            retry_budget=model.reconciler.retry_budget,
            max_body=model.reconciler.max_response_mb * 1024 * 1024,
        )
        if not section.verify_tls:
            warnings.append(f"[{name}] verify_tls = false: TLS certificates are not checked")
        if section.api_key and _readable_by_others(path):
            warnings.append(
                f"{path} holds an API key and is readable by other users; "
                f"run: chmod 600 {path}"
            )

    database = Path(model.reconciler.database).expanduser()
    if not database.is_absolute():
        database = (path.parent / database).resolve()
    password = None
    if model.http is not None and model.http.password_file is not None:
        try:
            password = _read_secret_file(path, "[http] password_file",
                                         model.http.password_file, env)
        except ConfigError:
            if require_keys:
                raise
    return Config(
        path=path,
        model=model,
        database=database,
        services=services,
        warnings=tuple(dict.fromkeys(warnings)),
        http_password=password,
    )


def _resolve_key(path: Path, name: str, section: ServiceSection, env: dict[str, str]) -> str:
    if section.api_key:
        return section.api_key.strip()
    if section.api_key_file:
        return _read_secret_file(path, f"[{name}] api_key_file", section.api_key_file, env)
    raise ConfigError(
        f"{path}: [{name}] api_key: missing (set api_key, api_key_file, or "
        f"RECONCILER_{name.upper()}_API_KEY)"
    )


def _read_secret_file(path: Path, key: str, raw: str, env: dict[str, str]) -> str:
    """The stripped content of a file named by `key` (relative to the config file's folder;
    `%d/` is systemd's credentials directory)."""
    if raw.startswith("%d/"):  # systemd's credentials directory, named after the unit
        creds = env.get("CREDENTIALS_DIRECTORY")
        if not creds:
            raise ConfigError(f"{path}: {key}: {raw} needs "
                              "$CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=)")
        raw = creds.rstrip("/") + raw[2:]
    secret_path = Path(raw).expanduser()
    if not secret_path.is_absolute():
        secret_path = path.parent / secret_path
    try:
        secret = secret_path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {key}: {secret_path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: {key}: cannot read {secret_path} ({reason})") from None
    if not secret:
        raise ConfigError(f"{path}: {key}: {secret_path} is empty")
    return secret


def _readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def _describe(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 2:
            where = f"[{loc[0]}] {'.'.join(loc[1:])}"
        elif loc:
            where = f"[{loc[0]}]"
        else:
            where = "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden" and len(loc) == 1:
            what = f"unknown section (known: {', '.join(ConfigModel.model_fields)})"
        elif kind == "extra_forbidden":
            what = "unknown key"
        elif kind == "missing":
            what = "required key is missing" if len(loc) >= 2 else "required section is missing"
        elif kind in ("model_type", "model_attributes_type", "dict_type") and len(loc) == 1:
            what = f"must be a section ([{loc[0]}] on a line of its own, its keys below it)"
        else:
            what = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {where}: {what}")
    return "\n".join(lines)
