"""Jellyseerr's Radarr and Sonarr server settings, read when routing needs them.

Strategy: after Jellyseerr's own poll, and only when a tracked request names a server
(`serverId`, or the `serviceId` Seerr recorded on its media) that no configured
`seerr_server_id` is, or names none (Seerr's own default server of its quality then decides),
and the one configured server of its kind cannot answer for it alone
(`core.needs_seerr_servers`): `GET /api/v1/settings/radarr|sonarr` once, then again at each
complete Jellyseerr listing or when a request names a server the settings read did not list. A
setup with one Radarr and one Sonarr never reads them. A failed read leaves the settings as they
were (unknown the first time: requests naming a server wait, those naming none go to
reconciler's own default, `core.route`); it does not fail Jellyseerr's poll.
"""

from __future__ import annotations

from reconciler import core
from reconciler.cycle.context import PollContext, arr_servers
from reconciler.cycle.poll_jellyseerr import JellyseerrPoller
from reconciler.errors import UpstreamError
from reconciler.logs import get_logger
from reconciler.models import MediaType
from reconciler.results import PollOutcome
from reconciler.services.jellyseerr import JellyseerrClient

log = get_logger("reconciler.cycle")


class JellyseerrWithServers:
    """Jellyseerr's poll, then its server settings when routing needs them."""

    def __init__(self, client: JellyseerrClient, name: str = "jellyseerr") -> None:
        self.inner = JellyseerrPoller(client, name)
        self.service = name
        self.asked: set[tuple[str, int]] = set()  # server ids read again for, once each

    @property
    def client(self) -> JellyseerrClient:
        return self.inner.client

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        await self.inner.poll(ctx, outcome)
        await read_server_settings(self.inner.client, ctx, refresh=outcome.full,
                                   asked=self.asked)


async def read_server_settings(client: JellyseerrClient, ctx: PollContext, *,
                               refresh: bool = False,
                               asked: set[tuple[str, int]] | None = None) -> None:
    """Read Jellyseerr's server settings of each kind whose routing needs them (see the
    module docstring); `asked`: the (kind, server id) already read again for, once each."""
    asked = set() if asked is None else asked
    servers = arr_servers(ctx.config)
    now = ctx.clock()
    for media_type in MediaType:
        kind = media_type.arr
        cases = ctx.route_cases(media_type)
        if not core.needs_seerr_servers(cases, servers):
            continue
        known = ctx.seen.seerr_servers(kind)
        listed = {e.id for e in known or []}
        unlisted = {(kind, target) for _, _, target in cases
                    if target is not None and target not in listed} - asked
        asked |= unlisted
        if known is not None and not refresh and not unlisted:
            continue
        try:
            listing = await client.arr_servers(kind)
        except UpstreamError as exc:
            log.warning("jellyseerr.server_settings_unread", kind=kind, error=exc.message)
            continue
        ctx.seen.put_seerr_servers(kind, listing, now)
        ids = {e.id for e in listing}
        for svc in ctx.config.servers(kind):
            if svc.seerr_server_id is not None and svc.seerr_server_id not in ids:
                log.warning("config.seerr_server_id_unknown", server=svc.name,
                            seerr_server_id=svc.seerr_server_id, known=sorted(ids))
