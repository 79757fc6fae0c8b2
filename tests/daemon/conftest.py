"""Fixtures for the daemon tests: the simulated stack and a fake Apprise target."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simstack import SimulatedStack, World
from tests.daemon.daemon_support import AppriseTarget


@pytest.fixture
def apprise_target() -> Iterator[AppriseTarget]:
    target = AppriseTarget()
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def stack(world: World) -> Iterator[SimulatedStack]:
    with SimulatedStack(world, services=["jellyseerr", "radarr", "jellyfin"]) as running:
        yield running
