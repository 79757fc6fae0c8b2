"""Configuration: one TOML file, validated at start; every error names the file, key and problem.

- `sections`: the pydantic models of the sections (every key, its type, default and check).
- `loading`: finding the file, reading and validating it, resolving paths and keys (`Config`).
- `keys`: where each service's key comes from (the section, a file, the environment).
"""

from reconciler.config.loading import (
    DEFAULT_PATHS,
    Config,
    ServiceConfig,
    find_config_path,
    load_config,
)
from reconciler.config.sections import (
    ConfigModel,
    MediaServerSection,
    NotifySection,
    StuckSection,
    parse_duration,
)

__all__ = [
    "DEFAULT_PATHS", "Config", "ConfigModel", "MediaServerSection", "NotifySection",
    "ServiceConfig", "StuckSection", "find_config_path", "load_config", "parse_duration",
]
