"""The status page and the API over Starlette's test client: every route, filters, escaping,
404s, 405s, basic auth, security headers, and never a secret."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reconciler.config import Config, load_config
from reconciler.errors import ConfigError
from reconciler.httpapi import HttpApi, Metrics
from reconciler.store import Store
from tests.daemon.daemon_support import Clock
from tests.web.support import KEYS, NOW, fill, write_config

PATHS = ["/", "/requests/5", "/events", "/healthz", "/livez", "/metrics", "/api/requests",
         "/api/requests/5", "/api/summary", "/static/style.css", "/static/live.js",
         "/nowhere", "/requests/999", "/artwork/movie-1001.jf.png"]


class Cards(HTMLParser):
    """The request cards of a page: (id, state) in order, and every tag's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[tuple[int, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if "data-request-id" in a and tag in ("li", "article"):
            self.cards.append((int(a["data-request-id"] or 0), a.get("data-state") or ""))


def parse(html: str) -> Cards:
    cards = Cards()
    cards.feed(html)
    return cards


def card_html(html: str, rid: int) -> str:
    m = re.search(rf'<li [^>]*data-request-id="{rid}".*?</li>', html, re.S)
    assert m, rid
    return m.group(0)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return write_config(tmp_path)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    store = Store.open(config.database)
    fill(store)
    yield store
    store.close()


def make_client(config: Config, *, alive: bool | None = None) -> tuple[TestClient, HttpApi]:
    liveness = None if alive is None else (lambda: alive)
    api = HttpApi(lambda: config, Metrics(), Clock(NOW), liveness=liveness,
                  events_interval=0.05)
    return TestClient(api.app), api


@pytest.fixture
def client(config: Config, store: Store) -> TestClient:
    return make_client(config)[0]


def test_the_list_is_grouped_as_a_household_reads_it_newest_first_in_each(
        client: TestClient) -> None:
    """Issue 23: what needs attention (stuck or failed), then what is on the way (the partly
    ready show whose missing episodes are coming too), then what is ready; declined and removed
    last, folded away. Before, one list, newest first: a declined film sat on top."""
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    cards = parse(r.text).cards
    assert [rid for rid, _ in cards] == [7, 6, 9, 8, 5, 4, 3, 2, 1, 10]
    groups = re.findall(r'data-group="([a-z_]+)"', r.text)
    assert groups == ["attention", "on_the_way", "ready", "ended"]
    assert re.search(r'<details class="group ended"[^>]*>\s*<summary>', r.text)  # folded
    assert dict(cards)[2] == "downloading" and dict(cards)[1] == "available"
    assert dict(cards)[5] == "partially_available" and dict(cards)[10] == "declined"


@pytest.mark.parametrize(("rid", "label"), [
    (1, "Ready to watch"),
    (2, "Downloading 42 %"),
    (3, "Waiting for Jellyfin"),
    (4, "Waiting for approval"),
    (5, "7 of 10 episodes ready"),
    (7, "Download failed"),
    (8, "Not released yet: expected 14 Mar 2027"),  # outside the current year: its year
    (9, "Being identified by Shoko"),
    (10, "Declined"),
])
def test_each_card_says_where_its_request_is_in_plain_words(client: TestClient, rid: int,
                                                             label: str) -> None:
    assert f"data-label>{label}</span>" in card_html(client.get("/").text, rid)


def test_progress_bars_are_accessible_and_follow_the_journey(client: TestClient) -> None:
    tags = parse(client.get("/").text).tags
    bars = {a["aria-label"]: a for t, a in tags if t == "progress"}
    assert bars["Progress of The Matrix"]["value"] == "100"
    dune = bars["Progress of Dune: Part Two"]
    assert dune["value"] == "46" and dune["max"] == "100"  # 25 + 42 % of the download's 50
    assert dune["aria-valuetext"] == "Downloading 42 % (46 % of the way)"
    # A show: its aired episodes' mean (7 ready, 3 downloading with no progress yet: 25 each),
    # no longer 7 of 10 alone, so a download starting moves it forward (issue 23).
    assert bars["Progress of Slow Horses"]["value"] == "78"
    assert "Progress of Heretic" not in bars  # failed: no bar


