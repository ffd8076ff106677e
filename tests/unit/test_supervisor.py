"""The support workflow's routes, as a table of states: plain dicts, no model, no graph."""

from __future__ import annotations

from typing import Any

import pytest

from graphs.support import SUPPORT
from nodes.router import RoutingError, plan_for
from nodes.router import route_next_step as route_with_spec
from nodes.spec import Limits
from nodes.support.rules import refund_to_issue, reply_outcome, reply_tier
from state.support import SupportContext

SUPPORT_PLAN = plan_for({}, SUPPORT, SUPPORT.limits(None))


def route_next_step(state: dict[str, Any], limits: Limits | None = None) -> Any:
    return route_with_spec(state, SUPPORT, limits or SUPPORT.limits(None))


TICKET = {
    "ticket_id": "T-1",
    "customer_id": "C001",
    "subject": "Refund",
    "body": "Please refund ORD-10001",
    "channel": "email",
}
ORDER = {
    "order_id": "ORD-10001",
    "customer_id": "C001",
    "status": "delivered",
    "total": 35.0,
    "currency": "USD",
    "item": "mug",
    "ordered_at": "2026-11-10",
}
CLASSIFY_REFUND = {
    "intent": "refund_request",
    "confidence": 0.9,
    "legal_threat": False,
    "summary": "s",
}
CLASSIFY_STATUS = {
    "intent": "order_status",
    "confidence": 0.9,
    "legal_threat": False,
    "summary": "s",
}
EXTRACT = {"order_id": "ORD-10001", "amount": 35.0, "currency": "USD", "item": None, "reason": None}
FACTS = {"today": "2026-11-24", "customer": None, "order": ORDER, "prior_refunds": [], "policy": {}}
APPROVE_SMALL = {
    "approve": True,
    "amount": 35.0,
    "currency": "USD",
    "reason_code": "eligible",
    "rationale": "r",
    "confidence": 0.9,
}
APPROVE_LARGE = {**APPROVE_SMALL, "amount": 120.0}
DENY = {**APPROVE_SMALL, "approve": False, "amount": 0.0, "reason_code": "too_old"}
REPLY = {"reply": "Done", "promises_refund": False, "refund_amount": None}


