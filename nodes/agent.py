"""Worker node factories: an agent asks the gateway for one structured answer; a tool runs code.

Workers never route and never judge their own output: they write a proposal, and the
supervisor's gate pass decides whether it enters the results.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import structlog
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.errors import NodeError
from langgraph.runtime import Runtime
from langgraph.types import Command

from gateway.errors import GatewayError, ModelCallFailed, ProviderUnavailable
from nodes.common import bump_version, run_log_context, versioned
from nodes.resources import Resources
from nodes.spec import SubtaskSpec, WorkflowSpec
from nodes.supervise import lone_task, route_after
from state.base import AgentTask, LoneDispatch, Proposal
from telemetry.logging import get_logger
from telemetry.metrics import AGENT_ERRORS, AGENT_EXECUTION_SECONDS

log = get_logger("conductor.workers")

Node = Callable[..., Awaitable[Any]]


def proposal_update(
    task: AgentTask | LoneDispatch,
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


def to_messages(pairs: list[tuple[str, str]] | list[list[str]]) -> list[BaseMessage]:
    """Turn (role, content) pairs from a `Send` payload into chat messages."""
    kinds: dict[str, type[BaseMessage]] = {"system": SystemMessage, "user": HumanMessage}
    return [kinds[role](content) for role, content in pairs]


def task_of(node_input: Mapping[str, Any]) -> AgentTask | LoneDispatch:
    """Who a worker is: its `Send` payload, or (dispatched alone) the state's `dispatch`."""
    if "plan" in node_input:
        lone: LoneDispatch = node_input["dispatch"]
        return lone
    return node_input  # type: ignore[return-value]


def worker_node(
    spec: WorkflowSpec,
    resources: Resources,
    work: Callable[[AgentTask, Any], Awaitable[dict[str, Any]]],
    name: str,
    doc: str,
) -> Node:
    """A worker node: do the work, then join at `supervise` or, dispatched alone, route on.

    A worker dispatched alone receives the run's state and ends with the supervisor's step
    (`route_after`: gates, then the route), so no superstep is spent on a join; one of a
    parallel fan-out receives its `Send` payload and hands over to `supervise`.
    """

    async def node(state: dict[str, Any], runtime: Runtime[Any]) -> Command[Any]:
        if "plan" in state:
            update = await work(lone_task(state, spec, runtime.context), runtime.context)
            return await route_after(state, update, spec, resources, runtime.context)
        update = await work(state, runtime.context)  # type: ignore[arg-type]
        return Command(goto="supervise", update=update)

    node.__name__ = node.__qualname__ = name
    node.__doc__ = doc
    return versioned(node)


def make_agent_node(spec: WorkflowSpec, subtask: SubtaskSpec, resources: Resources) -> Node:
    """Build the node of a model subtask: one gateway call for the subtask's output schema.

    Gateway failures are recorded, not raised: an unavailable tier parks the run, any
    other failure is a failed attempt the supervisor may retry one tier up.
    """
    schema = subtask.output
    assert schema is not None  # checked by WorkflowSpec.validate

    async def call_agent(task: AgentTask, context: Any) -> dict[str, Any]:
        agent, tier = task["agent"], task["tier"]
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(
            agent=agent, subtask=task["subtask"], attempt=task["attempt"], tier=tier
        ):
            try:
                result = await resources.gateway.invoke_structured(
                    agent=agent, schema=schema, messages=to_messages(task["messages"]), tier=tier
                )
            except (ProviderUnavailable, ModelCallFailed) as exc:
                # No endpoint answered: a provider problem, not the agent's. The run parks
                # instead of spending the subtask's retry budget.
                _observe(agent, tier, started)
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
                _observe(agent, tier, started)
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

    doc = f"Agent `{subtask.agent}`: subtask `{subtask.id}` of its workflow."
    return worker_node(spec, resources, call_agent, subtask.agent, doc)


def make_tool_node(spec: WorkflowSpec, subtask: SubtaskSpec, resources: Resources) -> Node:
    """Build the node of a tool subtask: the spec's coroutine over its input (no model)."""
    tool = subtask.tool
    assert tool is not None  # checked by WorkflowSpec.validate

    async def run_tool(task: AgentTask, context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        output = await tool(resources, task["tool_input"] or {}, context)
        return proposal_update(task, output=output, elapsed_ms=_ms_since(started))

    doc = f"Tool `{subtask.agent}`: subtask `{subtask.id}` of its workflow."
    return worker_node(spec, resources, run_tool, subtask.agent, doc)


async def record_worker_crash(
    node_input: dict[str, Any], error: NodeError
) -> Command[Literal["supervise"]]:
    """Error handler of the workers: a crash or node timeout becomes a failed attempt in state.

    LangGraph runs the handler as a node of its own, with no edge out of it, so it routes
    to the supervisor itself; there the gate records the failure and the router retries or
    escalates as for any failed attempt.
    """
    task = task_of(node_input)
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
    return Command(goto="supervise", update=bump_version(update))


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
