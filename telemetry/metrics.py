"""Prometheus metrics of Conductor: one registry shared by the server, the CLI and the gateway."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
"""The registry `/metrics` and `--metrics-port` expose (not the global default registry)."""

AGENT_EXECUTION_SECONDS = Histogram(
    "agent_execution_seconds",
    "Time spent executing an agent (model call included), by agent and tier.",
    ["agent", "tier"],
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0),
    registry=REGISTRY,
)
AGENT_ERRORS = Counter(
    "agent_errors_total",
    "Agent failures (model errors and gate refusals), by agent and error type.",
    ["agent", "error_type"],
    registry=REGISTRY,
)
MODEL_CALLS = Counter(
    "model_calls_total",
    "Model calls by endpoint and outcome (ok, error, timeout, rate_limited, invalid, "
    "circuit_open, cached).",
    ["endpoint", "outcome"],
    registry=REGISTRY,
)
CIRCUIT_STATE = Gauge(
    "circuit_state",
    "Circuit breaker state by endpoint: 0 closed, 1 half-open, 2 open.",
    ["endpoint"],
    registry=REGISTRY,
)
WORKFLOWS = Counter(
    "workflows_total",
    "Workflow runs that reached a status, by graph and status.",
    ["graph", "status"],
    registry=REGISTRY,
)
ESCALATIONS = Counter(
    "escalations_total",
    "Human escalations by reason.",
    ["reason"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "queue_depth",
    "Runs waiting on something outside the machine: parked runs plus pending reviews.",
    registry=REGISTRY,
)
COST_USD = Counter(
    "cost_usd_total",
    "Model spend in USD (endpoint prices from the registry), by agent and model.",
    ["agent", "model"],
    registry=REGISTRY,
)
CACHE_HITS = Counter(
    "cache_hits_total",
    "Model responses served from the response cache, by agent.",
    ["agent"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "model_tokens_total",
    "Tokens sent and received, by endpoint and direction (input, output).",
    ["endpoint", "direction"],
    registry=REGISTRY,
)