def test_a_stuck_request_is_marked_with_its_reason(client: TestClient) -> None:
    html = card_html(client.get("/").text, 6)
    assert "is-stuck" in html and "<strong>Stuck:</strong> no download progress for 2 h 10 min" \
        in html
    assert "Stuck:" not in card_html(client.get("/").text, 2)


def test_a_show_says_how_many_episodes_and_when_the_next_airs(client: TestClient) -> None:
    assert "7 of 10 episodes, next on 12 Dec" in card_html(client.get("/").text, 5)


def test_a_card_says_who_asked_the_year_and_when_its_download_should_be_done(
        client: TestClient) -> None:
    page = client.get("/").text
    dune = card_html(page, 2)
    assert '<span class="year">(2024)</span>' in dune
    assert 'requested by <span class="who">Anna</span>' in dune
    local = (NOW + timedelta(minutes=85)).astimezone()
    assert (f'<span class="eta" data-eta>ready about <time datetime="2026-12-04T19:25:00Z">'
            f"{local:%H:%M}</time></span>") in dune
    assert "data-eta" not in card_html(page, 1) + card_html(page, 6)  # done; no estimate
    options = re.findall(r'<option value="([^"]*)"', page[page.index('id="user"'):])
    assert options[:4] == ["", "Anna", "Ben", "Mia"]


def test_the_request_page_names_the_requester_and_the_home_release(client: TestClient) -> None:
    html = client.get("/requests/8").text
    assert "<dt>Requested by</dt><dd>Anna</dd>" in html
    assert '<dt>Home release</dt><dd><time datetime="2027-03-14">14 Mar 2027</time>' in html
    dune = client.get("/requests/2").text
    assert "<dt>Ready about</dt><dd data-eta>" in dune


def test_markup_in_a_title_is_shown_as_text(client: TestClient) -> None:
    html = client.get("/").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in html
    detail = client.get("/requests/10").text
    assert "<script>alert" not in detail and "&lt;script&gt;" in detail


def test_pages_carry_no_inline_script_or_style(client: TestClient) -> None:
    for path in ("/", "/requests/5", "/requests/999"):
        tags = parse(client.get(path, headers={"accept": "text/html"}).text).tags
        scripts = [a for t, a in tags if t == "script"]
        assert scripts == [{"src": "/static/live.js", "defer": None}], path
        assert not [a for _, a in tags if "style" in a or any(k.startswith("on") for k in a)]


@pytest.mark.parametrize(("query", "expected"), [
    ("state=downloading", [6, 2]),
    ("state=stuck", [6]),
    ("state=available", [1]),
    ("q=DUNE", [2]),
    ("q=slow&state=partially_available", [5]),
    ("q=nothing-like-this", []),
    ("user=anna", [8, 7, 2]),
    ("user=MIA&state=downloading", [6]),
    ("user=nobody", []),
    ("q=mia", [6, 4, 3]),  # the search looks at the requester too
    ("state=not-a-state", []),
])
def test_filters_by_state_requester_and_search(client: TestClient, query: str,
                                               expected: list[int]) -> None:
    r = client.get("/?" + query)
    assert r.status_code == 200
    assert [rid for rid, _ in parse(r.text).cards] == expected
    if not expected:
        assert "No request matches" in r.text


def test_the_filter_form_works_without_javascript(client: TestClient) -> None:
    html = client.get("/?state=downloading&q=du").text
    tags = parse(html).tags
    form = next(a for t, a in tags if t == "form")
    assert form["method"] == "get" and form["action"] == "/"
    assert ("input", {"id": "q", "type": "search", "name": "q", "value": "du",
                      "placeholder": "Title or name", "autocomplete": "off"}) in tags
    assert ("option", {"value": "downloading", "selected": None}) in tags
    assert 'href="/">Clear</a>' in html


def test_the_request_page_shows_the_whole_timeline_and_the_episodes(client: TestClient) -> None:
    r = client.get("/requests/5")
    assert r.status_code == 200
    cards = parse(r.text).cards
    assert cards == [(5, "partially_available")]
    rows = re.findall(r'<tr data-to="([a-z_]+)">', r.text)
    assert rows == ["partially_available", "approved", "requested"]  # newest first
    assert "approved in Jellyseerr" in r.text and "7 of 10 episodes playable" in r.text
    episodes = re.findall(r'<tr data-episode="(S\d\dE\d\d)" data-state="([a-z_]+)">', r.text)
    assert len(episodes) == 11 and episodes[0] == ("S01E01", "available")
    assert episodes[-1] == ("S01E11", "approved")
    assert "Episodes" in r.text and "next on 12 Dec" in r.text


