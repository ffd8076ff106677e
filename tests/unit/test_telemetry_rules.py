"""The Prometheus rules file: promtool when it is installed, a PromQL sanity check always."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

import telemetry.metrics as metrics_module

RULES_DIR = Path(__file__).resolve().parents[2] / "telemetry" / "prometheus"
RULES = RULES_DIR / "conductor-rules.yml"
RULE_TESTS = RULES_DIR / "conductor-rules.test.yml"

FUNCTIONS = frozenset(
    "abs absent avg_over_time clamp_max clamp_min histogram_quantile increase irate "
    "label_replace max_over_time min_over_time rate round scalar sqrt stddev_over_time "
    "sum_over_time time vector".split()
)
AGGREGATIONS = frozenset("avg bottomk count max min quantile stddev stdvar sum topk".split())
KEYWORDS = frozenset(
    "and bool by group_left group_right ignoring inf nan offset on or unless without".split()
)
DURATION = re.compile(r"^\d+[smhdwy](:\d+[smhdwy])?$")
NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def registry_series() -> dict[str, set[str]]:
    """Every series name Conductor's registry can expose, with the label names it carries."""
    series: dict[str, set[str]] = {}
    for obj in vars(metrics_module).values():
        if not isinstance(obj, MetricWrapperBase):
            continue
        name, kind, labels = obj._name, obj._type, set(obj._labelnames)  # noqa: SLF001
        if kind == "counter":
            series[f"{name}_total"] = labels
        elif kind == "histogram":
            series[f"{name}_bucket"] = labels | {"le"}
            series[f"{name}_count"] = labels
            series[f"{name}_sum"] = labels
        else:
            series[name] = labels
    return series


def load_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def check_balanced(expr: str) -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"[^"]*"', '""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            assert stack and stack[-1] == pairs[char], f"unbalanced {char!r} in {expr!r}"
            stack.pop()
    assert not stack, f"unclosed {stack} in {expr!r}"


def check_expression(expr: str, known: dict[str, set[str]]) -> set[str]:
    """Assert `expr` is plausible PromQL over known series; return the series it reads."""
    check_balanced(expr)
    used: set[str] = set()
    labels_in_scope: set[str] = set()
    # Range selectors and subqueries: [5m], [1h:30s].
    for duration in re.findall(r"\[([^\]]*)\]", expr):
        assert DURATION.match(duration.strip()), f"bad range {duration!r} in {expr!r}"
    text = re.sub(r"\[[^\]]*\]", "", expr)
    # Label matchers: name{label="value", ...}.
    for matcher in re.findall(r"\{([^}]*)\}", text):
        for label in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matcher):
            labels_in_scope.add(label)
    text = re.sub(r"\{[^}]*\}", "", text)
    # Grouping clauses: by (agent, le), without (...), on (...), ignoring (...).
    grouping = r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"
    for _, names in re.findall(grouping, text):
        labels_in_scope.update(n.strip() for n in names.split(",") if n.strip())
    text = re.sub(grouping, " ", text)
    text = re.sub(r'"[^"]*"', " ", text)
    text = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", text)
    for match in NAME.finditer(text):
        word = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("("):
            assert word in FUNCTIONS | AGGREGATIONS, f"unknown function {word!r} in {expr!r}"
        elif word.lower() in KEYWORDS:
            continue
        else:
            assert word in known, f"unknown series {word!r} in {expr!r}"
            used.add(word)
    available = set().union(*(known[name] for name in used)) if used else set()
    for label in labels_in_scope:
        assert label in available, f"label {label!r} is not on {sorted(used)} in {expr!r}"
    return used


def test_rules_expressions_read_real_series_and_labels() -> None:
    known = registry_series()
    assert {
        "conductor_agent_execution_seconds_bucket",
        "conductor_agent_errors_total",
        "conductor_queue_depth",
    } <= set(known)
    rules = load_rules()
    for rule in rules:
        reads = check_expression(rule["expr"], known)
        if "record" in rule:
            # A recorded series keeps the labels of its aggregation clause.
            grouped = re.search(r"\bby\s*\(([^)]*)\)", rule["expr"])
            labels = {n.strip() for n in grouped.group(1).split(",")} - {"le"} if grouped else set()
            assert reads, rule
            known[rule["record"]] = labels
        else:
            assert rule["alert"] and rule.get("annotations", {}).get("summary"), rule


def test_rules_alert_on_the_four_figures() -> None:
    rules = load_rules()
    alerts = {rule["alert"]: rule["expr"] for rule in rules if "alert" in rule}
    records = {rule["record"]: rule["expr"] for rule in rules if "record" in rule}
    assert "histogram_quantile(0.95" in records["agent:agent_execution_seconds:p95_5m"]
    assert "by (agent" in records["agent:agent_errors:ratio_rate5m"]
    assert "conductor_escalations_total" in records["conductor:escalations:ratio_rate15m"]
    assert "conductor_workflows_total" in records["conductor:escalations:ratio_rate15m"]
    anomalies = {
        "AgentLatencyP95Anomaly": "agent:agent_execution_seconds:p95_5m",
        "AgentErrorRateAnomaly": "agent:agent_errors:ratio_rate5m",
        "QueueDepthAnomaly": "conductor:queue_depth:sum",
        "EscalationRateAnomaly": "conductor:escalations:ratio_rate15m",
    }
    for alert, series in anomalies.items():
        expr = " ".join(alerts[alert].split())
        assert f"avg_over_time({series}[1h])" in expr, alert
        assert f"> 2 * stddev_over_time({series}[1h])" in expr, alert
    assert {"AgentLatencyP95High", "AgentErrorRateHigh"} <= set(alerts)


def test_sanity_check_rejects_what_it_should() -> None:
    known = registry_series()
    for bad in (
        "sum(rate(conductor_agent_errors_total[5m])",
        "rate(agent_erors_total[5m])",
        "sum by (agnt) (rate(conductor_agent_errors_total[5m]))",
        "rate(conductor_agent_errors_total[5 minutes])",
        "frobnicate(conductor_queue_depth)",
    ):
        with pytest.raises(AssertionError):
            check_expression(bad, known)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_and_unit_tests_the_rules() -> None:
    checked = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        ["promtool", "test", "rules", RULE_TESTS.name],
        cwd=RULES_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
