"""The `conductor` command line: seed, run batches, review escalations, serve the simulator.

The subcommands live in their own modules (`run_commands`, `review_commands`, `models_check`,
`bench.cli`, `evals.cli`); the parser is `parser.py`; this module dispatches and turns the
failures every command shares into one line and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg

from bench.cli import cmd_bench
from conductor_cli.checkpoints import DEFAULT_CHECKPOINTS
from conductor_cli.common import console, error_line, os_failure, out, store_target
from conductor_cli.models_check import cmd_models
from conductor_cli.parser import DEFAULT_METRICS_FILE, build_parser
from conductor_cli.render import show
from conductor_cli.review_commands import cmd_escalations, cmd_resume
from conductor_cli.run_commands import cmd_recover, cmd_run, cmd_runs
from nodes.resources import store_path_from_env
from store.factory import database_url_from_env, describe_target
from telemetry.logging import configure_logging

__all__ = ["DEFAULT_METRICS_FILE", "build_parser", "main"]


def cmd_seed(args: argparse.Namespace) -> int:
    """Seed the local store."""
    from store.seed import seed_store

    target = store_target(args.db)
    counts = seed_store(target, seed=args.seed)
    out.print(
        f"seeded {describe_target(target)}: " + ", ".join(f"{k}={v}" for k, v in counts.items())
    )
    return 0


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
        error_line(f"no metrics file at {args.file}: run `conductor run` or give --url")
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
                error_line(f"error: cannot open the log file: {os_failure(exc)}")
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
        error_line(f"error: {exc}")
        return 2
    except httpx.HTTPError as exc:
        error_line(f"error: {_http_failure(exc)}")
        return 2
    except (sqlite3.Error, psycopg.Error) as exc:
        error_line(f"error: database failure ({_databases(args)}): {exc}")
        return 2
    except OSError as exc:
        error_line(f"error: {os_failure(exc)}")
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


if __name__ == "__main__":
    sys.exit(main())
