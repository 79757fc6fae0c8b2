"""Times and media types are parsed once, at the edge: the service modules hand on `datetime`s in
UTC (to the microsecond of .NET's seven digits) and `MediaType`s; an unreadable time is None, a
missing required one or an unknown type a `BadResponse`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.errors import BadResponse
from reconciler.models import HistoryFacts, MediaType
from reconciler.services.arr import parse_history_event, parse_queue_record
from reconciler.services.jellyseerr import parse_request
from reconciler.services.shoko import parse_file
from reconciler.services.sonarr import parse_episode


def history(date: Any, event_id: int = 1, event: str = "grabbed") -> dict[str, Any]:
    return {"id": event_id, "eventType": event, "date": date, "movieId": 1,
            "sourceTitle": "Release"}


def test_net_times_keep_their_microseconds_and_same_second_events_their_order() -> None:
    first = parse_history_event("radarr", history("2026-01-22T04:36:40.1234567Z"))
    second = parse_history_event("radarr", history("2026-01-22T04:36:40.1234575Z", 2,
                                                   "downloadFailed"))
    assert first.date == datetime(2026, 1, 22, 4, 36, 40, 123456, tzinfo=UTC)
    assert second.date == datetime(2026, 1, 22, 4, 36, 40, 123457, tzinfo=UTC)
    facts = HistoryFacts().merge_event(first.event_type, first.date, "Release", "")
    facts = facts.merge_event(second.event_type, second.date, "", "stalled")
    assert (facts.grabbed_at, facts.failed_at) == (first.date, second.date)
    # Strictly later only: the same grab seen again changes nothing.
    assert facts.merge_event("grabbed", first.date, "Other", "") == facts


def test_an_offset_is_turned_into_utc_and_a_missing_one_means_utc() -> None:
    shoko = parse_file({"ID": 1, "Imported": "2026-01-22T05:47:18+01:00", "Locations": []})
    assert shoko.imported == datetime(2026, 1, 22, 4, 47, 18, tzinfo=UTC)
    assert shoko.imported is not None and shoko.imported.tzinfo is UTC
    episode = parse_episode({"id": 1, "seriesId": 2, "seasonNumber": 1, "episodeNumber": 1,
                             "airDateUtc": "2026-01-22T04:00:00", "hasFile": False})
    assert episode.air_date_utc == datetime(2026, 1, 22, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "not a date", "2026-13-45T99:00:00Z"])
def test_an_unreadable_time_is_none_never_a_failed_poll(text: str) -> None:
    record = parse_queue_record("radarr", {
        "id": 1, "movieId": 1, "size": 10.0, "sizeleft": 5.0, "status": "downloading",
        "estimatedCompletionTime": text})
    assert record.estimated_completion is None
    assert parse_history_event("radarr", history(text or "x")).date is None


def test_a_history_record_without_a_date_or_with_a_non_text_one_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="date"):
        parse_history_event("radarr", history(None))
    with pytest.raises(BadResponse, match="date"):
        parse_history_event("radarr", history(1700000000))


def seerr(kind: str, **extra: Any) -> dict[str, Any]:
    return {"id": 1, "status": 2, "type": kind, "media": {"tmdbId": 603}, **extra}


def test_a_request_has_a_media_type_and_an_unknown_type_is_a_bad_response() -> None:
    film = parse_request(seerr("movie", updatedAt="2026-11-01T10:02:00.000Z"))
    assert film.media_type is MediaType.MOVIE and film.media_type.arr == "radarr"
    assert parse_request(seerr("tv")).media_type is MediaType.TV
    assert film.updated_at == datetime(2026, 11, 1, 10, 2, tzinfo=UTC)
    assert film.created_at is None
    with pytest.raises(BadResponse, match="type"):
        parse_request(seerr("music"))

