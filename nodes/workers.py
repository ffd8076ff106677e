"""The model-calling workers of the support graph: each asks the gateway for one structured answer.

Workers never route and never judge their own output: they write a proposal, and the gate
node decides whether it enters the results.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import structlog
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.errors import NodeError
from langgraph.types import Command
from pydantic import BaseModel

from gateway.errors import GatewayError, ModelCallFailed, ProviderUnavailable
from gateway.process import get_gateway
from nodes.common import bump_version, run_log_context, versioned
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
    cache_key: str | None = None,
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
        "cache_key": cache_key,
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
        except (ProviderUnavailable, ModelCallFailed) as exc:
            # No endpoint answered (all down, or the bounded retries on 5xx/timeouts ran out):
            # a provider problem, not the agent's. The run parks instead of spending the
            # subtask's retry budget, and resumes when the providers are back.
            _observe(agent, task["tier"], started)
            AGENT_ERRORS.labels(agent=agent, error_type=type(exc).__name__).inc()
            log.warning("agent_unavailable", error=str(exc), error_type=type(exc).__name__)
            return proposal_update(
                task,
                error=str(exc),
                unavailable=True,
                usage=_spent(agent, exc.usage, exc.cost_usd),
                elapsed_ms=_ms_since(started),
            )
        except GatewayError as exc:
            _observe(agent, task["tier"], started)
            AGENT_ERRORS.labels(agent=agent, error_type=type(exc).__name__).inc()
            log.warning("agent_failed", error=str(exc), error_type=type(exc).__name__)
            return proposal_update(
                task,
                error=str(exc),
                usage=_spent(agent, exc.usage, exc.cost_usd),
                elapsed_ms=_ms_since(started),
            )
    elapsed = _observe(agent, result.tier, started)
    return proposal_update(
        task,
        output=result.output.model_dump(mode="json"),
        tier=result.tier,
        endpoint=result.endpoint,
        cached=result.cached,
        cache_key=result.cache_key,
        usage=_spent(agent, result.usage, result.cost_usd, calls=result.calls),
        elapsed_ms=elapsed,
    )


def _spent(
    agent: str, tokens: dict[str, int], cost_usd: float, calls: int = 1
) -> dict[str, Any] | None:
    """The `usage` write of one agent call, failed calls included (None when it spent nothing)."""
    usage = {
        "input_tokens": tokens.get("input_tokens", 0),
        "output_tokens": tokens.get("output_tokens", 0),
        "cost_usd": cost_usd,
        "calls": calls,
    }
    if not (usage["input_tokens"] or usage["output_tokens"] or cost_usd or calls):
        return None
    return {**usage, "by_agent": {agent: usage}}


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


async def record_worker_crash(
    task: WorkerTask, error: NodeError
) -> Command[Literal["validate_outputs"]]:
    """Error handler of the workers: a crash or node timeout becomes a failed attempt in state.

    LangGraph runs the handler as a node of its own, with no edge out of it, so it routes
    to the gate node itself; from there the supervisor retries or escalates as for any
    failed attempt.
    """
    with structlog.contextvars.bound_contextvars(
        **run_log_context(error.node, agent=task["agent"], attempt=task["attempt"])
    ):
        AGENT_ERRORS.labels(agent=task["agent"], error_type=type(error.error).__name__).inc()
        log.error(
            "agent_crashed",
            subtask=task["subtask"],
            error_type=type(error.error).__name__,
            error=str(error.error),
        )
    update = proposal_update(task, error=f"{type(error.error).__name__}: {error.error}")
    return Command(goto="validate_outputs", update=bump_version(update))
