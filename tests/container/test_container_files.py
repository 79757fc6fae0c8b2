"""The container files agree with each other and with the project: the Containerfile's shape,
the build context (.containerignore = .dockerignore), the pinned versions (constraints.txt
against pyproject.toml), compose.yaml's structure (compose itself cannot run here), and the
container config (it loads, with its keys from files, and names the compose services).
Building and running the image is CI's image step (.ci/image)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from reconciler.config import load_config

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONTAINERFILE = (ROOT / "Containerfile").read_text()
HEALTHCHECK = ["/opt/reconciler/bin/python", "/opt/reconciler/healthcheck.py"]
USER = "10001:10001"
HTTP_PORT = 9105


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines()
                                             if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in joined.splitlines() if line.strip()]


def stages() -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for name, args in instructions(CONTAINERFILE):
        if name == "FROM":
            out.append([])
        if out:
            out[-1].append((name, args))
    return out


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def container_port(mapping: str) -> int:
    """"9105:9105" or "127.0.0.1:9105:9105" -> the container's side."""
    return int(mapping.rsplit(":", 1)[-1].split("/")[0])


# ---------------------------------------------------------------- the Containerfile


def test_the_base_is_a_build_argument_defaulting_to_the_official_slim_image_of_our_python(
        ) -> None:
    python = PYPROJECT["tool"]["mypy"]["python_version"]
    assert PYPROJECT["project"]["requires-python"] == f">={python}"
    first = instructions(CONTAINERFILE)[0]
    assert first == ("ARG", f"BASE=docker.io/library/python:{python}-slim-bookworm")
    froms = [args for name, args in instructions(CONTAINERFILE) if name == "FROM"]
    assert froms == ["${BASE} AS build", "${BASE}"]


def test_the_runtime_stage_copies_the_venv_and_builds_nothing() -> None:
    runtime = stages()[-1]
    runs = " ".join(args for name, args in runtime if name == "RUN")
    for tool in ("pip", "apt-get", "gcc", "venv"):
        assert tool not in runs, tool
    assert ("COPY", "--from=build /opt/reconciler /opt/reconciler") in runtime
    build_runs = " ".join(args for name, args in stages()[0] if name == "RUN")
    assert "--requirement /src/constraints.txt" in build_runs and "--no-deps" in build_runs
    assert "pip check" in build_runs
    assert "uninstall --quiet --yes setuptools pip" in build_runs


def test_the_runtime_stage_runs_unprivileged_with_config_data_port_and_health_check() -> None:
    runtime = dict(stages()[-1])  # one of each of these
    assert runtime["USER"] == USER
    assert f"--uid {USER.split(':')[0]}" in runtime["RUN"]
    assert "RECONCILER_CONFIG=/config/config.toml" in runtime["ENV"]
    assert "RECONCILER_LOG_STREAM=stdout" in runtime["ENV"]  # JSON lines are its output
    assert runtime["VOLUME"] == '["/data"]' and runtime["WORKDIR"] == "/data"
    assert runtime["EXPOSE"] == str(HTTP_PORT)
    assert runtime["HEALTHCHECK"].endswith('CMD ["' + '", "'.join(HEALTHCHECK) + '"]')
    assert runtime["ENTRYPOINT"] == '["/opt/reconciler/bin/reconcile"]'
    assert runtime["STOPSIGNAL"] == "SIGTERM"


def test_the_build_context_holds_what_the_copies_need_and_no_tests_caches_or_history() -> None:
    ignore = (ROOT / ".containerignore").read_text()
    assert (ROOT / ".dockerignore").read_text() == ignore
    rules = [line for line in ignore.splitlines() if line and not line.startswith("#")]
    assert rules[0] == "*"  # everything out, then what the build copies back in
    kept = {rule[1:] for rule in rules if rule.startswith("!")}
    copied = set()
    for name, args in instructions(CONTAINERFILE):
        if name == "COPY" and not args.startswith("--from"):
            copied.update(args.split()[:-1])
    assert kept == copied
    assert all((ROOT / path).exists() for path in kept)
    assert not any(p.startswith(("tests", ".git", ".venv", "cassettes")) for p in kept)
    assert {"**/__pycache__", "**/*.pyc"} <= set(rules)


# ---------------------------------------------------------------- pinned versions


def pins() -> dict[str, Version]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and re.fullmatch(r"[a-z0-9-]+", name), f"not name==version: {line}"
        assert canonicalize_name(name) == name and name not in out, line
        out[name] = Version(version)
    return out


