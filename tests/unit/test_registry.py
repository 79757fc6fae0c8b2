"""The service registry keeps the checklist of docs/ARCHITECTURE.md honest: every registered
service has a client, a poller, a doctor probe, a config section (in `ConfigModel` and in
config.example.toml), a simulated server, cassettes and their test; and what iterates services
follows the registry's order."""

from __future__ import annotations

import asyncio
import inspect
import io
import tomllib
import typing
from pathlib import Path

import httpx
import pytest

from reconciler import doctor, registry
from reconciler.config import Config, ConfigModel, ServiceConfig, load_config
from reconciler.config.sections import ServiceSection
from reconciler.cycle import Clients, client_type
from reconciler.cycle.run import poller_factory, pollers
from reconciler.registry import SERVICE_KINDS, ServiceKind
from reconciler.services.http import ServiceClient
from simstack import SERVICES as SIMULATED
from simstack import SimulatedStack

REPO = Path(__file__).resolve().parents[2]
KINDS = pytest.mark.parametrize("kind", SERVICE_KINDS, ids=lambda k: k.name)


def service_config(kind: str, name: str | None = None) -> ServiceConfig:
    return ServiceConfig(name=name or kind, url=f"http://127.0.0.1:9/{kind}", api_key="key",
                         poll_interval=30.0, timeout=1.0, verify_tls=True, kind=kind)


def client(kind: str, name: str | None = None) -> ServiceClient:
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    return client_type(kind)(service_config(kind, name), transport=transport, max_attempts=1)


def close(*clients: ServiceClient) -> None:
    async def all_of() -> None:
        await asyncio.gather(*(c.aclose() for c in clients))
    asyncio.run(all_of())


def section_of(field: str) -> tuple[type[ServiceSection] | None, bool]:
    """The ServiceSection type of a `ConfigModel` field (None if it holds none), and whether
    the field is a list of them."""
    annotation = ConfigModel.model_fields[field].annotation
    several = typing.get_origin(annotation) is list
    args = typing.get_args(annotation) or (annotation,)
    found = [a for a in args if isinstance(a, type) and issubclass(a, ServiceSection)]
    return (found[0] if len(found) == 1 else None), several


# ---------------------------------------------------------------- the registry itself


def test_services_are_polled_in_the_registrys_order() -> None:
    """Jellyseerr first; Shoko after the *arr, whose imported paths it looks up; the media
    server (one of three) last."""
    assert registry.SERVICES == ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin", "emby",
                                 "plex")
    assert registry.MEDIA_SERVERS == ("jellyfin", "emby", "plex")
    assert registry.SEVERAL == ("radarr", "sonarr")
    assert [k.name for k in SERVICE_KINDS if not k.follows_downloads] == ["jellyseerr"]


def test_an_unregistered_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: jellyseerr, radarr"):
        registry.kind("kodi")
    with pytest.raises(ValueError, match="module:attribute"):
        registry.resolve("reconciler.doctor")


# ---------------------------------------------------------------- the checklist, per service


@KINDS
def test_each_service_has_a_client_named_after_it(kind: ServiceKind) -> None:
    cls = client_type(kind.name)
    assert issubclass(cls, ServiceClient)
    assert cls.name == kind.name


@KINDS
def test_each_service_has_a_poller_made_from_its_client_and_name(kind: ServiceKind) -> None:
    names = [kind.name, f"{kind.name}4k"] if kind.several else [kind.name]
    made = [client(kind.name, name) for name in names]
    try:
        for name, one in zip(names, made, strict=True):
            poller = poller_factory(kind.name)(one, name)
            assert poller.service == name
            assert poller.client is one
            assert inspect.iscoroutinefunction(poller.poll)
    finally:
        close(*made)


@KINDS
def test_each_service_has_a_doctor_probe(kind: ServiceKind) -> None:
    assert inspect.iscoroutinefunction(doctor.probe(kind.name))


@KINDS
def test_each_service_has_a_config_section_with_the_registrys_default(kind: ServiceKind,
                                                                      ) -> None:
    section, several = section_of(kind.section)
    assert section is not None, f"ConfigModel.{kind.section} is not a ServiceSection"
    assert several == kind.several
    assert section.model_fields["poll_interval"].default == kind.poll_interval


