"""The doctor's check of the media server (Jellyfin, Emby or Plex): reachable with its key,
which one confirms availability, and whether its films carry the ids requests are matched by
(Plex: whether a film or show section is still on a legacy agent, whose items carry none)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import cast

from reconciler import registry
from reconciler.config import Config
from reconciler.doctor import FAIL, OK, SAMPLE_SIZE, SHOKO_KEYS, WARN, Report, _keys, _version
from reconciler.models import JellyfinItem
from reconciler.services.http import ServiceClient
from reconciler.services.jellyfin import ItemPage
from reconciler.services.media import is_media_server
from reconciler.services.plex import PlexClient


async def probe_media_server(client: ServiceClient, config: Config, report: Report) -> None:
    assert is_media_server(client)
    name = client.name
    product = registry.kind(name).product
    info = await client.system_info()
    version = _version(info, "Version", "version")
    server = _version(info, "ServerName", "friendlyName")
    report.add(OK, name, f"reachable, API key accepted, version {version}"
                         + (f" ({server})" if server != "unknown" else ""))
    report.add(OK, name, f"{product} confirms availability: a request is available only once "
                         f"it lists a playable item")
    if isinstance(client, PlexClient):
        for section in await client.sections():
            if section.item_types and section.legacy_agent:
                report.add(FAIL, name, f"section '{section.title}' uses the legacy agent "
                                       f"{section.agent}: its items carry no TMDB/TVDB ids, so "
                                       f"requests whose files it holds cannot be matched",
                           "switch the section to the Plex Movie or Plex TV Series agent "
                           "(Manage Library > Edit > Advanced) and refresh its metadata")
    # An async generator (typed as an iterator): close it after the first page.
    pages = cast(AsyncGenerator[ItemPage, None], client.item_pages(page_size=SAMPLE_SIZE))
    try:
        page = await anext(pages, None)
    finally:
        await pages.aclose()
    items = page.items if page else []
    _check_ids(name, items, report)
    if name == "jellyfin":
        _check_shokofin(items, config, report)


def _check_ids(name: str, items: list[JellyfinItem], report: Report) -> None:
    """Films are matched by their TMDB id: most of a sample's must carry one."""
    movies = [i for i in items if i.type == "Movie"]
    plain = [i for i in movies if not (SHOKO_KEYS & _keys(i.provider_ids))]
    with_tmdb = [i for i in plain if "tmdb" in _keys(i.provider_ids)]
    if not plain:
        what = "outside Shokofin " if name == "jellyfin" else ""
        report.add(OK, name, f"no films {what}in a sample of {len(items)} items (nothing to "
                             f"check yet)")
    elif len(with_tmdb) * 2 >= len(plain):
        report.add(OK, name, f"{len(with_tmdb)} of {len(plain)} films in a sample carry a TMDB "
                             f"ProviderId (films are matched by it)")
    elif name == "plex":
        report.add(FAIL, name, f"only {len(with_tmdb)} of {len(plain)} films in a sample carry "
                               f"a tmdb:// guid; films are matched by it",
                   "use the Plex Movie agent for film sections and refresh their metadata")
    else:
        report.add(FAIL, name, f"only {len(with_tmdb)} of {len(plain)} films in a sample carry "
                               f"a TMDB ProviderId; films are matched by it",
                   "enable the TheMovieDb metadata provider for the film libraries and "
                   "refresh their metadata")


def _check_shokofin(items: list[JellyfinItem], config: Config, report: Report) -> None:
    """Shokofin's items, when Shoko is configured: what they carry to be matched by."""
    shokofin = [i for i in items if SHOKO_KEYS & _keys(i.provider_ids)]
    if shokofin:
        tmdb = sum(1 for i in shokofin if "tmdb" in _keys(i.provider_ids))
        if tmdb == len(shokofin):
            note = "they also carry TMDB ids"
        elif tmdb == 0:
            note = "none of them carry TMDB ids; they are matched by their Shoko ids"
        else:
            note = f"{tmdb} of them carry TMDB ids; the others are matched by Shoko ids"
        report.add(OK, "jellyfin", f"Shokofin items found ({len(shokofin)} in the sample); "
                                   f"{note}")
    elif "shoko" in config.services:
        report.add(WARN, "jellyfin", f"no Shokofin items (Shoko Series/File ids) in a sample "
                                     f"of {len(items)} items",
                   "fine if Shokofin manages no library yet; otherwise check that the "
                   "Shokofin plugin is installed and its libraries scanned")
