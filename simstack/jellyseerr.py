"""Fake Jellyseerr (API v1) as Overseerr 1.33, Jellyseerr 2.1 / 2.2 / 2.7 or Seerr 3.x answer it.

The version played is `world.jellyseerr.profile` (`simstack.seerr_versions`; choose it with
`World(jellyseerr_version="3.1.0")`, a profile name, or assign a `SeerrProfile`). The default,
`SEERR_BUMPING`, is Seerr 3.x as recorded on 3.1.0 but with `updatedAt` bumped by changes again
(seerr PR #2823). Everything a profile changes is listed on `SeerrProfile`.

World verbs (`world.jellyseerr`):

- `add_request(tmdb_id, media_type="movie", title=None, *, tvdb_id=None, imdb_id=None,
  status=APPROVED, seasons=None, is4k=False, external_service_id=None, requested_by=1,
  media_status=None, server_id=<default server>, profile_id=1, root_folder=None,
  jellyfin_media_id=None, is_auto_request=False, tags=[], language_profile_id=<1 on TV>)
  -> request_id`. One `media` row per (media_type, tmdb_id), shared by its requests, as in
  Jellyseerr. Default media status: PENDING for a pending request, else PROCESSING. Registers
  title details (for `/movie/{id}`, `/tv/{id}`) when unknown. `tags=None` renders `null`.
- `set_request_status(request_id, status, *, modified_by=1)`, `set_season_status(request_id,
  season_number, status)`, `update_request(request_id, **fields)`, `delete_request(request_id)`:
  they bump `updatedAt` where the version does (Overseerr, Jellyseerr <= 2.5, the default) and
  leave it on 2.6 - 3.1 (frozen). `touch_request(request_id)` always sets it.
- `set_media_status(tmdb_id, status, *, media_type=None, is4k=False, complete_requests=True)`:
  reaching AVAILABLE also marks the media's APPROVED requests COMPLETED on versions with status 5.
- `blocklist(tmdb_id, *, media_type=None)`: media status 6; `filter=all` stops listing its
  requests, which still answer by id.
- `update_media(tmdb_id, *, media_type=None, **fields)`: e.g. `external_service_id`,
  `jellyfin_media_id`, `status4k`.
- `add_title(tmdb_id, media_type, title, ...)`, `add_user(username, ..., local_username=...)`
  (`local_username=None`: a Jellyfin user with `username: null`), `set_tmdb_down(down=True)`
  (every title look-up answers 500 "Unable to retrieve movie." / "series."),
  `forget_title(tmdb_id, media_type="movie")` (an id TMDB merged or deleted: only its look-up
  fails, as for an unknown id).
- `add_arr_server(kind, *, hostname, port, name=None, is4k=False, is_default=None, ...) -> id`,
  `remove_arr_server(kind, id)`, `set_arr_reachable(kind, id, reachable)` (3.x lists unreachable
  ones in `serviceErrors`; 2.1 fails the request list), `point_server_at(kind, id, url)`. One
  Radarr and one Sonarr (id 0) exist; the stack points them at its fake servers.
- `load_listing(rows)`: requests in the API's own shape (a recorded listing) with their users,
  media, seasons, ids and dates.

Constants: request status PENDING=1, APPROVED=2, DECLINED=3, FAILED=4, COMPLETED=5; media status
MEDIA_UNKNOWN=1, MEDIA_PENDING=2, MEDIA_PROCESSING=3, MEDIA_PARTIALLY_AVAILABLE=4,
MEDIA_AVAILABLE=5, MEDIA_BLOCKLISTED=6, MEDIA_DELETED=7 (2.2.x and older: no 5 / 7).

HTTP (`X-Api-Key`), as recorded on the real servers: no key is the OpenAPI validator's **401**
`{"message":"cookie 'connect.sid' required","errors":[...]}`; then the query of
`GET /api/v1/request` is validated (400 `Unknown query parameter 'x'` for a parameter the
version's spec lacks, 400 for a bad `filter`/`sort`/... enum value); then a wrong key is **403**
`{"status":403,"error":"You do not have permission to access this endpoint"}` (the
`unauthorized` fault answers the same). An unknown route is 404 `{"message":"not found",
"errors":[{"path":..,"message":"not found"}]}`. `GET /api/v1/status` needs no key. Served:
`/status`, `/auth/me`, `/request` (list items with `canRemove` where the version has it: true only
when the media's *arr server is configured), `/request/count` (`available` = APPROVED requests
whose media is available; `completed` on 3.x), `/request/{id}` (`media.seasons`, users with
`settings`, no `canRemove`), `/media`, `/movie/{id}`, `/tv/{id}`, `/settings/radarr`,
`/settings/sonarr` (with the *arr API keys, as the real ones).

Spec vs. reality: the real server sends `serverId`/`profileId`/`rootFolder` null on some TV
requests; the fake defaults them to schema-valid values (the default server, 1, "/movies" or
"/tv"). Pass `server_id=None` etc. to get the real nulls.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from simstack import posters
from simstack._base import SubWorld
from simstack._util import hex_id, iso_js
from simstack.clock import Clock
from simstack.seerr_versions import SeerrProfile, default_profile, profile_for
from simstack.server import App, Request, Response

PENDING, APPROVED, DECLINED, FAILED, COMPLETED = 1, 2, 3, 4, 5
(MEDIA_UNKNOWN, MEDIA_PENDING, MEDIA_PROCESSING, MEDIA_PARTIALLY_AVAILABLE, MEDIA_AVAILABLE,
 MEDIA_BLOCKLISTED, MEDIA_DELETED) = 1, 2, 3, 4, 5, 6, 7

_UNSET: Any = object()


@dataclass(eq=False)
class SeerrUser:
    id: int
    username: str
    local_username: str | None
    email: str
    jellyfin_user_id: str
    permissions: int
    user_type: int
    created_at: datetime
    updated_at: datetime


@dataclass(eq=False)
class SeerrMedia:
    id: int
    media_type: str
    tmdb_id: int
    tvdb_id: int | None
    imdb_id: str | None
    status: int
    status4k: int
    created_at: datetime
    updated_at: datetime
    last_season_change: datetime
    media_added_at: datetime | None = None
    service_id: int | None = None
    service_id4k: int | None = None
    external_service_id: int | None = None
    external_service_id4k: int | None = None
    external_service_slug: str | None = None
    external_service_slug4k: str | None = None
    jellyfin_media_id: str | None = None
    jellyfin_media_id4k: str | None = None


@dataclass(eq=False)
class SeerrSeason:
    id: int
    season_number: int
    status: int
    created_at: datetime
    updated_at: datetime


@dataclass(eq=False)
class SeerrRequest:
    id: int
    status: int
    media: SeerrMedia
    type: str
    is4k: bool
    created_at: datetime
    updated_at: datetime
    requested_by: int
    modified_by: int | None
    server_id: int | None
    profile_id: int | None
    root_folder: str | None
    seasons: list[SeerrSeason] = field(default_factory=list)
    language_profile_id: int | None = None
    tags: list[int] | None = None
    is_auto_request: bool = False


@dataclass(eq=False)
class SeerrTitle:
    tmdb_id: int
    media_type: str
    title: str
    original_title: str
    date: str | None
    overview: str
    imdb_id: str | None
    tvdb_id: int | None
    seasons: dict[int, int]
    runtime: int
    original_language: str


@dataclass(eq=False)
class ArrServer:
    """A Radarr or Sonarr server configured in Seerr (`/api/v1/settings/radarr|sonarr`)."""

    id: int
    kind: str
    name: str
    hostname: str
    port: int
    base_url: str
    use_ssl: bool
    is4k: bool
    is_default: bool
    active_profile_id: int
    active_profile_name: str
    active_directory: str
    api_key: str
    external_url: str
    reachable: bool = True

    @property
    def url(self) -> str:
        scheme = "https" if self.use_ssl else "http"
        return f"{scheme}://{self.hostname}:{self.port}{self.base_url}"

    def render(self, flavour: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "hostname": self.hostname, "port": self.port,
            "apiKey": self.api_key, "useSsl": self.use_ssl, "baseUrl": self.base_url,
            "activeProfileId": self.active_profile_id,
            "activeProfileName": self.active_profile_name,
            "activeDirectory": self.active_directory, "tags": [], "is4k": self.is4k,
        }
        if self.kind == "radarr":
            out["minimumAvailability"] = "released"
        else:
            out.update({"activeLanguageProfileId": 1, "activeAnimeProfileId": None,
                        "activeAnimeLanguageProfileId": None,
                        "activeAnimeProfileName": None, "activeAnimeDirectory": None,
                        "animeTags": [], "seriesType": "standard",
                        "animeSeriesType": "anime", "enableSeasonFolders": True})
            if flavour == "overseerr":  # no series types in Overseerr 1.33
                for key in ("animeTags", "seriesType", "animeSeriesType"):
                    del out[key]
        out.update({"isDefault": self.is_default, "externalUrl": self.external_url,
                    "syncEnabled": False, "preventSearch": False, "tagRequests": False})
        return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


class JellyseerrWorld(SubWorld):
    """Jellyseerr's requests, media, titles and users. See the module docstring."""

    jellyfin_url = "http://jellyfin:8096"
    jellyfin_server_id = "05647f36ec63477298d28772721b3d1b"

    def __init__(self, world: Clock, profile: SeerrProfile | str | None = None) -> None:
        super().__init__(world)
        self.profile: SeerrProfile = (profile_for(profile) if isinstance(profile, str)
                                      else profile or default_profile())
        # TMDB unreachable: every `/movie/{id}`, `/tv/{id}` answers 500 (see `set_tmdb_down`)
        self.tmdb_down = False
        self.servers: dict[str, list[ArrServer]] = {"radarr": [], "sonarr": []}
        self.add_arr_server("radarr", hostname="radarr", port=7878, active_directory="/movies")
        self.add_arr_server("sonarr", hostname="sonarr", port=8989, active_directory="/tv")
        self.requests: dict[int, SeerrRequest] = {}
        self.media: dict[tuple[str, int], SeerrMedia] = {}
        self.titles: dict[tuple[str, int], SeerrTitle] = {}
        self.users: dict[int, SeerrUser] = {}
        self._next_request = 1
        self._next_media = 1
        self._next_season = 1
        self._next_user = 1
        self.add_user("admin", permissions=2)

    # -- the profile, the *arr servers, TMDB ------------------------------------------------

    @property
    def version(self) -> str:
        return self.profile.version

    @property
    def commit_tag(self) -> str:
        return self.profile.commit_tag

    @property
    def radarr_url(self) -> str:
        return self.servers["radarr"][0].url if self.servers["radarr"] else "http://radarr:7878"

    @property
    def sonarr_url(self) -> str:
        return self.servers["sonarr"][0].url if self.servers["sonarr"] else "http://sonarr:8989"

    def add_arr_server(self, kind: str, *, name: str | None = None, hostname: str,
                       port: int, base_url: str = "", use_ssl: bool = False,
                       is4k: bool = False, is_default: bool | None = None,
                       active_profile_id: int = 1, active_profile_name: str = "Any",
                       active_directory: str | None = None, api_key: str = "",
                       external_url: str = "") -> int:
        """Configure one more Radarr (`kind="radarr"`) or Sonarr server; returns its id (0, 1, ..
        per kind, as Seerr numbers them). The first of a kind and quality is the default."""
        if kind not in self.servers:
            raise ValueError(f"kind must be 'radarr' or 'sonarr', not {kind!r}")
        with self.lock:
            existing = self.servers[kind]
            sid = max((s.id for s in existing), default=-1) + 1
            if is_default is None:
                is_default = not any(s.is_default and s.is4k == is4k for s in existing)
            existing.append(ArrServer(
                sid, kind, name or kind.capitalize() + (f" {sid}" if sid else ""), hostname,
                port, base_url, use_ssl, is4k, is_default, active_profile_id,
                active_profile_name,
                active_directory or ("/movies" if kind == "radarr" else "/tv"), api_key,
                external_url))
            return sid

    def point_server_at(self, kind: str, server_id: int, url: str) -> None:
        """Set a configured server's hostname, port and base URL from `url`."""
        parts = urlsplit(url)
        with self.lock:
            for server in self.servers[kind]:
                if server.id == server_id:
                    server.hostname = parts.hostname or server.hostname
                    server.port = parts.port or (443 if parts.scheme == "https" else 80)
                    server.use_ssl = parts.scheme == "https"
                    server.base_url = parts.path.rstrip("/")
                    return
            raise KeyError(f"no {kind} server {server_id}")

    def remove_arr_server(self, kind: str, server_id: int) -> None:
        with self.lock:
            self.servers[kind] = [s for s in self.servers[kind] if s.id != server_id]

    def set_arr_reachable(self, kind: str, server_id: int, reachable: bool) -> None:
        """An unreachable server is listed in `serviceErrors` (3.x) of the request list."""
        with self.lock:
            for server in self.servers[kind]:
                if server.id == server_id:
                    server.reachable = reachable
                    return
            raise KeyError(f"no {kind} server {server_id}")

    def forget_title(self, tmdb_id: int, media_type: str = "movie") -> None:
        """TMDB no longer knows the id (merged or deleted): its look-up answers what the
        version answers for an unknown id (500 "Unable to retrieve movie." on 2.x and 3.x)."""
        with self.lock:
            self.titles.pop((media_type, tmdb_id), None)

    def set_tmdb_down(self, down: bool = True) -> None:
        """TMDB unreachable: every title look-up answers Seerr's 500 "Unable to retrieve ..."."""
        with self.lock:
            self.tmdb_down = down

    def _stamp(self) -> datetime:
        """Now, as the database writes it (whole seconds on the real profiles)."""
        now = self.now
        return now.replace(microsecond=0) if self.profile.whole_seconds else now

    def _bump(self) -> datetime | None:
        """The new `updatedAt` of a changed row, or None where the version freezes it."""
        return self._stamp() if self.profile.bumps_updated_at else None

    # -- users and titles --------------------------------------------------------------------

    def add_user(self, username: str, *, email: str | None = None, permissions: int = 32,
                 user_type: int = 3, local_username: str | None = _UNSET) -> int:
        """`local_username=None`: a Jellyfin user with no local username (`username: null`)."""
        with self.lock:
            uid = self._next_user
            self._next_user += 1
            now = self._stamp()
            self.users[uid] = SeerrUser(uid, username,
                                        username if local_username is _UNSET else local_username,
                                        email or f"{username}@example.org",
                                        hex_id("seerr-user", uid, username), permissions,
                                        user_type, now, now)
            return uid

    def add_title(self, tmdb_id: int, media_type: str, title: str, *,
                  original_title: str | None = None, date: str | None = None,
                  overview: str = "", imdb_id: str | None = None, tvdb_id: int | None = None,
                  seasons: Mapping[int, int] | None = None, runtime: int = 0,
                  original_language: str = "en") -> None:
        """Title details served by `/movie/{tmdbId}` or `/tv/{tmdbId}`."""
        _check_type(media_type)
        with self.lock:
            self.titles[(media_type, tmdb_id)] = SeerrTitle(
                tmdb_id, media_type, title, original_title or title, date, overview, imdb_id,
                tvdb_id, dict(seasons or ({1: 10} if media_type == "tv" else {})),
                runtime or (110 if media_type == "movie" else 45), original_language)

    # -- requests ----------------------------------------------------------------------------

    def add_request(self, tmdb_id: int, media_type: str = "movie", title: str | None = None, *,
                    tvdb_id: int | None = None, imdb_id: str | None = None,
                    status: int = APPROVED, seasons: Iterable[int] | None = None,
                    is4k: bool = False, external_service_id: int | None = None,
                    requested_by: int = 1, media_status: int | None = None,
                    server_id: int | None = _UNSET, profile_id: int | None = 1,
                    root_folder: str | None = _UNSET, jellyfin_media_id: str | None = None,
                    is_auto_request: bool = False, tags: list[int] | None = _UNSET,
                    language_profile_id: int | None = _UNSET) -> int:
        """`tags=None` is the real NULL column (rendered `null`); the default is `[]`.
        `language_profile_id` defaults to 1 on TV requests (as Seerr stores), null on films."""
        _check_type(media_type)
        self._check_status(status, media_status)
        with self.lock:
            now = self._stamp()
            key = (media_type, tmdb_id)
            if key not in self.titles:
                self.add_title(tmdb_id, media_type, title or f"Title {tmdb_id}",
                               imdb_id=imdb_id, tvdb_id=tvdb_id,
                               seasons={s: 10 for s in seasons} if seasons else None)
            media = self.media.get(key)
            default_status = MEDIA_PENDING if status == PENDING else MEDIA_PROCESSING
            if media is None:
                media = SeerrMedia(self._next_media, media_type, tmdb_id, tvdb_id, imdb_id,
                                   MEDIA_UNKNOWN, MEDIA_UNKNOWN, now, now, now)
                self._next_media += 1
                self.media[key] = media
            target = media_status if media_status is not None else default_status
            if is4k:
                media.status4k = target
            else:
                media.status = target
            if tvdb_id is not None:
                media.tvdb_id = tvdb_id
            if imdb_id is not None:
                media.imdb_id = imdb_id
            if jellyfin_media_id is not None:
                if is4k:
                    media.jellyfin_media_id4k = jellyfin_media_id
                else:
                    media.jellyfin_media_id = jellyfin_media_id
            media.updated_at = now
            rid = self._next_request
            self._next_request += 1
            season_list = []
            for number in (seasons or []) if media_type == "tv" else []:
                season_list.append(SeerrSeason(self._next_season, number, status, now, now))
                self._next_season += 1
            if server_id is _UNSET:
                server_id = self._default_server(media_type, is4k)
            if external_service_id is not None:
                # Seerr records the server it sent the request to on the media, per quality
                # (MediaRequestSubscriber: `serviceId(4k)`): the one named, else its default.
                self._set_external(media, external_service_id, is4k, server_id)
            if root_folder is _UNSET:
                root_folder = "/movies" if media_type == "movie" else "/tv"
            if language_profile_id is _UNSET:
                language_profile_id = 1 if media_type == "tv" else None
            self.requests[rid] = SeerrRequest(
                rid, status, media, media_type, is4k, now, now, requested_by,
                requested_by if status != PENDING else None, server_id, profile_id, root_folder,
                season_list, language_profile_id, [] if tags is _UNSET else tags,
                is_auto_request)
            return rid

    def _default_server(self, media_type: str, is4k: bool) -> int:
        servers = self.servers["radarr" if media_type == "movie" else "sonarr"]
        for server in servers:
            if server.is_default and server.is4k == is4k:
                return server.id
        return servers[0].id if servers else 0

    def _check_status(self, status: int | None, media_status: int | None) -> None:
        if not self.profile.has_completed and (status == COMPLETED
                                               or media_status == MEDIA_DELETED):
            raise ValueError(f"{self.profile.flavour} {self.version} has no request status 5 "
                             "(completed) or media status 7 (deleted)")
        if not self.profile.has_blocklist and media_status == MEDIA_BLOCKLISTED:
            raise ValueError(f"{self.profile.flavour} {self.version} has no blocklist")

    def _set_external(self, media: SeerrMedia, service_id: int, is4k: bool,
                      server_id: int | None = None) -> None:
        slug = str(media.tmdb_id) if media.media_type == "movie" else _slug(
            self.titles.get((media.media_type, media.tmdb_id), _NO_TITLE).title)
        server = server_id if server_id is not None else self._default_server(
            media.media_type, is4k)
        if is4k:
            media.external_service_id4k = service_id
            media.external_service_slug4k = slug
            media.service_id4k = server
        else:
            media.external_service_id = service_id
            media.external_service_slug = slug
            media.service_id = server

    def get_request(self, request_id: int) -> SeerrRequest:
        with self.lock:
            try:
                return self.requests[request_id]
            except KeyError:
                raise KeyError(f"no Jellyseerr request {request_id}") from None

    def set_request_status(self, request_id: int, status: int, *, modified_by: int = 1) -> None:
        self._check_status(status, None)
        with self.lock:
            req = self.get_request(request_id)
            req.status = status
            req.modified_by = modified_by
            stamp = self._bump()
            for season in req.seasons:
                season.status = status
                if stamp:
                    season.updated_at = stamp
            if stamp:
                req.updated_at = stamp
            if status == APPROVED:
                media = req.media
                current = media.status4k if req.is4k else media.status
                if current in (MEDIA_UNKNOWN, MEDIA_PENDING):
                    self._set_media_status(media, MEDIA_PROCESSING, req.is4k)

    def set_season_status(self, request_id: int, season_number: int, status: int) -> None:
        with self.lock:
            req = self.get_request(request_id)
            for season in req.seasons:
                if season.season_number == season_number:
                    season.status = status
                    season.updated_at = self._bump() or season.updated_at
                    break
            else:
                raise KeyError(f"request {request_id} has no season {season_number}")
            req.updated_at = self._bump() or req.updated_at

    def update_request(self, request_id: int, **fields: Any) -> None:
        """Set `SeerrRequest` attributes (e.g. `profile_id`, `root_folder`, `is4k`)."""
        with self.lock:
            req = self.get_request(request_id)
            for name, value in fields.items():
                if not hasattr(req, name) or name in ("id", "media"):
                    raise AttributeError(f"SeerrRequest has no settable field {name!r}")
                setattr(req, name, value)
            req.updated_at = self._bump() or req.updated_at

    def touch_request(self, request_id: int) -> None:
        """Set `updatedAt` to now, on every profile (a direct database write)."""
        with self.lock:
            self.get_request(request_id).updated_at = self._stamp()

    def delete_request(self, request_id: int) -> None:
        with self.lock:
            self.get_request(request_id)
            del self.requests[request_id]

    def load_listing(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Load requests given in the API's own shape (e.g. a recorded `/request` listing and
        `/request/{id}` answers): their users, media, seasons, ids, statuses and dates, as they
        are. Replaces nothing already loaded under another id."""
        with self.lock:
            for row in rows:
                for key in ("requestedBy", "modifiedBy"):
                    self._load_user(row.get(key))
                m = row["media"]
                media = self.media.get((m["mediaType"], m["tmdbId"]))
                if media is None:
                    media = SeerrMedia(
                        m["id"], m["mediaType"], m["tmdbId"], m.get("tvdbId"), m.get("imdbId"),
                        m["status"], m["status4k"], _parse_js(m["createdAt"]),
                        _parse_js(m["updatedAt"]), _parse_js(m["lastSeasonChange"]),
                        _parse_js(m["mediaAddedAt"]) if m.get("mediaAddedAt") else None,
                        m.get("serviceId"), m.get("serviceId4k"), m.get("externalServiceId"),
                        m.get("externalServiceId4k"), m.get("externalServiceSlug"),
                        m.get("externalServiceSlug4k"), m.get("jellyfinMediaId"),
                        m.get("jellyfinMediaId4k"))
                    self.media[(media.media_type, media.tmdb_id)] = media
                    self._next_media = max(self._next_media, media.id + 1)
                seasons = [SeerrSeason(x["id"], x["seasonNumber"], x["status"],
                                       _parse_js(x["createdAt"]), _parse_js(x["updatedAt"]))
                           for x in row.get("seasons") or []]
                self._next_season = max([self._next_season] + [x.id + 1 for x in seasons])
                modified = row.get("modifiedBy")
                self.requests[row["id"]] = SeerrRequest(
                    row["id"], row["status"], media, row["type"], row["is4k"],
                    _parse_js(row["createdAt"]), _parse_js(row["updatedAt"]),
                    row["requestedBy"]["id"], modified["id"] if modified else None,
                    row.get("serverId"), row.get("profileId"), row.get("rootFolder"), seasons,
                    row.get("languageProfileId"), row.get("tags"),
                    bool(row.get("isAutoRequest")))
                self._next_request = max(self._next_request, row["id"] + 1)

    def _load_user(self, u: Mapping[str, Any] | None) -> None:
        if not u:
            return
        name = u.get("jellyfinUsername") or u.get("plexUsername") or u.get("username") or ""
        self.users[u["id"]] = SeerrUser(
            u["id"], name, u.get("username"), u["email"],
            u.get("jellyfinUserId") or hex_id("seerr-user", u["id"], name), u["permissions"],
            u["userType"], _parse_js(u["createdAt"]), _parse_js(u["updatedAt"]))
        self._next_user = max(self._next_user, u["id"] + 1)

    # -- media -------------------------------------------------------------------------------

    def get_media(self, tmdb_id: int, media_type: str | None = None) -> SeerrMedia:
        with self.lock:
            for kind in ([media_type] if media_type else ["movie", "tv"]):
                media = self.media.get((kind, tmdb_id))
                if media is not None:
                    return media
            raise KeyError(f"no Jellyseerr media for tmdb {tmdb_id}")

    def set_media_status(self, tmdb_id: int, status: int, *, media_type: str | None = None,
                         is4k: bool = False, complete_requests: bool = True) -> None:
        """Reaching AVAILABLE marks the media's APPROVED requests COMPLETED (versions with
        status 5 only; on older ones they stay APPROVED, as there)."""
        self._check_status(None, status)
        with self.lock:
            media = self.get_media(tmdb_id, media_type)
            self._set_media_status(media, status, is4k)
            if (complete_requests and status == MEDIA_AVAILABLE
                    and self.profile.has_completed):
                stamp = self._bump()
                for req in self.requests.values():
                    if req.media is media and req.is4k == is4k and req.status == APPROVED:
                        req.status = COMPLETED
                        for season in req.seasons:
                            season.status = COMPLETED
                            season.updated_at = stamp or season.updated_at
                        req.updated_at = stamp or req.updated_at

    def blocklist(self, tmdb_id: int, *, media_type: str | None = None) -> None:
        """Blocklist the media (status 6): `filter=all` stops listing its requests, which
        still answer 200 by id."""
        self._check_status(None, MEDIA_BLOCKLISTED)
        with self.lock:
            self._set_media_status(self.get_media(tmdb_id, media_type), MEDIA_BLOCKLISTED,
                                   False)

    def _set_media_status(self, media: SeerrMedia, status: int, is4k: bool) -> None:
        now = self._stamp()
        if is4k:
            media.status4k = status
        else:
            media.status = status
        if status in (MEDIA_AVAILABLE, MEDIA_PARTIALLY_AVAILABLE) and media.media_added_at is None:
            media.media_added_at = now
        media.updated_at = self._bump() or media.updated_at

    def update_media(self, tmdb_id: int, *, media_type: str | None = None,
                     **fields: Any) -> None:
        """Set `SeerrMedia` attributes; `external_service_id[4k]` also sets slug/serviceId."""
        with self.lock:
            media = self.get_media(tmdb_id, media_type)
            for name, value in fields.items():
                if name in ("external_service_id", "external_service_id4k") and value is not None:
                    self._set_external(media, int(value), name.endswith("4k"))
                elif not hasattr(media, name) or name in ("id", "tmdb_id", "media_type"):
                    raise AttributeError(f"SeerrMedia has no settable field {name!r}")
                else:
                    setattr(media, name, value)
            media.updated_at = self._bump() or media.updated_at

    # -- rendering ---------------------------------------------------------------------------

    def render_user(self, user_id: int | None, *,
                    with_settings: bool = False) -> dict[str, Any] | None:
        if user_id is None:
            return None
        user = self.users.get(user_id)
        if user is None:
            return None
        profile = self.profile
        count = sum(1 for r in self.requests.values() if r.requested_by == user_id)
        out: dict[str, Any] = {"permissions": user.permissions}
        if profile.jellyfin_users:
            out["warnings"] = []
        out.update({"id": user.id, "email": user.email})
        if profile.jellyfin_users:
            out.update({"plexUsername": None, "jellyfinUsername": user.username})
        else:  # Overseerr: Plex users
            out["plexUsername"] = user.username
        out.update({"username": user.local_username, "recoveryLinkExpirationDate": None,
                    "userType": user.user_type})
        if profile.jellyfin_users:
            out.update({"plexId": None, "jellyfinUserId": user.jellyfin_user_id})
            if profile.user_tokens:
                out.update({"plexToken": None, "jellyfinAuthToken": None,
                            "jellyfinDeviceId": None})
            out["avatar"] = f"/avatarproxy/{user.jellyfin_user_id}?v=1757624411000"
        else:
            out.update({"plexId": 1000 + user.id,
                        "avatar": f"https://plex.tv/users/{user.jellyfin_user_id}/avatar"})
        if profile.avatar_etag:
            out.update({"avatarETag": None, "avatarVersion": None})
        out.update({
            "movieQuotaLimit": None,
            "movieQuotaDays": None,
            "tvQuotaLimit": None,
            "tvQuotaDays": None,
            "createdAt": iso_js(user.created_at),
            "updatedAt": iso_js(user.updated_at),
        })
        if with_settings:
            out["settings"] = self._render_user_settings(user)
        out.update({"requestCount": count, "displayName": user.username})
        return out

    def _render_user_settings(self, user: SeerrUser) -> dict[str, Any]:
        old = self.profile.flavour == "overseerr" or self.profile.version.startswith("2.1.")
        out: dict[str, Any] = {"id": user.id, "locale": ""}
        if old:
            out["region"] = None
        else:
            out.update({"discoverRegion": None, "streamingRegion": None})
        out.update({"originalLanguage": None, "pgpKey": None, "discordId": None,
                    "pushbulletAccessToken": None, "pushoverApplicationToken": None,
                    "pushoverUserKey": None})
        if self.profile.flavour != "overseerr":
            out["pushoverSound"] = None
        out["telegramChatId"] = None
        if not old:
            out["telegramMessageThreadId"] = None
        out.update({"telegramSendSilently": None, "watchlistSyncMovies": None,
                    "watchlistSyncTv": None,
                    "notificationTypes": {"email": 8190, "discord": 0, "pushbullet": 0,
                                          "pushover": 0, "slack": 0, "telegram": 0,
                                          "webhook": 0, "webpush": 8190}})
        return out

    def _server(self, media: SeerrMedia, is4k: bool) -> ArrServer | None:
        sid = media.service_id4k if is4k else media.service_id
        if sid is None:
            return None
        kind = "radarr" if media.media_type == "movie" else "sonarr"
        return next((s for s in self.servers[kind] if s.id == sid), None)

    def render_media(self, media: SeerrMedia, *, with_requests: bool = False,
                     with_seasons: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "downloadStatus": [],
            "downloadStatus4k": [],
            "id": media.id,
            "mediaType": media.media_type,
            "tmdbId": media.tmdb_id,
            "tvdbId": media.tvdb_id,
            "imdbId": media.imdb_id,
            "status": media.status,
            "status4k": media.status4k,
            "createdAt": iso_js(media.created_at),
            "updatedAt": iso_js(media.updated_at),
            "lastSeasonChange": iso_js(media.last_season_change),
            "mediaAddedAt": iso_js(media.media_added_at) if media.media_added_at else None,
            "serviceId": media.service_id,
            "serviceId4k": media.service_id4k,
            "externalServiceId": media.external_service_id,
            "externalServiceId4k": media.external_service_id4k,
            "externalServiceSlug": media.external_service_slug,
            "externalServiceSlug4k": media.external_service_slug4k,
            "ratingKey": None,
            "ratingKey4k": None,
        }
        if self.profile.jellyfin_media:
            out.update({"jellyfinMediaId": media.jellyfin_media_id,
                        "jellyfinMediaId4k": media.jellyfin_media_id4k})
        if with_seasons:
            out["seasons"] = self._media_seasons(media)
        if with_requests:
            out["requests"] = [self.render_request(r) for r in sorted(
                self.requests.values(), key=lambda r: r.id) if r.media is media]
        if media.jellyfin_media_id:
            out["mediaUrl"] = (f"{self.jellyfin_url}/web/index.html#!/details?id="
                               f"{media.jellyfin_media_id}&context=home&serverId="
                               f"{self.jellyfin_server_id}")
        kind = "movie" if media.media_type == "movie" else "series"
        for is4k, slug, key in ((False, media.external_service_slug, "serviceUrl"),
                                (True, media.external_service_slug4k, "serviceUrl4k")):
            server = self._server(media, is4k)
            if server is not None and slug:
                base = server.external_url or server.url
                out[key] = f"{base}/{kind}/{slug}"
        return out

    def _media_seasons(self, media: SeerrMedia) -> list[dict[str, Any]]:
        """The media's seasons (`season` rows): one per season any of its requests asked for,
        with the best status a request of it has reached."""
        seasons: dict[int, dict[str, Any]] = {}
        for req in sorted(self.requests.values(), key=lambda r: r.id):
            if req.media is not media:
                continue
            for s in req.seasons:
                row = seasons.setdefault(s.season_number, {
                    "id": media.id * 100 + s.season_number, "seasonNumber": s.season_number,
                    "status": MEDIA_UNKNOWN, "status4k": MEDIA_UNKNOWN,
                    "createdAt": iso_js(s.created_at), "updatedAt": iso_js(s.updated_at)})
                status = media.status4k if req.is4k else media.status
                row["status4k" if req.is4k else "status"] = status
        return [seasons[n] for n in sorted(seasons)]

    def can_remove(self, req: SeerrRequest) -> bool:
        """Seerr: the request's media sits on a configured *arr server."""
        return self._server(req.media, req.is4k) is not None

    def render_request(self, req: SeerrRequest, *, single: bool = False) -> dict[str, Any]:
        """A list item, or (`single`) the `GET /request/{id}` shape: `media.seasons`, users
        with `settings`, no `canRemove`."""
        out = {
            "id": req.id,
            "status": req.status,
            "createdAt": iso_js(req.created_at),
            "updatedAt": iso_js(req.updated_at),
            "type": req.type,
            "is4k": req.is4k,
            "serverId": req.server_id,
            "profileId": req.profile_id,
            "rootFolder": req.root_folder,
            "languageProfileId": req.language_profile_id,
            "tags": list(req.tags) if req.tags is not None else None,
            "isAutoRequest": req.is_auto_request,
            "media": self.render_media(req.media, with_seasons=single),
            "seasons": [{
                "id": s.id,
                "seasonNumber": s.season_number,
                "status": s.status,
                "createdAt": iso_js(s.created_at),
                "updatedAt": iso_js(s.updated_at),
            } for s in req.seasons],
            "modifiedBy": self.render_user(req.modified_by, with_settings=single),
            "requestedBy": self.render_user(req.requested_by, with_settings=single),
            "seasonCount": len(req.seasons),
        }
        if self.profile.can_remove and not single:
            out["canRemove"] = self.can_remove(req)
        if self.profile.profile_name and not single and req.profile_id is not None:
            kind = "radarr" if req.type == "movie" else "sonarr"
            server = next((s for s in self.servers[kind] if s.id == req.server_id), None)
            if server is not None:
                out["profileName"] = server.active_profile_name
        return out

    def render_title(self, title: SeerrTitle) -> dict[str, Any]:
        media = self.media.get((title.media_type, title.tmdb_id))
        common: dict[str, Any] = {
            "id": title.tmdb_id,
            "backdropPath": f"/backdrop{title.tmdb_id}.jpg",
            "posterPath": f"/poster{title.tmdb_id}.jpg",
            "genres": [],
            "homepage": "",
            "relatedVideos": [],
            "originalLanguage": title.original_language,
            "overview": title.overview,
            "popularity": 10.0,
            "productionCompanies": [],
            "productionCountries": [],
            "spokenLanguages": [],
            "status": "Released" if title.media_type == "movie" else "Returning Series",
            "tagline": "",
            "voteAverage": 7.0,
            "voteCount": 100,
            "credits": {"cast": [], "crew": []},
            "keywords": [],
            "watchProviders": [],
            "onUserWatchlist": False,
        }
        if title.media_type == "movie":
            common.update({
                "adult": False,
                "budget": 0,
                "imdbId": title.imdb_id,
                "originalTitle": title.original_title,
                "releaseDate": title.date or "",
                "releases": {"results": []},
                "revenue": 0,
                "runtime": title.runtime,
                "title": title.title,
                "video": False,
                "externalIds": {"facebookId": None, "imdbId": title.imdb_id,
                                "instagramId": None, "twitterId": None},
            })
            if common["imdbId"] is None:
                del common["imdbId"]
        else:
            seasons = [{
                "airDate": title.date,
                "episodeCount": count,
                "id": title.tmdb_id * 100 + number,
                "name": "Specials" if number == 0 else f"Season {number}",
                "overview": "",
                "seasonNumber": number,
                "posterPath": f"/season{title.tmdb_id}-{number}.jpg",
            } for number, count in sorted(title.seasons.items())]
            common.update({
                "createdBy": [],
                "episodeRunTime": [title.runtime],
                "firstAirDate": title.date or "",
                "inProduction": True,
                "languages": [title.original_language],
                "lastAirDate": title.date or "",
                "name": title.title,
                "networks": [],
                "numberOfEpisodes": sum(title.seasons.values()),
                "numberOfSeasons": len([n for n in title.seasons if n > 0]),
                "originCountry": [],
                "originalName": title.original_title,
                "contentRatings": {"results": []},
                "seasons": seasons,
                "type": "Scripted",
                "externalIds": {"facebookId": None, "freebaseId": None, "freebaseMid": None,
                                "imdbId": title.imdb_id, "instagramId": None,
                                "tvdbId": title.tvdb_id, "tvrageId": None, "twitterId": None},
            })
        if media is not None:
            common["mediaInfo"] = self.render_media(media, with_requests=True)
        return common


