"""Tests of the documents gates: clean outputs pass, hallucinations are refused, nothing raises."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path
from typing import Any

import pytest

from evals.datasets import documents_gen
from state.documents import (
    DocumentClassification,
    Entity,
    ExtractedEntities,
    ExtractedRelationships,
    Relationship,
)
from validators.documents import (
    check_classification,
    check_entities_in_text,
    check_invoice_total,
    check_relationship_endpoints,
    parse_written_amount,
    parse_written_date,
)

ROOT = Path(__file__).resolve().parents[2]
DATASET = ROOT / "evals" / "datasets" / "documents.jsonl"
TEXT = (
    "Invoice INV-2026-0142 dated 1 March 2026 from Acme Ltd.\n"
    "- Chairs: $1,200.00\n- Desks: $300.50\nVAT: $150.05\nTotal: $1,650.55\n"
    "Bill to: Contoso Inc., paid 1.234,56 € on 2026-03-02."
)


def entity(text: str, kind: str = "identifier", **extra: Any) -> Entity:
    start = TEXT.index(text)
    return Entity(kind=kind, text=text, start=start, end=start + len(text), **extra)  # type: ignore[arg-type]


def amount(text: str, value: float, role: str, currency: str = "USD") -> Entity:
    return entity(text, "amount", value=value, currency=currency, role=role)


CLEAN = [
    entity("INV-2026-0142"),
    entity("1 March 2026", "date"),
    entity("Acme Ltd.", "organization"),
    amount("$1,200.00", 1200.0, "line_item"),
    amount("$300.50", 300.5, "line_item"),
    amount("$150.05", 150.05, "tax"),
    amount("$1,650.55", 1650.55, "total"),
    entity("Contoso Inc.", "organization"),
    amount("1.234,56 €", 1234.56, "other", "EUR"),
    entity("2026-03-02", "date"),
]


def wrap(*items: Entity) -> ExtractedEntities:
    return ExtractedEntities(entities=list(items))


# --- entities in the text -----------------------------------------------------------------


def test_clean_entities_pass() -> None:
    assert check_entities_in_text(wrap(*CLEAN), TEXT) == []


def test_invented_entity_is_refused() -> None:
    invented = Entity(kind="organization", text="Globex Corp.", start=0, end=12)
    [violation] = check_entities_in_text(wrap(invented), TEXT)
    assert violation.kind == "consistency" and "invented" in violation.message


def test_shifted_span_is_refused_and_the_right_offset_named() -> None:
    good = entity("Acme Ltd.", "organization")
    shifted = good.model_copy(update={"start": good.start + 2, "end": good.end + 2})
    [violation] = check_entities_in_text(wrap(shifted), TEXT)
    assert violation.field == "entities[0].text" and f"occurs at {good.start}" in violation.message


def test_span_past_the_end_is_refused() -> None:
    past = Entity(kind="identifier", text="INV-2026-0142", start=len(TEXT), end=len(TEXT) + 13)
    assert check_entities_in_text(wrap(past), TEXT)[0].kind == "consistency"


@pytest.mark.parametrize(
    ("value", "currency", "field"),
    [(1650.56, "USD", "value"), (1560.55, "USD", "value"), (1650.55, "EUR", "currency")],
)
def test_misread_amount_or_wrong_currency_is_refused(
    value: float, currency: str, field: str
) -> None:
    wrong = amount("$1,650.55", value, "total", currency)
    [violation] = check_entities_in_text(wrap(wrong), TEXT)
    assert violation.field == f"entities[0].{field}"


def test_unknown_currency_and_missing_value_are_refused() -> None:
    no_value = amount("$300.50", 300.5, "line_item").model_copy(update={"value": None})
    odd = amount("$300.50", 300.5, "line_item", "XYZ")
    fields = {v.field for v in check_entities_in_text(wrap(no_value, odd), TEXT)}
    assert fields == {"entities[0].value", "entities[1].currency"}


def test_impossible_date_is_refused() -> None:
    text = "Signed on 31/02/2026."
    bad = Entity(kind="date", text="31/02/2026", start=10, end=20)
    [violation] = check_entities_in_text(wrap(bad), text)
    assert violation.kind == "plausibility"


@pytest.mark.parametrize(
    "weird",
    [
        {"kind": "amount", "text": "$5", "start": "a", "end": None, "value": "x"},
        {"kind": "amount", "text": "$5", "start": 0, "end": 2, "value": math.nan, "currency": 7},
        {"kind": "amount", "text": "$5", "start": 0, "end": 2, "value": math.inf},
        {"kind": "spaceship", "text": "$5", "start": 0, "end": 2},
        {"kind": "date", "text": None, "start": 0, "end": 2},
        {"kind": "amount", "text": "$5", "start": True, "end": 2},
    ],
)
def test_weird_inputs_become_violations(weird: dict[str, Any]) -> None:
    broken = ExtractedEntities.model_construct(entities=[Entity.model_construct(**weird)])
    assert check_entities_in_text(broken, "$5 and more")


def test_entities_not_a_list_is_a_violation() -> None:
    broken = ExtractedEntities.model_construct(entities=None)  # type: ignore[arg-type]
    assert check_entities_in_text(broken, TEXT)[0].kind == "format"


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("$1,234.56", 1234.56),
        ("1.234,56 €", 1234.56),
        ("EUR 1.200,50", 1200.5),
        ("CHF 1'440.00", 1440.0),
        ("£308", 308.0),
        ("1 234,5 EUR", 1234.5),
    ],
)
def test_parse_written_amount(written: str, value: float) -> None:
    assert parse_written_amount(written) == value


@pytest.mark.parametrize("written", ["$", "1,23,4.5", "$1 and $2"])
def test_parse_written_amount_refuses_non_numbers(written: str) -> None:
    with pytest.raises(ValueError):
        parse_written_amount(written)


@pytest.mark.parametrize(
    "written",
    ["2026-03-01", "1 March 2026", "March 1, 2026", "01/03/2026", "1.3.2026", "1st Mar 2026"],
)
def test_parse_written_date(written: str) -> None:
    assert parse_written_date(written).year == 2026


# --- relationships ------------------------------------------------------------------------


def test_relationships_between_extracted_entities_pass() -> None:
    links = ExtractedRelationships(
        relationships=[
            Relationship(kind="pays", source="Contoso Inc.", target="$1,650.55"),
            Relationship(kind="dated", source="INV-2026-0142", target="1 March 2026"),
        ]
    )
    assert check_relationship_endpoints(links, CLEAN) == []


def test_relationship_to_a_non_extracted_entity_is_refused() -> None:
    links = ExtractedRelationships(
        relationships=[Relationship(kind="party_to", source="Globex Corp.", target="INV-2026-0142")]
    )
    [violation] = check_relationship_endpoints(links, CLEAN)
    assert violation.field == "relationships[0].source"


def test_unreadable_relationships_are_a_violation() -> None:
    broken = ExtractedRelationships.model_construct(relationships=None)  # type: ignore[arg-type]
    assert check_relationship_endpoints(broken, CLEAN)[0].kind == "format"


# --- invoice total ------------------------------------------------------------------------


def test_invoice_that_adds_up_passes() -> None:
    assert check_invoice_total("invoice", CLEAN) == []


def test_wrong_sum_is_refused_naming_both_figures() -> None:
    wrong = [*CLEAN[:4], amount("$300.50", 310.5, "line_item"), *CLEAN[5:]]
    [violation] = check_invoice_total("invoice", wrong)
    assert "1660.55" in violation.message and "1650.55" in violation.message


def test_subtotal_must_match_line_items_and_total() -> None:
    sub = Entity(kind="amount", text="$1,500.50", start=0, end=9, value=1500.5, currency="USD")
    ok = [*CLEAN[3:5], sub.model_copy(update={"role": "subtotal"}), *CLEAN[5:7]]
    assert check_invoice_total("invoice", ok) == []
    off = ok[2].model_copy(update={"value": 1500.0})
    fields = {v.field for v in check_invoice_total("invoice", [*ok[:2], off, *ok[3:]])}
    assert fields == {"entities.subtotal", "entities.total"}


def test_mixed_currencies_and_other_types() -> None:
    euro = amount("$300.50", 300.5, "line_item", "EUR")
    assert check_invoice_total("invoice", [*CLEAN[3:4], euro, *CLEAN[5:7]])
    assert check_invoice_total("resume", [*CLEAN[3:4], *CLEAN[6:7]]) == []
    assert check_invoice_total("invoice", CLEAN[:3]) == []


def test_invoice_total_with_garbage_values_is_a_violation() -> None:
    junk = Entity.model_construct(
        kind="amount", text="$1", value="abc", currency="USD", role="total"
    )
    assert check_invoice_total("invoice", [CLEAN[3], junk])[0].kind == "format"


# --- classification -----------------------------------------------------------------------


def test_classification_checks() -> None:
    good = DocumentClassification(doc_type="invoice", confidence=0.8, summary="An invoice.")
    assert check_classification(good) == []
    bad = DocumentClassification.model_construct(doc_type="memo", confidence=math.nan, summary=3)
    assert {v.field for v in check_classification(bad)} == {"doc_type", "confidence", "summary"}
    assert check_classification(good.model_copy(update={"confidence": 1.5}))


# --- the labelled dataset -----------------------------------------------------------------


def test_dataset_regenerates_identically() -> None:
    assert documents_gen.render(documents_gen.generate()) == DATASET.read_text(encoding="utf-8")


def test_dataset_labels_are_exact_and_pass_the_gates() -> None:
    rows = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 100
    assert {row["labels"]["doc_type"] for row in rows} == set(documents_gen.COUNTS)
    for row in rows:
        text, labels = row["input"]["text"], row["labels"]
        for item in labels["entities"]:
            assert text[item["start"] : item["end"]] == item["text"]
        entities = ExtractedEntities.model_validate({"entities": labels["entities"]})
        links = ExtractedRelationships.model_validate({"relationships": labels["relationships"]})
        assert check_entities_in_text(entities, text) == []
        assert check_relationship_endpoints(links, entities.entities) == []
        assert check_invoice_total(labels["doc_type"], entities.entities) == []
        assert labels["needs_review"] == (labels["doc_type"] == "legal_contract" or "Fwd:" in text)


def test_generator_imports_nothing_of_the_simulator() -> None:
    tree = ast.parse(Path(documents_gen.__file__).read_text(encoding="utf-8"))
    modules = {
        name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
        )
    }
    assert modules and not any(name.split(".")[0] == "simulator" for name in modules)
