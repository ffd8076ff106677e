"""The SLO report: p95 latency and error rate per agent, queue depth, human-escalation rate."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from rich.table import Table

from telemetry.metrics import REGISTRY, render_latest

LATENCY_METRIC = "conductor_agent_execution_seconds"
ERRORS_METRIC = "conductor_agent_errors_total"
QUEUE_METRIC = "conductor_queue_depth"
ESCALATIONS_METRIC = "conductor_escalations_total"
WORKFLOWS_METRIC = "conductor_workflows_total"


@dataclass(frozen=True)
class AgentFigures:
    """The SLO figures of one agent."""

    agent: str
    executions: int
    errors: int
    p95_seconds: float | None
    error_rate: float | None


@dataclass(frozen=True)
class SLOReport:
    """The four figures the operators watch, from one set of metrics."""

    agents: list[AgentFigures]
    queue_depth: float
    workflows: int  # runs started: finished (conductor_workflows_total) plus still waiting
    escalations: int
    escalation_rate: float | None
    escalations_by_reason: dict[str, int] = field(default_factory=dict)
    errors_by_type: dict[str, int] = field(default_factory=dict)
    source: str = "registry"

    def agent(self, name: str) -> AgentFigures:
        """The figures of one agent.

        Raises:
            KeyError: When the metrics hold nothing for that agent.
        """
        for figures in self.agents:
            if figures.agent == name:
                return figures
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return asdict(self)


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Estimate the q-quantile from cumulative histogram buckets, as PromQL's function does.

    Args:
        q: The quantile, between 0 and 1.
        buckets: `(upper_bound, cumulative_count)` pairs; the `+Inf` bucket holds the total.

    Returns:
        The linear interpolation inside the bucket holding the rank; the largest finite
        bound when the rank falls in `+Inf`; None when there are no observations.

    Raises:
        ValueError: When q is outside [0, 1].
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def slo_from_text(text: str, *, source: str = "text") -> SLOReport:
    """Compute the SLO report from Prometheus text exposition (a scrape of `/metrics`).

    Latency and error figures sum over tiers; the error rate is
    `conductor_agent_errors_total` over `conductor_agent_execution_seconds_count` (1.0 for an
    agent with errors and no execution counted).
    The escalation rate is `conductor_escalations_total` over `conductor_workflows_total`.

    Args:
        text: The exposition text; other metrics on the page are ignored.
        source: Where the text came from, shown in the report.

    Returns:
        The report (agents sorted by name).
    """
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    executions: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    errors_by_type: dict[str, float] = defaultdict(float)
    reasons: dict[str, float] = defaultdict(float)
    workflows = queue = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == f"{LATENCY_METRIC}_bucket":
                buckets[labels.get("agent", "")][float(labels["le"])] += value
            elif name == f"{LATENCY_METRIC}_count":
                executions[labels.get("agent", "")] += value
            elif name == ERRORS_METRIC:
                errors[labels.get("agent", "")] += value
                errors_by_type[labels.get("error_type", "")] += value
            elif name == ESCALATIONS_METRIC:
                reasons[labels.get("reason", "")] += value
            elif name == WORKFLOWS_METRIC:
                workflows += value
            elif name == QUEUE_METRIC:
                queue += value
    agents = []
    for agent in sorted(set(executions) | set(errors) | set(buckets)):
        runs, failed = executions.get(agent, 0.0), errors.get(agent, 0.0)
        if runs > 0:
            rate: float | None = failed / runs
        else:
            rate = 1.0 if failed > 0 else None
        agents.append(
            AgentFigures(
                agent=agent,
                executions=int(runs),
                errors=int(failed),
                p95_seconds=histogram_quantile(0.95, buckets.get(agent, {}).items()),
                error_rate=rate,
            )
        )
    escalations = sum(reasons.values())
    # Runs still waiting (on a reviewer or on providers) have not finished, so they are not
    # in conductor_workflows_total; they did start, and most waiting runs are the escalated ones.
    started = workflows + queue
    return SLOReport(
        agents=agents,
        queue_depth=queue,
        workflows=int(started),
        escalations=int(escalations),
        escalation_rate=escalations / started if started > 0 else None,
        escalations_by_reason={k: int(v) for k, v in sorted(reasons.items())},
        errors_by_type={k: int(v) for k, v in sorted(errors_by_type.items())},
        source=source,
    )


def slo_from_registry(registry: CollectorRegistry = REGISTRY) -> SLOReport:
    """Compute the SLO report from a registry in this process (the CLI's own run)."""
    return slo_from_text(render_latest(registry).decode("utf-8"), source="this process")


def metrics_url(url: str) -> str:
    """The scrape URL for a server URL: `http://host:2024` becomes `http://host:2024/metrics`."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        parts = parts._replace(path="/metrics")
    return urlunsplit(parts)


def fetch_slo(url: str, *, timeout: float = 5.0) -> SLOReport:
    """Scrape `url` (a server URL or its `/metrics`) and compute the SLO report.

    Raises:
        httpx.HTTPError: When the scrape fails or answers with an error status.
    """
    import httpx

    target = metrics_url(url)
    response = httpx.get(target, timeout=timeout)
    response.raise_for_status()
    return slo_from_text(response.text, source=target)


def _fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def slo_table(report: SLOReport) -> Table:
    """Render the report as a rich table: one row per agent, then the run-level figures."""
    table = Table(title=f"SLO report ({report.source})")
    table.add_column("agent")
    table.add_column("executions", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("error rate", justify="right")
    table.add_column("p95 latency (s)", justify="right")
    for figures in report.agents:
        table.add_row(
            figures.agent,
            str(figures.executions),
            str(figures.errors),
            _fmt_rate(figures.error_rate),
            _fmt_seconds(figures.p95_seconds),
        )
    if not report.agents:
        table.add_row("(no agent executions)", "0", "0", "-", "-")
    table.add_section()
    table.add_row("queue depth", f"{report.queue_depth:g}", "", "", "")
    table.add_row(
        "human-escalation rate",
        f"{report.escalations}/{report.workflows}",
        "",
        _fmt_rate(report.escalation_rate),
        "",
    )
    return table
