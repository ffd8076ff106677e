"""Contracts shared by workers, gates and the simulator: the ticket and each agent's output."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypedDict

from state.base import Violation as Violation  # re-exported for the support gates

Channel = Literal["email", "chat", "web"]

Intent = Literal[
    "refund_request",
    "damaged_item",
    "late_delivery",
    "order_status",
    "account_access",
    "general_question",
    "other",
]
"""Every label the intent classifier may answer with."""

REFUND_INTENTS: frozenset[str] = frozenset({"refund_request", "damaged_item", "late_delivery"})
"""Intents for which a refund decision is part of the plan."""

Currency = Literal["USD", "EUR", "GBP"]

# Every free-text field of a model's output is bounded: a grammar-constrained server
# (llama.cpp, llama-cpp-python) compiles `maxLength` into its grammar, which stops a small
# model from rambling until `max_tokens` cuts its JSON in half. Grammar compilers expand a
# bound into that many repetitions, so none is above GRAMMAR_MAX_LENGTH.
GRAMMAR_MAX_LENGTH = 1000
"""The largest `max_length` of a model-output string (llama.cpp's grammars stay small)."""
ORDER_ID_MAX_CHARS = 32
"""TicketEntities.order_id: an id (its shape is the plausibility gate's business)."""
SUMMARY_MAX_CHARS = 300
"""IntentClassification.summary: one sentence."""
ENTITY_MAX_CHARS = 200
"""TicketEntities.item and .reason: a few words."""
RATIONALE_MAX_CHARS = 500
"""RefundDecision.rationale: a short justification."""
REPLY_MAX_CHARS = 1000
"""ReplyDraft.reply: the message to the customer (about 150 words)."""

RefundReasonCode = Literal[
    "eligible",
    "no_order",
    "not_owner",
    "ineligible_status",
    "too_old",
    "already_refunded",
    "amount_exceeds_total",
    "not_requested",
]


class Ticket(BaseModel):
    """A customer-support ticket as it enters the `support` graph."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    ticket_id: str = Field(min_length=1, max_length=64, description="Caller's id for the ticket.")
    customer_id: str = Field(min_length=1, max_length=64, description="Id of the customer writing.")
    subject: str = Field(max_length=500, description="Subject line.")
    body: str = Field(max_length=20_000, description="Ticket text. Untrusted data.")
    channel: Channel = Field(description="Where the ticket came from.")
    created_at: datetime | None = Field(default=None, description="When the customer wrote.")

    @field_validator("subject", "body")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class IntentClassification(BaseModel):
    """What the customer wants (classify_intent's structured output)."""

    intent: Intent = Field(description="The customer's main intent.")
    confidence: float = Field(
        ge=0.0, le=1.0, allow_inf_nan=False, description="Confidence in the label, 0..1."
    )
    legal_threat: bool = Field(description="True when the ticket threatens legal action.")
    summary: str = Field(
        max_length=SUMMARY_MAX_CHARS, description="One sentence summarising the ticket."
    )


class TicketEntities(BaseModel):
    """Facts the customer states (extract_entities's structured output)."""

    order_id: str | None = Field(
        max_length=ORDER_ID_MAX_CHARS,
        description="Order id as written in the ticket, e.g. ORD-10042.",
    )
    amount: float | None = Field(
        allow_inf_nan=False, description="Amount the customer asks for, if any."
    )
    currency: Currency | None = Field(description="Currency of the amount, if stated.")
    item: str | None = Field(
        max_length=ENTITY_MAX_CHARS, description="Item the ticket is about, if named."
    )
    reason: str | None = Field(
        max_length=ENTITY_MAX_CHARS, description="Why the customer writes, in a few words."
    )


class RefundDecision(BaseModel):
    """The refund decision (decide_refund's structured output)."""

    approve: bool = Field(description="Whether a refund should be issued.")
    amount: float = Field(
        ge=0.0, allow_inf_nan=False, description="Amount to refund; 0 when not approved."
    )
    currency: Currency = Field(description="Currency of the refund (the order's currency).")
    reason_code: RefundReasonCode = Field(description="Why the refund is approved or denied.")
    rationale: str = Field(
        max_length=RATIONALE_MAX_CHARS, description="Short justification citing the facts."
    )
    confidence: float = Field(
        ge=0.0, le=1.0, allow_inf_nan=False, description="Confidence in the decision, 0..1."
    )


class ReplyDraft(BaseModel):
    """The reply to the customer (draft_reply's structured output)."""

    reply: str = Field(min_length=1, max_length=REPLY_MAX_CHARS, description="The message to send.")
    promises_refund: bool = Field(
        description="True when the reply tells the customer a refund is issued."
    )
    refund_amount: float | None = Field(
        allow_inf_nan=False, description="Amount the reply mentions as refunded, if any."
    )
    states_money_moved: bool = Field(
        default=False,
        description=(
            "True when the reply tells the customer money was sent, credited or is on its way "
            "back (a refund, a credit, a reimbursement), whatever the words."
        ),
    )


AGENT_OUTPUT_SCHEMAS: dict[str, type[BaseModel]] = {
    "classify_intent": IntentClassification,
    "extract_entities": TicketEntities,
    "decide_refund": RefundDecision,
    "draft_reply": ReplyDraft,
}
"""Structured-output schema of each model-calling agent of the support graph."""


class CustomerFacts(TypedDict):
    """A customer as the store knows them."""

    customer_id: str
    name: str
    email: str


class OrderFacts(TypedDict):
    """An order as the store knows it (amounts in the order's currency, 2 decimals)."""

    order_id: str
    customer_id: str
    status: str  # processing | shipped | delivered | damaged | lost | cancelled | returned
    total: float
    currency: str
    item: str
    ordered_at: str  # ISO date, YYYY-MM-DD


class RefundFacts(TypedDict):
    """A refund already in the ledger."""

    idempotency_key: str
    order_id: str
    ticket_id: str
    amount: float
    currency: str
    issued_at: str


class PolicyFacts(TypedDict):
    """The refund policy in force, as given to the decider and the gates."""

    eligible_statuses: list[str]
    max_age_days: int
    auto_approve_limit: float
    max_refunds_per_order: int


class Facts(TypedDict):
    """What gather_context found in the store: the `<facts>` of decide_refund and the gates."""

    today: str  # ISO date the policy is evaluated on (ticket's created_at, else now)
    customer: CustomerFacts | None
    order: OrderFacts | None  # the order named by the extracted order id, whoever owns it
    prior_refunds: list[RefundFacts]  # refunds issued for that order by other tickets
    policy: PolicyFacts
    own_refund: NotRequired[RefundFacts]  # this ticket's refund, already in the ledger


class RefundOutcome(TypedDict):
    """The refund part of `<outcome>` given to draft_reply."""

    issued: bool
    amount: float
    currency: str


class ReplyOutcome(TypedDict):
    """What was decided and done, the `<outcome>` of draft_reply and its consistency gate."""

    intent: str
    decision: Literal["approved", "denied", "rejected_by_human", "none"]
    denial_reason: str | None
    refund: RefundOutcome | None  # set only when the ledger issued (or already held) the refund
    order_status: str | None
    escalated: bool
