"""Open the store a target names: a PostgreSQL URL opens `PgStore`, anything else SQLite."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from store.db import Store

DATABASE_URL_ENV = "DATABASE_URL"
STORE_PATH_ENV = "CONDUCTOR_DB"
DEFAULT_STORE_PATH = Path("var/conductor.db")


def is_database_url(target: str | Path | None) -> bool:
    """Whether `target` is a PostgreSQL URL rather than a file path."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def describe_target(target: str | Path) -> str:
    """`target` fit to print: a URL loses its password, a path is shown as is."""
    if not is_database_url(target):
        return str(target)
    parts = urlsplit(str(target))
    if parts.password is None:
        return str(target)
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """`DATABASE_URL` when set and not blank, else None (read once, at the edge)."""
    env = os.environ if environ is None else environ
    return (env.get(DATABASE_URL_ENV) or "").strip() or None


def store_target_from_env(environ: Mapping[str, str] | None = None) -> str | Path:
    """Where the store lives: `DATABASE_URL`, else `CONDUCTOR_DB`, else var/conductor.db."""
    env = os.environ if environ is None else environ
    return database_url_from_env(env) or Path(env.get(STORE_PATH_ENV) or DEFAULT_STORE_PATH)


def open_store(target: str | Path) -> Store:
    """Open the store at `target`: a PostgreSQL URL or an SQLite file (its folder created).

    Args:
        target: `postgresql://...` for `PgStore`; otherwise the SQLite file's path.

    Returns:
        The open store; its schema is set up when missing (idempotent).
    """
    if is_database_url(target):
        from store.pg import PgStore

        return PgStore(str(target))
    path = Path(target)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    return Store(path)


def store_from_env(environ: Mapping[str, str] | None = None) -> Store:
    """Open the store the environment names (`DATABASE_URL` wins over `CONDUCTOR_DB`)."""
    return open_store(store_target_from_env(environ))
