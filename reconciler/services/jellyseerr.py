"""Jellyseerr (and Seerr/Overseerr): the requests, their approval status and their titles."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.models import SeerrRequest, parse_time
from reconciler.services.http import NotFound, ServiceClient, require
from reconciler.services.parse import Fields

REQUEST_STATUSES = (1, 2, 3, 4, 5)
PAGE_SIZE = 100


@dataclass(frozen=True)
class RequestListing:
    """Requests seen this poll. `complete` when every page was read, so absence means removal."""

    requests: tuple[SeerrRequest, ...]
    complete: bool
    total: int


def parse_request(obj: object) -> SeerrRequest:
    f = Fields("jellyseerr", "/api/v1/request", obj)
    media = f.sub("media")
    media_type = f.enum("type", ("movie", "tv"))
    seasons = tuple(
        Fields("jellyseerr", "/api/v1/request seasons", s).integer("seasonNumber")
        for s in f.array("seasons")
    )
    return SeerrRequest(
        id=f.integer("id"),
        media_type=media_type,
        status=f.enum("status", REQUEST_STATUSES),
        tmdb_id=media.opt_int("tmdbId") if media else None,
        tvdb_id=media.opt_int("tvdbId") if media else None,
        is4k=f.flag("is4k"),
        seasons=seasons,
        external_service_id=(
            (media.opt_int("externalServiceId4k") if f.flag("is4k")
             else media.opt_int("externalServiceId")) if media else None
        ),
        updated_at=f.opt_text("updatedAt") or "",
        created_at=f.opt_text("createdAt") or "",
    )


class JellyseerrClient(ServiceClient):
    name = "jellyseerr"

    def is_not_found(self, status: int, body: bytes, path: str) -> bool:
        # Seerr answers an unknown TMDB id with 500 "Unable to retrieve movie." (or series).
        return (status == 500 and path.startswith(("/api/v1/movie/", "/api/v1/tv/"))
                and b"Unable to retrieve" in body)

    async def status(self) -> dict[str, object]:
        return dict(require(self.name, await self.get("/api/v1/status"), dict, "/api/v1/status"))

    async def list_requests(self, since: str | None = None,
                            page_size: int = PAGE_SIZE) -> RequestListing:
        """Requests, most recently modified first; stops early at `since` unless it is None."""
        found: dict[int, SeerrRequest] = {}
        cutoff = parse_time(since)
        skip = 0
        total = 0
        complete = False
        while True:
            data = require(self.name, await self.get("/api/v1/request", {
                "take": page_size, "skip": skip, "filter": "all",
                "sort": "modified", "sortDirection": "desc",
            }), dict, "/api/v1/request")
            info = Fields(self.name, "/api/v1/request pageInfo", data.get("pageInfo"))
            total = info.integer("results")
            results = Fields(self.name, "/api/v1/request", data).array("results")
            for obj in results:
                req = parse_request(obj)
                found[req.id] = req
            skip += len(results)
            if not results or skip >= total:
                complete = True
                break
            if cutoff is not None:
                oldest = parse_time(found[parse_request(results[-1]).id].updated_at)
                # The rest was seen before. Not at equal times: `updatedAt` has whole seconds, so
                # the next page may hold changes made in the second last seen, after that poll.
                if oldest is not None and oldest < cutoff:
                    break
            if skip > 1_000_000:  # a server that never stops paging
                break
        return RequestListing(tuple(found.values()), complete, total)

    async def request_exists(self, request_id: int) -> bool:
        try:
            await self.get(f"/api/v1/request/{request_id}")
        except NotFound:
            return False
        return True

    async def title(self, media_type: str, tmdb_id: int) -> str | None:
        """The display title, or None when Jellyseerr does not know the TMDB id."""
        path = f"/api/v1/movie/{tmdb_id}" if media_type == "movie" else f"/api/v1/tv/{tmdb_id}"
        try:
            data = await self.get(path)
        except NotFound:
            return None
        f = Fields(self.name, path, data)
        name = f.opt_text("title") if media_type == "movie" else f.opt_text("name")
        return name or f.opt_text("originalTitle") or f.opt_text("originalName")
