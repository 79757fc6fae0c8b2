"""Notifications: which events are queued, with which keys, sent once to a fake Apprise target,
never repeated across restarts, retried after a failure without ever raising."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from reconciler.config import NotifySection
from reconciler.models import RequestState
from reconciler.notify import Notifier, compose, event_key, notifier_for, target_id
from reconciler.store import RequestRow, Store
from tests.daemon.daemon_support import AppriseTarget, free_port

# Apprise's e-mail plugin imports the deprecated `imghdr` module when plugins load.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(**fields: object) -> RequestRow:
    base = RequestRow(
        id=7, media_type="movie", title="Spirited Away", tmdb_id=129, tvdb_id=None, is4k=False,
        is_anime=True, seerr_status=2, seasons=[], radarr_movie_id=3, sonarr_series_id=None,
        jellyfin_item_id=None, jellyfin_key=None, shoko_ids={}, state=RequestState.DOWNLOADING,
        state_since=T0, via="radarr", detail="downloading 40%", progress=0.4, phase=None,
        phase_since=None, progress_since=T0, stuck_reason=None, stuck_since=None,
        episodes_available=None, episodes_aired=None, absent_count=0, created_at=None,
        updated_at=None,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "reconciler.db")


def notifier(store: Store, urls: list[str], on: list[str] | None = None,
             **kwargs: object) -> Notifier:
    section = NotifySection(urls=urls, on=on or ["available", "stuck", "failed"])  # type: ignore[arg-type]
    return Notifier(section, store, **kwargs)  # type: ignore[arg-type]


def test_keys_name_the_occurrence() -> None:
    """A film's event happens once; a series' availability per episode count; stuck per stretch."""
    assert event_key(row(state=RequestState.AVAILABLE), "available") == "once"
    assert event_key(row(state=RequestState.FAILED), "failed") == "once"
    tv = row(media_type="tv", episodes_available=5, episodes_aired=12)
    assert event_key(tv, "partially_available") == "episodes:5"
    assert event_key(tv, "available") == "episodes:5"
    stuck = row(stuck_reason="no progress", stuck_since=T0)
    assert event_key(stuck, "stuck") == "since:2026-03-01T12:00:00Z"


def test_message_has_title_state_and_detail() -> None:
    title, body = compose(row(state=RequestState.AVAILABLE, detail="playable in Jellyfin"),
                          "available")
    assert title == "Spirited Away is available"
    assert "available" in body and "playable in Jellyfin" in body and "#7" in body
    title, body = compose(row(stuck_reason="no download progress for 2 h (limit 2 h)",
                              stuck_since=T0), "stuck")
    assert title == "Spirited Away is stuck"
    assert "stuck in downloading: no download progress for 2 h" in body


def test_transition_queues_one_row_per_target(store: Store) -> None:
    n = notifier(store, ["json://a.example/x", "json://b.example/y"])
    available = row(state=RequestState.AVAILABLE, detail="playable")
    with store.transaction():
        n.on_transition(available, "importing")
        n.on_transition(available, "importing")  # the same occurrence again: no new row
    keys = sorted(r["key"] for r in store.unsent_notifications())
    assert keys == sorted(f"once@{target_id(u)}"
                          for u in ["json://a.example/x", "json://b.example/y"])
    assert all("json://" not in k for k in keys)  # URLs carry tokens: never stored


def test_first_sighting_and_unwanted_events_queue_nothing(store: Store) -> None:
    """Starting on a filled Jellyseerr must not announce every film already available."""
    n = notifier(store, ["json://a.example/x"], on=["available"])
    with store.transaction():
        n.on_transition(row(state=RequestState.AVAILABLE), None)
        n.on_transition(row(id=8, state=RequestState.FAILED), "downloading")
        n.on_transition(row(id=9, state=RequestState.DOWNLOADING), "approved")
    assert store.unsent_notifications() == []


def test_stuck_requests_queue_once_per_stretch(store: Store) -> None:
    n = notifier(store, ["json://a.example/x"])
    stuck = row(stuck_reason="no download progress for 2 h", stuck_since=T0)
    with store.transaction():
        store.save_request(stuck, None)
        n.after_reconcile(T0)
        n.after_reconcile(T0 + timedelta(minutes=5))
    assert [r["event"] for r in store.unsent_notifications()] == ["stuck"]
    later = replace(stuck, stuck_since=T0 + timedelta(hours=3))  # cleared, then stuck again
    with store.transaction():
        store.save_request(later, stuck)
        n.after_reconcile(T0 + timedelta(hours=3))
    assert len(store.unsent_notifications()) == 2


def test_sent_once_and_never_again_after_a_restart(store: Store,
                                                   apprise_target: AppriseTarget) -> None:
    n = notifier(store, [apprise_target.url])
    with store.transaction():
        n.on_transition(row(state=RequestState.AVAILABLE, detail="playable in Jellyfin"),
                        "importing")
    with capture_logs() as logs:
        assert asyncio.run(n.send_pending()) == 1
    assert apprise_target.titles() == ["Spirited Away is available"]
    assert "playable in Jellyfin" in apprise_target.messages[0]["message"]
    assert [e["event"] for e in logs if e["event"].startswith("notify.")] == ["notify.sent"]
    assert asyncio.run(n.send_pending()) == 0
    restarted = notifier(store, [apprise_target.url])  # a new process, the same database
    with store.transaction():
        restarted.on_transition(row(state=RequestState.AVAILABLE), "importing")
    assert asyncio.run(restarted.send_pending()) == 0
    assert len(apprise_target.messages) == 1
    assert store.sent_notifications()[0]["event"] == "available"


def test_failure_is_logged_and_retried_on_a_later_cycle(store: Store,
                                                        apprise_target: AppriseTarget) -> None:
    apprise_target.status = 500
    n = notifier(store, [apprise_target.url], retry_base=0.0)
    with store.transaction():
        n.on_transition(row(state=RequestState.FAILED, detail="download failed"), "downloading")
    with capture_logs() as logs:
        assert asyncio.run(n.send_pending()) == 0
    failed = [e for e in logs if e["event"] == "notify.failed"]
    assert len(failed) == 1 and failed[0]["attempts"] == 1
    assert apprise_target.url not in str(failed[0])  # the URL may hold a token
    assert store.unsent_notifications()[0]["attempts"] == 1
    apprise_target.status = 200
    assert asyncio.run(n.send_pending()) == 1
    assert apprise_target.titles() == ["Spirited Away failed"]
    assert store.unsent_notifications() == []


def test_retry_waits_out_its_pause(store: Store) -> None:
    """After a failure the message waits `retry_base * 2**attempts` before the next try."""
    now = [100.0]
    calls: list[str] = []

    def refuse(url: str, title: str, body: str) -> str | None:
        calls.append(title)
        return "refused"

    n = notifier(store, ["json://a.example/x"], sender=refuse, monotonic=lambda: now[0],
                 retry_base=10.0)
    with store.transaction():
        n.on_transition(row(state=RequestState.AVAILABLE), "importing")
    asyncio.run(n.send_pending())
    asyncio.run(n.send_pending())  # within the pause: not tried
    assert len(calls) == 1
    now[0] += 11
    asyncio.run(n.send_pending())
    assert len(calls) == 2


def test_a_broken_or_hanging_sender_never_raises(store: Store) -> None:
    def explode(url: str, title: str, body: str) -> str | None:
        raise RuntimeError(f"cannot post to {url}")

    def hang(url: str, title: str, body: str) -> str | None:
        import threading

        threading.Event().wait(5)
        return None

    for sender, expected in ((explode, "RuntimeError"), (hang, "no answer within")):
        n = notifier(store, ["json://secret-token@a.example/x"], sender=sender, timeout=0.2,
                     retry_base=0.0)
        with store.transaction():
            n.on_transition(row(state=RequestState.AVAILABLE), "importing")
        with capture_logs() as logs:
            assert asyncio.run(n.send_pending()) == 0
        failed = [e for e in logs if e["event"] == "notify.failed"]
        assert failed and expected in failed[0]["error"]
        assert "secret-token" not in failed[0]["error"]


def test_unreachable_target(store: Store) -> None:
    n = notifier(store, [f"json://127.0.0.1:{free_port()}/x"], retry_base=0.0)
    with store.transaction():
        n.on_transition(row(state=RequestState.AVAILABLE), "importing")
    with capture_logs() as logs:
        assert asyncio.run(n.send_pending()) == 0
    assert [e["event"] for e in logs if e["event"].startswith("notify.")] == ["notify.failed"]


def test_messages_for_a_removed_target_are_not_sent(store: Store) -> None:
    sent: list[str] = []

    def record(url: str, title: str, body: str) -> str | None:
        sent.append(url)
        return None

    old = notifier(store, ["json://old.example/x"], sender=record)
    with store.transaction():
        old.on_transition(row(state=RequestState.AVAILABLE), "importing")
    new = notifier(store, ["json://new.example/y"], sender=record)
    assert asyncio.run(new.send_pending()) == 0
    assert sent == []


def test_no_notifier_without_urls_or_events(store: Store) -> None:
    assert notifier_for(None, store) is None
    assert notifier_for(NotifySection(urls=[]), store) is None
    assert notifier_for(NotifySection(urls=["json://a.example/x"], on=[]), store) is None
    assert notifier_for(NotifySection(urls=["json://a.example/x"]), store) is not None


def test_attach_and_detach_the_cycle_hooks(store: Store) -> None:
    """A reload swaps notifiers: the old one's hooks leave the reconciler."""
    hooks = SimpleNamespace(on_transition=[], on_row=[], after_reconcile=[])
    old = notifier(store, ["json://a.example/x"])
    new = notifier(store, ["json://b.example/y"])
    old.attach(hooks)  # type: ignore[arg-type]
    old.detach()
    new.attach(hooks)  # type: ignore[arg-type]
    assert hooks.on_transition == [new.on_transition]
    assert hooks.on_row == [new.on_row]
    assert hooks.after_reconcile == [new.after_reconcile]
