"""The four side-by-side experiments, each over several error seeds, and their report.

1. `naive-vs-graph`: the fair baseline against the graph, without faults and with a 20% mix.
2. `tiers`: every worker on the large tier against tier routing (cost per ticket, accuracy):
   the spec's routing and the alternative rules of `evals.routing`.
3. `gates`: gates on against gates off, one realistic error kind at a time: how much of each
   injected kind reaches an action.
4. `local`: the same evaluation on a local real model (`--profile local`), when one is
   configured; until then a slot in the report.

Every figure comes with its spread over the seeds (mean, min–max). Figures are of the
simulated endpoint unless the profile says otherwise.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.experiment import VARIANTS, EvalSettings, RunResult, run_eval, write_json
from evals.outcomes import MONEY_WRONG_KINDS
from simulator.error_model import REALISTIC_KINDS

MIX_20 = (
    "error_rate=0.05,rate_limit_rate=0.03,timeout_rate=0.02,garbage_rate=0.04,"
    "implausible_rate=0.04,duplicate_rate=0.02,hang_seconds=2"
)
"""The 20% fault mix of the chaos matrix."""
KIND_RATE = 0.3
"""Rate of the one error kind switched on in the gates experiment."""
TIER_ARMS = (
    ("graph", "tier routing (spec)"),
    ("graph-input-tiers", "classify, extract by input difficulty"),
    ("graph-classify-large", "classify large"),
    ("graph-verified-tiers", "by verifiability"),
    ("graph-read-large", "classify, extract large; decide, reply small"),
    ("graph-all-large", "all large"),
)
"""The arms of the tiers experiment (`evals.routing` says what each rule is)."""
DEFAULT_SEEDS = (1, 2, 3)
EXPERIMENTS = ("single", "naive-vs-graph", "tiers", "gates", "local", "all")


@dataclass
class Cell:
    """One configuration of an experiment, run once per seed."""

    experiment: str
    name: str
    runs: list[RunResult] = field(default_factory=list)

    def metric(self, fn: Callable[[RunResult], float]) -> tuple[float, float, float]:
        """Mean, min and max of a figure over the seeds."""
        values = [fn(r) for r in self.runs]
        if not values:
            return (float("nan"),) * 3
        return statistics.fmean(values), min(values), max(values)


def _rate(count: int, total: int) -> float:
    return count / total if total else 0.0


FIGURES: dict[str, Callable[[RunResult], float]] = {
    "intent accuracy": lambda r: r.scores.get("intent_match", 0.0),
    "refund accuracy": lambda r: r.scores.get("refund_match", 0.0),
    "escalation recall": lambda r: r.scores.get("escalation_recall", 0.0),
    "outcome": lambda r: r.scores.get("outcome", 0.0),
    "money moved wrongly": lambda r: float(r.money_wrong),
    "reviews skipped": lambda r: float(r.money.get("review_skipped", 0)),
    "lost": lambda r: float(r.outcomes.get("lost", 0)),
    "unfinished": lambda r: float(r.outcomes.get("unfinished", 0)),
    "escalated": lambda r: float(r.outcomes.get("escalated", 0)),
    "cost/ticket USD": lambda r: r.cost_usd / r.tickets if r.tickets else 0.0,
}
"""The figures every cell reports, by name."""


def plan(experiment: str, base: EvalSettings, seeds: Sequence[int]) -> list[tuple[str, str, Any]]:
    """The (experiment, cell name, settings per seed) an experiment runs."""
    cells: list[tuple[str, str, Any]] = []

    def add(exp: str, name: str, settings: EvalSettings) -> None:
        cells.append((exp, name, [replace(settings, error_seed=s, experiment=exp) for s in seeds]))

    wanted = {"naive-vs-graph", "tiers", "gates", "local"} if experiment == "all" else {experiment}
    if "single" in wanted:
        add("single", base.variant.name, base)
    if "naive-vs-graph" in wanted:
        for faults, label in (("", "no faults"), (MIX_20, "20% fault mix")):
            for variant in ("naive", "graph"):
                add(
                    "naive-vs-graph",
                    f"{variant}, {label}",
                    replace(base, variant=VARIANTS[variant], faults=faults),
                )
    if "tiers" in wanted:
        for variant, label in TIER_ARMS:
            add("tiers", label, replace(base, variant=VARIANTS[variant], faults=""))
    if "gates" in wanted:
        for variant, label in (("graph-gates-off", "gates off"), ("graph", "gates on")):
            add(
                "gates",
                f"none, {label}",
                replace(base, variant=VARIANTS[variant], faults="", error_model="ideal"),
            )
        for kind in REALISTIC_KINDS:
            for variant, label in (("graph-gates-off", "gates off"), ("graph", "gates on")):
                add(
                    "gates",
                    f"{kind}, {label}",
                    replace(
                        base,
                        variant=VARIANTS[variant],
                        faults="",
                        error_kinds=(kind,),
                        error_rate=KIND_RATE,
                    ),
                )
    return cells


async def run_experiments(
    experiment: str,
    base: EvalSettings,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    *,
    on_run: Callable[[str, RunResult], None] | None = None,
    on_ticket: Callable[[], None] | None = None,
) -> list[Cell]:
    """Run every cell of an experiment once per seed.

    Args:
        experiment: One of `EXPERIMENTS`.
        base: Settings every cell starts from (dataset, limit, upload...).
        seeds: The error seeds.
        on_run: Called after each run with its cell's name.
        on_ticket: Called after each ticket.

    Returns:
        The cells, in plan order.
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; known: {list(EXPERIMENTS)}")
    cells: list[Cell] = []
    for exp, name, runs in plan(experiment, base, seeds):
        cell = Cell(exp, name)
        for settings in runs:
            result = await run_eval(settings, on_ticket=on_ticket)
            cell.runs.append(result)
            if on_run is not None:
                on_run(name, result)
        cells.append(cell)
    return cells


