"""Consistency gate: outputs must agree with their source text and with the facts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from state.money import to_cents
from state.schemas import (
    REFUND_INTENTS,
    Facts,
    IntentClassification,
    RefundDecision,
    ReplyDraft,
    ReplyOutcome,
    TicketEntities,
    Violation,
)
from validators.money import amount_in, money_in_text, numbers_in_text
from validators.policy import RefundPolicy, order_age_days
from validators.request import asked_amount, order_asked_about, refund_requested

CURRENCY_MARKS: dict[str, re.Pattern[str]] = {
    "USD": re.compile(r"\$|\bUSD\b|\bdollars?\b|\bbucks\b", re.IGNORECASE),
    "EUR": re.compile(r"€|\bEUR\b|\beuros?\b", re.IGNORECASE),
    "GBP": re.compile(r"£|\bGBP\b|\bpounds?\b|\bquid\b", re.IGNORECASE),
}
"""How a ticket may state each currency."""

_SPAN = r"(?:[^.!?\n]|(?<=\d)\.(?=\d))"
"""One character within a sentence (a decimal point does not end it)."""

_WE = r"\b(?:we|i)(?:'ve|’ve|\s+have|\s+has)?\s+(?:just\s+|now\s+|already\s+|successfully\s+)?"
_DONE = r"(?:issued|processed|approved|initiated|sent|granted|credited|completed)"

REFUND_PROMISES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        # we have refunded, I've refunded, we refunded
        _WE + r"refunded\b",
        # we've issued a refund, we have processed your refund
        _WE + _DONE + r"\b" + _SPAN + r"{0,40}?\brefund",
        # a refund of $35.00 has been issued
        r"\brefund\b" + _SPAN + r"{0,60}?\b(?:has|have)\s+(?:now\s+|already\s+)?been\s+" + _DONE,
        # your order has been refunded, $35 is being refunded
        r"\b(?:has|have)\s+(?:now\s+|already\s+)?been\s+refunded\b",
        r"\b(?:is|are)\s+being\s+refunded\b",
        # your refund is on its way
        r"\brefund\s+(?:is|was)\s+(?:on\s+its\s+way|being\s+processed|approved|issued|complete)",
        # refunded your order, refunded to your card
        r"\brefunded\s+(?:to\s+)?(?:your|you|the)\b",
        # you will receive a refund, you'll get your refund
        r"\byou(?:'ll|’ll|\s+will|\s+should|\s+are\s+going\s+to)\s+(?:soon\s+|now\s+|shortly\s+)?"
        r"(?:receive|get|see)\b" + _SPAN + r"{0,40}?\brefund",
        # we will refund you, we'll issue a refund
        r"\bwe(?:'ll|’ll|\s+will)\s+(?:now\s+|shortly\s+)?"
        r"(?:refund\b|(?:issue|process|send)\b" + _SPAN + r"{0,20}?\brefund)",
        # money moved, without the word refund
        r"\bon\s+(?:its|their)\s+way\s+back\s+to\s+(?:you|your)\b",
        _WE + r"(?:credited|reimbursed|repaid|returned\s+the\s+money)\b",
        r"\b(?:has|have)\s+(?:now\s+|already\s+)?been\s+(?:credited|reimbursed|repaid)\b",
        r"\b(?:money|amount|payment|sum)\b" + _SPAN + r"{0,30}?\b(?:is|was|has\s+been)\s+"
        r"(?:sent|returned|transferred|credited)\s+(?:back\s+)?to\s+(?:you|your)\b",
        r"\byou(?:'ll|’ll|\s+will|\s+should)\s+(?:soon\s+)?see\s+(?:the\s+)?"
        r"(?:money|credit|amount)\b",
    )
)
"""Deterministic patterns of a reply telling the customer a refund is (being) issued."""

_NEGATION = re.compile(r"\b(?:not|never|no|cannot|unable)\b|n['’]t\b", re.IGNORECASE)
"""A negation that turns a promise pattern into a denial ("we have not refunded the order")."""

_CLAUSE_END = re.compile(r"[!?;,:\n]|\.(?!\d)")


def find_refund_promise(text: str) -> str | None:
    """Find a phrase telling the customer a refund is (being) issued.

    A match whose clause (from the last punctuation before it to its end) holds a
    negation is a denial, not a promise.

    Args:
        text: A reply to a customer.

    Returns:
        The first promising phrase, or `None`.
    """
    for pattern in REFUND_PROMISES:
        for match in pattern.finditer(text):
            ends = [m.end() for m in _CLAUSE_END.finditer(text, 0, match.start())]
            clause = text[ends[-1] if ends else 0 : match.end()]
            if not _NEGATION.search(clause):
                return match.group(0)
    return None


_SPEAKS_OF_REFUND = re.compile(r"\brefund", re.IGNORECASE)

DENIAL_NEEDS_ORDER = frozenset(
    {"not_owner", "ineligible_status", "too_old", "already_refunded", "amount_exceeds_total"}
)
"""Denial reason codes that are only meaningful for an order the store holds."""


def _inconsistent(field: str, message: str) -> Violation:
    return Violation(kind="consistency", field=field, message=message)


def check_entities_consistent(entities: TicketEntities, ticket_text: str) -> list[Violation]:
    """Check that extracted entities occur in the ticket they were extracted from.

    The order id must occur (case-insensitive, as a whole token); the amount must occur
    as a number (35, 35.0 and 35.00 all match "$35"); a currency must be stated by its
    symbol, code or name.

    Args:
        entities: The validated entities.
        ticket_text: The ticket's subject and body.

    Returns:
        One `consistency` violation per entity the ticket does not state.
    """
    violations: list[Violation] = []
    if entities.order_id is not None:
        token = re.compile(
            rf"(?<![A-Za-z0-9]){re.escape(entities.order_id)}(?![A-Za-z0-9])", re.IGNORECASE
        )
        if not token.search(ticket_text):
            violations.append(
                _inconsistent("order_id", f"order id {entities.order_id!r} is not in the ticket")
            )
    if entities.amount is not None and not amount_in(entities.amount, numbers_in_text(ticket_text)):
        violations.append(
            _inconsistent("amount", f"amount {entities.amount!r} is not stated in the ticket")
        )
    if entities.currency is not None:
        mark = CURRENCY_MARKS.get(entities.currency)
        if mark is None or not mark.search(ticket_text):
            violations.append(
                _inconsistent(
                    "currency", f"currency {entities.currency} is not stated in the ticket"
                )
            )
    return violations


def check_decision_consistent(
    decision: RefundDecision,
    facts: Facts,
    customer_id: str | None = None,
    policy: RefundPolicy | None = None,
) -> list[Violation]:
    """Check that a decision's reason code agrees with its verdict and with the facts.

    An approval must say `eligible` and a denial must not; `eligible` needs an order,
    `no_order` needs none; `not_owner`, `ineligible_status`, `too_old`,
    `already_refunded` and `amount_exceeds_total` need an order and, for the first four,
    the fact they name to hold.

    Args:
        decision: The validated decision.
        facts: What gather_context found in the store.
        customer_id: The ticket's customer; by default `facts["customer"]`'s id.
        policy: The policy in force; by default the one in `facts["policy"]`.

    Returns:
        One `consistency` violation per disagreement (at most one).
    """
    code = decision.reason_code
    if decision.approve and code != "eligible":
        return [_inconsistent("reason_code", f"approves with the denial reason {code!r}")]
    if not decision.approve and code == "eligible":
        return [_inconsistent("reason_code", "denies with the reason 'eligible'")]
    order = facts["order"]
    if code == "eligible" and order is None:
        return [_inconsistent("reason_code", "'eligible' but the store has no such order")]
    if code == "no_order":
        if order is not None:
            return [
                _inconsistent("reason_code", f"'no_order' but order {order['order_id']} exists")
            ]
        return []
    if code not in DENIAL_NEEDS_ORDER:
        return []
    if order is None:
        return [_inconsistent("reason_code", f"{code!r} but the store has no such order")]
    policy = policy if policy is not None else RefundPolicy.from_facts(facts["policy"])
    if customer_id is None and facts["customer"] is not None:
        customer_id = facts["customer"]["customer_id"]
    if code == "not_owner" and order["customer_id"] == customer_id:
        return [_inconsistent("reason_code", "'not_owner' but the order is the customer's")]
    if code == "ineligible_status" and order["status"] in policy.eligible_statuses:
        return [
            _inconsistent("reason_code", f"'ineligible_status' but {order['status']!r} is eligible")
        ]
    if code == "too_old":
        age = order_age_days(order, facts["today"])
        if age is not None and age <= policy.max_age_days:
            return [_inconsistent("reason_code", f"'too_old' but the order is {age} days old")]
    if code == "already_refunded" and not facts["prior_refunds"]:
        return [_inconsistent("reason_code", "'already_refunded' but the order has no refund")]
    return []


def check_reply_consistent(reply: ReplyDraft, outcome: ReplyOutcome) -> list[Violation]:
    """Check that a reply promises no refund, and no amount, that the outcome does not show.

    The model's own flags are checked, and, independently of them, the text: deterministic
    patterns of a refund promise when none was issued, and any money amount differing from
    the issued one when the text speaks of a refund.

    Args:
        reply: The validated reply draft.
        outcome: What was decided and done.

    Returns:
        One `consistency` violation per unsupported claim.
    """
    refund = outcome["refund"]
    violations: list[Violation] = []
    if refund is None or not refund["issued"]:
        if reply.promises_refund:
            violations.append(
                _inconsistent("promises_refund", "promises a refund that was not issued")
            )
        if reply.states_money_moved:
            violations.append(
                _inconsistent("states_money_moved", "says money moved, but nothing was issued")
            )
        if reply.refund_amount is not None and reply.refund_amount != 0:
            violations.append(
                _inconsistent("refund_amount", "mentions a refunded amount but none was issued")
            )
        promise = find_refund_promise(reply.reply)
        if promise is not None:
            violations.append(
                _inconsistent("reply", f"text promises a refund that was not issued: {promise!r}")
            )
        return violations
    claimed = reply.refund_amount
    if claimed is not None and (
        not math.isfinite(claimed) or to_cents(claimed) != to_cents(refund["amount"])
    ):
        violations.append(
            _inconsistent(
                "refund_amount",
                f"says {claimed:.2f} was refunded; {refund['amount']:.2f} was issued",
            )
        )
    if _SPEAKS_OF_REFUND.search(reply.reply):
        for values in money_in_text(reply.reply):
            if not amount_in(refund["amount"], values):
                shown = ", ".join(sorted(str(v) for v in values))
                violations.append(
                    _inconsistent(
                        "reply", f"text states {shown}; the refund issued is {refund['amount']:.2f}"
                    )
                )
                break
    return violations


def check_intent_consistent(
    classification: IntentClassification, entities: Mapping[str, Any] | None
) -> list[Violation]:
    """Check the classifier against the extractor: a ticket that asks for money wants money back.

    Two agents read the same ticket; when the extractor found an amount the customer asks
    for and the classifier's intent is not a refund intent, one of them is wrong, so the
    classification is refused (and retried on the large tier with this reason).

    Args:
        classification: The validated classification.
        entities: The extractor's gated output, when it is known.

    Returns:
        One `consistency` violation on `intent`, or none.
    """
    amount = (entities or {}).get("amount")
    if amount and classification.intent not in REFUND_INTENTS:
        return [
            _inconsistent(
                "intent",
                f"{classification.intent!r} but the customer asks for {float(amount):.2f}",
            )
        ]
    return []


def check_decision_amount(
    decision: RefundDecision, entities: Mapping[str, Any] | None, facts: Facts
) -> list[Violation]:
    """Check an approved amount against the policy's rule: what was asked, capped at the total.

    Args:
        decision: The validated decision.
        entities: The extractor's gated output (its `amount` is what the customer asked for).
        facts: The store's facts (the order's total).

    Returns:
        One `consistency` violation on `amount`, or none.
    """
    order = facts["order"]
    if not decision.approve or order is None:
        return []
    requested = (entities or {}).get("amount")
    expected = min(float(requested), order["total"]) if requested else order["total"]
    if to_cents(decision.amount) != to_cents(expected):
        return [
            _inconsistent(
                "amount",
                f"approves {decision.amount:.2f}; the policy gives {expected:.2f} "
                "(the amount asked for, capped at the order total)",
            )
        ]
    return []


def check_decision_matches_request(
    decision: RefundDecision, ticket_text: str, facts: Facts
) -> list[Violation]:
    """Check an approval against what the ticket itself asks, read independently and conservatively.

    A refund needs a request for one (a replacement asked is no refund); the amount is the
    amount asked for (capped at the order total), not any amount in the text; when the ticket
    names several orders, the refunded one is the one the request names. When the text
    leaves any of this in doubt, the approval is refused: a human decides rather than pay.

    Args:
        decision: The validated decision.
        ticket_text: The ticket's subject and body.
        facts: The store's facts (the order and its total).

    Returns:
        `consistency` violations on `approve`, `amount` or `order_id`; none for a denial.
    """
    if not decision.approve:
        return []
    asked = refund_requested(ticket_text)
    if asked == "no":
        return [_inconsistent("approve", "the ticket asks for a replacement, not a refund")]
    if asked == "unclear":
        return [_inconsistent("approve", "no clear request for a refund in the ticket")]
    violations: list[Violation] = []
    order = facts["order"]
    reading, named = order_asked_about(ticket_text)
    if order is not None and (reading != "yes" or named != order["order_id"].upper()):
        violations.append(
            _inconsistent(
                "order_id",
                f"refund on {order['order_id']}, but the ticket asks about "
                f"{named or 'no single order'}",
            )
        )
    amount = asked_amount(ticket_text)
    if amount.kind == "unclear":
        violations.append(
            _inconsistent("amount", "cannot tell which of the ticket's amounts is asked for")
        )
    elif order is not None:
        total = order["total"]
        allowed = (
            {min(value, Decimal(to_cents(total)) / 100) for value in amount.readings}
            if amount.kind == "one"
            else {Decimal(to_cents(total)) / 100}
        )
        if not amount_in(decision.amount, allowed):
            shown = ", ".join(sorted(f"{v:.2f}" for v in allowed))
            violations.append(
                _inconsistent(
                    "amount",
                    f"approves {decision.amount:.2f}; the ticket asks for {shown} "
                    "(capped at the order total)",
                )
            )
    return violations


def check_entities_amount_asked(entities: TicketEntities, ticket_text: str) -> list[Violation]:
    """Check that an extracted amount is the one asked for, when the ticket asks for money.

    Any amount in the text passes `check_entities_consistent`; this one refuses a price paid
    taken for the sum asked. It stays silent when the ticket asks no refund, or when the
    asked amount cannot be told (the decision's gate handles that).

    Args:
        entities: The validated entities.
        ticket_text: The ticket's subject and body.

    Returns:
        One `consistency` violation on `amount`, or none.
    """
    if entities.amount is None or refund_requested(ticket_text) != "yes":
        return []
    asked = asked_amount(ticket_text)
    if asked.kind == "one" and not amount_in(entities.amount, set(asked.readings)):
        shown = ", ".join(sorted(f"{v:.2f}" for v in asked.readings))
        return [
            _inconsistent("amount", f"extracted {entities.amount:.2f}; the ticket asks {shown}")
        ]
    return []
