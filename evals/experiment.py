"""An evaluation run: one pipeline on one dataset under one error seed, scored by `aevaluate`.

The target runs each ticket through a pipeline (the support graph, one of its variants, or
the fair baseline of `evals.naive`) on a freshly seeded store and the simulated endpoint;
the evaluators of `evals.evaluators` score it against the ground truth. The same evaluators
run offline and on LangSmith:

- offline (default): `langsmith.aevaluate(..., upload_runs=False)` with tracing switched
  off for the run and a client pointed at the loopback, so no connection is attempted;
- `upload=True`: the dataset is created or updated on LangSmith and the experiment, its
  runs and its feedback are recorded there (the client reads `LANGSMITH_*` from the env).

Figures measured on the `sim` profile are figures of the simulated endpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from langsmith import Client
from langsmith.schemas import Example

from evals.audit import audit_refunds
from evals.chaos import ChaosConfig, chaos_settings
from evals.evaluators import EVALUATORS
from evals.langsmith_run import (
    DATASET_ID,
    evaluate_examples,
    untraced_unless,
)
from evals.naive import NaiveChain
from evals.ordering import one_customer_at_a_time
from evals.outcomes import (
    EXAMPLE_TICKETS,
    EXAMPLE_TRUTH,
    ROOT,
    load_jsonl,
    load_truth,
    money_issues,
)
from gateway.gateway import ModelGateway
from gateway.registry import GatewaySettings
from nodes.resources import Resources
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from simulator.transport import simulator_transports
from store.db import Store
from store.seed import seed_store

DATASETS_DIR = ROOT / "evals" / "datasets"
DATASET_FILES: dict[str, Path] = {
    "support": DATASETS_DIR / "support.jsonl",
    "adversarial": DATASETS_DIR / "adversarial.jsonl",
}
"""Labelled ticket datasets (one JSON object per line: `ticket` and its labels)."""
DATASET_NAMES = (*DATASET_FILES, "examples")
TRUTH_KEYS_DROPPED = ("ticket", "label")

Pipeline = Literal["graph", "naive"]


@dataclass(frozen=True)
class Variant:
    """A pipeline and how it is configured.

    Attributes:
        name: The name reports use.
        pipeline: The support graph or the fair baseline.
        gates: With the deterministic gates (off: format checks only, no cross gate, and only
            the classifier's triggers: legal flag, low confidence, refund above the limit).
        all_large: Every model call on the large tier instead of the tier rules.
        tiers: Tier overrides `(subtask id, tier)`: `small`, `large`, or `input` (the
            difficulty rule `evals.routing.input_tier`).
    """

    name: str
    pipeline: Pipeline = "graph"
    gates: bool = True
    all_large: bool = False
    tiers: tuple[tuple[str, str], ...] = ()


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("graph"),
        Variant("naive", pipeline="naive"),
        Variant("graph-all-large", all_large=True),
        Variant("naive-all-large", pipeline="naive", all_large=True),
        Variant("graph-gates-off", gates=False),
        Variant("graph-input-tiers", tiers=(("classify", "input"), ("extract", "input"))),
        Variant("graph-classify-large", tiers=(("classify", "large"),)),
        Variant(
            "graph-verified-tiers",
            tiers=(("classify", "large"), ("decide", "small"), ("reply", "small")),
        ),
        Variant(
            "graph-read-large",
            tiers=(
                ("classify", "large"),
                ("extract", "large"),
                ("decide", "small"),
                ("reply", "small"),
            ),
        ),
    )
}
"""Every named variant."""


@dataclass(frozen=True)
class EvalSettings:
    """Everything one evaluation run depends on."""

    dataset: str = "support"
    variant: Variant = VARIANTS["graph"]
    error_seed: int = 1
    error_model: Literal["default", "ideal"] = "default"
    error_kinds: tuple[str, ...] | None = None  # None: every kind at its default rate
    error_rate: float | None = None  # with error_kinds: the rate of each kept kind
    faults: str = ""
    limit: int | None = None
    concurrency: int = 8
    upload: bool = False
    experiment: str = "single"
    agent_timeout_s: float = 2.0
    breaker_recovery_s: float = 1.0
    resume_rounds: int = 3
    profile: str = "sim"
    """The model profile; any other than `sim` is a real endpoint, used with its own timeouts."""

    def error_model_instance(self) -> ErrorModel:
        """The simulator's error model for this run, drawn with `error_seed`."""
        model = ErrorModel.ideal() if self.error_model == "ideal" else ErrorModel()
        if self.error_kinds is not None:
            model = ErrorModel().only(self.error_kinds, self.error_rate)
        return model.with_seed(self.error_seed)

    def label(self) -> str:
        """A short name for reports and the LangSmith experiment prefix."""
        kinds = "+".join(self.error_kinds) if self.error_kinds else self.error_model
        faults = "faults" if self.faults else "nofaults"
        return f"{self.variant.name}-{kinds}-{faults}-seed{self.error_seed}"


@dataclass
class RunResult:
    """The figures of one run."""

    settings: EvalSettings
    metadata: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    money: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    cost_usd: float = 0.0
    cost_by_agent: Counter[str] = field(default_factory=Counter)
    tickets: int = 0
    elapsed_s: float = 0.0
    experiment_name: str | None = None

    @property
    def money_wrong(self) -> int:
        """Tickets on which money moved wrongly (any kind but `review_skipped`)."""
        return sum(1 for row in self.rows if row.get("money_wrong"))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures (rows included)."""
        settings = asdict(self.settings)
        return {
            "label": self.settings.label(),
            "settings": settings,
            "metadata": self.metadata,
            "scores": self.scores,
            "counts": self.counts,
            "outcomes": dict(self.outcomes),
            "money": dict(self.money),
            "money_wrong_tickets": self.money_wrong,
            "injected": dict(self.injected),
            "cost_usd": self.cost_usd,
            "cost_per_ticket_usd": self.cost_usd / self.tickets if self.tickets else 0.0,
            "cost_by_agent_usd": dict(self.cost_by_agent),
            "tickets": self.tickets,
            "elapsed_s": self.elapsed_s,
            "experiment_name": self.experiment_name,
            "rows": self.rows,
        }


# --- data ---------------------------------------------------------------------------------


def dataset_rows(name: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The labelled rows of a dataset: `{"ticket": {...}, "expected_...": ...}`.

    Args:
        name: `support`, `adversarial` or `examples` (the 37 example tickets).
        limit: Only the first `limit` rows.

    Raises:
        ValueError: For an unknown dataset.
    """
    if name == "examples":
        truth = load_truth(EXAMPLE_TRUTH)
        rows = [
            {**truth[t["ticket_id"]], "ticket": t, "refund_requested": True}
            for t in load_jsonl(EXAMPLE_TICKETS)
        ]
    elif name in DATASET_FILES:
        rows = load_jsonl(DATASET_FILES[name])
    else:
        raise ValueError(f"unknown dataset {name!r}; known: {list(DATASET_NAMES)}")
    return rows[:limit]


def example_of(row: Mapping[str, Any], index: int) -> Example:
    """A dataset row as a LangSmith example: inputs `{"ticket"}`, outputs the truth."""
    ticket = row["ticket"]
    truth = {k: v for k, v in row.items() if k not in TRUTH_KEYS_DROPPED}
    return Example(
        id=uuid.uuid5(DATASET_ID, str(ticket.get("ticket_id") or index)),
        dataset_id=DATASET_ID,
        inputs={"ticket": ticket},
        outputs=truth,
    )


def load_examples(name: str = "examples", limit: int | None = None) -> list[Example]:
    """A dataset's rows as LangSmith examples."""
    return [example_of(row, i) for i, row in enumerate(dataset_rows(name, limit))]


# --- targets ------------------------------------------------------------------------------


Target = Callable[[Mapping[str, Any]], Any]


def _tier_prices(settings: GatewaySettings) -> dict[str, tuple[float, float]]:
    prices: dict[str, tuple[float, float]] = {}
    for endpoint in settings.profile.endpoints:
        prices.setdefault(endpoint.tier, (endpoint.price_in_per_mtok, endpoint.price_out_per_mtok))
    return prices


def _outputs(
    ticket: Mapping[str, Any],
    truth_of: Mapping[str, Mapping[str, Any]],
    store: Store,
    status: str | None,
    *,
    intent: str | None,
    escalation_reason: str | None,
    reviewed: bool,
    cost: float,
    cost_by_agent: Mapping[str, float] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    ticket_id = str(ticket.get("ticket_id") or "")
    refunds: list[dict[str, Any]] = [
        dict(r) for r in store.all_refunds() if r["ticket_id"] == ticket_id
    ]
    writer = str(ticket.get("customer_id") or "")
    owners: dict[str, str | None] = {}
    for refund in refunds:
        order = store.get_order(refund["order_id"])
        owners[str(refund["order_id"]).upper()] = order["customer_id"] if order else None
    issues = money_issues(refunds, truth_of.get(ticket_id, {}), writer, owners, reviewed=reviewed)
    return {
        "ticket_id": ticket_id,
        "status": status,
        "intent": intent,
        "escalation_reason": escalation_reason,
        "refunded": round(sum(r["amount"] for r in refunds), 2) if refunds else None,
        "refunds": [
            {"order_id": r["order_id"], "amount": r["amount"], "currency": r["currency"]}
            for r in refunds
        ],
        "money_issues": issues,
        "policy_violations": audit_refunds(
            refunds, store.get_order, {ticket_id: writer}, reviewed=[ticket_id] if reviewed else []
        ),
        "cost_usd": cost,
        "cost_by_agent": dict(cost_by_agent or {}),
        **({"error": error} if error else {}),
    }


def support_spec(variant: Variant) -> Any:
    """The support workflow's spec for a variant (tiers and gates changed, nothing else)."""
    from evals.routing import input_tier
    from graphs.support import SUPPORT
    from nodes.support.rules import legal_threat, low_confidence, refund_above_limit
    from validators.format import check_format

    spec = SUPPORT
    if variant.tiers:
        rules = {"input": input_tier}
        chosen = dict(variant.tiers)
        spec = replace(
            spec,
            subtasks=tuple(
                replace(s, tier=rules.get(chosen[s.id], chosen[s.id])) if s.id in chosen else s
                for s in spec.subtasks
            ),
        )
    if variant.all_large:
        spec = replace(
            spec,
            subtasks=tuple(
                s if s.tool is not None else replace(s, tier="large") for s in spec.subtasks
            ),
        )
    if not variant.gates:

        def format_only(output: Any) -> Any:
            def gate(raw: Any, given: Any) -> Any:
                model, violations = check_format(output, raw)
                return (model.model_dump(mode="json") if model else None), violations

            return gate

        spec = replace(
            spec,
            subtasks=tuple(
                s if s.gate is None else replace(s, gate=format_only(s.output))
                for s in spec.subtasks
            ),
            cross_gates=(),
            triggers=(legal_threat, low_confidence, refund_above_limit),
        )
    return spec


# --- the run ------------------------------------------------------------------------------


async def run_eval(
    settings: EvalSettings,
    *,
    client: Client | None = None,
    on_ticket: Callable[[], None] | None = None,
) -> RunResult:
    """Run one pipeline on one dataset and score every ticket with the evaluators.

    Args:
        settings: What to run.
        client: The LangSmith client for an upload (default: one from the env); offline runs
            always use a loopback client and never connect.
        on_ticket: Called after each ticket (a progress bar).

    Returns:
        The run's figures.
    """
    from graphs.build import build_graph
    from graphs.support import ticket_id_of

    rows = dataset_rows(settings.dataset, settings.limit)
    examples = [example_of(row, i) for i, row in enumerate(rows)]
    truth_of = {
        str(row["ticket"].get("ticket_id")): {
            k: v for k, v in row.items() if k not in TRUTH_KEYS_DROPPED
        }
        for row in rows
    }
    faults = FaultSpec.parse(settings.faults or None).with_changes(seed=settings.error_seed)
    sim = Simulator(faults=faults, error_model=settings.error_model_instance())
    variant = settings.variant
    result = RunResult(settings=settings, tickets=len(examples))
    chaos = ChaosConfig(
        seed=settings.error_seed,
        agent_timeout_s=settings.agent_timeout_s,
        agent_budget_s=settings.agent_timeout_s * 3,
        breaker_recovery_s=settings.breaker_recovery_s,
        resume_rounds=settings.resume_rounds,
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="conductor-eval-") as tmp:
        if settings.profile == "sim":
            gw_settings = chaos_settings(chaos, Path(tmp) / "cache.db")
        else:  # a real endpoint: its profile's own timeouts and caps, read from the env
            env = {**os.environ, "CONDUCTOR_MODEL_PROFILE": settings.profile}
            gw_settings = GatewaySettings.from_env(env)
        gw_settings = gw_settings.with_overrides(cache_enabled=False)
        prices = _tier_prices(gw_settings)
        result.metadata = {
            "dataset": settings.dataset,
            "variant": variant.name,
            "pipeline": variant.pipeline,
            "gates": variant.gates,
            "all_large": variant.all_large,
            "error_seed": settings.error_seed,
            "error_model": settings.error_model,
            "error_kinds": list(settings.error_kinds or []),
            "error_rate": settings.error_rate,
            "faults": faults.to_spec(),
            "examples": len(examples),
            "profile": gw_settings.profile_name,
            "endpoint": "SIMULATED" if gw_settings.profile_name == "sim" else "real",
        }
        seed_store(Path(tmp) / "store.db")
        store = Store(Path(tmp) / "store.db")
        gateway: ModelGateway | None = None
        chain: NaiveChain | None = None
        if variant.pipeline == "graph":
            gateway = ModelGateway.from_settings(
                gw_settings, transports=simulator_transports(gw_settings, sim)
            )
            graph = build_graph(
                support_spec(variant), Resources(gateway=gateway, store=store), opened=ticket_id_of
            ).compile(checkpointer=InMemorySaver(), name="support")

            async def target(inputs: Mapping[str, Any]) -> dict[str, Any]:
                ticket = inputs["ticket"]
                config: RunnableConfig = {
                    "configurable": {"thread_id": str(uuid.uuid4())},
                    "max_concurrency": 8,
                }
                error = None
                quiet = untraced_unless(settings.upload)
                try:
                    with quiet:
                        await graph.ainvoke({"ticket": ticket}, config)
                    values = dict((await graph.aget_state(config)).values)
                    for _ in range(settings.resume_rounds):
                        if values.get("status") != "parked":
                            break
                        await asyncio.sleep(settings.breaker_recovery_s + 0.1)
                        with untraced_unless(settings.upload):
                            await graph.ainvoke(Command(resume={"retry": True}), config)
                        values = dict((await graph.aget_state(config)).values)
                except Exception as exc:  # noqa: BLE001 - a crashed run is counted lost
                    values, error = {"status": "failed"}, f"{type(exc).__name__}: {exc}"
                if on_ticket is not None:
                    on_ticket()
                results = values.get("results") or {}
                usage = values.get("usage") or {}
                return _outputs(
                    ticket,
                    truth_of,
                    store,
                    values.get("status"),
                    intent=(results.get("classify") or {}).get("intent"),
                    escalation_reason=values.get("escalation_reason")
                    or (values.get("escalation") or {}).get("reason"),
                    reviewed=bool(values.get("review")),
                    cost=float(usage.get("cost_usd", 0.0)),
                    cost_by_agent={
                        agent: float(spent.get("cost_usd", 0.0))
                        for agent, spent in (usage.get("by_agent") or {}).items()
                    },
                    error=error,
                )

        else:
            chain = NaiveChain(sim, store, large_only=variant.all_large)

            async def target(inputs: Mapping[str, Any]) -> dict[str, Any]:
                assert chain is not None
                ticket = inputs["ticket"]
                with untraced_unless(settings.upload):
                    done = await chain.handle_with_recovery(
                        ticket, settings.resume_rounds, settings.breaker_recovery_s + 0.1
                    )
                if on_ticket is not None:
                    on_ticket()
                return _outputs(
                    ticket,
                    truth_of,
                    store,
                    done["status"],
                    intent=done.get("intent"),
                    escalation_reason=None,
                    reviewed=False,
                    cost=chain.cost_usd(prices, done.get("tokens") or {}),
                    error=done.get("error"),
                )

        ordered = one_customer_at_a_time(target)
        prefix = f"conductor-{settings.dataset}-{settings.experiment}-{settings.label()}"
        try:
            if settings.upload:
                client = client or Client()
            results = await evaluate_examples(
                ordered,
                examples,
                dataset=settings.dataset,
                evaluators=EVALUATORS,
                metadata=result.metadata,
                prefix=prefix,
                concurrency=settings.concurrency,
                client=client if settings.upload else None,
            )
            result.experiment_name = results.experiment_name
            await _collect(results, result)
        finally:
            if gateway is not None:
                await gateway.aclose()
            if chain is not None:
                await chain.aclose()
            store.close()
    stats = sim.stats()
    for kinds in (stats.get("model_errors") or {}).values():
        result.injected.update(kinds)
    result.elapsed_s = time.perf_counter() - started
    if settings.upload and client is not None:
        client.flush()
    return result


async def _collect(results: Any, result: RunResult) -> None:
    totals: dict[str, float] = defaultdict(float)
    async for row in results:
        outputs = dict(row["run"].outputs or {})
        scored = {r.key: r.score for r in row["evaluation_results"]["results"]}
        issues = outputs.get("money_issues") or []
        wrong = [i for i in issues if i != "review_skipped"]
        for issue in issues:
            result.money[issue] += 1
        verdict = next(
            (r.comment for r in row["evaluation_results"]["results"] if r.key == "outcome"), None
        )
        status = outputs.get("status")
        bucket = (
            "lost"
            if status in (None, "failed")
            else "unfinished"
            if status == "parked"
            else str(verdict)
        )
        result.outcomes[bucket] += 1
        result.cost_usd += float(outputs.get("cost_usd") or 0.0)
        result.cost_by_agent.update(outputs.get("cost_by_agent") or {})
        result.rows.append(
            {
                "ticket_id": outputs.get("ticket_id"),
                "status": status,
                "intent": outputs.get("intent"),
                "refunded": outputs.get("refunded"),
                "money_issues": issues,
                "money_wrong": bool(wrong),
                "escalation_reason": outputs.get("escalation_reason"),
                **({"error": outputs["error"]} if outputs.get("error") else {}),
                "scores": scored,
            }
        )
        for key, score in scored.items():
            if score is not None and key != "cost_usd":
                totals[key] += float(score)
                result.counts[key] = result.counts.get(key, 0) + 1
    result.rows.sort(key=lambda r: str(r["ticket_id"]))
    result.scores = {key: totals[key] / result.counts[key] for key in result.counts}


def write_json(results: Sequence[RunResult], path: Path) -> Path:
    """Write every run's figures (rows included) as one JSON file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps([r.as_dict() for r in results], indent=1, default=str), encoding="utf-8"
    )
    return path


def env_has_langsmith() -> bool:
    """True when an API key for LangSmith is configured."""
    return bool(os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY"))
