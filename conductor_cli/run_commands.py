"""`conductor run`, `runs` and `recover`: batches through a workflow, and their recovery."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from conductor_cli import common
from conductor_cli.checkpoints import open_checkpointer
from conductor_cli.common import (
    all_graphs,
    compile_graph,
    console,
    error_line,
    os_failure,
    out,
    store_for,
    store_target,
)
from conductor_cli.render import show
from conductor_cli.workflows import workflow
from nodes.resources import Resources

if TYPE_CHECKING:
    from gateway.gateway import ModelGateway


async def cmd_run(args: argparse.Namespace) -> int:
    """Run a batch; exit 0 when every input line is accounted for in OUT."""
    from conductor_cli.batch import plan_batch, run_batch, summary_table
    from conductor_cli.durable import valid_batch_id
    from conductor_cli.recovery import store_problem
    from simulator.engine import get_default_simulator
    from simulator.faults import FaultSpec
    from telemetry.metrics import render_latest, start_metrics_server

    if args.input.is_dir():
        error_line(f"input is a directory: {args.input}")
        return 2
    if not args.input.is_file():
        error_line(f"input file not found: {args.input}")
        return 2
    if args.out.is_dir():
        error_line(f"output is a directory: {args.out}")
        return 2
    faults = FaultSpec.parse(args.faults) if args.faults is not None else None
    batch_id = valid_batch_id(args.batch) if args.batch is not None else None
    entry = workflow(args.graph)
    gateway = common.build_gateway()  # the workers' gateway; a bad model profile fails here
    if faults is not None and gateway.settings.cache_enabled:
        # A fault-injection run reaches the simulator on every call and leaves no answers
        # behind: the same gateway without the response cache, for this run only.
        gateway = gateway.with_settings(gateway.settings.with_overrides(cache_enabled=False))
    try:
        if not await _gateway_usable(gateway):
            return 2
        # Fail on an unwritable OUT now, not after every ticket has run.
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            error_line(f"error: cannot write the output file: {os_failure(exc)}")
            return 2
        problem = store_problem(store_target(args.db), entry, create=args.create)
        if problem:
            error_line(problem)
            return 2
        if faults is not None:
            get_default_simulator().set_faults(faults)
        if args.metrics_port is not None:
            server, _ = start_metrics_server(args.metrics_port)
            console.print(f"metrics on http://127.0.0.1:{server.server_port}/metrics")
        with store_for(args.db) as store:
            async with open_checkpointer(args.checkpoints) as saver:
                graph = compile_graph(entry, saver, Resources(gateway=gateway, store=store))
                plan = await plan_batch(entry, graph, args.input, args.out, batch_id=batch_id)
                if args.resume:
                    out.print(plan.describe(), soft_wrap=True)
                result = await run_batch(
                    entry,
                    graph,
                    store,
                    args.input,
                    args.out,
                    concurrency=args.concurrency,
                    profile=gateway.settings.profile_name,
                    console=console,
                    callbacks=args.callbacks,
                    plan=plan,
                )
            title = f"{entry.name} batch: {args.input}"
            show(out, summary_table(entry, result, store, title=title), args.format)
    finally:
        await gateway.aclose()
    if result.restarted_out:
        error_line(f"{args.out} held another batch's results: started afresh", style="yellow")
    # On stderr when stdout carries a machine-readable table.
    (out if args.format == "table" else console).print(
        f"wrote {result.written} results to {args.out}; "
        f"{len(result.records)} of {result.lines} input lines accounted for "
        f"(batch {result.batch_id})",
        soft_wrap=True,
    )
    args.metrics_file.parent.mkdir(parents=True, exist_ok=True)
    args.metrics_file.write_bytes(render_latest())
    return 0 if result.complete else 1


async def cmd_runs(args: argparse.Namespace) -> int:
    """List CLI runs by state."""
    from conductor_cli.recovery import runs_table

    with store_for(args.db) as store:
        rows = store.list_runs(None, args.status)
    if args.json:
        out.print_json(json.dumps(rows, default=str))
    else:
        out.print(runs_table(rows, args.status))
    return 0


async def cmd_recover(args: argparse.Namespace) -> int:
    """Finish every run a crash left `running`; 1 when one of them could not be finished."""
    from conductor_cli.recovery import recover_all

    if args.server is not None:
        from conductor_cli.server_recover import recover_server

        return await recover_server(args)

    gateway = common.build_gateway()
    try:
        with store_for(args.db) as store:
            async with open_checkpointer(args.checkpoints) as saver:
                graphs = all_graphs(saver, Resources(gateway=gateway, store=store))
                entries = {name: workflow(name) for name in graphs}
                done = await recover_all(entries, graphs, store, args.callbacks)
    finally:
        await gateway.aclose()
    for run, status in done:
        out.print(f"{run['thread_id']} ({run['item_id']}): {status}", soft_wrap=True)
    out.print(f"recovered {len(done)} run(s) left running")
    return 1 if any(status.startswith("error") for _, status in done) else 0


async def _gateway_usable(gateway: ModelGateway) -> bool:
    """Check the model endpoints before any input runs: a configuration mistake is one line.

    Missing credentials (no network), then a 2 s `GET /models` per endpoint not served
    in-process. Without this, every input would park as "provider unavailable".
    """
    report = await gateway.probe()
    for warning in report.warnings:
        error_line(f"warning: {warning}", style="yellow")
    problems = gateway.check_config() + report.problems
    if not problems:
        return True
    more = f" (and {len(problems) - 1} more problem(s), in the log)" if len(problems) > 1 else ""
    profile = gateway.settings.profile_name
    error_line(f"error: model profile {profile!r} cannot serve: {problems[0]}{more}")
    return False
