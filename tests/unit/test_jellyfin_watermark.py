"""The Jellyfin poll's watermark when the `Date` header is missing: Jellyfin's newest
DateCreated, never later than reconciler's clock nor earlier than the previous watermark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.cycle.poll_media_server import _watermark

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_the_date_header_wins_when_there_is_one() -> None:
    assert _watermark(NOW - HOUR, NOW - 2 * HOUR, NOW - 3 * HOUR, NOW) == NOW - HOUR


def test_without_a_date_header_the_newest_date_created_is_the_watermark() -> None:
    assert _watermark(None, NOW - HOUR, None, NOW) == NOW - HOUR
    assert _watermark(None, NOW - HOUR, NOW - 2 * HOUR, NOW) == NOW - HOUR


def test_it_never_moves_back_nor_past_reconcilers_clock() -> None:
    assert _watermark(None, NOW - 3 * HOUR, NOW - HOUR, NOW) == NOW - HOUR
    assert _watermark(None, NOW + HOUR, None, NOW) == NOW  # a file dated in the future
    assert _watermark(None, None, NOW - HOUR, NOW) == NOW - HOUR
    assert _watermark(None, None, None, NOW) is None
