"""The container's HEALTHCHECK: GET /livez on the port the config's `[http] listen` names.

Standard library only (it runs every 30 s: no reconciler import, no extra package). Exit 0
when /livez answers 200; 1 otherwise, with one line saying why (Docker and Podman keep it in
the health log). A wildcard listen address (0.0.0.0, ::) is asked on loopback.
"""

from __future__ import annotations

import os
import sys
import tomllib
import urllib.error
import urllib.request

CONFIG = "/config/config.toml"
TIMEOUT = 4.0
WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}


def livez_url(config_path: str) -> str:
    """The /livez URL for the config at `config_path` (ValueError when it serves no HTTP)."""
    with open(config_path, "rb") as f:
        http = tomllib.load(f).get("http")
    if not isinstance(http, dict):
        raise ValueError(f"{config_path} has no [http] section: /livez is not served")
    host, _, port = str(http.get("listen", "127.0.0.1:9105")).rpartition(":")
    host = WILDCARDS.get(host, host).strip("[]")
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/livez"


def main() -> int:
    config_path = os.environ.get("RECONCILER_CONFIG") or CONFIG
    try:
        url = livez_url(config_path)
    except (OSError, ValueError) as exc:  # tomllib's decode error is a ValueError
        print(f"unhealthy: {exc}")
        return 1
    # No proxy: an HTTP_PROXY set for the container must not carry a loopback request.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=TIMEOUT) as response:
            print(f"{url}: {response.status}")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: {url}: {exc.code}")
    except OSError as exc:
        print(f"unhealthy: {url}: {getattr(exc, 'reason', exc)}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
