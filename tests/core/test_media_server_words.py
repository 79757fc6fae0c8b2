"""The decision names the media server that says what plays: its service as `via` and in the
services it depends on, its name in the details; a file in a library whose items cannot be
matched says so. Jellyfin's words are those of before."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from reconciler import core
from reconciler.models import JELLYFIN, MediaServer, UnmatchableLibrary
from reconciler.states import Phase, RequestState
from tests.core.core_builders import NOW, current, film, item, movie

S = RequestState
PLEX = MediaServer("plex", "Plex")
EMBY = MediaServer("emby", "Emby")
LEGACY = UnmatchableLibrary("Films", "com.plexapp.agents.imdb", ("/data/movies",))


@pytest.mark.parametrize("server", [JELLYFIN, EMBY, PLEX], ids=lambda s: s.service)
def test_a_film_plays_in_the_configured_media_server(server: MediaServer) -> None:
    evidence = replace(film(radarr=movie(has_file=True), items=[item()]), media_server=server)
    decision = core.decide(evidence, None, NOW)
    assert (decision.state, decision.via) == (S.AVAILABLE, server.service)
    assert decision.detail == f"playable in {server.name} (matched by Tmdb)"


@pytest.mark.parametrize("server", [JELLYFIN, EMBY, PLEX], ids=lambda s: s.service)
def test_an_imported_film_waits_for_the_configured_media_server(server: MediaServer) -> None:
    evidence = replace(film(radarr=movie(has_file=True)), media_server=server)
    decision = core.decide(evidence, None, NOW)
    assert (decision.state, decision.phase) == (S.IMPORTING, Phase.WAITING_FOR_JELLYFIN)
    assert decision.detail.endswith(f"; waiting for {server.name}")


def test_a_file_in_a_legacy_agent_library_says_it_cannot_be_matched() -> None:
    evidence = replace(film(radarr=movie(has_file=True)), media_server=PLEX, unmatchable=LEGACY)
    decision = core.decide(evidence, None, NOW)
    assert decision.state is S.IMPORTING
    assert decision.detail.endswith(
        "; cannot match: library 'Films' is on Plex's legacy agent (com.plexapp.agents.imdb), "
        "whose items carry no TMDB/TVDB ids; switch it to the Plex Movie or Plex TV Series "
        "agent")


def test_an_unknown_media_server_holds_an_available_film_whichever_it_is() -> None:
    """Losing the match is the media server's own evidence only when it answered."""
    was = current(S.AVAILABLE)
    gone = replace(film(radarr=movie(has_file=True)), media_server=PLEX)
    assert core.decide(replace(gone, unknown=frozenset({"plex"})), was, NOW).state \
        is S.AVAILABLE
    assert core.decide(replace(gone, unknown=frozenset({"jellyfin"})), was, NOW).state \
        is S.IMPORTING
    assert "plex" in gone.depends_on() and "jellyfin" not in gone.depends_on()


def test_the_stuck_reason_names_the_media_server() -> None:
    since = NOW - timedelta(minutes=20)
    reason = core.stuck_reason(S.IMPORTING, Phase.WAITING_FOR_JELLYFIN, since, since, since,
                               NOW, core.Deadlines(), server="Plex")
    assert reason == "Plex has not listed it after 15 min"
    assert core.stuck_reason(S.IMPORTING, Phase.WAITING_FOR_JELLYFIN, since, since, since,
                             NOW, core.Deadlines()) == "Jellyfin has not listed it after 15 min"
