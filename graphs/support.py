"""The `support` graph: customer-support tickets, refunds included, wired from shared parts."""

from __future__ import annotations

import sqlite3

from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy, TimeoutPolicy

from nodes.action import issue_refund
from nodes.context import gather_context
from nodes.escalation import escalate_to_human, park_run
from nodes.finalize import finalize_run
from nodes.gate import validate_outputs
from nodes.intake import intake_ticket
from nodes.planner import plan_subtasks
from nodes.supervise import supervise
from nodes.workers import (
    classify_intent,
    decide_refund,
    draft_reply,
    extract_entities,
    record_worker_crash,
)
from state.support import SupportContext, SupportInput, SupportOutput, SupportState

WORKER_NODE_TIMEOUT_S = 60.0
"""Outer guard on a worker node; the gateway's per-agent timeouts (10 s) act well before it."""

STORE_RETRY = RetryPolicy(max_attempts=3, initial_interval=0.05, retry_on=sqlite3.OperationalError)
"""Store nodes retry only a locked or busy database; nothing else is retried blindly."""

builder = StateGraph(
    SupportState,
    context_schema=SupportContext,
    input_schema=SupportInput,
    output_schema=SupportOutput,
)
builder.add_node(intake_ticket)
builder.add_node(supervise)
builder.add_node(plan_subtasks)
for worker in (classify_intent, extract_entities, decide_refund, draft_reply):
    # No RetryPolicy: the gateway alone decides retries (429s with Retry-After, fallbacks),
    # and the supervisor retries a failed gate on the large tier.
    builder.add_node(
        worker,  # type: ignore[arg-type]  # fed by Send: its input is a WorkerTask
        timeout=TimeoutPolicy(run_timeout=WORKER_NODE_TIMEOUT_S),
        error_handler=record_worker_crash,
    )
builder.add_node(gather_context, retry_policy=STORE_RETRY)  # type: ignore[arg-type]
builder.add_node(validate_outputs)
builder.add_node(escalate_to_human)
builder.add_node(park_run)
builder.add_node(issue_refund, retry_policy=STORE_RETRY)
builder.add_node(finalize_run)

builder.add_edge(START, "intake_ticket")
builder.add_edge("intake_ticket", "supervise")
builder.add_edge("plan_subtasks", "supervise")
for name in (
    "classify_intent",
    "extract_entities",
    "decide_refund",
    "draft_reply",
    "gather_context",
):
    builder.add_edge(name, "validate_outputs")
for name in ("validate_outputs", "escalate_to_human", "park_run", "issue_refund"):
    builder.add_edge(name, "supervise")
builder.add_edge("finalize_run", END)

graph = builder.compile(name="support").with_config(
    tags=["graph:support"], metadata={"graph": "support"}
)
"""The graph `langgraph.json` serves; the server brings its own checkpointer."""
