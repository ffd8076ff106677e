"""The `conductor bench` subcommand: arguments, the run, the table and the JSON file."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_JSON = Path("var/bench.json")


def add_bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `bench [--quick] [--json PATH]` to the CLI's subcommands."""
    bench = sub.add_parser(
        "bench", help="Conductor beside raw asyncio and plain LangGraph (simulated endpoint)"
    )
    bench.add_argument("--quick", action="store_true", help="smaller sizes (under a minute)")
    bench.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"JSON result (default {DEFAULT_JSON})"
    )


async def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table, write the JSON."""
    from bench.run import BenchConfig, render, run_bench, write_json

    config = BenchConfig.quick() if args.quick else BenchConfig.full()
    result = await run_bench(config)
    print(render(result))
    write_json(result, args.json)
    print(f"JSON written to {args.json}")
    return 0
