"""Evaluators of the support graph: plain functions, the same offline and on LangSmith.

Each takes the run's `outputs` and the example's `reference_outputs` (the ground truth of
a dataset in `evals/datasets/`) and returns `{"key", "score", "comment"}`, the
shape langsmith's `evaluate`/`aevaluate` accept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from evals.outcomes import MONEY_WRONG_KINDS, judge_outcome, same_money

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


def refund_match(
    outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """1 when the money refunded so far equals what the truth pays without a human.

    A ticket the truth sends to a human pays nothing before the human decides, so for it
    the expected immediate refund is none.
    """
    if reference_outputs["expected_status"] == "rejected":
        return {"key": "refund_match", "score": None, "comment": "rejected at intake"}
    human = reference_outputs["expected_status"] == "escalated"
    expected = None if human else reference_outputs.get("expected_refund")
    got = outputs.get("refunded")
    return {
        "key": "refund_match",
        "score": int(same_money(got, expected)),
        "comment": f"{got} vs {expected}",
    }


def escalation_recall(
    outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """On tickets the truth sends to a human: 1 when the run did (None on the others)."""
    if reference_outputs["expected_status"] != "escalated":
        return {"key": "escalation_recall", "score": None, "comment": "no human expected"}
    went = outputs.get("status") == "escalated"
    return {
        "key": "escalation_recall",
        "score": int(went),
        "comment": f"{outputs.get('escalation_reason')} vs "
        f"{reference_outputs.get('expected_escalation_reason')}",
    }


def money_right(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """1 unless money moved wrongly; 0 naming how (amount, eligibility, owner, order, asked)."""
    issues = [i for i in outputs.get("money_issues") or [] if i in MONEY_WRONG_KINDS]
    return {"key": "money_right", "score": int(not issues), "comment": ", ".join(issues)}


def review_respected(
    outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]
) -> dict[str, Any]:
    """0 when a correct refund was paid without the human the truth asks for."""
    skipped = "review_skipped" in (outputs.get("money_issues") or [])
    return {"key": "review_respected", "score": int(not skipped), "comment": ""}


def cost_usd(outputs: Mapping[str, Any], reference_outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The ticket's model spend in USD (at the registry's prices), as a score."""
    return {"key": "cost_usd", "score": float(outputs.get("cost_usd") or 0.0), "comment": ""}


EVALUATORS: tuple[Evaluator, ...] = (
    outcome,
    money_safe,
    money_right,
    review_respected,
    intent_match,
    refund_match,
    escalation_match,
    escalation_recall,
    policy_clean,
    cost_usd,
)
"""Every evaluator of an experiment, in report order."""
