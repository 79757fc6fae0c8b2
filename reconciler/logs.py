"""Logging: structlog, JSON lines off a terminal (journald), readable on one. Secrets are
scrubbed from every event as a last line of defence (they should never be logged at all)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping, Sequence
from typing import Any, TextIO

import structlog

_SECRETS: list[str] = []


def register_secrets(secrets: Sequence[str]) -> None:
    """Values that must never appear in a log line."""
    _SECRETS.clear()
    _SECRETS.extend(s for s in secrets if s and len(s) >= 4)


def scrub(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _scrub_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if not _SECRETS:
        return event
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = scrub(value)
    return event


def _keyword_keys(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """`from_=...` (a Python keyword cannot be an argument name) is rendered as `from`."""
    if "from_" not in event or "from" in event:
        return event
    return {("from" if key == "from_" else key): value for key, value in event.items()}


# Where the daemon's and `--once`'s log lines go: "stderr" (the default) or "stdout". The
# container image sets stdout, so that its JSON lines are the container's output; commands
# that print results (`status --json`, `show`, `doctor`) always log to stderr, apart from them.
STREAM_VARIABLE = "RECONCILER_LOG_STREAM"


def service_stream(environ: dict[str, str] | None = None) -> TextIO:
    """The stream a running reconciler (daemon or `--once`) logs to (`STREAM_VARIABLE`)."""
    wanted = (os.environ if environ is None else environ).get(STREAM_VARIABLE, "stderr")
    return sys.stdout if wanted.strip().lower() == "stdout" else sys.stderr


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _scrub_event,
            _keyword_keys,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str = "reconciler") -> Any:
    return structlog.get_logger(name)
