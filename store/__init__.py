"""Conductor store package: customers, orders, refunds and runs, in SQLite or PostgreSQL."""

from store.db import Store
from store.errors import (
    AlreadyRefunded,
    AmountExceedsTotal,
    CurrencyMismatch,
    IdempotencyConflict,
    NotOrderOwner,
    StoreError,
    UnknownOrder,
)
from store.factory import open_store, store_from_env
from store.seed import seed_store

__all__ = [
    "AlreadyRefunded",
    "AmountExceedsTotal",
    "CurrencyMismatch",
    "IdempotencyConflict",
    "NotOrderOwner",
    "Store",
    "StoreError",
    "UnknownOrder",
    "open_store",
    "seed_store",
    "store_from_env",
]
