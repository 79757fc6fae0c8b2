"""Where a household member plays an item: the link to it in the media server's own web app.

    play_url("jellyfin", "https://jf.example.org", "4f0c...")  # .../web/index.html#/details?id=
    play_url("emby", "https://emby.example.org", "12345", server_id="a1b2...")
    play_url("plex", None, "603", server_id="<machineIdentifier>")  # app.plex.tv

The forms, and where they come from:
- Jellyfin: `{public_url}/web/index.html#/details?id={id}` (jellyfin-web's router since 10.9;
  older versions, with `#!/details`, redirect it).
- Emby: `{public_url}/web/index.html#!/item?id={id}&serverId={server}`: the web app's route
  for an item (its `item` route with the item's `Id` and `ServerId`, `/System/Info`'s `Id`), as
  the pages of Emby's server plugins link to it beside the web app's `Router.getRouteUrl`;
  without a server id the link still opens the item on the server it is served from.
- Plex: `{base}#!/server/{machineIdentifier}/details?key=%2Flibrary%2Fmetadata%2F{ratingKey}`,
  python-plexapi's `PlexPartialObject.getWebURL()` (`PlexServer._buildWebURL`, endpoint
  `details`, the key quoted whole); `base` is `https://app.plex.tv/desktop/` (Plex's hosted
  web app, its default), or `{public_url}/web/index.html` when a public URL of the server is
  given (the server's own copy of the web app). Plex needs the machine identifier: no link
  without it.

Nothing else: no token in any link (each web app signs the person in itself).
"""

from __future__ import annotations

from urllib.parse import quote

PLEX_WEB_APP = "https://app.plex.tv/desktop/"


def play_url(kind: str, public_url: str | None, item_id: str | None,
             server_id: str | None = None) -> str | None:
    """The link that opens item `item_id` in the web app of the media server `kind`
    ("jellyfin", "emby", "plex") reachable at `public_url`; None when there is no link to make
    (no item; no public URL for Jellyfin or Emby; no server id for Plex)."""
    if not item_id:
        return None
    item = quote(item_id, safe="")
    base = public_url.rstrip("/") if public_url else None
    if kind == "plex":
        if not server_id:
            return None
        web = f"{base}/web/index.html" if base else PLEX_WEB_APP
        key = quote(f"/library/metadata/{item_id}", safe="")
        return f"{web}#!/server/{quote(server_id, safe='')}/details?key={key}"
    if base is None:
        return None
    if kind == "emby":
        server = f"&serverId={quote(server_id, safe='')}" if server_id else ""
        return f"{base}/web/index.html#!/item?id={item}{server}"
    if kind == "jellyfin":
        return f"{base}/web/index.html#/details?id={item}"
    raise ValueError(f"{kind!r} is not a media server (jellyfin, emby, plex)")
