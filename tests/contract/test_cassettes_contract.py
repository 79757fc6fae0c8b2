"""Every recorded request and response in `cassettes/` against its service's published spec.

With the client tests this closes the loop: those replay each cassette with `match_on` including
the query and the API key header, so a client request is always exactly a recorded one; here each
recorded request may only use the parameters the spec gives its endpoint, and each recorded
response must have the shape the spec gives its status.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from tests.contract.spec_support import REPO, Contract

CASSETTES = REPO / "cassettes"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _interactions() -> list[Any]:
    found = []
    for path in sorted(CASSETTES.glob("*/*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
        for i, interaction in enumerate(data["interactions"]):
            request = interaction["request"]
            label = f"{path.parent.name}/{path.name}#{i} {request['method']} " \
                    f"{urlsplit(request['uri']).path}"
            found.append(pytest.param(path, interaction, id=label))
    return found


INTERACTIONS = _interactions()


def _body(response: dict[str, Any]) -> bytes:
    body = response["body"]["string"]
    return body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")


def _header(headers: dict[str, Any], name: str) -> str:
    for key, values in headers.items():
        if key.lower() == name.lower():
            return str(values[0] if isinstance(values, list) else values)
    return ""


@pytest.mark.parametrize(("path", "interaction"), INTERACTIONS)
def test_the_recorded_request_uses_only_the_endpoints_parameters(
        path: Path, interaction: dict[str, Any], contract: Callable[[str], Contract]) -> None:
    request = interaction["request"]
    url = urlsplit(request["uri"])
    headers = {k: str(v[0] if isinstance(v, list) else v)
               for k, v in request.get("headers", {}).items()}
    problems = contract(path.parent.name).request_problems(
        request["method"], url.path, parse_qsl(url.query, keep_blank_values=True), headers)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("path", "interaction"), INTERACTIONS)
def test_the_recorded_response_has_the_documented_shape(
        path: Path, interaction: dict[str, Any], contract: Callable[[str], Contract]) -> None:
    request, response = interaction["request"], interaction["response"]
    problems = contract(path.parent.name).response_problems(
        request["method"], urlsplit(request["uri"]).path, response["status"]["code"],
        _header(response["headers"], "Content-Type"), _body(response))
    assert not problems, "\n".join(problems)


def test_every_service_has_cassettes() -> None:
    assert {p.parent.name for p in CASSETTES.glob("*/*.yaml")} == {
        "jellyseerr", "radarr", "sonarr", "shoko", "jellyfin", "emby", "plex"}
