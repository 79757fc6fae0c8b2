"""The page's data on the request row: migration 4 keeps an existing database's rows and adds
the columns; the requester's name (never an e-mail address) and the names a `[notify.users]`
key may use; year, ETA and release date round-trip through the store and the JSON."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from reconciler.cycle.apply import requester_keys, requester_name
from reconciler.models import MediaType, SeerrRequest
from reconciler.states import RequestState
from reconciler.store import SCHEMA_VERSION, Store
from reconciler.store import schema as store_module
from reconciler.views import request_json, show_text
from tests.web.support import row

NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def seerr(**fields: object) -> SeerrRequest:
    return SeerrRequest(id=1, media_type=MediaType.MOVIE, status=2, tmdb_id=603, tvdb_id=None,
                        **fields)  # type: ignore[arg-type]


def test_the_requester_is_shown_by_name_never_by_address() -> None:
    assert requester_name(seerr(requested_by_display_name="Anna",
                                requested_by_email="anna@example.org")) == "Anna"
    # Seerr's display name falls back to the address for a user with no name.
    assert requester_name(seerr(requested_by_display_name="ben@example.org",
                                requested_by_jellyfin_username="Ben",
                                requested_by_email="ben@example.org")) == "Ben"
    assert requester_name(seerr(requested_by_display_name="carol@example.org",
                                requested_by_email="carol@example.org")) == "carol"
    assert requester_name(seerr()) is None


def test_a_requester_is_known_by_every_name_a_config_may_use() -> None:
    req = seerr(requested_by_display_name="Anna", requested_by_username=None,
                requested_by_jellyfin_username="anna", requested_by_email="Anna@Example.org")
    assert requester_keys(req) == ["anna", "anna@example.org"]


def test_migration_4_adds_the_columns_and_keeps_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migrate in store_module.MIGRATIONS[:3]:  # a database as the previous release left it
        migrate(db)
    conn.execute("PRAGMA user_version = 3")
    old = row(1, RequestState.DOWNLOADING, "Dune").to_db()
    for name in ("requested_by", "requested_by_id", "requester_keys", "year", "eta",
                 "release_date", "server", "nudged_at"):
        del old[name]
    db.table("requests").insert(old)
    conn.close()

    store = Store.open(path)
    try:
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
        kept = store.request(1)
    finally:
        store.close()
    assert version == SCHEMA_VERSION >= 7  # migrated to the newest (8: issue 23)
    assert kept is not None and kept.title == "Dune"
    assert (kept.requested_by, kept.requester_keys, kept.year, kept.eta) == (None, [], None, None)
    assert kept.server is None


def test_migration_5_adds_the_server_and_the_video_widths_and_keeps_the_rows(
        tmp_path: Path) -> None:
    """Several Radarr/Sonarr servers (issue 16): a database at schema 4 gains each request's
    server and each Jellyfin item's video widths; its rows stay."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migrate in store_module.MIGRATIONS[:4]:
        migrate(db)
    conn.execute("PRAGMA user_version = 4")
    old = row(1, RequestState.DOWNLOADING, "Dune", requested_by="Anna").to_db()
    del old["server"], old["nudged_at"]
    db.table("requests").insert(old)
    assert "server" not in db.table("requests").columns_dict
    assert "video_widths" not in db.table("jellyfin_items").columns_dict
    conn.close()

    store = Store.open(path)
    try:
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
        kept = store.request(1)
        columns = sqlite_utils.Database(store.conn).table("jellyfin_items").columns_dict
        assert kept is not None
        store.save_request(replace(kept, server="radarr4k"), kept)
        again = store.request(1)
    finally:
        store.close()
    assert version == SCHEMA_VERSION >= 7  # migrated to the newest (8: issue 23)
    assert "video_widths" in columns
    assert (kept.title, kept.requested_by, kept.server) == ("Dune", "Anna", None)
    assert again is not None and again.server == "radarr4k"


