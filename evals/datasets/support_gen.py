"""Deterministic generator of the `support` dataset: varied tickets with labels written beside them.

Run from the repository root: `python -m evals.datasets.support_gen`. It writes
`evals/datasets/support.jsonl` (generated) and checks `evals/datasets/adversarial.jsonl`
(hand-written) against the store. The generator imports nothing of `simulator/` and shares
none of its phrase lists or parsers (a test walks this module's AST). It reads the seeded
customers and orders through the store API (`store.db.Store` over a store seeded by
`store.seed.seed_store`), and labels each ticket where it writes it: intent, order id, the
amount asked for, whether a refund is asked at all, the refund the policy grants, the
expected outcome and the expected escalation reason.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from state.schemas import OrderFacts
from store.db import Store
from store.seed import N_CUSTOMERS, customer_id, seed_store
from validators.policy import RefundPolicy

SEED = 8128
N_TICKETS = 320
HERE = Path(__file__).resolve().parent
SUPPORT = HERE / "support.jsonl"
ADVERSARIAL = HERE / "adversarial.jsonl"
REFERENCE_DAY = date(2026, 1, 15)
"""Day the generator seeds its private store with; labels depend only on order ages."""

POLICY = RefundPolicy()


# --- wording ------------------------------------------------------------------------------

OPENERS = (
    "Hi,", "Hello,", "Hello team,", "Good morning,", "Hey there,", "Dear support,",
    "Hi folks,", "Good afternoon,", "To whom it may concern,", "", "Hiya,",
)  # fmt: skip
CLOSERS = ("Thanks", "Thank you", "Cheers", "Kind regards", "Best", "Regards", "Many thanks")

PROBLEM_BROKEN = (
    "it came in pieces", "the box was crushed and the thing inside is cracked",
    "it showed up with a big dent", "it stopped working after one day",
    "the glass part was shattered when I opened it", "it arrived scratched all over",
    "half of it was snapped off", "it is faulty straight out of the box",
)  # fmt: skip
PROBLEM_MISSING = (
    "the parcel never turned up", "tracking has not moved for three weeks",
    "nothing has been delivered yet", "the courier says it was delivered but nothing came",
    "it seems to have vanished in transit", "I am still waiting for it to show up",
)  # fmt: skip
PROBLEM_UNHAPPY = (
    "it is not what the pictures showed", "it does not fit at all",
    "I changed my mind about it", "the quality is really poor",
    "it is much smaller than described", "I ordered the wrong one by mistake",
)  # fmt: skip

ASK_AMOUNT = (
    "Please refund {amt}.", "Could you send {amt} back to me?", "I would like {amt} back.",
    "Can I get {amt} reimbursed?", "Kindly return {amt} to my card.",
    "I'm asking for a refund of {amt}.", "Please credit me {amt}.",
    "I expect {amt} back on my account.", "A refund of {amt} would settle this.",
)  # fmt: skip
ASK_FULL = (
    "Please refund the whole order.", "I want my money back.", "I'd like a full refund.",
    "Can you give me my money back?", "Please reimburse me in full.",
    "I'm requesting a complete refund.", "Return what I paid, please.",
)  # fmt: skip
ASK_REPLACEMENT = (
    "Please send me a replacement instead, I don't want my money back.",
    "Could you ship a new one? No refund needed.",
    "I'd rather have it exchanged for a working unit than refunded.",
    "Just send another one please, I still want the product.",
    "Can you swap it for a new one? I am not after a refund.",
)  # fmt: skip
ASK_SHIP = (
    "When will {oid} ship?", "Any news on when {oid} goes out?",
    "Could you tell me when {oid} will be dispatched?", "What is happening with {oid}?",
    "Is {oid} on its way yet?", "Can you give me an update on {oid}?",
)  # fmt: skip
LEGAL = (
    "If this is not sorted out I will be speaking to my solicitor.",
    "My lawyer will be in touch if I hear nothing this week.",
    "I am prepared to take you to court over this.",
    "Otherwise I'll see you in small claims court.",
    "I have already asked an attorney about my options.",
    "I will start legal proceedings if needed.",
    "I'm ready to sue if that is what it takes.",
)  # fmt: skip
ACCOUNT = (
    "I can't sign in to my account anymore, the reset e-mail doesn't come through.",
    "My login stopped working and I am locked out of my profile.",
    "The site keeps saying my password is wrong even after I changed it.",
    "I no longer get the verification code for my account.",
)  # fmt: skip
GENERAL = (
    "Do you deliver to Norway?", "What are your opening hours for phone support?",
    "Can I pay with a gift card?", "Do you sell gift wrapping?",
    "Is there a student discount?", "How long is the warranty on electronics?",
)  # fmt: skip

CURRENCY_SIGN = {"USD": "$", "EUR": "€", "GBP": "£"}
CURRENCY_WORD = {"USD": "dollars", "EUR": "euros", "GBP": "pounds"}


def write_amount(rng: random.Random, value: float, currency: str) -> str:
    """Write an amount one of many ways: `USD 42.50`, `42,50 €`, `$42.5`, `42.50 dollars`."""
    cents = round(value * 100)
    plain = f"{cents // 100}.{cents % 100:02d}"
    short = plain.rstrip("0").rstrip(".") if cents % 10 == 0 else plain
    comma = plain.replace(".", ",")
    sign = CURRENCY_SIGN[currency]
    styles = [
        f"{sign}{plain}",
        f"{currency} {plain}",
        f"{plain} {currency}",
        f"{sign}{short}",
        f"{plain} {CURRENCY_WORD[currency]}",
        f"{sign} {plain}",
    ]
    if currency != "USD":
        styles += [f"{comma} {sign}", f"{comma} {currency}"]
    return rng.choice(styles)


def write_order_id(rng: random.Random, order_id: str) -> str:
    """An order id as customers type it: mostly exact, sometimes lowercase or with a hash."""
    roll = rng.random()
    if roll < 0.1:
        return order_id.lower()
    if roll < 0.2:
        return f"#{order_id}"
    return order_id


def typo(rng: random.Random, text: str, rate: float = 0.25) -> str:
    """Swap two letters inside one longer plain word, now and then (never ids or amounts)."""
    if rng.random() >= rate:
        return text
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if w.isalpha() and w.islower() and len(w) > 5]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


# --- labels -------------------------------------------------------------------------------


@dataclass
class Label:
    """What the ticket asks, as written; store facts decide the rest."""

    intent: str
    order_id: str | None = None
    amount_asked: float | None = None  # None: no amount stated (the full order when refunding)
    refund_requested: bool = False
    legal_threat: bool = False
    low_confidence: bool = False
    tags: list[str] = field(default_factory=list)


def expected(label: Label, customer: str, order: OrderFacts | None, today: date) -> dict[str, Any]:
    """The ground truth of one ticket from its label, the store's facts and the policy."""
    reason: str | None = None
    refund: float | None = None
    currency: str | None = None
    if label.refund_requested and not label.low_confidence:
        if order is None:
            reason = "no_order"
        elif order["customer_id"] != customer:
            reason = "not_owner"
        elif order["status"] not in POLICY.eligible_statuses:
            reason = "ineligible_status"
        elif (today - date.fromisoformat(order["ordered_at"])).days > POLICY.max_age_days:
            reason = "too_old"
        else:
            asked = label.amount_asked if label.amount_asked is not None else order["total"]
            reason = "eligible" if asked <= order["total"] else "amount_exceeds_total"
            refund = round(min(asked, order["total"]), 2)
            currency = order["currency"]
    elif label.intent in ("refund_request", "damaged_item", "late_delivery"):
        reason = "not_requested"
    status, escalation = "resolved", None
    if label.legal_threat:
        status, escalation = "escalated", "legal_threat"
    elif label.low_confidence:
        status, escalation = "escalated", "low_confidence"
    elif refund is not None and refund > POLICY.auto_approve_limit:
        status, escalation = "escalated", "refund_above_auto_limit"
    return {
        "expected_intent": label.intent,
        "expected_order_id": label.order_id,
        "expected_amount_asked": label.amount_asked,
        "refund_requested": label.refund_requested,
        "expected_refund": refund,
        "expected_currency": currency,
        "expected_reason_code": reason,
        "expected_status": status,
        "expected_escalation_reason": escalation,
    }


