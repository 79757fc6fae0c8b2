"""The Play link opens the item in the right media server's web app (reconciler.playback)."""

from __future__ import annotations

import pytest

from reconciler.playback import play_url

MACHINE = "0123456789abcdef0123456789abcdef01234567"


def test_jellyfin_links_to_its_details_page() -> None:
    assert play_url("jellyfin", "https://jf.example.org/", "4f0c9a") == (
        "https://jf.example.org/web/index.html#/details?id=4f0c9a")


def test_emby_links_to_its_item_page_with_the_server_id() -> None:
    assert play_url("emby", "http://emby.lan:8096", "100203", server_id="a1b2c3") == (
        "http://emby.lan:8096/web/index.html#!/item?id=100203&serverId=a1b2c3")
    assert play_url("emby", "http://emby.lan:8096", "100203") == (
        "http://emby.lan:8096/web/index.html#!/item?id=100203")


def test_plex_links_to_app_plex_tv_or_the_servers_own_web_app() -> None:
    """python-plexapi's getWebURL: the machine identifier, and the item's key quoted whole."""
    assert play_url("plex", None, "603", server_id=MACHINE) == (
        f"https://app.plex.tv/desktop/#!/server/{MACHINE}/details"
        "?key=%2Flibrary%2Fmetadata%2F603")
    assert play_url("plex", "https://plex.example.org:32400/", "603", server_id=MACHINE) == (
        f"https://plex.example.org:32400/web/index.html#!/server/{MACHINE}/details"
        "?key=%2Flibrary%2Fmetadata%2F603")


@pytest.mark.parametrize(("kind", "public_url", "item", "server"), [
    ("jellyfin", None, "4f0c9a", None),  # no public URL: nowhere to link to
    ("emby", None, "100203", "a1b2c3"),
    ("plex", "https://plex.example.org", "603", None),  # Plex's links need the server's id
    ("jellyfin", "https://jf.example.org", None, None),  # no item
])
def test_no_link_without_what_the_web_app_needs(kind: str, public_url: str | None,
                                                item: str | None, server: str | None) -> None:
    assert play_url(kind, public_url, item, server_id=server) is None


def test_an_id_is_quoted_and_an_unknown_server_refused() -> None:
    assert play_url("jellyfin", "https://jf", "a&b#c") == (
        "https://jf/web/index.html#/details?id=a%26b%23c")
    with pytest.raises(ValueError, match="not a media server"):
        play_url("kodi", "https://kodi", "1")
