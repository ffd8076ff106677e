"""Graph assembly from a workflow spec: the same parts for every workflow (wiring only)."""

from __future__ import annotations

import sqlite3
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy

from graphs.guard import guarded
from nodes.action import make_action_node
from nodes.agent import make_agent_node, make_tool_node, record_worker_crash
from nodes.escalation import make_park_node, make_review_node
from nodes.finalize import make_finalize_node
from nodes.intake import make_intake_node
from nodes.resources import Resources
from nodes.spec import WorkflowSpec
from nodes.supervise import CORE_TARGETS, make_supervise_node

STORE_RETRY = RetryPolicy(
    max_attempts=3, initial_interval=0.05, retry_on=(sqlite3.OperationalError,)
)
"""Tool and action nodes retry only a locked or busy database; nothing else is retried."""

NODE_GUARD_FACTOR = 1.5
"""A worker node's outer guard is this many times its agent's whole-call budget: one budget
for the calls and half of one to spare. The guard leaves out the calls' waits in the gateway's
admission queue and the event loop's lag (`graphs.guard`), as the gateway's budget does."""

DEFAULT_NODE_TIMEOUT_S = 60.0
"""The outer guard of an agent the registry does not know (tools, tests with fakes)."""


def build_graph(
    spec: WorkflowSpec,
    resources: Resources,
    *,
    opened: Any = None,
    agent_budgets: dict[str, float] | None = None,
) -> StateGraph[Any, Any, Any, Any]:
    """Build the uncompiled graph of `spec`, its nodes bound to `resources`.

    Args:
        spec: The workflow; validated here (a bad spec raises before anything runs).
        resources: The gateway and store its nodes use.
        opened: Output fields known at intake, from the raw input (see `make_intake_node`).
        agent_budgets: Whole-call budget per agent in seconds; each worker node's outer
            timeout derives from it (`NODE_GUARD_FACTOR` × budget), so that the node guard
            never cuts a call the gateway still allows.

    Returns:
        The builder; the caller compiles it with the checkpointer it needs.

    Raises:
        ValueError: When the spec is incoherent (see `WorkflowSpec.validate`).
    """
    spec.validate(resources.known_agents())
    budgets = agent_budgets if agent_budgets is not None else _budgets_from_registry()
    builder = StateGraph(
        spec.state_schema,
        context_schema=spec.context_schema,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
    )
    # Every node that runs alone takes the supervisor's step itself and may route anywhere
    # the supervisor may; workers of a parallel fan-out join at `supervise`.
    routes = (
        *(s.agent for s in spec.subtasks),
        *(a.name for a in spec.actions),
        *CORE_TARGETS,
        "supervise",
    )
    builder.add_node(
        "accept_input",
        make_intake_node(spec, resources, opened or (lambda raw: {})),
        destinations=routes,
    )
    builder.add_node("supervise", make_supervise_node(spec, resources), destinations=routes)
    for subtask in spec.subtasks:
        if subtask.is_tool:
            builder.add_node(
                subtask.agent,
                make_tool_node(spec, subtask, resources),
                retry_policy=STORE_RETRY,
                destinations=routes,
            )
        else:
            # No RetryPolicy: the gateway alone retries a call (429s with Retry-After,
            # fallbacks), and the supervisor retries a refused output one tier up.
            guard = NODE_GUARD_FACTOR * budgets.get(subtask.agent, DEFAULT_NODE_TIMEOUT_S)
            builder.add_node(
                subtask.agent,
                guarded(make_agent_node(spec, subtask, resources), guard),
                error_handler=record_worker_crash,
                destinations=routes,
            )
    for action in spec.actions:
        builder.add_node(
            action.name,
            make_action_node(spec, action, resources),
            retry_policy=STORE_RETRY,
            destinations=routes,
        )
    builder.add_node("escalate_to_human", make_review_node(spec, resources), destinations=routes)
    builder.add_node("park_run", make_park_node(spec, resources), destinations=routes)
    builder.add_node(make_finalize_node(spec))
    builder.add_edge(START, "accept_input")
    builder.add_edge("finalize_run", END)
    return builder


def _budgets_from_registry() -> dict[str, float]:
    """Each agent's whole-call budget from the model registry (read once, at build time)."""
    from gateway.registry import GatewaySettings

    settings = GatewaySettings.from_env()
    return {name: agent.total_budget_s for name, agent in settings.agents.items()}