def test_the_config_models_service_sections_are_the_registrys_in_its_order() -> None:
    fields = [f for f in ConfigModel.model_fields if section_of(f)[0] is not None]
    assert fields == [k.section for k in SERVICE_KINDS]


@KINDS
def test_each_service_is_in_the_example_config(kind: ServiceKind) -> None:
    """A configuration names one media server: the example has [jellyfin], and the others
    commented out below it."""
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    example = tomllib.loads(text)
    allowed = (dict, list) if kind.several else (dict,)  # [radarr] or [[radarr]] tables
    if kind.role is registry.Role.MEDIA_SERVER and kind.name != "jellyfin":
        assert f"\n# [{kind.section}]\n" in text, f"config.example.toml has no # [{kind.name}]"
        return
    assert isinstance(example.get(kind.section), allowed), (
        f"config.example.toml has no [{kind.section}]")


@KINDS
def test_each_service_has_cassettes_and_a_test_replaying_them(kind: ServiceKind) -> None:
    assert sorted((REPO / "cassettes" / kind.name).glob("*.yaml")), (
        f"no cassettes/{kind.name}/*.yaml")
    assert (REPO / "tests" / "clients" / f"test_{kind.name}_cassettes.py").is_file()


@pytest.mark.parametrize("media_server", registry.MEDIA_SERVERS)
def test_each_service_has_a_simulated_server_its_probe_accepts(tmp_path: Path,
                                                                media_server: str) -> None:
    """The fakes in simstack/ answer the doctor's probe of each service without a ✗ (one
    media server at a time: a configuration names one)."""
    assert set(registry.SERVICES) <= set(SIMULATED)
    kinds = [k for k in SERVICE_KINDS
             if k.role is not registry.Role.MEDIA_SERVER or k.name == media_server]
    with SimulatedStack(services=[k.name for k in kinds]) as stack:
        path = tmp_path / "config.toml"
        path.write_text(stack.config_toml(tmp_path / "reconciler.db"))
        path.chmod(0o600)
        config = load_config(path)
        for kind in kinds:
            if kind.name not in config.services:
                continue  # Shoko is not used beside Emby or Plex (a warning says so)
            out = io.StringIO()
            report = doctor.Report(out)
            asyncio.run(probe(kind.name, config, report))
            assert report.checks and not report.failed, out.getvalue()


async def probe(name: str, config: Config, report: doctor.Report) -> None:
    one = client_type(name)(config.services[name], max_attempts=1)
    try:
        await doctor.check_service(name, one, config, report)
    finally:
        await one.aclose()


# ---------------------------------------------------------------- what iterates services


def test_clients_and_pollers_follow_the_registrys_order() -> None:
    """Whatever order they are given in; the servers of one kind keep theirs."""
    given = {"jellyfin": client("jellyfin"), "radarr4k": client("radarr", "radarr4k"),
             "shoko": client("shoko"), "sonarr": client("sonarr"),
             "radarr": client("radarr"), "jellyseerr": client("jellyseerr")}
    try:
        clients = Clients.of(given)
        order = ["jellyseerr", "radarr4k", "radarr", "sonarr", "shoko", "jellyfin"]
        assert clients.names() == order
        assert [p.service for p in pollers(clients)] == order
        assert clients.radarr is given["radarr4k"]
        assert [n for n, _ in clients.radarrs] == ["radarr4k", "radarr"]
        assert clients.kind_of("radarr4k") == "radarr"
    finally:
        close(*given.values())


def test_a_client_under_another_services_name_is_refused() -> None:
    radarr = client("radarr")
    try:
        with pytest.raises(TypeError, match="sonarr: not a client of that service"):
            Clients.of({"sonarr": radarr})
        with pytest.raises(TypeError, match="jellyfin: not a client of that service"):
            Clients.of({"jellyfin": radarr})
    finally:
        close(radarr)


def test_the_checklist_names_what_this_test_checks() -> None:
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    checklist = text.split("### Adding a service: the checklist", 1)[1]
    for place in ("reconciler/registry.py", "config.example.toml", "reconciler/services/",
                  "reconciler/cycle/", "reconciler/doctor.py", "simstack/", "cassettes/",
                  "tests/unit/test_registry.py"):
        assert place in checklist, place

