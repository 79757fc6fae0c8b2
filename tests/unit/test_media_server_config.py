"""The media server in the configuration: exactly one of [jellyfin], [emby] and [plex], each
with the same keys; Plex's key may be called its token; Shoko is not used beside Emby or
Plex."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.errors import ConfigError

HEAD = '''
[jellyseerr]
url = "http://127.0.0.1:5055"
api_key = "seerr-key"

[radarr]
url = "http://127.0.0.1:7878"
api_key = "radarr-key"
'''
SECTIONS = {
    "jellyfin": '[jellyfin]\nurl = "http://127.0.0.1:8096"\napi_key = "jf-key"\n',
    "emby": '[emby]\nurl = "http://127.0.0.1:8097"\napi_key = "emby-key"\n',
    "plex": '[plex]\nurl = "http://127.0.0.1:32400"\ntoken = "plex-token"\n',
}


def write(tmp_path: Path, *sections: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(HEAD + "\n".join(sections) + extra)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("kind", ["jellyfin", "emby", "plex"])
def test_any_one_media_server_is_a_configuration(tmp_path: Path, kind: str) -> None:
    config = load_config(write(tmp_path, SECTIONS[kind] + "refresh_grace = \"2m\"\n"
                                                          "page_size = 500\n"))
    assert config.media_server_kind == kind
    assert list(config.services) == ["jellyseerr", "radarr", kind]
    assert (config.media_server.refresh_grace, config.media_server.page_size) == (120.0, 500)
    assert config.jellyfin is config.media_server  # the old name reads whichever it is
    assert config.services[kind].poll_interval == 30.0


def test_two_media_servers_are_an_error_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, SECTIONS["jellyfin"], SECTIONS["plex"]))
    assert "[jellyfin] and [plex] are both configured: reconciler confirms availability " \
           "through one media server" in str(err.value)
    with pytest.raises(ConfigError, match=r"\[jellyfin\] and \[emby\] and \[plex\] are all "):
        load_config(write(tmp_path, *SECTIONS.values()))


def test_no_media_server_is_the_error_it_always_was(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'config.toml'}: [jellyfin]: required section is "
                              "missing")
    assert "[jellyfin], [emby] or [plex]" in message


def test_the_plex_token_is_its_key_under_either_name_and_from_a_file(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, SECTIONS["plex"])).services["plex"].api_key == \
        "plex-token"
    (tmp_path / "plex-token").write_text("from-a-file\n")
    path = write(tmp_path, '[plex]\nurl = "http://127.0.0.1:32400"\ntoken_file = "plex-token"\n')
    assert load_config(path).services["plex"].api_key == "from-a-file"
    path = write(tmp_path, '[plex]\nurl = "http://127.0.0.1:32400"\napi_key = "as-api-key"\n')
    assert load_config(path).services["plex"].api_key == "as-api-key"


def test_a_plex_token_given_twice_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, SECTIONS["plex"] + 'api_key = "another"\n')
    with pytest.raises(ConfigError, match=r"\[plex\]: set token or api_key, not both"):
        load_config(path)


def test_a_missing_plex_token_names_its_keys_and_variables(tmp_path: Path) -> None:
    path = write(tmp_path, '[plex]\nurl = "http://127.0.0.1:32400"\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert "[plex] token: missing (set token, token_file, or RECONCILER_PLEX_API_KEY or " \
           "RECONCILER_PLEX_TOKEN)" in str(err.value)


@pytest.mark.parametrize("variable", ["RECONCILER_PLEX_TOKEN", "RECONCILER_PLEX_API_KEY"])
def test_the_environment_overrides_the_plex_token(tmp_path: Path, variable: str) -> None:
    config = load_config(write(tmp_path, SECTIONS["plex"]), environ={variable: "from-env"})
    assert config.services["plex"].api_key == "from-env"
    assert "from-env" in config.secrets()
    emby = load_config(write(tmp_path, SECTIONS["emby"]),
                       environ={"RECONCILER_EMBY_API_KEY": "emby-env"})
    assert emby.services["emby"].api_key == "emby-env"


@pytest.mark.parametrize("kind", ["emby", "plex"])
def test_shoko_beside_emby_or_plex_is_not_polled_and_a_warning_says_why(
        tmp_path: Path, kind: str) -> None:
    shoko = '[shoko]\nurl = "http://127.0.0.1:8111"\napi_key = "shoko-key"\n'
    config = load_config(write(tmp_path, shoko, SECTIONS[kind]))
    assert "shoko" not in config.services
    name = {"emby": "Emby", "plex": "Plex"}[kind]
    assert (f"[shoko] is configured but the media server is {name}: Shoko is not polled "
            "(anime through Shoko is a Jellyfin/Shokofin feature); anime requests are matched "
            "by their TMDB/TVDB ids like any other") in config.warnings
    beside_jellyfin = load_config(write(tmp_path, shoko, SECTIONS["jellyfin"]))
    assert "shoko" in beside_jellyfin.services and not beside_jellyfin.warnings
