"""What `status`, `show` and the HTTP API print: one JSON shape, and a readable table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.models import MediaType
from reconciler.store import RequestRow, Store
from reconciler.store.meta import INDEX_OF
from reconciler.times import iso
from reconciler.words import Voice, ago, day, display_title, kind, progress_text, with_year


@dataclass(frozen=True)
class Untitled:
    """Why a request has no title yet: its title look-up fails (since when; asked again when,
    None while it waits for the end of an outage of every look-up)."""

    reason: str
    since: datetime | None = None
    retry_at: datetime | None = None


def request_json(row: RequestRow) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id,
        "media_type": row.media_type.value,
        "title": row.title,
        "tmdb_id": row.tmdb_id,
        "tvdb_id": row.tvdb_id,
        "is_anime": row.is_anime,
        "state": row.state.value,
        "state_since": iso(row.state_since),
        "via": row.via,
        "server": row.server,
        "detail": row.detail,
        "progress": None if row.progress is None else round(row.progress, 4),
        "stuck": row.stuck_reason is not None,
        "stuck_reason": row.stuck_reason,
        "is4k": row.is4k,
        "jellyfin_item_id": row.jellyfin_item_id,
        "matched_by": row.jellyfin_key,
        "shoko_ids": row.shoko_ids,
        "requested_by": row.requested_by,
        "requested_by_id": row.requested_by_id,
        "year": row.year,
        "eta": iso(row.eta),
        "release_date": iso(row.release_date),
    }
    if row.media_type is MediaType.TV:
        data["episodes_available"] = row.episodes_available
        data["episodes_aired"] = row.episodes_aired
    return data


def show_json(store: Store, row: RequestRow, untitled: Untitled | None = None) -> dict[str, Any]:
    """`show --json`; with `untitled` (a request without a title, and why) also
    `title_unavailable`: the TMDB id, the reason, since when, when it is asked again."""
    data: dict[str, Any] = {
        "request": request_json(row),
        "timeline": [
            {"at": iso(t.at), "from": t.from_state, "to": t.to_state, "via": t.via,
             "detail": t.detail}
            for t in store.timeline(row.id)
        ],
    }
    if row.media_type is MediaType.TV:
        data["episodes"] = [
            {"season": e.season, "episode": e.episode, "state": e.state,
             "air_date": iso(e.air_date), "via": e.via}
            for e in store.episodes(row.id)
        ]
    if untitled is not None:
        data["title_unavailable"] = {"tmdb_id": row.tmdb_id, "reason": untitled.reason,
                                     "since": iso(untitled.since),
                                     "retry_at": iso(untitled.retry_at)}
    return data


def untitled_text(untitled: Untitled, now: datetime) -> str:
    """The `title:` line of `show` while a request has no title."""
    since = f" since {ago(untitled.since, now)}" if untitled.since else ""
    again = (f"; asked again at {iso(untitled.retry_at)}" if untitled.retry_at
             else "; asked again once title look-ups work again")
    return f"  title:    unknown (look-up failing{since}: {untitled.reason}){again}"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r, strict=True)]
    widths[-1] = len(headers[-1])  # the last column runs free
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def status_table(rows: list[RequestRow], now: datetime, width: int | None = None, *,
                 servers: bool = False) -> str:
    """The `status` table; with `width` (a terminal's), lines longer than it are cut with "…"
    rather than wrapped (`show ID` has the whole detail; piped output is never cut).
    `servers`: with a SERVER column (when several servers of a kind are configured)."""
    if not rows:
        return "no requests tracked yet (run `reconcile --once`)"
    body = []
    for r in rows:
        state = r.state.value + (" (stuck)" if r.stuck_reason else "")
        detail = r.detail or ""
        if r.stuck_reason:
            detail = f"{detail} — stuck: {r.stuck_reason}"
        line = [str(r.id), display_title(r)[:40], kind(r, Voice.TERMINAL), state,
                ago(r.state_since, now), progress_text(r), detail]
        if servers:
            line.insert(4, r.server or "-")
        body.append(line)
    headers = ["ID", "TITLE", "TYPE", "STATE", "SINCE", "PROGRESS", "DETAIL"]
    if servers:
        headers.insert(4, "SERVER")
    text = table(headers, body)
    if width is None:
        return text
    limit = max(width, 40)
    return "\n".join(line if len(line) <= limit else line[:limit - 1] + "…"
                     for line in text.splitlines())


def show_text(store: Store, row: RequestRow, now: datetime,
              untitled: Untitled | None = None) -> str:
    lines = [
        f"#{row.id} {with_year(row, Voice.TERMINAL)} ({kind(row, Voice.TERMINAL)}"
        f"{', anime' if row.is_anime else ''}{', 4K' if row.is4k else ''})",
        *([untitled_text(untitled, now)] if untitled is not None else []),
        f"  state:    {row.state.value} since {iso(row.state_since)} ({ago(row.state_since, now)})"
        f" via {row.via or '-'}",
        f"  detail:   {row.detail or ''}",
    ]
    if row.server:
        lines.insert(2, f"  server:   {row.server}")
    if row.requested_by:
        lines.append(f"  by:       {row.requested_by}")
    if progress_text(row):
        lines.append(f"  progress: {progress_text(row)}")
    if row.eta:
        lines.append(f"  eta:      {iso(row.eta)}")
    if row.release_date:
        release = day(row.release_date)
        if row.media_type is MediaType.MOVIE:
            lines.append(f"  release:  {release}" + (" (not released yet)"
                                                     if row.release_date > now else ""))
        elif row.release_date > now:
            lines.append(f"  next:     episode airs {release}")
    if row.stuck_reason:
        lines.append(f"  STUCK:    {row.stuck_reason}")
    ids = [f"tmdb {row.tmdb_id}"] if row.tmdb_id else []
    if row.tvdb_id:
        ids.append(f"tvdb {row.tvdb_id}")
    if row.jellyfin_item_id:
        # The media server whose item it is (the index records which one it holds).
        server = (store.meta.get(INDEX_OF) or "jellyfin").split(" ", 1)[0]
        ids.append(f"{server} {row.jellyfin_item_id} (by {row.jellyfin_key})")
    for k, v in row.shoko_ids.items():
        ids.append(f"shoko {k} {','.join(map(str, v))}")
    lines.append(f"  ids:      {'; '.join(ids)}")
    lines.append("")
    lines.append("timeline:")
    entries = store.timeline(row.id)
    lines.append(table(["AT", "FROM", "TO", "VIA", "DETAIL"], [
        [iso(t.at) or "", t.from_state or "-", t.to_state, t.via, t.detail] for t in entries
    ]))
    if row.media_type is MediaType.TV:
        episodes = store.episodes(row.id)
        if episodes:
            lines.append("")
            lines.append("episodes:")
            lines.append(table(["EP", "STATE", "AIRS", "VIA"], [
                [f"S{e.season:02d}E{e.episode:02d}", e.state,
                 day(e.air_date) if e.air_date else "", e.via or ""] for e in episodes
            ]))
    return "\n".join(lines)
