"""The supervisor node: applies the pure router's decision as a LangGraph `Command`."""

from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from nodes.common import versioned
from nodes.supervisor import (
    SupervisorTarget,
    limits_from_context,
    route_next_step,
    worker_task,
)
from state.support import SupportContext, SupportState
from telemetry.logging import get_logger
from telemetry.metrics import ESCALATIONS

log = get_logger("conductor.supervisor")

_GOTO: dict[str, SupervisorTarget] = {
    "plan": "plan_subtasks",
    "act": "issue_refund",
    "finalize": "finalize_run",
}


@versioned
async def supervise(
    state: SupportState, runtime: Runtime[SupportContext]
) -> Command[SupervisorTarget]:
    """Route the run: plan, dispatch workers in parallel, escalate, park, act or finalize."""
    route = route_next_step(state, limits_from_context(runtime.context))
    log.info(
        "route",
        route=route.kind,
        reason=route.reason,
        dispatch=[f"{d.subtask}@{d.tier}#{d.attempt}" for d in route.dispatches],
    )
    if route.kind == "dispatch":
        return Command(
            goto=[Send(d.agent, worker_task(state, d)) for d in route.dispatches],
            update={"status": "running"},
        )
    if route.kind == "escalate":
        ESCALATIONS.labels(reason=route.reason or "unknown").inc()
        return Command(
            goto="escalate_to_human",
            update={
                "status": "escalated",
                "escalation": {"reason": route.reason, "detail": route.detail},
                "escalation_reason": route.reason,
            },
        )
    if route.kind == "park":
        return Command(
            goto="park_run",
            update={"status": "parked", "parked": {"reason": route.reason, **route.detail}},
        )
    return Command(goto=_GOTO[route.kind])
