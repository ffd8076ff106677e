"""Ground truth, and the judgement of an outcome: correct, escalated, parked, wrong, lost."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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


def same_money(a: float | None, b: float | None) -> bool:
    """True when both are None or both are the same number of cents."""
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
        if refunded is not None and not same_money(refunded, expected_refund):
            return "wrong"
        return "escalated" if status == "escalated" else "parked"
    if truth["expected_status"] == "escalated":
        return "wrong"
    if status != truth["expected_status"]:
        return "wrong"
    return "correct" if same_money(refunded, expected_refund) else "wrong"


MONEY_WRONG_KINDS: tuple[str, ...] = (
    "wrong_amount",
    "ineligible_order",
    "not_owner",
    "wrong_order",
    "not_requested",
    "duplicate",
)
"""How money can move wrongly, in report order (`review_skipped` is counted apart)."""


def money_issues(
    refunds: Sequence[Mapping[str, Any]],
    truth: Mapping[str, Any],
    writer: str,
    owner_of: Mapping[str, str | None],
    *,
    reviewed: bool,
    auto_approve_limit: float = 50.0,
) -> list[str]:
    """Every way this ticket's refunds moved money against the truth.

    Args:
        refunds: The ledger rows of the ticket (`order_id`, `amount`).
        truth: The ticket's ground truth (`expected_refund`, `expected_order_id`,
            `refund_requested`).
        writer: The customer who wrote the ticket.
        owner_of: The owner of each refunded order, per the store (None: no such order).
        reviewed: A human approved this ticket's refund.
        auto_approve_limit: Largest refund paid without a human.

    Returns:
        Kinds from `MONEY_WRONG_KINDS`, plus `review_skipped` for a correct refund paid
        without the human the truth asks for (above the limit, or a legal threat); empty when
        the money is right (or none moved).
    """
    issues: list[str] = []
    if len(refunds) > 1:
        issues.append("duplicate")
    expected = truth.get("expected_refund")
    for refund in refunds:
        order_id = str(refund["order_id"]).upper()
        if owner_of.get(order_id) != writer:
            issues.append("not_owner")
        elif not truth.get("refund_requested", True):
            issues.append("not_requested")
        elif truth.get("expected_order_id") and order_id != truth["expected_order_id"].upper():
            issues.append("wrong_order")
        elif expected is None:
            issues.append("ineligible_order")
        elif not same_money(float(refund["amount"]), float(expected)):
            issues.append("wrong_amount")
        elif not reviewed and (
            to_cents(refund["amount"]) > to_cents(auto_approve_limit)
            or truth.get("expected_status") == "escalated"
        ):
            issues.append("review_skipped")
    return issues
