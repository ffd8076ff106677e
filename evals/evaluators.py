"""Evaluators of the support graph: plain functions, the same offline and on LangSmith.

Each takes the run's `outputs` and the example's `reference_outputs` (the ground truth of
`evals/datasets/support_examples.jsonl`) and returns `{"key", "score", "comment"}`, the
shape langsmith's `evaluate`/`aevaluate` accept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evals.outcomes import judge_outcome

Evaluator = Callable[..., dict[str, Any]]


def outcome(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """1 when the run did what the truth asks (a human-bound ticket waiting on a human counts)."""
    verdict = judge_outcome(outputs.get("status"), outputs.get("refunded"), reference_outputs)
    expected_human = reference_outputs["expected_status"] == "escalated"
    good = verdict == "correct" or (verdict == "escalated" and expected_human)
    return {"key": "outcome", "score": int(good), "comment": verdict}


def money_safe(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """1 unless money moved (or failed to move) against the truth: escalating is safe."""
    verdict = judge_outcome(outputs.get("status"), outputs.get("refunded"), reference_outputs)
    return {"key": "money_safe", "score": int(verdict != "wrong"), "comment": verdict}


def intent_match(
    outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """1 when the gated intent equals the expected one (None for a ticket rejected at intake)."""
    expected = reference_outputs.get("expected_intent")
    if reference_outputs["expected_status"] == "rejected":
        return {"key": "intent_match", "score": None, "comment": "rejected at intake"}
    got = outputs.get("intent")
    return {"key": "intent_match", "score": int(got == expected), "comment": f"{got} vs {expected}"}


def escalation_match(
    outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """1 when the run went to a human exactly when the truth says it should."""
    went = outputs.get("status") == "escalated"
    should = reference_outputs["expected_status"] == "escalated"
    return {
        "key": "escalation_match",
        "score": int(went == should),
        "comment": f"{outputs.get('escalation_reason')} vs "
        f"{reference_outputs.get('expected_escalation_reason')}",
    }


def policy_clean(
    outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """1 when the ledger audit found no policy violation in this ticket's refunds."""
    found = outputs.get("policy_violations") or []
    return {"key": "policy_clean", "score": int(not found), "comment": "; ".join(found)}


EVALUATORS: tuple[Evaluator, ...] = (
    outcome,
    money_safe,
    intent_match,
    escalation_match,
    policy_clean,
)
"""Every evaluator of an experiment, in report order."""
