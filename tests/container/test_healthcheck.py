"""The image's HEALTHCHECK (container/healthcheck.py), run as the image runs it (a separate
Python, standard library only) against reconciler's own HTTP server: healthy while /livez
answers 200, unhealthy when it answers 503, when nothing listens, and without [http]."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.httpapi import HttpServer, Metrics, start_http_server

SCRIPT = Path(__file__).resolve().parents[2] / "container" / "healthcheck.py"


def healthcheck(config: Path) -> subprocess.CompletedProcess[str]:
    # -I: isolated, as in the image, where nothing but the standard library is imported.
    return subprocess.run([sys.executable, "-I", str(SCRIPT)], capture_output=True, text=True,
                          env={"RECONCILER_CONFIG": str(config)}, timeout=30)


@pytest.fixture
def alive() -> list[bool]:
    return [True]


@pytest.fixture
def server(config_path: Path, alive: list[bool]) -> Iterator[HttpServer]:
    config = load_config(config_path)
    srv = start_http_server(lambda: config, Metrics(), "127.0.0.1:0", liveness=lambda: alive[0])
    try:
        yield srv
    finally:
        srv.stop()


def container_config(tmp_path: Path, listen: str | None) -> Path:
    path = tmp_path / "container.toml"
    http = f'\n[http]\nlisten = "{listen}"\n' if listen else ""
    path.write_text('[reconciler]\nlog_format = "json"\n' + http)
    return path


def test_healthy_while_livez_answers_200_on_the_configured_port_asked_on_loopback(
        server: HttpServer, tmp_path: Path) -> None:
    done = healthcheck(container_config(tmp_path, f"0.0.0.0:{server.port}"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"http://127.0.0.1:{server.port}/livez: 200"


def test_unhealthy_when_livez_answers_503(server: HttpServer, alive: list[bool],
                                          tmp_path: Path) -> None:
    alive[0] = False
    done = healthcheck(container_config(tmp_path, f"127.0.0.1:{server.port}"))
    assert done.returncode == 1
    assert done.stdout.strip() == f"unhealthy: http://127.0.0.1:{server.port}/livez: 503"


def test_unhealthy_when_nothing_listens(server: HttpServer, tmp_path: Path) -> None:
    port = server.port
    server.stop()
    done = healthcheck(container_config(tmp_path, f"0.0.0.0:{port}"))
    assert done.returncode == 1
    assert done.stdout.startswith(f"unhealthy: http://127.0.0.1:{port}/livez: ")


def test_unhealthy_and_saying_why_without_an_http_section(tmp_path: Path) -> None:
    config = container_config(tmp_path, None)
    done = healthcheck(config)
    assert done.returncode == 1
    assert done.stdout.strip() == f"unhealthy: {config} has no [http] section: /livez is not served"
