"""Human escalation and parking: the two places a run waits on something outside it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from nodes.common import migrate_state, versioned
from nodes.intake import describe_validation_error
from nodes.resources import Resources
from nodes.spec import WorkflowSpec
from nodes.supervise import route_after
from telemetry.metrics import mark_released, mark_waiting

Node = Callable[..., Awaitable[Any]]


def make_review_node(spec: WorkflowSpec, resources: Resources) -> Node:
    """Build `escalate_to_human`: wait for a reviewer's answer; an invalid one is asked again.

    The answer must validate against the spec's resume model and pass the spec's check
    (a reviewer may override policy, never the facts); otherwise the run interrupts again
    with the packet and the error, and nothing else changes.
    """
    review = spec.review

    async def escalate_to_human(state: dict[str, Any], runtime: Runtime[Any]) -> Command[Any]:
        """Wait for a reviewer's decision; an invalid answer is returned to them with the error."""
        view, writes = migrate_state(state, spec.schema_version, spec.migrations)
        escalation = view.get("escalation") or {}
        packet = {
            "kind": "review",
            "reason": escalation.get("reason"),
            "detail": escalation.get("detail") or {},
            **review.packet(view),
            "violations": {
                sid: gate["violations"]
                for sid, gate in (view.get("gates") or {}).items()
                if gate.get("status") == "failed"
            },
            "resume_with": review.resume_model.model_json_schema(),
        }
        error: str | None = None
        mark_waiting("review")
        while True:
            answer = interrupt({**packet, "error": error} if error else packet)
            try:
                decision = review.resume_model.model_validate(answer)
            except ValidationError as exc:
                error = describe_validation_error(exc, prefix="resume")
                continue
            error = review.check(decision, view, runtime.context)
            if error is None:
                break
        mark_released()
        answer = {**writes, "review": decision.model_dump(mode="json"), "status": "running"}
        return await route_after(state, answer, spec, resources, runtime.context)

    return versioned(escalate_to_human)


def make_park_node(spec: WorkflowSpec, resources: Resources) -> Node:
    """Build `park_run`: hold the run, state intact, until its providers are back."""

    async def park_run(state: dict[str, Any], runtime: Runtime[Any]) -> Command[Any]:
        """Wait; then retry what the providers failed.

        Resume with any payload (`{}` or `{"retry": true}`); a run parks at most `park_cap`
        times before the supervisor asks a human instead.
        """
        parked = state.get("parked") or {}
        mark_waiting("parked")
        interrupt({"kind": "parked", **parked, "resume_with": {"retry": True}})
        mark_released()
        gates = state.get("gates") or {}
        resumed = {
            "parked": None,
            "status": "running",
            "parks": int(state.get("parks") or 0) + 1,
            "gates": {
                sid: {**gate, "status": "cleared"}
                for sid, gate in gates.items()
                if gate.get("status") == "unavailable"
            },
        }
        return await route_after(state, resumed, spec, resources, runtime.context)

    return versioned(park_run)
