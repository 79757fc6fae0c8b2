"""What the fake Radarr and Sonarr share: downloads (the queue), history, tags, qualities,
and the HTTP conventions of the *arr v3 API (auth, paging, null omission, error shapes).

Download verbs (on `world.radarr` and `world.sonarr`), keyed by the `download_id` that `grab`
returns:

- `progress(download_id, fraction, *, speed=None)`: status "downloading", `sizeleft` updated
  (`speed` in bytes/s drives `timeleft`/`estimatedCompletionTime`).
- `pause(download_id)` / `resume(download_id)`: status "paused" / "downloading".
- `set_client_status(download_id, status)`: any QueueStatus ("queued", "warning", "delay",
  "downloadClientUnavailable", ...).
- `complete_download(download_id)`: status "completed", sizeleft 0, trackedDownloadState
  "importPending".
- `start_import(download_id)`: trackedDownloadState "importing".
- `warn(download_id, messages, *, title=None, state=None)`: trackedDownloadStatus "warning" with
  `statusMessages [{title, messages}]` (e.g. "Unable to parse file"); `state` may set the
  trackedDownloadState too (e.g. "importBlocked"). `clear_warnings(download_id)` undoes it.
- `mark_failed_pending(download_id, message)`: still queued, status "failed", trackedDownloadStatus
  "error", trackedDownloadState "failedPending", `errorMessage` set.
- `fail_download(download_id, message="...")`: leaves the queue, history "downloadFailed" (as real
  *arrs do once the failure is handled).
- `ignore_download(download_id, message=...)`: leaves the queue, history "downloadIgnored".
- `remove_download(download_id)`: just leaves the queue (e.g. removed in the client).
- `remove_from_queue(download_id, *, remove_from_client=True, change_category=False,
  blocklist=False)`: the queue's remove dialog, as `QueueController.Remove` handles it (Radarr
  v5.28 `src/Radarr.Api.V3/Queue/QueueController.cs` 319-355, Sonarr v4.0.19 331-367). Its
  defaults are the dialog's (`RemoveQueueItemModal.tsx` 53-56: "Remove from download client",
  "Do not blocklist"), which leave the queue and write **no history record**; `blocklist`
  writes "downloadFailed" (`FailedDownloadService.MarkAsFailed`); neither removing nor changing
  the category nor blocklisting is "Ignore download" ("downloadIgnored").
- `hold_history()` / `release_history()`: history records written in between are listed only
  after the release, with their own dates (a record a poll reads one poll late).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from simstack._base import SubWorld
from simstack._util import BadParam, compact, hex_id, iso_net, parse_iso, timespan
from simstack.clock import Clock
from simstack.server import App, Request, Response

QUEUE_STATUSES = ("unknown", "queued", "paused", "downloading", "completed", "failed", "warning",
                  "delay", "downloadClientUnavailable", "fallback")
TRACKED_STATES = ("downloading", "importBlocked", "importPending", "importing", "imported",
                  "failedPending", "failed", "ignored")

ENGLISH = {"id": 1, "name": "English"}
DEFAULT_SPEED = 10 * 1024 * 1024


@dataclass(eq=False)
class Download:
    download_id: str
    title: str
    size: int
    sizeleft: int
    added: datetime
    quality: str
    protocol: str = "torrent"
    download_client: str = "qBittorrent"
    indexer: str = "Prowlarr"
    output_path: str = ""
    status: str = "queued"
    tracked_status: str = "ok"
    tracked_state: str = "downloading"
    status_messages: list[tuple[str, list[str]]] = field(default_factory=list)
    error_message: str | None = None
    speed: float = DEFAULT_SPEED
    release_group: str | None = None
    release_type: str | None = None
    movie_id: int | None = None
    series_id: int | None = None
    episode_ids: list[int] = field(default_factory=list)
    record_ids: dict[int, int] = field(default_factory=dict)

    def timeleft_seconds(self) -> float | None:
        if self.status == "completed" or self.sizeleft <= 0:
            return 0.0
        if self.status == "downloading" and self.speed > 0:
            return self.sizeleft / self.speed
        return None


@dataclass(eq=False)
class HistoryEvent:
    id: int
    date: datetime
    event_type: str
    source_title: str
    quality: str
    download_id: str | None
    data: dict[str, str]
    movie_id: int = 0
    series_id: int = 0
    episode_id: int = 0


class ArrWorld(SubWorld):
    """State and verbs shared by Radarr and Sonarr (see the module docstring)."""

    app_name: ClassVar[str] = "Arr"
    version: ClassVar[str] = "0"
    default_quality: ClassVar[str] = "WEBDL-1080p"
    qualities: ClassVar[Mapping[str, tuple[int, str, int, str | None]]] = {}
    event_codes: ClassVar[Mapping[int, str]] = {}

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        self.tags: dict[int, str] = {}
        self.downloads: dict[str, Download] = {}
        self.history: list[HistoryEvent] = []
        self._next_tag = 1
        self._next_history = 1
        self._download_seq = itertools.count(1)
        self._record_seq = itertools.count(1)
        self._held: list[HistoryEvent] | None = None  # see `hold_history`
        self.started = self.now

    # -- tags --------------------------------------------------------------------------------

    def add_tag(self, label: str) -> int:
        with self.lock:
            for tid, existing in self.tags.items():
                if existing == label.lower():
                    return tid
            tid = self._next_tag
            self._next_tag += 1
            self.tags[tid] = label.lower()
            return tid

    def _resolve_tags(self, tags: Iterable[int | str]) -> list[int]:
        out: list[int] = []
        for tag in tags:
            tid = self.add_tag(tag) if isinstance(tag, str) else int(tag)
            if tid not in out:
                out.append(tid)
        return sorted(out)

    # -- downloads ---------------------------------------------------------------------------

    def _new_download_id(self, protocol: str) -> str:
        n = next(self._download_seq)
        if protocol == "usenet":
            return f"SABnzbd_nzo_{hex_id(self.app_name, 'nzo', n)[:8]}"
        return (hex_id(self.app_name, "torrent", n) + hex_id(n))[:40].upper()

    def _record_id(self) -> int:
        n = next(self._record_seq)
        return int(hex_id(self.app_name, "queue", n)[:7], 16) + 1

    def get_download(self, download_id: str) -> Download:
        with self.lock:
            try:
                return self.downloads[download_id]
            except KeyError:
                raise KeyError(f"no {self.app_name} download {download_id!r}") from None

    def progress(self, download_id: str, fraction: float, *, speed: float | None = None) -> None:
        with self.lock:
            dl = self.get_download(download_id)
            fraction = min(1.0, max(0.0, fraction))
            dl.sizeleft = round(dl.size * (1.0 - fraction))
            dl.status = "downloading"
            if speed is not None:
                dl.speed = speed

    def pause(self, download_id: str) -> None:
        with self.lock:
            self.get_download(download_id).status = "paused"

    def resume(self, download_id: str) -> None:
        with self.lock:
            self.get_download(download_id).status = "downloading"

    def set_client_status(self, download_id: str, status: str) -> None:
        if status not in QUEUE_STATUSES:
            raise ValueError(f"unknown queue status {status!r}")
        with self.lock:
            self.get_download(download_id).status = status

    def complete_download(self, download_id: str) -> None:
        with self.lock:
            dl = self.get_download(download_id)
            dl.sizeleft = 0
            dl.status = "completed"
            if dl.tracked_state == "downloading":
                dl.tracked_state = "importPending"

    def start_import(self, download_id: str) -> None:
        with self.lock:
            dl = self.get_download(download_id)
            dl.sizeleft = 0
            dl.status = "completed"
            dl.tracked_state = "importing"

    def warn(self, download_id: str, messages: Sequence[str] | str, *, title: str | None = None,
             state: str | None = None) -> None:
        if state is not None and state not in TRACKED_STATES:
            raise ValueError(f"unknown trackedDownloadState {state!r}")
        with self.lock:
            dl = self.get_download(download_id)
            dl.tracked_status = "warning"
            msgs = [messages] if isinstance(messages, str) else list(messages)
            dl.status_messages.append((title or dl.title, msgs))
            if state is not None:
                dl.tracked_state = state

    def clear_warnings(self, download_id: str) -> None:
        with self.lock:
            dl = self.get_download(download_id)
            dl.tracked_status = "ok"
            dl.status_messages.clear()
            if dl.tracked_state == "importBlocked":
                dl.tracked_state = "importPending"

    def mark_failed_pending(self, download_id: str, message: str = "Download failed") -> None:
        with self.lock:
            dl = self.get_download(download_id)
            dl.status = "failed"
            dl.tracked_status = "error"
            dl.tracked_state = "failedPending"
            dl.error_message = message

    def fail_download(self, download_id: str, message: str = "Download failed") -> None:
        with self.lock:
            dl = self.downloads.pop(download_id)
            for target in self._targets(dl):
                self._add_history("downloadFailed", dl.title, dl.quality, dl.download_id, {
                    "downloadClient": dl.download_client,
                    "downloadClientName": dl.download_client,
                    "message": message,
                    "indexer": dl.indexer,
                    "releaseGroup": dl.release_group or "",
                    "size": str(dl.size),
                }, target)

    def ignore_download(self, download_id: str, message: str = "Manually ignored") -> None:
        with self.lock:
            dl = self.downloads.pop(download_id)
            for target in self._targets(dl):
                # Radarr/Sonarr HistoryService.Handle(DownloadIgnoredEvent): these data keys
                self._add_history("downloadIgnored", dl.title, dl.quality, dl.download_id, {
                    "downloadClient": dl.download_client,
                    "downloadClientName": dl.download_client,
                    "message": message,
                    "releaseGroup": dl.release_group or "",
                    "size": str(dl.size),
                    "indexer": dl.indexer,
                }, target)

    def remove_download(self, download_id: str) -> None:
        with self.lock:
            self.get_download(download_id)
            del self.downloads[download_id]

    def remove_from_queue(self, download_id: str, *, remove_from_client: bool = True,
                          change_category: bool = False, blocklist: bool = False) -> None:
        """The queue's remove dialog; the defaults are its own (see the module docstring)."""
        with self.lock:
            if blocklist:
                self.fail_download(download_id, "Manually marked as failed")
            elif remove_from_client or change_category:
                self.remove_download(download_id)
            else:
                self.ignore_download(download_id)

    def hold_history(self) -> None:
        """History written from now on is listed only after `release_history()`."""
        with self.lock:
            self._held = []

    def release_history(self) -> None:
        with self.lock:
            held, self._held = self._held, None
            self.history.extend(held or [])
            self.history.sort(key=lambda e: e.id)

    def _targets(self, dl: Download) -> list[tuple[int, int, int]]:
        """(movie_id, series_id, episode_id) per history row a download event writes."""
        if dl.movie_id is not None:
            return [(dl.movie_id, 0, 0)]
        return [(0, dl.series_id or 0, eid) for eid in dl.episode_ids]

    # -- history -----------------------------------------------------------------------------

    def _add_history(self, event_type: str, source_title: str, quality: str,
                     download_id: str | None, data: Mapping[str, str | None],
                     target: tuple[int, int, int]) -> HistoryEvent:
        event = HistoryEvent(self._next_history, self.now, event_type, source_title, quality,
                             download_id, {k: v for k, v in data.items() if v is not None},
                             *target)
        self._next_history += 1
        (self.history if self._held is None else self._held).append(event)
        return event

    def _parse_event_type(self, text: str | None) -> str | None:
        if text is None or text == "":
            return None
        if text.lstrip("-").isdigit():
            code = int(text)
            if code not in self.event_codes:
                return "unknown"
            return self.event_codes[code]
        for name in self.event_codes.values():
            if name.lower() == text.lower():
                return name
        return "unknown"

    # -- rendering helpers -------------------------------------------------------------------

    def render_quality(self, name: str) -> dict[str, Any]:
        qid, source, resolution, modifier = self.qualities.get(
            name, self.qualities[self.default_quality])
        quality: dict[str, Any] = {"id": qid, "name": name, "source": source,
                                   "resolution": resolution}
        if modifier is not None:
            quality["modifier"] = modifier
        return {"quality": quality, "revision": {"version": 1, "real": 0, "isRepack": False}}

    def render_media_info(self, runtime_minutes: int) -> dict[str, Any]:
        hours, minutes = divmod(runtime_minutes, 60)
        return {
            "audioBitrate": 640000, "audioChannels": 5.1, "audioCodec": "EAC3",
            "audioLanguages": "eng", "audioStreamCount": 1, "videoBitDepth": 8,
            "videoBitrate": 0, "videoCodec": "h264", "videoFps": 23.976,
            "videoDynamicRange": "", "videoDynamicRangeType": "", "resolution": "1920x1080",
            "runTime": f"{hours}:{minutes:02d}:00", "scanType": "Progressive",
            "subtitles": "eng",
        }

    def render_queue_common(self, dl: Download) -> dict[str, Any]:
        left = dl.timeleft_seconds()
        return compact(
            languages=[ENGLISH],
            quality=self.render_quality(dl.quality),
            customFormats=[],
            customFormatScore=0,
            size=float(dl.size),
            title=dl.title,
            sizeleft=float(dl.sizeleft),
            timeleft=timespan(left) if left is not None else None,
            estimatedCompletionTime=iso_net(self.now + timedelta(seconds=left))
            if left is not None else None,
            added=iso_net(dl.added),
            status=dl.status,
            trackedDownloadStatus=dl.tracked_status,
            trackedDownloadState=dl.tracked_state,
            statusMessages=[{"title": t, "messages": list(m)} for t, m in dl.status_messages],
            errorMessage=dl.error_message,
            downloadId=dl.download_id,
            protocol=dl.protocol,
            downloadClient=dl.download_client,
            downloadClientHasPostImportCategory=False,
            indexer=dl.indexer,
            outputPath=dl.output_path,
        )

    def render_history_common(self, event: HistoryEvent) -> dict[str, Any]:
        return compact(
            sourceTitle=event.source_title,
            languages=[ENGLISH],
            quality=self.render_quality(event.quality),
            customFormats=[],
            customFormatScore=0,
            qualityCutoffNotMet=False,
            date=iso_net(event.date),
            downloadId=event.download_id,
            eventType=event.event_type,
            data=dict(event.data),
        )

    def system_status(self) -> dict[str, Any]:
        return {
            "appName": self.app_name,
            "instanceName": self.app_name,
            "version": self.version,
            "buildTime": "2025-10-12T10:21:33Z",
            "isDebug": False,
            "isProduction": True,
            "isAdmin": False,
            "isUserInteractive": False,
            "startupPath": f"/app/{self.app_name.lower()}/bin",
            "appData": "/config",
            "osName": "ubuntu",
            "osVersion": "24.04",
            "isNetCore": True,
            "isLinux": True,
            "isOsx": False,
            "isWindows": False,
            "isDocker": True,
            "mode": "console",
            "branch": "main",
            "authentication": "forms",
            "migrationVersion": 240,
            "urlBase": "",
            "runtimeVersion": "8.0.20",
            "runtimeName": ".NET",
            "startTime": iso_net(self.started),
            "packageVersion": self.version,
            "packageAuthor": "[hotio](https://hotio.dev)",
            "packageUpdateMechanism": "docker",
        }


