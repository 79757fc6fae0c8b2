"""Where one film or episode is, from the *arr queue and history, Shoko and the media server
(Jellyfin, Emby or Plex)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.core.durations import span_text
from reconciler.core.evidence import Current
from reconciler.core.matching import JellyfinMatch
from reconciler.core.outcome import Stage
from reconciler.models import (
    JELLYFIN,
    HistoryFacts,
    MediaServer,
    QueueDeparture,
    QueueRecord,
    ShokoFile,
    UnmatchableLibrary,
)
from reconciler.states import Phase, QueueStage, RequestState

S = RequestState
P = Phase


def later(a: datetime | None, b: datetime | None) -> bool:
    """True when time `a` is strictly later than `b` (missing counts as never)."""
    if a is None:
        return False
    return b is None or a > b


def queue_stage(record: QueueRecord) -> QueueStage:
    """Where one queue record's download is, from the *arr's tracked state and status."""
    state = record.tracked_state
    status = record.status.lower()
    if state in ("failed", "failedPending") or status == "failed":
        return QueueStage.FAILED
    if state == "importing":
        return QueueStage.IMPORTING
    if state in ("importPending", "importBlocked", "imported") or status == "completed":
        return QueueStage.DOWNLOAD_DONE
    if status == "downloading" or (status == "warning" and state == "downloading"):
        # A client-side warning (stalled, no seeds) on a download in progress is still a
        # download in progress; the detail carries the warning.
        return QueueStage.DOWNLOADING
    return QueueStage.INDEXED


def unmatchable_detail(library: UnmatchableLibrary) -> str:
    """Why the media server's item for a file in `library` can never be matched."""
    return (f"cannot match: library '{library.name}' is on Plex's legacy agent "
            f"({library.agent}), whose items carry no TMDB/TVDB ids; switch it to the Plex "
            f"Movie or Plex TV Series agent")


# An anime file linked to AniDB whose Shoko series or episode does not exist yet.
PENDING_METADATA_DETAIL = ("imported; Shoko is still fetching the anime's metadata from AniDB "
                           "before it can match the file")


@dataclass(frozen=True)
class DownloadFacts:
    """What is known about one film or episode, for `download_stage`."""

    arr: str  # "radarr" | "sonarr"
    has_file: bool
    file_path: str | None
    history: HistoryFacts
    queue: Sequence[QueueRecord]
    is_anime: bool
    shoko_enabled: bool
    shoko: ShokoFile | None
    playable: JellyfinMatch | None
    in_arr: bool
    departed: Sequence[QueueDeparture] = ()
    current: Current | None = None
    now: datetime | None = None
    unrecognised_after: timedelta = timedelta(minutes=30)
    media_server: MediaServer = JELLYFIN  # the one that says what plays
    unmatchable: UnmatchableLibrary | None = None  # its library holding the file, unmatchable


def download_stage(facts: DownloadFacts) -> Stage:
    """Where one film or episode is, from the *arr, Shoko and media server evidence: playable
    there, else by its file, else by its most advanced queue record, else by its history."""
    if facts.playable is not None:
        return Stage(S.AVAILABLE, facts.media_server.service,
                     f"playable in {facts.media_server.name} "
                     f"(matched by {facts.playable.key})", P.AVAILABLE, 1.0)
    if facts.has_file:
        return _stage_from_file(facts)
    if facts.queue:
        return _stage_from_queue(facts)
    return _stage_from_history(facts)


def _stage_from_file(facts: DownloadFacts) -> Stage:
    """The *arr has its file: waiting for the media server to list it, or (anime) for Shoko to
    match."""
    arr, file_path, shoko = facts.arr, facts.file_path, facts.shoko
    current, now, unrecognised_after = facts.current, facts.now, facts.unrecognised_after
    waiting = (unmatchable_detail(facts.unmatchable) if facts.unmatchable is not None
               else f"waiting for {facts.media_server.name}")
    if not (facts.is_anime and facts.shoko_enabled):
        where = f" ({file_path})" if file_path else ""
        return Stage(S.IMPORTING, arr, f"imported{where}; {waiting}", P.WAITING_FOR_JELLYFIN)
    if shoko is not None and shoko.matched:
        return Stage(S.ANIME_MATCHING, "shoko", f"matched by Shoko; {waiting}",
                     P.WAITING_FOR_JELLYFIN)
    detail = "imported; waiting for Shoko to match the file"
    if shoko is not None and shoko.pending_metadata:
        # Linked to AniDB, its Shoko series or episode not created yet (a null `ID` in the
        # cross-reference): Shoko matches it by itself once the metadata is in.
        return Stage(S.ANIME_MATCHING, "shoko", PENDING_METADATA_DETAIL, P.WAITING_FOR_SHOKO)
    if (
        current is not None
        and current.phase == P.WAITING_FOR_SHOKO
        and current.phase_since is not None
        and now is not None
        and now - current.phase_since >= unrecognised_after
    ):
        seen = "has not recognised" if shoko is not None else "has not found"
        detail = (
            f"waiting for Shoko to match the file: Shoko {seen} {file_path or 'the file'}"
            f" after {span_text(unrecognised_after)}; link it by hand in Shoko"
        )
    via = "shoko" if shoko is not None else arr
    return Stage(S.ANIME_MATCHING, via, detail, P.WAITING_FOR_SHOKO)


