"""Fake Jellyseerr (API v1, Jellyseerr 2.7 / Seerr shapes).

World verbs (`world.jellyseerr`):

- `add_request(tmdb_id, media_type="movie", title=None, *, tvdb_id=None, imdb_id=None,
  status=APPROVED, seasons=None, is4k=False, external_service_id=None, requested_by=1,
  media_status=None, server_id=0, profile_id=1, root_folder=None, jellyfin_media_id=None,
  is_auto_request=False) -> request_id`. One `media` row per (media_type, tmdb_id), shared by its
  requests, as in Jellyseerr. Default media status: PENDING for a pending request, else
  PROCESSING. Registers title details (for `/movie/{id}`, `/tv/{id}`) when unknown.
- `set_request_status(request_id, status, *, modified_by=1)`, `set_season_status(request_id,
  season_number, status)`, `update_request(request_id, **fields)`, `touch_request(request_id)`,
  `delete_request(request_id)`: each bumps the request's `updatedAt` (except delete).
- `set_media_status(tmdb_id, status, *, media_type=None, is4k=False, complete_requests=True)`:
  bumps the media's `updatedAt`; reaching AVAILABLE also marks the media's APPROVED requests
  COMPLETED (and bumps their `updatedAt`), as Jellyseerr >= 2.6 does.
- `update_media(tmdb_id, *, media_type=None, **fields)`: e.g. `external_service_id`,
  `jellyfin_media_id`, `status4k` (bumps the media's `updatedAt`).
- `add_title(tmdb_id, media_type, title, ...)`, `add_user(username, ...) -> user_id`.

Constants: request status PENDING=1, APPROVED=2, DECLINED=3, FAILED=4, COMPLETED=5; media status
MEDIA_UNKNOWN=1, MEDIA_PENDING=2, MEDIA_PROCESSING=3, MEDIA_PARTIALLY_AVAILABLE=4,
MEDIA_AVAILABLE=5, MEDIA_BLOCKLISTED=6, MEDIA_DELETED=7.

HTTP (`X-Api-Key`): a wrong or missing key gets **403**
`{"message":"You do not have permission to access this endpoint"}` like the real server (the
`unauthorized` fault answers the same). `GET /api/v1/status` needs no key.

Spec vs. reality: the real server sends `serverId`/`profileId`/`rootFolder` null on some TV
requests and `plexUsername`/`username` null for Jellyfin users, which the published schema does
not allow; the fake defaults them to schema-valid values (0, 1, "/movies" or "/tv", the user name)
and omits `plexUsername`. Pass `server_id=None` etc. to get the real nulls.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simstack._base import SubWorld
from simstack._util import hex_id, iso_js
from simstack.clock import Clock
from simstack.server import App, Request, Response

PENDING, APPROVED, DECLINED, FAILED, COMPLETED = 1, 2, 3, 4, 5
(MEDIA_UNKNOWN, MEDIA_PENDING, MEDIA_PROCESSING, MEDIA_PARTIALLY_AVAILABLE, MEDIA_AVAILABLE,
 MEDIA_BLOCKLISTED, MEDIA_DELETED) = 1, 2, 3, 4, 5, 6, 7

_UNSET: Any = object()


@dataclass(eq=False)
class SeerrUser:
    id: int
    username: str
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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "untitled"


class JellyseerrWorld(SubWorld):
    """Jellyseerr's requests, media, titles and users. See the module docstring."""

    version = "2.7.3"
    commit_tag = "v2.7.3"
    radarr_url = "http://radarr:7878"
    sonarr_url = "http://sonarr:8989"
    jellyfin_url = "http://jellyfin:8096"
    jellyfin_server_id = "05647f36ec63477298d28772721b3d1b"

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        self.requests: dict[int, SeerrRequest] = {}
        self.media: dict[tuple[str, int], SeerrMedia] = {}
        self.titles: dict[tuple[str, int], SeerrTitle] = {}
        self.users: dict[int, SeerrUser] = {}
        self._next_request = 1
        self._next_media = 1
        self._next_season = 1
        self._next_user = 1
        self.add_user("admin", permissions=2)

    # -- users and titles --------------------------------------------------------------------

    def add_user(self, username: str, *, email: str | None = None, permissions: int = 32,
                 user_type: int = 3) -> int:
        with self.lock:
            uid = self._next_user
            self._next_user += 1
            now = self.now
            self.users[uid] = SeerrUser(uid, username, email or f"{username}@example.org",
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
                    is_auto_request: bool = False, tags: list[int] | None = None) -> int:
        _check_type(media_type)
        with self.lock:
            now = self.now
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
            if external_service_id is not None:
                self._set_external(media, external_service_id, is4k)
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
                server_id = 0
            if root_folder is _UNSET:
                root_folder = "/movies" if media_type == "movie" else "/tv"
            self.requests[rid] = SeerrRequest(
                rid, status, media, media_type, is4k, now, now, requested_by,
                requested_by if status != PENDING else None, server_id, profile_id, root_folder,
                season_list, None, tags if tags is not None else [], is_auto_request)
            return rid

    def _set_external(self, media: SeerrMedia, service_id: int, is4k: bool) -> None:
        slug = str(media.tmdb_id) if media.media_type == "movie" else _slug(
            self.titles.get((media.media_type, media.tmdb_id), _NO_TITLE).title)
        if is4k:
            media.external_service_id4k = service_id
            media.external_service_slug4k = slug
            media.service_id4k = 0
        else:
            media.external_service_id = service_id
            media.external_service_slug = slug
            media.service_id = 0

    def get_request(self, request_id: int) -> SeerrRequest:
        with self.lock:
            try:
                return self.requests[request_id]
            except KeyError:
                raise KeyError(f"no Jellyseerr request {request_id}") from None

    def set_request_status(self, request_id: int, status: int, *, modified_by: int = 1) -> None:
        with self.lock:
            req = self.get_request(request_id)
            req.status = status
            req.modified_by = modified_by
            for season in req.seasons:
                season.status = status
                season.updated_at = self.now
            req.updated_at = self.now
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
                    season.updated_at = self.now
                    break
            else:
                raise KeyError(f"request {request_id} has no season {season_number}")
            req.updated_at = self.now

    def update_request(self, request_id: int, **fields: Any) -> None:
        """Set `SeerrRequest` attributes (e.g. `profile_id`, `root_folder`, `is4k`)."""
        with self.lock:
            req = self.get_request(request_id)
            for name, value in fields.items():
                if not hasattr(req, name) or name in ("id", "media"):
                    raise AttributeError(f"SeerrRequest has no settable field {name!r}")
                setattr(req, name, value)
            req.updated_at = self.now

    def touch_request(self, request_id: int) -> None:
        with self.lock:
            self.get_request(request_id).updated_at = self.now

    def delete_request(self, request_id: int) -> None:
        with self.lock:
            self.get_request(request_id)
            del self.requests[request_id]

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
        with self.lock:
            media = self.get_media(tmdb_id, media_type)
            self._set_media_status(media, status, is4k)
            if complete_requests and status == MEDIA_AVAILABLE:
                for req in self.requests.values():
                    if req.media is media and req.is4k == is4k and req.status == APPROVED:
                        req.status = COMPLETED
                        for season in req.seasons:
                            season.status = COMPLETED
                            season.updated_at = self.now
                        req.updated_at = self.now

    def _set_media_status(self, media: SeerrMedia, status: int, is4k: bool) -> None:
        now = self.now
        if is4k:
            media.status4k = status
        else:
            media.status = status
        if status in (MEDIA_AVAILABLE, MEDIA_PARTIALLY_AVAILABLE) and media.media_added_at is None:
            media.media_added_at = now
        media.updated_at = now

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
            media.updated_at = self.now

    # -- rendering ---------------------------------------------------------------------------

    def render_user(self, user_id: int | None) -> dict[str, Any] | None:
        if user_id is None:
            return None
        user = self.users.get(user_id)
        if user is None:
            return None
        count = sum(1 for r in self.requests.values() if r.requested_by == user_id)
        return {
            "permissions": user.permissions,
            "warnings": [],
            "id": user.id,
            "email": user.email,
            "jellyfinUsername": user.username,
            "username": user.username,
            "recoveryLinkExpirationDate": None,
            "userType": user.user_type,
            "plexId": None,
            "jellyfinUserId": user.jellyfin_user_id,
            "avatar": f"/avatarproxy/{user.jellyfin_user_id}?v=1757624411000",
            "movieQuotaLimit": None,
            "movieQuotaDays": None,
            "tvQuotaLimit": None,
            "tvQuotaDays": None,
            "createdAt": iso_js(user.created_at),
            "updatedAt": iso_js(user.updated_at),
            "requestCount": count,
            "displayName": user.username,
        }

    def render_media(self, media: SeerrMedia, *, with_requests: bool = False) -> dict[str, Any]:
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
            "jellyfinMediaId": media.jellyfin_media_id,
            "jellyfinMediaId4k": media.jellyfin_media_id4k,
        }
        if with_requests:
            out["requests"] = [self.render_request(r) for r in sorted(
                self.requests.values(), key=lambda r: r.id) if r.media is media]
        if media.jellyfin_media_id:
            out["mediaUrl"] = (f"{self.jellyfin_url}/web/index.html#!/details?id="
                               f"{media.jellyfin_media_id}&context=home&serverId="
                               f"{self.jellyfin_server_id}")
        if media.service_id is not None and media.external_service_slug:
            base = self.radarr_url if media.media_type == "movie" else self.sonarr_url
            kind = "movie" if media.media_type == "movie" else "series"
            out["serviceUrl"] = f"{base}/{kind}/{media.external_service_slug}"
        return out

    def render_request(self, req: SeerrRequest) -> dict[str, Any]:
        return {
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
            "media": self.render_media(req.media),
            "seasons": [{
                "id": s.id,
                "seasonNumber": s.season_number,
                "status": s.status,
                "createdAt": iso_js(s.created_at),
                "updatedAt": iso_js(s.updated_at),
            } for s in req.seasons],
            "modifiedBy": self.render_user(req.modified_by),
            "requestedBy": self.render_user(req.requested_by),
            "seasonCount": len(req.seasons),
            "canRemove": True,
        }

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
        self.route("GET", base + r"/movie/(?P<id>[^/]+)", self.get_movie)
        self.route("GET", base + r"/tv/(?P<id>[^/]+)", self.get_tv)

    def authenticate(self, req: Request) -> bool:
        return req.header("X-Api-Key") == self.api_key

    def auth_scheme(self, req: Request) -> str | None:
        return "X-Api-Key" if req.header("X-Api-Key") is not None else None

    def unauthorized(self) -> Response:
        return Response(403, {"message": "You do not have permission to access this endpoint"})

    def not_found(self, req: Request) -> Response:
        return Response(404, {"message": "Not Found", "errors": []})

    def error_response(self, status: int) -> Response:
        return Response(status, {"message": "Something went wrong."})

    # -- handlers ----------------------------------------------------------------------------

    def status(self, req: Request) -> Response:
        return Response(200, {"version": self.sw.version, "commitTag": self.sw.commit_tag,
                              "updateAvailable": False, "commitsBehind": 0,
                              "restartRequired": False})

    def me(self, req: Request) -> Response:
        with self.world.lock:
            return Response(200, self.sw.render_user(1))

    def _selected(self, req: Request) -> list[SeerrRequest]:
        flt = req.query.get("filter") or "all"
        req_statuses = _FILTER_REQ.get(flt, _ALL_REQ)
        media_statuses = _FILTER_MEDIA.get(flt, _ALL_MEDIA)
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

    def list_requests(self, req: Request) -> Response:
        take = req.query.get_int("take", 10) or 10
        skip = max(0, req.query.get_int("skip", 0) or 0)
        sort = req.query.get("sort") or "added"
        descending = (req.query.get("sortDirection") or "desc") != "asc"
        with self.world.lock:
            selected = self._selected(req)
            if sort == "modified":
                selected.sort(key=lambda r: (r.updated_at, r.id), reverse=descending)
            else:
                selected.sort(key=lambda r: r.id, reverse=descending)
            page = selected[skip:skip + take]
            total = len(selected)
            results = [self.sw.render_request(r) for r in page]
        return Response(200, {
            "pageInfo": {"pages": math.ceil(total / take), "pageSize": take, "results": total,
                         "page": math.ceil(skip / take) + 1},
            "results": results,
            "serviceErrors": {"radarr": [], "sonarr": []},
        })

    def count_requests(self, req: Request) -> Response:
        with self.world.lock:
            reqs = list(self.sw.requests.values())

            def mstatus(r: SeerrRequest) -> int:
                return r.media.status4k if r.is4k else r.media.status

            return Response(200, {
                "total": len(reqs),
                "movie": sum(1 for r in reqs if r.type == "movie"),
                "tv": sum(1 for r in reqs if r.type == "tv"),
                "pending": sum(1 for r in reqs if r.status == PENDING),
                "approved": sum(1 for r in reqs if r.status == APPROVED),
                "declined": sum(1 for r in reqs if r.status == DECLINED),
                "processing": sum(1 for r in reqs if r.status == APPROVED
                                  and mstatus(r) != MEDIA_AVAILABLE),
                "available": sum(1 for r in reqs if mstatus(r) == MEDIA_AVAILABLE),
                "completed": sum(1 for r in reqs if r.status == COMPLETED),
            })

    def get_request(self, req: Request) -> Response:
        rid = req.params["id"]
        with self.world.lock:
            found = self.sw.requests.get(int(rid)) if rid.isdigit() else None
            if found is None:
                return Response(404, {"message": "Request not found."})
            return Response(200, self.sw.render_request(found))

    def _title(self, req: Request, media_type: str) -> Response:
        tid = req.params["id"]
        with self.world.lock:
            title = self.sw.titles.get((media_type, int(tid))) if tid.isdigit() else None
            if title is None:
                what = "Movie" if media_type == "movie" else "TV show"
                return Response(404, {"message": f"{what} not found."})
            return Response(200, self.sw.render_title(title))

    def get_movie(self, req: Request) -> Response:
        return self._title(req, "movie")

    def get_tv(self, req: Request) -> Response:
        return self._title(req, "tv")
