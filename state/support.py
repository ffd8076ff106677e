"""The flat, versioned orchestration state of the `support` graph, with its input and output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from state.base import BaseState, ErrorRecord, OrchestrationContext
from state.base import Status as BaseStatus

SCHEMA_VERSION = 2
"""Version of this schema; written into every run so that old checkpoints can be migrated.

2: the orchestration core (results keyed by plan instance, facts in results["context"],
the refund in action_results["issue_refund"], a park counter).
"""

Status = BaseStatus
SubtaskId = Literal["classify", "extract", "context", "decide", "reply"]


class TicketPayload(TypedDict):
    """The ticket as a caller sends it; Studio draws its input form from these fields.

    Nothing here is trusted: intake validates it with `state.schemas.Ticket` and rejects the
    whole ticket, naming the field, when it is malformed.
    """

    ticket_id: str
    customer_id: str
    subject: str
    body: str
    channel: Literal["email", "chat", "web"]
    created_at: NotRequired[str]


class SupportInput(TypedDict):
    """What a caller passes: one ticket (validated at intake, never half-processed)."""

    ticket: TicketPayload


class SupportOutput(TypedDict, total=False):
    """What a caller gets back."""

    ticket_id: str | None
    status: Status
    intent: str | None
    entities: dict[str, Any] | None
    refund: dict[str, Any] | None
    reply: str | None
    escalation_reason: str | None
    usage: dict[str, Any]
    errors: list[ErrorRecord]
    version: int
    schema_version: int


class SupportState(BaseState, total=False):
    """Everything a support run knows: the base orchestration state and the ticket's fields.

    Fields are absent until the node that owns them writes them; readers use `.get`.
    """

    ticket: dict[str, Any]  # raw at input, validated `Ticket` dump after intake
    ticket_id: str | None
    intent: str | None
    entities: dict[str, Any] | None
    refund: dict[str, Any] | None
    reply: str | None


@dataclass(kw_only=True)
class SupportContext(OrchestrationContext):
    """Run settings of the support graph (Studio shows these fields)."""

    auto_approve_limit: float = field(
        default=50.0,
        metadata={"description": "Largest refund issued without a human's approval."},
    )
    max_refund_age_days: int = field(
        default=90, metadata={"description": "Orders older than this get no refund."}
    )
    low_confidence: float = field(
        default=0.5,
        metadata={"description": "Below this classifier or decider confidence, ask a human."},
    )
    complex_ticket_chars: int = field(
        default=600,
        metadata={"description": "Tickets longer than this get their reply from the large tier."},
    )
