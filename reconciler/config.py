"""Configuration: one TOML file, validated at start; every error names the file, key and problem."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from reconciler.errors import ConfigError
from reconciler.registry import KINDS, SERVICES, SEVERAL
from reconciler.states import STUCK_DEFAULTS, NotifyEvent
from reconciler.times import zone_named

DEFAULT_PATHS = (Path("config.toml"), Path("/etc/reconciler/config.toml"))

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


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
    # Posters for the page and the notices, cached under the state directory (0: none).
    artwork_cache_mb: int = Field(default=64, ge=0, le=4096)


def _http_url(value: str) -> str:
    """An http(s) URL with a host and without credentials, without its trailing "/"."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. "
                         "\"http://127.0.0.1:7878\"")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials; use api_key or api_key_file")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]


class ServiceSection(_Section):
    """What every service's section holds; each kind's own section takes its default
    `poll_interval` from the registry."""

    url: HttpUrl
    api_key: str | None = Field(default=None, repr=False)
    api_key_file: str | None = None
    poll_interval: Duration
    timeout: Duration = 10.0
    verify_tls: bool = True



_SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


class ArrSection(ServiceSection):
    """One Radarr or Sonarr server: a `[radarr]` table, or one of several `[[radarr]]` tables."""

    poll_interval: Duration = KINDS["radarr"].poll_interval  # the registry test: Sonarr's too
    name: str | None = None  # default: the kind ("radarr" / "sonarr")
    is4k: bool = False
    # The server's id in Jellyseerr's settings (`GET /api/v1/settings/radarr|sonarr`).
    seerr_server_id: int | None = Field(default=None, ge=0)
    # Where requests of this quality without a server go; default: the first of its quality.
    default: bool | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not _SERVER_NAME.match(value):
            raise ValueError("must be 1-40 letters, digits, \"-\" or \"_\", e.g. \"radarr4k\"")
        return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


ArrSections = Annotated[list[ArrSection], BeforeValidator(_as_list)]


class JellyseerrSection(ServiceSection):
    # Each Jellyseerr listing makes it query every *arr: a slower default than the others.
    poll_interval: Duration = KINDS["jellyseerr"].poll_interval


class JellyfinSection(ServiceSection):
    poll_interval: Duration = KINDS["jellyfin"].poll_interval
    refresh_grace: Duration = 60.0
    refresh_min_interval: Duration = 300.0
    page_size: int = Field(default=1000, ge=10, le=10000)
    verify_interval: Duration = 600.0
    # The address people open Jellyfin at in their browser (the "Play" links); default: none.
    public_url: HttpUrl | None = None


class ShokoSection(ServiceSection):
    poll_interval: Duration = KINDS["shoko"].poll_interval
    unrecognised_after: Duration = 1800.0


class AnimeSection(_Section):
    radarr_tags: list[str] = ["anime"]
    root_folders: list[str] = []


# [stuck]: one duration per deadline of the state table, its keys and defaults in its order
# (built from the table, so mypy knows it as a section without fields).
if TYPE_CHECKING:
    StuckSection = _Section
else:
    StuckSection = create_model(
        "StuckSection", __base__=_Section, __module__=__name__,
        __doc__="How long a request may stay in a state or phase before it is flagged stuck.",
        **{key: (Duration, limit.total_seconds()) for key, limit in STUCK_DEFAULTS.items()})


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
    on: list[NotifyEvent] = [NotifyEvent.AVAILABLE, NotifyEvent.STUCK, NotifyEvent.FAILED]
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


def _zone_name(value: str) -> str:
    zone_named(value)  # ValueError when there is no such zone
    return value


