"""A tiny run of the benchmark: every expected row is produced (no timing assertion)."""

from __future__ import annotations

from pathlib import Path

from bench.run import BenchConfig, expected_figures, render, run_bench
from conductor_cli.main import build_parser


async def test_a_tiny_benchmark_produces_every_row(tmp_path: Path) -> None:
    config = BenchConfig.tiny()
    result = await run_bench(config, workdir=tmp_path)
    found = {(row["figure"], row["variant"]) for row in result["rows"]}
    assert expected_figures(config) <= found
    assert "| CPU per ticket | conductor support |" in result["table"]
    assert all(status.endswith("resolved") for status in result["statuses"]), result["statuses"]
    assert "simulated in-process" in render(result)


def test_the_cli_has_a_bench_subcommand() -> None:
    args = build_parser().parse_args(["bench", "--quick", "--json", "out.json"])
    assert args.command == "bench" and args.quick and args.json == Path("out.json")
