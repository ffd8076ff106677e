"""The one structlog configuration of Conductor: JSON lines, correlation ids, secrets redacted."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
"""What a secret value or a sensitive field's value is replaced with."""

SENSITIVE_KEYS = frozenset(
    {
        "api_key",
        "apikey",
        "authorization",
        "proxy_authorization",
        "password",
        "passwd",
        "secret",
        "token",
        "cookie",
        "set_cookie",
        "credentials",
        "private_key",
    }
)
"""Field names whose values never reach a log line (compared lower-case, `-` read as `_`)."""

SENSITIVE_SUFFIXES = ("_api_key", "_apikey", "_password", "_secret", "_token", "_private_key")
"""A field named like `openai_api_key` or `access_token` is sensitive too (`token_usage` is not)."""

MIN_SECRET_LENGTH = 6
"""Shorter registered values are ignored: redacting them would shred ordinary text."""

SECRET_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),
)
"""Secret shapes redacted wherever they occur, registered or not."""

RUN_FIELDS = ("workflow_id", "node", "agent", "attempt")
"""The correlation fields every line written inside a run carries."""

MODEL_CALL_FIELDS = (
    "endpoint",
    "model",
    "tier",
    "duration_ms",
    "token_usage",
    "cost_usd",
    "result_status",
)
"""The fields of the one line the gateway writes per model call."""

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "log": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "err": logging.ERROR,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


class SecretRegistry:
    """Secret values and sensitive field names known to the redaction processor.

    The gateway's secret provider registers each credential it hands out, so a key that
    slips into an error message or a header dump is still removed from the line.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._keys: set[str] = set(SENSITIVE_KEYS)
        self._pattern: re.Pattern[str] | None = None

    def add_value(self, value: Any) -> bool:
        """Register a secret value; return whether it was long enough to be registered."""
        text = _secret_text(value)
        if text is None or len(text) < MIN_SECRET_LENGTH:
            return False
        with self._lock:
            if text not in self._values:
                self._values.add(text)
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return True

    def add_key(self, name: str) -> None:
        """Treat a field name as sensitive from now on."""
        with self._lock:
            self._keys.add(_normalize_key(name))

    def is_sensitive_key(self, name: str) -> bool:
        """Whether a field of this name has its value redacted."""
        key = _normalize_key(name)
        return key in self._keys or key.endswith(SENSITIVE_SUFFIXES)

    def scrub(self, text: str) -> str:
        """Replace every registered secret and every known secret shape in `text`."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        for shape in SECRET_PATTERNS:
            text = shape.sub(REDACTED, text)
        return text

    def clear_values(self) -> None:
        """Forget every registered value (tests use it; configured field names stay)."""
        with self._lock:
            self._values.clear()
            self._pattern = None


SECRETS = SecretRegistry()
"""The process's secret registry, shared by logs and trace payload checks."""


def register_secret(value: Any) -> None:
    """Redact `value` wherever it appears in a log line from now on.

    Args:
        value: The secret: a string, bytes, or anything with `get_secret_value()` (pydantic
            `SecretStr`). Values shorter than `MIN_SECRET_LENGTH` characters are ignored.
    """
    SECRETS.add_value(value)


def register_sensitive_field(name: str) -> None:
    """Redact the value of every field called `name` (at any depth) from now on."""
    SECRETS.add_key(name)


