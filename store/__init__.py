"""Conductor store package: the local SQLite store of customers, orders, refunds and runs."""

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
    "seed_store",
]
