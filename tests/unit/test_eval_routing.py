"""The tier rules of the tiers experiment (evals/routing.py) and the variants built on them."""

from __future__ import annotations

from typing import Any

import pytest

from evals.experiment import VARIANTS, support_spec
from evals.routing import input_tier
from nodes.spec import Limits


def tier_of(body: str, subject: str = "Order question") -> str:
    return input_tier({"ticket": {"subject": subject, "body": body}}, Limits())


@pytest.mark.parametrize(
    ("body", "tier"),
    [
        ("Please refund $35.00 for ORD-10042, it arrived broken.", "small"),
        ("I paid $45.00 for ORD-10013, please refund $20.00.", "large"),
        ("ORD-10013 and ORD-10014 both arrived late.", "large"),
        ("Заказ ORD-10042 пришёл сломанным, верните деньги.", "large"),
        ("Where is ORD-10042? " + "It has been a while. " * 40, "large"),
    ],
)
def test_input_tier_reads_difficulty_from_the_ticket_alone(body: str, tier: str) -> None:
    assert tier_of(body) == tier


def test_variants_change_only_the_tiers_they_name() -> None:
    base = {s.id: s.tier for s in support_spec(VARIANTS["graph"]).subtasks}
    verified: dict[str, Any] = {
        s.id: s.tier for s in support_spec(VARIANTS["graph-verified-tiers"]).subtasks
    }
    assert base["classify"] == "small" and base["decide"] == "large"
    assert verified["classify"] == "large"
    assert verified["decide"] == "small" and verified["reply"] == "small"
    assert verified["extract"] == base["extract"] and verified["context"] == base["context"]
    difficulty = {s.id: s.tier for s in support_spec(VARIANTS["graph-input-tiers"]).subtasks}
    assert difficulty["classify"] is input_tier and difficulty["extract"] is input_tier
