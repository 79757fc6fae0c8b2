"""Loading the configuration: find the file, read the TOML, validate it against the sections,
resolve paths and keys; every error names the file, key and problem."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from reconciler.config.keys import (
    override_keys,
    read_secret_file,
    readable_by_others,
    resolve_key,
)
from reconciler.config.sections import (
    ArrSection,
    ConfigModel,
    MediaServerSection,
    ServiceSection,
)
from reconciler.errors import ConfigError
from reconciler.registry import KINDS, MEDIA_SERVERS, SERVICES, SEVERAL

DEFAULT_PATHS = (Path("config.toml"), Path("/etc/reconciler/config.toml"))


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
    def media_server_kind(self) -> str:
        """The configured media server: "jellyfin", "emby" or "plex"."""
        return next(kind for kind in MEDIA_SERVERS if getattr(self.model, kind) is not None)

    @property
    def media_server(self) -> MediaServerSection:
        """The media server's section (`[jellyfin]`, `[emby]` or `[plex]`)."""
        section: MediaServerSection = getattr(self.model, self.media_server_kind)
        return section

    @property
    def jellyfin(self) -> MediaServerSection:
        """The media server's section, by its first name (whichever server it is)."""
        return self.media_server

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
    tables = override_keys(raw, env)
    try:
        model = ConfigModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc, tables)) from None

    if not model.radarr and not model.sonarr:
        raise ConfigError(f"{path}: configure [radarr], [sonarr] or both")
    media_server = _one_media_server(path, model)
    sections = _sections(path, model, tables)

    warnings: list[str] = []
    if media_server != "jellyfin" and "shoko" in sections:
        # Shoko reaches the household through Shokofin, a Jellyfin plugin: with another
        # media server its matches say nothing about what plays, so it is not polled.
        del sections["shoko"]
        warnings.append(
            f"[shoko] is configured but the media server is {KINDS[media_server].short_name}: "
            f"Shoko is not polled (anime through Shoko is a Jellyfin/Shokofin feature); anime "
            f"requests are matched by their TMDB/TVDB ids like any other")
    services: dict[str, ServiceConfig] = {}
    for name, (where, kind, section) in sections.items():
        try:
            key = resolve_key(path, name, kind, where, section.api_key, section.api_key_file,
                              env)
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
            password = read_secret_file(path, "[http] password_file",
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
    if section.api_key and readable_by_others(path):
        warnings.append(
            f"{path} holds an API key and is readable by other users; "
            f"run: chmod 600 {path}"
        )
    return warnings


def _one_media_server(path: Path, model: ConfigModel) -> str:
    """The one configured media server; a ConfigError when none or several are."""
    configured = [kind for kind in MEDIA_SERVERS if getattr(model, kind) is not None]
    if len(configured) == 1:
        return configured[0]
    if not configured:
        raise ConfigError(
            f"{path}: [jellyfin]: required section is missing (the media server that says "
            f"what plays: configure one of [jellyfin], [emby] or [plex])")
    named = " and ".join(f"[{kind}]" for kind in configured)
    both = "both" if len(configured) == 2 else "all"
    raise ConfigError(
        f"{path}: {named} are {both} configured: reconciler confirms availability through one "
        f"media server; keep the section of the one the household watches on")


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
