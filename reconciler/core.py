"""The decision: from what the services were seen to say to where each request is.

Invariants (all of them tested without I/O):
- Pure: no HTTP, no SQLite, no clock. `now` is an argument.
- Level-triggered: the state is derived from the evidence each time; the same evidence and the
  same current state give the same decision and no new transition (idempotent).
- `available` only when Jellyfin lists a playable item matched by the request's ids.
- A service that did not answer is *unknown*: a request that depends on it is held as it is.
- A state moves backwards only on positive evidence (a failure or a new grab after the state was
  entered, a deleted file, an item gone from Jellyfin, a newly aired episode); otherwise it holds.
- Every rule that affects the state machine is here: besides `decide`, which requests are
  tracked (`is_tracked`), when absence from Jellyseerr means deletion (`ABSENT_CONFIRMATIONS`),
  which requests are anime (`AnimeRules`), when a request is stuck and since when.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from reconciler.models import (
    HistoryFacts,
    JellyfinItem,
    Library,
    QueueRecord,
    RadarrMovie,
    SeerrArrServer,
    SeerrRequest,
    SeerrStatus,
    ShokoFile,
    SonarrEpisode,
    SonarrSeries,
    normalise_provider_key,
    parse_time,
)
from reconciler.states import (
    EPISODE_RANK,
    LADDER,
    NEVER_STUCK,
    PHASE_DEADLINES,
    STATES,
    STUCK_DEFAULTS,
    Phase,
    QueueStage,
    RequestState,
)

S = RequestState
P = Phase

# ---------------------------------------------------------------- inputs and outputs


@dataclass(frozen=True)
class MatchIds:
    """Ids a Jellyfin item may carry for this request, in the order they are tried."""

    tmdb: int | None = None
    tvdb: int | None = None
    shoko_file: tuple[int, ...] = ()
    shoko_episode: tuple[int, ...] = ()
    shoko_series: tuple[int, ...] = ()
    anidb: tuple[int, ...] = ()

    def pairs(self) -> list[tuple[str, str]]:
        """(normalised ProviderId key, value) pairs, most trusted first."""
        pairs: list[tuple[str, str]] = []
        if self.tmdb is not None:
            pairs.append(("tmdb", str(self.tmdb)))
        if self.tvdb is not None:
            pairs.append(("tvdb", str(self.tvdb)))
        pairs += [("shoko file", str(v)) for v in self.shoko_file]
        pairs += [("shoko episode", str(v)) for v in self.shoko_episode]
        pairs += [("shoko series", str(v)) for v in self.shoko_series]
        pairs += [("anidb", str(v)) for v in self.anidb]
        return pairs


@dataclass(frozen=True)
class JellyfinMatch:
    item: JellyfinItem
    key: str  # the ProviderId key that matched, e.g. "Tmdb", "Shoko File"


@dataclass(frozen=True)
class EpisodeEvidence:
    """Everything seen about one requested episode."""

    episode: SonarrEpisode
    history: HistoryFacts = field(default_factory=HistoryFacts)
    queue: tuple[QueueRecord, ...] = ()
    shoko: ShokoFile | None = None
    jellyfin: JellyfinMatch | None = None


@dataclass(frozen=True)
class Evidence:
    """Everything seen about one request, plus which services could not be reached."""

    request: SeerrRequest
    seerr_deleted: bool = False
    is_anime: bool = False
    shoko_enabled: bool = False
    # films
    movie: RadarrMovie | None = None
    movie_history: HistoryFacts = field(default_factory=HistoryFacts)
    queue: tuple[QueueRecord, ...] = ()
    shoko: ShokoFile | None = None
    jellyfin: JellyfinMatch | None = None
    # shows
    series: SonarrSeries | None = None
    episodes: tuple[EpisodeEvidence, ...] = ()
    # services that failed this cycle (Radarr and Sonarr servers by their configured names)
    unknown: frozenset[str] = frozenset()
    # The configured server tracking it (None: the kind's only one, or none); `unrouted`: why
    # none does (the request went to a server reconciler is not configured for).
    server: str | None = None
    unrouted: str | None = None
    # Films: the files the 4K Radarr servers imported for it (which Jellyfin item is that copy
    # while Jellyfin knows no video width).
    files_4k: tuple[str, ...] = ()

    @property
    def arr(self) -> str:
        return "radarr" if self.request.media_type == "movie" else "sonarr"

    def depends_on(self) -> frozenset[str]:
        needed = {"jellyseerr", self.server or self.arr, "jellyfin"}
        if self.is_anime and self.shoko_enabled:
            needed.add("shoko")
        return frozenset(needed)


@dataclass(frozen=True)
class Current:
    """The request's state as last recorded."""

    state: RequestState
    since: datetime
    detail: str = ""
    phase: Phase | None = None
    phase_since: datetime | None = None


