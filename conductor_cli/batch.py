"""Batch runs of the support graph: one thread per ticket, every line accounted for."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from evals.audit import audit_refunds
from gateway.process import get_gateway
from state.support import SupportContext
from store.db import Store
from telemetry.logging import get_logger
from telemetry.tracing import graph_run_config

log = get_logger("conductor.batch")

PER_RUN_MAX_CONCURRENCY = 8
"""Top-level `max_concurrency` of each run (under `configurable` it would be ignored)."""


def thread_id_for(ticket_id: str) -> str:
    """A fresh thread id naming the ticket, so a rerun never collides with an earlier run."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", ticket_id)[:48] or "ticket"
    return f"support-{slug}-{uuid.uuid4().hex[:8]}"


def run_config(thread_id: str, ticket_id: str) -> RunnableConfig:
    """The RunnableConfig of one ticket's run (metadata and tags reach LangSmith)."""
    profile = get_gateway().settings.profile_name
    config = graph_run_config("support", thread_id, profile=profile, ticket_id=ticket_id)
    return cast(RunnableConfig, {**config, "max_concurrency": PER_RUN_MAX_CONCURRENCY})


def record_from_state(
    ticket_id: str | None, thread_id: str | None, values: dict[str, Any], latency_ms: float
) -> dict[str, Any]:
    """One output line of `conductor run support`, from a run's state."""
    usage = values.get("usage") or {}
    return {
        "ticket_id": ticket_id,
        "thread_id": thread_id,
        "status": values.get("status") or "failed",
        "intent": values.get("intent")
        or ((values.get("results") or {}).get("classify") or {}).get("intent"),
        "refund": values.get("refund"),
        "reply": values.get("reply"),
        "escalation_reason": values.get("escalation_reason"),
        "cost_usd": round(float(usage.get("cost_usd", 0.0)), 6),
        "latency_ms": round(latency_ms, 1),
        "errors": [f"{e.get('kind')}: {e.get('message')}" for e in values.get("errors") or []],
    }


def rejected_line(line_no: int, reason: str, ticket_id: str | None = None) -> dict[str, Any]:
    """The output line of an input line that is not a ticket at all."""
    return {
        "ticket_id": ticket_id,
        "thread_id": None,
        "status": "rejected",
        "intent": None,
        "refund": None,
        "reply": None,
        "escalation_reason": None,
        "cost_usd": 0.0,
        "latency_ms": 0.0,
        "errors": [f"invalid_ticket: line {line_no}: {reason}"],
    }


