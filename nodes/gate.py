"""The gate node: a worker's proposal enters the results only when its deterministic gate passes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from langgraph.runtime import Runtime

from gateway.process import get_gateway
from nodes.common import versioned
from nodes.context import policy_from_context
from nodes.supervisor import reply_outcome
from state.schemas import IntentClassification, Ticket
from state.support import GateRecord, SupportContext, SupportState
from telemetry.logging import get_logger
from telemetry.metrics import AGENT_ERRORS
from validators.consistency import check_intent_consistent
from validators.gates import GATES, GateContext, run_gate

log = get_logger("conductor.gates")

GATE_ORDER = ("extract", "context", "classify", "decide", "reply")
"""Proposals judged in one pass go in this order, so the classifier is checked against the
extractor's answer of the same pass."""

OUTPUT_FIELDS = {"classify": ("intent", "intent"), "extract": ("entities", None)}
"""Gated results that are also output fields, readable while a run waits on a human."""


@versioned
async def validate_outputs(state: SupportState, runtime: Runtime[SupportContext]) -> dict[str, Any]:
    """Run the gate of every proposal not yet judged; record passes, failures and outages."""
    gates: Mapping[str, Mapping[str, Any]] = state.get("gates") or {}
    fresh = sorted(
        (
            proposal
            for sid, proposal in (state.get("proposals") or {}).items()
            if (gates.get(sid) or {}).get("attempt") != proposal["attempt"]
        ),
        key=lambda proposal: GATE_ORDER.index(proposal["subtask"]),
    )
    ticket = Ticket.model_validate(state["ticket"])
    results = state.get("results") or {}
    policy = policy_from_context(runtime.context)
    update: dict[str, Any] = {"gates": {}, "results": {}, "failures": {}, "errors": []}
    for proposal in fresh:
        sid, agent, attempt = proposal["subtask"], proposal["agent"], proposal["attempt"]
        record: GateRecord = {
            "status": "passed",
            "attempt": attempt,
            "tier": proposal["tier"],
            "violations": [],
        }
        with structlog.contextvars.bound_contextvars(agent=agent, subtask=sid, attempt=attempt):
            if proposal["unavailable"]:
                record["status"] = "unavailable"
                update["errors"].append(_error(sid, attempt, "provider_unavailable", proposal))
            elif proposal["error"] is not None:
                record["status"] = "failed"
                record["violations"] = [
                    {"kind": "model_error", "field": "*", "message": proposal["error"]}
                ]
                update["errors"].append(_error(sid, attempt, "model_error", proposal))
            elif agent not in GATES:
                # A tool's output (the store's facts) is data we produced, not a model's claim.
                update["results"][sid] = proposal["output"]
                if sid == "context":
                    update["facts"] = proposal["output"]
            else:
                ctx = GateContext(
                    ticket=ticket,
                    facts=update.get("facts") or state.get("facts"),
                    outcome=reply_outcome(state) if sid == "reply" else None,
                    policy=policy,
                    entities=update["results"].get("extract") or results.get("extract"),
                )
                verdict = run_gate(agent, proposal["output"] or {}, ctx)
                await _settle_cache(proposal.get("cache_key"), verdict.passed)
                if verdict.passed and verdict.output is not None:
                    update["results"][sid] = verdict.output
                    if sid in OUTPUT_FIELDS:
                        field, key = OUTPUT_FIELDS[sid]
                        update[field] = verdict.output[key] if key else verdict.output
                else:
                    record["status"] = "failed"
                    record["violations"] = [v.model_dump() for v in verdict.violations]
                    first = verdict.violations[0].kind
                    AGENT_ERRORS.labels(agent=agent, error_type=f"gate_{first}").inc()
                    log.warning("gate_failed", violations=record["violations"])
                    update["errors"].append(
                        {
                            "node": "validate_outputs",
                            "subtask": sid,
                            "attempt": attempt,
                            "kind": "gate_failed",
                            "message": "; ".join(
                                f"{v.kind}:{v.field}: {v.message}" for v in verdict.violations
                            ),
                        }
                    )
            if record["status"] == "failed":
                update["failures"][sid] = 1
        update["gates"][sid] = record
    _recheck_classification(state, update)
    return update


async def _settle_cache(key: str | None, passed: bool) -> None:
    """Keep a cacheable answer in the response cache only if its gate passed."""
    if key is None:
        return
    if passed:
        await get_gateway().confirm_cached(key)
    else:
        get_gateway().discard_cached(key)


def _recheck_classification(state: SupportState, update: dict[str, Any]) -> None:
    """Hold an earlier classification to the extractor's answer that arrived after it.

    Both agents read the same ticket; when the extraction passes its gate after the
    classification did, and they disagree, the classification is withdrawn (its result set
    to None) and counted as a failed attempt, so the supervisor retries it on the large tier.
    """
    entities = update["results"].get("extract")
    earlier = (state.get("results") or {}).get("classify")
    if not entities or not earlier or "classify" in update["results"]:
        return
    violations = check_intent_consistent(IntentClassification.model_validate(earlier), entities)
    if not violations:
        return
    gate: Mapping[str, Any] = (state.get("gates") or {}).get("classify") or {}
    update["results"]["classify"] = None
    update["intent"] = None
    update["gates"]["classify"] = {
        "status": "failed",
        "attempt": gate.get("attempt", 1),
        "tier": gate.get("tier", "small"),
        "violations": [v.model_dump() for v in violations],
    }
    update["failures"]["classify"] = 1
    update["errors"].append(
        {
            "node": "validate_outputs",
            "subtask": "classify",
            "attempt": gate.get("attempt", 1),
            "kind": "gate_failed",
            "message": "; ".join(f"{v.kind}:{v.field}: {v.message}" for v in violations),
        }
    )
    AGENT_ERRORS.labels(agent="classify_intent", error_type="gate_consistency").inc()


def _error(sid: str, attempt: int, kind: str, proposal: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "node": "validate_outputs",
        "subtask": sid,
        "attempt": attempt,
        "kind": kind,
        "message": str(proposal["error"]),
    }
