"""Batch runs of a workflow: one thread per input, every line accounted for, resumable.

Each result line is written (and fsynced) to OUT when its item finishes, so OUT follows
completion order, not input order; each line carries its input `line` number and its
`batch`. Thread ids are stable per batch and item (`conductor_cli.durable`): running the same
batch again re-emits finished items from their checkpoints (no model call), continues
interrupted ones and starts new ones; a line already in OUT is not written again.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from conductor_cli.durable import (
    RUN_DURABILITY,
    Phase,
    batch_id_for,
    phase_of,
    thread_id_for,
)
from conductor_cli.workflows import WorkflowEntry
from store.db import Store
from telemetry.logging import get_logger
from telemetry.tracing import graph_run_config

log = get_logger("conductor.batch")

PER_RUN_MAX_CONCURRENCY = 8
"""Top-level `max_concurrency` of each run (under `configurable` it would be ignored)."""


def run_config(
    entry: WorkflowEntry,
    thread_id: str,
    item_id: str,
    profile: str,
    callbacks: list[Any] | None = None,
) -> RunnableConfig:
    """The RunnableConfig of one input's run (metadata and tags reach LangSmith)."""
    config = graph_run_config(entry.name, thread_id, profile=profile, **{entry.id_field: item_id})
    extra: dict[str, Any] = {"max_concurrency": PER_RUN_MAX_CONCURRENCY}
    if callbacks:
        extra["callbacks"] = [*(config.get("callbacks") or []), *callbacks]  # type: ignore[misc]
    return cast(RunnableConfig, {**config, **extra})


def record_from_state(
    entry: WorkflowEntry,
    item_id: str | None,
    thread_id: str | None,
    values: dict[str, Any],
    latency_ms: float,
) -> dict[str, Any]:
    """One output line of `conductor run WORKFLOW`, from a run's state."""
    usage = values.get("usage") or {}
    return {
        entry.id_field: item_id,
        "thread_id": thread_id,
        "status": values.get("status") or "failed",
        **entry.fields(values),
        "escalation_reason": values.get("escalation_reason"),
        "cost_usd": round(float(usage.get("cost_usd", 0.0)), 6),
        "latency_ms": round(latency_ms, 1),
        "errors": [f"{e.get('kind')}: {e.get('message')}" for e in values.get("errors") or []],
    }


def rejected_line(
    entry: WorkflowEntry, line_no: int, reason: str, item_id: str | None = None
) -> dict[str, Any]:
    """The output line of an input line that is not an input object at all."""
    return {
        **record_from_state(entry, item_id, None, {}, 0.0),
        "status": "rejected",
        "errors": [f"invalid_{entry.input_key}: line {line_no}: {reason}"],
    }


def duplicate_line(entry: WorkflowEntry, line_no: int, item_id: str, first: int) -> dict[str, Any]:
    """The output line of an item whose id an earlier line of the batch already has."""
    return {
        **record_from_state(entry, item_id, None, {}, 0.0),
        "status": "duplicate",
        "errors": [
            f"duplicate_{entry.input_key}: line {line_no}: {entry.id_field} {item_id!r} "
            f"already on line {first}; not run twice"
        ],
    }


def failed_line(
    entry: WorkflowEntry,
    item_id: str | None,
    thread_id: str | None,
    error: str,
    latency_ms: float = 0.0,
) -> dict[str, Any]:
    """The output line of an input whose run (or its bookkeeping) failed outside the graph."""
    return {
        **record_from_state(entry, item_id, thread_id, {}, latency_ms),
        "status": "failed",
        "errors": [error],
    }


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


MAX_INPUT_DEPTH = 64
"""Deepest nesting an input object may have: deeper JSON is refused at the edge (the
checkpointer's serialiser and the gates would hit a recursion limit inside the run)."""


def nesting_depth(value: Any) -> int:
    """How deep lists and objects nest in a JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_INPUT_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


@dataclass
class InputLine:
    """One non-blank line of a batch's input, parsed (or refused) before anything runs."""

    number: int
    item: dict[str, Any] | None = None
    item_id: str | None = None
    rejected: str | None = None  # why the line is not an input object
    duplicate_of: int | None = None  # the earlier line with the same item id

    @property
    def runs(self) -> bool:
        """True when the line becomes a run (a thread of its own)."""
        return self.item is not None and self.rejected is None and self.duplicate_of is None


