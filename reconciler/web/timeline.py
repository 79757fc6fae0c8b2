"""A request's timeline in plain words, for its page (pure): each move as people would say it,
naming the services as people know them ("Radarr found a release", "Jellyfin can play it");
entries that change nothing (reconciler asking Jellyfin to scan) folded away; the services'
own wording (release names, file paths, match keys) kept for a disclosure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.models import MediaType
from reconciler.registry import short_name
from reconciler.states import STATES, RequestState
from reconciler.store import TimelineEntry

S = RequestState


@dataclass(frozen=True)
class Move:
    """One line of the timeline as the page shows it."""

    at: datetime | None
    to_state: str  # the contract's `data-to`
    status: str  # the state's short name ("Available")
    sentence: str  # "Jellyfin can play it"
    via: str  # the service's name as people know it ("Radarr")
    detail: str  # the service's own words (technical: behind a disclosure)
    changes: bool  # False: news within a state (folded away)


def _service(via: str) -> str:
    return {"reconciler": "reconciler"}.get(via, short_name(via) if via else "")


def sentence(entry: TimelineEntry, media_type: MediaType, server: str = "Jellyfin") -> str:
    """What happened, in words (`server`: the media server's name, "Plex")."""
    to, via, detail = entry.to_state, entry.via, entry.detail or ""
    who = _service(via)
    arr = who if via in ("radarr", "sonarr") else (
        "Sonarr" if media_type is MediaType.TV else "Radarr")
    if entry.from_state == to:
        if via == "reconciler" and "scan" in detail:
            return f"reconciler asked {server} to look for it"
        return f"News from {who}" if who else "News"
    words = {
        S.REQUESTED: "Requested in Jellyseerr",
        S.APPROVED: "Approved in Jellyseerr" if via == "jellyseerr" else (
            "Waiting for episodes to air" if "aired" in detail or "to air" in detail
            else f"{arr} is looking for a release"),
        S.INDEXED: f"{arr} found a release",
        S.DOWNLOADING: f"{arr} is downloading it",
        S.DOWNLOAD_DONE: "The download finished",
        S.IMPORTING: f"{arr} is adding it to the library" if f"waiting for {server}" not in
        detail else f"{arr} added it to the library; waiting for {server}",
        S.ANIME_MATCHING: f"Shoko matched it; waiting for {server}" if detail.startswith(
            "matched by Shoko") else "Shoko is identifying it",
        S.PARTIALLY_AVAILABLE: f"{server} can play some episodes",
        S.AVAILABLE: f"{server} can play it",
        S.FAILED: "Jellyseerr could not send it on" if via == "jellyseerr"
        else f"The download failed in {arr}",
        S.DECLINED: "Declined in Jellyseerr",
        S.DELETED: "Removed from Jellyseerr",
    }
    try:
        return words[RequestState(to)]
    except ValueError:
        return to


def moves(entries: Sequence[TimelineEntry], media_type: MediaType,
          server: str = "Jellyfin") -> list[Move]:
    """The timeline, newest first (`server`: the media server's name)."""
    out = []
    for entry in reversed(entries):
        try:
            status = STATES[RequestState(entry.to_state)].name
        except ValueError:
            status = entry.to_state
        out.append(Move(entry.at, entry.to_state, status, sentence(entry, media_type, server),
                        _service(entry.via), entry.detail or "",
                        entry.from_state != entry.to_state))
    return out
