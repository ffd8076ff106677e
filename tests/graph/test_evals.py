"""The evaluation experiment: langsmith's aevaluate, offline, with our evaluators."""

from __future__ import annotations

from typing import Any

import pytest

from evals.evaluators import escalation_match, intent_match, money_safe, outcome, policy_clean
from evals.experiment import EvalSettings, load_examples, run_eval

TRUTH_REFUND = {
    "expected_status": "resolved",
    "expected_refund": 35.0,
    "expected_intent": "refund_request",
    "expected_escalation_reason": None,
}
TRUTH_HUMAN = {**TRUTH_REFUND, "expected_status": "escalated"}


@pytest.mark.parametrize(
    ("outputs", "truth", "scores"),
    [
        (
            {"status": "resolved", "refunded": 35.0, "intent": "refund_request"},
            TRUTH_REFUND,
            (1, 1, 1, 1),
        ),
        (
            {"status": "resolved", "refunded": None, "intent": "order_status"},
            TRUTH_REFUND,
            (0, 0, 0, 1),
        ),
        (
            {"status": "escalated", "refunded": None, "intent": "refund_request"},
            TRUTH_REFUND,
            (0, 1, 1, 0),
        ),
        (
            {"status": "escalated", "refunded": None, "intent": "refund_request"},
            TRUTH_HUMAN,
            (1, 1, 1, 1),
        ),
        (
            {"status": "resolved", "refunded": 35.0, "intent": "refund_request"},
            TRUTH_HUMAN,
            (0, 0, 1, 0),
        ),
    ],
)
def test_evaluators(
    outputs: dict[str, Any], truth: dict[str, Any], scores: tuple[int, ...]
) -> None:
    got = tuple(
        f(outputs, truth)["score"] for f in (outcome, money_safe, intent_match, escalation_match)
    )
    assert got == scores
    assert policy_clean({"policy_violations": ["x"]}, truth)["score"] == 0


def test_examples_carry_their_ground_truth() -> None:
    examples = load_examples()
    assert len(examples) == 37
    assert all(
        e.outputs and e.outputs["ticket_id"] == e.inputs["ticket"]["ticket_id"]
        for e in examples
        if e.inputs["ticket"].get("ticket_id")
    )


@pytest.mark.filterwarnings("ignore:'upload_results' parameter is in beta")
async def test_experiment_scores_every_example_offline() -> None:
    report = await run_eval(EvalSettings(dataset="examples", limit=12, error_model="ideal"))
    assert len(report.rows) == 12
    assert report.scores["money_safe"] == 1.0
    assert report.scores["money_right"] == 1.0
    assert report.scores["policy_clean"] == 1.0
    assert report.scores["outcome"] >= 0.75
    assert report.metadata["profile"] == "sim"
