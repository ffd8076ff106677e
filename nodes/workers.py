"""The model-calling workers of the support graph: each asks the gateway for one structured answer.

Workers never route and never judge their own output: they write a proposal, and the gate
node decides whether it enters the results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.errors import NodeError
from pydantic import BaseModel

from gateway.errors import GatewayError, ProviderUnavailable
from gateway.gateway import get_gateway
from nodes.common import versioned
from nodes.prompts import (
    CLASSIFY_INTENT_PROMPT,
    DECIDE_REFUND_PROMPT,
    DRAFT_REPLY_PROMPT,
    EXTRACT_ENTITIES_PROMPT,
    RETRY_FEEDBACK,
    render_sections,
    ticket_text,
)
from state.schemas import IntentClassification, RefundDecision, ReplyDraft, TicketEntities
from state.support import Proposal, WorkerTask
from telemetry.logging import get_logger
from telemetry.metrics import AGENT_ERRORS, AGENT_EXECUTION_SECONDS

log = get_logger("conductor.workers")


def proposal_update(
    task: WorkerTask,
    *,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    unavailable: bool = False,
    tier: str | None = None,
    endpoint: str | None = None,
    cached: bool = False,
    usage: dict[str, Any] | None = None,
    elapsed_ms: float = 0.0,
) -> dict[str, Any]:
    """The state write of one worker attempt: its proposal, attempt number, usage and timing."""
    sid, attempt = task["subtask"], task["attempt"]
    proposal: Proposal = {
        "subtask": sid,
        "agent": task["agent"],
        "attempt": attempt,
        "tier": tier or task["tier"],
        "output": output,
        "error": error,
        "unavailable": unavailable,
        "endpoint": endpoint,
        "cached": cached,
    }
    update: dict[str, Any] = {
        "proposals": {sid: proposal},
        "attempts": {sid: attempt},
        "timings": {f"{sid}#{attempt}": round(elapsed_ms, 2)},
    }
    if usage:
        update["usage"] = usage
    return update


def agent_messages(system: str, feedback: Sequence[str] = (), **sections: Any) -> list[BaseMessage]:
    """The prompt of one attempt: the agent's instructions and its delimited sections.

    On a retry it also carries why the previous answer was refused, so the retry is a new
    request rather than a replay of one a deterministic model would answer the same way.
    """
    if feedback:
        system = f"{system} {RETRY_FEEDBACK}"
        sections["feedback"] = "\n".join(f"- {line}" for line in feedback)
    return [SystemMessage(system), HumanMessage(render_sections(**sections))]


async def call_agent(
    task: WorkerTask, schema: type[BaseModel], messages: list[BaseMessage]
) -> dict[str, Any]:
    """Ask the gateway for `schema` on the task's tier and turn the outcome into a proposal.

    Gateway failures are recorded, not raised: an unavailable tier parks the run, any other
    failure is a failed attempt the supervisor may retry on the large tier.
    """
    agent = task["agent"]
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(
        agent=agent, subtask=task["subtask"], attempt=task["attempt"], tier=task["tier"]
    ):
        try:
            result = await get_gateway().invoke_structured(
                agent=agent, schema=schema, messages=messages, tier=task["tier"]
            )
        except ProviderUnavailable as exc:
            _observe(agent, task["tier"], started)
            AGENT_ERRORS.labels(agent=agent, error_type="provider_unavailable").inc()
            log.warning("agent_unavailable", error=str(exc))
            return proposal_update(
                task, error=str(exc), unavailable=True, elapsed_ms=_ms_since(started)
            )
        except GatewayError as exc:
            _observe(agent, task["tier"], started)
            AGENT_ERRORS.labels(agent=agent, error_type=type(exc).__name__).inc()
            log.warning("agent_failed", error=str(exc), error_type=type(exc).__name__)
            return proposal_update(task, error=str(exc), elapsed_ms=_ms_since(started))
    elapsed = _observe(agent, result.tier, started)
    usage = {
        "input_tokens": result.usage.get("input_tokens", 0),
        "output_tokens": result.usage.get("output_tokens", 0),
        "cost_usd": result.cost_usd,
        "calls": result.calls,
    }
    return proposal_update(
        task,
        output=result.output.model_dump(mode="json"),
        tier=result.tier,
        endpoint=result.endpoint,
        cached=result.cached,
        usage={**usage, "by_agent": {agent: usage}},
        elapsed_ms=elapsed,
    )


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _observe(agent: str, tier: str, started: float) -> float:
    """Record one agent execution (failed ones too, so error rates and p95 are honest)."""
    elapsed = _ms_since(started)
    AGENT_EXECUTION_SECONDS.labels(agent=agent, tier=tier).observe(elapsed / 1000)
    return elapsed


def _ticket_section(task: WorkerTask) -> str:
    return ticket_text(task["ticket"]["subject"], task["ticket"]["body"])


@versioned
async def classify_intent(task: WorkerTask) -> dict[str, Any]:
    """Classify the ticket's intent, confidence and any legal threat (small tier)."""
    messages = agent_messages(
        CLASSIFY_INTENT_PROMPT, task.get("feedback") or (), ticket=_ticket_section(task)
    )
    return await call_agent(task, IntentClassification, messages)


@versioned
async def extract_entities(task: WorkerTask) -> dict[str, Any]:
    """Extract the order id, amount, item and reason the customer states (small tier)."""
    messages = agent_messages(
        EXTRACT_ENTITIES_PROMPT, task.get("feedback") or (), ticket=_ticket_section(task)
    )
    return await call_agent(task, TicketEntities, messages)


@versioned
async def decide_refund(task: WorkerTask) -> dict[str, Any]:
    """Decide the refund from the store's facts and the policy (large tier)."""
    messages = agent_messages(
        DECIDE_REFUND_PROMPT,
        task.get("feedback") or (),
        ticket=_ticket_section(task),
        entities=task["results"].get("extract") or {},
        facts=task["facts"] or {},
    )
    return await call_agent(task, RefundDecision, messages)


@versioned
async def draft_reply(task: WorkerTask) -> dict[str, Any]:
    """Draft the reply to the customer from what was decided and done (tier by complexity)."""
    messages = agent_messages(
        DRAFT_REPLY_PROMPT,
        task.get("feedback") or (),
        ticket=_ticket_section(task),
        classification=task["results"].get("classify") or {},
        outcome=task["outcome"] or {},
    )
    return await call_agent(task, ReplyDraft, messages)


async def record_worker_crash(task: WorkerTask, error: NodeError) -> dict[str, Any]:
    """Error handler of the workers: a crash or node timeout becomes a failed attempt in state."""
    AGENT_ERRORS.labels(agent=task["agent"], error_type=type(error.error).__name__).inc()
    log.error(
        "agent_crashed",
        agent=task["agent"],
        node=error.node,
        error_type=type(error.error).__name__,
        error=str(error.error),
    )
    update = proposal_update(task, error=f"{type(error.error).__name__}: {error.error}")
    return {**update, "version": 1}
