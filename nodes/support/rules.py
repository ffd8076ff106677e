"""The support workflow's rules, as the spec's predicates: what is needed, tiers, triggers, refund.

Pure functions of the run's state (and its settings); the generic router calls them.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from nodes.spec import Limits, State
from state.money import to_cents
from state.schemas import (
    REFUND_INTENTS,
    IntentClassification,
    RefundDecision,
    ReplyOutcome,
)
from state.support import SupportContext


def classification(state: State) -> IntentClassification | None:
    """The gated classification, typed (None until it passed its gate)."""
    raw = (state.get("results") or {}).get("classify")
    return IntentClassification.model_validate(raw) if raw else None


def decision(state: State) -> RefundDecision | None:
    """The gated refund decision, typed (None until it passed its gate)."""
    raw = (state.get("results") or {}).get("decide")
    return RefundDecision.model_validate(raw) if raw else None


def facts(state: State) -> dict[str, Any]:
    """The store's facts the context tool gathered (empty until it ran)."""
    return dict((state.get("results") or {}).get("context") or {})


def settings_of(limits: Limits) -> SupportContext:
    """The support run settings inside the router's limits (defaults when none)."""
    return limits.settings if isinstance(limits.settings, SupportContext) else SupportContext()


def needs_decision(state: State) -> bool:
    """`decide` runs only once the intent is known to ask for a refund."""
    found = classification(state)
    return found is not None and found.intent in REFUND_INTENTS


def reply_tier(state: State, limits: Limits) -> str:
    """Tier of the reply by complexity: refunds, escalations and long tickets get the large tier."""
    found = classification(state)
    body = (state.get("ticket") or {}).get("body") or ""
    complex_ticket = (
        (found is not None and (found.intent in REFUND_INTENTS or found.legal_threat))
        or state.get("review") is not None
        or len(body) > settings_of(limits).complex_ticket_chars
    )
    return "large" if complex_ticket else "small"


def legal_threat(state: State, limits: Limits) -> str | None:
    """A human handles any ticket the classifier flags as threatening legal action."""
    found = classification(state)
    return "legal_threat" if found is not None and found.legal_threat else None


LEGAL_WORDS = re.compile(
    r"\b(?:lawyers?|attorneys?|solicitors?|barristers?|counsel|sue|suing|sued|lawsuits?"
    r"|litigat\w*|courts?|tribunal|small[-\s]claims|legal\s+(?:action|proceedings|steps|claim"
    r"|case|advice|team|route)|proceedings|class[-\s]action|file\s+a\s+claim"
    r"|trading\s+standards|ombudsman)\b",
    re.IGNORECASE,
)
"""Words of a legal threat, read from the ticket itself (no model): a match escalates."""


def legal_words(state: State, limits: Limits) -> str | None:
    """A human handles a ticket whose words speak of legal action, whatever the classifier says.

    Deterministic and one-sided: it can only add an escalation the classifier missed (a
    flipped flag, a paraphrase), never remove one; "I won't sue" escalates too.
    """
    ticket = state.get("ticket") or {}
    text = f"{ticket.get('subject') or ''}\n{ticket.get('body') or ''}"
    return "legal_threat" if LEGAL_WORDS.search(text) else None


def low_confidence(state: State, limits: Limits) -> str | None:
    """A human looks when the classifier or the decider is unsure."""
    threshold = settings_of(limits).low_confidence
    for found in (classification(state), decision(state)):
        if found is not None and found.confidence < threshold:
            return "low_confidence"
    return None


def refund_above_limit(state: State, limits: Limits) -> str | None:
    """A human approves any refund above the auto-approve limit (not one already issued).

    A refund the ledger already holds under this ticket's key was approved when it was
    written (by the policy or a human); asking again could not undo it.
    """
    if facts(state).get("own_refund"):
        return None
    found = decision(state)
    limit = settings_of(limits).auto_approve_limit
    if found is not None and found.approve and to_cents(found.amount) > to_cents(limit):
        return "refund_above_auto_limit"
    return None


TRIGGERS = (legal_threat, legal_words, low_confidence, refund_above_limit)
"""The policy triggers, in the order their reasons are reported."""


def refund_to_issue(state: State) -> dict[str, Any] | None:
    """The refund the run should issue, from the gated decision and any human review.

    A refund the ledger already holds under this ticket's own key is due whatever this
    attempt decided: it is the ticket's own refund (issued before a crash, or by a second
    process handling the same ticket), and the action reports it as issued (`replayed`), so
    that the reply and the output agree with the ledger.

    Returns:
        `{"amount", "currency", "order_id"}`, or None when no refund is due.
    """
    own = facts(state).get("own_refund")
    if own:
        return {"amount": own["amount"], "currency": own["currency"], "order_id": own["order_id"]}
    found = decision(state)
    order = facts(state).get("order") or {}
    review = state.get("review")
    if review is not None and review["decision"] == "reject":
        return None
    if review is not None and review["decision"] == "edit":
        amount = float(review["amount"])
    elif found is not None and found.approve:
        amount = float(found.amount)
    else:
        return None
    if not order or amount <= 0:
        return None
    return {"amount": amount, "currency": order["currency"], "order_id": order["order_id"]}


def reply_outcome(state: State) -> ReplyOutcome:
    """What was decided and done, as `state.schemas.ReplyOutcome`, for the reply and its gate."""
    found = decision(state)
    order = facts(state).get("order") or {}
    review = state.get("review")
    refund = (state.get("action_results") or {}).get("issue_refund")
    verdict: Literal["approved", "denied", "rejected_by_human", "none"]
    if review is not None and review["decision"] == "reject":
        verdict = "rejected_by_human"
    elif refund and refund.get("issued"):
        verdict = "approved"
    elif found is not None:
        verdict = "denied"
    else:
        verdict = "none"
    denial = None
    if verdict == "denied":
        denial = "already_refunded" if refund and not refund.get("issued") else None
        denial = denial or (found.reason_code if found is not None else None)
    intent = classification(state)
    return {
        "intent": intent.intent if intent is not None else "other",
        "decision": verdict,
        "denial_reason": denial,
        "refund": (
            {"issued": True, "amount": refund["amount"], "currency": refund["currency"]}
            if refund and refund.get("issued")
            else None
        ),
        "order_status": order.get("status"),
        "escalated": review is not None,
    }
