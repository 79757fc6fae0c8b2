"""The systemd units are valid (`systemd-analyze verify`, when the tool exists) and say what
the README promises: a sandboxed DynamicUser daemon, and a one-shot unit with its timer."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
NAMES = ("reconciler.service", "reconciler-once.service", "reconciler-once.timer")


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections, each key with every value it was given (keys may repeat)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = ""
    for raw in (UNITS / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            out.setdefault(section, {})
            continue
        key, _, value = line.partition("=")
        out[section].setdefault(key, []).append(value)
    return out


def test_daemon_unit_runs_sandboxed_under_a_dynamic_user() -> None:
    service = unit("reconciler.service")["Service"]
    assert service["ExecStart"] == ["/opt/reconciler/bin/reconcile --config "
                                    "/etc/reconciler/config.toml"]
    for key, value in {"DynamicUser": "yes", "StateDirectory": "reconciler",
                       "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                       "NoNewPrivileges": "yes", "Restart": "on-failure",
                       "RestartPreventExitStatus": "2 75"}.items():
        assert service[key] == [value], key
    assert "AF_INET" in service["RestrictAddressFamilies"][0]
    assert "jellyseerr:/etc/reconciler/keys/jellyseerr" in service["LoadCredential"]
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_once_unit_and_timer() -> None:
    service = unit("reconciler-once.service")["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"][0].endswith("--once")
    assert service["SuccessExitStatus"] == ["3"]
    assert service["DynamicUser"] == ["yes"] and service["StateDirectory"] == ["reconciler"]
    timer = unit("reconciler-once.timer")
    assert timer["Timer"]["OnUnitInactiveSec"] and timer["Install"]["WantedBy"] == [
        "timers.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at this environment's `reconcile`.
    reconcile = Path(sys.executable).parent / "reconcile"
    if not reconcile.exists():
        pytest.skip("the reconcile console script is not installed next to python")
    for name in NAMES:
        text = (UNITS / name).read_text().replace("/opt/reconciler/bin/reconcile",
                                                  str(reconcile))
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in NAMES)],
                          capture_output=True, text=True, timeout=60)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if str(tmp_path) in line]
    assert done.returncode == 0, done.stderr
    assert ours == []
