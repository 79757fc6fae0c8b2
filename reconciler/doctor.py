"""`reconcile doctor`: check the configuration, the database and every service, and the facts
the reconciler relies on; one line per check, ✓ or ✗ with the fix (⚠ for a doubt that does
not stop anything). Read-only: it never writes the database or calls an upstream's actions."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

import httpx

from reconciler import core, registry
from reconciler.config import Config
from reconciler.cycle import client_type
from reconciler.cycle.context import arr_servers
from reconciler.errors import (
    AuthFailed,
    BadResponse,
    QueryRejected,
    ServiceUnavailable,
    UpstreamError,
)
from reconciler.models import SeerrArrServer, normalise_provider_key
from reconciler.services.http import ServiceClient
from reconciler.services.jellyseerr import POLL_LISTINGS, JellyseerrClient, request_query
from reconciler.services.radarr import RadarrClient
from reconciler.services.shoko import ShokoClient
from reconciler.services.sonarr import SonarrClient
from reconciler.store import SCHEMA_VERSION, Store, StoreError

OK, FAIL, WARN = "✓", "✗", "⚠"
ProbeFn = Callable[[ServiceClient, Config, "Report"], Awaitable[None]]
SAMPLE_SIZE = 500
SHOKO_KEYS = frozenset({"shoko series", "shoko file", "shoko episode"})
# The kinds whose servers Jellyseerr sends requests to (Radarr, Sonarr).
_DOWNLOADS = registry.with_role(registry.Role.DOWNLOADS)


@dataclass(frozen=True)
class Check:
    mark: str
    subject: str
    text: str
    fix: str | None = None

    def line(self) -> str:
        tail = f" — fix: {self.fix}" if self.fix else ""
        return f"{self.mark} {self.subject}: {self.text}{tail}"


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.checks: list[Check] = []

    def add(self, mark: str, subject: str, text: str, fix: str | None = None) -> None:
        check = Check(mark, subject, text, fix)
        self.checks.append(check)
        print(check.line(), file=self.out, flush=True)

    @property
    def failed(self) -> bool:
        return any(c.mark == FAIL for c in self.checks)


def run_doctor(config: Config, *, transport: httpx.AsyncBaseTransport | None = None,
               out: TextIO | None = None) -> int:
    """Print one line per check; 0 when nothing failed, 1 otherwise."""
    report = Report(out or sys.stdout)
    asyncio.run(diagnose(config, report, transport=transport))
    return 1 if report.failed else 0


async def diagnose(config: Config, report: Report, *,
                   transport: httpx.AsyncBaseTransport | None = None) -> None:
    names = ", ".join(config.services)
    report.add(OK, "config", f"{config.path} is valid ({names})")
    for warning in config.warnings:
        report.add(WARN, "config", warning)
    check_database(config.database, report)
    clients = {name: client_type(svc.kind)(svc, transport=transport, max_attempts=1,
                                           retry_budget=min(svc.timeout, 10.0))
               for name, svc in config.services.items()}
    try:
        for name, client in clients.items():
            await check_service(name, client, config, report)
        seerr = clients.get("jellyseerr")
        if isinstance(seerr, JellyseerrClient) and _several_servers(config):
            await check_servers(seerr, config, report)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()), return_exceptions=True)


# ---------------------------------------------------------------- database


def check_database(path: Path, report: Report) -> None:
    directory = path.parent
    if not path.exists():
        parent = directory
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if os.access(parent, os.W_OK | os.X_OK):
            report.add(OK, "database", f"{path} will be created on the first run")
        else:
            report.add(FAIL, "database", f"cannot create {path} ({parent} is not writable)",
                       f"create {directory} writable by the reconciler's user, or point "
                       f"[reconciler] database elsewhere")
        return
    if not os.access(path, os.W_OK) or not os.access(directory, os.W_OK | os.X_OK):
        what = path if not os.access(path, os.W_OK) else directory
        report.add(FAIL, "database", f"{what} is not writable by this user",
                   f"run doctor as the reconciler's user, or fix the ownership of {directory}")
        return
    try:
        store = Store.open(path, readonly=True)
    except StoreError as exc:
        message = str(exc)
        if "needs migrating" in message:
            report.add(OK, "database", f"{path} is writable (an older schema; it is migrated "
                                       f"on the next run)")
        else:
            report.add(FAIL, "database", message,
                       "point [reconciler] database at another file, or move this one aside")
        return
    try:
        counts = store.counts()
        oldest = store.retention.oldest_poll()
    finally:
        store.close()
    size = sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())
    report.add(OK, "database", f"{path} is writable (schema {SCHEMA_VERSION}, "
                               f"{counts['requests']} requests tracked, "
                               f"{size / (1024 * 1024):.1f} MB, oldest poll record "
                               f"{oldest or 'none yet'})")


# ---------------------------------------------------------------- services


def probe(kind: str) -> ProbeFn:
    """The check the registry names for `kind`."""
    found = registry.resolve(registry.kind(kind).probe)
    if not callable(found):
        raise TypeError(f"{kind}: the registry's probe {found!r} cannot be called")
    return cast(ProbeFn, found)


async def check_service(name: str, client: ServiceClient, config: Config,
                        report: Report) -> None:
    check = probe(config.kind_of(name))
    try:
        await check(client, config, report)
    except UpstreamError as exc:
        report.add(FAIL, name, *_explain(name, client, exc, config))
    except Exception as exc:  # a doctor that crashes helps nobody: report and go on
        report.add(FAIL, name, f"unexpected error: {type(exc).__name__}: {exc}",
                   "please report this with the line above")


def _section(name: str, config: Config | None) -> str:
    """Where the service or server `name` is configured, for hints."""
    kind = config.kind_of(name) if config is not None else name
    several = config is not None and len(config.servers(kind)) > 1
    return f'[[{kind}]] name = "{name}"' if name != kind or several else f"[{name}]"


def _explain(name: str, client: ServiceClient, exc: UpstreamError,
             config: Config | None = None) -> tuple[str, str]:
    url = client.config.url
    kind = registry.kind(config.kind_of(name) if config is not None else name)
    product = kind.product
    where = _section(name, config)
    if isinstance(exc, AuthFailed):
        status = re.search(r"HTTP (\d{3})", exc.message)
        code = f" (HTTP {status.group(1)})" if status else ""
        word = kind.key_word
        return (f"API key refused{code}",
                f"set {where} {word} (or {word}_file) to a key from {kind.key_where}")
    if isinstance(exc, ServiceUnavailable):
        text = exc.message if exc.message.startswith("cannot reach") else \
            f"not answering properly at {url}: {exc.message}"
        return (text,
                f"check {where} url and that {product} is running and reachable from here")
    if isinstance(exc, BadResponse):
        return (f"{url} did not answer like {product}: {exc.message}",
                f"check that {where} url points at {product} itself (with its base URL, "
                f"if any), not at a proxy's login page")
    return (exc.message, f"check {where} url")


def _several_servers(config: Config) -> bool:
    """More than a plain Radarr and Sonarr: several of a kind, a 4K one, or Jellyseerr ids."""
    servers = [s for kind in _DOWNLOADS for s in config.servers(kind)]
    return (any(len(config.servers(k)) > 1 for k in _DOWNLOADS)
            or any(s.is4k or s.seerr_server_id is not None for s in servers))


async def check_servers(client: JellyseerrClient, config: Config, report: Report) -> None:
    """Which of Jellyseerr's Radarr/Sonarr servers each configured one is (by its
    `seerr_server_id`, else by host, port and base URL), as routing will see it."""
    for kind in _DOWNLOADS:
        mine = config.servers(kind)
        product = registry.kind(kind).product
        if not mine:
            continue
        try:
            theirs = await client.arr_servers(kind)
        except UpstreamError as exc:
            report.add(FAIL, "jellyseerr", f"cannot read its {product} servers "
                                           f"(/api/v1/settings/{kind}): {exc.message}",
                       "the [jellyseerr] api_key must be an administrator's (Settings > "
                       "General > API Key)")
            continue
        ids = ", ".join(f"{e.id} '{e.name}'" for e in theirs) or "none"
        for svc in mine:
            if svc.seerr_server_id is not None:
                entry = next((e for e in theirs if e.id == svc.seerr_server_id), None)
                if entry is None:
                    report.add(FAIL, svc.name, f"seerr_server_id = {svc.seerr_server_id} is "
                                               f"not one of Jellyseerr's {product} "
                                               f"servers (ids: {ids})",
                               f"set {_section(svc.name, config)} seerr_server_id to the id "
                               f"of this server in Jellyseerr, or remove it")
                    continue
                how = f"seerr_server_id = {entry.id}"
            else:
                found = [e for e in theirs if core.url_matches(svc.url, e)]
                if not found:
                    report.add(WARN, svc.name, f"is none of Jellyseerr's {product} "
                                               f"servers by host, port and base URL "
                                               f"({ids}); requests Jellyseerr sends it are "
                                               f"shown as sent to a server reconciler is not "
                                               f"configured for",
                               f"set {_section(svc.name, config)} seerr_server_id to its id "
                               f"in Jellyseerr")
                    continue
                entry, how = found[0], "by host, port and base URL"
            quality = "4K" if entry.is4k else "HD"
            default = ", default" if entry.is_default else ""
            report.add(OK, svc.name, f"is Jellyseerr's {product} server '{entry.name}' "
                                     f"(id {entry.id}, {quality}{default}; {how})")
            if entry.is4k != svc.is4k:
                report.add(WARN, svc.name, f"Jellyseerr has it as {quality}, reconciler as "
                                           f"{'4K' if svc.is4k else 'HD'}",
                           f"set {_section(svc.name, config)} is4k = "
                           f"{'true' if entry.is4k else 'false'}")
        compare_defaults(kind, config, theirs, report)


def compare_defaults(kind: str, config: Config, theirs: list[SeerrArrServer],
                     report: Report) -> None:
    """Warn where Jellyseerr's default server of a quality (`isDefault`, where it sends
    requests naming no server) is not reconciler's own (`default`, used for them only while
    Jellyseerr's settings cannot be read)."""
    servers = [s for s in arr_servers(config) if s.kind == kind]
    product = registry.kind(kind).product
    for is4k in (False, True):
        ours = core.own_default(servers, is4k)
        entry = core.seerr_default(theirs, is4k)
        if ours is None or entry is None:
            continue
        same = core.configured_as(servers, entry)
        if same is not None and same.name == ours.name:
            continue
        quality = "4K" if is4k else "HD"
        theirs_text = f"'{same.name}'" if same is not None else "a server reconciler is not " \
            "configured for"
        report.add(WARN, kind, f"Jellyseerr's default {quality} {product} server is "
                               f"'{entry.name}' (id {entry.id}, {theirs_text}), reconciler's "
                               f"is '{ours.name}': requests naming no server follow "
                               f"Jellyseerr's, reconciler's only while Jellyseerr's settings "
                               f"cannot be read",
                   f"set default = true on {_section(same.name, config)}" if same is not None
                   else f"configure Jellyseerr's '{entry.name}' for reconciler, or make "
                        f"'{ours.name}' the default in Jellyseerr")