def total_runs(experiment: str, base: EvalSettings, seeds: Sequence[int]) -> int:
    """How many runs an experiment makes (for a progress bar)."""
    return sum(len(runs) for _, _, runs in plan(experiment, base, seeds))


def _fmt(value: tuple[float, float, float], name: str) -> str:
    mean, low, high = value
    if name.startswith("cost"):
        return f"{mean:.5f} ({low:.5f}–{high:.5f})"
    if name in ("intent accuracy", "refund accuracy", "escalation recall", "outcome"):
        return f"{mean:.3f} ({low:.3f}–{high:.3f})"
    return f"{mean:.1f} ({low:.0f}–{high:.0f})"


def reached_action(run: RunResult) -> set[str]:
    """Tickets on which an error reached an action.

    Money moved wrongly, or the run finished without the human the truth asks for.
    """
    return {
        str(row["ticket_id"])
        for row in run.rows
        if row["money_wrong"] or row["scores"].get("escalation_recall") == 0
    }


def kinds_reaching_action(
    cell: Cell, kind: str, baseline: Cell | None
) -> tuple[float, float, float]:
    """Per seed: tickets reaching an action beyond the no-error baseline, per 100 injected."""
    base = reached_action(baseline.runs[0]) if baseline and baseline.runs else set()
    values = []
    for run in cell.runs:
        injected = run.injected.get(kind, 0)
        extra = len(reached_action(run) - base)
        values.append(100.0 * extra / injected if injected else 0.0)
    return statistics.fmean(values), min(values), max(values)