class HttpSection(_Section):
    listen: str = "127.0.0.1:9105"
    # Optional HTTP basic auth for every path but /livez: both keys or neither.
    username: str | None = None
    password_file: str | None = None
    # The zone the page's times are in (an IANA name, e.g. "Europe/Paris"); default: the system's.
    timezone: Annotated[str, AfterValidator(_zone_name)] | None = None

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
    """The file's sections. One field per registered service, named after it and typed with
    its section (a list for the kinds that allow several servers); the registry test checks
    them against `reconciler.registry`."""

    reconciler: ReconcilerSection = ReconcilerSection()
    jellyseerr: JellyseerrSection
    # A `[radarr]` table is read as a list of one.
    radarr: ArrSections = []
    sonarr: ArrSections = []
    shoko: ShokoSection | None = None
    jellyfin: JellyfinSection
    anime: AnimeSection = AnimeSection()
    stuck: StuckSection = StuckSection()
    notify: NotifySection | None = None
    http: HttpSection | None = None


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
    # The kind of service ("radarr", ...); `name` differs from it only for a Radarr or Sonarr
    # server given another name in a `[[radarr]]` / `[[sonarr]]` table.
    kind: str = ""
    is4k: bool = False
    seerr_server_id: int | None = None
    # The server requests of its quality without a server of their own go to.
    default: bool = False

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", self.name)

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

    def servers(self, kind: str) -> list[ServiceConfig]:
        """The configured servers of `kind` ("radarr" / "sonarr"), in configuration order."""
        return [s for s in self.services.values() if s.kind == kind]

    def several_servers(self) -> bool:
        """Several Radarr or several Sonarr servers are configured (status names each
        request's server then)."""
        return any(len(self.servers(kind)) > 1 for kind in SEVERAL)

    def kind_of(self, service: str) -> str:
        """The kind of the configured service or server `service` (its own name otherwise)."""
        svc = self.services.get(service)
        return svc.kind if svc is not None else service

    def poll_interval(self, service: str, active: bool) -> float:
        """How often `service` is polled: its own `poll_interval`, or `active_poll_interval`
        when that is shorter and something moves (for the services that follow a download)."""
        own = self.services[service].poll_interval
        if active and KINDS[self.kind_of(service)].follows_downloads:
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
    raw = _read_toml(path)
    tables = _override_keys(raw, env)
    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, tables)) from None

    if not model.radarr and not model.sonarr:
        raise ConfigError(f"{path}: configure [radarr], [sonarr] or both")
    sections = _sections(path, model, tables)

    warnings: list[str] = []
    services: dict[str, ServiceConfig] = {}
    for name, (where, kind, section) in sections.items():
        try:
            key = _resolve_key(path, name, where, section, env)
        except ConfigError:
            if require_keys:
                raise
            key = ""
        services[name] = _service_config(name, kind, section, key, model)
        warnings.extend(_section_warnings(path, where, section))

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