def parse_input(entry: WorkflowEntry, data: bytes) -> list[InputLine]:
    """Split a JSONL input into lines, each parsed or refused on its own (bad bytes included).

    A line of invalid UTF-8, invalid JSON, JSON nested too deep or not an object is refused
    with its line number; an item id seen on an earlier line makes a duplicate. Blank lines
    are skipped (and not counted).
    """
    lines: list[InputLine] = []
    first_line: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            lines.append(
                InputLine(
                    number,
                    rejected=f"invalid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1})",
                )
            )
            continue
        if not text.strip():
            continue
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON ({exc.msg} at column {exc.colno})"
            lines.append(InputLine(number, rejected=reason))
            continue
        except RecursionError:
            lines.append(InputLine(number, rejected="JSON nested too deep"))
            continue
        if not isinstance(item, dict):
            reason = f"expected a JSON object, got {type(item).__name__}"
            lines.append(InputLine(number, rejected=reason))
            continue
        if nesting_depth(item) > MAX_INPUT_DEPTH:
            reason = f"JSON nested too deep (more than {MAX_INPUT_DEPTH} levels)"
            lines.append(InputLine(number, rejected=reason))
            continue
        raw_id = item.get(entry.id_field)
        item_id = str(raw_id) if raw_id else f"line-{number}"
        line = InputLine(number, item=item, item_id=item_id)
        if item_id in first_line:
            line.duplicate_of = first_line[item_id]
        else:
            first_line[item_id] = number
        lines.append(line)
    return lines


def read_out(path: Path, batch_id: str) -> tuple[dict[int, dict[str, Any]], bool]:
    """The lines OUT already holds for this batch, by input line number.

    A torn last line (a kill while it was written) is cut off. Returns whether OUT holds
    anything of another batch (or unreadable), in which case it is to be started afresh.
    """
    if not path.is_file():
        return {}, False
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with path.open("r+b") as handle:
            handle.truncate(len(data))
    found: dict[int, dict[str, Any]] = {}
    foreign = False
    for raw in data.splitlines():
        try:
            record = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            foreign = True
            continue
        if not isinstance(record, dict) or record.get("batch") != batch_id:
            foreign = True
            continue
        if isinstance(record.get("line"), int):
            found.setdefault(record["line"], record)
    return found, foreign


