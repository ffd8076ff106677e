"""The realistic error kinds: each switchable, each counted, drawn with the error seed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from nodes.prompts import render_sections
from simulator import ErrorModel, Simulator
from simulator.error_model import REALISTIC_KINDS
from state.schemas import IntentClassification, RefundDecision, TicketEntities

TICKET = (
    "Subject: Two orders\n\nORD-10029 is fine. I paid $80.00 for ORD-10001 but it broke; "
    "please refund $20.00. I will talk to my lawyer otherwise."
)
REPLACEMENT = "Subject: Broken\n\nORD-10001 arrived broken. Please send a replacement, no refund."
FACTS = {
    "today": "2026-01-15",
    "customer": {"customer_id": "C001", "name": "Maria", "email": "m@example.com"},
    "order": {
        "order_id": "ORD-10001",
        "customer_id": "C001",
        "status": "delivered",
        "total": 80.0,
        "currency": "USD",
        "item": "Mouse",
        "ordered_at": "2026-01-05",
    },
    "prior_refunds": [],
    "policy": {
        "eligible_statuses": ["delivered", "damaged", "lost"],
        "max_age_days": 90,
        "auto_approve_limit": 50.0,
        "max_refunds_per_order": 1,
    },
}


def payload(schema: type[BaseModel], **sections: Any) -> dict[str, Any]:
    return {
        "model": "sim-small",
        "messages": [
            {"role": "system", "content": "You help."},
            {"role": "user", "content": render_sections(**sections)},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": schema.model_json_schema()},
        },
    }


async def answer(sim: Simulator, schema: type[BaseModel], **sections: Any) -> dict[str, Any]:
    response = await sim.complete(payload(schema, **sections))
    assert response.status == 200, response.body
    result: dict[str, Any] = json.loads(response.body["choices"][0]["message"]["content"])
    schema.model_validate(result)
    return result


def forced(kind: str) -> Simulator:
    return Simulator(error_model=ErrorModel().only([kind], 1.0))


CASES = {
    "other_amount": (
        TicketEntities,
        {"ticket": TICKET},
        lambda a, c: a["amount"] != c["amount"] and a["amount"] in (80.0, 20.0),
    ),
    "swap_order": (TicketEntities, {"ticket": TICKET}, lambda a, c: a["order_id"] != c["order_id"]),
    "flip_legal": (
        IntentClassification,
        {"ticket": TICKET},
        lambda a, c: a["legal_threat"] != c["legal_threat"],
    ),
    "misread_paraphrase": (
        IntentClassification,
        {"ticket": TICKET},
        lambda a, c: a["intent"] != c["intent"],
    ),
    "approve_replacement": (
        RefundDecision,
        {"ticket": REPLACEMENT, "entities": {"order_id": "ORD-10001"}, "facts": FACTS},
        lambda a, c: a["approve"] and not c["approve"],
    ),
}


@pytest.mark.parametrize("kind", REALISTIC_KINDS)
async def test_each_kind_fires_when_forced_and_is_counted(kind: str) -> None:
    schema, sections, differs = CASES[kind]
    clean = await answer(Simulator(error_model=ErrorModel.ideal()), schema, **sections)
    sim = forced(kind)
    wrong = await answer(sim, schema, **sections)
    assert differs(wrong, clean), (clean, wrong)
    assert sim.stats()["model_errors"]["sim-small"] == {kind: 1}


def test_the_heuristic_denies_a_replacement() -> None:
    import asyncio

    sections = CASES["approve_replacement"][1]
    clean = asyncio.run(
        answer(Simulator(error_model=ErrorModel.ideal()), RefundDecision, **sections)
    )
    assert clean["approve"] is False and clean["reason_code"] == "not_requested"


def test_kinds_switch_off_and_unknown_kinds_are_refused() -> None:
    model = ErrorModel().only(["flip_legal"])
    rates = model.rates_for("small", "IntentClassification")
    assert rates.flip_legal_rate > 0
    assert rates.wrong_label_rate == rates.other_amount_rate == 0
    with pytest.raises(ValueError, match="unknown error kinds"):
        ErrorModel().only(["nonsense"])


async def test_the_error_seed_varies_the_draws() -> None:
    outcomes = set()
    for seed in range(8):
        sim = Simulator(error_model=ErrorModel().only(["misread_paraphrase"], 0.5).with_seed(seed))
        outcomes.add((await answer(sim, IntentClassification, ticket=TICKET))["intent"])
    assert len(outcomes) > 1
