"""The chaos matrix: the support graph and a naive chain side by side under injected faults.

Every row runs the same tickets through two pipelines on the same simulated endpoint with
the same faults and seed:

- `graph`: the orchestrated support graph (gateway, gates, supervisor retries, escalation,
  parking, idempotent ledger);
- `naive`: the fair baseline of `evals.naive`: the same prompts and schemas called in
  sequence through ChatOpenAI with its default retries, the same store API for refunds, no
  gates and no escalation, its lost tickets retried as often as parked runs are resumed.

Figures are measured on the simulated endpoint and say so.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from evals.audit import audit_refunds, duplicate_refunds
from evals.naive import NaiveChain
from evals.outcomes import EXAMPLE_TICKETS, judge_outcome, load_jsonl, load_truth
from gateway.breaker import CircuitState
from gateway.gateway import ModelGateway
from gateway.registry import BreakerSettings, GatewaySettings
from nodes.resources import Resources
from simulator.app import create_app
from simulator.engine import Simulator
from simulator.error_model import ErrorModel
from simulator.faults import FaultSpec
from store.db import Store
from store.seed import seed_store

SIM_HOST_SUFFIX = ".simulator.invalid"


@dataclass(frozen=True)
class ChaosRow:
    """One row of the matrix: a fault spec, and how the tickets are delivered."""

    name: str
    faults: str
    deliveries: int = 1  # 2: every ticket is delivered twice (an at-least-once queue)
    recover: bool = False  # clear the faults after the first pass, then resume parked runs


ROWS: tuple[ChaosRow, ...] = (
    ChaosRow("no faults", ""),
    ChaosRow("500s", "error_rate=0.3,error_status=500"),
    ChaosRow("503s", "error_rate=0.3,error_status=503"),
    ChaosRow("429 bursts + Retry-After", "rate_limit_rate=0.3,retry_after=1"),
    ChaosRow("hangs", "timeout_rate=0.15,hang_seconds=2"),
    ChaosRow("garbage JSON", "garbage_rate=0.3"),
    ChaosRow("implausible values", "implausible_rate=0.3"),
    ChaosRow("duplicate deliveries", "duplicate_rate=0.2", deliveries=2),
    ChaosRow("small-tier outage", "down=small"),
    ChaosRow("total outage, then recovery", "down=all", recover=True),
    ChaosRow(
        "mix at 20%",
        "error_rate=0.05,rate_limit_rate=0.03,timeout_rate=0.02,garbage_rate=0.04,"
        "implausible_rate=0.04,duplicate_rate=0.02,hang_seconds=2",
    ),
)
"""The full matrix of `conductor chaos`."""


@dataclass(frozen=True)
class ChaosConfig:
    """Knobs of a chaos run (short timeouts so that hangs cost seconds, not minutes)."""

    seed: int = 1
    agent_timeout_s: float = 1.0
    agent_budget_s: float = 3.0
    breaker_recovery_s: float = 1.0
    resume_rounds: int = 3  # parked runs resumed this many times at most
    error_model: str = "ideal"  # "ideal": workers err only by injected faults; "default"


@dataclass
class PipelineResult:
    """The figures of one pipeline on one row."""

    outcomes: Counter[str] = field(default_factory=Counter)
    policy_violations: list[str] = field(default_factory=list)
    duplicate_refunds: int = 0
    open_circuit_calls: int | None = None
    early_429_retries: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    cost_usd: float = 0.0
    tickets: int = 0

    @property
    def wrong_rate(self) -> float:
        """Share of tickets with a wrong outcome."""
        return self.outcomes["wrong"] / self.tickets if self.tickets else 0.0

    @property
    def p95_ms(self) -> float:
        """95th percentile of per-ticket latency, nearest rank."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


@dataclass
class RowResult:
    """Both pipelines on one row."""

    row: ChaosRow
    graph: PipelineResult
    naive: PipelineResult


def chaos_settings(config: ChaosConfig, cache_path: Path) -> GatewaySettings:
    """The sim profile with short agent timeouts, quick breaker recovery and a private cache."""
    settings = GatewaySettings.from_env({"CONDUCTOR_CACHE_DB": str(cache_path)})
    for agent in settings.agents:
        settings = settings.with_agent(
            agent, timeout_s=config.agent_timeout_s, budget_s=config.agent_budget_s
        )
    for endpoint in settings.profile.endpoints:
        breaker = BreakerSettings.model_validate(
            {**endpoint.breaker.model_dump(), "recovery_timeout_s": config.breaker_recovery_s}
        )
        settings = settings.with_endpoint(endpoint.name, breaker=breaker)
    return settings


class CircuitWatch:
    """ASGI wrapper around the simulator counting requests that reach an open circuit.

    The gateway must never send a request to an endpoint whose breaker is open; this counts,
    on the endpoint's side, every request that arrives while the gateway's breaker for that
    endpoint (named by the request's host) reads open.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gateway: ModelGateway | None = None
        self.open_calls = 0

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        """Count the request if its endpoint's circuit is open, then pass it on."""
        if scope["type"] == "http" and self.gateway is not None:
            host = dict(scope.get("headers") or []).get(b"host", b"").decode()
            endpoint = host.split(":")[0].removesuffix(SIM_HOST_SUFFIX)
            try:
                state = self.gateway.breaker(endpoint).state
            except KeyError:
                state = None
            if state is CircuitState.OPEN:
                self.open_calls += 1
        await self.app(scope, receive, send)