def state(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ticket": TICKET, "status": "running", "plan": SUPPORT_PLAN}
    base.update(fields)
    return base


def passed(*sids: str) -> dict[str, Any]:
    return {
        sid: {"status": "passed", "attempt": 1, "tier": "small", "violations": []} for sid in sids
    }


def failed(sid: str, attempt: int, status: str = "failed") -> dict[str, Any]:
    return {sid: {"status": status, "attempt": attempt, "tier": "small", "violations": []}}


def targets(route: Any) -> list[str]:
    return [f"{d.subtask}@{d.tier}#{d.attempt}" for d in route.dispatches]


FACT_RESULTS = {"classify": CLASSIFY_REFUND, "extract": EXTRACT, "context": FACTS}

ROUTES = [
    ("intake rejected", {"ticket": {}, "status": "rejected"}, "finalize", []),
    ("no plan", {"ticket": TICKET, "status": "running"}, "plan", []),
    (
        "fresh plan dispatches classify and extract in parallel",
        state(),
        "dispatch",
        ["classify@small#1", "extract@small#1"],
    ),
    (
        "extract done: context and still classify",
        state(
            results={"extract": EXTRACT},
            attempts={"classify": 1, "extract": 1},
            gates={**passed("extract"), **failed("classify", 1)},
            failures={"classify": 1},
        ),
        "dispatch",
        ["classify@large#2", "context@tool#1"],
    ),
    (
        "gate failed once: retry on the large tier",
        state(
            results={"extract": EXTRACT, "context": FACTS},
            attempts={"classify": 1},
            gates=failed("classify", 1),
            failures={"classify": 1},
        ),
        "dispatch",
        ["classify@large#2"],
    ),
    (
        "gate failed three times: escalate",
        state(
            results={"extract": EXTRACT, "context": FACTS},
            attempts={"classify": 3},
            gates=failed("classify", 3),
            failures={"classify": 3},
        ),
        "escalate",
        [],
    ),
    (
        "classification withdrawn after the extractor disagreed: retry on large",
        state(
            results={"classify": None, "extract": EXTRACT, "context": FACTS},
            attempts={"classify": 1, "extract": 2},
            gates={**failed("classify", 1), **passed("extract")},
            failures={"classify": 1},
        ),
        "dispatch",
        ["classify@large#2"],
    ),
    (
        "provider unavailable: park",
        state(
            attempts={"classify": 1, "extract": 1},
            gates={**failed("classify", 1, "unavailable"), **passed("extract")},
            results={"extract": EXTRACT},
        ),
        "park",
        [],
    ),
    (
        "parked then cleared: dispatch again",
        state(
            attempts={"classify": 1, "extract": 1},
            gates={**failed("classify", 1, "cleared"), **passed("extract")},
            results={"extract": EXTRACT, "context": FACTS},
        ),
        "dispatch",
        ["classify@small#2"],
    ),
    (
        "refund intent with facts: decide on the large tier",
        state(results=FACT_RESULTS),
        "dispatch",
        ["decide@large#1"],
    ),
    (
        "no refund intent: straight to the reply",
        state(results={**FACT_RESULTS, "classify": CLASSIFY_STATUS}),
        "dispatch",
        ["reply@small#1"],
    ),
    (
        "small approved refund: act",
        state(results={**FACT_RESULTS, "decide": APPROVE_SMALL}, facts=FACTS),
        "act",
        [],
    ),
    (
        "refund above the limit: escalate",
        state(results={**FACT_RESULTS, "decide": APPROVE_LARGE}, facts=FACTS),
        "escalate",
        [],
    ),
    (
        "legal threat: escalate",
        state(results={**FACT_RESULTS, "classify": {**CLASSIFY_STATUS, "legal_threat": True}}),
        "escalate",
        [],
    ),
    (
        "low confidence: escalate",
        state(results={**FACT_RESULTS, "classify": {**CLASSIFY_STATUS, "confidence": 0.2}}),
        "escalate",
        [],
    ),
    (
        "denied refund: reply without acting",
        state(results={**FACT_RESULTS, "decide": DENY}, facts=FACTS),
        "dispatch",
        ["reply@large#1"],
    ),
    (
        "refund issued: reply",
        state(
            results={**FACT_RESULTS, "decide": APPROVE_SMALL},
            facts=FACTS,
            action_results={"issue_refund": {"issued": True, "amount": 35.0, "currency": "USD"}},
        ),
        "dispatch",
        ["reply@large#1"],
    ),
    (
        "reviewer approved the large refund: act",
        state(
            results={**FACT_RESULTS, "decide": APPROVE_LARGE},
            facts=FACTS,
            review={"decision": "approve", "amount": None, "note": None},
        ),
        "act",
        [],
    ),
    (
        "reviewer rejected: reply, no act",
        state(
            results={**FACT_RESULTS, "decide": APPROVE_LARGE},
            facts=FACTS,
            review={"decision": "reject", "amount": None, "note": None},
        ),
        "dispatch",
        ["reply@large#1"],
    ),
    (
        "retry budget exhausted and reviewed: waived, move on",
        state(
            results={"extract": EXTRACT, "context": FACTS},
            attempts={"classify": 3},
            gates=failed("classify", 3),
            failures={"classify": 3},
            review={"decision": "reject", "amount": None, "note": None},
        ),
        "dispatch",
        ["reply@large#1"],
    ),
    (
        "everything done: finalize",
        state(results={**FACT_RESULTS, "classify": CLASSIFY_STATUS, "reply": REPLY}),
        "finalize",
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "given", "kind", "dispatched"), ROUTES, ids=[r[0] for r in ROUTES]
)
def test_route_table(name: str, given: dict[str, Any], kind: str, dispatched: list[str]) -> None:
    route = route_next_step(given)
    assert route.kind == kind, name
    assert targets(route) == dispatched


def test_escalation_reasons() -> None:
    assert route_next_step(state(results={**FACT_RESULTS, "decide": APPROVE_LARGE})).reason == (
        "refund_above_auto_limit"
    )
    legal = {**CLASSIFY_STATUS, "legal_threat": True}
    assert (
        route_next_step(state(results={**FACT_RESULTS, "classify": legal})).reason == "legal_threat"
    )
    exhausted = route_next_step(
        state(gates=failed("extract", 3), failures={"extract": 3}, attempts={"extract": 3})
    )
    assert (exhausted.reason, exhausted.detail) == (
        "retry_budget_exhausted",
        {"subtasks": ["extract"]},
    )


def test_limits_are_read_from_settings() -> None:
    given = state(results={**FACT_RESULTS, "decide": APPROVE_LARGE}, facts=FACTS)
    generous = SUPPORT.limits(SupportContext(auto_approve_limit=200.0))
    assert route_next_step(given, generous).kind == "act"
    budget = state(gates=failed("extract", 1), failures={"extract": 1}, attempts={"extract": 1})
    strict = SUPPORT.limits(SupportContext(retry_budget=1))
    assert route_next_step(budget, strict).kind == "escalate"


def test_unknown_subtask_raises() -> None:
    with pytest.raises(RoutingError, match="unknown subtasks"):
        dance = {"id": "dance", "subtask": "dance", "agent": "dance", "depends_on": []}
        route_next_step(state(plan={**SUPPORT_PLAN, "dance": dance}))


def test_refund_to_issue_follows_the_review() -> None:
    base = state(results={**FACT_RESULTS, "decide": APPROVE_LARGE}, facts=FACTS)
    assert refund_to_issue(base) == {"amount": 120.0, "currency": "USD", "order_id": "ORD-10001"}
    edited = {**base, "review": {"decision": "edit", "amount": 20.0}}
    assert refund_to_issue(edited) == {"amount": 20.0, "currency": "USD", "order_id": "ORD-10001"}
    assert refund_to_issue({**base, "review": {"decision": "reject"}}) is None
    assert refund_to_issue(state(results={**FACT_RESULTS, "decide": DENY}, facts=FACTS)) is None


def test_reply_outcome_never_shows_an_unissued_refund() -> None:
    approved = state(results={**FACT_RESULTS, "decide": APPROVE_SMALL}, facts=FACTS)
    assert reply_outcome(approved)["refund"] is None
    refund = {"issued": True, "amount": 35.0, "currency": "USD"}
    issued = {**approved, "action_results": {"issue_refund": refund}}
    assert reply_outcome(issued)["refund"] == {"issued": True, "amount": 35.0, "currency": "USD"}
    assert reply_outcome(issued)["decision"] == "approved"
    denied = state(results={**FACT_RESULTS, "decide": DENY}, facts=FACTS)
    assert (reply_outcome(denied)["decision"], reply_outcome(denied)["denial_reason"]) == (
        "denied",
        "too_old",
    )


def test_reply_tier_by_complexity() -> None:
    simple = state(results={"classify": CLASSIFY_STATUS})
    limits = SUPPORT.limits(None)
    assert reply_tier(simple, limits) == "small"
    long_body = {**simple, "ticket": {**TICKET, "body": "x" * 700}}
    assert reply_tier(long_body, limits) == "large"
    assert reply_tier(state(results={"classify": CLASSIFY_REFUND}), limits) == "large"


def test_a_review_edit_on_an_order_already_refunded_says_so() -> None:
    from nodes.support.review import ReviewDecision, check_review_against_facts

    earlier = {
        "idempotency_key": "refund:T-0:ORD-10001",
        "order_id": "ORD-10001",
        "ticket_id": "T-0",
        "amount": 35.0,
        "currency": "USD",
        "issued_at": "2026-11-20",
    }
    facts = {**FACTS, "customer": {"customer_id": "C001"}, "prior_refunds": [earlier]}
    given = state(results={**FACT_RESULTS, "context": facts, "decide": DENY})
    edit = ReviewDecision(decision="edit", amount=10.0)
    error = check_review_against_facts(edit, given)
    assert error is not None and "already refunded: 35.00 USD (ticket T-0)" in error
    # The ticket's own refund (a replay) is not "already refunded by someone else".
    own = {**earlier, "ticket_id": TICKET["ticket_id"]}
    mine = state(results={**FACT_RESULTS, "context": {**facts, "prior_refunds": [own]}})
    assert check_review_against_facts(edit, mine) is None
    # Approving a packet that proposes nothing (no decision was reached) is refused.
    stopped = state(results={"extract": EXTRACT, "context": FACTS})
    refusal = check_review_against_facts(ReviewDecision(decision="approve"), stopped)
    assert refusal is not None and refusal.startswith("nothing to approve")
