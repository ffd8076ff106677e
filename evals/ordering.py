"""One customer's tickets run one after another during an evaluation, in the order started.

The ground truth is written in the dataset's order: when two tickets of one customer ask for
the same refund (a ticket and its follow-up), the first is labelled eligible and the second
"already refunded". Run concurrently, either may reach the ledger first, and the figures
would then depend on scheduling. So an evaluation holds a per-customer lock around each
target call: a customer's tickets run in the order the evaluation starts them (langsmith's
`aevaluate` starts them in dataset order), while different customers' tickets still run in
parallel. A production batch needs no such lock: the ledger refunds an order once whichever
ticket comes first.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

Target = Callable[[Mapping[str, Any]], Coroutine[Any, Any, dict[str, Any]]]


def one_customer_at_a_time(target: Target) -> Target:
    """`target`, run under a lock per ticket's `customer_id` (tickets without one: no lock)."""
    locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def ordered(inputs: Mapping[str, Any]) -> dict[str, Any]:
        ticket = inputs.get("ticket")
        customer = ticket.get("customer_id") if isinstance(ticket, Mapping) else None
        if not isinstance(customer, str) or not customer:
            return await target(inputs)
        async with locks[customer]:
            return await target(inputs)

    return ordered