def _simulator(row: ChaosRow, config: ChaosConfig) -> Simulator:
    spec = FaultSpec.parse(row.faults).with_changes(seed=config.seed)
    model = ErrorModel.ideal() if config.error_model == "ideal" else ErrorModel()
    return Simulator(faults=spec, error_model=model)


def _fresh_store(workdir: Path, name: str) -> Store:
    path = workdir / f"{name}.db"
    seed_store(path)
    return Store(path)


async def run_graph_row(
    row: ChaosRow, tickets: Sequence[dict[str, Any]], config: ChaosConfig, workdir: Path
) -> tuple[PipelineResult, dict[str, str | None], Sequence[Mapping[str, Any]], Store]:
    """Run the orchestrated graph on one row; return figures, statuses, ledger and store."""
    from graphs.support import make_builder

    sim = _simulator(row, config)
    watch = CircuitWatch(create_app(sim))
    settings = chaos_settings(config, workdir / "graph-cache.db")
    if sim.faults.active:  # fault injection reaches the simulator on every call
        settings = settings.with_overrides(cache_enabled=False)
    transports = {
        e.name: httpx.ASGITransport(app=watch) for e in settings.profile.endpoints if e.in_process
    }
    gateway = ModelGateway.from_settings(settings, transports=transports)
    watch.gateway = gateway
    store = _fresh_store(workdir, "graph")
    graph = make_builder(Resources(gateway=gateway, store=store)).compile(
        checkpointer=InMemorySaver(), name="support"
    )
    result = PipelineResult(tickets=len(tickets))
    statuses: dict[str, str | None] = {}
    threads: dict[str, str] = {}
    every_thread: list[str] = []

    async def invoke(payload: Any, thread_id: str) -> dict[str, Any]:
        config_: RunnableConfig = {"configurable": {"thread_id": thread_id}, "max_concurrency": 8}
        try:
            await graph.ainvoke(payload, config_)
        except Exception:  # noqa: BLE001 - a crashed run is counted as lost, not hidden
            return {"status": "failed"}
        return dict((await graph.aget_state(config_)).values)

    if True:  # the graph's resources are bound above
        for delivery in range(row.deliveries):
            for ticket in tickets:
                tid = ticket["ticket_id"]
                thread = f"{tid}-{delivery}-{uuid.uuid4().hex[:6]}"
                started = time.perf_counter()
                values = await invoke({"ticket": ticket}, thread)
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                every_thread.append(thread)
                if delivery == 0:
                    statuses[tid] = values.get("status")
                    threads[tid] = thread
        if row.recover:
            sim.set_faults(FaultSpec(seed=config.seed))
        # What an operator does with `conductor resume --parked`: resume parked runs once
        # the breakers let trial requests through (faults stay on unless the row recovers).
        for _ in range(config.resume_rounds):
            parked = [tid for tid, status in statuses.items() if status == "parked"]
            if not parked:
                break
            await asyncio.sleep(config.breaker_recovery_s + 0.1)
            for tid in parked:
                values = await invoke(Command(resume={"retry": True}), threads[tid])
                statuses[tid] = values.get("status")
        for thread in every_thread:  # usage accumulates in each thread's state, resumes included
            snapshot = await graph.aget_state({"configurable": {"thread_id": thread}})
            usage = (snapshot.values or {}).get("usage") or {}
            result.cost_usd += float(usage.get("cost_usd", 0.0))
    ledger = store.all_refunds()
    result.open_circuit_calls = watch.open_calls
    result.early_429_retries = int(sim.stats()["early_retries"])
    await gateway.aclose()
    return result, statuses, ledger, store


def _tier_prices(settings: GatewaySettings) -> dict[str, tuple[float, float]]:
    prices: dict[str, tuple[float, float]] = {}
    for endpoint in settings.profile.endpoints:
        prices.setdefault(endpoint.tier, (endpoint.price_in_per_mtok, endpoint.price_out_per_mtok))
    return prices


