"""The gate pass: a worker's proposal enters the results only when its deterministic gate passes.

It knows no workflow: each subtask's gate and the cross-subtask gates come from the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from nodes.resources import Resources
from nodes.spec import CrossGate, GateInput, State, WorkflowSpec
from state.base import GateRecord, Violation
from telemetry.logging import get_logger
from telemetry.metrics import AGENT_ERRORS

log = get_logger("conductor.gates")


def fresh_proposals(state: State, spec: WorkflowSpec) -> list[Mapping[str, Any]]:
    """Proposals not yet judged, in the spec's subtask order (then item order)."""
    gates: Mapping[str, Mapping[str, Any]] = state.get("gates") or {}
    plan = state.get("plan") or {}
    order = {s.id: n for n, s in enumerate(spec.subtasks)}
    fresh = [
        proposal
        for iid, proposal in (state.get("proposals") or {}).items()
        if (gates.get(iid) or {}).get("attempt") != proposal["attempt"] and iid in plan
    ]
    return sorted(fresh, key=lambda p: (order[plan[p["subtask"]]["subtask"]], p["subtask"]))


async def judge_proposals(
    state: State, spec: WorkflowSpec, settings: Any, resources: Resources
) -> dict[str, Any]:
    """Run the gate of every fresh proposal, then the cross-subtask gates they touch.

    Returns:
        The state write: `results`, `gates`, `failures` and `errors` of this pass, and
        `proposals` with `None` for each proposal admitted (its output is in `results`).
    """
    plan = state.get("plan") or {}
    results: dict[str, Any] = dict(state.get("results") or {})
    update: dict[str, Any] = {
        "gates": {},
        "results": {},
        "failures": {},
        "errors": [],
        "proposals": {},
    }
    for proposal in fresh_proposals(state, spec):
        iid, agent, attempt = proposal["subtask"], proposal["agent"], proposal["attempt"]
        subtask = spec.subtask(plan[iid]["subtask"])
        record: GateRecord = {
            "status": "passed",
            "attempt": attempt,
            "tier": proposal["tier"],
            "violations": [],
            "endpoint": proposal.get("endpoint"),
        }
        with structlog.contextvars.bound_contextvars(agent=agent, subtask=iid, attempt=attempt):
            if proposal["unavailable"]:
                record["status"] = "unavailable"
                update["errors"].append(_error(iid, attempt, "provider_unavailable", proposal))
            elif proposal["error"] is not None:
                record["status"] = "failed"
                record["violations"] = [
                    {"kind": "model_error", "field": "*", "message": proposal["error"]}
                ]
                # A refused request, an invalid answer or a crash spends the retry budget
                # like a refused output: a provider that keeps refusing (a prompt longer
                # than its context) ends in escalation, never in an endless retry loop.
                update["failures"][iid] = 1
                update["errors"].append(_error(iid, attempt, "model_error", proposal))
            elif subtask.gate is None:
                # A tool's output (the store's facts) is data we produced, not a model's claim.
                results[iid] = update["results"][iid] = proposal["output"]
                update["proposals"][iid] = None
            else:
                gate_input = GateInput(state, results, plan[iid].get("item"), settings)
                output, violations = subtask.gate(proposal["output"] or {}, gate_input)
                passed = output is not None and not violations
                await _settle_cache(resources, proposal.get("cache_key"), passed)
                if passed:
                    results[iid] = update["results"][iid] = output
                    update["proposals"][iid] = None
                else:
                    _refuse(update, record, iid, agent, attempt, violations)
        update["gates"][iid] = record
    fresh = set(update["results"])
    for cross in spec.cross_gates:
        _run_cross_gate(cross, state, plan, results, fresh, settings, update)
    return update


def _refuse(
    update: dict[str, Any],
    record: GateRecord,
    iid: str,
    agent: str,
    attempt: int,
    violations: list[Violation],
) -> None:
    """Record a refused output: a failed gate, a counted failure and a readable error."""
    record["status"] = "failed"
    record["violations"] = [v.model_dump() for v in violations]
    update["failures"][iid] = 1
    first = violations[0].kind if violations else "format"
    AGENT_ERRORS.labels(agent=agent, error_type=f"gate_{first}").inc()
    log.warning("gate_failed", subtask=iid, violations=record["violations"])
    update["errors"].append(
        {
            "node": "supervise",
            "subtask": iid,
            "attempt": attempt,
            "kind": "gate_failed",
            "message": "; ".join(f"{v.kind}:{v.field}: {v.message}" for v in violations),
        }
    )


def _run_cross_gate(
    cross: CrossGate,
    state: State,
    plan: Mapping[str, Any],
    results: dict[str, Any],
    fresh: set[str],
    settings: Any,
    update: dict[str, Any],
) -> None:
    """Check each (target, source) pair with a result, when either arrived in this pass."""
    targets = [iid for iid, p in plan.items() if p["subtask"] == cross.target]
    sources = [iid for iid, p in plan.items() if p["subtask"] == cross.source]
    for n, target in enumerate(targets):
        source = sources[0] if len(sources) == 1 else (sources[n] if n < len(sources) else None)
        if source is None or results.get(target) is None or results.get(source) is None:
            continue
        if target not in fresh and source not in fresh:
            continue
        gate_input = GateInput(state, results, plan[target].get("item"), settings)
        violations = cross.check(results[target], results[source], gate_input)
        if not violations:
            continue
        previous: Mapping[str, Any] = (state.get("gates") or {}).get(target) or {}
        record: GateRecord = update["gates"].get(target) or {  # type: ignore[assignment]
            "status": "failed",
            "attempt": previous.get("attempt", 1),
            "tier": previous.get("tier", "small"),
            "violations": [],
            "endpoint": previous.get("endpoint"),
        }
        results[target] = update["results"][target] = None  # withdrawn
        update["proposals"].pop(target, None)  # a refused output stays for people to read
        _refuse(update, record, target, plan[target]["agent"], record["attempt"], violations)
        update["gates"][target] = record


async def _settle_cache(resources: Resources, key: str | None, passed: bool) -> None:
    """Keep a cacheable answer in the response cache only if its gate passed."""
    if key is None:
        return
    if passed:
        await resources.gateway.confirm_cached(key)
    else:
        resources.gateway.discard_cached(key)


def _error(iid: str, attempt: int, kind: str, proposal: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "node": "supervise",
        "subtask": iid,
        "attempt": attempt,
        "kind": kind,
        "message": str(proposal["error"]),
    }
