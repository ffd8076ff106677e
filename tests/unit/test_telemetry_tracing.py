"""Run metadata and tags for LangSmith: the graph's run config and each model call's config."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph

from telemetry.tracing import TRACE_METADATA_KEYS, graph_run_config, model_call_config


def test_graph_run_config_names_graph_profile_and_workflow() -> None:
    config = graph_run_config("support", "wf-1", profile="sim", ticket_id="T-1")
    assert config["run_name"] == "support"
    assert config["tags"] == ["graph:support", "profile:sim"]
    assert config["metadata"] == {
        "graph": "support",
        "workflow_id": "wf-1",
        "profile": "sim",
        "ticket_id": "T-1",
    }
    assert config["configurable"] == {"thread_id": "wf-1"}
    assert graph_run_config("support", "wf-2")["tags"] == ["graph:support"]


def test_model_call_config_outside_a_run() -> None:
    config = model_call_config(agent="decide_refund", tier="large", attempt=2, model="m")
    assert config["run_name"] == "decide_refund"
    assert config["metadata"] == {
        "agent": "decide_refund",
        "tier": "large",
        "attempt": 2,
        "model": "m",
    }
    assert config["tags"] == ["agent:decide_refund", "tier:large"]


class Box(TypedDict, total=False):
    config: dict[str, Any]


async def call_model(state: Box) -> dict[str, Any]:
    return {"config": model_call_config(agent="classify_intent", tier="small", attempt=1)}


async def test_model_call_config_reads_the_run() -> None:
    builder = StateGraph(Box)
    builder.add_node(call_model)
    builder.add_edge(START, "call_model")
    builder.add_edge("call_model", END)
    graph = builder.compile().with_config(metadata={"graph": "support"})
    result = await graph.ainvoke({}, {"configurable": {"thread_id": "wf-9"}})
    metadata = result["config"]["metadata"]
    assert set(TRACE_METADATA_KEYS) <= set(metadata)
    assert metadata["workflow_id"] == "wf-9" and metadata["graph"] == "support"
    assert "graph:support" in result["config"]["tags"]
