"""Ground truth, and the judgement of an outcome: correct, escalated, parked, wrong, lost."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from state.money import to_cents

Outcome = Literal["correct", "escalated", "parked", "wrong", "lost"]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_TICKETS = ROOT / "examples" / "tickets.jsonl"
EXAMPLE_TRUTH = ROOT / "evals" / "datasets" / "support_examples.jsonl"


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file, skipping blank lines."""
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def load_truth(path: Path = EXAMPLE_TRUTH) -> dict[str, dict[str, Any]]:
    """Ground truth by ticket id."""
    return {row["ticket_id"]: row for row in load_jsonl(path)}


def _same_money(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return to_cents(a) == to_cents(b)


def judge_outcome(status: str | None, refunded: float | None, truth: Mapping[str, Any]) -> Outcome:
    """Judge one ticket's outcome by what was done, not by how it was labelled.

    A run waiting on a human (`escalated`) or on providers (`parked`) is safe unless money
    already moved wrongly. A finished run is correct when its status and the money refunded
    (`refunded`: the ledger's total for the ticket, None when nothing) match the truth; a
    run that finished without the human the truth asks for is wrong.

    Args:
        status: The run's status (None or `failed` when the run was lost).
        refunded: Total refunded for the ticket, per the ledger.
        truth: The ticket's ground truth (`expected_status`, `expected_refund`).
    """
    if status in (None, "failed"):
        return "lost"
    expected_refund = truth.get("expected_refund")
    if status in ("escalated", "parked"):
        if refunded is not None and not _same_money(refunded, expected_refund):
            return "wrong"
        return "escalated" if status == "escalated" else "parked"
    if truth["expected_status"] == "escalated":
        return "wrong"
    if status != truth["expected_status"]:
        return "wrong"
    return "correct" if _same_money(refunded, expected_refund) else "wrong"
