"""Model outputs are bounded for grammar compilers, and no number breaks a gate."""

from __future__ import annotations

import json
import math
import typing
from typing import Any

import pytest

import validators.gates as gates_module
from state.schemas import (
    AGENT_OUTPUT_SCHEMAS,
    GRAMMAR_MAX_LENGTH,
    ReplyDraft,
    Ticket,
    TicketEntities,
)
from validators.gates import GateContext, run_gate
from validators.policy import RefundPolicy

TICKET = Ticket(
    ticket_id="T-1",
    customer_id="C001",
    subject="Refund ORD-10001",
    body="Please refund the $35.00 for order ORD-10001.",
    channel="email",
)
FACTS: Any = {
    "today": "2025-06-30",
    "customer": {"customer_id": "C001", "name": "Ada", "email": "ada@example.com"},
    "order": {
        "order_id": "ORD-10001",
        "customer_id": "C001",
        "status": "delivered",
        "total": 35.0,
        "currency": "USD",
        "item": "mouse",
        "ordered_at": "2025-06-20",
    },
    "prior_refunds": [],
    "policy": RefundPolicy().to_facts(),
}
OUTCOME: Any = {
    "intent": "refund_request",
    "decision": "none",
    "denial_reason": None,
    "refund": None,
    "order_status": "delivered",
    "escalated": False,
}
ENTITIES = {"order_id": "ORD-10001", "amount": 35.0, "currency": "USD", "item": "mouse"}
VALID: dict[str, dict[str, Any]] = {
    "classify_intent": {
        "intent": "refund_request",
        "confidence": 0.9,
        "legal_threat": False,
        "summary": "Refund.",
    },
    "extract_entities": {**ENTITIES, "reason": "refund"},
    "decide_refund": {
        "approve": True,
        "amount": 35.0,
        "currency": "USD",
        "reason_code": "eligible",
        "rationale": "Delivered, eligible.",
        "confidence": 0.9,
    },
    "draft_reply": {
        "reply": "We are looking into your request.",
        "promises_refund": False,
        "refund_amount": None,
    },
}
FLOAT_FIELDS = [
    (agent, name)
    for agent, schema in AGENT_OUTPUT_SCHEMAS.items()
    for name, info in schema.model_fields.items()
    if float in (info.annotation, *typing.get_args(info.annotation))
]
STR_FIELDS = [
    (agent, name)
    for agent, schema in AGENT_OUTPUT_SCHEMAS.items()
    for name, prop in schema.model_json_schema()["properties"].items()
    if "string" in {prop.get("type"), *(p.get("type") for p in prop.get("anyOf", []))}
    and "enum" not in prop
    and not any("enum" in p for p in prop.get("anyOf", []))
]


def ctx() -> GateContext:
    return GateContext(ticket=TICKET, facts=FACTS, outcome=OUTCOME, entities=ENTITIES)


def test_every_free_text_field_has_a_grammar_sized_max_length() -> None:
    assert {f"{a}.{n}" for a, n in STR_FIELDS} >= {
        "classify_intent.summary",
        "extract_entities.item",
        "extract_entities.reason",
        "decide_refund.rationale",
        "draft_reply.reply",
    }
    for agent, name in STR_FIELDS:
        prop = AGENT_OUTPUT_SCHEMAS[agent].model_json_schema()["properties"][name]
        bounds = [prop.get("maxLength"), *(p.get("maxLength") for p in prop.get("anyOf", []))]
        bound = max((b for b in bounds if b is not None), default=None)
        assert bound is not None, f"{agent}.{name} has no maxLength"
        assert bound <= GRAMMAR_MAX_LENGTH, f"{agent}.{name}: maxLength {bound}"


def test_reply_is_at_most_1000_characters() -> None:
    assert ReplyDraft.model_json_schema()["properties"]["reply"]["maxLength"] <= 1000


@pytest.mark.parametrize(("agent", "name"), FLOAT_FIELDS)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "Infinity", "NaN", 1e308 * 10])
def test_every_float_field_refuses_nan_and_infinity(agent: str, name: str, value: Any) -> None:
    schema = AGENT_OUTPUT_SCHEMAS[agent]
    with pytest.raises(ValueError, match="finite"):
        schema.model_validate({**VALID[agent], name: value})


def test_the_float_fields_are_the_expected_ones() -> None:
    assert set(FLOAT_FIELDS) == {
        ("classify_intent", "confidence"),
        ("extract_entities", "amount"),
        ("decide_refund", "amount"),
        ("decide_refund", "confidence"),
        ("draft_reply", "refund_amount"),
    }


@pytest.mark.parametrize("agent", sorted(VALID))
def test_valid_outputs_pass_their_gates(agent: str) -> None:
    result = run_gate(agent, VALID[agent], ctx())
    assert result.violations == [] and result.passed


@pytest.mark.parametrize(
    "amount", [1e308 * 10, "Infinity", "-Infinity", "NaN", 10**400, "1e999"], ids=repr
)
def test_an_absurd_extracted_amount_passes_neither_schema_nor_crashes_the_gate(
    amount: Any,
) -> None:
    raw = {**VALID["extract_entities"], "amount": amount}
    with pytest.raises(ValueError):
        TicketEntities.model_validate(raw)
    result = run_gate("extract_entities", raw, ctx())
    assert not result.passed
    assert [(v.kind, v.field) for v in result.violations] == [("format", "amount")]
    # The same through JSON, as a provider sends it (a literal 1e999 parses as infinity).
    text = json.dumps({**raw, "amount": 0}).replace('"amount": 0', '"amount": 1e999')
    with pytest.raises(ValueError, match="finite"):
        TicketEntities.model_validate_json(text)


@pytest.mark.parametrize("amount", [1e308 * 10, "Infinity", 10**400])
def test_an_absurd_decided_amount_is_refused_by_the_gate(amount: Any) -> None:
    result = run_gate("decide_refund", {**VALID["decide_refund"], "amount": amount}, ctx())
    assert not result.passed
    assert {v.kind for v in result.violations} == {"format"}


def test_an_instance_built_without_validation_is_held_to_the_schema() -> None:
    sneaky = TicketEntities.model_construct(**{**VALID["extract_entities"], "amount": math.inf})
    result = run_gate("extract_entities", sneaky, ctx())
    assert not result.passed and result.violations[0].kind == "format"


@pytest.mark.parametrize(
    "error", [OverflowError("int too large"), ValueError("bad"), ArithmeticError("x")]
)
def test_a_conversion_error_inside_a_check_is_a_violation_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def explode(*args: Any, **kwargs: Any) -> list[Any]:
        raise error

    monkeypatch.setattr(gates_module, "check_decision_plausible", explode)
    result = run_gate("decide_refund", VALID["decide_refund"], ctx())
    assert not result.passed
    (violation,) = result.violations
    assert violation.kind == "format" and violation.field == "*"
    assert type(error).__name__ in violation.message


def test_schemas_compile_for_a_grammar_without_unbounded_strings() -> None:
    """What llama.cpp compiles: every string property of the JSON schema carries a bound."""

    def strings(node: Any, path: str) -> list[str]:
        found: list[str] = []
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node and "maxLength" not in node:
                found.append(path)
            for key, value in node.items():
                found += strings(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                found += strings(value, f"{path}[{index}]")
        return found

    unbounded = {
        agent: strings(schema.model_json_schema(), agent)
        for agent, schema in AGENT_OUTPUT_SCHEMAS.items()
    }
    assert {a: u for a, u in unbounded.items() if u} == {}
