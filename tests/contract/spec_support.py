"""The API contract the clients, the cassettes and the fake servers are held to.

Each service's published OpenAPI document (`../shared/api/specs/`; Shoko publishes none, so
`reconciler/schemas/shoko.json`, written from `../shared/api/README.md` and Shoko's v5 source) is
loaded once, adjusted where the document says less than the real server does (`LENIENCIES`) or
less than we rely on (`REQUIRED_BY_RECONCILER`, `SEERR_PROPERTIES`), and answers two questions:

- `response_problems`: does this response have the shape the spec gives the endpoint's status?
- `request_problems`: does this request name only the endpoint's parameters, with valid values,
  and carry an API-key header of the spec's security schemes? (The servers silently ignore an
  unknown query parameter, so a misspelt one only shows up here.)

Validation is done by maintained validators: openapi-schema-validator's OAS 3.0 validator (a
jsonschema validator with OpenAPI's `nullable`, formats and readOnly/writeOnly) over the spec
registered as a `referencing` resource, and jsonschema's Draft 2020-12 validator for Shoko.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30ReadValidator, OAS31Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

REPO = Path(__file__).resolve().parents[2]
SPECS_DIR = REPO.parent / "shared" / "api" / "specs"
SHOKO_SCHEMA = REPO / "reconciler" / "schemas" / "shoko.json"

SPEC_FILES = {
    "jellyseerr": "seerr-api.yml",
    "radarr": "radarr-v3-openapi.json",
    "sonarr": "sonarr-v3-openapi.json",
    "jellyfin": "jellyfin-10.11-openapi.json",
    # The other media servers (issue 26): Emby.SDK's description, and the community
    # description of Plex (OpenAPI 3.1).
    "emby": "emby-4.8-openapi.json",
    "plex": "plex-api-spec.yaml",
}
SERVICES = ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin")

# Where the spec's paths start on the server (Seerr's `servers[0].url` is `{server}/api/v1`,
# Emby's `http://emby.media/emby`).
PATH_PREFIX = {"jellyseerr": "/api/v1", "emby": "/emby"}

# Jellyfin binds query parameters case-insensitively and documents them in camelCase while every
# client (ours included) sends PascalCase; ASP.NET routes ignore case for Jellyfin and Shoko,
# and Emby's ServiceStack routes and binding ignore case too.
CASE_INSENSITIVE = frozenset({"jellyfin", "emby"})
CASE_INSENSITIVE_PATHS = frozenset({"jellyfin", "shoko", "emby"})

# Emby's API key scheme (`apikeyauth`) is the `api_key` query parameter; its description adds
# "alternatively ... an http header named X-Emby-Token", the form reconciler sends.
HEADER_FORM_OF_SCHEME = {"emby": {"apikeyauth": "X-Emby-Token"}}
# Plex's media queries (`mediaQuery`, form-exploded): a filter is a field name with an operator
# before the `=` (`updatedAt>>=1700000000`: "is after"); the description lists the operators in
# prose, not as parameters. Accepted on operations taking a `mediaQuery`, with a numeric value.
PLEX_FILTER = re.compile(r"^[a-zA-Z][\w.]*(>>|<<)$")

# Where a real server sends more than its published document admits. Each entry is applied in
# `_normalise` and is listed in cassettes/README.md ("Leniencies").
LENIENCIES = {
    "nullable-compositions": (
        "OpenAPI 3.0 `nullable: true` beside `allOf`/`$ref`/`enum` without `type` (how Jellyfin's "
        "and the *arrs' generators mark a nullable enum or object) is read as 'or null'; "
        "openapi-schema-validator honours `nullable` only next to `type`."),
    "nullable-enum": (
        "`nullable: true` on a typed enum also admits null (OpenAPI 3.0.3: nullable adds null to "
        "the allowed values), which a plain `enum` check would refuse."),
    "seerr-optional-null": (
        "Seerr's hand-written spec never marks a property nullable, yet the server sends null for "
        "every unset optional column (serverId, profileId, rootFolder, plexUsername, ...; see "
        "samples/jellyseerr/request.json). In the Seerr document only, a property that is not "
        "`required` may be null; required ones and all types/enums stay strict."),
    "seerr-watchproviders": (
        "Seerr's MovieDetails/TvDetails.watchProviders are declared as arrays of `WatchProviders`, "
        "which is itself an array; the server sends one flat array of provider objects."),
    "uuid-without-dashes": (
        "Jellyfin declares ids as `format: uuid` but serialises Guids without dashes "
        "(32 hex digits, .NET's \"N\" format); both spellings are accepted."),
    "emby-token-header": (
        "Emby's `apikeyauth` scheme is the `api_key` query parameter; its own description "
        "allows the `X-Emby-Token` header instead, which is what a request must carry here."),
    "plex-media-query": (
        "Plex's `mediaQuery` is a form-exploded object: its properties (`type`, `sort`, ...) "
        "are query parameters, and filters such as `updatedAt>>=1700000000` (field and "
        "operator before `=`, described in prose) are accepted with a numeric value."),
    "empty-body-without-schema": (
        "A documented media type without a schema (Plex's `200` is `text/html: {}`) is met "
        "by an empty body with no Content-Type, as a server answers a bare 200."),
}

# Fields reconciler reads and the real server always sends (non-nullable members of the .NET
# models, or columns Seerr always serialises), made `required` on top of the spec: the *arr specs
# declare no required fields at all, so without this a fake could drop `hasFile` unnoticed.
REQUIRED_BY_RECONCILER: dict[str, dict[str, list[str]]] = {
    "jellyseerr": {
        "MediaRequest": ["id", "status", "type", "is4k", "createdAt", "updatedAt", "media",
                         "requestedBy", "seasons"],
        # Not `jellyfinMediaId`: Overseerr (Plex only) has no such column; reconciler reads it
        # when present.
        "MediaInfo": ["id", "tmdbId", "tvdbId", "status", "mediaType", "externalServiceId",
                      "externalServiceId4k"],
        "PageInfo": ["page", "pages", "pageSize", "results"],
        "/paths/~1request/get/responses/200/content/application~1json/schema":
            ["pageInfo", "results"],
        "MovieDetails": ["id", "title"],
        "TvDetails": ["id", "name"],
    },
    "radarr": {
        "MovieResource": ["id", "title", "tmdbId", "hasFile", "monitored", "path", "tags",
                          "movieFileId", "rootFolderPath"],
        "MovieFileResource": ["id", "movieId", "relativePath", "path", "size"],
        "QueueResourcePagingResource": ["page", "pageSize", "totalRecords", "records"],
        "QueueResource": ["id", "size", "sizeleft", "status", "trackedDownloadStatus",
                          "trackedDownloadState", "statusMessages"],
        "HistoryResource": ["id", "movieId", "date", "eventType"],
        "TagResource": ["id", "label"],
    },
    "sonarr": {
        "SeriesResource": ["id", "title", "tvdbId", "seriesType", "seasons", "monitored", "path"],
        "SeasonResource": ["seasonNumber", "monitored"],
        "EpisodeResource": ["id", "seriesId", "seasonNumber", "episodeNumber", "hasFile",
                            "monitored", "episodeFileId"],
        "EpisodeFileResource": ["id", "path"],
        "QueueResourcePagingResource": ["page", "pageSize", "totalRecords", "records"],
        "QueueResource": ["id", "size", "sizeleft", "status", "trackedDownloadStatus",
                          "trackedDownloadState", "statusMessages"],
        "HistoryResource": ["id", "episodeId", "seriesId", "date", "eventType"],
        "TagResource": ["id", "label"],
    },
    "jellyfin": {
        "BaseItemDtoQueryResult": ["Items", "TotalRecordCount", "StartIndex"],
        "BaseItemDto": ["Name", "Id", "Type", "LocationType"],
        "VirtualFolderInfo": ["Name", "Locations", "ItemId"],
        "SystemInfo": ["Id", "Version", "ServerName"],
    },
    "emby": {
        "QueryResult_BaseItemDto": ["Items", "TotalRecordCount"],
        "BaseItemDto": ["Name", "Id", "Type"],
        "QueryResult_VirtualFolderInfo": ["Items", "TotalRecordCount"],
        "VirtualFolderInfo": ["Name", "Locations", "ItemId"],
        "TaskInfo": ["Name", "State", "Key"],
        "SystemInfo": ["Id", "Version", "ServerName"],
    },
    "plex": {
        "Metadata": ["ratingKey", "guid", "updatedAt"],
        "LibrarySection": ["key", "title", "agent", "Location"],
        "Part": ["file"],
    },
}

# Members the Seerr server sends (see samples/jellyseerr/request.json) and reconciler reads, which
# Seerr's hand-written spec leaves out or leaves untyped; the status codes are those of
# ../shared/api/README.md (Seerr's code, not the spec's prose). Merged into the named schemas.
SEERR_PROPERTIES: dict[str, dict[str, Any]] = {
    "MediaRequest": {
        "status": {"type": "number", "enum": [1, 2, 3, 4, 5]},
        "type": {"type": "string", "enum": ["movie", "tv"]},
        "seasons": {"type": "array", "items": {
            "type": "object", "required": ["seasonNumber", "status"],
            "properties": {"seasonNumber": {"type": "number"}, "status": {"type": "number"}}}},
    },
    "MediaInfo": {
        "status": {"type": "number", "enum": [1, 2, 3, 4, 5, 6, 7]},
        "mediaType": {"type": "string", "enum": ["movie", "tv"]},
        "externalServiceId": {"type": "number", "nullable": True},
        "externalServiceId4k": {"type": "number", "nullable": True},
        "jellyfinMediaId": {"type": "string", "nullable": True},
    },
    "PageInfo": {"pageSize": {"type": "number"}},
}

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checkers = dict(oas30_format_checker.checkers)

    @checker.checks("uuid", raises=ValueError)
    def _uuid(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if _HEX32.match(value):
            return True
        return bool(re.match(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$", value))

    return checker


FORMAT_CHECKER = _format_checker()


def specs_available() -> bool:
    return SPECS_DIR.is_dir()


# ------------------------------------------------------------------ normalising the documents


def _walk(node: Any) -> Iterable[dict[str, Any]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    inner = {k: v for k, v in schema.items() if k != "nullable"}
    return {"anyOf": [inner, {"enum": [None]}]}


def _nullable_compositions(doc: dict[str, Any]) -> None:
    for node in list(_walk(doc)):
        if node.get("nullable") is not True:
            continue
        if "type" in node:
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
            continue
        if any(k in node for k in ("$ref", "allOf", "anyOf", "oneOf", "enum")):
            replacement = _or_null(node)
            node.clear()
            node.update(replacement)


def _seerr_optional_null(doc: dict[str, Any]) -> None:
    for node in list(_walk(doc)):
        props = node.get("properties")
        if not isinstance(props, dict) or "in" in node:
            continue
        required = set(node.get("required") or ())
        for name, prop in list(props.items()):
            if name in required or not isinstance(prop, dict):
                continue
            if "type" in prop:
                prop["nullable"] = True
            else:
                props[name] = _or_null({**prop, "nullable": True})


def _pointer(doc: dict[str, Any], pointer: str) -> Any:
    node: Any = doc
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _normalise(service: str, document: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    # Required first, so that what we require stays non-null under the Seerr leniency below.
    for target, fields in REQUIRED_BY_RECONCILER.get(service, {}).items():
        schema = (_pointer(doc, target) if target.startswith("/")
                  else doc["components"]["schemas"][target])
        schema["required"] = sorted({*schema.get("required", ()), *fields})
    if service == "jellyseerr":
        for name, members in SEERR_PROPERTIES.items():
            doc["components"]["schemas"][name]["properties"].update(copy.deepcopy(members))
        for details in ("MovieDetails", "TvDetails"):
            props = doc["components"]["schemas"][details]["properties"]
            props["watchProviders"] = {"$ref": "#/components/schemas/WatchProviders"}
        _seerr_optional_null(doc)
    _nullable_compositions(doc)
    return doc


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _describe(error: ValidationError) -> str:
    if error.context:
        error = best_match(error.context)
    where = error.json_path
    return f"{where}: {error.message[:300]}"


def _errors(validator: Any, instance: Any) -> list[str]:
    found = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))
    return [_describe(e) for e in found]


# ------------------------------------------------------------------ request values


def _query_values(values: list[str], schema: dict[str, Any], resolve: Any) -> Any:
    """The typed value ASP.NET/Express would bind from the query strings `values`."""
    target = resolve(schema)
    kind = target.get("type")
    if kind == "array":
        items = values if len(values) > 1 else [p for p in values[0].split(",") if p != ""]
        return [_scalar(v, target.get("items", {}), resolve) for v in items]
    return _scalar(values[-1], schema, resolve)


def _scalar(value: str, schema: dict[str, Any], resolve: Any) -> Any:
    kind = resolve(schema).get("type")
    if kind == "integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value) if "." in value else int(value)
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


# ------------------------------------------------------------------ the two kinds of contract


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    path_params: list[str]
    # name as sent (lower-cased where the service ignores case) -> (spec name, schema pointer)
    query: dict[str, tuple[str, str]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    auth_headers: tuple[str, ...] = ()
    pointer: str = ""
    media_query: bool = False  # takes Plex's media query (`PLEX_FILTER`)


def _template_pattern(template: str, case_insensitive: bool) -> tuple[re.Pattern[str], list[str]]:
    names = re.findall(r"\{([^}]+)\}", template)
    regex = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "/?$"
    return re.compile(regex, re.IGNORECASE if case_insensitive else 0), names


class OpenApiContract:
    """One service's OpenAPI document, normalised, with lookups by concrete method and path."""

    def __init__(self, service: str, document: dict[str, Any]) -> None:
        self.service = service
        self.doc = _normalise(service, document)
        self.uri = f"urn:reconciler-contract:{service}"
        # OpenAPI 3.1 (Plex's description) is JSON Schema 2020-12; 3.0 a Draft 4 dialect.
        self.v31 = str(self.doc.get("openapi", "")).startswith("3.1")
        self.registry: Registry = Registry().with_resource(
            self.uri, Resource(contents=self.doc,
                               specification=DRAFT202012 if self.v31 else DRAFT4))
        self.prefix = PATH_PREFIX.get(service, "")
        self.ci = service in CASE_INSENSITIVE
        schemes = self.doc.get("components", {}).get("securitySchemes", {})
        self.header_schemes = {name: s["name"] for name, s in schemes.items()
                               if s.get("type") == "apiKey" and s.get("in") == "header"}
        self.header_schemes.update(HEADER_FORM_OF_SCHEME.get(service, {}))
        self.operations: list[Operation] = []
        for template, item in self.doc.get("paths", {}).items():
            for method, op in item.items():
                if method not in ("get", "post", "put", "delete", "patch", "head"):
                    continue
                self.operations.append(self._operation(template, method, item, op))
        # Literal paths win over templated ones (`/movie/lookup` before `/movie/{id}`).
        self.operations.sort(key=lambda o: (len(o.path_params), -len(o.template)))

    def _operation(self, template: str, method: str, item: dict[str, Any],
                   op: dict[str, Any]) -> Operation:
        pattern, names = _template_pattern(template, self.service in CASE_INSENSITIVE_PATHS)
        base = f"/paths/{_escape(template)}/{method}"
        result = Operation(method.upper(), template, pattern, names, pointer=base)
        params = [(f"{base}/parameters/{i}", p) for i, p in enumerate(op.get("parameters", []))]
        params += [(f"/paths/{_escape(template)}/parameters/{i}", p)
                   for i, p in enumerate(item.get("parameters", []))]
        for where, param in params:
            if "$ref" in param:
                where = param["$ref"].lstrip("#")
                param = _pointer(self.doc, where)
            if param.get("in") != "query":
                continue
            props = self._resolve(param.get("schema", {})).get("properties")
            if param.get("style") == "form" and param.get("explode") and props:
                result.media_query = True  # each property is a parameter of its own
                schema_at = self._resolve_pointer(f"{where}/schema")
                for prop in props:
                    result.query[prop] = (prop, f"{schema_at}/properties/{_escape(prop)}")
                continue
            key = param["name"].lower() if self.ci else param["name"]
            result.query[key] = (param["name"], f"{where}/schema")
            if param.get("required"):
                result.required.add(key)
        security = op.get("security", self.doc.get("security"))
        if security:
            names_ = [self.header_schemes[n] for req in security for n in req
                      if n in self.header_schemes]
            result.auth_headers = tuple(dict.fromkeys(names_))
        return result

    # -- lookups

    def operation(self, method: str, path: str) -> Operation | None:
        if self.prefix:
            if not path.startswith(self.prefix):
                return None
            path = path[len(self.prefix):]
        for op in self.operations:
            if op.method == method.upper() and op.pattern.match(path):
                return op
        return None

    def _validator(self, pointer: str) -> Any:
        kind = OAS31Validator if self.v31 else OAS30ReadValidator
        return kind({"$ref": f"{self.uri}#{pointer}"}, registry=self.registry,
                    format_checker=FORMAT_CHECKER)

    def _resolve_pointer(self, pointer: str) -> str:
        """Where the schema at `pointer` is defined, following `$ref`s."""
        for _ in range(20):
            ref = _pointer(self.doc, pointer).get("$ref")
            if not ref:
                break
            pointer = ref.lstrip("#")
        return pointer

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while seen < 20:
            seen += 1
            if "$ref" in schema:
                schema = _pointer(self.doc, schema["$ref"].lstrip("#"))
            elif schema.get("anyOf"):
                schema = schema["anyOf"][0]
            elif "allOf" in schema and len(schema["allOf"]) == 1 and "type" not in schema:
                schema = schema["allOf"][0]
            else:
                break
        return schema

    # -- the two questions

    def response_problems(self, method: str, path: str, status: int, content_type: str,
                          body: bytes) -> list[str]:
        op = self.operation(method, path)
        where = f"{self.service} {method} {path} -> {status}"
        if op is None:
            return [f"{where}: no {method} operation for this path in the spec"]
        responses = self.doc["paths"][op.template][op.method.lower()].get("responses", {})
        key = next((k for k in (str(status), f"{status // 100}XX", "default")
                    if k in responses), None)
        if key is None:
            if status < 400:
                return [f"{where}: status {status} is not documented for {op.method} "
                        f"{op.template} (documented: {sorted(responses)})"]
            return []  # error bodies the spec does not describe: only the status matters
        content = responses[key].get("content") or {}
        if not body.strip() and not any(m.get("schema") for m in content.values()):
            return []  # LENIENCIES["empty-body-without-schema"]
        if not content:
            if status < 300 and body.strip():
                return [f"{where}: the spec documents no body for {status}, got "
                        f"{len(body)} bytes"]
            return []
        base = content_type.split(";")[0].strip().lower()
        declared = {k.split(";")[0].strip().lower(): k for k in content}
        media = declared.get(base)
        if media is None:
            if status >= 400:
                return []
            return [f"{where}: Content-Type {content_type!r} is not one of the documented "
                    f"{sorted(declared)}"]
        if "json" not in base:
            return []
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{where}: body is not JSON"]
        schema_ptr = (f"{op.pointer}/responses/{_escape(key)}/content/{_escape(media)}/schema")
        return [f"{where}: {e}" for e in _errors(self._validator(schema_ptr), data)]

    def request_problems(self, method: str, path: str, query: Iterable[tuple[str, str]],
                         headers: Mapping[str, str] | None = None) -> list[str]:
        op = self.operation(method, path)
        where = f"{self.service} {method} {path}"
        if op is None:
            return [f"{where}: no {method} operation for this path in the spec"]
        problems: list[str] = []
        grouped: dict[str, list[str]] = {}
        for name, value in query:
            grouped.setdefault(name.lower() if self.ci else name, []).append(value)
        for key, values in grouped.items():
            if op.media_query and PLEX_FILTER.match(key) and key not in op.query:
                if not all(re.fullmatch(r"-?\d+", v) for v in values):
                    problems.append(f"{where}: filter {key}={values!r} is not numeric")
                continue
            if key not in op.query:
                problems.append(
                    f"{where}: query parameter {key!r} does not exist for {op.method} "
                    f"{op.template} (the server would silently ignore it); known: "
                    f"{sorted(n for n, _ in op.query.values())}")
                continue
            _, pointer = op.query[key]
            schema = _pointer(self.doc, pointer)
            value = _query_values(values, schema, self._resolve)
            problems += [f"{where}: parameter {key}={values!r}: {e}"
                         for e in _errors(self._validator(pointer), value)]
        problems += [f"{where}: required query parameter {r!r} is missing"
                     for r in sorted(op.required - set(grouped))]
        m = op.pattern.match(path[len(self.prefix):])
        assert m is not None
        for i, name in enumerate(op.path_params):
            params = self.doc["paths"][op.template][op.method.lower()].get("parameters", [])
            idx = next((j for j, p in enumerate(params)
                        if p.get("in") == "path" and p.get("name") == name), None)
            if idx is None:
                continue
            pointer = f"{op.pointer}/parameters/{idx}/schema"
            # `style: simple` (the default for path parameters): an array is comma-separated.
            value = _query_values([m.group(i + 1)], _pointer(self.doc, pointer), self._resolve)
            problems += [f"{where}: path parameter {name}={m.group(i + 1)!r}: {e}"
                         for e in _errors(self._validator(pointer), value)]
        if headers is not None and op.auth_headers:
            sent = {h.lower() for h in headers}
            if not any(h.lower() in sent for h in op.auth_headers):
                problems.append(f"{where}: no API key header; the spec accepts "
                                f"{list(op.auth_headers)}")
        return problems