async def run_naive_row(
    row: ChaosRow, tickets: Sequence[dict[str, Any]], config: ChaosConfig, workdir: Path
) -> tuple[PipelineResult, dict[str, str | None], Sequence[Mapping[str, Any]], Store]:
    """Run the fair baseline on one row; return figures, statuses, ledger and store.

    Its lost tickets get the graph's recovery chances: after the first pass (and the faults
    cleared when the row recovers), each is retried whole up to `resume_rounds` times.
    """
    sim = _simulator(row, config)
    store = _fresh_store(workdir, "naive")
    chain = NaiveChain(sim, store)
    result = PipelineResult(tickets=len(tickets))
    statuses: dict[str, str | None] = {}
    by_id = {ticket["ticket_id"]: ticket for ticket in tickets}
    for delivery in range(row.deliveries):
        for ticket in tickets:
            started = time.perf_counter()
            outcome = await chain.handle_with_recovery(ticket, 0, 0.0)
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            if delivery == 0:
                statuses[ticket["ticket_id"]] = outcome["status"]
    if row.recover:
        sim.set_faults(FaultSpec(seed=config.seed))
    for _ in range(config.resume_rounds):
        lost = [tid for tid, status in statuses.items() if status == "failed"]
        if not lost:
            break
        await asyncio.sleep(config.breaker_recovery_s + 0.1)
        for tid in lost:
            statuses[tid] = (await chain.handle_with_recovery(by_id[tid], 0, 0.0))["status"]
    result.cost_usd = chain.cost_usd(_tier_prices(GatewaySettings.from_env({})))
    result.early_429_retries = int(sim.stats()["early_retries"])
    await chain.aclose()
    return result, statuses, store.all_refunds(), store


def _score(
    result: PipelineResult,
    statuses: Mapping[str, str | None],
    ledger: Sequence[Mapping[str, Any]],
    store: Store,
    tickets: Sequence[dict[str, Any]],
    truth: Mapping[str, Mapping[str, Any]],
) -> PipelineResult:
    refunded: dict[str, float] = {}
    for refund in ledger:
        refunded[refund["ticket_id"]] = refunded.get(refund["ticket_id"], 0.0) + refund["amount"]
    for ticket in tickets:
        tid = ticket["ticket_id"]
        result.outcomes[judge_outcome(statuses.get(tid), refunded.get(tid), truth[tid])] += 1
    customers = {t["ticket_id"]: t.get("customer_id", "") for t in tickets}
    result.policy_violations = audit_refunds(ledger, store.get_order, customers)
    result.duplicate_refunds = duplicate_refunds(ledger)
    return result


async def run_row(
    row: ChaosRow,
    tickets: Sequence[dict[str, Any]],
    truth: Mapping[str, Mapping[str, Any]],
    config: ChaosConfig,
) -> RowResult:
    """Run both pipelines on one row, each on a fresh store."""
    with tempfile.TemporaryDirectory(prefix="conductor-chaos-") as tmp:
        workdir = Path(tmp)
        scored: list[PipelineResult] = []
        runner: Callable[..., Awaitable[Any]]
        for runner in (run_graph_row, run_naive_row):
            result, statuses, ledger, store = await runner(row, tickets, config, workdir)
            scored.append(_score(result, statuses, ledger, store, tickets, truth))
            store.close()
    return RowResult(row, scored[0], scored[1])


async def run_matrix(
    rows: Sequence[ChaosRow] = ROWS,
    *,
    tickets: int | None = None,
    config: ChaosConfig = ChaosConfig(),
    on_row: Callable[[RowResult], None] | None = None,
) -> list[RowResult]:
    """Run the matrix on the example tickets (the first `tickets` of them).

    Raises:
        ValueError: When more tickets are asked for than the example set holds.
    """
    all_tickets = load_jsonl(EXAMPLE_TICKETS)
    if tickets is not None and not 1 <= tickets <= len(all_tickets):
        raise ValueError(f"--tickets must be between 1 and {len(all_tickets)}, got {tickets}")
    chosen = all_tickets[: tickets or len(all_tickets)]
    truth = load_truth()
    results = []
    for row in rows:
        result = await run_row(row, chosen, truth, config)
        results.append(result)
        if on_row is not None:
            on_row(result)
    return results


def matrix_table(results: Sequence[RowResult], config: ChaosConfig, tickets: int) -> Any:
    """The matrix as a rich table: one line per row and pipeline."""
    from rich.table import Table

    table = Table(
        title=(
            f"chaos matrix on the SIMULATED endpoint: {tickets} tickets, seed {config.seed}, "
            f"error model {config.error_model}, agent timeout {config.agent_timeout_s}s, "
            f"breaker recovery {config.breaker_recovery_s}s"
        )
    )
    columns = (
        "faults",
        "pipeline",
        "correct",
        "escalated",
        "parked",
        "wrong",
        "lost",
        "policy viol.",
        "dup. refunds",
        "open-circuit calls",
        "early 429 retries",
        "p95 ms",
        "cost USD",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("faults", "pipeline") else "right")
    for result in results:
        for name, figures in (("graph", result.graph), ("naive", result.naive)):
            outcomes = figures.outcomes
            table.add_row(
                result.row.name if name == "graph" else "",
                name,
                str(outcomes["correct"]),
                str(outcomes["escalated"]),
                str(outcomes["parked"]),
                f"{outcomes['wrong']} ({figures.wrong_rate:.0%})",
                str(outcomes["lost"]),
                str(len(figures.policy_violations)),
                str(figures.duplicate_refunds),
                "-" if figures.open_circuit_calls is None else str(figures.open_circuit_calls),
                str(figures.early_429_retries),
                f"{figures.p95_ms:.0f}",
                f"{figures.cost_usd:.4f}",
            )
        table.add_section()
    return table
