"""Jellyseerr, Seerr and Overseerr: the requests, their approval status and their titles.

The three validate every query against their own OpenAPI file and answer 400 to a parameter or
enum value that version lacks, so what is sent depends on the flavour and version read from
`GET /api/v1/status` (`SeerrProfile`). What differs, from their specs and source:

| server                       | sortDirection | mediaType | deleted, completed | updatedAt moves |
|------------------------------|---------------|-----------|--------------------|-----------------|
| Overseerr 1.x                | no            | no        | no                 | yes             |
| Jellyseerr 1.x to 2.1.x      | no            | no        | no                 | yes             |
| Jellyseerr 2.2.x to 2.5.x    | yes           | no        | no                 | yes             |
| Jellyseerr 2.6.x to 2.7.x    | yes           | yes       | yes                | **no**          |
| Seerr 3.x (at least 3.1.x)   | yes           | yes       | yes                | **no**          |

("deleted, completed": those two `filter` values.) Every version lists newest first without
`sortDirection` (`DESC` is the default, and Overseerr's only order). On 2.6+ `updatedAt` stays
the creation time (a MySQL-only `onUpdate`, seerr-team/seerr#2728, fixed by #2823 after
3.1.0), so status changes must be found by listing the non-final filters and reading by id
what left them (`poll_active`, `request_by_id`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.errors import BadResponse, NotFound, QueryRejected
from reconciler.models import MediaType, SeerrArrServer, SeerrRequest
from reconciler.services.http import ServiceClient, require
from reconciler.services.parse import Fields

REQUEST_STATUSES = (1, 2, 3, 4, 5)
MEDIA_TYPES = tuple(m.value for m in MediaType)
MEDIA_STATUSES = (1, 2, 3, 4, 5, 6, 7)
PAGE_SIZE = 100
NEWEST_PAGE = 20
# A title look-up waits on TMDB behind Seerr's rate-limited client: never let it hold a cycle.
TITLE_TIMEOUT = 4.0
# A TMDB image path as Seerr gives it ("/8Gxv8gSFCU0XGDykEGv7zR1n2ua.jpg"), and the size its
# title cards load (seerr src/components/TitleCard: `w300_and_h450_face`).
POSTER_PATH = re.compile(r"^/[A-Za-z0-9_-]{1,64}\.(?:jpg|jpeg|png|webp)$")
POSTER_SIZE = "w300_and_h450_face"
DETAILS_BYTES = 2 * 1024 * 1024  # a film's or show's details, read for its poster path

BASE_FILTERS = frozenset({"all", "approved", "available", "pending", "processing",
                          "unavailable", "failed"})
FILTERS_2_6 = BASE_FILTERS | {"deleted", "completed"}
SORTS = frozenset({"added", "modified"})
# The filters holding every request that can still change on its own: pending (waiting for
# approval) and processing (approved, media not yet available). Declined, failed, completed and
# available ones only change when someone acts on them, and `request_by_id` then tells.
ACTIVE_FILTERS = ("pending", "processing")
# (filter, sort) of each listing `poll_active` makes, in order; `reconcile doctor` sends these.
POLL_LISTINGS = (("all", "added"), *((f, "modified") for f in ACTIVE_FILTERS))

FLAVOURS = ("overseerr", "jellyseerr", "seerr", "unknown")
_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class TitleInfo:
    """A film's or show's display title and year (TMDB's release or first air date)."""

    title: str
    year: int | None = None


def _year(date: object) -> int | None:
    """The year of a TMDB date ("2024-02-27"); None when empty or not a date."""
    if not isinstance(date, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", date):
        return None
    year = int(date[:4])
    return year if 1870 <= year <= 2200 else None


@dataclass(frozen=True)
class SeerrServer:
    """What `/api/v1/status` says: the flavour, and the version (None for a develop build)."""

    flavour: str  # overseerr | jellyseerr | seerr | unknown
    version: tuple[int, int, int] | None
    version_text: str

    def describe(self) -> str:
        name = {"overseerr": "Overseerr", "jellyseerr": "Jellyseerr", "seerr": "Seerr"}.get(
            self.flavour, "Jellyseerr/Seerr/Overseerr (flavour unknown)")
        return f"{name} {self.version_text or 'of unknown version'}"


@dataclass(frozen=True)
class SeerrProfile:
    """What one server version accepts and does."""

    accepts_sort_direction: bool
    accepts_media_type: bool
    bumps_updated_at: bool  # approvals, declines, completions move `updatedAt`
    filters: frozenset[str]

    @classmethod
    def for_server(cls, server: SeerrServer) -> SeerrProfile:
        v = server.version
        if v is None or server.flavour == "unknown":
            # A develop build or an unreadable version: only what every version accepts, and
            # no trust in `updatedAt`.
            return cls(False, False, False, BASE_FILTERS)
        if server.flavour == "overseerr":
            return cls(False, False, True, BASE_FILTERS)
        if server.flavour == "seerr":
            # PR #2823 (after 3.1.0) fixes `updatedAt`; until a release is known to hold it,
            # every 3.x is treated as frozen, which is only slower, never wrong.
            return cls(True, True, False, FILTERS_2_6)
        since_2_6 = v >= (2, 6, 0)
        return cls(accepts_sort_direction=v >= (2, 2, 0), accepts_media_type=since_2_6,
                   bumps_updated_at=not since_2_6,
                   filters=FILTERS_2_6 if since_2_6 else BASE_FILTERS)


def parse_server(obj: object) -> SeerrServer:
    """Flavour and version from `/api/v1/status`. The body is the same on all three, so the
    version tells them apart: 3.x is Seerr, 2.x Jellyseerr, 1.10 and later Overseerr (its
    releases ran 1.0-1.34), 1.0-1.9 Jellyseerr (its 1.x releases; Overseerr's own 1.0-1.9 date
    from 2020-21 and behave the same here). Develop builds report `develop-<commit>`."""
    f = Fields("jellyseerr", "/api/v1/status", obj)
    text = f.opt_text("version") or ""
    match = _VERSION.match(text.strip())
    if match is None:
        return SeerrServer("unknown", None, text)
    version = (int(match[1]), int(match[2]), int(match[3]))
    major, minor = version[0], version[1]
    if major >= 3:
        flavour = "seerr"
    elif major == 2:
        flavour = "jellyseerr"
    elif major == 1:
        flavour = "overseerr" if minor >= 10 else "jellyseerr"
    else:
        flavour = "unknown"
    return SeerrServer(flavour, version, text)


def request_query(profile: SeerrProfile, *, filter: str = "all", sort: str = "modified",
                  take: int = PAGE_SIZE, skip: int = 0,
                  media_type: str | None = None) -> dict[str, Any]:
    """The `GET /api/v1/request` query for this version: only parameters and values it accepts.
    Shared by the client and `reconcile doctor`, so the two cannot drift."""
    if filter not in profile.filters:
        raise ValueError(f"filter={filter!r} is not accepted by this Jellyseerr version")
    if sort not in SORTS:
        raise ValueError(f"sort={sort!r} is not a Jellyseerr sort")
    query: dict[str, Any] = {"take": take, "skip": skip, "filter": filter, "sort": sort}
    if profile.accepts_sort_direction:
        query["sortDirection"] = "desc"
    if media_type is not None and media_type != "all" and profile.accepts_media_type:
        query["mediaType"] = media_type
    return query


@dataclass(frozen=True)
class RequestListing:
    """Requests seen this poll. `complete` when every page was read, so absence means removal."""

    requests: tuple[SeerrRequest, ...]
    complete: bool
    total: int


@dataclass(frozen=True)
class ActivePoll:
    """One steady-state poll: the newest requests by creation, and every request in a filter
    that can still change on its own (`ACTIVE_FILTERS`)."""

    newest: RequestListing
    active: RequestListing  # `complete` when every page of every active filter was read


def parse_request(obj: object) -> SeerrRequest:
    f = Fields("jellyseerr", "/api/v1/request", obj)
    media = f.sub("media")
    user = f.sub("requestedBy")
    media_type = MediaType(f.enum("type", MEDIA_TYPES))
    is4k = f.flag("is4k")
    seasons = tuple(
        Fields("jellyseerr", "/api/v1/request seasons", s).integer("seasonNumber")
        for s in f.array("seasons")
    )

    def media_int(key: str) -> int | None:
        return media.opt_int(key) if media else None

    def media_status(key: str) -> int | None:
        if media is None or media.obj.get(key) is None:
            return None
        return int(media.enum(key, MEDIA_STATUSES))

    def media_text(key: str) -> str | None:
        return media.opt_text(key) if media else None

    def user_text(key: str) -> str | None:
        return user.opt_text(key) if user else None

    hd, uhd = media_int("externalServiceId"), media_int("externalServiceId4k")
    return SeerrRequest(
        id=f.integer("id"),
        media_type=media_type,
        status=f.enum("status", REQUEST_STATUSES),
        tmdb_id=media_int("tmdbId"),
        tvdb_id=media_int("tvdbId"),
        is4k=is4k,
        seasons=seasons,
        external_service_id=uhd if is4k else hd,
        updated_at=f.time("updatedAt"),
        created_at=f.time("createdAt"),
        requested_by_id=user.opt_int("id") if user else None,
        requested_by_display_name=user_text("displayName"),
        requested_by_username=user_text("username"),
        requested_by_email=user_text("email"),
        requested_by_jellyfin_username=user_text("jellyfinUsername"),
        server_id=f.opt_int("serverId"),
        profile_id=f.opt_int("profileId"),
        root_folder=f.opt_text("rootFolder"),
        media_id=media_int("id"),
        media_status=media_status("status"),
        media_status_4k=media_status("status4k"),
        service_id=media_int("serviceId"),
        service_id_4k=media_int("serviceId4k"),
        external_service_id_hd=hd,
        external_service_id_4k=uhd,
        jellyfin_media_id=media_text("jellyfinMediaId"),
        jellyfin_media_id_4k=media_text("jellyfinMediaId4k"),
    )


class JellyseerrClient(ServiceClient):
    name = "jellyseerr"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server: SeerrServer | None = None
        self.profile: SeerrProfile | None = None

    async def status(self) -> dict[str, object]:
        return dict(require(self.name, await self.get("/api/v1/status"), dict, "/api/v1/status"))

    async def server_info(self) -> tuple[SeerrServer, SeerrProfile]:
        """Read the flavour and version (`/api/v1/status`, no key needed) and remember the
        profile the listings use. Called on first use; call again to re-detect after an
        upgrade (a listing refused with 400 forgets the profile, so the next one re-detects)."""
        server = parse_server(await self.status())
        self.server, self.profile = server, SeerrProfile.for_server(server)
        return server, self.profile

    async def _profile(self) -> SeerrProfile:
        if self.profile is None:
            return (await self.server_info())[1]
        return self.profile

    async def list_requests(self, since: datetime | None = None, page_size: int = PAGE_SIZE, *,
                            filter: str = "all", sort: str = "modified",
                            media_type: str | None = None,
                            max_pages: int | None = None) -> RequestListing:
        """Requests in `filter`, newest first by `sort` (`modified` = `updatedAt`, `added` =
        id). With `since` (sort=modified only) paging stops at requests older than it; with
        `max_pages` after that many pages. `media_type` is sent where the version accepts it,
        else applied here. Raises `QueryRejected` if the server refuses the query."""
        profile = await self._profile()
        found: dict[int, SeerrRequest] = {}
        cutoff = since if sort == "modified" else None
        skip = 0
        total = 0
        pages = 0
        complete = False
        while True:
            query = request_query(profile, filter=filter, sort=sort, take=page_size, skip=skip,
                                  media_type=media_type)
            try:
                data = require(self.name, await self.get("/api/v1/request", query), dict,
                               "/api/v1/request")
            except QueryRejected:
                self.profile = None  # upgraded or downgraded under us: read the version again
                raise
            pages += 1
            info = Fields(self.name, "/api/v1/request pageInfo", data.get("pageInfo"))
            total = info.integer("results")
            results = Fields(self.name, "/api/v1/request", data).array("results")
            page = [parse_request(obj) for obj in results]
            for req in page:
                found[req.id] = req
            skip += len(results)
            if not results or skip >= total:
                complete = True
                break
            if max_pages is not None and pages >= max_pages:
                break
            if cutoff is not None:
                oldest = page[-1].updated_at
                # The rest was seen before. Not at equal times: `updatedAt` has whole seconds, so
                # the next page may hold changes made in the second last seen, after that poll.
                if oldest is not None and oldest < cutoff:
                    break
            if skip > 1_000_000:  # a server that never stops paging
                break
        requests = tuple(found.values())
        if media_type not in (None, "all") and not profile.accepts_media_type:
            requests = tuple(r for r in requests if r.media_type == media_type)
        return RequestListing(requests, complete, total)

    async def poll_active(self, newest: int = NEWEST_PAGE, page_size: int = PAGE_SIZE,
                          max_pages: int | None = None) -> ActivePoll:
        """The steady-state Jellyseerr poll, independent of `updatedAt`: the first page of
        `filter=all&sort=added` (new requests: ids only grow) and every page of each of
        `ACTIVE_FILTERS`. A request seen before that is in neither has changed or gone: read it
        with `request_by_id`. Three calls while fewer than `page_size` requests are active."""
        (new_filter, new_sort), *active = POLL_LISTINGS
        latest = await self.list_requests(filter=new_filter, sort=new_sort, page_size=newest,
                                          max_pages=1)
        found: dict[int, SeerrRequest] = {}
        complete = True
        total = 0
        for name, sort in active:
            listing = await self.list_requests(filter=name, sort=sort, page_size=page_size,
                                               max_pages=max_pages)
            found.update((r.id, r) for r in listing.requests)
            complete = complete and listing.complete
            total += listing.total
        return ActivePoll(latest, RequestListing(tuple(found.values()), complete, total))

    async def request_by_id(self, request_id: int) -> SeerrRequest | None:
        """One request by id (any status, blocklisted media included), or None when Seerr
        answers 404 "Request not found." (deleted)."""
        path = f"/api/v1/request/{request_id}"
        try:
            data = await self.get(path)
        except NotFound:
            return None
        return parse_request(require(self.name, data, dict, path))

    async def title_info(self, media_type: MediaType, tmdb_id: int,
                         timeout: float = TITLE_TIMEOUT) -> TitleInfo | None:
        """The display title and year; None when Jellyseerr answers 404 for the TMDB id. Seerr
        answers `500 "Unable to retrieve movie."` (`series.`) for *every* TMDB failure, an
        outage as much as an unknown id, so that is `ServiceUnavailable` like any failed call.
        Bounded by `timeout` seconds (`TITLE_TIMEOUT`), retries included."""
        film = media_type is MediaType.MOVIE
        path = f"/api/v1/movie/{tmdb_id}" if film else f"/api/v1/tv/{tmdb_id}"
        try:
            data = await self.get(path, timeout=timeout)
        except NotFound:
            return None
        f = Fields(self.name, path, data)
        name = f.opt_text("title") if film else f.opt_text("name")
        name = name or f.opt_text("originalTitle") or f.opt_text("originalName")
        date = f.obj.get("releaseDate" if film else "firstAirDate")
        return TitleInfo(name, _year(date)) if name else None

    async def poster_path(self, media_type: MediaType, tmdb_id: int) -> str | None:
        """The TMDB poster path Jellyseerr gives for a film or show (`posterPath` of
        `/api/v1/movie|tv/{tmdb}`, "/abc.jpg"); None when it has none or does not know the id."""
        film = media_type is MediaType.MOVIE
        path = f"/api/v1/movie/{tmdb_id}" if film else f"/api/v1/tv/{tmdb_id}"
        try:
            body = await self.get_bytes(path, accept="application/json", max_bytes=DETAILS_BYTES,
                                        timeout=TITLE_TIMEOUT)
        except NotFound:
            return None
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise BadResponse(self.name, f"malformed JSON from {path}") from exc
        poster = Fields(self.name, path, data).opt_text("posterPath")
        return poster if poster and POSTER_PATH.match(poster) else None

    async def poster(self, poster_path: str, size: str = POSTER_SIZE) -> bytes:
        """A TMDB poster through Jellyseerr's own image proxy (`/imageproxy/tmdb/t/p/SIZE/PATH`,
        what its pages load when it caches images; it fetches from image.tmdb.org and keeps a
        copy), so reconciler reaches no host but the configured services."""
        if not POSTER_PATH.match(poster_path):
            raise ValueError(f"not a TMDB poster path: {poster_path!r}")
        return await self.get_bytes(f"/imageproxy/tmdb/t/p/{size}{poster_path}")

    async def arr_servers(self, kind: str) -> list[SeerrArrServer]:
        """The Radarr (`kind="radarr"`) or Sonarr servers in Jellyseerr's settings
        (`GET /api/v1/settings/radarr|sonarr`, admin only): id, name, quality, default, where.
        Their API keys, which the answer carries, are not read."""
        path = f"/api/v1/settings/{kind}"
        data = require(self.name, await self.get(path), list, path)
        return [parse_arr_server(obj, path) for obj in data]


def parse_arr_server(obj: object, path: str) -> SeerrArrServer:
    f = Fields("jellyseerr", path, obj)
    return SeerrArrServer(
        id=f.integer("id"), name=f.opt_text("name") or "", is4k=f.flag("is4k"),
        is_default=f.flag("isDefault"), hostname=f.opt_text("hostname") or "",
        port=f.opt_int("port"), base_url=f.opt_text("baseUrl") or "", use_ssl=f.flag("useSsl"))
