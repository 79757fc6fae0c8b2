"""reconciler: one truthful answer per media request — where is it, and is it really watchable?

The package's public face is the names in `__all__`; everything else is internal and may change.
They are imported on first use (PEP 562), so `import reconciler.models` stays cheap and the
command line starts without loading the HTTP stack it does not need.

    from reconciler import Reconciler, Store, load_config

    config = load_config(Path("/etc/reconciler/config.toml"))
    store = Store.open(config.database)
    result = await Reconciler(config, store).cycle()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from reconciler.config import Config, load_config
    from reconciler.cycle import Reconciler
    from reconciler.errors import (
        AuthFailed,
        BadResponse,
        ConfigError,
        LockHeld,
        NotFound,
        QueryRejected,
        ReconcilerError,
        ServiceError,
        ServiceUnavailable,
        StoreError,
        UpstreamError,
    )
    from reconciler.results import CycleResult, PollOutcome, Transition
    from reconciler.states import RequestState
    from reconciler.store import RequestRow, Store

_HOMES = {
    "Config": "reconciler.config",
    "load_config": "reconciler.config",
    "Reconciler": "reconciler.cycle",
    "CycleResult": "reconciler.results",
    "PollOutcome": "reconciler.results",
    "Transition": "reconciler.results",
    "RequestState": "reconciler.states",
    "RequestRow": "reconciler.store",
    "Store": "reconciler.store",
    **{name: "reconciler.errors" for name in (
        "AuthFailed", "BadResponse", "ConfigError", "LockHeld", "NotFound", "QueryRejected",
        "ReconcilerError", "ServiceError", "ServiceUnavailable", "StoreError", "UpstreamError")},
}

__all__ = [
    "AuthFailed", "BadResponse", "Config", "ConfigError", "CycleResult", "LockHeld", "NotFound",
    "PollOutcome", "QueryRejected", "Reconciler", "ReconcilerError", "RequestRow", "RequestState",
    "ServiceError", "ServiceUnavailable", "Store", "StoreError", "Transition", "UpstreamError",
    "__version__", "load_config",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