class _NoTitle:
    title = "untitled"


_NO_TITLE: Any = _NoTitle()


def _parse_js(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _check_type(media_type: str) -> None:
    if media_type not in ("movie", "tv"):
        raise ValueError(f"media_type must be 'movie' or 'tv', not {media_type!r}")


# Jellyseerr's request filters: request statuses, then media statuses (of the matching quality).
_ALL_REQ = (PENDING, APPROVED, DECLINED, FAILED, COMPLETED)
_FILTER_REQ: dict[str, tuple[int, ...]] = {
    "approved": (APPROVED,), "processing": (APPROVED,), "pending": (PENDING,),
    "unavailable": (PENDING, APPROVED), "failed": (FAILED,), "completed": (COMPLETED,),
    "available": (COMPLETED,), "deleted": (COMPLETED,),
}
_ALL_MEDIA = (MEDIA_UNKNOWN, MEDIA_PENDING, MEDIA_PROCESSING, MEDIA_PARTIALLY_AVAILABLE,
              MEDIA_AVAILABLE, MEDIA_DELETED)
_FILTER_MEDIA: dict[str, tuple[int, ...]] = {
    "available": (MEDIA_AVAILABLE,),
    "processing": (MEDIA_UNKNOWN, MEDIA_PENDING, MEDIA_PROCESSING, MEDIA_PARTIALLY_AVAILABLE),
    "unavailable": (MEDIA_UNKNOWN, MEDIA_PENDING, MEDIA_PROCESSING, MEDIA_PARTIALLY_AVAILABLE),
    "deleted": (MEDIA_DELETED,),
}


def _validation_error(path: str, message: str, **extra: str) -> Response:
    """express-openapi-validator's 400 (Seerr validates the query before the API key)."""
    return Response(400, {"message": message,
                          "errors": [{"path": path, "message": message, **extra}]})


class JellyseerrApp(App):
    service = "jellyseerr"
    server_header = ""
    case_insensitive = False

    def __init__(self, sw: JellyseerrWorld, api_key: str) -> None:
        self.sw = sw
        super().__init__(sw.world, api_key)

    def setup_routes(self) -> None:
        base = "/api/v1"
        self.route("GET", base + "/status", self.status, auth=False)
        self.route("GET", base + "/auth/me", self.me)
        self.route("GET", base + "/request", self.list_requests)
        self.route("GET", base + "/request/count", self.count_requests)
        self.route("GET", base + r"/request/(?P<id>[^/]+)", self.get_request)
        self.route("GET", base + "/media", self.list_media)
        self.route("GET", base + r"/movie/(?P<id>[^/]+)", self.get_movie)
        self.route("GET", base + r"/tv/(?P<id>[^/]+)", self.get_tv)
        self.route("GET", base + "/settings/radarr", self.settings_radarr)
        self.route("GET", base + "/settings/sonarr", self.settings_sonarr)
        # Seerr's image proxy (server/routes/imageproxy.ts): no key, a TMDB path behind it.
        self.route("GET", r"/imageproxy/tmdb/t/p/(?P<size>[a-z0-9_]+)/(?P<file>[A-Za-z0-9_-]+)"
                   r"\.(?:jpg|png)", self.imageproxy, auth=False)

    def authenticate(self, req: Request) -> bool:
        return req.header("X-Api-Key") == self.api_key

    def auth_scheme(self, req: Request) -> str | None:
        return "X-Api-Key" if req.header("X-Api-Key") is not None else None

    def unauthorized(self) -> Response:
        return Response(403, {"status": 403,
                              "error": "You do not have permission to access this endpoint"})

    def not_found(self, req: Request) -> Response:
        return Response(404, {"message": "not found",
                              "errors": [{"path": req.path, "message": "not found"}]})

    def error_response(self, status: int) -> Response:
        return Response(status, {"message": "Something went wrong."})

    def dispatch(self, req: Request) -> Response:
        # The OpenAPI validator runs first: an unknown parameter is 400 even with a wrong key,
        # and a missing key is its 401 "cookie 'connect.sid' required".
        # Its security check (is there a key at all?) comes first.
        route = next((r for r in self.routes if r.pattern.match(req.path)), None)
        if route is None:
            return self.not_found(req)
        if route.auth and req.header("X-Api-Key") is None:
            message = "cookie 'connect.sid' required"
            return Response(401, {"message": message,
                                  "errors": [{"path": req.path, "message": message}]})
        if req.method == "GET" and req.path.rstrip("/") == "/api/v1/request":
            bad = self._validate_request_query(req)
            if bad is not None:
                return bad
        return super().dispatch(req)

    def _validate_request_query(self, req: Request) -> Response | None:
        profile = self.sw.profile
        for name in req.query.raw:
            if name not in profile.request_params:
                return _validation_error(f".query.{name}", f"Unknown query parameter '{name}'")
        enums = {"filter": profile.filters, "sort": ("added", "modified"),
                 "sortDirection": ("asc", "desc"), "mediaType": ("movie", "tv", "all")}
        for name, allowed in enums.items():
            value = req.query.get(name)
            if value is not None and name in profile.request_params and value not in allowed:
                detail = "should be equal to one of the allowed values: " + ", ".join(allowed)
                return Response(400, {
                    "message": f"request.query.{name} {detail}",
                    "errors": [{"path": f".query.{name}", "message": detail,
                                "errorCode": "enum.openapi.validation"}]})
        for name in ("take", "skip", "requestedBy"):
            value = req.query.get(name)
            if value is not None and not re.fullmatch(r"-?\d+(\.\d+)?", value):
                return _validation_error(f".query.{name}",
                                         f"request.query.{name} should be number")
        return None

    # -- handlers ----------------------------------------------------------------------------

    def status(self, req: Request) -> Response:
        return Response(200, {"version": self.sw.version, "commitTag": self.sw.commit_tag,
                              "updateAvailable": False, "commitsBehind": 0,
                              "restartRequired": False})

    def me(self, req: Request) -> Response:
        with self.world.lock:
            return Response(200, self.sw.render_user(1, with_settings=True))

    def _selected(self, req: Request) -> list[SeerrRequest]:
        profile = self.sw.profile
        flt = req.query.get("filter") or "all"
        req_statuses = _FILTER_REQ.get(flt, _ALL_REQ)
        media_statuses = _FILTER_MEDIA.get(flt, _ALL_MEDIA)
        if flt == "available" and not profile.has_completed:
            req_statuses = (APPROVED,)
        if flt == "all" and profile.all_hides_completed:  # 2.2.x
            req_statuses = tuple(s for s in req_statuses if s != COMPLETED)
            media_statuses = tuple(s for s in media_statuses if s != MEDIA_DELETED)
        media_type = req.query.get("mediaType") or "all"
        requested_by = req.query.get_int("requestedBy")
        out = []
        for r in self.sw.requests.values():
            if r.status not in req_statuses:
                continue
            mstatus = r.media.status4k if r.is4k else r.media.status
            if mstatus not in media_statuses:
                continue
            if media_type != "all" and r.type != media_type:
                continue
            if requested_by is not None and r.requested_by != requested_by:
                continue
            out.append(r)
        return out

    def _order(self, rows: list[Any], sort: str, descending: bool, take: int) -> None:
        """Sort in place: by id (`added`) or `updatedAt` (`modified`). Ties in `updatedAt`
        come out by id, or (3.1.0) in an order seeded by the world's seed and `take`: stable
        while paging with one `take`, different for another, as measured."""
        if sort != "modified":
            rows.sort(key=lambda r: r.id, reverse=descending)
            return
        if not self.sw.profile.shuffle_ties:
            rows.sort(key=lambda r: (r.updated_at, r.id), reverse=descending)
            return
        rng = random.Random(f"{self.world.seed}/{take}")
        tiebreak = {r.id: rng.random() for r in sorted(rows, key=lambda r: r.id)}
        rows.sort(key=lambda r: (r.updated_at.replace(microsecond=r.updated_at.microsecond
                                                      // 1000 * 1000), tiebreak[r.id]),
                  reverse=descending)

    def list_requests(self, req: Request) -> Response:
        take = req.query.get_int("take", 10) or 10
        skip = max(0, req.query.get_int("skip", 0) or 0)
        sort = req.query.get("sort") or "added"
        descending = (req.query.get("sortDirection") or "desc") != "asc"
        with self.world.lock:
            down = [s for s in self.sw.servers["sonarr"] + self.sw.servers["radarr"]
                    if not s.reachable]
            if down and self.sw.profile.list_fails_on_arr_error:
                kind = down[0].kind.capitalize()
                return Response(500, {"message": f"[{kind}] Failed to retrieve profiles: "
                                                 "fetch failed"})
            selected = self._selected(req)
            self._order(selected, sort, descending, take)
            page = selected[skip:skip + take]
            total = len(selected)
            results = [self.sw.render_request(r) for r in page]
            body: dict[str, Any] = {
                "pageInfo": {"pages": math.ceil(total / take), "pageSize": take,
                             "results": total, "page": math.ceil(skip / take) + 1},
                "results": results,
            }
            if self.sw.profile.service_errors:
                body["serviceErrors"] = {
                    kind: [{"id": s.id, "name": s.name} for s in servers if not s.reachable]
                    for kind, servers in self.sw.servers.items()}
        return Response(200, body)

    def count_requests(self, req: Request) -> Response:
        with self.world.lock:
            reqs = list(self.sw.requests.values())

            def mstatus(r: SeerrRequest) -> int:
                return r.media.status4k if r.is4k else r.media.status

            body = {
                "total": len(reqs),
                "movie": sum(1 for r in reqs if r.type == "movie"),
                "tv": sum(1 for r in reqs if r.type == "tv"),
                "pending": sum(1 for r in reqs if r.status == PENDING),
                "approved": sum(1 for r in reqs if r.status == APPROVED),
                "declined": sum(1 for r in reqs if r.status == DECLINED),
                "processing": sum(1 for r in reqs if r.status == APPROVED
                                  and mstatus(r) != MEDIA_AVAILABLE),
                # as the real servers count: APPROVED requests whose media is available
                "available": sum(1 for r in reqs if r.status == APPROVED
                                 and mstatus(r) == MEDIA_AVAILABLE),
            }
            if self.sw.profile.count_completed:
                body["completed"] = sum(1 for r in reqs if r.status == COMPLETED)
            return Response(200, body)

    def get_request(self, req: Request) -> Response:
        rid = req.params["id"]
        with self.world.lock:
            found = self.sw.requests.get(int(rid)) if rid.isdigit() else None
            if found is None:
                return Response(404, {"message": "Request not found."})
            return Response(200, self.sw.render_request(found, single=True))

    def list_media(self, req: Request) -> Response:
        """`GET /api/v1/media`: `sort=added` (default, by id) or `modified` (`updatedAt`),
        newest first; `filter` by media status as Seerr does."""
        take = req.query.get_int("take", 20) or 20
        skip = max(0, req.query.get_int("skip", 0) or 0)
        sort = req.query.get("sort") or "added"
        flt = req.query.get("filter") or "all"
        wanted = {"available": (MEDIA_AVAILABLE,),
                  "partial": (MEDIA_PARTIALLY_AVAILABLE,),
                  "processing": (MEDIA_PROCESSING,), "pending": (MEDIA_PENDING,),
                  "allavailable": (MEDIA_AVAILABLE, MEDIA_PARTIALLY_AVAILABLE),
                  "deleted": (MEDIA_DELETED,)}.get(flt)
        with self.world.lock:
            rows = [m for m in self.sw.media.values()
                    if (wanted is None and m.status != MEDIA_BLOCKLISTED)
                    or (wanted is not None and m.status in wanted)]
            if sort == "modified":
                rows.sort(key=lambda m: (m.updated_at, m.id), reverse=True)
            else:
                rows.sort(key=lambda m: m.id, reverse=True)
            total = len(rows)
            results = [self.sw.render_media(m, with_seasons=True)
                       for m in rows[skip:skip + take]]
        return Response(200, {
            "pageInfo": {"pages": math.ceil(total / take), "pageSize": take, "results": total,
                         "page": math.ceil(skip / take) + 1},
            "results": results})

    def _settings(self, kind: str) -> Response:
        with self.world.lock:
            return Response(200, [s.render(self.sw.profile.flavour)
                                  for s in self.sw.servers[kind]])

    def settings_radarr(self, req: Request) -> Response:
        return self._settings("radarr")

    def settings_sonarr(self, req: Request) -> Response:
        return self._settings("sonarr")

    def _title(self, req: Request, media_type: str) -> Response:
        tid = req.params["id"]
        failed = {"message": "Unable to retrieve movie." if media_type == "movie"
                  else "Unable to retrieve series."}
        with self.world.lock:
            if self.sw.tmdb_down:
                return Response(500, failed)
            title = self.sw.titles.get((media_type, int(tid))) if tid.isdigit() else None
            if title is None:
                if self.sw.profile.title_errors_500:
                    return Response(500, failed)
                what = "Movie" if media_type == "movie" else "TV show"
                return Response(404, {"message": f"{what} not found."})
            return Response(200, self.sw.render_title(title))

    def imageproxy(self, req: Request) -> Response:
        """A TMDB poster through Seerr's image proxy: a made-up PNG for the file's name."""
        return Response(200, raw=posters.poster(req.params["file"]), content_type=posters.PNG)

    def get_movie(self, req: Request) -> Response:
        return self._title(req, "movie")

    def get_tv(self, req: Request) -> Response:
        return self._title(req, "tv")
