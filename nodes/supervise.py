"""The supervisor node: judge fresh proposals at their gates, then apply the pure router's route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from nodes.common import migrate_state, versioned
from nodes.gate import judge_proposals
from nodes.prompts import with_feedback
from nodes.resources import Resources
from nodes.router import Dispatch, Route, plan_for, retry_feedback, route_next_step
from nodes.spec import Limits, State, WorkflowSpec
from state.base import AgentTask, LoneDispatch
from state.reducers import add_counts, add_usage, merge_dicts, merge_pending
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


def lone_task(state: State, spec: WorkflowSpec, context: Any) -> AgentTask:
    """The task of the worker dispatched alone, rebuilt from the state's `dispatch`.

    The worker's state is the supervisor's view once its writes landed, so the prompt is
    the one the supervisor would have built (the checkpoint need not carry it).
    """
    lone: LoneDispatch = state["dispatch"]
    dispatch = Dispatch(lone["subtask"], lone["agent"], lone["tier"], lone["attempt"])
    return agent_task(state, spec, dispatch, spec.limits(context))


MERGED = frozenset({"results", "gates", "attempts", "action_results", "timings"})
"""Channels whose reducer merges maps (`state.reducers.merge_dicts`)."""

REDUCED = MERGED | {"proposals", "failures", "errors", "actions", "usage", "version"}
"""Channels with a reducer: a write adds to them, so an empty write adds nothing."""


def apply_writes(state: State, update: Mapping[str, Any]) -> dict[str, Any]:
    """The state as the router should see it once these writes land (reducers applied)."""
    view = dict(state)
    for key, value in update.items():
        if key in MERGED:
            view[key] = merge_dicts(view.get(key), value)
        elif key == "proposals":
            view[key] = merge_pending(view.get(key), value)
        elif key == "failures":
            view[key] = add_counts(view.get(key), value)
        elif key in ("errors", "actions"):
            view[key] = [*(view.get(key) or []), *value]
        elif key == "usage":
            view[key] = add_usage(view.get(key), value)
        elif key != "version":
            view[key] = value
    return view


def changed_writes(state: State, update: Mapping[str, Any]) -> dict[str, Any]:
    """`update` without the writes that change nothing: empty merges, values already held.

    Every channel written is a row of the checkpointer's writes and a new channel version
    that the next checkpoint serialises; the supervisor's step would otherwise rewrite the
    workflow's progress fields, `status` and `dispatch` and merge empty gate maps on every
    step. A lone worker's proposal admitted in the same step never reaches the state.
    """
    if "proposals" in update:
        held = state.get("proposals") or {}
        pending = {k: v for k, v in update["proposals"].items() if v is not None or k in held}
        update = {**update, "proposals": pending}
    return {
        key: value
        for key, value in update.items()
        if (value or key not in REDUCED or key == "version")
        and (key in REDUCED or key not in state or state[key] != value)
    }


def combine(first: Mapping[str, Any], then: Mapping[str, Any]) -> dict[str, Any]:
    """Two writes of one node as one: lists appended, counters added, maps merged."""
    out = dict(first)
    for key, value in then.items():
        if key in out and isinstance(value, list):
            out[key] = [*out[key], *value]
        elif key == "failures":
            out[key] = add_counts(out.get(key), value)
        elif key in out and isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


async def route_after(
    state: State,
    writes: Mapping[str, Any],
    spec: WorkflowSpec,
    resources: Resources,
    context: Any,
) -> Command[Any]:
    """The supervisor's step on `state` once a node's own `writes` land: gates, then route.

    Every node that runs alone (intake, a lone worker, an action, a review, a park) ends
    with this step instead of handing over to the `supervise` node, so that the supervisor
    costs no superstep of its own there; only a parallel fan-out joins at `supervise`. The
    step is the same either way: migrate, judge fresh proposals at their gates, route.

    Returns:
        The `Command` carrying the node's writes, the gate pass's, and the route.
    """
    limits = spec.limits(context)
    view, update = migrate_state(state, spec.schema_version, spec.migrations)
    update = combine(update, writes)
    view = apply_writes(view, writes)
    gated = await judge_proposals(view, spec, limits.settings, resources)
    update = combine(update, gated)
    view = apply_writes(view, gated)
    if spec.progress is not None:
        update.update(spec.progress(view))
    route = route_next_step(view, spec, limits)
    if route.kind == "plan":
        update["plan"] = plan_for(view, spec, limits)
        view = apply_writes(view, update)
        route = route_next_step(view, spec, limits)
    _log(route)
    command = _command(route, view, spec, limits, update)
    return replace(command, update=changed_writes(state, command.update or {}))


def make_supervise_node(
    spec: WorkflowSpec, resources: Resources
) -> Callable[..., Awaitable[Command[Any]]]:
    """Build `supervise`, where parallel workers join: gate pass, route, and its `Command`."""

    async def supervise(state: dict[str, Any], runtime: Runtime[Any]) -> Command[Any]:
        """Judge fresh proposals, then plan, dispatch, escalate, park, act or finalize."""
        return await route_after(state, {}, spec, resources, runtime.context)

    return versioned(supervise)


def _command(
    route: Route,
    view: State,
    spec: WorkflowSpec,
    limits: Limits,
    update: dict[str, Any],
) -> Command[Any]:
    if route.kind == "dispatch":
        if len(route.dispatches) == 1:
            # A lone worker rebuilds its task from state and routes on when done (no join).
            (d,) = route.dispatches
            lone: LoneDispatch = {
                "subtask": d.subtask,
                "agent": d.agent,
                "tier": d.tier,
                "attempt": d.attempt,
            }
            return Command(goto=d.agent, update={**update, "status": "running", "dispatch": lone})
        tasks = [agent_task(view, spec, d, limits) for d in route.dispatches]
        sends = [Send(task["agent"], task) for task in tasks]
        return Command(goto=sends, update={**update, "status": "running", "dispatch": None})
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
        assert route.action is not None
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
