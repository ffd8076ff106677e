"""Deterministic seed data for the local store: customers, pinned example orders, random orders."""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

from state.schemas import CustomerFacts, OrderFacts
from store.factory import open_store


class PinnedOrder(NamedTuple):
    """An order with hand-chosen properties that the example tickets rely on."""

    order_id: str
    customer_id: str
    status: str
    total: float
    currency: str
    age_days: int
    item: str
    purpose: str


# fmt: off
PINNED_ORDERS: tuple[PinnedOrder, ...] = (
    # order_id, owner, status, total, currency, age (days before today), item, purpose
    PinnedOrder("ORD-10001", "C001", "delivered", 35.00, "USD", 10, "Wireless Mouse",
                "small refund, auto-approved"),
    PinnedOrder("ORD-10002", "C002", "delivered", 120.00, "USD", 14, "Noise-Cancelling Headphones",
                "refund above the 50.00 auto-approve limit"),
    PinnedOrder("ORD-10003", "C003", "damaged", 42.50, "USD", 8, "Ceramic Dinner Plate Set",
                "damaged item, small refund"),
    PinnedOrder("ORD-10004", "C004", "lost", 39.95, "USD", 25, "Running Shoes",
                "lost parcel, small refund"),
    PinnedOrder("ORD-10005", "C005", "delivered", 24.00, "USD", 120, "Yoga Mat",
                "older than 90 days"),
    PinnedOrder("ORD-10006", "C006", "processing", 64.99, "USD", 3, "Burr Coffee Grinder",
                "status not eligible (processing)"),
    PinnedOrder("ORD-10007", "C007", "cancelled", 19.99, "USD", 12, "Phone Case",
                "status not eligible (cancelled)"),
    PinnedOrder("ORD-10008", "C008", "shipped", 54.00, "USD", 6, "Desk Lamp",
                "shipping-status question"),
    PinnedOrder("ORD-10009", "C009", "delivered", 89.90, "EUR", 20, "Leather Backpack",
                "EUR refund above the limit"),
    PinnedOrder("ORD-10010", "C010", "delivered", 27.50, "USD", 15, "Bluetooth Speaker",
                "refund asked twice (two tickets)"),
    PinnedOrder("ORD-10011", "C011", "delivered", 18.75, "GBP", 9, "Cotton Bath Towel Set",
                "GBP small refund"),
    PinnedOrder("ORD-10012", "C002", "delivered", 45.00, "USD", 11, "Stainless Steel Water Bottle",
                "owned by C002, claimed by C003"),
    PinnedOrder("ORD-10013", "C013", "delivered", 45.00, "USD", 18, "Chef's Knife 8-inch",
                "request above the order total"),
    PinnedOrder("ORD-10014", "C014", "delivered", 50.00, "USD", 7, "Laptop Stand",
                "exactly the auto-approve limit"),
    PinnedOrder("ORD-10015", "C015", "delivered", 50.01, "USD", 7, "Webcam 1080p",
                "one cent above the limit"),
    PinnedOrder("ORD-10016", "C016", "damaged", 249.00, "USD", 5, "Robot Vacuum",
                "damaged item above the limit"),
    PinnedOrder("ORD-10017", "C017", "processing", 75.00, "USD", 12, "Fitness Tracker",
                "legal threat over a late order"),
    PinnedOrder("ORD-10018", "C018", "shipped", 32.00, "USD", 16, "Board Game",
                "late delivery, still in transit (not eligible)"),
    PinnedOrder("ORD-10019", "C019", "processing", 12.00, "USD", 2, "Green Tea Sampler",
                "prompt injection with forged facts"),
    PinnedOrder("ORD-10020", "C020", "delivered", 150.00, "USD", 20, "Office Chair",
                "partial refund below the limit"),
    PinnedOrder("ORD-10021", "C021", "returned", 59.00, "USD", 30, "Rain Jacket",
                "status not eligible (returned)"),
    PinnedOrder("ORD-10022", "C022", "damaged", 29.00, "EUR", 12, "Espresso Cup Set",
                "EUR damaged item, small refund"),
    PinnedOrder("ORD-10023", "C023", "lost", 210.00, "GBP", 35, "Cordless Drill",
                "GBP lost parcel above the limit"),
    PinnedOrder("ORD-10024", "C024", "delivered", 38.00, "USD", 75, "Hand Blender",
                "old but within 90 days"),
    PinnedOrder("ORD-10025", "C025", "damaged", 22.00, "USD", 95, "Scented Candle Set",
                "damaged but older than 90 days"),
    PinnedOrder("ORD-10026", "C026", "delivered", 15.00, "USD", 4, "Greeting Card Pack",
                "claimed by an unknown customer (C077)"),
    PinnedOrder("ORD-10027", "C027", "processing", 84.00, "USD", 2, "Mechanical Keyboard",
                "shipping-status question"),
    PinnedOrder("ORD-10028", "C028", "delivered", 46.00, "USD", 6, "Electric Kettle",
                "damage reported on a delivered order"),
    PinnedOrder("ORD-10029", "C001", "shipped", 22.40, "USD", 3, "USB-C Charging Cable (2 m)",
                "C001's second order"),
    PinnedOrder("ORD-10030", "C001", "returned", 64.00, "USD", 45, "Merino Wool Sweater",
                "C001's third order"),
)
# fmt: on
"""Orders ORD-10001..ORD-10030, the same for every seed; ages are days before `today`.

Ages keep at least 15 days between an order and the 90-day policy limit (except
ORD-10025, which only grows older), so the examples stay right for weeks after seeding.
"""

