"""Every error reconciler raises on purpose, in one family:

    ReconcilerError
    ├── ConfigError              the configuration cannot be used            (exit 2)
    ├── StoreError               the database cannot be used                 (exit 1)
    ├── LockHeld                 another reconcile process holds the database (exit 75)
    └── UpstreamError            what a service answered, or failed to
        ├── NotFound             404 for one resource: an answer ("there is none"), not a failure
        └── ServiceError         the service could not be polled: *unknown* this cycle (exit 3)
            ├── ServiceUnavailable   refused, timed out, or 5xx/429 past the retries
            │   └── QueryRejected    400: this version of the service refuses the query
            ├── AuthFailed           401/403: the API key was refused (never retried)
            └── BadResponse          an answer, but not what the API promises

Messages are phrased for the operator and never carry a secret. Code that treats any upstream
trouble as a failed step catches `UpstreamError` (an unexpected 404 means a wrong URL as much as
a refused connection does); code that looks for one thing catches `NotFound` before it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AuthFailed", "BadResponse", "ConfigError", "LockHeld", "NotFound", "QueryRejected",
    "ReconcilerError", "ServiceError", "ServiceUnavailable", "StoreError", "UpstreamError",
]


class ReconcilerError(Exception):
    """The root of reconciler's own errors."""


class ConfigError(ReconcilerError):
    """A configuration problem, phrased for the operator (exit code 2)."""


class StoreError(ReconcilerError):
    """The database cannot be used; the message says why, for the operator (exit code 1)."""


class LockHeld(ReconcilerError):
    """Another reconcile process holds the database (exit code 75)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(f"another reconcile process ({holder}) holds {path}; exiting")
        self.pid = pid


class UpstreamError(ReconcilerError):
    """Something about one service's answer (or its absence); `service` names the service or
    server, `message` says what, without the service's name."""

    def __init__(self, service: str, message: str) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message


class NotFound(UpstreamError):
    """404 for a specific resource: a meaningful answer ("there is none"), not a failure."""


class ServiceError(UpstreamError):
    """A service could not be polled. Its observations this cycle are *unknown*."""


class ServiceUnavailable(ServiceError):
    """Connection refused, timed out, or a 5xx/429 that outlived the retries; `status`: the
    HTTP status it answered with (None: no answer), `reason`: the server's own message from
    the body, as the message quotes it (bounded and redacted; "" when none)."""

    def __init__(self, service: str, message: str, status: int | None = None,
                 reason: str = "") -> None:
        super().__init__(service, message)
        self.status = status
        self.reason = reason


class AuthFailed(ServiceError):
    """401/403: the API key is wrong. Never retried."""


class BadResponse(ServiceError):
    """The service answered, but not with what its API promises (HTML, bad JSON, wrong shape)."""


class QueryRejected(ServiceUnavailable):
    """400: the service refused the query itself (an older version that lacks a parameter, or
    a value outside its enum). Unknown like any failure; never retried."""
