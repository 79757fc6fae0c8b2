"""Helpers of .ci/image's smoke test (standard library only; run with the host's Python).

    config SIM_CONFIG CONFIG_DIR SECRETS_DIR   the daemon container's config, from the config
                                               `reconcile demo --serve` wrote: keys moved to
                                               files, the database in /data, JSON logs; prints
                                               the [http] listen address
    livez URL                                  wait until URL answers 200
    page URL                                   the status page at URL and every /static/
                                               file it links answer 200 (packaged files)
    requests COMMAND...                        wait until COMMAND (a `status --json`) lists
                                               the demo's five requests
    json-log FILE                              FILE is JSON lines from daemon.started to
                                               daemon.stopped with exit code 0

Each wait is bounded; on time-out the last observation is printed and the exit code is 1.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEMO_REQUESTS = {1, 2, 3, 4, 5}  # reconciler/demo/script.py: five requests, ids 1-5
UID = GID = 10001  # the image's user (Containerfile)


def wait(what: str, probe: Callable[[], tuple[bool, str]], seconds: float) -> int:
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline:
        done, seen = probe()
        if done:
            return 0
        time.sleep(0.5)
    print(f"image_support: {what}: not within {seconds:g} s; last: {seen}", file=sys.stderr)
    return 1


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def private(path: Path, mode: int) -> None:
    """Readable by the image's user alone (when we may chown), else by everyone."""
    if os.geteuid() == 0:
        os.chown(path, UID, GID)
        path.chmod(mode)
    else:
        path.chmod(mode | 0o044 | (0o011 if path.is_dir() else 0))


def container_config(sim_config: Path, config_dir: Path, secrets_dir: Path) -> int:
    def written() -> tuple[bool, str]:
        try:
            return "[http]" in sim_config.read_text(), "config not complete"
        except OSError as exc:
            return False, str(exc)

    if wait(f"{sim_config} from reconcile demo --serve", written, 30):
        return 1
    raw = tomllib.loads(sim_config.read_text())
    raw["reconciler"] |= {"database": "/data/reconciler.db", "log_format": "json"}
    listen = f"127.0.0.1:{free_port()}"
    raw["http"] = {"listen": listen}
    config_dir.mkdir(mode=0o755)
    secrets_dir.mkdir(mode=0o700)
    private(secrets_dir, 0o700)
    lines = ["# .ci/image: the daemon container's config (from reconcile demo --serve)"]
    for section, table in raw.items():
        if "api_key" in table:  # secrets from files, as with compose's secrets
            key = secrets_dir / section
            key.write_text(table.pop("api_key") + "\n")
            private(key, 0o400)
            table["api_key_file"] = f"/run/secrets/{section}"
        lines += ["", f"[{section}]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
    path = config_dir / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o644)  # no key in it
    print(listen)
    return 0


def livez(url: str) -> int:
    def answered() -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.status == 200, f"{response.status}"
        except (urllib.error.URLError, OSError) as exc:
            return False, str(exc)

    return wait(f"GET {url}", answered, 45)


def page(url: str) -> int:
    base = url.rstrip("/")
    try:
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            html = response.read().decode()
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
        for asset in assets:
            with urllib.request.urlopen(base + asset, timeout=10) as response:
                response.read()
    except (urllib.error.URLError, OSError) as exc:
        print(f"image_support: {base}: {exc}", file=sys.stderr)
        return 1
    if not assets:
        print(f"image_support: {base}/ links no /static/ file", file=sys.stderr)
        return 1
    return 0


def requests(command: list[str]) -> int:
    def listed() -> tuple[bool, str]:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            return False, f"exit {done.returncode}: {done.stderr.strip()[-300:]}"
        ids = {row["id"] for row in json.loads(done.stdout)}
        return ids >= DEMO_REQUESTS, f"requests {sorted(ids)}"

    return wait(" ".join(command), listed, 60)


def json_log(path: Path) -> int:
    events = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            print(f"image_support: {path}:{number} is not JSON: {line[:200]}", file=sys.stderr)
            return 1
        events.append(event)
    names = [e.get("event") for e in events]
    if "daemon.started" not in names or names[-1] != "daemon.stopped":
        print(f"image_support: log events {names[:3]} ... {names[-3:]}", file=sys.stderr)
        return 1
    if events[-1].get("exit_code") != 0:
        print(f"image_support: daemon.stopped with {events[-1]}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    match argv:
        case ["config", sim, config_dir, secrets_dir]:
            return container_config(Path(sim), Path(config_dir), Path(secrets_dir))
        case ["livez", url]:
            return livez(url)
        case ["page", url]:
            return page(url)
        case ["requests", *command] if command:
            return requests(command)
        case ["json-log", path]:
            return json_log(Path(path))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
