"""`conductor escalations` and `resume`: the reviewer's queue, and answers to it."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from rich.table import Table

from conductor_cli import common
from conductor_cli.checkpoints import open_checkpointer
from conductor_cli.common import all_graphs, error_line, out, store_for
from nodes.resources import Resources
from store.db import Store


async def cmd_escalations(args: argparse.Namespace) -> int:
    """List runs waiting on a reviewer."""
    from conductor_cli.reviews import list_waiting, overdue

    with store_for(args.db) as store:
        async with open_checkpointer(args.checkpoints) as saver:
            waiting = await list_waiting(all_graphs(saver, Resources(store=store)), store, "review")
    if args.overdue is not None:
        waiting = overdue(waiting, hours=args.overdue)
    if args.json:
        out.print_json(json.dumps(waiting, default=str))
        return 0
    late = f" overdue (> {args.overdue:g} h)" if args.overdue is not None else ""
    table = Table(title=f"pending reviews{late}: {len(waiting)}")
    width = max((len(row["thread_id"]) for row in waiting), default=9)
    table.add_column("thread_id", no_wrap=True, min_width=width)  # copied into `resume`
    for column in ("workflow", "input", "reason", "proposed", "waiting since", "error"):
        table.add_column(column)
    for row in waiting:
        packet = row["packet"]
        table.add_row(
            row["thread_id"],
            row["graph"],
            row["item_id"],
            str(packet.get("reason")),
            str(packet.get("summary") or "-"),
            str(row.get("updated_at") or "")[:19],
            packet.get("error") or "",
        )
    out.print(table)
    return 0


async def cmd_resume(args: argparse.Namespace) -> int:
    """Resume one escalated thread with a decision, or every parked thread."""
    from conductor_cli.reviews import resume_thread

    if args.parked == bool(args.thread_id):
        error_line("give either THREAD_ID with --decision, or --parked")
        return 2
    if not args.parked and (args.decision is None) == (args.payload is None):
        error_line("give either --decision or --payload to resume an escalation")
        return 2
    if args.payload is not None:
        try:
            payload: dict[str, Any] = json.loads(args.payload)
        except json.JSONDecodeError as exc:
            error_line(f"--payload is not JSON: {exc.msg} at column {exc.colno}")
            return 2
        if not isinstance(payload, dict):
            error_line(f"--payload must be a JSON object, got {type(payload).__name__}")
            return 2
    else:
        payload = {"decision": args.decision}
    if args.amount is not None:
        payload["amount"] = args.amount
    if args.note:
        payload["note"] = args.note
    gateway = common.build_gateway()  # the workers' gateway; a bad model profile fails here
    try:
        with store_for(args.db) as store:
            async with open_checkpointer(args.checkpoints) as saver:
                graphs = all_graphs(saver, Resources(gateway=gateway, store=store))
                if args.parked:
                    return await _resume_parked(graphs, store, args.callbacks)
                try:
                    state = await resume_thread(
                        graphs,
                        store,
                        args.thread_id,
                        payload,
                        kind="review",
                        callbacks=args.callbacks,
                    )
                except LookupError as exc:
                    error_line(str(exc))
                    return 1
    finally:
        await gateway.aclose()
    values = state["values"]
    for pending in state["interrupts"]:
        if pending["value"].get("error"):
            error_line(f"resume refused: {pending['value']['error']}")
            return 1
    out.print_json(
        json.dumps(
            {
                k: values.get(k)
                for k in (
                    "ticket_id",
                    "document_id",
                    "status",
                    "refund",
                    "reply",
                    "doc_type",
                    "review_outcome",
                    "stored",
                    "escalation_reason",
                )
                if k in values
            },
            default=str,
        )
    )
    return 0


async def _resume_parked(
    graphs: dict[str, Any], store: Store, callbacks: list[Any] | None = None
) -> int:
    """Resume every parked run once, and report what became of each.

    The circuit breakers that parked these runs lived in the memory of the process that ran
    them; this process starts with fresh ones and cannot know whether the providers are back
    without calling them. So every parked run is tried: one whose providers are still down
    parks again (its state intact), and the report says so rather than claiming the runs
    were left waiting untried.

    Returns:
        0, or 1 when resuming a run raised (the other runs are still tried).
    """
    from conductor_cli.reviews import list_waiting, resume_thread

    outcomes: Counter[str] = Counter()
    crashed = 0
    for row in await list_waiting(graphs, store, "parked"):
        thread_id = row["thread_id"]
        try:
            state = await resume_thread(
                graphs, store, thread_id, {"retry": True}, kind="parked", callbacks=callbacks
            )
        except LookupError as exc:  # resumed meanwhile by someone else: not ours to count
            error_line(f"{thread_id}: skipped: {exc}", style="yellow")
            continue
        except Exception as exc:  # noqa: BLE001 - one run's crash must not stop the others
            crashed += 1
            outcomes["failed"] += 1
            error_line(f"{thread_id}: resume failed: {type(exc).__name__}: {exc}")
            continue
        status = state["values"].get("status") or "failed"
        outcomes[status] += 1
        out.print(f"{thread_id} ({row['item_id']}): {status}")
    finished = outcomes["resolved"] + outcomes["rejected"] + outcomes["denied"]
    line = (
        f"resumed {sum(outcomes.values())} parked run(s): {finished} finished, "
        f"{outcomes['escalated']} escalated, "
        f"{outcomes['parked']} parked again (providers still down)"
    )
    other = sum(outcomes.values()) - finished - outcomes["escalated"] - outcomes["parked"]
    if other:
        line += f", {other} failed"
    out.print(line, soft_wrap=True)
    return 1 if crashed else 0
