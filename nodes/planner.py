"""The planner: the subtasks of a support ticket and their dependencies (no model needed)."""

from __future__ import annotations

from typing import Any

from nodes.common import versioned
from state.support import Subtask, SupportState

SUPPORT_PLAN: dict[str, Subtask] = {
    "classify": {"id": "classify", "agent": "classify_intent", "tier": "small", "depends_on": []},
    "extract": {"id": "extract", "agent": "extract_entities", "tier": "small", "depends_on": []},
    "context": {
        "id": "context",
        "agent": "gather_context",
        "tier": "tool",
        "depends_on": ["extract"],
    },
    "decide": {
        "id": "decide",
        "agent": "decide_refund",
        "tier": "large",
        "depends_on": ["classify", "context"],
    },
    "reply": {
        "id": "reply",
        "agent": "draft_reply",
        "tier": "small",
        "depends_on": ["classify", "context"],
    },
}
"""The plan of every support ticket; `decide` runs only for refund intents (a supervisor rule)."""


@versioned
async def plan_subtasks(state: SupportState) -> dict[str, Any]:
    """Write the plan: which subtasks run, on which agent and tier, after which others."""
    return {"plan": {sid: dict(subtask) for sid, subtask in SUPPORT_PLAN.items()}}
