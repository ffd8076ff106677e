"""The one structlog configuration of Conductor: JSON lines, correlation ids from contextvars."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

_configured = False


def configure_logging(*, level: str | None = None, renderer: str | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process.

    Args:
        level: Log level name; default from `CONDUCTOR_LOG_LEVEL`, else INFO.
        renderer: "json" or "console"; default from `CONDUCTOR_LOG_FORMAT`, else console
            when stderr is a TTY and JSON otherwise.
    """
    global _configured
    if _configured:
        return
    level_name = (level or os.environ.get("CONDUCTOR_LOG_LEVEL", "INFO")).upper()
    fmt = renderer or os.environ.get("CONDUCTOR_LOG_FORMAT") or (
        "console" if sys.stderr.isatty() else "json"
    )
    final: Any = (
        structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            final,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _configured = True


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """Return a structlog logger bound to `logger=name` and any initial values."""
    configure_logging()
    return structlog.get_logger(name, **initial) if name else structlog.get_logger(**initial)