def test_a_film_page_has_no_episode_table(client: TestClient) -> None:
    r = client.get("/requests/2")
    assert r.status_code == 200 and "data-episode" not in r.text
    assert "Latest news" in r.text and "downloading 42%" in r.text


@pytest.mark.parametrize("path", ["/requests/999", "/requests/abc",
                                  "/requests/99999999999999999999"])
def test_an_unknown_request_is_a_404_page(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in r.text and 'href="/"' in r.text


def test_unknown_paths_answer_json_to_programs_and_a_page_to_browsers(
        client: TestClient) -> None:
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"
    assert r.json()["error"] == "not found" and "/api/summary" in r.json()["paths"]
    r = client.get("/nowhere", headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 404 and "<h1>Not found</h1>" in r.text
    r = client.get("/api/requests/abc", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", PATHS)
def test_every_method_but_get_and_head_is_refused_on_every_path(
        client: TestClient, store: Store, method: str, path: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    assert r.json() == {"error": "read-only: only GET is served"}
    assert store.request(5) is not None


def test_head_is_answered_without_a_body(client: TestClient) -> None:
    for path in ("/", "/requests/5", "/api/summary", "/events", "/static/style.css"):
        r = client.head(path)
        assert r.status_code == 200 and r.content == b"", path


@pytest.mark.parametrize("path", PATHS)
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    if path == "/events":
        return  # a stream: checked in test_events_stream_a_change
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-frame-options"] == "DENY"


def test_static_files_are_served_by_reconciler(client: TestClient) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/live.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "EventSource" in js.text
    for body in (css.text, js.text, client.get("/").text):
        assert not re.search(r"https?://(?!127\.0\.0\.1)", body.replace(
            "http://www.w3.org", "")), "no external request (fonts, CDNs)"


def test_no_secret_or_upstream_address_on_any_page(client: TestClient) -> None:
    for path in PATHS:
        if path == "/events":
            continue
        body = client.get(path).text
        assert not any(key in body for key in KEYS.values()), path
        if not path.startswith(("/healthz", "/metrics")):
            assert "127.0.0.1:78" not in body and "5055" not in body, path


def test_summary_for_dashboards(client: TestClient) -> None:
    r = client.get("/api/summary")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert set(data) == {"total", "by_state", "stuck", "attention", "on_the_way", "ready",
                         "behind", "updated_at"}
    assert data["total"] == 10 and data["stuck"] == 1
    # The page's groups (issue 23): stuck or failed; on the way; ready. Nothing is behind.
    assert (data["attention"], data["on_the_way"], data["ready"]) == (2, 6, 1)
    assert data["behind"] == []
    assert data["by_state"]["downloading"] == 2 and data["by_state"]["available"] == 1
    assert data["by_state"]["download_done"] == 0  # every state, for stable widget fields
    assert sum(data["by_state"].values()) == 10
    assert data["updated_at"] == "2026-12-04T17:59:59Z"  # the latest poll's end


def test_summary_without_a_database(config: Config) -> None:
    client, _ = make_client(config)
    assert client.get("/api/summary").json() == {
        "total": 0, "by_state": client.get("/api/summary").json()["by_state"], "stuck": 0,
        "attention": 0, "on_the_way": 0, "ready": 0,
        "behind": ["jellyseerr", "radarr", "sonarr", "jellyfin"],  # never answered
        "updated_at": None}
    assert client.get("/").status_code == 200
    assert "Nothing has been requested yet" in client.get("/").text


def test_livez_follows_the_scheduler(config: Config, store: Store) -> None:
    assert make_client(config, alive=True)[0].get("/livez").json() == {"status": "ok"}
    r = make_client(config, alive=False)[0].get("/livez")
    assert r.status_code == 503 and r.json() == {"status": "stopped"}
    assert make_client(config)[0].get("/livez").status_code == 503  # no scheduler at all


def test_events_stream_a_change(config: Config, store: Store) -> None:
    client, api = make_client(config)
    marker = store.pages.change_marker()
    with client.stream("GET", "/events", params={"since": "stale"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-content-type-options"] == "nosniff"
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if line.startswith("data: "):
                api.stopping.set()  # the stream ends at its next tick
        assert lines[:4] == ["retry: 3000", "", f"id: {marker}", "event: changed"]
        assert lines[4] == f"data: {marker}"


def test_events_stay_quiet_while_nothing_changes_and_end_on_shutdown(
        config: Config, store: Store) -> None:
    client, api = make_client(config)
    marker = store.pages.change_marker()
    with client.stream("GET", "/events", params={"since": marker}) as r:
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if len(lines) == 2:
                api.stopping.set()
        assert lines == ["retry: 3000", ""]


def test_the_change_marker_moves_with_what_the_page_shows_not_with_polls(
        store: Store) -> None:
    before = store.pages.change_marker()
    with store.transaction():
        store.record_poll("radarr", NOW, NOW, True, None, 1, 10)
    assert store.pages.change_marker() == before
    row = store.request(2)
    assert row is not None
    with store.transaction():
        store.save_request(type(row)(**{**row.__dict__, "progress": 0.5}), row)
    assert store.pages.change_marker() != before


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[TestClient]:
    (tmp_path / "http-password").write_text("correct horse\n")
    config = write_config(tmp_path, 'username = "family"\npassword_file = "http-password"\n')
    assert config.http_password == "correct horse"
    assert "correct horse" not in repr(config) and "correct horse" in config.secrets()
    store = Store.open(config.database)
    fill(store)
    yield make_client(config, alive=True)[0]
    store.close()


@pytest.mark.parametrize("path", [p for p in PATHS if p != "/livez"])
def test_basic_auth_guards_every_path_but_livez(guarded: TestClient, path: str) -> None:
    for headers in ({}, basic("family", "wrong"), basic("someone", "correct horse"),
                    {"authorization": "Basic not-base64!"}, {"authorization": "Bearer x"}):
        r = guarded.get(path, headers=headers)
        assert r.status_code == 401, (path, headers)
        assert r.headers["www-authenticate"].startswith('Basic realm="reconciler"')
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "Ready to watch" not in r.text


def test_basic_auth_lets_the_household_in(guarded: TestClient) -> None:
    assert guarded.get("/livez").status_code == 200  # health checks need no password
    r = guarded.get("/", headers=basic("family", "correct horse"))
    assert r.status_code == 200 and "Ready to watch" in r.text
    assert guarded.get("/api/summary", headers=basic("family", "correct horse")).json()[
        "total"] == 10
    assert guarded.post("/", headers=basic("family", "correct horse")).status_code == 405


@pytest.mark.parametrize(("extra", "files", "message"), [
    ('username = "family"', {}, "[http]: set both username and password_file"),
    ('password_file = "pw"', {"pw": "x"}, "[http]: set both username and password_file"),
    ('username = "fa:mily"\npassword_file = "pw"', {"pw": "x"}, "must not contain"),
    ('username = "family"\npassword_file = "pw"', {}, "[http] password_file: "),
    ('username = "family"\npassword_file = "pw"', {"pw": "\n"}, "is empty"),
])
def test_basic_auth_config_errors_are_clear(tmp_path: Path, extra: str,
                                            files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError) as err:
        write_config(tmp_path, extra)
    assert message in str(err.value)


def test_the_password_is_not_needed_by_commands_that_only_read(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.path.read_text() + 'username = "family"\npassword_file = "missing"\n'
    config.path.write_text(text)
    assert load_config(config.path, require_keys=False).http_password is None


def test_api_json_is_unchanged_in_shape(client: TestClient) -> None:
    r = client.get("/api/requests/5")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.text.endswith("\n") and r.text == json.dumps(r.json(), indent=2) + "\n"


def test_the_server_is_named_only_when_several_of_a_kind_are_configured(
        config: Config, store: Store, tmp_path: Path) -> None:
    """Issue 16: with several Radarr servers, a card and the request page name the server
    tracking the request; with one of each kind (the household's config), neither does."""
    dune = store.request(2)
    assert dune is not None
    store.save_request(replace(dune, server="radarr4k", is4k=True), dune)
    single = make_client(config)[0]
    assert " · on " not in card_html(single.get("/").text, 2)
    assert "<dt>Server</dt>" not in single.get("/requests/2").text
    text = (tmp_path / "config.toml").read_text().replace(
        f'[radarr]\nurl = "http://127.0.0.1:7878"\napi_key = "{KEYS["radarr"]}"',
        f'[[radarr]]\nname = "radarr"\nurl = "http://127.0.0.1:7878"\n'
        f'api_key = "{KEYS["radarr"]}"\n\n'
        f'[[radarr]]\nname = "radarr4k"\nurl = "http://127.0.0.1:7879"\n'
        f'api_key = "{KEYS["radarr"]}-4k"\nis4k = true')
    assert "radarr4k" in text
    (tmp_path / "config.toml").write_text(text)
    several = make_client(load_config(tmp_path / "config.toml"))[0]
    page = several.get("/").text
    assert '· 4K · on <span class="server">radarr4k</span>' in card_html(page, 2)
    assert '· on <span class="server">-' not in page
    assert "<dt>Server</dt><dd>radarr4k</dd>" in several.get("/requests/2").text


def test_a_request_whose_media_is_blocklisted_says_so_on_its_card_and_page(
        config: Config, store: Store) -> None:
    """The decision notes a blocklisted request in its detail (`core.tracking`); the page says
    it in a line of its own on the card and on the request page, escaped (issue 22)."""
    from reconciler.core.tracking import BLOCKLISTED_NOTE

    before = store.request(10)  # its title holds markup
    assert before is not None
    with store.transaction():
        store.save_request(replace(before, detail=f"declined in Jellyseerr; {BLOCKLISTED_NOTE}"),
                           before)
    client = make_client(config)[0]
    note = "data-blocklisted>On Jellyseerr's blocklist: "
    card = card_html(client.get("/").text, 10)
    assert note in card and "cannot be asked for again there.</p>" in card
    assert "<script>" not in card and "&lt;script&gt;" in card
    assert note in client.get("/requests/10").text
    assert "data-blocklisted" not in card_html(client.get("/").text, 2)
    assert "data-blocklisted" not in client.get("/requests/2").text


# ---------------------------------------------------------------- issue 23


LIVE = {"x-reconciler-live": "1"}


def test_the_live_update_sends_only_the_cards_that_changed(config: Config, store: Store) -> None:
    client, _ = make_client(config)
    html = client.get("/").text
    versions = re.findall(r'<li data-v="([0-9a-f]+)" class="card[^"]*" data-request-id="(\d+)"',
                          html)
    have = ",".join(f"{rid}.{version}" for version, rid in versions)
    assert have.count(",") == 9  # ten cards, each with its version
    unchanged = client.get("/", headers={**LIVE, "x-reconciler-have": have})
    assert unchanged.headers["content-type"] == "application/json"
    data = unchanged.json()
    assert data["marker"] == store.pages.change_marker() and data["now"] == "18:00"
    assert data["html"].count("data-keep>") == 10 and "Dune: Part Two" not in data["html"]
    dune = store.request(2)
    assert dune is not None
    with store.transaction():
        store.save_request(replace(dune, progress=0.5, detail="downloading 50%"), dune)
    changed = client.get("/", headers={**LIVE, "x-reconciler-have": have}).json()["html"]
    assert changed.count("data-keep>") == 9 and "Downloading 50 %" in changed
    assert 'data-request-id="2" data-state="downloading"' in changed
    assert "<script>alert" not in changed  # escaped as on the page


def test_the_stream_keeps_alive_with_the_servers_time_and_the_services_last_answers(
        config: Config, store: Store) -> None:
    api = HttpApi(lambda: config, Metrics(), Clock(NOW), events_interval=0.05, keepalive=0.1)
    client = TestClient(api.app)
    with client.stream("GET", "/events", params={"since": store.pages.change_marker()}) as r:
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if line.startswith("data: "):
                api.stopping.set()
        assert lines[2] == "event: alive"
        news = json.loads(lines[3].removeprefix("data: "))
        assert news == {"now": "18:00", "services": {"jellyseerr": "17:59", "radarr": "17:59",
                                                     "sonarr": "17:59", "jellyfin": "17:59"}}


def test_a_service_behind_its_limit_is_named_with_the_time_it_last_answered(
        config: Config, store: Store) -> None:
    clock = Clock(NOW)
    api = HttpApi(lambda: config, Metrics(), clock)
    client = TestClient(api.app)
    assert "data-banner" not in client.get("/").text
    fresh_marker = client.get("/", headers=LIVE).json()["marker"]
    with store.transaction():  # everyone but Radarr answers again, two minutes later
        for name in ("jellyseerr", "sonarr", "jellyfin"):
            store.record_poll(name, NOW + timedelta(minutes=2), NOW + timedelta(minutes=2),
                              True, None, 2, 100)
        store.record_poll("radarr", NOW + timedelta(minutes=2), NOW + timedelta(minutes=2),
                          False, "radarr: cannot reach http://127.0.0.1:7878", 1, 0)
    clock.advance(minutes=2)
    page = client.get("/").text
    banner = re.search(r'<div class="banner" role="status" data-banner>(.*?)</div>', page,
                       re.S)
    assert banner is not None
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", banner.group(1))).strip() == (
        "Not up to date. Radarr has not answered since 17:59; downloads may have moved since.")
    assert "7878" not in page  # the error's address stays in /healthz
    summary = client.get("/api/summary").json()
    health = client.get("/healthz").json()
    assert summary["behind"] == health["behind"] == ["radarr"]
    assert client.get("/", headers=LIVE).json()["marker"] != fresh_marker  # pages refresh
    assert "Radarr <time" in page and 'class="service is-behind"' in page


def test_times_are_in_the_configured_zone_and_say_which(tmp_path: Path) -> None:
    config = write_config(tmp_path, 'timezone = "Asia/Tokyo"\n')
    store = Store.open(config.database)
    fill(store)
    store.close()
    client = make_client(config)[0]
    page = client.get("/").text
    assert "Times in Asia/Tokyo." in page
    dune = card_html(page, 2)  # its ETA: 19:25 UTC is 04:25 the next day in Tokyo
    assert 'ready about <time datetime="2026-12-04T19:25:00Z">04:25</time>' in dune
    assert 'data-now-text="03:00"' in page


def test_posters_and_play_links(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    text = config.path.read_text().replace(
        "[jellyfin]\n", '[jellyfin]\npublic_url = "https://watch.example.org"\n', 1)
    config.path.write_text(text)
    config = load_config(config.path)
    store = Store.open(config.database)
    fill(store)
    store.close()
    folder = tmp_path / "artwork"
    folder.mkdir()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    (folder / "movie-1001.jf.png").write_bytes(png)  # The Matrix, from Jellyfin
    (folder / "movie-1002.tmdb.svg").write_bytes(b"<svg onload=alert(1)/>")  # never served
    client = make_client(config)[0]
    page = client.get("/").text
    matrix = card_html(page, 1)
    src = re.search(r'<img class="poster small" src="([^"]+)"', matrix)
    assert src is not None and src.group(1).startswith("/artwork/movie-1001.jf.png?v=")
    assert 'href="https://watch.example.org/web/index.html#/details?id=a1"' in matrix
    assert "data-play" not in card_html(page, 2)  # not ready: no Play
    assert 'class="poster placeholder small">D</span>' in card_html(page, 2)
    art = client.get(src.group(1))
    assert art.status_code == 200 and art.headers["content-type"] == "image/png"
    assert art.content == png and "img-src 'self'" in art.headers["content-security-policy"]
    for bad in ("/artwork/movie-1002.tmdb.svg", "/artwork/..%2Fconfig.toml",
                "/artwork/movie-1.jf.png", "/artwork/config.toml"):
        assert client.get(bad).status_code == 404, bad


def test_the_request_page_reads_plainly_and_keeps_the_technical_words_apart(
        client: TestClient, store: Store) -> None:
    with store.transaction():  # a nudge: news that changes nothing
        store.add_timeline(3, NOW, "importing", "importing", "reconciler",
                           "asked Jellyfin to scan library Movies")
    html = client.get("/requests/3").text
    what = re.findall(r'<td class="what">([^<]+)</td>', html)
    assert what == ["Radarr added it to the library; waiting for Jellyfin",
                    "Approved in Jellyseerr", "Requested in Jellyseerr"]
    assert "1 more note that changed nothing" in html
    technical = html[html.index('<details class="technical"'):]
    assert "/media/films/Paddington in Peru (2024)" in technical
    assert "/media/films" not in html[:html.index('<details class="technical"')]


def test_each_page_says_how_long_the_server_took(client: TestClient) -> None:
    for path in ("/", "/requests/5", "/?state=attention"):
        timing = client.get(path).headers["server-timing"]
        assert re.fullmatch(r"app;dur=\d+\.\d", timing), timing
