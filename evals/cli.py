"""`conductor eval`: a progress bar while it runs, a table at the end, JSON and a report on disk."""

from __future__ import annotations

import argparse
from typing import Any

from conductor_cli.render import show
from evals.experiment import VARIANTS, EvalSettings, RunResult, dataset_rows
from evals.experiments import (
    DEFAULT_SEEDS,
    cells_table,
    run_experiments,
    total_runs,
    write_report,
)

LOCAL_NOTE = (
    "Slot for the local real model (`--profile local`: a small GGUF model behind llama.cpp's "
    "OpenAI-compatible server). Not run here: no local profile is configured in this build. "
    "When it is, `conductor eval support --experiment single --variant graph` with that "
    "profile writes its figures beside the simulator's, scored by the same evaluators."
)


def _seeds(text: str) -> tuple[int, ...]:
    seeds = tuple(int(part) for part in text.split(",") if part.strip())
    if not seeds:
        raise ValueError("--seeds needs at least one seed")
    return seeds


async def run_eval_command(args: argparse.Namespace, out: Any, console: Any) -> int:
    """Run what `conductor eval` was asked for; print the table, write JSON and the report.

    Returns:
        The exit code.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    if args.dataset == "documents":
        return await _documents(args, out, console)
    if args.variant not in VARIANTS:
        raise ValueError(f"unknown variant {args.variant!r}; known: {sorted(VARIANTS)}")
    base = EvalSettings(
        dataset=args.dataset,
        variant=VARIANTS[args.variant],
        error_seed=args.error_seed,
        error_model=args.error_model,
        error_kinds=tuple(k for k in args.error_kinds.split(",") if k)
        if args.error_kinds
        else None,
        error_rate=args.error_rate,
        faults=args.faults or "",
        limit=args.limit,
        concurrency=args.concurrency,
        upload=args.upload,
        experiment=args.experiment,
        profile=getattr(args, "profile", "sim"),
    )
    seeds = (args.error_seed,) if args.experiment == "single" else _seeds(args.seeds or "")
    seeds = seeds or DEFAULT_SEEDS
    runs = total_runs(args.experiment, base, seeds)
    tickets = len(dataset_rows(base.dataset, base.limit))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"eval {args.dataset} / {args.experiment}", total=runs * tickets)

        def on_ticket() -> None:
            progress.advance(task)

        def on_run(name: str, result: RunResult) -> None:
            progress.console.print(
                f"{name} seed {result.settings.error_seed}: "
                + ", ".join(f"{k} {v:.3f}" for k, v in result.scores.items() if k != "cost_usd")
            )

        cells = await run_experiments(
            args.experiment, base, seeds, on_run=on_run, on_ticket=on_ticket
        )
    title = (
        f"conductor eval {args.dataset} --experiment {args.experiment} on "
        + (
            "the SIMULATED endpoint"
            if base.profile == "sim"
            else f"a REAL model (profile {base.profile}; the error seed does not apply)"
        )
        + f": {tickets} tickets, error seeds {list(seeds)}"
        + (f", faults '{base.faults}'" if base.faults else "")
    )
    show(out, cells_table(cells, title), getattr(args, "format", "table"))
    local = LOCAL_NOTE if args.experiment in ("local", "all") else ""
    paths = write_report(cells, args.out, title=title, local_note=local)
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")
    return 0


async def _documents(args: argparse.Namespace, out: Any, console: Any) -> int:
    """`conductor eval documents`: the documents graph on `documents.jsonl`.

    `--experiment single` runs `--variant` (graph, or graph-gates-off) at `--error-seed`;
    `gates` (or `all`) runs gates on and gates off over `--seeds`.
    """
    from dataclasses import replace

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from evals.documents_eval import (
        DocumentsReport,
        DocumentsSettings,
        document_examples,
        run_documents_eval,
    )
    from evals.documents_report import documents_table, write_documents_report

    base = DocumentsSettings(
        limit=args.limit,
        error_seed=args.error_seed,
        error_model=args.error_model,
        gates=args.variant != "graph-gates-off",
        concurrency=args.concurrency,
        upload=args.upload,
    )
    if args.experiment == "single":
        plan = {"gates on" if base.gates else "gates off": [base]}
    else:
        seeds = _seeds(args.seeds or "") or DEFAULT_SEEDS
        gated = [replace(base, gates=True, error_seed=s) for s in seeds]
        plan = {"gates on": gated}
        if args.experiment in ("gates", "all"):
            plan["gates off"] = [replace(s, gates=False) for s in gated]
    docs = len(document_examples(args.limit))
    cells: dict[str, list[DocumentsReport]] = {}
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        total = docs * sum(len(runs) for runs in plan.values())
        task = progress.add_task(f"eval documents / {args.experiment}", total=total)
        for name, runs in plan.items():
            for settings in runs:
                report = await run_documents_eval(
                    settings, on_document=lambda: progress.advance(task)
                )
                cells.setdefault(name, []).append(report)
    seeds_run = sorted({r.settings.error_seed for runs in cells.values() for r in runs})
    title = (
        f"conductor eval documents --experiment {args.experiment} on the SIMULATED endpoint: "
        f"{docs} documents through the documents graph, error seeds {seeds_run}"
    )
    show(out, documents_table(cells, title), getattr(args, "format", "table"))
    for kind, path in write_documents_report(cells, args.out, title).items():
        console.print(f"{kind}: {path}")
    return 0
