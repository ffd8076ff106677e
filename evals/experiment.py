"""An evaluation experiment: the support graph on the example dataset, scored by `aevaluate`.

The target runs each example ticket through the graph on a freshly seeded store; the
evaluators of `evals.evaluators` score it against the ground truth. langsmith's
`aevaluate` drives the loop with `upload_results=False`, so the experiment runs offline with
the very functions a LangSmith experiment would use. Figures measured with the `sim` profile
are figures of the simulated endpoint.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langsmith import aevaluate
from langsmith.schemas import Example

from evals.audit import audit_refunds
from evals.evaluators import EVALUATORS
from evals.outcomes import EXAMPLE_TICKETS, EXAMPLE_TRUTH, load_jsonl, load_truth
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from nodes.resources import Resources
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from simulator.transport import simulator_transports
from store.db import Store
from store.seed import seed_store

DATASET_ID = uuid.UUID("6f1b1d0e-3c55-4c1e-9a57-5c0a1f0e2b11")
"""A fixed id for the local example dataset (LangSmith examples need one)."""


@dataclass
class ExperimentReport:
    """Mean score per evaluator, and every scored row."""

    scores: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def load_examples(
    tickets: Path = EXAMPLE_TICKETS, truth: Path = EXAMPLE_TRUTH, limit: int | None = None
) -> list[Example]:
    """The example tickets as LangSmith examples: inputs `{"ticket"}`, outputs the truth."""
    by_id = load_truth(truth)
    examples = []
    for index, ticket in enumerate(load_jsonl(tickets)[:limit]):
        examples.append(
            Example(
                id=uuid.uuid5(DATASET_ID, str(ticket.get("ticket_id") or index)),
                dataset_id=DATASET_ID,
                inputs={"ticket": ticket},
                outputs=by_id[ticket["ticket_id"]],
            )
        )
    return examples


async def run_experiment(
    *,
    limit: int | None = None,
    error_model: str = "default",
    faults: str | None = None,
    seed: int = 1,
) -> ExperimentReport:
    """Run the support graph on the example dataset and score it.

    Args:
        limit: Only the first `limit` examples.
        error_model: The simulator's error model, "default" or "ideal" (sim profile only).
        faults: A simulator fault spec, e.g. "error_rate=0.1".
        seed: Seed of the simulator's draws.

    Returns:
        The report: mean score per evaluator and the scored rows.
    """
    from graphs.support import make_builder

    examples = load_examples(limit=limit)
    spec = FaultSpec.parse(faults).with_changes(seed=seed)
    sim = Simulator(
        faults=spec, error_model=ErrorModel.ideal() if error_model == "ideal" else ErrorModel()
    )
    metadata = {"error_model": error_model, "faults": spec.to_spec(), "examples": len(examples)}
    with tempfile.TemporaryDirectory(prefix="conductor-eval-") as tmp:
        env = {**os.environ, "CONDUCTOR_CACHE_DB": str(Path(tmp) / "cache.db")}
        settings = GatewaySettings.from_env(env)
        if spec.active:  # fault injection reaches the simulator on every call
            settings = settings.with_overrides(cache_enabled=False)
        metadata["profile"] = settings.profile_name
        seed_store(Path(tmp) / "store.db")
        gateway = ModelGateway.from_settings(
            settings, transports=simulator_transports(settings, sim)
        )
        with Store(Path(tmp) / "store.db") as store:
            graph = make_builder(Resources(gateway=gateway, store=store)).compile(
                checkpointer=InMemorySaver(), name="support"
            )

            async def target(inputs: Mapping[str, Any]) -> dict[str, Any]:
                ticket = inputs["ticket"]
                config: RunnableConfig = {"configurable": {"thread_id": str(uuid.uuid4())}}
                await graph.ainvoke({"ticket": ticket}, config)
                values = (await graph.aget_state(config)).values
                ticket_id = ticket.get("ticket_id")
                refunds = [r for r in store.all_refunds() if r["ticket_id"] == ticket_id]
                reviewed = [ticket_id] if values.get("review") else []
                customers = {ticket_id: ticket.get("customer_id", "")}
                return {
                    "status": values.get("status"),
                    "intent": values.get("intent"),
                    "refund": values.get("refund"),
                    "refunded": sum(r["amount"] for r in refunds) if refunds else None,
                    "escalation_reason": values.get("escalation_reason"),
                    "policy_violations": audit_refunds(
                        refunds, store.get_order, customers, reviewed=reviewed
                    ),
                }

            results = await aevaluate(
                target,
                data=examples,
                evaluators=list(EVALUATORS),
                metadata=metadata,
                max_concurrency=1,  # in file order: two tickets may ask for the same order
                upload_results=False,
            )
            report = ExperimentReport(metadata=metadata)
            totals: dict[str, float] = defaultdict(float)
            async for row in results:
                scored = {r.key: r.score for r in row["evaluation_results"]["results"]}
                inputs = row["example"].inputs or {}
                report.rows.append({"ticket_id": inputs["ticket"].get("ticket_id"), **scored})
                for key, score in scored.items():
                    if score is not None:
                        totals[key] += float(score)
                        report.counts[key] = report.counts.get(key, 0) + 1
        await gateway.aclose()
    report.scores = {key: totals[key] / report.counts[key] for key in report.counts}
    return report


def report_table(report: ExperimentReport) -> Any:
    """The report as a rich table."""
    from rich.table import Table

    meta = report.metadata
    table = Table(
        title=(
            f"evaluation on the {meta.get('profile')} profile"
            + (" (SIMULATED endpoint)" if meta.get("profile") == "sim" else "")
            + f": {meta.get('examples')} examples, error model {meta.get('error_model')}, "
            f"faults '{meta.get('faults')}'"
        )
    )
    table.add_column("evaluator")
    table.add_column("mean score", justify="right")
    table.add_column("scored", justify="right")
    for key, score in report.scores.items():
        table.add_row(key, f"{score:.3f}", str(report.counts[key]))
    return table
