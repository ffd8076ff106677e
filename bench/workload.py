"""The benchmark's workload: auto-approved refund tickets, each on an order of its own."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from state.schemas import OrderFacts
from store.db import Store
from store.seed import seed_store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "tickets.jsonl"

REFUND_TICKETS = (
    "T-001",
    "T-003",
    "T-004",
    "T-010",
    "T-012",
    "T-014",
    "T-015",
    "T-021",
    "T-023",
    "T-025",
    "T-036",
)
"""Example tickets the support graph resolves with an auto-approved refund of at most 50."""

ORDER_ID = re.compile(r"ORD-\d{5}", re.IGNORECASE)
FIRST_CLONE = 20_000
"""Cloned orders are numbered from here (the seeded store uses 10001–10250)."""


def refund_templates() -> list[dict[str, Any]]:
    """The refund tickets of `REFUND_TICKETS`, in that order."""
    by_id = {}
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        if line.strip():
            ticket = json.loads(line)
            by_id[ticket.get("ticket_id")] = ticket
    return [by_id[tid] for tid in REFUND_TICKETS]


@dataclass
class Workload:
    """Hands out fresh tickets: every ticket names an order no other ticket names.

    A refund leaves a record in the ledger; a second ticket on the same order would be
    refused and take another path. Cloning the order keeps every ticket on the same path.
    """

    store: Store
    templates: list[dict[str, Any]] = field(default_factory=refund_templates)
    _next: int = FIRST_CLONE
    _served: int = 0

    @classmethod
    def open(cls, workdir: Path) -> Workload:
        """A seeded store in `workdir` (a copy of one seeded template) and its workload."""
        template = workdir / "seeded.db"
        if not template.exists():
            seed_store(template)
        path = workdir / "store.db"
        shutil.copy(template, path)
        return cls(Store(path))

    def tickets(self, n: int, tag: str) -> list[dict[str, Any]]:
        """`n` fresh tickets (ids `tag-k`), cycling over the templates, each on a cloned order."""
        out: list[dict[str, Any]] = []
        clones: list[OrderFacts] = []
        for _ in range(n):
            template = self.templates[self._served % len(self.templates)]
            self._served += 1
            original = ORDER_ID.search(template["subject"] + " " + template["body"])
            assert original is not None, template["ticket_id"]
            order = self.store.get_order(original.group(0).upper())
            assert order is not None
            new_id = f"ORD-{self._next}"
            self._next += 1
            clones.append(cast(OrderFacts, {**order, "order_id": new_id}))
            out.append(
                {
                    **template,
                    "ticket_id": f"{tag}-{self._served}",
                    "subject": ORDER_ID.sub(new_id, template["subject"]),
                    "body": ORDER_ID.sub(new_id, template["body"]),
                }
            )
        self.store.upsert_orders(clones)
        return out

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def batched(items: list[Any], size: int) -> Iterator[list[Any]]:
    """`items` in consecutive slices of `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
