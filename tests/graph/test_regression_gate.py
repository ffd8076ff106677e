"""The regression gate: a fixed subset must keep its accuracy, and money must never move wrongly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from evals.experiment import EvalSettings, run_eval

THRESHOLDS = json.loads(
    (Path(__file__).resolve().parents[2] / "evals" / "thresholds.json").read_text("utf-8")
)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("dataset", sorted(THRESHOLDS["subsets"]))
async def test_the_fixed_subset_holds_its_thresholds(dataset: str) -> None:
    gate = THRESHOLDS["subsets"][dataset]
    started = time.perf_counter()
    result = await run_eval(
        EvalSettings(dataset=dataset, limit=gate["limit"], error_seed=THRESHOLDS["error_seed"])
    )
    assert time.perf_counter() - started < 60
    scores = result.scores
    assert scores["intent_match"] >= gate["intent_accuracy"], scores
    assert scores["refund_match"] >= gate["refund_accuracy"], scores
    assert scores["escalation_recall"] >= gate["escalation_recall"], scores
    assert result.money_wrong <= THRESHOLDS["max_money_wrong"], result.money
    assert result.money.get("duplicate", 0) <= THRESHOLDS["max_duplicate_refunds"]
    assert result.money.get("review_skipped", 0) == 0, result.money
    assert all(not row["money_issues"] for row in result.rows)
