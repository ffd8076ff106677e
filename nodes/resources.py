"""Process-wide resources the nodes use: the local store (the model gateway has its own)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store.db import Store

DEFAULT_DB = Path("var/conductor.db")

_store: Store | None = None
_store_lock = threading.Lock()


def store_path_from_env() -> Path:
    """The store's path: `CONDUCTOR_DB`, else `var/conductor.db` (read once, at the edge)."""
    return Path(os.environ.get("CONDUCTOR_DB") or DEFAULT_DB)


def get_store() -> Store:
    """Return the process's store, opening it on first use (the server opens it at start)."""
    global _store
    with _store_lock:  # nodes call this from worker threads
        if _store is None:
            path = store_path_from_env()
            path.parent.mkdir(parents=True, exist_ok=True)
            _store = Store(path)
        return _store


@contextmanager
def use_store(store: Store) -> Iterator[Store]:
    """Make `store` the process's store for the duration of the block (CLI, tests)."""
    global _store
    previous, _store = _store, store
    try:
        yield store
    finally:
        _store = previous
