"""LangSmith run metadata and tags: what a graph run and a model call carry into a trace."""

from __future__ import annotations

from typing import Any

from telemetry.metrics import current_workflow_id

TRACE_METADATA_KEYS = ("workflow_id", "graph", "agent", "tier", "attempt")
"""Metadata every model-call run carries (node runs carry `workflow_id` and `graph`)."""


def graph_tags(graph: str, profile: str | None = None) -> list[str]:
    """Tags naming the graph and the gateway profile, e.g. `graph:support`, `profile:sim`."""
    tags = [f"graph:{graph}"]
    if profile:
        tags.append(f"profile:{profile}")
    return tags


def graph_run_config(
    graph: str,
    workflow_id: str,
    *,
    profile: str | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    """The tracing part of a run's RunnableConfig: run name, tags and metadata.

    Child runs (one per node, one per model call) inherit the tags and metadata, so every
    run of the trace carries `workflow_id` and `graph`.

    Args:
        graph: The graph's name (`support`).
        workflow_id: The run's thread id.
        profile: The gateway profile (`sim`, `openai`, ...), tagged as `profile:<name>`.
        **metadata: More metadata, e.g. `ticket_id`.

    Returns:
        `{"run_name", "tags", "metadata", "configurable": {"thread_id"}}` to merge into the
        run config (keep `max_concurrency` at its top level).
    """
    return {
        "run_name": graph,
        "tags": graph_tags(graph, profile),
        "metadata": {
            "graph": graph,
            "workflow_id": workflow_id,
            **({"profile": profile} if profile else {}),
            **metadata,
        },
        "configurable": {"thread_id": workflow_id},
    }


def model_call_config(
    *,
    agent: str,
    tier: str,
    attempt: int | None = None,
    endpoint: str | None = None,
    model: str | None = None,
    profile: str | None = None,
    workflow_id: str | None = None,
    graph: str | None = None,
) -> dict[str, Any]:
    """The RunnableConfig of one model call: a run named after the agent, with its metadata.

    Pass it to `ChatOpenAI.ainvoke(messages, config=...)` (or `with_structured_output(...)`);
    LangChain merges it with the node's config, so the model run is a child of the node run.
    No credential belongs here: metadata and tags are sent to LangSmith as they are.

    Args:
        agent: The agent name; it becomes the run name and an `agent:<name>` tag.
        tier: The tier that served the call ("small" or "large").
        attempt: The subtask attempt (1 for the first try).
        endpoint: The registry name of the endpoint (not its URL with credentials).
        model: The model name.
        profile: The gateway profile, tagged `profile:<name>`.
        workflow_id: The run's thread id; read from the current LangGraph config by default.
        graph: The graph name; read from the current config's metadata by default.

    Returns:
        `{"run_name": agent, "tags": [...], "metadata": {...}}`.
    """
    wid = workflow_id or current_workflow_id()
    graph_name = graph or _current_graph()
    metadata: dict[str, Any] = {"agent": agent, "tier": tier}
    for key, value in (
        ("attempt", attempt),
        ("endpoint", endpoint),
        ("model", model),
        ("profile", profile),
        ("workflow_id", wid),
        ("graph", graph_name),
    ):
        if value is not None:
            metadata[key] = value
    tags = [f"agent:{agent}", f"tier:{tier}"]
    if profile:
        tags.append(f"profile:{profile}")
    if graph_name:
        tags.append(f"graph:{graph_name}")
    return {"run_name": agent, "tags": tags, "metadata": metadata}


def _current_graph() -> str | None:
    from langgraph.config import get_config

    try:
        config = get_config()
    except RuntimeError:
        return None
    metadata = config.get("metadata") or {}
    graph = metadata.get("graph") or metadata.get("graph_id")
    return str(graph) if graph else None
