"""The `conductor` command line: seed, run batches, review escalations, serve the simulator."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from bench.cli import add_bench_parser, cmd_bench
from conductor_cli.checkpoints import DEFAULT_CHECKPOINTS, open_checkpointer
from conductor_cli.models_check import add_models_parser, cmd_models
from conductor_cli.render import FORMATS, show
from conductor_cli.workflows import WORKFLOWS, WorkflowEntry, workflow
from nodes.resources import Resources, store_path_from_env
from nodes.resources import gateway_from_environment as build_gateway
from store.db import Store
from store.factory import database_url_from_env, describe_target, open_store
from telemetry.logging import configure_logging

if TYPE_CHECKING:
    from gateway.gateway import ModelGateway

DEFAULT_METRICS_FILE = Path("var/last-run.prom")
DEFAULT_LOG_FILE = Path("var/logs/conductor.jsonl")

console = Console(stderr=True)
out = Console()


def _error(message: str, style: str = "red") -> None:
    """Print one line on stderr, as is (no markup, no wrapping)."""
    console.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


def _add_store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=Path, default=None, help="local store (default var/conductor.db)"
    )
    parser.add_argument(
        "--checkpoints",
        type=Path,
        default=None,
        help=f"SQLite checkpoints (default {DEFAULT_CHECKPOINTS}; DATABASE_URL selects Postgres)",
    )


def _add_format_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help="table (fits the terminal; plain ASCII when piped), markdown, or json",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="conductor", description=__doc__)
    parser.add_argument(
        "--log-file",
        default=str(DEFAULT_LOG_FILE),
        help=f"JSON-lines log of the command (default {DEFAULT_LOG_FILE}; '-' for stderr)",
    )
    # Accepted after the subcommand too (`conductor run ... --log-file F`); SUPPRESS keeps
    # the value given before it when the subcommand does not repeat it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log-file", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    seed = add("seed", help="create and fill the local store (idempotent)")
    seed.add_argument("--db", type=Path, default=None)
    seed.add_argument("--seed", type=int, default=7)

    run = add(
        "run",
        help="run a batch of tickets or documents through a workflow (resumable)",
        description="Run a batch. Each result line is appended to OUT (and fsynced) when its "
        "item finishes, so OUT follows completion order; each line names its input `line`. "
        "Running the same batch again resumes it: finished items are re-emitted from their "
        "checkpoints without a model call, interrupted ones continue, new ones start, and a "
        "line already in OUT is not written twice. Exit 0 when every input line is accounted "
        "for in OUT.",
    )
    run.add_argument("graph", choices=sorted(WORKFLOWS))
    run.add_argument("input", type=Path, help="JSONL file, one input object per line")
    run.add_argument(
        "--out", type=Path, required=True, help="JSONL file of results (completion order)"
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="first print what the run will do (finished to re-emit, interrupted, new)",
    )
    run.add_argument(
        "--batch", default=None, help="batch id (default: from the input's path and content)"
    )
    run.add_argument(
        "--create", action="store_true", help="accept a store that does not exist or is empty"
    )
    run.add_argument("--concurrency", type=int, default=4)
    run.add_argument("--faults", default=None, help="simulator faults, e.g. error_rate=0.2,seed=1")
    run.add_argument(
        "--metrics-port", type=int, default=None, help="serve Prometheus metrics while running"
    )
    run.add_argument(
        "--metrics-file",
        type=Path,
        default=DEFAULT_METRICS_FILE,
        help=f"where the run's metrics are written at the end (default {DEFAULT_METRICS_FILE})",
    )
    _add_store_args(run)
    _add_format_arg(run)

    runs = add("runs", help="list CLI runs (threads) by state")
    runs.add_argument("--status", default=None, help="only runs with this status, e.g. running")
    runs.add_argument("--json", action="store_true")
    _add_store_args(runs)

    recover = add(
        "recover",
        help="finish every CLI run a crash left `running`; with --server, re-register with a "
        "restarted dev server the threads it forgot",
    )
    _add_store_args(recover)
    recover.add_argument(
        "--server",
        default=None,
        help="a LangGraph server's base URL; --checkpoints then names its SQLite checkpointer "
        "(default: DATABASE_URL's Postgres, else CONDUCTOR_SERVER_CHECKPOINTS, "
        "else var/server-checkpoints.db)",
    )
    recover.add_argument(
        "--api-key", default=None, help="key for a server with auth (default CONDUCTOR_API_KEY)"
    )

    esc = add("escalations", help="list runs waiting on a reviewer")
    esc.add_argument("--json", action="store_true", help="print the review packets as JSON")
    esc.add_argument(
        "--overdue",
        nargs="?",
        type=float,
        const=24.0,
        default=None,
        metavar="HOURS",
        help="only reviews pending longer than HOURS (default 24)",
    )
    _add_store_args(esc)

    resume = add("resume", help="resume an escalated run, or every parked run")
    resume.add_argument("thread_id", nargs="?", help="thread to resume")
    resume.add_argument(
        "--decision",
        choices=["approve", "reject", "edit", "correct"],
        help="support: approve, reject or edit (with --amount); documents: approve or reject",
    )
    resume.add_argument("--amount", type=float, default=None)
    resume.add_argument("--note", default=None)
    resume.add_argument(
        "--payload",
        default=None,
        help="the whole answer as JSON, e.g. a documents correction: "
        '\'{"decision": "correct", "doc_type": "invoice"}\'',
    )
    resume.add_argument("--parked", action="store_true", help="resume every parked run")
    _add_store_args(resume)

    chaos = add("chaos", help="the fault matrix: orchestrated graph vs naive chain")
    chaos.add_argument("--tickets", type=int, default=None, help="first N example tickets")
    chaos.add_argument("--seed", type=int, default=1)
    chaos.add_argument(
        "--error-model",
        choices=["ideal", "default"],
        default="ideal",
        help="ideal: workers err only through injected faults; default: the simulator's rates",
    )
    chaos.add_argument("--rows", default=None, help="comma-separated row names (default all)")
    _add_format_arg(chaos)

    evaluate = add("eval", help="score a workflow on a labelled dataset with LangSmith evaluators")
    evaluate.add_argument(
        "dataset",
        nargs="?",
        default="support",
        choices=["support", "documents", "adversarial", "examples"],
        help="the dataset (documents: documents.jsonl through the documents graph)",
    )
    evaluate.add_argument(
        "--experiment",
        default="single",
        choices=["single", "naive-vs-graph", "tiers", "gates", "local", "all"],
        help="single: one variant at --error-seed; the others run side by side over --seeds",
    )
    evaluate.add_argument("--variant", default="graph", help="variant of a single run")
    evaluate.add_argument(
        "--profile",
        default="sim",
        help="model profile (default sim, the simulated endpoint; local: the real model)",
    )
    evaluate.add_argument("--error-seed", type=int, default=1, help="seed of the error model")
    evaluate.add_argument(
        "--seeds", default="1,2,3", help="error seeds of a side-by-side experiment"
    )
    evaluate.add_argument("--error-model", choices=["ideal", "default"], default="default")
    evaluate.add_argument(
        "--error-kinds", default=None, help="only these error kinds (comma-separated)"
    )
    evaluate.add_argument("--error-rate", type=float, default=None, help="rate of those kinds")
    evaluate.add_argument("--faults", default="", help="simulator faults during the run")
    evaluate.add_argument("--limit", type=int, default=None, help="first N examples")
    evaluate.add_argument("--concurrency", type=int, default=8, help="tickets in flight")
    evaluate.add_argument(
        "--upload", action="store_true", help="create/update the dataset and record on LangSmith"
    )
    evaluate.add_argument("--out", type=Path, default=Path("var/reports"), help="report folder")
    _add_format_arg(evaluate)

    slo = add("slo", help="the four SLO figures of a run or a server")
    slo.add_argument("--url", default=None, help="a server's base URL or /metrics URL")
    slo.add_argument(
        "--file",
        type=Path,
        default=DEFAULT_METRICS_FILE,
        help=f"metrics written by `conductor run` (default {DEFAULT_METRICS_FILE})",
    )
    slo.add_argument("--json", action="store_true", help="the report as JSON (--format json)")
    _add_format_arg(slo)

    add_bench_parser(sub)
    add_models_parser(sub)

    sim = add("sim", help="the simulated OpenAI-compatible endpoint")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_sub.add_parser("serve", parents=[common], help="serve the simulator over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--faults", default=None)
    return parser


def _store_path(path: Path | None) -> Path:
    """The local store's file (default `CONDUCTOR_DB` or var/conductor.db), its folder made.

    Raises:
        IsADirectoryError: When the path is a directory.
    """
    target = path or store_path_from_env()
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "the store path is a directory", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _store_target(path: Path | None) -> str | Path:
    """`DATABASE_URL` when set and no `--db` is given, else the local store's file."""
    url = database_url_from_env()
    return url if url and path is None else _store_path(path)


