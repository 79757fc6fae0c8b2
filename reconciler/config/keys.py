"""Where each configured service's key comes from: its section (`api_key`, or `token` where the
service calls its key so), a file (`api_key_file`, `%d/` for systemd's credentials), or the
environment (`RECONCILER_<NAME>_API_KEY`, which wins). Keys are never printed: the messages
name the key's place, never its value."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.registry import KINDS, SERVICES, SEVERAL


def key_variable(name: str) -> str:
    """The environment variable that overrides a service's or server's API key:
    `RECONCILER_<NAME>_API_KEY`, the name upper-cased ("-" read as "_")."""
    return f"RECONCILER_{name.upper().replace('-', '_')}_API_KEY"


def key_word(kind: str) -> str:
    """What the service of `kind` calls its key in the configuration ("api_key", "token")."""
    known = KINDS.get(kind)
    return known.key_word if known is not None else "api_key"


def key_variables(name: str, kind: str) -> list[str]:
    """The variables that may hold the key of `name` (of `kind`), in the order they are
    read: `RECONCILER_<NAME>_API_KEY`, then `RECONCILER_<NAME>_<WORD>` for a service whose
    key has a word of its own (`RECONCILER_PLEX_TOKEN`)."""
    first = key_variable(name)
    word = key_word(kind)
    if word == "api_key":
        return [first]
    return [first, first.removesuffix("_API_KEY") + f"_{word.upper()}"]


def override_keys(raw: dict[str, Any], env: dict[str, str]) -> set[str]:
    """Read a single `[radarr]` / `[sonarr]` table as a list of one, and put each key set in
    the environment (`key_variables`) in place of its section's key (in `raw`).
    Returns the kinds given as a single table (the messages name them so)."""
    tables = {kind for kind in SEVERAL if isinstance(raw.get(kind), dict)}
    for kind in tables:
        raw[kind] = [raw[kind]]
    for service in SERVICES:
        entries = raw.get(service)
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            if not isinstance(entry, dict):
                continue
            named = entry.get("name", service) if service in SEVERAL else service
            override = next((value for variable in key_variables(str(named), service)
                             if (value := env.get(variable))), None)
            if override:
                word = key_word(service)
                entry = {k: v for k, v in entry.items()
                         if k not in ("api_key_file", word, f"{word}_file")}
                entry["api_key"] = override
                if isinstance(entries, list):
                    entries[i] = entry
                else:
                    raw[service] = entry
    return tables


def resolve_key(path: Path, name: str, kind: str, where: str, api_key: str | None,
                api_key_file: str | None, env: dict[str, str]) -> str:
    """The key of the service or server `name`, from its section's key or key file."""
    word = key_word(kind)
    if api_key:
        return api_key.strip()
    if api_key_file:
        return read_secret_file(path, f"{where} {word}_file", api_key_file, env)
    raise ConfigError(
        f"{path}: {where} {word}: missing (set {word}, {word}_file, or "
        f"{' or '.join(key_variables(name, kind))})"
    )


def read_secret_file(path: Path, key: str, raw: str, env: dict[str, str]) -> str:
    """The stripped content of a file named by `key` (relative to the config file's folder;
    `%d/` is systemd's credentials directory)."""
    if raw.startswith("%d/"):  # systemd's credentials directory, named after the unit
        creds = env.get("CREDENTIALS_DIRECTORY")
        if not creds:
            raise ConfigError(f"{path}: {key}: {raw} needs "
                              "$CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=)")
        raw = creds.rstrip("/") + raw[2:]
    secret_path = Path(raw).expanduser()
    if not secret_path.is_absolute():
        secret_path = path.parent / secret_path
    try:
        secret = secret_path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {key}: {secret_path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: {key}: cannot read {secret_path} ({reason})") from None
    if not secret:
        raise ConfigError(f"{path}: {key}: {secret_path} is empty")
    return secret


def readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))
