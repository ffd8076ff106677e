"""The chaos suite's invariants on a small matrix: what must never happen, whatever fails."""

from __future__ import annotations

import pytest

from evals.chaos import ROWS, ChaosConfig, run_matrix

SMALL_MATRIX = tuple(
    row
    for row in ROWS
    if row.name
    in {
        "503s",
        "429 bursts + Retry-After",
        "garbage JSON",
        "implausible values",
        "duplicate deliveries",
        "total outage, then recovery",
        "mix at 20%",
    }
)


@pytest.mark.slow
async def test_invariants_hold_on_a_small_matrix() -> None:
    results = await run_matrix(SMALL_MATRIX, tickets=12, config=ChaosConfig(seed=3))
    assert [r.row.name for r in results] == [row.name for row in SMALL_MATRIX]
    for result in results:
        graph = result.graph
        name = result.row.name
        assert graph.policy_violations == [], name
        assert graph.duplicate_refunds == 0, name
        assert graph.outcomes["lost"] == 0, name
        assert graph.open_circuit_calls == 0, name
        assert graph.early_429_retries == 0, name
        assert sum(graph.outcomes.values()) == 12, name
    recovered = next(r for r in results if r.row.recover)
    assert recovered.graph.outcomes["parked"] == 0, "every parked run resumed after recovery"
    duplicated = next(r for r in results if r.row.deliveries == 2)
    # The fair baseline uses the same ledger API (one key per ticket and order), so a
    # redelivery is not refunded twice by it either: the store, not the graph, prevents it.
    assert duplicated.naive.duplicate_refunds == 0
    assert duplicated.graph.duplicate_refunds == 0


def test_unknown_ticket_count_is_refused() -> None:
    with pytest.raises(ValueError, match="--tickets must be between 1 and"):
        import asyncio

        asyncio.run(run_matrix(ROWS[:1], tickets=10_000))
