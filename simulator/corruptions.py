"""Schema-valid corruptions of an answer: wrong labels or fields, invented or implausible values."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Literal, get_args

from simulator.document_corruptions import DOCUMENT_CORRUPTIONS
from simulator.draws import Draws
from simulator.heuristics import (
    CURRENCIES,
    DENIAL_CODES,
    ORDER_ID,
    all_amounts,
    asks_for_replacement,
    find_amount,
    requested_amount,
)
from simulator.sections import PromptContext
from state.schemas import Intent

CorruptionKind = Literal[
    "wrong_label",
    "wrong_field",
    "invented_value",
    "implausible",
    "span_shift",
    "wrong_currency",
    "misread_amount",
    "dangling_relation",
    "other_amount",
    "approve_replacement",
    "flip_legal",
    "swap_order",
    "misread_paraphrase",
]
"""Every kind of corruption; `span_shift` .. `dangling_relation` exist for the documents only,
the last five (the realistic kinds) for the support schemas only."""
GENERIC_KINDS: frozenset[str] = frozenset({"wrong_label", "invented_value", "implausible"})
"""Kinds that flip the booleans of an answer to a schema the simulator does not know."""
Corruption = Callable[[dict[str, Any], PromptContext, Draws], dict[str, Any] | None]
"""Takes a copy of the answer; returns the corrupted answer, or None when it does not apply."""

INTENTS: tuple[str, ...] = get_args(Intent)


def invented_order_id(ctx: PromptContext, draws: Draws, purpose: str = "invent:order") -> str:
    """Return an `ORD-#####` id that does not occur in the prompt."""
    number = draws.integer(purpose, 10000, 99999)
    upper = ctx.text.upper()
    while f"ORD-{number}" in upper:
        number = 10000 + (number - 10000 + 7919) % 90000
    return f"ORD-{number}"


def invented_amount(ctx: PromptContext, draws: Draws, purpose: str = "invent:amount") -> float:
    """Return an amount with cents (e.g. 137.43) that the ticket does not state."""
    amount = round(draws.integer(purpose, 1500, 49999) / 100, 2)
    stated = find_amount(ctx.ticket)
    if stated and stated[0] == amount:
        amount = round(amount + 11.11, 2)
    return amount


def _other(value: Any, options: tuple[Any, ...], draws: Draws, purpose: str) -> Any:
    return draws.choice(purpose, tuple(o for o in options if o != value))


def _order_total(ctx: PromptContext) -> float | None:
    order = (ctx.facts or {}).get("order")
    total = order.get("total") if isinstance(order, dict) else None
    return float(total) if isinstance(total, int | float) and not isinstance(total, bool) else None


# --- IntentClassification -----------------------------------------------------------------


def _intent_wrong_label(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    value["intent"] = _other(value.get("intent"), INTENTS, draws, "corrupt:intent")
    return value


def _intent_wrong_field(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    if draws.uniform("corrupt:intent_field") < 0.5:
        value["legal_threat"] = not value.get("legal_threat")
    else:
        value["confidence"] = round(1.0 - float(value.get("confidence", 0.5)), 2)
    return value


def _intent_invented(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    order_id = invented_order_id(ctx, draws)
    value["summary"] = f"{value.get('summary', '')} It concerns order {order_id}."[:300]
    return value


def _intent_implausible(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    value = _intent_wrong_label(value, ctx, draws)
    value["confidence"] = 0.99
    return value


def _intent_flip_legal(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    value["legal_threat"] = not value.get("legal_threat")
    return value


NEIGHBOUR_INTENTS: dict[str, tuple[str, ...]] = {
    "refund_request": ("order_status", "general_question"),
    "damaged_item": ("general_question", "order_status"),
    "late_delivery": ("order_status",),
    "order_status": ("late_delivery", "general_question"),
    "account_access": ("general_question",),
    "general_question": ("other", "order_status"),
    "other": ("general_question",),
}
"""What a paraphrase of each intent is misread as."""


def _intent_misread(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    options = NEIGHBOUR_INTENTS.get(str(value.get("intent")), ("general_question",))
    value["intent"] = draws.choice("corrupt:paraphrase", options)
    return value


def _other_amount(current: Any, ctx: PromptContext, draws: Draws) -> float | None:
    """Another amount the ticket states than `current`, or None when it states no other."""
    others = [
        a for a in all_amounts(ctx.ticket) if current is None or abs(a - float(current)) > 0.005
    ]
    return draws.choice("corrupt:other_amount", tuple(others)) if others else None


# --- TicketEntities -----------------------------------------------------------------------


def _entities_wrong_label(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    if value.get("currency") is None:
        return _entities_wrong_field(value, ctx, draws)
    value["currency"] = _other(value["currency"], CURRENCIES, draws, "corrupt:currency")
    return value


def _entities_wrong_field(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    present = [k for k in ("order_id", "amount", "item", "reason") if value.get(k) is not None]
    if not present:
        return None
    key = draws.choice("corrupt:entities_field", present)
    missing = draws.uniform("corrupt:entities_missing") < 0.5
    if missing or key in ("item", "reason"):
        value[key] = None
        if key == "amount":
            value["currency"] = None
    elif key == "order_id":
        digits = value["order_id"][4:]
        swapped = digits[:3] + digits[4] + digits[3]
        value["order_id"] = f"ORD-{swapped}" if swapped != digits else invented_order_id(ctx, draws)
    else:
        value["amount"] = round(float(value["amount"]) * 2 + 1, 2)
    return value


def _entities_invented(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    if draws.uniform("corrupt:entities_invent") < 0.5:
        value["order_id"] = invented_order_id(ctx, draws)
    else:
        value["amount"] = invented_amount(ctx, draws)
        value["currency"] = value.get("currency") or draws.choice("invent:currency", CURRENCIES)
    return value


def _entities_implausible(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any]:
    if value.get("amount") is not None and draws.uniform("implausible:entities") < 0.5:
        value["amount"] = round(float(value["amount"]) * 10, 2)
    else:
        value["order_id"] = invented_order_id(ctx, draws)
    return value


def _entities_other_amount(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    other = _other_amount(value.get("amount"), ctx, draws)
    if other is None:
        return None
    value["amount"] = other
    return value


def _entities_swap_order(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    current = (value.get("order_id") or "").upper()
    named = sorted({m.group(0).upper() for m in ORDER_ID.finditer(ctx.ticket)} - {current})
    if named:
        value["order_id"] = draws.choice("corrupt:swap_order", tuple(named))
        return value
    if current:
        value["order_id"] = None
        return value
    return None


# --- RefundDecision -----------------------------------------------------------------------


def _refund_wrong_label(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    if value.get("approve"):
        value.update(
            approve=False,
            amount=0.0,
            reason_code=draws.choice("corrupt:denial", DENIAL_CODES),
        )
    else:
        requested = requested_amount(ctx)
        total = _order_total(ctx)
        amount = requested[0] if requested else (total if total is not None else 100.0)
        value.update(approve=True, amount=round(amount, 2), reason_code="eligible")
    return value


def _refund_wrong_field(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    choice = draws.choice("corrupt:refund_field", ("amount", "currency", "reason_code"))
    if choice == "amount" and value.get("approve"):
        value["amount"] = round(float(value["amount"]) * 1.5, 2)
    elif choice == "reason_code":
        codes = ("eligible",) + DENIAL_CODES
        value["reason_code"] = _other(value.get("reason_code"), codes, draws, "corrupt:code")
    else:
        value["currency"] = _other(value.get("currency"), CURRENCIES, draws, "corrupt:currency")
    return value


def _refund_invented(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    value["amount"] = invented_amount(ctx, draws)
    return value


def _refund_implausible(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    total = _order_total(ctx)
    value.update(
        approve=True,
        amount=round(total * 10, 2) if total else 999.0,
        reason_code="eligible",
        confidence=0.97,
    )
    return value


def _refund_other_amount(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    if not value.get("approve"):
        return None
    other = _other_amount(value.get("amount"), ctx, draws)
    total = _order_total(ctx)
    if other is None or (total is not None and other > total):
        return None
    value["amount"] = round(other, 2)
    return value


def _refund_approve_replacement(
    value: dict[str, Any], ctx: PromptContext, draws: Draws
) -> dict[str, Any] | None:
    if value.get("approve") or not asks_for_replacement(ctx.ticket):
        return None
    total = _order_total(ctx)
    if total is None:
        return None
    value.update(approve=True, amount=round(total, 2), reason_code="eligible", confidence=0.85)
    return value


# --- ReplyDraft ---------------------------------------------------------------------------


def _outcome_amount(ctx: PromptContext) -> float | None:
    refund = (ctx.outcome or {}).get("refund")
    amount = refund.get("amount") if isinstance(refund, dict) else None
    return float(amount) if isinstance(amount, int | float) and amount > 0 else None


def _promise(value: dict[str, Any], amount: float) -> dict[str, Any]:
    sentence = f" We have issued a refund of {amount:.2f} to your original payment method."
    value.update(
        reply=(value["reply"] + sentence)[:1000],
        promises_refund=True,
        refund_amount=amount,
        states_money_moved=True,
    )
    return value


def _reply_wrong_label(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    if value.get("promises_refund"):
        value.update(promises_refund=False, refund_amount=None, states_money_moved=False)
        return value
    return _promise(value, _outcome_amount(ctx) or invented_amount(ctx, draws))


def _reply_wrong_field(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    amount = value.get("refund_amount")
    if amount is None:
        value["refund_amount"] = invented_amount(ctx, draws)
    elif draws.uniform("corrupt:reply_field") < 0.5:
        value["refund_amount"] = None
    else:
        value["refund_amount"] = round(float(amount) * 2, 2)
    return value


def _reply_invented(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    if value.get("promises_refund"):
        value["refund_amount"] = invented_amount(ctx, draws)
        return value
    order_id = invented_order_id(ctx, draws)
    value["reply"] = (value["reply"] + f" Your order {order_id} has been shipped.")[:1000]
    return value


def _reply_implausible(value: dict[str, Any], ctx: PromptContext, draws: Draws) -> dict[str, Any]:
    issued = _outcome_amount(ctx)
    if issued is not None and value.get("promises_refund"):
        return _promise(value, round(issued * 10, 2))
    return _promise(value, invented_amount(ctx, draws))


# --- unknown schemas ----------------------------------------------------------------------


def _generic(value: Any, ctx: PromptContext, draws: Draws) -> Any:
    """Flip every boolean of an answer to an unknown schema (other values stay valid)."""
    if not isinstance(value, dict):
        return None
    flipped = {key: not item for key, item in value.items() if isinstance(item, bool)}
    return {**value, **flipped} if flipped else None


CORRUPTIONS: dict[str, dict[str, Corruption]] = {
    "IntentClassification": {
        "wrong_label": _intent_wrong_label,
        "wrong_field": _intent_wrong_field,
        "invented_value": _intent_invented,
        "implausible": _intent_implausible,
        "flip_legal": _intent_flip_legal,
        "misread_paraphrase": _intent_misread,
    },
    "TicketEntities": {
        "wrong_label": _entities_wrong_label,
        "wrong_field": _entities_wrong_field,
        "invented_value": _entities_invented,
        "implausible": _entities_implausible,
        "other_amount": _entities_other_amount,
        "swap_order": _entities_swap_order,
    },
    "RefundDecision": {
        "wrong_label": _refund_wrong_label,
        "wrong_field": _refund_wrong_field,
        "invented_value": _refund_invented,
        "implausible": _refund_implausible,
        "other_amount": _refund_other_amount,
        "approve_replacement": _refund_approve_replacement,
    },
    "ReplyDraft": {
        "wrong_label": _reply_wrong_label,
        "wrong_field": _reply_wrong_field,
        "invented_value": _reply_invented,
        "implausible": _reply_implausible,
    },
    **DOCUMENT_CORRUPTIONS,
}
"""Corruption of each kind for each known schema."""


def corrupt(
    schema_name: str, kind: CorruptionKind, value: Any, ctx: PromptContext, draws: Draws
) -> Any | None:
    """Apply one corruption to a copy of `value`.

    Args:
        schema_name: The schema the answer follows.
        kind: Which corruption.
        value: The answer (left untouched).
        ctx: The parsed prompt (to invent values absent from it, or read the facts).
        draws: The request's draws.

    Returns:
        The corrupted copy (still valid against the schema), or None when the corruption does
        not apply to this answer.
    """
    table = CORRUPTIONS.get(schema_name)
    if table is None:
        return _generic(copy.deepcopy(value), ctx, draws) if kind in GENERIC_KINDS else None
    corruption = table.get(kind)
    return None if corruption is None else corruption(copy.deepcopy(value), ctx, draws)
