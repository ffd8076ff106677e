"""`conductor eval documents`: each labelled document through the documents graph.

The target runs one document of `documents.jsonl` through the `documents` workflow's graph
(`graphs.documents.DOCUMENTS`), built like the support eval's: the sim profile's gateway on
the in-process simulated endpoint, a fresh store, an in-memory checkpointer. A run the graph
hands to a human (an escalation interrupt, status `escalated`) is a "needs review" outcome,
as the support eval counts an escalated ticket. The evaluators of `evals.documents_scores`
score the run's output against the generator's labels through `langsmith.aevaluate`:
offline with no connection attempted, or uploaded with `upload=True` like the support runs.

Figures are of the simulated endpoint.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from langsmith import Client
from langsmith.schemas import Example

from evals.chaos import ChaosConfig, chaos_settings
from evals.documents_scores import DOCUMENT_EVALUATORS, span_mismatches
from evals.experiment import DATASETS_DIR
from evals.langsmith_run import DATASET_ID, evaluate_examples, untraced_unless
from evals.outcomes import load_jsonl
from gateway.gateway import ModelGateway
from nodes.resources import Resources
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.transport import simulator_transports
from store.db import Store

DOCUMENTS = DATASETS_DIR / "documents.jsonl"
RESUME_ROUNDS = 3
BREAKER_RECOVERY_S = 1.0


@dataclass(frozen=True)
class DocumentsSettings:
    """Everything one documents evaluation run depends on."""

    limit: int | None = None
    error_seed: int = 1
    error_model: str = "default"
    gates: bool = True
    concurrency: int = 8
    upload: bool = False

    def label(self) -> str:
        """A short name for reports and the LangSmith experiment prefix."""
        gates = "gates-on" if self.gates else "gates-off"
        return f"graph-{gates}-{self.error_model}-seed{self.error_seed}"


@dataclass
class DocumentsReport:
    """Mean score per evaluator over the documents of one run."""

    settings: DocumentsSettings = field(default_factory=DocumentsSettings)
    scores: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    cost_usd: float = 0.0
    span_mismatches: int = 0
    experiment_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (rows included)."""
        docs = len(self.rows)
        return {
            "label": self.settings.label(),
            "metadata": self.metadata,
            "scores": self.scores,
            "counts": self.counts,
            "statuses": dict(self.statuses),
            "span_mismatches": self.span_mismatches,
            "cost_per_document_usd": self.cost_usd / docs if docs else 0.0,
            "experiment_name": self.experiment_name,
            "rows": self.rows,
        }


def document_examples(limit: int | None = None) -> list[Example]:
    """The labelled documents as LangSmith examples."""
    return [
        Example(
            id=uuid.uuid5(DATASET_ID, f"doc:{row['input']['document_id']}"),
            dataset_id=DATASET_ID,
            inputs={"document": row["input"]},
            outputs=row["labels"],
        )
        for row in load_jsonl(DOCUMENTS)[:limit]
    ]


def documents_spec(gates: bool) -> Any:
    """The documents workflow's spec, with its gates or without.

    Gates off: format checks only, no cross gate, and only the classifier's triggers (legal
    contract, low confidence), as the support eval's gates-off variant.
    """
    from graphs.documents import DOCUMENTS as SPEC
    from nodes.documents.rules import legal_contract, low_confidence
    from validators.format import check_format

    if gates:
        return SPEC

    def format_only(output: Any) -> Any:
        def gate(raw: Any, given: Any) -> Any:
            model, violations = check_format(output, raw)
            return (model.model_dump(mode="json") if model else None), violations

        return gate

    return replace(
        SPEC,
        subtasks=tuple(replace(s, gate=format_only(s.output)) for s in SPEC.subtasks),
        cross_gates=(),
        triggers=(legal_contract, low_confidence),
    )


