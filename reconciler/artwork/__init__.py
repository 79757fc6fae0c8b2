"""Posters for the status page and the ready-to-watch notices.

- `cache.ArtworkCache`: the pictures on disk, in the folder `artwork` beside the database,
  bounded in total size (the oldest written go first); what the page serves at `/artwork/...`
  from its own origin, so no upstream address or key ever reaches a browser.
- `fetch.ArtworkFetcher`: fills it after a cycle, in the background (a few at a time, each
  bounded in time and size): from Jellyfin for what it has, else the TMDB poster Jellyseerr
  names, through Jellyseerr's own image proxy.
"""

from reconciler.artwork.cache import ArtworkCache, artwork_cache

__all__ = ["ArtworkCache", "artwork_cache"]