def failed_line(
    ticket_id: str | None, thread_id: str | None, error: str, latency_ms: float = 0.0
) -> dict[str, Any]:
    """The output line of a ticket whose run (or its bookkeeping) failed outside the graph."""
    return {
        **record_from_state(ticket_id, thread_id, {}, latency_ms),
        "status": "failed",
        "errors": [error],
    }


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def run_ticket(
    graph: CompiledStateGraph,
    store: Store,
    line_no: int,
    line: str,
    context: SupportContext,
) -> dict[str, Any]:
    """Run one input line through the graph; whatever happens, return its output line."""
    try:
        ticket = json.loads(line)
    except json.JSONDecodeError as exc:
        return rejected_line(line_no, f"invalid JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(ticket, dict):
        return rejected_line(line_no, f"expected a JSON object, got {type(ticket).__name__}")
    raw_id = ticket.get("ticket_id")
    ticket_id = str(raw_id) if raw_id else f"line-{line_no}"
    thread_id = thread_id_for(ticket_id)
    try:
        config = run_config(thread_id, ticket_id)
        # Recorded before the run starts, so that a batch killed midway leaves its threads
        # findable (`conductor escalations`, `conductor resume`).
        await asyncio.to_thread(store.upsert_run, thread_id, "support", ticket_id, "running")
    except Exception as exc:  # noqa: BLE001 - reported in the ticket's output line
        log.error("run_not_started", ticket_id=ticket_id, error=_describe(exc))
        return failed_line(ticket_id, None, f"not started: {_describe(exc)}")
    started = time.perf_counter()
    crash: str | None = None
    try:
        await graph.ainvoke({"ticket": ticket}, config, context=context)  # type: ignore[call-overload]
    except Exception as exc:  # noqa: BLE001 - one ticket's crash must not lose the batch
        crash = _describe(exc)
        log.error("run_crashed", ticket_id=ticket_id, workflow_id=thread_id, error=crash)
    latency_ms = (time.perf_counter() - started) * 1000
    try:
        snapshot = await graph.aget_state(config)
        values = dict(snapshot.values or {})
        record = record_from_state(ticket_id, thread_id, values, latency_ms)
        record["customer_id"] = ticket.get("customer_id")
        record["reviewed"] = values.get("review") is not None
        if crash:
            record["status"] = "failed"
            record["errors"].append(f"crash: {crash}")
        elif record["status"] == "running":
            record["status"] = "failed"
            record["errors"].append("run ended without a final status")
        await asyncio.to_thread(
            store.upsert_run,
            thread_id,
            "support",
            ticket_id,
            record["status"],
            {"escalation_reason": record["escalation_reason"]},
        )
    except Exception as exc:  # noqa: BLE001 - the run happened; its line must not be lost
        error = f"bookkeeping: {_describe(exc)}"
        log.error("run_bookkeeping_failed", ticket_id=ticket_id, workflow_id=thread_id, error=error)
        record = failed_line(ticket_id, thread_id, error, latency_ms)
        if crash:
            record["errors"].insert(0, f"crash: {crash}")
        record["customer_id"] = ticket.get("customer_id")
    return record


@dataclass
class BatchResult:
    """What a batch produced: one record per input line, and its wall time."""

    records: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0
    wall_s: float = 0.0
    customers: dict[str, str] = field(default_factory=dict)  # ticket id -> its writer
    reviewed: set[str] = field(default_factory=set)  # tickets a human has decided


async def run_batch(
    graph: CompiledStateGraph,
    store: Store,
    input_path: Path,
    out_path: Path,
    *,
    concurrency: int = 4,
    context: SupportContext | None = None,
    console: Console | None = None,
) -> BatchResult:
    """Run every line of a JSONL file of tickets, `concurrency` at a time; write OUT as JSONL.

    Output lines follow input order. Blank lines are skipped (and not counted).
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    lines = [
        (number, text)
        for number, text in enumerate(input_path.read_text(encoding="utf-8").splitlines(), 1)
        if text.strip()
    ]
    ctx = context or SupportContext()
    gate = asyncio.Semaphore(concurrency)
    result = BatchResult(lines=len(lines))
    records: list[dict[str, Any] | None] = [None] * len(lines)
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]support"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        bar = progress.add_task("tickets", total=len(lines))

        async def one(index: int, number: int, text: str) -> None:
            try:
                async with gate:
                    records[index] = await run_ticket(graph, store, number, text, ctx)
            except Exception as exc:  # noqa: BLE001 - becomes the line's failed record
                records[index] = failed_line(None, None, f"crash: line {number}: {_describe(exc)}")
            finally:
                progress.advance(bar)

        outcomes = await asyncio.gather(
            *(one(i, n, t) for i, (n, t) in enumerate(lines)), return_exceptions=True
        )
    result.wall_s = time.perf_counter() - started
    for index, outcome in enumerate(outcomes):
        if records[index] is None:  # only if `one` itself was interrupted
            line_no = lines[index][0]
            reason = _describe(outcome) if isinstance(outcome, BaseException) else "no result"
            records[index] = failed_line(None, None, f"crash: line {line_no}: {reason}")
    result.records = [r for r in records if r is not None]
    for record in result.records:
        customer = record.pop("customer_id", None)
        if record.pop("reviewed", False):
            result.reviewed.add(record["ticket_id"])
        if record["ticket_id"] and customer:
            result.customers[record["ticket_id"]] = str(customer)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as out:
        for record in result.records:
            out.write(json.dumps(record, sort_keys=True) + "\n")
    return result


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def batch_violations(result: BatchResult, store: Store) -> list[str]:
    """Audit the ledger's refunds for this batch's tickets against the refund policy."""
    refunds = [r for r in store.all_refunds() if r["ticket_id"] in result.customers]
    return audit_refunds(refunds, store.get_order, result.customers, reviewed=result.reviewed)


def summary_table(result: BatchResult, store: Store, title: str = "support batch") -> Table:
    """The summary printed at the end of a batch."""
    records = result.records
    statuses = Counter(r["status"] for r in records)
    reasons = Counter(r["escalation_reason"] for r in records if r["escalation_reason"])
    issued = [r["refund"] for r in records if r["refund"] and r["refund"].get("issued")]
    by_currency: Counter[str] = Counter()
    for refund in issued:
        by_currency[refund["currency"]] += refund["amount"]
    latencies = [r["latency_ms"] for r in records if r["thread_id"]]
    table = Table(title=title, show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("tickets in / out", f"{result.lines} / {len(records)}")
    # The status rows add up to the records (one per input line): "running" (a run that
    # ended without a final status is reported as failed, so it should not occur) and any
    # other status only when present.
    shown = ["resolved", "escalated", "rejected", "parked", "failed"]
    shown += sorted(status for status in statuses if status not in shown)
    for status in shown:
        table.add_row(f"status {status}", str(statuses.get(status, 0)))
    table.add_row("refunds issued", str(len(issued)))
    table.add_row("policy violations (ledger audit)", str(len(batch_violations(result, store))))
    table.add_row("refunds in the ledger (whole store)", str(store.count_refunds()))
    for currency, amount in sorted(by_currency.items()):
        table.add_row(f"refunded {currency}", f"{amount:.2f}")
    for reason, count in sorted(reasons.items()):
        table.add_row(f"escalated: {reason}", str(count))
    table.add_row("model cost (USD)", f"{sum(r['cost_usd'] for r in records):.4f}")
    table.add_row(
        "latency p50 / p95 (ms)",
        f"{percentile(latencies, 50):.0f} / {percentile(latencies, 95):.0f}",
    )
    table.add_row("wall time (s)", f"{result.wall_s:.1f}")
    table.add_row("runs with errors recorded", str(sum(1 for r in records if r["errors"])))
    return table
