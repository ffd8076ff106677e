"""The documents eval's figures over seeds: a table, JSON and a Markdown report."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evals.documents_eval import DocumentsReport

FIGURES: dict[str, Callable[[DocumentsReport], float]] = {
    "type accuracy": lambda r: r.scores.get("doc_type_match", 0.0),
    "entity precision": lambda r: r.scores.get("entity_precision", 0.0),
    "entity recall": lambda r: r.scores.get("entity_recall", 0.0),
    "relation precision": lambda r: r.scores.get("relationship_precision", 0.0),
    "relation recall": lambda r: r.scores.get("relationship_recall", 0.0),
    "needs-review recall": lambda r: r.scores.get("needs_review_recall", 0.0),
    "review match": lambda r: r.scores.get("review_match", 0.0),
    "span mismatches": lambda r: float(r.span_mismatches),
    "escalated": lambda r: float(r.statuses.get("escalated", 0)),
    "lost": lambda r: float(r.statuses.get("failed", 0) + r.statuses.get("None", 0)),
    "cost/doc USD": lambda r: r.cost_usd / len(r.rows) if r.rows else 0.0,
}
"""The figures of a documents run, by name (per cell: mean, min–max over the seeds)."""


def _spread(values: Sequence[float], name: str) -> str:
    mean, low, high = statistics.fmean(values), min(values), max(values)
    if name.startswith("cost"):
        return f"{mean:.5f} ({low:.5f}–{high:.5f})"
    if name in ("span mismatches", "escalated", "lost"):
        return f"{mean:.1f} ({low:.0f}–{high:.0f})"
    return f"{mean:.3f} ({low:.3f}–{high:.3f})"


def documents_rows(cells: Mapping[str, Sequence[DocumentsReport]]) -> list[list[str]]:
    """One row per cell (gates on, gates off): its name, seeds, then every figure."""
    return [
        [name, str(len(runs)), *(_spread([fn(r) for r in runs], k) for k, fn in FIGURES.items())]
        for name, runs in cells.items()
        if runs
    ]


def documents_table(cells: Mapping[str, Sequence[DocumentsReport]], title: str) -> Any:
    """The cells as a rich table."""
    from rich.table import Table

    table = Table(title=title)
    for column in ("configuration", "seeds", *FIGURES):
        table.add_column(column, justify="left" if column == "configuration" else "right")
    for row in documents_rows(cells):
        table.add_row(*row)
    return table


def write_documents_report(
    cells: Mapping[str, Sequence[DocumentsReport]], out_dir: Path, title: str
) -> dict[str, Path]:
    """Write every run as JSON and the cells as a Markdown table under `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    data = out_dir / f"eval-documents-{stamp}.json"
    data.write_text(
        json.dumps({n: [r.as_dict() for r in runs] for n, runs in cells.items()}, indent=1),
        encoding="utf-8",
    )
    header = ["configuration", "seeds", *FIGURES]
    lines = [
        f"# {title}",
        "",
        f"Written {stamp}. Results: `{data.name}`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in documents_rows(cells)),
        "",
    ]
    markdown = out_dir / f"eval-documents-{stamp}.md"
    markdown.write_text("\n".join(lines), encoding="utf-8")
    return {"results": data, "report": markdown}