class OutWriter:
    """Appends result lines to OUT, each flushed and fsynced as its item finishes."""

    def __init__(self, handle: TextIO, written: set[int]) -> None:
        self._handle = handle
        self.written = written

    def write(self, record: dict[str, Any]) -> bool:
        """Write the line unless OUT already has one for its input line; True when written."""
        if record["line"] in self.written:
            return False
        self._handle.write(json.dumps(record, sort_keys=True) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self.written.add(record["line"])
        return True


@dataclass
class BatchPlan:
    """What running a batch will do, item by item (the `--resume` preview)."""

    batch_id: str
    lines: list[InputLine]
    phases: dict[int, Phase] = field(default_factory=dict)  # line -> phase of its thread
    in_out: set[int] = field(default_factory=set)  # lines OUT already has

    def counts(self) -> dict[str, int]:
        """Lines by fate: finished (re-emit), interrupted (continue), new, in OUT, refused."""
        counts: Counter[str] = Counter()
        for line in self.lines:
            if not line.runs:
                counts["refused"] += 1
            else:
                counts[self.phases.get(line.number, "new")] += 1
            if line.number in self.in_out:
                counts["in_out"] += 1
        kinds = ("finished", "interrupted", "new", "in_out", "refused")
        return {k: counts.get(k, 0) for k in kinds}

    def describe(self) -> str:
        """One line: N finished to re-emit, M interrupted to continue, K new."""
        c = self.counts()
        return (
            f"batch {self.batch_id}: {c['finished']} finished to re-emit, "
            f"{c['interrupted']} interrupted to continue, {c['new']} new; "
            f"{c['in_out']} line(s) already in OUT, {c['refused']} refused or duplicate"
        )


async def plan_batch(
    entry: WorkflowEntry,
    graph: CompiledStateGraph,
    input_path: Path,
    out_path: Path,
    *,
    batch_id: str | None = None,
) -> BatchPlan:
    """Read the input and OUT, and find where each item's thread stands."""
    data = input_path.read_bytes()
    bid = batch_id or batch_id_for(input_path, data)
    plan = BatchPlan(bid, parse_input(entry, data))
    existing, _ = read_out(out_path, bid)
    plan.in_out = set(existing)
    for line in plan.lines:
        if line.runs and line.item_id is not None:
            config: RunnableConfig = {
                "configurable": {"thread_id": thread_id_for(entry.name, bid, line.item_id)}
            }
            plan.phases[line.number] = phase_of(await graph.aget_state(config))
    return plan


def run_detail(batch_id: str, line: InputLine, out_path: Path, **extra: Any) -> dict[str, Any]:
    """The runs-table detail of one item's run: enough for `conductor recover` to finish it."""
    return {
        "batch": batch_id,
        "line": line.number,
        "out": str(out_path.resolve()),
        "input": line.item,
        **extra,
    }


async def run_item(
    entry: WorkflowEntry,
    graph: CompiledStateGraph,
    store: Store,
    line: InputLine,
    batch_id: str,
    out_path: Path,
    context: Any,
    profile: str,
    callbacks: list[Any] | None = None,
) -> dict[str, Any]:
    """Run (or continue, or re-emit) one input line's thread; whatever happens, its line.

    Returns:
        The output line, with `customer_id` and `reviewed` for the summary (popped before
        it is written).
    """
    if line.rejected is not None:
        return rejected_line(entry, line.number, line.rejected)
    assert line.item is not None and line.item_id is not None
    item, item_id = line.item, line.item_id
    if line.duplicate_of is not None:
        return duplicate_line(entry, line.number, item_id, line.duplicate_of)
    thread_id = thread_id_for(entry.name, batch_id, item_id)
    try:
        config = run_config(entry, thread_id, item_id, profile, callbacks)
        phase = phase_of(await graph.aget_state(config))
        if phase != "finished":
            # Recorded before the run starts or continues, so that a batch killed midway
            # leaves its threads findable (`conductor runs`, `recover`, `escalations`).
            detail = run_detail(batch_id, line, out_path)
            await asyncio.to_thread(
                store.upsert_run, thread_id, entry.name, item_id, "running", detail
            )
    except Exception as exc:  # noqa: BLE001 - reported in the input's output line
        log.error("run_not_started", item_id=item_id, error=_describe(exc))
        return failed_line(entry, item_id, None, f"not started: {_describe(exc)}")
    started = time.perf_counter()
    crash: str | None = None
    if phase != "finished":
        graph_input = {entry.input_key: item} if phase == "new" else None
        try:
            await graph.ainvoke(  # type: ignore[call-overload]
                graph_input, config, context=context, durability=RUN_DURABILITY
            )
        except Exception as exc:  # noqa: BLE001 - one item's crash must not lose the batch
            crash = _describe(exc)
            log.error("run_crashed", item_id=item_id, workflow_id=thread_id, error=crash)
    latency_ms = (time.perf_counter() - started) * 1000
    try:
        snapshot = await graph.aget_state(config)
        values = dict(snapshot.values or {})
        if phase == "finished":  # re-emitted: its latency is the one recorded when it ran
            run = await asyncio.to_thread(store.get_run, thread_id)
            latency_ms = float(((run or {}).get("detail") or {}).get("latency_ms") or 0.0)
        record = record_from_state(entry, item_id, thread_id, values, latency_ms)
        record["customer_id"] = item.get("customer_id")
        record["reviewed"] = values.get("review") is not None
        if crash:
            record["status"] = "failed"
            record["errors"].append(f"crash: {crash}")
        elif record["status"] == "running":
            record["status"] = "failed"
            record["errors"].append("run ended without a final status")
        detail = run_detail(
            batch_id,
            line,
            out_path,
            escalation_reason=record["escalation_reason"],
            latency_ms=record["latency_ms"],
        )
        await asyncio.to_thread(
            store.upsert_run, thread_id, entry.name, item_id, record["status"], detail
        )
    except Exception as exc:  # noqa: BLE001 - the run happened; its line must not be lost
        error = f"bookkeeping: {_describe(exc)}"
        log.error("run_bookkeeping_failed", item_id=item_id, workflow_id=thread_id, error=error)
        record = failed_line(entry, item_id, thread_id, error, latency_ms)
        if crash:
            record["errors"].insert(0, f"crash: {crash}")
        record["customer_id"] = item.get("customer_id")
    return record


@dataclass
class BatchResult:
    """What a batch produced: its OUT lines (one per input line when complete), its wall time."""

    records: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0
    wall_s: float = 0.0
    customers: dict[str, str] = field(default_factory=dict)  # item id -> its writer
    reviewed: set[str] = field(default_factory=set)  # items a human has decided
    batch_id: str = ""
    written: int = 0  # lines this invocation wrote to OUT
    restarted_out: bool = False  # OUT held another batch's lines and was started afresh

    @property
    def complete(self) -> bool:
        """True when every input line has exactly one line in OUT."""
        return len(self.records) == self.lines


async def run_batch(
    entry: WorkflowEntry,
    graph: CompiledStateGraph,
    store: Store,
    input_path: Path,
    out_path: Path,
    *,
    concurrency: int = 4,
    context: Any = None,
    profile: str = "sim",
    console: Console | None = None,
    batch_id: str | None = None,
    callbacks: list[Any] | None = None,
    plan: BatchPlan | None = None,
) -> BatchResult:
    """Run every line of a JSONL file of inputs, `concurrency` at a time, appending to OUT.

    Each line is written to OUT (flushed and fsynced) when its item finishes, so OUT follows
    completion order. The batch resumes where an earlier run of it stopped (see the module
    docstring). The result's records are OUT's lines for this batch, in input order.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    if plan is None:
        plan = await plan_batch(entry, graph, input_path, out_path, batch_id=batch_id)
    existing, foreign = read_out(out_path, plan.batch_id)
    result = BatchResult(lines=len(plan.lines), batch_id=plan.batch_id)
    if foreign:  # another batch's results (or junk): this batch's OUT starts afresh
        existing, result.restarted_out = {}, True
    ctx = context if context is not None else entry.context()
    gate = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        out_path.open("w" if foreign else "a", encoding="utf-8") as handle,
        Progress(
            TextColumn(f"[bold]{entry.name}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        writer = OutWriter(handle, set(existing))
        bar = progress.add_task(entry.input_key, total=len(plan.lines))

        async def one(line: InputLine) -> None:
            try:
                async with gate:
                    record = await run_item(
                        entry,
                        graph,
                        store,
                        line,
                        plan.batch_id,
                        out_path,
                        ctx,
                        profile,
                        callbacks,
                    )
            except Exception as exc:  # noqa: BLE001 - becomes the line's failed record
                error = f"crash: line {line.number}: {_describe(exc)}"
                record = failed_line(entry, line.item_id, None, error)
            customer = record.pop("customer_id", None)
            if record.pop("reviewed", False) and line.item_id:
                result.reviewed.add(line.item_id)
            if line.item_id and customer:
                result.customers[line.item_id] = str(customer)
            record.update(line=line.number, batch=plan.batch_id)
            if writer.write(record):
                result.written += 1
            progress.advance(bar)

        await asyncio.gather(*(one(line) for line in plan.lines))
    result.wall_s = time.perf_counter() - started
    final, _ = read_out(out_path, plan.batch_id)  # the summary is OUT's, resumed or not
    result.records = [final[line.number] for line in plan.lines if line.number in final]
    return result


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def summary_table(entry: WorkflowEntry, result: BatchResult, store: Store, title: str) -> Table:
    """The summary printed at the end of a batch: the common figures, then the workflow's."""
    records = result.records
    statuses = Counter(r["status"] for r in records)
    reasons = Counter(r["escalation_reason"] for r in records if r["escalation_reason"])
    latencies = [r["latency_ms"] for r in records if r["thread_id"]]
    table = Table(title=title, show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row(f"{entry.input_key}s in / out", f"{result.lines} / {len(records)}")
    # The status rows add up to the records (one per input line): "running" (a run that
    # ended without a final status is reported as failed, so it should not occur) and any
    # other status only when present.
    shown = ["resolved", "escalated", "denied", "rejected", "parked", "failed"]
    shown += sorted(status for status in statuses if status not in shown)
    for status in shown:
        table.add_row(f"status {status}", str(statuses.get(status, 0)))
    for figure, value in entry.summary_rows(records, result, store):
        table.add_row(figure, value)
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