UNKNOWN_ORDER_ID = "ORD-19876"
"""An order id the examples use that no seed ever creates."""

N_CUSTOMERS = 60
N_ORDERS = 250
FIRST_ORDER_NUMBER = 10001

CUSTOMER_NAMES: tuple[str, ...] = (
    "Maria Gonzalez", "James Carter", "Priya Raman", "Tom Becker", "Aisha Bello",
    "Daniel Kim", "Sofia Rossi", "Liam O'Connor", "Chloé Dubois", "Noah Fischer",
    "Olivia Hughes", "Mateo Silva", "Hannah Schmidt", "Kenji Watanabe", "Grace Liu",
    "Ethan Brooks", "Fatima Haddad", "Lucas Moreau", "Emma Johansson", "Arjun Mehta",
    "Isabel Ortiz", "Jonas Weber", "Amelia Clarke", "Diego Alvarez", "Yuki Tanaka",
    "Samuel Adeyemi", "Nora Lindqvist", "Oliver Grant", "Leila Nasser", "Marco Bianchi",
    "Zoe Campbell", "Ravi Patel", "Ingrid Berg", "Felix Wagner", "Mia Novak",
    "Adam Kowalski", "Elena Popescu", "Samir Khan", "Lucy Evans", "Pedro Santos",
    "Anna Horvath", "Kwame Mensah", "Julia Meyer", "Hugo Laurent", "Chen Wei",
    "Sara Cohen", "Patrick Murphy", "Inês Ferreira", "Max Hoffmann", "Laura Jensen",
    "Omar Farouk", "Beatriz Costa", "Henry Walker", "Eva Svoboda", "Tariq Hussain",
    "Clara Vogel", "William Turner", "Nadia Petrova", "George Baker", "Rosa Jiménez",
)  # fmt: skip
"""Names of C001..C060 in order, the same for every seed (the example tickets sign with them)."""

_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

CATALOG: tuple[tuple[str, float, float], ...] = (
    ("Wireless Mouse", 15, 60), ("Mechanical Keyboard", 60, 180),
    ("Noise-Cancelling Headphones", 90, 380), ("USB-C Charging Cable (2 m)", 6, 25),
    ("27-inch 4K Monitor", 250, 650), ("Laptop Stand", 25, 80), ("Bluetooth Speaker", 25, 150),
    ("Smartwatch", 120, 450), ("E-Reader", 90, 260), ("Phone Case", 8, 40),
    ("Portable SSD 1 TB", 70, 160), ("Webcam 1080p", 30, 110), ("Espresso Machine", 180, 850),
    ("Electric Kettle", 25, 90), ("Chef's Knife 8-inch", 30, 160), ("Cast Iron Skillet", 25, 70),
    ("Non-Stick Frying Pan Set", 40, 140), ("Ceramic Dinner Plate Set", 30, 120),
    ("Air Fryer", 60, 200), ("Stand Mixer", 200, 600), ("Stainless Steel Water Bottle", 12, 45),
    ("Yoga Mat", 15, 90), ("Running Shoes", 55, 190), ("Rain Jacket", 45, 220),
    ("Merino Wool Sweater", 50, 160), ("Leather Backpack", 70, 300),
    ("Cotton Bath Towel Set", 20, 80), ("Queen Duvet Cover", 35, 140), ("Desk Lamp", 18, 95),
    ("Office Chair", 120, 600), ("Standing Desk", 250, 899), ("Robot Vacuum", 180, 700),
    ("Scented Candle Set", 10, 45), ("Paperback Box Set", 20, 75), ("Board Game", 15, 70),
    ("Architecture Building Set", 40, 250), ("Kids' Bicycle Helmet", 20, 60),
    ("Camping Tent (2-person)", 70, 320), ("Sleeping Bag", 40, 180), ("Dog Bed (Large)", 35, 130),
    ("Cat Tree", 40, 190), ("Garden Hose 25 m", 20, 75), ("Cordless Drill", 60, 250),
    ("Electric Toothbrush", 30, 180), ("Hair Dryer", 25, 160), ("Face Moisturiser 50 ml", 8, 60),
    ("Sunglasses", 20, 220), ("Wristwatch", 60, 600), ("Silver Necklace", 35, 400),
    ("Ground Coffee 1 kg", 12, 40), ("Green Tea Sampler", 9, 35), ("Greeting Card Pack", 5, 18),
    ("Hand Blender", 25, 90), ("Fitness Tracker", 45, 200), ("Burr Coffee Grinder", 40, 250),
)  # fmt: skip
"""Products of the random orders: name, lowest and highest unit price."""

