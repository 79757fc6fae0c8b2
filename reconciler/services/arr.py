"""What Radarr and Sonarr share: the queue, the history feed, tags and system status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.errors import NotFound, ServiceUnavailable
from reconciler.models import HistoryEvent, QueueRecord
from reconciler.services.http import ServiceClient, require
from reconciler.services.parse import Fields

QUEUE_STATUSES = frozenset({
    "unknown", "queued", "paused", "downloading", "completed", "failed", "warning", "delay",
    "downloadClientUnavailable", "fallback",
})
TRACKED_STATUSES = frozenset({"ok", "warning", "error"})
TRACKED_STATES = frozenset({
    "downloading", "importBlocked", "importPending", "importing", "imported", "failedPending",
    "failed", "ignored",
})
QUEUE_PAGE_SIZE = 500


def _lower_first(value: str) -> str:
    return value[:1].lower() + value[1:] if value else value


def parse_queue_record(service: str, obj: object) -> QueueRecord:
    f = Fields(service, "/api/v3/queue", obj)
    # Radarr and Sonarr send these enums in camelCase; be lenient about the first letter only.
    status = _lower_first(f.text("status"))
    if status not in {s for s in QUEUE_STATUSES} | {s.lower() for s in QUEUE_STATUSES}:
        raise f.bad("status", f"has an unknown value {status!r}")
    tracked_status = _lower_first(f.opt_text("trackedDownloadStatus") or "ok")
    if tracked_status not in TRACKED_STATUSES:
        raise f.bad("trackedDownloadStatus", f"has an unknown value {tracked_status!r}")
    tracked_state = _lower_first(f.opt_text("trackedDownloadState") or "downloading")
    if tracked_state not in TRACKED_STATES:
        raise f.bad("trackedDownloadState", f"has an unknown value {tracked_state!r}")
    messages: list[str] = []
    for m in f.array("statusMessages"):
        mf = Fields(service, "/api/v3/queue statusMessages", m)
        texts = [t for t in mf.array("messages") if isinstance(t, str)]
        messages += texts or [mf.opt_text("title") or ""]
    error = f.opt_text("errorMessage")
    if error:
        messages.append(error)
    return QueueRecord(
        download_id=f.opt_text("downloadId") or f"queue-{f.integer('id')}",
        status=status,
        tracked_status=tracked_status,
        tracked_state=tracked_state,
        size=f.number("size"),
        sizeleft=f.number("sizeleft"),
        title=f.opt_text("title") or "",
        messages=tuple(m for m in messages if m),
        movie_id=f.opt_int("movieId"),
        series_id=f.opt_int("seriesId"),
        episode_id=f.opt_int("episodeId"),
        estimated_completion=f.time("estimatedCompletionTime"),
    )


def _unique(service: str, data: list[Any]) -> list[QueueRecord]:
    """Queue records, each id once."""
    seen: dict[int, QueueRecord] = {}
    for obj in data:
        f = Fields(service, "/api/v3/queue/details", obj)
        seen.setdefault(f.integer("id"), parse_queue_record(service, obj))
    return list(seen.values())


def parse_history_event(service: str, obj: object) -> HistoryEvent:
    f = Fields(service, "/api/v3/history", obj)
    data = f.obj.get("data") if isinstance(f.obj.get("data"), dict) else {}
    message = ""
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("reason") or "")
    event_type = f.obj.get("eventType")
    if not isinstance(event_type, str):
        raise f.bad("eventType", "is missing or not a string")
    return HistoryEvent(
        id=f.integer("id"),
        event_type=event_type,
        date=f.time("date", required=True),
        movie_id=f.opt_int("movieId"),
        series_id=f.opt_int("seriesId"),
        episode_id=f.opt_int("episodeId"),
        source_title=f.opt_text("sourceTitle") or "",
        message=message,
    )


class ArrClient(ServiceClient):
    """Shared calls of the *arr v3 API."""

    # The unpaged queue's parameters, and the paged fallback's (without the per-record movie,
    # series or episode resources, which reconciler never reads).
    details_include: dict[str, object] = {}
    queue_include: dict[str, object] = {}
    # The known upstream bug that answers 500 on both queue endpoints (see `queue`).
    queue_bug: str = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue_details_missing = False  # set when /queue/details answered 404

    async def system_status(self) -> dict[str, object]:
        return dict(require(self.name, await self.get("/api/v3/system/status"), dict,
                            "/api/v3/system/status"))

    async def queue(
        self, page_size: int = QUEUE_PAGE_SIZE
    ) -> tuple[list[QueueRecord], datetime | None]:
        """Every queue record, each once, and the server's clock (its `Date` header), which the
        history watermark is taken from.

        Read unpaged from `GET /api/v3/queue/details` (Radarr `QueueDetailsController.GetQueue(
        int? movieId, bool includeMovie = false)`, Sonarr `GetQueue(int? seriesId, episodeIds,
        includeSeries = false, includeEpisode = false)`, both since their v3 API): the queue and
        the pending releases in one answer, so nothing moves between pages. The paged
        `/api/v3/queue` sorts by `timeleft` by default, an order that changes while downloads
        progress, so a record can move to a page already read (skipped) or to one not yet read
        (seen twice); and past the last page the servers serve the last page again. Where
        details answers 404 (a proxy allowing only some paths, a fork), the paged queue is read
        instead, sorted by `added` ascending (new downloads land on the last page) and
        de-duplicated by record id, stopping at the total or at a page with nothing new."""
        if not self.queue_details_missing:
            try:
                response = await self.request("GET", "/api/v3/queue/details",
                                              params=self.details_include or None)
            except NotFound:
                self.queue_details_missing = True
            except ServiceUnavailable as exc:
                if exc.status != 500:
                    raise
                return await self._queue_after_500(page_size)
            else:
                data = require(self.name, response.data, list, "/api/v3/queue/details")
                return _unique(self.name, data), response.server_date
        return await self.queue_paged(page_size)

    async def _queue_after_500(
        self, page_size: int
    ) -> tuple[list[QueueRecord], datetime | None]:
        """`/queue/details` answered 500: the paged queue, once. Both answer 500 while a known
        bug holds (a pending release whose next RSS sync `TaskManager.GetNextExecution` cannot
        find: Radarr's and Sonarr's `PendingReleaseService.GetPendingQueue`, which both
        endpoints call); that failure names the bug (`queue_bug`), and the server is unknown
        for the poll, as for any failure."""
        try:
            return await self.queue_paged(page_size)
        except ServiceUnavailable as exc:
            if exc.status != 500:
                raise
            raise ServiceUnavailable(
                self.name, "HTTP 500 from /api/v3/queue/details and /api/v3/queue: "
                + (f"{exc.reason}; " if exc.reason else "") + self.queue_bug, 500,
                exc.reason) from exc

    async def queue_paged(
        self, page_size: int = QUEUE_PAGE_SIZE
    ) -> tuple[list[QueueRecord], datetime | None]:
        """The paged queue in a stable order, each record once (see `queue`)."""
        seen: dict[int, QueueRecord] = {}
        page = 1
        server_date = None
        while True:
            response = await self.request("GET", "/api/v3/queue", params={
                "page": page, "pageSize": page_size, "sortKey": "added",
                "sortDirection": "ascending", **self.queue_include,
            })
            server_date = server_date or response.server_date
            data = require(self.name, response.data, dict, "/api/v3/queue")
            f = Fields(self.name, "/api/v3/queue", data)
            batch = f.array("records")
            before = len(seen)
            for obj in batch:
                rf = Fields(self.name, "/api/v3/queue", obj)
                seen.setdefault(rf.integer("id"), parse_queue_record(self.name, obj))
            total = f.integer("totalRecords")
            # A page with nothing new is the last one served again: the end.
            if not batch or len(seen) == before or len(seen) >= total or page >= 1000:
                return list(seen.values()), server_date
            page += 1

    async def history_since(self, since: datetime) -> list[HistoryEvent]:
        """History events after `since` (a time on the server's clock)."""
        when = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = require(self.name, await self.get("/api/v3/history/since", {"date": when}), list,
                       "/api/v3/history/since")
        return [parse_history_event(self.name, r) for r in data]

    async def tags(self) -> dict[int, str]:
        data = require(self.name, await self.get("/api/v3/tag"), list, "/api/v3/tag")
        out = {}
        for obj in data:
            f = Fields(self.name, "/api/v3/tag", obj)
            out[f.integer("id")] = f.opt_text("label") or ""
        return out