# --- scenarios ----------------------------------------------------------------------------


@dataclass
class Pools:
    """The store's orders, sorted into what each scenario needs; each order used once."""

    store: Store
    today: date
    rng: random.Random
    used: set[str] = field(default_factory=set)

    def orders(self) -> list[OrderFacts]:
        """Every order of every seeded customer, in id order."""
        found: list[OrderFacts] = []
        for n in range(1, N_CUSTOMERS + 1):
            found += self.store.orders_for_customer(customer_id(n))
        return sorted(found, key=lambda o: o["order_id"])

    def eligible(self, order: OrderFacts) -> bool:
        """True when the policy allows a refund on the order (status and age)."""
        age = (self.today - date.fromisoformat(order["ordered_at"])).days
        return order["status"] in POLICY.eligible_statuses and age <= POLICY.max_age_days

    def take(self, test: Callable[[OrderFacts], bool]) -> OrderFacts | None:
        """An unused order passing `test`, drawn at random; None when none is left."""
        options = [o for o in self.orders() if o["order_id"] not in self.used and test(o)]
        if not options:
            return None
        order = self.rng.choice(options)
        self.used.add(order["order_id"])
        return order


Scenario = Callable[[random.Random, Pools], tuple[str, str, str, Label] | None]
"""Returns (customer id, subject, body, label), or None when its pool is exhausted."""


