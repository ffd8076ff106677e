"""Errors raised by the local store; each names the record it is about."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class UnknownOrder(StoreError):
    """The order id names no order in the store."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"unknown order {order_id!r}")
        self.order_id = order_id


class NotOrderOwner(StoreError):
    """The order belongs to another customer than the one named."""

    def __init__(self, order_id: str, customer_id: str) -> None:
        super().__init__(f"order {order_id!r} does not belong to customer {customer_id!r}")
        self.order_id = order_id
        self.customer_id = customer_id


class CurrencyMismatch(StoreError):
    """A refund names another currency than the order's."""

    def __init__(self, order_id: str, currency: str, order_currency: str) -> None:
        super().__init__(
            f"refund currency {currency!r} differs from order {order_id!r} currency "
            f"{order_currency!r}"
        )
        self.order_id = order_id
        self.currency = currency
        self.order_currency = order_currency


class AmountExceedsTotal(StoreError):
    """A refund is larger than the order total."""

    def __init__(self, order_id: str, amount: float, total: float) -> None:
        super().__init__(f"refund {amount:.2f} exceeds order {order_id!r} total {total:.2f}")
        self.order_id = order_id
        self.amount = amount
        self.total = total


class AlreadyRefunded(StoreError):
    """The order already has a refund under another idempotency key (one refund per order)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id!r} has already been refunded")
        self.order_id = order_id


class IdempotencyConflict(StoreError):
    """An idempotency key already in the ledger was reused for another order."""

    def __init__(self, idempotency_key: str, order_id: str, ledger_order_id: str) -> None:
        super().__init__(
            f"idempotency key {idempotency_key!r} already refunded order {ledger_order_id!r}, "
            f"not {order_id!r}"
        )
        self.idempotency_key = idempotency_key
        self.order_id = order_id
        self.ledger_order_id = ledger_order_id