_STATUS_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("delivered", 50),
    ("returned", 12),
    ("shipped", 11),
    ("cancelled", 8),
    ("processing", 7),
    ("damaged", 7),
    ("lost", 5),
)
_AGE_RANGE_BY_STATUS = {"processing": (1, 6), "shipped": (2, 21)}
_CURRENCY_WEIGHTS: tuple[tuple[str, int], ...] = (("USD", 75), ("EUR", 15), ("GBP", 10))


def customer_id(number: int) -> str:
    """Return the id of customer `number` (1-based), e.g. C001."""
    return f"C{number:03d}"


def _email(name: str, number: int) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    first, last = (
        "".join(ch for ch in part.lower() if ch.isalnum()) for part in ascii_name.split(" ", 1)
    )
    return f"{first}.{last}@{_EMAIL_DOMAINS[number % len(_EMAIL_DOMAINS)]}"


def build_customers() -> list[CustomerFacts]:
    """Return the 60 customers C001..C060 (no randomness: the examples sign with their names)."""
    return [
        CustomerFacts(customer_id=customer_id(n), name=name, email=_email(name, n))
        for n, name in enumerate(CUSTOMER_NAMES, start=1)
    ]


def build_orders(*, today: date, seed: int = 7) -> list[OrderFacts]:
    """Return the pinned orders followed by random orders up to ORD-10250.

    Args:
        today: Day the ages are counted back from.
        seed: Seed of the random orders; the pinned ones do not depend on it.

    Returns:
        Orders ORD-10001..ORD-10250.
    """
    orders = [
        OrderFacts(
            order_id=p.order_id,
            customer_id=p.customer_id,
            status=p.status,
            total=p.total,
            currency=p.currency,
            item=p.item,
            ordered_at=(today - timedelta(days=p.age_days)).isoformat(),
        )
        for p in PINNED_ORDERS
    ]
    rng = random.Random(seed)
    statuses, status_weights = zip(*_STATUS_WEIGHTS, strict=True)
    currencies, currency_weights = zip(*_CURRENCY_WEIGHTS, strict=True)
    for index in range(N_ORDERS - len(orders)):
        number = FIRST_ORDER_NUMBER + len(PINNED_ORDERS) + index
        # every customer gets at least one random order, then owners are drawn at random
        owner = index + 1 if index < N_CUSTOMERS else rng.randint(1, N_CUSTOMERS)
        item, low, high = rng.choice(CATALOG)
        quantity = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        total = min(900.0, max(5.0, round(rng.uniform(low, high) * quantity, 2)))
        status = rng.choices(statuses, weights=status_weights)[0]
        low_age, high_age = _AGE_RANGE_BY_STATUS.get(status, (3, 200))
        orders.append(
            OrderFacts(
                order_id=f"ORD-{number}",
                customer_id=customer_id(owner),
                status=status,
                total=total,
                currency=rng.choices(currencies, weights=currency_weights)[0],
                item=item if quantity == 1 else f"{item} (x{quantity})",
                ordered_at=(today - timedelta(days=rng.randint(low_age, high_age))).isoformat(),
            )
        )
    return orders


def seed_store(path: str | Path, *, today: date | None = None, seed: int = 7) -> dict[str, int]:
    """Create or refresh the store at `path` (a file or a PostgreSQL URL) with the seed data.

    Idempotent: customers and orders are upserted (dates move with `today`); the refund
    ledger and the runs are never touched.

    Args:
        path: The SQLite file of the store, or a `postgresql://` URL.
        today: Day the order ages are counted back from; default `date.today()`.
        seed: Seed of the random orders.

    Returns:
        Counts of customers, orders and refunds in the store after seeding.
    """
    customers = build_customers()
    orders = build_orders(today=today or date.today(), seed=seed)
    with open_store(path) as store:
        store.upsert_customers(customers)
        store.upsert_orders(orders)
        return {
            "customers": store.count_customers(),
            "orders": store.count_orders(),
            "refunds": store.count_refunds(),
        }
