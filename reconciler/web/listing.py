"""The request list as a household reads it (pure, no I/O): grouped into what needs
attention, what is on the way and what is ready, newest first in each, with what was declined
or removed last; filtered by the page's form; bounded to a screen.

One definition of each group, used by the page's sections, its summary chips and their links,
and `/api/summary`: a request **needs attention** when it is stuck or failed; it is **ready**
when it is available, or partly available with every aired episode playable (it waits only for
the calendar); **ended** when declined or removed; **on the way** otherwise (including a show
with some episodes ready while others are still to come).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import attrgetter
from typing import Any

from reconciler.states import RequestState
from reconciler.words import display_title

S = RequestState
# The unfiltered page shows at most this many requests of each group (a link shows the rest);
# a filtered list, this many a page.
GROUP_LIMIT = 20
PAGE_SIZE = 50


class Group(StrEnum):
    """The page's sections, in the order it shows them. The strings are the `?state=` values
    of their links."""

    ATTENTION = "attention"
    ON_THE_WAY = "on_the_way"
    READY = "ready"
    ENDED = "ended"


TITLES: dict[Group, str] = {
    Group.ATTENTION: "Needs attention",
    Group.ON_THE_WAY: "On the way",
    Group.READY: "Ready to watch",
    Group.ENDED: "Declined and removed",
}


def needs_attention(state: RequestState | str, stuck: bool) -> bool:
    """Stuck or failed: the one definition of "needs attention"."""
    return group_of(state, stuck, None, None) is Group.ATTENTION


# The group of a state that alone decides it (not stuck). Keyed by the states' strings: a state
# hashes and compares as its string, so one look-up serves both; the page groups every request
# on each draw, and a dict look-up is cheaper than comparing with enum members one by one.
_GROUP_OF_STATE: dict[str, Group] = {
    S.FAILED.value: Group.ATTENTION,
    S.DECLINED.value: Group.ENDED,
    S.DELETED.value: Group.ENDED,
    S.AVAILABLE.value: Group.READY,
}
_PARTLY = S.PARTIALLY_AVAILABLE.value


def group_of(state: RequestState | str, stuck: bool, episodes_available: int | None,
             episodes_aired: int | None) -> Group:
    """The section a request is listed in (see the module docstring); `state` a state or its
    stored string."""
    if stuck:
        return Group.ATTENTION
    group = _GROUP_OF_STATE.get(state)
    if group is not None:
        return group
    if state == _PARTLY and (episodes_available or 0) >= (episodes_aired or 0):
        return Group.READY
    return Group.ON_THE_WAY


@dataclass(frozen=True, slots=True)
class Entry:
    """One request as the list orders and filters it."""

    id: int
    group: Group
    state: str
    stuck: bool
    created: str  # Jellyseerr's creation time as stored (ISO 8601 UTC: sorts as text)
    title: str
    requested_by: str


@dataclass(frozen=True)
class Screen:
    """What one page of the list shows: the ids of each section (in order) and how many each
    holds in all, or (filtered) one page of matches."""

    sections: tuple[tuple[Group, tuple[int, ...], int], ...]
    filtered: tuple[int, ...]
    matches: int
    page: int
    pages: int

    @property
    def ids(self) -> list[int]:
        """Every id shown, sections first."""
        return [i for _, ids, _ in self.sections for i in ids] + list(self.filtered)


@dataclass(frozen=True)
class _Untitled:
    id: int
    tmdb_id: int | None
    title: None = None


def entries(rows: Iterable[tuple[Any, ...]]) -> list[Entry]:
    """Entries from the store's list rows (`PageReads.list_rows`: id, state, stuck, episodes
    available, episodes aired, created, requested by, title, TMDB id), grouped by
    `group_of`'s rule; a request without a title is searched by its stand-in ("TMDB 603")."""
    out = []
    for rid, state, stuck, ready, aired, created, who, title, tmdb in rows:
        name = title or display_title(_Untitled(rid, tmdb))
        out.append(Entry(rid, group_of(state, bool(stuck), ready, aired), state, bool(stuck),
                         created or "", name, who or ""))
    return out


def newest_first(found: Iterable[Entry]) -> list[Entry]:
    return sorted(found, key=attrgetter("created", "id"), reverse=True)


def matches(e: Entry, *, state: str = "", user: str = "", query: str = "") -> bool:
    """The page's filters: `state` (a state, a group, or "stuck"), requester, search text
    (title or requester, ignoring case)."""
    if state == "stuck" and not e.stuck:
        return False
    if state in tuple(Group) and e.group != state:
        return False
    if state and state != "stuck" and state not in tuple(Group) and e.state != state:
        return False
    if user and e.requested_by.casefold() != user.casefold():
        return False
    needle = query.casefold().strip()
    return not needle or needle in e.title.casefold() or needle in e.requested_by.casefold()


def screen(entries: Sequence[Entry], *, state: str = "", user: str = "", query: str = "",
           page: int = 1) -> Screen:
    """The list's screen: with a filter, one page of the newest matches; without, each
    group's newest `GROUP_LIMIT` (ended ones last)."""
    ordered = newest_first(entries)
    if state or user or query:
        found = [e.id for e in ordered if matches(e, state=state, user=user, query=query)]
        pages = max(1, -(-len(found) // PAGE_SIZE))
        page = min(max(page, 1), pages)
        start = (page - 1) * PAGE_SIZE
        return Screen((), tuple(found[start:start + PAGE_SIZE]), len(found), page, pages)
    sections = []
    for group in Group:
        ids = [e.id for e in ordered if e.group is group]
        if ids:
            sections.append((group, tuple(ids[:GROUP_LIMIT]), len(ids)))
    return Screen(tuple(sections), (), len(ordered), 1, 1)


def counts(entries: Iterable[Entry]) -> dict[str, int]:
    """How many requests each group holds, each state, and how many are stuck (the chips,
    the state filter, `/api/summary`)."""
    out: dict[str, int] = {g.value: 0 for g in Group}
    out["stuck"] = 0
    for e in entries:
        out[e.group.value] += 1
        out[e.state] = out.get(e.state, 0) + 1
        out["stuck"] += e.stuck
    return out