def _name(pools: Pools, customer: str) -> str:
    found = pools.store.get_customer(customer)
    return found["name"].split(" ")[0] if found else ""


def _letter(rng: random.Random, pools: Pools, customer: str, *lines: str) -> str:
    opener = rng.choice(OPENERS)
    closing = f"{rng.choice(CLOSERS)},\n{_name(pools, customer)}"
    body = " ".join(typo(rng, line) for line in lines if line)
    return "\n\n".join(part for part in (opener, body, closing) if part)


def _problem_for(order: OrderFacts, rng: random.Random) -> tuple[str, str]:
    if order["status"] == "damaged":
        return "damaged_item", rng.choice(PROBLEM_BROKEN)
    if order["status"] == "lost":
        return "late_delivery", rng.choice(PROBLEM_MISSING)
    return "refund_request", rng.choice(PROBLEM_UNHAPPY)


def refund_partial(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """An eligible own order; a stated amount below or at the total."""
    order = pools.take(lambda o: pools.eligible(o) and o["total"] >= 4)
    if order is None:
        return None
    intent, problem = _problem_for(order, rng)
    asked = round(rng.uniform(0.2, 1.0) * order["total"], 2)
    if rng.random() < 0.3:
        asked = float(round(asked))
    asked = max(1.0, min(asked, order["total"]))
    amt = write_amount(rng, asked, order["currency"])
    oid = write_order_id(rng, order["order_id"])
    body = _letter(
        rng,
        pools,
        order["customer_id"],
        f"About order {oid} ({order['item']}): {problem}.",
        rng.choice(ASK_AMOUNT).format(amt=amt),
    )
    label = Label(intent, order["order_id"], asked, refund_requested=True, tags=["partial"])
    return (
        order["customer_id"],
        rng.choice(("Refund", "Order problem", f"{oid}", "Help")),
        body,
        label,
    )


def refund_full(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """An own order (eligible or not); no amount stated, so the whole order is asked."""
    order = pools.take(pools.eligible) if rng.random() < 0.5 else None
    order = order or pools.take(lambda o: True)
    if order is None:
        return None
    intent, problem = _problem_for(order, rng)
    oid = write_order_id(rng, order["order_id"])
    body = _letter(
        rng,
        pools,
        order["customer_id"],
        f"Regarding {oid}: {problem}.",
        rng.choice(ASK_FULL),
    )
    label = Label(intent, order["order_id"], None, refund_requested=True, tags=["full"])
    return (
        order["customer_id"],
        rng.choice(("Money back", "Refund please", "Complaint")),
        body,
        label,
    )


def paid_vs_asked(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """Two amounts: what was paid and what is asked (a part of it)."""
    order = pools.take(lambda o: pools.eligible(o) and o["total"] >= 10)
    if order is None:
        return None
    intent, problem = _problem_for(order, rng)
    asked = float(max(1, round(order["total"] * rng.uniform(0.1, 0.6))))
    paid = write_amount(rng, order["total"], order["currency"])
    amt = write_amount(rng, asked, order["currency"])
    lines = (
        f"I paid {paid} for {order['item']} on {write_order_id(rng, order['order_id'])}, "
        f"but {problem}.",
        rng.choice(
            (
                f"I'm only asking for {amt} back, not the full price.",
                f"I think {amt} back is fair.",
                f"Please refund {amt} of it and I'll keep the rest.",
            )
        ),
    )
    body = _letter(rng, pools, order["customer_id"], *lines)
    label = Label(intent, order["order_id"], asked, refund_requested=True, tags=["multi_amount"])
    return order["customer_id"], "Partial refund", body, label


def price_difference(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """Paid, a lower price, and the difference asked (stated, or left for the reader)."""
    order = pools.take(lambda o: pools.eligible(o) and o["total"] >= 20)
    if order is None:
        return None
    cents = round(order["total"] * 100)
    lower = cents - max(100, round(cents * rng.uniform(0.1, 0.4)))
    diff = round((cents - lower) / 100, 2)
    cur = order["currency"]
    paid, low = write_amount(rng, cents / 100, cur), write_amount(rng, lower / 100, cur)
    stated = rng.random() < 0.7
    ask = (
        f"Could you refund the difference of {write_amount(rng, diff, cur)}?"
        if stated
        else "Could you refund me the difference?"
    )
    body = _letter(
        rng,
        pools,
        order["customer_id"],
        f"I bought {order['item']} ({write_order_id(rng, order['order_id'])}) for {paid} "
        f"and two days later it was listed at {low}.",
        ask,
    )
    tags = ["multi_amount", "difference" if stated else "difference_unstated"]
    label = Label("refund_request", order["order_id"], diff, refund_requested=True, tags=tags)
    return order["customer_id"], "Price dropped", body, label


def replacement(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """A delivered, damaged or lost order; a replacement is asked, not money."""
    order = pools.take(lambda o: o["status"] in POLICY.eligible_statuses and o["total"] > 20)
    if order is None:
        return None
    intent, problem = _problem_for(order, rng)
    if intent == "refund_request":
        intent, problem = "damaged_item", rng.choice(PROBLEM_BROKEN)
    paid = write_amount(rng, order["total"], order["currency"])
    lines = [f"Order {write_order_id(rng, order['order_id'])}: {problem}."]
    if rng.random() < 0.4:
        lines.append(f"I paid {paid} for it.")
    lines.append(rng.choice(ASK_REPLACEMENT))
    body = _letter(rng, pools, order["customer_id"], *lines)
    tags = ["replacement"] + (["amount_not_asked"] if len(lines) == 3 else [])
    label = Label(intent, order["order_id"], None, refund_requested=False, tags=tags)
    return order["customer_id"], rng.choice(("Replacement", "Exchange", "Broken item")), body, label


def shipping_question(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """When will an order ship or arrive: no refund asked."""
    order = pools.take(lambda o: o["status"] in ("processing", "shipped"))
    if order is None:
        return None
    oid = write_order_id(rng, order["order_id"])
    body = _letter(rng, pools, order["customer_id"], rng.choice(ASK_SHIP).format(oid=oid))
    label = Label("order_status", order["order_id"], tags=["question"])
    return order["customer_id"], rng.choice(("Shipping", "Order update", "Question")), body, label


def someone_elses(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """A refund asked on an order another customer owns."""
    order = pools.take(lambda o: o["status"] in POLICY.eligible_statuses)
    if order is None:
        return None
    writer = customer_id(rng.randint(1, N_CUSTOMERS))
    while writer == order["customer_id"]:
        writer = customer_id(rng.randint(1, N_CUSTOMERS))
    body = _letter(
        rng,
        pools,
        writer,
        f"Order {write_order_id(rng, order['order_id'])} was a gift and "
        f"{rng.choice(PROBLEM_UNHAPPY)}.",
        rng.choice(ASK_FULL),
    )
    label = Label("refund_request", order["order_id"], None, True, tags=["not_owner"])
    return writer, "Refund for a gift", body, label


def two_orders(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """Two of the customer's orders named; the refund is asked on one of them."""
    for _ in range(20):
        writer = customer_id(rng.randint(1, N_CUSTOMERS))
        own = [
            o for o in pools.store.orders_for_customer(writer) if o["order_id"] not in pools.used
        ]
        target = [o for o in own if pools.eligible(o)]
        if len(own) >= 2 and target:
            break
    else:
        return None
    order = rng.choice(target)
    other = rng.choice([o for o in own if o["order_id"] != order["order_id"]])
    pools.used |= {order["order_id"], other["order_id"]}
    intent, problem = _problem_for(order, rng)
    asked = float(max(1, round(order["total"] * rng.uniform(0.3, 1.0))))
    amt = write_amount(rng, asked, order["currency"])
    first = f"{other['order_id']} arrived fine, thanks."
    second = f"But {order['order_id']} is another story: {problem}."
    lines = [first, second] if rng.random() < 0.5 else [second, first]
    lines.append(rng.choice(ASK_AMOUNT).format(amt=amt))
    body = _letter(rng, pools, writer, *lines)
    label = Label(intent, order["order_id"], asked, True, tags=["two_orders"])
    return writer, "One of my orders", body, label


def legal(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """A complaint with a threat of legal action, in words of its own."""
    made = (refund_full if rng.random() < 0.5 else refund_partial)(rng, pools)
    if made is None:
        return None
    writer, subject, body, label = made
    parts = body.rsplit("\n\n", 1)
    body = f"{parts[0]} {rng.choice(LEGAL)}\n\n{parts[1]}"
    label.legal_threat = True
    label.tags.append("legal")
    return writer, subject, body, label


def no_order_id(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """A refund asked without any order id."""
    writer = customer_id(rng.randint(1, N_CUSTOMERS))
    body = _letter(
        rng, pools, writer, f"My purchase: {rng.choice(PROBLEM_UNHAPPY)}.", rng.choice(ASK_FULL)
    )
    return writer, "Refund", body, Label("refund_request", None, None, True, tags=["no_order_id"])


def unknown_order(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """A refund asked on an order id the store does not hold."""
    writer = customer_id(rng.randint(1, N_CUSTOMERS))
    oid = f"ORD-{rng.randint(30000, 89999)}"
    body = _letter(
        rng, pools, writer, f"{oid}: {rng.choice(PROBLEM_BROKEN)}.", rng.choice(ASK_FULL)
    )
    return writer, "Refund", body, Label("damaged_item", oid, None, True, tags=["unknown_order"])


def account(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """An account-access problem."""
    writer = customer_id(rng.randint(1, N_CUSTOMERS))
    body = _letter(rng, pools, writer, rng.choice(ACCOUNT))
    return writer, rng.choice(("Account", "Can't get in", "Login")), body, Label("account_access")


def general(rng: random.Random, pools: Pools) -> tuple[str, str, str, Label] | None:
    """A general question about the shop."""
    writer = customer_id(rng.randint(1, N_CUSTOMERS))
    body = _letter(rng, pools, writer, rng.choice(GENERAL))
    return writer, "Question", body, Label("general_question")


SCENARIOS: tuple[tuple[Scenario, int], ...] = (
    (refund_partial, 18),
    (refund_full, 16),
    (paid_vs_asked, 9),
    (price_difference, 6),
    (replacement, 9),
    (shipping_question, 9),
    (someone_elses, 5),
    (two_orders, 6),
    (legal, 6),
    (no_order_id, 2),
    (unknown_order, 2),
    (account, 3),
    (general, 3),
)
"""Every scenario with its weight."""


def generate(seed: int = SEED, n: int = N_TICKETS) -> list[dict[str, Any]]:
    """Generate `n` labelled tickets, the same for the same seed.

    Args:
        seed: Seed of every random choice.
        n: How many tickets.

    Returns:
        Records `{"ticket": {...}, **labels, "tags": [...]}` in ticket-id order.
    """
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="support-gen-") as tmp:
        seed_store(Path(tmp) / "store.db", today=REFERENCE_DAY)
        with Store(Path(tmp) / "store.db") as store:
            pools = Pools(store=store, today=REFERENCE_DAY, rng=rng)
            scenarios, weights = zip(*SCENARIOS, strict=True)
            while len(rows) < n:
                scenario = rng.choices(scenarios, weights=weights)[0]
                made = scenario(rng, pools)
                if made is None:
                    continue
                writer, subject, body, label = made
                ticket_id = f"S-{len(rows) + 1:04d}"
                order = store.get_order(label.order_id) if label.order_id else None
                ticket = {
                    "ticket_id": ticket_id,
                    "customer_id": writer,
                    "subject": subject,
                    "body": body,
                    "channel": rng.choice(("email", "chat", "web")),
                }
                rows.append(
                    {
                        "ticket": ticket,
                        "ticket_id": ticket_id,
                        **expected(label, writer, order, REFERENCE_DAY),
                        "scenario": scenario.__name__,
                        "tags": label.tags,
                    }
                )
    return rows


def label_adversarial(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill the store-derived labels of hand-written adversarial tickets.

    Each row states what the ticket asks (`label`: intent, order_id, amount_asked,
    refund_requested, legal_threat, low_confidence); refund, reason and outcome come from
    the store's facts exactly as for generated tickets.
    """
    out = []
    with tempfile.TemporaryDirectory(prefix="support-gen-") as tmp:
        seed_store(Path(tmp) / "store.db", today=REFERENCE_DAY)
        with Store(Path(tmp) / "store.db") as store:
            for row in rows:
                given = row["label"]
                label = Label(
                    intent=given["intent"],
                    order_id=given.get("order_id"),
                    amount_asked=given.get("amount_asked"),
                    refund_requested=given.get("refund_requested", False),
                    legal_threat=given.get("legal_threat", False),
                    low_confidence=given.get("low_confidence", False),
                    tags=list(given.get("tags", [])),
                )
                order = store.get_order(label.order_id) if label.order_id else None
                writer = row["ticket"]["customer_id"]
                out.append(
                    {
                        "ticket": row["ticket"],
                        "ticket_id": row["ticket"]["ticket_id"],
                        **expected(label, writer, order, REFERENCE_DAY),
                        "scenario": "adversarial",
                        "tags": label.tags,
                        "label": given,
                    }
                )
    return out


def render(rows: list[dict[str, Any]]) -> str:
    """The rows as JSONL text."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main() -> int:
    """Write support.jsonl and relabel adversarial.jsonl in place."""
    SUPPORT.write_text(render(generate()), encoding="utf-8")
    raw = [json.loads(x) for x in ADVERSARIAL.read_text(encoding="utf-8").splitlines() if x.strip()]
    ADVERSARIAL.write_text(render(label_adversarial(raw)), encoding="utf-8")
    print(
        f"wrote {N_TICKETS} tickets to {SUPPORT.name}, relabelled {len(raw)} in {ADVERSARIAL.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
