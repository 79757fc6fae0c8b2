"""The media server, whichever one the household has: what the cycle and the doctor ask of it.

Jellyfin's, Emby's and Plex's clients answer the same calls (`item_pages`, `item_count`,
`newest_created`, `items_by_ids`, `libraries`, `report_media_updated`, `refresh_library`,
`library_scan_running`, `system_info`, `server_id`) with the index's item model
(`models.JellyfinItem`, `models.Library`); `EmbyClient` is a `JellyfinClient`. Beyond them:
`EmbyClient.items_by_provider_ids` (Emby finds items by ProviderId, Jellyfin cannot) and
`PlexClient.last_sections` (its sections' agents). docs/media-servers.md compares the three.
"""

from __future__ import annotations

from typing import TypeAlias, TypeGuard

from reconciler.services.http import ServiceClient
from reconciler.services.jellyfin import JellyfinClient
from reconciler.services.plex import PlexClient

MediaServerClient: TypeAlias = JellyfinClient | PlexClient


def is_media_server(client: ServiceClient | None) -> TypeGuard[MediaServerClient]:
    """`client` is a media server's (Jellyfin's, Emby's or Plex's)."""
    return isinstance(client, JellyfinClient | PlexClient)


def needs_media_sources(client: MediaServerClient, four_k: bool) -> bool:
    """Whether listings ask for each item's media sources: to read its versions' widths (a 4K
    server is configured), or to see a placeholder where only they show it (Emby)."""
    return four_k or (isinstance(client, JellyfinClient) and client.placeholders_in_sources)
