"""Notifications: which events are queued, with which keys, sent once to a fake Apprise target,
never repeated across restarts, retried after a failure without ever raising."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from reconciler.config import NotifySection
from reconciler.models import MediaType
from reconciler.notify import (
    Notifier,
    compose,
    compose_ready,
    event_key,
    notifier_for,
    requester_gained,
    target_id,
)
from reconciler.states import RequestState
from reconciler.store import RequestRow, Store
from tests.daemon.daemon_support import AppriseTarget, free_port

# Apprise's e-mail plugin imports the deprecated `imghdr` module when plugins load.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def row(**fields: object) -> RequestRow:
    base = RequestRow(
        id=7, media_type=MediaType.MOVIE, title="Spirited Away", tmdb_id=129, tvdb_id=None,
        is4k=False, is_anime=True, seerr_status=2, seasons=[], radarr_movie_id=3,
        sonarr_series_id=None,
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
    tv = row(media_type=MediaType.TV, episodes_available=5, episodes_aired=12)
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
    keys = sorted(r.key for r in store.unsent_notifications())
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
    assert [r.event for r in store.unsent_notifications()] == ["stuck"]
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
    assert sent_events(store) == ["available"]


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
    assert store.unsent_notifications()[0].attempts == 1
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


# ---------------------------------------------------------------- the requester's notices


def users_section(users: dict[str, object], urls: list[str] | None = None) -> NotifySection:
    return NotifySection.model_validate({"urls": urls or [], "users": users})


def anna_row(**fields: object) -> RequestRow:
    return row(**{"requested_by": "anna", "requester_keys": ["anna", "anna@example.org"],
                  "year": 2001, **fields})


def test_the_requester_hears_of_a_film_once_it_plays_never_on_a_first_sighting() -> None:
    before = anna_row(state=RequestState.IMPORTING)
    ready = anna_row(state=RequestState.AVAILABLE)
    assert requester_gained(ready, before)
    assert not requester_gained(ready, None)  # first sighting: already on the shelf
    assert not requester_gained(ready, ready)  # no change
    assert not requester_gained(before, anna_row(state=RequestState.DOWNLOADING))


def test_a_show_tells_when_it_gains_episodes_not_when_it_loses_or_keeps_them() -> None:
    def tv(state: RequestState, ready: int) -> RequestRow:
        return anna_row(media_type=MediaType.TV, state=state, episodes_available=ready,
                        episodes_aired=10)

    partly = RequestState.PARTIALLY_AVAILABLE
    assert requester_gained(tv(partly, 3), tv(RequestState.DOWNLOADING, 0))
    assert requester_gained(tv(partly, 5), tv(partly, 3))
    assert requester_gained(tv(RequestState.AVAILABLE, 10), tv(partly, 9))
    assert not requester_gained(tv(partly, 5), tv(partly, 5))
    assert not requester_gained(tv(partly, 9), tv(RequestState.AVAILABLE, 10))  # one aired


def test_the_requester_notice_says_what_plays_now() -> None:
    title, body = compose_ready(anna_row(state=RequestState.AVAILABLE))
    assert title == "Spirited Away is ready to watch"
    assert body == "Spirited Away (2001), which you requested, can now be played in Jellyfin."
    show = anna_row(media_type=MediaType.TV, title="Frieren",
                    state=RequestState.PARTIALLY_AVAILABLE, episodes_available=1,
                    episodes_aired=2, year=None)
    assert compose_ready(show) == (
        "Frieren: 1 episode ready to watch",
        "1 of 2 aired episodes of Frieren, which you requested, can now be played in Jellyfin.")


def test_without_a_title_both_notices_name_the_request_as_the_page_and_status_do() -> None:
    """One fallback title everywhere ("TMDB 603", else "Request #7"); the requester's notice
    said "request #7" on its own before."""
    untitled = anna_row(state=RequestState.AVAILABLE, title=None, tmdb_id=603)
    assert compose_ready(untitled) == (
        "TMDB 603 is ready to watch",
        "TMDB 603 (2001), which you requested, can now be played in Jellyfin.")
    assert compose(untitled, "available")[0] == "TMDB 603 is available"
    no_ids = replace(untitled, tmdb_id=None)
    assert compose_ready(no_ids)[0] == "Request #7 is ready to watch"
    assert compose(no_ids, "available")[0] == "Request #7 is available"


def test_requester_notices_go_to_their_own_addresses_by_username_or_email(
        store: Store) -> None:
    n = Notifier(users_section({"ANNA": "json://a.example/x",
                                "anna@example.org": ["json://b.example/y"],
                                "ben": "json://c.example/z"}), store)
    assert n.enabled  # a [notify.users] table alone is enough
    with store.transaction():
        n.on_row(anna_row(state=RequestState.AVAILABLE), anna_row(state=RequestState.IMPORTING))
        n.on_row(anna_row(state=RequestState.AVAILABLE), anna_row(state=RequestState.IMPORTING))
        n.on_transition(anna_row(state=RequestState.AVAILABLE), "importing")  # no operator URLs
    queued = store.unsent_notifications()
    assert sorted(r.key for r in queued) == sorted(
        f"once@{target_id(u)}" for u in ("json://a.example/x", "json://b.example/y"))
    assert {r.event for r in queued} == {"ready"}


def test_a_requester_without_an_address_or_a_row_without_requester_queues_nothing(
        store: Store) -> None:
    n = Notifier(users_section({"ben": "json://c.example/z"}), store)
    with store.transaction():
        n.on_row(anna_row(state=RequestState.AVAILABLE), anna_row(state=RequestState.IMPORTING))
        n.on_row(row(state=RequestState.AVAILABLE), row(state=RequestState.IMPORTING))
    assert store.unsent_notifications() == []


def test_the_operator_is_not_sent_the_requesters_notices(store: Store) -> None:
    n = Notifier(users_section({"anna": "json://a.example/x"}, urls=["json://op.example/o"]),
                 store)
    with store.transaction():
        n.on_transition(anna_row(state=RequestState.AVAILABLE), "importing")
        n.on_row(anna_row(state=RequestState.AVAILABLE), anna_row(state=RequestState.IMPORTING))
    queued = {(r.event, r.key) for r in store.unsent_notifications()}
    assert queued == {("available", f"once@{target_id('json://op.example/o')}"),
                      ("ready", f"once@{target_id('json://a.example/x')}")}


@pytest.mark.parametrize(("users", "problem"), [
    ({"anna": "not a url"}, "users.anna: entry 1 is not an Apprise URL"),
    ({"anna": ["json://ok.example/x", "secret-token-in-a-bad-url"]},
     "users.anna: entry 2 is not an Apprise URL"),
    ({"anna": []}, "users.anna: expected an Apprise URL or a non-empty list"),
    ({"anna": "json://a.example/x", "ANNA": "json://b.example/y"}, "named twice"),
    ({" ": "json://a.example/x"}, "must not be empty"),
])
def test_notify_users_are_validated_without_repeating_the_urls(
        tmp_path: Path, users: dict[str, object], problem: str) -> None:
    from reconciler.config import load_config
    from reconciler.errors import ConfigError

    lines = []
    for name, value in users.items():
        lines.append(f"{json.dumps(name)} = {json.dumps(value)}")
    path = tmp_path / "config.toml"
    path.write_text(
        '[jellyseerr]\nurl = "http://127.0.0.1:5055"\napi_key = "k1234"\n'
        '[radarr]\nurl = "http://127.0.0.1:7878"\napi_key = "k1234"\n'
        '[jellyfin]\nurl = "http://127.0.0.1:8096"\napi_key = "k1234"\n'
        "[notify.users]\n" + "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert problem in str(raised.value) and "[notify]" in str(raised.value)
    assert "secret-token" not in str(raised.value)


def test_notify_test_sends_to_the_users_addresses(tmp_path: Path,
                                                  apprise_target: AppriseTarget) -> None:
    from tests.conftest import run_reconcile

    url = apprise_target.url.replace("json://", "json://user:pw-secret-1@")
    path = tmp_path / "config.toml"
    path.write_text(
        '[jellyseerr]\nurl = "http://127.0.0.1:5055"\napi_key_file = "missing"\n'
        '[radarr]\nurl = "http://127.0.0.1:7878"\napi_key_file = "missing"\n'
        '[jellyfin]\nurl = "http://127.0.0.1:8096"\napi_key_file = "missing"\n'
        f'[notify.users]\nanna = ["{url}", "{apprise_target.url}"]\n'
        f'"ben@example.org" = "json://127.0.0.1:{free_port()}/nobody-listens"\n')
    path.chmod(0o600)
    done = run_reconcile("--config", str(path), "notify", "test", "Anna")
    assert done.code == 0, done.stderr
    assert apprise_target.titles() == ["reconciler test notice"] * 2
    assert done.stdout.count("✓") == 2 and "pw-secret-1" not in done.stdout + done.stderr

    unknown = run_reconcile("--config", str(path), "notify", "test", "carol")
    assert unknown.code == 2
    assert "no [notify.users] entry for 'carol'" in unknown.stderr
    assert "anna" in unknown.stderr  # the names it knows

    failed = run_reconcile("--config", str(path), "notify", "test", "ben@example.org")
    assert failed.code == 3
    assert "✗ address 1 of 1" in failed.stdout
    assert "could not be sent" in failed.stderr
    assert "nobody-listens" not in failed.stdout + failed.stderr


def sent_events(store: Store) -> list[str]:
    """The events of the notifications recorded as sent (read directly: only tests ask)."""
    return [r[0] for r in store.conn.execute(
        "SELECT event FROM notifications WHERE sent_at IS NOT NULL ORDER BY rowid")]


# ---------------------------------------------------------------- issue 23: across runs


def test_a_new_process_keeps_to_the_pause_a_failure_stored(store: Store) -> None:
    """`reconcile --once` under cron is a new process each time: the next attempt's time is
    stored with the message, so the pause holds across runs (and grows)."""
    wall = [T0]
    calls: list[str] = []

    def refuse(url: str, title: str, body: str) -> str | None:
        calls.append(title)
        return "refused"

    def run() -> None:  # one `--once` run: a fresh notifier on the same database
        n = notifier(store, ["json://a.example/x"], sender=refuse, clock=lambda: wall[0])
        with store.transaction():
            n.on_transition(row(state=RequestState.AVAILABLE), "importing")
        asyncio.run(n.send_pending())

    run()
    (queued,) = store.unsent_notifications()
    assert queued.attempts == 1 and queued.next_attempt == T0 + timedelta(seconds=10)
    wall[0] += timedelta(seconds=9)
    run()
    assert len(calls) == 1  # within the pause
    wall[0] += timedelta(seconds=2)
    run()
    assert len(calls) == 2
    assert store.unsent_notifications()[0].next_attempt == wall[0] + timedelta(seconds=20)


def test_after_a_target_fails_its_other_messages_wait_and_a_budget_bounds_a_round(
        store: Store) -> None:
    tried: list[str] = []

    def flaky(url: str, title: str, body: str) -> str | None:
        tried.append(url)
        return "refused" if "dead" in url else None

    n = notifier(store, ["json://dead.example/x", "json://ok.example/y"], sender=flaky,
                 retry_base=0.0)
    with store.transaction():
        for rid in (1, 2, 3):
            n.on_transition(row(id=rid, state=RequestState.AVAILABLE), "importing")
    assert asyncio.run(n.send_pending()) == 3
    assert tried.count("json://dead.example/x") == 1  # not three times in one round
    spent = notifier(store, ["json://dead.example/x", "json://ok.example/y"], sender=flaky)
    tried.clear()
    assert asyncio.run(spent.send_pending(budget=0.0)) == 0 and tried == []


def test_the_ready_notice_carries_the_play_link_and_the_poster(
        store: Store, tmp_path: Path) -> None:
    poster = tmp_path / "movie-129.jf.png"
    poster.write_bytes(b"\x89PNG\r\n\x1a\n")
    got: list[tuple[str, str, object]] = []

    def record(url: str, title: str, body: str, attach: Path | None = None) -> str | None:
        got.append((title, body, attach))
        return None

    n = Notifier(users_section({"anna": "json://a.example/x"}, urls=["json://op.example/o"]),
                 store, sender=record,
                 play_link=lambda r: f"https://jf.example.org/web/index.html#/details?id={r.id}",
                 poster=lambda rid: poster)
    with store.transaction():
        n.on_row(anna_row(state=RequestState.AVAILABLE), anna_row(state=RequestState.IMPORTING))
        n.on_transition(anna_row(state=RequestState.FAILED), "downloading")
    assert asyncio.run(n.send_pending()) == 2
    by_title = {title: (body, attach) for title, body, attach in got}
    assert by_title["Spirited Away failed"][1] is None  # a poster only on what is ready
    body, attach = by_title["Spirited Away is ready to watch"]
    assert attach == poster
    assert body.endswith("\nPlay it: https://jf.example.org/web/index.html#/details?id=7")
    assert compose_ready(anna_row(state=RequestState.AVAILABLE))[1].endswith("in Jellyfin.")
