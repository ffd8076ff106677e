"""The benchmark's figures: samples in, one table of medians (min–max, ratio) and JSON out."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

BASELINE = "plain LangGraph"
"""Ratios are given against this variant, in the same figure and configuration."""


@dataclass
class Row:
    """One figure of one variant in one configuration, over its samples."""

    figure: str
    variant: str
    config: str
    unit: str
    samples: list[float] = field(default_factory=list)
    ratio: float | None = None

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    def to_json(self) -> dict[str, Any]:
        """The row as plain values."""
        data = asdict(self)
        data.update(median=self.median, min=min(self.samples), max=max(self.samples))
        return data


class Figures:
    """Samples by (figure, variant, config), in first-seen order."""

    def __init__(self) -> None:
        """Start empty."""
        self._rows: dict[tuple[str, str, str], Row] = {}

    def add(self, figure: str, variant: str, config: str, unit: str, value: float) -> None:
        """Record one sample."""
        key = (figure, variant, config)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = Row(figure, variant, config, unit)
        row.samples.append(value)

    def rows(self) -> list[Row]:
        """Every row, its ratio against `BASELINE` set where the baseline has the figure."""
        rows = list(self._rows.values())
        for row in rows:
            base = self._rows.get((row.figure, BASELINE, row.config))
            if base is not None and base.median:
                row.ratio = row.median / base.median
        return rows


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def markdown_table(rows: Sequence[Row]) -> str:
    """One markdown table: figure, variant, configuration, median, min–max, × plain LangGraph."""
    lines = [
        "| figure | variant | config | median | min–max | × plain LangGraph |",
        "| --- | --- | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        spread = f"{_num(min(row.samples))}–{_num(max(row.samples))}"
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else ""
        lines.append(
            f"| {row.figure} | {row.variant} | {row.config} | {_num(row.median)} {row.unit} "
            f"| {spread} | {ratio} |"
        )
    return "\n".join(lines)


def header_lines(header: dict[str, Any]) -> str:
    """The header: versions, machine, calibration noise, what was measured against."""
    versions = ", ".join(f"{k} {v}" for k, v in header["versions"].items())
    cal = header["calibration"]
    return "\n".join(
        [
            f"- endpoint: {header['endpoint']}",
            f"- machine: {header['machine']}, {header['cpus']} CPUs",
            f"- versions: {versions}",
            f"- calibration loop: median {cal['median_ms']:.2f} ms, "
            f"noise (max−min)/median {cal['noise_pct']:.1f}% over {cal['runs']} runs",
            f"- mode: {header['mode']}; rounds {header['rounds']}; "
            f"{header['tickets']} tickets per CPU sample; wall {header['wall_s']:.0f} s",
        ]
    )