@dataclass(frozen=True)
class EpisodeDecision:
    season: int
    episode: int
    state: RequestState
    via: str
    air_date: str | None
    sonarr_episode_id: int
    jellyfin_item_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome for one request. `transition` is true when the state changed."""

    state: RequestState
    via: str
    detail: str
    progress: float | None
    phase: Phase | None
    transition: bool
    held: bool = False
    jellyfin_item_id: str | None = None
    jellyfin_key: str | None = None
    episodes: tuple[EpisodeDecision, ...] = ()
    episodes_available: int | None = None
    episodes_aired: int | None = None


@dataclass(frozen=True)
class Stage:
    state: RequestState
    via: str
    detail: str
    phase: Phase
    progress: float | None = None


# ---------------------------------------------------------------- routing


@dataclass(frozen=True)
class ArrServer:
    """A configured Radarr or Sonarr server, as routing sees it."""

    name: str
    kind: str  # "radarr" | "sonarr"
    url: str
    is4k: bool = False
    seerr_server_id: int | None = None
    default: bool = False  # where requests of its quality naming no server go


@dataclass(frozen=True)
class Route:
    """Which configured server tracks a request: `server`, or none, and then `detail` says why
    (None while the kind has no server configured at all)."""

    server: str | None
    detail: str | None = None


def arr_kind(request: SeerrRequest) -> str:
    return "radarr" if request.media_type == "movie" else "sonarr"


def route(request: SeerrRequest, servers: Sequence[ArrServer],
          seerr_servers: Sequence[SeerrArrServer] | None) -> Route:
    """The server a request is tracked on. A request names the server Jellyseerr sent it to
    (`serverId`, an id in Jellyseerr's settings): the configured server with that
    `seerr_server_id`; else the one whose URL has the host, port and base URL Jellyseerr's
    settings give for that id (`seerr_servers`; None while not read). A request naming no
    server goes to the default server of its quality (`is4k`). A request sent to a server
    reconciler is not configured for is tracked on none, never on another one."""
    kind = arr_kind(request)
    mine = [s for s in servers if s.kind == kind]
    if not mine:
        return Route(None)
    label = kind.capitalize()
    quality = "4K" if request.is4k else "HD"
    if request.server_id is not None:
        for s in mine:
            if s.seerr_server_id == request.server_id:
                return Route(s.name)
        if seerr_servers is None:
            # Jellyseerr's settings not read yet: one server of the quality cannot be wrong.
            if _only_choice(mine, request):
                return Route(mine[0].name)
            return Route(None, f"sent to {label} server id {request.server_id}; waiting for "
                               "Jellyseerr's server settings")
        entry = next((e for e in seerr_servers if e.id == request.server_id), None)
        if entry is None:
            return Route(None, f"sent to {label} server id {request.server_id}, which "
                               "Jellyseerr's settings no longer list")
        found = [s for s in mine if s.seerr_server_id is None and url_matches(s.url, entry)]
        if found:
            return Route(found[0].name)
        return Route(None, f"sent to {label} server '{entry.name}' (id {entry.id}), which "
                           "reconciler is not configured for (configure it, or set its "
                           f"seerr_server_id = {entry.id})")
    default = next((s for s in mine if s.is4k == request.is4k and s.default), None)
    if default is None:
        default = next((s for s in mine if s.is4k == request.is4k), None)
    if default is None:
        return Route(None, f"a {quality} request, and reconciler is configured for no "
                           f"{quality} {label} server")
    return Route(default.name)


def needs_seerr_servers(requests: Iterable[SeerrRequest], servers: Sequence[ArrServer]) -> bool:
    """Whether routing `requests` needs Jellyseerr's server settings: one names a server that
    no configured `seerr_server_id` is, and more than one server of its kind is configured
    (or the only one is not of the request's quality)."""
    for r in requests:
        if r.server_id is None:
            continue
        mine = [s for s in servers if s.kind == arr_kind(r)]
        if not mine or any(s.seerr_server_id == r.server_id for s in mine):
            continue
        if not _only_choice(mine, r):
            return True
    return False


def _only_choice(mine: Sequence[ArrServer], request: SeerrRequest) -> bool:
    """One server of the kind is configured, of the request's quality, with no Jellyseerr id
    that says it is another one: the request's server without asking Jellyseerr."""
    return (len(mine) == 1 and mine[0].is4k == request.is4k
            and mine[0].seerr_server_id is None)


def url_matches(url: str, entry: SeerrArrServer) -> bool:
    """A configured URL points at the server Jellyseerr's settings describe: same host
    (case-insensitive), port (the scheme's default when absent) and base URL."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    their_port = entry.port or (443 if entry.use_ssl else 80)
    base = "/" + entry.base_url.strip("/") if entry.base_url.strip("/") else ""
    ours = "/" + parts.path.strip("/") if parts.path.strip("/") else ""
    return ((parts.hostname or "").lower() == entry.hostname.strip().lower()
            and port == their_port and ours.lower() == base.lower())


# ---------------------------------------------------------------- Jellyfin matching

# A version whose video is at least this wide is a 4K copy (3840 and DCI 4096, cropped
# scope 3840x1600 included; 2560 QHD is not).
FOUR_K_WIDTH = 3200


def plays_copy(item: JellyfinItem, is4k: bool, files_4k: Sequence[str] = ()) -> bool:
    """The item (a film or episode) plays the copy a request of this quality asks for: a 4K
    request needs a version whose video is 4K; an HD one a version that is not, or an item
    whose versions' widths are unknown (not read: no 4K server is configured). While Jellyfin
    knows no width (0: not probed yet), an item whose file is one a 4K server imported
    (`files_4k`, compared by folder and file name: the servers and Jellyfin may mount the media
    at different roots) is the 4K copy."""
    if item.type not in ("Movie", "Episode"):
        return True
    if any(item.video_widths):
        if is4k:
            return any(w >= FOUR_K_WIDTH for w in item.video_widths)
        return any(0 < w < FOUR_K_WIDTH for w in item.video_widths)
    four_k_file = any(same_file(item.path, f) for f in files_4k)
    return four_k_file if is4k else not four_k_file


def same_file(a: str | None, b: str | None) -> bool:
    """The same file seen from two mounts: the same folder and file name."""
    if not a or not b:
        return False
    tail_a = [p.lower() for p in a.replace("\\", "/").split("/") if p][-2:]
    tail_b = [p.lower() for p in b.replace("\\", "/").split("/") if p][-2:]
    return len(tail_a) == 2 and tail_a == tail_b



def match_item(
    items: Iterable[JellyfinItem], ids: MatchIds, item_type: str, is4k: bool | None = None,
    files_4k: Sequence[str] = (),
) -> JellyfinMatch | None:
    """The first playable item of `item_type` carrying one of `ids`, trying ids in order
    (`is4k`: only an item playing that copy, `plays_copy`)."""
    candidates = [i for i in items if i.type == item_type
                  and (is4k is None or plays_copy(i, is4k, files_4k))]
    for key, value in ids.pairs():
        for item in candidates:
            if item_type in ("Movie", "Episode") and not item.is_playable:
                continue
            if item_type == "Movie" and key in _BROAD_FILM_KEYS and _another_film(item, ids):
                continue
            for k, v in item.provider_ids.items():
                if normalise_provider_key(k) == key and str(v).strip() == value:
                    return JellyfinMatch(item=item, key=k)
    return None


# A Shoko series or AniDB anime can hold several films (Shokofin writes the same `Shoko Series`
# on each): a match by these alone must not take a sibling film for the requested one.
_BROAD_FILM_KEYS = frozenset({"shoko series", "anidb"})
_EXACT_FILM_KEYS = ("tmdb", "shoko file", "shoko episode")


def _another_film(item: JellyfinItem, ids: MatchIds) -> bool:
    """The item names another film by an exact id (TMDB, Shoko file or episode) of ours."""
    ours: dict[str, set[str]] = {}
    for key, value in ids.pairs():
        ours.setdefault(key, set()).add(value)
    for k, v in item.provider_ids.items():
        key = normalise_provider_key(k)
        value = str(v).strip()
        if key in _EXACT_FILM_KEYS and key in ours and value and value not in ours[key]:
            return True
    return False


def film_match_ids(tmdb_id: int | None, shoko: ShokoFile | None) -> MatchIds:
    """The ids a film's Jellyfin item may carry: its TMDB id, then (Shokofin) the Shoko file,
    episode and series ids, then AniDB ids. Shokofin 4.2.x writes only the Shoko File, Episode
    and Series ids on a film; current Shokofin also writes the AniDB *anime* id (and `Tmdb`
    only with "Add TMDB IDs" on); an older Shokofin wrote the AniDB *episode* id, so both AniDB
    ids are tried."""
    if shoko is None:
        return MatchIds(tmdb=tmdb_id)
    return MatchIds(
        tmdb=tmdb_id,
        shoko_file=(shoko.id,) if shoko.matched else (),
        shoko_episode=shoko.episode_ids,
        shoko_series=shoko.series_ids,
        anidb=tuple(dict.fromkeys(shoko.anidb_episode_ids + shoko.anidb_series_ids)),
    )


def match_episode(
    episodes: Sequence[JellyfinItem], season: int, number: int, shoko_episode_ids: Iterable[int],
    shoko_file_ids: Iterable[int] = (), is4k: bool | None = None,
) -> JellyfinMatch | None:
    """A playable episode: by its Shoko file id (the file Shoko matched for this episode), by
    its Shoko episode id when known, else by season and number (`is4k`: only an episode
    playing that copy, `plays_copy`)."""
    playable = [e for e in episodes if e.type == "Episode" and e.is_playable
                and (is4k is None or plays_copy(e, is4k))]
    files = {str(i) for i in shoko_file_ids}
    if files:
        for item in playable:
            for k, v in item.provider_ids.items():
                if normalise_provider_key(k) == "shoko file" and _id_parts(v) & files:
                    return JellyfinMatch(item=item, key=k)
    wanted = {str(i) for i in shoko_episode_ids}
    if wanted:
        for item in playable:
            for k, v in item.provider_ids.items():
                if normalise_provider_key(k) == "shoko episode" and str(v) in wanted:
                    return JellyfinMatch(item=item, key=k)
    for item in playable:
        if wanted and _other_shoko_episode(item, wanted):
            continue  # Shokofin's numbering differs: that number is another episode
        if item.covers_episode(season, number):
            return JellyfinMatch(item=item, key="season/episode")
    return None


def shoko_file_ids(shoko: ShokoFile | None) -> tuple[int, ...]:
    """The Shoko file id a Shokofin episode of this file carries (`Shoko File`): Shokofin
    presents only files Shoko knows, and the id names exactly one file."""
    return (shoko.id,) if shoko is not None else ()


def _id_parts(value: object) -> set[str]:
    return {part.strip() for part in str(value).split(",")} - {""}


def _other_shoko_episode(item: JellyfinItem, wanted: set[str]) -> bool:
    """The item carries a Shoko episode id, and not one of ours. Only plain integers count:
    recent Shokofin writes `t<id>` / `T<id>` (episodes built from TMDB data), which name no
    Shoko episode and so say nothing against a match by season and number."""
    ids = {part for k, v in item.provider_ids.items()
           if normalise_provider_key(k) == "shoko episode" for part in _id_parts(v)
           if part.isdigit()}
    return bool(ids) and not ids & wanted


# ---------------------------------------------------------------- one download's stage


def _latest(a: str | None, b: str | None) -> bool:
    """True when timestamp `a` is strictly later than `b` (missing counts as never)."""
    ta, tb = parse_time(a), parse_time(b)
    if ta is None:
        return False
    return tb is None or ta > tb


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
    current: Current | None = None
    now: datetime | None = None
    unrecognised_after: timedelta = timedelta(minutes=30)


def download_stage(facts: DownloadFacts) -> Stage:
    """Where one film or episode is, from the *arr, Shoko and Jellyfin evidence."""
    arr, has_file, file_path = facts.arr, facts.has_file, facts.file_path
    history, queue, shoko, playable = facts.history, facts.queue, facts.shoko, facts.playable
    is_anime, shoko_enabled, in_arr = facts.is_anime, facts.shoko_enabled, facts.in_arr
    current, now, unrecognised_after = facts.current, facts.now, facts.unrecognised_after
    if playable is not None:
        return Stage(S.AVAILABLE, "jellyfin", f"playable in Jellyfin (matched by {playable.key})",
                     P.AVAILABLE, 1.0)
    name = arr.capitalize()
    if has_file:
        where = f" ({file_path})" if file_path else ""
        if is_anime and shoko_enabled:
            if shoko is not None and shoko.matched:
                return Stage(S.ANIME_MATCHING, "shoko", "matched by Shoko; waiting for Jellyfin",
                             P.WAITING_FOR_JELLYFIN)
            detail = "imported; waiting for Shoko to match the file"
            if shoko is not None and shoko.pending_metadata:
                # Linked to AniDB, its Shoko series or episode not created yet (a null `ID` in
                # the cross-reference): Shoko matches it by itself once the metadata is in.
                return Stage(S.ANIME_MATCHING, "shoko", PENDING_METADATA_DETAIL,
                             P.WAITING_FOR_SHOKO)
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
                    f" after {_span(unrecognised_after)}; link it by hand in Shoko"
                )
            via = "shoko" if shoko is not None else arr
            return Stage(S.ANIME_MATCHING, via, detail, P.WAITING_FOR_SHOKO)
        return Stage(S.IMPORTING, arr, f"imported{where}; waiting for Jellyfin",
                     P.WAITING_FOR_JELLYFIN)

    if queue:
        # The most advanced record says where it is (the first of them, in the queue's order).
        record = max(queue, key=lambda r: queue_stage(r).rank)
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
        reason = messages or history.failed_message or "download failed"
        return Stage(S.FAILED, arr, f"download failed: {reason}", P.FAILED)

    if _latest(history.ignored_at, history.failed_at) and not _latest(history.grabbed_at,
                                                                      history.ignored_at):
        # `downloadIgnored` (history event 9 in Radarr, 7 in Sonarr): removed from the queue
        # without blocklisting; the *arr will not grab again by itself.
        why = f" ({history.ignored_message})" if history.ignored_message else ""
        return Stage(S.FAILED, arr, f"the download was removed in {name}{why} and nothing new "
                     "was grabbed", P.FAILED)
    if history.failed_at and not _latest(history.grabbed_at, history.failed_at):
        reason = history.failed_message or "download failed"
        return Stage(S.FAILED, arr, f"download failed: {reason}; nothing new grabbed", P.FAILED)
    if history.grabbed_at and not _latest(history.file_deleted_at, history.grabbed_at):
        title = history.grabbed_title or "a release"
        return Stage(S.INDEXED, arr, f"grabbed {title}", P.GRABBED)
    if not in_arr:
        return Stage(S.APPROVED, "jellyseerr", f"approved; not in {name} yet", P.APPROVED)
    return Stage(S.APPROVED, arr, f"approved; waiting for {name} to grab a release",
                 P.WAITING_FOR_GRAB)


# ---------------------------------------------------------------- the decision


def decide(
    evidence: Evidence,
    current: Current | None,
    now: datetime,
    unrecognised_after: timedelta = timedelta(minutes=30),
) -> Decision:
    """The request's state now. `current` is None for a request never seen before."""
    seerr_stage = _seerr_stage(evidence)
    if seerr_stage is not None:
        if "jellyseerr" in evidence.unknown and current is not None:
            return _hold(current)
        return _finish(seerr_stage, current, evidence, None)

    if current is not None and evidence.depends_on() & evidence.unknown:
        return _hold(current)

    if evidence.unrouted is not None:
        match = _film_match(evidence) if evidence.request.media_type == "movie" else None
        if match is None:
            return _finish(Stage(S.APPROVED, "jellyseerr", evidence.unrouted, P.APPROVED),
                           current, evidence, None)

    if evidence.request.media_type == "tv":
        return _decide_show(evidence, current, now, unrecognised_after)
    movie = evidence.movie
    match = _film_match(evidence)
    stage = download_stage(DownloadFacts(
        arr="radarr",
        has_file=bool(movie and movie.has_file),
        file_path=movie.file_path if movie else None,
        history=evidence.movie_history,
        queue=evidence.queue,
        is_anime=evidence.is_anime,
        shoko_enabled=evidence.shoko_enabled,
        shoko=evidence.shoko,
        playable=match,
        in_arr=movie is not None,
        current=current,
        now=now,
        unrecognised_after=unrecognised_after,
    ))
    if stage.state is S.APPROVED and evidence.request.status == SeerrStatus.FAILED:
        stage = Stage(S.FAILED, "jellyseerr", "Jellyseerr could not send the request to Radarr",
                      P.FAILED)
    return _finish(stage, current, evidence, match)


def _film_match(evidence: Evidence) -> JellyfinMatch | None:
    """The film's Jellyfin match, only if it is a playable Movie carrying the request's ids."""
    if evidence.jellyfin is None or not plays_copy(evidence.jellyfin.item,
                                                   evidence.request.is4k, evidence.files_4k):
        return None
    ids = film_match_ids(evidence.request.tmdb_id, evidence.shoko)
    return match_item([evidence.jellyfin.item], ids, "Movie")


def _seerr_stage(evidence: Evidence) -> Stage | None:
    """Outcomes that only Jellyseerr decides: deleted, declined, pending approval."""
    request = evidence.request
    if evidence.seerr_deleted:
        return Stage(S.DELETED, "jellyseerr", "request removed from Jellyseerr", P.DELETED)
    if request.status == SeerrStatus.DECLINED:
        return Stage(S.DECLINED, "jellyseerr", "declined in Jellyseerr", P.DECLINED)
    if request.status == SeerrStatus.PENDING:
        return Stage(S.REQUESTED, "jellyseerr", "waiting for approval in Jellyseerr", P.REQUESTED)
    return None


def _hold(current: Current) -> Decision:
    return Decision(
        state=current.state,
        via="",
        detail=current.detail,
        progress=None,
        phase=current.phase,
        transition=False,
        held=True,
    )


def _finish(
    stage: Stage,
    current: Current | None,
    evidence: Evidence,
    match: JellyfinMatch | None,
    newly_aired: bool = False,
    /,
    **extra: object,
) -> Decision:
    """The decision for `stage`; a step back without evidence holds the current state
    (`newly_aired`: a show's episode aired since then, Sonarr's evidence)."""
    if current is not None and not newly_aired and _is_unevidenced_regression(
            stage, current, evidence):
        return _hold(current)
    return Decision(
        state=stage.state,
        via=stage.via,
        detail=stage.detail,
        progress=stage.progress,
        phase=stage.phase,
        transition=current is None or current.state is not stage.state,
        jellyfin_item_id=match.item.id if match else None,
        jellyfin_key=match.key if match else None,
        **extra,  # type: ignore[arg-type]  # only Decision's own episode fields are passed
    )


def _is_unevidenced_regression(stage: Stage, current: Current, evidence: Evidence) -> bool:
    """A backwards move with nothing seen since the current state began to justify it."""
    new_rank = LADDER.get(stage.state)
    old_rank = LADDER.get(current.state)
    if new_rank is None or old_rank is None or new_rank >= old_rank:
        return False
    if stage.state is S.REQUESTED:
        return False  # Jellyseerr's word on approval is final
    if current.state in (S.AVAILABLE, S.PARTIALLY_AVAILABLE) and "jellyfin" not in evidence.unknown:
        # The index drops an item only once its removal is confirmed, so losing the match is
        # Jellyfin's own positive evidence; a newly aired episode is Sonarr's.
        return False
    since = current.since.isoformat()
    histories = [evidence.movie_history] + [e.history for e in evidence.episodes]
    for h in histories:
        for stamp in (h.failed_at, h.grabbed_at, h.file_deleted_at):
            if _latest(stamp, since):
                return False
    return True


# ---------------------------------------------------------------- shows


def requested_seasons(request: SeerrRequest, series: SonarrSeries | None) -> tuple[int, ...]:
    """The seasons a request covers: the ones it names, else every season Sonarr monitors."""
    if request.seasons:
        return tuple(sorted(set(request.seasons)))
    if series is None:
        return ()
    return tuple(s for s in series.monitored_seasons if s != 0)


def _aired(episode: SonarrEpisode, now: datetime) -> bool:
    aired = parse_time(episode.air_date_utc)
    return aired is not None and aired <= now


def _decide_show(
    evidence: Evidence, current: Current | None, now: datetime, unrecognised_after: timedelta
) -> Decision:
    series = evidence.series
    if series is None:
        if current is not None and LADDER.get(current.state, 0) > LADDER[S.APPROVED]:
            # Without Sonarr's episode list nothing can be counted; a show that was further
            # along is not moved back by Sonarr forgetting it.
            return _hold(current)
        stage = Stage(S.APPROVED, "jellyseerr", "approved; not in Sonarr yet", P.APPROVED)
        if evidence.request.status == SeerrStatus.FAILED:
            stage = Stage(S.FAILED, "jellyseerr", "Jellyseerr could not send the request to "
                          "Sonarr", P.FAILED)
        return _finish(stage, current, evidence, None)
    seasons = set(requested_seasons(evidence.request, series))
    # Episodes unmonitored in Sonarr are left out (`_wanted`); the detail says how many.
    in_seasons = [e for e in evidence.episodes if e.episode.season in seasons]
    wanted = [e for e in in_seasons if _wanted(e)]
    left_out = len(in_seasons) - len(wanted)
    episode_decisions: list[EpisodeDecision] = []
    aired_stages: list[tuple[EpisodeEvidence, Stage]] = []
    future: list[SonarrEpisode] = []
    for ev in sorted(wanted, key=lambda e: (e.episode.season, e.episode.episode)):
        ep = ev.episode
        shoko_episodes = ev.shoko.episode_ids if ev.shoko else ()
        match = match_episode([ev.jellyfin.item], ep.season, ep.episode, shoko_episodes,
                              shoko_file_ids(ev.shoko)) if ev.jellyfin else None
        stage = download_stage(DownloadFacts(
            arr="sonarr",
            has_file=ep.has_file,
            file_path=ep.file_path,
            history=ev.history,
            queue=ev.queue,
            is_anime=evidence.is_anime,
            shoko_enabled=evidence.shoko_enabled,
            shoko=ev.shoko,
            playable=match,
            in_arr=True,
            current=current,
            now=now,
            unrecognised_after=unrecognised_after,
        ))
        aired = _aired(ep, now)
        if not aired and stage.state is not S.AVAILABLE:
            future.append(ep)
            if stage.state is S.APPROVED:
                stage = replace(stage, detail="not aired yet")
        else:
            aired_stages.append((ev, stage))
        episode_decisions.append(
            EpisodeDecision(
                season=ep.season,
                episode=ep.episode,
                state=stage.state,
                via=stage.via,
                air_date=ep.air_date_utc,
                sonarr_episode_id=ep.id,
                jellyfin_item_id=match.item.id if match else None,
            )
        )

    to_air = _to_air_note(future) + _left_out_note(left_out)
    available = [s for _, s in aired_stages if s.state is S.AVAILABLE]
    aired_count = len(aired_stages)
    extra: dict[str, object] = {
        "episodes": tuple(episode_decisions),
        "episodes_available": len(available),
        "episodes_aired": aired_count,
    }
    if aired_count == 0:
        nothing = "nothing has aired yet" if future or not left_out \
            else "no monitored episode in the requested seasons"
        stage = Stage(S.APPROVED, "sonarr", nothing + to_air, P.WAITING_FOR_AIR)
        return _finish(stage, current, evidence, None, **extra)
    if len(available) == aired_count:
        stage = Stage(S.AVAILABLE, "jellyfin",
                      f"all {aired_count} aired episodes playable in Jellyfin" + to_air,
                      P.AVAILABLE, 1.0)
        return _finish(stage, current, evidence, None, **extra)
    missing = [(ev, s) for ev, s in aired_stages if s.state is not S.AVAILABLE]
    if available:
        # Back from available: Sonarr's news when an episode aired since (or one Sonarr has no
        # file for turned up: a new or re-dated episode), Jellyfin's when it lost a file.
        newly_aired = current is not None and any(
            not ev.episode.has_file
            or ((t := parse_time(ev.episode.air_date_utc)) is not None and t > current.since)
            for ev, _ in missing
        )
        via = "sonarr" if current is not None and current.state is S.AVAILABLE and newly_aired \
            else "jellyfin"
        lagging = min(missing, key=lambda p: EPISODE_RANK[p[1].state])[1]
        # The least advanced missing episode is imported and Jellyfin does not list it: the same
        # wait as a show with nothing playable yet (one scan, then the stuck flag).
        phase = P.WAITING_FOR_JELLYFIN if lagging.phase == P.WAITING_FOR_JELLYFIN \
            else P.PARTIALLY_AVAILABLE
        stage = Stage(
            S.PARTIALLY_AVAILABLE,
            via,
            f"{len(available)}/{aired_count} aired episodes playable; "
            f"next: {lagging.detail}" + to_air,
            phase,
            len(available) / aired_count,
        )
        return _finish(stage, current, evidence, None, **extra)

    least = min(missing, key=lambda p: EPISODE_RANK[p[1].state])
    lagging_stage = least[1]
    same = [s for _, s in missing if s.state is lagging_stage.state]
    progress = _show_progress(lagging_stage.state, missing)
    detail = lagging_stage.detail
    if len(missing) > 1:
        detail = f"{len(same)}/{aired_count} episodes {lagging_stage.state}: {detail}"
    stage = replace(lagging_stage, detail=detail + to_air, progress=progress)
    aired_since = current is not None and any(
        (t := parse_time(ev.episode.air_date_utc)) is not None and t > current.since
        for ev, _ in missing
    )
    return _finish(stage, current, evidence, None, aired_since, **extra)


def _wanted(ev: EpisodeEvidence) -> bool:
    """An episode the operator unmonitored in Sonarr (say, after its file was deleted, or one
    they do not want) is not counted, unless it is there anyway (a file, a Jellyfin item)."""
    ep = ev.episode
    return ep.monitored or ep.has_file or ev.jellyfin is not None


def _left_out_note(count: int) -> str:
    if count == 0:
        return ""
    if count == 1:
        return "; 1 unmonitored episode in Sonarr is not counted"
    return f"; {count} unmonitored episodes in Sonarr are not counted"


def _show_progress(
    state: RequestState, episodes: Sequence[tuple[EpisodeEvidence, Stage]]
) -> float | None:
    """Progress of the episodes at `state`, in bytes over their distinct downloads: a season
    pack is one download (one queue record per episode) and counts once."""
    same = [(ev, s) for ev, s in episodes if s.state is state]
    downloads = {r.download_id: r for ev, _ in same for r in ev.queue
                 if (stage := queue_stage(r)).under_way and stage.state is state and r.size > 0}
    if downloads:
        size = sum(r.size for r in downloads.values())
        left = sum(min(max(r.sizeleft, 0.0), r.size) for r in downloads.values())
        return 1.0 - left / size
    progresses = [s.progress for _, s in same if s.progress is not None]
    return sum(progresses) / len(progresses) if progresses else None


def _to_air_note(future: Sequence[SonarrEpisode]) -> str:
    if not future:
        return ""
    dates = sorted(d for e in future if (d := parse_time(e.air_date_utc)) is not None)
    nxt = f", next on {dates[0].date().isoformat()}" if dates else ""
    return f"; {len(future)} still to air{nxt}"


# ---------------------------------------------------------------- nudging Jellyfin


@dataclass(frozen=True)
class Waiting:
    """A request waiting for Jellyfin to list a file it should already have."""

    request_id: int
    path: str | None
    waiting_since: datetime
    # Jellyfin was already asked to scan for it during this wait: one refresh, then patience
    # (and the stuck flag); repeated scans have broken Shokofin's virtual file system.
    nudged: bool = False


# How Jellyfin is asked, gentlest first: report the new files (`POST /Library/Media/Updated`:
# Jellyfin scans just their folders), refresh one library (`POST /Items/{id}/Refresh`, queued),
# or scan every library (`POST /Library/Refresh`, which cancels and restarts a running scan, so
# it is only sent when none runs).
MEDIA_UPDATED = "media_updated"
LIBRARY_ITEM = "library_item"
WHOLE_LIBRARY = "whole_library"


@dataclass(frozen=True)
class Nudge:
    library: Library | None  # None: refresh the whole library
    request_ids: tuple[int, ...] = field(default=())
    # The files to report, as Jellyfin sees them (under one of the library's folders); set only
    # when every request of the nudge has one.
    paths: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.library.item_id if self.library else "*"

    @property
    def kind(self) -> str:
        if self.library is None:
            return WHOLE_LIBRARY
        return MEDIA_UPDATED if self.paths else LIBRARY_ITEM

    @property
    def label(self) -> str:
        if self.library is None:
            return "the whole library"
        if self.paths:
            files = "the new file" if len(self.paths) == 1 else "the new files"
            return f"{files} in '{self.library.name}'"
        return f"'{self.library.name}'"


def library_for(path: str | None, libraries: Sequence[Library]) -> Library | None:
    """The library whose folders hold `path`: by prefix, else by the longest shared folder tail.

    The *arr and Jellyfin may mount the media at different roots (`/data/anime/movies` against
    `/media/anime/movies`), so a prefix match is tried first and then folder names.
    """
    if not path:
        return None
    norm = path.replace("\\", "/").rstrip("/")
    best: tuple[int, Library] | None = None
    for lib in libraries:
        for loc in lib.locations:
            root = loc.replace("\\", "/").rstrip("/")
            score = 1000 + len(root) if _under(norm, root) else _shared_tail(root, norm)
            if score >= 2 and (best is None or score > best[0]):
                best = (score, lib)
    return best[1] if best else None


def jellyfin_path(path: str | None, library: Library | None) -> str | None:
    """`path` when Jellyfin sees the file there (it lies under one of the library's folders),
    else None (another mount root: only a refresh of the library can find it)."""
    if not path or library is None:
        return None
    norm = path.replace("\\", "/").rstrip("/")
    for loc in library.locations:
        if _under(norm, loc.replace("\\", "/").rstrip("/")):
            return path
    return None


def _under(path: str, root: str) -> bool:
    return bool(root) and (path == root or path.startswith(root + "/"))


def _shared_tail(root: str, path: str) -> int:
    """How many trailing folders of `root` appear, in order, inside `path`."""
    parts = [p for p in root.split("/") if p]
    path_parts = [p.lower() for p in path.split("/") if p]
    for n in range(len(parts), 0, -1):
        tail = [p.lower() for p in parts[-n:]]
        for i in range(len(path_parts) - n + 1):
            if path_parts[i : i + n] == tail:
                return n
    return 0


def plan_nudges(
    waiting: Sequence[Waiting],
    libraries: Sequence[Library],
    last_refresh: Mapping[str, datetime],
    now: datetime,
    grace: timedelta,
    min_interval: timedelta,
    *,
    scan_running: bool = False,
) -> list[Nudge]:
    """How to ask Jellyfin to find the files it lacks, now: for requests past the grace period
    that no scan was asked for yet in this wait, at most one nudge per library per interval.

    Per library, the gentlest way that reaches every file: report the files when all of them lie
    under the library's folders (`Nudge.paths`, `POST /Library/Media/Updated`), else refresh
    the library. A file in no known library needs the whole library scanned; that waits while
    a library scan is running (`scan_running`: asking again would cancel and restart it), and
    while any library was refreshed within the interval."""
    groups: dict[str, tuple[Library | None, list[Waiting]]] = {}
    for w in waiting:
        if w.nudged or now - w.waiting_since < grace:
            continue
        lib = library_for(w.path, libraries)
        groups.setdefault(lib.item_id if lib else "*", (lib, []))[1].append(w)
    result = []
    whole = last_refresh.get("*")
    for key, (lib, waits) in groups.items():
        if key == "*" and scan_running:
            continue
        # A whole-library scan scans every library, so it waits until none was just refreshed.
        times = last_refresh.values() if key == "*" else (last_refresh.get(key), whole)
        if any(t is not None and now - t < min_interval for t in times):
            continue
        paths = [jellyfin_path(w.path, lib) for w in waits]
        result.append(Nudge(library=lib, request_ids=tuple(w.request_id for w in waits),
                            paths=tuple(dict.fromkeys(p for p in paths if p))
                            if all(paths) else ()))
    if any(n.library is None for n in result):
        # ... and it stands in for the libraries' own nudges in the same plan.
        return [Nudge(library=None, request_ids=tuple(i for n in result for i in n.request_ids))]
    return result


# ---------------------------------------------------------------- what is tracked, and how

# A request counts as gone from Jellyseerr after this many complete listings without it.
ABSENT_CONFIRMATIONS = 2
# Requests the *arr are not asked about: waiting for approval, or declined.
UNTRACKED_STATUSES = frozenset({SeerrStatus.PENDING, SeerrStatus.DECLINED})


def seerr_gone(absent: int) -> bool:
    """Removed from Jellyseerr: missing from enough complete listings in a row."""
    return absent >= ABSENT_CONFIRMATIONS


def absence_unconfirmed(absent: int) -> bool:
    """Missing from a listing, not yet often enough to count as removed."""
    return 0 < absent < ABSENT_CONFIRMATIONS


def is_tracked(request: SeerrRequest, absent: int) -> bool:
    """Worth polling the *arr for: not gone from Jellyseerr, not pending, not declined."""
    return not seerr_gone(absent) and request.status not in UNTRACKED_STATUSES


def deletion_settled(state: RequestState | None, absent: int) -> bool:
    """Recorded as deleted and still missing from Jellyseerr: nothing left to decide."""
    return state is S.DELETED and absent > 0


def seerr_listing_hides(request: SeerrRequest) -> bool:
    """Jellyseerr's `filter=all` leaves the request out while it still answers by id: its media
    is blocklisted (media status 6, every version that has a blocklist)."""
    return request.blocklisted


def seerr_listed(absent: int, hidden: bool) -> bool:
    """Counted in the total of Jellyseerr's `filter=all` listing: not gone, not hidden."""
    return not seerr_gone(absent) and not hidden


BLOCKLISTED_NOTE = "its media is blocklisted in Jellyseerr"


def with_seerr_notes(decision: Decision, request: SeerrRequest) -> Decision:
    """`decision` with what Jellyseerr says about the request besides its status added to the
    detail (its media is blocklisted), once; the state is left as the evidence decided it."""
    detail = decision.detail
    if request.blocklisted:
        if BLOCKLISTED_NOTE not in detail:
            detail = f"{detail}; {BLOCKLISTED_NOTE}" if detail else BLOCKLISTED_NOTE
    elif BLOCKLISTED_NOTE in detail:  # a held decision keeps an old detail
        detail = detail.replace(f"; {BLOCKLISTED_NOTE}", "").replace(BLOCKLISTED_NOTE, "")
    return decision if detail == decision.detail else replace(decision, detail=detail)


@dataclass(frozen=True)
class AnimeRules:
    """How a request is known to be anime (so Shoko has to match its files): a Radarr tag, a
    Sonarr series type, a path under an anime root folder, or a file Shoko found."""

    radarr_tag_ids: frozenset[int] = frozenset()
    root_folders: tuple[str, ...] = ()

    @classmethod
    def configured(cls, tag_labels: Iterable[str], radarr_tags: Mapping[int, str],
                   root_folders: Iterable[str]) -> AnimeRules:
        """The rules from the `[anime]` settings and Radarr's tag labels (id -> label)."""
        wanted = {t.lower() for t in tag_labels}
        return cls(frozenset(i for i, label in radarr_tags.items() if label.lower() in wanted),
                   tuple(r.rstrip("/") + "/" for r in root_folders))

    def under_root(self, path: str | None) -> bool:
        return path is not None and any(
            (path.rstrip("/") + "/").startswith(r) for r in self.root_folders)

    def film(self, movie: RadarrMovie | None, shoko: ShokoFile | None) -> bool:
        return bool(movie and (
            self.radarr_tag_ids & set(movie.tags) or self.under_root(movie.path)
            or self.under_root(movie.root_folder) or self.under_root(movie.file_path)
        )) or shoko is not None

    def show(self, series: SonarrSeries | None,
             shoko_files: Iterable[ShokoFile | None] = ()) -> bool:
        return bool(series and (is_anime_series(series) or self.under_root(series.path))) \
            or any(f is not None for f in shoko_files)


def is_anime_series(series: SonarrSeries) -> bool:
    """Sonarr itself says the series is anime."""
    return series.series_type == "anime"


# ---------------------------------------------------------------- stuck detection


class Deadlines:
    """How long a request may stay in a state (or phase) before it is flagged stuck, by its
    `[stuck]` key: `Deadlines(approved=timedelta(hours=1)).approved`; a key not given keeps the
    state table's default."""

    def __init__(self, **limits: timedelta) -> None:
        unknown = sorted(set(limits) - set(STUCK_DEFAULTS))
        if unknown:
            raise TypeError(f"no stuck deadline is called {', '.join(unknown)}")
        self.limits: Mapping[str, timedelta] = {**STUCK_DEFAULTS, **limits}

    def __getattr__(self, key: str) -> timedelta:
        """`deadlines.approved`: one key's limit (read from `__dict__`: `limits` may not be
        set yet, while a copy is made)."""
        limits: Mapping[str, timedelta] = self.__dict__.get("limits", {})
        if key not in limits:
            raise AttributeError(key)
        return limits[key]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deadlines) and self.limits == other.limits

    def __hash__(self) -> int:
        return hash(tuple(self.limits.items()))

    def __repr__(self) -> str:
        return f"Deadlines({', '.join(f'{k}={v!r}' for k, v in self.limits.items())})"


def stuck_reason(
    state: RequestState,
    phase: Phase | None,
    since: datetime,
    phase_since: datetime | None,
    progress_since: datetime | None,
    now: datetime,
    deadlines: Deadlines,
    release: datetime | None = None,
) -> str | None:
    """Why a request is stuck, or None. Stuck is a flag beside the state, never a state.

    The deadlines are the state table's: a phase's own (from when the phase began) comes before
    its state's (from when the state was entered; a download's from its last progress).
    `release` is when what an approved request waits for can first be had (`film_release`,
    `show_release`): no release can be grabbed before it, so the `approved` deadline runs from
    then, not from the approval.

    The reason names the deadline, not the time elapsed (the state's `since` tells that), so a
    request that stays stuck is not rewritten every cycle."""
    if phase in NEVER_STUCK:
        return None
    if phase is not None and phase in PHASE_DEADLINES:
        return _past(PHASE_DEADLINES[phase].reason, deadlines.limits[phase],
                     phase_since or since, now)
    deadline = STATES[state].deadline
    if deadline is None:
        return None
    start = since
    if state is S.DOWNLOADING:
        start = progress_since or since
    if state is S.APPROVED and release is not None and release > since:
        start = release
    return _past(deadline.reason, deadlines.limits[state], start, now)


def _past(reason: str, limit: timedelta, start: datetime, now: datetime) -> str | None:
    """`reason` with its limit filled in once `limit` has passed since `start`, else None."""
    return reason.format(limit=_fmt(limit)) if now - start >= limit else None


# A film without a digital or physical release date counts as released this long after its
# cinema release (Radarr's own rule for `isAvailable`).
CINEMA_TO_HOME = timedelta(days=90)


def film_release(movie: RadarrMovie | None, now: datetime) -> datetime | None:
    """When a film can first be had at home: its digital or physical release, whichever comes
    first, else `CINEMA_TO_HOME` after its cinema release; None when Radarr knows no date, or
    when it says the film is out (`status` "released") against a date still to come."""
    if movie is None:
        return None
    homes = [t for t in (parse_time(movie.digital_release), parse_time(movie.physical_release))
             if t is not None]
    cinemas = parse_time(movie.in_cinemas)
    release = min(homes) if homes else cinemas + CINEMA_TO_HOME if cinemas is not None else None
    if release is not None and release > now and movie.status == "released":
        return None
    return release


def show_release(episodes: Iterable[EpisodeDecision]) -> datetime | None:
    """When a show's next wanted episode can first be had: the air date of its earliest
    requested episode not yet playable (in the past while one is missing, else the next to
    air); None when every one is playable or none has a date."""
    dates = [t for e in episodes if e.state is not S.AVAILABLE
             and (t := parse_time(e.air_date)) is not None]
    return min(dates, default=None)


def download_eta(queue: Iterable[QueueRecord]) -> datetime | None:
    """The earliest expected end among the downloads still under way (queued or downloading)."""
    times = [t for r in queue if queue_stage(r).under_way
             and (t := parse_time(r.estimated_completion)) is not None]
    return min(times, default=None)


def stuck_since(reason: str | None, previous: datetime | None, now: datetime) -> datetime | None:
    """When the stuck flag went up: kept while the request stays stuck, cleared once it is not."""
    if reason is None:
        return None
    return previous if previous is not None else now


def _span(delta: timedelta) -> str:
    """A configured duration for a detail: "30 min", "2 h", or seconds below a minute."""
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{round(seconds, 1):g} s"
    return _fmt(delta)


def _fmt(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
