"""Configuration: every error names the file, the key and the problem; keys resolve from the
file, a key file, systemd's credentials directory or the environment."""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import ConfigModel, load_config
from reconciler.errors import ConfigError

BASE = '''
[jellyseerr]
url = "http://127.0.0.1:5055"
api_key = "seerr-key"

[radarr]
url = "http://127.0.0.1:7878"
{radarr_key}

[jellyfin]
url = "http://127.0.0.1:8096"
api_key = "jf-key"
'''


def write(tmp_path: Path, radarr_key: str = 'api_key = "radarr-key"', extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE.format(radarr_key=radarr_key) + extra)
    path.chmod(0o600)
    return path


def test_relative_database_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, extra='[reconciler]\ndatabase = "state/r.db"\n'))
    assert config.database == (tmp_path / "state" / "r.db").resolve()


def test_an_unknown_key_is_named_with_its_section_and_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, radarr_key='api_key = "k"\npoll_intervall = 30'))
    assert str(tmp_path / "config.toml") in str(err.value)
    assert "[radarr] poll_intervall: unknown key" in str(err.value)


def test_a_bad_url_is_rejected_with_the_key_named(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.write_text(path.read_text().replace("http://127.0.0.1:7878", "radarr:7878"))
    with pytest.raises(ConfigError, match=r"\[radarr\] url: must be an http"):
        load_config(path)


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, radarr_key='api_key_file = "keys/radarr"')
    with pytest.raises(ConfigError, match=r"\[radarr\] api_key_file: .*keys/radarr not found"):
        load_config(path)


def test_a_key_file_is_read_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "radarr.key").write_text("  from-file\n")
    config = load_config(write(tmp_path, radarr_key='api_key_file = "radarr.key"'))
    assert config.services["radarr"].api_key == "from-file"


def test_percent_d_key_files_come_from_systemds_credentials_directory(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "radarr").write_text("from-systemd\n")
    path = write(tmp_path, radarr_key='api_key_file = "%d/radarr"')
    config = load_config(path, environ={"CREDENTIALS_DIRECTORY": str(creds)})
    assert config.services["radarr"].api_key == "from-systemd"
    with pytest.raises(ConfigError, match="CREDENTIALS_DIRECTORY"):
        load_config(path, environ={})


def test_status_and_show_can_load_a_config_whose_keys_are_out_of_reach(tmp_path: Path) -> None:
    path = write(tmp_path, radarr_key='api_key_file = "%d/radarr"')
    config = load_config(path, environ={}, require_keys=False)
    assert config.services["radarr"].api_key == ""


def test_environment_variables_override_keys(tmp_path: Path) -> None:
    config = load_config(write(tmp_path), environ={"RECONCILER_RADARR_API_KEY": "from-env"})
    assert config.services["radarr"].api_key == "from-env"


def test_durations_accept_units(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, extra='[stuck]\napproved = "90m"\n'))
    assert config.model.stuck.approved == 5400.0


def test_keys_never_appear_in_the_configs_repr(tmp_path: Path) -> None:
    config = load_config(write(tmp_path))
    assert "radarr-key" not in repr(config.services)


def test_a_misspelt_section_is_called_an_unknown_section_and_the_known_ones_listed(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, extra='[radar]\nurl = "http://127.0.0.1:7878"\n'))
    assert "[radar]: unknown section (known: reconciler, jellyseerr, radarr," in str(err.value)


def test_a_section_given_as_a_plain_value_says_it_must_be_a_section(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("sonarr = 5\n" + BASE.format(radarr_key='api_key = "k"'))
    with pytest.raises(ConfigError, match=r"\[sonarr\]: must be a section"):
        load_config(path)


def test_jellyseerr_is_polled_every_60_s_by_default_the_others_every_30_s(
        tmp_path: Path) -> None:
    config = load_config(write(tmp_path))
    assert config.services["jellyseerr"].poll_interval == 60.0
    assert config.services["radarr"].poll_interval == 30.0


def _example_with_comments_enabled() -> dict[str, Any]:
    """config.example.toml with its commented-out settings (`# key = ...`, `# [section]`)
    switched on."""
    text = (Path(__file__).parents[2] / "config.example.toml").read_text()
    lines = [re.sub(r"^#\s?(?=\[[\w.]+\]|\w+\s*=|\"[^\"]+\"\s*=)", "", line)
             for line in text.splitlines()]
    return tomllib.loads("\n".join(lines))


def test_every_setting_in_config_example_exists_with_the_default_it_shows() -> None:
    example = _example_with_comments_enabled()
    validated = ConfigModel.model_validate(example)  # an unknown key would fail here
    # The same file with only what has no default (or is an example, not a default) kept.
    minimal: dict[str, Any] = {}
    for name, section in example.items():
        kept = {k: v for k, v in section.items() if k in ("url", "api_key", "token", "urls",
                                                          "username", "password_file", "users",
                                                          "public_url", "timezone")}
        minimal[name] = kept
    defaults = ConfigModel.model_validate(minimal)
    assert validated.model_dump() == defaults.model_dump()


def test_every_setting_of_the_model_is_documented_in_config_example() -> None:
    text = (Path(__file__).parents[2] / "config.example.toml").read_text()
    example = _example_with_comments_enabled()
    for name, field in ConfigModel.model_fields.items():
        assert name in example, f"[{name}] is not in config.example.toml"
        section = typing.get_args(field.annotation) or (field.annotation,)
        model = next(t for t in section if t is not type(None))
        for key in model.model_fields:
            assert re.search(rf"\b{key}\s*=|^# \[{name}\.{key}\]$", text, re.MULTILINE), \
                f"[{name}] {key} is not documented"
