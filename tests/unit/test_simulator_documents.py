"""Tests of the simulator's document answers: the <document> section, spans, labels, errors."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from pydantic import BaseModel

from simulator import ErrorModel, ErrorRates, Simulator
from simulator.document_corruptions import swap_digits
from simulator.documents import classify_text, find_entities, parse_number
from simulator.draws import Draws
from simulator.error_model import ERROR_KINDS
from simulator.sections import parse_prompt
from state.documents import (
    DocumentClassification,
    ExtractedEntities,
    ExtractedRelationships,
)
from validators.documents import check_entities_in_text, check_relationship_endpoints

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = [
    json.loads(line)
    for line in (ROOT / "examples" / "documents.jsonl").read_text(encoding="utf-8").splitlines()
]
EXPECTED_TYPE = {
    "inv": "invoice",
    "po": "purchase_order",
    "ctr": "legal_contract",
    "msa": "legal_contract",
    "mail": "support_email",
    "cv": "resume",
    "oth": "other",
}
SCHEMAS: dict[str, type[BaseModel]] = {
    "DocumentClassification": DocumentClassification,
    "ExtractedEntities": ExtractedEntities,
    "ExtractedRelationships": ExtractedRelationships,
}
INVOICE = next(doc for doc in EXAMPLES if doc["document_id"] == "doc-inv-001")


def expected_type(document_id: str) -> str:
    return EXPECTED_TYPE[document_id.split("-")[1]]


def message(text: str) -> str:
    return f"Extract what the document holds.\n<document>\n{text}\n</document>"


def payload(schema: str, text: str, model: str = "sim-small") -> dict[str, Any]:
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "You read business documents."},
            {"role": "user", "content": message(text)},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": schema, "schema": SCHEMAS[schema].model_json_schema()},
        },
    }


async def answer(sim: Simulator, schema: str, text: str) -> dict[str, Any]:
    response = await sim.complete(payload(schema, text))
    assert response.status == 200, response.body
    content = response.body["choices"][0]["message"]["content"]
    result: dict[str, Any] = json.loads(content)
    SCHEMAS[schema].model_validate(result)
    return result


def forced(kind: str) -> ErrorModel:
    rates = replace(ErrorRates(), **{f"{kind}_rate": 1.0})
    tiers = MappingProxyType({"small": rates, "large": rates})
    return ErrorModel(tiers=tiers, document_tiers=tiers)


# --- the <document> section ---------------------------------------------------------------


def test_document_section_keeps_every_character_but_the_delimiting_newlines() -> None:
    text = "  Invoice INV-1 \n\n\tindented\n"
    ctx = parse_prompt([{"role": "user", "content": "Hi\n" + message(text) + "\nbye"}])
    assert ctx.document == text
    assert ctx.ticket == ""


def test_document_section_absent_and_alongside_other_sections() -> None:
    assert parse_prompt([{"role": "user", "content": "plain"}]).document is None
    content = '<classification>\n{"doc_type": "invoice"}\n</classification>\n' + message("x")
    ctx = parse_prompt([{"role": "user", "content": content}])
    assert ctx.document == "x" and ctx.classification == {"doc_type": "invoice"}


# --- heuristics ---------------------------------------------------------------------------


def test_examples_cover_every_type() -> None:
    types = [expected_type(doc["document_id"]) for doc in EXAMPLES]
    assert len(EXAMPLES) >= 15 and set(types) == set(EXPECTED_TYPE.values())
    assert all(types.count(t) >= 2 for t in set(types) - {"other"})


@pytest.mark.parametrize("doc", EXAMPLES, ids=lambda doc: doc["document_id"])
def test_spans_are_exact_and_classification_matches(doc: dict[str, Any]) -> None:
    text = doc["text"]
    entities = find_entities(text)
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    assert classify_text(text)[0] == expected_type(doc["document_id"])
    assert (
        check_entities_in_text(ExtractedEntities.model_validate({"entities": entities}), text) == []
    )


@pytest.mark.parametrize("doc", EXAMPLES, ids=lambda doc: doc["document_id"])
async def test_simulator_answers_each_document_schema(doc: dict[str, Any]) -> None:
    sim = Simulator(error_model=ErrorModel.ideal())
    text = doc["text"]
    label = await answer(sim, "DocumentClassification", text)
    assert label["doc_type"] == expected_type(doc["document_id"])
    entities = ExtractedEntities.model_validate(await answer(sim, "ExtractedEntities", text))
    assert check_entities_in_text(entities, text) == []
    links = ExtractedRelationships.model_validate(await answer(sim, "ExtractedRelationships", text))
    assert check_relationship_endpoints(links, entities.entities) == []


def test_invoice_amounts_carry_values_currencies_and_roles() -> None:
    amounts = [e for e in find_entities(INVOICE["text"]) if e["kind"] == "amount"]
    roles = [a["role"] for a in amounts]
    assert roles.count("line_item") == 3 and roles[-3:] == ["subtotal", "tax", "total"]
    assert amounts[-1]["value"] == 1841.40 and amounts[-1]["currency"] == "USD"


def test_long_document_is_long_answered_and_regenerates() -> None:
    long_doc = next(doc for doc in EXAMPLES if doc["document_id"] == "doc-msa-long")
    assert len(long_doc["text"]) > 200_000
    spec = importlib.util.spec_from_file_location(
        "make_long", ROOT / "examples" / "make_long_document.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.long_document() == long_doc
    assert 0 < len(find_entities(long_doc["text"])) <= 200


@pytest.mark.parametrize(
    ("written", "value"),
    [("1,841.40", 1841.4), ("1.200,50", 1200.5), ("567,04", 567.04), ("1 234", 1234.0)],
)
def test_parse_number(written: str, value: float) -> None:
    assert parse_number(written) == value


# --- error model --------------------------------------------------------------------------


def test_document_defaults_are_per_tier_and_ideal_is_zero() -> None:
    model = ErrorModel()
    small = model.rates_for("small", "ExtractedEntities")
    large = model.rates_for("large", "ExtractedEntities")
    assert small.span_shift_rate > large.span_shift_rate > 0
    assert model.rates_for("small", "TicketEntities").span_shift_rate == 0
    ideal = ErrorModel.ideal()
    assert ideal.rates_for("small", "ExtractedRelationships") == ErrorRates()


@pytest.mark.parametrize(
    ("kind", "schema"),
    [
        ("wrong_label", "DocumentClassification"),
        ("wrong_label", "ExtractedEntities"),
        ("wrong_field", "ExtractedEntities"),
        ("invented_value", "ExtractedEntities"),
        ("span_shift", "ExtractedEntities"),
        ("wrong_currency", "ExtractedEntities"),
        ("misread_amount", "ExtractedEntities"),
        ("wrong_label", "ExtractedRelationships"),
        ("dangling_relation", "ExtractedRelationships"),
    ],
)
async def test_error_kinds_fire_when_forced_and_are_counted(kind: str, schema: str) -> None:
    clean = await answer(Simulator(error_model=ErrorModel.ideal()), schema, INVOICE["text"])
    sim = Simulator(error_model=forced(kind))
    wrong = await answer(sim, schema, INVOICE["text"])
    assert wrong != clean
    assert sim.stats()["model_errors"]["sim-small"] == {kind: 1}


@pytest.mark.parametrize(
    "kind", ["invented_value", "span_shift", "wrong_currency", "misread_amount"]
)
async def test_entity_errors_are_refused_by_the_gate(kind: str) -> None:
    sim = Simulator(error_model=forced(kind))
    wrong = ExtractedEntities.model_validate(
        await answer(sim, "ExtractedEntities", INVOICE["text"])
    )
    assert check_entities_in_text(wrong, INVOICE["text"])


async def test_dangling_relation_is_refused_by_the_gate() -> None:
    text = INVOICE["text"]
    entities = ExtractedEntities.model_validate(
        await answer(Simulator(error_model=ErrorModel.ideal()), "ExtractedEntities", text)
    )
    sim = Simulator(error_model=forced("dangling_relation"))
    links = ExtractedRelationships.model_validate(await answer(sim, "ExtractedRelationships", text))
    assert check_relationship_endpoints(links, entities.entities)


async def test_document_only_kinds_never_touch_support_schemas() -> None:
    rates = ErrorRates(span_shift_rate=1, wrong_currency_rate=1, misread_amount_rate=1)
    tiers = MappingProxyType({"small": rates, "large": rates})
    sim = Simulator(error_model=ErrorModel(tiers=tiers, document_tiers=tiers))
    body = payload("ExtractedEntities", "x")
    body["messages"][1]["content"] = "<ticket>\nMy order ORD-12345 broke, refund $20\n</ticket>"
    body["response_format"]["json_schema"]["name"] = "TicketEntities"
    response = await sim.complete(body)
    assert response.status == 200
    assert sim.stats()["model_errors"] == {}
    assert set(ERROR_KINDS) >= {"span_shift", "wrong_currency", "misread_amount"}


def test_swap_digits_misreads() -> None:
    draws = Draws(0, "d", 0)
    assert swap_digits(1841.40, draws) != 1841.40
    assert swap_digits(1111.11, draws) == 111111.0
