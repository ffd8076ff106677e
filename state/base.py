"""The base orchestration state every workflow extends: plan, proposals, gates, review, actions."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from state.reducers import add_counts, add_usage, bump, merge_dicts, merge_pending

Status = Literal["running", "resolved", "escalated", "rejected", "denied", "parked", "failed"]
"""A run's status: `rejected` is malformed input, `denied` a human's refusal."""


class Violation(BaseModel):
    """One reason a gate refused an agent's output."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["format", "plausibility", "consistency", "policy", "model_error"]
    field: str = Field(description="The output field (or `*`) the violation is about.")
    message: str = Field(description="What was wrong, for people reading the state.")


class PlannedSubtask(TypedDict):
    """One unit of work of the plan: a spec subtask, or one item of a fanned-out one."""

    id: str  # instance id: the subtask id, or `subtask#n` for the n-th item of a fan-out
    subtask: str  # the spec's subtask id
    agent: str  # the node that performs it
    depends_on: list[str]  # instance ids
    item: NotRequired[dict[str, Any] | None]  # the fan-out item (e.g. a chunk's offset)


class Proposal(TypedDict):
    """A worker's answer before its gate: output, or why there is none."""

    subtask: str  # instance id
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
    """The latest gate outcome of a subtask instance."""

    status: Literal["passed", "failed", "unavailable", "cleared"]
    attempt: int
    tier: str
    violations: list[dict[str, str]]
    endpoint: NotRequired[str | None]  # the endpoint that answered (None: a tool, the cache)


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


class BaseState(TypedDict, total=False):
    """What every workflow's run knows, in one flat, versioned map.

    `version` grows on every node write; `schema_version` is the workflow's schema version,
    read on every resume so that older checkpoints are migrated (`state.migrations`).
    Parallel workers write `proposals`, `attempts`, `usage` and `timings` through reducers;
    only the supervisor (which runs the gates) writes `results` and `gates`, and drops a
    proposal once its gate admitted it (its output is then in `results`, where it came
    from is in `gates`). Each result is
    the JSON form of its subtask's pydantic output model, read back typed through the spec.
    """

    schema_version: int
    version: Annotated[int, bump]
    status: Status
    plan: dict[str, PlannedSubtask]
    proposals: Annotated[dict[str, Proposal], merge_pending]  # pending or refused only
    results: Annotated[dict[str, dict[str, Any] | None], merge_dicts]  # None: withdrawn
    gates: Annotated[dict[str, GateRecord], merge_dicts]
    attempts: Annotated[dict[str, int], merge_dicts]
    failures: Annotated[dict[str, int], add_counts]
    parks: int
    escalation: dict[str, Any] | None  # {"reason", "detail"} while a human is needed
    review: dict[str, Any] | None  # the human decision once given
    parked: dict[str, Any] | None  # {"tiers", "reasons"} while no provider can serve
    action_results: Annotated[dict[str, dict[str, Any]], merge_dicts]
    actions: Annotated[list[ActionRecord], operator.add]
    errors: Annotated[list[ErrorRecord], operator.add]
    usage: Annotated[dict[str, Any], add_usage]
    timings: Annotated[dict[str, float], merge_dicts]
    escalation_reason: str | None
    dispatch: LoneDispatch | None  # a worker dispatched alone (no Send, no join)


@dataclass(kw_only=True)
class OrchestrationContext:
    """Run settings every workflow has (Studio shows these fields); each workflow extends it."""

    retry_budget: int = field(
        default=3,
        metadata={"description": "Failed attempts of one subtask before a human is asked."},
    )
    park_cap: int = field(
        default=3,
        metadata={"description": "Times a run may park on unavailable providers before a human."},
    )


class LoneDispatch(TypedDict):
    """Which worker runs alone next, as which attempt; it rebuilds its prompt from the state.

    A lone worker receives the whole state, so its prompt (or tool input) is not stored in
    a checkpoint: `nodes.supervise.lone_task` builds it again from this and the state.
    """

    subtask: str  # instance id
    agent: str
    tier: str
    attempt: int


class AgentTask(TypedDict):
    """The payload the supervisor sends (with `Send`) to one worker: all it needs to read."""

    subtask: str  # instance id
    agent: str
    tier: str
    attempt: int
    messages: list[tuple[str, str]]  # (role, content), built by the spec's prompt
    tool_input: dict[str, Any] | None  # for a tool subtask instead of messages