def _read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML document; a ConfigError saying why it cannot be read otherwise."""
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
        return tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _override_keys(raw: dict[str, Any], env: dict[str, str]) -> set[str]:
    """Read a single `[radarr]` / `[sonarr]` table as a list of one, and put each
    `RECONCILER_<NAME>_API_KEY` set in `env` in place of its section's key (in `raw`).
    Returns the kinds given as a single table (the messages name them so)."""
    tables = {kind for kind in SEVERAL if isinstance(raw.get(kind), dict)}
    for kind in tables:
        raw[kind] = [raw[kind]]
    for service in SERVICES:
        entries = raw.get(service)
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            if not isinstance(entry, dict):
                continue
            named = entry.get("name", service) if service in SEVERAL else service
            override = env.get(key_variable(str(named)))
            if override:
                entry = {**entry, "api_key": override}
                entry.pop("api_key_file", None)
                if isinstance(entries, list):
                    entries[i] = entry
                else:
                    raw[service] = entry
    return tables


def _service_config(name: str, kind: str, section: ServiceSection, key: str,
                    model: ConfigModel) -> ServiceConfig:
    arr = section if isinstance(section, ArrSection) else None
    return ServiceConfig(
        name=name,
        url=section.url,
        api_key=key,
        poll_interval=section.poll_interval,
        timeout=section.timeout,
        verify_tls=section.verify_tls,
        retry_budget=model.reconciler.retry_budget,
        max_body=model.reconciler.max_response_mb * 1024 * 1024,
        kind=kind,
        is4k=arr.is4k if arr else False,
        seerr_server_id=arr.seerr_server_id if arr else None,
        default=_is_default(arr, model, kind),
    )


def _section_warnings(path: Path, where: str, section: ServiceSection) -> list[str]:
    warnings = []
    if not section.verify_tls:
        warnings.append(f"{where} verify_tls = false: TLS certificates are not checked")
    if section.api_key and _readable_by_others(path):
        warnings.append(
            f"{path} holds an API key and is readable by other users; "
            f"run: chmod 600 {path}"
        )
    return warnings


def key_variable(name: str) -> str:
    """The environment variable that overrides a service's or server's API key:
    `RECONCILER_<NAME>_API_KEY`, the name upper-cased ("-" read as "_")."""
    return f"RECONCILER_{name.upper().replace('-', '_')}_API_KEY"


def _sections(path: Path, model: ConfigModel, tables: set[str],
              ) -> dict[str, tuple[str, str, ServiceSection]]:
    """Every configured service and server, in poll order: name -> (where it is configured,
    for messages; its kind; its section). Names are unique; at most one explicit default of
    each kind and quality."""
    out: dict[str, tuple[str, str, ServiceSection]] = {}
    for kind in SERVICES:
        if kind not in SEVERAL:
            section = getattr(model, kind)
            if section is not None:
                out[kind] = (f"[{kind}]", kind, section)
            continue
        servers: list[ArrSection] = getattr(model, kind)
        defaults: dict[bool, str] = {}
        for i, server in enumerate(servers):
            name = server.name or kind
            where = f"[{kind}]" if kind in tables else f"[[{kind}]] #{i + 1} (name \"{name}\")"
            if name in out or (name in SERVICES and name != kind):
                other = out[name][0] if name in out else f"the [{name}] service"
                raise ConfigError(
                    f"{path}: {where} name: \"{name}\" is already the name of {other}; give "
                    f"each [[{kind}]] its own name (e.g. name = \"{kind}4k\")")
            if server.default:
                if server.is4k in defaults:
                    quality = "4K" if server.is4k else "HD"
                    raise ConfigError(
                        f"{path}: {where} default: \"{defaults[server.is4k]}\" is already "
                        f"the default {quality} {kind} server; set default = true on one only")
                defaults[server.is4k] = name
            out[name] = (where, kind, server)
    return out


def _is_default(section: ArrSection | None, model: ConfigModel, kind: str) -> bool:
    """The server requests of its quality go to when they name no server: the one marked
    `default = true`, else the first of its quality."""
    if section is None:
        return False
    same = [s for s in getattr(model, kind) if s.is4k == section.is4k]
    marked = [s for s in same if s.default]
    return section is (marked[0] if marked else same[0])


def _resolve_key(path: Path, name: str, where: str, section: ServiceSection,
                 env: dict[str, str]) -> str:
    if section.api_key:
        return section.api_key.strip()
    if section.api_key_file:
        return _read_secret_file(path, f"{where} api_key_file", section.api_key_file, env)
    raise ConfigError(
        f"{path}: {where} api_key: missing (set api_key, api_key_file, or "
        f"{key_variable(name)})"
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


def _describe(path: Path, exc: ValidationError,
              tables: set[str] | frozenset[str] = frozenset()) -> str:
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 3 and loc[0] in SEVERAL and loc[1].isdigit():
            head = f"[{loc[0]}]" if loc[0] in tables else f"[[{loc[0]}]] #{int(loc[1]) + 1}"
            loc = [head, *loc[2:]]
            where = f"{head} {'.'.join(loc[1:])}"
        elif len(loc) >= 2:
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
        elif kind in ("model_type", "model_attributes_type", "dict_type",
                      "list_type") and len(loc) == 1:
            what = f"must be a section ([{loc[0]}] on a line of its own, its keys below it)"
        else:
            what = err["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {where}: {what}")
    return "\n".join(lines)
