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
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from conductor_cli.checkpoints import DEFAULT_CHECKPOINTS, open_checkpointer
from conductor_cli.models_check import add_models_parser, cmd_models
from conductor_cli.workflows import WORKFLOWS, WorkflowEntry, workflow
from nodes.resources import Resources, store_path_from_env
from nodes.resources import gateway_from_environment as build_gateway
from store.db import Store
from telemetry.logging import configure_logging

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="conductor", description=__doc__)
    parser.add_argument(
        "--log-file",
        default=str(DEFAULT_LOG_FILE),
        help=f"JSON-lines log of the command (default {DEFAULT_LOG_FILE}; '-' for stderr)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    seed = sub.add_parser("seed", help="create and fill the local store (idempotent)")
    seed.add_argument("--db", type=Path, default=None)
    seed.add_argument("--seed", type=int, default=7)

    run = sub.add_parser("run", help="run a batch of tickets or documents through a workflow")
    run.add_argument("graph", choices=sorted(WORKFLOWS))
    run.add_argument("input", type=Path, help="JSONL file, one input object per line")
    run.add_argument("--out", type=Path, required=True, help="JSONL file of results")
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

    esc = sub.add_parser("escalations", help="list runs waiting on a reviewer")
    esc.add_argument("--json", action="store_true", help="print the review packets as JSON")
    _add_store_args(esc)

    resume = sub.add_parser("resume", help="resume an escalated run, or every parked run")
    resume.add_argument("thread_id", nargs="?", help="thread to resume")
    resume.add_argument("--decision", choices=["approve", "reject", "edit"])
    resume.add_argument("--amount", type=float, default=None)
    resume.add_argument("--note", default=None)
    resume.add_argument("--parked", action="store_true", help="resume every parked run")
    _add_store_args(resume)

    chaos = sub.add_parser("chaos", help="the fault matrix: orchestrated graph vs naive chain")
    chaos.add_argument("--tickets", type=int, default=None, help="first N example tickets")
    chaos.add_argument("--seed", type=int, default=1)
    chaos.add_argument(
        "--error-model",
        choices=["ideal", "default"],
        default="ideal",
        help="ideal: workers err only through injected faults; default: the simulator's rates",
    )
    chaos.add_argument("--rows", default=None, help="comma-separated row names (default all)")

    evaluate = sub.add_parser("eval", help="score the graph on the example dataset (offline)")
    evaluate.add_argument("--limit", type=int, default=None, help="first N examples")
    evaluate.add_argument("--error-model", choices=["ideal", "default"], default="default")
    evaluate.add_argument("--faults", default=None, help="simulator faults during the run")
    evaluate.add_argument("--seed", type=int, default=1)

    slo = sub.add_parser("slo", help="the four SLO figures of a run or a server")
    slo.add_argument("--url", default=None, help="a server's base URL or /metrics URL")
    slo.add_argument(
        "--file",
        type=Path,
        default=DEFAULT_METRICS_FILE,
        help=f"metrics written by `conductor run` (default {DEFAULT_METRICS_FILE})",
    )
    slo.add_argument("--json", action="store_true")

    add_models_parser(sub)

    sim = sub.add_parser("sim", help="the simulated OpenAI-compatible endpoint")
    sim_sub = sim.add_subparsers(dest="sim_command", required=True)
    serve = sim_sub.add_parser("serve", help="serve the simulator over HTTP")
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


@contextmanager
def _store_for(path: Path | None) -> Iterator[Store]:
    """Open the local store (default `CONDUCTOR_DB` or var/conductor.db)."""
    with Store(_store_path(path)) as store:
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

    target = _store_path(args.db)
    counts = seed_store(target, seed=args.seed)
    out.print(f"seeded {target}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


async def cmd_run(args: argparse.Namespace) -> int:
    """Run a batch; exit 0 when every input line is accounted for in OUT."""
    from conductor_cli.batch import run_batch, summary_table
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
    gateway = build_gateway()  # the workers' gateway; a bad model profile fails here
    if faults is not None and gateway.settings.cache_enabled:
        # A fault-injection run reaches the simulator on every call and leaves no answers
        # behind: the same gateway without the response cache, for this run only.
        gateway = gateway.with_settings(gateway.settings.with_overrides(cache_enabled=False))
    try:
        # Fail on an unwritable OUT now, not after every ticket has run.
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a", encoding="utf-8"):
                pass
        except OSError as exc:
            _error(f"error: cannot write the output file: {_os_failure(exc)}")
            return 2
        if faults is not None:
            get_default_simulator().set_faults(faults)
        if args.metrics_port is not None:
            server, _ = start_metrics_server(args.metrics_port)
            console.print(f"metrics on http://127.0.0.1:{server.server_port}/metrics")
        entry = workflow(args.graph)
        with _store_for(args.db) as store:
            async with open_checkpointer(args.checkpoints) as saver:
                graph = _compile(entry, saver, Resources(gateway=gateway, store=store))
                result = await run_batch(
                    entry,
                    graph,
                    store,
                    args.input,
                    args.out,
                    concurrency=args.concurrency,
                    profile=gateway.settings.profile_name,
                    console=console,
                )
            title = f"{entry.name} batch: {args.input}"
            out.print(summary_table(entry, result, store, title=title))
    finally:
        await gateway.aclose()
    out.print(f"wrote {len(result.records)} results to {args.out}")
    args.metrics_file.parent.mkdir(parents=True, exist_ok=True)
    args.metrics_file.write_bytes(render_latest())
    return 0 if len(result.records) == result.lines else 1


async def cmd_escalations(args: argparse.Namespace) -> int:
    """List runs waiting on a reviewer."""
    from conductor_cli.reviews import list_waiting

    with _store_for(args.db) as store:
        async with open_checkpointer(args.checkpoints) as saver:
            waiting = await list_waiting(_graphs(saver, Resources(store=store)), store, "review")
    if args.json:
        out.print_json(json.dumps(waiting, default=str))
        return 0
    table = Table(title=f"pending reviews: {len(waiting)}")
    width = max((len(row["thread_id"]) for row in waiting), default=9)
    table.add_column("thread_id", no_wrap=True, min_width=width)  # copied into `resume`
    for column in ("workflow", "input", "reason", "proposed", "error"):
        table.add_column(column)
    for row in waiting:
        packet = row["packet"]
        refund = packet.get("proposed_refund")
        table.add_row(
            row["thread_id"],
            row["graph"],
            row["item_id"],
            str(packet.get("reason")),
            f"{refund['amount']:.2f} {refund['currency']} on {refund['order_id']}"
            if refund
            else str(packet.get("proposed") or "-"),
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
    if not args.parked and args.decision is None:
        _error("--decision is required to resume an escalation")
        return 2
    payload: dict[str, Any] = {"decision": args.decision}
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
                    return await _resume_parked(graphs, store)
                try:
                    state = await resume_thread(
                        graphs, store, args.thread_id, payload, kind="review"
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
                for k in ("ticket_id", "status", "refund", "reply", "escalation_reason")
            },
            default=str,
        )
    )
    return 0


async def _resume_parked(graphs: dict[str, Any], store: Store) -> int:
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
            state = await resume_thread(graphs, store, thread_id, {"retry": True}, kind="parked")
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
    out.print(matrix_table(results, config, tickets))
    return 0


async def cmd_eval(args: argparse.Namespace) -> int:
    """Run the evaluation experiment and print the mean score of each evaluator."""
    from evals.experiment import report_table, run_experiment

    report = await run_experiment(
        limit=args.limit, error_model=args.error_model, faults=args.faults, seed=args.seed
    )
    out.print(report_table(report))
    return 0


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
    if args.json:
        out.print_json(json.dumps(report.as_dict(), default=str))
    else:
        out.print(slo_table(report))
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    """Serve the simulator standalone (for load tests and real-endpoint rehearsals)."""
    from simulator.server import serve

    serve(host=args.host, port=args.port, faults=args.faults)
    return 0


ASYNC_COMMANDS = {
    "run": cmd_run,
    "escalations": cmd_escalations,
    "resume": cmd_resume,
    "chaos": cmd_chaos,
    "eval": cmd_eval,
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
    try:
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
    except sqlite3.Error as exc:
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
    names = [f"store {getattr(args, 'db', None) or store_path_from_env()}"]
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
