"""The deterministic supervisor: a pure function of (state, spec, limits) to the next step.

It knows no workflow: a workflow's rules enter only through its spec's predicates and hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from nodes.spec import TIERS, Limits, State, WorkflowSpec
from state.base import PlannedSubtask

RouteKind = Literal["plan", "dispatch", "escalate", "park", "act", "finalize"]


class RoutingError(RuntimeError):
    """The state is one the supervisor has no rule for (a bug upstream, never a model's fault)."""


@dataclass(frozen=True)
class Dispatch:
    """One worker to start: which subtask instance, on which node and tier, as which attempt."""

    subtask: str
    agent: str
    tier: str
    attempt: int


@dataclass(frozen=True)
class Route:
    """The supervisor's decision."""

    kind: RouteKind
    dispatches: tuple[Dispatch, ...] = ()
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    action: str | None = None


def plan_for(state: State, spec: WorkflowSpec, limits: Limits) -> dict[str, PlannedSubtask]:
    """The plan of a run: one instance per subtask, or one per item of a fanned-out subtask.

    A dependency on a fanned-out subtask is a dependency on every one of its instances.
    """
    instances: dict[str, list[tuple[str, dict[str, Any] | None]]] = {}
    for s in spec.subtasks:
        if s.fanout is None:
            instances[s.id] = [(s.id, None)]
        else:
            items = list(s.fanout(state, limits))
            instances[s.id] = [(f"{s.id}#{n}", dict(item)) for n, item in enumerate(items)]
    plan: dict[str, PlannedSubtask] = {}
    for s in spec.subtasks:
        deps = [iid for dep in s.depends_on for iid, _ in instances[dep]]
        for iid, item in instances[s.id]:
            plan[iid] = {"id": iid, "subtask": s.id, "agent": s.agent, "depends_on": deps}
            if item is not None:
                plan[iid]["item"] = item
    return plan


def route_next_step(state: State, spec: WorkflowSpec, limits: Limits) -> Route:
    """Decide the next step of a run from its state alone.

    The rules, in order: input rejected at intake is finalized; a run without a plan is
    planned; a subtask whose providers are down parks the run (a human is asked after
    `park_cap` parks); a subtask that failed its gate `retry_budget` times goes to a human;
    ready `work` subtasks are dispatched in parallel, a retry one tier up; at the decision
    point the spec's triggers may ask a human; a due action is performed; ready `respond`
    subtasks are dispatched; then the run is finalized.

    Args:
        state: The run's state (a plain mapping).
        spec: The workflow.
        limits: The run's budgets and settings.

    Returns:
        The route to take.

    Raises:
        RoutingError: When no rule matches (a plan naming an unknown subtask, a blocked one).
    """
    if state.get("status") == "rejected" and not state.get("plan"):
        return Route("finalize", reason="rejected_at_intake")
    plan: Mapping[str, PlannedSubtask] | None = state.get("plan")
    if not plan:
        return Route("plan")
    known = {s.id for s in spec.subtasks}
    unknown = sorted({p["subtask"] for p in plan.values()} - known)
    if unknown:
        raise RoutingError(f"plan names unknown subtasks: {unknown}")
    dangling = sorted({d for p in plan.values() for d in p["depends_on"] if d not in plan})
    if dangling:
        raise RoutingError(
            f"plan depends on subtasks it does not hold, which cannot complete: {dangling}"
        )

    gates: Mapping[str, Any] = state.get("gates") or {}
    review = state.get("review")
    down = sorted(iid for iid, gate in gates.items() if gate.get("status") == "unavailable")
    if down and not review:
        tiers = sorted({str(gates[iid].get("tier")) for iid in down})
        detail = {"subtasks": down, "tiers": tiers}
        if int(state.get("parks") or 0) >= limits.park_cap:
            return Route("escalate", reason="provider_unavailable", detail=detail)
        return Route("park", reason="provider_unavailable", detail=detail)

    failures: Mapping[str, int] = state.get("failures") or {}
    exhausted = [
        iid
        for iid, gate in gates.items()
        if gate.get("status") == "failed" and failures.get(iid, 0) >= limits.retry_budget
    ]
    if exhausted and not review:
        return Route("escalate", reason="retry_budget_exhausted", detail={"subtasks": exhausted})

    done = _done(state, spec, plan, set(exhausted) | set(down))
    needed = {iid for iid, p in plan.items() if _needed(spec, p, state)}

    def ready(stage: str) -> list[str]:
        waiting = [
            iid
            for iid, p in plan.items()
            if iid in needed and iid not in done and spec.subtask(p["subtask"]).stage == stage
        ]
        runnable = [
            iid
            for iid in waiting
            if all(dep in done or dep not in needed for dep in plan[iid]["depends_on"])
        ]
        if waiting and not runnable:
            raise RoutingError(f"subtasks {waiting} wait on dependencies that cannot complete")
        return runnable

    work = ready("work")
    if work:
        return Route("dispatch", tuple(_dispatch(iid, state, spec, limits) for iid in work))
    if not review:
        for trigger in spec.triggers:
            reason = trigger(state, limits)
            if reason:
                return Route("escalate", reason=reason)
    performed = state.get("action_results") or {}
    for action in spec.actions:
        if action.name not in performed and action.due(state) is not None:
            return Route("act", action=action.name)
    respond = ready("respond")
    if respond:
        return Route("dispatch", tuple(_dispatch(iid, state, spec, limits) for iid in respond))
    return Route("finalize", reason="done")


def _done(
    state: State, spec: WorkflowSpec, plan: Mapping[str, PlannedSubtask], waivable: set[str]
) -> set[str]:
    """Instances with a passed result, plus those a human's decision covers."""
    results: Mapping[str, Any] = state.get("results") or {}
    done = {iid for iid, result in results.items() if result is not None}
    review = state.get("review")
    if review:
        settled = set(spec.review.settles(review, state))
        done |= waivable | {iid for iid, p in plan.items() if p["subtask"] in settled}
    return done


def _needed(spec: WorkflowSpec, planned: PlannedSubtask, state: State) -> bool:
    predicate = spec.subtask(planned["subtask"]).needed
    return predicate is None or predicate(state)


def _dispatch(iid: str, state: State, spec: WorkflowSpec, limits: Limits) -> Dispatch:
    """One dispatch: the first try on the subtask's tier, a retry one tier up."""
    planned = state["plan"][iid]
    subtask = spec.subtask(planned["subtask"])
    attempt = (state.get("attempts") or {}).get(iid, 0) + 1
    if subtask.is_tool:
        tier = "tool"
    else:
        tier = subtask.tier(state, limits) if callable(subtask.tier) else subtask.tier
        if (state.get("failures") or {}).get(iid, 0) > 0 and tier in TIERS[:-1]:
            tier = TIERS[TIERS.index(tier) + 1]
    return Dispatch(subtask=iid, agent=planned["agent"], tier=tier, attempt=attempt)


def retry_feedback(state: State, iid: str) -> list[str]:
    """The previous attempt's violations, told to the retry so it does not repeat them."""
    gate = (state.get("gates") or {}).get(iid) or {}
    if gate.get("status") != "failed":
        return []
    return [f"{v['kind']} on {v['field']}: {v['message']}" for v in gate.get("violations") or []]


def read_result(state: State, iid: str) -> dict[str, Any] | None:
    """The passed result of one subtask instance (its output model's JSON form), if any."""
    result: dict[str, Any] | None = (state.get("results") or {}).get(iid)
    return result


def fanned_results(state: State, sid: str) -> list[dict[str, Any]]:
    """The passed results of every instance of a fanned-out subtask, in item order."""
    results = state.get("results") or {}
    plan = state.get("plan") or {}
    return [
        results[iid]
        for iid, p in plan.items()
        if p["subtask"] == sid and results.get(iid) is not None
    ]
