"""The flat, versioned orchestration state of the `support` graph, with its input and output."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired

from typing_extensions import TypedDict

from state.reducers import add_counts, add_usage, bump, merge_dicts
from state.schemas import Facts

SCHEMA_VERSION = 1
"""Version of this schema; written into every run so that old checkpoints can be migrated."""

Status = Literal["running", "resolved", "escalated", "rejected", "parked", "failed"]
SubtaskId = Literal["classify", "extract", "context", "decide", "reply"]


class Subtask(TypedDict):
    """One unit of work of the plan."""

    id: str
    agent: str  # the node that performs it
    tier: str  # "small" | "large" | "tool"
    depends_on: list[str]


class Proposal(TypedDict):
    """A worker's answer before its gate: output, or why there is none."""

    subtask: str
    agent: str
    attempt: int
    tier: str  # tier that served (after any fallback)
    output: dict[str, Any] | None
    error: str | None  # model call failed or output invalid
    unavailable: bool  # no provider could serve the tier: the run parks
    endpoint: str | None
    cached: bool
    cache_key: NotRequired[str | None]  # a pending cache entry, kept only if the gate passes


class GateRecord(TypedDict):
    """The latest gate outcome of a subtask."""

    status: Literal["passed", "failed", "unavailable", "cleared"]
    attempt: int
    tier: str
    violations: list[dict[str, str]]


class ErrorRecord(TypedDict):
    """An error kept in state for people and the supervisor to read."""

    node: str
    subtask: NotRequired[str]
    attempt: NotRequired[int]
    kind: str
    message: str


class ActionRecord(TypedDict):
    """A side effect the run performed (or found already performed), by its idempotency key."""

    kind: str
    idempotency_key: str
    created: bool  # False when the ledger already held this key (a replay)
    detail: dict[str, Any]


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


class SupportState(TypedDict, total=False):
    """Everything a support run knows, in one flat, versioned map.

    `version` grows on every node write (see `nodes.common.versioned`); `schema_version`
    is `SCHEMA_VERSION` at intake. Parallel workers write `proposals`, `attempts`, `usage`
    and `timings` through reducers; only the gate node writes `results` and `gates`.
    Fields are absent until the node that owns them writes them; readers use `.get`.
    """

    schema_version: int
    version: Annotated[int, bump]
    ticket: dict[str, Any]  # raw at input, validated `Ticket` dump after intake
    ticket_id: str | None
    plan: dict[str, Subtask]
    proposals: Annotated[dict[str, Proposal], merge_dicts]
    results: Annotated[dict[str, dict[str, Any] | None], merge_dicts]  # None: withdrawn
    gates: Annotated[dict[str, GateRecord], merge_dicts]
    attempts: Annotated[dict[str, int], merge_dicts]
    failures: Annotated[dict[str, int], add_counts]
    facts: Facts | None
    escalation: dict[str, Any] | None  # {"reason", "detail"} while a human is needed
    review: dict[str, Any] | None  # the human decision once given
    parked: dict[str, Any] | None  # {"tiers", "reasons"} while no provider can serve
    refund: dict[str, Any] | None
    actions: Annotated[list[ActionRecord], operator.add]
    errors: Annotated[list[ErrorRecord], operator.add]
    usage: Annotated[dict[str, Any], add_usage]
    timings: Annotated[dict[str, float], merge_dicts]
    status: Status
    intent: str | None
    entities: dict[str, Any] | None
    reply: str | None
    escalation_reason: str | None


class WorkerTask(TypedDict):
    """The payload the supervisor sends (with `Send`) to one worker."""

    subtask: str
    agent: str
    tier: str
    attempt: int
    ticket: dict[str, Any]
    facts: Facts | None
    results: dict[str, dict[str, Any]]
    outcome: dict[str, Any] | None
    feedback: list[str]  # why the previous attempt's gate refused it (empty on a first try)


@dataclass(kw_only=True)
class SupportContext:
    """Run settings of the support graph (Studio shows these fields)."""

    retry_budget: int = field(
        default=3,
        metadata={"description": "Failed attempts of one subtask before a human is asked."},
    )
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