def test_migration_6_keeps_a_nudge_recorded_before_the_upgrade(tmp_path: Path) -> None:
    """Whether Jellyfin was asked to scan during a wait was read back from the timeline's
    wording; from schema 6 it is the row's `nudged_at`, taken from that wording once, so a
    request nudged before the upgrade is not nudged again."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migrate in store_module.MIGRATIONS[:5]:
        migrate(db)
    conn.execute("PRAGMA user_version = 5")
    for rid in (1, 2):
        old = row(rid, RequestState.IMPORTING, f"Film {rid}").to_db()
        del old["nudged_at"]
        db.table("requests").insert(old)
    timeline = db.table("timeline")
    timeline.insert({"request_id": 1, "at": "2026-11-01T10:00:00Z", "from_state": "importing",
                     "to_state": "importing", "via": "reconciler",
                     "detail": "asked Jellyfin to scan 'Films'"})
    timeline.insert({"request_id": 2, "at": "2026-11-01T10:00:00Z", "from_state": "approved",
                     "to_state": "importing", "via": "radarr", "detail": "imported"})
    conn.close()

    store = Store.open(path)
    try:
        nudged, not_nudged = store.request(1), store.request(2)
    finally:
        store.close()
    assert nudged is not None and nudged.nudged_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert not_nudged is not None and not_nudged.nudged_at is None


def test_the_new_fields_round_trip_and_reach_the_json(tmp_path: Path) -> None:
    full = replace(row(2, RequestState.DOWNLOADING, "Dune: Part Two", progress=0.4),
                   requested_by="Anna", requested_by_id=7,
                   requester_keys=["anna", "anna@example.org"], year=2024,
                   eta=datetime(2026, 12, 4, 19, 30, tzinfo=UTC),
                   release_date=datetime(2024, 5, 14, tzinfo=UTC))
    store = Store.open(tmp_path / "r.db")
    try:
        with store.transaction():
            store.save_request(full, None)
        marker = store.pages.change_marker()
        back = store.request(2)
        assert back == full
        with store.transaction():
            store.save_request(replace(full, eta=datetime(2026, 12, 4, 19, 45, tzinfo=UTC)),
                               full)
        assert store.pages.change_marker() != marker  # an open page refreshes for a new ETA
        text = show_text(store, full, NOW)
    finally:
        store.close()
    data = request_json(full)
    assert {k: data[k] for k in ("requested_by", "requested_by_id", "year", "eta",
                                 "release_date")} == {
        "requested_by": "Anna", "requested_by_id": 7, "year": 2024,
        "eta": "2026-12-04T19:30:00Z", "release_date": "2024-05-14T00:00:00Z"}
    assert "anna@example.org" not in str(data)
    assert "Dune: Part Two [2024]" in text and "by:       Anna" in text
    assert "eta:      2026-12-04T19:30:00Z" in text


def test_an_estimate_that_drifts_while_no_byte_arrives_is_kept() -> None:
    """The client's "now + time left" moves with its clock: no news, no write. Once bytes
    arrive (or the status changes) the new estimate is taken."""
    from reconciler.cycle.poll_arr import steady_estimates
    from reconciler.models import QueueRecord

    def rec(left: float, eta: str, status: str = "downloading") -> QueueRecord:
        return QueueRecord(download_id="D1", status=status, tracked_status="ok",
                           tracked_state="downloading", size=100.0, sizeleft=left, movie_id=1,
                           estimated_completion=eta)

    before = [rec(50.0, "2026-12-04T19:00:00Z")]
    assert steady_estimates([rec(50.0, "2026-12-04T19:01:00Z")], before) == before
    moved = [rec(40.0, "2026-12-04T18:55:00Z")]
    assert steady_estimates(moved, before) == moved
    paused = [rec(50.0, "2026-12-04T19:01:00Z", status="paused")]
    assert steady_estimates(paused, before) == paused
    assert steady_estimates(moved, []) == moved
