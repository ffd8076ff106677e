"""The `support` dataset: independent of the simulator, reproducible, varied, and labelled."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from evals.datasets import support_gen
from store.db import Store
from store.seed import seed_store

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "evals" / "datasets" / "support_gen.py"
SUPPORT = ROOT / "evals" / "datasets" / "support.jsonl"
ADVERSARIAL = ROOT / "evals" / "datasets" / "adversarial.jsonl"
LABEL_KEYS = {
    "expected_intent",
    "expected_order_id",
    "expected_amount_asked",
    "refund_requested",
    "expected_refund",
    "expected_status",
    "expected_escalation_reason",
}


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def string_constants(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.value.strip().lower()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_generator_imports_nothing_of_the_simulator() -> None:
    tree = ast.parse(GENERATOR.read_text(encoding="utf-8"))
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            imported.append("__import__")
    assert imported, "the walk found the imports"
    assert not [m for m in imported if m.split(".")[0] in ("simulator", "importlib", "__import__")]


def test_generator_shares_no_phrase_or_pattern_with_the_simulator() -> None:
    generator = string_constants(GENERATOR)
    simulator: set[str] = set()
    for path in (ROOT / "simulator").glob("*.py"):
        simulator |= string_constants(path)
    phrases = {s for s in generator & simulator if " " in s or re.search(r"[\\()|?*+]", s)}
    assert phrases == set()


def test_the_file_is_what_the_generator_writes() -> None:
    assert SUPPORT.read_text(encoding="utf-8") == support_gen.render(support_gen.generate())


def test_sizes_and_labels() -> None:
    generated, adversarial = rows(SUPPORT), rows(ADVERSARIAL)
    assert len(generated) >= 300
    assert len(adversarial) >= 40
    for row in generated + adversarial:
        assert LABEL_KEYS <= set(row), row["ticket_id"]
        assert row["ticket"]["ticket_id"] == row["ticket_id"]
        assert row["expected_status"] in ("resolved", "escalated")
        if row["expected_refund"] is not None:
            assert row["refund_requested"], row["ticket_id"]
    assert len({r["ticket_id"] for r in generated + adversarial}) == len(generated) + 1 * len(
        adversarial
    )


def test_wording_varies() -> None:
    text = "\n".join(r["ticket"]["body"] for r in rows(SUPPORT))
    assert re.search(r"\bUSD \d+\.\d\d\b", text), "USD 42.50"
    assert re.search(r"\d+,\d\d €", text), "42,50 €"
    assert re.search(r"[$€£]\d+(?![\d.,])", text), "$42: the short form"
    adversarial = "\n".join(r["ticket"]["body"] for r in rows(ADVERSARIAL))
    assert re.search(r"\b\d+\.\d\b(?!\d)", adversarial), "27.5: one decimal"
    assert re.search(r"\d+\.\d\d (?:dollars|euros|pounds)", text)
    assert "difference" in text and "replacement" in text.lower()
    assert re.search(r"\bwhen will \S+ ship\?", text, re.IGNORECASE)
    scenarios = {r["scenario"] for r in rows(SUPPORT)}
    assert {"paid_vs_asked", "price_difference", "replacement", "two_orders", "legal"} <= scenarios
    bodies = [r["ticket"]["body"] for r in rows(SUPPORT)]
    assert len(set(bodies)) == len(bodies), "no two tickets are the same text"


def test_labels_agree_with_the_store(tmp_path: Path) -> None:
    seed_store(tmp_path / "store.db", today=support_gen.REFERENCE_DAY)
    with Store(tmp_path / "store.db") as store:
        for row in rows(SUPPORT) + rows(ADVERSARIAL):
            order_id = row["expected_order_id"]
            text = f"{row['ticket']['subject']}\n{row['ticket']['body']}".upper()
            if order_id:
                assert order_id in text, row["ticket_id"]
            if row["expected_refund"] is None:
                continue
            order = store.get_order(order_id)
            assert order is not None and order["customer_id"] == row["ticket"]["customer_id"]
            assert row["expected_refund"] <= order["total"]
            assert row["expected_currency"] == order["currency"]


@pytest.mark.parametrize(
    ("value", "currency"), [(42.5, "EUR"), (42.0, "USD"), (18.75, "GBP"), (7.0, "EUR")]
)
def test_amounts_are_written_many_ways(value: float, currency: str) -> None:
    import random

    rng = random.Random(3)
    written = {support_gen.write_amount(rng, value, currency) for _ in range(200)}
    assert len(written) >= 5
