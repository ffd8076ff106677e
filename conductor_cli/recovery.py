"""After a crash: finish the threads left `running`, list runs by state, check the store first."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from conductor_cli.batch import PER_RUN_MAX_CONCURRENCY, OutWriter, read_out, record_from_state
from conductor_cli.durable import RUN_DURABILITY, item_id_of, phase_of
from conductor_cli.workflows import WorkflowEntry
from store.db import Store
from store.factory import describe_target, is_database_url, open_store
from telemetry.logging import get_logger

log = get_logger("conductor.recovery")


def store_problem(target: str | Path, entry: WorkflowEntry, *, create: bool) -> str | None:
    """Why `target` cannot serve a batch of `entry` (None when it can), naming it.

    `target` is the SQLite file or the `DATABASE_URL` the command opens. A store file that
    does not exist is created only with `create`; an existing store (a database always is)
    must hold what the workflow needs (`entry.store_ready`).
    """
    shown = describe_target(target)
    if not is_database_url(target) and not Path(target).exists():
        if create:
            return None
        return f"error: no store at {shown} (run `conductor seed --db {shown}`, or pass --create)"
    if create or entry.store_ready is None:
        return None
    with open_store(target) as store:
        missing = entry.store_ready(store)
    return f"error: the store {shown} {missing} (run `conductor seed`)" if missing else None


def _config(thread_id: str, callbacks: list[Any] | None) -> RunnableConfig:
    config: RunnableConfig = {
        "configurable": {"thread_id": thread_id},
        "max_concurrency": PER_RUN_MAX_CONCURRENCY,
    }
    if callbacks:
        config["callbacks"] = list(callbacks)
    return config


async def recover_run(
    entry: WorkflowEntry,
    graph: CompiledStateGraph,
    store: Store,
    run: Mapping[str, Any],
    callbacks: list[Any] | None = None,
) -> str:
    """Finish one thread a crash left `running`; return its status afterwards.

    A thread never checkpointed starts again from the input the runs table kept; one stopped
    mid-way continues from its last checkpoint; one at its end or at an interrupt only has
    its status written. A batch's thread also gets its line in that batch's OUT when OUT
    does not have it yet.
    """
    thread_id = run["thread_id"]
    detail = dict(run.get("detail") or {})
    config = _config(thread_id, callbacks)
    phase = phase_of(await graph.aget_state(config))
    context = entry.context()
    if phase == "new":
        if detail.get("input") is None:
            await asyncio.to_thread(
                store.upsert_run, thread_id, entry.name, run["item_id"], "failed", detail
            )
            return "failed"
        graph_input: Any = {entry.input_key: detail["input"]}
        await graph.ainvoke(graph_input, config, context=context, durability=RUN_DURABILITY)  # type: ignore[call-overload]
    elif phase == "interrupted":
        await graph.ainvoke(None, config, context=context, durability=RUN_DURABILITY)  # type: ignore[call-overload]
    values = dict((await graph.aget_state(config)).values or {})
    status = values.get("status") or "failed"
    if status == "running":
        status = "failed"
    item_id = item_id_of(values, (entry.id_field,)) or run["item_id"]
    detail["escalation_reason"] = values.get("escalation_reason")
    await asyncio.to_thread(store.upsert_run, thread_id, entry.name, item_id, status, detail)
    if detail.get("out") and detail.get("batch") and isinstance(detail.get("line"), int):
        _emit(entry, Path(detail["out"]), detail, item_id, thread_id, values, status)
    log.info("run_recovered", workflow_id=thread_id, phase=phase, status=status)
    return str(status)


def _emit(
    entry: WorkflowEntry,
    out_path: Path,
    detail: dict[str, Any],
    item_id: str,
    thread_id: str,
    values: dict[str, Any],
    status: str,
) -> None:
    """Append the recovered thread's line to its batch's OUT, unless OUT has that line."""
    existing, foreign = read_out(out_path, detail["batch"])
    if foreign or detail["line"] in existing:
        return  # OUT now holds another batch, or has this line already
    record = record_from_state(entry, item_id, thread_id, values, 0.0)
    record.update(status=status, line=detail["line"], batch=detail["batch"])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("a", encoding="utf-8") as handle:
        OutWriter(handle, set(existing)).write(record)


async def recover_all(
    entries: Mapping[str, WorkflowEntry],
    graphs: Mapping[str, CompiledStateGraph],
    store: Store,
    callbacks: list[Any] | None = None,
) -> list[tuple[dict[str, Any], str]]:
    """Finish every thread the runs table records as `running`, oldest first.

    Returns:
        Each run with its status afterwards (`"error: ..."` when recovering it raised).
    """
    done: list[tuple[dict[str, Any], str]] = []
    for run in await asyncio.to_thread(store.list_runs, None, "running"):
        name = run["graph"]
        if name not in graphs:
            done.append((run, f"error: unknown workflow {name!r}"))
            continue
        try:
            status = await recover_run(entries[name], graphs[name], store, run, callbacks)
        except Exception as exc:  # noqa: BLE001 - one run's failure must not stop the others
            log.error("run_recovery_failed", workflow_id=run["thread_id"], error=repr(exc))
            status = f"error: {type(exc).__name__}: {exc}"
        done.append((run, status))
    return done


def runs_table(rows: list[dict[str, Any]], status: str | None) -> Any:
    """The `conductor runs` table: one row per thread, oldest first."""
    from rich.table import Table

    title = f"runs{f' ({status})' if status else ''}: {len(rows)}"
    table = Table(title=title)
    width = max((len(row["thread_id"]) for row in rows), default=9)
    table.add_column("thread_id", no_wrap=True, min_width=width)
    for column in ("workflow", "item", "status", "updated"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["thread_id"], row["graph"], row["item_id"], row["status"], row["updated_at"]
        )
    return table
