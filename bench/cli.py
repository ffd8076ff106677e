"""The `conductor bench` subcommand: arguments, the run, the table and the JSON file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_JSON = Path("var/bench.json")


def add_bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench [--quick] [--json PATH] [--overload N | --overload-server N]`."""
    bench = sub.add_parser(
        "bench", help="Conductor beside raw asyncio and plain LangGraph (simulated endpoint)"
    )
    bench.add_argument("--quick", action="store_true", help="smaller sizes (under a minute)")
    bench.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"JSON result (default {DEFAULT_JSON})"
    )
    only = bench.add_mutually_exclusive_group()
    only.add_argument(
        "--overload",
        type=int,
        metavar="N",
        help="only the overload section: N tickets at once through the CLI batch runner",
    )
    only.add_argument(
        "--overload-server",
        type=int,
        metavar="N",
        help="only N runs at once through langgraph-sdk on a `langgraph dev` it starts",
    )
    bench.add_argument(
        "--server-jobs",
        type=int,
        metavar="J",
        help="the dev server's --n-jobs-per-worker with --overload-server (default: N)",
    )


async def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark (or one overload section), print the figures, write the JSON."""
    if args.overload or args.overload_server:
        return await _overload_only(args)
    from bench.run import BenchConfig, render, run_bench, write_json

    config = BenchConfig.quick() if args.quick else BenchConfig.full()
    result = await run_bench(config)
    print(render(result))
    write_json(result, args.json)
    print(f"JSON written to {args.json}")
    return 0


async def _overload_only(args: argparse.Namespace) -> int:
    """`--overload N` or `--overload-server N`: that section alone; 1 when our queueing failed one.

    Figures measured on the simulated endpoint (the CLI path: 50 ms a call, ideal error model).
    """
    import tempfile

    if args.overload_server:
        from bench.overload_server import run_server_overload

        result = await run_server_overload(args.overload_server, args.server_jobs)
    else:
        from bench.overload import run_cli_overload

        with tempfile.TemporaryDirectory(prefix="conductor-overload-") as tmp:
            result = await run_cli_overload(args.overload, Path(tmp))
    print(result.summary())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"overload": result.to_json()}, indent=2), encoding="utf-8")
    print(f"JSON written to {args.json}")
    if args.overload_server:  # its simulator's default error model escalates some on merit
        return 0 if result.queue_caused() == 0 else 1
    return 0 if result.statuses.get("resolved", 0) == result.submitted else 1
