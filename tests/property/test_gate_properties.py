"""Properties of the gates: any agent output gets a verdict, never an exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from property_strategies import JSON, TEXT

from state.schemas import AGENT_OUTPUT_SCHEMAS, Facts, ReplyOutcome, Ticket
from validators.gates import GateContext, run_gate
from validators.policy import RefundPolicy

ORDER = {
    "order_id": "ORD-10042",
    "customer_id": "C001",
    "status": "delivered",
    "total": 35.00,
    "currency": "USD",
    "item": "Blue mug",
    "ordered_at": "2025-06-20",
}
CTX = GateContext(
    ticket=Ticket(
        ticket_id="T-100",
        customer_id="C001",
        subject="Broken mug",
        body="My mug from ORD-10042 arrived broken, please refund $35.",
        channel="email",
    ),
    facts=Facts(
        today="2025-06-30",
        customer={"customer_id": "C001", "name": "Ada", "email": "ada@example.com"},
        order=ORDER,  # type: ignore[typeddict-item]
        prior_refunds=[],
        policy=RefundPolicy().to_facts(),
    ),
    outcome=ReplyOutcome(
        intent="refund_request",
        decision="approved",
        denial_reason=None,
        refund={"issued": True, "amount": 35.0, "currency": "USD"},  # type: ignore[typeddict-item]
        order_status="delivered",
        escalated=False,
    ),
    entities={
        "order_id": "ORD-10042",
        "amount": 35.0,
        "currency": "USD",
        "item": None,
        "reason": "broken",
    },
)
FIELD_VALUES = {
    "intent": st.sampled_from(["refund_request", "damaged_item", "other", "nonsense"]) | JSON,
    "confidence": st.floats() | JSON,
    "legal_threat": st.booleans() | JSON,
    "summary": TEXT,
    "order_id": st.sampled_from(["ORD-10042", "ORD-99999", "ord-10042"]) | JSON,
    "amount": st.floats() | st.sampled_from([0, 35, 35.0, 35.01, 34.999, 5000]) | JSON,
    "currency": st.sampled_from(["USD", "EUR", "usd"]) | JSON,
    "item": TEXT | st.none(),
    "reason": TEXT | st.none(),
    "approve": st.booleans() | JSON,
    "reason_code": st.sampled_from(["eligible", "too_old", "not_owner"]) | JSON,
    "rationale": TEXT,
    "reply": TEXT | st.sampled_from(["We refunded $35.00.", "We refunded $500.", "Sorry."]),
    "promises_refund": st.booleans() | JSON,
    "refund_amount": st.none() | st.floats() | st.sampled_from([35.0, 500.0]),
}


@st.composite
def agent_output(draw: st.DrawFn, agent: str) -> Any:
    """An output shaped like the agent's schema (fields random, some missing), or any JSON."""
    if draw(st.integers(0, 4)) == 0:
        return draw(JSON)
    fields = AGENT_OUTPUT_SCHEMAS[agent].model_fields
    output = {}
    for name in fields:
        if draw(st.integers(0, 9)) > 0:
            output[name] = draw(FIELD_VALUES.get(name, JSON))
    return output


@settings(max_examples=300)
@given(data=st.data(), agent=st.sampled_from(sorted(AGENT_OUTPUT_SCHEMAS)))
def test_every_output_gets_a_verdict_naming_what_was_wrong(data: st.DataObject, agent: str) -> None:
    raw = data.draw(agent_output(agent))
    result = run_gate(agent, raw, CTX)
    assert result.passed == (not result.violations)
    if not result.passed:
        assert result.output is None
        for violation in result.violations:
            assert violation.kind and violation.field and violation.message
        return
    assert result.output is not None
    AGENT_OUTPUT_SCHEMAS[agent].model_validate(result.output)  # what passed is well-formed
    if agent == "decide_refund" and result.output["approve"]:
        # No policy is broken by what passes: never above the order total, its currency.
        assert round(result.output["amount"] * 100) <= round(ORDER["total"] * 100)
        assert result.output["currency"] == ORDER["currency"]
    if agent == "draft_reply" and result.output["promises_refund"]:
        assert result.output["refund_amount"] in (None, 35.0)
