"""Finalize: the run's outcome in the output fields, and its count in the metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nodes.common import migrate_state, versioned
from nodes.spec import State, WorkflowSpec
from telemetry.logging import get_logger
from telemetry.metrics import WORKFLOWS

log = get_logger("conductor.finalize")

Node = Callable[..., Awaitable[dict[str, Any]]]


def final_status(state: State, spec: WorkflowSpec) -> str:
    """`rejected` for input refused at intake, `denied` for a human's refusal, else `resolved`."""
    if state.get("status") == "rejected" and not state.get("plan"):
        return "rejected"
    review = state.get("review")
    if review is not None and spec.review.refusal(review):
        return "denied"
    return "resolved"


def make_finalize_node(spec: WorkflowSpec) -> Node:
    """Build `finalize_run`: write the status and the workflow's output fields."""

    async def finalize_run(state: dict[str, Any]) -> dict[str, Any]:
        """Write the output fields a caller reads last."""
        view, writes = migrate_state(state, spec.schema_version, spec.migrations)
        status = final_status(view, spec)
        WORKFLOWS.labels(graph=spec.name, status=status).inc()
        log.info("workflow_finished", status=status)
        escalation = view.get("escalation") or {}
        return {
            **writes,
            **spec.output({**view, "status": status}),
            "status": status,
            "escalation_reason": escalation.get("reason"),
        }

    return versioned(finalize_run)