_QUEUE_SORT_KEYS = {
    "timeleft", "added", "progress", "title", "status", "estimatedcompletiontime", "size",
    "sizeleft", "id",
}


class ArrApp(App):
    """The *arr v3 HTTP conventions."""

    arr: ArrWorld
    include_entity_param: ClassVar[str] = "includeMovie"

    def authenticate(self, req: Request) -> bool:
        key = req.header("X-Api-Key") or req.query.get("apikey")
        return key == self.api_key

    def auth_scheme(self, req: Request) -> str | None:
        if req.header("X-Api-Key") is not None:
            return "X-Api-Key"
        return "apikey-query" if "apikey" in req.query else None

    def not_found(self, req: Request) -> Response:
        if req.path.lower().startswith("/api/"):
            return Response(404, raw=b"", content_type="text/plain")
        # The UI's single-page app answers every other path (a wrong base URL gets HTML).
        return Response(200, raw=b"<!doctype html><html><head><title>" +
                        self.arr.app_name.encode() + b"</title></head><body></body></html>",
                        content_type="text/html")

    def error_response(self, status: int) -> Response:
        return Response(status, {"message": "Internal Server Error",
                                 "description": "An unexpected error occurred."})

    def missing(self, what: str = "NotFound") -> Response:
        return Response(404, {"message": what})

    def ping(self, req: Request) -> Response:
        return Response(200, {"status": "OK"})

    def system_status(self, req: Request) -> Response:
        with self.world.lock:
            return Response(200, self.arr.system_status())

    def tags(self, req: Request) -> Response:
        with self.world.lock:
            return Response(200, [{"id": tid, "label": label}
                                  for tid, label in sorted(self.arr.tags.items())])

    def since_date(self, req: Request) -> datetime | None:
        text = req.query.get("date")
        when = parse_iso(text)
        if text and when is None:
            raise BadParam("date", text)
        return when

    def page(self, req: Request, records: list[tuple[Download, dict[str, Any]]]) -> Response:
        page = max(1, req.query.get_int("page", 1) or 1)
        page_size = req.query.get_int("pageSize", 10)
        page_size = 10 if page_size is None else page_size
        sort_key = req.query.get("sortKey") or "timeleft"
        direction = (req.query.get("sortDirection") or "ascending").lower()
        if direction not in ("ascending", "descending", "default"):
            direction = "ascending"
        key = sort_key.split(".")[-1].lower()
        if key not in _QUEUE_SORT_KEYS:
            key = "timeleft"

        # Ties keep the natural order (grab order, then episode order): the sort is stable.
        def sort_value(item: tuple[Download, dict[str, Any]]) -> tuple[Any, ...]:
            dl, rec = item
            if key == "timeleft":
                left = dl.timeleft_seconds()
                v: Any = (left is None, left or 0.0)
            elif key in ("added",):
                v = dl.added
            elif key == "progress":
                v = 1.0 - (dl.sizeleft / dl.size if dl.size else 0.0)
            elif key == "title":
                v = dl.title.lower()
            elif key == "status":
                v = dl.status
            elif key == "estimatedcompletiontime":
                left = dl.timeleft_seconds()
                v = (left is None, left or 0.0)
            elif key in ("size", "sizeleft"):
                v = getattr(dl, key)
            else:
                v = rec["id"]
            return (v,)

        records.sort(key=sort_value, reverse=direction == "descending")
        status_filter = {s.lower() for s in req.query.get_list("status")}
        if status_filter:
            records = [r for r in records if r[1]["status"].lower() in status_filter]
        protocol = req.query.get("protocol")
        if protocol:
            records = [r for r in records if r[1]["protocol"] == protocol.lower()]
        total = len(records)
        start = (page - 1) * page_size
        selected = records[start:start + page_size] if page_size > 0 else []
        if not selected and page > 1 and page_size > 0:
            # QueueController: past the end, the "last" page again, computed with C#'s integer
            # division (`Math.Ceiling((decimal)(TotalRecords / PageSize))`): 25 records in pages
            # of 10 give page 2 again, not page 3.
            page = max(total // page_size, 1)
            start = (page - 1) * page_size
            selected = records[start:start + page_size]
        return Response(200, {
            "page": page,
            "pageSize": page_size,
            "sortKey": sort_key,
            "sortDirection": "ascending" if direction == "default" else direction,
            "totalRecords": total,
            "records": [rec for _, rec in selected],
        })