class JsonSchemaContract:
    """Shoko: our JSON Schema document, whose `x-endpoints` maps `METHOD /path` to the schemas
    of its query string and of its responses by status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.service = "shoko"
        self.doc = document
        self.uri = document["$id"]
        self.registry: Registry = Registry().with_resource(
            self.uri, DRAFT202012.create_resource(document))
        self.endpoints: list[tuple[str, str, re.Pattern[str], dict[str, Any]]] = []
        for key, spec in document["x-endpoints"].items():
            method, _, template = key.partition(" ")
            pattern, _ = _template_pattern(template, True)
            self.endpoints.append((method, template, pattern, spec))
        self.endpoints.sort(key=lambda e: (e[1].count("{"), -len(e[1])))

    def _find(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for m, template, pattern, spec in self.endpoints:
            if m == method.upper() and pattern.match(path):
                return template, spec
        return None

    def operation(self, method: str, path: str) -> str | None:
        found = self._find(method, path)
        return found[0] if found else None

    def _validator(self, ref: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{self.uri}{ref}"}, registry=self.registry,
                                    format_checker=FORMAT_CHECKER)

    def response_problems(self, method: str, path: str, status: int, content_type: str,
                          body: bytes) -> list[str]:
        where = f"shoko {method} {path} -> {status}"
        found = self._find(method, path)
        if found is None:
            return [f"{where}: endpoint not described in {SHOKO_SCHEMA.name}"]
        template, spec = found
        ref = spec["responses"].get(str(status))
        if ref is None:
            if status < 400:
                return [f"{where}: status {status} is not described for {template}"]
            return []
        if "json" not in content_type.lower():
            return [f"{where}: expected JSON, got Content-Type {content_type!r}"]
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{where}: body is not JSON"]
        return [f"{where}: {e}" for e in _errors(self._validator(ref), data)]

    def request_problems(self, method: str, path: str, query: Iterable[tuple[str, str]],
                         headers: Mapping[str, str] | None = None) -> list[str]:
        where = f"shoko {method} {path}"
        found = self._find(method, path)
        if found is None:
            return [f"{where}: endpoint not described in {SHOKO_SCHEMA.name}"]
        _, spec = found
        values: dict[str, Any] = {}
        for name, value in query:
            values[name] = [*values[name], value] if name in values else value
        problems = [f"{where}: query {e}" for e in _errors(self._validator(spec["query"]), values)]
        auth = spec.get("auth_header")
        if headers is not None and auth and auth.lower() not in {h.lower() for h in headers}:
            problems.append(f"{where}: no {auth!r} header")
        return problems


Contract = OpenApiContract | JsonSchemaContract


@cache
def load_contract(service: str) -> Contract | None:
    """The service's contract, or None when its published spec is not on this machine."""
    if service == "shoko":
        return JsonSchemaContract(json.loads(SHOKO_SCHEMA.read_text(encoding="utf-8")))
    path = SPECS_DIR / SPEC_FILES[service]
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    document = (yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                if path.suffix in (".yml", ".yaml") else json.loads(text))
    return OpenApiContract(service, document)
