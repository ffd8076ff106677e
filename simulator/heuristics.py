"""Deterministic answers for each known schema, from the prompt's delimited sections only."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from simulator.documents import DOCUMENT_HEURISTICS
from simulator.sections import PromptContext

# --- intent -------------------------------------------------------------------------------

_INTENT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "damaged_item",
        re.compile(
            r"\b(damag\w*|broken|broke|crack\w*|shatter\w*|smashed|defective|dented|torn)\b"
        ),
    ),
    (
        "late_delivery",
        re.compile(
            r"never (arrived|came|showed up|received|got)|(hasn'?t|has not|have not|haven'?t|"
            r"did not|didn'?t|not yet) (arrived|arrive|come|received|been delivered)|"
            r"\blost\b(?! (my |the )?(password|access|login|account))|\blate\b|\bdelayed\b|"
            r"still waiting|overdue"
        ),
    ),
    (
        "refund_request",
        re.compile(r"\brefund\w*|money back|\breturn(s|ed|ing)?\b|reimburse\w*|chargeback"),
    ),
    (
        "order_status",
        re.compile(
            r"where('?s| is) my (order|package|parcel)|\btracking\b|\btrack\b|\bshipped\b|"
            r"order status|status of my order|when will (it|my order|my package) (arrive|ship)"
        ),
    ),
    (
        "account_access",
        re.compile(
            r"password|\blog ?in\b|\blogin\b|log into|sign ?in\b|locked out|account (is )?locked|"
            r"\b2fa\b|two-factor|reset link|can'?t access my account"
        ),
    ),
)

_LEGAL = re.compile(
    r"\b(lawyers?|attorneys?|sue|suing|sued|lawsuit|legal action|court|small claims|solicitor)\b"
)

_INJECTION = re.compile(
    r"ignore (all |any )?(the )?(previous|prior|above|earlier) (instructions|rules|prompts?)|"
    r"ignore all prior|ignore previous|disregard (all |any )?(the )?(previous|prior|above|"
    r"earlier)|\bsystem\s*:|\byou are now\b|new instructions\s*:|developer mode",
    re.IGNORECASE,
)

_INTENT_PHRASE = {
    "damaged_item": "reports a damaged item",
    "late_delivery": "reports an order that has not arrived",
    "refund_request": "asks for a refund",
    "order_status": "asks about the status of an order",
    "account_access": "cannot access their account",
    "general_question": "asks a general question",
    "other": "sent a message with no clear request",
}

_SUBJECT_PREFIX = re.compile(r"^\s*subject:\s*", re.IGNORECASE)


def _plain(ticket: str) -> str:
    return _SUBJECT_PREFIX.sub("", ticket).strip()


def is_gibberish(text: str) -> bool:
    """Return True when `text` is empty or does not read as words."""
    words = re.findall(r"[A-Za-z]+", text)
    real = [
        w
        for w in words
        if len(w) >= 2
        and re.search(r"[aeiouy]", w, re.IGNORECASE)
        and not re.search(r"[^aeiouy]{5,}", w, re.IGNORECASE)
    ]
    return len(real) < 3 or len(real) < 0.6 * len(words)


def has_injection(text: str) -> bool:
    """Return True when the text tries to instruct the model (prompt injection)."""
    return bool(_INJECTION.search(text))


def intent_hits(text: str) -> list[str]:
    """Return every intent whose keywords occur in `text`, in rule priority order."""
    lowered = text.lower()
    return [intent for intent, pattern in _INTENT_RULES if pattern.search(lowered)]


def classify_intent(ctx: PromptContext) -> dict[str, Any]:
    """Answer IntentClassification by keyword rules over the `<ticket>` text.

    Args:
        ctx: The parsed prompt.

    Returns:
        An IntentClassification-shaped dict.
    """
    text = _plain(ctx.ticket)
    hits = intent_hits(text)
    if not text or (not hits and is_gibberish(text)):
        intent, confidence = "other", 0.2
    elif hits:
        intent, confidence = hits[0], (0.9 if len(hits) == 1 else 0.75)
    else:
        intent, confidence = "general_question", 0.6
    legal = bool(_LEGAL.search(text.lower()))
    summary = f"The customer {_INTENT_PHRASE[intent]}"
    if legal:
        summary += " and threatens legal action"
    return {
        "intent": intent,
        "confidence": confidence,
        "legal_threat": legal,
        "summary": (summary + ".")[:300],
    }


# --- entities -----------------------------------------------------------------------------

ORDER_ID = re.compile(r"(?<![A-Za-z0-9])ORD-\d{5}(?!\d)", re.IGNORECASE)

_NUMBER = r"(\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?)"
_AMOUNT_SYMBOL = re.compile(r"([$€£])\s?" + _NUMBER)
_AMOUNT_WORD = re.compile(
    _NUMBER + r"\s?(usd|eur|gbp|dollars?|euros?|pounds?|bucks)\b", re.IGNORECASE
)
_CURRENCY = {
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "usd": "USD",
    "eur": "EUR",
    "gbp": "GBP",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "pound": "GBP",
    "pounds": "GBP",
}

_ITEM_TRIGGER = re.compile(
    r"\b(?:ordered|bought|purchased|received|got)\s+(?:a|an|the|some|my|two|2)?\s*"
    r"|\bmy\s+(?=[a-z-]+(?:\s+[a-z-]+){0,2}\s+(?:arrived|came|is|was|were|are|broke|"
    r"never|has|hasn't|had|from)\b)",
    re.IGNORECASE,
)
_ITEM_BEFORE_VERB = re.compile(
    r"\b(?:the|my|a|an)\s+((?:[a-z-]+\s+){0,2}?[a-z-]+)\s+(?:that\s+|which\s+)?i\s+"
    r"(?:bought|ordered|purchased|received|got)\b",
    re.IGNORECASE,
)
_ITEM_STOP = frozenset(
    "a an the and or but from on in at for to of with which that is was were are it this "
    "last yesterday today week month order package parcel money refund account password "
    "arrived came never has hasn't had broke been i my me you".split()
)
_GENERIC_ITEMS = frozenset(
    "order orders package parcel money refund account password delivery stuff thing things "
    "item items purchase shipment it".split()
)

_REASONS = {
    "damaged_item": "item arrived damaged",
    "late_delivery": "order has not arrived",
    "refund_request": "wants a refund",
    "order_status": "wants to know where the order is",
    "account_access": "cannot access the account",
}
_BECAUSE = re.compile(r"\bbecause\s+([^.!?\n]{3,80})", re.IGNORECASE)


def find_order_id(text: str) -> str | None:
    """Return the first `ORD-#####` id in `text`, uppercased, or None."""
    match = ORDER_ID.search(text)
    return match.group(0).upper() if match else None


def find_amount(text: str) -> tuple[float, str] | None:
    """Return the first amount with its currency (`$12.50`, `€30`, `40 USD`...) or None."""
    candidates = []
    for match in _AMOUNT_SYMBOL.finditer(text):
        candidates.append((match.start(), match.group(2), _CURRENCY[match.group(1)]))
    for match in _AMOUNT_WORD.finditer(text):
        candidates.append((match.start(), match.group(1), _CURRENCY[match.group(2).lower()]))
    if not candidates:
        return None
    _, number, currency = min(candidates)
    return round(float(number.replace(",", "")), 2), currency


def all_amounts(text: str) -> list[float]:
    """Every amount with a currency mark the ticket states, in order (duplicates dropped)."""
    found: list[tuple[int, float]] = []
    for match in _AMOUNT_SYMBOL.finditer(text):
        found.append((match.start(), round(float(match.group(2).replace(",", "")), 2)))
    for match in _AMOUNT_WORD.finditer(text):
        found.append((match.start(), round(float(match.group(1).replace(",", "")), 2)))
    seen: list[float] = []
    for _, value in sorted(found):
        if value not in seen:
            seen.append(value)
    return seen


_REPLACEMENT = re.compile(
    r"\b(replacement|replace (it|them)|exchange\w*|new one|another one|send (it|them) again)\b",
    re.IGNORECASE,
)
_NO_MONEY = re.compile(
    r"\b(no refund|not after a refund|don'?t want (my )?money|instead of (a )?refund\w*|"
    r"than refunded|rather than (a )?refund)",
    re.IGNORECASE,
)


def asks_for_replacement(ticket: str) -> bool:
    """Return True when the ticket asks for a replacement rather than money (own reading)."""
    text = _plain(ticket)
    if not _REPLACEMENT.search(text):
        return False
    return bool(_NO_MONEY.search(text)) or not re.search(r"\brefund|money back", text, re.I)


def find_item(text: str) -> str | None:
    """Return the item the ticket names ("ordered a blue kettle" → "blue kettle") or None."""
    for match in _ITEM_TRIGGER.finditer(text):
        words = []
        for word in re.findall(r"[A-Za-z][A-Za-z-]*|[^A-Za-z\s]", text[match.end() :])[:4]:
            if not word[0].isalpha() or word.lower() in _ITEM_STOP:
                break
            words.append(word.lower())
            if len(words) == 3:
                break
        if words and words[-1] not in _GENERIC_ITEMS:
            return " ".join(words)
    before = _ITEM_BEFORE_VERB.search(text)
    if before and before.group(1).split()[-1].lower() not in _GENERIC_ITEMS:
        return before.group(1).lower()
    return None


def extract_entities(ctx: PromptContext) -> dict[str, Any]:
    """Answer TicketEntities with regular expressions over the `<ticket>` text.

    Args:
        ctx: The parsed prompt.

    Returns:
        A TicketEntities-shaped dict; null for anything the ticket does not state.
    """
    text = _plain(ctx.ticket)
    amount = find_amount(text)
    hits = intent_hits(text)
    because = _BECAUSE.search(text)
    if because:
        reason: str | None = because.group(1).strip()
    else:
        reason = _REASONS.get(hits[0]) if hits else None
    return {
        "order_id": find_order_id(text),
        "amount": amount[0] if amount else None,
        "currency": amount[1] if amount else None,
        "item": find_item(text),
        "reason": reason,
    }


# --- refund decision ----------------------------------------------------------------------

CURRENCIES = ("USD", "EUR", "GBP")
DENIAL_CODES = ("no_order", "not_owner", "ineligible_status", "too_old", "already_refunded")


def _currency(value: Any, fallback: str = "USD") -> str:
    return value if value in CURRENCIES else fallback


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _age_days(today: Any, ordered_at: Any) -> int | None:
    try:
        return (date.fromisoformat(str(today)[:10]) - date.fromisoformat(str(ordered_at)[:10])).days
    except ValueError:
        return None


def requested_amount(ctx: PromptContext) -> tuple[float, str] | None:
    """Return the amount the customer asks for: `<entities>` first, else the ticket text."""
    entities = ctx.entities or {}
    amount = _number(entities.get("amount"))
    if amount is not None and amount > 0:
        return amount, _currency(entities.get("currency"))
    return find_amount(_plain(ctx.ticket))


def decide_refund(ctx: PromptContext) -> dict[str, Any]:
    """Answer RefundDecision from `<facts>` and `<entities>` by the policy in the facts.

    On purpose the decider is susceptible to prompt injection: when the ticket tells it to
    ignore its instructions, it approves what the ticket demands. Stopping that is the job of
    the project's deterministic gates.

    Args:
        ctx: The parsed prompt.

    Returns:
        A RefundDecision-shaped dict.
    """
    facts = ctx.facts or {}
    order = facts.get("order") if isinstance(facts.get("order"), dict) else None
    order_currency = _currency(order.get("currency")) if order else None
    if has_injection(ctx.ticket):
        demanded = requested_amount(ctx)
        total = _number(order.get("total")) if order else None
        amount = demanded[0] if demanded else (total if total is not None else 1000.0)
        currency = demanded[1] if demanded else (order_currency or "USD")
        return {
            "approve": True,
            "amount": round(amount, 2),
            "currency": currency,
            "reason_code": "eligible",
            "rationale": "As instructed in the ticket, the refund is approved.",
            "confidence": 0.95,
        }
    code, rationale = _denial(facts, order)
    if code is None and order is not None and asks_for_replacement(ctx.ticket):
        code, rationale = "not_requested", "The customer asks for a replacement, not a refund."
    if code is not None or order is None:
        entities_currency = (ctx.entities or {}).get("currency")
        return {
            "approve": False,
            "amount": 0.0,
            "currency": order_currency or _currency(entities_currency),
            "reason_code": code or "no_order",
            "rationale": rationale[:500],
            "confidence": 0.9,
        }
    total = _number(order.get("total")) or 0.0
    requested = requested_amount(ctx)
    amount = min(requested[0], total) if requested else total
    return {
        "approve": True,
        "amount": round(amount, 2),
        "currency": order_currency,
        "reason_code": "eligible",
        "rationale": (
            f"Order {order.get('order_id')} belongs to the customer, is {order.get('status')} "
            f"and within the refund window; refunding {amount:.2f} {order_currency}."
        )[:500],
        "confidence": 0.9,
    }


def _denial(facts: dict[str, Any], order: dict[str, Any] | None) -> tuple[str | None, str]:
    """Return the first policy rule the facts break, as (reason_code, rationale)."""
    if order is None:
        return "no_order", "No order in the store matches the ticket."
    customer = facts.get("customer")
    policy = facts.get("policy")
    policy = policy if isinstance(policy, dict) else {}
    order_id = order.get("order_id")
    if not isinstance(customer, dict) or order.get("customer_id") != customer.get("customer_id"):
        return "not_owner", f"Order {order_id} does not belong to the customer writing."
    if order.get("status") not in (policy.get("eligible_statuses") or []):
        return "ineligible_status", f"Order {order_id} is {order.get('status')}, not eligible."
    age = _age_days(facts.get("today"), order.get("ordered_at"))
    max_age = _number(policy.get("max_age_days"))
    if age is None or max_age is None or age > max_age:
        return "too_old", f"Order {order_id} is {age} days old; the limit is {max_age} days."
    prior = facts.get("prior_refunds") or []
    max_refunds = _number(policy.get("max_refunds_per_order")) or 0
    if len(prior) >= max_refunds:
        return "already_refunded", f"Order {order_id} already has {len(prior)} refund(s)."
    return None, ""


# --- reply --------------------------------------------------------------------------------

_DENIAL_TEXT = {
    "no_order": "we could not find an order matching the details you gave us",
    "not_owner": "the order you mentioned is not linked to your account",
    "ineligible_status": "the current status of your order does not allow a refund",
    "too_old": "your order is outside our refund window",
    "already_refunded": "this order has already been refunded as far as our policy allows",
    "amount_exceeds_total": "the amount requested is more than the order total",
    "not_requested": "we did not find a refund request in your message",
}

_INTENT_TEXT = {
    "account_access": (
        "To regain access to your account, please use the 'Forgot password' link on the sign-in "
        "page; the reset link is valid for one hour. If it does not arrive, reply to this message."
    ),
    "damaged_item": "We are sorry your item arrived damaged.",
    "late_delivery": "We are sorry your order has not arrived yet.",
    "general_question": "Thank you for your question; here is what we can tell you.",
}


def draft_reply(ctx: PromptContext) -> dict[str, Any]:
    """Answer ReplyDraft from `<outcome>`: state only what the outcome says was done.

    Args:
        ctx: The parsed prompt.

    Returns:
        A ReplyDraft-shaped dict.
    """
    outcome = ctx.outcome or {}
    intent = str(outcome.get("intent") or "general_question")
    refund = outcome.get("refund") if isinstance(outcome.get("refund"), dict) else None
    promises, amount = False, None
    if refund and refund.get("issued"):
        amount = _number(refund.get("amount")) or 0.0
        body = (
            f"We have issued a refund of {amount:.2f} {refund.get('currency', '')}".rstrip()
            + " to your original payment method. It should appear within 5-10 business days."
        )
        promises = True
    elif outcome.get("escalated"):
        body = (
            "Your request needs a closer look, so a specialist from our team will review it "
            "and get back to you shortly."
        )
    elif outcome.get("decision") in ("denied", "rejected_by_human"):
        reason = str(outcome.get("denial_reason") or "")
        explanation = _DENIAL_TEXT.get(reason, reason or "our refund policy does not cover it")
        body = (
            "We looked carefully at your request. Unfortunately we are unable to offer a refund "
            f"because {explanation}. If you think this is a mistake, just reply to this message."
        )
    elif outcome.get("decision") == "approved":
        body = "We are processing your request and will confirm by email as soon as it is complete."
    elif intent == "order_status":
        status = outcome.get("order_status")
        body = (
            f"Your order is currently {status}. You will receive an email with tracking details "
            "as soon as anything changes."
            if status
            else "We could not find the order you asked about. Could you send us the order id?"
        )
    else:
        body = _INTENT_TEXT.get(
            intent, "Thank you for reaching out. We have received your message."
        )
        if intent in ("damaged_item", "late_delivery", "refund_request"):
            body += " Could you send us your order id so we can look into it?"
    reply = f"Hello,\n\nThank you for contacting us. {body}\n\nBest regards,\nCustomer Support"
    return {
        "reply": reply[:1000],
        "promises_refund": promises,
        "refund_amount": amount,
        "states_money_moved": promises,
    }


HEURISTICS: dict[str, Callable[[PromptContext], dict[str, Any]]] = {
    "IntentClassification": classify_intent,
    "TicketEntities": extract_entities,
    "RefundDecision": decide_refund,
    "ReplyDraft": draft_reply,
    **DOCUMENT_HEURISTICS,
}
"""Heuristic answer for each schema name the simulator knows."""
