"""The list as a household reads it (pure): one definition of each group, the chips' counts
equal to what their links list, newest first in each group, bounded screens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.states import RequestState
from reconciler.store import RequestRow, Store
from reconciler.times import iso
from reconciler.web import listing
from reconciler.web.listing import Group, group_of
from tests.web.support import household, row

S = RequestState


def entries(rows: list[RequestRow]) -> list[listing.Entry]:
    """The list's entries of `rows`, from the columns the store gives the page."""
    return listing.entries(
        (r.id, r.state.value, r.stuck_reason is not None, r.episodes_available,
         r.episodes_aired, iso(r.created_at), r.requested_by, r.title, r.tmdb_id) for r in rows)


@pytest.mark.parametrize(("state", "stuck", "ready", "aired", "group"), [
    (S.FAILED, False, None, None, Group.ATTENTION),
    (S.DOWNLOADING, True, None, None, Group.ATTENTION),
    (S.PARTIALLY_AVAILABLE, True, 3, 4, Group.ATTENTION),
    (S.DOWNLOADING, False, None, None, Group.ON_THE_WAY),
    (S.REQUESTED, False, None, None, Group.ON_THE_WAY),
    (S.PARTIALLY_AVAILABLE, False, 9, 10, Group.ON_THE_WAY),  # an episode still to come
    (S.PARTIALLY_AVAILABLE, False, 4, 4, Group.READY),  # waits only for the calendar
    (S.AVAILABLE, False, None, None, Group.READY),
    (S.DECLINED, False, None, None, Group.ENDED),
    (S.DELETED, False, None, None, Group.ENDED),
])
def test_one_definition_of_each_group(state: RequestState, stuck: bool, ready: int | None,
                                      aired: int | None, group: Group) -> None:
    assert group_of(state, stuck, ready, aired) is group
    assert listing.needs_attention(state, stuck) == (group is Group.ATTENTION)


def test_every_chip_counts_what_its_link_lists() -> None:
    found = entries(household())
    counts = listing.counts(found)
    for chip in ("attention", "on_the_way", "ready", "ended", "stuck", "downloading"):
        shown = listing.screen(found, state=chip)
        assert shown.matches == counts[chip], chip
    assert (counts["attention"], counts["on_the_way"], counts["ready"]) == (2, 6, 1)


def test_groups_in_order_newest_first_in_each_and_bounded() -> None:
    rows = [replace(row(i, S.DOWNLOADING, f"Film {i}", progress=0.1), id=i)
            for i in range(1, 60)] + [row(60, S.FAILED, "Failed")]
    shown = listing.screen(entries(rows))
    assert [g for g, _, _ in shown.sections] == [Group.ATTENTION, Group.ON_THE_WAY]
    (_, attention, _), (_, on_the_way, total) = shown.sections
    assert attention == (60,)
    assert len(on_the_way) == listing.GROUP_LIMIT and total == 59
    assert list(on_the_way) == sorted(on_the_way, reverse=True)  # newest first


def test_a_filtered_list_is_paged() -> None:
    rows = [row(i, S.DOWNLOADING, f"Film {i}", progress=0.1) for i in range(1, 121)]
    found = entries(rows)
    first = listing.screen(found, state="downloading")
    last = listing.screen(found, state="downloading", page=9)
    assert (first.page, first.pages, len(first.filtered)) == (1, 3, listing.PAGE_SIZE)
    assert (last.page, len(last.filtered)) == (3, 20)  # past the end: the last page
    assert set(first.filtered).isdisjoint(last.filtered)


def test_the_store_rows_group_as_the_rows_do(tmp_path: Path) -> None:
    """What the page reads of every request (`PageReads.list_rows`) groups, names and orders
    them as the rows themselves do."""
    store = Store.open(tmp_path / "r.db")
    rows = [*household(), row(11, S.APPROVED, "", tmdb_id=77),
            row(12, S.PARTIALLY_AVAILABLE, "Done", tv=True, episodes_available=4,
                episodes_aired=4)]
    with store.transaction():
        for r in rows:
            store.save_request(replace(r, title=r.title or None), None)
    fast = {e.id: e for e in listing.entries(store.pages.list_rows())}
    store.close()
    slow = {e.id: e for e in entries(rows)}
    assert {i: e.group for i, e in fast.items()} == {i: e.group for i, e in slow.items()}
    assert fast[11].title == "TMDB 77" and fast[12].group is Group.READY
    assert [e.id for e in listing.newest_first(fast.values())] == list(range(12, 0, -1))