def test_every_dependency_and_the_build_backend_is_pinned_within_pyproject_ranges() -> None:
    pinned = pins()
    wanted = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    wanted += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req.name} is not in constraints.txt"
        assert req.specifier.contains(pinned[name], prereleases=True), \
            f"constraints.txt pins {name}=={pinned[name]}, outside pyproject's {req}"


def test_the_test_tools_are_not_pinned_into_the_image() -> None:
    pinned = pins()
    # PyYAML is in the [test] extra and also a dependency of Apprise (its YAML configs).
    runtime_too = {"pyyaml"}
    tools = {canonicalize_name(Requirement(r).name)
             for r in PYPROJECT["project"]["optional-dependencies"]["test"]} - runtime_too
    assert {"pytest", "hypothesis", "ruff", "mypy", "playwright"} <= tools
    assert not tools & set(pinned)


# ---------------------------------------------------------------- compose.yaml


def test_compose_runs_the_usual_stack_and_shoko_only_with_the_anime_profile() -> None:
    services = compose()["services"]
    assert {"reconciler", "jellyseerr", "radarr", "sonarr", "jellyfin", "shoko"} <= set(services)
    assert services["shoko"]["profiles"] == ["anime"]
    assert all("profiles" not in s for name, s in services.items() if name != "shoko")
    for name, service in services.items():
        assert "image" in service, name


def test_compose_reconciler_has_its_volumes_secrets_port_and_health_check() -> None:
    data = compose()
    service = data["services"]["reconciler"]
    assert service["build"] == {"context": ".", "dockerfile": "Containerfile"}
    assert service["user"] == USER and service["read_only"] is True
    mounts = {v.split(":")[1]: v for v in service["volumes"]}
    assert mounts["/config"].endswith(":ro")
    data_volume = mounts["/data"].split(":")[0]
    assert data_volume in data["volumes"]  # a named volume, declared
    assert service["secrets"] and set(service["secrets"]) <= set(data["secrets"])
    assert [container_port(p) for p in service["ports"]] == [HTTP_PORT]
    health = service["healthcheck"]
    assert health["test"] == ["CMD", *HEALTHCHECK]
    assert {"interval", "timeout", "retries"} <= set(health)
    assert set(service["depends_on"]) == {"jellyseerr", "radarr", "sonarr", "jellyfin"}


# ---------------------------------------------------------------- config.container.toml


def container_config(tmp_path: Path, *, shoko: bool = False) -> Path:
    """config.container.toml with its secrets under tmp_path instead of /run/secrets (each
    file holding "key-NAME"), and its Shoko section switched on when asked."""
    text = (ROOT / "config.container.toml").read_text()
    if shoko:
        text = re.sub(r"^# (\[shoko\]|url = \"http://shoko|api_key_file = \"/run/secrets/shoko)",
                      r"\1", text, flags=re.MULTILINE)
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    for name in re.findall(r'"/run/secrets/(\w+)"', text):
        (secrets / name).write_text(f"key-{name}\n")
    path = tmp_path / "config.toml"
    path.write_text(text.replace('"/run/secrets/', f'"{secrets}/'))
    return path


@pytest.mark.parametrize("shoko", [False, True], ids=["without-shoko", "with-shoko"])
def test_container_config_loads_with_every_key_from_a_secret_file(tmp_path: Path,
                                                                  shoko: bool) -> None:
    config = load_config(container_config(tmp_path, shoko=shoko), environ={})
    names = {"jellyseerr", "radarr", "sonarr", "jellyfin"} | ({"shoko"} if shoko else set())
    assert set(config.services) == names
    for name, service in config.services.items():
        assert service.api_key == f"key-{name}_api_key"
    assert config.database == Path("/data/reconciler.db")
    assert config.model.reconciler.log_format == "json"
    assert config.model.http is not None and config.model.http.listen == f"0.0.0.0:{HTTP_PORT}"
    assert config.warnings == ()


def test_container_config_names_the_compose_services_on_their_ports(tmp_path: Path) -> None:
    services = compose()["services"]
    config = load_config(container_config(tmp_path, shoko=True), environ={})
    for name, service in config.services.items():
        url = urlsplit(service.url)
        assert url.hostname == name and url.hostname in services
        assert url.port in [container_port(p) for p in services[name]["ports"]], name
    secrets = set(compose()["services"]["reconciler"]["secrets"])
    used = set(re.findall(r'^api_key_file = "/run/secrets/(\w+)"',
                          (ROOT / "config.container.toml").read_text(), re.MULTILINE))
    assert used == secrets  # every uncommented key file is a secret the service gets