def _stage_from_queue(facts: DownloadFacts) -> Stage:
    """In the *arr queue: where its most advanced record is (the first of them, in the
    queue's order)."""
    arr, name = facts.arr, facts.arr.capitalize()
    record = max(facts.queue, key=lambda r: queue_stage(r).rank)
    kind = queue_stage(record)
    messages = "; ".join(record.messages)
    if kind is QueueStage.IMPORTING:
        return Stage(S.IMPORTING, arr, f"{name} is importing {record.title}".strip(),
                     P.IMPORTING, 1.0)
    if kind is QueueStage.DOWNLOAD_DONE:
        detail = "download finished; import pending"
        if record.tracked_status == "warning" or record.tracked_state == "importBlocked":
            detail = f"download finished; import blocked: {messages or 'see ' + name}"
        return Stage(S.DOWNLOAD_DONE, arr, detail, P.DOWNLOAD_DONE, 1.0)
    if kind is QueueStage.DOWNLOADING:
        progress = record.progress
        pct = f" {progress * 100:.0f}%" if progress is not None else ""
        detail = f"downloading{pct}"
        if (record.tracked_status == "warning" or record.status == "warning") and messages:
            detail += f" (warning: {messages})"
        return Stage(S.DOWNLOADING, arr, detail, P.DOWNLOADING, progress)
    if kind is QueueStage.INDEXED:
        detail = f"grabbed {record.title}; {record.status}".strip()
        return Stage(S.INDEXED, arr, detail, P.GRABBED, record.progress)
    reason = messages or facts.history.failed_message or "download failed"
    return Stage(S.FAILED, arr, f"download failed: {reason}", P.FAILED)


def _stage_from_history(facts: DownloadFacts) -> Stage:
    """Neither a file nor a queue record: what the *arr history says last happened."""
    arr, name, history = facts.arr, facts.arr.capitalize(), facts.history
    if later(history.ignored_at, history.failed_at) and not later(history.grabbed_at,
                                                                  history.ignored_at):
        # `downloadIgnored` (history event 9 in Radarr, 7 in Sonarr): removed from the queue
        # without blocklisting; the *arr will not grab again by itself.
        why = f" ({history.ignored_message})" if history.ignored_message else ""
        return Stage(S.FAILED, arr, f"the download was removed in {name}{why} and nothing new "
                     "was grabbed", P.FAILED)
    if history.failed_at and not later(history.grabbed_at, history.failed_at):
        reason = history.failed_message or "download failed"
        return Stage(S.FAILED, arr, f"download failed: {reason}; nothing new grabbed", P.FAILED)
    removed = removed_download(history, facts.departed)
    if removed is not None:
        return Stage(S.FAILED, arr, removed_detail(name, removed), P.FAILED)
    if history.grabbed_at and not later(history.file_deleted_at, history.grabbed_at):
        title = history.grabbed_title or "a release"
        return Stage(S.INDEXED, arr, f"grabbed {title}", P.GRABBED)
    if not facts.in_arr:
        return Stage(S.APPROVED, "jellyseerr", f"approved; not in {name} yet", P.APPROVED)
    return Stage(S.APPROVED, arr, f"approved; waiting for {name} to grab a release",
                 P.WAITING_FOR_GRAB)


def removed_download(history: HistoryFacts,
                     departed: Sequence[QueueDeparture]) -> QueueDeparture | None:
    """A download removed from the client without being imported: its queue record, seen in an
    earlier poll, is gone from two polls in a row (`confirmed`), and the history (read after the
    queue in each poll) has no import, failure or ignore since its grab, nor a newer grab.

    The *arr queue's remove dialog defaults to "Remove from download client" without
    blocklisting, which writes no history record at all (Radarr and Sonarr
    `QueueController.Remove`); a record that left because it was imported has its import in
    the history by then, or one poll later, before the departure is confirmed."""
    for gone in departed:
        if not gone.confirmed or later(history.grabbed_at, gone.grabbed_at):
            continue
        if any(t is not None and not later(gone.grabbed_at, t)
               for t in (history.imported_at, history.failed_at, history.ignored_at)):
            continue
        return gone
    return None


def removed_detail(name: str, gone: QueueDeparture) -> str:
    """What a request removed from the download client says, and what happens next."""
    what = f" ({gone.title})" if gone.title else ""
    return (f"the download{what} was removed from the download client without being "
            f"imported; {name} will not search for it again by itself: search again in "
            f"{name}, or ask again in Jellyseerr")
