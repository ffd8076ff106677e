"""The supervisor node: judge fresh proposals at their gates, then apply the pure router's route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from nodes.common import migrate_state, versioned
from nodes.gate import judge_proposals
from nodes.prompts import with_feedback
from nodes.resources import Resources
from nodes.router import Dispatch, Route, plan_for, retry_feedback, route_next_step
from nodes.spec import Limits, State, WorkflowSpec
from state.base import AgentTask
from state.reducers import add_counts, merge_dicts
from telemetry.logging import get_logger
from telemetry.metrics import ESCALATIONS

log = get_logger("conductor.supervisor")

CORE_TARGETS = ("escalate_to_human", "park_run", "finalize_run")
"""Nodes every workflow has besides its agents and actions."""


def agent_task(state: State, spec: WorkflowSpec, dispatch: Dispatch, limits: Limits) -> AgentTask:
    """The `Send` payload of one dispatch: the prompt (or tool input) built here, from state.

    Building it here keeps the payload small (a chunk's text, not the whole document) and
    the worker generic.
    """
    planned = state["plan"][dispatch.subtask]
    subtask = spec.subtask(planned["subtask"])
    item = planned.get("item")
    messages: list[tuple[str, str]] = []
    tool_input = None
    if subtask.is_tool:
        tool_input = subtask.tool_input(state, item) if subtask.tool_input else {}
    elif subtask.prompt is not None:
        feedback = retry_feedback(state, dispatch.subtask)
        messages = with_feedback(subtask.prompt(state, item, limits), feedback)
    return {
        "subtask": dispatch.subtask,
        "agent": dispatch.agent,
        "tier": dispatch.tier,
        "attempt": dispatch.attempt,
        "messages": messages,
        "tool_input": tool_input,
    }


def apply_writes(state: State, update: Mapping[str, Any]) -> dict[str, Any]:
    """The state as the router should see it once this node's writes land (reducers applied)."""
    view = dict(state)
    for key in ("results", "gates"):
        if key in update:
            view[key] = merge_dicts(view.get(key), update[key])
    if "failures" in update:
        view["failures"] = add_counts(view.get("failures"), update["failures"])
    for key in ("plan", "schema_version", "action_results", "parks"):
        if key in update:
            view[key] = update[key]
    return view


def make_supervise_node(
    spec: WorkflowSpec, resources: Resources
) -> Callable[..., Awaitable[Command[Any]]]:
    """Build the supervisor of `spec`: gate pass, route, and the `Command` that carries it out."""
    action_nodes = {action.name for action in spec.actions}

    async def supervise(state: dict[str, Any], runtime: Runtime[Any]) -> Command[Any]:
        """Judge fresh proposals, then plan, dispatch, escalate, park, act or finalize."""
        limits = spec.limits(runtime.context)
        view, update = migrate_state(state, spec.schema_version, spec.migrations)
        update.update(await judge_proposals(view, spec, limits.settings, resources))
        view = apply_writes(view, update)
        if spec.progress is not None:
            update.update(spec.progress(view))
        route = route_next_step(view, spec, limits)
        if route.kind == "plan":
            update["plan"] = plan_for(view, spec, limits)
            view = apply_writes(view, update)
            route = route_next_step(view, spec, limits)
        _log(route)
        return _command(route, view, spec, limits, update, action_nodes)

    return versioned(supervise)


def _command(
    route: Route,
    view: State,
    spec: WorkflowSpec,
    limits: Limits,
    update: dict[str, Any],
    action_nodes: set[str],
) -> Command[Any]:
    if route.kind == "dispatch":
        sends = [Send(d.agent, agent_task(view, spec, d, limits)) for d in route.dispatches]
        return Command(goto=sends, update={**update, "status": "running"})
    if route.kind == "escalate":
        ESCALATIONS.labels(reason=route.reason or "unknown").inc()
        escalation = {"reason": route.reason, "detail": route.detail}
        return Command(
            goto="escalate_to_human",
            update={
                **update,
                "status": "escalated",
                "escalation": escalation,
                "escalation_reason": route.reason,
            },
        )
    if route.kind == "park":
        parked = {"reason": route.reason, **route.detail}
        return Command(goto="park_run", update={**update, "status": "parked", "parked": parked})
    if route.kind == "act":
        assert route.action in action_nodes
        return Command(goto=route.action, update=update)
    return Command(goto="finalize_run", update=update)


def _log(route: Route) -> None:
    log.info(
        "route",
        route=route.kind,
        reason=route.reason,
        action=route.action,
        dispatch=[f"{d.subtask}@{d.tier}#{d.attempt}" for d in route.dispatches],
    )