def redact(value: Any, *, registry: SecretRegistry | None = None, stringify: bool = False) -> Any:
    """Return `value` with secrets removed: sensitive keys blanked, secret strings replaced.

    Args:
        value: A string, or dicts, lists and tuples of them, nested to any depth.
        registry: The registry to use; the process's `SECRETS` by default.
        stringify: Turn objects other than strings, numbers, booleans and containers into
            their redacted `str()` (what a renderer would print anyway); otherwise they are
            returned as they are.

    Returns:
        A copy of the containers with redacted values.
    """
    reg = registry or SECRETS
    if isinstance(value, str):
        return reg.scrub(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if isinstance(key, str) and reg.is_sensitive_key(key) and item is not None
            else redact(item, registry=reg, stringify=stringify)
            for key, item in value.items()
        }
    if isinstance(value, tuple):
        return tuple(redact(item, registry=reg, stringify=stringify) for item in value)
    if isinstance(value, list | set | frozenset):
        return [redact(item, registry=reg, stringify=stringify) for item in value]
    return reg.scrub(str(value)) if stringify else value


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: remove secret values and sensitive fields from the event."""
    for key, item in list(event_dict.items()):
        if SECRETS.is_sensitive_key(key) and item is not None:
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact(item, stringify=True)
    return event_dict


def add_run_fields(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: give every line written inside a run all of `RUN_FIELDS`.

    Inside a run (a `workflow_id` is bound), `agent` is null on nodes that are not agents
    and `attempt` falls back to LangGraph's node attempt where no subtask attempt is bound.
    """
    if "workflow_id" not in event_dict:
        return event_dict
    event_dict.setdefault("node", None)
    event_dict.setdefault("agent", None)
    if "attempt" not in event_dict:
        event_dict["attempt"] = event_dict.get("node_attempt", 1)
    return event_dict


@dataclass
class _Settings:
    level: int = logging.INFO
    renderer: str = "json"
    stream: TextIO | None = None
    configured: bool = False
    owns_structlog: bool = False
    stdlib_handler: logging.Handler | None = None
    processors: list[Processor] = field(default_factory=list)


_settings = _Settings()
_write_lock = threading.Lock()


def filter_by_level(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: drop events below the configured level."""
    if _LEVELS.get(method_name, logging.INFO) < _settings.level:
        raise structlog.DropEvent
    return event_dict


class LineWriter:
    """The wrapped logger: writes each rendered line to the configured stream, whole."""

    def msg(self, message: str) -> None:
        """Write one line (stderr unless `configure_logging(stream=...)` chose another)."""
        stream = _settings.stream or sys.stderr
        with _write_lock:
            stream.write(message + "\n")
            stream.flush()

    log = debug = info = warn = warning = err = error = exception = critical = fatal = msg


_WRITER = LineWriter()
_WRAPPER = structlog.make_filtering_bound_logger(logging.NOTSET)


def build_processors(renderer: str = "json") -> list[Processor]:
    """The processor chain every Conductor log line goes through, renderer last."""
    final: Processor = (
        structlog.dev.ConsoleRenderer(colors=_settings.stream is None and sys.stderr.isatty())
        if renderer == "console"
        else structlog.processors.JSONRenderer(default=str)
    )
    return [
        filter_by_level,
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        add_run_fields,
        redact_secrets,
        final,
    ]


def configure_logging(
    *,
    level: str | None = None,
    renderer: str | None = None,
    stream: TextIO | None = None,
    sensitive_fields: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Configure Conductor's logging; the first call sets it up, later calls change it.

    A later call with only `sensitive_fields` (or `environ`) just adds redacted field names.

    Conductor's loggers (`get_logger`) always use this configuration. The global structlog
    configuration and the stdlib root logger are taken over only when nobody configured
    them before (the CLI, tests); inside `langgraph dev` the server keeps its own.

    Args:
        level: Log level name; default from `CONDUCTOR_LOG_LEVEL`, else INFO.
        renderer: "json" or "console"; default from `CONDUCTOR_LOG_FORMAT`, else console
            when stderr is a TTY and JSON otherwise.
        stream: Where lines go; stderr (looked up at each write) by default.
        sensitive_fields: Extra field names to redact; `CONDUCTOR_LOG_REDACT_FIELDS`
            (comma-separated) adds more.
        environ: The environment to read (os.environ by default).
    """
    env = os.environ if environ is None else environ
    for name in [*(sensitive_fields or ()), *env.get("CONDUCTOR_LOG_REDACT_FIELDS", "").split(",")]:
        if name.strip():
            register_sensitive_field(name.strip())
    if _settings.configured and level is None and renderer is None and stream is None:
        return
    level_name = (level or env.get("CONDUCTOR_LOG_LEVEL") or "INFO").upper()
    resolved = logging.getLevelName(level_name)
    if not isinstance(resolved, int):
        raise ValueError(f"unknown log level {level_name!r}")
    fmt = (
        renderer
        or env.get("CONDUCTOR_LOG_FORMAT")
        or ("console" if sys.stderr.isatty() else "json")
    )
    if fmt not in ("json", "console"):
        raise ValueError(f"unknown log format {fmt!r}; expected 'json' or 'console'")
    _settings.level = resolved
    _settings.renderer = fmt
    if stream is not None:
        _settings.stream = stream
    # Mutate in place: loggers created earlier hold a reference to this very list.
    _settings.processors[:] = build_processors(fmt)
    if not _settings.owns_structlog and not structlog.is_configured():
        structlog.configure(
            processors=_settings.processors,
            wrapper_class=_WRAPPER,
            logger_factory=lambda *args: _WRITER,
            cache_logger_on_first_use=True,
        )
        _settings.owns_structlog = True
        _route_stdlib_logging()
    elif _settings.stdlib_handler is not None:
        _settings.stdlib_handler.setFormatter(_stdlib_formatter())
        _settings.stdlib_handler.setLevel(resolved)
    _settings.configured = True


def _stdlib_formatter() -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            _settings.processors[-1],
        ],
    )