def cells_table(cells: Sequence[Cell], title: str) -> Any:
    """The cells as one rich table: a line per cell, a column per figure (mean, min–max)."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("experiment")
    table.add_column("configuration")
    table.add_column("seeds", justify="right")
    for name in FIGURES:
        table.add_column(name, justify="right")
    for cell in cells:
        table.add_row(
            cell.experiment,
            cell.name,
            str(len(cell.runs)),
            *(_fmt(cell.metric(fn), name) for name, fn in FIGURES.items()),
        )
    return table


def write_report(
    cells: Sequence[Cell],
    out_dir: Path,
    *,
    title: str,
    local_note: str = "",
) -> dict[str, Path]:
    """Write the JSON results, a Markdown report and its PNG charts under `out_dir`.

    Returns:
        The paths written, by kind (`json`, `markdown`, and one per chart).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    paths: dict[str, Path] = {}
    paths["json"] = write_json([r for c in cells for r in c.runs], out_dir / f"eval-{stamp}.json")
    summary = [
        {
            "experiment": c.experiment,
            "configuration": c.name,
            "seeds": [r.settings.error_seed for r in c.runs],
            "figures": {
                n: dict(zip(("mean", "min", "max"), c.metric(fn), strict=True))
                for n, fn in FIGURES.items()
            },
            "money_by_kind": {
                kind: [r.money.get(kind, 0) for r in c.runs]
                for kind in (*MONEY_WRONG_KINDS, "review_skipped")
            },
            "injected": [dict(r.injected) for r in c.runs],
        }
        for c in cells
    ]
    paths["summary"] = out_dir / f"eval-{stamp}-summary.json"
    paths["summary"].write_text(json.dumps(summary, indent=1), encoding="utf-8")
    charts = _charts(cells, out_dir, stamp)
    paths.update(charts)
    lines = [f"# {title}", "", f"Written {stamp}. Results: `{paths['json'].name}`.", ""]
    by_experiment: dict[str, list[Cell]] = {}
    for cell in cells:
        by_experiment.setdefault(cell.experiment, []).append(cell)
    for experiment, group in by_experiment.items():
        lines += [f"## {experiment}", ""]
        lines.append("| configuration | seeds | " + " | ".join(FIGURES) + " |")
        lines.append("|---" * (len(FIGURES) + 2) + "|")
        for cell in group:
            figures = " | ".join(_fmt(cell.metric(fn), n) for n, fn in FIGURES.items())
            lines.append(f"| {cell.name} | {len(cell.runs)} | {figures} |")
        lines.append("")
        if experiment == "gates":
            lines += [
                "Tickets on which an injected error reached an action (money moved wrongly, "
                "or a run finished without the human the truth asks for), beyond the same "
                "pipeline with no injected error, per 100 injections of the kind; mean "
                "(min–max) over seeds. Injected counts are per pipeline, summed over seeds.",
                "",
                "| error kind | gates off | gates on |",
                "|---|---|---|",
            ]
            base = {c.name.split(", ")[1]: c for c in group if c.name.startswith("none,")}
            for kind in REALISTIC_KINDS:
                found = {c.name.split(", ")[1]: c for c in group if c.name.startswith(kind)}
                injected = [sum(r.injected.get(kind, 0) for r in found[k].runs) for k in found]
                row = [
                    _fmt(kinds_reaching_action(found[k], kind, base.get(k)), "x")
                    if k in found
                    else "-"
                    for k in ("gates off", "gates on")
                ]
                lines.append(f"| {kind} (injected {injected}) | {row[0]} | {row[1]} |")
            lines.append("")
        if experiment in charts:
            lines += [f"![{experiment}]({charts[experiment].name})", ""]
    if local_note:
        lines += ["## local", "", local_note, ""]
    paths["markdown"] = out_dir / f"eval-{stamp}.md"
    paths["markdown"].write_text("\n".join(lines), encoding="utf-8")
    return paths


def _charts(cells: Sequence[Cell], out_dir: Path, stamp: str) -> dict[str, Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # matplotlib is in the dev group; the report still has its tables
        return {}
    charts: dict[str, Path] = {}
    by_experiment: dict[str, list[Cell]] = {}
    for cell in cells:
        by_experiment.setdefault(cell.experiment, []).append(cell)
    shown = {
        "naive-vs-graph": ("outcome", "money moved wrongly", "reviews skipped", "lost"),
        "tiers": ("intent accuracy", "refund accuracy", "cost/ticket USD"),
        "gates": ("money moved wrongly", "escalated"),
        "single": ("intent accuracy", "refund accuracy", "escalation recall"),
    }
    profiles = {r.metadata.get("profile", "sim") for c in cells for r in c.runs}
    endpoint = "SIMULATED endpoint" if profiles <= {"sim"} else f"REAL model: {sorted(profiles)}"
    for experiment, group in by_experiment.items():
        figures = shown.get(experiment, ("outcome",))
        fig, axes = plt.subplots(1, len(figures), figsize=(4.2 * len(figures), 3.8))
        axes = axes if len(figures) > 1 else [axes]
        for ax, name in zip(axes, figures, strict=True):
            stats = [c.metric(FIGURES[name]) for c in group]
            means = [s[0] for s in stats]
            errors = [[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]]
            ax.bar(range(len(group)), means, yerr=errors, capsize=3, color="#4c72b0")
            ax.set_xticks(
                range(len(group)), [c.name for c in group], rotation=60, ha="right", fontsize=7
            )
            ax.set_title(name, fontsize=9)
        fig.suptitle(f"{experiment} ({endpoint}; bars: mean, whiskers: min–max)", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"eval-{stamp}-{experiment}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        charts[experiment] = path
    return charts