@contextmanager
def _store_for(path: Path | None) -> Iterator[Store]:
    """Open the store (`DATABASE_URL`, else `CONDUCTOR_DB` or var/conductor.db)."""
    with open_store(_store_target(path)) as store:
        yield store


def _compile(entry: WorkflowEntry, checkpointer: Any, resources: Resources) -> Any:
    """The workflow's graph bound to this command's resources, with its checkpointer."""
    return entry.make_builder(resources).compile(checkpointer=checkpointer, name=entry.name)


def _graphs(checkpointer: Any, resources: Resources) -> dict[str, Any]:
    """Every workflow's graph, by name (escalations and resumes span workflows)."""
    return {name: _compile(workflow(name), checkpointer, resources) for name in WORKFLOWS}


def cmd_seed(args: argparse.Namespace) -> int:
    """Seed the local store."""
    from store.seed import seed_store

    target = _store_target(args.db)
    counts = seed_store(target, seed=args.seed)
    out.print(
        f"seeded {describe_target(target)}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    )
    return 0


async def cmd_run(args: argparse.Namespace) -> int:
    """Run a batch; exit 0 when every input line is accounted for in OUT."""
    from conductor_cli.batch import plan_batch, run_batch, summary_table
    from conductor_cli.durable import valid_batch_id
    from conductor_cli.recovery import store_problem
    from simulator.engine import get_default_simulator
    from simulator.faults import FaultSpec
    from telemetry.metrics import render_latest, start_metrics_server

    if args.input.is_dir():
        _error(f"input is a directory: {args.input}")
        return 2
    if not args.input.is_file():
        _error(f"input file not found: {args.input}")
        return 2
    if args.out.is_dir():
        _error(f"output is a directory: {args.out}")
        return 2
    faults = FaultSpec.parse(args.faults) if args.faults is not None else None
    batch_id = valid_batch_id(args.batch) if args.batch is not None else None
    entry = workflow(args.graph)
    gateway = build_gateway()  # the workers' gateway; a bad model profile fails here
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
            _error(f"error: cannot write the output file: {_os_failure(exc)}")
            return 2
        problem = store_problem(_store_target(args.db), entry, create=args.create)
        if problem:
            _error(problem)
            return 2
        if faults is not None:
            get_default_simulator().set_faults(faults)
        if args.metrics_port is not None:
            server, _ = start_metrics_server(args.metrics_port)
            console.print(f"metrics on http://127.0.0.1:{server.server_port}/metrics")
        with _store_for(args.db) as store:
            async with open_checkpointer(args.checkpoints) as saver:
                graph = _compile(entry, saver, Resources(gateway=gateway, store=store))
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
        _error(f"{args.out} held another batch's results: started afresh", style="yellow")
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

    with _store_for(args.db) as store:
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

    gateway = build_gateway()
    try:
        with _store_for(args.db) as store:
            async with open_checkpointer(args.checkpoints) as saver:
                graphs = _graphs(saver, Resources(gateway=gateway, store=store))
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
        _error(f"warning: {warning}", style="yellow")
    problems = gateway.check_config() + report.problems
    if not problems:
        return True
    more = f" (and {len(problems) - 1} more problem(s), in the log)" if len(problems) > 1 else ""
    profile = gateway.settings.profile_name
    _error(f"error: model profile {profile!r} cannot serve: {problems[0]}{more}")
    return False


async def cmd_escalations(args: argparse.Namespace) -> int:
    """List runs waiting on a reviewer."""
    from conductor_cli.reviews import list_waiting, overdue

    with _store_for(args.db) as store:
        async with open_checkpointer(args.checkpoints) as saver:
            waiting = await list_waiting(_graphs(saver, Resources(store=store)), store, "review")
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
        _error("give either THREAD_ID with --decision, or --parked")
        return 2
    if not args.parked and (args.decision is None) == (args.payload is None):
        _error("give either --decision or --payload to resume an escalation")
        return 2
    if args.payload is not None:
        try:
            payload: dict[str, Any] = json.loads(args.payload)
        except json.JSONDecodeError as exc:
            _error(f"--payload is not JSON: {exc.msg} at column {exc.colno}")
            return 2
        if not isinstance(payload, dict):
            _error(f"--payload must be a JSON object, got {type(payload).__name__}")
            return 2
    else:
        payload = {"decision": args.decision}
    if args.amount is not None:
        payload["amount"] = args.amount
    if args.note:
        payload["note"] = args.note
    gateway = build_gateway()  # the workers' gateway; a bad model profile fails here
    try:
        with _store_for(args.db) as store:
            async with open_checkpointer(args.checkpoints) as saver:
                graphs = _graphs(saver, Resources(gateway=gateway, store=store))
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
                    _error(str(exc))
                    return 1
    finally:
        await gateway.aclose()
    values = state["values"]
    for pending in state["interrupts"]:
        if pending["value"].get("error"):
            _error(f"resume refused: {pending['value']['error']}")
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
            _error(f"{thread_id}: skipped: {exc}", style="yellow")
            continue
        except Exception as exc:  # noqa: BLE001 - one run's crash must not stop the others
            crashed += 1
            outcomes["failed"] += 1
            _error(f"{thread_id}: resume failed: {type(exc).__name__}: {exc}")
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


async def cmd_chaos(args: argparse.Namespace) -> int:
    """Run the chaos matrix and print it."""
    from evals.chaos import ROWS, ChaosConfig, matrix_table, run_matrix

    rows = ROWS
    if args.rows:
        wanted = [name.strip() for name in args.rows.split(",")]
        known = {row.name: row for row in ROWS}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise ValueError(f"unknown chaos rows {unknown}; known: {sorted(known)}")
        rows = tuple(known[name] for name in wanted)
    config = ChaosConfig(seed=args.seed, error_model=args.error_model)
    results = await run_matrix(
        rows,
        tickets=args.tickets,
        config=config,
        on_row=lambda r: console.print(f"row done: {r.row.name}"),
    )
    tickets = results[0].graph.tickets if results else 0
    show(out, matrix_table(results, config, tickets), args.format)
    return 0


async def cmd_eval(args: argparse.Namespace) -> int:
    """Run an evaluation (or side-by-side experiments) and write its report."""
    from evals.cli import run_eval_command

    return await run_eval_command(args, out, console)


def cmd_slo(args: argparse.Namespace) -> int:
    """Print the SLO figures from a server's /metrics or a run's metrics file."""
    from telemetry.slo import fetch_slo, slo_from_text, slo_table

    if args.url:
        report = fetch_slo(args.url)
    elif args.file.is_file():
        report = slo_from_text(args.file.read_text(encoding="utf-8"), source=str(args.file))
    else:
        _error(f"no metrics file at {args.file}: run `conductor run` or give --url")
        return 2
    if args.json or args.format == "json":
        out.print_json(json.dumps(report.as_dict(), default=str))
    else:
        show(out, slo_table(report), args.format)
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    """Serve the simulator standalone (for load tests and real-endpoint rehearsals)."""
    from simulator.server import serve

    def announce(url: str) -> None:
        out.print(
            f"simulator serving on {url} (OpenAI-compatible base URL {url}/v1)",
            soft_wrap=True,
            highlight=False,
        )
        sys.stdout.flush()

    serve(host=args.host, port=args.port, faults=args.faults, on_ready=announce)
    return 0


ASYNC_COMMANDS = {
    "run": cmd_run,
    "runs": cmd_runs,
    "recover": cmd_recover,
    "escalations": cmd_escalations,
    "resume": cmd_resume,
    "chaos": cmd_chaos,
    "eval": cmd_eval,
    "bench": cmd_bench,
    "models": lambda args: cmd_models(args, out=out, console=console),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `conductor` console script."""
    args = build_parser().parse_args(argv)
    with ExitStack() as stack:
        if args.log_file == "-":
            configure_logging()
        else:
            log_path = Path(args.log_file)
            try:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                stream = stack.enter_context(log_path.open("a", encoding="utf-8", buffering=1))
            except OSError as exc:
                _error(f"error: cannot open the log file: {_os_failure(exc)}")
                return 2
            configure_logging(stream=stream)
            stack.callback(configure_logging, stream=sys.stderr)
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    from conductor_cli.crashpoints import crash_callbacks_from_env

    try:
        args.callbacks = crash_callbacks_from_env()  # test-only crash points, read once here
        if args.command in ASYNC_COMMANDS:
            return int(asyncio.run(ASYNC_COMMANDS[args.command](args)))
        if args.command == "seed":
            return cmd_seed(args)
        if args.command == "sim":
            return cmd_sim(args)
        if args.command == "slo":
            return cmd_slo(args)
    except ValueError as exc:
        _error(f"error: {exc}")
        return 2
    except httpx.HTTPError as exc:
        _error(f"error: {_http_failure(exc)}")
        return 2
    except (sqlite3.Error, psycopg.Error) as exc:
        _error(f"error: database failure ({_databases(args)}): {exc}")
        return 2
    except OSError as exc:
        _error(f"error: {_os_failure(exc)}")
        return 2
    raise AssertionError(f"unhandled command {args.command}")


def _http_failure(exc: httpx.HTTPError) -> str:
    """What an HTTP failure was, naming the URL when the exception knows it."""
    try:
        where = f" {exc.request.method} {exc.request.url}"
    except RuntimeError:  # no request attached
        where = ""
    detail = str(exc) or type(exc).__name__
    return f"request failed{where}: {detail}"


def _databases(args: argparse.Namespace) -> str:
    """The database files a command uses, for an error message."""
    url = database_url_from_env()
    db = getattr(args, "db", None)
    names = [f"store {describe_target(url) if url and db is None else db or store_path_from_env()}"]
    if hasattr(args, "checkpoints"):
        names.append(f"checkpoints {args.checkpoints or DEFAULT_CHECKPOINTS}")
    return ", ".join(names)


def _os_failure(exc: OSError) -> str:
    """An OSError in one line: what went wrong, and on which file."""
    what = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename is not None:
        where = str(exc.filename)
        if exc.filename2 is not None:
            where += f" -> {exc.filename2}"
        return f"{what}: {where}"
    return what


if __name__ == "__main__":
    sys.exit(main())