def _route_stdlib_logging() -> None:
    """Send stdlib records (httpx, langsmith, ...) through the same redaction and renderer."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(_StreamProxy())
    handler.setFormatter(_stdlib_formatter())
    root.addHandler(handler)
    # The root keeps its level (WARNING unless someone lowered it: httpx's per-request INFO
    # lines stay out); the handler also filters at Conductor's level itself.
    handler.setLevel(_settings.level)
    _settings.stdlib_handler = handler


class _StreamProxy:
    """A file-like object writing wherever Conductor's lines go at the time of the write."""

    def write(self, text: str) -> int:
        stream = _settings.stream or sys.stderr
        with _write_lock:
            return stream.write(text)

    def flush(self) -> None:
        (_settings.stream or sys.stderr).flush()


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """Return a Conductor logger bound to `logger=name` and any initial values.

    Every line goes through Conductor's processors (run fields, redaction, renderer), even
    inside a host such as `langgraph dev` that configured structlog for itself.
    """
    configure_logging()
    if name:
        initial = {"logger": name, **initial}
    proxy = structlog.wrap_logger(
        _WRITER,
        processors=_settings.processors,
        wrapper_class=_WRAPPER,
        context_class=dict,
        cache_logger_on_first_use=True,
    )
    return proxy.bind(**initial) if initial else proxy


def bound_run_fields() -> MutableMapping[str, Any]:
    """The correlation fields bound in the current context (for tests and diagnostics)."""
    return structlog.contextvars.get_contextvars()


class CapturedLines:
    """The JSON lines written while a `capture_log_lines()` block runs."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every line written so far, parsed."""
        return [json.loads(line) for line in self.buffer.getvalue().splitlines() if line.strip()]

    def events(self, event: str) -> list[dict[str, Any]]:
        """The lines whose `event` is `event`."""
        return [record for record in self.records if record.get("event") == event]


@contextlib.contextmanager
def capture_log_lines(level: str = "DEBUG") -> Iterator[CapturedLines]:
    """Capture Conductor's log lines as JSON, at `level`, for the duration of the block.

    The full processor chain runs (run fields, redaction), so tests see what operators see.
    """
    configure_logging()
    saved = (_settings.level, _settings.renderer, _settings.stream)
    captured = CapturedLines()
    configure_logging(level=level, renderer="json", stream=captured.buffer)
    try:
        yield captured
    finally:
        _settings.stream = saved[2]
        configure_logging(level=logging.getLevelName(saved[0]), renderer=saved[1])


def _normalize_key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def _secret_text(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    if callable(getter):
        value = getter()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)
