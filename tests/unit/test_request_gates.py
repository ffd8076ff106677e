"""The holes closed deterministically: what the ticket asks, a legal-words trigger, money moved."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from test_validators import ORDER_ID, decision, facts, order, outcome

from nodes.spec import Limits
from nodes.support.rules import TRIGGERS, legal_words
from state.schemas import ReplyDraft, Ticket
from validators.consistency import find_refund_promise
from validators.gates import GateContext, run_gate
from validators.request import asked_amount, order_asked_about, refund_requested


def ticket(body: str, subject: str = "Order problem") -> Ticket:
    return Ticket(
        ticket_id="T-100", customer_id="CUST-1", subject=subject, body=body, channel="email"
    )


def decide(body: str, amount: float, total: float = 100.0, asked: float | None = None) -> Any:
    """The decide gate on an approval of `amount`; the extractor read `asked` (else `amount`)."""
    entities = {"order_id": ORDER_ID, "amount": amount if asked is None else asked}
    ctx = GateContext(ticket=ticket(body), facts=facts({"total": total}), entities=entities)
    return run_gate("decide_refund", decision(amount=amount), ctx)


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("Please refund $20.", "yes"),
        ("I want my money back.", "yes"),
        ("I think $17.00 back is fair.", "yes"),
        ("Kindly return 10.00 pounds to my card.", "yes"),
        ("Please refnud the order.", "yes"),
        ("Please send a replacement, I don't want my money back.", "no"),
        ("Could you ship a new one? No refund needed.", "no"),
        ("Can I get store credit instead of a refund?", "no"),
        ("Please exchange it; if you can't, then refund it.", "unclear"),
        ("The parcel never turned up.", "unclear"),
    ],
)
def test_refund_requested(text: str, reading: str) -> None:
    assert refund_requested(text) == reading


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("My mug broke. Please refund the whole order.", "none", None),
        ("Please refund USD 42.50.", "one", "42.50"),
        ("I would like 42,50 € back.", "one", "42.50"),
        ("I paid $80.00 for it; please refund $20.00 of it.", "one", "20.00"),
        ("GBP 10.00 back would be fair, of the £18.75 I paid.", "one", "10.00"),
        ("Charged $24.48 and again $24.48. Refund USD 24.48.", "one", "24.48"),
        ("I paid $112.49, now it is $67.59. Refund me the difference.", "unclear", None),
        ("I want $45 back, plus $35 for the board, so $80 total.", "unclear", None),
    ],
)
def test_asked_amount(text: str, kind: str, value: str | None) -> None:
    asked = asked_amount(text)
    assert asked.kind == kind
    if value is not None:
        assert Decimal(value) in asked.readings


def test_order_asked_about() -> None:
    assert order_asked_about("Refund ORD-10001 please") == ("yes", "ORD-10001")
    both = "ORD-10029 arrived fine. But ORD-10001 broke, refund $35 for ORD-10001."
    assert order_asked_about(both) == ("yes", "ORD-10001")
    assert order_asked_about("ORD-10029 is fine. ORD-10001 broke. Refund $35.")[0] == "unclear"
    assert order_asked_about("no id at all") == ("no", None)


def test_the_asked_amount_is_paid_not_another_amount_of_the_ticket() -> None:
    body = f"I paid $80.00 for {ORDER_ID}; please refund $20.00 of it."
    assert decide(body, 20.0).passed
    refused = decide(body, 80.0)  # the extractor took the price paid; so did the decider
    assert not refused.passed
    assert ("consistency", "amount") in {(v.kind, v.field) for v in refused.violations}


def test_the_asked_amount_is_capped_at_the_total() -> None:
    assert decide(f"{ORDER_ID}: please refund $80.", 45.0, total=45.0, asked=80.0).passed


def test_a_replacement_asked_is_no_refund() -> None:
    body = f"{ORDER_ID} arrived broken. Please send a replacement, no refund needed."
    refused = decide(body, 100.0)
    assert not refused.passed
    assert any("replacement" in v.message for v in refused.violations)


def test_in_doubt_the_gate_refuses() -> None:
    unclear = f"I paid $112.49 for {ORDER_ID}, now it is $67.59. Refund me the difference."
    assert not decide(unclear, 44.90).passed
    two = "ORD-10029 is fine. ORD-10042 broke. Refund $35."
    assert not decide(two, 35.0).passed


def test_a_swapped_order_is_refused() -> None:
    body = "ORD-10029 is fine. But refund $35 for ORD-10077, it broke."
    assert not decide(body, 35.0).passed  # facts hold ORD-10042, the request names ORD-10077


def test_the_extractor_must_take_the_amount_asked() -> None:
    text = ticket(f"I paid $80.00 for {ORDER_ID}; please refund $20.00 of it.")
    entities = {
        "order_id": ORDER_ID,
        "amount": 80.0,
        "currency": "USD",
        "item": None,
        "reason": None,
    }
    refused = run_gate("extract_entities", entities, GateContext(ticket=text))
    assert not refused.passed
    assert run_gate(
        "extract_entities", {**entities, "amount": 20.0}, GateContext(ticket=text)
    ).passed


def _state(body: str, legal: bool) -> dict[str, Any]:
    return {
        "ticket": {"subject": "Late", "body": body},
        "results": {
            "classify": {
                "intent": "late_delivery",
                "confidence": 0.9,
                "legal_threat": legal,
                "summary": "late",
            }
        },
    }


@pytest.mark.parametrize(
    "body",
    [
        "If this is not fixed I will be speaking to my solicitor.",
        "See you in small claims court.",
        "My barrister friend says I should pursue it through the courts.",
        "I will start legal proceedings.",
    ],
)
def test_legal_words_escalate_whatever_the_classifier_says(body: str) -> None:
    assert legal_words(_state(body, legal=False), Limits()) == "legal_threat"
    assert legal_words in TRIGGERS


def test_legal_words_only_add_escalations() -> None:
    from nodes.support.rules import legal_threat

    calm = _state("Where is my parcel?", legal=True)
    assert legal_words(calm, Limits()) is None
    assert legal_threat(calm, Limits()) == "legal_threat", "the classifier's flag still counts"


@pytest.mark.parametrize(
    "text",
    [
        "The money is on its way back to your card.",
        "We have credited your card with the amount.",
        "Your payment has been sent back to your account.",
    ],
)
def test_money_moved_phrases_are_found(text: str) -> None:
    assert find_refund_promise(text) is not None


def test_a_reply_stating_money_moved_fails_when_nothing_was_issued() -> None:
    reply = ReplyDraft(
        reply="All sorted, thank you.",
        promises_refund=False,
        refund_amount=None,
        states_money_moved=True,
    )
    ctx = GateContext(ticket=ticket("Where is my money?"), outcome=outcome())
    refused = run_gate("draft_reply", reply, ctx)
    assert not refused.passed
    assert "states_money_moved" in {v.field for v in refused.violations}
    text_only = reply.model_copy(
        update={"reply": "It is on its way back to your card.", "states_money_moved": False}
    )
    assert not run_gate("draft_reply", text_only, ctx).passed
    ok = reply.model_copy(update={"states_money_moved": False})
    assert run_gate("draft_reply", ok, ctx).passed
    assert order()["order_id"] == ORDER_ID
