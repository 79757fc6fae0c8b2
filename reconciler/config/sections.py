"""The configuration's sections, as pydantic models: every key, its type, default and check.

One model per `[section]`; the services' sections take their default pace from the registry,
the stuck deadlines from the state table. Validation errors are worded by `loading._describe`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from reconciler.config.keys import (
    key_word,
)
from reconciler.registry import KINDS
from reconciler.states import STUCK_DEFAULTS, NotifyEvent
from reconciler.times import zone_named

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


class MediaServerSection(ServiceSection):
    """What the media server's section holds, whichever it is: how its items are indexed and
    when it is asked to scan."""

    poll_interval: Duration = KINDS["jellyfin"].poll_interval  # the registry test: each's
    refresh_grace: Duration = 60.0
    refresh_min_interval: Duration = 300.0
    page_size: int = Field(default=1000, ge=10, le=10000)
    verify_interval: Duration = 600.0
    # The address people open Jellyfin at in their browser (the "Play" links); default: none.
    public_url: HttpUrl | None = None


class JellyfinSection(MediaServerSection):
    poll_interval: Duration = KINDS["jellyfin"].poll_interval


class EmbySection(MediaServerSection):
    poll_interval: Duration = KINDS["emby"].poll_interval


class PlexSection(MediaServerSection):
    """Plex calls its key a token: `token` and `token_file` are read as `api_key` and
    `api_key_file` (either spelling, not both)."""

    poll_interval: Duration = KINDS["plex"].poll_interval

    @model_validator(mode="before")
    @classmethod
    def _token_is_the_key(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        word = key_word("plex")
        for own, key in ((word, "api_key"), (f"{word}_file", "api_key_file")):
            if own in data:
                if key in data:
                    raise ValueError(f"set {own} or {key}, not both (they are the same key)")
                data[key] = data.pop(own)
        return data


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
    # The media server: exactly one of the three (`load_config` checks it).
    jellyfin: JellyfinSection | None = None
    emby: EmbySection | None = None
    plex: PlexSection | None = None
    anime: AnimeSection = AnimeSection()
    stuck: StuckSection = StuckSection()
    notify: NotifySection | None = None
    http: HttpSection | None = None


