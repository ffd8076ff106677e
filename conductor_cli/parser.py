"""The `conductor` command line's argument parser: every subcommand and its options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.cli import add_bench_parser
from conductor_cli.checkpoints import DEFAULT_CHECKPOINTS
from conductor_cli.models_check import add_models_parser
from conductor_cli.render import FORMATS
from conductor_cli.workflows import WORKFLOWS

DEFAULT_METRICS_FILE = Path("var/last-run.prom")
DEFAULT_LOG_FILE = Path("var/logs/conductor.jsonl")
DESCRIPTION = (
    "The `conductor` command line: seed, run batches, review escalations, serve the simulator."
)


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
    parser = argparse.ArgumentParser(prog="conductor", description=DESCRIPTION)
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