def _outputs(document: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    entities = list(values.get("entities") or [])
    status = values.get("status")
    return {
        "document_id": document.get("document_id"),
        "status": status,
        "doc_type": values.get("doc_type"),
        "needs_review": status == "escalated",
        "escalation_reason": values.get("escalation_reason")
        or (values.get("escalation") or {}).get("reason"),
        "entities": entities,
        "relationships": list(values.get("relationships") or []),
        "span_mismatches": span_mismatches(document["text"], entities),
        "cost_usd": float((values.get("usage") or {}).get("cost_usd", 0.0)),
    }


async def run_documents_eval(
    settings: DocumentsSettings,
    *,
    client: Client | None = None,
    on_document: Callable[[], None] | None = None,
) -> DocumentsReport:
    """Run every labelled document through the documents graph and score it.

    Args:
        settings: What to run.
        client: The LangSmith client of an upload (default: one from the env); offline runs
            use a loopback client and never connect.
        on_document: Called after each document (a progress bar).

    Returns:
        The run's figures.
    """
    from graphs.build import build_graph
    from nodes.documents.rules import document_id_of

    model = ErrorModel.ideal() if settings.error_model == "ideal" else ErrorModel()
    sim = Simulator(error_model=model.with_seed(settings.error_seed))
    examples = document_examples(settings.limit)
    report = DocumentsReport(settings=settings)
    report.metadata = {
        "dataset": "documents",
        "pipeline": "documents graph",
        "gates": settings.gates,
        "error_seed": settings.error_seed,
        "error_model": settings.error_model,
        "examples": len(examples),
        "profile": "sim",
        "endpoint": "SIMULATED",
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="conductor-eval-docs-") as tmp:
        chaos = ChaosConfig(seed=settings.error_seed, breaker_recovery_s=BREAKER_RECOVERY_S)
        gw_settings = chaos_settings(chaos, Path(tmp) / "cache.db").with_overrides(
            cache_enabled=False
        )
        gateway = ModelGateway.from_settings(
            gw_settings, transports=simulator_transports(gw_settings, sim)
        )
        store = Store(Path(tmp) / "store.db")
        graph = build_graph(
            documents_spec(settings.gates),
            Resources(gateway=gateway, store=store),
            opened=document_id_of,
        ).compile(checkpointer=InMemorySaver(), name="documents")

        async def target(inputs: Mapping[str, Any]) -> dict[str, Any]:
            document = inputs["document"]
            config: RunnableConfig = {"configurable": {"thread_id": str(uuid.uuid4())}}
            try:
                with untraced_unless(settings.upload):
                    await graph.ainvoke({"document": document}, config)
                    values = dict((await graph.aget_state(config)).values)
                    for _ in range(RESUME_ROUNDS):  # a parked run is resumed (support eval too)
                        if values.get("status") != "parked":
                            break
                        await asyncio.sleep(BREAKER_RECOVERY_S + 0.1)
                        await graph.ainvoke(Command(resume={"retry": True}), config)
                        values = dict((await graph.aget_state(config)).values)
            except Exception as exc:  # noqa: BLE001 - a crashed run is counted lost
                values = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            if on_document is not None:
                on_document()
            return _outputs(document, values)

        prefix = f"conductor-documents-{settings.label()}"
        try:
            if settings.upload:
                client = client or Client()
            results = await evaluate_examples(
                target,
                examples,
                dataset="documents",
                evaluators=DOCUMENT_EVALUATORS,
                metadata=report.metadata,
                prefix=prefix,
                concurrency=settings.concurrency,
                client=client if settings.upload else None,
            )
            report.experiment_name = results.experiment_name
            await _collect(results, report)
        finally:
            await gateway.aclose()
            store.close()
    report.metadata["elapsed_s"] = time.perf_counter() - started
    if settings.upload and client is not None:
        client.flush()
    return report


async def _collect(results: Any, report: DocumentsReport) -> None:
    totals: dict[str, float] = defaultdict(float)
    async for row in results:
        outputs = dict(row["run"].outputs or {})
        scored = {r.key: r.score for r in row["evaluation_results"]["results"]}
        report.statuses[str(outputs.get("status"))] += 1
        report.cost_usd += float(outputs.get("cost_usd") or 0.0)
        report.span_mismatches += int(outputs.get("span_mismatches") or 0)
        report.rows.append(
            {
                "document_id": outputs.get("document_id"),
                "status": outputs.get("status"),
                "doc_type": outputs.get("doc_type"),
                "escalation_reason": outputs.get("escalation_reason"),
                "span_mismatches": outputs.get("span_mismatches"),
                "scores": scored,
            }
        )
        for key, score in scored.items():
            if score is not None:
                totals[key] += float(score)
                report.counts[key] = report.counts.get(key, 0) + 1
    report.rows.sort(key=lambda r: str(r["document_id"]))
    report.scores = {k: totals[k] / report.counts[k] for k in report.counts}