def _version(data: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return "unknown"


async def probe_jellyseerr(client: ServiceClient, config: Config, report: Report) -> None:
    assert isinstance(client, JellyseerrClient)
    # Needs no key: tells "unreachable" from "key refused", and decides what may be sent.
    server, profile = await client.server_info()
    # Exactly the poller's listings (its code path, one request per page of one): a version
    # that refuses a parameter answers 400 here as it would in every cycle.
    try:
        await client.poll_active(newest=1, page_size=1, max_pages=1)
    except QueryRejected as exc:
        report.add(FAIL, "jellyseerr", f"{server.describe()} refused the poller's query: "
                                       f"{exc.message}",
                   "please report this with the line above and the version")
        return
    report.add(OK, "jellyseerr", f"reachable, API key accepted, version "
                                 f"{server.version_text or 'unknown'} ({server.describe()})")
    queries = "; ".join(
        "&".join(f"{k}={v}" for k, v in request_query(profile, filter=f, sort=s).items()
                 if k not in ("take", "skip"))
        for f, s in POLL_LISTINGS)
    moved = ("status changes move updatedAt" if profile.bumps_updated_at
             else "updatedAt does not move on status changes; changes are read by id")
    report.add(OK, "jellyseerr", f"the poller's listings are accepted ({queries}); {moved}")
    if server.flavour == "unknown":
        report.add(WARN, "jellyseerr", f"cannot tell the flavour from version "
                                       f"{server.version_text!r}; sending only what every "
                                       f"version accepts", None)


async def probe_arr(client: ServiceClient, config: Config, report: Report) -> None:
    assert isinstance(client, RadarrClient | SonarrClient)
    name = client.name
    status = await client.system_status()
    version = _version(status, "version")
    report.add(OK, name, f"reachable, API key accepted, version {version}")
    anime = config.model.anime
    if isinstance(client, SonarrClient):
        series = await client.all_series()
        count = sum(1 for s in series if s.series_type == "anime")
        if count or not series:
            report.add(OK, name, f"series of type anime: {count} of {len(series)} "
                                 f"(anime series are recognised by it)")
        else:
            report.add(WARN, name, f"none of {len(series)} series has the type anime",
                       "set Series Type to Anime in Sonarr for anime series, or list their "
                       "root folders in [anime] root_folders" if not anime.root_folders
                       else None)
        return
    tags = await client.tags()
    wanted = {t.lower() for t in anime.radarr_tags}
    found = sorted(label for label in tags.values() if label.lower() in wanted)
    if found:
        report.add(OK, name, f"anime tag{'s' if len(found) > 1 else ''} "
                             f"{', '.join(found)} exist{'s' if len(found) == 1 else ''}")
    elif anime.radarr_tags:
        report.add(WARN, name, f"no tag named {', '.join(anime.radarr_tags)} in Radarr",
                   "tag anime films in Radarr, or set [anime] radarr_tags / root_folders"
                   if not anime.root_folders else None)


async def probe_shoko(client: ServiceClient, config: Config, report: Report) -> None:
    assert isinstance(client, ShokoClient)
    status = await client.init_status()  # needs no key
    state = _version(status, "State")
    if state not in ("Started", "unknown"):
        report.add(WARN, "shoko", f"server state is {state!r}, not Started",
                   "wait for Shoko Server to finish starting (see its web UI)")
    version = "unknown"
    try:
        about = await client.get("/api/v3/Init/Version")  # needs no key
        server = about.get("Server") if isinstance(about, dict) else None
        if isinstance(server, dict):
            version = _version(server, "Version")
    except UpstreamError:
        pass  # older servers: the version is only a nicety
    # The call the reconciler makes, with the key: a refused key shows here.
    await client.files_by_path("reconciler-doctor-check.mkv")
    report.add(OK, "shoko", f"reachable, API key accepted, version {version}")


def _keys(provider_ids: dict[str, str]) -> set[str]:
    return {normalise_provider_key(k) for k, v in provider_ids.items() if v}
