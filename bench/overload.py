"""Overload: N tickets submitted at once through the CLI's batch runner; how every run ends.

The batch runner (`conductor run support --concurrency N`) with N as high as the batch, on
the simulated in-process endpoint (50 ms a call, ideal error model), so the only thing that
can park or escalate a run is the orchestrator's own queueing: the gateway's admission
queue, the event loop it shares with the simulator, the node guard. The server path
(langgraph-sdk against `langgraph dev`) is `bench/overload_server.py`.
"""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from rich.console import Console

from bench.variants import conductor_gateway
from bench.workload import Workload
from conductor_cli.batch import percentile, run_batch
from conductor_cli.workflows import workflow
from gateway.looptime import loop_lag
from nodes.resources import Resources
from simulator.engine import Simulator
from simulator.error_model import ErrorModel

LATENCY_S = 0.05
"""Added latency of each simulated answer."""
QUEUE_ERRORS = ("requests in flight", "no answer in", "ran longer than", "circuit open", "no time")
"""Error kinds that, on a healthy simulated endpoint, only our own queueing can cause."""


@dataclass
class OverloadResult:
    """How N runs submitted at once ended, and how long they took."""

    path: str
    submitted: int
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    """Escalation and park reasons of the runs that did not resolve."""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    loop_lag_s: float | None = None
    notes: list[str] = field(default_factory=list)

    def queue_caused(self) -> int:
        """Errors recorded in runs of a kind only our own queueing causes on a healthy endpoint."""
        return sum(n for kind, n in self.errors.items() if any(q in kind for q in QUEUE_ERRORS))

    @property
    def throughput(self) -> float:
        """Runs finished per second of wall time."""
        return self.submitted / self.wall_s if self.wall_s else 0.0

    def summary(self) -> str:
        """One paragraph: statuses, errors, throughput, latency percentiles, lag."""
        statuses = ", ".join(f"{k} ×{v}" for k, v in sorted(self.statuses.items()))
        lines = [
            f"overload ({self.path}): {self.submitted} submitted at once; {statuses}",
            f"  wall {self.wall_s:.1f} s, CPU {self.cpu_s:.1f} s, {self.throughput:.1f} runs/s, "
            f"latency p50 {percentile(self.latencies_ms, 50):,.0f} ms, "
            f"p95 {percentile(self.latencies_ms, 95):,.0f} ms",
        ]
        if self.loop_lag_s is not None:
            lines.append(
                f"  event-loop lag accrued (not counted by timeouts): {self.loop_lag_s:.1f} s"
            )
        if self.reasons:
            why = ", ".join(f"{k} ×{v}" for k, v in self.reasons.most_common(5))
            lines.append(f"  reasons of the runs not resolved: {why}")
        if self.errors:
            top = ", ".join(f"{k} ×{v}" for k, v in self.errors.most_common(5))
            lines.append(f"  errors recorded in runs: {top}")
        lines += [f"  {note}" for note in self.notes]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The figures as plain JSON."""
        return {
            "path": self.path,
            "submitted": self.submitted,
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
            "reasons": dict(self.reasons),
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "throughput_per_s": self.throughput,
            "latency_p50_ms": percentile(self.latencies_ms, 50),
            "latency_p95_ms": percentile(self.latencies_ms, 95),
            "loop_lag_s": self.loop_lag_s,
            "notes": self.notes,
        }


def error_kind(message: str) -> str:
    """A run's error line without its ids and figures: what kind of failure it was."""
    kind, _, rest = message.partition(": ")
    for marker in QUEUE_ERRORS:
        if marker in rest:
            return f"{kind}: {marker}"
    return kind


async def run_cli_overload(n: int, workdir: Path, work: Workload | None = None) -> OverloadResult:
    """Run `n` fresh refund tickets through `run_batch` with `concurrency=n` (memory saver).

    Every ticket would resolve with an auto-approved refund on a healthy provider, so any
    other status is the orchestrator's doing.
    """
    own = work is None
    work = work or Workload.open(workdir)
    sim = Simulator(error_model=ErrorModel.ideal(), latency_s=LATENCY_S)
    sub = workdir / "gw-overload"
    sub.mkdir(exist_ok=True)
    gateway = conductor_gateway(sim, sub)
    entry = workflow("support")
    graph = entry.make_builder(Resources(gateway=gateway, store=work.store)).compile(
        checkpointer=InMemorySaver(), name=entry.name
    )
    tickets = work.tickets(n, f"overload{n}-{time.monotonic_ns()}")
    source, out = workdir / f"overload-{n}.jsonl", workdir / f"overload-{n}-out.jsonl"
    source.write_text("".join(json.dumps(t) + "\n" for t in tickets), encoding="utf-8")
    out.unlink(missing_ok=True)
    result = OverloadResult(path="CLI batch runner, in-process", submitted=n)
    lag = loop_lag()
    lag.hold()  # measure the lag over the whole batch
    lag0 = lag.lag()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        batch = await run_batch(
            entry,
            graph,
            work.store,
            source,
            out,
            concurrency=n,
            console=Console(file=io.StringIO()),
        )
    finally:
        result.loop_lag_s = lag.lag() - lag0
        lag.release()
        await gateway.aclose()
        if own:
            work.close()
    result.wall_s, result.cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0
    for record in batch.records:
        result.statuses[str(record["status"])] += 1
        result.latencies_ms.append(float(record.get("latency_ms") or 0.0))
        if record["status"] != "resolved":
            result.reasons[str(record.get("escalation_reason"))] += 1
        for error in record.get("errors") or []:
            result.errors[error_kind(str(error))] += 1
    missing = n - len(batch.records)
    if missing:
        result.statuses["missing from OUT"] += missing
    peak = sim.stats().get("peak_in_flight")
    if peak is not None:
        result.notes.append(f"simulator peak requests in flight: {peak}")
    return result


async def overload_section(bench: Any) -> OverloadResult:
    """The bench's `overload` rows: `bench.config.overload` tickets at once (CLI path)."""
    n = bench.config.overload
    result = await run_cli_overload(n, bench.workdir, bench.work)
    variant, config = "conductor support", f"{n} at once, CLI batch, memory, 50 ms"
    not_resolved = result.submitted - result.statuses.get("resolved", 0)
    bench.figures.add(
        "overload: runs resolved", variant, config, "runs", result.statuses.get("resolved", 0)
    )
    bench.figures.add("overload: runs not resolved", variant, config, "runs", not_resolved)
    bench.figures.add("overload: throughput", variant, config, "tickets/s", result.throughput)
    for q in (50, 95):
        value = percentile(result.latencies_ms, q)
        bench.figures.add(f"overload: latency p{q}", variant, config, "ms", value)
    for status, count in result.statuses.items():
        bench.statuses[f"{variant} (overload {n}): {status}"] += count
    bench.notes.append(result.summary().replace("\n  ", "; "))
    return result
